//! The `Directory` port over SQL: snapshots hold only the rows a decision needs (the rows
//! `World::slice` keeps), and lists run the engine's `Scope` as a `WHERE` clause.

use std::collections::HashMap;

use async_trait::async_trait;
use sea_orm::sea_query::{
    Alias, Expr, IntoIden, JoinType, LikeExpr, Query, SelectStatement, UnionType,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, ExprTrait, FromQueryResult,
    IdenStatic, Iterable, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
};
use tenure_core::{
    BackendError, Directory, LinkPurpose, LinkState, NamedLog, NamedUser, OrganisationQuery, Page,
    Search, SessionRecord, UserQuery, UserSort,
};
use tenure_domain::{
    Log, Name, OrgId, Organisation, OrganisationKind, Relationship, Resource, RoleId, Scope, User,
    UserId, World,
};
use uuid::Uuid;

use crate::SeaOrmStore;
use crate::convert;
use crate::entity::{links, logs, organisations, relationships, sessions, user_roles, users};

/// CORE's and Corterum's built-in roles, built once.
fn catalogue() -> &'static tenure_domain::RoleCatalogue {
    static CATALOGUE: std::sync::OnceLock<tenure_domain::RoleCatalogue> =
        std::sync::OnceLock::new();
    CATALOGUE.get_or_init(tenure_domain::RoleCatalogue::with_corterum)
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> BackendError {
    BackendError::new(e)
}

