//! Data-driven tests of relationships by consent.

use uuid::Uuid;

use crate::consent::{RelationshipEffect, RelationshipStep};
use crate::consent::{RelationshipEffect::*, RelationshipStep::*, decide_relationship};
use crate::engine::{Decision, DenyReason, Precondition};
use crate::id::{OrgId, RoleId, UserId};
use crate::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use crate::{Action, Email, Name, Organisation, Relationship, Request, Resource, User, World};

fn org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}
fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(100 + n))
}

const S: u128 = 1; // the service
const N: u128 = 2; // Northbridge: stock owner of R
const R: u128 = 3; // Riverside: managing agent of N
const E: u128 = 4; // Eastfield: unrelated
const P: u128 = 5; // Pending: asked by N to be its managing agent

const ADMIN: u128 = 1;
const N_COORD: u128 = 2;
const N_PROV: u128 = 3;
const R_COORD: u128 = 4;
const E_COORD: u128 = 5;
const P_COORD: u128 = 6;

fn rel(owner: u128, agent: u128) -> Relationship {
    Relationship { stock_owner: org(owner), managing_agent: org(agent) }
}

fn world() -> World {
    let mut w = World::new();
    for (n, name) in
        [(S, "Service"), (N, "Northbridge"), (R, "Riverside"), (E, "Eastfield"), (P, "Pending")]
    {
        w.insert_organisation(Organisation::new(org(n), Name::parse(name).unwrap())).unwrap();
    }
    w.add_relationship(rel(N, R)).unwrap();
    w.request_relationship(rel(N, P), org(N)).unwrap();
    let users: [(u128, u128, RoleId); 6] = [
        (ADMIN, S, ADMINISTRATOR),
        (N_COORD, N, DATA_COORDINATOR),
        (N_PROV, N, DATA_PROVIDER),
        (R_COORD, R, DATA_COORDINATOR),
        (E_COORD, E, DATA_COORDINATOR),
        (P_COORD, P, DATA_COORDINATOR),
    ];
    for (u, o, role) in users {
        let email = Email::parse(&format!("u{u}@example.com")).unwrap();
        w.upsert_user(User::new(
            user(u),
            Name::parse("Someone").unwrap(),
            email,
            org(o),
            vec![role],
        ))
        .unwrap();
    }
    w
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Does(RelationshipEffect),
    Forbidden(DenyReason),
    NotFound,
}
use Expect::*;

#[track_caller]
fn check(actor: u128, relationship: Relationship, step: RelationshipStep, expected: Expect) {
    let got = match decide_relationship(&world(), user(actor), relationship, step) {
        Ok(effect) => Does(effect),
        Err(Decision::Deny { conceal: true, .. }) => NotFound,
        Err(Decision::Deny { reason, conceal: false }) => Forbidden(reason),
        Err(allow) => panic!("a refusal must be a denial, got {allow:?}"),
    };
    assert_eq!(got, expected, "user {actor} {step:?} {relationship:?}");
}

#[test]
fn an_administrator_adds_at_once_and_answers_any_request() {
    check(ADMIN, rel(E, N), Add, Does(Added));
    check(ADMIN, rel(N, P), Accept, Does(Accepted { by: org(N) }));
    check(ADMIN, rel(N, P), Decline, Does(Declined { by: org(N) }));
    check(ADMIN, rel(N, R), Remove, Does(Removed));
}

#[test]
fn a_coordinators_add_is_a_request_from_their_end() {
    check(N_COORD, rel(N, E), Add, Does(Requested { by: org(N) }));
    check(N_COORD, rel(E, N), Add, Does(Requested { by: org(N) }));
}

#[test]
fn only_the_other_end_answers_a_request() {
    check(P_COORD, rel(N, P), Accept, Does(Accepted { by: org(N) }));
    check(P_COORD, rel(N, P), Decline, Does(Declined { by: org(N) }));
    check(N_COORD, rel(N, P), Accept, Forbidden(DenyReason::AwaitingConsent));
    check(N_COORD, rel(N, P), Decline, Forbidden(DenyReason::AwaitingConsent));
    // Adding what the other end asked for is agreeing to it.
    check(P_COORD, rel(N, P), Add, Does(Accepted { by: org(N) }));
}

#[test]
fn only_the_asking_end_withdraws() {
    check(N_COORD, rel(N, P), Withdraw, Does(Withdrawn { by: org(N) }));
    check(P_COORD, rel(N, P), Withdraw, Forbidden(DenyReason::NoGrant));
}

#[test]
fn answering_nothing_is_refused() {
    let none = Forbidden(DenyReason::Precondition(Precondition::RequestMustBePending));
    check(P_COORD, rel(E, P), Accept, none);
    check(N_COORD, rel(N, R), Withdraw, none);
}

#[test]
fn either_end_removes_at_once() {
    check(N_COORD, rel(N, R), Remove, Does(Removed));
    check(R_COORD, rel(N, R), Remove, Does(Removed));
}

#[test]
fn outsiders_and_providers_do_nothing() {
    // Eastfield's coordinator sees neither end of Northbridge -> Riverside.
    check(E_COORD, rel(N, R), Remove, NotFound);
    check(E_COORD, rel(N, P), Accept, NotFound);
    // A provider sees their organisation but manages no relationship.
    check(N_PROV, rel(N, E), Add, Forbidden(DenyReason::NoGrant));
    check(N_PROV, rel(N, R), Remove, Forbidden(DenyReason::NoGrant));
}

#[test]
fn a_request_widens_nothing_until_accepted() {
    let mut w = world();
    let sees_p = |w: &World| {
        w.decide(&Request::new(user(N_COORD), Action::UserView, Resource::User(user(P_COORD))))
            .is_allowed()
    };
    assert!(!sees_p(&w), "a pending request must not widen reach");
    assert_eq!(w.relationship_request(rel(N, P)), Some(org(N)));
    w.add_relationship(rel(N, P)).unwrap();
    assert!(sees_p(&w), "an accepted request makes the relationship");
    assert_eq!(w.relationship_request(rel(N, P)), None);
}

#[test]
fn a_second_request_for_the_same_relationship_is_refused() {
    let mut w = world();
    let err = w.request_relationship(rel(N, P), org(P)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a request to make `Northbridge` a stock owner of `Pending` is already waiting for an answer"
    );
    assert!(w.request_relationship(rel(N, R), org(N)).is_err(), "already in effect");
    assert!(w.remove_request(rel(N, E)).is_err());
    assert_eq!(w.remove_request(rel(N, P)), Ok(org(N)));
}
