//! Account use cases: signing in with a per-account lockout, and resetting a password by
//! email.
//!
//! Every way a sign-in can fail (unknown email, wrong password, locked, deactivated) gives
//! the same error and costs exactly one password check, so neither the answer nor its
//! timing says whether an account exists. Failures while locked are not counted. A success
//! clears the count. All of it is audited in the same transaction as the change.
//!
//! A new password, changed or reset, is a new credential: the transaction that sets it
//! kills every outstanding reset link and ends every session, and the person is told by
//! a notice that holds no link.

use std::sync::Arc;

use async_trait::async_trait;
use tenure_domain::{Email, NewPassword, OrgId, UserId};
use thiserror::Error;

use crate::audit::{
    AuditDetail, AuditEvent, AuditName, FailureReason, Lock, Outcome, SignInFailure,
};
use crate::courier::{Courier, QueuedMail};
use crate::error::BackendError;
use crate::limits::{LimitKey, LimitKind, Limits};
use crate::notification::{self, Notification};
use crate::ports::{Clock, IdGen, PasswordHasher, Secrets, Timestamp, Verified};

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

    /// Sets a password hash, clearing the failure count and any lock, and in the same
    /// transaction kills every unused reset link of the user and ends every session of
    /// theirs (a new password is a new credential: nothing issued under the old one
    /// outlives it; an app that keeps the person signed in starts a fresh session), and
    /// appends `audit`.
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

    /// As [`AccountStore::set_password`], and queues `mail` (the notice that the
    /// password changed) in the same transaction.
    ///
    /// # Errors
    /// As [`AccountStore::set_password`]; nothing is kept then, the mail included.
    async fn set_password_with_notice(
        &self,
        user: UserId,
        hash: String,
        audit: AuditEvent,
        mail: QueuedMail,
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

    /// The user's password hash and the details a new password must not contain.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn password_holder(&self, user: UserId) -> Result<Option<PasswordHolder>, BackendError>;

    /// Stores a new reset link's digest, valid until `expires`, and kills every earlier
    /// unused link of the user, with `audit`, in one transaction.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures; nothing is kept then.
    async fn issue_reset(
        &self,
        user: UserId,
        digest: String,
        issued: Timestamp,
        expires: Timestamp,
        audit: AuditEvent,
    ) -> Result<(), BackendError>;

    /// As [`AccountStore::issue_reset`], and queues `mail` (the email holding the link,
    /// for the courier) in the same transaction.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures; nothing is kept then.
    async fn issue_reset_with_mail(
        &self,
        user: UserId,
        digest: String,
        issued: Timestamp,
        expires: Timestamp,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<(), BackendError>;

    /// Who an unused, unexpired reset link belongs to, without using it.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn reset_holder(
        &self,
        digest: &str,
        now: Timestamp,
    ) -> Result<Option<ResetHolder>, BackendError>;

    /// Uses a reset link, once: marks it used only if it is unused, unexpired and the
    /// user's, and in the same transaction stores the new password hash, clears the
    /// failure count and lock, kills the user's other links, ends every session of the
    /// user, appends `audit` and queues `mail` (the notice that the password changed). Of
    /// concurrent uses of one link exactly one returns `true`; the others queue nothing.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures; nothing is kept then.
    async fn consume_reset(
        &self,
        digest: &str,
        user: UserId,
        now: Timestamp,
        hash: String,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<bool, BackendError>;
}

/// Whose reset link it is, with the details a new password must not contain.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ResetHolder {
    /// The user.
    pub user: UserId,
    /// Their email address.
    pub email: Email,
    /// Their name.
    pub name: tenure_domain::Name,
    /// Their organisation's name.
    pub organisation: tenure_domain::Name,
    /// Their organisation.
    pub organisation_id: OrgId,
}

/// A user's password hash with their details.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PasswordHolder {
    /// Who they are.
    pub person: ResetHolder,
    /// Their password hash, if they have set one.
    pub password_hash: Option<String>,
    /// Consecutive failures, and any lock, as for signing in.
    pub locked_until: Option<Timestamp>,
}

