//! The sea-orm store on SQLite (in memory and a WAL file) and PostgreSQL, held to the same
//! contract as the in-memory directory.
//!
//! PostgreSQL runs when `TENURE_TEST_POSTGRES_URL` names a server (`cargo xtask ci` starts
//! a throwaway one); each test makes databases of its own there. Without it those tests
//! say loudly that they skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod batch;
mod checklist;
mod courier;
mod lifecycle;
mod limits;
mod organisation_kind;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sea_orm::{ConnectionTrait, Database};
use tenure_core::Directory;
use tenure_domain::World;
use tenure_store_seaorm::{ConnectError, SeaOrmStore};

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn temp_sqlite() -> (String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "tenure-store-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tenure.db");
    (format!("sqlite://{}?mode=rwc", path.display()), dir)
}

/// A fresh, empty PostgreSQL database, or `None` (said aloud) without a server.
async fn temp_postgres() -> Option<String> {
    let Ok(server) = std::env::var("TENURE_TEST_POSTGRES_URL") else {
        // CI must never skip these quietly.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the PostgreSQL tests: set TENURE_TEST_POSTGRES_URL (cargo xtask ci does)"
        );
        eprintln!(
            "SKIPPED: PostgreSQL tests need TENURE_TEST_POSTGRES_URL (cargo xtask ci sets it)"
        );
        return None;
    };
    let name =
        format!("tenure_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin = Database::connect(&server).await.expect("connect to the PostgreSQL server");
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let (base, _) = server.rsplit_once('/').expect("the URL names a database");
    Some(format!("{base}/{name}"))
}

async fn imported(url: &str, world: &World) -> Arc<dyn Directory> {
    let store = SeaOrmStore::open(url).await.unwrap();
    store.import(world).await.unwrap();
    Arc::new(store)
}

#[tokio::test]
async fn sqlite_in_memory_passes_the_directory_contract() {
    tenure_testkit::contract::directory(
        |w| async move { imported("sqlite::memory:", &w).await },
        1,
    )
    .await;
}

#[tokio::test]
async fn sqlite_file_passes_the_directory_contract() {
    tenure_testkit::contract::directory(|w| async move { imported(&temp_sqlite().0, &w).await }, 3)
        .await;
}

#[tokio::test]
async fn postgres_passes_the_directory_contract() {
    if temp_postgres().await.is_none() {
        return;
    }
    tenure_testkit::contract::directory(
        |w| async move { imported(&temp_postgres().await.unwrap(), &w).await },
        3,
    )
    .await;
}

#[tokio::test]
async fn sqlite_passes_the_corterum_contract() {
    tenure_testkit::contract::corterum::corterum(|w| store_at(temp_sqlite().0, w)).await;
}

#[tokio::test]
async fn postgres_passes_the_corterum_contract() {
    if temp_postgres().await.is_none() {
        return;
    }
    tenure_testkit::contract::corterum::corterum(|w| async move {
        store_at(temp_postgres().await.unwrap(), w).await
    })
    .await;
}

#[tokio::test]
async fn sqlite_pages_corterum_lists() {
    tenure_testkit::contract::corterum_lists::lists(|w| store_at(temp_sqlite().0, w)).await;
}

#[tokio::test]
async fn postgres_pages_corterum_lists() {
    if temp_postgres().await.is_none() {
        return;
    }
    tenure_testkit::contract::corterum_lists::lists(|w| async move {
        store_at(temp_postgres().await.unwrap(), w).await
    })
    .await;
}

#[tokio::test]
async fn crowded_searches_page_correctly_on_sqlite() {
    tenure_testkit::contract::crowded_search(
        |w| async move { imported(&temp_sqlite().0, &w).await },
    )
    .await;
}

#[tokio::test]
async fn crowded_searches_page_correctly_on_postgres() {
    let Some(url) = temp_postgres().await else { return };
    tenure_testkit::contract::crowded_search(|w| async move { imported(&url, &w).await }).await;
}

#[tokio::test]
async fn wide_and_deep_log_scopes_page_correctly_on_sqlite() {
    tenure_testkit::contract::wide_log_scopes(
        |w| async move { imported(&temp_sqlite().0, &w).await },
    )
    .await;
}

#[tokio::test]
async fn wide_and_deep_log_scopes_page_correctly_on_postgres() {
    let Some(url) = temp_postgres().await else { return };
    tenure_testkit::contract::wide_log_scopes(|w| async move { imported(&url, &w).await }).await;
}

