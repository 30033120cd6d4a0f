//! CORE's housing organisations and Corterum's companies are two sides of the service
//! that the engine keeps apart: on random worlds with both, nobody is allowed anything
//! about the other side, lists agree with checks, and Corterum's company scope (the root
//! administrator's "every company" included) never covers a housing organisation.

use proptest::prelude::*;
use tenure_domain::role::builtin::ROOT_ADMINISTRATOR;
use tenure_domain::{
    Action, Feature, Log, Name, Organisation, OrganisationKind, Relationship, Request, Resource,
    RoleCatalogue, UserLinks, World,
};

use crate::spec::{Spec, log_id, org_id, spec, user_id};

/// The spec's world with the organisations marked `true` made companies. Relationships
/// and logs are CORE's, so those touching a company are left out (the world refuses such
/// relationships anyway: checked here too).
fn build(spec: &Spec, companies: &[bool]) -> World {
    let company = |i: usize| companies.get(i).copied().unwrap_or(false);
    let mut w = World::with_roles(RoleCatalogue::with_corterum());
    for (i, o) in spec.orgs.iter().enumerate() {
        let name = Name::parse(&format!("Org {i}")).unwrap();
        let mut org = if company(i) {
            Organisation::company(org_id(i), name)
        } else {
            Organisation::new(org_id(i), name)
        };
        org.holds_stock = o.holds_stock && !company(i);
        org.active = o.active;
        w.insert_organisation(org).unwrap();
    }
    for &(p, c) in &spec.edges {
        let rel = Relationship { stock_owner: org_id(p), managing_agent: org_id(c) };
        let added = w.add_relationship(rel);
        assert_eq!(added.is_ok(), !company(p) && !company(c), "{added:?}");
    }
    for i in 0..spec.users.len() {
        let mut user = spec.user(i);
        // Some company users are root administrators, with their company as their links.
        if company(spec.users[i].org) && i % 3 != 2 {
            user.roles = vec![ROOT_ADMINISTRATOR];
            w.upsert_user(user.clone()).unwrap();
            let links = UserLinks { entity: None, companies: vec![user.organisation] };
            w.set_user_links(user.id, links).unwrap();
        } else {
            w.upsert_user(user).unwrap();
        }
    }
    for (i, l) in spec.logs.iter().enumerate() {
        if company(l.owning) || company(l.managing) {
            continue;
        }
        w.upsert_log(Log {
            id: log_id(i),
            owning_organisation: org_id(l.owning),
            managing_organisation: org_id(l.managing),
            assigned_to: l.assigned.map(user_id),
            created_by: None,
        })
        .unwrap();
    }
    w
}

fn kind_of(world: &World, resource: Resource) -> Option<OrganisationKind> {
    match resource {
        Resource::User(id) => world.user(id).and_then(|u| world.kind_of(u.organisation)),
        Resource::Organisation(id) => world.kind_of(id),
        Resource::Log(id) => world.log(id).and_then(|l| world.kind_of(l.owning_organisation)),
        Resource::Service => Some(OrganisationKind::Housing),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Nothing is allowed across the sides, and the lists agree with the checks.
    #[test]
    fn the_sides_stay_apart(spec in spec(), companies in prop::collection::vec(any::<bool>(), 7)) {
        let world = build(&spec, &companies);
        for request in spec.requests() {
            let Some(actor) = world.user(request.actor) else { continue };
            let side = world.kind_of(actor.organisation);
            if world.decide(&request).is_allowed() {
                prop_assert_eq!(kind_of(&world, request.resource), side, "{:?}", request);
            }
        }
        for i in 0..spec.users.len() {
            let actor = user_id(i);
            let users = world.scope(actor, Action::UserView);
            let listed: Vec<_> = world.users_in(&users).map(|u| u.id).collect();
            for u in world.users() {
                let d = world.decide(&Request::new(actor, Action::UserView, Resource::User(u.id)));
                prop_assert_eq!(listed.contains(&u.id), d.is_allowed(), "{:?} {:?}", actor, u.id);
            }
            let orgs = world.scope(actor, Action::OrganisationView);
            for o in world.organisations() {
                let d = world.decide(&Request::new(
                    actor,
                    Action::OrganisationView,
                    Resource::Organisation(o.id),
                ));
                prop_assert_eq!(orgs.matches_organisation(o), d.is_allowed());
            }
            let logs = world.scope(actor, Action::LogView);
            for l in world.logs() {
                let d = world.decide(&Request::new(actor, Action::LogView, Resource::Log(l.id)));
                prop_assert_eq!(logs.matches_log(l), d.is_allowed());
            }
            // Corterum's company scope covers companies only, whoever asks.
            for feature in [Feature::CompanyAdministration, Feature::UserAdministration] {
                let mine = world.company_scope(actor, feature);
                for o in world.organisations() {
                    if mine.matches_organisation(o) {
                        prop_assert!(o.is_company(), "{:?} reaches housing {:?}", actor, o.id);
                    }
                }
                if mine.everything {
                    prop_assert_eq!(mine.kind, OrganisationKind::Company);
                }
            }
        }
    }
}

/// The root administrator's "every company" is every company, and nothing of CORE's;
/// CORE's administrator reaches every housing organisation and no company.
#[test]
fn every_company_means_every_company_only() {
    let spec = crate::spec::Spec {
        orgs: vec![
            crate::spec::OrgSpec { holds_stock: true, active: true },
            crate::spec::OrgSpec { holds_stock: true, active: true },
        ],
        edges: vec![],
        users: vec![
            crate::spec::UserSpec {
                org: 0,
                role: crate::spec::CoreRole::Administrator,
                active: true,
            },
            crate::spec::UserSpec { org: 1, role: crate::spec::CoreRole::None, active: true },
        ],
        logs: vec![],
    };
    let world = build(&spec, &[false, true]);
    let (ada, root) = (user_id(0), user_id(1));
    let every = world.company_scope(root, Feature::CompanyAdministration);
    assert!(every.everything);
    assert_eq!(every.kind, OrganisationKind::Company);
    assert!(every.matches_organisation(world.organisation(org_id(1)).unwrap()));
    assert!(!every.matches_organisation(world.organisation(org_id(0)).unwrap()));
    let see = |actor, org| {
        world
            .decide(&Request::new(actor, Action::OrganisationView, Resource::Organisation(org)))
            .is_allowed()
    };
    assert!(see(root, org_id(1)) && !see(root, org_id(0)));
    assert!(see(ada, org_id(0)) && !see(ada, org_id(1)));
    let service = |actor, action| world.decide(&Request::new(actor, action, Resource::Service));
    assert!(!service(root, Action::UserListAll).is_allowed());
    assert!(service(ada, Action::UserListAll).is_allowed());
    // CORE's administrator has no Corterum feature, so no company scope at all.
    assert!(world.company_scope(ada, Feature::CompanyAdministration).is_nothing());
    // Merges and relationships are CORE's: refused on a company even to the root.
    let merge = world.decide(&Request::new(
        root,
        Action::OrganisationMerge,
        Resource::Organisation(org_id(1)),
    ));
    assert!(!merge.is_allowed());
    assert!(
        merge.explain(&world).to_string().contains("housing organisations"),
        "{}",
        merge.explain(&world)
    );
}
