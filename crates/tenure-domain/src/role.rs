//! Roles: named sets of grants. CORE's three roles are built-in definitions in the same
//! model that custom roles use, not special code paths.

pub mod builtin;
pub mod form;

use std::fmt;

use crate::action::{Action, ActionSet, ResourceKind};
use crate::fasthash::IdMap;
use crate::feature::{Feature, FeatureSet};
use crate::id::{DatasetId, GroupId, RoleId};
use crate::organisation::OrganisationKind;

/// How far a grant reaches from the actor.
///
/// Each reach is defined for every resource kind:
///
/// | reach | user | organisation | log |
/// | --- | --- | --- | --- |
/// | `Own` | the actor | the actor's organisation | logs assigned to the actor |
/// | `Organisation` | users of the actor's organisation | the actor's organisation | logs it owns or manages |
/// | `ManagingAgents` | ... and of its direct managing agents | ... and its direct managing agents | logs they own or manage |
/// | `Related` | ... and of its direct stock owners too | ... and its direct stock owners | logs they own or manage |
/// | `Companies` | users of the actor's companies | the actor's companies | logs they own or manage |
/// | `Everything` | every user | every organisation | every log |
///
/// Service-wide actions match only `Everything`. Relationships count one hop only: a
/// managing agent's own managing agents are not reached. The actor's companies (Corterum)
/// are the organisations their [`crate::UserLinks`] name, their own always among them; a
/// user belongs to the company that is their organisation.
///
/// Corterum's entities (and their dataset instances) are reached through companies and
/// groups. Except under `Everything`, an entity is only ever reached if it is linked to
/// one of the actor's companies:
///
/// | reach | entity (and its instances) |
/// | --- | --- |
/// | `Own` | the actor's linked entity |
/// | `Organisation`, `ManagingAgents`, `Related`, `Companies` | any entity linked to one of the organisations that reach gives for users, or to another of the actor's companies |
/// | `Groups` | members of the groups the role names ("All People" holds every person) |
/// | `Everything` | every entity |
///
/// A feature is an area of the service, and a group or a role is account-wide, not a
/// record of a company: any reach covers them, and for features the grant's [`Only`]
/// says which.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Reach {
    /// The actor themselves.
    Own,
    /// The actor's organisation.
    Organisation,
    /// The actor's organisation and its direct managing agents.
    ManagingAgents,
    /// The actor's organisation and every organisation directly related to it.
    Related,
    /// The actor's companies (Corterum): their organisation and the others their links
    /// name.
    Companies,
    /// The members of the groups the role names (Corterum). Reaches no user,
    /// organisation or log.
    Groups,
    /// Everything in the service.
    Everything,
}

impl Reach {
    /// The words used in explanations.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Own => "their own",
            Self::Organisation => "their organisation",
            Self::ManagingAgents => "their organisation and its managing agents",
            Self::Related => "their organisation and its related organisations",
            Self::Companies => "their companies",
            Self::Groups => "the role's groups",
            Self::Everything => "everything",
        }
    }
}

/// Which datasets or features a grant is about. CORE's grants are about every record
/// their reach covers, so they say `Any`.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub enum Only {
    /// No narrowing.
    #[default]
    Any,
    /// For dataset actions: these datasets only (sorted, without duplicates).
    Datasets(Vec<DatasetId>),
    /// For `feature.use`: these features only.
    Features(FeatureSet),
}

impl Only {
    /// Whether a dataset is covered.
    #[inline]
    pub fn dataset(&self, id: DatasetId) -> bool {
        match self {
            Self::Any => true,
            Self::Datasets(ids) => ids.binary_search(&id).is_ok(),
            Self::Features(_) => false,
        }
    }

    /// Whether a feature is covered.
    #[inline]
    pub fn feature(&self, feature: Feature) -> bool {
        match self {
            Self::Any => true,
            Self::Features(set) => set.contains(feature),
            Self::Datasets(_) => false,
        }
    }
}

/// Permission to take some actions over some reach.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Grant {
    /// The actions allowed.
    pub actions: ActionSet,
    /// Over what.
    pub reach: Reach,
    /// Which datasets or features, for Corterum's actions.
    pub only: Only,
    /// For `user.invite` and `user.change_role`: the roles this grant may give. Other
    /// actions ignore it.
    pub assignable: Assignable,
}

