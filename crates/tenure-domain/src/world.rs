//! A snapshot of the data decisions need: roles, organisations and their relationships,
//! users and logs, indexed for fast lookups.
//!
//! A world may hold everything (an embedder's in-memory directory, a policy file, the
//! benchmark) or just the rows one decision needs, loaded by a storage adapter: the
//! engine treats anything missing as not there.

use std::collections::HashMap;

use thiserror::Error;

use crate::action::Action;
use crate::dataset::Dataset;
use crate::email::Email;
use crate::engine::{Decision, EntityScope, InstanceScope, Request, Resource, Scope};
use crate::entity::{ALL_PEOPLE, Group};
use crate::fasthash::{IdMap, IdSet};
use crate::id::{DatasetId, EntityId, GroupId, LogId, OrgId, RoleId, UserId};
use crate::log::Log;
use crate::organisation::{Organisation, OrganisationKind, Relationship};
use crate::role::RoleCatalogue;
use crate::user::User;

/// The snapshot the permission engine decides against.
#[derive(Clone, Debug)]
pub struct World {
    roles: RoleCatalogue,
    organisations: IdMap<OrgId, OrgNode>,
    edges: IdSet<Relationship>,
    /// Relationships one end asked for and the other has not accepted, with the end that
    /// asked. They widen nobody's reach.
    requests: HashMap<Relationship, OrgId>,
    users: IdMap<UserId, User>,
    facts: IdMap<UserId, Facts>,
    emails: HashMap<Email, UserId>,
    logs: IdMap<LogId, Log>,
    assigned: IdMap<UserId, Vec<LogId>>,
    /// Corterum: entities with the groups they are in.
    entities: IdMap<EntityId, EntityNode>,
    groups: IdMap<GroupId, Group>,
    datasets: IdMap<DatasetId, Dataset>,
    /// Corterum: each user's linked entity and companies, for users that have them.
    links: IdMap<UserId, UserLinks>,
    /// Users who have not accepted their invitation yet: their roles are not in force.
    invited: IdSet<UserId>,
    /// Corterum: the companies of the holders of a role or the members of a group, noted
    /// by a snapshot that does not hold them ([`World::note_dependant_companies`]).
    dependants: HashMap<Resource, Vec<OrgId>>,
}

#[derive(Clone, Debug)]
pub(crate) struct OrgNode {
    pub(crate) organisation: Organisation,
    pub(crate) managing_agents: Vec<OrgId>,
    pub(crate) stock_owners: Vec<OrgId>,
    /// Active users holding the catalogue's guarded role.
    pub(crate) guarded_holders: Vec<UserId>,
    /// Users, active or not, holding a role that cannot be revoked (Corterum's root
    /// administrator): the organisation is neither deactivated nor merged. Kept apart
    /// from `members` so a snapshot of the organisation carries them (see
    /// [`World::slice`]) without every member.
    pub(crate) irrevocable_holders: Vec<UserId>,
    /// Every user of the organisation.
    pub(crate) members: Vec<UserId>,
    /// Every log it owns or manages.
    pub(crate) logs: Vec<LogId>,
}

impl OrgNode {
    fn new(organisation: Organisation) -> Self {
        Self {
            organisation,
            managing_agents: Vec::new(),
            stock_owners: Vec::new(),
            guarded_holders: Vec::new(),
            irrevocable_holders: Vec::new(),
            members: Vec::new(),
            logs: Vec::new(),
        }
    }
}

/// What the engine reads about a user, kept in a table of its own: full `User` records are
/// several times larger, and a decision probes this table two or three times, so keeping
/// it small keeps those probes in cache.
#[derive(Clone, Debug)]
pub(crate) struct Facts {
    pub(crate) id: UserId,
    pub(crate) organisation: OrgId,
    /// The kind of their organisation: the side of the service they are on.
    pub(crate) kind: OrganisationKind,
    pub(crate) active: bool,
    /// The highest rank among the user's roles, 0 with none.
    pub(crate) rank: u8,
    pub(crate) roles: RoleIndexes,
}

/// A user's roles as catalogue positions, inline for up to six.
#[derive(Clone, Debug)]
pub(crate) enum RoleIndexes {
    Inline { len: u8, items: [u16; 6] },
    Spilled(Box<[u16]>),
}

