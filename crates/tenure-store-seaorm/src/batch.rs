//! The chunk port (`tenure_core::batch::chunk`) over SQL: a batch import's chunk is one
//! write transaction (`BEGIN IMMEDIATE` on SQLite, so it holds the write lock), read
//! through with one query a key list (`WHERE email IN (...)`), and written a savepoint at
//! a time: [`Chunk::apply`] writes every row the engine allowed together, with one
//! multi-row `INSERT` a table and one `UPDATE` for the organisations' versions, and
//! [`Chunk::apply_row`] one row with the ordinary `ChangeStore` writes. A refused
//! savepoint is rolled back (`ROLLBACK TO`), which also clears PostgreSQL's aborted
//! transaction state, and the chunk goes on. Each statement is one hand-off to sqlx's
//! connection worker, so the fewer a chunk makes the faster it goes
//! (docs/performance.md).

use std::collections::HashMap;

use async_trait::async_trait;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    ExprTrait, QueryFilter, QuerySelect, QueryTrait, TransactionTrait,
};
use tenure_core::batch::chunk::{Chunk, ChunkStore, RowWrites};
use tenure_core::{
    AuditEvent, BackendError, ChangeError, LinkState, RelationshipRequest, Versioned, Write,
};
use tenure_domain::{Email, OrgId, Organisation, Relationship, RoleId, User, UserId};
use uuid::Uuid;

use crate::SeaOrmStore;
use crate::accounts::audit_row;
use crate::changes::{apply_one, backend, link_row, refused, relationship_request};
use crate::convert;
use crate::directory::{roles_column, user_with_roles};
use crate::entity::{
    links, organisations, relationship_requests, relationships, user_roles, users,
};

/// The most rows one multi-row `INSERT` carries (well under SQLite's and PostgreSQL's
/// limits on bound values, at a dozen columns a row).
const PER_STATEMENT: usize = 500;

/// A chunk: its transaction.
struct SqlChunk {
    txn: DatabaseTransaction,
    db: DbBackend,
}

#[async_trait]
impl ChunkStore for SeaOrmStore {
    async fn begin(&self) -> Result<Box<dyn Chunk + '_>, BackendError> {
        Ok(Box::new(SqlChunk { txn: self.write_transaction().await?, db: self.backend() }))
    }
}

impl SqlChunk {
    /// The users holding these addresses, read in the chunk (see `users_by_email`).
    async fn users_by_email_read(
        &mut self,
        emails: &[Email],
    ) -> Result<Vec<Versioned<User>>, BackendError> {
        let mut found = Vec::new();
        for part in emails.chunks(PER_STATEMENT) {
            let query = users::Entity::find()
                .filter(users::Column::Email.is_in(part.iter().map(|e| e.as_str().to_owned())))
                .column_as(Expr::cust(roles_column(self.db)), "role_ids");
            let rows =
                self.txn.query_all_raw(query.build(self.db)).await.map_err(BackendError::new)?;
            for row in &rows {
                let version: i64 = row.try_get("", "version").map_err(corrupt)?;
                found.push(Versioned { value: user_with_roles(row, "")?, version });
            }
        }
        Ok(found)
    }
}

fn corrupt(e: impl std::fmt::Display) -> BackendError {
    BackendError::new(format!("a stored row is not readable: {e}"))
}

#[async_trait]
impl Chunk for SqlChunk {
    async fn organisations_by_name(
        &mut self,
        names: &[String],
    ) -> Result<Vec<Versioned<Organisation>>, BackendError> {
        let mut keys: Vec<String> = names.iter().map(|n| n.trim().to_lowercase()).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut found = Vec::new();
        for part in keys.chunks(PER_STATEMENT) {
            let rows = organisations::Entity::find()
                .filter(organisations::Column::SortName.is_in(part.iter().cloned()))
                .all(&self.txn)
                .await
                .map_err(BackendError::new)?;
            for row in rows {
                let version = row.version;
                found.push(Versioned { value: convert::organisation(row)?, version });
            }
        }
        Ok(found)
    }

    async fn users_by_email(
        &mut self,
        emails: &[Email],
    ) -> Result<Vec<Versioned<User>>, BackendError> {
        // PostgreSQL's planner answers `email IN (...)` from the trigram index
        // (`users_search_email`, GIN, which also serves `=`) and misjudges its cost: 500
        // addresses took 1.9 s among 5,000 users, and longer as they grew. A GIN index is
        // reached only through a bitmap scan, so with bitmap scans (and sequential scans)
        // off for this read the unique B-tree (`users_by_email`) answers: 0.3 ms. `SET
        // LOCAL` lasts until the chunk's transaction ends; it is put back after the read.
        let postgres = self.db == DbBackend::Postgres;
        if postgres {
            self.txn
                .execute_unprepared(
                    "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off",
                )
                .await
                .map_err(BackendError::new)?;
        }
        let found = self.users_by_email_read(emails).await?;
        if postgres {
            self.txn
                .execute_unprepared(
                    "SET LOCAL enable_bitmapscan = on; SET LOCAL enable_seqscan = on",
                )
                .await
                .map_err(BackendError::new)?;
        }
        Ok(found)
    }

