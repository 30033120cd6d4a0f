//! Properties over random worlds.

use proptest::prelude::*;
use tenure_domain::{
    Action, Decision, Name, OrgId, Organisation, Relationship, Request, Resource, RoleCatalogue,
    User, World,
};

use crate::reference;
use crate::spec::{CoreRole, Spec, org_id, spec, user_id};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 96, ..ProptestConfig::default() }
}

fn allowed_set(world: &World, requests: &[Request]) -> Vec<bool> {
    requests.iter().map(|r| world.decide(r).is_allowed()).collect()
}

proptest! {
    #![proptest_config(config())]

    /// The engine gives exactly the reference evaluator's answer, "not found" included,
    /// for every request in the world.
    #[test]
    fn engine_matches_the_reference(spec in spec()) {
        let world = spec.build();
        for request in spec.requests() {
            let decision = world.decide(&request);
            let expected = reference::decide(&spec, &request);
            prop_assert_eq!(
                (decision.is_allowed(), decision.conceals()),
                expected,
                "{:?}: {}", request, decision.explain(&world)
            );
        }
    }

    /// With no roles defined, nothing is allowed.
    #[test]
    fn deny_by_default(spec in spec()) {
        let mut world = World::with_roles(RoleCatalogue::empty());
        for (i, _) in spec.orgs.iter().enumerate() {
            world.insert_organisation(Organisation::new(org_id(i), Name::parse("O").unwrap())).unwrap();
        }
        for i in 0..spec.users.len() {
            let User { roles: _, ..} = spec.user(i);
            let mut user = spec.user(i);
            user.roles.clear();
            world.upsert_user(user).unwrap();
        }
        for request in spec.requests() {
            prop_assert!(!world.decide(&request).is_allowed(), "{:?}", request);
        }
    }

    /// A deactivated actor, or one in a deactivated organisation, gets nothing, and every
    /// refusal reads "not found".
    #[test]
    fn inactive_actors_get_nothing(spec in spec()) {
        let world = spec.build();
        for request in spec.requests() {
            let actor = world.user(request.actor).unwrap();
            let org_active = world.organisation(actor.organisation).unwrap().active;
            if !actor.active || !org_active {
                let decision = world.decide(&request);
                prop_assert!(!decision.is_allowed() && decision.conceals());
            }
        }
    }

    /// Nobody gives a role ranked above their own.
    #[test]
    fn no_role_above_ones_own(spec in spec()) {
        let world = spec.build();
        for request in spec.requests().iter().filter(|r| r.action.takes_role()) {
            if world.decide(request).is_allowed() {
                let actor = world.user(request.actor).unwrap();
                let own = actor.roles.iter().map(|r| world.roles().get(*r).unwrap().rank).max().unwrap_or(0);
                let given = world.roles().get(request.role.unwrap()).unwrap().rank;
                prop_assert!(given <= own);
            }
        }
    }

    /// A coordinator reaches users of their organisation and its direct managing agents,
    /// never an agent's agents, their stock owners, or unrelated organisations.
    #[test]
    fn coordinators_reach_direct_managing_agents_only(spec in spec()) {
        let world = spec.build();
        for (i, u) in spec.users.iter().enumerate() {
            if u.role != CoreRole::Coordinator { continue; }
            let reach: Vec<OrgId> = std::iter::once(org_id(u.org))
                .chain(world.managing_agents(org_id(u.org)).iter().copied())
                .collect();
            for target in world.users() {
                let d = world.decide(&Request::new(user_id(i), Action::UserDeactivate, Resource::User(target.id)));
                if d.is_allowed() {
                    prop_assert!(reach.contains(&target.organisation));
                }
            }
        }
    }

    /// Removing a relationship never allows anything that was denied.
    #[test]
    fn removing_a_relationship_never_widens_access(spec in spec(), pick in any::<prop::sample::Index>()) {
        prop_assume!(!spec.edges.is_empty());
        let (p, c) = spec.edges[pick.index(spec.edges.len())];
        let mut world = spec.build();
        let requests = spec.requests();
        let before = allowed_set(&world, &requests);
        world.remove_relationship(Relationship { stock_owner: org_id(p), managing_agent: org_id(c) }).unwrap();
        let after = allowed_set(&world, &requests);
        for ((b, a), r) in before.iter().zip(&after).zip(&requests) {
            prop_assert!(!a || *b, "{:?} became allowed", r);
        }
    }

    /// Taking a role away from an actor never widens what that actor may do.
    #[test]
    fn removing_a_role_never_widens_the_actors_access(spec in spec(), pick in any::<prop::sample::Index>()) {
        let actor = pick.index(spec.users.len());
        let mut world = spec.build();
        let requests: Vec<_> = spec.requests().into_iter().filter(|r| r.actor == user_id(actor)).collect();
        let before = allowed_set(&world, &requests);
        let mut user = world.user(user_id(actor)).unwrap().clone();
        user.roles.clear();
        world.upsert_user(user).unwrap();
        let after = allowed_set(&world, &requests);
        for ((b, a), r) in before.iter().zip(&after).zip(&requests) {
            prop_assert!(!a || *b, "{:?} became allowed", r);
        }
    }

    /// Decisions do not depend on the order the world was built in.
    #[test]
    fn decisions_ignore_insertion_order(
        (spec, shuffled) in spec().prop_flat_map(|s| { let steps = s.steps(); (Just(s), Just(steps).prop_shuffle()) })
    ) {
        let a = spec.build();
        let b = spec.build_in(&shuffled);
        for request in spec.requests() {
            prop_assert_eq!(a.decide(&request), b.decide(&request));
        }
        for i in 0..spec.users.len() {
            for action in [Action::UserView, Action::OrganisationView, Action::LogView, Action::UserDeactivate] {
                prop_assert_eq!(a.scope(user_id(i), action), b.scope(user_id(i), action));
            }
        }
    }

    /// "Which may X see" agrees exactly with "may X see this", for every kind.
    #[test]
    fn lists_agree_with_view_checks(spec in spec()) {
        let world = spec.build();
        for i in 0..spec.users.len() {
            let actor = user_id(i);
            let users = world.scope(actor, Action::UserView);
            for u in world.users() {
                let d = world.decide(&Request::new(actor, Action::UserView, Resource::User(u.id)));
                prop_assert_eq!(users.matches_user(u), d.is_allowed());
            }
            let orgs = world.scope(actor, Action::OrganisationView);
            for o in world.organisations() {
                let d = world.decide(&Request::new(actor, Action::OrganisationView, Resource::Organisation(o.id)));
                prop_assert_eq!(orgs.matches_organisation(o), d.is_allowed());
            }
            let logs = world.scope(actor, Action::LogView);
            for l in world.logs() {
                let d = world.decide(&Request::new(actor, Action::LogView, Resource::Log(l.id)));
                prop_assert_eq!(logs.matches_log(l), d.is_allowed());
            }
        }
    }

    /// A slice decides exactly as the whole world, so adapters may load only those rows.
    #[test]
    fn slices_decide_as_the_whole_world(spec in spec()) {
        let world = spec.build();
        for request in spec.requests() {
            let slice = world.slice(request.actor, request.resource);
            prop_assert_eq!(slice.decide(&request), world.decide(&request), "{:?}", request);
        }
        for i in 0..spec.users.len() {
            let slice = world.slice(user_id(i), Resource::Service);
            for &action in Action::ALL {
                prop_assert_eq!(slice.scope(user_id(i), action), world.scope(user_id(i), action));
            }
        }
    }

    /// The world's indexes list exactly what a scope matches, each record once.
    #[test]
    fn indexed_lists_match_scopes(spec in spec()) {
        let world = spec.build();
        for i in 0..spec.users.len() {
            for &action in Action::ALL {
                let scope = world.scope(user_id(i), action);
                let mut indexed: Vec<_> = world.users_in(&scope).map(|u| u.id).collect();
                let mut scanned: Vec<_> = world.users().filter(|u| scope.matches_user(u)).map(|u| u.id).collect();
                indexed.sort();
                scanned.sort();
                prop_assert_eq!(indexed, scanned);
                let mut indexed: Vec<_> = world.logs_in(&scope).map(|l| l.id).collect();
                let mut scanned: Vec<_> = world.logs().filter(|l| scope.matches_log(l)).map(|l| l.id).collect();
                indexed.sort();
                scanned.sort();
                prop_assert_eq!(indexed, scanned, "{:?}", scope);
            }
        }
    }

    /// For other actions a scope holds every allowed record (it is the candidate set).
    #[test]
    fn scopes_hold_every_allowed_record(spec in spec()) {
        let world = spec.build();
        for request in spec.requests() {
            if !world.decide(&request).is_allowed() { continue; }
            let scope = world.scope(request.actor, request.action);
            let covered = match request.resource {
                Resource::User(id) => scope.matches_user(world.user(id).unwrap()),
                Resource::Organisation(id) => scope.matches_organisation(world.organisation(id).unwrap()),
                Resource::Log(id) => scope.matches_log(world.log(id).unwrap()),
                Resource::Service => scope.everything,
                Resource::Entity(_)
                | Resource::Instance { .. }
                | Resource::Feature(_)
                | Resource::Group(_)
                | Resource::Role(_) => {
                    unreachable!("spec worlds are CORE's")
                }
            };
            prop_assert!(covered, "{:?}", request);
        }
    }
}

