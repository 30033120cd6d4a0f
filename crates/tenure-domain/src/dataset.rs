//! Corterum's datasets, their instances and versions.
//!
//! A dataset is a form (a sheet of paper) or a table (a spreadsheet); a table may be
//! embedded in a form, and reading it then needs access to both. Each entity has one
//! instance of each dataset. Every change to an instance appends a version saying who
//! changed what, and when; a [`History`] can be read as of any version or moment ("time
//! travel") and is never rewritten.

use std::collections::BTreeMap;
use std::fmt;

use thiserror::Error;
use uuid::Uuid;

use crate::id::{DatasetId, UserId};
use crate::name::Name;

/// Whether a dataset is a form or a table.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum DatasetKind {
    /// A form: one record of named fields.
    Form,
    /// A table: rows of named columns.
    Table,
}

impl DatasetKind {
    /// The name used in policy files and the CLI.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Form => "form",
            Self::Table => "table",
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A dataset in the catalogue.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Dataset {
    /// Its id.
    pub id: DatasetId,
    /// A stable snake-case handle (`training_record`), used by policy files and the CLI.
    pub key: String,
    /// The name people read.
    pub name: Name,
    /// Form or table.
    pub kind: DatasetKind,
    /// For a table embedded in a form: the form.
    pub embedded_in: Option<DatasetId>,
    /// The fields (of a form) or columns (of a table), as `(key, label)`.
    pub fields: Vec<(String, String)>,
}

/// Fixed ids for the catalogue's datasets, so every store and policy file agrees: a
/// policy file's dataset whose key is in the catalogue takes the catalogue's id.
const fn catalogue_id(n: u128) -> DatasetId {
    DatasetId::from_uuid(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0002_0000 + n))
}

