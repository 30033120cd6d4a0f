//! The in-memory directory behind the core's `Authorizer`: decisions, lists and pages
//! agree with the engine, and changes are seen by the very next request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod batch;
mod differential;
mod limits;
mod reach;

use std::sync::Arc;

use tenure_core::{Authorizer, Checked, Page};
use tenure_domain::role::builtin::{DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{
    Action, Email, Name, OrgId, Organisation, Relationship, Request, Resource, User, UserId, World,
};
use tenure_store_memory::MemoryDirectory;
use uuid::Uuid;

fn org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}
fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(100 + n))
}

/// Alpha -> Beta; Gamma unrelated. Alice coordinates Alpha; Alpha has 30 providers, Beta 5,
/// Gamma 5.
fn directory() -> Arc<MemoryDirectory> {
    let mut w = World::new();
    for (n, name) in [(1, "Alpha"), (2, "Beta"), (3, "Gamma")] {
        w.insert_organisation(Organisation::new(org(n), Name::parse(name).unwrap())).unwrap();
    }
    w.add_relationship(Relationship { stock_owner: org(1), managing_agent: org(2) }).unwrap();
    let mk = |n: u128, o: u128, role| {
        User::new(
            user(n),
            Name::parse(&format!("User {n:03}")).unwrap(),
            Email::parse(&format!("u{n}@x.org")).unwrap(),
            org(o),
            vec![role],
        )
    };
    w.upsert_user(mk(0, 1, DATA_COORDINATOR)).unwrap();
    for n in 1..=30 {
        w.upsert_user(mk(n, 1, DATA_PROVIDER)).unwrap();
    }
    for n in 31..=35 {
        w.upsert_user(mk(n, 2, DATA_PROVIDER)).unwrap();
    }
    for n in 36..=40 {
        w.upsert_user(mk(n, 3, DATA_PROVIDER)).unwrap();
    }
    Arc::new(MemoryDirectory::new(w))
}

#[tokio::test]
async fn checks_answer_allowed_forbidden_or_not_found() {
    let auth = Authorizer::new(directory());
    let check = |actor, action, resource| {
        let auth = auth.clone();
        async move { auth.check(&Request::new(actor, action, resource)).await.unwrap() }
    };
    assert_eq!(
        check(user(0), Action::UserDeactivate, Resource::User(user(31))).await,
        Checked::Allowed
    );
    assert_eq!(
        check(user(1), Action::UserDeactivate, Resource::User(user(2))).await,
        Checked::Forbidden
    );
    assert_eq!(
        check(user(0), Action::UserDeactivate, Resource::User(user(36))).await,
        Checked::NotFound
    );
    assert_eq!(
        check(user(0), Action::UserView, Resource::User(user(999))).await,
        Checked::NotFound
    );
}

#[tokio::test]
async fn pages_walk_exactly_the_visible_users() {
    let auth = Authorizer::new(directory());
    let mut seen = Vec::new();
    for number in 1.. {
        let page = auth.visible_users(user(0), Page::numbered(number, 20)).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 20);
        seen.extend(page.into_iter().map(|u| u.id));
    }
    let mut expected: Vec<UserId> = (0..=35).map(user).collect();
    expected.sort_by_key(|id| id.as_uuid().as_u128());
    assert_eq!(seen, expected, "sorted by name, which follows the numbering here");
    assert_eq!(auth.visible_users(user(36), Page::numbered(1, 100)).await.unwrap().len(), 5);
    assert_eq!(
        Page::numbered(1, 100_000),
        Page { offset: 0, limit: 100 },
        "page sizes are clamped"
    );
    assert_eq!(Page::numbered(0, 0), Page { offset: 0, limit: 1 });
}