/// Why a password change was refused.
#[derive(Debug, Error)]
pub enum ChangePasswordError {
    /// The current password given is wrong (or the account is locked): it counts as a
    /// failed attempt, like a sign-in.
    #[error("your current password is incorrect")]
    CurrentIncorrect,
    /// Too many password checks at once: nothing was checked or changed; try again.
    #[error("too many people are signing in right now; try again in a minute")]
    Busy,
    /// The new password does not meet the policy.
    #[error(transparent)]
    Password(#[from] tenure_domain::PasswordError),
    /// Something broke.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// How password resets behave.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ResetPolicy {
    /// How long a link lives: 3 hours, as the seed says.
    pub lifetime_ms: i64,
    /// Where links point: the configured public address, never one taken from a request.
    pub base_url: String,
    /// New passwords must satisfy this.
    pub passwords: tenure_domain::PasswordPolicy,
}

impl Default for ResetPolicy {
    fn default() -> Self {
        Self {
            lifetime_ms: 3 * 60 * 60 * 1000,
            base_url: "http://127.0.0.1:3000".to_owned(),
            passwords: tenure_domain::PasswordPolicy::default(),
        }
    }
}

/// Why a reset was refused.
#[derive(Debug, Error)]
pub enum ResetError {
    /// The link is unknown, used, replaced by a newer one, or past its 3 hours.
    #[error("this link has expired or has already been used; request a new one")]
    LinkInvalid,
    /// The new password does not meet the policy; the link still works.
    #[error(transparent)]
    Password(#[from] tenure_domain::PasswordError),
    /// Something broke.
    #[error(transparent)]
    Backend(#[from] BackendError),
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
    /// Too many sign-ins at once: nothing was checked or counted; try again shortly. The
    /// same for every account, so it says nothing about who has one.
    #[error("too many people are signing in right now; try again in a minute")]
    Busy,
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
    resets: Option<Resets>,
    limits: Option<Limits>,
}

/// What resets need beyond sign-in.
#[derive(Clone)]
struct Resets {
    secrets: Arc<dyn Secrets>,
    courier: Courier,
    policy: ResetPolicy,
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
        Self { store, hasher, clock, ids, lockout, resets: None, limits: None }
    }

    /// The same services, able to reset passwords by email (queued for `courier`).
    #[must_use]
    pub fn with_resets(
        mut self,
        secrets: Arc<dyn Secrets>,
        courier: Courier,
        policy: ResetPolicy,
    ) -> Self {
        self.resets = Some(Resets { secrets, courier, policy });
        self
    }

    /// The same services under rate limits: reset emails per account
    /// ([`LimitKind::ResetAccount`]). Without them nothing is limited.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Changes one's own password: the current one is required and checked like a sign-in
    /// (a wrong one counts towards the lockout), and the new one must meet the policy and
    /// not contain the person's details. Audited with the change, in whose transaction
    /// every reset link of the person dies and every session of theirs ends (the caller
    /// starts a fresh one to keep them signed in). When mail is configured, the notice
    /// telling the person (it holds no link) is queued in the same transaction.
    ///
    /// # Errors
    /// [`ChangePasswordError::CurrentIncorrect`] for a wrong current password, an unknown
    /// user or a locked account; [`ChangePasswordError::Password`] for a refused new one.
    pub async fn change_password(
        &self,
        user: UserId,
        current: &str,
        new_password: &str,
        policy: &tenure_domain::PasswordPolicy,
    ) -> Result<(), ChangePasswordError> {
        let now = self.clock.now();
        let Some(holder) = self.store.password_holder(user).await? else {
            if self.check_password(current, None).await == Verified::Unavailable {
                return Err(ChangePasswordError::Busy);
            }
            return Err(ChangePasswordError::CurrentIncorrect);
        };
        let org = Some(holder.person.organisation_id);
        if holder.locked_until.is_some_and(|until| until > now) {
            if self.check_password(current, None).await == Verified::Unavailable {
                return Err(ChangePasswordError::Busy);
            }
            return Err(ChangePasswordError::CurrentIncorrect);
        }
        let verified = self.check_password(current, holder.password_hash.as_deref()).await;
        if verified == Verified::Unavailable {
            return Err(ChangePasswordError::Busy);
        }
        if verified == Verified::NoMatch {
            self.count_failure(now, user, org, FailureReason::WrongCurrentPassword).await?;
            return Err(ChangePasswordError::CurrentIncorrect);
        }
        let context = tenure_domain::PasswordContext {
            email: Some(&holder.person.email),
            name: Some(&holder.person.name),
            organisation: Some(&holder.person.organisation),
        };
        let password = policy.check(new_password, &context)?;
        let hash = self.hasher.hash(&password).await?;
        let event = self.event(
            now,
            AuditName::PasswordChange,
            Outcome::Success,
            Some(user),
            org,
            AuditDetail::Empty,
        );
        let Some(resets) = &self.resets else {
            self.store.set_password(user, hash, event).await?;
            return Ok(());
        };
        let person = holder.person;
        let notice = Notification::PasswordChanged { to: person.email, name: person.name };
        let mail = resets.courier.seal(QueuedMail::new(self.ids.next_id(), now, notice))?;
        let id = mail.id;
        self.store.set_password_with_notice(user, hash, event, mail).await?;
        resets.courier.deliver_now(&[id]).await;
        Ok(())
    }

    /// Checks a signed-in person's password again (re-authentication before a sensitive
    /// change), like a sign-in: a wrong one counts towards the lockout, and a locked
    /// account is refused after a check against the dummy hash, with the same answer.
    ///
    /// # Errors
    /// [`ChangePasswordError::CurrentIncorrect`] for a wrong password, an unknown user or
    /// a locked account; [`ChangePasswordError::Busy`] when the hasher is saturated.
    pub async fn check_password_of(
        &self,
        user: UserId,
        password: &str,
    ) -> Result<(), ChangePasswordError> {
        let now = self.clock.now();
        let holder = self.store.password_holder(user).await?;
        let locked = holder.as_ref().is_some_and(|h| h.locked_until.is_some_and(|u| u > now));
        let stored = holder.as_ref().filter(|_| !locked).and_then(|h| h.password_hash.as_deref());
        match self.check_password(password, stored).await {
            Verified::Unavailable => Err(ChangePasswordError::Busy),
            Verified::Match | Verified::MatchNeedsRehash if stored.is_some() => Ok(()),
            _ => {
                if let (Some(h), false) = (&holder, locked) {
                    let org = Some(h.person.organisation_id);
                    self.count_failure(now, user, org, FailureReason::WrongCurrentPassword).await?;
                }
                Err(ChangePasswordError::CurrentIncorrect)
            }
        }
    }

    /// Asks for a password reset. The answer is the same whatever was typed (unknown,
    /// deactivated, rate-limited or real), so it says nothing about who has an account;
    /// only an active account gets an email, holding a link that works once, for 3 hours,
    /// queued with the link in one transaction.
    ///
    /// # Errors
    /// [`BackendError`] when storage or mail fails, or resets are not configured.
    pub async fn request_reset(&self, email: &str) -> Result<(), BackendError> {
        let resets = self
            .resets
            .as_ref()
            .ok_or_else(|| BackendError::new("password resets are not configured"))?;
        let now = self.clock.now();
        let Ok(email) = Email::parse(email) else { return Ok(()) };
        let Some(record) = self.store.sign_in_record(&email).await? else { return Ok(()) };
        if !record.active {
            return Ok(());
        }
        // Past the account's limit the answer is the same and no email goes.
        if let Some(limits) = &self.limits {
            let key = LimitKey::account(record.user);
            if !limits.hit(LimitKind::ResetAccount, &key).await?.is_allowed() {
                return Ok(());
            }
        }
        let token = resets.secrets.token()?;
        let expires = Timestamp(now.0.saturating_add(resets.policy.lifetime_ms));
        let (user, org) = (Some(record.user), Some(record.organisation));
        let audit = self.event(
            now,
            AuditName::ResetRequest,
            Outcome::Success,
            user,
            org,
            AuditDetail::Empty,
        );
        let url =
            notification::link(&resets.policy.base_url, "/account/reset-password", &token.plain);
        let message = Notification::PasswordReset { to: email, url };
        let mail = resets.courier.seal(QueuedMail::new(self.ids.next_id(), now, message))?;
        let id = mail.id;
        self.store
            .issue_reset_with_mail(record.user, token.digest, now, expires, audit, mail)
            .await?;
        resets.courier.deliver_now(&[id]).await;
        Ok(())
    }

    /// Whether a reset link can still be used, without using it (opening the link shows
    /// a form; only submitting it uses the link, because mail scanners open links).
    ///
    /// # Errors
    /// [`BackendError`] when storage fails or resets are not configured.
    pub async fn reset_link_usable(&self, token: &str) -> Result<bool, BackendError> {
        let resets = self
            .resets
            .as_ref()
            .ok_or_else(|| BackendError::new("password resets are not configured"))?;
        let digest = resets.secrets.digest(token);
        Ok(self.store.reset_holder(&digest, self.clock.now()).await?.is_some())
    }

    /// Sets a new password with a reset link. The link is checked, the password is checked
    /// against the policy and the person's details, and only then is the link used, once,
    /// with the new password, in one transaction. A successful reset also clears any
    /// lockout and ends every session of the person; nobody is signed in by it. The notice
    /// telling the person their password changed (it holds no link) is queued in the same
    /// transaction.
    ///
    /// # Errors
    /// [`ResetError::LinkInvalid`] for an unknown, used, replaced or expired link;
    /// [`ResetError::Password`] for a password the policy refuses (the link still works).
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
    ) -> Result<UserId, ResetError> {
        let resets = self
            .resets
            .as_ref()
            .ok_or_else(|| BackendError::new("password resets are not configured"))?;
        let now = self.clock.now();
        let digest = resets.secrets.digest(token);
        let holder = self.store.reset_holder(&digest, now).await?.ok_or(ResetError::LinkInvalid)?;
        let context = tenure_domain::PasswordContext {
            email: Some(&holder.email),
            name: Some(&holder.name),
            organisation: Some(&holder.organisation),
        };
        let password = resets.policy.passwords.check(new_password, &context)?;
        let hash = self.hasher.hash(&password).await?;
        let (user, org) = (Some(holder.user), Some(holder.organisation_id));
        let audit = self.event(
            now,
            AuditName::ResetComplete,
            Outcome::Success,
            user,
            org,
            AuditDetail::Empty,
        );
        let notice = Notification::PasswordChanged { to: holder.email, name: holder.name };
        let mail = resets.courier.seal(QueuedMail::new(self.ids.next_id(), now, notice))?;
        let id = mail.id;
        if !self.store.consume_reset(&digest, holder.user, now, hash, audit, mail).await? {
            return Err(ResetError::LinkInvalid);
        }
        resets.courier.deliver_now(&[id]).await;
        Ok(holder.user)
    }

