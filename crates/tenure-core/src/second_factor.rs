//! Second factors: authenticator-app codes (TOTP, RFC 6238) and recovery codes, the
//! second step of signing in, and removing a lost one.
//!
//! # The pages' API ([`SecondFactors`])
//!
//! | step | call | then |
//! | --- | --- | --- |
//! | password passed ([`crate::Accounts::sign_in`]) | [`SecondFactors::start_session`] | a session at the [`Step`] the engine says: `Done` signed in, `Code` the code page, `SetUp` the set-up page |
//! | set-up page shown | [`SecondFactors::begin_setup`] | the secret as text and an `otpauth://` URI for the QR code; nothing is in force yet |
//! | set-up form sent | [`SecondFactors::confirm_setup`] | the ten recovery codes to show once, and a fresh session token when the session was `MustSetUp` |
//! | code page sent | [`SecondFactors::verify_sign_in`] | a fresh, signed-in session token; a TOTP code or a recovery code |
//! | "not recent" prompt sent | [`SecondFactors::reauthenticate`] | a fresh session token proved now ([`crate::Sessions::is_recent`]) |
//! | "new recovery codes" | [`SecondFactors::replace_recovery_codes`] | a new set, the old one dead |
//! | "remove" on Your account | [`SecondFactors::remove_own`] | removed, unless a role of theirs requires one |
//! | an administrator's "remove" | [`SecondFactors::remove_for`] | removed, their sessions ended, them emailed |
//! | Your account | [`SecondFactors::status`] | set up or not, required or not, recovery codes left |
//!
//! # Rules
//!
//! - Codes: 30-second steps, one step of drift either way, and each code once: the last
//!   step used is stored and a code from it or an earlier step is refused, atomically
//!   (`UPDATE ... WHERE last_step < ?`), so two concurrent uses of one code cannot both
//!   pass (RFC 6238 section 5.2).
//! - Wrong codes count towards the same lockout as wrong passwords (the
//!   [`AccountStore::record_failure`] count); a locked account's codes are refused without
//!   being checked or counted, with the same answer as a wrong one.
//! - Secrets are sealed by the [`Vault`] port (an AEAD whose key comes from the
//!   configuration, never the database) and bound to their user, so a secret copied to
//!   another row does not open.
//! - Recovery codes: see [`recovery`] (120 bits, stored as `Secrets` digests, used once).
//! - Who must have one, and who may remove one, is the engine's
//!   ([`tenure_domain::second_factor`], `user.remove_second_factor`).
//! - Setting up, removing and using a recovery code are audited and emailed; an
//!   administrator's removal ends every session of the person.

pub mod recovery;
pub mod totp;

use std::sync::Arc;

use async_trait::async_trait;
use tenure_domain::second_factor::{self as rules, Demand, Step};
use tenure_domain::{Action, Request, Resource, UserId};
use thiserror::Error;
use uuid::Uuid;

use crate::accounts::{AccountStore, LockoutPolicy, PasswordHolder};
use crate::audit::{
    AuditDetail, AuditEvent, AuditName, FailureReason, Lock, Outcome, SessionsEnd, SignInFailure,
};
use crate::changes::ChangeStore;
use crate::courier::{Courier, QueuedMail};
use crate::error::BackendError;
use crate::limits::{LimitKey, LimitKind, Limits};
use crate::notification::{ChangedBy, Notification, SecondFactorChange};
use crate::ports::{Clock, Directory, IdGen, Secrets, Timestamp};
use crate::sessions::{Live, SessionStage, Sessions};
use crate::usecase::{Base, FieldError, ManageError, StateError};

pub use totp::Totp;

/// Randomness and sealing under a key from the configuration: the key never reaches the
/// database, so a copy of the database alone does not give away anyone's secret.
pub trait Vault: Send + Sync + 'static {
    /// Fills `buf` from the operating system's generator.
    ///
    /// # Errors
    /// [`BackendError`] when the generator fails.
    fn fill_random(&self, buf: &mut [u8]) -> Result<(), BackendError>;

    /// Encrypts and authenticates `plain`, bound to `context` (the same context is needed
    /// to open it).
    ///
    /// # Errors
    /// [`BackendError`] when randomness fails.
    fn seal(&self, plain: &[u8], context: &[u8]) -> Result<Vec<u8>, BackendError>;

    /// Opens what [`Vault::seal`] made with the same key and context.
    ///
    /// # Errors
    /// [`BackendError`] for another key, another context, or altered bytes.
    fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, BackendError>;
}

