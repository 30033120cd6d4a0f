//! Reports: the ones an actor's report features open, the people a report may be about,
//! and a report as of now or a past moment, built from the datasets the actor may read
//! and decided by the engine's [`decide_report`] (the seed's conditions included); and
//! its CSV, written by the one CSV writer (formulas defused).

use std::collections::BTreeMap;

use tenure_domain::report::{Condition, Report, ReportDecision, decide_report, may_use_report};
use tenure_domain::{
    Action, Content, Dataset, Entity, EntityId, EntityKind, History, Moment, Resource, UserId,
    World,
};

use crate::corterum::{Corterum, EntityQuery};
use crate::error::BackendError;
use crate::ports::Page;
use crate::usecase::ManageError;

/// One part of a report: a dataset (or the person's details, or the directory's list).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReportSection {
    /// Its heading.
    pub title: String,
    /// The column headings.
    pub columns: Vec<String>,
    /// The rows, one cell a column; none when nothing was recorded.
    pub rows: Vec<Vec<String>>,
}

/// What a report shows.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ReportOutcome {
    /// The report, section by section.
    Available(Vec<ReportSection>),
    /// The report is not available about this person; the condition says why in words
    /// that name the rule, not the evidence.
    Unavailable(Condition),
}

/// A report as one actor may read it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReportView {
    /// Which report.
    pub report: Report,
    /// The person it is about (none for the FCA Directory report).
    pub entity: Option<Entity>,
    /// The moment it was built as of (`None`: now, the latest versions).
    pub as_of: Option<Moment>,
    /// What it shows.
    pub outcome: ReportOutcome,
}

impl ReportView {
    /// The report as CSV: a title record, then each section's heading, columns and rows,
    /// a blank record between sections. `moment` words the moment (the web and the CLI
    /// pass their zone's formatter).
    pub fn to_csv(&self, moment: impl Fn(Moment) -> String) -> String {
        let mut out = String::new();
        let about = self.entity.as_ref().map(|e| e.name.to_string()).unwrap_or_default();
        let when = self.as_of.map_or_else(|| "now".to_owned(), &moment);
        out.push_str(&crate::csv::record([self.report.label(), &about, &format!("as of {when}")]));
        match &self.outcome {
            ReportOutcome::Unavailable(c) => out.push_str(&crate::csv::record([c.explain()])),
            ReportOutcome::Available(sections) => {
                for s in sections {
                    out.push_str("\r\n");
                    out.push_str(&crate::csv::record([s.title.as_str()]));
                    out.push_str(&crate::csv::record(&s.columns));
                    for row in &s.rows {
                        out.push_str(&crate::csv::record(row));
                    }
                }
            }
        }
        out
    }
}

fn history_error(e: impl std::fmt::Display) -> BackendError {
    BackendError::new(format!("stored history of an instance is invalid: {e}"))
}

/// The version current as of a moment (the latest for `None`).
fn content_as_of(history: &History, as_of: Option<Moment>) -> Option<&Content> {
    match as_of {
        Some(m) => history.as_of(m),
        None => history.latest(),
    }
    .map(|v| &v.content)
}

/// A dataset's content as a section: a form's fields as rows of two cells, a table's
/// rows as they are.
fn section(dataset: &Dataset, content: Option<&Content>) -> ReportSection {
    let title = dataset.name.to_string();
    match content {
        Some(Content::Table(rows)) => ReportSection {
            title,
            columns: dataset.fields.iter().map(|(_, l)| l.clone()).collect(),
            rows: rows
                .iter()
                .map(|r| {
                    dataset
                        .fields
                        .iter()
                        .map(|(k, _)| r.get(k).cloned().unwrap_or_default())
                        .collect()
                })
                .collect(),
        },
        Some(Content::Form(record)) => ReportSection {
            title,
            columns: vec!["Field".to_owned(), "Value".to_owned()],
            rows: dataset
                .fields
                .iter()
                .map(|(k, l)| vec![l.clone(), record.get(k).cloned().unwrap_or_default()])
                .collect(),
        },
        None => ReportSection {
            title,
            columns: match dataset.kind {
                tenure_domain::DatasetKind::Form => vec!["Field".to_owned(), "Value".to_owned()],
                tenure_domain::DatasetKind::Table => {
                    dataset.fields.iter().map(|(_, l)| l.clone()).collect()
                }
            },
            rows: Vec::new(),
        },
    }
}

