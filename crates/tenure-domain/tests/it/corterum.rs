//! Corterum on random worlds: companies, entities, groups, datasets (some embedded),
//! roles built from role forms, users with entities and companies.
//!
//! - The list side agrees with the check side: `entity_scope` and `instance_scope` match
//!   exactly the entities and instances `decide` allows.
//! - A grant removed never widens access: taking a group, a feature or a dataset
//!   permission out of a role never turns a denial into an allowance.
//! - A reference evaluator written straight from the product rules agrees with the
//!   engine on every request.
//! - User administration stays within the actor's companies, never revokes a role that
//!   cannot be revoked, and its list agrees with its checks; a slice decides the same.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tenure_domain::role::builtin::{
    CONDUCT_RULES_STAFF, CORTERUM_ADMINISTRATOR, ROOT_ADMINISTRATOR,
};
use tenure_domain::{
    ALL_PEOPLE, Action, Dataset, DatasetId, DatasetKind, DatasetPermissions, Decision, DenyReason,
    Email, Entity, EntityId, EntityKind, Feature, FeatureSet, Group, GroupId, Name, OrgId,
    Organisation, Request, Resource, RoleCatalogue, RoleForm, RoleId, User, UserId, UserLinks,
    World,
};
use uuid::Uuid;

const ORGS: usize = 3;

#[derive(Clone, Debug)]
struct EntitySpec {
    kind: EntityKind,
    companies: Vec<usize>,
}

#[derive(Clone, Debug)]
struct GroupSpec {
    kind: EntityKind,
    members: Vec<usize>,
}

#[derive(Clone, Debug)]
struct DatasetSpec {
    /// Embedded in the dataset at this index, if that one is a form.
    embedded_in: Option<usize>,
    table: bool,
}

#[derive(Clone, Debug)]
struct RoleSpec {
    /// Group indexes; `groups.len()` stands for All People.
    groups: Vec<usize>,
    features: Vec<usize>,
    /// Per dataset index: read, edit, create.
    datasets: BTreeMap<usize, (bool, bool, bool)>,
}

#[derive(Clone, Debug)]
struct UserSpec {
    entity: Option<usize>,
    companies: Vec<usize>,
    roles: Vec<usize>,
    root: bool,
    active: bool,
}

#[derive(Clone, Debug)]
struct Spec {
    entities: Vec<EntitySpec>,
    groups: Vec<GroupSpec>,
    datasets: Vec<DatasetSpec>,
    roles: Vec<RoleSpec>,
    users: Vec<UserSpec>,
}

fn kind() -> impl Strategy<Value = EntityKind> {
    prop_oneof![Just(EntityKind::Person), Just(EntityKind::Person), Just(EntityKind::Business)]
}

fn spec() -> impl Strategy<Value = Spec> {
    let entities = prop::collection::vec(
        (kind(), prop::collection::vec(0..ORGS, 0..3))
            .prop_map(|(kind, companies)| EntitySpec { kind, companies }),
        1..8,
    );
    let groups = prop::collection::vec(
        (kind(), prop::collection::vec(0usize..8, 0..4))
            .prop_map(|(kind, members)| GroupSpec { kind, members }),
        0..4,
    );
    let datasets = prop::collection::vec(
        (prop::option::of(0usize..4), any::<bool>())
            .prop_map(|(embedded_in, table)| DatasetSpec { embedded_in, table }),
        1..5,
    );
    let roles = prop::collection::vec(
        (
            prop::collection::vec(0usize..5, 0..3),
            prop::collection::vec(0usize..14, 0..3),
            prop::collection::btree_map(
                0usize..5,
                (any::<bool>(), any::<bool>(), any::<bool>()),
                0..4,
            ),
        )
            .prop_map(|(groups, features, datasets)| RoleSpec {
                groups,
                features,
                datasets,
            }),
        1..4,
    );
    let users = prop::collection::vec(
        (
            prop::option::of(0usize..8),
            prop::collection::vec(0..ORGS, 1..3),
            prop::collection::vec(0usize..4, 0..3),
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.9),
        )
            .prop_map(|(entity, companies, roles, root, active)| UserSpec {
                entity,
                companies,
                roles,
                root,
                active,
            }),
        1..4,
    );
    (entities, groups, datasets, roles, users).prop_map(
        |(entities, groups, datasets, roles, users)| Spec {
            entities,
            groups,
            datasets,
            roles,
            users,
        },
    )
}

