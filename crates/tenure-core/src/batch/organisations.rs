//! Organisations in batches: every field of the admin screen's form, and whether the
//! organisation is active. The natural key is the name (unique without case).
//!
//! Creating calls `Manage::create_organisation`; a row with `active` = `no` is then
//! deactivated (`Manage::deactivate_organisation`, its own transaction: a run cut between
//! the two leaves an active organisation, which a re-run with `--update` deactivates).
//! Updating calls `Manage::edit_organisation` (details need `organisation.edit_details`,
//! the rest `organisation.edit_all`) and then deactivates or reactivates if `active`
//! changed.

use async_trait::async_trait;
use tenure_domain::{
    Action, Name, OrgId, Organisation, ProviderType, Request, Resource, Telephone, UserId, World,
};

use std::collections::HashMap;

use crate::batch::chunk::{Chunk, RowWrites};
use crate::batch::{
    Bulk, BulkPath, Created, Kind, Options, Outcome, Planned, Planner, RowError, Sources, cell,
    flag, yes_no,
};
use crate::changes::Versioned;
use crate::csv::read::{Column, Columns, Row};
use crate::error::BackendError;
use crate::manage::OrganisationInput;
use crate::ports::Page;
use crate::query::OrganisationQuery;
use crate::usecase::{FieldError, ManageError};

/// The organisations kind.
#[derive(Clone, Debug)]
pub struct Organisations {
    sources: Sources,
}

impl Organisations {
    /// The kind over these services.
    pub fn new(sources: Sources) -> Self {
        Self { sources }
    }
}

/// A parsed row: the form's input, normalised, and whether it is active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganisationRow {
    /// The form's fields, trimmed (the telephone as it is stored).
    pub input: OrganisationInput,
    /// Whether it is active.
    pub active: bool,
}

fn provider_type(cell: &str) -> Result<ProviderType, FieldError> {
    match cell.trim().to_lowercase().replace([' ', '-'], "_").as_str() {
        "" | "private_registered_provider" => Ok(ProviderType::PrivateRegisteredProvider),
        "local_authority" => Ok(ProviderType::LocalAuthority),
        _ => Err(FieldError {
            field: "provider_type",
            message: format!(
                "`{}` is not a provider type; write private_registered_provider or local_authority",
                tenure_domain::name::quoted(cell)
            ),
        }),
    }
}

const fn provider_key(t: ProviderType) -> &'static str {
    match t {
        ProviderType::LocalAuthority => "local_authority",
        ProviderType::PrivateRegisteredProvider => "private_registered_provider",
    }
}

/// An organisation's row under [`Organisations::COLUMNS`].
fn cells(o: &Organisation) -> Vec<String> {
    vec![
        o.name.to_string(),
        o.address.clone().unwrap_or_default(),
        o.telephone.as_ref().map(ToString::to_string).unwrap_or_default(),
        provider_key(o.provider_type).to_owned(),
        o.registration_number.clone().unwrap_or_default(),
        yes_no(o.holds_stock).to_owned(),
        yes_no(o.active).to_owned(),
    ]
}

fn input_cells(row: &OrganisationRow) -> Vec<String> {
    let i = &row.input;
    vec![
        i.name.clone(),
        i.address.clone(),
        i.telephone.clone(),
        provider_key(i.provider_type).to_owned(),
        i.registration_number.clone(),
        yes_no(i.holds_stock).to_owned(),
        yes_no(row.active).to_owned(),
    ]
}

#[async_trait]
impl Kind for Organisations {
    type Input = OrganisationRow;
    type Existing = Versioned<Organisation>;

