//! An in-memory [`Directory`]: the whole world in one `RwLock`.
//!
//! Role in the workspace: an adapter, for tests, policy files and embedders who keep
//! their directory in memory. It answers lists by running the engine's [`Scope`] over the
//! records, so it is the reference the SQL adapters are checked against.
//!
//! Allowed dependencies: `tenure-core`, `tenure-domain`. Forbidden knowledge: HTTP,
//! email, any runtime (the lock is never held across an `.await`).

use std::sync::RwLock;

use async_trait::async_trait;
use tenure_core::{BackendError, Directory, OrganisationQuery, Page, UserQuery};
use tenure_domain::{Log, Organisation, Resource, Scope, User, UserId, World};

/// A directory held in memory.
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    world: RwLock<World>,
}

impl MemoryDirectory {
    /// A directory holding this world.
    pub fn new(world: World) -> Self {
        Self { world: RwLock::new(world) }
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