fn org(i: usize) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(1 + i as u128))
}
fn entity(i: usize) -> EntityId {
    EntityId::from_uuid(Uuid::from_u128(100 + i as u128))
}
fn group(i: usize) -> GroupId {
    GroupId::from_uuid(Uuid::from_u128(200 + i as u128))
}
fn dataset(i: usize) -> DatasetId {
    DatasetId::from_uuid(Uuid::from_u128(300 + i as u128))
}
fn role(i: usize) -> RoleId {
    RoleId::from_uuid(Uuid::from_u128(400 + i as u128))
}
fn user(i: usize) -> UserId {
    UserId::from_uuid(Uuid::from_u128(500 + i as u128))
}

impl Spec {
    /// Whether a dataset is really a table embedded in a form (after the world's rules).
    fn parent(&self, d: usize) -> Option<usize> {
        let s = &self.datasets[d];
        let p = s.embedded_in.filter(|p| *p < self.datasets.len() && *p != d)?;
        (s.table && !self.datasets[p].table).then_some(p)
    }

    fn members(&self, g: usize) -> Vec<usize> {
        let spec = &self.groups[g];
        spec.members
            .iter()
            .copied()
            .filter(|m| *m < self.entities.len() && self.entities[*m].kind == spec.kind)
            .collect()
    }

    fn form(&self, r: &RoleSpec) -> RoleForm {
        RoleForm {
            name: "Role".to_owned(),
            description: "For testing".to_owned(),
            groups: r
                .groups
                .iter()
                .filter_map(|g| match *g {
                    g if g < self.groups.len() => Some(group(g)),
                    g if g == self.groups.len() => Some(ALL_PEOPLE),
                    _ => None,
                })
                .collect(),
            features: r.features.iter().map(|f| Feature::ALL[*f]).collect::<FeatureSet>(),
            datasets: r
                .datasets
                .iter()
                .filter(|(d, _)| **d < self.datasets.len())
                .map(|(d, (read, edit, create))| {
                    (dataset(*d), DatasetPermissions { read: *read, edit: *edit, create: *create })
                })
                .collect(),
            requires_second_factor: false,
        }
    }

    fn build(&self) -> World {
        let mut w = World::with_roles(RoleCatalogue::with_corterum());
        for i in 0..ORGS {
            w.insert_organisation(Organisation::company(
                org(i),
                Name::parse(&format!("Co {i}")).unwrap(),
            ))
            .unwrap();
        }
        for (i, e) in self.entities.iter().enumerate() {
            let mut x = Entity::new(entity(i), e.kind, Name::parse(&format!("E{i}")).unwrap());
            x.set_companies(e.companies.iter().map(|c| org(*c)).collect());
            w.upsert_entity(x).unwrap();
        }
        for (i, g) in self.groups.iter().enumerate() {
            let members = self.members(i).into_iter().map(entity).collect();
            w.upsert_group(Group {
                id: group(i),
                name: Name::parse("G").unwrap(),
                description: String::new(),
                kind: g.kind,
                members,
            })
            .unwrap();
        }
        // Forms first, then the tables embedded in them.
        let mut order: Vec<usize> = (0..self.datasets.len()).collect();
        order.sort_by_key(|d| self.parent(*d).is_some());
        for d in order {
            let s = &self.datasets[d];
            w.upsert_dataset(Dataset {
                id: dataset(d),
                key: format!("d{d}"),
                name: Name::parse("D").unwrap(),
                kind: if s.table { DatasetKind::Table } else { DatasetKind::Form },
                embedded_in: self.parent(d).map(dataset),
                fields: Vec::new(),
            })
            .unwrap();
        }
        for (i, r) in self.roles.iter().enumerate() {
            w.upsert_role(self.form(r).into_role(role(i), format!("r{i}")).unwrap()).unwrap();
        }
        for (i, u) in self.users.iter().enumerate() {
            let mut roles: Vec<RoleId> =
                u.roles.iter().filter(|r| **r < self.roles.len()).map(|r| role(*r)).collect();
            if u.root {
                roles.push(ROOT_ADMINISTRATOR);
            }
            let mut x = User::new(
                user(i),
                Name::parse("U").unwrap(),
                Email::parse(&format!("u{i}@example.com")).unwrap(),
                org(u.companies[0]),
                roles,
            );
            x.active = u.active;
            w.upsert_user(x).unwrap();
            let e = u.entity.filter(|e| *e < self.entities.len()).map(entity);
            w.set_user_links(
                user(i),
                UserLinks { entity: e, companies: u.companies.iter().map(|c| org(*c)).collect() },
            )
            .unwrap();
        }
        w
    }