impl Grant {
    /// Whether this grant, of the role `holder`, allows `action` wherever a grant with
    /// this reach (and, for `Groups`, these groups), narrowing and roles to give does
    /// (see [`Role::covered_by`]).
    fn covers(
        &self,
        holder: &Role,
        action: Action,
        reach: (Reach, &[GroupId]),
        only: &Only,
        assignable: &Assignable,
    ) -> bool {
        reach_covers((self.reach, &holder.groups), reach, action.resource_kind())
            && self.only.covers(only)
            && (!action.takes_role() || assignable.covered_by(&self.assignable))
    }
}

impl Only {
    /// Whether every dataset or feature `other` names is named here too.
    fn covers(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Any, _) => true,
            (Self::Datasets(held), Self::Datasets(given)) => {
                given.iter().all(|id| held.binary_search(id).is_ok())
            }
            (Self::Features(held), Self::Features(given)) => given.is_subset(*held),
            (Self::Datasets(_) | Self::Features(_), _) => false,
        }
    }
}

/// Whether a reach (with its role's groups) covers another for a kind of resource (see
/// [`Role::covered_by`]).
fn reach_covers(
    (held, held_groups): (Reach, &[GroupId]),
    (given, given_groups): (Reach, &[GroupId]),
    kind: ResourceKind,
) -> bool {
    use Reach::*;
    if held == Everything
        || matches!(kind, ResourceKind::Feature | ResourceKind::Group | ResourceKind::Role)
    {
        return true;
    }
    if held == given {
        return given != Groups
            || given_groups.iter().all(|g| held_groups.binary_search(g).is_ok());
    }
    let organisations = matches!(
        (given, held),
        (Organisation, ManagingAgents | Related | Companies) | (ManagingAgents, Related)
    );
    match kind {
        ResourceKind::User | ResourceKind::Organisation => {
            organisations
                || matches!(
                    (given, held),
                    (Own, Organisation | ManagingAgents | Related | Companies)
                )
        }
        ResourceKind::Log => organisations,
        ResourceKind::Entity | ResourceKind::Instance => {
            organisations
                || matches!(
                    (given, held),
                    (Own | Groups, Organisation | ManagingAgents | Related | Companies)
                )
        }
        ResourceKind::Service
        | ResourceKind::Feature
        | ResourceKind::Group
        | ResourceKind::Role => false,
    }
}

/// Which roles a grant for `user.invite` or `user.change_role` may give.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Assignable {
    /// These roles only; none for a grant that gives nothing.
    Roles(Vec<RoleId>),
    /// Any role ranked at or below the giver's own (customer-built roles included) that
    /// grants nothing the giver's own roles do not ([`Role::covered_by`]: a rank says
    /// little, since every Corterum role but the root administrator's ranks 0), but
    /// never one that cannot be revoked: such a role is held from an account's creation,
    /// never given. Like every grant, only a role of the receiving user's side of the
    /// service ([`Role::side`]; the engine checks it before any grant).
    AtOrBelowOwn,
}

impl Assignable {
    /// A grant that gives no role.
    pub const NONE: Self = Self::Roles(Vec::new());

    /// Whether `role` may be given by someone whose roles are `giver` and whose highest
    /// rank is `rank`.
    #[inline]
    pub fn allows(&self, role: &Role, rank: u8, giver: &[&Role]) -> bool {
        match self {
            Self::Roles(ids) => ids.contains(&role.id),
            Self::AtOrBelowOwn => !role.irrevocable && role.rank <= rank && role.covered_by(giver),
        }
    }

    /// Whether a grant giving `self` lets its holder give no role that one giving
    /// `other` does not. Strict: a list of roles is covered only by a list holding
    /// each of them (or when it is empty), `AtOrBelowOwn` only by `AtOrBelowOwn` (whose
    /// holder gives only what their own roles cover).
    fn covered_by(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Roles(ids), _) if ids.is_empty() => true,
            (Self::Roles(ids), Self::Roles(theirs)) => ids.iter().all(|id| theirs.contains(id)),
            (Self::AtOrBelowOwn, Self::AtOrBelowOwn) => true,
            (Self::Roles(_) | Self::AtOrBelowOwn, _) => false,
        }
    }
}

