//! The world's Corterum side: entities, groups, datasets, and users' linked entities and
//! companies. Every change is checked and leaves the world unchanged when refused.

use thiserror::Error;

use crate::dataset::{Dataset, DatasetKind};
use crate::engine::{EntityScope, Resource, Scope};
use crate::entity::{ALL_PEOPLE, Entity, Group};
use crate::feature::Feature;
use crate::id::{DatasetId, EntityId, GroupId, OrgId, UserId};
use crate::role::Role;
use crate::world::World;

/// A user's Corterum links: the entity that is them, and every company they are linked
/// to (their organisation among them).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct UserLinks {
    /// Their own entity, if linked.
    pub entity: Option<EntityId>,
    /// Their companies, sorted, without duplicates.
    pub companies: Vec<OrgId>,
}

/// An entity with the groups that list it (sorted; "All People" is implied by type).
#[derive(Clone, Debug)]
pub(crate) struct EntityNode {
    pub(crate) entity: Entity,
    pub(crate) groups: Vec<GroupId>,
}

/// Why a Corterum change was refused. The world is unchanged after any error.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum CorterumError {
    /// A reference to a company the world does not hold.
    #[error("company `{0}` does not exist")]
    UnknownCompany(OrgId),
    /// A reference to an entity the world does not hold.
    #[error("entity `{0}` does not exist")]
    UnknownEntity(EntityId),
    /// A reference to a group the world does not hold.
    #[error("group `{0}` does not exist")]
    UnknownGroup(GroupId),
    /// A reference to a dataset the world does not hold.
    #[error("dataset `{0}` does not exist")]
    UnknownDataset(DatasetId),
    /// A reference to a user the world does not hold.
    #[error("user `{0}` does not exist")]
    UnknownUser(UserId),
    /// A group member of another type.
    #[error("`{entity}` is a {actual}, but the group holds {expected} entities only")]
    WrongMemberKind {
        /// The member's name.
        entity: String,
        /// Its type.
        actual: &'static str,
        /// The group's type.
        expected: &'static str,
    },
    /// "All People" holds every person by itself; it cannot be edited or removed.
    #[error("\"All People\" holds every person by itself and cannot be changed")]
    AllPeopleIsFixed,
    /// Only a table can be embedded, and only in a form.
    #[error("only a table can be embedded, and only in a form")]
    BadEmbedding,
    /// Another dataset has the key.
    #[error("dataset key `{0}` is already in use")]
    DatasetKeyInUse(String),
    /// An entity linked to itself.
    #[error("an entity cannot be linked to itself")]
    SelfLink,
    /// The role catalogue is full.
    #[error("a role catalogue holds at most 65,535 roles")]
    CatalogueFull,
}

impl World {
    /// Adds an entity, or replaces the entity with the same id (keeping its groups).
    ///
    /// # Errors
    /// Unknown companies or linked entities, and links to itself.
    pub fn upsert_entity(&mut self, mut entity: Entity) -> Result<(), CorterumError> {
        if let Some(c) = entity.companies.iter().find(|c| !self.organisations.contains_key(c)) {
            return Err(CorterumError::UnknownCompany(*c));
        }
        for link in &entity.links {
            if link.to == entity.id {
                return Err(CorterumError::SelfLink);
            }
            if !self.entities.contains_key(&link.to) {
                return Err(CorterumError::UnknownEntity(link.to));
            }
        }
        entity.companies.sort_unstable();
        entity.companies.dedup();
        if let Some(node) = self.entities.get_mut(&entity.id) {
            if node.entity.kind != entity.kind {
                // A change of type leaves the groups of the old type.
                for g in std::mem::take(&mut node.groups) {
                    if let Some(group) = self.groups.get_mut(&g) {
                        group.members.retain(|m| *m != entity.id);
                    }
                }
            }
            node.entity = entity;
        } else {
            self.entities.insert(entity.id, EntityNode { entity, groups: Vec::new() });
        }
        Ok(())
    }