/// An import that fails part way leaves nothing behind.
async fn check_import_is_all_or_nothing(url: &str) {
    let store = SeaOrmStore::open(url).await.unwrap();
    let world = tenure_testkit::worlds::random(9, 5, 12, 6);
    store.import(&world).await.unwrap();
    let auth = tenure_core::Authorizer::new(Arc::new(store.clone()));
    let admin = world
        .users()
        .find(|u| u.roles.contains(&tenure_domain::role::builtin::ADMINISTRATOR) && u.active)
        .map(|u| u.id);
    let count = |auth: tenure_core::Authorizer| async move {
        match admin {
            Some(a) => {
                auth.visible_users(a, tenure_core::Page::numbered(1, 100)).await.unwrap().len()
            }
            None => 0,
        }
    };
    let before = count(auth.clone()).await;
    // The same world again collides on every id: the whole import must roll back.
    let mut bigger = world.clone();
    let extra = tenure_testkit::worlds::random(10, 2, 3, 0);
    for o in extra.organisations() {
        bigger.insert_organisation(o.clone()).unwrap();
    }
    assert!(store.import(&bigger).await.is_err());
    assert_eq!(count(auth).await, before, "nothing from the failed import is kept");
}

#[tokio::test]
async fn imports_are_all_or_nothing() {
    check_import_is_all_or_nothing(&temp_sqlite().0).await;
    if let Some(url) = temp_postgres().await {
        check_import_is_all_or_nothing(&url).await;
    }
}

/// The audit trail refuses updates and deletes, whoever connects.
async fn check_audit_is_append_only(url: &str) {
    SeaOrmStore::open(url).await.unwrap();
    let raw = Database::connect(url).await.unwrap();
    let id = match raw.get_database_backend() {
        sea_orm::DbBackend::Postgres => "'00000000-0000-0000-0000-000000000001'".to_owned(),
        _ => "X'00000000000000000000000000000001'".to_owned(),
    };
    raw.execute_unprepared(&format!(
        "INSERT INTO audit_events (id, at, event, outcome, detail) VALUES ({id}, 1, 'user_created', 'success', '{{}}')"
    ))
    .await
    .unwrap();
    for statement in ["UPDATE audit_events SET outcome = 'failure'", "DELETE FROM audit_events"] {
        let err = raw.execute_unprepared(statement).await.expect_err(statement);
        assert!(err.to_string().contains("the audit trail is append-only"), "{statement}: {err}");
    }
}

#[tokio::test]
async fn the_audit_trail_is_append_only() {
    check_audit_is_append_only(&temp_sqlite().0).await;
    if let Some(url) = temp_postgres().await {
        check_audit_is_append_only(&url).await;
    }
}

#[tokio::test]
async fn migrating_twice_changes_nothing() {
    let (url, _) = temp_sqlite();
    SeaOrmStore::open(&url).await.unwrap();
    SeaOrmStore::open(&url).await.unwrap();
}

#[tokio::test]
async fn unsupported_urls_say_what_is_accepted() {
    let err = SeaOrmStore::connect("mysql://localhost/tenure").await.unwrap_err();
    assert!(matches!(err, ConnectError::Unsupported(_)));
    assert_eq!(
        err.to_string(),
        "database url `mysql://localhost/tenure` is not supported; use `sqlite://PATH?mode=rwc`, `sqlite::memory:` or `postgres://USER@HOST/DB`"
    );
}

