//! Credentials: a password hash and the lockout state per user. A user without a row has
//! not set a password yet (invited). Kept apart from `users` so reading a user never
//! reads a hash.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Credentials {
    Table,
    UserId,
    PasswordHash,
    FailedAttempts,
    LockedUntil,
    Version,
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
                    .table(Credentials::Table)
                    .col(ColumnDef::new(Credentials::UserId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Credentials::PasswordHash).string().null())
                    .col(
                        ColumnDef::new(Credentials::FailedAttempts).integer().not_null().default(0),
                    )
                    .col(ColumnDef::new(Credentials::LockedUntil).big_integer().null())
                    .col(ColumnDef::new(Credentials::Version).big_integer().not_null().default(1))
                    .foreign_key(
                        ForeignKey::create()
                            .name("credentials_user")
                            .from(Credentials::Table, Credentials::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await
    }
}
