//! Where an audit entry's request came from: its request id, the client's address and
//! user agent. Nullable, so rows written before stay as they are (the trail is
//! append-only: nothing rewrites them) and entries written outside a request (the CLI)
//! have none.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    RequestId,
    ClientIp,
    UserAgent,
}

#[async_trait::async_trait]
#[allow(
    elided_lifetimes_in_paths,
    reason = "sea-orm-migration's trait signature elides the lifetime"
)]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE, so each column is its own statement.
        for column in [AuditEvents::RequestId, AuditEvents::ClientIp, AuditEvents::UserAgent] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditEvents::Table)
                        .add_column(ColumnDef::new(column).text().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
