//! Gap 3: the holder of a role that cannot be revoked (Corterum's root administrator) is
//! spared by every decision, also on the partial snapshots a storage adapter loads for
//! one resource ([`World::slice`] is the reference for what they hold).

use proptest::prelude::*;
use tenure_domain::role::builtin::ROOT_ADMINISTRATOR;
use tenure_domain::{
    Action, DenyReason, Email, Name, Request, Resource, User, World, decide_merge, decide_move,
};

use crate::sides::two_sides;
use crate::spec::{Spec, org_id, spec, user_id};

/// [`two_sides`] with a root administrator at Beta Lettings, a housing organisation: data
/// no screen makes (the root administrator is created in a company), kept to show that
/// the rule does not depend on which rows a snapshot happened to load.
fn root_in_housing() -> World {
    let mut w = two_sides();
    let email = Email::parse("stray.root@example.com").unwrap();
    w.upsert_user(User::new(
        user_id(9),
        Name::parse("Stray root").unwrap(),
        email,
        org_id(1),
        vec![ROOT_ADMINISTRATOR],
    ))
    .unwrap();
    w
}

#[test]
fn an_organisation_snapshot_keeps_its_irrevocable_holders() {
    let w = root_in_housing();
    let (ada, beta) = (user_id(0), org_id(1));
    let deactivate =
        Request::new(ada, Action::OrganisationDeactivate, Resource::Organisation(beta));
    let whole = w.decide(&deactivate);
    assert!(!whole.is_allowed(), "{}", whole.explain(&w));
    let slice = w.slice(ada, deactivate.resource);
    assert_eq!(slice.decide(&deactivate), whole, "the slice for Beta decides as the world");
    // Merging Beta moves its users, the root administrator among them.
    let merge = decide_merge(&w, ada, beta, org_id(0));
    assert!(!merge.is_allowed(), "{}", merge.explain(&w));
    assert_eq!(decide_merge(&w.slice(ada, deactivate.resource), ada, beta, org_id(0)), merge);
}

/// A snapshot for one user always holds that user's roles: the rule on the user is
/// decided on a slice exactly as on the whole world.
#[test]
fn a_user_snapshot_keeps_the_users_roles() {
    let w = root_in_housing();
    let (ada, stray) = (user_id(0), user_id(9));
    for action in [
        Action::UserDeactivate,
        Action::UserDelete,
        Action::UserMoveOrganisation,
        Action::UserChangeRole,
    ] {
        let mut request = Request::new(ada, action, Resource::User(stray));
        if action.takes_role() {
            request = request.giving(tenure_domain::role::builtin::DATA_PROVIDER);
        }
        let whole = w.decide(&request);
        let slice = w.slice(ada, request.resource);
        assert_eq!(slice.decide(&request), whole, "{request:?}");
        assert!(
            matches!(whole, tenure_domain::Decision::Deny { reason: DenyReason::Irrevocable, .. }),
            "{request:?}: {}",
            whole.explain(&w)
        );
    }
}

/// [`crate::sides::build`]'s world, with the root administrator's role given to every
/// fourth user besides, wherever they are (housing organisations included, and deactivated
/// users too).
fn roots_anywhere(spec: &Spec, companies: &[bool]) -> World {
    let mut w = crate::sides::build(spec, companies);
    for i in (1..spec.users.len()).step_by(4) {
        let mut user = w.user(user_id(i)).unwrap().clone();
        if !user.roles.contains(&ROOT_ADMINISTRATOR) {
            user.roles.push(ROOT_ADMINISTRATOR);
        }
        w.upsert_user(user).unwrap();
    }
    w
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Gap 3, in general: nobody deactivates, deletes, moves or changes the roles of a
    /// holder of a role that cannot be revoked, nor deactivates or merges an organisation
    /// one belongs to; and the snapshot for the user or the organisation (a slice) decides
    /// each of these exactly as the whole world.
    #[test]
    fn the_irrevocable_are_spared_on_every_snapshot(
        spec in spec(),
        companies in prop::collection::vec(any::<bool>(), 7),
    ) {
        let world = roots_anywhere(&spec, &companies);
        let holds = |u: &User| u.roles.contains(&ROOT_ADMINISTRATOR);
        let orgs: Vec<_> = world.organisations().map(|o| o.id).collect();
        for actor in 0..spec.users.len() {
            let actor = user_id(actor);
            for &org in &orgs {
                let resource = Resource::Organisation(org);
                let slice = world.slice(actor, resource);
                let held = world.users().any(|u| u.organisation == org && holds(u));
                for action in [Action::OrganisationDeactivate, Action::OrganisationMerge] {
                    let request = Request::new(actor, action, resource);
                    let decision = world.decide(&request);
                    prop_assert_eq!(slice.decide(&request), decision, "{:?}", request);
                    prop_assert!(!(held && decision.is_allowed()), "{:?}: {}", request, decision.explain(&world));
                }
                for &into in &orgs {
                    let merge = decide_merge(&world, actor, org, into);
                    prop_assert!(!(held && merge.is_allowed()), "merging {:?} into {:?}", org, into);
                }
            }
            for user in world.users() {
                let resource = Resource::User(user.id);
                let slice = world.slice(actor, resource);
                let mut requests: Vec<Request> = [
                    Action::UserDeactivate,
                    Action::UserDelete,
                    Action::UserMoveOrganisation,
                ]
                .into_iter()
                .map(|a| Request::new(actor, a, resource))
                .collect();
                requests.extend(
                    world.roles().iter().map(|r| Request::new(actor, Action::UserChangeRole, resource).giving(r.id)),
                );
                for request in requests {
                    let decision = world.decide(&request);
                    prop_assert_eq!(slice.decide(&request), decision, "{:?}", request);
                    prop_assert!(!(holds(user) && decision.is_allowed()), "{:?}: {}", request, decision.explain(&world));
                }
                for &to in &orgs {
                    prop_assert!(!(holds(user) && decide_move(&world, actor, user.id, to).is_allowed()));
                }
            }
        }
    }
}
