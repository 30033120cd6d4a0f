//! The SQL store passes the limits and housekeeping contracts on SQLite and PostgreSQL,
//! concurrent hits included (each on a pooled connection of its own).

use std::sync::Arc;

use tenure_core::limits::LimitStore;
use tenure_store_seaorm::SeaOrmStore;

use crate::{temp_postgres, temp_sqlite};

async fn at(url: String) -> Arc<dyn LimitStore> {
    Arc::new(SeaOrmStore::open(&url).await.unwrap())
}

async fn imported(url: String, world: tenure_domain::World) -> Arc<SeaOrmStore> {
    let store = SeaOrmStore::open(&url).await.unwrap();
    store.import(&world).await.unwrap();
    Arc::new(store)
}

#[tokio::test]
async fn sqlite_passes_the_limits_contract() {
    tenure_testkit::contract::limits::limits(|| at(temp_sqlite().0)).await;
}

#[tokio::test]
async fn postgres_passes_the_limits_contract() {
    let Some(url) = temp_postgres().await else { return };
    tenure_testkit::contract::limits::limits(|| at(url.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_hits_on_one_bucket_admit_exactly_the_limit_on_sqlite() {
    tenure_testkit::contract::limits::concurrent_hits(|| at(temp_sqlite().0), 40, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_hits_on_one_bucket_admit_exactly_the_limit_on_postgres() {
    let Some(url) = temp_postgres().await else { return };
    tenure_testkit::contract::limits::concurrent_hits(|| at(url.clone()), 40, 7).await;
}

#[tokio::test]
async fn sqlite_passes_the_housekeeping_contract() {
    tenure_testkit::contract::housekeeping::housekeeping(|w| imported(temp_sqlite().0, w)).await;
}

#[tokio::test]
async fn postgres_passes_the_housekeeping_contract() {
    let Some(url) = temp_postgres().await else { return };
    tenure_testkit::contract::housekeeping::housekeeping(|w| imported(url.clone(), w)).await;
}
