//! The permission engine: "may this actor take this action on this resource?" and
//! "which resources of a kind does this actor reach?", both answered from one set of
//! rules over a [`World`].
//!
//! A decision runs in three stages:
//!
//! 1. **The actor.** Unknown, deactivated, in a deactivated organisation, or yet to
//!    accept their invitation (their roles are in force only from then): denied
//!    everything.
//! 2. **Grants.** One of the actor's roles must hold a grant for the action whose
//!    [`Reach`] covers the resource (and, for `user.invite` and `user.change_role`, may
//!    give the requested role, which must be of the resource's side of the service:
//!    CORE's roles for housing organisations' users, Corterum's for companies'; see
//!    [`Role::side`]). Nothing matching means deny: the default.
//! 3. **Rules no role can override**, checked after a grant matched: nobody deactivates,
//!    deletes or changes the role of themselves; nobody changes another person's
//!    password; nobody manages a user who outranks them or gives a role above their own
//!    (ranked above it, or, checked with the grant, granting anything their own roles do
//!    not: [`crate::role::Role::covered_by`]);
//!    nobody revokes a role that cannot be revoked, nor deactivates or merges an
//!    organisation its holder belongs to; nobody edits what is built in or a
//!    role they hold; nobody removes their own second factor while a role of theirs
//!    requires one; state preconditions (only a deactivated user can be deleted, ...);
//!    and every organisation keeps an active holder of the guarded role (CORE: a data
//!    coordinator).
//!
//! Every denial also says whether the actor may see the resource at all. If not, the
//! caller must answer "not found", never "forbidden", so nobody learns what exists.
//!
//! [`scope`] is the list side: the union of the reaches of the grants for an action, as
//! data a storage adapter turns into a `WHERE` clause. For the `*.view` actions it agrees
//! exactly with [`decide`], since no stage-3 rule applies to viewing.

use std::fmt;

use crate::action::{Action, ResourceKind};
use crate::dataset::Dataset;
use crate::entity::{ALL_PEOPLE, EntityKind, Group};
use crate::feature::Feature;
use crate::id::{DatasetId, EntityId, GroupId, LogId, OrgId, RoleId, UserId};
use crate::log::Log;
use crate::organisation::{Organisation, OrganisationKind};
use crate::role::{Grant, Only, Reach, Role};
use crate::user::User;
use crate::world::{EntityNode, Facts, OrgNode, World};

/// What a request is about.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Resource {
    /// A user.
    User(UserId),
    /// An organisation.
    Organisation(OrgId),
    /// A log.
    Log(LogId),
    /// The service as a whole.
    Service,
    /// A Corterum entity.
    Entity(EntityId),
    /// An entity's instance of a dataset.
    Instance {
        /// The dataset.
        dataset: DatasetId,
        /// The entity the instance is about.
        entity: EntityId,
    },
    /// A Corterum feature.
    Feature(Feature),
    /// A Corterum group of entities.
    Group(GroupId),
    /// A role.
    Role(RoleId),
}

impl Resource {
    /// Its kind.
    pub const fn kind(self) -> ResourceKind {
        match self {
            Self::User(_) => ResourceKind::User,
            Self::Organisation(_) => ResourceKind::Organisation,
            Self::Log(_) => ResourceKind::Log,
            Self::Service => ResourceKind::Service,
            Self::Entity(_) => ResourceKind::Entity,
            Self::Instance { .. } => ResourceKind::Instance,
            Self::Feature(_) => ResourceKind::Feature,
            Self::Group(_) => ResourceKind::Group,
            Self::Role(_) => ResourceKind::Role,
        }
    }
}

/// "May `actor` take `action` on `resource`?"
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Request {
    /// Who asks.
    pub actor: UserId,
    /// What they want to do.
    pub action: Action,
    /// To what.
    pub resource: Resource,
    /// For `user.invite` and `user.change_role`: the role to give.
    pub role: Option<RoleId>,
}

impl Request {
    /// A request with no role.
    pub const fn new(actor: UserId, action: Action, resource: Resource) -> Self {
        Self { actor, action, resource, role: None }
    }

    /// The same request, giving this role.
    #[must_use]
    pub const fn giving(mut self, role: RoleId) -> Self {
        self.role = Some(role);
        self
    }
}

/// The engine's answer. A denial is a value, not an error.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decision {
    /// Allowed by this grant.
    Allow {
        /// The role holding the grant.
        role: RoleId,
        /// The grant's position in the role's grants.
        grant: usize,
    },
    /// Denied.
    Deny {
        /// Why.
        reason: DenyReason,
        /// Whether the actor may not even see the resource: answer "not found".
        conceal: bool,
    },
}

/// Why a request was denied.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DenyReason {
    /// The actor is not in the world.
    UnknownActor,
    /// The actor's account is deactivated.
    ActorInactive,
    /// The actor's organisation is deactivated or unknown.
    ActorOrganisationInactive,
    /// The actor has not accepted their invitation yet: their roles are in force only
    /// from then.
    ActorInvited,
    /// The action is about another kind of resource.
    WrongResourceKind {
        /// The kind the action takes.
        expected: ResourceKind,
    },
    /// The resource does not exist.
    NotFound,
    /// None of the actor's roles grants the action over this resource.
    NoGrant,
    /// Nobody deactivates, deletes or changes the role of their own account.
    OwnAccount,
    /// Nobody changes another person's password.
    OthersPassword,
    /// The target user holds a role ranked above all of the actor's.
    TargetOutranksActor,
    /// Someone else's email address (a credential) changes only by someone who strictly
    /// outranks them.
    TargetNotOutranked,
    /// `user.invite` and `user.change_role` must name the role to give.
    RoleMissing,
    /// The role named does not exist.
    UnknownRole(RoleId),
    /// The role named ranks above every role the actor holds.
    RoleAboveOwn(RoleId),
    /// A grant covers the resource but may not give this role.
    RoleNotAssignable(RoleId),
    /// The role is of the other side of the service than the user it would be given to
    /// (or the organisation invited into): CORE's roles are for the users of housing
    /// organisations, Corterum's for the users of companies ([`Role::side`]). Also
    /// refuses reactivating a user whose roles, given back when they accept, include one
    /// of the other side.
    RoleOfOtherSide(RoleId),
    /// The resource is not in the state the action needs.
    Precondition(Precondition),
    /// The change would leave an organisation without an active holder of the guarded
    /// role.
    LastGuardedHolder(OrgId),
    /// The user holds an irrevocable role (Corterum's root administrator): nobody
    /// deactivates, deletes, moves or changes the roles of its holder, nor deactivates or
    /// merges an organisation its holder belongs to.
    Irrevocable,
    /// Built in ("All People", the built-in roles): code, not data, so nobody edits it.
    BuiltIn,
    /// Nobody edits a role they hold: that would change their own rights.
    RoleHeld,
    /// A table embedded in a form needs the same permission on the form.
    EmbeddedNeedsForm(DatasetId),
    /// A relationship widens reach, so it takes effect only when the other end agrees:
    /// someone who manages the other organisation's relationships must accept it.
    AwaitingConsent,
    /// Nobody removes their own second factor while a role they hold requires one (an
    /// administrator may remove it for them, for a lost device).
    SecondFactorRequired(RoleId),
    /// A role or group is changed only by someone whose companies cover every holder of
    /// the role or member of the group: others' users depend on it. Concealed ("not
    /// found"), like any record out of reach.
    UsedOutsideCompanies,
    /// Nobody deactivates the organisation they belong to: they would lock themselves
    /// out with no way back.
    OwnOrganisation,
}