impl RoleIndexes {
    fn new(items: &[u16]) -> Self {
        match u8::try_from(items.len()) {
            Ok(len) if items.len() <= 6 => {
                let mut inline = [0; 6];
                inline[..items.len()].copy_from_slice(items);
                Self::Inline { len, items: inline }
            }
            _ => Self::Spilled(items.into()),
        }
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u16] {
        match self {
            Self::Inline { len, items } => &items[..usize::from(*len)],
            Self::Spilled(items) => items,
        }
    }
}

/// Why a change to the world was refused. The world is unchanged after any error.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum WorldError {
    /// The id is taken.
    #[error("{kind} `{id}` already exists")]
    Duplicate {
        /// What kind of thing.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A reference to an organisation the world does not hold.
    #[error("organisation `{0}` does not exist")]
    UnknownOrganisation(OrgId),
    /// A reference to a role the catalogue does not hold.
    #[error("role `{0}` does not exist")]
    UnknownRole(RoleId),
    /// A reference to a user the world does not hold.
    #[error("user `{0}` does not exist")]
    UnknownUser(UserId),
    /// A reference to a log the world does not hold.
    #[error("log `{0}` does not exist")]
    UnknownLog(LogId),
    /// Another user already has this email address.
    #[error("email address `{0}` is already in use")]
    EmailInUse(String),
}

