//! The SQL store passes the chunk contract (a batch import's chunks) on SQLite and
//! PostgreSQL: reads inside the chunk's transaction, a refused row rolled back to its
//! savepoint while the chunk goes on (on PostgreSQL, past the failed statement).

use std::sync::Arc;

use tenure_domain::World;
use tenure_store_seaorm::SeaOrmStore;

use crate::{temp_postgres, temp_sqlite};

async fn imported(url: String, world: World) -> Arc<SeaOrmStore> {
    let store = SeaOrmStore::open(&url).await.unwrap();
    store.import(&world).await.unwrap();
    Arc::new(store)
}

#[tokio::test]
async fn sqlite_passes_the_chunk_contract() {
    tenure_testkit::contract::batch::chunks(|w| imported(temp_sqlite().0, w)).await;
}

#[tokio::test]
async fn postgres_passes_the_chunk_contract() {
    let Some(url) = temp_postgres().await else { return };
    tenure_testkit::contract::batch::chunks(|w| imported(url.clone(), w)).await;
}

#[tokio::test]
async fn sqlite_passes_the_invitation_roles_contract() {
    tenure_testkit::contract::batch::invitation_roles(|w| imported(temp_sqlite().0, w)).await;
}

#[tokio::test]
async fn postgres_passes_the_invitation_roles_contract() {
    let Some(url) = temp_postgres().await else { return };
    tenure_testkit::contract::batch::invitation_roles(|w| imported(url.clone(), w)).await;
}

#[tokio::test]
async fn sqlite_passes_the_chunk_relationship_reads_contract() {
    tenure_testkit::contract::batch::relationship_reads(|w| imported(temp_sqlite().0, w)).await;
}

#[tokio::test]
async fn postgres_passes_the_chunk_relationship_reads_contract() {
    let Some(url) = temp_postgres().await else { return };
    tenure_testkit::contract::batch::relationship_reads(|w| imported(url.clone(), w)).await;
}
