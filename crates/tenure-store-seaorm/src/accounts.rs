//! The `AccountStore` port over SQL. Each method is one transaction, so a change and its
//! audit entry are kept together or not at all; counting failures is one atomic
//! `UPDATE ... SET failed_attempts = failed_attempts + 1`, safe under concurrency.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder};
use tenure_core::{
    AccountStore, AuditDetail, AuditEvent, AuditName, BackendError, FailureRecorded, Origin,
    Outcome, PasswordHolder, QueuedMail, ResetHolder, SignInRecord, Timestamp,
};
use tenure_domain::{Email, OrgId, UserId};
use uuid::Uuid;

use crate::SeaOrmStore;
use crate::convert;
use crate::entity::{audit_events, credentials, organisations, reset_tokens, sessions, users};

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> BackendError {
    BackendError::new(e)
}

pub(crate) fn audit_row(e: &AuditEvent) -> audit_events::ActiveModel {
    audit_events::ActiveModel {
        id: Set(e.id),
        at: Set(e.at.0),
        actor_id: Set(e.actor.map(|u| *u.as_uuid())),
        event: Set(e.name.as_str().to_owned()),
        outcome: Set(e.outcome.as_str().to_owned()),
        target_user_id: Set(e.target_user.map(|u| *u.as_uuid())),
        organisation_id: Set(e.organisation.map(|o| *o.as_uuid())),
        detail: Set(e.detail.to_stored()),
        request_id: Set(e.origin.as_ref().map(|o| o.request_id.clone())),
        client_ip: Set(e.origin.as_ref().map(|o| o.client_ip.to_string())),
        user_agent: Set(e.origin.as_ref().and_then(|o| o.user_agent.clone())),
    }
}

pub(crate) fn audit_event(row: &audit_events::Model) -> Result<AuditEvent, BackendError> {
    let name = AuditName::parse(&row.event).ok_or_else(|| {
        BackendError::new(format!(
            "stored audit event `{}` has unknown name `{}`",
            row.id, row.event
        ))
    })?;
    let outcome =
        if row.outcome == Outcome::Success.as_str() { Outcome::Success } else { Outcome::Failure };
    Ok(AuditEvent {
        id: row.id,
        at: Timestamp(row.at),
        actor: row.actor_id.map(UserId::from_uuid),
        name,
        outcome,
        target_user: row.target_user_id.map(UserId::from_uuid),
        organisation: row.organisation_id.map(OrgId::from_uuid),
        detail: AuditDetail::parse_stored(&row.detail),
        origin: origin(row)?,
    })
}

/// A row's origin: none for rows written outside a request or before origins were kept
/// (no request id and no address).
fn origin(row: &audit_events::Model) -> Result<Option<Origin>, BackendError> {
    let (Some(request_id), Some(ip)) = (&row.request_id, &row.client_ip) else {
        return Ok(None);
    };
    let client_ip = ip.parse().map_err(|_| {
        BackendError::new(format!(
            "stored audit event `{}` has a client address that is not one: `{ip}`",
            row.id
        ))
    })?;
    Ok(Some(Origin {
        request_id: request_id.clone(),
        client_ip,
        user_agent: row.user_agent.clone(),
    }))
}

/// Makes sure the user has a credentials row (none until a first password or failure).
pub(crate) async fn ensure_row(db: &impl ConnectionTrait, user: Uuid) -> Result<(), BackendError> {
    let insert = Query::insert()
        .into_table(credentials::Entity)
        .columns([
            credentials::Column::UserId,
            credentials::Column::FailedAttempts,
            credentials::Column::Version,
        ])
        .values_panic([user.into(), 0i32.into(), 1i64.into()])
        .on_conflict(OnConflict::column(credentials::Column::UserId).do_nothing().to_owned())
        .to_owned();
    db.execute(&insert).await.map_err(backend)?;
    Ok(())
}