    fn requests(&self) -> Vec<Request> {
        let mut out = Vec::new();
        for u in 0..self.users.len() {
            for e in 0..self.entities.len() {
                out.push(Request::new(user(u), Action::EntityView, Resource::Entity(entity(e))));
                for d in 0..self.datasets.len() {
                    for action in [Action::DatasetRead, Action::DatasetEdit, Action::DatasetCreate]
                    {
                        let resource =
                            Resource::Instance { dataset: dataset(d), entity: entity(e) };
                        out.push(Request::new(user(u), action, resource));
                    }
                }
            }
            for f in Feature::ALL {
                out.push(Request::new(user(u), Action::FeatureUse, Resource::Feature(*f)));
            }
        }
        out
    }

    /// Every request about a user between the spec's users, giving each role of the
    /// world's catalogue for the actions that give one.
    fn user_requests(&self, world: &World) -> Vec<Request> {
        let mut out = Vec::new();
        for u in 0..self.users.len() {
            for v in 0..self.users.len() {
                for action in Action::ALL
                    .iter()
                    .filter(|a| a.resource_kind() == tenure_domain::ResourceKind::User)
                {
                    let request = Request::new(user(u), *action, Resource::User(user(v)));
                    if action.takes_role() {
                        out.extend(world.roles().iter().map(|r| request.giving(r.id)));
                    } else {
                        out.push(request);
                    }
                }
            }
        }
        out
    }

    fn index_of(&self, id: UserId) -> usize {
        (0..self.users.len()).find(|i| user(*i) == id).unwrap()
    }

