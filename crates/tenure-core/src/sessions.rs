//! Signed-in sessions: a random token in a cookie, stored only as its digest, with a
//! fresh id at every sign-in, idle and absolute timeouts, and a CSRF token of its own.
//! Ending sessions (sign out, sign out everywhere, password change, reset,
//! deactivation) deletes their rows, so an old cookie stops working at once.
//!
//! A session has a [`SessionStage`]: a person whose password passed but who has a second
//! factor holds an `AwaitingCode` session, and one whose role requires a second factor
//! they have not set up holds a `MustSetUp` one; neither is signed in, and apps let them
//! reach only the code or set-up pages and signing out. [`Sessions::advance`] moves a
//! session on under a fresh id. The session also records when its holder last proved who
//! they are (a password or a code): [`Sessions::is_recent`] says whether that was within
//! [`RECENT_SIGN_IN_MS`], which sensitive changes ask for.

use std::sync::Arc;

use async_trait::async_trait;
use tenure_domain::{UserId, World};

use crate::audit::{AuditDetail, AuditEvent, AuditName, Outcome, SessionsEnd};
use crate::error::BackendError;
use crate::ports::{Clock, IdGen, Secrets, Timestamp};

/// How far a session has come through signing in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum SessionStage {
    /// Signed in: the password, and the code when the person has a second factor.
    #[default]
    SignedIn,
    /// The password passed; a code from their authenticator app (or a recovery code) is
    /// next. Not signed in.
    AwaitingCode,
    /// The password passed; a role of theirs requires a second factor they have not set
    /// up, so setting one up is next. Not signed in.
    MustSetUp,
}

impl SessionStage {
    /// The number stores keep.
    pub const fn code(self) -> i16 {
        match self {
            Self::SignedIn => 0,
            Self::AwaitingCode => 1,
            Self::MustSetUp => 2,
        }
    }

    /// The stage from its stored number; an unknown number is `AwaitingCode`, which lets
    /// nothing through but the code page (deny by default).
    pub const fn from_code(code: i16) -> Self {
        match code {
            0 => Self::SignedIn,
            2 => Self::MustSetUp,
            _ => Self::AwaitingCode,
        }
    }

    /// Whether the session is signed in.
    pub const fn is_signed_in(self) -> bool {
        matches!(self, Self::SignedIn)
    }
}

/// How long a sign-in (or a code) counts as recent for sensitive changes: 15 minutes.
pub const RECENT_SIGN_IN_MS: i64 = 15 * 60 * 1000;

/// A stored session.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SessionRecord {
    /// Whose.
    pub user: UserId,
    /// The token forms must carry back (compared in constant time).
    pub csrf: String,
    /// When it started: the absolute timeout counts from here.
    pub created: Timestamp,
    /// When it was last used: the idle timeout counts from here.
    pub last_seen: Timestamp,
    /// How far through signing in it is.
    pub stage: SessionStage,
    /// When its holder last proved who they are (a password or a code).
    pub proved_at: Timestamp,
}

/// Storage for sessions, keyed by the digest of the cookie's token.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session, with its audit entry.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn create_session(
        &self,
        digest: &str,
        record: SessionRecord,
        audit: AuditEvent,
    ) -> Result<(), BackendError>;

    /// The session with this digest.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn session(&self, digest: &str) -> Result<Option<SessionRecord>, BackendError>;

    /// The session with this digest together with the snapshot
    /// `Directory::snapshot(user, Resource::Service)` gives for its user, read at once:
    /// every signed-in request needs both, and one read is one round trip. A session
    /// whose user no longer exists is no session (`None`).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn session_with_snapshot(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, World)>, BackendError>;

    /// Records that the session was used now.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn touch_session(&self, digest: &str, now: Timestamp) -> Result<(), BackendError>;

    /// Ends one session.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn end_session(&self, digest: &str) -> Result<(), BackendError>;

    /// Ends every session of a user but `except` (the digest of the one in use, if any),
    /// with an audit entry; returns how many ended.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn end_sessions(
        &self,
        user: UserId,
        except: Option<&str>,
        audit: AuditEvent,
    ) -> Result<u64, BackendError>;
}

/// How long sessions live.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SessionPolicy {
    /// Ends after this long unused (30 minutes; ASVS level 2 asks for at most 30).
    pub idle_ms: i64,
    /// Ends this long after signing in, however busy (12 hours).
    pub absolute_ms: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { idle_ms: 30 * 60 * 1000, absolute_ms: 12 * 60 * 60 * 1000 }
    }
}

/// A live session, as a request sees it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Live {
    /// Whose.
    pub user: UserId,
    /// The digest of its token (to end it, or to keep it when ending the others).
    pub digest: String,
    /// Its CSRF token.
    pub csrf: String,
    /// How far through signing in it is: only `SignedIn` is signed in.
    pub stage: SessionStage,
    /// When it started (a session moved on keeps it, so the absolute timeout holds).
    pub created: Timestamp,
    /// When its holder last proved who they are (a password or a code).
    pub proved_at: Timestamp,
}

