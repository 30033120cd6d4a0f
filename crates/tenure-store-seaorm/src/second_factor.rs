//! The `SecondFactorStore` port over SQL: `second_factors` (one sealed secret a user) and
//! `recovery_codes` (digests). Uses are guarded updates (`... WHERE last_step < ?`,
//! `... WHERE used_at IS NULL`) whose row count says whether this call won, so of
//! concurrent uses of one code exactly one passes; each method is one transaction with
//! its audit entries.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter};
use tenure_core::{AuditEvent, BackendError, Enrolment, QueuedMail, SecondFactorStore, Timestamp};
use tenure_domain::UserId;

use crate::SeaOrmStore;
use crate::accounts::audit_row;
use crate::entity::{audit_events, recovery_codes, second_factors, sessions};

fn backend(e: impl std::fmt::Display) -> BackendError {
    BackendError::new(e.to_string())
}

async fn audit(txn: &sea_orm::DatabaseTransaction, event: &AuditEvent) -> Result<(), BackendError> {
    audit_events::Entity::insert(audit_row(event)).exec(txn).await.map_err(backend)?;
    Ok(())
}

async fn queue(txn: &sea_orm::DatabaseTransaction, mail: &QueuedMail) -> Result<(), BackendError> {
    crate::mail_queue::insert(txn, mail).await.map_err(backend)
}

async fn insert_codes(
    txn: &sea_orm::DatabaseTransaction,
    user: UserId,
    digests: Vec<String>,
) -> Result<(), BackendError> {
    recovery_codes::Entity::delete_many()
        .filter(recovery_codes::Column::UserId.eq(*user.as_uuid()))
        .exec(txn)
        .await
        .map_err(backend)?;
    if digests.is_empty() {
        return Ok(());
    }
    let rows = digests.into_iter().map(|digest| recovery_codes::ActiveModel {
        user_id: Set(*user.as_uuid()),
        digest: Set(digest),
        used_at: Set(None),
    });
    recovery_codes::Entity::insert_many(rows).exec(txn).await.map_err(backend)?;
    Ok(())
}

#[allow(
    clippy::too_many_arguments,
    reason = "confirming is one transaction: every input it writes, named"
)]
#[async_trait]
impl SecondFactorStore for SeaOrmStore {
    async fn second_factor(&self, user: UserId) -> Result<Option<Enrolment>, BackendError> {
        let row = second_factors::Entity::find_by_id(*user.as_uuid())
            .one(self.db())
            .await
            .map_err(backend)?;
        Ok(row.map(|r| Enrolment {
            sealed_secret: r.sealed_secret,
            confirmed: r.confirmed_at.map(Timestamp),
            last_step: r.last_step,
        }))
    }

