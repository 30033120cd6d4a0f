//! Data-driven tests of the engine's CORE rules on a fixture world.

use uuid::Uuid;

use crate::action::Action::{self, *};
use crate::engine::{Decision, DenyReason, Precondition, Request, Resource};
use crate::id::{LogId, OrgId, RoleId, UserId};
use crate::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use crate::{Email, Log, Name, Organisation, Relationship, User, World};

/// What a caller should answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Allow,
    Forbidden,
    NotFound,
}
use Expect::*;

fn org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}
fn user(name: &str) -> UserId {
    let n = USERS.iter().position(|(k, ..)| *k == name).expect("fixture user") as u128;
    UserId::from_uuid(Uuid::from_u128(1000 + n))
}
fn log(n: u128) -> LogId {
    LogId::from_uuid(Uuid::from_u128(5000 + n))
}

const S: u128 = 1; // the service's own organisation (holds no stock)
const A: u128 = 2; // stock owner of B and E
const B: u128 = 3; // managing agent of A, stock owner of D
const D: u128 = 4; // managing agent of B only
const C: u128 = 5; // unrelated
const E: u128 = 6; // reciprocal with A
const X: u128 = 7; // deactivated

const USERS: &[(&str, u128, RoleId, bool)] = &[
    ("admin", S, ADMINISTRATOR, true),
    ("a_coord", A, DATA_COORDINATOR, true),
    ("a_coord2", A, DATA_COORDINATOR, true),
    ("a_prov", A, DATA_PROVIDER, true),
    ("a_gone", A, DATA_PROVIDER, false),
    ("a_admin", A, ADMINISTRATOR, true),
    ("b_coord", B, DATA_COORDINATOR, true),
    ("b_prov", B, DATA_PROVIDER, true),
    ("d_coord", D, DATA_COORDINATOR, true),
    ("d_prov", D, DATA_PROVIDER, true),
    ("c_coord", C, DATA_COORDINATOR, true),
    ("c_prov", C, DATA_PROVIDER, true),
    ("e_coord", E, DATA_COORDINATOR, true),
    ("x_coord", X, DATA_COORDINATOR, true),
    ("nobody", A, RoleId::from_uuid(Uuid::nil()), true),
];

const L_A: u128 = 1; // owned and managed by A, assigned to a_prov
const L_AB: u128 = 2; // owned by A, managed by B, assigned to b_prov
const L_BD: u128 = 3; // owned by B, managed by D
const L_C: u128 = 4; // owned and managed by C

fn world() -> World {
    let mut w = World::new();
    for (n, name) in [
        (S, "Service"),
        (A, "Alpha"),
        (B, "Beta"),
        (D, "Delta"),
        (C, "Gamma"),
        (E, "Echo"),
        (X, "Xray"),
    ] {
        let mut o = Organisation::new(org(n), Name::parse(name).unwrap());
        o.holds_stock = n != S;
        o.active = n != X;
        w.insert_organisation(o).unwrap();
    }
    for (p, c) in [(A, B), (B, D), (A, E), (E, A)] {
        w.add_relationship(Relationship { stock_owner: org(p), managing_agent: org(c) }).unwrap();
    }
    for (key, o, role, active) in USERS {
        let roles = if role.as_uuid().is_nil() { vec![] } else { vec![*role] };
        let email = Email::parse(&format!("{key}@example.com")).unwrap();
        let mut u = User::new(user(key), Name::parse(key).unwrap(), email, org(*o), roles);
        u.active = *active;
        w.upsert_user(u).unwrap();
    }
    for (n, owner, manager, assigned) in [
        (L_A, A, A, Some("a_prov")),
        (L_AB, A, B, Some("b_prov")),
        (L_BD, B, D, None),
        (L_C, C, C, None),
    ] {
        let assigned_to = assigned.map(user);
        w.upsert_log(Log {
            id: log(n),
            owning_organisation: org(owner),
            managing_organisation: org(manager),
            assigned_to,
            created_by: assigned_to,
        })
        .unwrap();
    }
    w
}

#[track_caller]
fn check(
    w: &World,
    actor: &str,
    action: Action,
    resource: Resource,
    role: Option<RoleId>,
    expected: Expect,
) {
    let mut request = Request::new(user(actor), action, resource);
    request.role = role;
    let decision = w.decide(&request);
    let got = match decision {
        Decision::Allow { .. } => Allow,
        Decision::Deny { conceal: true, .. } => NotFound,
        Decision::Deny { conceal: false, .. } => Forbidden,
    };
    assert_eq!(got, expected, "{actor} {action} {resource:?}: {}", decision.explain(w));
}

