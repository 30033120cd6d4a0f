//! An in-memory [`Directory`]: the whole world in one `RwLock`.
//!
//! Role in the workspace: an adapter, for tests, policy files and embedders who keep
//! their directory in memory. It answers lists by running the engine's [`Scope`] over the
//! records, so it is the reference the SQL adapters are checked against.
//!
//! Allowed dependencies: `tenure-core`, `tenure-domain`. Forbidden knowledge: HTTP,
//! email, any runtime (the lock is never held across an `.await`).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};

use async_trait::async_trait;
use tenure_core::{
    AccountStore, AuditEvent, BackendError, Directory, FailureRecorded, OrganisationQuery, Page,
    PasswordHolder, ResetHolder, SignInRecord, Timestamp, UserQuery,
};
use tenure_domain::{Email, Log, Organisation, Resource, Scope, User, UserId, World};
use uuid::Uuid;

/// A directory held in memory, with credentials and an audit trail.
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    world: RwLock<World>,
    accounts: Mutex<Accounts>,
}

#[derive(Debug, Default)]
struct Accounts {
    credentials: HashMap<UserId, Credentials>,
    audit: Vec<AuditEvent>,
    audit_ids: HashSet<Uuid>,
    resets: Vec<Reset>,
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
    async fn snapshot(&self, actor: UserId, resource: Resource) -> Result<World, BackendError> {
        // Only the rows the decision needs, so a check costs the same in a world of a
        // hundred users as in one of a million.
        self.read(|w| w.slice(actor, resource))
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

    async fn logs(&self, scope: &Scope, p: Page) -> Result<Vec<Log>, BackendError> {
        let rows = self.read(|w| w.logs_in(scope).cloned().collect())?;
        Ok(page(rows, p, |l: &Log| *l.id.as_uuid().as_bytes()))
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
            let c = a.credentials.entry(user).or_default();
            c.failed_attempts += 1;
            let locked = c.failed_attempts >= lock_after;
            if locked {
                c.failed_attempts = 0;
                c.locked_until = Some(lock_until);
            }
            let failed_attempts = c.failed_attempts;
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

    async fn resets_issued_since(
        &self,
        user: UserId,
        since: Timestamp,
    ) -> Result<u32, BackendError> {
        self.accounts(|a| {
            a.resets.iter().filter(|r| r.user == user && r.issued >= since).count() as u32
        })
    }

    async fn issue_reset(
        &self,
        user: UserId,
        digest: String,
        issued: Timestamp,
        expires: Timestamp,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            for r in a.resets.iter_mut().filter(|r| r.user == user && r.used.is_none()) {
                r.used = Some(issued);
            }
            a.resets.push(Reset { digest, user, issued, expires, used: None });
            a.append(audit);
            Ok(())
        })?
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
    ) -> Result<bool, BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
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
            a.append(audit);
            Ok(true)
        })?
    }
}
