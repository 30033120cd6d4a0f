//! Corterum dataset instances in batches: one row per dataset and entity, `dataset`
//! (its key), `entity_type`, `entity` (its name, among the entities the actor sees) and
//! `content`, the latest version's content as JSON: an object of field to text for a
//! form (`{"course":"AML","passed":"yes"}`), an array of such objects for a table. The
//! natural key is the dataset and the entity.
//!
//! A row for an instance with no version yet saves its first (`dataset.create`); one
//! whose content is the latest version's is unchanged; one that differs is saved as a
//! new version with `--update` (`dataset.edit`), each through `Corterum::save_instance`
//! based on the version read, so a version saved meanwhile is a conflict, never lost.
//! An export writes the latest version of every instance the actor may read, forms
//! before the tables embedded in them, by dataset key.

use std::collections::BTreeMap;

use async_trait::async_trait;
use tenure_domain::{
    Action, Content, Dataset, DatasetKind, Entity, EntityKind, Name, Request, Resource, UserId,
};

use crate::batch::corterum::CorterumSources;
use crate::batch::{Created, Kind, RowError, cell};
use crate::corterum::AsOf;
use crate::csv::read::{Column, Columns, Row};
use crate::error::BackendError;
use crate::usecase::{FieldError, ManageError};

/// The instances kind.
#[derive(Clone, Debug)]
pub struct Instances {
    sources: CorterumSources,
}

impl Instances {
    /// The kind over these services.
    pub fn new(sources: CorterumSources) -> Self {
        Self { sources }
    }

