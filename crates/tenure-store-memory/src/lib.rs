//! An in-memory [`Directory`]: the whole world in one `RwLock`.
//!
//! Role in the workspace: an adapter, for tests, policy files and embedders who keep
//! their directory in memory. It answers lists by running the engine's [`Scope`] over the
//! records, so it is the reference the SQL adapters are checked against.
//!
//! Allowed dependencies: `tenure-core`, `tenure-domain`. Forbidden knowledge: HTTP,
//! email, any runtime (the lock is never held across an `.await`).

mod batch;
mod housekeeping;
mod limits;
mod mail_queue;
mod second_factor;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};

use async_trait::async_trait;
use tenure_core::LinkPurpose;
use tenure_core::{
    AccountItem, AccountQuery, CorterumStore, EntityQuery, GroupQuery, Listed, RelationshipRequest,
    query::Search,
};
use tenure_core::{
    AccountStore, AuditEvent, AuditQuery, BackendError, ChangeError, ChangeStore, Credential,
    Directory, FailureRecorded, Link, LinkState, NamedLog, NamedUser, OrganisationQuery, Page,
    PasswordHolder, QueuedMail, ResetHolder, SessionRecord, SessionStore, SignInRecord, Timestamp,
    UserQuery, Versioned, Write,
};
use tenure_domain::{
    ALL_PEOPLE, CorterumError, Dataset, DatasetId, Entity, EntityId, EntityScope, Group, Role,
    UserLinks, Version,
};
use tenure_domain::{
    Email, Log, OrgId, Organisation, Relationship, RelationshipError, Resource, RoleId, Scope,
    User, UserId, World, WorldError,
};
use uuid::Uuid;

/// A directory held in memory, with credentials and an audit trail.
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    world: RwLock<World>,
    accounts: Mutex<Accounts>,
}

#[derive(Debug, Default, Clone)]
struct Accounts {
    credentials: HashMap<UserId, Credentials>,
    audit: Vec<AuditEvent>,
    audit_ids: HashSet<Uuid>,
    resets: Vec<Reset>,
    /// Versions of users and organisations (by id); absent means 1.
    versions: HashMap<Uuid, i64>,
    links: Vec<Link>,
    sessions: HashMap<String, SessionRecord>,
    /// Corterum: instance versions, oldest first.
    histories: HashMap<(DatasetId, EntityId), Vec<Version>>,
    /// Corterum: usernames.
    usernames: HashMap<UserId, String>,
    /// Pending relationship requests, oldest first.
    requests: Vec<RelationshipRequest>,
    /// Second factors and recovery codes (`second_factor.rs`).
    second_factors: second_factor::Factors,
    /// Rate limit buckets' theoretical arrival times (see `limits`).
    limit_buckets: HashMap<(tenure_core::limits::LimitKind, String), i64>,
    /// The mail queue (`mail_queue.rs`), swapped in with the change that queued it.
    mail: mail_queue::Queue,
}

#[derive(Debug, Clone)]
struct Reset {
    digest: String,
    user: UserId,
    issued: Timestamp,
    expires: Timestamp,
    used: Option<Timestamp>,
}

impl Accounts {
    /// Appends audit entries, refusing (like a primary key) an id already used. Checks
    /// first, so a refused call changes nothing.
    fn check_ids(&self, events: &[&AuditEvent]) -> Result<(), BackendError> {
        for (i, e) in events.iter().enumerate() {
            if self.audit_ids.contains(&e.id) || events[..i].iter().any(|o| o.id == e.id) {
                return Err(BackendError::new(format!("audit event `{}` already exists", e.id)));
            }
        }
        Ok(())
    }

    fn append(&mut self, event: AuditEvent) {
        self.audit_ids.insert(event.id);
        self.audit.push(event);
    }

    /// Marks every unused reset link of the user used (at its own issue time).
    fn kill_resets(&mut self, user: UserId) {
        for r in self.resets.iter_mut().filter(|r| r.user == user && r.used.is_none()) {
            r.used = Some(r.issued);
        }
    }

    /// One more failure; at `lock_after`, locks until `lock_until` and restarts the count.
    /// Whether it locked.
    fn count_failure(&mut self, user: UserId, lock_after: u32, lock_until: Timestamp) -> bool {
        let c = self.credentials.entry(user).or_default();
        c.failed_attempts += 1;
        let locked = c.failed_attempts >= lock_after;
        if locked {
            c.failed_attempts = 0;
            c.locked_until = Some(lock_until);
        }
        locked
    }
}

#[derive(Debug, Default, Clone)]
struct Credentials {
    password_hash: Option<String>,
    failed_attempts: u32,
    locked_until: Option<Timestamp>,
}

fn poisoned() -> BackendError {
    BackendError::new("an in-memory store lock is poisoned")
}

impl MemoryDirectory {
    /// A directory holding this world.
    pub fn new(world: World) -> Self {
        Self { world: RwLock::new(world), accounts: Mutex::default() }
    }