impl SeaOrmStore {
    /// The roles of these users, by user.
    async fn roles_of(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<RoleId>>, BackendError> {
        let mut roles: HashMap<Uuid, Vec<RoleId>> = HashMap::new();
        if ids.is_empty() {
            return Ok(roles);
        }
        let rows = user_roles::Entity::find()
            .filter(user_roles::Column::UserId.is_in(ids.iter().copied()))
            .order_by_asc(user_roles::Column::RoleId)
            .all(self.db())
            .await
            .map_err(backend)?;
        for row in rows {
            roles.entry(row.user_id).or_default().push(RoleId::from_uuid(row.role_id));
        }
        Ok(roles)
    }

    /// The users a query selects, each with their roles, in one round trip: the roles
    /// come as one aggregated column (see [`roles_column`]) instead of a second query.
    /// With `named`, each user's organisation name comes as one more correlated column
    /// ([`ORGANISATION_NAME_COLUMN`]); without, it is `None`. Every round trip to SQLite
    /// costs two thread hand-offs, which is most of a signed-in page's time (see
    /// docs/performance.md).
    async fn users_with_roles(
        &self,
        query: sea_orm::Select<users::Entity>,
        named: bool,
    ) -> Result<Vec<NamedUser>, BackendError> {
        let db_backend = self.backend();
        let mut query = query.column_as(Expr::cust(roles_column(db_backend)), "role_ids");
        if named {
            query = query.column_as(Expr::cust(ORGANISATION_NAME_COLUMN), "organisation_name");
        }
        let rows = self.db().query_all_raw(query.build(db_backend)).await.map_err(backend)?;
        rows.iter()
            .map(|row| {
                let user = user_with_roles(row, "")?;
                let organisation = if named {
                    let name: Option<String> =
                        row.try_get("", "organisation_name").map_err(backend)?;
                    name.map(|n| stored_name(*user.organisation.as_uuid(), &n)).transpose()?
                } else {
                    None
                };
                Ok(NamedUser { user, organisation })
            })
            .collect()
    }

    /// The actor's row (found by id, or by session), their roles, their organisation, its
    /// relationships and the organisations at their other ends: one round trip.
    async fn actor_rows(&self, key: ActorKey<'_>) -> Result<ActorRows, BackendError> {
        let statement = actor_and_orgs(key, roles_column(self.backend()));
        let mut out = ActorRows::default();
        for row in self.db().query_all(&statement).await.map_err(backend)? {
            let actor: Option<Uuid> = row.try_get("", "u_id").map_err(backend)?;
            if actor.is_some() {
                out.actor = Some(user_with_roles(&row, "u_")?);
                if matches!(key, ActorKey::Session(_)) {
                    let s = sessions::Model::from_query_result(&row, "s_").map_err(backend)?;
                    out.session = Some(crate::sessions::record(s));
                }
            }
            let org = organisations::Model::from_query_result(&row, "").map_err(backend)?;
            let owner: Option<Uuid> = row.try_get("", "edge_owner").map_err(backend)?;
            let agent: Option<Uuid> = row.try_get("", "edge_agent").map_err(backend)?;
            if let (Some(stock_owner_id), Some(managing_agent_id)) = (owner, agent) {
                out.edges.push(relationships::Model { stock_owner_id, managing_agent_id });
            }
            if !out.orgs.iter().any(|o| o.id == org.id) {
                out.orgs.push(org);
            }
        }
        Ok(out)
    }

    /// The session with this digest and its user's snapshot of the service.
    pub(crate) async fn session_snapshot(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, World)>, BackendError> {
        let mut rows = self.actor_rows(ActorKey::Session(digest)).await?;
        let Some(session) = rows.session.take() else { return Ok(None) };
        let world = self.snapshot_from(rows, session.user, Resource::Service).await?;
        Ok(Some((session, world)))
    }

    /// The rest of a snapshot once the actor's rows are read: the resource, its
    /// organisations, the holders of the guarded role, custom roles and Corterum's rows.
    async fn snapshot_from(
        &self,
        rows: ActorRows,
        actor: UserId,
        resource: Resource,
    ) -> Result<World, BackendError> {
        let db = self.db();
        let mut world = World::with_roles(catalogue().clone());
        let mut org_ids: Vec<Uuid> = Vec::new();
        let mut user_rows: Vec<users::Model> = Vec::new();
        let ActorRows { actor: actor_user, orgs: mut loaded, edges, .. } = rows;

        let mut log_row = None;
        match resource {
            Resource::User(id) => {
                if let Some(t) =
                    users::Entity::find_by_id(*id.as_uuid()).one(db).await.map_err(backend)?
                {
                    org_ids.push(t.organisation_id);
                    if let Some(guarded) = world.roles().guarded() {
                        let holders = users::Entity::find()
                            .filter(users::Column::OrganisationId.eq(t.organisation_id))
                            .filter(users::Column::Active.eq(true))
                            .filter(holds_role(guarded))
                            .all(db)
                            .await
                            .map_err(backend)?;
                        user_rows.extend(holders);
                    }
                    user_rows.push(t);
                }
            }
            Resource::Organisation(id) => {
                org_ids.push(*id.as_uuid());
                // Its users holding a role that cannot be revoked, with their roles, as
                // `World::slice` holds them: the engine refuses deactivating or merging
                // the organisation while one belongs (`World::irrevocable_holders`).
                let irrevocable: Vec<RoleId> =
                    world.roles().iter().filter(|r| r.irrevocable).map(|r| r.id).collect();
                for role in irrevocable {
                    let holders = users::Entity::find()
                        .filter(users::Column::OrganisationId.eq(*id.as_uuid()))
                        .filter(holds_role(role))
                        .all(db)
                        .await
                        .map_err(backend)?;
                    user_rows.extend(holders);
                }
            }
            Resource::Log(id) => {
                if let Some(l) =
                    logs::Entity::find_by_id(*id.as_uuid()).one(db).await.map_err(backend)?
                {
                    org_ids.push(l.owning_organisation_id);
                    org_ids.push(l.managing_organisation_id);
                    log_row = Some(l);
                }
            }
            Resource::Service => {}
            // Corterum's entities and datasets come from their own tables, below.
            Resource::Entity(_)
            | Resource::Instance { .. }
            | Resource::Feature(_)
            | Resource::Group(_)
            | Resource::Role(_) => {}
        }

        org_ids.sort_unstable();
        org_ids.dedup();
        org_ids.retain(|id| !loaded.iter().any(|o| o.id == *id));
        if !org_ids.is_empty() {
            let orgs = organisations::Entity::find()
                .filter(organisations::Column::Id.is_in(org_ids.iter().copied()))
                .all(db)
                .await
                .map_err(backend)?;
            loaded.extend(orgs);
        }
        for row in loaded {
            world.insert_organisation(convert::organisation(row)?).map_err(backend)?;
        }
        for e in edges {
            let rel = Relationship {
                stock_owner: OrgId::from_uuid(e.stock_owner_id),
                managing_agent: OrgId::from_uuid(e.managing_agent_id),
            };
            world.add_relationship(rel).map_err(backend)?;
        }
        user_rows.retain(|u| u.id != *actor.as_uuid());
        user_rows.sort_unstable_by_key(|u| u.id);
        user_rows.dedup_by_key(|u| u.id);
        // Only a snapshot about another user needs a second round trip for roles.
        let mut users =
            if user_rows.is_empty() { Vec::new() } else { self.with_roles(user_rows).await? };
        users.extend(actor_user);
        self.add_custom_roles(&mut world, &users).await?;
        for user in users {
            world.upsert_user(user).map_err(backend)?;
        }
        if let Some(l) = log_row {
            world.upsert_log(convert::log(&l)).map_err(backend)?;
        }
        self.add_corterum(&mut world, actor, resource).await?;
        Ok(world)
    }

    /// Users with their roles, in the order given.
    pub(crate) async fn with_roles(
        &self,
        rows: Vec<users::Model>,
    ) -> Result<Vec<User>, BackendError> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut roles = self.roles_of(&ids).await?;
        rows.into_iter()
            .map(|row| {
                let r = roles.remove(&row.id).unwrap_or_default();
                convert::user(&row, r)
            })
            .collect()
    }
}

