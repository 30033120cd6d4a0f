//! Corterum's use cases: entities, groups, roles, user accounts and dataset instances,
//! each checked by the engine before anything is read or written.
//!
//! Feature permissions gate administration: entities need `entity_administration`,
//! groups `group_administration`, roles `roles_administration`, user accounts
//! `user_administration`. A change to a group, a role or a user account is decided on that
//! group, role or user (`group.edit`, `role.edit`, the user actions), with a snapshot that
//! holds it. An administrator works within the companies the engine's `company_scope`
//! gives them (their own; every company for the root administrator). Instances need
//! `dataset.read`, and `dataset.create` for a first version or `dataset.edit` after.
//!
//! One module a concept, each adding its use cases to [`Corterum`] on the base here:
//! `entities`, `groups`, `roles`, `accounts`, `instances` (datasets and versions),
//! `reports` (what the report features open) and `names` (the names screens show beside
//! them).

mod accounts;
mod companies;
mod entities;
mod groups;
mod instances;
mod names;
mod reports;
mod roles;

pub use accounts::{AccountItem, AccountQuery};
pub use companies::{Companies, CompanyInput, CompanyView};
pub use groups::GroupQuery;
pub use reports::{ReportOutcome, ReportSection, ReportView};

use std::sync::Arc;

use async_trait::async_trait;
use tenure_domain::{
    Action, Dataset, DatasetId, Entity, EntityId, EntityKind, EntityScope, Feature, Group, History,
    Moment, OrgId, Request, Resource, Role, RoleId, Scope, User, UserId, UserLinks, Version, World,
};

use crate::audit::{AuditDetail, AuditEvent, AuditName};
use crate::changes::{ChangeStore, Versioned};
use crate::error::BackendError;
use crate::ports::{Clock, Directory, IdGen, Page};
use crate::query::Search;
use crate::usecase::{Base, FieldError, ManageError};

/// What an entity list is narrowed to.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct EntityQuery {
    /// Part of the name, any case.
    pub search: Option<Search>,
    /// One type only.
    pub kind: Option<EntityKind>,
}

impl EntityQuery {
    /// Whether an entity passes the query (the reference for stores).
    pub fn matches(&self, e: &Entity) -> bool {
        self.search.as_ref().is_none_or(|s| s.found_in(&e.name.as_str().to_lowercase()))
            && self.kind.is_none_or(|k| k == e.kind)
    }

    /// The list order: lower-cased name, then id.
    pub fn sort_key(e: &Entity) -> (String, EntityId) {
        (e.name.as_str().to_lowercase(), e.id)
    }
}

/// One page of a list, with how many match in all (for "21 to 40 of 45" and the page
/// links).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Listed<T> {
    /// The page.
    pub items: Vec<T>,
    /// How many match the list's scope and query, on every page.
    pub total: u64,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Self { items: Vec::new(), total: 0 }
    }
}

/// Corterum's reads, beside the [`Directory`] (snapshots) and [`ChangeStore`] (writes).
#[async_trait]
pub trait CorterumStore: Send + Sync + 'static {
    /// One page of the entities a scope matches, by name.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn entities(
        &self,
        scope: &EntityScope,
        query: &EntityQuery,
        page: Page,
    ) -> Result<Vec<Entity>, BackendError>;

    /// How many entities a scope and a query match (on every page of
    /// [`CorterumStore::entities`]).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn entity_count(
        &self,
        scope: &EntityScope,
        query: &EntityQuery,
    ) -> Result<u64, BackendError>;

    /// An entity.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn entity(&self, id: EntityId) -> Result<Option<Entity>, BackendError>;

    /// The entities that link to this one, each with the kind of its link, by the
    /// linking entity's id then kind (the other direction of [`Entity::links`]).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn linked_from(
        &self,
        id: EntityId,
    ) -> Result<Vec<(EntityId, tenure_domain::entity::LinkKind)>, BackendError>;

    /// Every group but "All People", with members.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn groups(&self) -> Result<Vec<Group>, BackendError>;

    /// One page of the groups (not "All People") a query matches, by name then id, with
    /// how many match in all.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn group_list(
        &self,
        query: &GroupQuery,
        page: Page,
    ) -> Result<Listed<Group>, BackendError>;

    /// One page of the roles customers built whose name contains `search`, by name then
    /// id, with how many match in all.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn custom_role_list(
        &self,
        search: Option<&Search>,
        page: Page,
    ) -> Result<Listed<Role>, BackendError>;

    /// The dataset catalogue.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn datasets(&self) -> Result<Vec<Dataset>, BackendError>;

    /// The roles customers built (not the built-in ones).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn custom_roles(&self) -> Result<Vec<Role>, BackendError>;

    /// A user's username, entity and companies, if they were ever set.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn user_links(&self, user: UserId) -> Result<Option<(String, UserLinks)>, BackendError>;

    /// One page of the users with a username whom a scope matches (the engine's
    /// `user.view` scope), by username.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn accounts(
        &self,
        scope: &Scope,
        page: Page,
    ) -> Result<Vec<(String, User)>, BackendError>;

    /// One page of the users with a username whom a scope (the engine's `user.view`
    /// scope) and a query match, ordered by [`AccountQuery::sort_key`], each with their
    /// entity's name and every company, with how many match in all.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn account_list(
        &self,
        scope: &Scope,
        query: &AccountQuery,
        page: Page,
    ) -> Result<Listed<AccountItem>, BackendError>;

    /// An instance's versions, oldest first.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn history(
        &self,
        dataset: DatasetId,
        entity: EntityId,
    ) -> Result<Vec<Version>, BackendError>;
}

