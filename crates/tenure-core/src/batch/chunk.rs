//! The chunk port: an import writes its rows a chunk at a time (up to [`CHUNK_ROWS`] rows
//! or [`CHUNK_TIME`], whichever comes first) in one write transaction, each row's writes
//! rolled back alone when they fail.
//!
//! A [`Chunk`] is one write transaction (on SQLite `BEGIN IMMEDIATE`: it holds the write
//! lock, so nobody else changes the data while the chunk's rows are decided). Its reads
//! (organisations by name, users by email, invitation roles) run inside it, one query for
//! the whole chunk (`WHERE email IN (...)`), and see what the chunk already wrote. Rows
//! are written with [`Chunk::apply`] (every row the engine allowed, together, multi-row
//! statements inside one savepoint: all or none) or [`Chunk::apply_row`] (one row in its
//! own savepoint); a failed call is rolled back to its savepoint and the transaction goes
//! on, on PostgreSQL too (where an error otherwise poisons the transaction). Nothing is
//! kept until [`Chunk::commit`]: `kill -9` loses at most the chunk being written.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tenure_domain::{Email, OrgId, Organisation, Relationship, RoleId, User, UserId};

use crate::audit::{AuditEvent, Origin};
use crate::changes::{ChangeError, RelationshipRequest, Versioned, Write};
use crate::error::BackendError;

/// The most rows a chunk holds.
pub const CHUNK_ROWS: usize = 500;

/// The longest a chunk waits for rows before it is written (a slow source, a pipe).
pub const CHUNK_TIME: Duration = Duration::from_millis(200);

/// One row's writes and audit entries: all kept or none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowWrites {
    /// The changes, in order.
    pub writes: Vec<Write>,
    /// Their audit entries.
    pub audit: Vec<AuditEvent>,
}

/// Opens chunks.
#[async_trait]
pub trait ChunkStore: Send + Sync + 'static {
    /// Starts a chunk: a write transaction.
    ///
    /// # Errors
    /// [`BackendError`] when the transaction cannot start (on SQLite, the write lock not
    /// had within the busy timeout).
    async fn begin(&self) -> Result<Box<dyn Chunk + '_>, BackendError>;
}

/// One chunk of an import: a write transaction, read and written through. Dropped without
/// [`Chunk::commit`], it keeps nothing.
#[async_trait]
pub trait Chunk: Send {
    /// The organisations with these names (compared without case), with their versions.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn organisations_by_name(
        &mut self,
        names: &[String],
    ) -> Result<Vec<Versioned<Organisation>>, BackendError>;

    /// The users holding these email addresses, with their roles and versions.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn users_by_email(
        &mut self,
        emails: &[Email],
    ) -> Result<Vec<Versioned<User>>, BackendError>;

    /// For each of these users with an invitation or reactivation not yet accepted, the
    /// role its newest one gives (as `Users`' export shows for someone with no role yet).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn invitation_roles(
        &mut self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, Option<RoleId>)>, BackendError>;

    /// The relationships in effect, and the requests waiting for an answer, with one of
    /// these organisations at either end.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn relationships_among(
        &mut self,
        organisations: &[OrgId],
    ) -> Result<(Vec<Relationship>, Vec<RelationshipRequest>), BackendError>;

    /// The users of these organisations, with their roles (active or not: whoever uses
    /// them decides).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn members_of(&mut self, organisations: &[OrgId]) -> Result<Vec<User>, BackendError>;

    /// Writes every row, in order, inside one savepoint: all of them or, if any write is
    /// refused, none (rolled back to the savepoint; the chunk goes on).
    ///
    /// # Errors
    /// The first refusal ([`ChangeError`]); nothing of `rows` was kept.
    async fn apply(&mut self, rows: Vec<RowWrites>) -> Result<(), ChangeError>;

    /// Writes one row inside its own savepoint: all of it or, if refused, none.
    ///
    /// # Errors
    /// The refusal ([`ChangeError`]); nothing of the row was kept.
    async fn apply_row(&mut self, row: RowWrites) -> Result<(), ChangeError>;

    /// Commits the chunk.
    ///
    /// # Errors
    /// [`BackendError`] when the commit fails: nothing of the chunk was kept.
    async fn commit(self: Box<Self>) -> Result<(), BackendError>;
}

/// Stamps every audit entry a chunk writes with a run's origin (the batch id), as the web
/// stamps a request's: the chunk port's counterpart of the web's origin decorator.
pub struct WithOrigin {
    inner: Arc<dyn ChunkStore>,
    origin: Origin,
}

impl std::fmt::Debug for WithOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithOrigin").field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl WithOrigin {
    /// Chunks of `inner`, their audit entries from `origin`.
    pub fn new(inner: Arc<dyn ChunkStore>, origin: Origin) -> Self {
        Self { inner, origin }
    }
}

struct Stamping<'a> {
    inner: Box<dyn Chunk + 'a>,
    origin: &'a Origin,
}

impl Stamping<'_> {
    fn stamp(&self, mut row: RowWrites) -> RowWrites {
        for event in &mut row.audit {
            if event.origin.is_none() {
                event.origin = Some(self.origin.clone());
            }
        }
        row
    }
}

#[async_trait]
impl ChunkStore for WithOrigin {
    async fn begin(&self) -> Result<Box<dyn Chunk + '_>, BackendError> {
        Ok(Box::new(Stamping { inner: self.inner.begin().await?, origin: &self.origin }))
    }
}

#[async_trait]
impl Chunk for Stamping<'_> {
    async fn organisations_by_name(
        &mut self,
        names: &[String],
    ) -> Result<Vec<Versioned<Organisation>>, BackendError> {
        self.inner.organisations_by_name(names).await
    }

    async fn users_by_email(
        &mut self,
        emails: &[Email],
    ) -> Result<Vec<Versioned<User>>, BackendError> {
        self.inner.users_by_email(emails).await
    }

    async fn invitation_roles(
        &mut self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, Option<RoleId>)>, BackendError> {
        self.inner.invitation_roles(users).await
    }

    async fn relationships_among(
        &mut self,
        organisations: &[OrgId],
    ) -> Result<(Vec<Relationship>, Vec<RelationshipRequest>), BackendError> {
        self.inner.relationships_among(organisations).await
    }

    async fn members_of(&mut self, organisations: &[OrgId]) -> Result<Vec<User>, BackendError> {
        self.inner.members_of(organisations).await
    }

    async fn apply(&mut self, rows: Vec<RowWrites>) -> Result<(), ChangeError> {
        let rows = rows.into_iter().map(|r| self.stamp(r)).collect();
        self.inner.apply(rows).await
    }

    async fn apply_row(&mut self, row: RowWrites) -> Result<(), ChangeError> {
        let row = self.stamp(row);
        self.inner.apply_row(row).await
    }

    async fn commit(self: Box<Self>) -> Result<(), BackendError> {
        self.inner.commit().await
    }
}