/// The person's details a report starts with: their name and the static data the FCA
/// asks for.
fn details(entity: &Entity) -> ReportSection {
    let mut rows = vec![vec!["Name".to_owned(), entity.name.to_string()]];
    for (key, label) in entity.kind.fields() {
        if matches!(*key, "job_title" | "individual_reference_number") {
            rows.push(vec![
                (*label).to_owned(),
                entity.fields.get(*key).cloned().unwrap_or_default(),
            ]);
        }
    }
    ReportSection {
        title: "Details".to_owned(),
        columns: vec!["Field".to_owned(), "Value".to_owned()],
        rows,
    }
}

impl Corterum {
    /// The reports the actor's features open, in [`Report::ALL`]'s order.
    ///
    /// # Errors
    /// [`ManageError::Backend`] when storage fails.
    pub async fn reports(&self, actor: UserId) -> Result<Vec<Report>, ManageError> {
        let world = self.world(actor, Resource::Service).await?;
        Ok(Report::ALL.iter().copied().filter(|r| may_use_report(&world, actor, *r)).collect())
    }

    /// The actor's snapshot about an entity, with the catalogue's datasets in it.
    async fn world_with_datasets(
        &self,
        actor: UserId,
        entity: EntityId,
    ) -> Result<(World, Vec<Dataset>), ManageError> {
        let mut world = self.world(actor, Resource::Entity(entity)).await?;
        let mut all = self.ports.store.datasets().await?;
        all.sort_by_key(|d| d.embedded_in.is_some());
        for d in &all {
            world.upsert_dataset(d.clone()).map_err(BackendError::new)?;
        }
        Ok((world, all))
    }

    /// The people a report may be about for the actor: those whose instance of one of
    /// the report's datasets they may read (tables embedded in a form aside: the report
    /// itself decides those), by name. Empty for the FCA Directory report.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the report's feature.
    pub async fn report_subjects(
        &self,
        actor: UserId,
        report: Report,
    ) -> Result<Vec<Entity>, ManageError> {
        let world = self.feature(actor, report.feature()).await?;
        if !report.about_one() {
            return Ok(Vec::new());
        }
        let datasets = self.ports.store.datasets().await?;
        let mut found: BTreeMap<(String, EntityId), Entity> = BTreeMap::new();
        let query = EntityQuery { search: None, kind: Some(EntityKind::Person) };
        for d in report.source_ids() {
            if datasets.iter().any(|x| x.id == d && x.embedded_in.is_some()) {
                continue;
            }
            let scope = world.entity_scope(actor, Action::DatasetRead, Some(d));
            if scope.is_nothing() {
                continue;
            }
            let page = Page::numbered(1, Page::MAX_LIMIT);
            for e in self.ports.store.entities(&scope, &query, page).await? {
                found.insert(EntityQuery::sort_key(&e), e);
            }
        }
        Ok(found.into_values().collect())
    }