    async fn invitation_roles(
        &mut self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, Option<RoleId>)>, BackendError> {
        // The export's read, in the chunk's transaction.
        crate::directory::invitation_roles(&self.txn, users).await
    }

    async fn relationships_among(
        &mut self,
        organisations: &[OrgId],
    ) -> Result<(Vec<Relationship>, Vec<RelationshipRequest>), BackendError> {
        let mut edges = Vec::new();
        let mut requests = Vec::new();
        // Half a statement's worth a query: each id is bound twice.
        for part in organisations.chunks(PER_STATEMENT / 2) {
            let ids = || part.iter().map(|o| *o.as_uuid());
            let rows = relationships::Entity::find()
                .filter(
                    Condition::any()
                        .add(relationships::Column::StockOwnerId.is_in(ids()))
                        .add(relationships::Column::ManagingAgentId.is_in(ids())),
                )
                .all(&self.txn)
                .await
                .map_err(BackendError::new)?;
            edges.extend(rows.into_iter().map(|e| Relationship {
                stock_owner: OrgId::from_uuid(e.stock_owner_id),
                managing_agent: OrgId::from_uuid(e.managing_agent_id),
            }));
            let rows = relationship_requests::Entity::find()
                .filter(
                    Condition::any()
                        .add(relationship_requests::Column::StockOwnerId.is_in(ids()))
                        .add(relationship_requests::Column::ManagingAgentId.is_in(ids())),
                )
                .all(&self.txn)
                .await
                .map_err(BackendError::new)?;
            requests.extend(rows.iter().map(relationship_request));
        }
        edges.sort_unstable_by_key(|r| (r.stock_owner, r.managing_agent));
        edges.dedup();
        requests
            .sort_unstable_by_key(|r| (r.relationship.stock_owner, r.relationship.managing_agent));
        requests.dedup();
        Ok((edges, requests))
    }

    async fn members_of(&mut self, organisations: &[OrgId]) -> Result<Vec<User>, BackendError> {
        let mut found = Vec::new();
        for part in organisations.chunks(PER_STATEMENT) {
            let query = users::Entity::find()
                .filter(users::Column::OrganisationId.is_in(part.iter().map(|o| *o.as_uuid())))
                .column_as(Expr::cust(roles_column(self.db)), "role_ids");
            let rows =
                self.txn.query_all_raw(query.build(self.db)).await.map_err(BackendError::new)?;
            for row in &rows {
                found.push(user_with_roles(row, "")?);
            }
        }
        Ok(found)
    }

    async fn apply(&mut self, rows: Vec<RowWrites>) -> Result<(), ChangeError> {
        let savepoint = self.txn.begin().await.map_err(backend)?;
        match write_together(&savepoint, rows).await {
            Ok(()) => savepoint.commit().await.map_err(backend),
            Err(e) => {
                savepoint.rollback().await.map_err(backend)?;
                Err(e)
            }
        }
    }

    async fn apply_row(&mut self, row: RowWrites) -> Result<(), ChangeError> {
        let savepoint = self.txn.begin().await.map_err(backend)?;
        let written = async {
            for write in row.writes {
                apply_one(&savepoint, write).await?;
            }
            insert_all(&savepoint, row.audit.iter().map(audit_row).collect()).await
        }
        .await;
        match written {
            Ok(()) => savepoint.commit().await.map_err(backend),
            Err(e) => {
                savepoint.rollback().await.map_err(backend)?;
                Err(e)
            }
        }
    }

    async fn commit(self: Box<Self>) -> Result<(), BackendError> {
        self.txn.commit().await.map_err(BackendError::new)
    }
}

/// Inserts rows with as few statements as [`PER_STATEMENT`] allows.
async fn insert_all<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<(), ChangeError>
where
    A: ActiveModelTrait + Send + Clone,
{
    for part in rows.chunks(PER_STATEMENT) {
        <A::Entity as EntityTrait>::insert_many(part.to_vec()).exec(txn).await.map_err(refused)?;
    }
    Ok(())
}

/// The rows' writes by table, when every write is one a chunk writes together.
#[derive(Default)]
struct Together {
    organisations: Vec<organisations::ActiveModel>,
    /// Each organisation's version as the first touch read it, and how many touches.
    touches: Vec<(OrgId, i64, i64)>,
    relationships: Vec<relationships::ActiveModel>,
    users: Vec<users::ActiveModel>,
    roles: Vec<user_roles::ActiveModel>,
    /// Users whose pending links of a purpose the new ones replace.
    replaced: HashMap<&'static str, Vec<Uuid>>,
    links: Vec<links::ActiveModel>,
    mail: Vec<crate::entity::mail_queue::ActiveModel>,
}

