//! The `MailQueue` port over the `mail_queue` table. Messages are inserted by the write
//! ports (`changes.rs`, `accounts.rs`) in the transaction of their change, by
//! [`insert`]; this module claims, marks, lists and prunes them.
//!
//! A claim selects due rows `FOR UPDATE SKIP LOCKED` on PostgreSQL, so couriers on several
//! instances pass over each other's rows instead of waiting or taking them twice, and
//! moves them past `lease_until` with one more attempt, in one transaction. SQLite has one
//! writer (`BEGIN IMMEDIATE`), which serialises claims on its own. Marking a message is
//! guarded by its attempt number, so a courier whose lease ran out cannot overwrite the
//! outcome of a later claim; a round's delivered messages are marked in one transaction
//! (one `UPDATE` for up to 200 of them, each still fenced by its attempt, found by its id:
//! on SQLite the status is kept out of the plan, see `still_queued`).
//!
//! The `body` column holds the notification sealed by the courier (never in the clear:
//! [`QueuedMail::body`] refuses an unsealed one); claims hand it back as stored and only
//! the courier opens it. On SQLite the connection runs with `secure_delete` on, so a body
//! erased once sent is overwritten in the file rather than left in a free page.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, LockBehavior, LockType, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use tenure_core::{
    AfterFailure, BackendError, Claimed, MailQueue, MailRecord, MailStatus, Page, QueueCounts,
    QueuedMail, Timestamp,
};
use uuid::Uuid;

use crate::SeaOrmStore;
use crate::entity::mail_queue::{self, Column};

fn backend(e: DbErr) -> BackendError {
    BackendError::new(e)
}

/// Queues a message in the caller's transaction.
pub(crate) async fn insert(db: &impl ConnectionTrait, mail: &QueuedMail) -> Result<(), DbErr> {
    mail_queue::Entity::insert(row(mail)?).exec(db).await?;
    Ok(())
}