    /// Issues a reset link (see [`AccountStore::issue_reset`]), queuing `mail` with it.
    fn issue_reset_telling(
        &self,
        user: UserId,
        digest: String,
        (issued, expires): (Timestamp, Timestamp),
        audit: AuditEvent,
        mail: Option<&QueuedMail>,
    ) -> Result<(), BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            if let Some(mail) = mail {
                a.mail.push(mail)?;
            }
            for r in a.resets.iter_mut().filter(|r| r.user == user && r.used.is_none()) {
                r.used = Some(issued);
            }
            a.resets.push(Reset { digest, user, issued, expires, used: None });
            a.append(audit);
            Ok(())
        })?
    }

    /// A user's details with their organisation's name, as password checks need them.
    fn person(&self, user: UserId) -> Result<Option<ResetHolder>, BackendError> {
        self.read(|w| {
            let u = w.user(user)?;
            let org = w.organisation(u.organisation)?;
            Some(ResetHolder {
                user,
                email: u.email.clone(),
                name: u.name.clone(),
                organisation: org.name.clone(),
                organisation_id: org.id,
            })
        })
    }

    /// Runs `f` on the account data under its lock: one critical section is one
    /// transaction.
    fn accounts<T>(&self, f: impl FnOnce(&mut Accounts) -> T) -> Result<T, BackendError> {
        let mut accounts = self.accounts.lock().map_err(|_| poisoned())?;
        Ok(f(&mut accounts))
    }

    /// Changes the world; the next decision sees the change.
    ///
    /// # Errors
    /// [`BackendError`] if a previous writer panicked while holding the lock.
    pub fn update<T>(&self, change: impl FnOnce(&mut World) -> T) -> Result<T, BackendError> {
        let mut world = self
            .world
            .write()
            .map_err(|_| BackendError::new("the in-memory directory lock is poisoned"))?;
        Ok(change(&mut world))
    }

    /// A snapshot with whether its actor is yet to accept their invitation: their newest
    /// invitation or reactivation link is not accepted (the links say it, as for
    /// `Manage::status`).
    fn with_invitation(&self, mut world: World, actor: UserId) -> Result<World, BackendError> {
        let invited = self.accounts(|a| {
            a.links
                .iter()
                .filter(|l| {
                    l.user == actor
                        && matches!(l.purpose, LinkPurpose::Invitation | LinkPurpose::Reactivation)
                })
                .max_by_key(|l| (l.issued, l.id))
                .is_some_and(|l| l.state != LinkState::Accepted)
        })?;
        if invited && world.user(actor).is_some() {
            world.set_invited(actor, true).map_err(BackendError::new)?;
        }
        Ok(world)
    }

    fn read<T>(&self, f: impl FnOnce(&World) -> T) -> Result<T, BackendError> {
        let world = self
            .world
            .read()
            .map_err(|_| BackendError::new("the in-memory directory lock is poisoned"))?;
        Ok(f(&world))
    }
}

fn page<T, K: Ord>(mut rows: Vec<T>, page: Page, key: impl Fn(&T) -> K) -> Vec<T> {
    rows.sort_by_cached_key(key);
    rows.into_iter().skip(page.offset).take(page.limit.min(Page::MAX_LIMIT)).collect()
}

#[async_trait]
impl Directory for MemoryDirectory {
    async fn relationships_of(
        &self,
        organisations: &[OrgId],
    ) -> Result<Vec<Relationship>, BackendError> {
        let touches = |r: &Relationship| {
            organisations.contains(&r.stock_owner) || organisations.contains(&r.managing_agent)
        };
        self.read(|w| w.relationships().filter(|r| touches(r)).copied().collect())
    }

    async fn invitation_roles(
        &self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, Option<RoleId>)>, BackendError> {
        let wanted: HashSet<UserId> = users.iter().copied().collect();
        self.accounts(|a| {
            // Each user's newest open link, newest by issue time then id, as
            // `links_for_user` orders them.
            let mut newest: HashMap<UserId, &Link> = HashMap::new();
            let open = a.links.iter().filter(|l| {
                wanted.contains(&l.user)
                    && matches!(l.purpose, LinkPurpose::Invitation | LinkPurpose::Reactivation)
                    && l.state != LinkState::Accepted
            });
            for link in open {
                let entry = newest.entry(link.user).or_insert(link);
                if (link.issued, link.id) > (entry.issued, entry.id) {
                    *entry = link;
                }
            }
            newest.into_iter().map(|(user, link)| (user, link.role)).collect()
        })
    }

    async fn snapshot(&self, actor: UserId, resource: Resource) -> Result<World, BackendError> {
        // Only the rows the decision needs, so a check costs the same in a world of a
        // hundred users as in one of a million.
        let world = self.read(|w| w.slice(actor, resource))?;
        self.with_invitation(world, actor)
    }

    async fn users(
        &self,
        scope: &Scope,
        query: &UserQuery,
        p: Page,
    ) -> Result<Vec<User>, BackendError> {
        let rows =
            self.read(|w| w.users_in(scope).filter(|u| query.matches(u)).cloned().collect())?;
        Ok(page(rows, p, |u: &User| query.sort_key(u)))
    }