fn u(name: &str) -> Resource {
    Resource::User(user(name))
}
fn o(n: u128) -> Resource {
    Resource::Organisation(org(n))
}
fn l(n: u128) -> Resource {
    Resource::Log(log(n))
}

#[test]
fn viewing_users_reaches_direct_managing_agents_only() {
    let w = world();
    check(&w, "a_coord", UserView, u("a_prov"), None, Allow);
    check(&w, "a_coord", UserView, u("b_prov"), None, Allow);
    check(&w, "a_coord", UserView, u("d_prov"), None, NotFound);
    check(&w, "a_coord", UserView, u("c_prov"), None, NotFound);
    check(&w, "b_coord", UserView, u("a_coord"), None, NotFound);
    check(&w, "b_coord", UserView, u("d_prov"), None, Allow);
    check(&w, "a_prov", UserView, u("a_coord"), None, Allow);
    check(&w, "a_prov", UserView, u("b_prov"), None, NotFound);
    check(&w, "admin", UserView, u("c_prov"), None, Allow);
    check(&w, "admin", UserView, u("a_gone"), None, Allow);
    check(&w, "a_coord", UserView, u("a_gone"), None, Allow);
    // Reciprocal pairs: each is the other's managing agent, and nothing loops.
    check(&w, "a_coord", UserView, u("e_coord"), None, Allow);
    check(&w, "e_coord", UserView, u("a_prov"), None, Allow);
    check(&w, "e_coord", UserView, u("b_prov"), None, NotFound);
}

#[test]
fn deactivated_actors_and_organisations_get_nothing() {
    let w = world();
    check(&w, "a_gone", UserView, u("a_gone"), None, NotFound);
    check(&w, "a_gone", UserChangePassword, u("a_gone"), None, NotFound);
    check(&w, "x_coord", UserView, u("x_coord"), None, NotFound);
    check(&w, "x_coord", OrganisationView, o(X), None, NotFound);
    let d = w.decide(&Request::new(user("x_coord"), UserView, u("x_coord")));
    assert_eq!(d, Decision::Deny { reason: DenyReason::ActorOrganisationInactive, conceal: true });
    let d = w.decide(&Request::new(UserId::from_uuid(Uuid::from_u128(9)), UserView, u("a_prov")));
    assert_eq!(d, Decision::Deny { reason: DenyReason::UnknownActor, conceal: true });
}

#[test]
fn a_user_with_no_role_gets_nothing() {
    let w = world();
    check(&w, "nobody", UserView, u("nobody"), None, NotFound);
    check(&w, "nobody", OrganisationView, o(A), None, NotFound);
    check(&w, "nobody", UserChangePassword, u("nobody"), None, NotFound);
}

#[test]
fn managing_users() {
    let w = world();
    check(&w, "a_coord", UserDeactivate, u("a_prov"), None, Allow);
    check(&w, "a_coord", UserDeactivate, u("b_prov"), None, Allow);
    check(&w, "a_coord", UserDeactivate, u("a_coord"), None, Forbidden);
    check(&w, "admin", UserDeactivate, u("admin"), None, Forbidden);
    check(&w, "a_prov", UserDeactivate, u("a_coord"), None, Forbidden);
    check(&w, "a_coord", UserDeactivate, u("c_prov"), None, NotFound);
    check(&w, "a_coord", UserDeactivate, u("d_prov"), None, NotFound);
    check(&w, "a_coord", UserDeactivate, u("a_admin"), None, Forbidden);
    check(&w, "a_coord", UserEditDetails, u("a_admin"), None, Forbidden);
    check(&w, "admin", UserDeactivate, u("a_gone"), None, Forbidden);
    check(&w, "admin", UserDeactivate, u("a_coord"), None, Allow);
    check(&w, "a_coord", UserDelete, u("a_gone"), None, Allow);
    check(&w, "a_coord", UserDelete, u("a_prov"), None, Forbidden);
    check(&w, "a_coord", UserReactivate, u("a_gone"), None, Allow);
    check(&w, "a_coord", UserReactivate, u("a_prov"), None, Forbidden);
    check(&w, "a_prov", UserReactivate, u("a_gone"), None, Forbidden);
    check(&w, "a_coord", UserMoveOrganisation, u("a_prov"), None, Forbidden);
    check(&w, "admin", UserMoveOrganisation, u("a_prov"), None, Allow);
}