/// How the actor of a snapshot is found.
#[derive(Clone, Copy, Debug)]
enum ActorKey<'a> {
    /// By their id.
    User(Uuid),
    /// By the digest of a session of theirs.
    Session(&'a str),
}

/// What [`actor_and_orgs`] reads: the actor (with their session, when found by one),
/// their organisation and the organisations related to it, and the edges between them.
#[derive(Default, Debug)]
struct ActorRows {
    session: Option<SessionRecord>,
    actor: Option<User>,
    orgs: Vec<organisations::Model>,
    edges: Vec<relationships::Model>,
}

/// The roles of the `users` row in scope, as one comma-separated column of ids:
/// `group_concat` on SQLite (hex, as the ids are blobs), `string_agg` on PostgreSQL.
pub(crate) fn roles_column(db: DbBackend) -> &'static str {
    match db {
        DbBackend::Postgres => {
            "(SELECT string_agg(\"user_roles\".\"role_id\"::text, ',') FROM \"user_roles\" \
             WHERE \"user_roles\".\"user_id\" = \"users\".\"id\")"
        }
        _ => {
            "(SELECT group_concat(hex(\"user_roles\".\"role_id\"), ',') FROM \"user_roles\" \
             WHERE \"user_roles\".\"user_id\" = \"users\".\"id\")"
        }
    }
}

/// The name of the row's user's organisation, as a correlated column. SQLite and
/// PostgreSQL evaluate it only for the rows a page returns, one primary-key lookup each.
const ORGANISATION_NAME_COLUMN: &str = "(SELECT \"organisations\".\"name\" FROM \"organisations\" \
     WHERE \"organisations\".\"id\" = \"users\".\"organisation_id\")";

/// A user from a row holding the `users` columns and [`roles_column`] as `role_ids`,
/// each name after `prefix`.
pub(crate) fn user_with_roles(
    row: &sea_orm::QueryResult,
    prefix: &str,
) -> Result<User, BackendError> {
    let model = users::Model::from_query_result(row, prefix).map_err(backend)?;
    let list: Option<String> = row.try_get(prefix, "role_ids").map_err(backend)?;
    let mut roles = Vec::new();
    for id in list.iter().flat_map(|l| l.split(',')).filter(|s| !s.is_empty()) {
        let uuid = Uuid::parse_str(id).map_err(|e| {
            BackendError::new(format!("stored role of user `{}` is invalid: {e}", model.id))
        })?;
        roles.push(RoleId::from_uuid(uuid));
    }
    roles.sort_unstable();
    convert::user(&model, roles)
}

/// The actor's row with their roles (columns `u_*`, and the session's as `s_*` when found
/// by one) beside their organisation (edge columns null), then each organisation related
/// to it with the edge that relates them (actor columns null): `UNION ALL` of three
/// indexed lookups, the actor's branch first so PostgreSQL types the null columns from it.
fn actor_and_orgs(key: ActorKey<'_>, roles: &'static str) -> SelectStatement {
    // Every branch starts from the actor's row, found by id or by session.
    let from_actor = |q: &mut SelectStatement| match key {
        ActorKey::User(id) => {
            q.from(users::Entity).and_where(Expr::col((users::Entity, users::Column::Id)).eq(id));
        }
        ActorKey::Session(digest) => {
            q.from(sessions::Entity)
                .inner_join(
                    users::Entity,
                    Expr::col((users::Entity, users::Column::Id))
                        .equals((sessions::Entity, sessions::Column::UserId)),
                )
                .and_where(Expr::col((sessions::Entity, sessions::Column::Digest)).eq(digest));
        }
    };
    // The actor's columns: the real ones in the actor's branch, nulls in the others.
    let actor_columns = |q: &mut SelectStatement, real: bool| {
        let mut column = |expr: Expr, alias: String| {
            q.expr_as(if real { expr } else { Expr::cust("NULL") }, Alias::new(alias));
        };
        for c in users::Column::iter() {
            column(Expr::col((users::Entity, c)), format!("u_{}", c.as_str()));
        }
        column(Expr::cust(roles), "u_role_ids".to_owned());
        if matches!(key, ActorKey::Session(_)) {
            for c in sessions::Column::iter() {
                column(Expr::col((sessions::Entity, c)), format!("s_{}", c.as_str()));
            }
        }
    };
    let org_columns = |q: &mut SelectStatement| {
        for c in organisations::Column::iter() {
            q.column((organisations::Entity, c));
        }
    };

    let mut own = Query::select();
    actor_columns(&mut own, true);
    org_columns(&mut own);
    own.expr_as(Expr::val(Option::<Uuid>::None), Alias::new("edge_owner"))
        .expr_as(Expr::val(Option::<Uuid>::None), Alias::new("edge_agent"));
    from_actor(&mut own);
    own.inner_join(
        organisations::Entity,
        Expr::col((organisations::Entity, organisations::Column::Id))
            .equals((users::Entity, users::Column::OrganisationId)),
    );

    let related = |home_side: relationships::Column, other_side: relationships::Column| {
        let mut q = Query::select();
        actor_columns(&mut q, false);
        org_columns(&mut q);
        q.expr_as(
            Expr::col((relationships::Entity, relationships::Column::StockOwnerId)),
            Alias::new("edge_owner"),
        )
        .expr_as(
            Expr::col((relationships::Entity, relationships::Column::ManagingAgentId)),
            Alias::new("edge_agent"),
        );
        from_actor(&mut q);
        q.inner_join(
            relationships::Entity,
            Expr::col((relationships::Entity, home_side))
                .equals((users::Entity, users::Column::OrganisationId)),
        )
        .inner_join(
            organisations::Entity,
            Expr::col((organisations::Entity, organisations::Column::Id))
                .equals((relationships::Entity, other_side)),
        );
        q
    };
    own.union(
        UnionType::All,
        related(relationships::Column::StockOwnerId, relationships::Column::ManagingAgentId),
    )
    .union(
        UnionType::All,
        related(relationships::Column::ManagingAgentId, relationships::Column::StockOwnerId),
    );
    own
}

