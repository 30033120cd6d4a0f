//! Datasets and their instances: the catalogue, reading an instance as of a version or
//! moment (a form with the tables embedded in it that the reader may read), saving a new
//! version, changing or removing a table's row (each a new version), and exports.

use std::collections::BTreeMap;

use tenure_domain::dataset::Record;
use tenure_domain::dataset::catalogue;
use tenure_domain::{
    Action, Content, Dataset, DatasetId, Entity, EntityId, History, HistoryError, Moment, Request,
    Resource, RowError, UserId, Version,
};

use crate::audit::{AuditDetail, AuditName, InstanceSave};
use crate::changes::Write;
use crate::corterum::{AsOf, Corterum, EntityQuery, InstanceView, invalid};
use crate::error::BackendError;
use crate::ports::Page;
use crate::usecase::ManageError;

impl Corterum {
    /// The dataset catalogue.
    ///
    /// # Errors
    /// [`ManageError::Backend`] when storage fails.
    pub async fn datasets(&self) -> Result<Vec<Dataset>, ManageError> {
        let mut all = self.ports.store.datasets().await?;
        all.sort_by_key(|d| d.name.as_str().to_lowercase());
        Ok(all)
    }

    /// The datasets, by name, whose instance about `entity` the actor may read (an
    /// embedded table only with its form): one snapshot and one catalogue read, the
    /// engine deciding for each dataset.
    ///
    /// # Errors
    /// [`ManageError::Backend`] when storage fails.
    pub async fn readable_datasets(
        &self,
        actor: UserId,
        entity: EntityId,
    ) -> Result<Vec<Dataset>, ManageError> {
        let mut world = self.world(actor, Resource::Entity(entity)).await?;
        let mut all = self.datasets().await?;
        let mut forms_first = all.clone();
        forms_first.sort_by_key(|d| d.embedded_in.is_some());
        for d in forms_first {
            world.upsert_dataset(d).map_err(BackendError::new)?;
        }
        all.retain(|d| {
            let resource = Resource::Instance { dataset: d.id, entity };
            world.decide(&Request::new(actor, Action::DatasetRead, resource)).is_allowed()
        });
        Ok(all)
    }

    /// Puts Corterum's catalogue datasets into the store when missing. Idempotent.
    ///
    /// # Errors
    /// [`ManageError::Backend`] when storage fails.
    pub async fn install_catalogue(&self) -> Result<usize, ManageError> {
        let have = self.ports.store.datasets().await?;
        let mut missing: Vec<Dataset> =
            catalogue().into_iter().filter(|d| !have.iter().any(|h| h.id == d.id)).collect();
        // Forms before the tables embedded in them.
        missing.sort_by_key(|d| d.embedded_in.is_some());
        let n = missing.len();
        if n > 0 {
            self.ports
                .changes
                .apply(missing.into_iter().map(Write::UpsertDataset).collect(), Vec::new())
                .await?;
        }
        Ok(n)
    }

    /// An instance as of a version or moment (`dataset.read`; for an embedded table, on
    /// the form too).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] out of reach or missing.
    pub async fn instance(
        &self,
        actor: UserId,
        dataset: DatasetId,
        entity: EntityId,
        at: AsOf,
    ) -> Result<InstanceView, ManageError> {
        let resource = Resource::Instance { dataset, entity };
        let world = self.world(actor, resource).await?;
        self.base.require(&world, Request::new(actor, Action::DatasetRead, resource)).await?;
        let d = world.dataset(dataset).cloned().ok_or(ManageError::NotFound)?;
        let e = self.ports.store.entity(entity).await?.ok_or(ManageError::NotFound)?;
        let history =
            History::from_versions(d.kind, self.ports.store.history(dataset, entity).await?)
                .map_err(|e| {
                    BackendError::new(format!("stored history of an instance is invalid: {e}"))
                })?;
        let shown = match at {
            AsOf::Latest => history.latest().map(|v| v.number),
            AsOf::Version(n) => Some(history.at_version(n).ok_or(ManageError::NotFound)?.number),
            AsOf::Moment(m) => history.as_of(m).map(|v| v.number),
        };
        let save =
            if history.latest_number() == 0 { Action::DatasetCreate } else { Action::DatasetEdit };
        let may_save = world.decide(&Request::new(actor, save, resource)).is_allowed();
        Ok(InstanceView { dataset: d, entity: e, history, shown, may_save })
    }