/// Corterum's dataset catalogue: `(key, name, kind, embedded in, fields)`. The first
/// thirteen are the ones the seed's "Standard User" does without.
type CatalogueEntry =
    (&'static str, &'static str, DatasetKind, Option<&'static str>, &'static [&'static str]);

const CATALOGUE: &[CatalogueEntry] = {
    use DatasetKind::{Form, Table};
    &[
        (
            "boards_and_committee_details",
            "Boards and committee details",
            Table,
            Some("boards_and_committees"),
            &["committee", "position", "from", "to"],
        ),
        ("boards_and_committees", "Boards and committees", Form, None, &["summary"]),
        (
            "disciplinary_proceedings",
            "Disciplinary Proceedings and Conduct Rules Breaches",
            Form,
            None,
            &["date", "rule", "outcome", "notes"],
        ),
        (
            "firms_providing_regulatory_references",
            "Firms providing regulatory references",
            Table,
            None,
            &["firm", "contact", "requested_on"],
        ),
        (
            "fitness_and_propriety_assessment_record",
            "Fitness and Propriety Assessment Record",
            Form,
            None,
            &["assessed_on", "assessor", "outcome", "notes"],
        ),
        (
            "management_responsibilities_map",
            "Management Responsibilities Map",
            Form,
            None,
            &["responsibilities", "reporting_lines"],
        ),
        (
            "performance_reviews",
            "Performance Reviews",
            Table,
            None,
            &["period", "reviewer", "rating"],
        ),
        ("regulated_activities", "Regulated Activities", Table, None, &["activity", "from", "to"]),
        (
            "regulatory_matters",
            "Regulatory Matters",
            Table,
            None,
            &["matter", "regulator", "status"],
        ),
        (
            "regulatory_reference_requests_received",
            "Regulatory Reference Requests Received",
            Table,
            None,
            &["from_firm", "received_on", "answered_on"],
        ),
        (
            "regulatory_references_obtained",
            "Regulatory References Obtained",
            Table,
            None,
            &["from_firm", "obtained_on"],
        ),
        (
            "regulatory_references_provided",
            "Regulatory Reference Provided",
            Table,
            None,
            &["to_firm", "provided_on"],
        ),
        (
            "smcr_classification",
            "SM&CR Classification",
            Form,
            None,
            &["classification", "functions"],
        ),
        (
            "personal_details",
            "Personal details",
            Form,
            None,
            &["address", "telephone", "start_date"],
        ),
        (
            "employment_history",
            "Employment history",
            Table,
            Some("personal_details"),
            &["employer", "from", "to", "role"],
        ),
        ("training_record", "Training record", Form, None, &["hours_this_year", "completed"]),
        (
            "training_courses",
            "Training courses",
            Table,
            Some("training_record"),
            &["course", "completed_on", "hours"],
        ),
        (
            "criminal_record_check",
            "Criminal record check",
            Form,
            None,
            &["checked_on", "result", "notes"],
        ),
        (
            "statement_of_responsibilities",
            "Statement of Responsibilities",
            Form,
            None,
            &["prescribed_responsibilities", "overall_responsibility"],
        ),
        (
            "fit_and_proper_certificate",
            "Fit and Proper Certificate",
            Form,
            None,
            &["certified_on", "expires_on", "functions"],
        ),
        (
            "conduct_rules_attestation",
            "Conduct Rules attestation",
            Form,
            None,
            &["attested_on", "statement"],
        ),
        ("qualifications", "Qualifications", Table, None, &["qualification", "awarded_on"]),
    ]
};

/// The thirteen datasets the seed's "Standard User" does without (worked example 02):
/// the first thirteen of the catalogue.
pub const NOT_FOR_STANDARD_USERS: [&str; 13] = [
    "boards_and_committee_details",
    "boards_and_committees",
    "disciplinary_proceedings",
    "firms_providing_regulatory_references",
    "fitness_and_propriety_assessment_record",
    "management_responsibilities_map",
    "performance_reviews",
    "regulated_activities",
    "regulatory_matters",
    "regulatory_reference_requests_received",
    "regulatory_references_obtained",
    "regulatory_references_provided",
    "smcr_classification",
];

/// Corterum's datasets as shipped: the thirteen the seed names and the everyday ones
/// around them (personal details, training, criminal record checks, ...), with embedded
/// tables (training courses in the training record, employment history in personal
/// details).
pub fn catalogue() -> Vec<Dataset> {
    CATALOGUE
        .iter()
        .enumerate()
        .map(|(i, (key, name, kind, parent, fields))| Dataset {
            id: catalogue_id(i as u128 + 1),
            key: (*key).to_owned(),
            // INVARIANT: the catalogue's names are valid.
            name: Name::parse(name).unwrap_or_else(|_| unreachable!("catalogue name {name}")),
            kind: *kind,
            embedded_in: parent.and_then(catalogue_id_of),
            fields: fields.iter().map(|f| ((*f).to_owned(), label(f))).collect(),
        })
        .collect()
}

/// The catalogue id for a key, if the catalogue has it.
pub fn catalogue_id_of(key: &str) -> Option<DatasetId> {
    CATALOGUE.iter().position(|(k, ..)| *k == key).map(|i| catalogue_id(i as u128 + 1))
}

/// "hours_this_year" -> "Hours this year".
fn label(key: &str) -> String {
    let spaced = key.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// A moment: milliseconds since the Unix epoch, UTC. The domain has no clock; callers
/// pass moments in. It is the one moment type of the workspace: the core's ports call it
/// `Timestamp`, and the core's `moment` module reads and shows it for people.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Moment(pub i64);

/// A record: field (or column) to value. Empty values are not stored.
pub type Record = BTreeMap<String, String>;

/// What an instance holds at one version.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Content {
    /// A form's fields.
    Form(Record),
    /// A table's rows.
    Table(Vec<Record>),
}

impl Content {
    /// Empty content of a kind.
    pub fn empty(kind: DatasetKind) -> Self {
        match kind {
            DatasetKind::Form => Self::Form(Record::new()),
            DatasetKind::Table => Self::Table(Vec::new()),
        }
    }

    /// The content flattened to `place -> value`: a form's field names, a table's
    /// `row N: column` (rows counted from 1).
    pub fn cells(&self) -> BTreeMap<String, String> {
        match self {
            Self::Form(record) => record.clone(),
            Self::Table(rows) => rows
                .iter()
                .enumerate()
                .flat_map(|(i, row)| {
                    row.iter().map(move |(c, v)| (format!("row {}: {c}", i + 1), v.clone()))
                })
                .collect(),
        }
    }
}

/// One change between two versions.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Change {
    /// The field (`row N: column` for a table), as the audit trail records it.
    pub place: String,
    /// For a table, the row (counted from 1): in the later version, or in the earlier
    /// one for a row removed.
    pub row: Option<usize>,
    /// The field's (or column's) key.
    pub field: String,
    /// The value before, if any.
    pub before: Option<String>,
    /// The value after, if any.
    pub after: Option<String>,
}

/// Why a table's row could not be changed or removed.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum RowError {
    /// Only a table has rows.
    #[error("this dataset is a form; only a table has rows")]
    NotATable,
    /// There is no row with that number.
    #[error("there is no row {row}: the table has {rows} (rows are counted from 1)")]
    NoSuchRow {
        /// The row asked for.
        row: usize,
        /// How many rows there are.
        rows: usize,
    },
    /// A row with nothing in it is not kept: removing it says so.
    #[error("a row needs at least one value; to take the row out, remove it")]
    EmptyRow,
}

