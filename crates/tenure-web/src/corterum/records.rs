//! The records people read: the entities their roles reach (the same list the
//! Administration area shows with a "+"), an entity's datasets, and an instance with its
//! version history (each change in words, as the form labels its fields), a "view as
//! of" control (a GOV.UK date input and a time, in the service's stated time zone), two
//! versions compared side by side, a form's embedded tables that the viewer may read,
//! and, for those who may, a form to save a new version, and a table's rows to change or
//! remove (each a new version).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use jiff::tz::TimeZone;
use serde::Deserialize;
use tenure_core::{AsOf, EntityQuery, InstanceView, ManageError, Page, Search, moment};
use tenure_domain::dataset::{Change, Record, align_rows};
use tenure_domain::{Content, Dataset, DatasetKind, EntityId, EntityKind, Feature};

use crate::App;
use crate::corterum::{FieldInput, kind_choices, require};
use crate::form::{self, Choice, Form, FormPage, Named, PageNumber, Path, Query, Sent};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

/// Where an entity list is shown.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Listing {
    /// In the Administration area (`entity_administration`), with "+".
    Administration,
    /// As records to read.
    Records,
}

#[derive(Deserialize, Default)]
pub(crate) struct EntityListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    r#type: String,
    #[serde(default)]
    page: PageNumber,
}

pub(crate) struct EntityRow {
    id: String,
    name: String,
    kind: String,
}

#[derive(Template)]
#[template(path = "entities.html")]
struct EntitiesPage {
    chrome: Chrome,
    heading: String,
    base: String,
    can_create: bool,
    /// On Records, for someone whose features open reports: a link to them.
    reports: bool,
    q: String,
    kinds: Vec<Choice>,
    rows: Vec<EntityRow>,
    previous: String,
    next: String,
    page: usize,
}

