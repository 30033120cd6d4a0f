//! CORE's housing organisations and Corterum's companies are two sides of the service
//! that the engine keeps apart: on random worlds with both, nobody is allowed anything
//! about the other side, lists agree with checks, and Corterum's company scope (the root
//! administrator's "every company" included) never covers a housing organisation.

use proptest::prelude::*;
use tenure_domain::role::builtin::ROOT_ADMINISTRATOR;
use tenure_domain::{
    Action, Decision, DenyReason, Feature, FeatureSet, Log, Name, OrgId, Organisation,
    OrganisationKind, Precondition, Relationship, Request, Resource, RoleCatalogue, RoleForm,
    RoleId, UserId, UserLinks, World, decide_move,
};

use crate::spec::{Spec, log_id, org_id, spec, user_id};

/// The spec's world with the organisations marked `true` made companies. Relationships
/// and logs are CORE's, so those touching a company are left out (the world refuses such
/// relationships anyway: checked here too).
pub(crate) fn build(spec: &Spec, companies: &[bool]) -> World {
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

/// Alpha Homes and Beta Lettings (housing), the FCA and the PSR (companies): Ada, CORE's
/// administrator, at Alpha; Bob, a data provider at Beta; Nell at Alpha, invited and
/// holding no role yet; Root, the root administrator, at the FCA; Pat, Conduct Rules
/// Staff at the PSR.
pub(crate) fn two_sides() -> World {
    use tenure_domain::role::builtin::{ADMINISTRATOR, CONDUCT_RULES_STAFF, DATA_PROVIDER};
    use tenure_domain::{Email, User};
    let mut w = World::with_roles(RoleCatalogue::with_corterum());
    for (i, name, company) in [
        (0, "Alpha Homes", false),
        (1, "Beta Lettings", false),
        (2, "Financial Conduct Authority", true),
        (3, "Payment Systems Regulator", true),
    ] {
        let name = Name::parse(name).unwrap();
        let org = if company {
            Organisation::company(org_id(i), name)
        } else {
            Organisation::new(org_id(i), name)
        };
        w.insert_organisation(org).unwrap();
    }
    w.add_relationship(Relationship { stock_owner: org_id(0), managing_agent: org_id(1) }).unwrap();
    for (i, name, org, roles) in [
        (0, "ada", 0, vec![ADMINISTRATOR]),
        (1, "bob", 1, vec![DATA_PROVIDER]),
        (2, "nell", 0, vec![]),
        (3, "root", 2, vec![ROOT_ADMINISTRATOR]),
        (4, "pat", 3, vec![CONDUCT_RULES_STAFF]),
    ] {
        let email = Email::parse(&format!("{name}@example.com")).unwrap();
        w.upsert_user(User::new(user_id(i), Name::parse(name).unwrap(), email, org_id(org), roles))
            .unwrap();
    }
    w
}

/// What CORE's move screen asked before the engine decided a move as one: `user.move_organisation`
/// on the user, then `user.invite` into the destination giving each of the user's roles.
fn core_move(world: &World, actor: UserId, user: UserId, to: OrgId) -> bool {
    let moved =
        world.decide(&Request::new(actor, Action::UserMoveOrganisation, Resource::User(user)));
    moved.is_allowed()
        && world.user(user).unwrap().roles.iter().all(|r| {
            world
                .decide(
                    &Request::new(actor, Action::UserInvite, Resource::Organisation(to)).giving(*r),
                )
                .is_allowed()
        })
}

/// Gap 2: a move never crosses the sides, and CORE's move screen never moves a company's
/// user (Corterum's users belong to companies through their account's companies). The
/// two asked before, one by one, let an invited housing user (no role yet, so no
/// invitation asked) into a company, and the root administrator move a company's user
/// between companies.
#[test]
fn moves_stay_on_the_housing_side() {
    let w = two_sides();
    let (ada, bob, nell, root, pat) = (user_id(0), user_id(1), user_id(2), user_id(3), user_id(4));
    let (alpha, beta, fca, psr) = (org_id(0), org_id(1), org_id(2), org_id(3));
    // Between housing organisations: as before.
    assert!(decide_move(&w, ada, bob, alpha).is_allowed());
    assert!(decide_move(&w, ada, nell, beta).is_allowed());
    // Across the sides, or a company's user at all: not found on CORE's screens.
    let housing_only = Decision::Deny {
        reason: DenyReason::Precondition(Precondition::HousingOnly),
        conceal: true,
    };
    for (actor, user, to) in
        [(ada, bob, fca), (ada, nell, fca), (root, pat, alpha), (root, pat, fca), (root, pat, psr)]
    {
        let decision = decide_move(&w, actor, user, to);
        assert_eq!(decision, housing_only, "{actor:?} moving {user:?} into {to:?}");
    }
    assert!(
        decide_move(&w, ada, nell, fca).explain(&w).to_string().contains("housing organisations"),
        "{}",
        decide_move(&w, ada, nell, fca).explain(&w)
    );
    // CORE's administrator does not reach a company's user at all.
    assert_eq!(
        decide_move(&w, ada, pat, alpha),
        Decision::Deny { reason: DenyReason::NoGrant, conceal: true }
    );
}

/// Gap 1: the root administrator gives Corterum's roles, never CORE's (which rank below
/// theirs); CORE's administrator gives CORE's, never Corterum's; the reason names the
/// side.
#[test]
fn roles_are_given_on_their_side_only() {
    use tenure_domain::role::builtin::{ADMINISTRATOR, CONDUCT_RULES_STAFF, SENIOR_MANAGER};
    let w = two_sides();
    let (ada, bob, root, pat) = (user_id(0), user_id(1), user_id(3), user_id(4));
    let (beta, psr) = (org_id(1), org_id(3));
    let change = |actor, user, role| {
        w.decide(&Request::new(actor, Action::UserChangeRole, Resource::User(user)).giving(role))
    };
    let invite = |actor, org, role| {
        w.decide(&Request::new(actor, Action::UserInvite, Resource::Organisation(org)).giving(role))
    };
    assert!(change(root, pat, SENIOR_MANAGER).is_allowed());
    assert!(invite(root, psr, CONDUCT_RULES_STAFF).is_allowed());
    assert!(invite(ada, beta, tenure_domain::role::builtin::DATA_PROVIDER).is_allowed());
    let other = |role| Decision::Deny { reason: DenyReason::RoleOfOtherSide(role), conceal: false };
    assert_eq!(change(root, pat, ADMINISTRATOR), other(ADMINISTRATOR));
    assert_eq!(invite(root, psr, ADMINISTRATOR), other(ADMINISTRATOR));
    assert_eq!(change(ada, bob, SENIOR_MANAGER), other(SENIOR_MANAGER));
    assert_eq!(invite(ada, beta, CONDUCT_RULES_STAFF), other(CONDUCT_RULES_STAFF));
    assert_eq!(
        change(root, pat, ADMINISTRATOR).explain(&w).to_string(),
        "denied (forbidden): role `Administrator` is CORE's: only users of housing organisations hold it"
    );
    assert_eq!(
        change(ada, bob, SENIOR_MANAGER).explain(&w).to_string(),
        "denied (forbidden): role `Senior Manager` is Corterum's: only users of companies hold it"
    );
    // Reactivating gives a user's roles back: never one of the other side.
    let mut stray = w.clone();
    let mut bob_user = stray.user(bob).unwrap().clone();
    bob_user.roles = vec![SENIOR_MANAGER];
    bob_user.active = false;
    stray.upsert_user(bob_user).unwrap();
    assert_eq!(
        stray.decide(&Request::new(ada, Action::UserReactivate, Resource::User(bob))),
        other(SENIOR_MANAGER)
    );
}

/// The key of the role built from a form in [`mixed`] worlds.
const FORM_ROLE: u128 = 0x4_0000;

/// [`build`]'s world, with a Corterum role built from a form (User Administration: it
/// gives any role at or below its holder's own) held by every fourth user wherever they
/// are, housing organisations included: data no screen makes, so that both sides have
/// users who may give roles of the other side if the engine let them.
fn mixed(spec: &Spec, companies: &[bool]) -> World {
    let mut w = build(spec, companies);
    let form = RoleForm {
        name: "User Administrator".to_owned(),
        description: "Administers users".to_owned(),
        features: FeatureSet::of(&[Feature::UserAdministration]),
        ..RoleForm::default()
    };
    let id = RoleId::from_uuid(uuid::Uuid::from_u128(FORM_ROLE));
    w.upsert_role(form.into_role(id, "user-administrator".to_owned()).unwrap()).unwrap();
    for i in (3..spec.users.len()).step_by(4) {
        let mut user = w.user(user_id(i)).unwrap().clone();
        user.roles.push(id);
        w.upsert_user(user).unwrap();
    }
    w
}

/// Whether a denial is stage 1's: the actor may do nothing at all.
fn actor_unusable(decision: Decision) -> bool {
    matches!(
        decision,
        Decision::Deny {
            reason: DenyReason::UnknownActor
                | DenyReason::ActorInactive
                | DenyReason::ActorOrganisationInactive
                | DenyReason::ActorInvited,
            ..
        }
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Gap 1, in general: whoever asks, a role given (an invitation, a change of role) is
    /// of the side of the user or organisation it is given for, and a role of the other
    /// side is refused as such (unless the actor may do nothing at all); a user is
    /// reactivated only with roles of their side.
    #[test]
    fn roles_stay_on_their_side(spec in spec(), companies in prop::collection::vec(any::<bool>(), 7)) {
        let world = mixed(&spec, &companies);
        let roles: Vec<_> = world.roles().iter().map(|r| (r.id, r.side)).collect();
        for actor in 0..spec.users.len() {
            let actor = user_id(actor);
            let mut requests = Vec::new();
            for target in world.users() {
                let resource = Resource::User(target.id);
                requests.push((Request::new(actor, Action::UserChangeRole, resource), world.kind_of(target.organisation)));
                let reactivate = Request::new(actor, Action::UserReactivate, resource);
                if world.decide(&reactivate).is_allowed() {
                    for r in &target.roles {
                        prop_assert_eq!(Some(world.roles().get(*r).unwrap().side), world.kind_of(target.organisation), "{:?}", reactivate);
                    }
                }
            }
            for org in world.organisations() {
                requests.push((Request::new(actor, Action::UserInvite, Resource::Organisation(org.id)), Some(org.kind)));
            }
            for (request, side) in requests {
                for &(role, role_side) in &roles {
                    let request = request.giving(role);
                    let decision = world.decide(&request);
                    if Some(role_side) == side {
                        prop_assert!(
                            !matches!(decision, Decision::Deny { reason: DenyReason::RoleOfOtherSide(_), .. }),
                            "{:?}: {}", request, decision.explain(&world)
                        );
                    } else {
                        prop_assert!(!decision.is_allowed(), "{:?}: {}", request, decision.explain(&world));
                        prop_assert!(
                            actor_unusable(decision)
                                || decision == Decision::Deny { reason: DenyReason::RoleOfOtherSide(role), conceal: decision.conceals() },
                            "{:?}: {}", request, decision.explain(&world)
                        );
                    }
                }
            }
        }
    }

    /// Gap 2, in general: CORE's move is allowed exactly when the user and the
    /// destination are both of housing organisations, the destination is active, and the
    /// move and the invitations it implies are each allowed; so it never crosses the
    /// sides and never moves a company's user.
    #[test]
    fn moves_never_cross_the_sides(spec in spec(), companies in prop::collection::vec(any::<bool>(), 7)) {
        let world = mixed(&spec, &companies);
        let housing = Some(OrganisationKind::Housing);
        for actor in 0..spec.users.len() {
            let actor = user_id(actor);
            for user in world.users() {
                for to in world.organisations() {
                    let decision = decide_move(&world, actor, user.id, to.id);
                    let expected = core_move(&world, actor, user.id, to.id)
                        && world.kind_of(user.organisation) == housing
                        && to.kind == OrganisationKind::Housing
                        && to.active;
                    prop_assert_eq!(
                        decision.is_allowed(), expected,
                        "{:?} moving {:?} into {:?}: {}", actor, user.id, to.id, decision.explain(&world)
                    );
                    if decision.is_allowed() {
                        prop_assert_eq!(world.kind_of(user.organisation), Some(to.kind));
                    }
                }
            }
        }
    }
}
