//! Corterum's companies (issue 15): the list, creating one, editing its name and details,
//! and each company's linked entities and users, gated by `company_administration`.
//!
//! A company is an organisation of kind [`OrganisationKind::Company`]; CORE's housing
//! organisations are never listed, shown or changed here, and an id of one answers "not
//! found", as does a company outside the engine's `company_scope` for the actor. Only an
//! actor whose Company Administration reaches everything (the root administrator) creates
//! companies ([`tenure_domain::may_create_company`]); an administrator of some companies
//! edits those. Each change is audited (`organisation_created`, `organisation_updated`
//! with before and after), and an edit is written against the version its form showed:
//! a stale one is [`ManageError::Conflict`], never an overwrite.

use tenure_domain::{
    Action, Entity, EntityScope, Feature, Name, OrgId, Organisation, OrganisationKind, Request,
    Resource, Scope, Telephone, User, UserId, World,
};

use crate::audit::{AuditDetail, AuditName, Change, OrganisationCreate};
use crate::changes::{Versioned, Write};
use crate::corterum::{Corterum, EntityQuery, invalid};
use crate::ports::Page;
use crate::query::OrganisationQuery;
use crate::usecase::{FieldError, ManageError};

/// A company as its form fills it in.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CompanyInput {
    /// Its name, unique across the service.
    pub name: String,
    /// Its registered office; empty for none.
    pub address: String,
    /// Its telephone number; empty for none.
    pub telephone: String,
    /// Its company number (or the regulator's reference); empty for none.
    pub registration_number: String,
}

impl CompanyInput {
    /// The form's values for a company.
    pub fn of(company: &Organisation) -> Self {
        Self {
            name: company.name.to_string(),
            address: company.address.clone().unwrap_or_default(),
            telephone: company.telephone.as_ref().map(ToString::to_string).unwrap_or_default(),
            registration_number: company.registration_number.clone().unwrap_or_default(),
        }
    }
}

/// One company's page: the company (with the version an edit is written against), the
/// entities linked to it and its users, each as the actor may see them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CompanyView {
    /// The company.
    pub company: Versioned<Organisation>,
    /// Entities linked to it (up to [`Page::MAX_LIMIT`]), by name.
    pub entities: Vec<Entity>,
    /// The Corterum user accounts whose organisation it is (up to [`Page::MAX_LIMIT`]),
    /// by username, with that username.
    pub users: Vec<(String, User)>,
    /// Whether the actor may change it.
    pub may_edit: bool,
}

/// The Companies screen's list.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Companies {
    /// The companies the actor administers, by name (up to [`Page::MAX_LIMIT`]).
    pub companies: Vec<Organisation>,
    /// Whether the actor may add one ("+").
    pub may_create: bool,
}

impl Corterum {
    /// The companies the actor administers: every company for the root administrator,
    /// their own companies otherwise; never a housing organisation.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without `company_administration`.
    pub async fn companies(&self, actor: UserId) -> Result<Companies, ManageError> {
        self.companies_page(actor, Page::numbered(1, Page::MAX_LIMIT)).await
    }

    /// One page of [`Corterum::companies`], by name (the batch export reads them all).
    ///
    /// # Errors
    /// As [`Corterum::companies`].
    pub async fn companies_page(
        &self,
        actor: UserId,
        page: Page,
    ) -> Result<Companies, ManageError> {
        let world = self.feature(actor, Feature::CompanyAdministration).await?;
        let scope = companies_of(&world, actor);
        let companies = if scope.is_nothing() {
            Vec::new()
        } else {
            self.ports.directory.organisations(&scope, &OrganisationQuery::default(), page).await?
        };
        Ok(Companies { companies, may_create: tenure_domain::may_create_company(&world, actor) })
    }

    /// The company with this id and the version an edit is written against, when the
    /// actor administers it ("not found" as [`Corterum::company`]).
    ///
    /// # Errors
    /// As [`Corterum::company`].
    pub async fn company_record(
        &self,
        actor: UserId,
        id: OrgId,
    ) -> Result<Versioned<Organisation>, ManageError> {
        Ok(self.company_in_scope(actor, id, Action::OrganisationView).await?.1)
    }

