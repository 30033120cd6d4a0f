//! Tests of the world's invariants: relationships, users and the guard count.

use uuid::Uuid;

use crate::role::builtin::{DATA_COORDINATOR, DATA_PROVIDER};
use crate::{
    Email, Name, OrgId, Organisation, Relationship, RelationshipError, User, UserId, World,
    WorldError,
};

fn org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}

fn world() -> World {
    let mut w = World::new();
    for (n, name, stock) in [(1, "Alpha", true), (2, "Beta", true), (3, "Agent Only", false)] {
        let mut o = Organisation::new(org(n), Name::parse(name).unwrap());
        o.holds_stock = stock;
        w.insert_organisation(o).unwrap();
    }
    w
}

fn rel(p: u128, c: u128) -> Relationship {
    Relationship { stock_owner: org(p), managing_agent: org(c) }
}

#[track_caller]
#[expect(
    clippy::needless_pass_by_value,
    reason = "check tables read better with owned expectations"
)]
fn check_add(w: &mut World, r: Relationship, expected: Result<(), RelationshipError>) {
    let before: Vec<_> = w.relationships().copied().collect();
    let got = w.add_relationship(r);
    let refused = got.is_err();
    assert_eq!(got, expected);
    if refused {
        let after: Vec<_> = w.relationships().copied().collect();
        assert_eq!(before, after, "a refused change leaves the world as it was");
    }
}

#[test]
fn relationships() {
    let mut w = world();
    check_add(&mut w, rel(1, 2), Ok(()));
    check_add(&mut w, rel(2, 1), Ok(()));
    check_add(&mut w, rel(1, 3), Ok(()));
    check_add(&mut w, rel(1, 1), Err(RelationshipError::SelfRelationship));
    check_add(
        &mut w,
        rel(1, 2),
        Err(RelationshipError::Duplicate {
            stock_owner: "Alpha".into(),
            managing_agent: "Beta".into(),
        }),
    );
    check_add(&mut w, rel(3, 1), Err(RelationshipError::DoesNotHoldStock("Agent Only".into())));
    check_add(&mut w, rel(1, 9), Err(RelationshipError::UnknownOrganisation(org(9))));
    assert_eq!(w.managing_agents(org(1)), &[org(2), org(3)]);
    assert_eq!(w.stock_owners(org(1)), &[org(2)]);
    w.remove_relationship(rel(1, 2)).unwrap();
    assert_eq!(w.managing_agents(org(1)), &[org(3)]);
    assert_eq!(w.stock_owners(org(2)), &[] as &[OrgId]);
    assert_eq!(
        w.remove_relationship(rel(1, 2)),
        Err(RelationshipError::NotFound {
            stock_owner: "Alpha".into(),
            managing_agent: "Beta".into()
        })
    );
    assert_eq!(
        RelationshipError::DoesNotHoldStock("Agent Only".into()).to_string(),
        "`Agent Only` does not hold its own stock, so it cannot be a stock owner"
    );
}

#[test]
fn users_and_the_guard_count() {
    let mut w = world();
    let id = |n| UserId::from_uuid(Uuid::from_u128(n));
    let mk = |n, email: &str, role| {
        User::new(
            id(n),
            Name::parse("P").unwrap(),
            Email::parse(email).unwrap(),
            org(1),
            vec![role],
        )
    };
    w.upsert_user(mk(10, "a@x.org", DATA_COORDINATOR)).unwrap();
    w.upsert_user(mk(11, "b@x.org", DATA_COORDINATOR)).unwrap();
    assert_eq!(w.guarded_holders(org(1)), 2);
    assert_eq!(
        w.upsert_user(mk(12, "A@X.org", DATA_PROVIDER)),
        Err(WorldError::EmailInUse("a@x.org".into()))
    );
    let mut demoted = mk(11, "b@x.org", DATA_PROVIDER);
    w.upsert_user(demoted.clone()).unwrap();
    assert_eq!(w.guarded_holders(org(1)), 1);
    demoted.roles = vec![DATA_COORDINATOR];
    demoted.active = false;
    w.upsert_user(demoted).unwrap();
    assert_eq!(w.guarded_holders(org(1)), 1, "inactive holders do not count");
    w.remove_user(id(10)).unwrap();
    assert_eq!(w.guarded_holders(org(1)), 0);
    assert_eq!(w.user_by_email(&Email::parse("b@x.org").unwrap()).map(|u| u.id), Some(id(11)));
    assert!(
        w.user_by_email(&Email::parse("a@x.org").unwrap()).is_none(),
        "a removed user frees the address"
    );
    let mut stray = mk(13, "c@x.org", DATA_PROVIDER);
    stray.organisation = org(9);
    assert_eq!(w.upsert_user(stray), Err(WorldError::UnknownOrganisation(org(9))));
}