    /// The product's rules, written plainly.
    fn reference(&self, r: &Request) -> bool {
        let u = (0..self.users.len()).find(|i| user(*i) == r.actor).unwrap();
        let me = &self.users[u];
        if !me.active {
            return false;
        }
        if me.root {
            return true;
        }
        let roles: Vec<&RoleSpec> = me.roles.iter().filter_map(|i| self.roles.get(*i)).collect();
        let my_entity = me.entity.filter(|e| *e < self.entities.len());
        let reaches = |role: &RoleSpec, e: usize| -> bool {
            let ent = &self.entities[e];
            if !ent.companies.iter().any(|c| me.companies.contains(c)) {
                return false;
            }
            my_entity == Some(e)
                || role.groups.iter().any(|g| {
                    (*g < self.groups.len() && self.members(*g).contains(&e))
                        || (*g == self.groups.len() && ent.kind == EntityKind::Person)
                })
        };
        let may = |action: Action, d: usize, e: usize| {
            roles.iter().any(|role| {
                let p = role.datasets.get(&d).copied().unwrap_or_default();
                let granted = match action {
                    Action::DatasetRead => p.0,
                    Action::DatasetEdit => p.1,
                    _ => p.2,
                };
                granted && reaches(role, e)
            })
        };
        match r.resource {
            Resource::Feature(f) => {
                roles.iter().any(|role| role.features.iter().any(|x| Feature::ALL[*x] == f))
            }
            Resource::Entity(id) => {
                let e = (0..self.entities.len()).find(|i| entity(*i) == id).unwrap();
                roles.iter().any(|role| reaches(role, e))
            }
            Resource::Instance { dataset: id, entity: eid } => {
                let d = (0..self.datasets.len()).find(|i| dataset(*i) == id).unwrap();
                let e = (0..self.entities.len()).find(|i| entity(*i) == eid).unwrap();
                may(r.action, d, e) && self.parent(d).is_none_or(|p| may(r.action, p, e))
            }
            _ => unreachable!(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_engine_agrees_with_the_reference(spec in spec()) {
        let world = spec.build();
        for request in spec.requests() {
            let got = world.decide(&request);
            prop_assert_eq!(got.is_allowed(), spec.reference(&request), "{:?}: {}", request, got.explain(&world));
        }
    }

    #[test]
    fn lists_agree_with_checks(spec in spec()) {
        let world = spec.build();
        for u in 0..spec.users.len() {
            let scope = world.entity_scope(user(u), Action::EntityView, None);
            for e in 0..spec.entities.len() {
                let allowed = world.decide(&Request::new(user(u), Action::EntityView, Resource::Entity(entity(e)))).is_allowed();
                prop_assert_eq!(scope.matches(&world, entity(e)), allowed, "entity {} for user {}: {:?}", e, u, scope);
            }
            let listed: Vec<_> = world.entities_in(&scope).map(|x| x.id).collect();
            prop_assert_eq!(listed.len(), (0..spec.entities.len()).filter(|e| scope.matches(&world, entity(*e))).count());
            for d in 0..spec.datasets.len() {
                for action in [Action::DatasetRead, Action::DatasetEdit, Action::DatasetCreate] {
                    let scope = world.instance_scope(user(u), action, dataset(d));
                    for e in 0..spec.entities.len() {
                        let resource = Resource::Instance { dataset: dataset(d), entity: entity(e) };
                        let allowed = world.decide(&Request::new(user(u), action, resource)).is_allowed();
                        prop_assert_eq!(scope.matches(&world, entity(e)), allowed, "{} d{} e{} for user {}", action, d, e, u);
                    }
                }
            }
        }
    }

    /// Taking anything out of a role (a group, a feature, one dataset permission) never
    /// allows a request that was denied.
    #[test]
    fn a_grant_removed_never_widens_access(spec in spec(), pick in any::<prop::sample::Index>(), what in 0u8..3) {
        let before = spec.build();
        let mut narrower = spec.clone();
        let r = pick.index(narrower.roles.len());
        let role_spec = &mut narrower.roles[r];
        match what {
            0 if !role_spec.groups.is_empty() => { let i = pick.index(role_spec.groups.len()); role_spec.groups.remove(i); }
            1 if !role_spec.features.is_empty() => { let i = pick.index(role_spec.features.len()); role_spec.features.remove(i); }
            _ => {
                let n = role_spec.datasets.len().max(1);
                if let Some(p) = role_spec.datasets.values_mut().nth(pick.index(n)) {
                    match pick.index(3) {
                        0 => p.0 = false,
                        1 => p.1 = false,
                        _ => p.2 = false,
                    }
                }
            }
        }
        let after = narrower.build();
        for request in spec.requests() {
            if after.decide(&request).is_allowed() {
                prop_assert!(before.decide(&request).is_allowed(), "{:?} allowed only after narrowing role {}", request, r);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Nobody (another root administrator included) deactivates, deletes, moves or changes
    /// the roles of a holder of a role that cannot be revoked; and a user administrator
    /// reaches only the users of their own companies (the root administrator aside).
    #[test]
    fn user_administration_stays_in_companies_and_spares_the_irrevocable(spec in spec()) {
        let world = spec.build();
        for request in spec.user_requests(&world) {
            let decision = world.decide(&request);
            if !decision.is_allowed() {
                continue;
            }
            let (u, v) = (spec.index_of(request.actor), spec.index_of(match request.resource {
                Resource::User(id) => id,
                _ => unreachable!(),
            }));
            let revokes = matches!(
                request.action,
                Action::UserDeactivate | Action::UserDelete | Action::UserChangeRole | Action::UserMoveOrganisation
            );
            prop_assert!(!(revokes && spec.users[v].root), "{:?} revokes a root administrator: {}", request, decision.explain(&world));
            prop_assert!(request.role != Some(ROOT_ADMINISTRATOR), "{:?} gives the root administrator", request);
            let me = &spec.users[u];
            if !me.root && u != v {
                let home = spec.users[v].companies[0];
                prop_assert!(me.companies.contains(&home), "{:?} reaches a user outside the actor's companies: {}", request, decision.explain(&world));
                prop_assert!(
                    !spec.users[v].root || request.action == Action::UserView,
                    "{:?} lets a non-root do more than see a root administrator",
                    request
                );
            }
        }
    }

    /// The users list agrees with viewing, and a snapshot sliced for a user decides every
    /// request about them as the whole world does.
    #[test]
    fn user_lists_and_slices_agree_with_checks(spec in spec()) {
        let world = spec.build();
        for u in 0..spec.users.len() {
            let scope = world.scope(user(u), Action::UserView);
            for v in 0..spec.users.len() {
                let view = world.decide(&Request::new(user(u), Action::UserView, Resource::User(user(v))));
                prop_assert_eq!(scope.matches_user(world.user(user(v)).unwrap()), view.is_allowed(), "user {} viewing {}: {:?}", u, v, scope);
            }
        }
        for request in spec.user_requests(&world) {
            let slice = world.slice(request.actor, request.resource);
            prop_assert_eq!(slice.decide(&request), world.decide(&request), "{:?}", request);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Attack F1: a role or group changes only by an actor whose companies cover every
    /// holder of the role and every member of the group (the root administrator's "every
    /// company" covers all); a denial for that is "not found"; and a slice (which notes
    /// the holders' and members' companies) decides the same as the whole world.
    #[test]
    fn roles_and_groups_change_only_within_the_companies_of_their_dependants(spec in spec()) {
        let world = spec.build();
        for u in 0..spec.users.len() {
            let mut requests: Vec<Request> = (0..spec.groups.len())
                .map(|g| Request::new(user(u), Action::GroupEdit, Resource::Group(group(g))))
                .collect();
            requests.extend((0..spec.roles.len())
                .map(|r| Request::new(user(u), Action::RoleEdit, Resource::Role(role(r)))));
            for request in requests {
                let decision = world.decide(&request);
                let slice = world.slice(request.actor, request.resource);
                prop_assert_eq!(slice.decide(&request), decision, "{:?}", request);
                if let Decision::Deny { reason: DenyReason::UsedOutsideCompanies, conceal } = decision {
                    prop_assert!(conceal, "{:?}", request);
                }
                if !decision.is_allowed() || spec.users[u].root {
                    continue;
                }
                let mine = &spec.users[u].companies;
                let dependants: Vec<usize> = match request.resource {
                    Resource::Group(g) => {
                        let g = (0..spec.groups.len()).find(|i| group(*i) == g).unwrap();
                        spec.members(g).iter().flat_map(|e| spec.entities[*e].companies.clone()).collect()
                    }
                    Resource::Role(r) => {
                        let r = (0..spec.roles.len()).find(|i| role(*i) == r).unwrap();
                        spec.users.iter().filter(|v| v.roles.contains(&r)).flat_map(|v| v.companies.clone()).collect()
                    }
                    _ => unreachable!(),
                };
                prop_assert!(
                    dependants.iter().all(|c| mine.contains(c)),
                    "{:?} changes what users of companies {:?} depend on, from {:?}", request, dependants, mine
                );
            }
        }
    }
}

/// Attack F1: the Corterum Administrator of company A changes the "Compliance
/// Administrator" role and the group of company B's users only when their companies
/// cover every holder and member; otherwise "not found". The root administrator covers
/// every company.
#[test]
fn a_company_administrator_leaves_other_companies_roles_and_groups_alone() {
    let (mut w, [root, _, admin, _, other, _]) = administration_world();
    let compliance = RoleForm {
        name: "Compliance Administrator".to_owned(),
        description: "Administers users".to_owned(),
        features: FeatureSet::of(&[Feature::UserAdministration]),
        ..RoleForm::default()
    };
    w.upsert_role(compliance.into_role(role(0), "compliance".to_owned()).unwrap()).unwrap();
    let mut held = w.user(other).unwrap().clone();
    held.roles = vec![role(0)];
    w.upsert_user(held).unwrap();
    let mut jane = Entity::new(entity(0), EntityKind::Person, Name::parse("Jane").unwrap());
    jane.set_companies(vec![org(1)]);
    w.upsert_entity(jane).unwrap();
    let mut mine = Entity::new(entity(1), EntityKind::Person, Name::parse("Joe").unwrap());
    mine.set_companies(vec![org(0)]);
    w.upsert_entity(mine).unwrap();
    for (g, members) in [(0, vec![entity(0)]), (1, vec![entity(1)])] {
        w.upsert_group(Group {
            id: group(g),
            name: Name::parse("Team").unwrap(),
            description: String::new(),
            kind: EntityKind::Person,
            members,
        })
        .unwrap();
    }
    let edit_role = Request::new(admin, Action::RoleEdit, Resource::Role(role(0)));
    let edit_theirs = Request::new(admin, Action::GroupEdit, Resource::Group(group(0)));
    let edit_mine = Request::new(admin, Action::GroupEdit, Resource::Group(group(1)));
    for request in [edit_role, edit_theirs] {
        let d = w.decide(&request);
        assert_eq!(d, Decision::Deny { reason: DenyReason::UsedOutsideCompanies, conceal: true });
        assert_eq!(w.slice(admin, request.resource).decide(&request), d, "the slice notes them");
        check(&w, Request { actor: root, ..request }, true, None);
    }
    check(&w, edit_mine, true, None);
    // A snapshot without the members, noting their companies, decides the same.
    let mut bare = w.slice(admin, edit_mine.resource);
    bare.upsert_group(Group {
        id: group(1),
        name: Name::parse("Team").unwrap(),
        description: String::new(),
        kind: EntityKind::Person,
        members: Vec::new(),
    })
    .unwrap();
    bare.note_dependant_companies(edit_mine.resource, vec![org(0), org(1)]);
    check(&bare, edit_mine, false, Some(DenyReason::UsedOutsideCompanies));
}

/// Two companies; a root administrator in each; `admin` (out-of-the-box Corterum
/// Administrator) and `staff` (Conduct Rules Staff) at A; `other` at B; `both`, at A and
/// linked to B too.
fn administration_world() -> (World, [UserId; 6]) {
    let mut w = World::with_roles(RoleCatalogue::with_corterum());
    for i in 0..2 {
        w.insert_organisation(Organisation::company(
            org(i),
            Name::parse(&format!("Co {i}")).unwrap(),
        ))
        .unwrap();
    }
    let people = [
        ("root", 0, ROOT_ADMINISTRATOR, vec![]),
        ("root2", 1, ROOT_ADMINISTRATOR, vec![]),
        ("admin", 0, CORTERUM_ADMINISTRATOR, vec![]),
        ("staff", 0, CONDUCT_RULES_STAFF, vec![]),
        ("other", 1, CONDUCT_RULES_STAFF, vec![]),
        ("both", 0, CONDUCT_RULES_STAFF, vec![org(1)]),
    ];
    let mut ids = [user(0); 6];
    for (i, (name, home, role, more)) in people.into_iter().enumerate() {
        ids[i] = user(i);
        w.upsert_user(User::new(
            user(i),
            Name::parse(name).unwrap(),
            Email::parse(&format!("{name}@example.com")).unwrap(),
            org(home),
            vec![role],
        ))
        .unwrap();
        w.set_user_links(user(i), UserLinks { entity: None, companies: more }).unwrap();
    }
    (w, ids)
}

#[track_caller]
fn check(world: &World, request: Request, allowed: bool, reason: Option<DenyReason>) {
    let got = world.decide(&request);
    assert_eq!(got.is_allowed(), allowed, "{request:?}: {}", got.explain(world));
    if let (Some(want), Decision::Deny { reason, .. }) = (reason, got) {
        assert_eq!(reason, want, "{request:?}");
    }
}

#[test]
fn a_user_administrator_manages_their_companies_users_but_never_the_root() {
    let (w, [root, root2, admin, staff, other, both]) = administration_world();
    let req = |actor, action, target| Request::new(actor, action, Resource::User(target));
    // Attack 3: a second administrator strips the root administrator.
    check(
        &w,
        req(admin, Action::UserChangeRole, root).giving(CONDUCT_RULES_STAFF),
        false,
        Some(DenyReason::Irrevocable),
    );
    let stripping = w.decide(&req(admin, Action::UserChangeRole, root).giving(CONDUCT_RULES_STAFF));
    assert!(!stripping.conceals(), "the root is in the administrator's company: forbidden");
    for action in [Action::UserDeactivate, Action::UserDelete, Action::UserMoveOrganisation] {
        check(&w, req(admin, action, root), false, None);
        check(&w, req(root2, action, root), false, None);
    }
    check(
        &w,
        req(root2, Action::UserChangeRole, root).giving(CONDUCT_RULES_STAFF),
        false,
        Some(DenyReason::Irrevocable),
    );
    // Nobody gives the root administrator's role, not even a root administrator.
    check(
        &w,
        req(admin, Action::UserChangeRole, staff).giving(ROOT_ADMINISTRATOR),
        false,
        Some(DenyReason::RoleNotAssignable(ROOT_ADMINISTRATOR)),
    );
    check(
        &w,
        req(root, Action::UserChangeRole, staff).giving(ROOT_ADMINISTRATOR),
        false,
        Some(DenyReason::RoleNotAssignable(ROOT_ADMINISTRATOR)),
    );
    // Within the administrator's company: any role at or below their own.
    check(&w, req(admin, Action::UserChangeRole, staff).giving(CORTERUM_ADMINISTRATOR), true, None);
    check(&w, req(admin, Action::UserView, both), true, None);
    check(&w, req(admin, Action::UserDeactivate, staff), true, None);
    // Outside it: not found.
    let outside = w.decide(&req(admin, Action::UserChangeRole, other).giving(CONDUCT_RULES_STAFF));
    assert!(!outside.is_allowed() && outside.conceals(), "{}", outside.explain(&w));
    check(&w, req(admin, Action::UserView, other), false, Some(DenyReason::NoGrant));
    // Nobody changes their own roles.
    check(
        &w,
        req(admin, Action::UserChangeRole, admin).giving(CONDUCT_RULES_STAFF),
        false,
        Some(DenyReason::OwnAccount),
    );
    // Conduct Rules Staff administer nobody.
    check(&w, req(staff, Action::UserView, both), false, Some(DenyReason::NoGrant));
    // Accounts are created only in the administrator's companies.
    let invite = |actor, o| Request::new(actor, Action::UserInvite, Resource::Organisation(o));
    check(&w, invite(admin, org(0)).giving(CONDUCT_RULES_STAFF), true, None);
    check(&w, invite(admin, org(1)).giving(CONDUCT_RULES_STAFF), false, None);
    assert!(w.company_scope(admin, Feature::UserAdministration).covers_organisation(org(0)));
    assert!(!w.company_scope(admin, Feature::UserAdministration).covers_organisation(org(1)));
    assert!(w.company_scope(root, Feature::UserAdministration).everything);
    assert!(w.company_scope(staff, Feature::UserAdministration).is_nothing());
}

#[test]
fn an_invited_user_can_do_nothing_until_they_accept() {
    let (mut w, [_, _, admin, staff, ..]) = administration_world();
    w.set_invited(admin, true).unwrap();
    let view = Request::new(admin, Action::UserView, Resource::User(staff));
    check(&w, view, false, Some(DenyReason::ActorInvited));
    let feature =
        Request::new(admin, Action::FeatureUse, Resource::Feature(Feature::UserAdministration));
    check(&w, feature, false, Some(DenyReason::ActorInvited));
    assert!(w.slice(admin, view.resource).is_invited(admin), "a slice keeps it");
    assert!(w.scope(admin, Action::UserView).is_nothing());
    w.set_invited(admin, false).unwrap();
    check(&w, view, true, None);
    check(&w, feature, true, None);
}

#[test]
fn built_in_groups_and_roles_and_ones_own_roles_are_not_edited() {
    let (mut w, [root, _, admin, staff, ..]) = administration_world();
    let editor = RoleForm {
        name: "Editor".to_owned(),
        description: "Edits groups and roles".to_owned(),
        features: FeatureSet::of(&[Feature::GroupAdministration, Feature::RolesAdministration]),
        ..RoleForm::default()
    };
    w.upsert_role(editor.clone().into_role(role(0), "editor".to_owned()).unwrap()).unwrap();
    w.upsert_role(
        RoleForm { name: "Other".to_owned(), ..editor }
            .into_role(role(1), "other".to_owned())
            .unwrap(),
    )
    .unwrap();
    let mut u = w.user(staff).unwrap().clone();
    u.roles = vec![role(0)];
    w.upsert_user(u).unwrap();
    w.upsert_group(Group {
        id: group(0),
        name: Name::parse("Team").unwrap(),
        description: String::new(),
        kind: EntityKind::Person,
        members: Vec::new(),
    })
    .unwrap();
    let edit_group = |actor, g| Request::new(actor, Action::GroupEdit, Resource::Group(g));
    let edit_role = |actor, r| Request::new(actor, Action::RoleEdit, Resource::Role(r));
    check(&w, edit_group(staff, group(0)), true, None);
    check(&w, edit_group(staff, ALL_PEOPLE), false, Some(DenyReason::BuiltIn));
    check(&w, edit_group(root, ALL_PEOPLE), false, Some(DenyReason::BuiltIn));
    check(&w, edit_group(staff, group(9)), false, Some(DenyReason::NotFound));
    check(&w, edit_role(staff, role(1)), true, None);
    check(&w, edit_role(staff, role(0)), false, Some(DenyReason::RoleHeld));
    check(&w, edit_role(root, role(0)), true, None);
    check(&w, edit_role(root, CONDUCT_RULES_STAFF), false, Some(DenyReason::BuiltIn));
    check(&w, edit_role(root, ROOT_ADMINISTRATOR), false, Some(DenyReason::BuiltIn));
    // The out-of-the-box Administrator has both features.
    check(&w, edit_role(admin, role(1)), true, None);
    check(&w, edit_group(admin, group(0)), true, None);
}

#[test]
fn a_role_form_reads_back_as_itself() {
    let form = RoleForm {
        name: "Line manager".to_owned(),
        description: "Sees the training of the people they manage".to_owned(),
        groups: vec![group(2), group(1)],
        features: FeatureSet::of(&[Feature::ReportFitAndProperCertificate]),
        datasets: [(dataset(1), DatasetPermissions::READ), (dataset(2), DatasetPermissions::ALL)]
            .into(),
        requires_second_factor: true,
    };
    let built = form.clone().into_role(role(1), "line-manager".to_owned()).unwrap();
    let mut expected = form;
    expected.groups.sort();
    assert_eq!(RoleForm::from_role(&built), expected);
    let blank = RoleForm { description: String::new(), ..RoleForm::from_role(&built) };
    assert_eq!(
        blank.into_role(role(2), "x".to_owned()).unwrap_err().to_string(),
        "enter a description of the role: what is it for?"
    );
}
