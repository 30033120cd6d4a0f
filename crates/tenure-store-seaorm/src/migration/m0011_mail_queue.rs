//! The mail queue the courier delivers from: one row a message, written in the
//! transaction of the change it announces. The body (the notification as JSON, which
//! may hold a link) is erased once delivered; status, attempts and the last error stay
//! until housekeeping prunes the row.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum MailQueue {
    Table,
    Id,
    Recipient,
    Kind,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    SentAt,
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
                    .table(MailQueue::Table)
                    .col(ColumnDef::new(MailQueue::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(MailQueue::Recipient).string().not_null())
                    .col(ColumnDef::new(MailQueue::Kind).string().not_null())
                    .col(ColumnDef::new(MailQueue::Body).text().null())
                    .col(ColumnDef::new(MailQueue::Status).string().not_null())
                    .col(ColumnDef::new(MailQueue::Attempts).integer().not_null().default(0))
                    .col(ColumnDef::new(MailQueue::NextAttemptAt).big_integer().not_null())
                    .col(ColumnDef::new(MailQueue::LastError).text().null())
                    .col(ColumnDef::new(MailQueue::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(MailQueue::SentAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // The courier's claim: queued messages by when they are due.
        manager
            .create_index(
                Index::create()
                    .name("mail_queue_due")
                    .table(MailQueue::Table)
                    .col(MailQueue::Status)
                    .col(MailQueue::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        // Listing the undeliverable and pruning: by status, oldest first.
        manager
            .create_index(
                Index::create()
                    .name("mail_queue_by_status_created")
                    .table(MailQueue::Table)
                    .col(MailQueue::Status)
                    .col(MailQueue::CreatedAt)
                    .to_owned(),
            )
            .await
    }
}