    async fn users_named(
        &self,
        scope: &Scope,
        query: &UserQuery,
        p: Page,
    ) -> Result<Vec<NamedUser>, BackendError> {
        let users = self.users(scope, query, p).await?;
        self.read(|w| {
            users
                .into_iter()
                .map(|user| NamedUser {
                    organisation: w.organisation(user.organisation).map(|o| o.name.clone()),
                    user,
                })
                .collect()
        })
    }

    async fn organisations(
        &self,
        scope: &Scope,
        query: &OrganisationQuery,
        p: Page,
    ) -> Result<Vec<Organisation>, BackendError> {
        let rows = self.read(|w| {
            w.organisations()
                .filter(|o| scope.matches_organisation(o) && query.matches(o))
                .cloned()
                .collect()
        })?;
        Ok(page(rows, p, OrganisationQuery::sort_key))
    }

    async fn names(
        &self,
        users: &[UserId],
        organisations: &[OrgId],
    ) -> Result<tenure_core::Names, BackendError> {
        self.read(|w| tenure_core::Names {
            users: users
                .iter()
                .filter_map(|id| w.user(*id).map(|u| (*id, u.name.clone())))
                .collect(),
            organisations: organisations
                .iter()
                .filter_map(|id| w.organisation(*id).map(|o| (*id, o.name.clone())))
                .collect(),
        })
    }

    async fn logs(&self, scope: &Scope, p: Page) -> Result<Vec<Log>, BackendError> {
        let rows = self.read(|w| w.logs_in(scope).cloned().collect())?;
        Ok(page(rows, p, |l: &Log| *l.id.as_uuid().as_bytes()))
    }

    async fn logs_named(&self, scope: &Scope, p: Page) -> Result<Vec<NamedLog>, BackendError> {
        let logs = self.logs(scope, p).await?;
        self.read(|w| {
            let org = |id| w.organisation(id).map(|o| o.name.clone());
            logs.into_iter()
                .map(|log| NamedLog {
                    owner: org(log.owning_organisation),
                    manager: org(log.managing_organisation),
                    assignee: log.assigned_to.and_then(|u| w.user(u)).map(|u| u.name.clone()),
                    log,
                })
                .collect()
        })
    }
}

#[async_trait]
impl AccountStore for MemoryDirectory {
    async fn sign_in_record(&self, email: &Email) -> Result<Option<SignInRecord>, BackendError> {
        let user = self.read(|w| {
            w.user_by_email(email).map(|u| {
                let org_active = w.organisation(u.organisation).is_some_and(|o| o.active);
                (u.id, u.organisation, u.active && org_active)
            })
        })?;
        let Some((id, organisation, active)) = user else { return Ok(None) };
        let credentials = self.accounts(|a| a.credentials.get(&id).cloned().unwrap_or_default())?;
        Ok(Some(SignInRecord {
            user: id,
            organisation,
            password_hash: credentials.password_hash,
            failed_attempts: credentials.failed_attempts,
            locked_until: credentials.locked_until,
            active,
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
        self.accounts(|a| {
            a.check_ids(&[&audit, &lock_audit])?;
            let locked = a.count_failure(user, lock_after, lock_until);
            let failed_attempts = a.credentials.get(&user).map_or(0, |c| c.failed_attempts);
            a.append(audit);
            if locked {
                a.append(lock_audit);
            }
            Ok(FailureRecorded { failed_attempts, locked })
        })?
    }

    async fn record_success(
        &self,
        user: UserId,
        rehash: Option<String>,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            let c = a.credentials.entry(user).or_default();
            c.failed_attempts = 0;
            c.locked_until = None;
            if let Some(hash) = rehash {
                c.password_hash = Some(hash);
            }
            a.append(audit);
            Ok(())
        })?
    }

    async fn set_password(
        &self,
        user: UserId,
        hash: String,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        if self.read(|w| w.user(user).is_none())? {
            return Err(BackendError::new(format!("user `{user}` does not exist")));
        }
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            a.credentials.insert(
                user,
                Credentials { password_hash: Some(hash), failed_attempts: 0, locked_until: None },
            );
            a.kill_resets(user);
            a.sessions.retain(|_, s| s.user != user);
            a.append(audit);
            Ok(())
        })?
    }

    async fn set_password_with_notice(
        &self,
        user: UserId,
        hash: String,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<(), BackendError> {
        if self.read(|w| w.user(user).is_none())? {
            return Err(BackendError::new(format!("user `{user}` does not exist")));
        }
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            a.mail.push(&mail)?;
            a.credentials.insert(
                user,
                Credentials { password_hash: Some(hash), failed_attempts: 0, locked_until: None },
            );
            a.kill_resets(user);
            a.sessions.retain(|_, s| s.user != user);
            a.append(audit);
            Ok(())
        })?
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<(), BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&event])?;
            a.append(event);
            Ok(())
        })?
    }

    async fn audit_for_user(&self, user: UserId) -> Result<Vec<AuditEvent>, BackendError> {
        self.accounts(|a| {
            a.audit
                .iter()
                .filter(|e| e.actor == Some(user) || e.target_user == Some(user))
                .cloned()
                .collect()
        })
    }

    async fn password_holder(&self, user: UserId) -> Result<Option<PasswordHolder>, BackendError> {
        let Some(person) = self.person(user)? else { return Ok(None) };
        let credentials =
            self.accounts(|a| a.credentials.get(&user).cloned().unwrap_or_default())?;
        Ok(Some(PasswordHolder {
            person,
            password_hash: credentials.password_hash,
            locked_until: credentials.locked_until,
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
        self.issue_reset_telling(user, digest, (issued, expires), audit, None)
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
        self.issue_reset_telling(user, digest, (issued, expires), audit, Some(&mail))
    }

    async fn reset_holder(
        &self,
        digest: &str,
        now: Timestamp,
    ) -> Result<Option<ResetHolder>, BackendError> {
        let user = self.accounts(|a| {
            a.resets
                .iter()
                .find(|r| r.digest == digest && r.used.is_none() && now < r.expires)
                .map(|r| r.user)
        })?;
        let Some(user) = user else { return Ok(None) };
        self.person(user)
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
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            if !a.resets.iter().any(|r| {
                r.digest == digest && r.user == user && r.used.is_none() && now < r.expires
            }) {
                return Ok(false);
            }
            a.mail.push(&mail)?;
            let Some(reset) = a.resets.iter_mut().find(|r| {
                r.digest == digest && r.user == user && r.used.is_none() && now < r.expires
            }) else {
                return Ok(false);
            };
            reset.used = Some(now);
            for r in a.resets.iter_mut().filter(|r| r.user == user && r.used.is_none()) {
                r.used = Some(now);
            }
            a.credentials.insert(
                user,
                Credentials { password_hash: Some(hash), failed_attempts: 0, locked_until: None },
            );
            a.sessions.retain(|_, s| s.user != user);
            a.append(audit);
            Ok(true)
        })?
    }
}