/// A stored display name, which must still parse.
fn stored_name(id: Uuid, name: &str) -> Result<Name, BackendError> {
    Name::parse(name)
        .map_err(|e| BackendError::new(format!("stored name of `{id}` is invalid: {e}")))
}

/// The most organisations whose logs a SQLite page finds by merging index ranges (see
/// [`merged_log_ids`]): two branches each, well inside SQLite's limit of 500 branches
/// in one compound `SELECT`. A wider scope is rare (an organisation with over 63
/// relationships) and takes the sorting plan.
const MERGED_ORGANISATIONS: usize = 64;

/// One page of the logs a scope matches, ordered by id.
fn logs_page(scope: &Scope, page: Page, db: DbBackend) -> sea_orm::Select<logs::Entity> {
    let query = logs::Entity::find();
    if db == DbBackend::Sqlite
        && !scope.everything
        && scope.organisations.len() <= MERGED_ORGANISATIONS
    {
        return query
            .filter(
                Expr::col((logs::Entity, logs::Column::Id))
                    .in_subquery(merged_log_ids(scope, page)),
            )
            .order_by_asc(logs::Column::Id);
    }
    let org_columns = [logs::Column::OwningOrganisationId, logs::Column::ManagingOrganisationId];
    let query = match scope_condition(scope, &org_columns, logs::Column::AssignedTo) {
        Some(condition) => query.filter(condition),
        None => query,
    };
    query.order_by_asc(logs::Column::Id).offset(page.offset as u64).limit(page_limit(page))
}

/// The ids on one page of a scope's logs, as SQLite finds them fastest: one branch per
/// organisation and column (and one for the actor's own logs), each a range of an
/// `(organisation, id)` index and so already in id order, joined by `UNION`. SQLite
/// merges such branches as streams, dropping duplicates (a log both owned and managed
/// in scope), and stops at the page's end: it reads `offset + limit` ids and no row.
/// `organisation IN (...) OR ...` instead gathers every matching row and sorts them:
/// for a coordinator reaching 4 organisations, 574 rows for a page of 21 (0.16 ms
/// against 0.05 ms, docs/performance.md).
///
/// For a scope of everything it is wrong: its caller takes the other plan.
fn merged_log_ids(scope: &Scope, page: Page) -> SelectStatement {
    let branch = |column: logs::Column, value: Uuid| {
        Query::select()
            .column(logs::Column::Id)
            .from(logs::Entity)
            .and_where(Expr::col(column).eq(value))
            .to_owned()
    };
    let mut branches = Vec::with_capacity(2 * scope.organisations.len() + 1);
    for org in &scope.organisations {
        for column in [logs::Column::OwningOrganisationId, logs::Column::ManagingOrganisationId] {
            branches.push(branch(column, *org.as_uuid()));
        }
    }
    if scope.own {
        branches.push(branch(logs::Column::AssignedTo, *scope.actor.as_uuid()));
    }
    let mut branches = branches.into_iter();
    // A scope of nothing has no branch: one that matches nothing stands in.
    let mut ids = branches.next().unwrap_or_else(|| {
        Query::select()
            .column(logs::Column::Id)
            .from(logs::Entity)
            .and_where(Expr::val(false))
            .to_owned()
    });
    for other in branches {
        ids.union(UnionType::Distinct, other);
    }
    // Unqualified: a compound's ORDER BY names a column of its result.
    ids.order_by(Alias::new("id"), sea_orm::Order::Asc)
        .limit(page_limit(page))
        .offset(page.offset as u64)
        .to_owned()
}