    const COLUMNS: Columns<'static> = Columns {
        columns: &[
            Column::required("name"),
            Column::optional("address"),
            Column::optional("telephone"),
            Column::optional("provider_type"),
            Column::optional("registration_number"),
            Column::optional("holds_stock"),
            Column::optional("active"),
        ],
    };

    fn parse(&self, row: &Row) -> Result<OrganisationRow, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut field = |e: FieldError| errors.push(e);
        let name = Name::parse(cell(row, "name"))
            .map_err(|e| field(FieldError { field: "name", message: e.to_string() }))
            .ok();
        let telephone = match cell(row, "telephone").trim() {
            "" => Some(String::new()),
            t => Telephone::parse(t)
                .map(|t| t.to_string())
                .map_err(|e| field(FieldError { field: "telephone", message: e.to_string() }))
                .ok(),
        };
        let provider_type = provider_type(cell(row, "provider_type")).map_err(&mut field).ok();
        // Left empty, an organisation holds stock and is active, as on the admin screen.
        let yes_unless = |column: &'static str| match cell(row, column).trim() {
            "" => Ok(true),
            cell => flag(column, cell),
        };
        let holds_stock = yes_unless("holds_stock").map_err(&mut field).ok();
        let active = yes_unless("active").map_err(&mut field).ok();
        match (name, telephone, provider_type, holds_stock, active) {
            (Some(name), Some(telephone), Some(provider_type), Some(holds_stock), Some(active))
                if errors.is_empty() =>
            {
                Ok(OrganisationRow {
                    input: OrganisationInput {
                        name: name.to_string(),
                        address: cell(row, "address").trim().to_owned(),
                        telephone,
                        provider_type,
                        registration_number: cell(row, "registration_number").trim().to_owned(),
                        holds_stock,
                    },
                    active,
                })
            }
            _ => Err(errors),
        }
    }

    fn key(&self, input: &OrganisationRow) -> String {
        input.input.name.clone()
    }

    async fn find(
        &self,
        actor: UserId,
        input: &OrganisationRow,
    ) -> Result<Option<Versioned<Organisation>>, RowError> {
        let Some(id) = self.sources.manage.organisation_by_name(&input.input.name).await? else {
            return Ok(None);
        };
        // One the actor may not view is not there for them: creating it gets the
        // service's answer (the name is taken), as on the web.
        match self.sources.manage.organisation_for(actor, id).await {
            Ok(viewed) => Ok(Some(viewed.value)),
            Err(ManageError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn differs(&self, input: &OrganisationRow, existing: &Versioned<Organisation>) -> bool {
        input_cells(input) != cells(&existing.value)
    }

    async fn check(
        &self,
        actor: UserId,
        input: &OrganisationRow,
        existing: Option<&Versioned<Organisation>>,
    ) -> Result<Created, RowError> {
        let Some(existing) = existing else {
            self.sources
                .allowed(Request::new(actor, Action::OrganisationCreate, Resource::Service))
                .await?;
            return Ok(Created::Done);
        };
        let resource = Resource::Organisation(existing.value.id);
        let before = &existing.value;
        let i = &input.input;
        let details_only = i.provider_type == before.provider_type
            && i.registration_number == before.registration_number.clone().unwrap_or_default()
            && i.holds_stock == before.holds_stock;
        let action = if details_only {
            Action::OrganisationEditDetails
        } else {
            Action::OrganisationEditAll
        };
        self.sources.allowed(Request::new(actor, action, resource)).await?;
        if input.active != before.active {
            let action = if input.active {
                Action::OrganisationReactivate
            } else {
                Action::OrganisationDeactivate
            };
            self.sources.allowed(Request::new(actor, action, resource)).await?;
        }
        Ok(Created::Done)
    }

    async fn create(&self, actor: UserId, input: &OrganisationRow) -> Result<Created, RowError> {
        let id = self.sources.manage.create_organisation(actor, &input.input).await?;
        if !input.active {
            self.deactivate(actor, id).await?;
        }
        Ok(Created::Done)
    }

    async fn update(
        &self,
        actor: UserId,
        input: &OrganisationRow,
        existing: &Versioned<Organisation>,
    ) -> Result<(), RowError> {
        let id = existing.value.id;
        let manage = &self.sources.manage;
        manage.edit_organisation(actor, id, existing.version, &input.input).await?;
        if input.active != existing.value.active {
            let version = manage.organisation_for(actor, id).await?.value.version;
            if input.active {
                manage.reactivate_organisation(actor, id, version).await?;
            } else {
                manage.deactivate_organisation(actor, id, version).await?;
            }
        }
        Ok(())
    }

    fn bulk(&self) -> Option<BulkPath<'_, OrganisationRow>> {
        let chunks = self.sources.chunks.clone()?;
        Some(BulkPath { planner: self, chunks })
    }

    async fn export_page(
        &self,
        actor: UserId,
        number: usize,
    ) -> Result<Option<Vec<Vec<String>>>, BackendError> {
        let world = self.sources.directory.snapshot(actor, Resource::Service).await?;
        let page = Page::numbered(number, Page::MAX_LIMIT);
        let orgs = self
            .sources
            .manage
            .organisations_page(actor, &world, &OrganisationQuery::default(), page)
            .await?;
        Ok((!orgs.is_empty()).then(|| orgs.iter().map(cells).collect()))
    }
}

impl Organisations {
    async fn deactivate(&self, actor: UserId, id: OrgId) -> Result<(), RowError> {
        let manage = &self.sources.manage;
        let version = manage.organisation_for(actor, id).await?.value.version;
        manage.deactivate_organisation(actor, id, version).await?;
        Ok(())
    }
}

/// A chunk of organisations: those under the rows' names, read in the chunk's
/// transaction, in the actor's snapshot of the service.
struct OrganisationsPlanner<'a> {
    kind: &'a Organisations,
    actor: UserId,
    world: World,
    /// By lower-case name.
    orgs: HashMap<String, Versioned<Organisation>>,
}