impl Accounts {
    fn version(&self, id: Uuid) -> i64 {
        self.versions.get(&id).copied().unwrap_or(1)
    }

    /// Moves a version on if it is still `expected`.
    fn bump(&mut self, id: Uuid, expected: i64) -> Result<(), ChangeError> {
        if self.version(id) != expected {
            return Err(ChangeError::Conflict);
        }
        self.versions.insert(id, expected + 1);
        Ok(())
    }
}

fn world_error(e: WorldError) -> ChangeError {
    match e {
        WorldError::EmailInUse(_) => ChangeError::EmailInUse,
        WorldError::Duplicate { .. } => ChangeError::Duplicate,
        WorldError::UnknownUser(_)
        | WorldError::UnknownOrganisation(_)
        | WorldError::UnknownLog(_) => ChangeError::Conflict,
        other @ WorldError::UnknownRole(_) => ChangeError::Backend(BackendError::new(other)),
    }
}

fn relationship_error(e: RelationshipError) -> ChangeError {
    match e {
        RelationshipError::Duplicate { .. } => ChangeError::Duplicate,
        RelationshipError::NotFound { .. } | RelationshipError::UnknownOrganisation(_) => {
            ChangeError::Conflict
        }
        other => ChangeError::Backend(BackendError::new(other)),
    }
}

/// Organisation names are unique without case, as the SQL store's index has them.
fn name_free(w: &World, o: &Organisation) -> Result<(), ChangeError> {
    let folded = o.name.as_str().to_lowercase();
    if w.organisations()
        .any(|other| other.id != o.id && other.name.as_str().to_lowercase() == folded)
    {
        return Err(ChangeError::OrganisationNameInUse);
    }
    Ok(())
}