    async fn dataset(&self, key: &str) -> Result<Dataset, RowError> {
        let all = self.sources.corterum.datasets().await?;
        match all.iter().find(|d| d.key == key) {
            Some(d) => Ok(d.clone()),
            None => Err(RowError(format!(
                "dataset: no dataset `{}`; expected one of: {}",
                tenure_domain::name::quoted(key),
                all.iter().map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    async fn target(
        &self,
        actor: UserId,
        row: &InstanceRow,
    ) -> Result<(Dataset, Entity), RowError> {
        let dataset = self.dataset(&row.dataset).await?;
        let Some(entity) = self.sources.entity_named(actor, &row.entity, Some(row.kind)).await?
        else {
            return Err(RowError(format!(
                "entity: no {} you can see is called `{}`",
                row.kind,
                tenure_domain::name::quoted(&row.entity)
            )));
        };
        Ok((dataset, entity))
    }
}

/// A parsed row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceRow {
    /// The dataset's key.
    pub dataset: String,
    /// The entity's type.
    pub kind: EntityKind,
    /// The entity's name.
    pub entity: String,
    /// The content, as JSON.
    pub content: serde_json::Value,
}

/// An instance with at least one version.
#[derive(Clone, Debug)]
pub struct StoredInstance {
    /// The dataset.
    pub dataset: Dataset,
    /// The entity.
    pub entity: Entity,
    /// The latest version's number.
    pub latest: u32,
    /// Whether the row's content is the latest version's.
    pub same: bool,
}

/// Content as JSON: an object for a form, an array of objects for a table.
fn to_json(content: &Content) -> serde_json::Value {
    let record = |r: &BTreeMap<String, String>| {
        serde_json::Value::Object(
            r.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect(),
        )
    };
    match content {
        Content::Form(r) => record(r),
        Content::Table(rows) => serde_json::Value::Array(rows.iter().map(record).collect()),
    }
}

/// JSON as content of a dataset's kind.
fn from_json(kind: DatasetKind, value: &serde_json::Value) -> Result<Content, RowError> {
    let record = |v: &serde_json::Value| -> Option<BTreeMap<String, String>> {
        v.as_object()?.iter().map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect()
    };
    let content = match (kind, value) {
        (DatasetKind::Form, v) => record(v).map(Content::Form),
        (DatasetKind::Table, serde_json::Value::Array(rows)) => {
            rows.iter().map(record).collect::<Option<Vec<_>>>().map(Content::Table)
        }
        (DatasetKind::Table, _) => None,
    };
    content.ok_or_else(|| {
        RowError(match kind {
            DatasetKind::Form => {
                "content: write a form as a JSON object of field to text, {\"field\":\"value\"}"
                    .to_owned()
            }
            DatasetKind::Table => "content: write a table as a JSON array of objects of column \
                                   to text, [{\"column\":\"value\"}]"
                .to_owned(),
        })
    })
}

#[async_trait]
impl Kind for Instances {
    type Input = InstanceRow;
    type Existing = StoredInstance;

    const COLUMNS: Columns<'static> = Columns {
        columns: &[
            Column::required("dataset"),
            Column::required("entity_type"),
            Column::required("entity"),
            Column::required("content"),
        ],
    };

    fn parse(&self, row: &Row) -> Result<InstanceRow, Vec<FieldError>> {
        let mut errors = Vec::new();
        let dataset = cell(row, "dataset").trim().to_lowercase();
        if dataset.is_empty() {
            errors.push(FieldError { field: "dataset", message: "enter the dataset's key".into() });
        }
        let kind = cell(row, "entity_type")
            .trim()
            .to_lowercase()
            .parse::<EntityKind>()
            .map_err(|e| errors.push(FieldError { field: "entity_type", message: e.to_string() }))
            .ok();
        let entity = Name::parse(cell(row, "entity"))
            .map_err(|e| errors.push(FieldError { field: "entity", message: e.to_string() }))
            .ok();
        let content = serde_json::from_str::<serde_json::Value>(cell(row, "content"))
            .map_err(|e| {
                errors.push(FieldError {
                    field: "content",
                    message: format!(
                        "not JSON ({e}); write a form as {{\"field\":\"value\"}} and a table as \
                         [{{\"column\":\"value\"}}]"
                    ),
                });
            })
            .ok();
        match (kind, entity, content) {
            (Some(kind), Some(entity), Some(content)) if errors.is_empty() => {
                Ok(InstanceRow { dataset, kind, entity: entity.to_string(), content })
            }
            _ => Err(errors),
        }
    }

    fn key(&self, input: &InstanceRow) -> String {
        format!("{} of {} {}", input.dataset, input.kind, input.entity)
    }

    async fn find(
        &self,
        actor: UserId,
        input: &InstanceRow,
    ) -> Result<Option<StoredInstance>, RowError> {
        let (dataset, entity) = self.target(actor, input).await?;
        let view = match self
            .sources
            .corterum
            .instance(actor, dataset.id, entity.id, AsOf::Latest)
            .await
        {
            Ok(v) => v,
            // Out of the actor's reading: saving gets the service's answer.
            Err(ManageError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(latest) = view.history.latest() else { return Ok(None) };
        let same = from_json(dataset.kind, &input.content)? == latest.content;
        Ok(Some(StoredInstance { latest: latest.number, dataset, entity, same }))
    }

    fn differs(&self, _input: &InstanceRow, existing: &StoredInstance) -> bool {
        !existing.same
    }

    async fn check(
        &self,
        actor: UserId,
        input: &InstanceRow,
        existing: Option<&StoredInstance>,
    ) -> Result<Created, RowError> {
        let (dataset, entity) = self.target(actor, input).await?;
        from_json(dataset.kind, &input.content)?;
        let resource = Resource::Instance { dataset: dataset.id, entity: entity.id };
        let world = self.sources.directory.snapshot(actor, resource).await?;
        let save = if existing.is_some() { Action::DatasetEdit } else { Action::DatasetCreate };
        for action in [Action::DatasetRead, save] {
            if !world.decide(&Request::new(actor, action, resource)).is_allowed() {
                return Err(RowError("not found".to_owned()));
            }
        }
        Ok(Created::Done)
    }

    async fn create(&self, actor: UserId, input: &InstanceRow) -> Result<Created, RowError> {
        let (dataset, entity) = self.target(actor, input).await?;
        let content = from_json(dataset.kind, &input.content)?;
        self.sources.corterum.save_instance(actor, dataset.id, entity.id, 0, content).await?;
        Ok(Created::Done)
    }

    async fn update(
        &self,
        actor: UserId,
        input: &InstanceRow,
        existing: &StoredInstance,
    ) -> Result<(), RowError> {
        let content = from_json(existing.dataset.kind, &input.content)?;
        let (dataset, entity) = (existing.dataset.id, existing.entity.id);
        self.sources
            .corterum
            .save_instance(actor, dataset, entity, existing.latest, content)
            .await?;
        Ok(())
    }

    async fn export_page(
        &self,
        actor: UserId,
        number: usize,
    ) -> Result<Option<Vec<Vec<String>>>, BackendError> {
        let to_backend = |e: ManageError| match e {
            ManageError::Backend(e) => e,
            e => BackendError::new(e.to_string()),
        };
        // A page a dataset: forms before the tables embedded in them, by key.
        let mut datasets = self.sources.corterum.datasets().await.map_err(to_backend)?;
        datasets.sort_by(|a, b| {
            (a.embedded_in.is_some(), &a.key).cmp(&(b.embedded_in.is_some(), &b.key))
        });
        let Some(dataset) = number.checked_sub(1).and_then(|i| datasets.get(i)) else {
            return Ok(None);
        };
        let mut found =
            self.sources.corterum.export(actor, dataset.id).await.map_err(to_backend)?;
        found.sort_by_cached_key(|(e, _)| (e.kind.as_str(), e.name.as_str().to_lowercase(), e.id));
        Ok(Some(
            found
                .iter()
                .map(|(e, v)| {
                    vec![
                        dataset.key.clone(),
                        e.kind.as_str().to_owned(),
                        e.name.to_string(),
                        to_json(&v.content).to_string(),
                    ]
                })
                .collect(),
        ))
    }
}