    fn event(
        &self,
        at: Timestamp,
        name: AuditName,
        outcome: Outcome,
        user: Option<UserId>,
        org: Option<OrgId>,
        detail: AuditDetail,
    ) -> AuditEvent {
        AuditEvent {
            id: self.ids.next_id(),
            at,
            actor: user,
            name,
            outcome,
            target_user: user,
            organisation: org,
            detail,
            origin: None,
        }
    }

    /// Checks a typed password against a stored hash. Without one (no such account, a
    /// locked or deactivated one, or no password set yet) it checks against the dummy hash
    /// instead, so every path costs exactly one check, and answers no match.
    async fn check_password(&self, password: &str, stored: Option<&str>) -> Verified {
        match stored {
            Some(hash) => self.hasher.verify(password, hash).await,
            None => match self.hasher.verify(password, self.hasher.dummy()).await {
                Verified::Unavailable => Verified::Unavailable,
                _ => Verified::NoMatch,
            },
        }
    }

    /// Counts a wrong password against the user's lockout, with its audit entry and, when it
    /// locks the account, a lock entry.
    async fn count_failure(
        &self,
        now: Timestamp,
        user: UserId,
        org: Option<OrgId>,
        reason: FailureReason,
    ) -> Result<(), BackendError> {
        let until = Timestamp(now.0.saturating_add(self.lockout.lock_for_ms));
        let failure = AuditDetail::SignInFailure(SignInFailure { reason });
        let event =
            self.event(now, AuditName::LoginFail, Outcome::Failure, Some(user), org, failure);
        let lock_detail = AuditDetail::Lock(Lock { until: until.0 });
        let lock =
            self.event(now, AuditName::LoginLock, Outcome::Success, Some(user), org, lock_detail);
        self.store.record_failure(user, self.lockout.lock_after, until, event, lock).await?;
        Ok(())
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
            if self.check_password(password, None).await == Verified::Unavailable {
                return Err(SignInError::Busy);
            }
            let event = self.event(
                now,
                AuditName::LoginFail,
                Outcome::Failure,
                None,
                None,
                AuditDetail::SignInFailure(SignInFailure { reason: FailureReason::UnknownEmail }),
            );
            self.store.append_audit(event).await?;
            return Err(SignInError::Refused);
        };
        let (user, org) = (Some(record.user), Some(record.organisation));
        let refuse_without_counting = |reason| {
            let detail = AuditDetail::SignInFailure(SignInFailure { reason });
            self.event(now, AuditName::LoginFail, Outcome::Failure, user, org, detail)
        };
        if record.locked_until.is_some_and(|until| until > now) {
            if self.check_password(password, None).await == Verified::Unavailable {
                return Err(SignInError::Busy);
            }
            self.store.append_audit(refuse_without_counting(FailureReason::Locked)).await?;
            return Err(SignInError::Refused);
        }
        if !record.active {
            if self.check_password(password, None).await == Verified::Unavailable {
                return Err(SignInError::Busy);
            }
            self.store.append_audit(refuse_without_counting(FailureReason::Deactivated)).await?;
            return Err(SignInError::Refused);
        }
        let verified = self.check_password(password, record.password_hash.as_deref()).await;
        match verified {
            Verified::Unavailable => Err(SignInError::Busy),
            Verified::Match | Verified::MatchNeedsRehash => {
                let rehash = if verified == Verified::MatchNeedsRehash {
                    Some(self.hasher.hash(&NewPassword::verified(password)).await?)
                } else {
                    None
                };
                let event = self.event(
                    now,
                    AuditName::LoginSuccess,
                    Outcome::Success,
                    user,
                    org,
                    AuditDetail::Empty,
                );
                self.store.record_success(record.user, rehash, event).await?;
                Ok(record.user)
            }
            Verified::NoMatch => {
                self.count_failure(now, record.user, org, FailureReason::WrongPassword).await?;
                Err(SignInError::Refused)
            }
        }
    }
}