/// A state an action needs its resource to be in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Precondition {
    /// The user must be active (to deactivate them).
    UserMustBeActive,
    /// The user must be deactivated (to reactivate or delete them).
    UserMustBeDeactivated,
    /// The organisation must be active (to invite into it, reactivate its users, or
    /// deactivate it).
    OrganisationMustBeActive,
    /// The organisation must be deactivated (to reactivate it).
    OrganisationMustBeDeactivated,
    /// The user must hold a role to be given back when they accept (to reactivate them).
    UserMustHaveRole,
    /// An organisation is merged into another one, never into itself.
    DistinctOrganisations,
    /// A relationship request must be pending (to accept, decline or withdraw it).
    RequestMustBePending,
    /// CORE's organisation actions (relationships, merges, deactivation and
    /// reactivation, the edit of housing fields) and CORE's move of a user
    /// ([`decide_move`]) are for housing organisations: never a Corterum company or its
    /// users.
    HousingOnly,
}

impl Decision {
    /// Whether the request is allowed.
    #[inline]
    pub const fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }

    /// Whether a caller must answer "not found" rather than "forbidden".
    pub const fn conceals(&self) -> bool {
        matches!(self, Self::Deny { conceal: true, .. })
    }

    /// A sentence saying why, naming roles from the world.
    pub fn explain<'w>(&self, world: &'w World) -> Explanation<'w> {
        Explanation { decision: *self, world }
    }
}

impl DenyReason {
    /// The reason as a clause naming roles, organisations and forms from the world
    /// ("the user holds a role above the actor's"), without the "denied" prefix that
    /// [`Decision::explain`] adds.
    pub fn explain<'w>(self, world: &'w World) -> ReasonExplanation<'w> {
        ReasonExplanation { reason: self, world }
    }
}

/// A reason with the world it came from, to display.
#[derive(Debug)]
pub struct ReasonExplanation<'w> {
    reason: DenyReason,
    world: &'w World,
}

impl fmt::Display for ReasonExplanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role_name = |id: RoleId| {
            self.world.roles().get(id).map_or_else(|| id.to_string(), |r| r.name.clone())
        };
        match self.reason {
            DenyReason::UnknownActor => f.write_str("the actor does not exist"),
            DenyReason::ActorInactive => f.write_str("the actor's account is deactivated"),
            DenyReason::ActorOrganisationInactive => {
                f.write_str("the actor's organisation is deactivated")
            }
            DenyReason::ActorInvited => {
                f.write_str("the actor has not accepted their invitation yet")
            }
            DenyReason::WrongResourceKind { expected } => {
                write!(f, "this action takes a {expected} resource")
            }
            DenyReason::NotFound => f.write_str("the resource does not exist"),
            DenyReason::NoGrant => {
                f.write_str("none of the actor's roles grants this action over this resource")
            }
            DenyReason::OwnAccount => f.write_str("nobody can do this to their own account"),
            DenyReason::OthersPassword => f.write_str("nobody can set another person's password"),
            DenyReason::TargetOutranksActor => {
                f.write_str("the user holds a role above the actor's")
            }
            DenyReason::TargetNotOutranked => {
                f.write_str("only someone ranked above the user can change their email address")
            }
            DenyReason::RoleMissing => f.write_str("the request must name the role to give"),
            DenyReason::UnknownRole(id) => write!(f, "role `{id}` does not exist"),
            DenyReason::RoleAboveOwn(id) => {
                write!(f, "role `{}` ranks above the actor's own", role_name(id))
            }
            DenyReason::RoleNotAssignable(id) => {
                write!(f, "the actor's roles cannot give role `{}` here", role_name(id))
            }
            DenyReason::RoleOfOtherSide(id) => match self.world.roles().get(id).map(|r| r.side) {
                Some(OrganisationKind::Housing) => write!(
                    f,
                    "role `{}` is CORE's: only users of housing organisations hold it",
                    role_name(id)
                ),
                Some(OrganisationKind::Company) => write!(
                    f,
                    "role `{}` is Corterum's: only users of companies hold it",
                    role_name(id)
                ),
                None => write!(f, "role `{id}` is of the other side of the service"),
            },
            DenyReason::Precondition(p) => f.write_str(match p {
                Precondition::UserMustBeActive => "the user is already deactivated",
                Precondition::UserMustBeDeactivated => "the user must be deactivated first",
                Precondition::OrganisationMustBeActive => "the organisation is deactivated",
                Precondition::OrganisationMustBeDeactivated => "the organisation is already active",
                Precondition::UserMustHaveRole => {
                    "the user holds no role to give back when they accept"
                }
                Precondition::DistinctOrganisations => {
                    "an organisation cannot be merged into itself"
                }
                Precondition::RequestMustBePending => {
                    "there is no pending request for this relationship"
                }
                Precondition::HousingOnly => {
                    "this is for housing organisations only, never a Corterum company"
                }
            }),
            DenyReason::Irrevocable => {
                f.write_str("the user holds a role whose rights cannot be revoked")
            }
            DenyReason::BuiltIn => f.write_str("it is built in and cannot be changed"),
            DenyReason::RoleHeld => f.write_str("nobody can change a role they hold themselves"),
            DenyReason::SecondFactorRequired(role) => write!(
                f,
                "role `{}` requires a second factor, so its holder cannot remove their own",
                role_name(role)
            ),
            DenyReason::UsedOutsideCompanies => f.write_str(
                "users of companies outside the actor's depend on it (its holders or members)",
            ),
            DenyReason::OwnOrganisation => {
                f.write_str("nobody can deactivate the organisation they belong to")
            }
            DenyReason::AwaitingConsent => {
                f.write_str("the other organisation's data coordinators must accept the request")
            }
            DenyReason::EmbeddedNeedsForm(form) => {
                let form = self
                    .world
                    .dataset(form)
                    .map_or_else(|| form.to_string(), |d| d.name.to_string());
                write!(
                    f,
                    "the table is embedded in `{form}`, which the actor's roles do not open for this"
                )
            }
            DenyReason::LastGuardedHolder(org) => {
                let org = self
                    .world
                    .organisation(org)
                    .map_or_else(|| org.to_string(), |o| o.name.to_string());
                let role = self.world.roles().guarded().map_or_else(String::new, role_name);
                write!(f, "`{org}` must keep at least one active `{role}`")
            }
        }
    }
}

