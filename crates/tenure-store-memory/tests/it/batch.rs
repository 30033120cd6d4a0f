//! The in-memory store passes the chunk contract (a batch import's chunks).

use std::sync::Arc;

use tenure_store_memory::MemoryDirectory;

#[tokio::test]
async fn the_memory_store_passes_the_chunk_contract() {
    tenure_testkit::contract::batch::chunks(|w| async move { Arc::new(MemoryDirectory::new(w)) })
        .await;
}
