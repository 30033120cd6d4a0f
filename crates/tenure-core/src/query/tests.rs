//! Tests of list queries: what a search term is, and what a query matches.

use tenure_domain::role::builtin::{DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{Email, Name, OrgId, User, UserId};
use uuid::Uuid;

use crate::query::{SEARCH_MAX_CHARS, Search, UserQuery};

#[track_caller]
fn check_search(input: &str, expected: Option<&str>) {
    assert_eq!(Search::parse(input).as_ref().map(Search::as_str), expected);
}

#[test]
fn search_terms() {
    check_search("  Alice ", Some("alice"));
    check_search("ÉMILE", Some("émile"));
    check_search("   ", None);
    check_search("", None);
    // Control and text-direction characters are dropped (a NUL once ended SQLite's
    // full-text query early: a 500 for `/users?q=ab%00`).
    check_search("ab\0c", Some("abc"));
    check_search("\0\u{202E}\u{1b} ", None);
    check_search(" x\u{202E}y\u{85}z ", Some("xyz"));
    let long = "x".repeat(SEARCH_MAX_CHARS + 50);
    assert_eq!(Search::parse(&long).map(|s| s.as_str().chars().count()), Some(SEARCH_MAX_CHARS));
}

#[test]
fn user_queries() {
    let mut user = User::new(
        UserId::from_uuid(Uuid::from_u128(1)),
        Name::parse("Anne-Marie Smith").unwrap(),
        Email::parse("ams@alpha.example").unwrap(),
        OrgId::from_uuid(Uuid::from_u128(2)),
        vec![DATA_COORDINATOR],
    );
    user.key_contact = true;
    let q = |f: fn(&mut UserQuery)| {
        let mut query = UserQuery::default();
        f(&mut query);
        query.matches(&user)
    };
    assert!(q(|_| {}));
    assert!(q(|q| q.search = Search::parse("marie")));
    assert!(q(|q| q.search = Search::parse("ALPHA.ex")));
    assert!(!q(|q| q.search = Search::parse("bob")));
    assert!(q(|q| q.active = Some(true)));
    assert!(!q(|q| q.active = Some(false)));
    assert!(q(|q| q.role = Some(DATA_COORDINATOR)));
    assert!(!q(|q| q.role = Some(DATA_PROVIDER)));
    assert!(q(|q| q.key_contact = Some(true)));
    assert!(!q(|q| q.data_protection_officer = Some(true)));
}