/// A decision with the world it came from, to display.
#[derive(Debug)]
pub struct Explanation<'w> {
    decision: Decision,
    world: &'w World,
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role_name = |id: RoleId| {
            self.world.roles().get(id).map_or_else(|| id.to_string(), |r| r.name.clone())
        };
        match self.decision {
            Decision::Allow { role, grant } => {
                let grant = self.world.roles().get(role).and_then(|r| r.grants.get(grant));
                match grant {
                    Some(g) => write!(
                        f,
                        "allowed: role `{}` grants this over {}",
                        role_name(role),
                        g.reach.describe()
                    ),
                    None => write!(f, "allowed: role `{}`", role_name(role)),
                }
            }
            Decision::Deny { reason, conceal } => {
                f.write_str(if conceal { "denied (not found): " } else { "denied (forbidden): " })?;
                reason.explain(self.world).fmt(f)
            }
        }
    }
}

/// The records of one kind that an actor's grants for an action reach.
///
/// It is data, not a closure, so a storage adapter can turn it into a `WHERE` clause:
///
/// | kind | matches when |
/// | --- | --- |
/// | user | `everything` or its organisation is in `organisations` or (`own` and it is the actor) |
/// | organisation | `everything` or it is in `organisations` |
/// | log | `everything` or its owning or managing organisation is in `organisations` or (`own` and it is assigned to the actor) |
/// | service | `everything` |
///
/// Every case is within the organisations of `kind`, the actor's side of the service
/// (the kind of their own organisation): `everything` is every organisation of that kind.
///
/// For `*.view` actions it is exact: a record matches if and only if [`decide`] allows
/// viewing it. For other actions it is the candidates before stage-3 rules (self,
/// rank, preconditions, the guard), which [`decide`] applies record by record.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Scope {
    /// The actor.
    pub actor: UserId,
    /// Everything of the kind, on the scope's side.
    pub everything: bool,
    /// The side of the service: only records of organisations of this kind match.
    pub kind: OrganisationKind,
    /// Organisations whose records match, sorted, without duplicates.
    pub organisations: Vec<OrgId>,
    /// Whether the actor's own records match (themselves; logs assigned to them).
    pub own: bool,
}

impl Scope {
    /// A scope matching nothing.
    pub const fn nothing(actor: UserId) -> Self {
        Self {
            actor,
            everything: false,
            kind: OrganisationKind::Housing,
            organisations: Vec::new(),
            own: false,
        }
    }

    /// This scope as CORE's screens use it. CORE's screens (organisations, users, logs,
    /// the audit trail) are the housing side of the service, Corterum's are
    /// Administration and Records: a scope of the company side matches nothing on them.
    #[must_use]
    pub fn on_core_screens(self) -> Self {
        if self.kind == OrganisationKind::Housing { self } else { Self::nothing(self.actor) }
    }

    /// Whether it matches nothing at all.
    pub fn is_nothing(&self) -> bool {
        !self.everything && !self.own && self.organisations.is_empty()
    }

    fn has(&self, org: OrgId) -> bool {
        self.organisations.binary_search(&org).is_ok()
    }

    /// Whether a user matches. A `User` does not carry its organisation's kind, so this
    /// takes the user to be on the scope's side; [`World::users_in`] checks it.
    pub fn matches_user(&self, user: &User) -> bool {
        self.everything || self.has(user.organisation) || (self.own && user.id == self.actor)
    }

    /// Whether an organisation matches.
    pub fn matches_organisation(&self, organisation: &Organisation) -> bool {
        organisation.kind == self.kind && self.covers_organisation(organisation.id)
    }

    /// Whether the organisation with this id matches (for a scope of organisations, such
    /// as [`company_scope`]'s), taking it to be of the scope's kind: with `everything`,
    /// check the kind too ([`Scope::matches_organisation`]).
    pub fn covers_organisation(&self, id: OrgId) -> bool {
        self.everything || self.has(id)
    }

    /// Whether a log matches.
    pub fn matches_log(&self, log: &Log) -> bool {
        self.everything
            || self.has(log.owning_organisation)
            || self.has(log.managing_organisation)
            || (self.own && log.assigned_to == Some(self.actor))
    }
}

/// The actor, checked usable (stage 1).
struct Actor<'w> {
    user: &'w Facts,
    org: &'w OrgNode,
    /// Corterum: the actor's own entity.
    entity: Option<EntityId>,
    /// Corterum: the actor's companies, sorted (their organisation at least).
    companies: &'w [OrgId],
    /// The actor's side of the service: their organisation's kind.
    side: OrganisationKind,
}