    /// Removes an entity from the world and from every group.
    ///
    /// # Errors
    /// [`CorterumError::UnknownEntity`].
    pub fn remove_entity(&mut self, id: EntityId) -> Result<Entity, CorterumError> {
        let node = self.entities.remove(&id).ok_or(CorterumError::UnknownEntity(id))?;
        for g in &node.groups {
            if let Some(group) = self.groups.get_mut(g) {
                group.members.retain(|m| *m != id);
            }
        }
        for other in self.entities.values_mut() {
            other.entity.links.retain(|l| l.to != id);
        }
        for links in self.links.values_mut() {
            if links.entity == Some(id) {
                links.entity = None;
            }
        }
        Ok(node.entity)
    }

    /// An entity.
    #[inline]
    pub fn entity(&self, id: EntityId) -> Option<&Entity> {
        self.entities.get(&id).map(|n| &n.entity)
    }

    /// Every entity, in no particular order.
    pub fn entities(&self) -> impl Iterator<Item = &Entity> {
        self.entities.values().map(|n| &n.entity)
    }

    /// The groups that list an entity (sorted), not counting "All People".
    #[inline]
    pub fn entity_groups(&self, id: EntityId) -> &[GroupId] {
        self.entities.get(&id).map_or(&[], |n| &n.groups)
    }

    /// Adds a group, or replaces the group with the same id.
    ///
    /// # Errors
    /// Changing "All People", unknown members, and members of another type.
    pub fn upsert_group(&mut self, mut group: Group) -> Result<(), CorterumError> {
        if group.id == ALL_PEOPLE {
            return Err(CorterumError::AllPeopleIsFixed);
        }
        group.members.sort_unstable();
        group.members.dedup();
        for m in &group.members {
            let node = self.entities.get(m).ok_or(CorterumError::UnknownEntity(*m))?;
            if node.entity.kind != group.kind {
                return Err(CorterumError::WrongMemberKind {
                    entity: node.entity.name.to_string(),
                    actual: node.entity.kind.as_str(),
                    expected: group.kind.as_str(),
                });
            }
        }
        if let Some(old) = self.groups.remove(&group.id) {
            self.index_group(&old, false);
        }
        self.index_group(&group, true);
        self.groups.insert(group.id, group);
        Ok(())
    }

    /// Removes a group; roles that named it reach nobody through it.
    ///
    /// # Errors
    /// Removing "All People", or a group that is not there.
    pub fn remove_group(&mut self, id: GroupId) -> Result<Group, CorterumError> {
        if id == ALL_PEOPLE {
            return Err(CorterumError::AllPeopleIsFixed);
        }
        let group = self.groups.remove(&id).ok_or(CorterumError::UnknownGroup(id))?;
        self.index_group(&group, false);
        Ok(group)
    }

    fn index_group(&mut self, group: &Group, present: bool) {
        for m in &group.members {
            if let Some(node) = self.entities.get_mut(m) {
                match node.groups.binary_search(&group.id) {
                    Ok(i) if !present => {
                        node.groups.remove(i);
                    }
                    Err(i) if present => node.groups.insert(i, group.id),
                    _ => {}
                }
            }
        }
    }

    /// A group.
    #[inline]
    pub fn group(&self, id: GroupId) -> Option<&Group> {
        self.groups.get(&id)
    }

    /// Every group, "All People" included, in no particular order.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// Adds a dataset, or replaces the dataset with the same id.
    ///
    /// # Errors
    /// A key another dataset has; embedding anything but a table, or in anything but a
    /// form the world holds.
    pub fn upsert_dataset(&mut self, dataset: Dataset) -> Result<(), CorterumError> {
        if self.datasets.values().any(|d| d.key == dataset.key && d.id != dataset.id) {
            return Err(CorterumError::DatasetKeyInUse(dataset.key));
        }
        if let Some(parent) = dataset.embedded_in {
            let form = self.datasets.get(&parent).ok_or(CorterumError::UnknownDataset(parent))?;
            if dataset.kind != DatasetKind::Table || form.kind != DatasetKind::Form {
                return Err(CorterumError::BadEmbedding);
            }
        }
        // A form that holds tables must stay a form (and a table cannot hold any).
        let holds_tables = self.datasets.values().any(|d| d.embedded_in == Some(dataset.id));
        if holds_tables && (dataset.kind != DatasetKind::Form || dataset.embedded_in.is_some()) {
            return Err(CorterumError::BadEmbedding);
        }
        self.datasets.insert(dataset.id, dataset);
        Ok(())
    }