/// A message's row as queued (a batch chunk inserts many at once).
pub(crate) fn row(mail: &QueuedMail) -> Result<mail_queue::ActiveModel, DbErr> {
    let body = mail.body().map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(mail_queue::ActiveModel {
        id: Set(mail.id),
        recipient: Set(mail.recipient().to_owned()),
        kind: Set(mail.kind().to_owned()),
        body: Set(Some(body.to_owned())),
        status: Set(MailStatus::Queued.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(mail.queued.0),
        last_error: Set(None),
        created_at: Set(mail.queued.0),
        sent_at: Set(None),
    })
}

fn record(row: mail_queue::Model) -> Result<MailRecord, BackendError> {
    let status = MailStatus::parse(&row.status).ok_or_else(|| {
        BackendError::new(format!("queued mail `{}` has an unknown status", row.id))
    })?;
    Ok(MailRecord {
        id: row.id,
        recipient: row.recipient,
        kind: row.kind,
        status,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        next_attempt: Timestamp(row.next_attempt_at),
        last_error: row.last_error,
        created: Timestamp(row.created_at),
        sent: row.sent_at.map(Timestamp),
    })
}

fn attempt_value(attempt: u32) -> i32 {
    i32::try_from(attempt).unwrap_or(i32::MAX)
}

const QUEUED: &str = MailStatus::Queued.as_str();

/// `status = 'queued'`, as the fence of a round's mark, where the round's ids (the primary
/// key) must pick the rows. SQLite keeps no statistics here and takes `status = ?` for the
/// most selective term there is, so it walked every queued message through a status index
/// and tested each against the round's up to [`MARK_CHUNK`] `(id, attempts)` pairs: a
/// round cost as much as the queue was long (50,000 queued: 1,000 emails a second, most of
/// it this statement). The unary `+` is SQLite's documented way to keep a term out of
/// index selection, so the ids are looked up instead; PostgreSQL has statistics and looks
/// the ids up anyway.
fn still_queued(db: DbBackend) -> SimpleExpr {
    match db {
        DbBackend::Sqlite => Expr::cust_with_values("+\"status\" = ?", [QUEUED]),
        _ => Column::Status.eq(QUEUED),
    }
}

/// Messages marked sent by one statement (two bound values each, well under SQLite's and
/// PostgreSQL's limits).
const MARK_CHUNK: usize = 200;

/// The one `UPDATE` marking these messages (at most [`MARK_CHUNK`]) sent at `at`, each
/// fenced by its own attempt: `status = 'queued' AND ((id = ? AND attempts = ?) OR ...)`.
fn mark_sent_update(
    db: DbBackend,
    held: &[(Uuid, u32)],
    at: Timestamp,
) -> sea_orm::UpdateMany<mail_queue::Entity> {
    let held = held.iter().fold(sea_orm::Condition::any(), |any, &(id, attempt)| {
        any.add(
            sea_orm::Condition::all()
                .add(Column::Id.eq(id))
                .add(Column::Attempts.eq(attempt_value(attempt))),
        )
    });
    mail_queue::Entity::update_many()
        .col_expr(Column::Status, Expr::value(MailStatus::Sent.as_str()))
        .col_expr(Column::SentAt, Expr::value(at.0))
        .col_expr(Column::Body, Expr::value(Option::<String>::None))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .filter(still_queued(db))
        .filter(held)
}

#[async_trait]
impl MailQueue for SeaOrmStore {
    async fn claim(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
        only: Option<&[Uuid]>,
    ) -> Result<Vec<Claimed>, BackendError> {
        if limit == 0 || only.is_some_and(<[Uuid]>::is_empty) {
            return Ok(Vec::new());
        }
        let txn = self.write_transaction().await?;
        let mut due = mail_queue::Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::Status.eq(QUEUED))
            .filter(Column::NextAttemptAt.lte(now.0))
            .filter(Column::Body.is_not_null());
        if let Some(ids) = only {
            due = due.filter(Column::Id.is_in(ids.iter().copied()));
        }
        let ids: Vec<Uuid> = due
            .order_by_asc(Column::NextAttemptAt)
            .order_by_asc(Column::CreatedAt)
            .limit(u64::try_from(limit).unwrap_or(u64::MAX))
            // PostgreSQL only: SQLite leaves the clause out and has one writer anyway.
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .into_tuple()
            .all(&txn)
            .await
            .map_err(backend)?;
        if ids.is_empty() {
            txn.commit().await.map_err(backend)?;
            return Ok(Vec::new());
        }
        mail_queue::Entity::update_many()
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .col_expr(Column::NextAttemptAt, Expr::value(lease_until.0))
            .filter(Column::Id.is_in(ids.iter().copied()))
            .exec(&txn)
            .await
            .map_err(backend)?;
        let rows = mail_queue::Entity::find()
            .filter(Column::Id.is_in(ids))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(&txn)
            .await
            .map_err(backend)?;
        txn.commit().await.map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|row| Claimed {
                id: row.id,
                body: row.body.unwrap_or_default(),
                attempt: u32::try_from(row.attempts).unwrap_or(0),
            })
            .collect())
    }

    async fn mark_sent(&self, id: Uuid, attempt: u32, at: Timestamp) -> Result<bool, BackendError> {
        let result = mail_queue::Entity::update_many()
            .col_expr(Column::Status, Expr::value(MailStatus::Sent.as_str()))
            .col_expr(Column::SentAt, Expr::value(at.0))
            .col_expr(Column::Body, Expr::value(Option::<String>::None))
            .col_expr(Column::LastError, Expr::value(Option::<String>::None))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(QUEUED))
            .filter(Column::Attempts.eq(attempt_value(attempt)))
            .exec(self.db())
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn mark_all_sent(
        &self,
        sent: &[(Uuid, u32)],
        at: Timestamp,
    ) -> Result<usize, BackendError> {
        if sent.is_empty() {
            return Ok(0);
        }
        let txn = self.write_transaction().await?;
        let mut marked = 0_u64;
        for chunk in sent.chunks(MARK_CHUNK) {
            let result =
                mark_sent_update(self.backend(), chunk, at).exec(&txn).await.map_err(backend)?;
            marked += result.rows_affected;
        }
        txn.commit().await.map_err(backend)?;
        Ok(usize::try_from(marked).unwrap_or(usize::MAX))
    }

    async fn mark_failed(
        &self,
        id: Uuid,
        attempt: u32,
        error: &str,
        then: AfterFailure,
    ) -> Result<bool, BackendError> {
        let mut update = mail_queue::Entity::update_many()
            .col_expr(Column::LastError, Expr::value(error.to_owned()))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(QUEUED))
            .filter(Column::Attempts.eq(attempt_value(attempt)));
        update = match then {
            AfterFailure::RetryAt(at) => update.col_expr(Column::NextAttemptAt, Expr::value(at.0)),
            AfterFailure::Abandon => {
                update.col_expr(Column::Status, Expr::value(MailStatus::Abandoned.as_str()))
            }
        };
        let result = update.exec(self.db()).await.map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn undeliverable(&self, page: Page) -> Result<Vec<MailRecord>, BackendError> {
        mail_queue::Entity::find()
            .filter(Column::Status.eq(MailStatus::Abandoned.as_str()))
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .offset(page.offset as u64)
            .limit(page.limit.min(Page::MAX_LIMIT) as u64)
            .all(self.db())
            .await
            .map_err(backend)?
            .into_iter()
            .map(record)
            .collect()
    }

    async fn message(&self, id: Uuid) -> Result<Option<MailRecord>, BackendError> {
        mail_queue::Entity::find_by_id(id)
            .one(self.db())
            .await
            .map_err(backend)?
            .map(record)
            .transpose()
    }

    async fn retry(&self, id: Uuid, now: Timestamp) -> Result<bool, BackendError> {
        let result = mail_queue::Entity::update_many()
            .col_expr(Column::Status, Expr::value(QUEUED))
            .col_expr(Column::Attempts, Expr::value(0))
            .col_expr(Column::NextAttemptAt, Expr::value(now.0))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(MailStatus::Abandoned.as_str()))
            .filter(Column::Body.is_not_null())
            .exec(self.db())
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn counts(&self) -> Result<QueueCounts, BackendError> {
        let rows: Vec<(String, i64)> = mail_queue::Entity::find()
            .select_only()
            .column(Column::Status)
            .column_as(Expr::col(Column::Id).count(), "n")
            .group_by(Column::Status)
            .into_tuple()
            .all(self.db())
            .await
            .map_err(backend)?;
        let mut counts = QueueCounts::default();
        for (status, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match MailStatus::parse(&status) {
                Some(MailStatus::Queued) => counts.queued = n,
                Some(MailStatus::Sent) => counts.sent = n,
                Some(MailStatus::Abandoned) => counts.abandoned = n,
                None => {}
            }
        }
        Ok(counts)
    }

    async fn prune(&self, before: Timestamp, batch: usize) -> Result<u64, BackendError> {
        if batch == 0 {
            return Ok(0);
        }
        let old = sea_orm::Condition::any()
            .add(
                sea_orm::Condition::all()
                    .add(Column::Status.eq(MailStatus::Sent.as_str()))
                    .add(Column::SentAt.lt(before.0)),
            )
            .add(
                sea_orm::Condition::all()
                    .add(Column::Status.eq(MailStatus::Abandoned.as_str()))
                    .add(Column::CreatedAt.lt(before.0)),
            );
        let ids: Vec<Uuid> = mail_queue::Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(old.clone())
            .order_by_asc(Column::CreatedAt)
            .limit(u64::try_from(batch).unwrap_or(u64::MAX))
            .into_tuple()
            .all(self.db())
            .await
            .map_err(backend)?;
        if ids.is_empty() {
            return Ok(0);
        }
        let result = mail_queue::Entity::delete_many()
            .filter(Column::Id.is_in(ids))
            .filter(old)
            .exec(self.db())
            .await
            .map_err(backend)?;
        Ok(result.rows_affected)
    }
}

#[cfg(test)]
mod tests;