/// The ports the Corterum services use.
#[derive(Clone)]
pub struct CorterumPorts {
    /// Snapshots for the engine.
    pub directory: Arc<dyn Directory>,
    /// Writes, with their audit entries, in one transaction.
    pub changes: Arc<dyn ChangeStore>,
    /// Corterum's reads.
    pub store: Arc<dyn CorterumStore>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGen>,
}

impl std::fmt::Debug for CorterumPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorterumPorts").finish_non_exhaustive()
    }
}

/// An entity as the form fills it in.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct EntityInput {
    /// Person, business or regulator (fixed once created).
    pub kind: Option<EntityKind>,
    /// The only mandatory field.
    pub name: String,
    /// Static data by key; blank values clear.
    pub fields: Vec<(String, String)>,
    /// The companies it is linked to.
    pub companies: Vec<OrgId>,
    /// Its links to other entities (a person's previous and new employers); `None`
    /// keeps the links it has.
    pub links: Option<Vec<tenure_domain::entity::EntityLink>>,
}

/// An entity's links in both directions, as one actor may see them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EntityLinks {
    /// The entity.
    pub entity: Entity,
    /// Its links to other entities, each with its kind, by kind then name.
    pub to: Vec<(tenure_domain::entity::LinkKind, Entity)>,
    /// The entities linking to it ("linked from": a business's past and present staff),
    /// each with the kind of its link, by name then kind.
    pub from: Vec<(Entity, tenure_domain::entity::LinkKind)>,
}

/// A group as the form fills it in.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct GroupInput {
    /// Its name.
    pub name: String,
    /// Why it was created.
    pub description: String,
    /// The type of its members.
    pub kind: Option<EntityKind>,
    /// Its members.
    pub members: Vec<EntityId>,
}

/// A user account as the form fills it in.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct AccountInput {
    /// Unique across the service; an email address makes a good one.
    pub username: String,
    /// Where the invitation and resets go.
    pub email: String,
    /// Their own entity.
    pub entity: Option<EntityId>,
    /// One or more roles.
    pub roles: Vec<RoleId>,
    /// One or more companies.
    pub companies: Vec<OrgId>,
}

/// Which version of an instance to show.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AsOf {
    /// The latest.
    Latest,
    /// This version number.
    Version(u32),
    /// The version current at this moment.
    Moment(Moment),
}

/// An instance as one user may read it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InstanceView {
    /// The dataset.
    pub dataset: Dataset,
    /// The entity it is about.
    pub entity: Entity,
    /// Every version, oldest first.
    pub history: History,
    /// The version shown; `None` before the first, or before the moment asked.
    pub shown: Option<u32>,
    /// Whether the reader may save a new version.
    pub may_save: bool,
}

/// The Corterum services.
#[derive(Clone, Debug)]
pub struct Corterum {
    ports: CorterumPorts,
    base: Base,
}

/// A Corterum user account as its form shows it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Account {
    /// Unique across the service.
    pub username: String,
    /// Their own entity and companies.
    pub links: UserLinks,
    /// The user, with the version a change must be written against.
    pub user: Versioned<User>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> ManageError {
    ManageError::Invalid(vec![FieldError { field, message: message.into() }])
}

/// Whether an entity is linked to one of the companies of a scope (any entity for a
/// scope of every company).
fn covers_entity(companies: &Scope, entity: &Entity) -> bool {
    companies.everything || entity.companies.iter().any(|c| companies.covers_organisation(*c))
}

/// Refuses companies outside the ones the actor may link records to.
fn check_companies(mine: &Scope, companies: &[OrgId]) -> Result<(), ManageError> {
    if companies.iter().all(|c| mine.covers_organisation(*c)) {
        Ok(())
    } else {
        Err(invalid("companies", "you can only link to companies you are linked to yourself"))
    }
}

impl Corterum {
    /// The services over these ports.
    pub fn new(ports: CorterumPorts) -> Self {
        let base = Base {
            changes: ports.changes.clone(),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
        };
        Self { ports, base }
    }

    /// A successful audit entry by `actor` (Corterum's are about no one organisation).
    fn event(
        &self,
        name: AuditName,
        actor: UserId,
        target: Option<UserId>,
        detail: AuditDetail,
    ) -> AuditEvent {
        self.base.event(name, Some(actor), target, None, detail)
    }

    /// The actor's snapshot for a resource.
    async fn world(&self, actor: UserId, resource: Resource) -> Result<World, ManageError> {
        Ok(self.ports.directory.snapshot(actor, resource).await?)
    }

    /// Whether the actor may use a feature (for showing links and pages).
    ///
    /// # Errors
    /// [`ManageError::Backend`] when storage fails.
    pub async fn may_use(&self, actor: UserId, feature: Feature) -> Result<bool, ManageError> {
        let world = self.world(actor, Resource::Feature(feature)).await?;
        Ok(world
            .decide(&Request::new(actor, Action::FeatureUse, Resource::Feature(feature)))
            .is_allowed())
    }

    async fn feature(&self, actor: UserId, feature: Feature) -> Result<World, ManageError> {
        let world = self.world(actor, Resource::Feature(feature)).await?;
        self.base
            .require(&world, Request::new(actor, Action::FeatureUse, Resource::Feature(feature)))
            .await?;
        Ok(world)
    }

    /// The feature's snapshot for a change to `target`: one snapshot holding both, the
    /// feature required ("not found" without it) and then `action` on the target.
    async fn target(
        &self,
        actor: UserId,
        feature: Feature,
        action: Action,
        target: Resource,
    ) -> Result<World, ManageError> {
        let world = self.world(actor, target).await?;
        self.base
            .require(&world, Request::new(actor, Action::FeatureUse, Resource::Feature(feature)))
            .await?;
        self.base.require(&world, Request::new(actor, action, target)).await?;
        Ok(world)
    }
}
