//! Items of the security checklist (docs/security.md) that need the SQL store itself, on
//! SQLite and, when `TENURE_TEST_POSTGRES_URL` names a server, PostgreSQL: DATA-01 (a
//! change and its audit entries commit together, each way round), VAL-03 (names that look
//! like SQL or HTML survive a round trip through bound queries unchanged) and LOAD-04
//! (page numbers past any end and huge page sizes are answered, bounded, never an error).

use sea_orm::{ConnectionTrait, Database, Statement};
use tenure_core::{
    AuditDetail, AuditEvent, AuditName, Authorizer, ChangeError, ChangeStore, Outcome, Page,
    Search, Timestamp, UserQuery, Write,
};
use tenure_domain::{Name, User, UserId};
use uuid::Uuid;

use crate::{store_at, temp_postgres, temp_sqlite};

fn pete() -> UserId {
    UserId::from_uuid(Uuid::from_u128(104))
}

fn ada() -> UserId {
    UserId::from_uuid(Uuid::from_u128(101))
}

fn event(id: u128, target: UserId) -> AuditEvent {
    AuditEvent {
        id: Uuid::from_u128(id),
        at: Timestamp(1),
        actor: Some(ada()),
        name: AuditName::UserUpdate,
        outcome: Outcome::Success,
        target_user: Some(target),
        organisation: None,
        detail: AuditDetail::Empty,
        origin: None,
    }
}