/// The resource, looked up.
#[derive(Clone, Copy)]
enum Target<'w> {
    User(&'w Facts),
    Organisation(&'w Organisation),
    Log(&'w Log),
    Service,
    Entity(&'w EntityNode),
    Instance(&'w Dataset, &'w EntityNode),
    Feature(Feature),
    Group(&'w Group),
    Role(&'w Role),
}

/// Decides a request against a world. See the module docs for the stages.
pub fn decide(world: &World, request: &Request) -> Decision {
    let actor = match actor(world, request.actor) {
        Ok(actor) => actor,
        Err(reason) => return Decision::Deny { reason, conceal: true },
    };
    let expected = request.action.resource_kind();
    if request.resource.kind() != expected {
        return Decision::Deny {
            reason: DenyReason::WrongResourceKind { expected },
            conceal: false,
        };
    }
    let Some(target) = target(world, request.resource) else {
        return Decision::Deny { reason: DenyReason::NotFound, conceal: true };
    };
    // A denied view is by definition of something the actor cannot view (no stage-3 rule
    // applies to viewing), so only other actions need the second look.
    // A role or group others' users depend on is out of reach, like a record; a built-in
    // one is listed to every administrator and refused as built in (stage 3) instead.
    let built_in = match target {
        Target::Role(role) => role.built_in,
        Target::Group(group) => group.id == ALL_PEOPLE,
        _ => false,
    };
    if matches!(request.action, Action::RoleEdit | Action::GroupEdit)
        && !built_in
        && !covers_dependants(world, request.actor, request.resource)
    {
        return Decision::Deny { reason: DenyReason::UsedOutsideCompanies, conceal: true };
    }
    let is_view = Action::view_of(expected) == Some(request.action);
    let deny =
        |reason| Decision::Deny { reason, conceal: is_view || !can_view(world, &actor, target) };

    // Stage 2: a grant whose reach covers the target.
    let giving = if request.action.takes_role() {
        let Some(role) = request.role else { return deny(DenyReason::RoleMissing) };
        let Some(given) = world.roles().get(role) else {
            return deny(DenyReason::UnknownRole(role));
        };
        // A role stays on its side of the service, whatever a grant would give: checked
        // before any grant, so the answer names the side and not a grant's list.
        if Some(given.side) != side_of(target) {
            return deny(DenyReason::RoleOfOtherSide(role));
        }
        Some(given)
    } else {
        None
    };
    // The giver's roles, against which a role given under `AtOrBelowOwn` is checked:
    // it must grant nothing they do not.
    let giver: Vec<&Role> =
        if giving.is_some() { actor_roles(world, actor.user).collect() } else { Vec::new() };
    let mut allowed = None;
    let mut reached = false;
    'roles: for role in actor_roles(world, actor.user) {
        for (index, grant) in role.grants_for(request.action) {
            if reaches(&actor, role, grant, target) {
                reached = true;
                if giving
                    .is_none_or(|given| grant.assignable.allows(given, actor.user.rank, &giver))
                {
                    allowed = Some(Decision::Allow { role: role.id, grant: index });
                    break 'roles;
                }
            }
        }
    }
    let Some(allowed) = allowed else {
        return match giving {
            Some(given) if reached => deny(DenyReason::RoleNotAssignable(given.id)),
            _ => deny(DenyReason::NoGrant),
        };
    };

    // Stage 3: rules no grant overrides.
    if let Some(reason) = universal_rules(world, &actor, request.action, target, giving) {
        // CORE's organisation actions do not exist for a company: "not found", as for
        // an organisation that does not exist.
        if reason == DenyReason::Precondition(Precondition::HousingOnly) {
            return Decision::Deny { reason, conceal: true };
        }
        return deny(reason);
    }
    // A table embedded in a form: the same action on the form's instance too.
    if let Target::Instance(dataset, entity) = target {
        if let Some(form) = dataset.embedded_in {
            let on_form = Request {
                resource: Resource::Instance { dataset: form, entity: entity.entity.id },
                ..*request
            };
            if !decide(world, &on_form).is_allowed() {
                return deny(DenyReason::EmbeddedNeedsForm(form));
            }
        }
    }
    allowed
}

/// Decides merging `from` into `into`: `organisation.merge` on `from` and
/// `organisation.edit_all` on `into`, both active, and not the same organisation.
pub fn decide_merge(world: &World, actor: UserId, from: OrgId, into: OrgId) -> Decision {
    let merge = decide(
        world,
        &Request::new(actor, Action::OrganisationMerge, Resource::Organisation(from)),
    );
    if !merge.is_allowed() {
        return merge;
    }
    let receive = decide(
        world,
        &Request::new(actor, Action::OrganisationEditAll, Resource::Organisation(into)),
    );
    if !receive.is_allowed() {
        return receive;
    }
    let precondition = if from == into {
        Some(Precondition::DistinctOrganisations)
    } else if !world.organisation(into).is_some_and(|o| o.active) {
        Some(Precondition::OrganisationMustBeActive)
    } else {
        None
    };
    match precondition {
        Some(p) => Decision::Deny { reason: DenyReason::Precondition(p), conceal: false },
        None => merge,
    }
}

/// Decides CORE's move of `user` into the organisation `to` (the move screen): the one
/// decision for it, since `user.move_organisation` on the user alone does not know where
/// they go.
///
/// 1. `user.move_organisation` on the user (their rank, the guard, a role that cannot be
///    revoked, ...);
/// 2. the user is of a housing organisation: a company's users belong to companies
///    through their account's companies (Corterum's account form changes those), so for
///    CORE's move a company's user is not found ([`Precondition::HousingOnly`], as for
///    CORE's organisation actions on a company);
/// 3. `to` exists, is on the same side (a housing organisation: a move never crosses the
///    sides; a company is not found, [`Precondition::HousingOnly`] again) and is active;
/// 4. `user.invite` into `to` giving each of the user's roles (whoever moves a user
///    could have invited them there with their roles).
///
/// The world must hold the user (a snapshot for [`Resource::User`]) and `to`.
pub fn decide_move(world: &World, actor: UserId, user: UserId, to: OrgId) -> Decision {
    let moved =
        decide(world, &Request::new(actor, Action::UserMoveOrganisation, Resource::User(user)));
    if !moved.is_allowed() {
        return moved;
    }
    let Some(facts) = world.facts(user) else {
        return Decision::Deny { reason: DenyReason::NotFound, conceal: true };
    };
    let housing_only = DenyReason::Precondition(Precondition::HousingOnly);
    if facts.kind != OrganisationKind::Housing {
        return Decision::Deny { reason: housing_only, conceal: true };
    }
    let Some(into) = world.organisation(to) else {
        return Decision::Deny { reason: DenyReason::NotFound, conceal: true };
    };
    if into.kind != facts.kind {
        return Decision::Deny { reason: housing_only, conceal: true };
    }
    if !into.active {
        return Decision::Deny {
            reason: DenyReason::Precondition(Precondition::OrganisationMustBeActive),
            conceal: false,
        };
    }
    for role in actor_roles(world, facts) {
        let invite =
            Request::new(actor, Action::UserInvite, Resource::Organisation(to)).giving(role.id);
        let decision = decide(world, &invite);
        if !decision.is_allowed() {
            return decision;
        }
    }
    moved
}

/// Decides resending or withdrawing `user`'s open invitation (or reactivation link),
/// which gives `roles` (the role it carries, or a Corterum account's roles): whoever
/// could send it now may, while the account is active.
///
/// 1. `user.view` on the user (a denial conceals, as for any record out of reach);
/// 2. the user is active ([`Precondition::UserMustBeActive`]): deactivating an account
///    withdraws its links, and a link sent to it could never be accepted, so only
///    reactivating it sends a new one;
/// 3. `user.invite` into the user's organisation giving each of `roles`.
///
/// An invitation that gives no role is one nobody sends: not found. The world must hold
/// the user (a snapshot for [`Resource::User`]).
pub fn decide_invitation(world: &World, actor: UserId, user: UserId, roles: &[RoleId]) -> Decision {
    let view = decide(world, &Request::new(actor, Action::UserView, Resource::User(user)));
    if !view.is_allowed() {
        return view;
    }
    let Some(facts) = world.facts(user) else {
        return Decision::Deny { reason: DenyReason::NotFound, conceal: true };
    };
    if roles.is_empty() {
        return Decision::Deny { reason: DenyReason::NotFound, conceal: true };
    }
    if !facts.active {
        return Decision::Deny {
            reason: DenyReason::Precondition(Precondition::UserMustBeActive),
            conceal: false,
        };
    }
    let mut allowed = view;
    for role in roles {
        let invite =
            Request::new(actor, Action::UserInvite, Resource::Organisation(facts.organisation))
                .giving(*role);
        allowed = decide(world, &invite);
        if !allowed.is_allowed() {
            return allowed;
        }
    }
    allowed
}

/// The records of `action`'s resource kind that `actor`'s grants reach. See [`Scope`].
///
/// Corterum's kinds (entities, instances, features, groups, roles) have scopes of their
/// own: [`entity_scope`], [`instance_scope`] and [`company_scope`]; here they match
/// nothing.
pub fn scope(world: &World, actor_id: UserId, action: Action) -> Scope {
    let Ok(actor) = actor(world, actor_id) else { return Scope::nothing(actor_id) };
    let kind = action.resource_kind();
    let mut scope = Scope::nothing(actor_id);
    scope.kind = actor.side;
    if !action.is_core()
        || (actor.side != OrganisationKind::Housing
            && matches!(kind, ResourceKind::Log | ResourceKind::Service))
    {
        return scope;
    }
    let home = actor.user.organisation;
    for role in actor_roles(world, actor.user) {
        for (_, grant) in role.grants_for(action) {
            if !matches!(grant.only, Only::Any) {
                continue;
            }
            match (grant.reach, kind) {
                (Reach::Everything, _) => scope.everything = true,
                (_, ResourceKind::Service) | (Reach::Groups, _) => {}
                (Reach::Own, ResourceKind::Organisation) => scope.organisations.push(home),
                (Reach::Own, _) => scope.own = true,
                (Reach::Organisation, _) => scope.organisations.push(home),
                (Reach::ManagingAgents, _) => {
                    scope.organisations.push(home);
                    scope.organisations.extend_from_slice(&actor.org.managing_agents);
                }
                (Reach::Related, _) => {
                    scope.organisations.push(home);
                    scope.organisations.extend_from_slice(&actor.org.managing_agents);
                    scope.organisations.extend_from_slice(&actor.org.stock_owners);
                }
                (Reach::Companies, _) => scope.organisations.extend(same_side(world, &actor)),
            }
        }
    }
    if scope.everything {
        scope.organisations.clear();
        scope.own = false;
    } else {
        scope.organisations.sort_unstable();
        scope.organisations.dedup();
    }
    scope
}

/// The entities an actor's grants for a Corterum action reach, as data a storage adapter
/// can turn into a `WHERE` clause:
///
/// `everything`, or the entity is linked to one of `companies` and (it is `own`, or
/// `company_wide`, or it is in one of `groups`, "All People" holding every person).
///
/// For `entity.view` it agrees exactly with [`decide`]; [`instance_scope`] combines these
/// for a dataset.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EntityScope {
    /// The actor.
    pub actor: UserId,
    /// Every entity.
    pub everything: bool,
    /// The actor's companies, sorted: every other case needs one of them.
    pub companies: Vec<OrgId>,
    /// The actor's own entity, when a grant reaches it.
    pub own: Option<EntityId>,
    /// Every entity of the actor's companies.
    pub company_wide: bool,
    /// Members of these groups, sorted, without duplicates.
    pub groups: Vec<GroupId>,
}

impl EntityScope {
    /// A scope matching nothing.
    pub const fn nothing(actor: UserId) -> Self {
        Self {
            actor,
            everything: false,
            companies: Vec::new(),
            own: None,
            company_wide: false,
            groups: Vec::new(),
        }
    }

    /// Whether it matches nothing at all.
    pub fn is_nothing(&self) -> bool {
        !self.everything
            && (self.companies.is_empty()
                || (self.own.is_none() && !self.company_wide && self.groups.is_empty()))
    }

    /// Whether an entity of the world matches.
    pub fn matches(&self, world: &World, entity: EntityId) -> bool {
        world.entity_node(entity).is_some_and(|n| self.matches_node(n))
    }

    pub(crate) fn matches_node(&self, node: &EntityNode) -> bool {
        self.everything
            || (node.entity.in_any_company(&self.companies)
                && (self.own == Some(node.entity.id)
                    || self.company_wide
                    || in_groups(&self.groups, node)))
    }
}

/// The entities `actor`'s grants for a Corterum action reach, for one dataset (dataset
/// actions) or none (`entity.view`). Embedded tables are [`instance_scope`]'s business.
pub fn entity_scope(
    world: &World,
    actor_id: UserId,
    action: Action,
    dataset: Option<DatasetId>,
) -> EntityScope {
    let mut scope = EntityScope::nothing(actor_id);
    let Ok(actor) = actor(world, actor_id) else { return scope };
    let kind = action.resource_kind();
    if !matches!(kind, ResourceKind::Entity | ResourceKind::Instance) {
        return scope;
    }
    for role in actor_roles(world, actor.user) {
        for (_, grant) in role.grants_for(action) {
            let covers = match (kind, dataset) {
                (ResourceKind::Instance, Some(d)) => grant.only.dataset(d),
                (ResourceKind::Instance, None) => false,
                _ => matches!(grant.only, Only::Any),
            };
            if !covers {
                continue;
            }
            match grant.reach {
                Reach::Everything => scope.everything = true,
                Reach::Own => scope.own = scope.own.or(actor.entity),
                Reach::Organisation | Reach::ManagingAgents | Reach::Related | Reach::Companies => {
                    scope.company_wide = true;
                }
                Reach::Groups => scope.groups.extend_from_slice(&role.groups),
            }
        }
    }
    if scope.everything {
        scope.own = None;
        scope.company_wide = false;
        scope.groups.clear();
    } else {
        scope.companies = actor.companies.to_vec();
        scope.groups.sort_unstable();
        scope.groups.dedup();
    }
    scope
}

/// The instances of one dataset that an actor may take a dataset action on: entities
/// matching every scope in `all_of` (the table's, and for an embedded table the form's).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InstanceScope {
    /// The dataset.
    pub dataset: DatasetId,
    /// Scopes an entity must match, all of them.
    pub all_of: Vec<EntityScope>,
}

impl InstanceScope {
    /// Whether the instance about this entity matches.
    pub fn matches(&self, world: &World, entity: EntityId) -> bool {
        world.entity_node(entity).is_some_and(|n| self.all_of.iter().all(|s| s.matches_node(n)))
    }
}

/// The instances of `dataset` that `actor` reaches with a dataset action. Agrees exactly
/// with [`decide`] for `dataset.read` (and, with no stage-3 rule for datasets, for edit
/// and create too).
pub fn instance_scope(
    world: &World,
    actor: UserId,
    action: Action,
    dataset: DatasetId,
) -> InstanceScope {
    let mut all_of = Vec::new();
    if let Some(d) = world.dataset(dataset) {
        all_of.push(entity_scope(world, actor, action, Some(d.id)));
        if let Some(form) = d.embedded_in {
            all_of.push(entity_scope(world, actor, action, Some(form)));
        }
    } else {
        all_of.push(EntityScope::nothing(actor));
    }
    InstanceScope { dataset, all_of }
}

/// The companies `actor` works in with an administration feature, as a [`Scope`] of
/// organisations: every company when the grant opening the feature reaches everything
/// (Corterum's root administrator), the actor's own companies under any narrower reach,
/// and none without the feature. Always on the actor's side of the service (the scope's
/// `kind`): for a Corterum user, whose organisation is a company, only companies, so
/// "every company" never reaches a CORE housing organisation. Records they create or
/// change (entities, group members, user accounts) may be linked only to these
/// companies, and keep the links to others.
pub fn company_scope(world: &World, actor_id: UserId, feature: Feature) -> Scope {
    let mut scope = Scope::nothing(actor_id);
    let Ok(actor) = actor(world, actor_id) else { return scope };
    scope.kind = actor.side;
    let target = Target::Feature(feature);
    for role in actor_roles(world, actor.user) {
        for (_, grant) in role.grants_for(Action::FeatureUse) {
            if !reaches(&actor, role, grant, target) {
                continue;
            }
            if grant.reach == Reach::Everything {
                scope.everything = true;
                scope.organisations.clear();
                return scope;
            }
            scope.organisations.extend(same_side(world, &actor));
        }
    }
    scope.organisations.sort_unstable();
    scope.organisations.dedup();
    scope
}

/// Whether `actor` may create a Corterum company: Company Administration through a grant
/// that reaches everything (the root administrator), on the Corterum side. An
/// administrator of some companies edits them but adds none: a company they made would
/// be outside their own.
pub fn may_create_company(world: &World, actor: UserId) -> bool {
    let scope = company_scope(world, actor, Feature::CompanyAdministration);
    scope.everything && scope.kind == OrganisationKind::Company
}

/// The actor's companies on their side of the service (an organisation the world does
/// not hold is left out: deny by default).
fn same_side<'a>(world: &'a World, actor: &'a Actor<'_>) -> impl Iterator<Item = OrgId> + 'a {
    actor.companies.iter().copied().filter(move |c| world.kind_of(*c) == Some(actor.side))
}