    /// A report about a person (`entity`), or the FCA Directory report (`None`), as of
    /// a moment (`None`: now).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the report's feature, for a person the actor
    /// may read none of the report's datasets about, or a report that needs a person
    /// and was not given one.
    pub async fn report(
        &self,
        actor: UserId,
        report: Report,
        entity: Option<EntityId>,
        as_of: Option<Moment>,
    ) -> Result<ReportView, ManageError> {
        let feature_world = self.feature(actor, report.feature()).await?;
        let Some(entity) = entity.filter(|_| report.about_one()) else {
            if report.about_one() {
                return Err(ManageError::NotFound);
            }
            let sections = vec![self.directory(actor, &feature_world, as_of).await?];
            return Ok(ReportView {
                report,
                entity: None,
                as_of,
                outcome: ReportOutcome::Available(sections),
            });
        };
        let (world, datasets) = self.world_with_datasets(actor, entity).await?;
        let holds = match report.condition() {
            Some(c) => {
                let d = datasets.iter().find(|d| d.key == c.dataset_key());
                match d {
                    Some(d) => {
                        let history = History::from_versions(
                            d.kind,
                            self.ports.store.history(d.id, entity).await?,
                        )
                        .map_err(history_error)?;
                        c.holds(&history, as_of)
                    }
                    None => false,
                }
            }
            None => true,
        };
        let sources = match decide_report(&world, actor, report, entity, holds) {
            ReportDecision::NotFound => return Err(ManageError::NotFound),
            ReportDecision::Unavailable(u) => {
                let e = self.ports.store.entity(entity).await?.ok_or(ManageError::NotFound)?;
                return Ok(ReportView {
                    report,
                    entity: Some(e),
                    as_of,
                    outcome: ReportOutcome::Unavailable(u.0),
                });
            }
            ReportDecision::Available(sources) => sources,
        };
        let e = self.ports.store.entity(entity).await?.ok_or(ManageError::NotFound)?;
        let mut sections = vec![details(&e)];
        for id in sources {
            let Some(d) = datasets.iter().find(|d| d.id == id) else { continue };
            let history =
                History::from_versions(d.kind, self.ports.store.history(id, entity).await?)
                    .map_err(history_error)?;
            sections.push(section(d, content_as_of(&history, as_of)));
        }
        Ok(ReportView {
            report,
            entity: Some(e),
            as_of,
            outcome: ReportOutcome::Available(sections),
        })
    }

    /// A form's field as of a moment (blank when not recorded).
    async fn field_as_of(
        &self,
        d: &Dataset,
        entity: EntityId,
        field: &str,
        as_of: Option<Moment>,
    ) -> Result<String, ManageError> {
        let history = History::from_versions(d.kind, self.ports.store.history(d.id, entity).await?)
            .map_err(history_error)?;
        Ok(match content_as_of(&history, as_of) {
            Some(Content::Form(r)) => r.get(field).cloned().unwrap_or_default(),
            _ => String::new(),
        })
    }

    /// The FCA Directory report: every person the actor may read one of its datasets
    /// about, with the cells of the datasets they may read (blank otherwise).
    async fn directory(
        &self,
        actor: UserId,
        world: &World,
        as_of: Option<Moment>,
    ) -> Result<ReportSection, ManageError> {
        let datasets = self.ports.store.datasets().await?;
        let find = |key: &str| datasets.iter().find(|d| d.key == key);
        let query = EntityQuery { search: None, kind: Some(EntityKind::Person) };
        // Per source: the people whose instance the actor may read (neither is embedded,
        // so the engine's entity scope for the dataset is exact).
        let mut readable: Vec<(Option<&Dataset>, Vec<EntityId>)> = Vec::new();
        let mut people: BTreeMap<(String, EntityId), Entity> = BTreeMap::new();
        for key in Report::FcaDirectory.sources() {
            let d = find(key);
            let mut ids = Vec::new();
            if let Some(d) = d.filter(|d| d.embedded_in.is_none()) {
                let scope = world.entity_scope(actor, Action::DatasetRead, Some(d.id));
                if !scope.is_nothing() {
                    let page = Page::numbered(1, Page::MAX_LIMIT);
                    for e in self.ports.store.entities(&scope, &query, page).await? {
                        ids.push(e.id);
                        people.insert(EntityQuery::sort_key(&e), e);
                    }
                }
            }
            readable.push((d, ids));
        }
        let mut rows = Vec::new();
        for e in people.into_values() {
            let mut cells = Vec::new();
            for ((d, ids), field) in [
                (&readable[0], "classification"),
                (&readable[1], "functions"),
                (&readable[1], "certified_on"),
            ] {
                cells.push(match d.filter(|_| ids.contains(&e.id)) {
                    Some(d) => self.field_as_of(d, e.id, field, as_of).await?,
                    None => String::new(),
                });
            }
            let mut row = vec![
                e.name.to_string(),
                e.fields.get("individual_reference_number").cloned().unwrap_or_default(),
                e.fields.get("job_title").cloned().unwrap_or_default(),
            ];
            row.extend(cells);
            rows.push(row);
        }
        Ok(ReportSection {
            title: "People".to_owned(),
            columns: [
                "Name",
                "FCA individual reference number",
                "Job title",
                "SM&CR classification",
                "Certified functions",
                "Certified on",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
        })
    }
}