/// Relationships may form rings and reciprocal pairs; decisions still terminate and reach
/// one hop only.
#[test]
fn cycles_terminate_and_reach_one_hop() {
    let n = 50;
    let mut spec = Spec { orgs: vec![], edges: vec![], users: vec![], logs: vec![] };
    for i in 0..n {
        spec.orgs.push(crate::spec::OrgSpec { holds_stock: true, active: true });
        spec.edges.push((i, (i + 1) % n));
        spec.edges.push(((i + 1) % n, i));
        spec.users.push(crate::spec::UserSpec {
            org: i,
            role: CoreRole::Coordinator,
            active: true,
        });
    }
    let world = spec.build();
    let scope = world.scope(user_id(0), Action::UserView);
    assert_eq!(scope.organisations, {
        let mut v = vec![org_id(0), org_id(1), org_id(n - 1)];
        v.sort();
        v
    });
    for request in spec.requests().into_iter().take(5_000) {
        let expected = reference::decide(&spec, &request);
        let d: Decision = world.decide(&request);
        assert_eq!((d.is_allowed(), d.conceals()), expected, "{request:?}");
    }
}

/// The world of `spec` under CORE's roles with `flags[i]` as whether the i-th role
/// requires a second factor.
fn with_second_factor_flags(spec: &Spec, flags: [bool; 3]) -> World {
    let built = spec.build();
    let mut roles = RoleCatalogue::empty();
    for (role, flag) in RoleCatalogue::core().iter().zip(flags) {
        roles.insert(tenure_domain::Role { requires_second_factor: flag, ..role.clone() }).unwrap();
    }
    roles.set_guarded(RoleCatalogue::core().guarded());
    let mut world = World::with_roles(roles);
    for org in built.organisations() {
        world.insert_organisation(org.clone()).unwrap();
    }
    for rel in built.relationships() {
        world.add_relationship(*rel).unwrap();
    }
    for user in built.users() {
        world.upsert_user(user.clone()).unwrap();
    }
    world
}

