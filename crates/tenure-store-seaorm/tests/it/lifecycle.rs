//! The store's lifecycle on real databases: readiness (the `HealthProbe` port) before and
//! after migrating, concurrent migrations on PostgreSQL applied once, and `backup` of a
//! SQLite database while it is being written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;
use tenure_core::health::{Health, HealthProbe, Readiness};
use tenure_store_seaorm::migration::Migrator;
use tenure_store_seaorm::{BackupError, SeaOrmStore};

use crate::{temp_postgres, temp_sqlite};

async fn count(db: &impl ConnectionTrait, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .unwrap()
        .expect("a row");
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn sqlite_is_ready_only_once_every_migration_is_applied() {
    let (url, dir) = temp_sqlite();
    let store = SeaOrmStore::connect(&url).await.unwrap();
    let known = Migrator::migrations().len();
    assert_eq!(store.pending_migrations().await.unwrap(), known, "an empty database");
    let health = Health::new(Arc::new(store.clone()));
    assert_eq!(health.readiness().await.0, Readiness::SchemaBehind(known));
    store.migrate().await.unwrap();
    assert_eq!(health.readiness().await.0, Readiness::Ready);
    // A migration this binary does not know (a newer instance migrated during a rolling
    // upgrade) leaves it ready; one it knows but the database lacks does not.
    let db = Database::connect(&url).await.unwrap();
    db.execute_unprepared(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m9999_from_the_future', 0)",
    )
    .await
    .unwrap();
    assert_eq!(health.readiness().await.0, Readiness::Ready);
    db.execute_unprepared(
        "DELETE FROM seaql_migrations WHERE version = 'm0010_unique_organisation_names'",
    )
    .await
    .unwrap();
    assert_eq!(health.readiness().await.0, Readiness::SchemaBehind(1));
    drop(db);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn concurrent_migrations_on_postgres_apply_each_migration_once() {
    let Some(url) = temp_postgres().await else { return };
    const INSTANCES: usize = 8;
    let mut tasks = Vec::new();
    for _ in 0..INSTANCES {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let store = SeaOrmStore::connect(&url).await.unwrap();
            store.migrate().await.map(|()| store)
        }));
    }
    let mut stores = Vec::new();
    for task in tasks {
        stores.push(task.await.unwrap().expect("every instance migrates without error"));
    }
    let known = Migrator::migrations().len();
    for store in &stores {
        assert_eq!(store.pending_migrations().await.unwrap(), 0);
    }
    let db = Database::connect(&url).await.unwrap();
    let applied = count(&db, "SELECT COUNT(*) FROM seaql_migrations").await;
    let distinct = count(&db, "SELECT COUNT(DISTINCT version) FROM seaql_migrations").await;
    assert_eq!((applied, distinct), (known as i64, known as i64), "each migration once");
    // The lock is released: one more migrate (and a readiness check) does not wait.
    stores[0].migrate().await.unwrap();
    assert_eq!(Health::new(Arc::new(stores[0].clone())).readiness().await.0, Readiness::Ready);
    assert!(matches!(
        stores[0].backup(&std::env::temp_dir().join("never.db")).await,
        Err(BackupError::NotSqlite)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_sqlite_database_being_written_is_whole_and_never_overwrites() {
    let (url, dir) = temp_sqlite();
    let store = SeaOrmStore::open(&url).await.unwrap();
    let writer = Database::connect(&url).await.unwrap();
    writer.execute_unprepared("CREATE TABLE scratch (n INTEGER NOT NULL)").await.unwrap();
    for n in 0..100 {
        writer.execute_unprepared(&format!("INSERT INTO scratch (n) VALUES ({n})")).await.unwrap();
    }
    // Keep writing, in transactions of two rows that are both there or both not, while
    // the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writing = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut n = 100_i64;
            while !stop.load(Ordering::SeqCst) {
                writer
                    .execute_unprepared(&format!(
                        "BEGIN; INSERT INTO scratch (n) VALUES ({n}); \
                         INSERT INTO scratch (n) VALUES ({}); COMMIT;",
                        n + 1
                    ))
                    .await
                    .unwrap();
                n += 2;
                tokio::task::yield_now().await;
            }
            n
        })
    };
    // Let the writer get going (counted in rows, not time).
    let live = Database::connect(&url).await.unwrap();
    while count(&live, "SELECT COUNT(*) FROM scratch").await < 120 {
        tokio::task::yield_now().await;
    }
    let target = dir.join("backup.db");
    store.backup(&target).await.unwrap();
    stop.store(true, Ordering::SeqCst);
    let written = writing.await.unwrap();

    let copy = Database::connect(format!("sqlite://{}?mode=ro", target.display())).await.unwrap();
    let check = copy
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA integrity_check"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(check.try_get_by_index::<String>(0).unwrap(), "ok");
    let rows = count(&copy, "SELECT COUNT(*) FROM scratch").await;
    assert!(rows >= 120 && rows <= written, "a snapshot: {rows} of {written} rows");
    assert_eq!(rows % 2, 0, "no transaction is half there");
    assert_eq!(count(&copy, "SELECT COUNT(DISTINCT n) FROM scratch").await, rows);
    assert_eq!(count(&copy, "SELECT MAX(n) FROM scratch").await, rows - 1, "no gap");
    drop(copy);
    let restored = SeaOrmStore::connect(&format!("sqlite://{}", target.display())).await.unwrap();
    assert_eq!(restored.pending_migrations().await.unwrap(), 0, "the schema came along");

    // Never over an existing file, whatever it holds.
    std::fs::write(dir.join("taken.db"), b"keep me").unwrap();
    let refused = store.backup(&dir.join("taken.db")).await;
    assert!(matches!(refused, Err(BackupError::Exists(_))), "{refused:?}");
    assert_eq!(std::fs::read(dir.join("taken.db")).unwrap(), b"keep me");
    let refused = store.backup(&target).await;
    assert!(matches!(refused, Err(BackupError::Exists(_))), "{refused:?}");
    std::fs::remove_dir_all(dir).ok();
}