/// The rows of two tables paired up: `(earlier, later)` indices (from 0), `None` on one
/// side for a row only the other has. Rows the same at the start and at the end pair
/// with each other; the rows between pair in order, and the side with more has rows
/// added or removed. So one row changed, added or removed between two versions reads as
/// exactly that, not as every row below it shifting.
pub fn align_rows(before: &[Record], after: &[Record]) -> Vec<(Option<usize>, Option<usize>)> {
    let prefix = before.iter().zip(after).take_while(|(a, b)| a == b).count();
    let room = before.len().min(after.len()) - prefix;
    let suffix =
        before.iter().rev().zip(after.iter().rev()).take(room).take_while(|(a, b)| a == b).count();
    let (b_mid, a_mid) = (before.len() - prefix - suffix, after.len() - prefix - suffix);
    let mut out: Vec<(Option<usize>, Option<usize>)> =
        (0..prefix).map(|i| (Some(i), Some(i))).collect();
    for k in 0..b_mid.max(a_mid) {
        let b = (k < b_mid).then_some(prefix + k);
        let a = (k < a_mid).then_some(prefix + k);
        out.push((b, a));
    }
    out.extend(
        (0..suffix).map(|k| (Some(before.len() - suffix + k), Some(after.len() - suffix + k))),
    );
    out
}

/// What changed from one content to another, field by field by key (for a table, row by
/// row as [`align_rows`] pairs them, then column by column by key).
pub fn diff(before: &Content, after: &Content) -> Vec<Change> {
    match (before, after) {
        (Content::Table(b), Content::Table(a)) => align_rows(b, a)
            .into_iter()
            .flat_map(|(i, j)| {
                let empty = Record::new();
                let rb = i.map_or(&empty, |i| &b[i]);
                let ra = j.map_or(&empty, |j| &a[j]);
                let row = j.or(i).map_or(0, |n| n + 1);
                diff_records(rb, ra, Some(row))
            })
            .collect(),
        _ => diff_records(&flat(before), &flat(after), None),
    }
}

/// A content as one record: a form's fields, a table's `row N: column` cells.
fn flat(content: &Content) -> Record {
    match content {
        Content::Form(r) => r.clone(),
        Content::Table(_) => content.cells(),
    }
}

fn diff_records(before: &Record, after: &Record, row: Option<usize>) -> Vec<Change> {
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort_unstable();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| before.get(*f) != after.get(*f))
        .map(|f| Change {
            place: row.map_or_else(|| f.clone(), |n| format!("row {n}: {f}")),
            row,
            field: f.clone(),
            before: before.get(f).cloned(),
            after: after.get(f).cloned(),
        })
        .collect()
}

impl Content {
    /// The table with row `row` (counted from 1) replaced.
    ///
    /// # Errors
    /// [`RowError`]: a form, no such row, or a row with no value.
    pub fn with_row(&self, row: usize, record: Record) -> Result<Self, RowError> {
        let mut rows = self.rows()?.to_vec();
        let i = Self::index(&rows, row)?;
        if record.values().all(|v| v.trim().is_empty()) {
            return Err(RowError::EmptyRow);
        }
        rows[i] = record;
        Ok(Self::Table(rows))
    }

    /// The table without row `row` (counted from 1); the rows below move up.
    ///
    /// # Errors
    /// [`RowError`]: a form, or no such row.
    pub fn without_row(&self, row: usize) -> Result<Self, RowError> {
        let mut rows = self.rows()?.to_vec();
        let i = Self::index(&rows, row)?;
        rows.remove(i);
        Ok(Self::Table(rows))
    }

    /// A table's rows.
    ///
    /// # Errors
    /// [`RowError::NotATable`] for a form.
    pub fn rows(&self) -> Result<&[Record], RowError> {
        match self {
            Self::Table(rows) => Ok(rows),
            Self::Form(_) => Err(RowError::NotATable),
        }
    }

    fn index(rows: &[Record], row: usize) -> Result<usize, RowError> {
        row.checked_sub(1)
            .filter(|i| *i < rows.len())
            .ok_or(RowError::NoSuchRow { row, rows: rows.len() })
    }
}

/// One version of an instance.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Version {
    /// 1 for the first version, then one more each time.
    pub number: u32,
    /// When it was saved.
    pub at: Moment,
    /// Who saved it; `None` once their account is deleted, or for imports.
    pub by: Option<UserId>,
    /// The whole content as saved.
    pub content: Content,
}