/// Applies one write to copies of the world and the account data.
fn apply_one(w: &mut World, a: &mut Accounts, write: Write) -> Result<(), ChangeError> {
    match write {
        Write::InsertOrganisation(o) => {
            name_free(w, &o)?;
            w.insert_organisation(o).map_err(world_error)?;
        }
        Write::UpdateOrganisation { organisation, version } => {
            name_free(w, &organisation)?;
            a.bump(*organisation.id.as_uuid(), version)?;
            w.update_organisation(organisation).map_err(world_error)?;
        }
        Write::TouchOrganisation { id, version } => {
            if w.organisation(id).is_none() {
                return Err(ChangeError::Conflict);
            }
            a.bump(*id.as_uuid(), version)?;
        }
        Write::InsertRelationship(r) => w.add_relationship(r).map_err(relationship_error)?,
        Write::DeleteRelationship(r) => w.remove_relationship(r).map_err(relationship_error)?,
        Write::RequestRelationship(request) => {
            let rel = request.relationship;
            if w.organisation(rel.stock_owner).is_none()
                || w.organisation(rel.managing_agent).is_none()
            {
                return Err(ChangeError::Conflict);
            }
            if w.has_relationship(rel.stock_owner, rel.managing_agent)
                || a.requests.iter().any(|r| r.relationship == rel)
            {
                return Err(ChangeError::Duplicate);
            }
            a.requests.push(request);
        }
        Write::DropRelationshipRequest(rel) => {
            let before = a.requests.len();
            a.requests.retain(|r| r.relationship != rel);
            if a.requests.len() == before {
                return Err(ChangeError::Conflict);
            }
        }
        Write::MergeOrganisation { from, into } => {
            merge(w, from, into)?;
            a.requests.retain(|r| {
                r.relationship.stock_owner != from && r.relationship.managing_agent != from
            });
        }
        Write::InsertUser(u) => {
            if w.user(u.id).is_some() {
                return Err(ChangeError::Duplicate);
            }
            w.upsert_user(u).map_err(world_error)?;
        }
        Write::UpdateUser { user, version } => {
            if w.user(user.id).is_none() {
                return Err(ChangeError::Conflict);
            }
            a.bump(*user.id.as_uuid(), version)?;
            w.upsert_user(user).map_err(world_error)?;
        }
        Write::DeleteUser { id, version } => {
            if w.user(id).is_none() {
                return Err(ChangeError::Conflict);
            }
            a.bump(*id.as_uuid(), version)?;
            w.remove_user(id).map_err(world_error)?;
            a.credentials.remove(&id);
            a.links.retain(|l| l.user != id);
            a.sessions.retain(|_, s| s.user != id);
            a.resets.retain(|r| r.user != id);
            a.usernames.remove(&id);
            // As SQL's cascade does: their authenticator secret and recovery codes go.
            a.second_factors.forget(id);
        }
        Write::DeleteLog(id) => {
            w.remove_log(id).map_err(world_error)?;
        }
        Write::SetPassword { user, hash } => {
            if w.user(user).is_none() {
                return Err(ChangeError::Conflict);
            }
            a.credentials.insert(
                user,
                Credentials { password_hash: hash, failed_attempts: 0, locked_until: None },
            );
        }
        Write::IssueLink(link) => {
            if a.links.iter().any(|l| l.digest == link.digest) {
                return Err(ChangeError::Duplicate);
            }
            for l in a.links.iter_mut().filter(|l| {
                l.user == link.user && l.purpose == link.purpose && l.state == LinkState::Pending
            }) {
                l.state = LinkState::Replaced;
            }
            a.links.push(link);
        }
        Write::ConsumeLink { digest, purpose, now } => {
            let link = a
                .links
                .iter_mut()
                .find(|l| l.digest == digest && l.purpose == purpose && l.usable(now))
                .ok_or(ChangeError::LinkUnusable)?;
            link.state = LinkState::Accepted;
        }
        Write::EndSessions(user) => a.sessions.retain(|_, s| s.user != user),
        Write::RevokeLinks { user, purposes } => {
            for l in a.links.iter_mut().filter(|l| {
                l.user == user && purposes.contains(&l.purpose) && l.state == LinkState::Pending
            }) {
                l.state = LinkState::Revoked;
            }
            a.kill_resets(user);
        }
        Write::CountFailure { user, lock_after, lock_until, lock_audit } => {
            if w.user(user).is_none() {
                return Err(ChangeError::Conflict);
            }
            if a.count_failure(user, lock_after, lock_until) {
                a.check_ids(&[&lock_audit])?;
                a.append(*lock_audit);
            }
        }
        Write::QueueMail(mail) => a.mail.push(&mail)?,
        Write::UpsertEntity(e) => w.upsert_entity(e).map_err(corterum_error)?,
        Write::UpsertGroup(g) => w.upsert_group(g).map_err(corterum_error)?,
        Write::UpsertDataset(d) => w.upsert_dataset(d).map_err(corterum_error)?,
        Write::UpsertRole(r) => w.upsert_role(r).map_err(corterum_error)?,
        Write::SetUserLinks { user, links, username } => {
            let folded = username.to_lowercase();
            if a.usernames.iter().any(|(u, n)| *u != user && n.to_lowercase() == folded) {
                return Err(ChangeError::UsernameInUse);
            }
            if w.user(user).is_none() {
                return Err(ChangeError::Conflict);
            }
            w.set_user_links(user, links).map_err(corterum_error)?;
            a.usernames.insert(user, username);
        }
        Write::AppendVersion { dataset, entity, version } => {
            if w.dataset(dataset).is_none() || w.entity(entity).is_none() {
                return Err(ChangeError::Conflict);
            }
            let list = a.histories.entry((dataset, entity)).or_default();
            let next = list.last().map_or(1, |v| v.number + 1);
            if version.number != next || list.last().is_some_and(|v| v.at > version.at) {
                return Err(ChangeError::Conflict);
            }
            list.push(version);
        }
    }
    Ok(())
}

fn corterum_error(e: CorterumError) -> ChangeError {
    match e {
        CorterumError::UnknownUser(_) => ChangeError::Conflict,
        other => ChangeError::Backend(BackendError::new(other)),
    }
}