    /// Whether [`Corterum::create_company`] would accept this company now (the batch's
    /// dry run), writing nothing.
    ///
    /// # Errors
    /// As [`Corterum::create_company`], and [`ManageError::Invalid`] when another
    /// organisation has the name.
    pub async fn check_create_company(
        &self,
        actor: UserId,
        input: &CompanyInput,
    ) -> Result<Organisation, ManageError> {
        let world = self.feature(actor, Feature::CompanyAdministration).await?;
        if !tenure_domain::may_create_company(&world, actor) {
            return Err(invalid(
                "name",
                "only an administrator of every company (the root administrator) can add one",
            ));
        }
        let id = OrgId::from_uuid(self.ports.ids.next_id());
        let company = parse(input, &Organisation::company(id, placeholder()))?;
        if self.ports.changes.organisation_by_name(company.name.as_str()).await?.is_some() {
            return Err(invalid(
                "name",
                "another organisation already has this name; choose another",
            ));
        }
        Ok(company)
    }

    /// Whether [`Corterum::edit_company`] would accept this change now (the batch's dry
    /// run), writing nothing.
    ///
    /// # Errors
    /// As [`Corterum::edit_company`].
    pub async fn check_edit_company(
        &self,
        actor: UserId,
        id: OrgId,
        input: &CompanyInput,
    ) -> Result<(), ManageError> {
        let (_, current) =
            self.company_in_scope(actor, id, Action::OrganisationEditDetails).await?;
        parse(input, &current.value).map(|_| ())
    }

    /// The company form's checks on its own fields (name, telephone, lengths), as
    /// creating and editing make them.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] with each field that is wrong.
    pub fn check_company(input: &CompanyInput) -> Result<(), ManageError> {
        parse(input, &Organisation::company(OrgId::from_uuid(uuid::Uuid::nil()), placeholder()))
            .map(|_| ())
    }

    /// A company with its linked entities and users.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature, for a company outside the actor's
    /// scope, a housing organisation or an id that names nothing.
    pub async fn company(&self, actor: UserId, id: OrgId) -> Result<CompanyView, ManageError> {
        let (world, company) = self.company_in_scope(actor, id, Action::OrganisationView).await?;
        let may_edit = world
            .decide(&Request::new(
                actor,
                Action::OrganisationEditDetails,
                Resource::Organisation(id),
            ))
            .is_allowed();
        let linked =
            EntityScope { companies: vec![id], company_wide: true, ..EntityScope::nothing(actor) };
        let entities = self
            .ports
            .store
            .entities(&linked, &EntityQuery::default(), Page::numbered(1, Page::MAX_LIMIT))
            .await?;
        let members = Scope {
            kind: OrganisationKind::Company,
            organisations: vec![id],
            ..Scope::nothing(actor)
        };
        let users = self.ports.store.accounts(&members, Page::numbered(1, Page::MAX_LIMIT)).await?;
        Ok(CompanyView { company, entities, users, may_edit })
    }

    /// Creates a company (the root administrator only).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature, [`ManageError::Forbidden`] for an
    /// administrator who may not add companies, [`ManageError::Invalid`] for bad details
    /// or a name another organisation has.
    pub async fn create_company(
        &self,
        actor: UserId,
        input: &CompanyInput,
    ) -> Result<OrgId, ManageError> {
        let company = self.check_create_company(actor, input).await?;
        let id = company.id;
        let audit = self.base.event(
            AuditName::OrganisationCreate,
            Some(actor),
            None,
            Some(id),
            AuditDetail::OrganisationCreate(OrganisationCreate { name: company.name.to_string() }),
        );
        self.ports.changes.apply(vec![Write::InsertOrganisation(company)], vec![audit]).await?;
        Ok(id)
    }

    /// Changes a company's name and details, written against `version` (the one its form
    /// showed).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] as [`Corterum::company`]; [`ManageError::Invalid`] for
    /// bad details; [`ManageError::Conflict`] when it changed since `version`.
    pub async fn edit_company(
        &self,
        actor: UserId,
        id: OrgId,
        version: i64,
        input: &CompanyInput,
    ) -> Result<(), ManageError> {
        let (_, current) =
            self.company_in_scope(actor, id, Action::OrganisationEditDetails).await?;
        let next = parse(input, &current.value)?;
        if current.version != version {
            return Err(ManageError::Conflict);
        }
        if next == current.value {
            return Ok(());
        }
        let audit = self.base.event(
            AuditName::OrganisationUpdate,
            Some(actor),
            None,
            Some(id),
            AuditDetail::OrganisationChange(Change {
                before: crate::manage::organisation_detail(&current.value),
                after: crate::manage::organisation_detail(&next),
            }),
        );
        self.ports
            .changes
            .apply(vec![Write::UpdateOrganisation { organisation: next, version }], vec![audit])
            .await?;
        Ok(())
    }