/// A user's authenticator app as stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Enrolment {
    /// The secret, sealed by the [`Vault`] with the user's id as context.
    pub sealed_secret: Vec<u8>,
    /// When set-up was confirmed with a code; `None` while it is being set up (not in
    /// force: signing in does not ask for it).
    pub confirmed: Option<Timestamp>,
    /// The last step whose code was accepted; codes from it or earlier are refused.
    pub last_step: Option<i64>,
}

/// Storage for second factors. Each method is one transaction, with its audit entries.
#[allow(
    clippy::too_many_arguments,
    reason = "confirming is one transaction: every input it writes, named"
)]
#[async_trait]
pub trait SecondFactorStore: Send + Sync + 'static {
    /// The user's authenticator app, confirmed or being set up.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn second_factor(&self, user: UserId) -> Result<Option<Enrolment>, BackendError>;

    /// Stores a secret being set up, replacing one being set up before; returns `false`
    /// (and changes nothing) when the user has a confirmed one.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures (an unknown user included).
    async fn begin_enrolment(
        &self,
        user: UserId,
        sealed_secret: Vec<u8>,
        now: Timestamp,
    ) -> Result<bool, BackendError>;

    /// Confirms the secret being set up, only if it is still `sealed_secret` and
    /// unconfirmed: marks it confirmed at `now` with `step` as its last used step,
    /// replaces the user's recovery codes with `recovery_digests`, appends `audit`, and
    /// queues `mail` (the notice) if given.
    /// Of concurrent confirmations exactly one returns `true`.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures; nothing is kept then.
    async fn confirm_enrolment(
        &self,
        user: UserId,
        sealed_secret: &[u8],
        step: i64,
        now: Timestamp,
        recovery_digests: Vec<String>,
        audit: AuditEvent,
        mail: Option<QueuedMail>,
    ) -> Result<bool, BackendError>;

    /// Records that the code of `step` was used, only if the user's confirmed secret has
    /// no later or equal step used (`last_step < step`), with `audit`; `false` (nothing
    /// written) for a replay. Of concurrent uses of one step exactly one returns `true`.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures; nothing is kept then.
    async fn use_step(
        &self,
        user: UserId,
        step: i64,
        audit: AuditEvent,
    ) -> Result<bool, BackendError>;

    /// Uses a recovery code once: marks the user's unused code with this digest used at
    /// `now`, with `audit`, and returns how many unused ones are left; `None` (nothing
    /// written) when there is no such unused code.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures; nothing is kept then.
    async fn use_recovery_code(
        &self,
        user: UserId,
        digest: &str,
        now: Timestamp,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<Option<u32>, BackendError>;

    /// Replaces the user's recovery codes, used or not, with `digests`, with `audit`;
    /// `false` (nothing written) when they have no confirmed secret.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures; nothing is kept then.
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        digests: Vec<String>,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<bool, BackendError>;

    /// How many of the user's recovery codes are unused.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn recovery_codes_left(&self, user: UserId) -> Result<u32, BackendError>;

    /// Removes the user's secret (confirmed or not) and recovery codes, and ends every
    /// session of theirs but `keep` (the digest of the one in use, if any), with `audit`
    /// and `sessions_audit`; `false` (nothing written) when they had no secret.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures; nothing is kept then.
    async fn remove_second_factor(
        &self,
        user: UserId,
        keep: Option<&str>,
        audit: AuditEvent,
        sessions_audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<bool, BackendError>;
}

/// What Your account shows about a person's second factor.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Status {
    /// Whether an authenticator app is set up (confirmed).
    pub set_up: bool,
    /// Whether a role of theirs requires one (and which).
    pub demand: Demand,
    /// How many unused recovery codes they have.
    pub recovery_codes_left: u32,
}

