//! Contract suites: what every adapter of a port must do, checked against the engine on
//! the whole world as the reference.
#![allow(
    clippy::expect_used,
    reason = "a contract suite fails the test that runs it, loudly, on the first difference"
)]

pub mod accounts;
pub mod audit;
pub mod batch;
pub mod corterum;
pub mod corterum_lists;
pub mod housekeeping;
pub mod limits;
pub mod mail;
pub mod manage;
pub mod second_factor;

use std::future::Future;
use std::sync::Arc;

use tenure_core::{
    Authorizer, Directory, NamedLog, NamedUser, OrganisationQuery, Page, Search, UserQuery,
    UserSort,
};
use tenure_domain::role::builtin::DATA_COORDINATOR;
use tenure_domain::{Action, Request, Resource, ResourceKind, Scope, UserId, World};
use uuid::Uuid;

use crate::worlds;

/// Every request in the world: every actor, action and resource of the action's kind,
/// with each role for the actions that give one.
pub fn requests(world: &World) -> Vec<Request> {
    let users: Vec<UserId> = world.users().map(|u| u.id).collect();
    let mut out = Vec::new();
    for &actor in &users {
        for &action in Action::ALL {
            let resources: Vec<Resource> = match action.resource_kind() {
                ResourceKind::User => users.iter().map(|u| Resource::User(*u)).collect(),
                ResourceKind::Organisation => {
                    world.organisations().map(|o| Resource::Organisation(o.id)).collect()
                }
                ResourceKind::Log => world.logs().map(|l| Resource::Log(l.id)).collect(),
                ResourceKind::Service => vec![Resource::Service],
                ResourceKind::Entity => world.entities().map(|e| Resource::Entity(e.id)).collect(),
                ResourceKind::Instance => world
                    .datasets()
                    .flat_map(|d| {
                        world.entities().map(|e| Resource::Instance { dataset: d.id, entity: e.id })
                    })
                    .collect(),
                ResourceKind::Feature => {
                    tenure_domain::Feature::ALL.iter().map(|f| Resource::Feature(*f)).collect()
                }
                ResourceKind::Group => world.groups().map(|g| Resource::Group(g.id)).collect(),
                ResourceKind::Role => world.roles().iter().map(|r| Resource::Role(r.id)).collect(),
            };
            for resource in resources {
                let request = Request::new(actor, action, resource);
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

/// Pages through a listing with the given page size until a short page.
async fn all_pages<T, F, Fut>(size: usize, mut page: F) -> Vec<T>
where
    F: FnMut(Page) -> Fut,
    Fut: Future<Output = Vec<T>>,
{
    let mut out = Vec::new();
    for number in 1.. {
        let rows = page(Page::numbered(number, size)).await;
        let done = rows.len() < size;
        out.extend(rows);
        if done {
            break;
        }
    }
    out
}

/// Queries that each test one part of the filter's meaning. `%` and `_` appear in no name
/// or email, so an adapter that forgets to escape them returns rows where none match.
fn user_queries() -> Vec<UserQuery> {
    let search = |s: &str| UserQuery { search: Search::parse(s), ..UserQuery::default() };
    vec![
        UserQuery::default(),
        search("AL"),
        search("é"),
        search("user1"),
        // Three characters or more: backends may answer these from a trigram index.
        search("o'b"),
        search("émil"),
        search("XAMPLE.C"),
        search("a\"b"),
        search("100%"),
        search("ice 1"),
        search("%"),
        search("_"),
        UserQuery { active: Some(true), ..UserQuery::default() },
        UserQuery { active: Some(false), ..UserQuery::default() },
        UserQuery { role: Some(DATA_COORDINATOR), ..UserQuery::default() },
        UserQuery { data_protection_officer: Some(true), ..UserQuery::default() },
        UserQuery { key_contact: Some(false), sort: UserSort::Email, ..UserQuery::default() },
        UserQuery {
            search: Search::parse("a"),
            active: Some(true),
            sort: UserSort::Email,
            ..UserQuery::default()
        },
    ]
}

fn organisation_queries() -> Vec<OrganisationQuery> {
    vec![
        OrganisationQuery::default(),
        OrganisationQuery { search: Search::parse("ALPHA"), active: None },
        OrganisationQuery { search: Search::parse("_"), active: None },
        OrganisationQuery { search: None, active: Some(false) },
    ]
}

/// The `Directory` contract: `make` turns a world into a directory holding it. Every
/// decision through the directory equals the engine's on the whole world, and every
/// listing, at page sizes 1, 2 and 100, holds exactly the scope's records in the
/// documented order (users and organisations by lower-cased name then id, logs by id).
///
/// `stride` samples every n-th request, to keep slower backends quick; 1 checks all.
///
/// # Panics
/// On the first difference, naming the world, request and both answers.
pub async fn directory<F, Fut>(make: F, stride: usize)
where
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<dyn Directory>>,
{
    for (name, world) in worlds::standard() {
        let directory = make(world.clone()).await;
        let auth = Authorizer::new(directory.clone());

        for request in requests(&world).into_iter().step_by(stride.max(1)) {
            let got = auth
                .decide(&request)
                .await
                .unwrap_or_else(|e| panic!("world {name}: {request:?}: backend failed: {e:?}"));
            let expected = world.decide(&request);
            assert_eq!(
                got,
                expected,
                "world {name}: {request:?}: expected {}",
                expected.explain(&world)
            );
        }

        let unknown = UserId::from_uuid(Uuid::from_u128(u128::MAX));
        assert!(
            auth.visible_users(unknown, Page::numbered(1, 100)).await.expect("list").is_empty()
        );

        for actor in world.users().map(|u| u.id) {
            check_lists(&name, &world, &*directory, &auth, actor).await;
        }
    }
}

async fn check_lists(
    name: &str,
    world: &World,
    directory: &dyn Directory,
    auth: &Authorizer,
    actor: UserId,
) {
    let scope: Scope = world.scope(actor, Action::UserView);
    for (i, query) in user_queries().into_iter().enumerate() {
        let mut expected: Vec<_> =
            world.users_in(&scope).filter(|u| query.matches(u)).cloned().collect();
        expected.sort_by_key(|u| query.sort_key(u));
        // Every page size on the plain list; the others once, in pages of 2.
        let sizes: &[usize] = if i == 0 { &[1, 2, 100] } else { &[2] };
        for &size in sizes {
            let query = &query;
            let got = all_pages(size, |p| async move {
                auth.find_users(actor, query, p).await.expect("list users")
            })
            .await;
            assert_eq!(
                got, expected,
                "world {name}: users visible to {actor} matching {query:?}, pages of {size}"
            );
        }
        // The same pages with their organisations' names, which are the world's.
        let named: Vec<_> = expected
            .iter()
            .map(|u| NamedUser {
                user: u.clone(),
                organisation: world.organisation(u.organisation).map(|o| o.name.clone()),
            })
            .collect();
        let (scope, query) = (&scope, &query);
        let got = all_pages(sizes.last().copied().unwrap_or(2), |p| async move {
            directory.users_named(scope, query, p).await.expect("list named users")
        })
        .await;
        assert_eq!(got, named, "world {name}: named users visible to {actor} matching {query:?}");
    }

    let scope = world.scope(actor, Action::OrganisationView);
    for (i, query) in organisation_queries().into_iter().enumerate() {
        let mut expected: Vec<_> = world
            .organisations()
            .filter(|o| scope.matches_organisation(o) && query.matches(o))
            .cloned()
            .collect();
        expected.sort_by_key(OrganisationQuery::sort_key);
        let sizes: &[usize] = if i == 0 { &[1, 2, 100] } else { &[100] };
        for &size in sizes {
            let query = &query;
            let got = all_pages(size, |p| async move {
                auth.find_organisations(actor, query, p).await.expect("list organisations")
            })
            .await;
            assert_eq!(
                got, expected,
                "world {name}: organisations visible to {actor} matching {query:?}, pages of {size}"
            );
        }
    }

    let scope = world.scope(actor, Action::LogView);
    let mut expected: Vec<_> = world.logs().filter(|l| scope.matches_log(l)).cloned().collect();
    expected.sort_by_key(|l| *l.id.as_uuid().as_bytes());
    for size in [2, 100] {
        let got =
            all_pages(
                size,
                |p| async move { auth.visible_logs(actor, p).await.expect("list logs") },
            )
            .await;
        assert_eq!(got, expected, "world {name}: logs visible to {actor}, pages of {size}");
    }
    // The same pages with their names, which are the world's.
    let org_name = |id| world.organisation(id).map(|o| o.name.clone());
    let named: Vec<_> = expected
        .iter()
        .map(|l| NamedLog {
            log: l.clone(),
            owner: org_name(l.owning_organisation),
            manager: org_name(l.managing_organisation),
            assignee: l.assigned_to.and_then(|u| world.user(u)).map(|u| u.name.clone()),
        })
        .collect();
    for size in [2, 100] {
        let scope = &scope;
        let got = all_pages(size, |p| async move {
            directory.logs_named(scope, p).await.expect("list named logs")
        })
        .await;
        assert_eq!(got, named, "world {name}: named logs visible to {actor}, pages of {size}");
    }
}

/// A service-wide search over more users than a backend may sort itself: an
/// administrator pages through a term that matches 2,050 users, one that matches about a
/// thousand and one that matches a few, and every page equals the reference answer.
/// Backends that pick their plan by how many rows match (PostgreSQL sorts the matches of
/// a rare term itself; a common term walks the name index) must agree on both sides.
///
/// # Panics
/// On the first difference.
pub async fn crowded_search<F, Fut>(make: F)
where
    F: FnOnce(World) -> Fut,
    Fut: Future<Output = Arc<dyn Directory>>,
{
    use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_PROVIDER};
    use tenure_domain::{Email, Name, OrgId, Organisation, User};

    let mut world = World::new();
    let org = OrgId::from_uuid(Uuid::from_u128(1));
    world
        .insert_organisation(Organisation::new(org, Name::parse("Crowded Homes").expect("name")))
        .expect("organisation");
    let admin = UserId::from_uuid(Uuid::from_u128(2));
    let person = |id: u128, name: String, role| {
        User::new(
            UserId::from_uuid(Uuid::from_u128(id)),
            Name::parse(&name).expect("name"),
            Email::parse(&format!("person{id}@crowd.example")).expect("email"),
            org,
            vec![role],
        )
    };
    world.upsert_user(person(2, "Admin".to_owned(), ADMINISTRATOR)).expect("admin");
    // Ids run against the names, so an adapter that sorts by id alone is caught.
    for i in 0..2_050u128 {
        world
            .upsert_user(person(10_000 - i, format!("Crowd {i:04}"), DATA_PROVIDER))
            .expect("user");
    }
    // Some hold two roles, which a store must return whole (and sorted, as every
    // adapter returns roles).
    for i in 0..7u128 {
        let mut u = person(20_000 + i, format!("Rare {i}"), DATA_PROVIDER);
        if i % 2 == 0 {
            u.roles = vec![tenure_domain::role::builtin::DATA_COORDINATOR, DATA_PROVIDER];
        }
        world.upsert_user(u).expect("user");
    }
    let directory = make(world.clone()).await;
    let auth = Authorizer::new(directory.clone());
    let scope = world.scope(admin, Action::UserView);
    let crowded = Name::parse("Crowded Homes").expect("name");
    for term in ["crowd", "owd 1", "rare", "nobody at all"] {
        for sort in [UserSort::Name, UserSort::Email] {
            let query = UserQuery { search: Search::parse(term), sort, ..UserQuery::default() };
            let mut expected: Vec<_> =
                world.users().filter(|u| query.matches(u)).cloned().collect();
            expected.sort_by_key(|u| query.sort_key(u));
            for number in [1, 2, 60, 103, 104] {
                let page = Page::numbered(number, Page::SCREEN);
                let got = auth.find_users(admin, &query, page).await.expect("search");
                let want: Vec<_> =
                    expected.iter().skip(page.offset).take(page.limit).cloned().collect();
                assert_eq!(got, want, "search {term:?} sorted by {sort:?}, page {number}");
                // Named, through the same plans.
                let named = directory.users_named(&scope, &query, page).await.expect("search");
                let want: Vec<_> = want
                    .into_iter()
                    .map(|user| NamedUser { user, organisation: Some(crowded.clone()) })
                    .collect();
                assert_eq!(named, want, "named search {term:?} sorted by {sort:?}, page {number}");
            }
        }
    }
}

/// Logs lists over wide and deep scopes: a stock owner with 70 managing agents (a
/// coordinator there reaches 71 organisations) and one agent whose scope holds over
/// 1,100 logs, for stores that choose how to find a page by the scope's size. Every page
/// of 20 and of 100, plain and named, equals the reference answer, for the hub's
/// coordinator, an agent's coordinator and a provider with logs of their own.
///
/// # Panics
/// On the first difference.
pub async fn wide_log_scopes<F, Fut>(make: F)
where
    F: FnOnce(World) -> Fut,
    Fut: Future<Output = Arc<dyn Directory>>,
{
    use tenure_domain::role::builtin::DATA_PROVIDER;
    use tenure_domain::{Email, Log, LogId, Name, OrgId, Organisation, Relationship, User};

    let id = |n: u128| Uuid::from_u128(n);
    let mut world = World::new();
    let org = |n: u128| OrgId::from_uuid(id(n));
    let hub = org(1);
    for n in 1..=71u128 {
        let name = Name::parse(&format!("Org {n}")).expect("name");
        world.insert_organisation(Organisation::new(org(n), name)).expect("organisation");
        if n > 1 {
            let edge = Relationship { stock_owner: hub, managing_agent: org(n) };
            world.add_relationship(edge).expect("edge");
        }
    }
    let person = |n: u128, o: OrgId, role| {
        User::new(
            UserId::from_uuid(id(n)),
            Name::parse(&format!("Person {n}")).expect("name"),
            Email::parse(&format!("person{n}@wide.example")).expect("email"),
            o,
            vec![role],
        )
    };
    let (hub_coordinator, agent_coordinator, provider) =
        (UserId::from_uuid(id(1_001)), UserId::from_uuid(id(1_002)), UserId::from_uuid(id(1_003)));
    world.upsert_user(person(1_001, hub, DATA_COORDINATOR)).expect("user");
    world.upsert_user(person(1_002, org(2), DATA_COORDINATOR)).expect("user");
    world.upsert_user(person(1_003, org(5), DATA_PROVIDER)).expect("user");
    // Ids run against the organisations, so a store that orders by anything but id is
    // caught; org 2 manages 1,100 of the hub's logs; every agent has two of its own.
    let mut n = 1_000_000u128;
    let mut log = |owner: OrgId, manager: OrgId, assigned_to: Option<UserId>| {
        n -= 7;
        Log {
            id: LogId::from_uuid(id(n)),
            owning_organisation: owner,
            managing_organisation: manager,
            assigned_to,
            created_by: None,
        }
    };
    let mut logs = Vec::new();
    for i in 0..1_100 {
        logs.push(log(hub, org(2), (i % 50 == 0).then_some(provider)));
    }
    for a in 2..=71u128 {
        logs.push(log(org(a), org(a), None));
        logs.push(log(org(a), hub, None));
    }
    for l in logs {
        world.upsert_log(l).expect("log");
    }
    let directory = make(world.clone()).await;
    let auth = &Authorizer::new(directory.clone());
    for actor in [hub_coordinator, agent_coordinator, provider] {
        let scope = world.scope(actor, Action::LogView);
        let mut expected: Vec<_> = world.logs().filter(|l| scope.matches_log(l)).cloned().collect();
        expected.sort_by_key(|l| *l.id.as_uuid().as_bytes());
        assert!(!expected.is_empty());
        for size in [20, 100] {
            let got = all_pages(size, |p| async move {
                auth.visible_logs(actor, p).await.expect("list logs")
            })
            .await;
            assert_eq!(got, expected, "logs visible to {actor}, pages of {size}");
            let scope = &scope;
            let directory = &directory;
            let named = all_pages(size, |p| async move {
                directory.logs_named(scope, p).await.expect("list named logs")
            })
            .await;
            let named: Vec<_> = named.into_iter().map(|n| n.log).collect();
            assert_eq!(named, expected, "named logs visible to {actor}, pages of {size}");
        }
    }
}
