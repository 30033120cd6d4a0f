//! Second factors: authenticator-app secrets (sealed by the vault, whose key is not in the
//! database) and recovery codes (their digests), and each session's stage of signing in
//! and when its holder last proved who they are.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum SecondFactors {
    Table,
    UserId,
    SealedSecret,
    CreatedAt,
    ConfirmedAt,
    LastStep,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    UserId,
    Digest,
    UsedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Stage,
    ProvedAt,
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
        // A user's rows go with the user (a deleted account keeps no secret).
        manager
            .create_table(
                Table::create()
                    .table(SecondFactors::Table)
                    .col(ColumnDef::new(SecondFactors::UserId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(SecondFactors::SealedSecret).binary().not_null())
                    .col(ColumnDef::new(SecondFactors::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(SecondFactors::ConfirmedAt).big_integer().null())
                    .col(ColumnDef::new(SecondFactors::LastStep).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("second_factors_user")
                            .from(SecondFactors::Table, SecondFactors::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(ColumnDef::new(RecoveryCodes::UserId).uuid().not_null())
                    .col(ColumnDef::new(RecoveryCodes::Digest).string().not_null())
                    .col(ColumnDef::new(RecoveryCodes::UsedAt).big_integer().null())
                    .primary_key(
                        Index::create().col(RecoveryCodes::UserId).col(RecoveryCodes::Digest),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("recovery_codes_user")
                            .from(RecoveryCodes::Table, RecoveryCodes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // Existing sessions are signed in (stage 0); their proof is their start.
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(
                        ColumnDef::new(Sessions::Stage).small_integer().not_null().default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(ColumnDef::new(Sessions::ProvedAt).big_integer().null())
                    .to_owned(),
            )
            .await
    }
}