impl Status {
    /// Whether they may remove their own (set up, and no role requires one).
    pub const fn may_remove(&self) -> bool {
        self.set_up && !self.demand.is_required()
    }
}

/// A secret being set up, for the set-up page.
#[derive(Clone, PartialEq, Eq)]
pub struct SetupStart {
    /// The secret as people type it into an app: base32, no padding.
    pub secret: String,
    /// The `otpauth://totp/...` URI a QR code holds (issuer, account, secret, SHA-1, six
    /// digits, 30 seconds).
    pub uri: String,
}

impl std::fmt::Debug for SetupStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetupStart(..)")
    }
}

/// Ten recovery codes, shown once: only their digests are kept.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCodes(pub Vec<String>);

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodes({} codes)", self.0.len())
    }
}

/// A finished set-up.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SetupDone {
    /// The recovery codes to show, once.
    pub recovery_codes: RecoveryCodes,
    /// A fresh session token when the session was waiting for this set-up (it is signed
    /// in now, under a new id); `None` when it was signed in already.
    pub token: Option<String>,
}

/// Why a code (at sign-in, re-authentication, or to change the second factor) was
/// refused. One answer for every reason, so a guesser learns nothing.
#[derive(Debug, Error)]
pub enum CodeError {
    /// Wrong, used already, from outside the window, a locked account, no second factor,
    /// or a session not waiting for one: all the same to the caller.
    #[error(
        "enter the 6-digit code from your authenticator app, or one of your recovery codes; the code you entered is not right"
    )]
    Incorrect,
    /// A change to one's second factor more than 15 minutes after signing in (or proving
    /// it again): nothing was checked or changed; confirm it is you first.
    #[error("confirm it is you first: you signed in more than 15 minutes ago")]
    NotRecent,
    /// Too many codes tried for this account lately
    /// ([`LimitKind::SecondFactorAccount`], wherever they came from): nothing was checked
    /// or counted, not even a right code.
    #[error("too many security codes were tried; try again in {retry_after_secs} seconds")]
    TooMany {
        /// Seconds until a code may be tried again.
        retry_after_secs: u64,
    },
    /// Something broke.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Why a set-up was refused.
#[derive(Debug, Error)]
pub enum SetupError {
    /// An authenticator app is set up already: remove it first to set up another.
    #[error("you already have an authenticator app set up; remove it first to set up another")]
    AlreadySetUp,
    /// No set-up was started (or it was replaced by a newer one): start again.
    #[error("start setting up your authenticator app again: this set-up is no longer open")]
    NotStarted,
    /// The code does not match the secret being set up.
    #[error(
        "enter the 6-digit code your authenticator app shows for Tenure; the code you entered is not right"
    )]
    Incorrect,
    /// Setting one up from a session signed in more than 15 minutes ago: confirm it is
    /// you first.
    #[error("confirm it is you first: you signed in more than 15 minutes ago")]
    NotRecent,
    /// Something broke.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "Tenure";

/// What the second-factor service stands on.
#[derive(Clone)]
pub struct SecondFactorPorts {
    /// Secrets and recovery codes.
    pub store: Arc<dyn SecondFactorStore>,
    /// The lockout count and the person's details.
    pub accounts: Arc<dyn AccountStore>,
    /// Snapshots for the engine.
    pub directory: Arc<dyn Directory>,
    /// Refusals' audit entries.
    pub changes: Arc<dyn ChangeStore>,
    /// Sealing and randomness.
    pub vault: Arc<dyn Vault>,
    /// Recovery code digests.
    pub secrets: Arc<dyn Secrets>,
    /// Notices, queued with the change that tells of them.
    pub courier: Courier,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Audit entry ids.
    pub ids: Arc<dyn IdGen>,
}

impl std::fmt::Debug for SecondFactorPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorPorts").finish_non_exhaustive()
    }
}

/// The second-factor service. See the module docs for the pages' API.
#[derive(Clone)]
pub struct SecondFactors {
    ports: SecondFactorPorts,
    sessions: Sessions,
    lockout: LockoutPolicy,
    base: Base,
    limits: Option<Limits>,
}

