//! Where a request came from, on every audit entry written while serving it.
//!
//! Services know nothing of requests: they write their audit entries with no origin, and
//! their signatures stay free of HTTP. The web app fills the origin in at the edge instead:
//! a layer ([`scope`]) runs each request's handler inside a task-local holding the request
//! id (the one the logs and the error page show), the client's address (as the security
//! layer resolved it, behind trusted proxies only) and the user agent (cut short, control
//! and text-direction characters removed); [`WithOrigin`], wrapped around the stores the
//! services write audit entries through, stamps each entry with it on its way in.
//!
//! A task-local follows the handler's future wherever it is polled, through every `.await`
//! of the services, but not into a task it spawns: nothing that writes an audit entry is
//! spawned. Outside a request (the CLI, the demo seed) there is no task-local, so entries
//! have no origin, except where an app sets one with [`within`]: the CLI's batch jobs
//! stamp every entry of a run with the run's batch id as its request id.

#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use axum::middleware::Next;
use axum::response::Response;
use tenure_core::{
    AccountStore, AuditEvent, AuditQuery, BackendError, ChangeError, ChangeStore, Credential,
    FailureRecorded, Link, Origin, Page, PasswordHolder, QueuedMail, RelationshipRequest,
    ResetHolder, SecondFactorStore, SessionRecord, SessionStore, SignInRecord, Timestamp,
    Versioned, Write,
};
use tenure_domain::{Email, OrgId, Organisation, Relationship, RoleId, User, UserId, World};

use crate::request_log;
use crate::security::ClientIp;

/// The longest user agent kept, in characters. Real ones are a few hundred at most; the
/// rest of a longer one tells nothing and fills the trail.
pub(crate) const MAX_USER_AGENT: usize = 256;

tokio::task_local! {
    /// The origin of the request being served, set by [`scope`].
    static ORIGIN: Origin;
}

/// A store that stamps every audit entry written through it with the origin of the request
/// being served, if any; everything else passes through unchanged. An entry that already
/// has an origin keeps it.
///
/// Wrap the stores the services write audit entries through (`ChangeStore`,
/// `AccountStore`, `SessionStore`) when they serve the web app:
/// `Arc::new(WithOrigin::new(store))`.
pub struct WithOrigin<S: ?Sized> {
    inner: Arc<S>,
}

impl<S: ?Sized> WithOrigin<S> {
    /// Wraps a store.
    pub fn new(inner: Arc<S>) -> Self {
        Self { inner }
    }
}

impl<S: ?Sized> std::fmt::Debug for WithOrigin<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithOrigin").finish_non_exhaustive()
    }
}

/// The layer: runs the rest of the request (its handler and everything the handler
/// awaits) with the request's origin in the task-local. It sits inside the security layer,
/// which resolves the client's address and writes no audit entry itself.
pub(crate) async fn scope(ClientIp(client_ip): ClientIp, request: Request, next: Next) -> Response {
    let origin = Origin {
        request_id: request_log::request_id(request.extensions()),
        client_ip,
        user_agent: user_agent(request.headers()),
    };
    ORIGIN.scope(origin, next.run(request)).await
}

/// Runs `work` with `origin` on every audit entry it writes through a [`WithOrigin`]
/// store: the same task-local the web's layer sets for a request, for apps that are not
/// serving one (the command line's batch jobs stamp their batch id this way).
pub async fn within<F: std::future::Future>(origin: Origin, work: F) -> F::Output {
    ORIGIN.scope(origin, work).await
}

/// The user agent as kept: control and text-direction characters removed, surrounding
/// space trimmed, at most [`MAX_USER_AGENT`] characters; none if nothing is left. Bytes
/// that are not UTF-8 become U+FFFD.
pub(crate) fn user_agent(headers: &HeaderMap) -> Option<String> {
    let raw = String::from_utf8_lossy(headers.get(USER_AGENT)?.as_bytes()).into_owned();
    let kept: String = raw
        .chars()
        .filter(|c| !tenure_domain::name::is_forbidden_in_text(*c))
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_USER_AGENT)
        .collect();
    let kept = kept.trim_end();
    (!kept.is_empty()).then(|| kept.to_owned())
}