fn actor(world: &World, id: UserId) -> Result<Actor<'_>, DenyReason> {
    let user = world.facts(id).ok_or(DenyReason::UnknownActor)?;
    if !user.active {
        return Err(DenyReason::ActorInactive);
    }
    if world.is_invited(id) {
        return Err(DenyReason::ActorInvited);
    }
    let org = world
        .node(user.organisation)
        .filter(|n| n.organisation.active)
        .ok_or(DenyReason::ActorOrganisationInactive)?;
    let (entity, companies) = match world.links_of(id) {
        Some(links) => (links.entity, links.companies.as_slice()),
        None => (None, std::slice::from_ref(&user.organisation)),
    };
    Ok(Actor { user, org, entity, companies, side: org.organisation.kind })
}

fn target(world: &World, resource: Resource) -> Option<Target<'_>> {
    Some(match resource {
        Resource::User(id) => Target::User(world.facts(id)?),
        Resource::Organisation(id) => Target::Organisation(world.organisation(id)?),
        Resource::Log(id) => Target::Log(world.log(id)?),
        Resource::Service => Target::Service,
        Resource::Entity(id) => Target::Entity(world.entity_node(id)?),
        Resource::Instance { dataset, entity } => {
            Target::Instance(world.dataset(dataset)?, world.entity_node(entity)?)
        }
        Resource::Feature(feature) => Target::Feature(feature),
        Resource::Group(id) => Target::Group(world.group(id)?),
        Resource::Role(id) => Target::Role(world.roles().get(id)?),
    })
}