    async fn begin_enrolment(
        &self,
        user: UserId,
        sealed_secret: Vec<u8>,
        now: Timestamp,
    ) -> Result<bool, BackendError> {
        let txn = self.write_transaction().await?;
        // Replaces only one being set up: a confirmed row is left alone (the guarded
        // update below matches no row, and the insert is skipped).
        let existing =
            second_factors::Entity::find_by_id(*user.as_uuid()).one(&txn).await.map_err(backend)?;
        match existing {
            Some(row) if row.confirmed_at.is_some() => return Ok(false),
            Some(_) => {
                second_factors::Entity::update_many()
                    .col_expr(second_factors::Column::SealedSecret, Expr::value(sealed_secret))
                    .col_expr(second_factors::Column::CreatedAt, Expr::value(now.0))
                    .filter(second_factors::Column::UserId.eq(*user.as_uuid()))
                    .filter(second_factors::Column::ConfirmedAt.is_null())
                    .exec(&txn)
                    .await
                    .map_err(backend)?;
            }
            None => {
                second_factors::Entity::insert(second_factors::ActiveModel {
                    user_id: Set(*user.as_uuid()),
                    sealed_secret: Set(sealed_secret),
                    created_at: Set(now.0),
                    confirmed_at: Set(None),
                    last_step: Set(None),
                })
                .exec(&txn)
                .await
                .map_err(backend)?;
            }
        }
        txn.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn confirm_enrolment(
        &self,
        user: UserId,
        sealed_secret: &[u8],
        step: i64,
        now: Timestamp,
        recovery_digests: Vec<String>,
        event: AuditEvent,
        mail: Option<QueuedMail>,
    ) -> Result<bool, BackendError> {
        let txn = self.write_transaction().await?;
        let done = second_factors::Entity::update_many()
            .col_expr(second_factors::Column::ConfirmedAt, Expr::value(now.0))
            .col_expr(second_factors::Column::LastStep, Expr::value(step))
            .filter(second_factors::Column::UserId.eq(*user.as_uuid()))
            .filter(second_factors::Column::ConfirmedAt.is_null())
            .filter(second_factors::Column::SealedSecret.eq(sealed_secret.to_vec()))
            .exec(&txn)
            .await
            .map_err(backend)?
            .rows_affected;
        if done != 1 {
            return Ok(false);
        }
        insert_codes(&txn, user, recovery_digests).await?;
        audit(&txn, &event).await?;
        if let Some(mail) = &mail {
            queue(&txn, mail).await?;
        }
        txn.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn use_step(
        &self,
        user: UserId,
        step: i64,
        event: AuditEvent,
    ) -> Result<bool, BackendError> {
        let txn = self.write_transaction().await?;
        let used = second_factors::Entity::update_many()
            .col_expr(second_factors::Column::LastStep, Expr::value(step))
            .filter(second_factors::Column::UserId.eq(*user.as_uuid()))
            .filter(second_factors::Column::ConfirmedAt.is_not_null())
            .filter(
                Condition::any()
                    .add(second_factors::Column::LastStep.is_null())
                    .add(second_factors::Column::LastStep.lt(step)),
            )
            .exec(&txn)
            .await
            .map_err(backend)?
            .rows_affected;
        if used != 1 {
            return Ok(false);
        }
        audit(&txn, &event).await?;
        txn.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        digest: &str,
        now: Timestamp,
        event: AuditEvent,
        mail: QueuedMail,
    ) -> Result<Option<u32>, BackendError> {
        let txn = self.write_transaction().await?;
        let used = recovery_codes::Entity::update_many()
            .col_expr(recovery_codes::Column::UsedAt, Expr::value(now.0))
            .filter(recovery_codes::Column::UserId.eq(*user.as_uuid()))
            .filter(recovery_codes::Column::Digest.eq(digest))
            .filter(recovery_codes::Column::UsedAt.is_null())
            .exec(&txn)
            .await
            .map_err(backend)?
            .rows_affected;
        if used != 1 {
            return Ok(None);
        }
        let left = recovery_codes::Entity::find()
            .filter(recovery_codes::Column::UserId.eq(*user.as_uuid()))
            .filter(recovery_codes::Column::UsedAt.is_null())
            .count(&txn)
            .await
            .map_err(backend)?;
        audit(&txn, &event).await?;
        queue(&txn, &mail).await?;
        txn.commit().await.map_err(backend)?;
        Ok(Some(u32::try_from(left).unwrap_or(u32::MAX)))
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        digests: Vec<String>,
        event: AuditEvent,
        mail: QueuedMail,
    ) -> Result<bool, BackendError> {
        let txn = self.write_transaction().await?;
        let confirmed = second_factors::Entity::find()
            .filter(second_factors::Column::UserId.eq(*user.as_uuid()))
            .filter(second_factors::Column::ConfirmedAt.is_not_null())
            .count(&txn)
            .await
            .map_err(backend)?;
        if confirmed != 1 {
            return Ok(false);
        }
        insert_codes(&txn, user, digests).await?;
        audit(&txn, &event).await?;
        queue(&txn, &mail).await?;
        txn.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn recovery_codes_left(&self, user: UserId) -> Result<u32, BackendError> {
        let left = recovery_codes::Entity::find()
            .filter(recovery_codes::Column::UserId.eq(*user.as_uuid()))
            .filter(recovery_codes::Column::UsedAt.is_null())
            .count(self.db())
            .await
            .map_err(backend)?;
        Ok(u32::try_from(left).unwrap_or(u32::MAX))
    }

    async fn remove_second_factor(
        &self,
        user: UserId,
        keep: Option<&str>,
        event: AuditEvent,
        sessions_event: AuditEvent,
        mail: QueuedMail,
    ) -> Result<bool, BackendError> {
        let txn = self.write_transaction().await?;
        let removed = second_factors::Entity::delete_many()
            .filter(second_factors::Column::UserId.eq(*user.as_uuid()))
            .exec(&txn)
            .await
            .map_err(backend)?
            .rows_affected;
        if removed != 1 {
            return Ok(false);
        }
        recovery_codes::Entity::delete_many()
            .filter(recovery_codes::Column::UserId.eq(*user.as_uuid()))
            .exec(&txn)
            .await
            .map_err(backend)?;
        let mut ended =
            sessions::Entity::delete_many().filter(sessions::Column::UserId.eq(*user.as_uuid()));
        if let Some(keep) = keep {
            ended = ended.filter(sessions::Column::Digest.ne(keep));
        }
        ended.exec(&txn).await.map_err(backend)?;
        audit(&txn, &event).await?;
        audit(&txn, &sessions_event).await?;
        queue(&txn, &mail).await?;
        txn.commit().await.map_err(backend)?;
        Ok(true)
    }
}
