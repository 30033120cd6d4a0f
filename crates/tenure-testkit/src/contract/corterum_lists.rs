//! The contract of Corterum's paged lists (issue 15, Corterum 6), on the store's ports:
//! entities, groups, custom roles and user accounts, each searched and filtered by the
//! store, a page at a time with how many match in all, in the same order on every
//! store; a scope never lets another company's records through, whatever the query.

use std::future::Future;
use std::sync::Arc;

use tenure_core::query::Search;
use tenure_core::{AccountQuery, ChangeStore, CorterumStore, EntityQuery, GroupQuery, Page, Write};
use tenure_domain::role::builtin::{CONDUCT_RULES_STAFF, SENIOR_MANAGER};
use tenure_domain::{
    Email, Entity, EntityId, EntityKind, EntityScope, Group, GroupId, Name, OrgId,
    OrganisationKind, RoleForm, RoleId, Scope, User, UserId, UserLinks, World,
};
use uuid::Uuid;

const FCA: u128 = 1;
const PSR: u128 = 2;
const ROOT: UserId = UserId::from_uuid(Uuid::from_u128(0xface));

fn org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}

fn name(s: &str) -> Name {
    Name::parse(s).expect("name")
}

/// 25 people and 12 businesses of the FCA, 8 people of the PSR; 25 FCA accounts (every
/// third deactivated, every fourth a senior manager, every fifth with an entity) and 3
/// PSR accounts; 22 groups; 23 custom roles.
fn writes() -> Vec<Write> {
    let mut out = Vec::new();
    let mut entity = |base: u128, prefix: &str, kind, n: u128, c: u128| {
        for i in 0..n {
            let mut e = Entity::new(
                EntityId::from_uuid(Uuid::from_u128(base + i)),
                kind,
                name(&format!("{prefix} {i:02}")),
            );
            e.set_companies(vec![org(c)]);
            out.push(Write::UpsertEntity(e));
        }
    };
    entity(0x1000, "Person", EntityKind::Person, 25, FCA);
    entity(0x2000, "Firm", EntityKind::Business, 12, FCA);
    entity(0x3000, "Hidden", EntityKind::Person, 8, PSR);
    for (base, prefix, n, c) in [(0x5000, "staff", 25, FCA), (0x6000, "pat", 3, PSR)] {
        for i in 0..n {
            let id = UserId::from_uuid(Uuid::from_u128(base + i));
            let email = format!("{prefix}{i:02}@example.com");
            let role = if i % 4 == 0 { SENIOR_MANAGER } else { CONDUCT_RULES_STAFF };
            let mut user = User::new(
                id,
                name(&format!("{prefix} {i:02}")),
                Email::parse(&email).expect("email"),
                org(c),
                vec![role],
            );
            user.active = i % 3 != 0;
            out.push(Write::InsertUser(user));
            let entity = (i % 5 == 0).then(|| EntityId::from_uuid(Uuid::from_u128(0x1000 + i)));
            out.push(Write::SetUserLinks {
                user: id,
                links: UserLinks { entity, companies: vec![org(c)] },
                username: format!("{}{i:02}", prefix.to_uppercase()),
            });
        }
    }
    for i in 0..22 {
        out.push(Write::UpsertGroup(Group {
            id: GroupId::from_uuid(Uuid::from_u128(0x7000 + i)),
            name: name(&format!("Team {i:02}")),
            description: "A team".to_owned(),
            kind: if i < 15 { EntityKind::Person } else { EntityKind::Business },
            members: vec![EntityId::from_uuid(Uuid::from_u128(
                if i < 15 { 0x1000 } else { 0x2000 - 15 } + i,
            ))],
        }));
    }
    for i in 0..23u128 {
        let form = RoleForm {
            name: format!("Custom {i:02}"),
            description: "Made here".to_owned(),
            ..RoleForm::default()
        };
        let role = form
            .into_role(RoleId::from_uuid(Uuid::from_u128(0x8000 + i)), format!("custom-{i}"))
            .expect("a role");
        out.push(Write::UpsertRole(role));
    }
    out
}