/// The side of the service a user or an organisation is on (the resources roles are
/// given for); `None` for the others.
fn side_of(target: Target<'_>) -> Option<OrganisationKind> {
    match target {
        Target::User(user) => Some(user.kind),
        Target::Organisation(org) => Some(org.kind),
        Target::Log(_)
        | Target::Service
        | Target::Entity(_)
        | Target::Instance(..)
        | Target::Feature(_)
        | Target::Group(_)
        | Target::Role(_) => None,
    }
}

#[inline]
fn actor_roles<'w>(world: &'w World, user: &'w Facts) -> impl Iterator<Item = &'w Role> {
    user.roles.as_slice().iter().filter_map(|i| world.roles().at(*i))
}

/// Whether an organisation is within reach of the actor's organisation. The actor's own
/// lists of agents and owners are short (usually none to three), so scanning them beats
/// hashing into the world's edge set.
#[inline]
fn org_in_reach(actor: &Actor<'_>, reach: Reach, org: OrgId) -> bool {
    let home = actor.user.organisation;
    match reach {
        Reach::Everything => true,
        Reach::Groups => false,
        Reach::Own | Reach::Organisation => org == home,
        Reach::ManagingAgents => org == home || actor.org.managing_agents.contains(&org),
        Reach::Related => {
            org == home
                || actor.org.managing_agents.contains(&org)
                || actor.org.stock_owners.contains(&org)
        }
        Reach::Companies => actor.companies.binary_search(&org).is_ok(),
    }
}