    /// Saves a new version of an instance made from version `based_on` (0 for the
    /// first): `dataset.create` for the first version, `dataset.edit` after.
    ///
    /// # Errors
    /// [`ManageError::Conflict`] if someone saved since `based_on`; [`ManageError::Invalid`]
    /// for fields the dataset does not have, or no change.
    pub async fn save_instance(
        &self,
        actor: UserId,
        dataset: DatasetId,
        entity: EntityId,
        based_on: u32,
        content: Content,
    ) -> Result<u32, ManageError> {
        self.save_with(actor, dataset, entity, based_on, |_| Ok(content)).await
    }

    /// Changes row `row` (counted from 1) of a table as it was at version `based_on`,
    /// saving the table as a new version (`dataset.edit`).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] out of reach; [`ManageError::Conflict`] if someone saved
    /// since `based_on` (the rows may have moved); [`ManageError::Invalid`] for a form, a
    /// row that is not there, a row with no value, a column the table does not have, or
    /// no change.
    pub async fn change_row(
        &self,
        actor: UserId,
        dataset: DatasetId,
        entity: EntityId,
        based_on: u32,
        row: usize,
        record: Record,
    ) -> Result<u32, ManageError> {
        self.save_with(actor, dataset, entity, based_on, |latest| {
            latest.with_row(row, record).map_err(|e| row_error(&e))
        })
        .await
    }

    /// Removes row `row` (counted from 1) of a table as it was at version `based_on`,
    /// saving the table without it as a new version (`dataset.edit`); the row stays in
    /// the versions before.
    ///
    /// # Errors
    /// As [`Corterum::change_row`].
    pub async fn remove_row(
        &self,
        actor: UserId,
        dataset: DatasetId,
        entity: EntityId,
        based_on: u32,
        row: usize,
    ) -> Result<u32, ManageError> {
        self.save_with(actor, dataset, entity, based_on, |latest| {
            latest.without_row(row).map_err(|e| row_error(&e))
        })
        .await
    }

    /// The latest version of an instance the actor may edit, for a form that changes it
    /// (`dataset.read`, then `dataset.edit`: a reader who may not edit is refused with the
    /// engine's reason, and someone who may not read finds nothing).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] out of reach or missing; [`ManageError::Forbidden`]
    /// readable but not editable.
    pub async fn instance_to_edit(
        &self,
        actor: UserId,
        dataset: DatasetId,
        entity: EntityId,
    ) -> Result<InstanceView, ManageError> {
        let resource = Resource::Instance { dataset, entity };
        let world = self.world(actor, resource).await?;
        self.base.require(&world, Request::new(actor, Action::DatasetRead, resource)).await?;
        self.base.require(&world, Request::new(actor, Action::DatasetEdit, resource)).await?;
        self.instance(actor, dataset, entity, AsOf::Latest).await
    }

    /// An instance (as [`Corterum::instance`]) with, for a form, the tables embedded in
    /// it that the actor may read (the engine decides each: the table and the form),
    /// each as it was at the same moment: the form's version's moment, the moment asked,
    /// or the latest.
    ///
    /// # Errors
    /// As [`Corterum::instance`], for the form.
    pub async fn instance_with_tables(
        &self,
        actor: UserId,
        dataset: DatasetId,
        entity: EntityId,
        at: AsOf,
    ) -> Result<(InstanceView, Vec<InstanceView>), ManageError> {
        let form = self.instance(actor, dataset, entity, at).await?;
        let tables: Vec<Dataset> = self
            .ports
            .store
            .datasets()
            .await?
            .into_iter()
            .filter(|d| d.embedded_in == Some(dataset))
            .collect();
        if tables.is_empty() {
            return Ok((form, Vec::new()));
        }
        let mut world = self.world(actor, Resource::Instance { dataset, entity }).await?;
        for d in &tables {
            world.upsert_dataset(d.clone()).map_err(BackendError::new)?;
        }
        let table_at = match at {
            AsOf::Latest => AsOf::Latest,
            AsOf::Moment(m) => AsOf::Moment(m),
            AsOf::Version(_) => match form.shown.and_then(|n| form.history.at_version(n)) {
                Some(v) => AsOf::Moment(v.at),
                None => AsOf::Latest,
            },
        };
        let mut shown = Vec::new();
        for d in tables {
            let resource = Resource::Instance { dataset: d.id, entity };
            // Decided here first, so a table out of reach is left out without an audited
            // refusal on every view of the form.
            if world.decide(&Request::new(actor, Action::DatasetRead, resource)).is_allowed() {
                shown.push(self.instance(actor, d.id, entity, table_at).await?);
            }
        }
        Ok((form, shown))
    }