/// Clears the failure count and any lock, and stores `hash` if given: what a success, a
/// new password and a reset all do to a user's credentials.
async fn clear_lockout(
    db: &impl ConnectionTrait,
    user: Uuid,
    hash: Option<String>,
) -> Result<(), BackendError> {
    ensure_row(db, user).await?;
    let mut update = Query::update();
    update
        .table(credentials::Entity)
        .value(credentials::Column::FailedAttempts, 0)
        .value(credentials::Column::LockedUntil, Option::<i64>::None)
        .value(credentials::Column::Version, Expr::col(credentials::Column::Version).add(1))
        .and_where(credentials::Column::UserId.eq(user));
    if let Some(hash) = hash {
        update.value(credentials::Column::PasswordHash, hash);
    }
    db.execute(&update).await.map_err(backend)?;
    Ok(())
}

/// Kills every unused reset link of the user (marked used at its own issue time).
pub(crate) async fn kill_resets(db: &impl ConnectionTrait, user: Uuid) -> Result<(), BackendError> {
    let kill = Query::update()
        .table(reset_tokens::Entity)
        .value(reset_tokens::Column::UsedAt, Expr::col(reset_tokens::Column::IssuedAt))
        .and_where(reset_tokens::Column::UserId.eq(user))
        .and_where(reset_tokens::Column::UsedAt.is_null())
        .to_owned();
    db.execute(&kill).await.map_err(backend)?;
    Ok(())
}