async fn accounts_at(url: &str, world: &World) -> Arc<dyn tenure_core::AccountStore> {
    let store = SeaOrmStore::open(url).await.unwrap();
    store.import(world).await.unwrap();
    Arc::new(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_holds_the_mail_queue_contract() {
    use tenure_testkit::contract::mail;
    mail::queue_port(|w| store_at("sqlite::memory:".to_owned(), w)).await;
    mail::queue_port(|w| store_at(temp_sqlite().0, w)).await;
    mail::courier(|w| store_at(temp_sqlite().0, w)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_holds_the_mail_queue_contract() {
    use tenure_testkit::contract::mail;
    if temp_postgres().await.is_none() {
        return;
    }
    mail::queue_port(|w| async move { store_at(temp_postgres().await.unwrap(), w).await }).await;
    mail::courier(|w| async move { store_at(temp_postgres().await.unwrap(), w).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_account_contracts() {
    tenure_testkit::contract::accounts::account_store(|w| async move {
        accounts_at("sqlite::memory:", &w).await
    })
    .await;
    tenure_testkit::contract::accounts::account_store(|w| async move {
        accounts_at(&temp_sqlite().0, &w).await
    })
    .await;
    tenure_testkit::contract::accounts::sign_in(|w| async move {
        accounts_at(&temp_sqlite().0, &w).await
    })
    .await;
    tenure_testkit::contract::accounts::reset(|w| store_at(temp_sqlite().0, w)).await;
    tenure_testkit::contract::accounts::change_password(|w| async move {
        accounts_at(&temp_sqlite().0, &w).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_account_contracts() {
    if temp_postgres().await.is_none() {
        return;
    }
    tenure_testkit::contract::accounts::account_store(|w| async move {
        accounts_at(&temp_postgres().await.unwrap(), &w).await
    })
    .await;
    tenure_testkit::contract::accounts::sign_in(|w| async move {
        accounts_at(&temp_postgres().await.unwrap(), &w).await
    })
    .await;
    tenure_testkit::contract::accounts::reset(|w| async move {
        store_at(temp_postgres().await.unwrap(), w).await
    })
    .await;
    tenure_testkit::contract::accounts::change_password(|w| async move {
        accounts_at(&temp_postgres().await.unwrap(), &w).await
    })
    .await;
}

async fn store_at(url: String, world: World) -> Arc<SeaOrmStore> {
    let store = SeaOrmStore::open(&url).await.unwrap();
    store.import(&world).await.unwrap();
    Arc::new(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_management_contract() {
    use tenure_testkit::contract::manage;
    manage::invitations(|w| store_at("sqlite::memory:".to_owned(), w)).await;
    manage::lifecycle(|w| store_at(temp_sqlite().0, w)).await;
    manage::organisations(|w| store_at(temp_sqlite().0, w)).await;
    manage::sessions(|w| store_at(temp_sqlite().0, w)).await;
    manage::credentials(|w| store_at(temp_sqlite().0, w)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_management_contract() {
    use tenure_testkit::contract::manage;
    if temp_postgres().await.is_none() {
        return;
    }
    manage::invitations(|w| async move { store_at(temp_postgres().await.unwrap(), w).await }).await;
    manage::lifecycle(|w| async move { store_at(temp_postgres().await.unwrap(), w).await }).await;
    manage::organisations(|w| async move { store_at(temp_postgres().await.unwrap(), w).await })
        .await;
    manage::sessions(|w| async move { store_at(temp_postgres().await.unwrap(), w).await }).await;
    manage::credentials(|w| async move { store_at(temp_postgres().await.unwrap(), w).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_where_audit_entries_came_from() {
    tenure_testkit::contract::audit::origins(|w| store_at("sqlite::memory:".to_owned(), w)).await;
    tenure_testkit::contract::audit::origins(|w| store_at(temp_sqlite().0, w)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_each_sides_trail_apart() {
    tenure_testkit::contract::audit::sides(|w| store_at("sqlite::memory:".to_owned(), w)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_each_sides_trail_apart() {
    if temp_postgres().await.is_none() {
        return;
    }
    tenure_testkit::contract::audit::sides(|w| async move {
        store_at(temp_postgres().await.unwrap(), w).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_where_audit_entries_came_from() {
    if temp_postgres().await.is_none() {
        return;
    }
    tenure_testkit::contract::audit::origins(|w| async move {
        store_at(temp_postgres().await.unwrap(), w).await
    })
    .await;
}

/// Many writers doing read-then-write transactions on one SQLite file: every one is
/// applied (retrying only on a version conflict, the expected outcome of losing a race),
/// and no `SQLITE_BUSY` ever reaches the caller, thanks to `BEGIN IMMEDIATE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_then_write_transactions_on_a_sqlite_file_never_see_busy() {
    use tenure_core::{ChangeError, ChangeStore, Write};
    const TASKS: usize = 16;
    const EACH: usize = 25;
    let world = tenure_testkit::contract::manage::world();
    let org = world.organisations().next().unwrap().id;
    let user = world.users().next().unwrap().id;
    let store = store_at(temp_sqlite().0, world).await;
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..EACH {
                loop {
                    let version = store.organisation(org).await.unwrap().unwrap().version;
                    // Setting a password reads (does the user exist?) before it writes.
                    let writes = vec![
                        Write::SetPassword { user, hash: Some("h".to_owned()) },
                        Write::TouchOrganisation { id: org, version },
                    ];
                    match store.apply(writes, vec![]).await {
                        Ok(()) => break,
                        Err(ChangeError::Conflict) => conflicts += 1,
                        Err(e) => panic!("only conflicts may happen, got {e:?}"),
                    }
                }
            }
            conflicts
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let version = store.organisation(org).await.unwrap().unwrap().version;
    assert_eq!(version, 1 + (TASKS * EACH) as i64, "every change applied exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_second_factor_contract() {
    tenure_testkit::contract::second_factor::second_factors(|w| store_at(temp_sqlite().0, w)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_second_factor_contract() {
    if temp_postgres().await.is_none() {
        return;
    }
    tenure_testkit::contract::second_factor::second_factors(|w| async move {
        store_at(temp_postgres().await.unwrap(), w).await
    })
    .await;
}
