//! Corterum's use cases: entities, groups, roles, user accounts and dataset instances,
//! each checked by the engine before anything is read or written.
//!
//! Feature permissions gate administration: entities need `entity_administration`,
//! groups `group_administration`, roles `roles_administration`, user accounts
//! `user_administration`. An administrator works within their own companies (the root
//! administrator everywhere). Instances need `dataset.read`, and `dataset.create` for a
//! first version or `dataset.edit` after.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tenure_domain::dataset::catalogue;
use tenure_domain::role::builtin::{self, ROOT_ADMINISTRATOR};
use tenure_domain::{
    ALL_PEOPLE, Action, Content, Dataset, DatasetId, Entity, EntityId, EntityKind, EntityScope,
    Feature, Group, GroupId, History, HistoryError, Moment, Name, OrgId, Request, Resource, Role,
    RoleForm, RoleId, User, UserId, UserLinks, Version, World,
};

use crate::audit::{AuditEvent, AuditName, Outcome};
use crate::changes::{ChangeStore, Write};
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

    /// Users with a username, by username.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn accounts(&self, page: Page) -> Result<Vec<(String, User)>, BackendError>;

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

fn invalid(field: &'static str, message: impl Into<String>) -> ManageError {
    ManageError::Invalid(vec![FieldError { field, message: message.into() }])
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

    /// Whether the actor is a root administrator (reaches everything, every company).
    fn is_root(world: &World, actor: UserId) -> bool {
        world.user(actor).is_some_and(|u| u.roles.contains(&ROOT_ADMINISTRATOR))
    }

    /// The companies an administrator may link things to: their own, or any for root.
    fn check_companies(
        world: &World,
        actor: UserId,
        companies: &[OrgId],
    ) -> Result<(), ManageError> {
        if Self::is_root(world, actor) {
            return Ok(());
        }
        let mine = world.user_companies(actor);
        if companies.iter().all(|c| mine.contains(c)) {
            Ok(())
        } else {
            Err(invalid("companies", "you can only link to companies you are linked to yourself"))
        }
    }

    /// The scope of the Entities administration page: every entity of the actor's
    /// companies (all of them for root).
    fn admin_scope(world: &World, actor: UserId) -> EntityScope {
        let mut scope = world.entity_scope(actor, Action::EntityView, None);
        if !scope.everything {
            scope.company_wide = true;
            scope.companies = world.user_companies(actor);
        }
        scope
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
        world: &World,
        actor: UserId,
        id: EntityId,
        links: &[tenure_domain::entity::EntityLink],
    ) -> Result<Vec<tenure_domain::entity::EntityLink>, ManageError> {
        let mut out = Vec::new();
        for link in links {
            let to = if link.to == id { None } else { self.ports.store.entity(link.to).await? };
            let visible = to.as_ref().is_some_and(|e| {
                Self::is_root(world, actor) || e.in_any_company(&world.user_companies(actor))
            });
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
        Self::check_companies(&world, actor, &input.companies)?;
        let id = EntityId::from_uuid(self.ports.ids.next_id());
        let mut entity = Self::build_entity(id, kind, input)?;
        if let Some(links) = &input.links {
            entity.links = self.check_links(&world, actor, id, links).await?;
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
        let world = self.feature(actor, Feature::EntityAdministration).await?;
        let before = self.ports.store.entity(id).await?.ok_or(ManageError::NotFound)?;
        let snapshot = self.world(actor, Resource::Entity(id)).await?;
        if !Self::admin_scope(&snapshot, actor).matches(&snapshot, id) {
            return Err(ManageError::NotFound);
        }
        // Companies the actor is not linked to stay as they were: they cannot see them.
        let mine = world.user_companies(actor);
        let root = Self::is_root(&world, actor);
        let mut companies: Vec<OrgId> =
            before.companies.iter().copied().filter(|c| !root && !mine.contains(c)).collect();
        Self::check_companies(&world, actor, &input.companies)?;
        companies.extend_from_slice(&input.companies);
        let mut entity =
            Self::build_entity(id, before.kind, &EntityInput { companies, ..input.clone() })?;
        entity.links = match &input.links {
            Some(links) => self.check_links(&world, actor, id, links).await?,
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

    /// Creates or changes a group (`group_administration`). Its members must be of its
    /// type, and within the actor's companies.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a blank name, no type, members of another type or
    /// out of reach; [`ManageError::Forbidden`] for "All People".
    pub async fn save_group(
        &self,
        actor: UserId,
        id: Option<GroupId>,
        input: &GroupInput,
    ) -> Result<GroupId, ManageError> {
        let world = self.feature(actor, Feature::GroupAdministration).await?;
        if id == Some(ALL_PEOPLE) {
            return Err(ManageError::Forbidden(
                "\"All People\" holds every person by itself and cannot be changed".to_owned(),
            ));
        }
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
        let root = Self::is_root(&world, actor);
        let mine = world.user_companies(actor);
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
                Some(e) if root || e.companies.iter().any(|c| mine.contains(c)) => {}
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
                if !root {
                    if let Some(e) = self.ports.store.entity(*m).await? {
                        if !e.companies.iter().any(|c| mine.contains(c)) {
                            members.push(*m);
                        }
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
        let mut roles: Vec<Role> =
            builtin::corterum_roles().into_iter().filter(|r| r.id != ROOT_ADMINISTRATOR).collect();
        let mut custom = self.ports.store.custom_roles().await?;
        custom.sort_by_key(|r| r.name.to_lowercase());
        roles.extend(custom);
        Ok(roles)
    }

    /// Creates (`id` none) or changes a role from its form (`roles_administration`).
    /// Built-in roles cannot be changed.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a blank name or description, unknown groups or
    /// datasets, or a name another role has; [`ManageError::Forbidden`] for built-ins.
    pub async fn save_role(
        &self,
        actor: UserId,
        id: Option<RoleId>,
        form: RoleForm,
    ) -> Result<RoleId, ManageError> {
        self.feature(actor, Feature::RolesAdministration).await?;
        if id.is_some_and(builtin::is_builtin) {
            return Err(ManageError::Forbidden(
                "out-of-the-box roles cannot be changed; create a new role instead".to_owned(),
            ));
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

    /// User accounts with usernames (`user_administration`).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature.
    pub async fn accounts(
        &self,
        actor: UserId,
        page: Page,
    ) -> Result<Vec<(String, User)>, ManageError> {
        self.feature(actor, Feature::UserAdministration).await?;
        Ok(self.ports.store.accounts(page).await?)
    }

    /// A user's username, entity and companies (`user_administration`).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature or for a user without a username.
    pub async fn account(
        &self,
        actor: UserId,
        user: UserId,
    ) -> Result<(String, UserLinks, User), ManageError> {
        self.feature(actor, Feature::UserAdministration).await?;
        let (username, links) =
            self.ports.store.user_links(user).await?.ok_or(ManageError::NotFound)?;
        let u = self.ports.changes.user(user).await?.ok_or(ManageError::NotFound)?;
        Ok((username, links, u.value))
    }

    /// Checks an account form; the user is made by [`crate::Manage::create_account`],
    /// which also sends the invitation.
    pub(crate) async fn check_account(
        &self,
        actor: UserId,
        input: &AccountInput,
        editing: Option<UserId>,
    ) -> Result<(World, String), ManageError> {
        let world = self.feature(actor, Feature::UserAdministration).await?;
        let mut errors = Vec::new();
        let username = input.username.trim().to_owned();
        if username.is_empty()
            || username.chars().count() > 200
            || username.chars().any(char::is_control)
        {
            errors.push(FieldError {
                field: "username",
                message:
                    "enter a username of 1 to 200 characters (an email address makes a good one)"
                        .to_owned(),
            });
        }
        if input.roles.is_empty() {
            errors.push(FieldError {
                field: "roles",
                message: "choose at least one role".to_owned(),
            });
        }
        // The out-of-the-box roles and those customers built; never the root administrator.
        let allowed: Vec<RoleId> = builtin::CORTERUM_ROLES
            .into_iter()
            .chain(self.ports.store.custom_roles().await?.iter().map(|r| r.id))
            .collect();
        if input.roles.iter().any(|r| !allowed.contains(r)) {
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
        } else if let Err(ManageError::Invalid(e)) =
            Self::check_companies(&world, actor, &input.companies)
        {
            errors.extend(e);
        }
        if let Some(e) = input.entity {
            match self.ports.store.entity(e).await? {
                Some(ent) if ent.kind == EntityKind::Person => {}
                _ => errors.push(FieldError {
                    field: "entity",
                    message: "choose a person entity, or none".to_owned(),
                }),
            }
        }
        if let Some(u) = editing {
            if world.user(u).is_some_and(|x| x.roles.contains(&ROOT_ADMINISTRATOR)) {
                return Err(ManageError::Forbidden(
                    "the root administrator's rights cannot be revoked".to_owned(),
                ));
            }
        }
        if errors.is_empty() { Ok((world, username)) } else { Err(ManageError::Invalid(errors)) }
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

    /// Changes a user's roles, entity and companies (`user_administration`). The root
    /// administrator cannot be changed.
    ///
    /// # Errors
    /// As for creating; [`ManageError::Conflict`] if the user changed meanwhile.
    pub async fn update_account(
        &self,
        actor: UserId,
        user: UserId,
        input: &AccountInput,
    ) -> Result<(), ManageError> {
        let (_, username) = self.check_account(actor, input, Some(user)).await?;
        let current = self.ports.changes.user(user).await?.ok_or(ManageError::NotFound)?;
        let mut changed = current.value.clone();
        changed.roles.clone_from(&input.roles);
        changed.organisation = input.companies[0];
        let links = UserLinks { entity: input.entity, companies: input.companies.clone() };
        let audit = self.event(
            AuditName::UserLinksSave,
            actor,
            Some(user),
            format!(
                r#"{{"username":{username:?},"roles":{},"companies":{}}}"#,
                input.roles.len(),
                input.companies.len()
            ),
        );
        self.ports
            .changes
            .apply(
                vec![
                    Write::UpdateUser { user: changed, version: current.version },
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
