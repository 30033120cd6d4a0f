//! How SQLite runs a round's mark: by the messages' ids, never by walking the queue
//! through a status index (it did, and a round cost as much as the queue was long).

use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};
use tenure_core::Timestamp;
use uuid::Uuid;

use crate::SeaOrmStore;
use crate::mail_queue::{MARK_CHUNK, mark_sent_update};

/// SQLite's plan for `held` marked at once, one line a step.
async fn plan(held: &[(Uuid, u32)]) -> Vec<String> {
    let store = SeaOrmStore::open("sqlite::memory:").await.unwrap();
    let update = mark_sent_update(DbBackend::Sqlite, held, Timestamp(1)).build(DbBackend::Sqlite);
    let explain = Statement::from_sql_and_values(
        DbBackend::Sqlite,
        format!("EXPLAIN QUERY PLAN {}", update.sql),
        update.values.unwrap().0,
    );
    let rows = store.db().query_all_raw(explain).await.unwrap();
    rows.iter().map(|r| r.try_get::<String>("", "detail").unwrap()).collect()
}

#[track_caller]
fn check(plan: &[String]) {
    assert!(
        plan.iter().all(|step| !step.contains("mail_queue_due") && !step.contains("by_status")),
        "the status is not an index to walk: {plan:?}"
    );
    assert!(
        plan.iter().any(|step| step.contains("sqlite_autoindex_mail_queue_1 (id=?)")),
        "each message is found by its id: {plan:?}"
    );
}

#[tokio::test]
async fn a_rounds_mark_finds_its_messages_by_id() {
    for n in [1_u128, 2, 50, MARK_CHUNK as u128] {
        let held: Vec<(Uuid, u32)> = (1..=n).map(|i| (Uuid::from_u128(i), 1)).collect();
        check(&plan(&held).await);
    }
}