/// Every row of the audit trail, counted through a connection of its own.
async fn audit_rows(url: &str) -> i64 {
    let raw = Database::connect(url).await.unwrap();
    let backend = raw.get_database_backend();
    let row = raw
        .query_one_raw(Statement::from_string(backend, "SELECT COUNT(*) AS n FROM audit_events"))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

fn renamed(user: &User, name: &str) -> User {
    let mut u = user.clone();
    u.name = Name::parse(name).unwrap();
    u
}

/// DATA-01: the store refuses an audit entry whose id it already holds; the user row
/// written in the same call stays as it was. The other way round, a write refused for a
/// stale version leaves no audit entry behind.
async fn check_a_change_and_its_audit_commit_together(url: String) {
    let world = tenure_testkit::contract::manage::world();
    let org = world.user(pete()).unwrap().organisation;
    let store = store_at(url.clone(), world).await;
    let before = store.user(pete()).await.unwrap().unwrap();
    let org_before = store.organisation(org).await.unwrap().unwrap().version;
    let rows = audit_rows(&url).await;

    // A change with a fresh audit id lands, with its entry.
    let first = renamed(&before.value, "Pete One");
    store
        .apply(
            vec![Write::UpdateUser { user: first.clone(), version: before.version }],
            vec![event(0xD1, pete())],
        )
        .await
        .unwrap();
    let now = store.user(pete()).await.unwrap().unwrap();
    assert_eq!(now.value.name.as_str(), "Pete One");
    assert_eq!(now.version, before.version + 1);
    assert_eq!(audit_rows(&url).await, rows + 1);

    // The same audit id again: the audit insert fails, so nothing of the call is kept,
    // neither the user nor the organisation's version nor a second entry.
    let second = renamed(&now.value, "Pete Two");
    let err = store
        .apply(
            vec![
                Write::UpdateUser { user: second, version: now.version },
                Write::TouchOrganisation { id: org, version: org_before },
                Write::SetPassword { user: pete(), hash: Some("never".to_owned()) },
            ],
            vec![event(0xD2, pete()), event(0xD1, pete())],
        )
        .await
        .expect_err("a duplicate audit id is refused");
    assert!(!matches!(err, ChangeError::Conflict), "refused for the audit entry: {err:?}");
    let after = store.user(pete()).await.unwrap().unwrap();
    assert_eq!(after.value, now.value, "the user row is unchanged");
    assert_eq!(after.version, now.version, "and so is its version");
    assert_eq!(store.organisation(org).await.unwrap().unwrap().version, org_before);
    assert_eq!(audit_rows(&url).await, rows + 1, "not even the first, valid entry is kept");

    // The reverse: the business write fails (a stale version), its audit entry is not kept.
    let err = store
        .apply(
            vec![Write::UpdateUser {
                user: renamed(&now.value, "Pete Three"),
                version: before.version,
            }],
            vec![event(0xD3, pete())],
        )
        .await
        .expect_err("a stale version is refused");
    assert!(matches!(err, ChangeError::Conflict), "{err:?}");
    assert_eq!(store.user(pete()).await.unwrap().unwrap().value.name.as_str(), "Pete One");
    assert_eq!(audit_rows(&url).await, rows + 1, "no orphan audit entry");
}

#[tokio::test]
async fn a_change_and_its_audit_entries_commit_together() {
    check_a_change_and_its_audit_commit_together(temp_sqlite().0).await;
    if let Some(url) = temp_postgres().await {
        check_a_change_and_its_audit_commit_together(url).await;
    }
}

/// Names an attacker would try; each is a valid name and must come back byte for byte.
const HOSTILE: [&str; 5] = [
    "'); DROP TABLE users;--",
    "<script>alert(1)</script>",
    "Robert\"); DELETE FROM audit_events; --",
    "100% _wild_ \\ cards",
    "O'Brien",
];

/// VAL-03: hostile names are written and read through bound parameters: each comes back
/// unchanged, every table is still there, and a search for the text finds exactly its
/// owner (a `%` or `_` in the search is not a wildcard).
async fn check_hostile_names_round_trip(url: String) {
    let world = tenure_testkit::contract::manage::world();
    let store = store_at(url.clone(), world).await;
    let auth = Authorizer::new(store.clone());
    let everyone = auth.visible_users(ada(), Page::numbered(1, 100)).await.unwrap().len();
    for (i, name) in HOSTILE.into_iter().enumerate() {
        let current = store.user(pete()).await.unwrap().unwrap();
        store
            .apply(
                vec![Write::UpdateUser {
                    user: renamed(&current.value, name),
                    version: current.version,
                }],
                vec![event(0xE0 + i as u128, pete())],
            )
            .await
            .unwrap();
        let read = store.user(pete()).await.unwrap().unwrap();
        assert_eq!(read.value.name.as_str(), name, "round trip");
        let query = UserQuery { search: Search::parse(name), ..UserQuery::default() };
        let found = auth.find_users(ada(), &query, Page::numbered(1, 100)).await.unwrap();
        assert_eq!(
            found.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![pete()],
            "searching for {name:?}"
        );
        assert_eq!(
            auth.visible_users(ada(), Page::numbered(1, 100)).await.unwrap().len(),
            everyone,
            "every user is still there after {name:?}"
        );
    }
    assert!(audit_rows(&url).await >= HOSTILE.len() as i64, "the audit table is still there");
}

#[tokio::test]
async fn names_that_look_like_sql_or_html_survive_a_round_trip() {
    check_hostile_names_round_trip(temp_sqlite().0).await;
    if let Some(url) = temp_postgres().await {
        check_hostile_names_round_trip(url).await;
    }
}

/// LOAD-04: a page size is clamped to the maximum, and a page number past the end is an
/// empty page, not a database error.
async fn check_pages_are_bounded(url: String) {
    let mut world = tenure_testkit::contract::manage::world();
    let alpha = world.user(ada()).unwrap().organisation;
    for n in 0..150u128 {
        let email = tenure_domain::Email::parse(&format!("many{n}@example.com")).unwrap();
        let name = Name::parse(&format!("Many {n}")).unwrap();
        let id = UserId::from_uuid(Uuid::from_u128(0x10_000 + n));
        world
            .upsert_user(User::new(
                id,
                name,
                email,
                alpha,
                vec![tenure_domain::role::builtin::DATA_PROVIDER],
            ))
            .unwrap();
    }
    let admin = ada();
    let total = world.users().count();
    assert!(total > Page::MAX_LIMIT, "more users than one page holds: {total}");
    let store = store_at(url, world).await;
    let auth = Authorizer::new(store.clone());
    let huge = auth.visible_users(admin, Page::numbered(1, 100_000)).await.unwrap();
    assert_eq!(huge.len(), Page::MAX_LIMIT, "page_size=100000 is clamped");
    // The largest page whose offset still fits the databases' signed 64-bit integers.
    let last = usize::try_from(i64::MAX).unwrap() / Page::MAX_LIMIT;
    let second = auth.visible_users(admin, Page::numbered(2, 100_000)).await.unwrap();
    assert_eq!(second.len(), total - Page::MAX_LIMIT, "the rest, on the second page");
    for number in [100_000, last] {
        let page = Page::numbered(number, 100_000);
        let users = auth.visible_users(admin, page).await;
        assert!(users.as_ref().is_ok_and(Vec::is_empty), "page {number}: {users:?}");
        let logs = auth.visible_logs(admin, page).await;
        assert!(logs.as_ref().is_ok_and(Vec::is_empty), "logs page {number}: {logs:?}");
    }
}

#[tokio::test]
async fn huge_pages_and_page_numbers_are_bounded() {
    check_pages_are_bounded(temp_sqlite().0).await;
    if let Some(url) = temp_postgres().await {
        check_pages_are_bounded(url).await;
    }
}

/// LOAD-04: a page number whose offset would pass `i64::MAX` (the web's
/// `/users?page=18446744073709551615` gives `Page::numbered(usize::MAX, 20)`) is an empty
/// page. It once panicked inside sea-query's binding (`TryFromIntError` on the offset);
/// `Page::numbered` now clamps the offset to `Page::MAX_OFFSET`.
async fn check_offsets_past_i64_are_an_empty_page(url: String) {
    let world = tenure_testkit::contract::manage::world();
    let store = store_at(url, world).await;
    let auth = Authorizer::new(store.clone());
    for number in [usize::MAX / 2, usize::MAX] {
        let page = Page::numbered(number, Page::SCREEN);
        let users = auth.visible_users(ada(), page).await;
        assert!(users.as_ref().is_ok_and(Vec::is_empty), "page {number}: {users:?}");
    }
}

#[tokio::test]
async fn page_numbers_whose_offset_passes_i64_are_an_empty_page() {
    check_offsets_past_i64_are_an_empty_page(temp_sqlite().0).await;
    if let Some(url) = temp_postgres().await {
        check_offsets_past_i64_are_an_empty_page(url).await;
    }
}

/// Issue 16, finding 1: a NUL in the administrator's search (`/users?q=ab%00`) ended
/// SQLite's full-text phrase early ("unterminated string": a 500). Search terms drop
/// control and text-direction characters, so the store never sees one.
async fn check_control_characters_in_a_search(url: String) {
    let store = store_at(url, tenure_testkit::contract::manage::world()).await;
    let auth = Authorizer::new(store.clone());
    for typed in ["pe\0te", "pete\0", "\u{202E}pete", "pe\u{1b}te\u{85}"] {
        let query = UserQuery { search: Search::parse(typed), ..UserQuery::default() };
        let found = auth.find_users(ada(), &query, Page::numbered(1, 100)).await;
        let ids: Vec<UserId> = found.unwrap().iter().map(|u| u.id).collect();
        assert_eq!(ids, vec![pete()], "searching for {typed:?}");
    }
}

#[tokio::test]
async fn control_characters_in_a_search_find_what_the_rest_finds() {
    check_control_characters_in_a_search(temp_sqlite().0).await;
    if let Some(url) = temp_postgres().await {
        check_control_characters_in_a_search(url).await;
    }
}