    /// Saves a new version made by `make` from the latest content, once the actor may
    /// and `based_on` is the latest version.
    async fn save_with(
        &self,
        actor: UserId,
        dataset: DatasetId,
        entity: EntityId,
        based_on: u32,
        make: impl FnOnce(&Content) -> Result<Content, ManageError>,
    ) -> Result<u32, ManageError> {
        let resource = Resource::Instance { dataset, entity };
        let world = self.world(actor, resource).await?;
        self.base.require(&world, Request::new(actor, Action::DatasetRead, resource)).await?;
        let action = if based_on == 0 { Action::DatasetCreate } else { Action::DatasetEdit };
        self.base.require(&world, Request::new(actor, action, resource)).await?;
        let d = world.dataset(dataset).cloned().ok_or(ManageError::NotFound)?;
        let mut history =
            History::from_versions(d.kind, self.ports.store.history(dataset, entity).await?)
                .map_err(|e| {
                    BackendError::new(format!("stored history of an instance is invalid: {e}"))
                })?;
        if history.latest_number() != based_on {
            return Err(ManageError::Conflict);
        }
        let latest = history.latest().map_or_else(|| Content::empty(d.kind), |v| v.content.clone());
        let content = make(&latest)?;
        let known = |k: &String| d.fields.iter().any(|(f, _)| f == k);
        let records: Vec<&BTreeMap<String, String>> = match &content {
            Content::Form(r) => vec![r],
            Content::Table(rows) => rows.iter().collect(),
        };
        if let Some(bad) = records.iter().flat_map(|r| r.keys()).find(|k| !known(k)) {
            let accepted: Vec<&str> = d.fields.iter().map(|(k, _)| k.as_str()).collect();
            return Err(invalid(
                "content",
                format!("{} has no field `{bad}`; its fields are: {}", d.name, accepted.join(", ")),
            ));
        }
        let now = Moment(self.ports.clock.now().0);
        let version = match history.append(based_on, now, Some(actor), content) {
            Ok(v) => v.clone(),
            Err(HistoryError::Stale { .. }) => return Err(ManageError::Conflict),
            Err(HistoryError::NothingChanged) => return Err(invalid("content", "nothing changed")),
            Err(e) => return Err(invalid("content", e.to_string())),
        };
        let changed: Vec<String> =
            history.changes(version.number).into_iter().map(|c| c.place).collect();
        let audit = self.event(
            AuditName::InstanceSave,
            actor,
            None,
            AuditDetail::InstanceSave(InstanceSave {
                dataset: d.key.clone(),
                entity: entity.to_string(),
                version: version.number,
                changed,
            }),
        );
        let number = version.number;
        self.ports
            .changes
            .apply(vec![Write::AppendVersion { dataset, entity, version }], vec![audit])
            .await?;
        Ok(number)
    }

    /// Every instance of a dataset the actor may read, latest versions, for export.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an unknown dataset.
    pub async fn export(
        &self,
        actor: UserId,
        dataset: DatasetId,
    ) -> Result<Vec<(Entity, Version)>, ManageError> {
        let mut out = Vec::new();
        let mut page = Page::numbered(1, Page::MAX_LIMIT);
        let world = self.world(actor, Resource::Service).await?;
        let scope = world.entity_scope(actor, Action::DatasetRead, Some(dataset));
        if self.ports.store.datasets().await?.iter().all(|d| d.id != dataset) {
            return Err(ManageError::NotFound);
        }
        loop {
            let batch = self.ports.store.entities(&scope, &EntityQuery::default(), page).await?;
            let done = batch.len() < page.limit;
            for e in batch {
                // The engine decides each one (embedded tables need their form too).
                let Ok(view) = self.instance(actor, dataset, e.id, AsOf::Latest).await else {
                    continue;
                };
                if let Some(v) = view.history.latest() {
                    out.push((e, v.clone()));
                }
            }
            if done {
                break;
            }
            page.offset += page.limit;
        }
        Ok(out)
    }
}

/// A row that cannot be changed or removed, as the form field `row` says it.
fn row_error(e: &RowError) -> ManageError {
    invalid("row", e.to_string())
}