/// The lists, on a store made from the Corterum contract's world.
///
/// # Panics
/// On the first broken promise.
pub async fn lists<S, F, Fut>(make: F)
where
    S: ChangeStore + CorterumStore,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let store = make(crate::contract::corterum::world()).await;
    store.apply(writes(), Vec::new()).await.expect("seeded");
    let page = |n| Page::numbered(n, 20);

    // Entities: an FCA administrator's scope, then narrowed.
    let fca =
        EntityScope { companies: vec![org(FCA)], company_wide: true, ..EntityScope::nothing(ROOT) };
    let all = EntityQuery::default();
    assert_eq!(store.entity_count(&fca, &all).await.expect("count"), 37);
    let second = store.entities(&fca, &all, page(2)).await.expect("page 2");
    assert_eq!(second.len(), 17, "37 in pages of 20");
    assert!(second.iter().all(|e| e.companies == vec![org(FCA)]), "never the PSR's");
    let people = EntityQuery { search: Search::parse("PERSON"), kind: Some(EntityKind::Person) };
    assert_eq!(store.entity_count(&fca, &people).await.expect("count"), 25);
    let names: Vec<String> = store
        .entities(&fca, &people, page(2))
        .await
        .expect("page 2")
        .into_iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(names, ["Person 20", "Person 21", "Person 22", "Person 23", "Person 24"]);
    let hidden = EntityQuery { search: Search::parse("hidden"), kind: None };
    assert_eq!(store.entity_count(&fca, &hidden).await.expect("count"), 0);
    let everything = EntityScope { everything: true, ..EntityScope::nothing(ROOT) };
    assert_eq!(store.entity_count(&everything, &hidden).await.expect("count"), 8);
    let one_group = EntityScope {
        groups: vec![GroupId::from_uuid(Uuid::from_u128(0x7003))],
        ..EntityScope::nothing(ROOT)
    };
    let one_group = EntityScope { companies: vec![org(FCA)], ..one_group };
    assert_eq!(store.entity_count(&one_group, &all).await.expect("count"), 1);

    // Groups.
    let groups = store.group_list(&GroupQuery::default(), page(2)).await.expect("groups");
    assert_eq!((groups.total, groups.items.len()), (22, 2));
    assert_eq!(groups.items[0].name.as_str(), "Team 20");
    assert_eq!(groups.items[0].members.len(), 1, "with their members");
    let business = GroupQuery { search: Search::parse("team 1"), kind: Some(EntityKind::Business) };
    let found = store.group_list(&business, page(1)).await.expect("groups");
    let names: Vec<&str> = found.items.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        (found.total, names),
        (5, vec!["Team 15", "Team 16", "Team 17", "Team 18", "Team 19"])
    );

    // Custom roles.
    let roles = store.custom_role_list(None, page(2)).await.expect("roles");
    assert_eq!((roles.total, roles.items.len()), (23, 3));
    assert_eq!(roles.items[2].name, "Custom 22");
    let search = Search::parse("CUSTOM 1");
    let found = store.custom_role_list(search.as_ref(), page(1)).await.expect("roles");
    assert_eq!(found.total, 10);

    // Accounts: the FCA's 25 staff (the root has no username here), never the PSR's.
    let scope = Scope {
        organisations: vec![org(FCA)],
        kind: OrganisationKind::Company,
        ..Scope::nothing(ROOT)
    };
    let every = AccountQuery::default();
    let first = store.account_list(&scope, &every, page(1)).await.expect("accounts");
    let second = store.account_list(&scope, &every, page(2)).await.expect("accounts");
    assert_eq!((first.total, first.items.len(), second.items.len()), (25, 20, 5));
    let usernames: Vec<&str> =
        first.items.iter().chain(&second.items).map(|a| a.username.as_str()).collect();
    let mut sorted = usernames.clone();
    sorted.sort_by_key(|u| u.to_lowercase());
    assert_eq!(usernames, sorted, "by username, any case");
    assert!(usernames.iter().all(|u| u.starts_with("STAFF")), "{usernames:?}");
    let with_entity = &first.items[0];
    assert_eq!(with_entity.username, "STAFF00");
    assert_eq!(with_entity.entity_name.as_ref().map(Name::as_str), Some("Person 00"));
    assert_eq!(with_entity.links.companies, vec![org(FCA)]);
    let query = AccountQuery {
        search: Search::parse("staff1"),
        role: Some(SENIOR_MANAGER),
        active: Some(true),
        company: Some(org(FCA)),
    };
    // staff10..19: senior managers are 12 and 16; 12 is deactivated.
    let found = store.account_list(&scope, &query, page(1)).await.expect("accounts");
    let names: Vec<&str> = found.items.iter().map(|a| a.username.as_str()).collect();
    assert_eq!((found.total, names), (1, vec!["STAFF16"]));
    let by_email =
        AccountQuery { search: Search::parse("PAT01@EXAMPLE"), ..AccountQuery::default() };
    assert_eq!(store.account_list(&scope, &by_email, page(1)).await.expect("none").total, 0);
    let psr_filter = AccountQuery { company: Some(org(PSR)), ..AccountQuery::default() };
    assert_eq!(store.account_list(&scope, &psr_filter, page(1)).await.expect("none").total, 0);
    let root = Scope { everything: true, kind: OrganisationKind::Company, ..Scope::nothing(ROOT) };
    let theirs = store.account_list(&root, &by_email, page(1)).await.expect("one");
    assert_eq!(theirs.items.iter().map(|a| a.username.as_str()).collect::<Vec<_>>(), ["PAT01"]);
    let deactivated = AccountQuery { active: Some(false), ..AccountQuery::default() };
    // 0, 3, ... 24 of the staff: 9; the PSR's 0: 1.
    assert_eq!(store.account_list(&root, &deactivated, page(1)).await.expect("some").total, 10);
}