/// `users.id IN (SELECT user_id FROM user_roles WHERE role_id = ?)`.
fn holds_role(role: RoleId) -> sea_orm::sea_query::SimpleExpr {
    users::Column::Id.in_subquery(
        Query::select()
            .column(user_roles::Column::UserId)
            .from(user_roles::Entity)
            .and_where(user_roles::Column::RoleId.eq(*role.as_uuid()))
            .to_owned(),
    )
}

/// How many matches a PostgreSQL service-wide search sorts itself rather than walking the
/// name index (see `few_matches`).
const FEW: u64 = 2_000;

/// A page's row limit, never above [`Page::MAX_LIMIT`].
fn page_limit(page: Page) -> u64 {
    page.limit.min(Page::MAX_LIMIT) as u64
}

/// `text LIKE '%term%'`, with the term's own `%`, `_` and `\` matched literally.
pub(crate) fn contains(search: &Search) -> LikeExpr {
    let mut pattern = String::with_capacity(search.as_str().len() + 2);
    pattern.push('%');
    for c in search.as_str().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    LikeExpr::new(pattern).escape('\\')
}

/// `column` names an organisation of `kind`: a housing organisation is any that is not a
/// company, a company one that is. Either way the subquery reads the companies (through
/// `organisations_by_kind`), which are few beside CORE's housing organisations, so
/// CORE's service-wide lists pay one small hashed lookup.
fn of_kind<C: ColumnTrait>(column: C, kind: OrganisationKind) -> sea_orm::sea_query::SimpleExpr {
    let companies = Query::select()
        .column(organisations::Column::Id)
        .from(organisations::Entity)
        .and_where(organisations::Column::Kind.eq(OrganisationKind::Company.as_str()))
        .to_owned();
    match kind {
        OrganisationKind::Housing => column.not_in_subquery(companies),
        OrganisationKind::Company => column.in_subquery(companies),
    }
}

/// The scope as a condition on an organisation column (or two) and an "own" column.
/// A scope of everything is every organisation of its kind, on the first column.
pub(crate) fn scope_condition<C: ColumnTrait>(
    scope: &Scope,
    org_columns: &[C],
    own_column: C,
) -> Option<Condition> {
    if scope.everything {
        return org_columns.first().map(|c| Condition::all().add(of_kind(*c, scope.kind)));
    }
    let orgs: Vec<Uuid> = scope.organisations.iter().map(|o| *o.as_uuid()).collect();
    let mut condition = Condition::any();
    if !orgs.is_empty() {
        for col in org_columns {
            condition = condition.add(col.is_in(orgs.iter().copied()));
        }
    }
    if scope.own {
        condition = condition.add(own_column.eq(*scope.actor.as_uuid()));
    }
    Some(condition)
}

