//! Corterum's reports: what each report feature opens, which datasets it is built from,
//! and the seed's conditions on them, decided by [`decide_report`].
//!
//! A report about an entity is open to an actor when, in order:
//!
//! 1. one of their roles grants `feature.use` on the report's feature (otherwise the
//!    report does not exist for them: "not found");
//! 2. they may `dataset.read` at least one of the datasets the report is built from, for
//!    that entity (otherwise the entity does not exist for them: "not found"); the
//!    report shows only the datasets they may read;
//! 3. the report's condition holds for the entity, as of the moment asked: a Fit and
//!    Proper Certificate only for someone whose latest Fitness and Propriety Assessment
//!    says fit and proper, a Statement of Responsibilities only for a senior manager
//!    (SM&CR Classification). The condition is read by the service, not the actor (the
//!    seed's Charlie sees his certificate without reading his assessment), and a report
//!    whose condition fails says only which condition, the same whatever the evidence
//!    holds ([`Unavailable`]).
//!
//! The FCA Directory report is a list: every person the actor may see, with the cells of
//! datasets they may read about each.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::action::Action;
use crate::dataset::{Content, History, Moment, catalogue_id_of};
use crate::engine::{Request, Resource};
use crate::feature::Feature;
use crate::id::{DatasetId, EntityId, UserId};
use crate::world::World;

/// A report a report feature opens.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Report {
    /// A person's Fit and Proper Certificate.
    FitAndProperCertificate,
    /// A senior manager's Statement of Responsibilities.
    StatementOfResponsibilities,
    /// The people the firm would list in the FCA Directory.
    FcaDirectory,
    /// What a regulatory reference about a person says.
    RegulatoryReference,
}

/// What must hold of an entity for a report about it to be available.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Condition {
    /// The latest Fitness and Propriety Assessment says "fit and proper".
    AssessedFitAndProper,
    /// The SM&CR Classification says "senior manager".
    SeniorManager,
}

impl Condition {
    /// The dataset whose latest version (as of the moment asked) the condition reads.
    pub const fn dataset_key(self) -> &'static str {
        match self {
            Self::AssessedFitAndProper => "fitness_and_propriety_assessment_record",
            Self::SeniorManager => "smcr_classification",
        }
    }

    /// The field of that dataset it reads.
    pub const fn field(self) -> &'static str {
        match self {
            Self::AssessedFitAndProper => "outcome",
            Self::SeniorManager => "classification",
        }
    }

    /// The value (any case, spaces trimmed) the field must hold.
    pub const fn expected(self) -> &'static str {
        match self {
            Self::AssessedFitAndProper => "fit and proper",
            Self::SeniorManager => "senior manager",
        }
    }

    /// Whether a value of the field meets the condition.
    pub fn met_by(self, value: Option<&str>) -> bool {
        value.is_some_and(|v| {
            v.split_whitespace().collect::<Vec<_>>().join(" ").eq_ignore_ascii_case(self.expected())
        })
    }

    /// Whether the condition holds for a history of its dataset as of a moment (the
    /// latest version when `None`).
    pub fn holds(self, history: &History, as_of: Option<Moment>) -> bool {
        let version = match as_of {
            Some(m) => history.as_of(m),
            None => history.latest(),
        };
        let value = version.and_then(|v| match &v.content {
            Content::Form(record) => record.get(self.field()).map(String::as_str),
            Content::Table(_) => None,
        });
        self.met_by(value)
    }

    /// The sentence a person reads when the condition does not hold. It names the rule,
    /// never the evidence, so it reads the same whether there is no assessment, an
    /// assessment saying otherwise, or no classification.
    pub const fn explain(self) -> &'static str {
        match self {
            Self::AssessedFitAndProper => {
                "A Fit and Proper Certificate is available only for someone whose latest Fitness and Propriety Assessment says they are fit and proper."
            }
            Self::SeniorManager => {
                "A Statement of Responsibilities is available only for someone whose SM&CR Classification says they are a senior manager."
            }
        }
    }
}