#[test]
fn organisations_keep_an_active_data_coordinator() {
    let w = world();
    let last = |actor: &str, action, target: &str, role| {
        let mut r = Request::new(user(actor), action, u(target));
        r.role = role;
        w.decide(&r)
    };
    let expected = Decision::Deny { reason: DenyReason::LastGuardedHolder(org(B)), conceal: false };
    assert_eq!(last("a_coord", UserDeactivate, "b_coord", None), expected);
    assert_eq!(last("admin", UserDeactivate, "b_coord", None), expected);
    assert_eq!(last("admin", UserChangeRole, "b_coord", Some(DATA_PROVIDER)), expected);
    assert_eq!(last("admin", UserMoveOrganisation, "b_coord", None), expected);
    assert!(last("admin", UserChangeRole, "b_coord", Some(DATA_COORDINATOR)).is_allowed());
    // Alpha has two coordinators, so either may go.
    assert!(last("admin", UserDeactivate, "a_coord", None).is_allowed());
    assert_eq!(
        last("admin", UserDeactivate, "b_coord", None).explain(&w).to_string(),
        "denied (forbidden): `Beta` must keep at least one active `Data coordinator`"
    );
}

#[test]
fn passwords_are_only_ever_ones_own() {
    let w = world();
    check(&w, "a_prov", UserChangePassword, u("a_prov"), None, Allow);
    check(&w, "admin", UserChangePassword, u("admin"), None, Allow);
    check(&w, "admin", UserChangePassword, u("a_prov"), None, Forbidden);
    check(&w, "a_coord", UserChangePassword, u("a_prov"), None, Forbidden);
    check(&w, "a_prov", UserEditDetails, u("a_prov"), None, Allow);
    check(&w, "a_prov", UserEditDetails, u("a_coord"), None, Forbidden);
    check(&w, "a_prov", UserSetFlags, u("a_prov"), None, Forbidden);
    check(&w, "a_coord", UserSetFlags, u("a_prov"), None, Allow);
    check(&w, "a_coord", UserEditDetails, u("b_prov"), None, Allow);
}

#[test]
fn nobody_gives_a_role_above_their_own() {
    let w = world();
    check(&w, "a_coord", UserChangeRole, u("a_prov"), Some(DATA_COORDINATOR), Allow);
    check(&w, "a_coord", UserChangeRole, u("a_prov"), Some(ADMINISTRATOR), Forbidden);
    check(&w, "a_coord", UserChangeRole, u("a_coord2"), Some(DATA_PROVIDER), Allow);
    check(&w, "a_coord", UserChangeRole, u("a_coord"), Some(DATA_PROVIDER), Forbidden);
    check(&w, "a_prov", UserChangeRole, u("a_prov"), Some(DATA_PROVIDER), Forbidden);
    check(&w, "a_coord", UserChangeRole, u("a_prov"), None, Forbidden);
    check(&w, "admin", UserChangeRole, u("a_prov"), Some(ADMINISTRATOR), Allow);
    check(&w, "a_coord", UserInvite, o(A), Some(DATA_PROVIDER), Allow);
    check(&w, "a_coord", UserInvite, o(B), Some(DATA_COORDINATOR), Allow);
    check(&w, "a_coord", UserInvite, o(D), Some(DATA_PROVIDER), NotFound);
    check(&w, "a_coord", UserInvite, o(C), Some(DATA_PROVIDER), NotFound);
    check(&w, "a_coord", UserInvite, o(A), Some(ADMINISTRATOR), Forbidden);
    check(&w, "a_prov", UserInvite, o(A), Some(DATA_PROVIDER), Forbidden);
    check(&w, "admin", UserInvite, o(C), Some(ADMINISTRATOR), Allow);
    check(&w, "admin", UserInvite, o(X), Some(DATA_PROVIDER), Forbidden);
    let d = w.decide(&Request::new(user("a_coord"), UserInvite, o(A)).giving(ADMINISTRATOR));
    assert_eq!(
        d,
        Decision::Deny { reason: DenyReason::RoleNotAssignable(ADMINISTRATOR), conceal: false }
    );
    let d = w.decide(&Request::new(user("a_coord"), UserInvite, o(A)));
    assert_eq!(d, Decision::Deny { reason: DenyReason::RoleMissing, conceal: false });
}

