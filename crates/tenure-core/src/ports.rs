//! The ports: what the core needs from the outside world.

use async_trait::async_trait;
use tenure_domain::{Log, NewPassword, Organisation, Resource, Scope, User, UserId, World};
use uuid::Uuid;

use crate::error::BackendError;
use crate::notification::Notification;
use crate::query::{OrganisationQuery, UserQuery};

/// A moment, in milliseconds since the Unix epoch, UTC: the domain's `Moment`, under the
/// name the ports have always used (one moment type; `crate::moment` reads and shows it).
pub use tenure_domain::dataset::Moment as Timestamp;

/// What checking a password against a stored hash found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verified {
    /// The password is right and the hash uses the current parameters.
    Match,
    /// The password is right but the hash was made with other (older or weaker)
    /// parameters: store a fresh hash now, while the password is at hand.
    MatchNeedsRehash,
    /// The password is wrong, or the stored hash is not one this hasher reads.
    NoMatch,
    /// Nothing was checked: the hasher is at its limit of concurrent work and of work
    /// waiting. Answer "try again shortly" and count nothing against the account.
    Unavailable,
}

/// Hashes and checks passwords. Deliberately slow and CPU-bound, so implementations
/// run the work off the async executor, behind a limit on how many run at once.
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes a new, policy-checked password with a fresh random salt, as a PHC string.
    ///
    /// # Errors
    /// [`BackendError`] if no random salt could be had or the worker failed.
    async fn hash(&self, password: &NewPassword) -> Result<String, BackendError>;

    /// Checks a typed password (normalised as new passwords are) against a stored hash.
    /// Anything unexpected (a malformed hash, a failed worker) is
    /// [`Verified::NoMatch`]: failing closed.
    async fn verify(&self, password: &str, stored: &str) -> Verified;

    /// A hash of a random password made at start-up. Checking a sign-in for an unknown
    /// email against it costs what a real check costs, so timing reveals nothing.
    fn dummy(&self) -> &str;
}

/// A secret token to send someone, and the digest of it that is stored instead.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The token itself: goes in the email, never in storage or logs.
    pub plain: String,
    /// Its digest: what storage holds and looks up.
    pub digest: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("digest", &self.digest).finish_non_exhaustive()
    }
}

/// Secrets: fresh tokens with at least 128 bits from the operating system's generator,
/// and digests of them (a plain hash suffices at that entropy).
pub trait Secrets: Send + Sync + 'static {
    /// A fresh token and its digest.
    ///
    /// # Errors
    /// [`BackendError`] if the operating system gives no randomness.
    fn token(&self) -> Result<Token, BackendError>;

    /// The digest of a token someone presented.
    fn digest(&self, plain: &str) -> String;
}

/// Sends email. The core says what to tell whom (a [`Notification`]); the mailer renders
/// it into a subject and plain-text and HTML bodies (`tenure-mail`) and hands it over, so
/// the wording and its escaping stay on the mail side, and an outbox can store the
/// notification itself.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Renders and sends (or queues) one notification.
    ///
    /// # Errors
    /// [`BackendError`] if it could not be rendered or handed over.
    async fn send(&self, notification: Notification) -> Result<(), BackendError>;
}

/// The time. The only source of "now" in the core.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// Fresh ids. The only source of new ids in the core (UUID v7 in production).
pub trait IdGen: Send + Sync + 'static {
    /// A new, never-used id.
    fn next_id(&self) -> Uuid;
}

/// A page of a list: `limit` records after skipping `offset`, in a stable order (by name,
/// then id).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Page {
    /// How many to skip.
    pub offset: usize,
    /// How many at most.
    pub limit: usize,
}

impl Page {
    /// The most a page may hold, so no request loads a whole table.
    pub const MAX_LIMIT: usize = 100;

    /// The page size list screens use.
    pub const SCREEN: usize = 20;

    /// The furthest offset a page starts at: far past any list a store holds, and well
    /// inside the signed 64-bit offsets SQL takes (a page number from a URL can be any
    /// `usize`; past this it is simply an empty page).
    pub const MAX_OFFSET: usize = 1 << 40;

