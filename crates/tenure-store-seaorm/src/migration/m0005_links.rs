//! One-time links other than password resets: invitations, reactivations and email
//! confirmations. Only the digest of a token is stored; a link is bound to its purpose,
//! user, organisation, role and address, and is used by one guarded `UPDATE`.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Links {
    Table,
    Id,
    Digest,
    Purpose,
    UserId,
    OrganisationId,
    RoleId,
    Email,
    IssuedBy,
    IssuedAt,
    ExpiresAt,
    State,
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
                    .table(Links::Table)
                    .col(ColumnDef::new(Links::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Links::Digest).string().not_null().unique_key())
                    .col(ColumnDef::new(Links::Purpose).string().not_null())
                    .col(ColumnDef::new(Links::UserId).uuid().not_null())
                    .col(ColumnDef::new(Links::OrganisationId).uuid().not_null())
                    .col(ColumnDef::new(Links::RoleId).uuid().null())
                    .col(ColumnDef::new(Links::Email).string().not_null())
                    .col(ColumnDef::new(Links::IssuedBy).uuid().null())
                    .col(ColumnDef::new(Links::IssuedAt).big_integer().not_null())
                    .col(ColumnDef::new(Links::ExpiresAt).big_integer().not_null())
                    .col(ColumnDef::new(Links::State).string().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("links_user")
                            .from(Links::Table, Links::UserId)
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
                    .name("links_by_user")
                    .table(Links::Table)
                    .col(Links::UserId)
                    .col(Links::IssuedAt)
                    .to_owned(),
            )
            .await
    }
}