#[test]
fn organisations() {
    let w = world();
    check(&w, "a_prov", OrganisationView, o(A), None, Allow);
    check(&w, "a_prov", OrganisationView, o(B), None, Allow);
    check(&w, "a_prov", OrganisationView, o(E), None, Allow);
    check(&w, "a_prov", OrganisationView, o(D), None, NotFound);
    check(&w, "a_prov", OrganisationView, o(C), None, NotFound);
    check(&w, "b_prov", OrganisationView, o(A), None, Allow);
    check(&w, "b_prov", OrganisationView, o(D), None, Allow);
    check(&w, "a_coord", OrganisationEditDetails, o(A), None, Allow);
    check(&w, "a_coord", OrganisationEditDetails, o(B), None, Forbidden);
    check(&w, "a_prov", OrganisationEditDetails, o(A), None, Forbidden);
    check(&w, "a_coord", OrganisationEditAll, o(A), None, Forbidden);
    check(&w, "admin", OrganisationEditAll, o(A), None, Allow);
    check(&w, "a_coord", OrganisationListUsers, o(B), None, Allow);
    check(&w, "a_prov", OrganisationListUsers, o(A), None, Allow);
    check(&w, "a_prov", OrganisationListUsers, o(B), None, Forbidden);
    check(&w, "a_coord", OrganisationManageRelationships, o(A), None, Allow);
    check(&w, "a_coord", OrganisationManageRelationships, o(B), None, Forbidden);
    check(&w, "admin", OrganisationManageRelationships, o(C), None, Allow);
    check(&w, "admin", OrganisationDeactivate, o(A), None, Allow);
    check(&w, "admin", OrganisationDeactivate, o(X), None, Forbidden);
    check(&w, "a_coord", OrganisationDeactivate, o(A), None, Forbidden);
    check(&w, "admin", OrganisationReactivate, o(X), None, Allow);
    check(&w, "admin", OrganisationReactivate, o(A), None, Forbidden);
    check(&w, "admin", OrganisationMerge, o(C), None, Allow);
    check(&w, "a_coord", OrganisationMerge, o(A), None, Forbidden);
    check(&w, "admin", OrganisationCreate, Resource::Service, None, Allow);
    // A service-wide action one may not take is an area that does not exist for them.
    check(&w, "a_coord", OrganisationCreate, Resource::Service, None, NotFound);
    check(&w, "admin", UserListAll, Resource::Service, None, Allow);
    check(&w, "a_coord", OrganisationListAll, Resource::Service, None, NotFound);
}

#[test]
fn logs_belong_to_organisations() {
    let w = world();
    check(&w, "a_prov", LogView, l(L_AB), None, Allow);
    check(&w, "b_prov", LogView, l(L_AB), None, Allow);
    check(&w, "d_prov", LogView, l(L_BD), None, Allow);
    check(&w, "a_prov", LogView, l(L_BD), None, NotFound);
    check(&w, "a_coord", LogView, l(L_BD), None, NotFound);
    check(&w, "c_prov", LogView, l(L_AB), None, NotFound);
    check(&w, "admin", LogView, l(L_C), None, Allow);
    check(&w, "a_prov", LogEdit, l(L_AB), None, Allow);
    check(&w, "a_prov", LogDelete, l(L_A), None, Allow);
    check(&w, "a_prov", LogDelete, l(L_AB), None, Forbidden);
    check(&w, "b_prov", LogDelete, l(L_AB), None, Allow);
    check(&w, "a_coord", LogDelete, l(L_AB), None, Allow);
    check(&w, "a_coord", LogDelete, l(L_BD), None, NotFound);
}

#[test]
fn misdirected_and_missing_resources() {
    let w = world();
    let d = w.decide(&Request::new(user("admin"), UserView, l(L_A)));
    assert_eq!(
        d,
        Decision::Deny {
            reason: DenyReason::WrongResourceKind { expected: crate::ResourceKind::User },
            conceal: false
        }
    );
    check(
        &w,
        "admin",
        UserView,
        Resource::User(UserId::from_uuid(Uuid::from_u128(77))),
        None,
        NotFound,
    );
    check(
        &w,
        "admin",
        LogView,
        Resource::Log(LogId::from_uuid(Uuid::from_u128(77))),
        None,
        NotFound,
    );
}