/// The entry with the current request's origin, unless it has one already.
fn stamp(mut event: AuditEvent) -> AuditEvent {
    if event.origin.is_none() {
        event.origin = ORIGIN.try_with(Origin::clone).ok();
    }
    event
}

#[async_trait]
impl<S: ChangeStore + ?Sized> ChangeStore for WithOrigin<S> {
    async fn apply(&self, writes: Vec<Write>, audit: Vec<AuditEvent>) -> Result<(), ChangeError> {
        let writes = writes
            .into_iter()
            .map(|write| match write {
                Write::CountFailure { user, lock_after, lock_until, lock_audit } => {
                    Write::CountFailure {
                        user,
                        lock_after,
                        lock_until,
                        lock_audit: Box::new(stamp(*lock_audit)),
                    }
                }
                other => other,
            })
            .collect();
        self.inner.apply(writes, audit.into_iter().map(stamp).collect()).await
    }

    async fn user(&self, id: UserId) -> Result<Option<Versioned<User>>, BackendError> {
        self.inner.user(id).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<Versioned<User>>, BackendError> {
        self.inner.user_by_email(email).await
    }

    async fn organisation(
        &self,
        id: OrgId,
    ) -> Result<Option<Versioned<Organisation>>, BackendError> {
        self.inner.organisation(id).await
    }

    async fn organisation_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Versioned<Organisation>>, BackendError> {
        self.inner.organisation_by_name(name).await
    }

    async fn link(&self, digest: &str) -> Result<Option<Link>, BackendError> {
        self.inner.link(digest).await
    }

    async fn links_for_user(&self, user: UserId) -> Result<Vec<Link>, BackendError> {
        self.inner.links_for_user(user).await
    }

    async fn credential(&self, user: UserId) -> Result<Option<Credential>, BackendError> {
        self.inner.credential(user).await
    }

    async fn audit(&self, query: &AuditQuery, page: Page) -> Result<Vec<AuditEvent>, BackendError> {
        self.inner.audit(query, page).await
    }

    async fn relationship_request(
        &self,
        relationship: Relationship,
    ) -> Result<Option<RelationshipRequest>, BackendError> {
        self.inner.relationship_request(relationship).await
    }

    async fn relationship_requests(
        &self,
        organisation: OrgId,
    ) -> Result<Vec<RelationshipRequest>, BackendError> {
        self.inner.relationship_requests(organisation).await
    }

    async fn anyone_holds(&self, role: RoleId) -> Result<bool, BackendError> {
        self.inner.anyone_holds(role).await
    }
}

#[async_trait]
impl<S: AccountStore + ?Sized> AccountStore for WithOrigin<S> {
    async fn sign_in_record(&self, email: &Email) -> Result<Option<SignInRecord>, BackendError> {
        self.inner.sign_in_record(email).await
    }

    async fn record_failure(
        &self,
        user: UserId,
        lock_after: u32,
        lock_until: Timestamp,
        audit: AuditEvent,
        lock_audit: AuditEvent,
    ) -> Result<FailureRecorded, BackendError> {
        self.inner
            .record_failure(user, lock_after, lock_until, stamp(audit), stamp(lock_audit))
            .await
    }

    async fn record_success(
        &self,
        user: UserId,
        rehash: Option<String>,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        self.inner.record_success(user, rehash, stamp(audit)).await
    }

    async fn set_password(
        &self,
        user: UserId,
        hash: String,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        self.inner.set_password(user, hash, stamp(audit)).await
    }