/// Why a relationship could not be added or removed. The world is unchanged after any
/// error.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum RelationshipError {
    /// An organisation cannot manage its own stock through a relationship.
    #[error("an organisation cannot be its own stock owner or managing agent")]
    SelfRelationship,
    /// The edge exists already.
    #[error("`{stock_owner}` is already a stock owner of `{managing_agent}`")]
    Duplicate {
        /// The parent's name.
        stock_owner: String,
        /// The child's name.
        managing_agent: String,
    },
    /// Relationships are CORE's, between housing organisations: never a Corterum company.
    #[error("`{0}` is a Corterum company: relationships are between housing organisations")]
    Company(String),
    /// Only an organisation holding stock can be a stock owner.
    #[error("`{0}` does not hold its own stock, so it cannot be a stock owner")]
    DoesNotHoldStock(String),
    /// An end of the edge is not in the world.
    #[error("organisation `{0}` does not exist")]
    UnknownOrganisation(OrgId),
    /// A request for the same relationship is already waiting for an answer.
    #[error(
        "a request to make `{stock_owner}` a stock owner of `{managing_agent}` is already waiting for an answer"
    )]
    AlreadyRequested {
        /// The parent's name.
        stock_owner: String,
        /// The child's name.
        managing_agent: String,
    },
    /// Answering a request that is not pending.
    #[error(
        "there is no pending request to make `{stock_owner}` a stock owner of `{managing_agent}`"
    )]
    NoRequest {
        /// The parent's name.
        stock_owner: String,
        /// The child's name.
        managing_agent: String,
    },
    /// Removing an edge that is not there.
    #[error("`{stock_owner}` is not a stock owner of `{managing_agent}`")]
    NotFound {
        /// The parent's name.
        stock_owner: String,
        /// The child's name.
        managing_agent: String,
    },
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    /// An empty world with CORE's built-in roles.
    pub fn new() -> Self {
        Self::with_roles(RoleCatalogue::core())
    }

    /// An empty world with these roles.
    pub fn with_roles(roles: RoleCatalogue) -> Self {
        Self {
            roles,
            organisations: IdMap::default(),
            edges: IdSet::default(),
            requests: HashMap::new(),
            users: IdMap::default(),
            facts: IdMap::default(),
            emails: HashMap::new(),
            logs: IdMap::default(),
            assigned: IdMap::default(),
            entities: IdMap::default(),
            groups: [(ALL_PEOPLE, Group::all_people())].into_iter().collect(),
            datasets: IdMap::default(),
            links: IdMap::default(),
            invited: IdSet::default(),
            dependants: HashMap::new(),
        }
    }

    /// Reserves room for this many organisations, users and logs, for bulk loads.
    pub fn reserve(&mut self, organisations: usize, users: usize, logs: usize) {
        self.organisations.reserve(organisations);
        self.users.reserve(users);
        self.facts.reserve(users);
        self.emails.reserve(users);
        self.logs.reserve(logs);
    }

    /// The role catalogue.
    pub fn roles(&self) -> &RoleCatalogue {
        &self.roles
    }

    /// Adds a new organisation.
    ///
    /// # Errors
    /// [`WorldError::Duplicate`] if its id is taken.
    pub fn insert_organisation(&mut self, organisation: Organisation) -> Result<(), WorldError> {
        if self.organisations.contains_key(&organisation.id) {
            return Err(WorldError::Duplicate {
                kind: "organisation",
                id: organisation.id.to_string(),
            });
        }
        self.organisations.insert(organisation.id, OrgNode::new(organisation));
        Ok(())
    }

    /// Replaces an organisation's details (name, flags, `active`), keeping its
    /// relationships and users.
    ///
    /// # Errors
    /// [`WorldError::UnknownOrganisation`] if it is not in the world.
    pub fn update_organisation(&mut self, organisation: Organisation) -> Result<(), WorldError> {
        let node = self
            .organisations
            .get_mut(&organisation.id)
            .ok_or(WorldError::UnknownOrganisation(organisation.id))?;
        // The kind never changes: the side an organisation is on is fixed at creation.
        let kind = node.organisation.kind;
        node.organisation = Organisation { kind, ..organisation };
        Ok(())
    }

    /// Adds a stock owner -> managing agent relationship, in effect at once (a pending
    /// request for it is answered by it). Reciprocal pairs (A -> B and B -> A) are
    /// allowed: reach is one hop, so they cannot loop.
    ///
    /// # Errors
    /// Self-relationships, duplicates, unknown organisations and stock owners that hold no
    /// stock are refused.
    pub fn add_relationship(&mut self, rel: Relationship) -> Result<(), RelationshipError> {
        self.check_new_relationship(rel)?;
        self.requests.remove(&rel);
        self.edges.insert(rel);
        if let Some(owner) = self.organisations.get_mut(&rel.stock_owner) {
            owner.managing_agents.push(rel.managing_agent);
        }
        if let Some(agent) = self.organisations.get_mut(&rel.managing_agent) {
            agent.stock_owners.push(rel.stock_owner);
        }
        Ok(())
    }

    /// Records a request for a relationship from one of its ends, `by`. It widens
    /// nothing until [`World::add_relationship`] makes it (the other end accepted).
    ///
    /// # Errors
    /// As [`World::add_relationship`], and [`RelationshipError::AlreadyRequested`].
    pub fn request_relationship(
        &mut self,
        rel: Relationship,
        by: OrgId,
    ) -> Result<(), RelationshipError> {
        self.check_new_relationship(rel)?;
        if self.requests.contains_key(&rel) {
            return Err(RelationshipError::AlreadyRequested {
                stock_owner: self.org_name(rel.stock_owner),
                managing_agent: self.org_name(rel.managing_agent),
            });
        }
        self.requests.insert(rel, by);
        Ok(())
    }

    /// Drops a pending request (declined or withdrawn).
    ///
    /// # Errors
    /// [`RelationshipError::NoRequest`] if none is pending.
    pub fn remove_request(&mut self, rel: Relationship) -> Result<OrgId, RelationshipError> {
        self.requests.remove(&rel).ok_or_else(|| RelationshipError::NoRequest {
            stock_owner: self.org_name(rel.stock_owner),
            managing_agent: self.org_name(rel.managing_agent),
        })
    }

    /// The end that asked for a pending relationship, if one is pending.
    pub fn relationship_request(&self, rel: Relationship) -> Option<OrgId> {
        self.requests.get(&rel).copied()
    }

    /// Every pending request with the end that asked, in no particular order.
    pub fn relationship_requests(&self) -> impl Iterator<Item = (Relationship, OrgId)> + '_ {
        self.requests.iter().map(|(r, by)| (*r, *by))
    }

    fn org_name(&self, id: OrgId) -> String {
        self.organisations
            .get(&id)
            .map_or_else(|| id.to_string(), |n| n.organisation.name.to_string())
    }

    fn check_new_relationship(&self, rel: Relationship) -> Result<(), RelationshipError> {
        if rel.stock_owner == rel.managing_agent {
            return Err(RelationshipError::SelfRelationship);
        }
        let owner = self
            .organisations
            .get(&rel.stock_owner)
            .ok_or(RelationshipError::UnknownOrganisation(rel.stock_owner))?;
        let agent = self
            .organisations
            .get(&rel.managing_agent)
            .ok_or(RelationshipError::UnknownOrganisation(rel.managing_agent))?;
        for end in [owner, agent] {
            if end.organisation.is_company() {
                return Err(RelationshipError::Company(end.organisation.name.to_string()));
            }
        }
        if !owner.organisation.holds_stock {
            return Err(RelationshipError::DoesNotHoldStock(owner.organisation.name.to_string()));
        }
        if self.edges.contains(&rel) {
            return Err(RelationshipError::Duplicate {
                stock_owner: owner.organisation.name.to_string(),
                managing_agent: agent.organisation.name.to_string(),
            });
        }
        Ok(())
    }

    /// Removes a relationship.
    ///
    /// # Errors
    /// [`RelationshipError::NotFound`] if it is not there.
    pub fn remove_relationship(&mut self, rel: Relationship) -> Result<(), RelationshipError> {
        if !self.edges.remove(&rel) {
            let name = |id: OrgId| {
                self.organisations
                    .get(&id)
                    .map_or_else(|| id.to_string(), |n| n.organisation.name.to_string())
            };
            return Err(RelationshipError::NotFound {
                stock_owner: name(rel.stock_owner),
                managing_agent: name(rel.managing_agent),
            });
        }
        if let Some(owner) = self.organisations.get_mut(&rel.stock_owner) {
            owner.managing_agents.retain(|id| *id != rel.managing_agent);
        }
        if let Some(agent) = self.organisations.get_mut(&rel.managing_agent) {
            agent.stock_owners.retain(|id| *id != rel.stock_owner);
        }
        Ok(())
    }

    /// Adds a user, or replaces the user with the same id.
    ///
    /// # Errors
    /// Unknown organisations and roles are refused, and so is an email address another
    /// user has.
    pub fn upsert_user(&mut self, user: User) -> Result<(), WorldError> {
        let Some(kind) = self.organisations.get(&user.organisation).map(|n| n.organisation.kind)
        else {
            return Err(WorldError::UnknownOrganisation(user.organisation));
        };
        if let Some(role) = user.roles.iter().find(|r| self.roles.get(**r).is_none()) {
            return Err(WorldError::UnknownRole(*role));
        }
        if self.emails.get(&user.email).is_some_and(|owner| *owner != user.id) {
            return Err(WorldError::EmailInUse(user.email.to_string()));
        }
        if let Some(old) = self.users.remove(&user.id) {
            self.emails.remove(&old.email);
            self.count_guarded(&old, false);
            self.index_irrevocable(&old, false);
            self.index_member(&old, false);
        }
        self.count_guarded(&user, true);
        self.index_irrevocable(&user, true);
        self.index_member(&user, true);
        let indexes: Vec<u16> = user.roles.iter().filter_map(|r| self.roles.index_of(*r)).collect();
        let rank =
            indexes.iter().filter_map(|i| self.roles.at(*i)).map(|r| r.rank).max().unwrap_or(0);
        self.facts.insert(
            user.id,
            Facts {
                id: user.id,
                organisation: user.organisation,
                kind,
                active: user.active,
                rank,
                roles: RoleIndexes::new(&indexes),
            },
        );
        self.emails.insert(user.email.clone(), user.id);
        self.users.insert(user.id, user);
        Ok(())
    }

    /// Removes a user (a deletion). Their logs stay.
    ///
    /// # Errors
    /// [`WorldError::UnknownUser`] if they are not in the world.
    pub fn remove_user(&mut self, id: UserId) -> Result<User, WorldError> {
        let user = self.users.remove(&id).ok_or(WorldError::UnknownUser(id))?;
        self.emails.remove(&user.email);
        self.count_guarded(&user, false);
        self.index_irrevocable(&user, false);
        self.index_member(&user, false);
        self.facts.remove(&id);
        self.links.remove(&id);
        self.invited.remove(&id);
        Ok(user)
    }

    /// Adds a log, or replaces the log with the same id.
    ///
    /// # Errors
    /// Unknown organisations are refused.
    pub fn upsert_log(&mut self, log: Log) -> Result<(), WorldError> {
        for org in [log.owning_organisation, log.managing_organisation] {
            if !self.organisations.contains_key(&org) {
                return Err(WorldError::UnknownOrganisation(org));
            }
        }
        if let Some(old) = self.logs.remove(&log.id) {
            self.index_log(&old, false);
        }
        self.index_log(&log, true);
        self.logs.insert(log.id, log);
        Ok(())
    }

    /// Removes a log (a deletion); the audit keeps what it was.
    ///
    /// # Errors
    /// [`WorldError::UnknownLog`] if it is not in the world.
    pub fn remove_log(&mut self, id: LogId) -> Result<Log, WorldError> {
        let log = self.logs.remove(&id).ok_or(WorldError::UnknownLog(id))?;
        self.index_log(&log, false);
        Ok(log)
    }

    /// An organisation.
    #[inline]
    pub fn organisation(&self, id: OrgId) -> Option<&Organisation> {
        self.organisations.get(&id).map(|n| &n.organisation)
    }

    /// The user with this email address.
    pub fn user_by_email(&self, email: &Email) -> Option<&User> {
        self.emails.get(email).and_then(|id| self.users.get(id))
    }

    /// A user.
    #[inline]
    pub fn user(&self, id: UserId) -> Option<&User> {
        self.users.get(&id)
    }

    /// A log.
    #[inline]
    pub fn log(&self, id: LogId) -> Option<&Log> {
        self.logs.get(&id)
    }

    /// An organisation's direct managing agents (children).
    pub fn managing_agents(&self, id: OrgId) -> &[OrgId] {
        self.organisations.get(&id).map_or(&[], |n| &n.managing_agents)
    }

    /// An organisation's direct stock owners (parents).
    pub fn stock_owners(&self, id: OrgId) -> &[OrgId] {
        self.organisations.get(&id).map_or(&[], |n| &n.stock_owners)
    }

    /// Whether the relationship exists.
    #[inline]
    pub fn has_relationship(&self, stock_owner: OrgId, managing_agent: OrgId) -> bool {
        self.edges.contains(&Relationship { stock_owner, managing_agent })
    }

    /// How many active users in the organisation hold the catalogue's guarded role.
    pub fn guarded_holders(&self, id: OrgId) -> usize {
        self.organisations.get(&id).map_or(0, |n| n.guarded_holders.len())
    }

    /// The users of the organisation, active or not, who hold a role that cannot be
    /// revoked (Corterum's root administrator). A snapshot of the organisation must hold
    /// them with their roles, as [`World::slice`] does: the engine refuses deactivating
    /// or merging an organisation they belong to from this list alone.
    pub fn irrevocable_holders(&self, id: OrgId) -> &[UserId] {
        self.organisations.get(&id).map_or(&[], |n| &n.irrevocable_holders)
    }

    /// The smallest world in which `actor`'s requests about `resource` are decided exactly
    /// as here, and in which `actor`'s scopes are the same: the actor, their organisation
    /// and its direct relationships; the resource and its organisations; the active
    /// holders of the guarded role in a user's organisation; and, for an organisation,
    /// the holders of a role that cannot be revoked among its users, with their roles
    /// ([`World::irrevocable_holders`]). A storage adapter loads the same rows.
    pub fn slice(&self, actor: UserId, resource: Resource) -> World {
        let mut out = World::with_roles(self.roles.clone());
        let mut orgs: Vec<OrgId> = Vec::new();
        let mut users: Vec<UserId> = Vec::new();
        let mut edges: Vec<Relationship> = Vec::new();
        if let Some(a) = self.users.get(&actor) {
            let home = a.organisation;
            users.push(a.id);
            orgs.push(home);
            for agent in self.managing_agents(home) {
                orgs.push(*agent);
                edges.push(Relationship { stock_owner: home, managing_agent: *agent });
            }
            for owner in self.stock_owners(home) {
                orgs.push(*owner);
                edges.push(Relationship { stock_owner: *owner, managing_agent: home });
            }
        }
        match resource {
            Resource::User(id) => {
                if let Some(u) = self.users.get(&id) {
                    users.push(u.id);
                    orgs.push(u.organisation);
                    if let Some(node) = self.organisations.get(&u.organisation) {
                        users.extend_from_slice(&node.guarded_holders);
                    }
                }
            }
            Resource::Organisation(id) => {
                orgs.push(id);
                if let Some(node) = self.organisations.get(&id) {
                    users.extend_from_slice(&node.irrevocable_holders);
                }
            }
            Resource::Entity(_)
            | Resource::Instance { .. }
            | Resource::Feature(_)
            | Resource::Group(_)
            | Resource::Role(_) => {}
            Resource::Log(id) => {
                if let Some(l) = self.logs.get(&id) {
                    orgs.push(l.owning_organisation);
                    orgs.push(l.managing_organisation);
                    out.logs.insert(l.id, l.clone());
                }
            }
            Resource::Service => {}
        }
        self.slice_corterum(&mut out, actor, resource);
        // An entity's companies decide who reaches it.
        for node in out.entities.values() {
            orgs.extend_from_slice(&node.entity.companies);
        }
        if let Some(links) = self.links.get(&actor) {
            orgs.extend_from_slice(&links.companies);
        }
        for id in orgs {
            if let (Some(node), false) =
                (self.organisations.get(&id), out.organisations.contains_key(&id))
            {
                let organisation = node.organisation.clone();
                out.organisations.insert(id, OrgNode::new(organisation));
            }
        }
        if let Some(a) = self.users.get(&actor) {
            for (rel, by) in &self.requests {
                if rel.stock_owner == a.organisation || rel.managing_agent == a.organisation {
                    out.requests.insert(*rel, *by);
                    for end in [rel.stock_owner, rel.managing_agent] {
                        if let (Some(node), false) =
                            (self.organisations.get(&end), out.organisations.contains_key(&end))
                        {
                            out.organisations.insert(end, OrgNode::new(node.organisation.clone()));
                        }
                    }
                }
            }
        }
        for rel in edges {
            if out.edges.insert(rel) {
                if let Some(n) = out.organisations.get_mut(&rel.stock_owner) {
                    n.managing_agents.push(rel.managing_agent);
                }
                if let Some(n) = out.organisations.get_mut(&rel.managing_agent) {
                    n.stock_owners.push(rel.stock_owner);
                }
            }
        }
        for id in users {
            if let (Some(u), false) = (self.users.get(&id), out.users.contains_key(&id)) {
                out.count_guarded(u, true);
                out.index_irrevocable(u, true);
                out.emails.insert(u.email.clone(), u.id);
                if let Some(f) = self.facts.get(&id) {
                    out.facts.insert(id, f.clone());
                }
                out.users.insert(u.id, u.clone());
            }
        }
        out
    }

    /// Every organisation, in no particular order.
    pub fn organisations(&self) -> impl Iterator<Item = &Organisation> {
        self.organisations.values().map(|n| &n.organisation)
    }

    /// Every relationship, in no particular order.
    pub fn relationships(&self) -> impl Iterator<Item = &Relationship> {
        self.edges.iter()
    }

    /// Every user, in no particular order.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// Every log, in no particular order.
    pub fn logs(&self) -> impl Iterator<Item = &Log> {
        self.logs.values()
    }

    /// Whether CORE's screens serve `actor` and show `organisation` there: both are on
    /// the housing side (see [`Scope::on_core_screens`]). A company, or anyone of a
    /// company, is "not found" on CORE's screens, exactly like what does not exist.
    pub fn core_serves(&self, actor: UserId, organisation: OrgId) -> bool {
        let housing = Some(OrganisationKind::Housing);
        self.user(actor).and_then(|u| self.kind_of(u.organisation)) == housing
            && self.kind_of(organisation) == housing
    }

    /// The kind of an organisation, if it is in the world.
    pub fn kind_of(&self, id: OrgId) -> Option<OrganisationKind> {
        self.organisations.get(&id).map(|n| n.organisation.kind)
    }

    /// The users a scope matches, found through the world's indexes: only a scope of
    /// everything walks every user (of organisations of the scope's kind).
    pub fn users_in<'a>(&'a self, scope: &'a Scope) -> Box<dyn Iterator<Item = &'a User> + 'a> {
        if scope.everything {
            return Box::new(
                self.users
                    .values()
                    .filter(|u| self.facts.get(&u.id).is_some_and(|f| f.kind == scope.kind)),
            );
        }
        let members = scope
            .organisations
            .iter()
            .filter_map(|org| self.organisations.get(org))
            .flat_map(|node| node.members.iter())
            .filter_map(|id| self.users.get(id));
        let own = self
            .users
            .get(&scope.actor)
            .filter(|u| scope.own && !scope.organisations.contains(&u.organisation));
        Box::new(members.chain(own))
    }

    /// The logs a scope matches, found through the world's indexes, each once: a log
    /// whose owning and managing organisations are both in scope is listed under its owner.
    pub fn logs_in<'a>(&'a self, scope: &'a Scope) -> Box<dyn Iterator<Item = &'a Log> + 'a> {
        if scope.everything {
            return Box::new(self.logs.values().filter(|l| {
                self.organisation(l.owning_organisation).is_some_and(|o| o.kind == scope.kind)
            }));
        }
        let in_scope = |org: &OrgId| scope.organisations.binary_search(org).is_ok();
        let by_org = scope
            .organisations
            .iter()
            .filter_map(|org| self.organisations.get(org).map(|node| (*org, node)))
            .flat_map(move |(org, node)| {
                node.logs.iter().filter_map(|id| self.logs.get(id)).filter(move |l| {
                    l.owning_organisation == org || !in_scope(&l.owning_organisation)
                })
            });
        let assigned = if scope.own {
            self.assigned.get(&scope.actor).map_or(&[][..], Vec::as_slice)
        } else {
            &[]
        };
        let own = assigned.iter().filter_map(|id| self.logs.get(id)).filter(move |l| {
            !in_scope(&l.owning_organisation) && !in_scope(&l.managing_organisation)
        });
        Box::new(by_org.chain(own))
    }

    /// Decides a request. See [`crate::engine`].
    pub fn decide(&self, request: &Request) -> Decision {
        crate::engine::decide(self, request)
    }

    /// The records of one kind an actor reaches with an action. See [`crate::engine`].
    pub fn scope(&self, actor: UserId, action: Action) -> Scope {
        crate::engine::scope(self, actor, action)
    }

    /// The entities an actor reaches with `entity.view` (or a dataset action on one
    /// dataset). See [`crate::engine::entity_scope`].
    pub fn entity_scope(
        &self,
        actor: UserId,
        action: Action,
        dataset: Option<DatasetId>,
    ) -> EntityScope {
        crate::engine::entity_scope(self, actor, action, dataset)
    }

    /// The instances of a dataset an actor reaches with a dataset action. See
    /// [`crate::engine::instance_scope`].
    pub fn instance_scope(
        &self,
        actor: UserId,
        action: Action,
        dataset: DatasetId,
    ) -> InstanceScope {
        crate::engine::instance_scope(self, actor, action, dataset)
    }

    #[inline]
    pub(crate) fn facts(&self, id: UserId) -> Option<&Facts> {
        self.facts.get(&id)
    }

    #[inline]
    pub(crate) fn node(&self, id: OrgId) -> Option<&OrgNode> {
        self.organisations.get(&id)
    }

    fn index_member(&mut self, user: &User, present: bool) {
        if let Some(node) = self.organisations.get_mut(&user.organisation) {
            if present {
                node.members.push(user.id);
            } else {
                node.members.retain(|id| *id != user.id);
            }
        }
    }

    fn index_log(&mut self, log: &Log, present: bool) {
        let managing = (log.managing_organisation != log.owning_organisation)
            .then_some(log.managing_organisation);
        for org in std::iter::once(log.owning_organisation).chain(managing) {
            if let Some(node) = self.organisations.get_mut(&org) {
                if present {
                    node.logs.push(log.id);
                } else {
                    node.logs.retain(|id| *id != log.id);
                }
            }
        }
        if let Some(user) = log.assigned_to {
            let list = self.assigned.entry(user).or_default();
            if present {
                list.push(log.id);
            } else {
                list.retain(|id| *id != log.id);
            }
        }
    }

    /// Adds (`present`, when they hold a role that cannot be revoked) or removes the user
    /// from their organisation's irrevocable holders. Removal does not ask the catalogue,
    /// which may have changed since the user was added.
    fn index_irrevocable(&mut self, user: &User, present: bool) {
        let holds =
            user.roles.iter().any(|r| self.roles.get(*r).is_some_and(|role| role.irrevocable));
        if let Some(node) = self.organisations.get_mut(&user.organisation) {
            node.irrevocable_holders.retain(|id| *id != user.id);
            if present && holds {
                node.irrevocable_holders.push(user.id);
            }
        }
    }

    /// Adds (`holds`) or removes the user from their organisation's guarded holders.
    fn count_guarded(&mut self, user: &User, holds: bool) {
        let Some(guarded) = self.roles.guarded() else { return };
        if user.active && user.roles.contains(&guarded) {
            if let Some(node) = self.organisations.get_mut(&user.organisation) {
                node.guarded_holders.retain(|id| *id != user.id);
                if holds {
                    node.guarded_holders.push(user.id);
                }
            }
        }
    }
}

mod corterum;

pub(crate) use corterum::EntityNode;
pub use corterum::{CorterumError, UserLinks};

#[cfg(test)]
mod tests;