#[async_trait]
impl CorterumStore for MemoryDirectory {
    async fn entities(
        &self,
        scope: &EntityScope,
        query: &EntityQuery,
        page: Page,
    ) -> Result<Vec<Entity>, BackendError> {
        self.read(|w| {
            let mut found: Vec<Entity> =
                w.entities_in(scope).filter(|e| query.matches(e)).cloned().collect();
            found.sort_by_cached_key(EntityQuery::sort_key);
            found.into_iter().skip(page.offset).take(page.limit.min(Page::MAX_LIMIT)).collect()
        })
    }

    async fn entity_count(
        &self,
        scope: &EntityScope,
        query: &EntityQuery,
    ) -> Result<u64, BackendError> {
        self.read(|w| w.entities_in(scope).filter(|e| query.matches(e)).count() as u64)
    }

    async fn entity(&self, id: EntityId) -> Result<Option<Entity>, BackendError> {
        self.read(|w| w.entity(id).cloned())
    }

    async fn linked_from(
        &self,
        id: EntityId,
    ) -> Result<Vec<(EntityId, tenure_domain::entity::LinkKind)>, BackendError> {
        self.read(|w| {
            let mut out: Vec<_> = w
                .entities()
                .flat_map(|e| e.links.iter().filter(|l| l.to == id).map(|l| (e.id, l.kind.clone())))
                .collect();
            out.sort_unstable();
            out
        })
    }

    async fn groups(&self) -> Result<Vec<Group>, BackendError> {
        self.read(|w| w.groups().filter(|g| g.id != ALL_PEOPLE).cloned().collect())
    }

    async fn group_list(
        &self,
        query: &GroupQuery,
        page: Page,
    ) -> Result<Listed<Group>, BackendError> {
        self.read(|w| {
            let mut found: Vec<Group> =
                w.groups().filter(|g| g.id != ALL_PEOPLE && query.matches(g)).cloned().collect();
            found.sort_by_cached_key(GroupQuery::sort_key);
            paged(found, page)
        })
    }

    async fn custom_role_list(
        &self,
        search: Option<&Search>,
        page: Page,
    ) -> Result<Listed<Role>, BackendError> {
        self.read(|w| {
            let mut found: Vec<Role> = w
                .roles()
                .iter()
                .filter(|r| !r.built_in && search.is_none_or(|s| s.found_in(&r.name)))
                .cloned()
                .collect();
            found.sort_by_cached_key(|r| (r.name.to_lowercase(), r.id));
            paged(found, page)
        })
    }

    async fn datasets(&self) -> Result<Vec<Dataset>, BackendError> {
        self.read(|w| w.datasets().cloned().collect())
    }

    async fn custom_roles(&self) -> Result<Vec<Role>, BackendError> {
        self.read(|w| w.roles().iter().filter(|r| !r.built_in).cloned().collect())
    }

    async fn user_links(&self, user: UserId) -> Result<Option<(String, UserLinks)>, BackendError> {
        let Some(name) = self.accounts(|a| a.usernames.get(&user).cloned())? else {
            return Ok(None);
        };
        self.read(|w| {
            Some((
                name,
                UserLinks { entity: w.user_entity(user), companies: w.user_companies(user) },
            ))
        })
    }

    async fn accounts(
        &self,
        scope: &Scope,
        page: Page,
    ) -> Result<Vec<(String, User)>, BackendError> {
        // The users in scope through the world's indexes, then those with a username.
        let users: Vec<User> = self.read(|w| w.users_in(scope).cloned().collect())?;
        let mut rows: Vec<(String, User)> = self.accounts(|a| {
            users
                .into_iter()
                .filter_map(|u| a.usernames.get(&u.id).map(|n| (n.clone(), u)))
                .collect()
        })?;
        rows.sort_by_cached_key(|(n, u)| (n.to_lowercase(), u.id));
        Ok(rows.into_iter().skip(page.offset).take(page.limit.min(Page::MAX_LIMIT)).collect())
    }

    async fn account_list(
        &self,
        scope: &Scope,
        query: &AccountQuery,
        page: Page,
    ) -> Result<Listed<AccountItem>, BackendError> {
        let users: Vec<(User, UserLinks)> = self.read(|w| {
            w.users_in(scope)
                .map(|u| {
                    let links = UserLinks {
                        entity: w.user_entity(u.id),
                        companies: w.user_companies(u.id),
                    };
                    (u.clone(), links)
                })
                .collect()
        })?;
        let mut rows: Vec<(String, User, UserLinks)> = self.accounts(|a| {
            users
                .into_iter()
                .filter_map(|(u, l)| a.usernames.get(&u.id).map(|n| (n.clone(), u, l)))
                .filter(|(n, u, l)| query.matches(n, u, l))
                .collect()
        })?;
        rows.sort_by_cached_key(|(n, u, _)| AccountQuery::sort_key(n, u));
        let listed = paged(rows, page);
        let items = self.read(|w| {
            listed
                .items
                .into_iter()
                .map(|(username, user, links)| AccountItem {
                    entity_name: links.entity.and_then(|e| w.entity(e)).map(|e| e.name.clone()),
                    username,
                    user,
                    links,
                })
                .collect()
        })?;
        Ok(Listed { items, total: listed.total })
    }