impl SeaOrmStore {
    /// PostgreSQL's first page of a service-wide search, when the term matches at most
    /// [`FEW`] users; `None` when it matches more.
    ///
    /// PostgreSQL estimates how many users a `LIKE '%term%'` matches well, but assumes
    /// they are spread evenly through the name index, so for a `LIMIT 20` it walks that
    /// index in order and filters. Names that match a term share a prefix and sit
    /// together, often at the end: "user 99" walked 98,889 index entries (75 ms) to find
    /// 20 of its 1,111 matches. Here the matches are fetched first, through the trigram
    /// indexes, into a materialised CTE (at most `FEW + 1`) and sorted there: 8 ms. A
    /// term with more matches than that is common enough that the index walk finds a
    /// page quickly, so the caller falls back to it.
    async fn few_matches(
        &self,
        matches: sea_orm::Select<users::Entity>,
        sort: users::Column,
        page: Page,
    ) -> Result<Option<Vec<users::Model>>, BackendError> {
        let inner = matches.limit(FEW + 1).build(DbBackend::Postgres);
        let sort = match sort {
            users::Column::Email => "email",
            _ => "sort_name",
        };
        let sql = format!(
            "WITH m AS MATERIALIZED ({}) SELECT m.*, count(*) OVER () AS matched FROM m \
             ORDER BY m.{sort}, m.id LIMIT {} OFFSET {}",
            inner.sql,
            page_limit(page),
            page.offset
        );
        let rows = self
            .db()
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                inner.values.map_or_else(Vec::new, |v| v.0),
            ))
            .await
            .map_err(backend)?;
        let matched = match rows.first() {
            Some(row) => row.try_get::<i64>("", "matched").map_err(backend)?,
            // Nothing on this page: either nothing matched, or the page is past the end
            // of the few matches. The plain query answers both correctly.
            None => return Ok(None),
        };
        if matched > FEW as i64 {
            return Ok(None);
        }
        rows.iter()
            .map(|row| users::Model::from_query_result(row, "").map_err(backend))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The FTS5 phrase for the term's rarest trigram. The trigram table only prefilters
    /// (the escaped `LIKE` stays the exact test), and any one trigram of the term is a
    /// correct prefilter; the rarest makes the smallest candidate list. A phrase of the
    /// whole term must walk every trigram's list, and in names that share a prefix
    /// ("User 1", "User 2", ...) some lists hold every row: 6 ms against 2 ms for the
    /// rarest alone, on 100,000 users. One round trip counts each trigram's matches, up
    /// to a cap.
    async fn rarest_trigram(&self, term: &str) -> Result<String, BackendError> {
        const CAP: usize = 2_000;
        let chars: Vec<char> = term.chars().collect();
        let mut trigrams: Vec<String> =
            chars.windows(3).map(|w| w.iter().collect::<String>()).collect();
        trigrams.sort_unstable();
        trigrams.dedup();
        let phrase = |t: &str| format!("\"{}\"", t.replace('"', "\"\""));
        if trigrams.len() <= 1 {
            return Ok(phrase(term));
        }
        let counts: Vec<String> = trigrams
            .iter()
            .map(|_| {
                format!(
                    "(SELECT count(*) FROM (SELECT rowid FROM users_search WHERE users_search MATCH ? LIMIT {CAP}))"
                )
            })
            .collect();
        let sql = format!("SELECT {}", counts.join(", "));
        let values: Vec<sea_orm::Value> = trigrams.iter().map(|t| phrase(t).into()).collect();
        let row = self
            .db()
            .query_one_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values))
            .await
            .map_err(backend)?
            .ok_or_else(|| BackendError::new("counting trigram matches returned no row"))?;
        let mut best = (i64::MAX, 0);
        for i in 0..trigrams.len() {
            let n: i64 = row.try_get_by_index(i).map_err(backend)?;
            if n < best.0 {
                best = (n, i);
            }
        }
        Ok(phrase(&trigrams[best.1]))
    }
}

impl SeaOrmStore {
    /// One page of the users a scope and a query both match, in the query's order, with
    /// their organisations' names when `named`.
    async fn users_listed(
        &self,
        scope: &Scope,
        filter: &UserQuery,
        page: Page,
        named: bool,
    ) -> Result<Vec<NamedUser>, BackendError> {
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        let mut query = users::Entity::find();
        if let Some(condition) =
            scope_condition(scope, &[users::Column::OrganisationId], users::Column::Id)
        {
            query = query.filter(condition);
        }
        if let Some(search) = &filter.search {
            query = query.filter(
                Condition::any()
                    .add(users::Column::SortName.like(contains(search)))
                    .add(users::Column::Email.like(contains(search))),
            );
            // Across everyone, SQLite needs the trigram table named to avoid walking every
            // user (PostgreSQL's `LIKE` finds its trigram indexes by itself). Within a
            // scope the organisation index already narrows the rows, and the trigram
            // lists of common fragments would cost more than they save. Trigrams need
            // at least three characters.
            if scope.everything
                && self.backend() == DbBackend::Sqlite
                && search.as_str().chars().count() >= 3
            {
                let phrase = self.rarest_trigram(search.as_str()).await?;
                query = query.filter(Expr::cust_with_values(
                    "\"users\".\"rowid\" IN (SELECT rowid FROM users_search WHERE users_search MATCH ?)",
                    [phrase],
                ));
            }
        }
        if let Some(active) = filter.active {
            query = query.filter(users::Column::Active.eq(active));
        }
        if let Some(org) = filter.organisation {
            query = query.filter(users::Column::OrganisationId.eq(*org.as_uuid()));
        }
        if let Some(dpo) = filter.data_protection_officer {
            query = query.filter(users::Column::DataProtectionOfficer.eq(dpo));
        }
        if let Some(key_contact) = filter.key_contact {
            query = query.filter(users::Column::KeyContact.eq(key_contact));
        }
        if let Some(role) = filter.role {
            query = query.filter(holds_role(role));
        }
        let sort = match filter.sort {
            UserSort::Name => users::Column::SortName,
            UserSort::Email => users::Column::Email,
        };
        if scope.everything
            && self.backend() == DbBackend::Postgres
            && filter.search.as_ref().is_some_and(|s| s.as_str().chars().count() >= 3)
        {
            if let Some(rows) = self.few_matches(query.clone(), sort, page).await? {
                // The rows are here already: their roles, and their names when asked, in
                // one more read each.
                let users = self.with_roles(rows).await?;
                let names = if named {
                    let orgs: Vec<OrgId> = users.iter().map(|u| u.organisation).collect();
                    self.names(&[], &orgs).await?.organisations
                } else {
                    HashMap::new()
                };
                return Ok(users
                    .into_iter()
                    .map(|user| NamedUser {
                        organisation: names.get(&user.organisation).cloned(),
                        user,
                    })
                    .collect());
            }
        }
        let query = query
            .order_by_asc(sort)
            .order_by_asc(users::Column::Id)
            .offset(page.offset as u64)
            .limit(page_limit(page));
        self.users_with_roles(query, named).await
    }
}