/// The session service.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    secrets: Arc<dyn Secrets>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    policy: SessionPolicy,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl Sessions {
    /// The service over these ports.
    pub fn new(
        store: Arc<dyn SessionStore>,
        secrets: Arc<dyn Secrets>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
        policy: SessionPolicy,
    ) -> Self {
        Self { store, secrets, clock, ids, policy }
    }

    fn event(&self, name: AuditName, user: UserId, detail: AuditDetail) -> AuditEvent {
        AuditEvent {
            id: self.ids.next_id(),
            at: self.clock.now(),
            actor: Some(user),
            name,
            outcome: Outcome::Success,
            target_user: Some(user),
            organisation: None,
            detail,
            origin: None,
        }
    }

    /// Starts a session with a fresh token (never one the browser already had); returns
    /// the token for the cookie.
    ///
    /// # Errors
    /// [`BackendError`] when storage or randomness fails.
    pub async fn start(&self, user: UserId) -> Result<String, BackendError> {
        self.start_at(user, SessionStage::SignedIn).await
    }

    /// Starts a session at a stage, right after the password passed (see
    /// `SecondFactors::start_session`, which picks the stage from the engine); returns
    /// the token for the cookie.
    ///
    /// # Errors
    /// [`BackendError`] when storage or randomness fails.
    pub async fn start_at(
        &self,
        user: UserId,
        stage: SessionStage,
    ) -> Result<String, BackendError> {
        let now = self.clock.now();
        self.create(user, stage, now, now).await
    }

    async fn create(
        &self,
        user: UserId,
        stage: SessionStage,
        created: Timestamp,
        now: Timestamp,
    ) -> Result<String, BackendError> {
        let token = self.secrets.token()?;
        let csrf = self.secrets.token()?.plain;
        let record = SessionRecord { user, csrf, created, last_seen: now, stage, proved_at: now };
        let audit = self.event(AuditName::SessionCreate, user, AuditDetail::Empty);
        self.store.create_session(&token.digest, record, audit).await?;
        Ok(token.plain)
    }

    /// Moves a session on to `stage` after its holder proved who they are again (a code
    /// passed, a second factor set up, a password re-entered): a fresh id and CSRF token,
    /// the same start (the absolute timeout holds), proved now; the old id stops working.
    /// Returns the new token for the cookie.
    ///
    /// # Errors
    /// [`BackendError`] when storage or randomness fails.
    pub async fn advance(&self, live: &Live, stage: SessionStage) -> Result<String, BackendError> {
        let token = self.create(live.user, stage, live.created, self.clock.now()).await?;
        self.store.end_session(&live.digest).await?;
        Ok(token)
    }

    /// Whether the session is signed in and its holder proved who they are within the
    /// last [`RECENT_SIGN_IN_MS`] (changing one's email, password or second factor, and
    /// an administrator's deactivation or merge of an organisation, ask for this; if not,
    /// the page asks for the password, and code, again).
    pub fn is_recent(&self, live: &Live) -> bool {
        live.stage.is_signed_in() && self.clock.now().0 - live.proved_at.0 < RECENT_SIGN_IN_MS
    }

    /// A fresh token for the anonymous CSRF cookie, which protects the forms people send
    /// before signing in (a session carries its own).
    ///
    /// # Errors
    /// [`BackendError`] when randomness fails.
    pub fn anonymous_csrf(&self) -> Result<String, BackendError> {
        Ok(self.secrets.token()?.plain)
    }

    /// The live session for a cookie's token, if it exists and has timed out neither way.
    /// A timed-out session is ended. Use is recorded at most once a minute.
    ///
    /// # Errors
    /// [`BackendError`] when storage fails.
    pub async fn resume(&self, token: &str) -> Result<Option<Live>, BackendError> {
        let digest = self.secrets.digest(token);
        let Some(record) = self.store.session(&digest).await? else { return Ok(None) };
        self.keep_alive(digest, record).await
    }

    /// [`Sessions::resume`], with the snapshot of the session's user that decisions about
    /// the service and the user's own organisation need, read in the same round trip.
    ///
    /// # Errors
    /// [`BackendError`] when storage fails.
    pub async fn resume_with_snapshot(
        &self,
        token: &str,
    ) -> Result<Option<(Live, World)>, BackendError> {
        let digest = self.secrets.digest(token);
        let Some((record, world)) = self.store.session_with_snapshot(&digest).await? else {
            return Ok(None);
        };
        Ok(self.keep_alive(digest, record).await?.map(|live| (live, world)))
    }

    /// Applies the timeouts to a stored session: ends it if either has passed, records
    /// its use at most once a minute otherwise.
    async fn keep_alive(
        &self,
        digest: String,
        record: SessionRecord,
    ) -> Result<Option<Live>, BackendError> {
        let now = self.clock.now();
        if now.0 - record.last_seen.0 >= self.policy.idle_ms
            || now.0 - record.created.0 >= self.policy.absolute_ms
        {
            self.store.end_session(&digest).await?;
            return Ok(None);
        }
        if now.0 - record.last_seen.0 >= 60_000 {
            self.store.touch_session(&digest, now).await?;
        }
        Ok(Some(Live {
            user: record.user,
            digest,
            csrf: record.csrf,
            stage: record.stage,
            created: record.created,
            proved_at: record.proved_at,
        }))
    }

    /// Ends one session (signing out).
    ///
    /// # Errors
    /// [`BackendError`] when storage fails.
    pub async fn end(&self, live: &Live) -> Result<(), BackendError> {
        self.store.end_session(&live.digest).await
    }

    /// Ends every session of a user except `keep` (sign out everywhere else, password
    /// change); `None` ends them all (reset, deactivation).
    ///
    /// # Errors
    /// [`BackendError`] when storage fails.
    pub async fn end_all(&self, user: UserId, keep: Option<&Live>) -> Result<u64, BackendError> {
        let audit = self.event(
            AuditName::SessionRevoke,
            user,
            AuditDetail::SessionsEnd(SessionsEnd { all: true }),
        );
        self.store.end_sessions(user, keep.map(|l| l.digest.as_str()), audit).await
    }
}
