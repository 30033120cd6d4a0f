//! Rate limits shared by every instance: one row a bucket (a kind of limit and a key,
//! such as an address or an account), holding its GCRA theoretical arrival time and
//! whether the last hit was admitted. A hit is one `INSERT ... ON CONFLICT DO UPDATE ...
//! RETURNING`; housekeeping deletes rows whose time has passed (the index on `tat`).

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Kind,
    Key,
    Tat,
    Admitted,
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
        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .col(ColumnDef::new(RateLimits::Kind).string().not_null())
                    .col(ColumnDef::new(RateLimits::Key).string().not_null())
                    .col(ColumnDef::new(RateLimits::Tat).big_integer().not_null())
                    .col(ColumnDef::new(RateLimits::Admitted).boolean().not_null())
                    .primary_key(Index::create().col(RateLimits::Kind).col(RateLimits::Key))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rate_limits_by_tat")
                    .table(RateLimits::Table)
                    .col(RateLimits::Tat)
                    .to_owned(),
            )
            .await
    }
}