#[inline]
fn reaches(actor: &Actor<'_>, role: &Role, grant: &Grant, target: Target<'_>) -> bool {
    let reach = grant.reach;
    let core = matches!(grant.only, Only::Any);
    match target {
        Target::Feature(feature) => return grant.only.feature(feature),
        Target::Entity(entity) => return core && entity_in_reach(actor, role, reach, entity),
        Target::Instance(dataset, entity) => {
            return grant.only.dataset(dataset.id) && entity_in_reach(actor, role, reach, entity);
        }
        // Account-wide: any reach covers them.
        Target::Group(_) | Target::Role(_) => return core,
        _ if !core => return false,
        _ => {}
    }
    // The sides stay apart: CORE's reach never covers a company, Corterum's never a
    // housing organisation; the service as a whole and its logs are CORE's.
    match target {
        Target::Service | Target::Log(_) if actor.side != OrganisationKind::Housing => {
            return false;
        }
        Target::User(user) if user.kind != actor.side => return false,
        Target::Organisation(org) if org.kind != actor.side => return false,
        _ => {}
    }
    match target {
        Target::Service => reach == Reach::Everything,
        Target::User(user) => match reach {
            Reach::Own => user.id == actor.user.id,
            _ => org_in_reach(actor, reach, user.organisation),
        },
        Target::Organisation(org) => org_in_reach(actor, reach, org.id),
        Target::Log(log) => match reach {
            Reach::Own => log.assigned_to == Some(actor.user.id),
            _ => {
                org_in_reach(actor, reach, log.owning_organisation)
                    || org_in_reach(actor, reach, log.managing_organisation)
            }
        },
        Target::Entity(_)
        | Target::Instance(..)
        | Target::Feature(_)
        | Target::Group(_)
        | Target::Role(_) => false,
    }
}

/// Whether an entity is within a Corterum reach: outside `Everything`, only entities
/// linked to one of the actor's companies; then the actor's own entity, any such entity
/// for the organisation reaches, or the members of the role's groups.
#[inline]
fn entity_in_reach(actor: &Actor<'_>, role: &Role, reach: Reach, node: &EntityNode) -> bool {
    if reach == Reach::Everything {
        return true;
    }
    if !node.entity.in_any_company(actor.companies) {
        return false;
    }
    match reach {
        Reach::Own => actor.entity == Some(node.entity.id),
        Reach::Organisation
        | Reach::ManagingAgents
        | Reach::Related
        | Reach::Companies
        | Reach::Everything => true,
        Reach::Groups => in_groups(&role.groups, node),
    }
}

/// Whether an entity is in any of these groups (sorted). Both lists are sorted; walk the
/// shorter and search the longer.
#[inline]
fn in_groups(groups: &[GroupId], node: &EntityNode) -> bool {
    if node.entity.kind == EntityKind::Person && groups.binary_search(&ALL_PEOPLE).is_ok() {
        return true;
    }
    if groups.len() <= node.groups.len() {
        groups.iter().any(|g| node.groups.binary_search(g).is_ok())
    } else {
        node.groups.iter().any(|g| groups.binary_search(g).is_ok())
    }
}

fn can_view(world: &World, actor: &Actor<'_>, target: Target<'_>) -> bool {
    let view = match target {
        Target::User(_) => Action::UserView,
        Target::Organisation(_) => Action::OrganisationView,
        Target::Log(_) => Action::LogView,
        Target::Entity(_) => Action::EntityView,
        Target::Instance(..) => Action::DatasetRead,
        // An area of the service one may not use does not exist for them: a denied
        // feature or service-wide action (creating organisations, every user, the audit
        // trail) is "not found", like a record out of reach.
        Target::Feature(_) | Target::Service => return false,
        Target::Group(_) | Target::Role(_) => return true,
    };
    actor_roles(world, actor.user).any(|role| {
        role.grants_for(view).any(|(_, grant): (usize, &Grant)| reaches(actor, role, grant, target))
    })
}