    /// Page `number` (from 1) of `size` records, with the size clamped to 1..=100 and the
    /// offset to [`Page::MAX_OFFSET`].
    pub fn numbered(number: usize, size: usize) -> Self {
        let limit = size.clamp(1, Self::MAX_LIMIT);
        let offset = number.saturating_sub(1).saturating_mul(limit).min(Self::MAX_OFFSET);
        Self { offset, limit }
    }
}

/// Display names of users and organisations, by id.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Names {
    /// Users' names.
    pub users: std::collections::HashMap<UserId, tenure_domain::Name>,
    /// Organisations' names.
    pub organisations: std::collections::HashMap<tenure_domain::OrgId, tenure_domain::Name>,
}

/// A log with the names a list shows beside it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NamedLog {
    /// The log.
    pub log: tenure_domain::Log,
    /// Its owning organisation's name.
    pub owner: Option<tenure_domain::Name>,
    /// Its managing organisation's name.
    pub manager: Option<tenure_domain::Name>,
    /// Its assignee's name: `None` when it has none, or they were deleted.
    pub assignee: Option<tenure_domain::Name>,
}

/// A user with the name of their organisation, as a list shows them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NamedUser {
    /// The user.
    pub user: tenure_domain::User,
    /// Their organisation's name.
    pub organisation: Option<tenure_domain::Name>,
}

/// Read access to the directory: organisations, relationships, users, logs.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// A world holding at least what the engine needs to decide requests by `actor` about
    /// `resource`: the actor, their organisation and its relationships, the resource and
    /// its organisations, and the active holders of the guarded role in the resource's
    /// organisation. Anything missing is treated as not there.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures; an unknown actor or resource is
    /// simply absent from the world.
    async fn snapshot(&self, actor: UserId, resource: Resource) -> Result<World, BackendError>;

    /// The users a scope and a query both match, one page, in the query's order
    /// ([`UserQuery::sort_key`]).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn users(
        &self,
        scope: &Scope,
        query: &UserQuery,
        page: Page,
    ) -> Result<Vec<User>, BackendError>;

    /// [`Directory::users`] with the name of each user's organisation, in the same read
    /// (a list page would otherwise ask [`Directory::names`] next).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn users_named(
        &self,
        scope: &Scope,
        query: &UserQuery,
        page: Page,
    ) -> Result<Vec<NamedUser>, BackendError>;

    /// The organisations a scope and a query both match, one page, ordered by
    /// [`OrganisationQuery::sort_key`].
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn organisations(
        &self,
        scope: &Scope,
        query: &OrganisationQuery,
        page: Page,
    ) -> Result<Vec<Organisation>, BackendError>;

    /// Names for display, in one go: of these users and organisations, those that exist
    /// (a deleted user is simply absent: screens call them "a deleted user"). Callers
    /// show only ids they were allowed to see.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn names(
        &self,
        users: &[UserId],
        organisations: &[tenure_domain::OrgId],
    ) -> Result<Names, BackendError>;

    /// The logs a scope matches, one page, ordered by id.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn logs(&self, scope: &Scope, page: Page) -> Result<Vec<Log>, BackendError>;

    /// [`Directory::logs`] with the names of each log's organisations and assignee, in
    /// the same read (a list page would otherwise ask [`Directory::names`] next).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn logs_named(&self, scope: &Scope, page: Page) -> Result<Vec<NamedLog>, BackendError>;

    /// The relationships in effect with either end among `organisations` (a page's worth:
    /// at most [`Page::MAX_LIMIT`]), for the batch exports. Edges only, in no particular
    /// order: the caller decides what the actor may see of them.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn relationships_of(
        &self,
        organisations: &[tenure_domain::OrgId],
    ) -> Result<Vec<tenure_domain::Relationship>, BackendError>;

    /// For each of these users with an invitation or reactivation not yet accepted
    /// (pending, revoked or replaced), the role the newest one gives (newest by issue
    /// time, then by link id, as `ChangeStore::links_for_user` orders them), for the
    /// batch exports: the role shown for someone with no role yet. A user with no such
    /// link is absent; the order is unspecified. The read the chunk port's
    /// `invitation_roles` makes, outside a chunk.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn invitation_roles(
        &self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, Option<tenure_domain::RoleId>)>, BackendError>;
}
