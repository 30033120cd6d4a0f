//! Differential: every `Manage` and `Corterum` use case against the engine. On a random
//! world, for a random actor and target, the request(s) a use case must be gated by are
//! decided on the whole world before the call. When the engine denies, the service
//! refuses, with "not found" exactly when the denial conceals (else "forbidden"), and
//! the store is as it was. When the engine allows, the service may still refuse for a
//! reason about data (invalid, conflict, email in use, relationship), never "not found"
//! or "forbidden".
//!
//! Findings (the last three tests fail until they are fixed outside this crate):
//! - `Corterum` answers "not found" to any denied `feature.use` (its `require` maps every
//!   `Resource::Feature` denial to `NotFound`), where the engine forbids without
//!   concealing (`NoGrant`, `conceal: false`): `update_account`, `save_group`,
//!   `save_role`.
//! - `merge_organisation` into an organisation that does not exist answers "not found"
//!   (it loads both before asking) where `decide_merge` forbids an actor who may see but
//!   not merge the source.
//! - `change_relationship` with one end that does not exist answers "not found" where
//!   `decide_relationship` allows an actor who manages the other end (`Add` is
//!   `Requested`, `Remove` is `Removed`).

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use tenure_core::{
    AccountInput, ChangeStore, Corterum, CorterumPorts, CorterumStore, GroupInput, Invite, Manage,
    ManageError, ManagePolicy, ManagePorts, OrganisationInput, PersonInput, RelationshipRequest,
    Timestamp, UserChanges, Write,
};
use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{
    ALL_PEOPLE, Action, Content, DatasetKind, Decision, EntityKind, Feature, GroupId, OrgId,
    Relationship, RelationshipStep, Request, Resource, RoleForm, RoleId, UserId, World,
    decide_merge, decide_relationship,
};
use tenure_store_memory::MemoryDirectory;
use tenure_testkit::fakes::{
    CountingHasher, FixedClock, MemoryMailer, SequentialIds, SequentialSecrets,
};
use tenure_testkit::worlds;
use uuid::Uuid;

/// Cases per use case.
const CASES: u32 = 64;
/// Everyone's password, for changing one's own email address.
const PASSWORD: &str = "correct horse battery staple";
const CORE_ROLES: [RoleId; 3] = [ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER];
const STEPS: [RelationshipStep; 5] = [
    RelationshipStep::Add,
    RelationshipStep::Accept,
    RelationshipStep::Decline,
    RelationshipStep::Withdraw,
    RelationshipStep::Remove,
];
/// Ids nobody holds.
const MISSING: u128 = 0xdead_beef;

/// One generated case: a world's seed and indexes into its users, organisations and
/// whatever else a use case chooses from. An index past the end names a record that does
/// not exist.
#[derive(Clone, Debug)]
struct Input {
    seed: u64,
    actor: usize,
    target: usize,
    org: usize,
    other: usize,
    choice: usize,
    flag: bool,
}

fn input() -> impl Strategy<Value = Input> {
    (any::<u64>(), 0..11usize, 0..11usize, 0..5usize, 0..5usize, 0..64usize, any::<bool>())
        .prop_map(|(seed, actor, target, org, other, choice, flag)| Input {
            seed,
            actor,
            target,
            org,
            other,
            choice,
            flag,
        })
}

/// What the engine said of a case that passed.
enum Verdict {
    Allowed,
    Denied,
}

/// Both services over one memory store, with everyone's password set to [`PASSWORD`]
/// and every user given a username (so each is a Corterum account).
struct Services {
    store: Arc<MemoryDirectory>,
    manage: Manage,
    corterum: Corterum,
    mailer: Arc<MemoryMailer>,
}

