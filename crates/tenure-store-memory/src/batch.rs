//! The chunk port (`tenure_core::batch::chunk`) in memory: a chunk works on a copy of
//! the directory (its reads see what it wrote; a refused call leaves the copy as it was,
//! since each is one all-or-nothing `ChangeStore::apply` on it) and replays the rows it
//! kept on the directory when it commits. Dropped uncommitted, it keeps nothing. The copy
//! costs the whole directory a chunk: this store is the reference for tests, not a store
//! for large imports.

use std::sync::{Mutex, RwLock};

use async_trait::async_trait;
use tenure_core::batch::chunk::{Chunk, ChunkStore, RowWrites};
use tenure_core::{
    BackendError, ChangeError, ChangeStore, Directory, RelationshipRequest, Versioned,
};
use tenure_domain::{Email, OrgId, Organisation, Relationship, RoleId, User, UserId};

use crate::{MemoryDirectory, poisoned};

struct MemoryChunk<'a> {
    store: &'a MemoryDirectory,
    copy: MemoryDirectory,
    kept: Vec<RowWrites>,
}

#[async_trait]
impl ChunkStore for MemoryDirectory {
    async fn begin(&self) -> Result<Box<dyn Chunk + '_>, BackendError> {
        let world = self.world.read().map_err(|_| poisoned())?.clone();
        let accounts = self.accounts.lock().map_err(|_| poisoned())?.clone();
        let copy = MemoryDirectory { world: RwLock::new(world), accounts: Mutex::new(accounts) };
        Ok(Box::new(MemoryChunk { store: self, copy, kept: Vec::new() }))
    }
}

#[async_trait]
impl Chunk for MemoryChunk<'_> {
    async fn organisations_by_name(
        &mut self,
        names: &[String],
    ) -> Result<Vec<Versioned<Organisation>>, BackendError> {
        let mut found: Vec<Versioned<Organisation>> = Vec::new();
        for name in names {
            if let Some(o) = self.copy.organisation_by_name(name).await? {
                if !found.iter().any(|f| f.value.id == o.value.id) {
                    found.push(o);
                }
            }
        }
        Ok(found)
    }

    async fn users_by_email(
        &mut self,
        emails: &[Email],
    ) -> Result<Vec<Versioned<User>>, BackendError> {
        let mut found: Vec<Versioned<User>> = Vec::new();
        for email in emails {
            if let Some(u) = self.copy.user_by_email(email).await? {
                if !found.iter().any(|f| f.value.id == u.value.id) {
                    found.push(u);
                }
            }
        }
        Ok(found)
    }

    async fn invitation_roles(
        &mut self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, Option<RoleId>)>, BackendError> {
        // The export's read, on the chunk's copy.
        Directory::invitation_roles(&self.copy, users).await
    }

    async fn relationships_among(
        &mut self,
        organisations: &[OrgId],
    ) -> Result<(Vec<Relationship>, Vec<RelationshipRequest>), BackendError> {
        let edges = self.copy.relationships_of(organisations).await?;
        let mut requests: Vec<RelationshipRequest> = Vec::new();
        for org in organisations {
            for r in self.copy.relationship_requests(*org).await? {
                if !requests.iter().any(|k| k.relationship == r.relationship) {
                    requests.push(r);
                }
            }
        }
        Ok((edges, requests))
    }

    async fn members_of(&mut self, organisations: &[OrgId]) -> Result<Vec<User>, BackendError> {
        let world = self.copy.world.read().map_err(|_| poisoned())?;
        Ok(world.users().filter(|u| organisations.contains(&u.organisation)).cloned().collect())
    }

    async fn apply(&mut self, rows: Vec<RowWrites>) -> Result<(), ChangeError> {
        let writes = rows.iter().flat_map(|r| r.writes.iter().cloned()).collect();
        let audit = rows.iter().flat_map(|r| r.audit.iter().cloned()).collect();
        self.copy.apply(writes, audit).await?;
        self.kept.extend(rows);
        Ok(())
    }

    async fn apply_row(&mut self, row: RowWrites) -> Result<(), ChangeError> {
        self.copy.apply(row.writes.clone(), row.audit.clone()).await?;
        self.kept.push(row);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), BackendError> {
        for row in self.kept {
            self.store.apply(row.writes, row.audit).await.map_err(|e| match e {
                ChangeError::Backend(e) => e,
                other => BackendError::new(format!("a chunk's row no longer applies: {other}")),
            })?;
        }
        Ok(())
    }
}