    async fn history(
        &self,
        dataset: DatasetId,
        entity: EntityId,
    ) -> Result<Vec<Version>, BackendError> {
        self.accounts(|a| a.histories.get(&(dataset, entity)).cloned().unwrap_or_default())
    }
}

/// One page of a sorted list, with how many it holds.
fn paged<T>(all: Vec<T>, page: Page) -> Listed<T> {
    let total = all.len() as u64;
    let items = all.into_iter().skip(page.offset).take(page.limit.min(Page::MAX_LIMIT)).collect();
    Listed { items, total }
}

/// Moves `from`'s users, logs and relationships to `into`.
fn merge(w: &mut World, from: OrgId, into: OrgId) -> Result<(), ChangeError> {
    if w.organisation(from).is_none() || w.organisation(into).is_none() {
        return Err(ChangeError::Conflict);
    }
    let users: Vec<User> = w.users().filter(|u| u.organisation == from).cloned().collect();
    for mut u in users {
        u.organisation = into;
        w.upsert_user(u).map_err(world_error)?;
    }
    let logs: Vec<Log> = w
        .logs()
        .filter(|l| l.owning_organisation == from || l.managing_organisation == from)
        .cloned()
        .collect();
    for mut l in logs {
        if l.owning_organisation == from {
            l.owning_organisation = into;
        }
        if l.managing_organisation == from {
            l.managing_organisation = into;
        }
        w.upsert_log(l).map_err(world_error)?;
    }
    let edges: Vec<Relationship> = w
        .relationships()
        .filter(|r| r.stock_owner == from || r.managing_agent == from)
        .copied()
        .collect();
    for r in edges {
        w.remove_relationship(r).map_err(relationship_error)?;
        let moved = Relationship {
            stock_owner: if r.stock_owner == from { into } else { r.stock_owner },
            managing_agent: if r.managing_agent == from { into } else { r.managing_agent },
        };
        if moved.stock_owner != moved.managing_agent
            && !w.has_relationship(moved.stock_owner, moved.managing_agent)
        {
            w.add_relationship(moved).map_err(relationship_error)?;
        }
    }
    Ok(())
}

#[async_trait]
impl ChangeStore for MemoryDirectory {
    /// Applies the writes to copies of the data and swaps them in only if all succeed:
    /// all or nothing, at the cost of a copy per change (fine for tests and small
    /// directories; the SQL adapter is the one for scale).
    async fn apply(&self, writes: Vec<Write>, audit: Vec<AuditEvent>) -> Result<(), ChangeError> {
        let mut world = self.world.write().map_err(|_| poisoned())?;
        let mut accounts = self.accounts.lock().map_err(|_| poisoned())?;
        let refs: Vec<&AuditEvent> = audit.iter().collect();
        accounts.check_ids(&refs)?;
        let (mut w, mut a) = if writes.is_empty() {
            (None, None)
        } else {
            (Some(world.clone()), Some(accounts.clone()))
        };
        if let (Some(w), Some(a)) = (w.as_mut(), a.as_mut()) {
            for write in writes {
                apply_one(w, a, write)?;
            }
        }
        if let (Some(w), Some(a)) = (w, a) {
            *world = w;
            *accounts = a;
        }
        for e in audit {
            accounts.append(e);
        }
        Ok(())
    }