async fn services(world: World) -> Services {
    let users: Vec<UserId> = world.users().map(|u| u.id).collect();
    let store = Arc::new(MemoryDirectory::new(world));
    let hasher = Arc::new(CountingHasher::with_cost(1));
    let clock = Arc::new(FixedClock::at(1_000_000));
    let ids = Arc::new(SequentialIds::default());
    let mailer = Arc::new(MemoryMailer::default());
    let mut writes = Vec::new();
    for (n, user) in users.into_iter().enumerate() {
        let links = store.update(|w| tenure_domain::UserLinks {
            entity: w.user_entity(user),
            companies: w.user_companies(user),
        });
        writes.push(Write::SetPassword { user, hash: Some(hasher.hash_of(PASSWORD)) });
        writes.push(Write::SetUserLinks {
            user,
            links: links.unwrap(),
            username: format!("account{n}"),
        });
    }
    store.apply(writes, Vec::new()).await.unwrap();
    let manage = Manage::new(
        ManagePorts {
            directory: store.clone(),
            changes: store.clone(),
            hasher,
            secrets: Arc::new(SequentialSecrets::default()),
            courier: tenure_testkit::fakes::courier(store.clone(), mailer.clone(), clock.clone()),
            clock: clock.clone(),
            ids: ids.clone(),
        },
        ManagePolicy::default(),
    );
    let corterum = Corterum::new(CorterumPorts {
        directory: store.clone(),
        changes: store.clone(),
        store: store.clone(),
        clock,
        ids,
    });
    Services { store, manage, corterum, mailer }
}

/// The whole world, as the engine's reference: the store's world with its pending
/// relationship requests.
async fn whole(s: &Services) -> World {
    let mut world = s.store.update(|w| w.clone()).unwrap();
    let orgs: Vec<OrgId> = world.organisations().map(|o| o.id).collect();
    for org in orgs {
        for r in s.store.relationship_requests(org).await.unwrap() {
            if world.relationship_request(r.relationship).is_none() {
                world.request_relationship(r.relationship, r.requested_by).unwrap();
            }
        }
    }
    world
}

/// Everything a refused use case must leave alone, as sorted lines: users and
/// organisations with their versions, relationships and requests, links, usernames,
/// entities, groups, roles, instance histories and mail.
async fn state(s: &Services) -> Vec<String> {
    let world = s.store.update(|w| w.clone()).unwrap();
    let mut out = Vec::new();
    for u in world.users() {
        out.push(format!("{:?}", ChangeStore::user(&*s.store, u.id).await.unwrap()));
        out.push(format!("{:?}", s.store.links_for_user(u.id).await.unwrap()));
        out.push(format!("{:?}", s.store.user_links(u.id).await.unwrap()));
    }
    for o in world.organisations() {
        out.push(format!("{:?}", s.store.organisation(o.id).await.unwrap()));
        out.push(format!("{:?}", s.store.relationship_requests(o.id).await.unwrap()));
    }
    out.extend(world.relationships().map(|r| format!("{r:?}")));
    out.extend(world.entities().map(|e| format!("{e:?}")));
    out.extend(world.groups().map(|g| format!("{g:?}")));
    out.extend(world.roles().iter().map(|r| format!("{r:?}")));
    for d in world.datasets() {
        for e in world.entities() {
            let history = s.store.history(d.id, e.id).await.unwrap();
            if !history.is_empty() {
                out.push(format!("{:?} {:?} {history:?}", d.id, e.id));
            }
        }
    }
    out.push(format!("mail: {}", s.mailer.sent().len()));
    out.sort();
    out
}

fn sorted_users(w: &World) -> Vec<UserId> {
    let mut ids: Vec<UserId> = w.users().map(|u| u.id).collect();
    ids.sort_unstable();
    ids
}

fn user_at(w: &World, i: usize) -> UserId {
    sorted_users(w).get(i).copied().unwrap_or_else(|| UserId::from_uuid(Uuid::from_u128(MISSING)))
}

fn org_at(w: &World, i: usize) -> OrgId {
    let mut ids: Vec<OrgId> = w.organisations().map(|o| o.id).collect();
    ids.sort_unstable();
    ids.get(i).copied().unwrap_or_else(|| OrgId::from_uuid(Uuid::from_u128(MISSING)))
}

