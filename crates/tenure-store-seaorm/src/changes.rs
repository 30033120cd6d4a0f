//! The `ChangeStore` port over SQL: every list of writes runs in one write transaction
//! (`BEGIN IMMEDIATE` on SQLite) with its audit entries. Versioned rows are updated with
//! `WHERE id = ? AND version = ?` and `version = version + 1`; no row changed means
//! someone else got there first, and the whole transaction is rolled back.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use tenure_core::{
    AuditEvent, AuditQuery, BackendError, ChangeError, ChangeStore, Credential, Link, LinkPurpose,
    LinkState, Page, RelationshipRequest, Timestamp, Versioned, Write,
};
use tenure_domain::{Email, OrgId, Organisation, Relationship, RoleId, User, UserId};
use uuid::Uuid;

use crate::SeaOrmStore;
use crate::accounts::{audit_event, audit_row, count_failure, ensure_row};
use crate::convert;
use crate::entity::{
    audit_events, credentials, links, logs, organisations, relationship_requests, relationships,
    reset_tokens, sessions, user_roles, users,
};

pub(crate) fn backend(e: DbErr) -> ChangeError {
    ChangeError::Backend(BackendError::new(e))
}

/// A unique-constraint failure as the rule it broke.
pub(crate) fn refused(e: DbErr) -> ChangeError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(m)) if m.contains("email") => {
            ChangeError::EmailInUse
        }
        // SQLite names the column (`organisations.sort_name`), PostgreSQL the index.
        Some(SqlErr::UniqueConstraintViolation(m))
            if m.contains("organisations.sort_name") || m.contains("organisations_unique") =>
        {
            ChangeError::OrganisationNameInUse
        }
        Some(SqlErr::UniqueConstraintViolation(_)) => ChangeError::Duplicate,
        _ => backend(e),
    }
}

pub(crate) fn relationship_request(row: &relationship_requests::Model) -> RelationshipRequest {
    RelationshipRequest {
        relationship: Relationship {
            stock_owner: OrgId::from_uuid(row.stock_owner_id),
            managing_agent: OrgId::from_uuid(row.managing_agent_id),
        },
        requested_by: OrgId::from_uuid(row.requested_by_id),
        requested_at: Timestamp(row.requested_at),
    }
}

fn expect_one(rows: u64) -> Result<(), ChangeError> {
    if rows == 1 { Ok(()) } else { Err(ChangeError::Conflict) }
}

pub(crate) fn link_row(l: &Link) -> links::ActiveModel {
    links::ActiveModel {
        id: Set(l.id),
        digest: Set(l.digest.clone()),
        purpose: Set(l.purpose.as_str().to_owned()),
        user_id: Set(*l.user.as_uuid()),
        organisation_id: Set(*l.organisation.as_uuid()),
        role_id: Set(l.role.map(|r| *r.as_uuid())),
        email: Set(l.email.to_string()),
        issued_by: Set(l.issued_by.map(|u| *u.as_uuid())),
        issued_at: Set(l.issued.0),
        expires_at: Set(l.expires.0),
        state: Set(l.state.as_str().to_owned()),
    }
}

fn link(row: links::Model) -> Result<Link, BackendError> {
    let corrupt =
        |what: &str| BackendError::new(format!("stored link `{}` has a bad {what}", row.id));
    Ok(Link {
        id: row.id,
        purpose: LinkPurpose::parse(&row.purpose).ok_or_else(|| corrupt("purpose"))?,
        user: UserId::from_uuid(row.user_id),
        organisation: OrgId::from_uuid(row.organisation_id),
        role: row.role_id.map(RoleId::from_uuid),
        email: Email::parse(&row.email).map_err(|_| corrupt("email"))?,
        issued_by: row.issued_by.map(UserId::from_uuid),
        issued: Timestamp(row.issued_at),
        expires: Timestamp(row.expires_at),
        state: LinkState::parse(&row.state).ok_or_else(|| corrupt("state"))?,
        digest: row.digest,
    })
}