fn universal_rules(
    world: &World,
    actor: &Actor<'_>,
    action: Action,
    target: Target<'_>,
    giving: Option<&Role>,
) -> Option<DenyReason> {
    use Action::*;
    if let Some(given) = giving {
        if given.rank > actor.user.rank {
            return Some(DenyReason::RoleAboveOwn(given.id));
        }
    }
    match target {
        Target::User(user) => {
            let own = user.id == actor.user.id;
            match action {
                UserDeactivate | UserDelete | UserChangeRole if own => {
                    return Some(DenyReason::OwnAccount);
                }
                UserChangePassword if !own => return Some(DenyReason::OthersPassword),
                UserRemoveSecondFactor if own => {
                    if let Some(role) = second_factor_role(world, user) {
                        return Some(DenyReason::SecondFactorRequired(role));
                    }
                }
                _ => {}
            }
            let revokes = matches!(
                action,
                UserDeactivate | UserDelete | UserChangeRole | UserMoveOrganisation
            );
            if revokes && holds_irrevocable(world, user) {
                return Some(DenyReason::Irrevocable);
            }
            if action == UserChangeEmail && !own && user.rank >= actor.user.rank {
                return Some(DenyReason::TargetNotOutranked);
            }
            let manages = matches!(
                action,
                UserEditDetails
                    | UserSetFlags
                    | UserChangeRole
                    | UserDeactivate
                    | UserReactivate
                    | UserDelete
                    | UserMoveOrganisation
                    | UserRemoveSecondFactor
            );
            if manages && !own && user.rank > actor.user.rank {
                return Some(DenyReason::TargetOutranksActor);
            }
            // Looked up only for the actions that ask (a hash lookup in the organisations
            // table that user.edit_details and the rest do not need).
            let org_inactive = || !world.organisation(user.organisation).is_some_and(|o| o.active);
            let precondition = match action {
                UserDeactivate | UserChangeRole if !user.active => {
                    Some(Precondition::UserMustBeActive)
                }
                UserReactivate | UserDelete if user.active => {
                    Some(Precondition::UserMustBeDeactivated)
                }
                // A user of a deactivated organisation is already denied everything; the
                // organisation's reactivation restores them, not a change of the user's.
                UserDeactivate | UserReactivate | UserChangeRole if org_inactive() => {
                    Some(Precondition::OrganisationMustBeActive)
                }
                UserReactivate if user.roles.as_slice().is_empty() => {
                    Some(Precondition::UserMustHaveRole)
                }
                _ => None,
            };
            if let Some(p) = precondition {
                return Some(DenyReason::Precondition(p));
            }
            // Reactivating gives the user's roles back when they accept: never one of the
            // other side (data no engine decision made, such as a role given before
            // roles had sides).
            if action == UserReactivate {
                if let Some(role) = actor_roles(world, user).find(|r| r.side != user.kind) {
                    return Some(DenyReason::RoleOfOtherSide(role.id));
                }
            }
            let leaves_guard = match action {
                UserDeactivate | UserMoveOrganisation => true,
                UserChangeRole => giving.is_some_and(|g| Some(g.id) != world.roles().guarded()),
                _ => false,
            };
            if leaves_guard && is_last_guarded_holder(world, user) {
                return Some(DenyReason::LastGuardedHolder(user.organisation));
            }
            None
        }
        Target::Organisation(org) => {
            let precondition = match action {
                UserInvite | OrganisationDeactivate | OrganisationMerge if !org.active => {
                    Some(Precondition::OrganisationMustBeActive)
                }
                OrganisationReactivate if org.active => {
                    Some(Precondition::OrganisationMustBeDeactivated)
                }
                OrganisationMerge
                | OrganisationManageRelationships
                | OrganisationDeactivate
                | OrganisationReactivate
                | OrganisationEditAll
                    if org.is_company() =>
                {
                    Some(Precondition::HousingOnly)
                }
                _ => None,
            };
            if let Some(p) = precondition {
                return Some(DenyReason::Precondition(p));
            }
            if action == OrganisationDeactivate
                && (org.id == actor.user.organisation || actor.companies.contains(&org.id))
            {
                return Some(DenyReason::OwnOrganisation);
            }
            // Deactivating an organisation deactivates its users; merging it moves them:
            // neither where the holder of a role that cannot be revoked belongs. The
            // world's index of those holders is what every snapshot of the organisation
            // carries ([`World::irrevocable_holders`]), not the organisation's members,
            // which a snapshot for one organisation does not hold.
            if matches!(action, OrganisationDeactivate | OrganisationMerge)
                && !world.irrevocable_holders(org.id).is_empty()
            {
                return Some(DenyReason::Irrevocable);
            }
            None
        }
        Target::Group(group) => {
            (action == GroupEdit && group.id == ALL_PEOPLE).then_some(DenyReason::BuiltIn)
        }
        Target::Role(role) => {
            if action != RoleEdit {
                None
            } else if role.built_in {
                Some(DenyReason::BuiltIn)
            } else if world
                .roles()
                .index_of(role.id)
                .is_some_and(|i| actor.user.roles.as_slice().contains(&i))
            {
                Some(DenyReason::RoleHeld)
            } else {
                None
            }
        }
        Target::Log(_)
        | Target::Service
        | Target::Entity(_)
        | Target::Instance(..)
        | Target::Feature(_) => None,
    }
}

/// Whether the actor's companies (for the administration feature that edits the
/// resource) cover every company the resource's dependants are in: the holders of a role,
/// the members of a group ([`World::dependant_companies`]). "Every company" (the root
/// administrator) covers them all. Anything else is not covered: deny by default.
pub fn covers_dependants(world: &World, actor: UserId, resource: Resource) -> bool {
    let feature = match resource {
        Resource::Role(_) => Feature::RolesAdministration,
        Resource::Group(_) => Feature::GroupAdministration,
        _ => return false,
    };
    let scope = company_scope(world, actor, feature);
    if scope.everything {
        return true;
    }
    match world.dependant_companies(resource) {
        Some(companies) => companies.iter().all(|c| scope.covers_organisation(*c)),
        None => false,
    }
}

/// The first role the user holds that requires a second factor, if any (see
/// [`crate::second_factor`]).
pub(crate) fn second_factor_role(world: &World, user: &Facts) -> Option<RoleId> {
    actor_roles(world, user).find(|r| r.requires_second_factor).map(|r| r.id)
}

/// Whether the user holds a role whose rights cannot be revoked.
fn holds_irrevocable(world: &World, user: &Facts) -> bool {
    user.roles.as_slice().iter().filter_map(|i| world.roles().at(*i)).any(|r| r.irrevocable)
}

/// Whether the user is the only active holder of the guarded role in their organisation.
fn is_last_guarded_holder(world: &World, user: &Facts) -> bool {
    let Some(guarded) = world.roles().guarded().and_then(|g| world.roles().index_of(g)) else {
        return false;
    };
    user.active
        && user.roles.as_slice().contains(&guarded)
        && world.guarded_holders(user.organisation) <= 1
}

#[cfg(test)]
mod tests;
