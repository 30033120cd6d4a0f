//! Relationship requests: a relationship one end asked for, waiting for the other end's
//! answer. Only pending requests are kept; every step is in the audit trail.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum RelationshipRequests {
    Table,
    StockOwnerId,
    ManagingAgentId,
    RequestedById,
    RequestedAt,
}

#[derive(DeriveIden)]
enum Organisations {
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
        let org = |name: &str, column: RelationshipRequests| {
            ForeignKey::create()
                .name(name)
                .from(RelationshipRequests::Table, column)
                .to(Organisations::Table, Organisations::Id)
                .on_delete(ForeignKeyAction::Restrict)
                .on_update(ForeignKeyAction::Restrict)
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(RelationshipRequests::Table)
                    .col(ColumnDef::new(RelationshipRequests::StockOwnerId).uuid().not_null())
                    .col(ColumnDef::new(RelationshipRequests::ManagingAgentId).uuid().not_null())
                    .col(ColumnDef::new(RelationshipRequests::RequestedById).uuid().not_null())
                    .col(ColumnDef::new(RelationshipRequests::RequestedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(RelationshipRequests::StockOwnerId)
                            .col(RelationshipRequests::ManagingAgentId),
                    )
                    .foreign_key(&mut org(
                        "relationship_requests_stock_owner",
                        RelationshipRequests::StockOwnerId,
                    ))
                    .foreign_key(&mut org(
                        "relationship_requests_managing_agent",
                        RelationshipRequests::ManagingAgentId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("relationship_requests_by_managing_agent")
                    .table(RelationshipRequests::Table)
                    .col(RelationshipRequests::ManagingAgentId)
                    .to_owned(),
            )
            .await
    }
}
