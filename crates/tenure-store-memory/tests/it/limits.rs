//! The in-memory store passes the limits and housekeeping contracts.

use std::sync::Arc;

use tenure_core::limits::LimitStore;
use tenure_store_memory::MemoryDirectory;

fn empty() -> Arc<dyn LimitStore> {
    Arc::new(MemoryDirectory::new(tenure_domain::World::new()))
}

#[tokio::test]
async fn the_memory_store_passes_the_limits_contract() {
    tenure_testkit::contract::limits::limits(|| async { empty() }).await;
}

#[tokio::test]
async fn concurrent_hits_on_one_bucket_admit_exactly_the_limit_in_memory() {
    tenure_testkit::contract::limits::concurrent_hits(|| async { empty() }, 40, 7).await;
}

#[tokio::test]
async fn the_memory_store_passes_the_housekeeping_contract() {
    tenure_testkit::contract::housekeeping::housekeeping(|w| async move {
        Arc::new(MemoryDirectory::new(w))
    })
    .await;
}