/// Why a version could not be appended.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum HistoryError {
    /// History runs forwards: a version cannot be older than the last one.
    #[error("a new version cannot be dated before the latest one (version {latest})")]
    BeforeLatest {
        /// The latest version's number.
        latest: u32,
    },
    /// The content is of the other kind.
    #[error("this dataset is a {expected}; the content given is not")]
    WrongKind {
        /// The dataset's kind.
        expected: DatasetKind,
    },
    /// Saving the same content again would record a change that changed nothing.
    #[error("nothing changed")]
    NothingChanged,
    /// The version is stale: someone saved a newer one first.
    #[error("version {expected} is no longer the latest: version {latest} was saved since")]
    Stale {
        /// The version the editor started from.
        expected: u32,
        /// The latest version now.
        latest: u32,
    },
}

/// An instance's versions, oldest first. Append-only: nothing removes or rewrites a
/// version, so every past state stays readable.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct History {
    kind: DatasetKind,
    versions: Vec<Version>,
}

impl History {
    /// A history with no versions yet: the instance reads as empty.
    pub const fn new(kind: DatasetKind) -> Self {
        Self { kind, versions: Vec::new() }
    }

    /// Rebuilds a history from stored versions.
    ///
    /// # Errors
    /// The same rules as [`History::append`], so a store cannot hand back a rewritten
    /// history (numbers out of order, time running backwards).
    pub fn from_versions(kind: DatasetKind, versions: Vec<Version>) -> Result<Self, HistoryError> {
        let mut history = Self::new(kind);
        for v in versions {
            if v.number != history.latest_number() + 1 {
                return Err(HistoryError::Stale {
                    expected: v.number.saturating_sub(1),
                    latest: history.latest_number(),
                });
            }
            history.check(v.at, &v.content)?;
            history.versions.push(v);
        }
        Ok(history)
    }

    /// The number of the latest version; 0 before the first.
    pub fn latest_number(&self) -> u32 {
        self.versions.last().map_or(0, |v| v.number)
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> &[Version] {
        &self.versions
    }

    /// The latest version, if any.
    pub fn latest(&self) -> Option<&Version> {
        self.versions.last()
    }

    fn check(&self, at: Moment, content: &Content) -> Result<(), HistoryError> {
        let kind_ok = matches!(
            (self.kind, content),
            (DatasetKind::Form, Content::Form(_)) | (DatasetKind::Table, Content::Table(_))
        );
        if !kind_ok {
            return Err(HistoryError::WrongKind { expected: self.kind });
        }
        if let Some(last) = self.versions.last() {
            if at < last.at {
                return Err(HistoryError::BeforeLatest { latest: last.number });
            }
            if last.content == *content {
                return Err(HistoryError::NothingChanged);
            }
        }
        Ok(())
    }

    /// Appends a version made from the latest one (`based_on`, 0 for none).
    ///
    /// # Errors
    /// A stale `based_on`, content of the other kind, a moment before the latest
    /// version's, or no change at all. The history is unchanged after any error.
    pub fn append(
        &mut self,
        based_on: u32,
        at: Moment,
        by: Option<UserId>,
        content: Content,
    ) -> Result<&Version, HistoryError> {
        let latest = self.latest_number();
        if based_on != latest {
            return Err(HistoryError::Stale { expected: based_on, latest });
        }
        self.check(at, &content)?;
        self.versions.push(Version { number: latest + 1, at, by, content });
        Ok(&self.versions[self.versions.len() - 1])
    }

    /// The version with this number.
    pub fn at_version(&self, number: u32) -> Option<&Version> {
        let i = usize::try_from(number).ok()?.checked_sub(1)?;
        self.versions.get(i)
    }

    /// The version current at a moment: the last one saved at or before it. `None`
    /// before the first.
    pub fn as_of(&self, moment: Moment) -> Option<&Version> {
        // Moments never decrease along the history, so it is sorted by them.
        let after = self.versions.partition_point(|v| v.at <= moment);
        after.checked_sub(1).map(|i| &self.versions[i])
    }

    /// What a version changed from the one before (see [`diff`]).
    pub fn changes(&self, number: u32) -> Vec<Change> {
        let Some(version) = self.at_version(number) else { return Vec::new() };
        let before = number
            .checked_sub(1)
            .and_then(|n| self.at_version(n))
            .map_or_else(|| Content::empty(self.kind), |v| v.content.clone());
        diff(&before, &version.content)
    }

    /// What changed from version `from` to version `to` (either way round; `None` when
    /// either is not a version of this history).
    pub fn compare(&self, from: u32, to: u32) -> Option<Vec<Change>> {
        Some(diff(&self.at_version(from)?.content, &self.at_version(to)?.content))
    }
}

#[cfg(test)]
mod tests;