    /// A dataset.
    #[inline]
    pub fn dataset(&self, id: DatasetId) -> Option<&Dataset> {
        self.datasets.get(&id)
    }

    /// The dataset with this key.
    pub fn dataset_by_key(&self, key: &str) -> Option<&Dataset> {
        self.datasets.values().find(|d| d.key == key)
    }

    /// Every dataset, in no particular order.
    pub fn datasets(&self) -> impl Iterator<Item = &Dataset> {
        self.datasets.values()
    }

    /// Sets a user's linked entity and companies. Their organisation always counts as
    /// one of their companies.
    ///
    /// # Errors
    /// An unknown user, entity or company.
    pub fn set_user_links(
        &mut self,
        user: UserId,
        mut links: UserLinks,
    ) -> Result<(), CorterumError> {
        let home = self.users.get(&user).ok_or(CorterumError::UnknownUser(user))?.organisation;
        if let Some(e) = links.entity.filter(|e| !self.entities.contains_key(e)) {
            return Err(CorterumError::UnknownEntity(e));
        }
        if let Some(c) = links.companies.iter().find(|c| !self.organisations.contains_key(c)) {
            return Err(CorterumError::UnknownCompany(*c));
        }
        links.companies.push(home);
        links.companies.sort_unstable();
        links.companies.dedup();
        self.links.insert(user, links);
        Ok(())
    }

    /// A user's linked entity, if any.
    pub fn user_entity(&self, user: UserId) -> Option<EntityId> {
        self.links.get(&user).and_then(|l| l.entity)
    }

    /// A user's companies, sorted: their organisation, and any others they are linked to.
    pub fn user_companies(&self, user: UserId) -> Vec<OrgId> {
        match (self.links.get(&user), self.users.get(&user)) {
            (Some(l), _) => l.companies.clone(),
            (None, Some(u)) => vec![u.organisation],
            (None, None) => Vec::new(),
        }
    }

    pub(crate) fn links_of(&self, user: UserId) -> Option<&UserLinks> {
        self.links.get(&user)
    }

    /// Records whether a user is yet to accept their invitation. Until they do, their
    /// roles are not in force: the engine denies them everything. A Corterum account
    /// holds the roles its administrator chose from its creation, so this is what keeps
    /// it idle until accepted; a store reports it at least for users holding roles that
    /// [`crate::role::builtin::held_before_acceptance`].
    ///
    /// # Errors
    /// [`CorterumError::UnknownUser`].
    pub fn set_invited(&mut self, user: UserId, invited: bool) -> Result<(), CorterumError> {
        if !self.users.contains_key(&user) {
            return Err(CorterumError::UnknownUser(user));
        }
        if invited {
            self.invited.insert(user);
        } else {
            self.invited.remove(&user);
        }
        Ok(())
    }

    /// Whether a user is yet to accept their invitation (see [`World::set_invited`]).
    #[inline]
    pub fn is_invited(&self, user: UserId) -> bool {
        !self.invited.is_empty() && self.invited.contains(&user)
    }

    pub(crate) fn entity_node(&self, id: EntityId) -> Option<&EntityNode> {
        self.entities.get(&id)
    }

    /// Adds a role to the catalogue, or replaces the role with the same id. A group it
    /// names that the world does not hold reaches nobody (a snapshot holds only the
    /// groups of the entities it loaded).
    ///
    /// # Errors
    /// A full catalogue.
    pub fn upsert_role(&mut self, role: Role) -> Result<(), CorterumError> {
        let id = role.id;
        self.roles.insert(role).map_err(|_| CorterumError::CatalogueFull)?;
        // Users holding it may now rank differently.
        let holders: Vec<_> =
            self.users.values().filter(|u| u.roles.contains(&id)).cloned().collect();
        for u in holders {
            // INVARIANT: the user was accepted before and the role exists now.
            let _ = self.upsert_user(u);
        }
        Ok(())
    }