impl std::fmt::Debug for SecondFactors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactors").field("lockout", &self.lockout).finish_non_exhaustive()
    }
}

impl SecondFactors {
    /// The service over these ports, moving sessions on with `sessions`, counting wrong
    /// codes under `lockout` (the same policy as passwords).
    pub fn new(ports: SecondFactorPorts, sessions: Sessions, lockout: LockoutPolicy) -> Self {
        let base = Base {
            changes: ports.changes.clone(),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
        };
        Self { ports, sessions, lockout, base, limits: None }
    }

    /// The same service under the per-account limit on codes tried
    /// ([`LimitKind::SecondFactorAccount`]), which every code check hits first (signing
    /// in, confirming it is you, new recovery codes, removing one's own): a right
    /// password clears the lockout count, so this is what caps guessing codes. Without
    /// it nothing is limited.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    fn event(
        &self,
        name: AuditName,
        actor: UserId,
        target: UserId,
        detail: AuditDetail,
    ) -> AuditEvent {
        self.base.event(name, Some(actor), Some(target), None, detail)
    }

    async fn holder(&self, user: UserId) -> Result<PasswordHolder, BackendError> {
        self.ports
            .accounts
            .password_holder(user)
            .await?
            .ok_or_else(|| BackendError::new(format!("user `{user}` has no account")))
    }

    async fn demand(&self, user: UserId) -> Result<Demand, BackendError> {
        let world = self.ports.directory.snapshot(user, Resource::User(user)).await?;
        Ok(rules::demand(&world, user))
    }

    async fn confirmed(&self, user: UserId) -> Result<Option<Enrolment>, BackendError> {
        Ok(self.ports.store.second_factor(user).await?.filter(|e| e.confirmed.is_some()))
    }

    fn notice(
        &self,
        holder: PasswordHolder,
        change: SecondFactorChange,
    ) -> Result<QueuedMail, BackendError> {
        let person = holder.person;
        let notice =
            Notification::SecondFactorChanged { to: person.email, name: person.name, change };
        self.ports.courier.seal(QueuedMail::new(self.ports.ids.next_id(), self.base.now(), notice))
    }

    async fn deliver(&self, mail: Uuid) {
        self.ports.courier.deliver_now(&[mail]).await;
    }

    /// Whether the person has an authenticator app set up, whether a role of theirs
    /// requires one, and how many recovery codes they have left.
    ///
    /// # Errors
    /// [`BackendError`] when storage fails.
    pub async fn status(&self, user: UserId) -> Result<Status, BackendError> {
        let set_up = self.confirmed(user).await?.is_some();
        let recovery_codes_left =
            if set_up { self.ports.store.recovery_codes_left(user).await? } else { 0 };
        Ok(Status { set_up, demand: self.demand(user).await?, recovery_codes_left })
    }

    /// Starts the session of someone whose password just passed, at the stage the engine
    /// says ([`tenure_domain::second_factor::next_step`]): signed in, waiting for a code,
    /// or waiting for a set-up. Returns the cookie's token and the step, which says which
    /// page comes next.
    ///
    /// # Errors
    /// [`BackendError`] when storage or randomness fails.
    pub async fn start_session(&self, user: UserId) -> Result<(String, Step), BackendError> {
        let set_up = self.confirmed(user).await?.is_some();
        let step = rules::next_step(self.demand(user).await?, set_up);
        let stage = match step {
            Step::Done => SessionStage::SignedIn,
            Step::Code => SessionStage::AwaitingCode,
            Step::SetUp(_) => SessionStage::MustSetUp,
        };
        Ok((self.sessions.start_at(user, stage).await?, step))
    }

    /// Starts setting up an authenticator app: a fresh 160-bit secret, sealed and stored
    /// as not yet in force (replacing one being set up before). Returns the secret and the
    /// URI for the page's QR code.
    ///
    /// # Errors
    /// [`SetupError::AlreadySetUp`] when one is set up already.
    pub async fn begin_setup(&self, user: UserId) -> Result<SetupStart, SetupError> {
        let holder = self.holder(user).await?;
        let mut secret = [0u8; totp::SECRET_BYTES];
        self.ports.vault.fill_random(&mut secret)?;
        let sealed = self.ports.vault.seal(&secret, user.to_string().as_bytes())?;
        if !self.ports.store.begin_enrolment(user, sealed, self.base.now()).await? {
            return Err(SetupError::AlreadySetUp);
        }
        let encoded = totp::encode_secret(&secret);
        let account = holder.person.email.to_string();
        let uri = format!(
            "otpauth://totp/{issuer}:{account}?secret={encoded}&issuer={issuer}&algorithm=SHA1&digits={digits}&period={period}",
            issuer = ISSUER,
            account = percent_encode(&account),
            digits = totp::DIGITS,
            period = totp::STEP_SECONDS,
        );
        Ok(SetupStart { secret: encoded, uri })
    }

    /// Finishes setting up: the code must match the secret being set up (one step of
    /// drift either way). Makes ten recovery codes, audits, emails the person, and, when
    /// the session was waiting for this set-up, moves it on to signed in under a fresh id.
    /// The code's step counts as used.
    ///
    /// # Errors
    /// [`SetupError::Incorrect`] for a wrong code (not counted towards the lockout: it
    /// opens nothing), [`SetupError::NotStarted`] when no set-up is open,
    /// [`SetupError::AlreadySetUp`] when one is in force, [`SetupError::NotRecent`] for a
    /// signed-in session whose holder last proved who they are over 15 minutes ago.
    pub async fn confirm_setup(&self, live: &Live, code: &str) -> Result<SetupDone, SetupError> {
        // A change to one's second factor needs a recent sign-in; a session waiting for
        // this set-up has just proved its password.
        if live.stage.is_signed_in() && !self.sessions.is_recent(live) {
            return Err(SetupError::NotRecent);
        }
        let user = live.user;
        let enrolment =
            self.ports.store.second_factor(user).await?.ok_or(SetupError::NotStarted)?;
        if enrolment.confirmed.is_some() {
            return Err(SetupError::AlreadySetUp);
        }
        let secret =
            self.ports.vault.open(&enrolment.sealed_secret, user.to_string().as_bytes())?;
        let totp = Totp::new(&secret).map_err(BackendError::new)?;
        let now = self.base.now();
        let step = totp::normalise_code(code)
            .and_then(|c| totp.matching_step(&c, now))
            .ok_or(SetupError::Incorrect)?;
        let (codes, digests) = self.fresh_recovery_codes()?;
        let audit = self.event(AuditName::SecondFactorSetUp, user, user, AuditDetail::Empty);
        let mail = self.notice(self.holder(user).await?, SecondFactorChange::SetUp)?;
        let id = mail.id;
        let sealed = &enrolment.sealed_secret;
        let store = &self.ports.store;
        if !store.confirm_enrolment(user, sealed, step, now, digests, audit, Some(mail)).await? {
            return Err(SetupError::NotStarted);
        }
        self.deliver(id).await;
        let token = if live.stage.is_signed_in() {
            None
        } else {
            Some(self.sessions.advance(live, SessionStage::SignedIn).await?)
        };
        Ok(SetupDone { recovery_codes: codes, token })
    }

    fn fresh_recovery_codes(&self) -> Result<(RecoveryCodes, Vec<String>), BackendError> {
        let mut codes = Vec::with_capacity(recovery::CODES);
        let mut digests = Vec::with_capacity(recovery::CODES);
        for _ in 0..recovery::CODES {
            let mut bytes = [0u8; recovery::CODE_BYTES];
            self.ports.vault.fill_random(&mut bytes)?;
            let code = recovery::encode(&bytes);
            digests.push(self.ports.secrets.digest(&code.replace('-', "")));
            codes.push(code);
        }
        Ok((RecoveryCodes(codes), digests))
    }

    /// Checks a code for `user` against their confirmed authenticator app (six digits)
    /// or their recovery codes (24 characters), using it once. Every code check goes
    /// through here, and the per-account limit is hit first: past it nothing is checked
    /// or counted ([`CodeError::TooMany`]). A wrong one counts towards the lockout; while
    /// locked nothing is checked or counted.
    async fn check_code(&self, user: UserId, typed: &str) -> Result<(), CodeError> {
        if let Some(limits) = &self.limits {
            let verdict =
                limits.hit(LimitKind::SecondFactorAccount, &LimitKey::account(user)).await?;
            if !verdict.is_allowed() {
                return Err(CodeError::TooMany { retry_after_secs: verdict.retry_after_secs() });
            }
        }
        let now = self.base.now();
        let holder = self.holder(user).await?;
        let Some(enrolment) = self.confirmed(user).await? else {
            return Err(CodeError::Incorrect);
        };
        if holder.locked_until.is_some_and(|until| until > now) {
            return Err(CodeError::Incorrect);
        }
        let org = Some(holder.person.organisation_id);
        if let Some(code) = totp::normalise_code(typed) {
            let secret =
                self.ports.vault.open(&enrolment.sealed_secret, user.to_string().as_bytes())?;
            let totp = Totp::new(&secret).map_err(BackendError::new)?;
            if let Some(step) = totp.matching_step(&code, now) {
                let audit = self.event(AuditName::SecondFactorPass, user, user, AuditDetail::Empty);
                if self.ports.store.use_step(user, step, audit).await? {
                    self.clear_failures(user, org).await?;
                    return Ok(());
                }
            }
        } else if let Some(code) = recovery::normalise(typed) {
            let digest = self.ports.secrets.digest(&code);
            let audit = self.event(AuditName::RecoveryCodeUse, user, user, AuditDetail::Empty);
            // The count the notice gives is read before the use (a concurrent use of
            // another code can make it one high: it is only a figure in an email).
            let left = self.ports.store.recovery_codes_left(user).await?.saturating_sub(1);
            let mail = self.notice(holder, SecondFactorChange::RecoveryCodeUsed { left })?;
            let id = mail.id;
            let store = &self.ports.store;
            if store.use_recovery_code(user, &digest, now, audit, mail).await?.is_some() {
                self.clear_failures(user, org).await?;
                self.deliver(id).await;
                return Ok(());
            }
        }
        self.count_failure(user, org, now).await?;
        Err(CodeError::Incorrect)
    }

    async fn clear_failures(
        &self,
        user: UserId,
        org: Option<tenure_domain::OrgId>,
    ) -> Result<(), BackendError> {
        let mut audit = self.event(AuditName::LoginSuccess, user, user, AuditDetail::Empty);
        audit.organisation = org;
        self.ports.accounts.record_success(user, None, audit).await
    }

    async fn count_failure(
        &self,
        user: UserId,
        org: Option<tenure_domain::OrgId>,
        now: Timestamp,
    ) -> Result<(), BackendError> {
        let until = Timestamp(now.0.saturating_add(self.lockout.lock_for_ms));
        let failure =
            AuditDetail::SignInFailure(SignInFailure { reason: FailureReason::WrongCode });
        let mut event = self.base.event(AuditName::LoginFail, Some(user), Some(user), org, failure);
        event.outcome = Outcome::Failure;
        let lock = self.base.event(
            AuditName::LoginLock,
            Some(user),
            Some(user),
            org,
            AuditDetail::Lock(Lock { until: until.0 }),
        );
        self.ports
            .accounts
            .record_failure(user, self.lockout.lock_after, until, event, lock)
            .await?;
        Ok(())
    }

    /// The second step of signing in: a code from the authenticator app or a recovery
    /// code, for a session waiting for one. On success the session is signed in under a
    /// fresh id (the token returned); the failure count is cleared. Using a recovery code
    /// is audited and emailed.
    ///
    /// # Errors
    /// [`CodeError::Incorrect`] for a wrong, replayed or out-of-window code, a locked
    /// account, or a session not waiting for a code (a wrong code counts towards the
    /// lockout shared with passwords).
    pub async fn verify_sign_in(&self, live: &Live, code: &str) -> Result<String, CodeError> {
        if live.stage != SessionStage::AwaitingCode {
            return Err(CodeError::Incorrect);
        }
        self.check_code(live.user, code).await?;
        Ok(self.sessions.advance(live, SessionStage::SignedIn).await?)
    }

    /// Proves again who the holder of a signed-in session is, for a sensitive change
    /// after [`crate::Sessions::is_recent`] said no: `password` is checked like a sign-in
    /// (a wrong one counts towards the lockout), and `code` too when they have a second
    /// factor. Returns a fresh session token, proved now.
    ///
    /// # Errors
    /// [`CodeError::Incorrect`] for a wrong password or code, a missing code when one is
    /// set up, or a session not signed in: one answer for all.
    pub async fn reauthenticate(
        &self,
        live: &Live,
        accounts: &crate::Accounts,
        password: &str,
        code: Option<&str>,
    ) -> Result<String, CodeError> {
        if !live.stage.is_signed_in() {
            return Err(CodeError::Incorrect);
        }
        accounts.check_password_of(live.user, password).await.map_err(|e| match e {
            crate::accounts::ChangePasswordError::Backend(e) => CodeError::Backend(e),
            _ => CodeError::Incorrect,
        })?;
        if self.confirmed(live.user).await?.is_some() {
            self.check_code(live.user, code.ok_or(CodeError::Incorrect)?).await?;
        }
        Ok(self.sessions.advance(live, SessionStage::SignedIn).await?)
    }

    /// Makes a new set of ten recovery codes, the old set no longer working, for a
    /// signed-in person who proves it with a current code (or a recovery code). Audited
    /// and emailed.
    ///
    /// # Errors
    /// [`CodeError::Incorrect`] for a wrong code or no second factor,
    /// [`CodeError::NotRecent`] (nothing checked) when the holder last proved who they are
    /// over 15 minutes ago.
    pub async fn replace_recovery_codes(
        &self,
        live: &Live,
        code: &str,
    ) -> Result<RecoveryCodes, CodeError> {
        if !live.stage.is_signed_in() {
            return Err(CodeError::Incorrect);
        }
        if !self.sessions.is_recent(live) {
            return Err(CodeError::NotRecent);
        }
        let user = live.user;
        self.check_code(user, code).await?;
        let (codes, digests) = self.fresh_recovery_codes()?;
        let audit = self.event(AuditName::RecoveryCodesReplace, user, user, AuditDetail::Empty);
        let mail =
            self.notice(self.holder(user).await?, SecondFactorChange::RecoveryCodesReplaced)?;
        let id = mail.id;
        if !self.ports.store.replace_recovery_codes(user, digests, audit, mail).await? {
            return Err(CodeError::Incorrect);
        }
        self.deliver(id).await;
        Ok(codes)
    }

    /// Removes one's own second factor with a current code or a recovery code, if the
    /// engine allows it (`user.remove_second_factor` on oneself: refused while a role of
    /// theirs requires one). Their other sessions end; audited and emailed.
    ///
    /// # Errors
    /// [`ManageError::Forbidden`] with [`tenure_domain::DenyReason::SecondFactorRequired`]
    /// when a role requires one; [`ManageError::Invalid`] on the `code` field for a wrong
    /// code (counted towards the lockout) or when none is set up;
    /// [`ManageError::State`] with [`StateError::SignInNotRecent`] (nothing checked) when
    /// the holder last proved who they are over 15 minutes ago.
    pub async fn remove_own(&self, live: &Live, code: &str) -> Result<(), ManageError> {
        let user = live.user;
        let world = self.ports.directory.snapshot(user, Resource::User(user)).await?;
        self.base
            .require(
                &world,
                Request::new(user, Action::UserRemoveSecondFactor, Resource::User(user)),
            )
            .await?;
        if !self.sessions.is_recent(live) {
            return Err(ManageError::State(StateError::SignInNotRecent));
        }
        match self.check_code(user, code).await {
            Ok(()) => {}
            Err(CodeError::TooMany { retry_after_secs }) => {
                return Err(ManageError::TooMany { retry_after_secs });
            }
            Err(CodeError::Incorrect | CodeError::NotRecent) => {
                return Err(ManageError::Invalid(vec![FieldError {
                    field: "code",
                    message: CodeError::Incorrect.to_string(),
                }]));
            }
            Err(CodeError::Backend(e)) => return Err(e.into()),
        }
        self.remove(user, user, Some(&live.digest), ChangedBy::Themselves).await?;
        Ok(())
    }

    /// An administrator removes someone's second factor (a lost device), if the engine
    /// allows it (`user.remove_second_factor` on them). Every session of the person ends;
    /// audited (the administrator as actor) and the person emailed. Returns `false` when
    /// they had none (nothing changed, nobody emailed).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for someone the actor may not see;
    /// [`ManageError::Forbidden`] with the engine's reason otherwise.
    pub async fn remove_for(&self, actor: UserId, target: UserId) -> Result<bool, ManageError> {
        let world = self.ports.directory.snapshot(actor, Resource::User(target)).await?;
        self.base
            .require(
                &world,
                Request::new(actor, Action::UserRemoveSecondFactor, Resource::User(target)),
            )
            .await?;
        // Permission first, then state: whether they have one is told only to those who
        // may remove it. A set-up left half-way is nothing to remove (removing it would
        // sign them out for nothing).
        if self.confirmed(target).await?.is_none() {
            return Ok(false);
        }
        let by = if actor == target {
            ChangedBy::Themselves
        } else {
            ChangedBy::Other(world.user(actor).map(|u| u.name.clone()))
        };
        Ok(self.remove(actor, target, None, by).await?)
    }

    async fn remove(
        &self,
        actor: UserId,
        target: UserId,
        keep: Option<&str>,
        by: ChangedBy,
    ) -> Result<bool, BackendError> {
        let holder = self.holder(target).await?;
        let audit = self.event(AuditName::SecondFactorRemove, actor, target, AuditDetail::Empty);
        let sessions = self.event(
            AuditName::SessionRevoke,
            actor,
            target,
            AuditDetail::SessionsEnd(SessionsEnd { all: keep.is_none() }),
        );
        let mail = self.notice(holder, SecondFactorChange::Removed { by })?;
        let id = mail.id;
        if !self.ports.store.remove_second_factor(target, keep, audit, sessions, mail).await? {
            return Ok(false);
        }
        self.deliver(id).await;
        Ok(true)
    }

    /// Sets up an authenticator app with a given secret at once, with no code and no
    /// notice, for seeding (`serve --demo`, tests); returns its recovery codes. Never
    /// reachable from a page.
    ///
    /// # Errors
    /// [`BackendError`] when storage or sealing fails, or one is set up already.
    pub async fn enrol_with_secret(
        &self,
        user: UserId,
        secret: &[u8],
    ) -> Result<RecoveryCodes, BackendError> {
        Totp::new(secret).map_err(BackendError::new)?;
        let sealed = self.ports.vault.seal(secret, user.to_string().as_bytes())?;
        let now = self.base.now();
        if !self.ports.store.begin_enrolment(user, sealed.clone(), now).await? {
            return Err(BackendError::new("an authenticator app is set up already"));
        }
        let (codes, digests) = self.fresh_recovery_codes()?;
        let audit = self.event(AuditName::SecondFactorSetUp, user, user, AuditDetail::Empty);
        let step = Totp::step_at(now).unwrap_or(0).saturating_sub(totp::DRIFT_STEPS + 1);
        self.ports.store.confirm_enrolment(user, &sealed, step, now, digests, audit, None).await?;
        Ok(codes)
    }

    /// The code a person's authenticator app shows now, for `tenure demo code` (it needs
    /// the key, so only whoever runs the service can ask); `None` when none is set up.
    ///
    /// # Errors
    /// [`BackendError`] when storage fails or the secret does not open with this key.
    pub async fn current_code(&self, user: UserId) -> Result<Option<String>, BackendError> {
        let Some(enrolment) = self.confirmed(user).await? else { return Ok(None) };
        let secret =
            self.ports.vault.open(&enrolment.sealed_secret, user.to_string().as_bytes())?;
        let totp = Totp::new(&secret).map_err(BackendError::new)?;
        Ok(totp.code_at(self.base.now()))
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