/// The most user ids one `WHERE user_id IN (...)` carries.
const IDS_PER_STATEMENT: usize = 500;

/// [`Directory::invitation_roles`] on `conn` (the store's pool, or a chunk's
/// transaction): one query a [`IDS_PER_STATEMENT`] ids, the users' invitations and
/// reactivations not yet accepted, newest first (issue time, then id, as
/// `links_for_user`), and the first of each user's wins.
pub(crate) async fn invitation_roles<C: ConnectionTrait>(
    conn: &C,
    users: &[UserId],
) -> Result<Vec<(UserId, Option<RoleId>)>, BackendError> {
    let mut newest: HashMap<Uuid, Option<RoleId>> = HashMap::new();
    for part in users.chunks(IDS_PER_STATEMENT) {
        let rows = links::Entity::find()
            .filter(links::Column::UserId.is_in(part.iter().map(|u| *u.as_uuid())))
            .filter(
                links::Column::Purpose
                    .is_in([LinkPurpose::Invitation.as_str(), LinkPurpose::Reactivation.as_str()]),
            )
            .filter(links::Column::State.ne(LinkState::Accepted.as_str()))
            .order_by_desc(links::Column::IssuedAt)
            .order_by_desc(links::Column::Id)
            .all(conn)
            .await
            .map_err(backend)?;
        for row in rows {
            newest.entry(row.user_id).or_insert_with(|| row.role_id.map(RoleId::from_uuid));
        }
    }
    Ok(newest.into_iter().map(|(u, r)| (UserId::from_uuid(u), r)).collect())
}

#[async_trait]
impl Directory for SeaOrmStore {
    async fn invitation_roles(
        &self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, Option<RoleId>)>, BackendError> {
        invitation_roles(self.db(), users).await
    }

