//! The write side of the directory: changes as data, applied with their audit entries in
//! one transaction, with optimistic versions so a stale edit is refused, never lost.
//!
//! Services decide (with the engine) and then describe what to write as a list of
//! [`Write`]s; a [`ChangeStore`] applies the list all together or not at all.

use async_trait::async_trait;
use tenure_domain::{Email, OrgId, Organisation, Relationship, RoleId, User, UserId};
use thiserror::Error;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::error::BackendError;
use crate::ports::Timestamp;

/// A record with the version it was read at. An edit names the version it started from;
/// if the record changed since, the edit is refused with [`ChangeError::Conflict`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Versioned<T> {
    /// The record.
    pub value: T,
    /// Its version: starts at 1, goes up by one with every change.
    pub version: i64,
}

/// What a one-time link is for. A link works only for its own purpose: an invitation
/// link is refused where a reset or email confirmation link is expected, and the reverse.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LinkPurpose {
    /// Accept an invitation: set a password and get the invited role.
    Invitation,
    /// Come back after deactivation: set a new password and get the role back.
    Reactivation,
    /// Confirm a new email address.
    EmailChange,
}

impl LinkPurpose {
    /// The stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invitation => "invitation",
            Self::Reactivation => "reactivation",
            Self::EmailChange => "email_change",
        }
    }

    /// The purpose from its stored form.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Invitation, Self::Reactivation, Self::EmailChange]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// Where a link stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LinkState {
    /// Sent and not yet used (it may still have expired: see [`Link::expires`]).
    Pending,
    /// Used.
    Accepted,
    /// Withdrawn by an administrator or coordinator, or by deactivation.
    Revoked,
    /// Replaced by a newer link of the same purpose (a resend).
    Replaced,
}

impl LinkState {
    /// The stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
            Self::Replaced => "replaced",
        }
    }

    /// The state from its stored form.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Revoked, Self::Replaced]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// A one-time link (invitation, reactivation, email confirmation). Only the digest of
/// its token is stored.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Link {
    /// Its id.
    pub id: Uuid,
    /// The SHA-256 digest of the token sent.
    pub digest: String,
    /// What it is for.
    pub purpose: LinkPurpose,
    /// Whose account it is about.
    pub user: UserId,
    /// The organisation the invitation is into.
    pub organisation: OrgId,
    /// The role accepting gives (invitations and reactivations).
    pub role: Option<RoleId>,
    /// The address it was sent to: the invited address, or the new address to confirm.
    pub email: Email,
    /// Who sent it; `None` for the first administrator, created from the command line.
    pub issued_by: Option<UserId>,
    /// When it was sent.
    pub issued: Timestamp,
    /// When it stops working.
    pub expires: Timestamp,
    /// Where it stands.
    pub state: LinkState,
}

impl Link {
    /// Whether it can still be used at `now`.
    pub fn usable(&self, now: Timestamp) -> bool {
        self.state == LinkState::Pending && now < self.expires
    }
}

/// A relationship one end asked for, waiting for the other end's answer. It widens
/// nobody's reach until it is accepted (see `tenure_domain::consent`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RelationshipRequest {
    /// The relationship asked for.
    pub relationship: Relationship,
    /// The end that asked.
    pub requested_by: OrgId,
    /// When.
    pub requested_at: Timestamp,
}