/// Ends every session of the user.
async fn end_sessions(db: &impl ConnectionTrait, user: Uuid) -> Result<(), BackendError> {
    sessions::Entity::delete_many()
        .filter(sessions::Column::UserId.eq(user))
        .exec(db)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Adds one failure in one statement (`n = n + 1`, so concurrent failures all count);
/// reaching `lock_after` locks until `lock_until` and restarts the count in the same
/// statement. Returns the count now and whether this failure locked the account.
pub(crate) async fn count_failure(
    db: &impl ConnectionTrait,
    user: Uuid,
    lock_after: u32,
    lock_until: Timestamp,
) -> Result<FailureRecorded, BackendError> {
    ensure_row(db, user).await?;
    let threshold = i64::from(lock_after);
    let next = Expr::col(credentials::Column::FailedAttempts).add(1);
    let update = Query::update()
        .table(credentials::Entity)
        .value(
            credentials::Column::LockedUntil,
            Expr::case(next.clone().gte(threshold), lock_until.0)
                .finally(Expr::col(credentials::Column::LockedUntil)),
        )
        .value(
            credentials::Column::FailedAttempts,
            Expr::case(next.clone().gte(threshold), 0).finally(next),
        )
        .value(credentials::Column::Version, Expr::col(credentials::Column::Version).add(1))
        .and_where(credentials::Column::UserId.eq(user))
        .to_owned();
    db.execute(&update).await.map_err(backend)?;
    let row = credentials::Entity::find_by_id(user)
        .one(db)
        .await
        .map_err(backend)?
        .ok_or_else(|| BackendError::new(format!("credentials for `{user}` vanished")))?;
    Ok(FailureRecorded {
        failed_attempts: u32::try_from(row.failed_attempts).unwrap_or(0),
        locked: row.failed_attempts == 0 && row.locked_until == Some(lock_until.0),
    })
}

/// A user's details with their organisation's name, as password checks need them.
async fn person(
    db: &impl ConnectionTrait,
    user: Uuid,
) -> Result<Option<ResetHolder>, BackendError> {
    let Some(row) = users::Entity::find_by_id(user).one(db).await.map_err(backend)? else {
        return Ok(None);
    };
    let Some(org) =
        organisations::Entity::find_by_id(row.organisation_id).one(db).await.map_err(backend)?
    else {
        return Ok(None);
    };
    let row = convert::user(&row, Vec::new())?;
    let org = convert::organisation(org)?;
    Ok(Some(ResetHolder {
        user: row.id,
        email: row.email,
        name: row.name,
        organisation: org.name,
        organisation_id: org.id,
    }))
}

impl SeaOrmStore {
    /// Sets a password (see [`AccountStore::set_password`]), queuing `mail` with it.
    async fn set_password_telling(
        &self,
        user: UserId,
        hash: String,
        audit: AuditEvent,
        mail: Option<&QueuedMail>,
    ) -> Result<(), BackendError> {
        let id = *user.as_uuid();
        let txn = self.write_transaction().await?;
        if users::Entity::find_by_id(id).one(&txn).await.map_err(backend)?.is_none() {
            return Err(BackendError::new(format!("user `{user}` does not exist")));
        }
        clear_lockout(&txn, id, Some(hash)).await?;
        kill_resets(&txn, id).await?;
        end_sessions(&txn, id).await?;
        audit_events::Entity::insert(audit_row(&audit)).exec(&txn).await.map_err(backend)?;
        if let Some(mail) = mail {
            crate::mail_queue::insert(&txn, mail).await.map_err(backend)?;
        }
        txn.commit().await.map_err(backend)
    }

    /// Issues a reset link (see [`AccountStore::issue_reset`]), queuing `mail` with it.
    async fn issue_reset_telling(
        &self,
        user: UserId,
        digest: String,
        (issued, expires): (Timestamp, Timestamp),
        audit: AuditEvent,
        mail: Option<&QueuedMail>,
    ) -> Result<(), BackendError> {
        let id = *user.as_uuid();
        let txn = self.write_transaction().await?;
        let kill = Query::update()
            .table(reset_tokens::Entity)
            .value(reset_tokens::Column::UsedAt, issued.0)
            .and_where(reset_tokens::Column::UserId.eq(id))
            .and_where(reset_tokens::Column::UsedAt.is_null())
            .to_owned();
        txn.execute(&kill).await.map_err(backend)?;
        reset_tokens::Entity::insert(reset_tokens::ActiveModel {
            digest: Set(digest),
            user_id: Set(id),
            issued_at: Set(issued.0),
            expires_at: Set(expires.0),
            used_at: Set(None),
        })
        .exec(&txn)
        .await
        .map_err(backend)?;
        audit_events::Entity::insert(audit_row(&audit)).exec(&txn).await.map_err(backend)?;
        if let Some(mail) = mail {
            crate::mail_queue::insert(&txn, mail).await.map_err(backend)?;
        }
        txn.commit().await.map_err(backend)
    }
}

#[async_trait]
impl AccountStore for SeaOrmStore {
    async fn sign_in_record(&self, email: &Email) -> Result<Option<SignInRecord>, BackendError> {
        let db = self.db();
        let Some(user) = users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(db)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let org_active = organisations::Entity::find_by_id(user.organisation_id)
            .one(db)
            .await
            .map_err(backend)?
            .is_some_and(|o| o.active);
        let creds = credentials::Entity::find_by_id(user.id).one(db).await.map_err(backend)?;
        let failed_attempts =
            creds.as_ref().map_or(0, |c| u32::try_from(c.failed_attempts).unwrap_or(0));
        Ok(Some(SignInRecord {
            user: UserId::from_uuid(user.id),
            organisation: OrgId::from_uuid(user.organisation_id),
            password_hash: creds.as_ref().and_then(|c| c.password_hash.clone()),
            failed_attempts,
            locked_until: creds.and_then(|c| c.locked_until).map(Timestamp),
            active: user.active && org_active,
        }))
    }

    async fn record_failure(
        &self,
        user: UserId,
        lock_after: u32,
        lock_until: Timestamp,
        audit: AuditEvent,
        lock_audit: AuditEvent,
    ) -> Result<FailureRecorded, BackendError> {
        let txn = self.write_transaction().await?;
        let recorded = count_failure(&txn, *user.as_uuid(), lock_after, lock_until).await?;
        audit_events::Entity::insert(audit_row(&audit)).exec(&txn).await.map_err(backend)?;
        if recorded.locked {
            audit_events::Entity::insert(audit_row(&lock_audit))
                .exec(&txn)
                .await
                .map_err(backend)?;
        }
        txn.commit().await.map_err(backend)?;
        Ok(recorded)
    }

    async fn record_success(
        &self,
        user: UserId,
        rehash: Option<String>,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        let id = *user.as_uuid();
        let txn = self.write_transaction().await?;
        clear_lockout(&txn, id, rehash).await?;
        audit_events::Entity::insert(audit_row(&audit)).exec(&txn).await.map_err(backend)?;
        txn.commit().await.map_err(backend)
    }

    async fn set_password(
        &self,
        user: UserId,
        hash: String,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        self.set_password_telling(user, hash, audit, None).await
    }

    async fn set_password_with_notice(
        &self,
        user: UserId,
        hash: String,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<(), BackendError> {
        self.set_password_telling(user, hash, audit, Some(&mail)).await
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<(), BackendError> {
        audit_events::Entity::insert(audit_row(&event)).exec(self.db()).await.map_err(backend)?;
        Ok(())
    }

    async fn audit_for_user(&self, user: UserId) -> Result<Vec<AuditEvent>, BackendError> {
        let id = *user.as_uuid();
        audit_events::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(audit_events::Column::ActorId.eq(id))
                    .add(audit_events::Column::TargetUserId.eq(id)),
            )
            .order_by_asc(audit_events::Column::At)
            .order_by_asc(audit_events::Column::Id)
            .all(self.db())
            .await
            .map_err(backend)?
            .iter()
            .map(audit_event)
            .collect()
    }

    async fn password_holder(&self, user: UserId) -> Result<Option<PasswordHolder>, BackendError> {
        let Some(person) = person(self.db(), *user.as_uuid()).await? else { return Ok(None) };
        let creds = credentials::Entity::find_by_id(*user.as_uuid())
            .one(self.db())
            .await
            .map_err(backend)?;
        Ok(Some(PasswordHolder {
            person,
            password_hash: creds.as_ref().and_then(|c| c.password_hash.clone()),
            locked_until: creds.and_then(|c| c.locked_until).map(Timestamp),
        }))
    }

    async fn issue_reset(
        &self,
        user: UserId,
        digest: String,
        issued: Timestamp,
        expires: Timestamp,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        self.issue_reset_telling(user, digest, (issued, expires), audit, None).await
    }

    async fn issue_reset_with_mail(
        &self,
        user: UserId,
        digest: String,
        issued: Timestamp,
        expires: Timestamp,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<(), BackendError> {
        self.issue_reset_telling(user, digest, (issued, expires), audit, Some(&mail)).await
    }

    async fn reset_holder(
        &self,
        digest: &str,
        now: Timestamp,
    ) -> Result<Option<ResetHolder>, BackendError> {
        let db = self.db();
        let Some(token) = reset_tokens::Entity::find_by_id(digest.to_owned())
            .filter(reset_tokens::Column::UsedAt.is_null())
            .filter(reset_tokens::Column::ExpiresAt.gt(now.0))
            .one(db)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        person(db, token.user_id).await
    }

    async fn consume_reset(
        &self,
        digest: &str,
        user: UserId,
        now: Timestamp,
        hash: String,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<bool, BackendError> {
        let id = *user.as_uuid();
        let txn = self.write_transaction().await?;
        // The guarded update is the single point of truth: of concurrent uses, one sees
        // the row unused and marks it; the others update nothing.
        let used = Query::update()
            .table(reset_tokens::Entity)
            .value(reset_tokens::Column::UsedAt, now.0)
            .and_where(reset_tokens::Column::Digest.eq(digest))
            .and_where(reset_tokens::Column::UserId.eq(id))
            .and_where(reset_tokens::Column::UsedAt.is_null())
            .and_where(reset_tokens::Column::ExpiresAt.gt(now.0))
            .to_owned();
        if txn.execute(&used).await.map_err(backend)?.rows_affected() != 1 {
            txn.rollback().await.map_err(backend)?;
            return Ok(false);
        }
        let others = Query::update()
            .table(reset_tokens::Entity)
            .value(reset_tokens::Column::UsedAt, now.0)
            .and_where(reset_tokens::Column::UserId.eq(id))
            .and_where(reset_tokens::Column::UsedAt.is_null())
            .to_owned();
        txn.execute(&others).await.map_err(backend)?;
        clear_lockout(&txn, id, Some(hash)).await?;
        end_sessions(&txn, id).await?;
        audit_events::Entity::insert(audit_row(&audit)).exec(&txn).await.map_err(backend)?;
        crate::mail_queue::insert(&txn, &mail).await.map_err(backend)?;
        txn.commit().await.map_err(backend)?;
        Ok(true)
    }
}