    async fn relationships_of(
        &self,
        organisations: &[OrgId],
    ) -> Result<Vec<Relationship>, BackendError> {
        let ids: Vec<Uuid> = organisations.iter().map(|o| *o.as_uuid()).collect();
        let rows = relationships::Entity::find()
            .filter(
                Condition::any()
                    .add(relationships::Column::StockOwnerId.is_in(ids.iter().copied()))
                    .add(relationships::Column::ManagingAgentId.is_in(ids)),
            )
            .all(self.db())
            .await
            .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|e| Relationship {
                stock_owner: OrgId::from_uuid(e.stock_owner_id),
                managing_agent: OrgId::from_uuid(e.managing_agent_id),
            })
            .collect())
    }

    async fn snapshot(&self, actor: UserId, resource: Resource) -> Result<World, BackendError> {
        let rows = self.actor_rows(ActorKey::User(*actor.as_uuid())).await?;
        self.snapshot_from(rows, actor, resource).await
    }

    async fn users(
        &self,
        scope: &Scope,
        filter: &UserQuery,
        page: Page,
    ) -> Result<Vec<User>, BackendError> {
        let users = self.users_listed(scope, filter, page, false).await?;
        Ok(users.into_iter().map(|u| u.user).collect())
    }

    async fn users_named(
        &self,
        scope: &Scope,
        filter: &UserQuery,
        page: Page,
    ) -> Result<Vec<NamedUser>, BackendError> {
        self.users_listed(scope, filter, page, true).await
    }

    async fn organisations(
        &self,
        scope: &Scope,
        filter: &OrganisationQuery,
        page: Page,
    ) -> Result<Vec<Organisation>, BackendError> {
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        let mut query = organisations::Entity::find()
            .filter(organisations::Column::Kind.eq(scope.kind.as_str()));
        if !scope.everything {
            if let Some(condition) =
                scope_condition(scope, &[organisations::Column::Id], organisations::Column::Id)
            {
                query = query.filter(condition);
            }
        }
        if let Some(search) = &filter.search {
            query = query.filter(organisations::Column::SortName.like(contains(search)));
        }
        if let Some(active) = filter.active {
            query = query.filter(organisations::Column::Active.eq(active));
        }
        query
            .order_by_asc(organisations::Column::SortName)
            .order_by_asc(organisations::Column::Id)
            .offset(page.offset as u64)
            .limit(page_limit(page))
            .all(self.db())
            .await
            .map_err(backend)?
            .into_iter()
            .map(convert::organisation)
            .collect()
    }

    async fn names(
        &self,
        user_ids: &[UserId],
        org_ids: &[OrgId],
    ) -> Result<tenure_core::Names, BackendError> {
        let mut names = tenure_core::Names::default();
        if !user_ids.is_empty() {
            let rows: Vec<(Uuid, String)> = users::Entity::find()
                .select_only()
                .columns([users::Column::Id, users::Column::Name])
                .filter(users::Column::Id.is_in(user_ids.iter().map(|u| *u.as_uuid())))
                .into_tuple()
                .all(self.db())
                .await
                .map_err(backend)?;
            for (id, name) in rows {
                names.users.insert(UserId::from_uuid(id), stored_name(id, &name)?);
            }
        }
        if !org_ids.is_empty() {
            let rows: Vec<(Uuid, String)> = organisations::Entity::find()
                .select_only()
                .columns([organisations::Column::Id, organisations::Column::Name])
                .filter(organisations::Column::Id.is_in(org_ids.iter().map(|o| *o.as_uuid())))
                .into_tuple()
                .all(self.db())
                .await
                .map_err(backend)?;
            for (id, name) in rows {
                names.organisations.insert(OrgId::from_uuid(id), stored_name(id, &name)?);
            }
        }
        Ok(names)
    }

    async fn logs(&self, scope: &Scope, page: Page) -> Result<Vec<Log>, BackendError> {
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        Ok(logs_page(scope, page, self.backend())
            .all(self.db())
            .await
            .map_err(backend)?
            .into_iter()
            .map(|row| convert::log(&row))
            .collect())
    }

    async fn logs_named(&self, scope: &Scope, page: Page) -> Result<Vec<NamedLog>, BackendError> {
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        // The page is chosen first, exactly as `logs` chooses it, in a subquery: its
        // LIMIT keeps the joins outside (neither SQLite nor PostgreSQL flattens it), so
        // they cannot change how the page is found. Then each name joins its log (a
        // deleted assignee, or a missing organisation, leaves its name null).
        let page_rows = Alias::new("page");
        let mut q = Query::select();
        for c in logs::Column::iter() {
            q.column((page_rows.clone(), c));
        }
        q.from_subquery(logs_page(scope, page, self.backend()).into_query(), page_rows.clone());
        for (alias, table, on, name) in [
            (
                "owner_org",
                organisations::Entity.into_iden(),
                logs::Column::OwningOrganisationId,
                "owner_name",
            ),
            (
                "manager_org",
                organisations::Entity.into_iden(),
                logs::Column::ManagingOrganisationId,
                "manager_name",
            ),
            ("assignee", users::Entity.into_iden(), logs::Column::AssignedTo, "assignee_name"),
        ] {
            let alias = Alias::new(alias);
            q.join_as(
                JoinType::LeftJoin,
                table,
                alias.clone(),
                Expr::col((alias.clone(), Alias::new("id"))).equals((page_rows.clone(), on)),
            )
            .expr_as(Expr::col((alias, Alias::new("name"))), Alias::new(name));
        }
        q.order_by((page_rows, logs::Column::Id), sea_orm::Order::Asc);
        let rows = self.db().query_all(&q).await.map_err(backend)?;
        // The name in `column` of the row whose id is `id`, if the join found it.
        let name = |row: &sea_orm::QueryResult, column: &str, id: Option<Uuid>| {
            let value: Option<String> = row.try_get("", column).map_err(backend)?;
            match (value, id) {
                (Some(n), Some(id)) => stored_name(id, &n).map(Some),
                _ => Ok(None),
            }
        };
        rows.iter()
            .map(|row| {
                let model = logs::Model::from_query_result(row, "").map_err(backend)?;
                Ok(NamedLog {
                    owner: name(row, "owner_name", Some(model.owning_organisation_id))?,
                    manager: name(row, "manager_name", Some(model.managing_organisation_id))?,
                    assignee: name(row, "assignee_name", model.assigned_to)?,
                    log: convert::log(&model),
                })
            })
            .collect()
    }
}