/// What re-authentication needs of a user's credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Their password hash; `None` until they set one.
    pub password_hash: Option<String>,
    /// Locked until this moment, if locked.
    pub locked_until: Option<Timestamp>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// One change to the directory. A list of them is applied in one transaction.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Write {
    /// Adds an organisation (version 1).
    InsertOrganisation(Organisation),
    /// Replaces an organisation's details, if it is still at `version`.
    UpdateOrganisation {
        /// The new details (same id).
        organisation: Organisation,
        /// The version the edit started from.
        version: i64,
    },
    /// Moves an organisation's version on without changing it, if it is still at
    /// `version`. Every change to an organisation's users carries one, so two concurrent
    /// changes (two coordinators deactivating each other) cannot both pass the guard that
    /// keeps an active data coordinator.
    TouchOrganisation {
        /// The organisation.
        id: OrgId,
        /// The version the change started from.
        version: i64,
    },
    /// Adds a relationship; refused as [`ChangeError::Duplicate`] if it exists.
    InsertRelationship(Relationship),
    /// Removes a relationship; refused as [`ChangeError::Conflict`] if it is gone.
    DeleteRelationship(Relationship),
    /// Records a request for a relationship from one end; refused as
    /// [`ChangeError::Duplicate`] if one for the same pair is pending.
    RequestRelationship(RelationshipRequest),
    /// Drops a pending request (accepted, declined or withdrawn); refused as
    /// [`ChangeError::Conflict`] if none is pending, so of two answers only one lands.
    DropRelationshipRequest(Relationship),
    /// Moves `from`'s users, logs and relationships to `into` (dropping relationships
    /// that would duplicate one of `into`'s or point at itself).
    MergeOrganisation {
        /// The organisation merged away.
        from: OrgId,
        /// The one that receives everything.
        into: OrgId,
    },
    /// Adds a user (version 1); [`ChangeError::EmailInUse`] if another has the email.
    InsertUser(User),
    /// Replaces a user's details, roles, organisation and state, if still at `version`.
    UpdateUser {
        /// The new record (same id).
        user: User,
        /// The version the edit started from.
        version: i64,
    },
    /// Permanently removes a user's personal data, roles, credentials, links and
    /// sessions, if still at `version`. Logs and audit entries keep the bare id.
    DeleteUser {
        /// The user.
        id: UserId,
        /// The version the deletion started from.
        version: i64,
    },
    /// Removes a log; refused as [`ChangeError::Conflict`] if it is gone (of two
    /// deletions only one lands). Its audit entry keeps what it was.
    DeleteLog(tenure_domain::LogId),
    /// Sets or clears a user's password, clearing failures and any lock.
    SetPassword {
        /// The user.
        user: UserId,
        /// The new hash; `None` removes the password (a reactivated user sets a new one).
        hash: Option<String>,
    },
    /// Stores a new link and marks the user's other pending links of the same purpose
    /// [`LinkState::Replaced`].
    IssueLink(Link),
    /// Uses a link once: only if it is pending, unexpired and of this purpose; otherwise
    /// the whole change is refused with [`ChangeError::LinkUnusable`]. Of two concurrent
    /// uses exactly one succeeds.
    ConsumeLink {
        /// The link's digest.
        digest: String,
        /// What it must be for.
        purpose: LinkPurpose,
        /// Now.
        now: Timestamp,
    },
    /// Ends every session of the user (deactivation, an email change).
    EndSessions(UserId),
    /// Revokes the user's pending links of these purposes, and any unused reset links.
    RevokeLinks {
        /// The user.
        user: UserId,
        /// Which purposes.
        purposes: Vec<LinkPurpose>,
    },
    /// Counts a wrong password typed to confirm a change against the user's lockout, as a
    /// failed sign-in counts: one more failure, atomically; when the count reaches
    /// `lock_after`, the account is locked until `lock_until`, the count restarts and
    /// `lock_audit` is appended.
    CountFailure {
        /// The user.
        user: UserId,
        /// Lock at this many consecutive failures.
        lock_after: u32,
        /// Until when.
        lock_until: Timestamp,
        /// The entry recording the lock, kept only if this failure locks the account.
        lock_audit: Box<AuditEvent>,
    },
    /// Queues an email announcing this change for the courier ([`crate::courier`]): it
    /// exists exactly when the change does.
    QueueMail(crate::courier::QueuedMail),
    /// Corterum: adds an entity or replaces it (its companies and links too).
    UpsertEntity(tenure_domain::Entity),
    /// Corterum: adds a group or replaces it with its members.
    UpsertGroup(tenure_domain::Group),
    /// Corterum: adds a dataset to the catalogue or replaces it.
    UpsertDataset(tenure_domain::Dataset),
    /// Corterum: adds a role built from a role form, or replaces it.
    UpsertRole(tenure_domain::Role),
    /// Corterum: a user's username, linked entity and companies;
    /// [`ChangeError::UsernameInUse`] if another user has the username.
    SetUserLinks {
        /// The user.
        user: UserId,
        /// Their entity and companies.
        links: tenure_domain::UserLinks,
        /// Unique across the service.
        username: String,
    },
    /// Corterum: appends a version to an instance. Refused as [`ChangeError::Conflict`]
    /// unless it is exactly the next version: history is never rewritten, and of two
    /// saves from the same version only one lands.
    AppendVersion {
        /// The dataset.
        dataset: tenure_domain::DatasetId,
        /// The entity the instance is about.
        entity: tenure_domain::EntityId,
        /// The version (its number is the next one).
        version: tenure_domain::Version,
    },
}

