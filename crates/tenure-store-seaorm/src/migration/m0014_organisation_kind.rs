//! Organisations get a kind: `housing` (a CORE housing organisation) or `company` (a
//! Corterum company), so each side of the service lists and reaches only its own.
//!
//! Existing rows: an organisation becomes a company when Corterum records link to it (an
//! entity's companies, a user account's companies, or the organisation of a user with a
//! Corterum username) and nothing of CORE's does (no relationship, pending relationship
//! request or log at either end). Everything else stays housing, the default. An
//! organisation used by both sides before this migration stays housing: relationships
//! and logs are CORE's and never involve a company, so turning it into a company would
//! break them, while its Corterum links keep working on the housing side until an
//! operator moves them to a company (`tenure companies import`). The kind never changes
//! after this: nothing writes it but the insert.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Kind,
}

/// Companies: linked from Corterum, and from nothing of CORE's.
const MARK_COMPANIES: &str = "UPDATE organisations SET kind = 'company' WHERE \
    (id IN (SELECT organisation_id FROM entity_companies) \
     OR id IN (SELECT organisation_id FROM user_companies) \
     OR id IN (SELECT users.organisation_id FROM users \
               JOIN user_links ON user_links.user_id = users.id)) \
    AND id NOT IN (SELECT stock_owner_id FROM relationships) \
    AND id NOT IN (SELECT managing_agent_id FROM relationships) \
    AND id NOT IN (SELECT stock_owner_id FROM relationship_requests) \
    AND id NOT IN (SELECT managing_agent_id FROM relationship_requests) \
    AND id NOT IN (SELECT owning_organisation_id FROM logs) \
    AND id NOT IN (SELECT managing_organisation_id FROM logs)";

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
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .add_column(
                        ColumnDef::new(Organisations::Kind)
                            .string_len(16)
                            .not_null()
                            .default("housing"),
                    )
                    .to_owned(),
            )
            .await?;
        manager.get_connection().execute_unprepared(MARK_COMPANIES).await?;
        // The other side's few rows, found without a scan (see `directory.rs`).
        manager
            .create_index(
                Index::create()
                    .name("organisations_by_kind")
                    .table(Organisations::Table)
                    .col(Organisations::Kind)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop().name("organisations_by_kind").table(Organisations::Table).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .drop_column(Organisations::Kind)
                    .to_owned(),
            )
            .await
    }
}