async fn replace_roles(txn: &DatabaseTransaction, user: &User) -> Result<(), ChangeError> {
    user_roles::Entity::delete_many()
        .filter(user_roles::Column::UserId.eq(*user.id.as_uuid()))
        .exec(txn)
        .await
        .map_err(backend)?;
    let rows: Vec<_> = convert::user_role_rows(user).collect();
    if !rows.is_empty() {
        user_roles::Entity::insert_many(rows).exec(txn).await.map_err(backend)?;
    }
    Ok(())
}

async fn bump_organisation(
    txn: &DatabaseTransaction,
    id: OrgId,
    version: i64,
) -> Result<(), ChangeError> {
    let result = organisations::Entity::update_many()
        .col_expr(organisations::Column::Version, Expr::col(organisations::Column::Version).add(1))
        .filter(organisations::Column::Id.eq(*id.as_uuid()))
        .filter(organisations::Column::Version.eq(version))
        .exec(txn)
        .await
        .map_err(backend)?;
    expect_one(result.rows_affected)
}

async fn merge(txn: &DatabaseTransaction, from: OrgId, into: OrgId) -> Result<(), ChangeError> {
    let (from, into) = (*from.as_uuid(), *into.as_uuid());
    users::Entity::update_many()
        .col_expr(users::Column::OrganisationId, Expr::value(into))
        .filter(users::Column::OrganisationId.eq(from))
        .exec(txn)
        .await
        .map_err(backend)?;
    for column in [logs::Column::OwningOrganisationId, logs::Column::ManagingOrganisationId] {
        logs::Entity::update_many()
            .col_expr(column, Expr::value(into))
            .filter(column.eq(from))
            .exec(txn)
            .await
            .map_err(backend)?;
    }
    let edges = relationships::Entity::find()
        .filter(
            relationships::Column::StockOwnerId
                .eq(from)
                .or(relationships::Column::ManagingAgentId.eq(from)),
        )
        .all(txn)
        .await
        .map_err(backend)?;
    relationships::Entity::delete_many()
        .filter(
            relationships::Column::StockOwnerId
                .eq(from)
                .or(relationships::Column::ManagingAgentId.eq(from)),
        )
        .exec(txn)
        .await
        .map_err(backend)?;
    let swap = |id: Uuid| if id == from { into } else { id };
    let moved: Vec<_> = edges
        .iter()
        .map(|e| (swap(e.stock_owner_id), swap(e.managing_agent_id)))
        .filter(|(owner, agent)| owner != agent)
        .map(|(owner, agent)| relationships::ActiveModel {
            stock_owner_id: Set(owner),
            managing_agent_id: Set(agent),
        })
        .collect();
    if !moved.is_empty() {
        relationships::Entity::insert_many(moved)
            .on_conflict_do_nothing_on([
                relationships::Column::StockOwnerId,
                relationships::Column::ManagingAgentId,
            ])
            .exec(txn)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

pub(crate) async fn apply_one(txn: &DatabaseTransaction, write: Write) -> Result<(), ChangeError> {
    match write {
        Write::InsertOrganisation(o) => {
            organisations::Entity::insert(convert::organisation_row(&o))
                .exec(txn)
                .await
                .map_err(refused)?;
        }
        Write::UpdateOrganisation { organisation: o, version } => {
            let mut row = convert::organisation_row(&o);
            row.version = Set(version + 1);
            // The kind never changes: an update leaves it as stored.
            row.kind = sea_orm::ActiveValue::NotSet;
            let result = organisations::Entity::update_many()
                .set(row)
                .filter(organisations::Column::Id.eq(*o.id.as_uuid()))
                .filter(organisations::Column::Version.eq(version))
                .exec(txn)
                .await
                .map_err(refused)?;
            expect_one(result.rows_affected)?;
        }
        Write::TouchOrganisation { id, version } => bump_organisation(txn, id, version).await?,
        Write::InsertRelationship(r) => {
            relationships::Entity::insert(convert::relationship_row(&r))
                .exec(txn)
                .await
                .map_err(refused)?;
        }
        Write::DeleteRelationship(r) => {
            let result = relationships::Entity::delete_many()
                .filter(relationships::Column::StockOwnerId.eq(*r.stock_owner.as_uuid()))
                .filter(relationships::Column::ManagingAgentId.eq(*r.managing_agent.as_uuid()))
                .exec(txn)
                .await
                .map_err(backend)?;
            expect_one(result.rows_affected)?;
        }
        Write::RequestRelationship(request) => {
            let rel = request.relationship;
            let exists = relationships::Entity::find()
                .filter(relationships::Column::StockOwnerId.eq(*rel.stock_owner.as_uuid()))
                .filter(relationships::Column::ManagingAgentId.eq(*rel.managing_agent.as_uuid()))
                .count(txn)
                .await
                .map_err(backend)?;
            if exists > 0 {
                return Err(ChangeError::Duplicate);
            }
            relationship_requests::Entity::insert(relationship_requests::ActiveModel {
                stock_owner_id: Set(*rel.stock_owner.as_uuid()),
                managing_agent_id: Set(*rel.managing_agent.as_uuid()),
                requested_by_id: Set(*request.requested_by.as_uuid()),
                requested_at: Set(request.requested_at.0),
            })
            .exec(txn)
            .await
            .map_err(refused)?;
        }
        Write::DropRelationshipRequest(rel) => {
            let result = relationship_requests::Entity::delete_many()
                .filter(relationship_requests::Column::StockOwnerId.eq(*rel.stock_owner.as_uuid()))
                .filter(
                    relationship_requests::Column::ManagingAgentId
                        .eq(*rel.managing_agent.as_uuid()),
                )
                .exec(txn)
                .await
                .map_err(backend)?;
            expect_one(result.rows_affected)?;
        }
        Write::MergeOrganisation { from, into } => {
            relationship_requests::Entity::delete_many()
                .filter(
                    relationship_requests::Column::StockOwnerId
                        .eq(*from.as_uuid())
                        .or(relationship_requests::Column::ManagingAgentId.eq(*from.as_uuid())),
                )
                .exec(txn)
                .await
                .map_err(backend)?;
            merge(txn, from, into).await?;
            crate::corterum::merge(txn, *from.as_uuid(), *into.as_uuid()).await?;
        }
        Write::InsertUser(u) => {
            users::Entity::insert(convert::user_row(&u)).exec(txn).await.map_err(refused)?;
            replace_roles(txn, &u).await?;
        }
        Write::UpdateUser { user, version } => {
            let mut row = convert::user_row(&user);
            row.version = Set(version + 1);
            let result = users::Entity::update_many()
                .set(row)
                .filter(users::Column::Id.eq(*user.id.as_uuid()))
                .filter(users::Column::Version.eq(version))
                .exec(txn)
                .await
                .map_err(refused)?;
            expect_one(result.rows_affected)?;
            replace_roles(txn, &user).await?;
        }
        Write::DeleteUser { id, version } => {
            let id = *id.as_uuid();
            crate::corterum::delete_user(txn, id).await?;
            user_roles::Entity::delete_many()
                .filter(user_roles::Column::UserId.eq(id))
                .exec(txn)
                .await
                .map_err(backend)?;
            credentials::Entity::delete_many()
                .filter(credentials::Column::UserId.eq(id))
                .exec(txn)
                .await
                .map_err(backend)?;
            reset_tokens::Entity::delete_many()
                .filter(reset_tokens::Column::UserId.eq(id))
                .exec(txn)
                .await
                .map_err(backend)?;
            links::Entity::delete_many()
                .filter(links::Column::UserId.eq(id))
                .exec(txn)
                .await
                .map_err(backend)?;
            sessions::Entity::delete_many()
                .filter(sessions::Column::UserId.eq(id))
                .exec(txn)
                .await
                .map_err(backend)?;
            let result = users::Entity::delete_many()
                .filter(users::Column::Id.eq(id))
                .filter(users::Column::Version.eq(version))
                .exec(txn)
                .await
                .map_err(backend)?;
            expect_one(result.rows_affected)?;
        }
        Write::DeleteLog(id) => {
            let result = logs::Entity::delete_many()
                .filter(logs::Column::Id.eq(*id.as_uuid()))
                .exec(txn)
                .await
                .map_err(backend)?;
            expect_one(result.rows_affected)?;
        }
        Write::SetPassword { user, hash } => {
            let user = *user.as_uuid();
            if users::Entity::find_by_id(user).count(txn).await.map_err(backend)? == 0 {
                return Err(ChangeError::Conflict);
            }
            ensure_row(txn, user).await?;
            let update = Query::update()
                .table(credentials::Entity)
                .value(credentials::Column::PasswordHash, hash)
                .value(credentials::Column::FailedAttempts, 0)
                .value(credentials::Column::LockedUntil, Option::<i64>::None)
                .value(credentials::Column::Version, Expr::col(credentials::Column::Version).add(1))
                .and_where(credentials::Column::UserId.eq(user))
                .to_owned();
            txn.execute(&update).await.map_err(backend)?;
        }
        Write::IssueLink(l) => {
            links::Entity::update_many()
                .col_expr(links::Column::State, Expr::value(LinkState::Replaced.as_str()))
                .filter(links::Column::UserId.eq(*l.user.as_uuid()))
                .filter(links::Column::Purpose.eq(l.purpose.as_str()))
                .filter(links::Column::State.eq(LinkState::Pending.as_str()))
                .exec(txn)
                .await
                .map_err(backend)?;
            links::Entity::insert(link_row(&l)).exec(txn).await.map_err(refused)?;
        }
        Write::ConsumeLink { digest, purpose, now } => {
            let result = links::Entity::update_many()
                .col_expr(links::Column::State, Expr::value(LinkState::Accepted.as_str()))
                .filter(links::Column::Digest.eq(digest))
                .filter(links::Column::Purpose.eq(purpose.as_str()))
                .filter(links::Column::State.eq(LinkState::Pending.as_str()))
                .filter(links::Column::ExpiresAt.gt(now.0))
                .exec(txn)
                .await
                .map_err(backend)?;
            if result.rows_affected != 1 {
                return Err(ChangeError::LinkUnusable);
            }
        }
        Write::EndSessions(user) => {
            sessions::Entity::delete_many()
                .filter(sessions::Column::UserId.eq(*user.as_uuid()))
                .exec(txn)
                .await
                .map_err(backend)?;
        }
        Write::RevokeLinks { user, purposes } => {
            let user = *user.as_uuid();
            links::Entity::update_many()
                .col_expr(links::Column::State, Expr::value(LinkState::Revoked.as_str()))
                .filter(links::Column::UserId.eq(user))
                .filter(links::Column::Purpose.is_in(purposes.iter().map(|p| p.as_str())))
                .filter(links::Column::State.eq(LinkState::Pending.as_str()))
                .exec(txn)
                .await
                .map_err(backend)?;
            reset_tokens::Entity::update_many()
                .col_expr(reset_tokens::Column::UsedAt, Expr::col(reset_tokens::Column::IssuedAt))
                .filter(reset_tokens::Column::UserId.eq(user))
                .filter(reset_tokens::Column::UsedAt.is_null())
                .exec(txn)
                .await
                .map_err(backend)?;
        }
        Write::CountFailure { user, lock_after, lock_until, lock_audit } => {
            let id = *user.as_uuid();
            if users::Entity::find_by_id(id).one(txn).await.map_err(backend)?.is_none() {
                return Err(ChangeError::Conflict);
            }
            if count_failure(txn, id, lock_after, lock_until).await?.locked {
                audit_events::Entity::insert(audit_row(&lock_audit))
                    .exec(txn)
                    .await
                    .map_err(backend)?;
            }
        }
        Write::QueueMail(mail) => crate::mail_queue::insert(txn, &mail).await.map_err(backend)?,
        corterum @ (Write::UpsertEntity(_)
        | Write::UpsertGroup(_)
        | Write::UpsertDataset(_)
        | Write::UpsertRole(_)
        | Write::SetUserLinks { .. }
        | Write::AppendVersion { .. }) => crate::corterum::apply(txn, corterum).await?,
    }
    Ok(())
}

impl SeaOrmStore {
    async fn versioned_users(
        &self,
        rows: Vec<users::Model>,
    ) -> Result<Option<Versioned<User>>, BackendError> {
        let Some(row) = rows.into_iter().next() else { return Ok(None) };
        let version = row.version;
        let user = self.with_roles(vec![row]).await?.into_iter().next();
        Ok(user.map(|value| Versioned { value, version }))
    }
}

fn versioned_organisation(
    row: Option<organisations::Model>,
) -> Result<Option<Versioned<Organisation>>, BackendError> {
    row.map(|row| {
        let version = row.version;
        convert::organisation(row).map(|value| Versioned { value, version })
    })
    .transpose()
}

#[async_trait]
impl ChangeStore for SeaOrmStore {
    async fn apply(&self, writes: Vec<Write>, audit: Vec<AuditEvent>) -> Result<(), ChangeError> {
        let txn = self.write_transaction().await?;
        for write in writes {
            apply_one(&txn, write).await?;
        }
        if !audit.is_empty() {
            audit_events::Entity::insert_many(audit.iter().map(audit_row))
                .exec(&txn)
                .await
                .map_err(backend)?;
        }
        txn.commit().await.map_err(backend)
    }

    async fn user(&self, id: UserId) -> Result<Option<Versioned<User>>, BackendError> {
        let row = users::Entity::find_by_id(*id.as_uuid())
            .one(self.db())
            .await
            .map_err(BackendError::new)?;
        self.versioned_users(row.into_iter().collect()).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<Versioned<User>>, BackendError> {
        let row = users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(self.db())
            .await
            .map_err(BackendError::new)?;
        self.versioned_users(row.into_iter().collect()).await
    }

    async fn organisation(
        &self,
        id: OrgId,
    ) -> Result<Option<Versioned<Organisation>>, BackendError> {
        let row = organisations::Entity::find_by_id(*id.as_uuid())
            .one(self.db())
            .await
            .map_err(BackendError::new)?;
        versioned_organisation(row)
    }

    async fn organisation_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Versioned<Organisation>>, BackendError> {
        let row = organisations::Entity::find()
            .filter(organisations::Column::SortName.eq(name.trim().to_lowercase()))
            .order_by_asc(organisations::Column::Id)
            .one(self.db())
            .await
            .map_err(BackendError::new)?;
        versioned_organisation(row)
    }

    async fn relationship_request(
        &self,
        relationship: Relationship,
    ) -> Result<Option<RelationshipRequest>, BackendError> {
        let row = relationship_requests::Entity::find()
            .filter(
                relationship_requests::Column::StockOwnerId.eq(*relationship.stock_owner.as_uuid()),
            )
            .filter(
                relationship_requests::Column::ManagingAgentId
                    .eq(*relationship.managing_agent.as_uuid()),
            )
            .one(self.db())
            .await
            .map_err(BackendError::new)?;
        Ok(row.as_ref().map(relationship_request))
    }

    async fn relationship_requests(
        &self,
        organisation: OrgId,
    ) -> Result<Vec<RelationshipRequest>, BackendError> {
        let id = *organisation.as_uuid();
        let rows = relationship_requests::Entity::find()
            .filter(
                relationship_requests::Column::StockOwnerId
                    .eq(id)
                    .or(relationship_requests::Column::ManagingAgentId.eq(id)),
            )
            .order_by_asc(relationship_requests::Column::RequestedAt)
            .order_by_asc(relationship_requests::Column::StockOwnerId)
            .order_by_asc(relationship_requests::Column::ManagingAgentId)
            .all(self.db())
            .await
            .map_err(BackendError::new)?;
        Ok(rows.iter().map(relationship_request).collect())
    }

    async fn link(&self, digest: &str) -> Result<Option<Link>, BackendError> {
        links::Entity::find()
            .filter(links::Column::Digest.eq(digest))
            .one(self.db())
            .await
            .map_err(BackendError::new)?
            .map(link)
            .transpose()
    }

    async fn links_for_user(&self, user: UserId) -> Result<Vec<Link>, BackendError> {
        links::Entity::find()
            .filter(links::Column::UserId.eq(*user.as_uuid()))
            .order_by_desc(links::Column::IssuedAt)
            .order_by_desc(links::Column::Id)
            .all(self.db())
            .await
            .map_err(BackendError::new)?
            .into_iter()
            .map(link)
            .collect()
    }

    async fn credential(&self, user: UserId) -> Result<Option<Credential>, BackendError> {
        let id = *user.as_uuid();
        let db = self.db();
        if users::Entity::find_by_id(id).one(db).await.map_err(BackendError::new)?.is_none() {
            return Ok(None);
        }
        let row = credentials::Entity::find_by_id(id).one(db).await.map_err(BackendError::new)?;
        Ok(Some(Credential {
            password_hash: row.as_ref().and_then(|c| c.password_hash.clone()),
            locked_until: row.and_then(|c| c.locked_until).map(Timestamp),
        }))
    }

    async fn audit(&self, query: &AuditQuery, page: Page) -> Result<Vec<AuditEvent>, BackendError> {
        let mut select = audit_events::Entity::find();
        if let Some(org) = query.organisation {
            select = select.filter(audit_events::Column::OrganisationId.eq(*org.as_uuid()));
        }
        if let Some(user) = query.user {
            let user = *user.as_uuid();
            select = select.filter(
                audit_events::Column::ActorId
                    .eq(user)
                    .or(audit_events::Column::TargetUserId.eq(user)),
            );
        }
        if let Some(side) = query.side {
            // Entries about an organisation of another side, or by or about one of its
            // users, are left out, in the query.
            let other = || {
                Query::select()
                    .column(organisations::Column::Id)
                    .from(organisations::Entity)
                    .and_where(Expr::col(organisations::Column::Kind).ne(side.as_str()))
                    .to_owned()
            };
            let others = || {
                Query::select()
                    .column(users::Column::Id)
                    .from(users::Entity)
                    .and_where(Expr::col(users::Column::OrganisationId).in_subquery(other()))
                    .to_owned()
            };
            select = select
                .filter(
                    audit_events::Column::OrganisationId
                        .is_null()
                        .or(audit_events::Column::OrganisationId.not_in_subquery(other())),
                )
                .filter(
                    audit_events::Column::ActorId
                        .is_null()
                        .or(audit_events::Column::ActorId.not_in_subquery(others())),
                )
                .filter(
                    audit_events::Column::TargetUserId
                        .is_null()
                        .or(audit_events::Column::TargetUserId.not_in_subquery(others())),
                );
        }
        if let Some(name) = query.name {
            select = select.filter(audit_events::Column::Event.eq(name.as_str()));
        }
        if let Some(from) = query.from {
            select = select.filter(audit_events::Column::At.gte(from.0));
        }
        if let Some(before) = query.before {
            select = select.filter(audit_events::Column::At.lt(before.0));
        }
        select
            .order_by_desc(audit_events::Column::At)
            .order_by_desc(audit_events::Column::Id)
            .offset(page.offset as u64)
            .limit(page.limit.min(Page::MAX_LIMIT) as u64)
            .all(self.db())
            .await
            .map_err(BackendError::new)?
            .iter()
            .map(audit_event)
            .collect()
    }

    async fn anyone_holds(&self, role: RoleId) -> Result<bool, BackendError> {
        let n = user_roles::Entity::find()
            .filter(user_roles::Column::RoleId.eq(*role.as_uuid()))
            .limit(1)
            .count(self.db())
            .await
            .map_err(BackendError::new)?;
        if n > 0 {
            return Ok(true);
        }
        let pending = links::Entity::find()
            .filter(links::Column::RoleId.eq(*role.as_uuid()))
            .filter(links::Column::State.eq(LinkState::Pending.as_str()))
            .limit(1)
            .count(self.db())
            .await
            .map_err(BackendError::new)?;
        Ok(pending > 0)
    }
}