#[async_trait]
impl Bulk<OrganisationRow> for Organisations {
    async fn load<'a>(
        &'a self,
        chunk: &mut (dyn Chunk + '_),
        actor: UserId,
        rows: &[&OrganisationRow],
    ) -> Result<Box<dyn Planner<OrganisationRow> + 'a>, BackendError> {
        let names: Vec<String> = rows.iter().map(|r| r.input.name.clone()).collect();
        let orgs = chunk.organisations_by_name(&names).await?;
        // On SQLite the chunk holds the write lock, so this is what the chunk reads too.
        let mut world = self.sources.directory.snapshot(actor, Resource::Service).await?;
        for org in &orgs {
            if world.organisation(org.value.id).is_none() {
                world.insert_organisation(org.value.clone()).map_err(BackendError::new)?;
            }
        }
        Ok(Box::new(OrganisationsPlanner {
            kind: self,
            actor,
            world,
            orgs: orgs.into_iter().map(|o| (o.value.name.as_str().to_lowercase(), o)).collect(),
        }))
    }
}

impl Planner<OrganisationRow> for OrganisationsPlanner<'_> {
    fn plan(&mut self, input: &OrganisationRow, options: Options) -> Planned {
        let key = input.input.name.trim().to_lowercase();
        if let Some(found) = self.orgs.get(&key) {
            let id = found.value.id;
            // Settled here only when the actor may view it; otherwise the services answer.
            let request =
                Request::new(self.actor, Action::OrganisationView, Resource::Organisation(id));
            if !self.world.decide(&request).is_allowed() {
                return Planned::Services;
            }
            return match (self.kind.differs(input, found), options.update) {
                (false, _) => Planned::Done(Outcome::Unchanged),
                (true, false) => Planned::Done(Outcome::Differs),
                (true, true) => Planned::Services,
            };
        }
        // One created inactive is deactivated by its own use case: row by row.
        if !input.active {
            return Planned::Services;
        }
        let manage = &self.kind.sources.manage;
        let request = Request::new(self.actor, Action::OrganisationCreate, Resource::Service);
        if let Err(refusal) = manage.check(&self.world, request) {
            return Planned::refused(refusal);
        }
        let (org, writes, audit) = match manage.organisation_writes(self.actor, &input.input) {
            Ok(built) => built,
            Err(e) => return Planned::Refused(e.into(), None),
        };
        // The row's effect on what the chunk read, for the rows after it.
        let _ = self.world.insert_organisation(org.clone());
        self.orgs.insert(key, Versioned { value: org, version: 1 });
        Planned::Write(Outcome::Created, RowWrites { writes, audit })
    }
}