async fn user_version(s: &Services, id: UserId) -> i64 {
    ChangeStore::user(&*s.store, id).await.unwrap().map_or(1, |u| u.version)
}

async fn org_version(s: &Services, id: OrgId) -> i64 {
    s.store.organisation(id).await.unwrap().map_or(1, |o| o.version)
}

/// Which records a case draws from: all (including ones that do not exist, and actors
/// the engine denies the feature), or only existing organisations and actors who may use
/// the use case's feature. The two together are the whole property; they are run apart
/// so a finding in one does not hide the other (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Draw {
    All,
    Existing,
}

/// An organisation; with [`Draw::Existing`], one the world holds.
fn org_drawn(w: &World, i: usize, draw: Draw) -> OrgId {
    let n = w.organisations().count().max(1);
    org_at(w, if draw == Draw::Existing { i % n } else { i })
}

/// An actor; with [`Draw::Existing`], one the engine lets use `feature` (a world where
/// nobody may is rejected, and another drawn).
fn actor_drawn(w: &World, i: usize, feature: Feature, draw: Draw) -> Result<UserId, TestCaseError> {
    if draw == Draw::All {
        return Ok(user_at(w, i));
    }
    let holders: Vec<UserId> = sorted_users(w)
        .into_iter()
        .filter(|u| {
            w.decide(&Request::new(*u, Action::FeatureUse, Resource::Feature(feature))).is_allowed()
        })
        .collect();
    if holders.is_empty() {
        return Err(TestCaseError::reject("nobody may use the feature"));
    }
    Ok(holders[i % holders.len()])
}

/// The first of `requests`, in the service's order, that the engine denies.
fn first_denial(world: &World, requests: &[Request]) -> Option<(Request, Decision)> {
    requests.iter().find_map(|r| {
        let d = world.decide(r);
        (!d.is_allowed()).then_some((*r, d))
    })
}

/// Holds the service's answer to what the engine said, and the store to what it was.
async fn judge<T: std::fmt::Debug>(
    s: &Services,
    denial: Option<(String, Decision)>,
    before: Vec<String>,
    got: Result<T, ManageError>,
) -> Result<Verdict, TestCaseError> {
    match denial {
        Some((request, decision)) => {
            let after = state(s).await;
            let engine = if decision.conceals() { "conceals" } else { "forbids" };
            match (&got, decision.conceals()) {
                (Err(ManageError::NotFound), true) | (Err(ManageError::Forbidden(_)), false) => {}
                _ => {
                    return Err(TestCaseError::fail(format!(
                        "the engine {engine} {request} ({decision:?}), the service answered {got:?}"
                    )));
                }
            }
            prop_assert!(before == after, "{request} was refused but the store changed");
            Ok(Verdict::Denied)
        }
        None => match got {
            Err(e @ (ManageError::NotFound | ManageError::Forbidden(_))) => {
                Err(TestCaseError::fail(format!(
                    "the engine allows every request, the service answered {e:?}"
                )))
            }
            _ => Ok(Verdict::Allowed),
        },
    }
}

