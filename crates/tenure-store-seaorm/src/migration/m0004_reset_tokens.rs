//! Password reset links, stored only as digests. A link is usable while `used_at` is null
//! and `expires_at` is in the future; using one is a single guarded `UPDATE`.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum ResetTokens {
    Table,
    Digest,
    UserId,
    IssuedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
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
                    .table(ResetTokens::Table)
                    .col(ColumnDef::new(ResetTokens::Digest).string().not_null().primary_key())
                    .col(ColumnDef::new(ResetTokens::UserId).uuid().not_null())
                    .col(ColumnDef::new(ResetTokens::IssuedAt).big_integer().not_null())
                    .col(ColumnDef::new(ResetTokens::ExpiresAt).big_integer().not_null())
                    .col(ColumnDef::new(ResetTokens::UsedAt).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("reset_tokens_user")
                            .from(ResetTokens::Table, ResetTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("reset_tokens_by_user")
                    .table(ResetTokens::Table)
                    .col(ResetTokens::UserId)
                    .col(ResetTokens::IssuedAt)
                    .to_owned(),
            )
            .await
    }
}