impl Default for Assignable {
    fn default() -> Self {
        Self::NONE
    }
}

/// A named set of grants.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Role {
    /// Its id.
    pub id: RoleId,
    /// A stable handle such as `data_coordinator`, used in policy files and the CLI.
    pub key: String,
    /// Its display name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its rank. Nobody may give a role ranked above their own, nor manage a user who
    /// outranks them. A role of the same rank is given only if it grants nothing the
    /// giver lacks ([`Assignable::AtOrBelowOwn`]).
    pub rank: u8,
    /// What it allows.
    pub grants: Vec<Grant>,
    /// The groups a [`Reach::Groups`] grant reaches (Corterum), sorted, without
    /// duplicates.
    pub groups: Vec<GroupId>,
    /// Whether holding it cannot be revoked: nobody deactivates, deletes, moves or
    /// changes the roles of a holder (Corterum's root administrator), and no grant gives
    /// it.
    pub irrevocable: bool,
    /// Whether it is built in (code, not data, see [`builtin`]): nobody edits it.
    pub built_in: bool,
    /// Whether its holders must sign in with a second factor (an authenticator app):
    /// one who has none is sent to set one up right after the password, and nobody
    /// removes their own (see [`crate::second_factor`]).
    pub requires_second_factor: bool,
    /// The side of the service whose users hold it: CORE's three roles are the housing
    /// side's ([`OrganisationKind::Housing`]); Corterum's, the root administrator, the
    /// out-of-the-box roles and every role built from a role form
    /// ([`form::RoleForm::into_role`]), are the companies' ([`OrganisationKind::Company`]).
    /// Nobody gives a role to a user, or invites one into an organisation, of the other
    /// side (see [`crate::engine`]).
    pub side: OrganisationKind,
}

impl Role {
    /// The grants that cover an action, with their positions in [`Role::grants`].
    pub fn grants_for(&self, action: Action) -> impl Iterator<Item = (usize, &Grant)> {
        self.grants.iter().enumerate().filter(move |(_, g)| g.actions.contains(action))
    }

    /// Whether this role grants nothing that `roles` (someone's roles) do not: each
    /// action of each of its grants, for each dataset or feature the grant names and
    /// (reaching entities through groups) each group this role names, is also granted
    /// by a grant of theirs that covers it, that is:
    ///
    /// - its reach covers this grant's for the action's kind of resource
    ///   ([`Reach`]'s table): `Everything` covers every reach; for a feature, group or
    ///   role (account-wide) any reach covers any other; otherwise a reach covers itself
    ///   (`Groups` only if its role names the group too: All People covers no other
    ///   group, whatever its members) and, for users and organisations, `Own` <
    ///   `Organisation` < `ManagingAgents` < `Related` and
    ///   `Organisation` < `Companies`; for logs the same without `Own` (a log assigned
    ///   to someone need not be their organisation's); for entities and instances the
    ///   same, with `Own` and `Groups` below each of the four organisation reaches
    ///   (which reach only entities linked to the holder's companies);
    /// - its [`Only`] covers the dataset or feature: `Any` covers everything, a list of
    ///   datasets or of features only those it names (and `Any` only `Any`);
    /// - for `user.invite` and `user.change_role`, it gives every role this grant gives
    ///   ([`Assignable`]).
    ///
    /// Anything else is not covered: when unsure, deny.
    pub fn covered_by(&self, roles: &[&Role]) -> bool {
        self.grants.iter().all(|given| {
            // One dataset or feature at a time, and for the members of groups one group at
            // a time: what it grants is the union of those, each of which may be
            // covered by a different grant.
            let items: Vec<Only> = match &given.only {
                Only::Any => vec![Only::Any],
                Only::Datasets(ids) => ids.iter().map(|id| Only::Datasets(vec![*id])).collect(),
                Only::Features(set) => {
                    set.iter().map(|f| Only::Features(FeatureSet::of(&[f]))).collect()
                }
            };
            given.actions.iter().all(|action| {
                let per_group = given.reach == Reach::Groups
                    && matches!(
                        action.resource_kind(),
                        ResourceKind::Entity | ResourceKind::Instance
                    );
                let groups: Vec<&[GroupId]> = if per_group {
                    self.groups.iter().map(std::slice::from_ref).collect()
                } else {
                    vec![&self.groups]
                };
                items.iter().all(|only| {
                    groups.iter().all(|groups| {
                        roles.iter().any(|role| {
                            role.grants_for(action).any(|(_, held)| {
                                held.covers(
                                    role,
                                    action,
                                    (given.reach, groups),
                                    only,
                                    &given.assignable,
                                )
                            })
                        })
                    })
                })
            })
        })
    }