/// The entities the viewer's roles reach, a page at a time, with a search and a type
/// filter.
pub(crate) async fn entity_list(
    app: &App,
    viewer: &Signed,
    q: &EntityListQuery,
    listing: Listing,
) -> Result<Response, PageError> {
    let admin = listing == Listing::Administration;
    let title = if admin { "Entities" } else { "Records" };
    let chrome = viewer.chrome(title);
    let me = viewer.0.user.id;
    if admin {
        require(app, viewer, Feature::EntityAdministration, &chrome).await?;
    }
    let kind = q.r#type.parse::<EntityKind>().ok();
    let query = EntityQuery { search: Search::parse(&q.q), kind };
    let number = q.page.get().unwrap_or(1);
    let mut page = Page::numbered(number, Page::SCREEN);
    page.limit += 1;
    let mut found = app.services.corterum.entities(me, &query, page).await.or_page(&chrome)?;
    let more = found.len() > Page::SCREEN;
    found.truncate(Page::SCREEN);
    let base = if admin { "/administration/entities" } else { "/records" };
    let reports = !admin && !app.services.corterum.reports(me).await.or_page(&chrome)?.is_empty();
    let link = |n: usize| {
        format!(
            "{base}?q={}&type={}&page={n}",
            view::query_value(&q.q),
            view::query_value(&q.r#type)
        )
    };
    Ok(view::render(&EntitiesPage {
        chrome,
        heading: title.to_owned(),
        base: base.to_owned(),
        can_create: admin,
        reports,
        q: q.q.clone(),
        kinds: kind_choices(kind),
        rows: found
            .into_iter()
            .map(|e| EntityRow {
                id: e.id.to_string(),
                name: e.name.to_string(),
                kind: e.kind.label().to_owned(),
            })
            .collect(),
        previous: if number > 1 { link(number - 1) } else { String::new() },
        next: if more { link(number + 1) } else { String::new() },
        page: number,
    }))
}

/// The records list.
pub(crate) async fn records(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<EntityListQuery>,
) -> Result<Response, PageError> {
    // Only people whose roles reach an entity have records to look at.
    if !viewer.0.nav.records {
        return Err(PageError::not_found(&viewer.chrome("Page not found")));
    }
    entity_list(&app, &viewer, &q, Listing::Records).await
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    chrome: Chrome,
    id: String,
    name: String,
    kind: String,
    fields: Vec<(String, String)>,
    links: Vec<(String, String)>,
    /// The entities linking to it: id, name, kind of link.
    linked_from: Vec<(String, String, String)>,
    datasets: Vec<(String, String)>,
}

/// An entity's record: its fields, its links both ways (the entities it links to and
/// those linking to it, as far as the viewer may see them), and the datasets the viewer
/// may read.
pub(crate) async fn record(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Record");
    let id = form::id(&id, EntityId::from_uuid).or_page(&chrome)?;
    let me = viewer.0.user.id;
    let view = app.services.corterum.entity_links(me, id).await.or_page(&chrome)?;
    let e = view.entity;
    let datasets = app.services.corterum.readable_datasets(me, id).await.or_page(&chrome)?;
    // A table embedded in a form shows inside the form's page.
    let datasets = datasets
        .into_iter()
        .filter(|d| d.embedded_in.is_none())
        .map(|d| (d.key, d.name.to_string()))
        .collect();
    let labels = e.kind.fields();
    let links = view.to.iter().map(|(k, other)| (k.label().to_owned(), other.name.to_string()));
    let links = links.collect();
    let linked_from = view
        .from
        .iter()
        .map(|(other, k)| (other.id.to_string(), other.name.to_string(), k.label().to_owned()))
        .collect();
    Ok(view::render(&RecordPage {
        chrome: viewer.chrome(e.name.as_str()),
        id: id.to_string(),
        name: e.name.to_string(),
        kind: e.kind.label().to_owned(),
        fields: labels
            .iter()
            .filter_map(|(k, l)| e.fields.get(*k).map(|v| ((*l).to_owned(), v.clone())))
            .collect(),
        datasets,
        links,
        linked_from,
    }))
}

/// What an instance's address may ask: a version by number, or a moment, either typed
/// into the GOV.UK date input and a time (`day`, `month`, `year`, `time`) or given whole
/// as `as_of` (as links and other pages write it, in any form `tenure_core::moment`
/// reads).
#[derive(Deserialize, Default)]
pub(crate) struct AsOfQuery {
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    day: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    time: String,
    version: Option<u32>,
    #[serde(default)]
    saved: Sent,
}

/// The "view as of" fields as typed (or as the moment asked reads in them).
#[derive(Clone, Default)]
pub(crate) struct AsOfFields {
    day: String,
    month: String,
    year: String,
    time: String,
}

impl AsOfQuery {
    /// What to show, the fields to show again, and what was wrong with them.
    fn read(&self, tz: &TimeZone) -> (AsOf, AsOfFields, Errors) {
        let typed = AsOfFields {
            day: self.day.trim().to_owned(),
            month: self.month.trim().to_owned(),
            year: self.year.trim().to_owned(),
            time: self.time.trim().to_owned(),
        };
        if let Some(n) = self.version {
            return (AsOf::Version(n), typed, Errors::default());
        }
        let date_typed =
            [&typed.day, &typed.month, &typed.year, &typed.time].iter().any(|f| !f.is_empty());
        if date_typed {
            return match moment_typed(&typed, tz) {
                Ok(m) => (AsOf::Moment(m), typed, Errors::default()),
                Err((field, message)) => (AsOf::Latest, typed, Errors::one(field, &message)),
            };
        }
        match self.as_of.trim() {
            "" => (AsOf::Latest, typed, Errors::default()),
            text => match tenure_core::moment::parse(text, tz) {
                Ok(m) => (AsOf::Moment(m), fields_of(m, tz), Errors::default()),
                Err(_) => (
                    AsOf::Latest,
                    typed,
                    Errors::one(
                        "day",
                        &format!(
                            "Enter a date and time in {} time, like 27 3 2026 and 14:30",
                            moment::zone_name(tz)
                        ),
                    ),
                ),
            },
        }
    }
}

/// A moment's fields as a person would type it in the zone.
fn fields_of(m: tenure_core::Timestamp, tz: &TimeZone) -> AsOfFields {
    let civil = moment::format_civil(m, tz);
    let mut parts = civil.split([' ', '-']);
    let (year, month, day, time) = (parts.next(), parts.next(), parts.next(), parts.next());
    let trim = |s: Option<&str>| s.unwrap_or_default().trim_start_matches('0').to_owned();
    AsOfFields {
        day: trim(day),
        month: trim(month),
        year: year.unwrap_or_default().to_owned(),
        time: time.unwrap_or_default().to_owned(),
    }
}

/// The moment a GOV.UK date input and a time name, read in the zone: a date alone is the
/// end of that day. The error names the field to mark and says what is accepted.
fn moment_typed(
    f: &AsOfFields,
    tz: &TimeZone,
) -> Result<tenure_core::Timestamp, (&'static str, String)> {
    let number = |s: &str, most: usize| {
        (!s.is_empty() && s.len() <= most && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let wrong_date = || ("day", "The date must be a real date, like 27 3 2026".to_owned());
    let (Some(d), Some(m), Some(y)) = (number(&f.day, 2), number(&f.month, 2), number(&f.year, 4))
    else {
        if f.day.is_empty() || f.month.is_empty() || f.year.is_empty() {
            return Err(("day", "Enter the day, month and year, like 27 3 2026".to_owned()));
        }
        return Err(wrong_date());
    };
    if f.year.len() != 4 {
        return Err(("year", "The year must have four digits, like 2026".to_owned()));
    }
    let date = format!("{y:04}-{m:02}-{d:02}");
    if date.parse::<jiff::civil::Date>().is_err() {
        return Err(wrong_date());
    }
    let text = if f.time.is_empty() {
        date
    } else {
        let wrong_time = || {
            (
                "time",
                "Enter the time as hours and minutes on the 24-hour clock, like 14:30".to_owned(),
            )
        };
        let (h, min) = f.time.split_once([':', '.']).ok_or_else(wrong_time)?;
        let (Some(h), Some(min)) = (number(h, 2), number(min, 2)) else {
            return Err(wrong_time());
        };
        if h > 23 || min > 59 || f.time.len() > 5 {
            return Err(wrong_time());
        }
        format!("{date} {h:02}:{min:02}")
    };
    moment::parse(&text, tz).map_err(|_| wrong_date())
}

pub(crate) struct VersionRow {
    number: u32,
    at: String,
    by: String,
    /// What changed, a sentence a change.
    changed: Vec<String>,
    shown: bool,
}

/// A table as shown: its column labels and rows of values.
pub(crate) struct TableShown {
    key: String,
    name: String,
    /// What the heading over it says (which version, or none).
    showing: String,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

#[derive(Template)]
#[template(path = "instance.html")]
struct InstancePage {
    chrome: Chrome,
    errors: Errors,
    entity_id: String,
    entity: String,
    dataset_key: String,
    dataset: String,
    /// For an embedded table: the form it is part of (key, name).
    part_of: Option<(String, String)>,
    table: bool,
    /// The heading over the content: which version, or none yet.
    showing: String,
    /// Said under it when the moment asked is before the first version.
    before_first: String,
    latest_shown: bool,
    fields: Vec<FieldInput>,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    /// The tables embedded in a form that the viewer may read, as of the same moment.
    embedded: Vec<TableShown>,
    versions: Vec<VersionRow>,
    as_of: AsOfFields,
    /// The time zone "view as of" reads in, by name.
    zone: String,
    may_save: bool,
    based_on: u32,
    /// The two versions the compare form starts with.
    compare: (u32, u32),
    banner: String,
}

/// What a new version's form sends.
#[derive(Deserialize)]
pub(crate) struct VersionBody {
    /// The latest version when the form was shown (0 for none): kept as sent, anything
    /// but a number counts as 0.
    #[serde(default)]
    based_on: String,
    /// `field_<key>` for each of the dataset's fields.
    #[serde(flatten)]
    named: Named,
}

/// A field's label in a dataset, or its key in words.
fn label_of(d: &Dataset, key: &str) -> String {
    d.fields
        .iter()
        .find(|(k, _)| k == key)
        .map_or_else(|| key.replace('_', " "), |(_, l)| l.clone())
}

/// Changes in words, as the form labels its fields: one sentence a field of a form, and
/// for a table one a row added or removed, or a column of a row changed. In the order of
/// the dataset's fields.
fn in_words(d: &Dataset, changes: &[Change]) -> Vec<String> {
    let order = |key: &str| d.fields.iter().position(|(k, _)| k == key).unwrap_or(usize::MAX);
    let mut sorted: Vec<&Change> = changes.iter().collect();
    sorted.sort_by_key(|c| (c.row, order(&c.field)));
    let q = |v: &str| format!("\u{201c}{v}\u{201d}");
    let field = |c: &Change| {
        let l = label_of(d, &c.field);
        match (&c.before, &c.after) {
            (Some(b), Some(a)) => format!("{l} changed from {} to {}", q(b), q(a)),
            (None, Some(a)) => format!("{l} set to {}", q(a)),
            (Some(b), None) => format!("{l} cleared (it was {})", q(b)),
            (None, None) => l,
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let Some(row) = sorted[i].row else {
            out.push(field(sorted[i]));
            i += 1;
            continue;
        };
        let end =
            sorted[i..].iter().position(|c| c.row != Some(row)).map_or(sorted.len(), |n| i + n);
        let group = &sorted[i..end];
        let values = |before: bool| {
            group
                .iter()
                .filter_map(|c| {
                    let v = if before { c.before.as_ref() } else { c.after.as_ref() };
                    v.map(|v| format!("{} {}", label_of(d, &c.field), q(v)))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if group.iter().all(|c| c.before.is_none()) {
            out.push(format!("Row {row} added: {}", values(false)));
        } else if group.iter().all(|c| c.after.is_none()) {
            out.push(format!("Row {row} removed: {}", values(true)));
        } else {
            out.extend(group.iter().map(|c| format!("Row {row}: {}", field(c))));
        }
        i = end;
    }
    out
}

/// A table's rows as values in the dataset's column order.
fn table_rows(d: &Dataset, content: Option<&Content>) -> Vec<Vec<String>> {
    let rows = content.and_then(|c| c.rows().ok()).unwrap_or_default();
    rows.iter()
        .map(|r| d.fields.iter().map(|(k, _)| r.get(k).cloned().unwrap_or_default()).collect())
        .collect()
}

/// The heading over a version shown.
fn showing_of(app: &App, view: &InstanceView) -> String {
    let latest = view.history.latest_number();
    match view.shown.and_then(|n| view.history.at_version(n)) {
        Some(x) if x.number == latest => format!("Current version ({} of {latest})", x.number),
        Some(x) => format!(
            "Version {} of {latest}, as saved {}",
            x.number,
            view::when(&app.config.time_zone, x.at)
        ),
        None if latest == 0 => "Nothing has been recorded yet".to_owned(),
        None => "Nothing had been recorded by then".to_owned(),
    }
}

/// Who saved a version, for people.
fn author(
    by: Option<tenure_domain::UserId>,
    names: &BTreeMap<tenure_domain::UserId, tenure_domain::name::Name>,
) -> String {
    by.map_or_else(
        || "An import".to_owned(),
        |u| names.get(&u).map_or_else(|| "A deleted user".to_owned(), ToString::to_string),
    )
}

/// An instance's page as it is shown: which entity and dataset, which version, and
/// what the "view as of" fields hold.
struct InstanceShown {
    entity: EntityId,
    key: String,
    at: AsOf,
    as_of: AsOfFields,
    banner: String,
}

impl FormPage for InstanceShown {
    async fn show(
        &self,
        app: &App,
        viewer: &Signed,
        errors: Errors,
    ) -> Result<Response, PageError> {
        let chrome = viewer.chrome("Record");
        let me = viewer.0.user.id;
        let datasets = app.services.corterum.datasets().await.or_page(&chrome)?;
        let d = datasets.iter().find(|d| d.key == self.key).or_page(&chrome)?;
        let (v, tables) = app
            .services
            .corterum
            .instance_with_tables(me, d.id, self.entity, self.at)
            .await
            .or_page(&chrome)?;
        let names = app.services.corterum.authors(&v).await.or_page(&chrome)?;
        let tz = &app.config.time_zone;
        let shown = v.shown.and_then(|n| v.history.at_version(n));
        let latest = v.history.latest_number();
        let values = match shown.map(|x| &x.content) {
            Some(Content::Form(r)) => r.clone(),
            _ => BTreeMap::new(),
        };
        let fields = d
            .fields
            .iter()
            .map(|(k, l)| FieldInput {
                key: k.clone(),
                label: l.clone(),
                value: values.get(k).cloned().unwrap_or_default(),
            })
            .collect();
        let before_first = match (self.at, v.history.versions().first()) {
            (AsOf::Moment(m), Some(first)) if shown.is_none() => format!(
                "You asked for {}, before the first version of this record: it was saved {}.",
                view::when(tz, m),
                view::when(tz, first.at)
            ),
            _ => String::new(),
        };
        let versions = v
            .history
            .versions()
            .iter()
            .rev()
            .map(|x| VersionRow {
                number: x.number,
                at: view::when(tz, x.at),
                by: author(x.by, &names),
                changed: in_words(d, &v.history.changes(x.number)),
                shown: Some(x.number) == v.shown,
            })
            .collect();
        let embedded = tables
            .iter()
            .map(|t| TableShown {
                key: t.dataset.key.clone(),
                name: t.dataset.name.to_string(),
                showing: showing_of(app, t),
                columns: t.dataset.fields.iter().map(|(_, l)| l.clone()).collect(),
                rows: table_rows(
                    &t.dataset,
                    t.shown.and_then(|n| t.history.at_version(n)).map(|x| &x.content),
                ),
            })
            .collect();
        let part_of = d
            .embedded_in
            .and_then(|f| datasets.iter().find(|x| x.id == f))
            .map(|f| (f.key.clone(), f.name.to_string()));
        Ok(view::render(&InstancePage {
            chrome: viewer
                .chrome(&format!("{} for {}", d.name, v.entity.name))
                .with_errors(&errors),
            errors,
            entity_id: self.entity.to_string(),
            entity: v.entity.name.to_string(),
            dataset_key: d.key.clone(),
            dataset: d.name.to_string(),
            part_of,
            table: d.kind == DatasetKind::Table,
            showing: showing_of(app, &v),
            before_first,
            latest_shown: v.shown == Some(latest) || latest == 0,
            fields,
            columns: d.fields.iter().map(|(_, l)| l.clone()).collect(),
            rows: table_rows(d, shown.map(|x| &x.content)),
            embedded,
            versions,
            as_of: self.as_of.clone(),
            zone: moment::zone_name(tz),
            may_save: v.may_save,
            based_on: latest,
            compare: (latest.saturating_sub(1).max(1), latest),
            banner: self.banner.clone(),
        }))
    }
}

/// An instance: the latest version, one by number, or the one current at a moment; a
/// form with the tables embedded in it that the viewer may read.
pub(crate) async fn instance(
    State(app): State<App>,
    viewer: Signed,
    Path((id, key)): Path<(String, String)>,
    Query(q): Query<AsOfQuery>,
) -> Result<Response, PageError> {
    let entity = form::id(&id, EntityId::from_uuid).or_page(&viewer.chrome("Record"))?;
    let (at, as_of, errors) = q.read(&app.config.time_zone);
    let banner = match q.saved.0 {
        true => "New version saved".to_owned(),
        false => String::new(),
    };
    let page = InstanceShown { entity, key, at, as_of, banner };
    page.show(&app, &viewer, errors).await
}

/// Saves a new version: a form's fields, or a table with the row typed in added below
/// the rows it has.
pub(crate) async fn save_instance(
    State(app): State<App>,
    viewer: Signed,
    Path((id, key)): Path<(String, String)>,
    Form(body): Form<VersionBody>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Record");
    let entity = form::id(&id, EntityId::from_uuid).or_page(&chrome)?;
    let me = viewer.0.user.id;
    let datasets = app.services.corterum.datasets().await.or_page(&chrome)?;
    let d = datasets.iter().find(|d| d.key == key).or_page(&chrome)?;
    let based_on: u32 = body.based_on.parse().unwrap_or(0);
    let record = record_from(d, &body.named);
    let content = match d.kind {
        DatasetKind::Form => Content::Form(record),
        DatasetKind::Table => {
            // A table gains the row typed in, below the rows it had at `based_on` (the
            // service refuses a stale one, so the rows are the ones the form showed). An
            // instance out of reach has no rows here, and the save refuses it with its own
            // reason; a failure to read it is the problem page, never a table saved
            // without its rows.
            let current = match app.services.corterum.instance(me, d.id, entity, AsOf::Latest).await
            {
                Err(ManageError::Backend(e)) => return Err(PageError::new(&chrome, e)),
                current => current.ok(),
            };
            let mut rows = match current.as_ref().and_then(|v| v.history.latest()) {
                Some(v) => v.content.rows().map(<[_]>::to_vec).unwrap_or_default(),
                None => Vec::new(),
            };
            if !record.is_empty() {
                rows.push(record);
            }
            Content::Table(rows)
        }
    };
    let saved = app.services.corterum.save_instance(me, d.id, entity, based_on, content).await;
    let page = InstanceShown {
        entity,
        key: key.clone(),
        at: AsOf::Latest,
        as_of: AsOfFields::default(),
        banner: String::new(),
    };
    form::submit(&app, &viewer, &page, &chrome, saved, |_| {
        format!("/records/{entity}/{key}?saved=1")
    })
    .await
}

/// The values typed into `field_<key>` for each of the dataset's fields, blanks left out.
fn record_from(d: &Dataset, named: &Named) -> Record {
    d.fields
        .iter()
        .filter_map(|(k, _)| {
            let v = named.one(&format!("field_{k}")).trim().to_owned();
            (!v.is_empty()).then(|| (k.clone(), v))
        })
        .collect()
}

#[derive(Template)]
#[template(path = "instance_row.html")]
struct RowPage {
    chrome: Chrome,
    errors: Errors,
    entity_id: String,
    entity: String,
    dataset_key: String,
    dataset: String,
    row: usize,
    /// Removing (a confirmation) rather than changing.
    remove: bool,
    fields: Vec<FieldInput>,
    based_on: u32,
}

/// The page changing or removing one row of a table, as it is shown.
struct RowShown {
    entity: EntityId,
    key: String,
    row: usize,
    remove: bool,
    /// What was typed, when shown again with errors.
    typed: Option<Record>,
}

impl FormPage for RowShown {
    async fn show(
        &self,
        app: &App,
        viewer: &Signed,
        errors: Errors,
    ) -> Result<Response, PageError> {
        let chrome = viewer.chrome("Record");
        let me = viewer.0.user.id;
        let datasets = app.services.corterum.datasets().await.or_page(&chrome)?;
        let d = datasets.iter().find(|d| d.key == self.key).or_page(&chrome)?;
        let v = app.services.corterum.instance_to_edit(me, d.id, self.entity).await;
        let v = v.or_page(&chrome)?;
        // Only a table's rows, and only rows that are there, have a page.
        let rows = v.history.latest().and_then(|x| x.content.rows().ok()).unwrap_or_default();
        let current = self.row.checked_sub(1).and_then(|i| rows.get(i)).or_page(&chrome)?;
        let values = self.typed.as_ref().unwrap_or(current);
        let verb = if self.remove { "Remove" } else { "Change" };
        Ok(view::render(&RowPage {
            chrome: viewer
                .chrome(&format!("{verb} row {} of {} for {}", self.row, d.name, v.entity.name))
                .with_errors(&errors),
            errors,
            entity_id: self.entity.to_string(),
            entity: v.entity.name.to_string(),
            dataset_key: d.key.clone(),
            dataset: d.name.to_string(),
            row: self.row,
            remove: self.remove,
            fields: d
                .fields
                .iter()
                .map(|(k, l)| FieldInput {
                    key: k.clone(),
                    label: l.clone(),
                    value: values.get(k).cloned().unwrap_or_default(),
                })
                .collect(),
            based_on: v.history.latest_number(),
        }))
    }
}

/// A row's number from the path: a whole number from 1, or "not found".
fn row_number(text: &str, chrome: &Chrome) -> Result<usize, PageError> {
    text.parse::<usize>().ok().filter(|n| *n >= 1).or_page(chrome)
}

/// What a row's form posts to: the entity, the row number and the table's dataset, each
/// "not found" when the path does not name one.
async fn row_target(
    app: &App,
    chrome: &Chrome,
    id: &str,
    key: &str,
    row: &str,
) -> Result<(EntityId, usize, Dataset), PageError> {
    let entity = form::id(id, EntityId::from_uuid).or_page(chrome)?;
    let row = row_number(row, chrome)?;
    let datasets = app.services.corterum.datasets().await.or_page(chrome)?;
    let d = datasets.into_iter().find(|d| d.key == key).or_page(chrome)?;
    Ok((entity, row, d))
}

/// The form changing one row of a table.
pub(crate) async fn row_page(
    State(app): State<App>,
    viewer: Signed,
    Path((id, key, row)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Record");
    let entity = form::id(&id, EntityId::from_uuid).or_page(&chrome)?;
    let row = row_number(&row, &chrome)?;
    let page = RowShown { entity, key, row, remove: false, typed: None };
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves the table with one row changed, as a new version.
pub(crate) async fn change_row(
    State(app): State<App>,
    viewer: Signed,
    Path((id, key, row)): Path<(String, String, String)>,
    Form(body): Form<VersionBody>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Record");
    let (entity, row, d) = row_target(&app, &chrome, &id, &key, &row).await?;
    let based_on: u32 = body.based_on.parse().unwrap_or(0);
    let record = record_from(&d, &body.named);
    let me = viewer.0.user.id;
    let saved =
        app.services.corterum.change_row(me, d.id, entity, based_on, row, record.clone()).await;
    let page = RowShown { entity, key: key.clone(), row, remove: false, typed: Some(record) };
    form::submit(&app, &viewer, &page, &chrome, saved, |_| {
        format!("/records/{entity}/{key}?saved=1")
    })
    .await
}

/// The page asking to confirm a row's removal.
pub(crate) async fn remove_row_page(
    State(app): State<App>,
    viewer: Signed,
    Path((id, key, row)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Record");
    let entity = form::id(&id, EntityId::from_uuid).or_page(&chrome)?;
    let row = row_number(&row, &chrome)?;
    let page = RowShown { entity, key, row, remove: true, typed: None };
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves the table without one row, as a new version (the row stays in the versions
/// before).
pub(crate) async fn remove_row(
    State(app): State<App>,
    viewer: Signed,
    Path((id, key, row)): Path<(String, String, String)>,
    Form(body): Form<VersionBody>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Record");
    let (entity, row, d) = row_target(&app, &chrome, &id, &key, &row).await?;
    let based_on: u32 = body.based_on.parse().unwrap_or(0);
    let me = viewer.0.user.id;
    let saved = app.services.corterum.remove_row(me, d.id, entity, based_on, row).await;
    let page = RowShown { entity, key: key.clone(), row, remove: true, typed: None };
    form::submit(&app, &viewer, &page, &chrome, saved, |_| {
        format!("/records/{entity}/{key}?saved=1")
    })
    .await
}

/// Which two versions to compare: numbers as typed (anything else is the default).
#[derive(Deserialize, Default)]
pub(crate) struct CompareQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// One line of a side-by-side comparison.
pub(crate) struct CompareRow {
    /// The field's label, or "Row N".
    what: String,
    left: String,
    right: String,
    /// "Changed", "Added", "Removed", or nothing.
    tag: &'static str,
}

#[derive(Template)]
#[template(path = "instance_compare.html")]
struct ComparePage {
    chrome: Chrome,
    errors: Errors,
    entity_id: String,
    entity: String,
    dataset_key: String,
    dataset: String,
    /// Every version's number, for the two selects.
    numbers: Vec<u32>,
    from: u32,
    to: u32,
    /// "Version 1, saved ... by ...".
    from_label: String,
    to_label: String,
    rows: Vec<CompareRow>,
    changed: Vec<String>,
}

/// Two versions of an instance side by side, with what changed between them in words.
pub(crate) async fn compare(
    State(app): State<App>,
    viewer: Signed,
    Path((id, key)): Path<(String, String)>,
    Query(q): Query<CompareQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Record");
    let entity = form::id(&id, EntityId::from_uuid).or_page(&chrome)?;
    let me = viewer.0.user.id;
    let datasets = app.services.corterum.datasets().await.or_page(&chrome)?;
    let d = datasets.iter().find(|d| d.key == key).or_page(&chrome)?;
    let v = app.services.corterum.instance(me, d.id, entity, AsOf::Latest).await;
    let v = v.or_page(&chrome)?;
    let names = app.services.corterum.authors(&v).await.or_page(&chrome)?;
    let tz = &app.config.time_zone;
    let latest = v.history.latest_number();
    let mut errors = Errors::default();
    let mut pick = |text: &str, field: &str, default: u32| match text.trim() {
        "" => default,
        t => match t.parse::<u32>().ok().filter(|n| (1..=latest).contains(n)) {
            Some(n) => n,
            None => {
                errors.0.push((field.to_owned(), format!("Choose a version from 1 to {latest}")));
                default
            }
        },
    };
    let from = pick(&q.from, "from", latest.saturating_sub(1).max(1));
    let to = pick(&q.to, "to", latest);
    let label = |n: u32| {
        v.history.at_version(n).map_or_else(String::new, |x| {
            format!("Version {n}, saved {} by {}", view::when(tz, x.at), author(x.by, &names))
        })
    };
    let (a, b) = (v.history.at_version(from), v.history.at_version(to));
    let mut rows = Vec::new();
    match (a.map(|x| &x.content), b.map(|x| &x.content)) {
        (Some(Content::Form(l)), Some(Content::Form(r))) => {
            for (k, label) in &d.fields {
                let (left, right) = (l.get(k).cloned(), r.get(k).cloned());
                let tag = if left == right { "" } else { "Changed" };
                rows.push(CompareRow {
                    what: label.clone(),
                    left: left.unwrap_or_default(),
                    right: right.unwrap_or_default(),
                    tag,
                });
            }
        }
        (Some(Content::Table(l)), Some(Content::Table(r))) => {
            let text = |rec: &Record| {
                d.fields
                    .iter()
                    .filter_map(|(k, label)| rec.get(k).map(|v| format!("{label}: {v}")))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            for (i, j) in align_rows(l, r) {
                let (left, right) = (i.map(|i| &l[i]), j.map(|j| &r[j]));
                let tag = match (left, right) {
                    (Some(x), Some(y)) if x == y => "",
                    (Some(_), Some(_)) => "Changed",
                    (None, _) => "Added",
                    (_, None) => "Removed",
                };
                let what = match (i, j) {
                    (Some(i), Some(j)) if i == j => format!("Row {}", i + 1),
                    (Some(i), Some(j)) => format!("Row {} (row {} before)", j + 1, i + 1),
                    (None, Some(j)) => format!("Row {}", j + 1),
                    (Some(i), None) => format!("Row {} before", i + 1),
                    (None, None) => String::new(),
                };
                rows.push(CompareRow {
                    what,
                    left: left.map(text).unwrap_or_default(),
                    right: right.map(text).unwrap_or_default(),
                    tag,
                });
            }
        }
        _ => {}
    }
    let changed = v.history.compare(from, to).map(|c| in_words(d, &c)).unwrap_or_default();
    Ok(view::render(&ComparePage {
        chrome: viewer
            .chrome(&format!("Compare versions of {} for {}", d.name, v.entity.name))
            .with_errors(&errors),
        errors,
        entity_id: entity.to_string(),
        entity: v.entity.name.to_string(),
        dataset_key: d.key.clone(),
        dataset: d.name.to_string(),
        numbers: (1..=latest).collect(),
        from,
        to,
        from_label: label(from),
        to_label: label(to),
        rows,
        changed,
    }))
}