    /// The companies an actor works in with an administration feature. See
    /// [`crate::engine::company_scope`].
    pub fn company_scope(&self, actor: UserId, feature: Feature) -> Scope {
        crate::engine::company_scope(self, actor, feature)
    }

    /// The entities a scope matches. See [`EntityScope`].
    pub fn entities_in<'a>(
        &'a self,
        scope: &'a EntityScope,
    ) -> impl Iterator<Item = &'a Entity> + 'a {
        self.entities.values().filter(|n| scope.matches_node(n)).map(|n| &n.entity)
    }

    /// Notes the companies of the holders of a role or the members of a group
    /// (`resource`), for a snapshot that does not hold those users or entities: the
    /// engine lets only an actor whose companies cover all of them change it.
    /// Notes add up: a second note never drops what a first one (a slice's) noted.
    pub fn note_dependant_companies(&mut self, resource: Resource, companies: Vec<OrgId>) {
        let noted = self.dependants.entry(resource).or_default();
        noted.extend(companies);
        noted.sort_unstable();
        noted.dedup();
    }

    /// The companies of the users who depend on a role (its holders: their companies, or
    /// their organisation without any) or a group (its members' companies), from what the
    /// world holds and what was noted; `None` when the group has a member the world does
    /// not hold (unknown: covered by nobody but "every company").
    pub fn dependant_companies(&self, resource: Resource) -> Option<Vec<OrgId>> {
        let mut out = self.dependants.get(&resource).cloned().unwrap_or_default();
        match resource {
            Resource::Role(r) => {
                if let Some(index) = self.roles.index_of(r) {
                    for f in self.facts.values() {
                        if f.roles.as_slice().contains(&index) {
                            match self.links.get(&f.id) {
                                Some(l) if !l.companies.is_empty() => {
                                    out.extend_from_slice(&l.companies);
                                }
                                _ => out.push(f.organisation),
                            }
                        }
                    }
                }
            }
            Resource::Group(g) => {
                if let Some(group) = self.groups.get(&g) {
                    for m in &group.members {
                        out.extend_from_slice(&self.entities.get(m)?.entity.companies);
                    }
                }
            }
            _ => {}
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    /// The Corterum part of [`World::slice`]: the actor's links, entity and whether they
    /// are yet to accept their invitation, the entity a resource is about with its
    /// groups, the dataset and its form, the group a resource is.
    pub(crate) fn slice_corterum(&self, out: &mut World, actor: UserId, resource: Resource) {
        if let Some(l) = self.links.get(&actor) {
            out.links.insert(actor, l.clone());
        }
        if self.is_invited(actor) {
            out.invited.insert(actor);
        }
        let mut entities: Vec<EntityId> = self.user_entity(actor).into_iter().collect();
        if matches!(resource, Resource::Role(_) | Resource::Group(_)) {
            // Unknown members stay unknown: an empty list no actor fails to cover would
            // hide them, so an unknown member notes a company nobody holds.
            let noted = self
                .dependant_companies(resource)
                .unwrap_or_else(|| vec![OrgId::from_uuid(uuid::Uuid::max())]);
            out.note_dependant_companies(resource, noted);
        }
        match resource {
            Resource::Group(g) => {
                if let Some(group) = self.groups.get(&g) {
                    out.groups.insert(g, Group { members: Vec::new(), ..group.clone() });
                }
            }
            Resource::Entity(e) => entities.push(e),
            Resource::Instance { dataset, entity } => {
                entities.push(entity);
                if let Some(d) = self.datasets.get(&dataset) {
                    if let Some(form) = d.embedded_in.and_then(|f| self.datasets.get(&f)) {
                        out.datasets.insert(form.id, form.clone());
                    }
                    out.datasets.insert(d.id, d.clone());
                }
            }
            _ => {}
        }
        for e in entities {
            if let Some(node) = self.entities.get(&e) {
                let mut entity = node.entity.clone();
                entity.links.clear();
                out.entities.insert(e, EntityNode { entity, groups: node.groups.clone() });
                for g in &node.groups {
                    if let Some(group) = self.groups.get(g) {
                        out.groups
                            .entry(*g)
                            .or_insert_with(|| Group { members: Vec::new(), ..group.clone() });
                    }
                }
            }
        }
    }
}