impl Together {
    /// Takes one write; `false` when it is not one written together (or a second link
    /// for the same user and purpose, whose replacing depends on order).
    fn take(&mut self, write: &Write) -> Result<bool, ChangeError> {
        match write {
            Write::InsertOrganisation(o) => self.organisations.push(convert::organisation_row(o)),
            Write::TouchOrganisation { id, version } => {
                match self.touches.iter_mut().find(|(o, _, _)| o == id) {
                    Some((_, first, count)) if *first + *count == *version => *count += 1,
                    Some(_) => return Ok(false),
                    None => self.touches.push((*id, *version, 1)),
                }
            }
            Write::InsertRelationship(r) => self.relationships.push(convert::relationship_row(r)),
            Write::InsertUser(u) => {
                self.users.push(convert::user_row(u));
                self.roles.extend(convert::user_role_rows(u));
            }
            Write::IssueLink(l) => {
                let users = self.replaced.entry(l.purpose.as_str()).or_default();
                if users.contains(l.user.as_uuid()) {
                    return Ok(false);
                }
                users.push(*l.user.as_uuid());
                self.links.push(link_row(l));
            }
            Write::QueueMail(m) => self.mail.push(crate::mail_queue::row(m).map_err(backend)?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Writes the rows in `txn`: together (a statement a table) when every write allows it,
/// otherwise one write after another; either way all or nothing, in the caller's savepoint.
async fn write_together(
    txn: &DatabaseTransaction,
    rows: Vec<RowWrites>,
) -> Result<(), ChangeError> {
    let mut together = Together::default();
    let mut audit: Vec<AuditEvent> = Vec::new();
    let mut each = false;
    for row in &rows {
        for write in &row.writes {
            if !together.take(write)? {
                each = true;
            }
        }
    }
    if each {
        for row in rows {
            for write in row.writes {
                apply_one(txn, write).await?;
            }
            audit.extend(row.audit);
        }
    } else {
        for row in rows {
            audit.extend(row.audit);
        }
        let Together { organisations, touches, relationships, users, roles, replaced, links, mail } =
            together;
        insert_all(txn, organisations).await?;
        touch(txn, &touches).await?;
        insert_all(txn, relationships).await?;
        insert_all(txn, users).await?;
        insert_all(txn, roles).await?;
        for (purpose, users) in replaced {
            for part in users.chunks(PER_STATEMENT) {
                links::Entity::update_many()
                    .col_expr(links::Column::State, Expr::value(LinkState::Replaced.as_str()))
                    .filter(links::Column::UserId.is_in(part.iter().copied()))
                    .filter(links::Column::Purpose.eq(purpose))
                    .filter(links::Column::State.eq(LinkState::Pending.as_str()))
                    .exec(txn)
                    .await
                    .map_err(backend)?;
            }
        }
        insert_all(txn, links).await?;
        insert_all(txn, mail).await?;
    }
    insert_all(txn, audit.iter().map(audit_row).collect()).await
}

/// Moves each organisation's version on by its touches, if it is still at the version
/// its first touch read: one `UPDATE` for each number of touches, and a conflict if any
/// organisation moved meanwhile.
async fn touch(
    txn: &DatabaseTransaction,
    touches: &[(OrgId, i64, i64)],
) -> Result<(), ChangeError> {
    let mut by_count: HashMap<i64, Vec<(OrgId, i64)>> = HashMap::new();
    for (id, first, count) in touches {
        by_count.entry(*count).or_default().push((*id, *first));
    }
    for (count, orgs) in by_count {
        // Bound as `ChangeStore`'s own touch binds its `+ 1` (an `int4`): with one
        // organisation the statement's text is the same, and PostgreSQL keeps the types
        // the first use of a text prepared with.
        let count =
            i32::try_from(count).map_err(|e| backend(sea_orm::DbErr::Custom(e.to_string())))?;
        for part in orgs.chunks(PER_STATEMENT) {
            let mut which = Condition::any();
            for (id, first) in part {
                which = which.add(
                    organisations::Column::Id
                        .eq(*id.as_uuid())
                        .and(organisations::Column::Version.eq(*first)),
                );
            }
            let result = organisations::Entity::update_many()
                .col_expr(
                    organisations::Column::Version,
                    Expr::col(organisations::Column::Version).add(count),
                )
                .filter(which)
                .exec(txn)
                .await
                .map_err(backend)?;
            if result.rows_affected != part.len() as u64 {
                return Err(ChangeError::Conflict);
            }
        }
    }
    Ok(())
}