#[test]
fn explanations() {
    let w = world();
    let explain = |actor: &str, action, resource, role: Option<RoleId>| {
        let mut r = Request::new(user(actor), action, resource);
        r.role = role;
        w.decide(&r).explain(&w).to_string()
    };
    assert_eq!(
        explain("a_coord", UserDeactivate, u("b_prov"), None),
        "allowed: role `Data coordinator` grants this over their organisation and its managing agents"
    );
    assert_eq!(
        explain("a_coord", UserView, u("d_prov"), None),
        "denied (not found): none of the actor's roles grants this action over this resource"
    );
    assert_eq!(
        explain("a_coord", UserDeactivate, u("a_coord"), None),
        "denied (forbidden): nobody can do this to their own account"
    );
    assert_eq!(
        explain("a_coord", UserInvite, o(A), Some(ADMINISTRATOR)),
        "denied (forbidden): the actor's roles cannot give role `Administrator` here"
    );
    assert_eq!(
        explain("a_coord", UserDelete, u("a_prov"), None),
        "denied (forbidden): the user must be deactivated first"
    );
    assert_eq!(
        w.decide(&Request::new(user("a_coord"), UserDelete, u("a_prov"))),
        Decision::Deny {
            reason: DenyReason::Precondition(Precondition::UserMustBeDeactivated),
            conceal: false
        }
    );
}

#[test]
fn scopes_agree_with_view_decisions() {
    let w = world();
    for (actor, ..) in USERS {
        let actor = user(actor);
        let users = w.scope(actor, UserView);
        for target in w.users() {
            let allowed =
                w.decide(&Request::new(actor, UserView, Resource::User(target.id))).is_allowed();
            assert_eq!(users.matches_user(target), allowed, "{actor} user {}", target.name);
        }
        let orgs = w.scope(actor, OrganisationView);
        for target in w.organisations() {
            let allowed = w
                .decide(&Request::new(actor, OrganisationView, Resource::Organisation(target.id)))
                .is_allowed();
            assert_eq!(orgs.matches_organisation(target), allowed, "{actor} org {}", target.name);
        }
        let logs = w.scope(actor, LogView);
        for target in w.logs() {
            let allowed =
                w.decide(&Request::new(actor, LogView, Resource::Log(target.id))).is_allowed();
            assert_eq!(logs.matches_log(target), allowed, "{actor} log {}", target.id);
        }
    }
}

#[test]
fn coordinator_scope_is_their_organisation_and_managing_agents() {
    let w = world();
    let scope = w.scope(user("a_coord"), UserDeactivate);
    let mut expected = vec![org(A), org(B), org(E)];
    expected.sort();
    assert_eq!(scope.organisations, expected);
    assert!(!scope.everything && !scope.own);
    assert!(w.scope(user("admin"), UserView).everything);
    assert!(w.scope(user("a_gone"), UserView).is_nothing());
    let provider_logs = w.scope(user("a_prov"), LogDelete);
    assert!(provider_logs.own && provider_logs.organisations.is_empty());
}

/// Attack F2: nobody deactivates the organisation they belong to (locking themselves out
/// with no way back), and CORE's organisation actions never target a company.
#[test]
fn nobody_deactivates_their_own_organisation_and_no_company_is_deactivated() {
    let mut w = world();
    check(&w, "a_admin", OrganisationDeactivate, o(A), None, Forbidden);
    check(&w, "admin", OrganisationDeactivate, o(S), None, Forbidden);
    check(&w, "admin", OrganisationDeactivate, o(A), None, Allow);
    let own = w.decide(&Request::new(user("admin"), OrganisationDeactivate, o(S)));
    assert_eq!(own, Decision::Deny { reason: DenyReason::OwnOrganisation, conceal: false });
    w.insert_organisation(crate::Organisation::company(org(80), Name::parse("FCA").unwrap()))
        .unwrap();
    for action in [OrganisationDeactivate, OrganisationEditAll, OrganisationMerge] {
        let d = crate::engine::decide(&w, &Request::new(user("admin"), action, o(80)));
        assert!(!d.is_allowed(), "{action}: {}", d.explain(&w));
    }
}