    /// Whether decisions about its holder read their Corterum links (their entity and
    /// companies): some grant short of `Everything` reaches through them. A store loads a
    /// user's links for a snapshot only when one of their roles does.
    pub fn reads_links(&self) -> bool {
        self.grants.iter().any(|g| {
            g.reach != Reach::Everything
                && (matches!(g.reach, Reach::Companies | Reach::Groups)
                    || g.actions.iter().any(|a| {
                        matches!(a.resource_kind(), ResourceKind::Entity | ResourceKind::Instance)
                    }))
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A catalogue holds at most 65,535 roles.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("a role catalogue holds at most 65,535 roles")]
pub struct CatalogueFullError;

/// The roles known to a world.
#[derive(Clone, Debug)]
pub struct RoleCatalogue {
    /// Roles in insertion order; a role's position is its index, which never changes.
    roles: Vec<Role>,
    index: IdMap<RoleId, u16>,
    guarded: Option<RoleId>,
}

impl RoleCatalogue {
    /// An empty catalogue: no roles, so nobody may do anything.
    pub fn empty() -> Self {
        Self { roles: Vec::new(), index: IdMap::default(), guarded: None }
    }

    /// CORE's administrator, data coordinator and data provider, with the guard that every
    /// organisation keeps an active data coordinator.
    pub fn core() -> Self {
        let mut catalogue = Self::empty();
        for role in builtin::core_roles() {
            // INVARIANT: three roles never fill a catalogue.
            let _ = catalogue.insert(role);
        }
        catalogue.guarded = Some(builtin::DATA_COORDINATOR);
        catalogue
    }

    /// CORE's roles and Corterum's: the root administrator and the four out-of-the-box
    /// roles. One catalogue, one engine.
    pub fn with_corterum() -> Self {
        let mut catalogue = Self::core();
        for role in builtin::corterum_roles() {
            // INVARIANT: eight roles never fill a catalogue.
            let _ = catalogue.insert(role);
        }
        catalogue
    }

    /// Adds a role, or replaces the role with the same id in place.
    ///
    /// # Errors
    /// [`CatalogueFullError`] past 65,535 roles.
    pub fn insert(&mut self, role: Role) -> Result<(), CatalogueFullError> {
        if let Some(&i) = self.index.get(&role.id) {
            self.roles[usize::from(i)] = role;
            return Ok(());
        }
        let i = u16::try_from(self.roles.len()).map_err(|_| CatalogueFullError)?;
        self.index.insert(role.id, i);
        self.roles.push(role);
        Ok(())
    }

    /// The role with this id.
    #[inline]
    pub fn get(&self, id: RoleId) -> Option<&Role> {
        self.index.get(&id).map(|&i| &self.roles[usize::from(i)])
    }

    /// The role's position, which the world stores instead of its id.
    #[inline]
    pub(crate) fn index_of(&self, id: RoleId) -> Option<u16> {
        self.index.get(&id).copied()
    }

    /// The role at a position from [`RoleCatalogue::index_of`].
    #[inline]
    pub(crate) fn at(&self, index: u16) -> Option<&Role> {
        self.roles.get(usize::from(index))
    }

    /// The role with this key.
    pub fn by_key(&self, key: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.key == key)
    }

    /// Every role, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Role> {
        self.roles.iter()
    }

    /// The role every active organisation must keep at least one active holder of, if any.
    pub fn guarded(&self) -> Option<RoleId> {
        self.guarded
    }

    /// Sets or clears the guarded role.
    pub fn set_guarded(&mut self, role: Option<RoleId>) {
        self.guarded = role;
    }
}