    async fn set_password_with_notice(
        &self,
        user: UserId,
        hash: String,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<(), BackendError> {
        self.inner.set_password_with_notice(user, hash, stamp(audit), mail).await
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<(), BackendError> {
        self.inner.append_audit(stamp(event)).await
    }

    async fn audit_for_user(&self, user: UserId) -> Result<Vec<AuditEvent>, BackendError> {
        self.inner.audit_for_user(user).await
    }

    async fn password_holder(&self, user: UserId) -> Result<Option<PasswordHolder>, BackendError> {
        self.inner.password_holder(user).await
    }

    async fn issue_reset(
        &self,
        user: UserId,
        digest: String,
        issued: Timestamp,
        expires: Timestamp,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        self.inner.issue_reset(user, digest, issued, expires, stamp(audit)).await
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
        self.inner.issue_reset_with_mail(user, digest, issued, expires, stamp(audit), mail).await
    }

    async fn reset_holder(
        &self,
        digest: &str,
        now: Timestamp,
    ) -> Result<Option<ResetHolder>, BackendError> {
        self.inner.reset_holder(digest, now).await
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
        self.inner.consume_reset(digest, user, now, hash, stamp(audit), mail).await
    }
}

#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for WithOrigin<S> {
    async fn create_session(
        &self,
        digest: &str,
        record: SessionRecord,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        self.inner.create_session(digest, record, stamp(audit)).await
    }

    async fn session(&self, digest: &str) -> Result<Option<SessionRecord>, BackendError> {
        self.inner.session(digest).await
    }

    async fn session_with_snapshot(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, World)>, BackendError> {
        self.inner.session_with_snapshot(digest).await
    }

    async fn touch_session(&self, digest: &str, now: Timestamp) -> Result<(), BackendError> {
        self.inner.touch_session(digest, now).await
    }

    async fn end_session(&self, digest: &str) -> Result<(), BackendError> {
        self.inner.end_session(digest).await
    }

    async fn end_sessions(
        &self,
        user: UserId,
        except: Option<&str>,
        audit: AuditEvent,
    ) -> Result<u64, BackendError> {
        self.inner.end_sessions(user, except, stamp(audit)).await
    }
}

#[async_trait]
impl<S: SecondFactorStore + ?Sized> SecondFactorStore for WithOrigin<S> {
    async fn second_factor(
        &self,
        user: UserId,
    ) -> Result<Option<tenure_core::Enrolment>, BackendError> {
        self.inner.second_factor(user).await
    }

    async fn begin_enrolment(
        &self,
        user: UserId,
        sealed_secret: Vec<u8>,
        now: Timestamp,
    ) -> Result<bool, BackendError> {
        self.inner.begin_enrolment(user, sealed_secret, now).await
    }

    async fn confirm_enrolment(
        &self,
        user: UserId,
        sealed_secret: &[u8],
        step: i64,
        now: Timestamp,
        recovery_digests: Vec<String>,
        audit: AuditEvent,
        mail: Option<QueuedMail>,
    ) -> Result<bool, BackendError> {
        let audit = stamp(audit);
        self.inner
            .confirm_enrolment(user, sealed_secret, step, now, recovery_digests, audit, mail)
            .await
    }

    async fn use_step(
        &self,
        user: UserId,
        step: i64,
        audit: AuditEvent,
    ) -> Result<bool, BackendError> {
        self.inner.use_step(user, step, stamp(audit)).await
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        digest: &str,
        now: Timestamp,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<Option<u32>, BackendError> {
        self.inner.use_recovery_code(user, digest, now, stamp(audit), mail).await
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        digests: Vec<String>,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<bool, BackendError> {
        self.inner.replace_recovery_codes(user, digests, stamp(audit), mail).await
    }

    async fn recovery_codes_left(&self, user: UserId) -> Result<u32, BackendError> {
        self.inner.recovery_codes_left(user).await
    }

    async fn remove_second_factor(
        &self,
        user: UserId,
        keep: Option<&str>,
        audit: AuditEvent,
        sessions_audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<bool, BackendError> {
        let (audit, sessions_audit) = (stamp(audit), stamp(sessions_audit));
        self.inner.remove_second_factor(user, keep, audit, sessions_audit, mail).await
    }
}