impl Report {
    /// Every report, in the seed's order of their features.
    pub const ALL: &'static [Self] = &[
        Self::FcaDirectory,
        Self::FitAndProperCertificate,
        Self::RegulatoryReference,
        Self::StatementOfResponsibilities,
    ];

    /// The name used in addresses and the CLI.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FitAndProperCertificate => "fit-and-proper-certificate",
            Self::StatementOfResponsibilities => "statement-of-responsibilities",
            Self::FcaDirectory => "fca-directory",
            Self::RegulatoryReference => "regulatory-reference",
        }
    }

    /// The name people read.
    pub const fn label(self) -> &'static str {
        match self {
            Self::FitAndProperCertificate => "Fit and Proper Certificate",
            Self::StatementOfResponsibilities => "Statement of Responsibilities",
            Self::FcaDirectory => "FCA Directory report",
            Self::RegulatoryReference => "Regulatory Reference",
        }
    }

    /// The feature permission that opens it.
    pub const fn feature(self) -> Feature {
        match self {
            Self::FitAndProperCertificate => Feature::ReportFitAndProperCertificate,
            Self::StatementOfResponsibilities => Feature::ReportStatementOfResponsibility,
            Self::FcaDirectory => Feature::ReportFcaDirectory,
            Self::RegulatoryReference => Feature::ReportRegulatoryReference,
        }
    }

    /// The report a feature opens, if any.
    pub fn of_feature(feature: Feature) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.feature() == feature)
    }

    /// Whether it is about one entity (the FCA Directory report lists many).
    pub const fn about_one(self) -> bool {
        !matches!(self, Self::FcaDirectory)
    }

    /// The condition the entity must meet, if any.
    pub const fn condition(self) -> Option<Condition> {
        match self {
            Self::FitAndProperCertificate => Some(Condition::AssessedFitAndProper),
            Self::StatementOfResponsibilities => Some(Condition::SeniorManager),
            Self::FcaDirectory | Self::RegulatoryReference => None,
        }
    }

    /// The catalogue datasets it is built from, by key, in the order it shows them.
    pub const fn sources(self) -> &'static [&'static str] {
        match self {
            Self::FitAndProperCertificate => &["fit_and_proper_certificate"],
            Self::StatementOfResponsibilities => {
                &["statement_of_responsibilities", "management_responsibilities_map"]
            }
            Self::FcaDirectory => &["smcr_classification", "fit_and_proper_certificate"],
            Self::RegulatoryReference => &[
                "employment_history",
                "fitness_and_propriety_assessment_record",
                "disciplinary_proceedings",
                "regulatory_references_provided",
            ],
        }
    }

    /// The ids of [`Report::sources`].
    pub fn source_ids(self) -> Vec<DatasetId> {
        self.sources().iter().filter_map(|k| catalogue_id_of(k)).collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A report name that is not one of [`Report::ALL`].
#[derive(Clone, PartialEq, Eq, Debug, Error)]
#[error("unknown report `{}`; expected one of: fca-directory, fit-and-proper-certificate, regulatory-reference, statement-of-responsibilities", crate::name::quoted(.given))]
pub struct UnknownReportError {
    /// What was given.
    pub given: String,
}

impl FromStr for Report {
    type Err = UnknownReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownReportError { given: s.to_owned() })
    }
}

/// The report is not available about this entity: its condition does not hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Unavailable(pub Condition);

/// The answer of [`decide_report`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ReportDecision {
    /// The report is open; it shows these of its sources (the ones the actor may read),
    /// in its order.
    Available(Vec<DatasetId>),
    /// The report exists for the actor but not about this entity (now or then).
    Unavailable(Unavailable),
    /// The report or the entity does not exist for the actor: answer "not found".
    NotFound,
}

/// Whether `actor` may use `report` at all (`feature.use` on its feature).
pub fn may_use_report(world: &World, actor: UserId, report: Report) -> bool {
    world
        .decide(&Request::new(actor, Action::FeatureUse, Resource::Feature(report.feature())))
        .is_allowed()
}

/// The sources of `report` that `actor` may read about `entity`, in the report's order.
/// The world must hold the datasets (and the forms their tables sit in).
pub fn readable_sources(
    world: &World,
    actor: UserId,
    report: Report,
    entity: EntityId,
) -> Vec<DatasetId> {
    report
        .source_ids()
        .into_iter()
        .filter(|d| {
            let resource = Resource::Instance { dataset: *d, entity };
            world.decide(&Request::new(actor, Action::DatasetRead, resource)).is_allowed()
        })
        .collect()
}

/// Decides whether `actor` may see `report` about `entity`; `condition_holds` says
/// whether the report's condition holds for the entity at the moment asked (ignored
/// for reports without one). See the module docs for the order of the checks.
pub fn decide_report(
    world: &World,
    actor: UserId,
    report: Report,
    entity: EntityId,
    condition_holds: bool,
) -> ReportDecision {
    if !may_use_report(world, actor, report) {
        return ReportDecision::NotFound;
    }
    let sources = readable_sources(world, actor, report, entity);
    if sources.is_empty() {
        return ReportDecision::NotFound;
    }
    match report.condition() {
        Some(c) if !condition_holds => ReportDecision::Unavailable(Unavailable(c)),
        _ => ReportDecision::Available(sources),
    }
}

#[cfg(test)]
mod tests;