/// Why a change was refused. Nothing of it was kept.
#[derive(Debug, Error)]
pub enum ChangeError {
    /// Someone changed the record since it was read.
    #[error("this record was changed by someone else since you opened it; reload it and try again")]
    Conflict,
    /// The email address belongs to another account.
    #[error("this email address is already used by another account")]
    EmailInUse,
    /// The record already exists.
    #[error("this already exists")]
    Duplicate,
    /// The link is unknown, used, replaced, revoked or expired.
    #[error("this link has expired or has already been used")]
    LinkUnusable,
    /// The username belongs to another user.
    #[error("this username is already used by another user")]
    UsernameInUse,
    /// Another organisation has this name (compared without case).
    #[error("another organisation already has this name")]
    OrganisationNameInUse,
    /// Something broke.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// A query over the audit trail, newest first.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct AuditQuery {
    /// Only entries about this organisation.
    pub organisation: Option<OrgId>,
    /// Only entries where this user acted or was acted on.
    pub user: Option<UserId>,
    /// Only entries with this name (`authn_login_fail`, ...).
    pub name: Option<crate::audit::AuditName>,
    /// Only entries at or after this moment.
    pub from: Option<crate::ports::Timestamp>,
    /// Only entries strictly before this moment.
    pub before: Option<crate::ports::Timestamp>,
    /// Only entries of this side of the service: an entry about an organisation of
    /// another kind is left out (one about no organisation, or one that no longer
    /// exists, is kept). `None`: every side.
    pub side: Option<tenure_domain::OrganisationKind>,
}

/// Storage for changes to the directory.
#[async_trait]
pub trait ChangeStore: Send + Sync + 'static {
    /// Applies every write and appends every audit entry in one transaction, in order; if
    /// any write is refused, nothing is kept.
    ///
    /// # Errors
    /// [`ChangeError`] saying which rule refused it; [`ChangeError::Backend`] for
    /// unexpected failures.
    async fn apply(&self, writes: Vec<Write>, audit: Vec<AuditEvent>) -> Result<(), ChangeError>;

    /// A user with their version.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn user(&self, id: UserId) -> Result<Option<Versioned<User>>, BackendError>;

    /// The user holding an email address.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn user_by_email(&self, email: &Email) -> Result<Option<Versioned<User>>, BackendError>;

    /// An organisation with its version.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn organisation(
        &self,
        id: OrgId,
    ) -> Result<Option<Versioned<Organisation>>, BackendError>;

    /// The organisation with this name, compared without regard to case.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn organisation_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Versioned<Organisation>>, BackendError>;

    /// The link with this digest, in whatever state.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn link(&self, digest: &str) -> Result<Option<Link>, BackendError>;

    /// A user's links, newest first.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn links_for_user(&self, user: UserId) -> Result<Vec<Link>, BackendError>;

    /// A user's stored password hash and lock, to check a password typed to confirm a
    /// change (re-authentication); `None` for an unknown user.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn credential(&self, user: UserId) -> Result<Option<Credential>, BackendError>;

    /// One page of the audit trail, newest first.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn audit(
        &self,
        query: &AuditQuery,
        page: crate::ports::Page,
    ) -> Result<Vec<AuditEvent>, BackendError>;

    /// The pending request for a relationship, if there is one.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn relationship_request(
        &self,
        relationship: Relationship,
    ) -> Result<Option<RelationshipRequest>, BackendError>;

    /// The pending requests with this organisation at either end, oldest first.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn relationship_requests(
        &self,
        organisation: OrgId,
    ) -> Result<Vec<RelationshipRequest>, BackendError>;

    /// Whether any user holds this role or has a pending link that would give it (so the
    /// first administrator is created once).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn anyone_holds(&self, role: RoleId) -> Result<bool, BackendError>;
}
