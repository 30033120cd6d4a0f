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

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tenure_domain::dataset::catalogue;
use tenure_domain::role::builtin;
use tenure_domain::{
    Action, Content, Dataset, DatasetId, Entity, EntityId, EntityKind, EntityScope, Feature, Group,
    GroupId, History, HistoryError, Moment, Name, OrgId, Request, Resource, Role, RoleForm, RoleId,
    Scope, User, UserId, UserLinks, Version, World,
};

use crate::audit::{AuditEvent, AuditName, Outcome};
use crate::changes::{ChangeStore, Versioned, Write};
use crate::error::BackendError;
use crate::manage::{FieldError, ManageError};
use crate::ports::{Clock, Directory, IdGen, Page};
use crate::query::Search;

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

    /// An entity.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn entity(&self, id: EntityId) -> Result<Option<Entity>, BackendError>;

    /// Every group but "All People", with members.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn groups(&self) -> Result<Vec<Group>, BackendError>;

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
        Self { ports }
    }

    fn event(
        &self,
        name: AuditName,
        actor: UserId,
        target: Option<UserId>,
        detail: String,
    ) -> AuditEvent {
        AuditEvent {
            id: self.ports.ids.next_id(),
            at: self.ports.clock.now(),
            actor: Some(actor),
            name,
            outcome: Outcome::Success,
            target_user: target,
            organisation: None,
            detail,
        }
    }

    /// The actor's snapshot for a resource.
    async fn world(&self, actor: UserId, resource: Resource) -> Result<World, ManageError> {
        Ok(self.ports.directory.snapshot(actor, resource).await?)
    }

    /// Asks the engine; a refusal is audited, and answered "not found" when the actor
    /// may not see the resource.
    async fn require(&self, world: &World, request: Request) -> Result<(), ManageError> {
        let decision = world.decide(&request);
        if decision.is_allowed() {
            return Ok(());
        }
        let why = decision.explain(world).to_string();
        let mut event = self.event(
            AuditName::AuthzFail,
            request.actor,
            None,
            format!(r#"{{"action":"{}","reason":{:?}}}"#, request.action.as_str(), why),
        );
        event.outcome = Outcome::Failure;
        self.ports.changes.apply(Vec::new(), vec![event]).await?;
        if decision.conceals() || matches!(request.resource, Resource::Feature(_)) {
            // Administration pages a user may not use do not exist for them.
            return Err(ManageError::NotFound);
        }
        let why = why.split_once(": ").map_or(why.as_str(), |(_, w)| w);
        Err(ManageError::Forbidden(why.to_owned()))
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
        self.require(&world, Request::new(actor, Action::FeatureUse, Resource::Feature(feature)))
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
        self.require(&world, Request::new(actor, Action::FeatureUse, Resource::Feature(feature)))
            .await?;
        self.require(&world, Request::new(actor, action, target)).await?;
        Ok(world)
    }

    /// The scope of the Entities administration page: every entity of the companies the
    /// actor administers entities in (every entity for the root administrator).
    fn admin_scope(world: &World, actor: UserId) -> EntityScope {
        let companies = world.company_scope(actor, Feature::EntityAdministration);
        EntityScope {
            everything: companies.everything,
            company_wide: !companies.everything,
            companies: if companies.everything { Vec::new() } else { companies.organisations },
            ..EntityScope::nothing(actor)
        }
    }

    /// Entities the actor sees: with `entity_administration`, every entity of their
    /// companies; otherwise those their roles reach.
    ///
    /// # Errors
    /// [`ManageError::Backend`] when storage fails.
    pub async fn entities(
        &self,
        actor: UserId,
        query: &EntityQuery,
        page: Page,
    ) -> Result<Vec<Entity>, ManageError> {
        let world = self.world(actor, Resource::Feature(Feature::EntityAdministration)).await?;
        let admin = world
            .decide(&Request::new(
                actor,
                Action::FeatureUse,
                Resource::Feature(Feature::EntityAdministration),
            ))
            .is_allowed();
        let scope = if admin {
            Self::admin_scope(&world, actor)
        } else {
            world.entity_scope(actor, Action::EntityView, None)
        };
        Ok(self.ports.store.entities(&scope, query, page).await?)
    }

    /// An entity the actor may see (or administer).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an entity out of reach or missing.
    pub async fn entity(&self, actor: UserId, id: EntityId) -> Result<Entity, ManageError> {
        let world = self.world(actor, Resource::Entity(id)).await?;
        let view = world.decide(&Request::new(actor, Action::EntityView, Resource::Entity(id)));
        let admin = world
            .decide(&Request::new(
                actor,
                Action::FeatureUse,
                Resource::Feature(Feature::EntityAdministration),
            ))
            .is_allowed()
            && Self::admin_scope(&world, actor).matches(&world, id);
        if !view.is_allowed() && !admin {
            return Err(ManageError::NotFound);
        }
        self.ports.store.entity(id).await?.ok_or(ManageError::NotFound)
    }

    fn build_entity(
        id: EntityId,
        kind: EntityKind,
        input: &EntityInput,
    ) -> Result<Entity, ManageError> {
        let mut errors = Vec::new();
        let name = match Name::parse(&input.name) {
            Ok(n) => Some(n),
            Err(e) => {
                errors.push(FieldError { field: "name", message: e.to_string() });
                None
            }
        };
        let mut entity = Entity::new(
            id,
            kind,
            name.unwrap_or_else(|| {
                // INVARIANT: only used when errors is not empty, which returns below.
                Name::parse("-").unwrap_or_else(|_| unreachable!())
            }),
        );
        for (field, value) in &input.fields {
            if let Err(e) = entity.set_field(field, value) {
                errors.push(FieldError { field: "fields", message: e.to_string() });
            }
        }
        entity.set_companies(input.companies.clone());
        if errors.is_empty() { Ok(entity) } else { Err(ManageError::Invalid(errors)) }
    }

    /// Links to other entities must point at businesses the administrator can see (a
    /// person's employers), never at the entity itself.
    async fn check_links(
        &self,
        mine: &Scope,
        id: EntityId,
        links: &[tenure_domain::entity::EntityLink],
    ) -> Result<Vec<tenure_domain::entity::EntityLink>, ManageError> {
        let mut out = Vec::new();
        for link in links {
            let to = if link.to == id { None } else { self.ports.store.entity(link.to).await? };
            let visible = to.as_ref().is_some_and(|e| covers_entity(mine, e));
            match to {
                Some(e) if visible && e.kind == EntityKind::Business => out.push(*link),
                _ => {
                    return Err(invalid(
                        "links",
                        "an employer must be a business entity of your companies",
                    ));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Creates an entity (`entity_administration`), linked to companies of the actor's.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature; [`ManageError::Invalid`] for a
    /// missing name or type, unknown fields, or companies not the actor's.
    pub async fn create_entity(
        &self,
        actor: UserId,
        input: &EntityInput,
    ) -> Result<EntityId, ManageError> {
        let world = self.feature(actor, Feature::EntityAdministration).await?;
        let kind = input.kind.ok_or_else(|| {
            invalid("type", "choose the entity's type: person, business or regulator")
        })?;
        let mine = world.company_scope(actor, Feature::EntityAdministration);
        check_companies(&mine, &input.companies)?;
        let id = EntityId::from_uuid(self.ports.ids.next_id());
        let mut entity = Self::build_entity(id, kind, input)?;
        if let Some(links) = &input.links {
            entity.links = self.check_links(&mine, id, links).await?;
        }
        let audit = self.event(AuditName::EntitySave, actor, None, entity_json(None, &entity));
        self.ports.changes.apply(vec![Write::UpsertEntity(entity)], vec![audit]).await?;
        Ok(id)
    }

    /// Changes an entity's name, static data and companies (`entity_administration`,
    /// within the actor's companies). Its type stays.
    ///
    /// # Errors
    /// As [`Corterum::create_entity`]; [`ManageError::NotFound`] out of reach.
    pub async fn update_entity(
        &self,
        actor: UserId,
        id: EntityId,
        input: &EntityInput,
    ) -> Result<(), ManageError> {
        let world = self.world(actor, Resource::Entity(id)).await?;
        self.require(
            &world,
            Request::new(
                actor,
                Action::FeatureUse,
                Resource::Feature(Feature::EntityAdministration),
            ),
        )
        .await?;
        let before = self.ports.store.entity(id).await?.ok_or(ManageError::NotFound)?;
        if !Self::admin_scope(&world, actor).matches(&world, id) {
            return Err(ManageError::NotFound);
        }
        // Companies the actor is not linked to stay as they were: they cannot see them.
        let mine = world.company_scope(actor, Feature::EntityAdministration);
        let mut companies: Vec<OrgId> =
            before.companies.iter().copied().filter(|c| !mine.covers_organisation(*c)).collect();
        check_companies(&mine, &input.companies)?;
        companies.extend_from_slice(&input.companies);
        let mut entity =
            Self::build_entity(id, before.kind, &EntityInput { companies, ..input.clone() })?;
        entity.links = match &input.links {
            Some(links) => self.check_links(&mine, id, links).await?,
            None => before.links.clone(),
        };
        if entity == before {
            return Ok(());
        }
        let audit =
            self.event(AuditName::EntitySave, actor, None, entity_json(Some(&before), &entity));
        self.ports.changes.apply(vec![Write::UpsertEntity(entity)], vec![audit]).await?;
        Ok(())
    }

    /// Every group ("All People" first), for `group_administration`.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature.
    pub async fn groups(&self, actor: UserId) -> Result<Vec<Group>, ManageError> {
        self.feature(actor, Feature::GroupAdministration).await?;
        self.all_groups().await
    }

    async fn all_groups(&self) -> Result<Vec<Group>, ManageError> {
        let mut groups = vec![Group::all_people()];
        let mut stored = self.ports.store.groups().await?;
        stored.sort_by_key(|g| g.name.as_str().to_lowercase());
        groups.extend(stored);
        Ok(groups)
    }

    /// Creates or changes a group (`group_administration`; `group.edit` on the group
    /// changed). Its members must be of its type, and within the actor's companies.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a blank name, no type, members of another type or
    /// out of reach; [`ManageError::Forbidden`] for "All People", which is built in.
    pub async fn save_group(
        &self,
        actor: UserId,
        id: Option<GroupId>,
        input: &GroupInput,
    ) -> Result<GroupId, ManageError> {
        let world = match id {
            Some(g) => {
                self.target(
                    actor,
                    Feature::GroupAdministration,
                    Action::GroupEdit,
                    Resource::Group(g),
                )
                .await?
            }
            None => self.feature(actor, Feature::GroupAdministration).await?,
        };
        let mut errors = Vec::new();
        let name = Name::parse(&input.name)
            .map_err(|e| errors.push(FieldError { field: "name", message: e.to_string() }))
            .ok();
        let kind = input.kind.or_else(|| {
            errors.push(FieldError {
                field: "type",
                message: "choose the type of the group's entities".to_owned(),
            });
            None
        });
        let existing = match id {
            Some(g) => Some(
                self.ports
                    .store
                    .groups()
                    .await?
                    .into_iter()
                    .find(|x| x.id == g)
                    .ok_or(ManageError::NotFound)?,
            ),
            None => None,
        };
        let mine = world.company_scope(actor, Feature::GroupAdministration);
        for m in &input.members {
            match self.ports.store.entity(*m).await? {
                Some(e) if Some(e.kind) != kind && kind.is_some() => errors.push(FieldError {
                    field: "members",
                    message: format!(
                        "{} is a {}, but the group holds {} entities only",
                        e.name,
                        e.kind,
                        kind.map_or("", EntityKind::as_str)
                    ),
                }),
                Some(e) if covers_entity(&mine, &e) => {}
                _ => errors.push(FieldError {
                    field: "members",
                    message: "choose members from your companies' entities".to_owned(),
                }),
            }
        }
        if input.description.chars().count() > 2_000 {
            errors.push(FieldError {
                field: "description",
                message: "the description must be 2,000 characters or fewer".to_owned(),
            });
        }
        let (Some(name), Some(kind), true) = (name, kind, errors.is_empty()) else {
            return Err(ManageError::Invalid(errors));
        };
        let gid = id.unwrap_or_else(|| GroupId::from_uuid(self.ports.ids.next_id()));
        // Members the actor cannot see stay.
        let mut members: Vec<EntityId> = Vec::new();
        if let Some(old) = &existing {
            for m in &old.members {
                if let Some(e) = self.ports.store.entity(*m).await? {
                    if !covers_entity(&mine, &e) {
                        members.push(*m);
                    }
                }
            }
        }
        members.extend_from_slice(&input.members);
        members.sort_unstable();
        members.dedup();
        let group = Group {
            id: gid,
            name,
            description: input.description.trim().to_owned(),
            kind,
            members,
        };
        let audit = self.event(
            AuditName::GroupSave,
            actor,
            None,
            format!(
                r#"{{"group":"{gid}","name":{:?},"members":{}}}"#,
                group.name.as_str(),
                group.members.len()
            ),
        );
        self.ports.changes.apply(vec![Write::UpsertGroup(group)], vec![audit]).await?;
        Ok(gid)
    }

    /// Every role: the out-of-the-box ones, then those customers built.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without `roles_administration` or
    /// `user_administration`.
    pub async fn roles(&self, actor: UserId) -> Result<Vec<Role>, ManageError> {
        let world = self.world(actor, Resource::Feature(Feature::RolesAdministration)).await?;
        let may = |f| {
            world
                .decide(&Request::new(actor, Action::FeatureUse, Resource::Feature(f)))
                .is_allowed()
        };
        if !may(Feature::RolesAdministration) && !may(Feature::UserAdministration) {
            return Err(ManageError::NotFound);
        }
        let mut roles = builtin::assignable_corterum_roles();
        let mut custom = self.ports.store.custom_roles().await?;
        custom.sort_by_key(|r| r.name.to_lowercase());
        roles.extend(custom);
        Ok(roles)
    }

    /// Creates (`id` none) or changes a role from its form (`roles_administration`;
    /// `role.edit` on the role changed). Built-in roles, and roles the actor holds, cannot
    /// be changed.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a blank name or description, unknown groups or
    /// datasets, or a name another role has; [`ManageError::Forbidden`] for built-ins and
    /// the actor's own roles.
    pub async fn save_role(
        &self,
        actor: UserId,
        id: Option<RoleId>,
        form: RoleForm,
    ) -> Result<RoleId, ManageError> {
        match id {
            Some(r) => {
                self.target(
                    actor,
                    Feature::RolesAdministration,
                    Action::RoleEdit,
                    Resource::Role(r),
                )
                .await?;
            }
            None => {
                self.feature(actor, Feature::RolesAdministration).await?;
            }
        }
        let custom = self.ports.store.custom_roles().await?;
        let existing = match id {
            Some(r) => {
                Some(custom.iter().find(|x| x.id == r).ok_or(ManageError::NotFound)?.clone())
            }
            None => None,
        };
        let mut errors = Vec::new();
        let groups: Vec<GroupId> = self.all_groups().await?.into_iter().map(|g| g.id).collect();
        if form.groups.iter().any(|g| !groups.contains(g)) {
            errors.push(FieldError {
                field: "groups",
                message: "choose groups from the list".to_owned(),
            });
        }
        let datasets: Vec<DatasetId> =
            self.ports.store.datasets().await?.into_iter().map(|d| d.id).collect();
        if form.datasets.keys().any(|d| !datasets.contains(d)) {
            errors.push(FieldError {
                field: "datasets",
                message: "choose datasets from the catalogue".to_owned(),
            });
        }
        let name = form.name.trim().to_lowercase();
        let taken = builtin::corterum_roles()
            .iter()
            .chain(custom.iter())
            .any(|r| r.name.to_lowercase() == name && Some(r.id) != id);
        if taken && !name.is_empty() {
            errors.push(FieldError {
                field: "name",
                message: "another role has this name; choose another".to_owned(),
            });
        }
        if !errors.is_empty() {
            return Err(ManageError::Invalid(errors));
        }
        let rid = id.unwrap_or_else(|| RoleId::from_uuid(self.ports.ids.next_id()));
        let key = existing.map_or_else(|| slug(&form.name, rid), |r| r.key);
        let role = form.into_role(rid, key).map_err(|e| {
            let field = if matches!(e, tenure_domain::RoleFormError::DescriptionMissing) {
                "description"
            } else {
                "name"
            };
            invalid(field, e.to_string())
        })?;
        let audit = self.event(
            AuditName::RoleSave,
            actor,
            None,
            format!(r#"{{"role":"{rid}","name":{:?},"grants":{}}}"#, role.name, role.grants.len()),
        );
        self.ports.changes.apply(vec![Write::UpsertRole(role)], vec![audit]).await?;
        Ok(rid)
    }

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

    /// The user accounts (users with a username) the actor may see
    /// (`user_administration`): those of their companies, every one for the root
    /// administrator. The store filters by the engine's `user.view` scope.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature.
    pub async fn accounts(
        &self,
        actor: UserId,
        page: Page,
    ) -> Result<Vec<(String, User)>, ManageError> {
        let world = self.feature(actor, Feature::UserAdministration).await?;
        let scope = world.scope(actor, Action::UserView);
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        Ok(self.ports.store.accounts(&scope, page).await?)
    }

    /// A user's account: username, entity, companies and the user with their version
    /// (`user_administration`, and `user.view` on the user).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature, for a user out of reach, or for a
    /// user without a username.
    pub async fn account(&self, actor: UserId, user: UserId) -> Result<Account, ManageError> {
        self.target(actor, Feature::UserAdministration, Action::UserView, Resource::User(user))
            .await?;
        let (username, links) =
            self.ports.store.user_links(user).await?.ok_or(ManageError::NotFound)?;
        let user = self.ports.changes.user(user).await?.ok_or(ManageError::NotFound)?;
        Ok(Account { username, links, user })
    }

    /// Checks an account form's fields against what exists and the companies the actor
    /// administers users in (`mine`): roles from the list (the out-of-the-box ones but
    /// the root administrator's, and those customers built), companies of the actor's, a
    /// person entity of those companies. Whether the actor may give the roles is the
    /// engine's to decide, afterwards: the customer-built roles among the form's are
    /// returned for its snapshot, which holds only the roles of the users it loaded.
    async fn check_account_fields(
        &self,
        mine: &Scope,
        input: &AccountInput,
    ) -> Result<Vec<Role>, ManageError> {
        let mut errors = Vec::new();
        if input.roles.is_empty() {
            errors.push(FieldError {
                field: "roles",
                message: "choose at least one role".to_owned(),
            });
        }
        let mut custom = self.ports.store.custom_roles().await?;
        let listed: Vec<RoleId> = builtin::assignable_corterum_roles()
            .iter()
            .chain(custom.iter())
            .map(|r| r.id)
            .collect();
        custom.retain(|r| input.roles.contains(&r.id));
        if input.roles.iter().any(|r| !listed.contains(r)) {
            errors.push(FieldError {
                field: "roles",
                message: "choose roles from the list; the root administrator cannot be given"
                    .to_owned(),
            });
        }
        if input.companies.is_empty() {
            errors.push(FieldError {
                field: "companies",
                message: "link the user to at least one company".to_owned(),
            });
        } else if let Err(ManageError::Invalid(e)) = check_companies(mine, &input.companies) {
            errors.extend(e);
        }
        if let Some(e) = input.entity {
            match self.ports.store.entity(e).await? {
                Some(ent) if ent.kind == EntityKind::Person && covers_entity(mine, &ent) => {}
                _ => errors.push(FieldError {
                    field: "entity",
                    message: "choose a person entity of your companies, or none".to_owned(),
                }),
            }
        }
        if errors.is_empty() { Ok(custom) } else { Err(ManageError::Invalid(errors)) }
    }

    /// Checks a new account: its fields, then the engine on the company it belongs to
    /// (its first): `user.invite` there, giving each of its roles. Returns the actor's
    /// snapshot and the username; [`crate::Manage::create_account`] makes the user and
    /// sends the invitation.
    pub(crate) async fn check_new_account(
        &self,
        actor: UserId,
        input: &AccountInput,
    ) -> Result<(World, String), ManageError> {
        let world = self.feature(actor, Feature::UserAdministration).await?;
        let username = input.username.trim().to_owned();
        let bad_username = username.is_empty()
            || username.chars().count() > 200
            || username.chars().any(char::is_control);
        let mine = world.company_scope(actor, Feature::UserAdministration);
        let fields = self.check_account_fields(&mine, input).await;
        let custom = match (bad_username, fields) {
            (false, Ok(custom)) => custom,
            (bad, fields) => {
                let mut errors = Vec::new();
                if bad {
                    errors.push(FieldError {
                        field: "username",
                        message: "enter a username of 1 to 200 characters (an email address makes a good one)"
                            .to_owned(),
                    });
                }
                match fields {
                    Err(ManageError::Invalid(e)) => errors.extend(e),
                    Err(e) => return Err(e),
                    Ok(_) => {}
                }
                return Err(ManageError::Invalid(errors));
            }
        };
        let home = Resource::Organisation(input.companies[0]);
        let mut at_home = self.world(actor, home).await?;
        for role in custom {
            at_home.upsert_role(role).map_err(BackendError::new)?;
        }
        for role in &input.roles {
            self.require(&at_home, Request::new(actor, Action::UserInvite, home).giving(*role))
                .await?;
        }
        Ok((world, username))
    }

    /// The name of an entity, if it exists.
    pub(crate) async fn entity_name(
        &self,
        id: Option<EntityId>,
    ) -> Result<Option<Name>, BackendError> {
        match id {
            Some(e) => Ok(self.ports.store.entity(e).await?.map(|x| x.name)),
            None => Ok(None),
        }
    }

    /// Changes a user's roles, entity and companies (`user_administration`), written
    /// against `version`, the version the form showed. The engine decides on the user:
    /// `user.view`, then `user.change_role` giving each role (so nobody changes their own
    /// account, or the root administrator's, whose rights cannot be revoked), and
    /// `user.move_organisation` when the company they belong to is no longer among their
    /// companies. Companies the actor does not administer stay as they were.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature or for a user out of reach;
    /// [`ManageError::Conflict`] if the user changed since `version`;
    /// [`ManageError::Forbidden`] as the engine decides; [`ManageError::Invalid`] as for
    /// creating.
    pub async fn update_account(
        &self,
        actor: UserId,
        user: UserId,
        version: i64,
        input: &AccountInput,
    ) -> Result<(), ManageError> {
        let current = self.ports.changes.user(user).await?.ok_or(ManageError::NotFound)?;
        let target = Resource::User(user);
        let mut world =
            self.target(actor, Feature::UserAdministration, Action::UserView, target).await?;
        if current.version != version {
            return Err(ManageError::Conflict);
        }
        let mine = world.company_scope(actor, Feature::UserAdministration);
        for role in self.check_account_fields(&mine, input).await? {
            world.upsert_role(role).map_err(BackendError::new)?;
        }
        for role in &input.roles {
            self.require(&world, Request::new(actor, Action::UserChangeRole, target).giving(*role))
                .await?;
        }
        let (username, before) =
            self.ports.store.user_links(user).await?.ok_or(ManageError::NotFound)?;
        let mut companies: Vec<OrgId> =
            before.companies.iter().copied().filter(|c| !mine.covers_organisation(*c)).collect();
        companies.extend_from_slice(&input.companies);
        companies.sort_unstable();
        companies.dedup();
        let mut changed = current.value.clone();
        changed.roles.clone_from(&input.roles);
        if !companies.contains(&changed.organisation) {
            self.require(&world, Request::new(actor, Action::UserMoveOrganisation, target)).await?;
            changed.organisation = input.companies[0];
        }
        let ids = |roles: &[RoleId]| {
            roles.iter().map(|r| format!(r#""{r}""#)).collect::<Vec<_>>().join(",")
        };
        let audit = self.event(
            AuditName::UserLinksSave,
            actor,
            Some(user),
            format!(
                r#"{{"username":{username:?},"roles":{{"before":[{}],"after":[{}]}},"companies":{{"before":{},"after":{}}}}}"#,
                ids(&current.value.roles),
                ids(&changed.roles),
                before.companies.len(),
                companies.len()
            ),
        );
        let links = UserLinks { entity: input.entity, companies };
        self.ports
            .changes
            .apply(
                vec![
                    Write::UpdateUser { user: changed, version },
                    Write::SetUserLinks { user, links, username },
                ],
                vec![audit],
            )
            .await?;
        Ok(())
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
        self.require(&world, Request::new(actor, Action::DatasetRead, resource)).await?;
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
        let resource = Resource::Instance { dataset, entity };
        let world = self.world(actor, resource).await?;
        self.require(&world, Request::new(actor, Action::DatasetRead, resource)).await?;
        let action = if based_on == 0 { Action::DatasetCreate } else { Action::DatasetEdit };
        self.require(&world, Request::new(actor, action, resource)).await?;
        let d = world.dataset(dataset).cloned().ok_or(ManageError::NotFound)?;
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
        let mut history =
            History::from_versions(d.kind, self.ports.store.history(dataset, entity).await?)
                .map_err(|e| {
                    BackendError::new(format!("stored history of an instance is invalid: {e}"))
                })?;
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
            format!(
                r#"{{"dataset":{:?},"entity":"{entity}","version":{},"changed":{changed:?}}}"#,
                d.key, version.number
            ),
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

/// A role key from its name: `Line manager` -> `line-manager-1a2b3c4d`.
fn slug(name: &str, id: RoleId) -> String {
    let mut s: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    let tail = id.as_uuid().simple().to_string();
    format!("{}-{}", &s[..s.len().min(40)], &tail[tail.len() - 8..])
}

fn entity_json(before: Option<&Entity>, after: &Entity) -> String {
    let one = |e: &Entity| {
        format!(
            r#"{{"name":{:?},"type":"{}","fields":{:?},"companies":{}}}"#,
            e.name.as_str(),
            e.kind,
            e.fields.keys().collect::<Vec<_>>(),
            e.companies.len()
        )
    };
    format!(
        r#"{{"entity":"{}","before":{},"after":{}}}"#,
        after.id,
        before.map_or_else(|| "null".to_owned(), one),
        one(after)
    )
}