    async fn user(&self, id: UserId) -> Result<Option<Versioned<User>>, BackendError> {
        let user = self.read(|w| w.user(id).cloned())?;
        let Some(user) = user else { return Ok(None) };
        let version = self.accounts(|a| a.version(*id.as_uuid()))?;
        Ok(Some(Versioned { value: user, version }))
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<Versioned<User>>, BackendError> {
        let id = self.read(|w| w.user_by_email(email).map(|u| u.id))?;
        match id {
            Some(id) => ChangeStore::user(self, id).await,
            None => Ok(None),
        }
    }

    async fn organisation(
        &self,
        id: OrgId,
    ) -> Result<Option<Versioned<Organisation>>, BackendError> {
        let org = self.read(|w| w.organisation(id).cloned())?;
        let Some(org) = org else { return Ok(None) };
        let version = self.accounts(|a| a.version(*id.as_uuid()))?;
        Ok(Some(Versioned { value: org, version }))
    }

    async fn organisation_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Versioned<Organisation>>, BackendError> {
        let wanted = name.trim().to_lowercase();
        let id = self.read(|w| {
            w.organisations().find(|o| o.name.as_str().to_lowercase() == wanted).map(|o| o.id)
        })?;
        match id {
            Some(id) => ChangeStore::organisation(self, id).await,
            None => Ok(None),
        }
    }

    async fn link(&self, digest: &str) -> Result<Option<Link>, BackendError> {
        self.accounts(|a| a.links.iter().find(|l| l.digest == digest).cloned())
    }

    async fn links_for_user(&self, user: UserId) -> Result<Vec<Link>, BackendError> {
        self.accounts(|a| {
            let mut links: Vec<Link> = a.links.iter().filter(|l| l.user == user).cloned().collect();
            links.sort_by_key(|l| std::cmp::Reverse((l.issued, l.id)));
            links
        })
    }

    async fn credential(&self, user: UserId) -> Result<Option<Credential>, BackendError> {
        if self.read(|w| w.user(user).is_none())? {
            return Ok(None);
        }
        self.accounts(|a| {
            let c = a.credentials.get(&user).cloned().unwrap_or_default();
            Some(Credential { password_hash: c.password_hash, locked_until: c.locked_until })
        })
    }

    async fn audit(&self, query: &AuditQuery, page: Page) -> Result<Vec<AuditEvent>, BackendError> {
        // The organisations and users of another side, whose entries the query's side
        // leaves out.
        let (other, others): (HashSet<OrgId>, HashSet<UserId>) = match query.side {
            None => (HashSet::new(), HashSet::new()),
            Some(side) => self.read(|w| {
                let orgs: HashSet<OrgId> =
                    w.organisations().filter(|o| o.kind != side).map(|o| o.id).collect();
                let users =
                    w.users().filter(|u| orgs.contains(&u.organisation)).map(|u| u.id).collect();
                (orgs, users)
            })?,
        };
        self.accounts(|a| {
            let mut rows: Vec<AuditEvent> = a
                .audit
                .iter()
                .filter(|e| {
                    query.organisation.is_none_or(|o| e.organisation == Some(o))
                        && e.organisation.is_none_or(|o| !other.contains(&o))
                        && e.actor.is_none_or(|u| !others.contains(&u))
                        && e.target_user.is_none_or(|u| !others.contains(&u))
                        && query.user.is_none_or(|u| e.actor == Some(u) || e.target_user == Some(u))
                        && query.name.is_none_or(|n| e.name == n)
                        && query.from.is_none_or(|t| e.at >= t)
                        && query.before.is_none_or(|t| e.at < t)
                })
                .cloned()
                .collect();
            rows.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
            rows.into_iter().skip(page.offset).take(page.limit.min(Page::MAX_LIMIT)).collect()
        })
    }

    async fn relationship_request(
        &self,
        relationship: Relationship,
    ) -> Result<Option<RelationshipRequest>, BackendError> {
        self.accounts(|a| a.requests.iter().find(|r| r.relationship == relationship).copied())
    }

    async fn relationship_requests(
        &self,
        organisation: OrgId,
    ) -> Result<Vec<RelationshipRequest>, BackendError> {
        self.accounts(|a| {
            a.requests
                .iter()
                .filter(|r| {
                    r.relationship.stock_owner == organisation
                        || r.relationship.managing_agent == organisation
                })
                .copied()
                .collect()
        })
    }

    async fn anyone_holds(&self, role: RoleId) -> Result<bool, BackendError> {
        if self.read(|w| w.users().any(|u| u.roles.contains(&role)))? {
            return Ok(true);
        }
        self.accounts(|a| {
            a.links.iter().any(|l| l.role == Some(role) && l.state == LinkState::Pending)
        })
    }
}

#[async_trait]
impl SessionStore for MemoryDirectory {
    async fn create_session(
        &self,
        digest: &str,
        record: SessionRecord,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            a.sessions.insert(digest.to_owned(), record);
            a.append(audit);
            Ok(())
        })?
    }

    async fn session(&self, digest: &str) -> Result<Option<SessionRecord>, BackendError> {
        self.accounts(|a| a.sessions.get(digest).cloned())
    }

    async fn session_with_snapshot(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, World)>, BackendError> {
        let Some(record) = self.session(digest).await? else { return Ok(None) };
        let world = self.read(|w| {
            w.user(record.user).is_some().then(|| w.slice(record.user, Resource::Service))
        })?;
        match world {
            Some(w) => {
                let world = self.with_invitation(w, record.user)?;
                Ok(Some((record, world)))
            }
            None => Ok(None),
        }
    }

    async fn touch_session(&self, digest: &str, now: Timestamp) -> Result<(), BackendError> {
        self.accounts(|a| {
            if let Some(s) = a.sessions.get_mut(digest) {
                s.last_seen = now;
            }
        })
    }

    async fn end_session(&self, digest: &str) -> Result<(), BackendError> {
        self.accounts(|a| {
            a.sessions.remove(digest);
        })
    }

    async fn end_sessions(
        &self,
        user: UserId,
        except: Option<&str>,
        audit: AuditEvent,
    ) -> Result<u64, BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            let before = a.sessions.len();
            a.sessions.retain(|d, s| s.user != user || Some(d.as_str()) == except);
            a.append(audit);
            Ok((before - a.sessions.len()) as u64)
        })?
    }
}
