//! Account use cases: signing in, with a per-account lockout.
//!
//! Every way a sign-in can fail (unknown email, wrong password, locked, deactivated) gives
//! the same error and costs exactly one password check, so neither the answer nor its
//! timing says whether an account exists. Failures while locked are not counted. A success
//! clears the count. All of it is audited in the same transaction as the change.

use std::sync::Arc;

use async_trait::async_trait;
use tenure_domain::{Email, NewPassword, OrgId, UserId};
use thiserror::Error;

use crate::audit::{AuditEvent, AuditName, Outcome};
use crate::error::BackendError;
use crate::ports::{Clock, IdGen, PasswordHasher, Timestamp, Verified};

/// What signing in needs to know about the account holding an email address.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignInRecord {
    /// The user.
    pub user: UserId,
    /// Their organisation.
    pub organisation: OrgId,
    /// Their password hash; `None` until they set one (an invited user).
    pub password_hash: Option<String>,
    /// Consecutive failed attempts since the last success or lock.
    pub failed_attempts: u32,
    /// Locked until this moment, if locked.
    pub locked_until: Option<Timestamp>,
    /// Whether both the user and their organisation are active.
    pub active: bool,
}

/// The state after a failed attempt was recorded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FailureRecorded {
    /// Consecutive failures now (0 right after a lock).
    pub failed_attempts: u32,
    /// Whether this failure locked the account.
    pub locked: bool,
}

/// Storage for credentials and the audit trail. Each method is one transaction: the change
/// and its audit entry are kept together or not at all.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// The sign-in facts for an email address, if a user has it.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn sign_in_record(&self, email: &Email) -> Result<Option<SignInRecord>, BackendError>;

    /// Adds one failure atomically (`n = n + 1`, safe under concurrent attempts); when the
    /// count reaches `lock_after`, locks the account until `lock_until` and restarts the
    /// count. Appends `audit`, and a lock event when it locks.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures; nothing is kept then.
    async fn record_failure(
        &self,
        user: UserId,
        lock_after: u32,
        lock_until: Timestamp,
        audit: AuditEvent,
        lock_audit: AuditEvent,
    ) -> Result<FailureRecorded, BackendError>;

    /// Clears the failure count and any lock, stores `rehash` if given, appends `audit`.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures; nothing is kept then.
    async fn record_success(
        &self,
        user: UserId,
        rehash: Option<String>,
        audit: AuditEvent,
    ) -> Result<(), BackendError>;

    /// Sets a password hash, clearing the failure count and any lock, and appends `audit`.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures (an unknown user included); nothing is
    /// kept then.
    async fn set_password(
        &self,
        user: UserId,
        hash: String,
        audit: AuditEvent,
    ) -> Result<(), BackendError>;

    /// Appends an audit entry on its own (a failed sign-in for an unknown email).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn append_audit(&self, event: AuditEvent) -> Result<(), BackendError>;

    /// The audit entries about a user, as actor or target, oldest first.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn audit_for_user(&self, user: UserId) -> Result<Vec<AuditEvent>, BackendError>;
}

/// When to lock an account.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LockoutPolicy {
    /// Lock after this many consecutive failures.
    pub lock_after: u32,
    /// For this many milliseconds.
    pub lock_for_ms: i64,
}

impl Default for LockoutPolicy {
    /// Five failures lock the account for an hour: at most 5 guesses an hour, far under
    /// NIST's hard stop of 100 consecutive failures.
    fn default() -> Self {
        Self { lock_after: 5, lock_for_ms: 60 * 60 * 1000 }
    }
}

/// Why signing in failed. One variant for every reason a person could act on, so the
/// answer never tells an attacker which it was.
#[derive(Debug, Error)]
pub enum SignInError {
    /// Unknown email, wrong password, locked or deactivated: all the same to the caller.
    #[error("enter a correct email address and password")]
    Refused,
    /// Something broke; deny, and log the cause.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The account services.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn AccountStore>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    lockout: LockoutPolicy,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").field("lockout", &self.lockout).finish_non_exhaustive()
    }
}

impl Accounts {
    /// The services over these ports.
    pub fn new(
        store: Arc<dyn AccountStore>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
        lockout: LockoutPolicy,
    ) -> Self {
        Self { store, hasher, clock, ids, lockout }
    }

    fn event(
        &self,
        at: Timestamp,
        name: AuditName,
        outcome: Outcome,
        user: Option<UserId>,
        org: Option<OrgId>,
        detail: &str,
    ) -> AuditEvent {
        AuditEvent {
            id: self.ids.next_id(),
            at,
            actor: user,
            name,
            outcome,
            target_user: user,
            organisation: org,
            detail: detail.to_owned(),
        }
    }

    /// Signs in with an email address and a password.
    ///
    /// # Errors
    /// [`SignInError::Refused`] for every refusal, alike; [`SignInError::Backend`] when
    /// storage fails.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<UserId, SignInError> {
        let now = self.clock.now();
        let record = match Email::parse(email) {
            Ok(email) => self.store.sign_in_record(&email).await?,
            Err(_) => None,
        };
        let Some(record) = record else {
            // Unknown email: the same work as a real check, then the same answer.
            self.hasher.verify(password, self.hasher.dummy()).await;
            let event = self.event(
                now,
                AuditName::LoginFail,
                Outcome::Failure,
                None,
                None,
                r#"{"reason":"unknown email"}"#,
            );
            self.store.append_audit(event).await?;
            return Err(SignInError::Refused);
        };
        let (user, org) = (Some(record.user), Some(record.organisation));
        let refuse_without_counting = |reason: &str| {
            self.event(now, AuditName::LoginFail, Outcome::Failure, user, org, reason)
        };
        if record.locked_until.is_some_and(|until| until > now) {
            self.hasher.verify(password, self.hasher.dummy()).await;
            self.store.append_audit(refuse_without_counting(r#"{"reason":"locked"}"#)).await?;
            return Err(SignInError::Refused);
        }
        if !record.active {
            self.hasher.verify(password, self.hasher.dummy()).await;
            self.store.append_audit(refuse_without_counting(r#"{"reason":"deactivated"}"#)).await?;
            return Err(SignInError::Refused);
        }
        let stored = record.password_hash.as_deref().unwrap_or_else(|| self.hasher.dummy());
        let verified = if record.password_hash.is_some() {
            self.hasher.verify(password, stored).await
        } else {
            // No password yet (invited, not accepted): nothing typed can match.
            self.hasher.verify(password, stored).await;
            Verified::NoMatch
        };
        match verified {
            Verified::Match | Verified::MatchNeedsRehash => {
                let rehash = if verified == Verified::MatchNeedsRehash {
                    Some(self.hasher.hash(&NewPassword::verified(password)).await?)
                } else {
                    None
                };
                let event =
                    self.event(now, AuditName::LoginSuccess, Outcome::Success, user, org, "{}");
                self.store.record_success(record.user, rehash, event).await?;
                Ok(record.user)
            }
            Verified::NoMatch => {
                let until = Timestamp(now.0.saturating_add(self.lockout.lock_for_ms));
                let event = self.event(
                    now,
                    AuditName::LoginFail,
                    Outcome::Failure,
                    user,
                    org,
                    r#"{"reason":"wrong password"}"#,
                );
                let lock = self.event(
                    now,
                    AuditName::LoginLock,
                    Outcome::Success,
                    user,
                    org,
                    &format!(r#"{{"until":{}}}"#, until.0),
                );
                self.store
                    .record_failure(record.user, self.lockout.lock_after, until, event, lock)
                    .await?;
                Err(SignInError::Refused)
            }
        }
    }
}