/// Runs a use case's property on [`CASES`] inputs (the same ones on every run) and
/// checks it was not vacuous: some cases allowed, some denied.
fn differential<F, Fut>(name: &str, case: F)
where
    F: Fn(Input) -> Fut,
    Fut: Future<Output = Result<Verdict, TestCaseError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let config = Config { cases: CASES, failure_persistence: None, ..Config::default() };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let (allowed, denied) = (Cell::new(0), Cell::new(0));
    let result = runner.run(&input(), |i| {
        match runtime.block_on(case(i))? {
            Verdict::Allowed => allowed.set(allowed.get() + 1),
            Verdict::Denied => denied.set(denied.get() + 1),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let (allowed, denied) = (allowed.get(), denied.get());
    eprintln!("{name}: {allowed} allowed, {denied} denied");
    assert!(allowed > 0 && denied > 0, "{name}: {allowed} allowed, {denied} denied");
}

fn core_world(i: &Input) -> World {
    worlds::random(i.seed, 4, 10, 0)
}

fn corterum_world(i: &Input) -> World {
    worlds::random_corterum(i.seed, 3, 8, 8)
}

/// Runs one gated call: the engine on the whole world first, then the service.
macro_rules! gated {
    ($s:expr, $world:expr, $requests:expr, $call:expr) => {{
        let requests: Vec<Request> = $requests;
        let denial = first_denial(&$world, &requests).map(|(r, d)| (format!("{r:?}"), d));
        let before = state(&$s).await;
        let got = $call.await;
        judge(&$s, denial, before, got).await
    }};
}

// Manage.

async fn invite(i: Input) -> Result<Verdict, TestCaseError> {
    let s = services(core_world(&i)).await;
    let world = whole(&s).await;
    let actor = user_at(&world, i.actor);
    let org = org_at(&world, i.org);
    let role = CORE_ROLES[i.choice % 3];
    let invite = Invite {
        person: PersonInput {
            name: "New Person".to_owned(),
            email: "new.person@example.com".to_owned(),
            telephone: String::new(),
        },
        organisation: org,
        role,
    };
    let gate =
        vec![Request::new(actor, Action::UserInvite, Resource::Organisation(org)).giving(role)];
    gated!(s, world, gate, s.manage.invite(actor, &invite))
}

/// What `edit_user` changes.
#[derive(Clone, Copy)]
enum Edit {
    Name,
    Email,
    Role,
    Flags,
}

async fn edit_user(i: Input, edit: Edit) -> Result<Verdict, TestCaseError> {
    let s = services(core_world(&i)).await;
    let world = whole(&s).await;
    let actor = user_at(&world, i.actor);
    let target = user_at(&world, i.target);
    let resource = Resource::User(target);
    let current = world.user(target).cloned();
    let mut gate = vec![Request::new(actor, Action::UserView, resource)];
    let mut changes = UserChanges::default();
    match edit {
        Edit::Name => {
            changes.name = Some("Changed Name".to_owned());
            gate.push(Request::new(actor, Action::UserEditDetails, resource));
        }
        Edit::Email => {
            changes.email = Some("changed.address@example.com".to_owned());
            if actor == target {
                changes.current_password = Some(PASSWORD.to_owned());
            }
            gate.push(Request::new(actor, Action::UserChangeEmail, resource));
        }
        Edit::Role => {
            let role = CORE_ROLES[i.choice % 3];
            changes.role = Some(role);
            // Giving a role the user holds changes nothing and asks nothing more.
            if current.as_ref().is_none_or(|u| !u.roles.contains(&role)) {
                gate.push(Request::new(actor, Action::UserChangeRole, resource).giving(role));
            }
        }
        Edit::Flags => {
            changes.data_protection_officer =
                Some(!current.as_ref().is_some_and(|u| u.data_protection_officer));
            gate.push(Request::new(actor, Action::UserSetFlags, resource));
        }
    }
    let version = user_version(&s, target).await;
    gated!(s, world, gate, s.manage.edit_user(actor, target, version, &changes))
}

async fn move_user(i: Input) -> Result<Verdict, TestCaseError> {
    let s = services(core_world(&i)).await;
    let world = whole(&s).await;
    let actor = user_at(&world, i.actor);
    let target = user_at(&world, i.target);
    let to = org_at(&world, i.org);
    let mut gate = vec![Request::new(actor, Action::UserMoveOrganisation, Resource::User(target))];
    for role in world.user(target).map(|u| u.roles.clone()).unwrap_or_default() {
        gate.push(Request::new(actor, Action::UserInvite, Resource::Organisation(to)).giving(role));
    }
    let version = user_version(&s, target).await;
    gated!(s, world, gate, s.manage.move_user(actor, target, version, to))
}

async fn lifecycle(i: Input, action: Action) -> Result<Verdict, TestCaseError> {
    let s = services(core_world(&i)).await;
    let world = whole(&s).await;
    let actor = user_at(&world, i.actor);
    // Half the time a deactivated user, whom only reactivating and deleting apply to.
    let mut inactive: Vec<UserId> = world.users().filter(|u| !u.active).map(|u| u.id).collect();
    inactive.sort_unstable();
    let target = if i.flag && !inactive.is_empty() {
        inactive[i.target % inactive.len()]
    } else {
        user_at(&world, i.target)
    };
    let gate = vec![Request::new(actor, action, Resource::User(target))];
    let version = user_version(&s, target).await;
    let call = async {
        match action {
            Action::UserDeactivate => s.manage.deactivate_user(actor, target, version).await,
            Action::UserReactivate => s.manage.reactivate_user(actor, target, version).await,
            _ => s.manage.delete_user(actor, target, version).await,
        }
    };
    gated!(s, world, gate, call)
}

async fn create_organisation(i: Input) -> Result<Verdict, TestCaseError> {
    let s = services(core_world(&i)).await;
    let world = whole(&s).await;
    let actor = user_at(&world, i.actor);
    let input = OrganisationInput { name: "New Organisation".to_owned(), ..Default::default() };
    let gate = vec![Request::new(actor, Action::OrganisationCreate, Resource::Service)];
    gated!(s, world, gate, s.manage.create_organisation(actor, &input))
}

async fn edit_organisation(i: Input) -> Result<Verdict, TestCaseError> {
    let s = services(core_world(&i)).await;
    let world = whole(&s).await;
    let actor = user_at(&world, i.actor);
    let org = org_at(&world, i.org);
    let resource = Resource::Organisation(org);
    let mut input =
        world.organisation(org).map_or_else(OrganisationInput::default, |o| OrganisationInput {
            name: o.name.to_string(),
            address: o.address.clone().unwrap_or_default(),
            telephone: o.telephone.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default(),
            provider_type: o.provider_type,
            registration_number: o.registration_number.clone().unwrap_or_default(),
            holds_stock: o.holds_stock,
        });
    // Details only (`edit_details`), or what only `edit_all` changes.
    let action = if i.flag {
        input.name = "Renamed Organisation".to_owned();
        Action::OrganisationEditDetails
    } else {
        input.holds_stock = !input.holds_stock;
        Action::OrganisationEditAll
    };
    let gate = vec![
        Request::new(actor, Action::OrganisationView, resource),
        Request::new(actor, action, resource),
    ];
    let version = org_version(&s, org).await;
    gated!(s, world, gate, s.manage.edit_organisation(actor, org, version, &input))
}

async fn organisation_active(i: Input, active: bool) -> Result<Verdict, TestCaseError> {
    let s = services(core_world(&i)).await;
    let world = whole(&s).await;
    let actor = user_at(&world, i.actor);
    // Half the time an administrator, on an organisation in the other state.
    let admin = sorted_users(&world)
        .into_iter()
        .find(|u| world.user(*u).is_some_and(|u| u.active && u.roles.contains(&ADMINISTRATOR)));
    let (actor, org) = match (i.flag, admin) {
        (true, Some(admin)) => {
            let mut others: Vec<OrgId> =
                world.organisations().filter(|o| o.active != active).map(|o| o.id).collect();
            others.sort_unstable();
            let org = others.get(i.org % others.len().max(1)).copied();
            (admin, org.unwrap_or_else(|| org_at(&world, i.org)))
        }
        _ => (actor, org_at(&world, i.org)),
    };
    let action =
        if active { Action::OrganisationReactivate } else { Action::OrganisationDeactivate };
    let gate = vec![Request::new(actor, action, Resource::Organisation(org))];
    let version = org_version(&s, org).await;
    let call = async {
        if active {
            s.manage.reactivate_organisation(actor, org, version).await
        } else {
            s.manage.deactivate_organisation(actor, org, version).await
        }
    };
    gated!(s, world, gate, call)
}

async fn merge_organisation(i: Input, draw: Draw) -> Result<Verdict, TestCaseError> {
    let s = services(core_world(&i)).await;
    let world = whole(&s).await;
    let actor = user_at(&world, i.actor);
    let (from, into) = (org_drawn(&world, i.org, draw), org_drawn(&world, i.other, draw));
    let decision = decide_merge(&world, actor, from, into);
    let denial = (!decision.is_allowed())
        .then(|| (format!("decide_merge({actor}, {from} into {into})"), decision));
    let before = state(&s).await;
    let version = org_version(&s, from).await;
    let got = s.manage.merge_organisation(actor, from, version, into).await;
    judge(&s, denial, before, got).await
}

async fn change_relationship(i: Input, draw: Draw) -> Result<Verdict, TestCaseError> {
    let s = services(core_world(&i)).await;
    let mut world = whole(&s).await;
    let actor = user_at(&world, i.actor);
    let rel = Relationship {
        stock_owner: org_drawn(&world, i.org, draw),
        managing_agent: org_drawn(&world, i.other, draw),
    };
    let step = STEPS[i.choice % STEPS.len()];
    // Half the time, a pending request from one end or the other.
    let both = world.organisation(rel.stock_owner).is_some()
        && world.organisation(rel.managing_agent).is_some();
    if i.flag && both && rel.stock_owner != rel.managing_agent {
        let by = if i.choice / STEPS.len() % 2 == 0 { rel.stock_owner } else { rel.managing_agent };
        let request =
            RelationshipRequest { relationship: rel, requested_by: by, requested_at: Timestamp(0) };
        // Only a request the world would hold (an owner without stock cannot ask).
        let mut probe = world.clone();
        if probe.request_relationship(rel, by).is_ok()
            && s.store.apply(vec![Write::RequestRelationship(request)], Vec::new()).await.is_ok()
        {
            world = whole(&s).await;
        }
    }
    let denial = decide_relationship(&world, actor, rel, step)
        .err()
        .map(|d| (format!("decide_relationship({actor}, {rel:?}, {step:?})"), d));
    let before = state(&s).await;
    let got = s.manage.change_relationship(actor, rel, step).await;
    judge(&s, denial, before, got).await
}

// Corterum.

async fn update_account(i: Input, draw: Draw) -> Result<Verdict, TestCaseError> {
    let s = services(corterum_world(&i)).await;
    let world = whole(&s).await;
    let actor = actor_drawn(&world, i.actor, Feature::UserAdministration, draw)?;
    let target = user_at(&world, i.target);
    let resource = Resource::User(target);
    let mut assignable: Vec<RoleId> = tenure_domain::role::builtin::assignable_corterum_roles()
        .into_iter()
        .map(|r| r.id)
        .chain(world.roles().iter().filter(|r| !r.built_in).map(|r| r.id))
        .collect();
    assignable.sort_unstable();
    let roles = vec![assignable[i.choice % assignable.len()]];
    // Companies the actor administers users in: one, or all of them.
    let mine = world.company_scope(actor, Feature::UserAdministration);
    let mut all: Vec<OrgId> = world.organisations().map(|o| o.id).collect();
    all.sort_unstable();
    let mine_list: Vec<OrgId> =
        all.iter().copied().filter(|o| mine.covers_organisation(*o)).collect();
    let companies = if mine_list.is_empty() {
        vec![org_at(&world, i.org)]
    } else if i.flag {
        mine_list.clone()
    } else {
        vec![mine_list[i.org % mine_list.len()]]
    };
    let account = AccountInput {
        username: "edited".to_owned(),
        email: "edited@example.com".to_owned(),
        entity: None,
        roles: roles.clone(),
        companies: companies.clone(),
    };
    let mut gate = vec![
        Request::new(actor, Action::FeatureUse, Resource::Feature(Feature::UserAdministration)),
        Request::new(actor, Action::UserView, resource),
    ];
    // The form's fields are checked before the roles are decided; a form the service
    // refuses as invalid asks nothing more.
    if !mine_list.is_empty() {
        for role in &roles {
            gate.push(Request::new(actor, Action::UserChangeRole, resource).giving(*role));
        }
        if let Some(u) = world.user(target) {
            let mut kept: Vec<OrgId> = world
                .user_companies(target)
                .into_iter()
                .filter(|c| !mine.covers_organisation(*c))
                .collect();
            kept.extend_from_slice(&companies);
            if !kept.contains(&u.organisation) {
                gate.push(Request::new(actor, Action::UserMoveOrganisation, resource));
            }
        }
    }
    let version = user_version(&s, target).await;
    gated!(s, world, gate, s.corterum.update_account(actor, target, version, &account))
}

async fn save_group(i: Input, draw: Draw) -> Result<Verdict, TestCaseError> {
    let s = services(corterum_world(&i)).await;
    let world = whole(&s).await;
    let actor = actor_drawn(&world, i.actor, Feature::GroupAdministration, draw)?;
    let mut groups: Vec<GroupId> = world.groups().map(|g| g.id).collect();
    groups.sort_unstable();
    groups.push(GroupId::from_uuid(Uuid::from_u128(MISSING)));
    // A new group a quarter of the time, else one of the world's (or a missing one).
    let id = (i.choice % 4 != 0).then(|| groups[i.choice % groups.len()]);
    let mut entities: Vec<_> = world.entities().filter(|e| e.kind == EntityKind::Person).collect();
    entities.sort_by_key(|e| e.id);
    let members = if i.flag { Vec::new() } else { entities.iter().take(2).map(|e| e.id).collect() };
    let input = GroupInput {
        name: "Saved group".to_owned(),
        description: "Made by the differential test".to_owned(),
        kind: Some(EntityKind::Person),
        members,
    };
    let feature =
        Request::new(actor, Action::FeatureUse, Resource::Feature(Feature::GroupAdministration));
    let gate = match id {
        Some(g) => vec![feature, Request::new(actor, Action::GroupEdit, Resource::Group(g))],
        None => vec![feature],
    };
    gated!(s, world, gate, s.corterum.save_group(actor, id, &input))
}

async fn save_role(i: Input, draw: Draw) -> Result<Verdict, TestCaseError> {
    let s = services(corterum_world(&i)).await;
    let world = whole(&s).await;
    let actor = actor_drawn(&world, i.actor, Feature::RolesAdministration, draw)?;
    let mut roles: Vec<RoleId> = world.roles().iter().map(|r| r.id).collect();
    roles.sort_unstable();
    roles.push(RoleId::from_uuid(Uuid::from_u128(MISSING)));
    let id = (i.choice % 4 != 0).then(|| roles[i.choice % roles.len()]);
    let form = RoleForm {
        name: "Saved role".to_owned(),
        description: "Made by the differential test".to_owned(),
        groups: if i.flag { vec![ALL_PEOPLE] } else { Vec::new() },
        ..RoleForm::default()
    };
    let feature =
        Request::new(actor, Action::FeatureUse, Resource::Feature(Feature::RolesAdministration));
    let gate = match id {
        Some(r) => vec![feature, Request::new(actor, Action::RoleEdit, Resource::Role(r))],
        None => vec![feature],
    };
    gated!(s, world, gate, s.corterum.save_role(actor, id, form))
}

async fn save_instance(i: Input) -> Result<Verdict, TestCaseError> {
    let s = services(corterum_world(&i)).await;
    let world = whole(&s).await;
    let actor = user_at(&world, i.actor);
    let mut datasets: Vec<_> = world.datasets().collect();
    datasets.sort_by_key(|d| d.id);
    let dataset = datasets[i.choice % datasets.len()];
    let mut entities: Vec<_> = world.entities().map(|e| e.id).collect();
    entities.sort_unstable();
    let entity = entities
        .get(i.target)
        .copied()
        .unwrap_or_else(|| tenure_domain::EntityId::from_uuid(Uuid::from_u128(MISSING)));
    let record: std::collections::BTreeMap<String, String> =
        dataset.fields.iter().take(1).map(|(k, _)| (k.clone(), "x".to_owned())).collect();
    let content = match dataset.kind {
        DatasetKind::Form => Content::Form(record),
        DatasetKind::Table => Content::Table(vec![record]),
    };
    let based_on = u32::from(!i.flag);
    let resource = Resource::Instance { dataset: dataset.id, entity };
    let save = if based_on == 0 { Action::DatasetCreate } else { Action::DatasetEdit };
    let gate = vec![
        Request::new(actor, Action::DatasetRead, resource),
        Request::new(actor, save, resource),
    ];
    let id = dataset.id;
    gated!(s, world, gate, s.corterum.save_instance(actor, id, entity, based_on, content))
}

#[test]
fn invite_refuses_as_the_engine_decides() {
    differential("invite", invite);
}

#[test]
fn edit_user_name_refuses_as_the_engine_decides() {
    differential("edit_user (name)", |i| edit_user(i, Edit::Name));
}

#[test]
fn edit_user_email_refuses_as_the_engine_decides() {
    differential("edit_user (email)", |i| edit_user(i, Edit::Email));
}

#[test]
fn edit_user_role_refuses_as_the_engine_decides() {
    differential("edit_user (role)", |i| edit_user(i, Edit::Role));
}

#[test]
fn edit_user_flags_refuses_as_the_engine_decides() {
    differential("edit_user (flags)", |i| edit_user(i, Edit::Flags));
}

#[test]
fn move_user_refuses_as_the_engine_decides() {
    differential("move_user", move_user);
}

#[test]
fn deactivate_user_refuses_as_the_engine_decides() {
    differential("deactivate_user", |i| lifecycle(i, Action::UserDeactivate));
}

#[test]
fn reactivate_user_refuses_as_the_engine_decides() {
    differential("reactivate_user", |i| lifecycle(i, Action::UserReactivate));
}

#[test]
fn delete_user_refuses_as_the_engine_decides() {
    differential("delete_user", |i| lifecycle(i, Action::UserDelete));
}

#[test]
fn create_organisation_refuses_as_the_engine_decides() {
    differential("create_organisation", create_organisation);
}

#[test]
fn edit_organisation_refuses_as_the_engine_decides() {
    differential("edit_organisation", edit_organisation);
}

#[test]
fn deactivate_organisation_refuses_as_the_engine_decides() {
    differential("deactivate_organisation", |i| organisation_active(i, false));
}

#[test]
fn reactivate_organisation_refuses_as_the_engine_decides() {
    differential("reactivate_organisation", |i| organisation_active(i, true));
}

#[test]
fn merge_organisation_refuses_as_the_engine_decides() {
    differential("merge_organisation", |i| merge_organisation(i, Draw::Existing));
}

#[test]
fn change_relationship_refuses_as_the_engine_decides() {
    differential("change_relationship", |i| change_relationship(i, Draw::Existing));
}

#[test]
fn update_account_refuses_as_the_engine_decides() {
    differential("update_account", |i| update_account(i, Draw::Existing));
}

#[test]
fn save_group_refuses_as_the_engine_decides() {
    differential("save_group", |i| save_group(i, Draw::Existing));
}

#[test]
fn save_role_refuses_as_the_engine_decides() {
    differential("save_role", |i| save_role(i, Draw::Existing));
}

#[test]
fn save_instance_refuses_as_the_engine_decides() {
    differential("save_instance", save_instance);
}

// Findings: the same property on the draws the tests above leave out. These fail on
// main as it stands (see the module docs); the cause is outside this crate.

#[test]
fn corterum_refuses_a_feature_as_the_engine_decides() {
    differential("update_account (any actor)", |i| update_account(i, Draw::All));
    differential("save_group (any actor)", |i| save_group(i, Draw::All));
    differential("save_role (any actor)", |i| save_role(i, Draw::All));
}

#[test]
fn merge_organisation_with_a_missing_organisation_refuses_as_the_engine_decides() {
    differential("merge_organisation (any organisation)", |i| merge_organisation(i, Draw::All));
}

#[test]
fn change_relationship_with_a_missing_end_refuses_as_the_engine_decides() {
    differential("change_relationship (any organisation)", |i| change_relationship(i, Draw::All));
}
