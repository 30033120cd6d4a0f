//! The in-memory store passes the chunk contract (a batch import's chunks) and the read
//! port's `invitation_roles` (the users export's).

use std::sync::Arc;

use tenure_store_memory::MemoryDirectory;

#[tokio::test]
async fn the_memory_store_passes_the_chunk_contract() {
    tenure_testkit::contract::batch::chunks(|w| async move { Arc::new(MemoryDirectory::new(w)) })
        .await;
}

#[tokio::test]
async fn the_memory_store_passes_the_invitation_roles_contract() {
    tenure_testkit::contract::batch::invitation_roles(|w| async move {
        Arc::new(MemoryDirectory::new(w))
    })
    .await;
}

#[tokio::test]
async fn the_memory_store_passes_the_chunk_relationship_reads_contract() {
    tenure_testkit::contract::batch::relationship_reads(|w| async move {
        Arc::new(MemoryDirectory::new(w))
    })
    .await;
}
