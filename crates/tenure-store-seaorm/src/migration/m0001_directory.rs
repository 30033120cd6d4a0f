//! The directory: organisations, relationships, users and their roles, logs, and the
//! append-only audit trail.
//!
//! No foreign key cascades into `logs` or `audit_events`: deleting a person never
//! deletes their logs or their history.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
    Name,
    SortName,
    Address,
    Telephone,
    ProviderType,
    RegistrationNumber,
    HoldsStock,
    Active,
    Version,
}

#[derive(DeriveIden)]
enum Relationships {
    Table,
    StockOwnerId,
    ManagingAgentId,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    OrganisationId,
    Name,
    SortName,
    Email,
    Telephone,
    DataProtectionOfficer,
    KeyContact,
    Active,
    Version,
}

#[derive(DeriveIden)]
enum UserRoles {
    Table,
    UserId,
    RoleId,
}

#[derive(DeriveIden)]
enum Logs {
    Table,
    Id,
    OwningOrganisationId,
    ManagingOrganisationId,
    AssignedTo,
    CreatedBy,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    At,
    ActorId,
    Event,
    Outcome,
    TargetUserId,
    OrganisationId,
    Detail,
}

/// A sort key compared byte by byte on both backends, so pages come out in the same
/// order everywhere (PostgreSQL would otherwise use the database's locale).
fn sort_key(backend: DbBackend, column: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    def.string().not_null();
    if backend == DbBackend::Postgres {
        def.extra("COLLATE \"C\"");
    }
    def
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
#[allow(
    elided_lifetimes_in_paths,
    reason = "sea-orm-migration's trait signature elides the lifetime"
)]
impl MigrationTrait for Migration {
    /// SQLite runs DDL in transactions too, so a failed migration leaves nothing behind.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();

        manager
            .create_table(
                Table::create()
                    .table(Organisations::Table)
                    .col(ColumnDef::new(Organisations::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Organisations::Name).string().not_null())
                    .col(sort_key(backend, Organisations::SortName))
                    .col(ColumnDef::new(Organisations::Address).string().null())
                    .col(ColumnDef::new(Organisations::Telephone).string().null())
                    .col(ColumnDef::new(Organisations::ProviderType).string().not_null())
                    .col(ColumnDef::new(Organisations::RegistrationNumber).string().null())
                    .col(ColumnDef::new(Organisations::HoldsStock).boolean().not_null())
                    .col(ColumnDef::new(Organisations::Active).boolean().not_null())
                    .col(ColumnDef::new(Organisations::Version).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("organisations_by_sort_name")
                    .table(Organisations::Table)
                    .col(Organisations::SortName)
                    .col(Organisations::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Relationships::Table)
                    .col(ColumnDef::new(Relationships::StockOwnerId).uuid().not_null())
                    .col(ColumnDef::new(Relationships::ManagingAgentId).uuid().not_null())
                    .primary_key(
                        Index::create()
                            .col(Relationships::StockOwnerId)
                            .col(Relationships::ManagingAgentId),
                    )
                    .foreign_key(&mut fk(
                        "relationships_stock_owner",
                        (Relationships::Table, Relationships::StockOwnerId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .foreign_key(&mut fk(
                        "relationships_managing_agent",
                        (Relationships::Table, Relationships::ManagingAgentId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("relationships_by_managing_agent")
                    .table(Relationships::Table)
                    .col(Relationships::ManagingAgentId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Users::OrganisationId).uuid().not_null())
                    .col(ColumnDef::new(Users::Name).string().not_null())
                    .col(sort_key(backend, Users::SortName))
                    .col(sort_key(backend, Users::Email))
                    .col(ColumnDef::new(Users::Telephone).string().null())
                    .col(ColumnDef::new(Users::DataProtectionOfficer).boolean().not_null())
                    .col(ColumnDef::new(Users::KeyContact).boolean().not_null())
                    .col(ColumnDef::new(Users::Active).boolean().not_null())
                    .col(ColumnDef::new(Users::Version).big_integer().not_null())
                    .foreign_key(&mut fk(
                        "users_organisation",
                        (Users::Table, Users::OrganisationId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_by_email")
                    .table(Users::Table)
                    .col(Users::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_by_organisation_and_sort_name")
                    .table(Users::Table)
                    .col(Users::OrganisationId)
                    .col(Users::SortName)
                    .col(Users::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_by_sort_name")
                    .table(Users::Table)
                    .col(Users::SortName)
                    .col(Users::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserRoles::Table)
                    .col(ColumnDef::new(UserRoles::UserId).uuid().not_null())
                    .col(ColumnDef::new(UserRoles::RoleId).uuid().not_null())
                    .primary_key(Index::create().col(UserRoles::UserId).col(UserRoles::RoleId))
                    .foreign_key(&mut fk(
                        "user_roles_user",
                        (UserRoles::Table, UserRoles::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("user_roles_by_role")
                    .table(UserRoles::Table)
                    .col(UserRoles::RoleId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Logs::Table)
                    .col(ColumnDef::new(Logs::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Logs::OwningOrganisationId).uuid().not_null())
                    .col(ColumnDef::new(Logs::ManagingOrganisationId).uuid().not_null())
                    .col(ColumnDef::new(Logs::AssignedTo).uuid().null())
                    .col(ColumnDef::new(Logs::CreatedBy).uuid().null())
                    .foreign_key(&mut fk(
                        "logs_owning_organisation",
                        (Logs::Table, Logs::OwningOrganisationId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .foreign_key(&mut fk(
                        "logs_managing_organisation",
                        (Logs::Table, Logs::ManagingOrganisationId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("logs_by_owning_organisation", Logs::OwningOrganisationId),
            ("logs_by_managing_organisation", Logs::ManagingOrganisationId),
            ("logs_by_assignee", Logs::AssignedTo),
        ] {
            manager
                .create_index(
                    Index::create().name(name).table(Logs::Table).col(col).col(Logs::Id).to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(ColumnDef::new(AuditEvents::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(AuditEvents::At).big_integer().not_null())
                    .col(ColumnDef::new(AuditEvents::ActorId).uuid().null())
                    .col(ColumnDef::new(AuditEvents::Event).string().not_null())
                    .col(ColumnDef::new(AuditEvents::Outcome).string().not_null())
                    .col(ColumnDef::new(AuditEvents::TargetUserId).uuid().null())
                    .col(ColumnDef::new(AuditEvents::OrganisationId).uuid().null())
                    .col(ColumnDef::new(AuditEvents::Detail).text().not_null())
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("audit_events_by_actor", AuditEvents::ActorId),
            ("audit_events_by_target_user", AuditEvents::TargetUserId),
            ("audit_events_by_organisation", AuditEvents::OrganisationId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(col)
                        .col(AuditEvents::At)
                        .to_owned(),
                )
                .await?;
        }

        // The audit trail is append-only, whoever connects.
        let db = manager.get_connection();
        match backend {
            DbBackend::Sqlite => {
                for (name, event) in
                    [("audit_events_no_update", "UPDATE"), ("audit_events_no_delete", "DELETE")]
                {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {name} BEFORE {event} ON audit_events \
                         BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
                    ))
                    .await?;
                }
            }
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events \
                     FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
                )
                .await?;
            }
            _ => {
                return Err(DbErr::Migration(
                    "Tenure supports SQLite and PostgreSQL only".to_owned(),
                ));
            }
        }
        Ok(())
    }
}