proptest! {
    #![proptest_config(config())]

    /// Whoever the roles say must have a second factor cannot remove their own, and
    /// anyone else who may act at all can; the demand follows the role data exactly, and
    /// removing someone else's never depends on the flag.
    #[test]
    fn own_second_factor_removal_follows_role_data(spec in spec(), flags in any::<[bool; 3]>()) {
        use tenure_domain::second_factor::{Demand, demand};
        let world = with_second_factor_flags(&spec, flags);
        let plain = with_second_factor_flags(&spec, [false; 3]);
        for (i, u) in spec.users.iter().enumerate() {
            let me = user_id(i);
            let required = u.role.id().is_some_and(|id| {
                world.roles().get(id).is_some_and(|r| r.requires_second_factor)
            });
            prop_assert_eq!(demand(&world, me).is_required(), required);
            if let Demand::Required(role) = demand(&world, me) {
                prop_assert_eq!(Some(role), u.role.id());
            }
            let own = Request::new(me, Action::UserRemoveSecondFactor, Resource::User(me));
            let can_act = u.active && spec.orgs[u.org].active && u.role != CoreRole::None;
            prop_assert_eq!(world.decide(&own).is_allowed(), can_act && !required);
            for j in (0..spec.users.len()).filter(|j| *j != i) {
                let other = Request::new(me, Action::UserRemoveSecondFactor, Resource::User(user_id(j)));
                prop_assert_eq!(world.decide(&other).is_allowed(), plain.decide(&other).is_allowed());
            }
        }
    }
}