    /// Whether the actor may link records to every one of `companies` under the scope
    /// `mine` (the engine's `company_scope` for the feature): the forms' own checks
    /// (`check_companies`, then `check_linkable`), for the batch to ask row by row.
    ///
    /// # Errors
    /// [`BackendError`](crate::error::BackendError) from the store.
    pub async fn linkable(
        &self,
        mine: &Scope,
        companies: &[OrgId],
    ) -> Result<bool, crate::error::BackendError> {
        if super::check_companies(mine, companies).is_err() {
            return Ok(false);
        }
        match self.check_linkable(mine, companies).await {
            Ok(()) => Ok(true),
            Err(ManageError::Backend(e)) => Err(e),
            Err(_) => Ok(false),
        }
    }

    /// Refuses companies that are not on the actor's side of the service: with a scope
    /// of every company an id is not checked against a list, so each is read here (a
    /// CORE housing organisation's id sent to a Corterum form is refused, as is one that
    /// names nothing). `check_companies` has checked the rest.
    pub(super) async fn check_linkable(
        &self,
        mine: &Scope,
        companies: &[OrgId],
    ) -> Result<(), ManageError> {
        if !mine.everything {
            return Ok(());
        }
        for id in companies {
            match self.ports.changes.organisation(*id).await? {
                Some(o) if mine.matches_organisation(&o.value) => {}
                _ => return Err(invalid("companies", "choose companies from the list")),
            }
        }
        Ok(())
    }

    /// The company with this id when the actor administers it and the engine allows
    /// `action` on it, with the snapshot; "not found" for anything else (a housing
    /// organisation included), "forbidden" as the engine says for a company they see.
    async fn company_in_scope(
        &self,
        actor: UserId,
        id: OrgId,
        action: Action,
    ) -> Result<(World, Versioned<Organisation>), ManageError> {
        let world = self
            .target(actor, Feature::CompanyAdministration, action, Resource::Organisation(id))
            .await?;
        let scope = companies_of(&world, actor);
        match self.ports.changes.organisation(id).await? {
            Some(company)
                if company.value.is_company() && scope.matches_organisation(&company.value) =>
            {
                Ok((world, company))
            }
            _ => Err(ManageError::NotFound),
        }
    }
}

/// The engine's company scope for Company Administration, narrowed to companies: a
/// Corterum feature held on the housing side (data from before companies had a kind)
/// administers no company.
fn companies_of(world: &World, actor: UserId) -> Scope {
    let scope = world.company_scope(actor, Feature::CompanyAdministration);
    if scope.kind == OrganisationKind::Company { scope } else { Scope::nothing(actor) }
}

/// A name that is replaced before anything is written.
fn placeholder() -> Name {
    // INVARIANT: a fixed, valid name.
    Name::parse("company").unwrap_or_else(|_| unreachable!("a valid name"))
}

/// The company with the form's name and details over `base` (kind, id, active kept).
fn parse(input: &CompanyInput, base: &Organisation) -> Result<Organisation, ManageError> {
    let mut errors = Vec::new();
    let name = Name::parse(&input.name)
        .map_err(|e| errors.push(FieldError { field: "name", message: e.to_string() }))
        .ok();
    let telephone = match input.telephone.trim() {
        "" => None,
        t => Telephone::parse(t)
            .map_err(|e| errors.push(FieldError { field: "telephone", message: e.to_string() }))
            .ok(),
    };
    let text = |s: &str, field: &'static str, errors: &mut Vec<FieldError>| {
        let t = s.trim();
        if t.chars().count() > 500 {
            errors.push(FieldError {
                field,
                message: format!("the {} must be 500 characters or fewer", field.replace('_', " ")),
            });
        }
        (!t.is_empty()).then(|| t.to_owned())
    };
    let address = text(&input.address, "address", &mut errors);
    let registration_number = text(&input.registration_number, "registration_number", &mut errors);
    match name {
        Some(name) if errors.is_empty() => {
            Ok(Organisation { name, address, telephone, registration_number, ..base.clone() })
        }
        _ => Err(ManageError::Invalid(errors)),
    }
}