#[tokio::test]
async fn a_change_is_seen_by_the_next_request() {
    let dir = directory();
    let auth = Authorizer::new(dir.clone());
    let deactivate = Request::new(user(0), Action::UserDeactivate, Resource::User(user(31)));
    assert_eq!(auth.check(&deactivate).await.unwrap(), Checked::Allowed);
    dir.update(|w| {
        w.remove_relationship(Relationship { stock_owner: org(1), managing_agent: org(2) })
    })
    .unwrap()
    .unwrap();
    assert_eq!(auth.check(&deactivate).await.unwrap(), Checked::NotFound);
    assert_eq!(auth.visible_organisations(user(0), Page::numbered(1, 20)).await.unwrap().len(), 1);
    dir.update(|w| {
        let mut alice = w.user(user(0)).unwrap().clone();
        alice.active = false;
        w.upsert_user(alice)
    })
    .unwrap()
    .unwrap();
    assert!(auth.visible_users(user(0), Page::numbered(1, 20)).await.unwrap().is_empty());
}

#[tokio::test]
async fn passes_the_directory_contract() {
    tenure_testkit::contract::directory(|world| async move { Arc::new(MemoryDirectory::new(world)) as Arc<dyn tenure_core::Directory> }, 1)
        .await;
}

#[tokio::test]
async fn passes_the_corterum_contract() {
    tenure_testkit::contract::corterum::corterum(|world| async move {
        Arc::new(MemoryDirectory::new(world))
    })
    .await;
}

#[tokio::test]
async fn pages_corterum_lists() {
    tenure_testkit::contract::corterum_lists::lists(|world| async move {
        Arc::new(MemoryDirectory::new(world))
    })
    .await;
}

#[tokio::test]
async fn passes_the_wide_log_scopes_contract() {
    tenure_testkit::contract::wide_log_scopes(|world| async move {
        Arc::new(MemoryDirectory::new(world)) as Arc<dyn tenure_core::Directory>
    })
    .await;
}

#[tokio::test]
async fn passes_the_crowded_search_contract() {
    tenure_testkit::contract::crowded_search(|world| async move {
        Arc::new(MemoryDirectory::new(world)) as Arc<dyn tenure_core::Directory>
    })
    .await;
}

#[tokio::test]
async fn passes_the_account_store_contract() {
    tenure_testkit::contract::accounts::account_store(|w| async move {
        Arc::new(MemoryDirectory::new(w)) as Arc<dyn tenure_core::AccountStore>
    })
    .await;
}

#[tokio::test]
async fn signs_in_through_the_accounts_service() {
    tenure_testkit::contract::accounts::sign_in(|w| async move {
        Arc::new(MemoryDirectory::new(w)) as Arc<dyn tenure_core::AccountStore>
    })
    .await;
}

#[tokio::test]
async fn holds_the_mail_queue_contract() {
    tenure_testkit::contract::mail::queue_port(
        |w| async move { Arc::new(MemoryDirectory::new(w)) },
    )
    .await;
    tenure_testkit::contract::mail::courier(|w| async move { Arc::new(MemoryDirectory::new(w)) })
        .await;
}

#[tokio::test]
async fn resets_passwords_through_the_accounts_service() {
    tenure_testkit::contract::accounts::reset(|w| async move { Arc::new(MemoryDirectory::new(w)) })
        .await;
}

#[tokio::test]
async fn changes_passwords_through_the_accounts_service() {
    tenure_testkit::contract::accounts::change_password(|w| async move {
        Arc::new(MemoryDirectory::new(w)) as Arc<dyn tenure_core::AccountStore>
    })
    .await;
}

#[tokio::test]
async fn keeps_where_audit_entries_came_from() {
    tenure_testkit::contract::audit::origins(|w| async move { Arc::new(MemoryDirectory::new(w)) })
        .await;
}

#[tokio::test]
async fn keeps_each_sides_trail_apart() {
    tenure_testkit::contract::audit::sides(|w| async move { Arc::new(MemoryDirectory::new(w)) })
        .await;
}

#[tokio::test]
async fn passes_the_management_contract() {
    let make = |w| async move { Arc::new(MemoryDirectory::new(w)) };
    tenure_testkit::contract::manage::invitations(make).await;
    tenure_testkit::contract::manage::lifecycle(make).await;
    tenure_testkit::contract::manage::organisations(make).await;
    tenure_testkit::contract::manage::sessions(make).await;
    tenure_testkit::contract::manage::credentials(make).await;
}

#[tokio::test]
async fn passes_the_second_factor_contract() {
    tenure_testkit::contract::second_factor::second_factors(|w| async move {
        Arc::new(MemoryDirectory::new(w))
    })
    .await;
}
