//! Corterum over SQL: entities, groups, datasets, roles (stored as their role form), users'
//! usernames and companies, and instance versions; the writes that change them, the
//! `CorterumStore` reads, and the Corterum part of a snapshot.
//!
//! Entity lists run the engine's `EntityScope` as a `WHERE` clause: the actor's
//! companies through `entity_companies`, groups through `group_members`. Account lists
//! run its user `Scope` over `users` joined to `user_links`.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use sea_orm::sea_query::{Alias, Cond, Expr, OnConflict, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbErr, ExprTrait, QueryResult, SqlErr};
use serde_json::{Value as Json, json};
use tenure_core::{BackendError, ChangeError, CorterumStore, EntityQuery, Page, Write};
use tenure_domain::role::builtin;
use tenure_domain::role::form::RoleForm;
use tenure_domain::{
    ALL_PEOPLE, Content, Dataset, DatasetId, DatasetKind, DatasetPermissions, Entity, EntityId,
    EntityKind, EntityScope, Feature, FeatureSet, Group, GroupId, Name, OrgId, Resource, Role,
    RoleId, Scope, User, UserId, UserLinks, Version, World,
    dataset::{Moment, Record},
    entity::{EntityLink, LinkKind},
};
use uuid::Uuid;

use crate::SeaOrmStore;
use crate::convert;
use crate::entity::{organisations, users};

fn a(name: &str) -> Alias {
    Alias::new(name)
}

fn col(table: &str, column: &str) -> Expr {
    Expr::col((a(table), a(column)))
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> BackendError {
    BackendError::new(e)
}

fn write_err(e: DbErr) -> ChangeError {
    ChangeError::Backend(BackendError::new(e))
}

fn corrupt(what: &str, id: impl std::fmt::Display, e: impl std::fmt::Display) -> BackendError {
    BackendError::new(format!("stored {what} `{id}` is invalid: {e}"))
}

fn kind_of(s: &str) -> Result<EntityKind, BackendError> {
    s.parse::<EntityKind>().map_err(backend)
}

// ---- JSON encodings -------------------------------------------------------------------

fn record_json(r: &Record) -> Json {
    Json::Object(r.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect())
}

fn content_json(c: &Content) -> String {
    match c {
        Content::Form(r) => json!({ "form": record_json(r) }),
        Content::Table(rows) => {
            json!({ "table": rows.iter().map(record_json).collect::<Vec<_>>() })
        }
    }
    .to_string()
}

fn json_record(v: &Json) -> Option<Record> {
    v.as_object()?.iter().map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect()
}

fn json_content(text: &str) -> Option<Content> {
    let v: Json = serde_json::from_str(text).ok()?;
    if let Some(form) = v.get("form") {
        return json_record(form).map(Content::Form);
    }
    let rows = v.get("table")?.as_array()?;
    rows.iter().map(json_record).collect::<Option<Vec<_>>>().map(Content::Table)
}

fn role_definition(role: &Role) -> String {
    let form = RoleForm::from_role(role);
    let datasets: serde_json::Map<String, Json> = form
        .datasets
        .iter()
        .map(|(d, p)| {
            let mut words = Vec::new();
            if p.read {
                words.push("read");
            }
            if p.edit {
                words.push("edit");
            }
            if p.create {
                words.push("create");
            }
            (d.to_string(), json!(words))
        })
        .collect();
    json!({
        "groups": form.groups.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "features": form.features.iter().map(Feature::as_str).collect::<Vec<_>>(),
        "datasets": datasets,
    })
    .to_string()
}

fn stored_role(
    id: Uuid,
    key: String,
    name: String,
    description: String,
    definition: &str,
) -> Result<Role, BackendError> {
    let bad = |e: &dyn std::fmt::Display| corrupt("role", id, e);
    let v: Json = serde_json::from_str(definition).map_err(|e| bad(&e))?;
    let uuid = |s: &Json| s.as_str().and_then(|s| Uuid::parse_str(s).ok());
    let groups = v["groups"]
        .as_array()
        .map(|g| g.iter().filter_map(uuid).map(GroupId::from_uuid).collect())
        .unwrap_or_default();
    let features = v["features"]
        .as_array()
        .map(|f| f.iter().filter_map(|x| x.as_str()?.parse::<Feature>().ok()).collect())
        .unwrap_or(FeatureSet::EMPTY);
    let mut datasets = BTreeMap::new();
    if let Some(map) = v["datasets"].as_object() {
        for (d, words) in map {
            let Ok(d) = Uuid::parse_str(d) else { return Err(bad(&"dataset id")) };
            let has = |w: &str| words.as_array().is_some_and(|a| a.iter().any(|x| x == w));
            datasets.insert(
                DatasetId::from_uuid(d),
                DatasetPermissions { read: has("read"), edit: has("edit"), create: has("create") },
            );
        }
    }
    RoleForm { name, description, groups, features, datasets }
        .into_role(RoleId::from_uuid(id), key)
        .map_err(|e| bad(&e))
}

// ---- writes ---------------------------------------------------------------------------

/// Applies one Corterum write inside the caller's transaction.
pub(crate) async fn apply<C: ConnectionTrait>(txn: &C, write: Write) -> Result<(), ChangeError> {
    match write {
        Write::UpsertEntity(e) => upsert_entity(txn, &e).await,
        Write::UpsertGroup(g) => upsert_group(txn, &g).await,
        Write::UpsertDataset(d) => {
            let fields =
                json!(d.fields.iter().map(|(k, l)| json!([k, l])).collect::<Vec<_>>()).to_string();
            let stmt = Query::insert()
                .into_table(a("datasets"))
                .columns([a("id"), a("key"), a("name"), a("kind"), a("embedded_in"), a("fields")])
                .values_panic([
                    (*d.id.as_uuid()).into(),
                    d.key.clone().into(),
                    d.name.to_string().into(),
                    d.kind.as_str().into(),
                    d.embedded_in.map(|x| *x.as_uuid()).into(),
                    fields.into(),
                ])
                .on_conflict(
                    OnConflict::column(a("id"))
                        .update_columns([
                            a("key"),
                            a("name"),
                            a("kind"),
                            a("embedded_in"),
                            a("fields"),
                        ])
                        .to_owned(),
                )
                .to_owned();
            txn.execute(&stmt).await.map_err(write_err)?;
            Ok(())
        }
        Write::UpsertRole(role) => {
            let stmt = Query::insert()
                .into_table(a("roles"))
                .columns([a("id"), a("key"), a("name"), a("description"), a("definition")])
                .values_panic([
                    (*role.id.as_uuid()).into(),
                    role.key.clone().into(),
                    role.name.clone().into(),
                    role.description.clone().into(),
                    role_definition(&role).into(),
                ])
                .on_conflict(
                    OnConflict::column(a("id"))
                        .update_columns([a("name"), a("description"), a("definition")])
                        .to_owned(),
                )
                .to_owned();
            txn.execute(&stmt).await.map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => ChangeError::Duplicate,
                _ => write_err(e),
            })?;
            Ok(())
        }
        Write::SetUserLinks { user, links, username } => {
            let uid = *user.as_uuid();
            let stmt = Query::insert()
                .into_table(a("user_links"))
                .columns([a("user_id"), a("username"), a("username_folded"), a("entity_id")])
                .values_panic([
                    uid.into(),
                    username.clone().into(),
                    username.to_lowercase().into(),
                    links.entity.map(|e| *e.as_uuid()).into(),
                ])
                .on_conflict(
                    OnConflict::column(a("user_id"))
                        .update_columns([a("username"), a("username_folded"), a("entity_id")])
                        .to_owned(),
                )
                .to_owned();
            txn.execute(&stmt).await.map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => ChangeError::UsernameInUse,
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => ChangeError::Conflict,
                _ => write_err(e),
            })?;
            let del = Query::delete()
                .from_table(a("user_companies"))
                .and_where(col("user_companies", "user_id").eq(uid))
                .to_owned();
            txn.execute(&del).await.map_err(write_err)?;
            let mut companies = links.companies.clone();
            companies.sort_unstable();
            companies.dedup();
            if !companies.is_empty() {
                let mut ins = Query::insert();
                ins.into_table(a("user_companies")).columns([a("user_id"), a("organisation_id")]);
                for c in companies {
                    ins.values_panic([uid.into(), (*c.as_uuid()).into()]);
                }
                txn.execute(&ins).await.map_err(write_err)?;
            }
            Ok(())
        }
        Write::AppendVersion { dataset, entity, version } => {
            let last = Query::select()
                .expr(Expr::col(a("number")).max())
                .expr(Expr::col(a("at")).max())
                .from(a("instance_versions"))
                .and_where(col("instance_versions", "dataset_id").eq(*dataset.as_uuid()))
                .and_where(col("instance_versions", "entity_id").eq(*entity.as_uuid()))
                .to_owned();
            let row = txn.query_one(&last).await.map_err(write_err)?;
            let (latest, at): (Option<i32>, Option<i64>) = match &row {
                Some(r) => (
                    r.try_get_by_index(0).map_err(write_err)?,
                    r.try_get_by_index(1).map_err(write_err)?,
                ),
                None => (None, None),
            };
            let next = latest.map_or(1, |n| n + 1);
            if i64::from(version.number) != i64::from(next) || at.is_some_and(|t| t > version.at.0)
            {
                return Err(ChangeError::Conflict);
            }
            let stmt = Query::insert()
                .into_table(a("instance_versions"))
                .columns([
                    a("dataset_id"),
                    a("entity_id"),
                    a("number"),
                    a("at"),
                    a("by_user"),
                    a("content"),
                ])
                .values_panic([
                    (*dataset.as_uuid()).into(),
                    (*entity.as_uuid()).into(),
                    i32::try_from(version.number).unwrap_or(i32::MAX).into(),
                    version.at.0.into(),
                    version.by.map(|u| *u.as_uuid()).into(),
                    content_json(&version.content).into(),
                ])
                .to_owned();
            txn.execute(&stmt).await.map_err(|e| match e.sql_err() {
                Some(
                    SqlErr::UniqueConstraintViolation(_) | SqlErr::ForeignKeyConstraintViolation(_),
                ) => ChangeError::Conflict,
                _ => write_err(e),
            })?;
            Ok(())
        }
        other => {
            Err(ChangeError::Backend(BackendError::new(format!("not a Corterum write: {other:?}"))))
        }
    }
}

async fn upsert_entity<C: ConnectionTrait>(txn: &C, e: &Entity) -> Result<(), ChangeError> {
    let id = *e.id.as_uuid();
    let fields = json!(e.fields).to_string();
    let stmt = Query::insert()
        .into_table(a("entities"))
        .columns([a("id"), a("kind"), a("name"), a("sort_name"), a("fields")])
        .values_panic([
            id.into(),
            e.kind.as_str().into(),
            e.name.to_string().into(),
            e.name.as_str().to_lowercase().into(),
            fields.into(),
        ])
        .on_conflict(
            OnConflict::column(a("id"))
                .update_columns([a("kind"), a("name"), a("sort_name"), a("fields")])
                .to_owned(),
        )
        .to_owned();
    txn.execute(&stmt).await.map_err(write_err)?;
    // A change of type leaves the groups of the old type.
    let wrong_groups = Query::select()
        .column(a("id"))
        .from(a("entity_groups"))
        .and_where(col("entity_groups", "kind").ne(e.kind.as_str()))
        .to_owned();
    let leave = Query::delete()
        .from_table(a("group_members"))
        .and_where(col("group_members", "entity_id").eq(id))
        .and_where(col("group_members", "group_id").in_subquery(wrong_groups))
        .to_owned();
    txn.execute(&leave).await.map_err(write_err)?;
    for table in ["entity_companies", "entity_links"] {
        let del = Query::delete()
            .from_table(a(table))
            .and_where(col(table, "entity_id").eq(id))
            .to_owned();
        txn.execute(&del).await.map_err(write_err)?;
    }
    let fk = |e: DbErr| match e.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => ChangeError::Conflict,
        _ => write_err(e),
    };
    if !e.companies.is_empty() {
        let mut ins = Query::insert();
        ins.into_table(a("entity_companies")).columns([a("entity_id"), a("organisation_id")]);
        for c in &e.companies {
            ins.values_panic([id.into(), (*c.as_uuid()).into()]);
        }
        txn.execute(&ins).await.map_err(fk)?;
    }
    if !e.links.is_empty() {
        let mut ins = Query::insert();
        ins.into_table(a("entity_links")).columns([a("entity_id"), a("kind"), a("to_entity_id")]);
        for l in &e.links {
            ins.values_panic([id.into(), l.kind.as_str().into(), (*l.to.as_uuid()).into()]);
        }
        txn.execute(&ins).await.map_err(fk)?;
    }
    Ok(())
}

async fn upsert_group<C: ConnectionTrait>(txn: &C, g: &Group) -> Result<(), ChangeError> {
    if g.id == ALL_PEOPLE {
        return Err(ChangeError::Backend(BackendError::new("\"All People\" cannot be stored")));
    }
    let id = *g.id.as_uuid();
    let stmt = Query::insert()
        .into_table(a("entity_groups"))
        .columns([a("id"), a("name"), a("description"), a("kind")])
        .values_panic([
            id.into(),
            g.name.to_string().into(),
            g.description.clone().into(),
            g.kind.as_str().into(),
        ])
        .on_conflict(
            OnConflict::column(a("id"))
                .update_columns([a("name"), a("description"), a("kind")])
                .to_owned(),
        )
        .to_owned();
    txn.execute(&stmt).await.map_err(write_err)?;
    let del = Query::delete()
        .from_table(a("group_members"))
        .and_where(col("group_members", "group_id").eq(id))
        .to_owned();
    txn.execute(&del).await.map_err(write_err)?;
    if !g.members.is_empty() {
        let mut ins = Query::insert();
        ins.into_table(a("group_members")).columns([a("group_id"), a("entity_id")]);
        for m in &g.members {
            ins.values_panic([id.into(), (*m.as_uuid()).into()]);
        }
        txn.execute(&ins).await.map_err(|e| match e.sql_err() {
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => ChangeError::Conflict,
            _ => write_err(e),
        })?;
    }
    Ok(())
}

/// Removes a deleted user's Corterum rows (username and companies).
pub(crate) async fn delete_user<C: ConnectionTrait>(
    txn: &C,
    user: Uuid,
) -> Result<(), ChangeError> {
    for table in ["user_companies", "user_links"] {
        let del = Query::delete()
            .from_table(a(table))
            .and_where(col(table, "user_id").eq(user))
            .to_owned();
        txn.execute(&del).await.map_err(write_err)?;
    }
    Ok(())
}

/// Moves entities' and users' company links from a merged organisation to the one it was
/// merged into (dropping links the receiver already has).
pub(crate) async fn merge<C: ConnectionTrait>(
    txn: &C,
    from: Uuid,
    into: Uuid,
) -> Result<(), ChangeError> {
    for (table, owner) in [("entity_companies", "entity_id"), ("user_companies", "user_id")] {
        let already = Query::select()
            .column(a(owner))
            .from(a(table))
            .and_where(col(table, "organisation_id").eq(into))
            .to_owned();
        let drop = Query::delete()
            .from_table(a(table))
            .and_where(col(table, "organisation_id").eq(from))
            .and_where(Expr::col(a(owner)).in_subquery(already))
            .to_owned();
        txn.execute(&drop).await.map_err(write_err)?;
        let update = Query::update()
            .table(a(table))
            .value(a("organisation_id"), into)
            .and_where(col(table, "organisation_id").eq(from))
            .to_owned();
        txn.execute(&update).await.map_err(write_err)?;
    }
    Ok(())
}

// ---- reads ----------------------------------------------------------------------------

fn entity_row(row: &QueryResult) -> Result<Entity, BackendError> {
    let id: Uuid = row.try_get("", "id").map_err(backend)?;
    let kind: String = row.try_get("", "kind").map_err(backend)?;
    let name: String = row.try_get("", "name").map_err(backend)?;
    let fields: String = row.try_get("", "fields").map_err(backend)?;
    let name = Name::parse(&name).map_err(|e| corrupt("entity", id, e))?;
    let mut e = Entity::new(EntityId::from_uuid(id), kind_of(&kind)?, name);
    let map: BTreeMap<String, String> =
        serde_json::from_str(&fields).map_err(|e| corrupt("entity", id, e))?;
    e.fields = map;
    Ok(e)
}

fn entity_select() -> SelectStatement {
    Query::select()
        .columns([
            (a("entities"), a("id")),
            (a("entities"), a("kind")),
            (a("entities"), a("name")),
            (a("entities"), a("fields")),
        ])
        .from(a("entities"))
        .to_owned()
}

impl SeaOrmStore {
    /// Entities by id, with their companies and links.
    async fn entities_by_id(&self, ids: &[Uuid]) -> Result<Vec<Entity>, BackendError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.db();
        let rows = db
            .query_all(
                &entity_select()
                    .and_where(col("entities", "id").is_in(ids.iter().copied()))
                    .to_owned(),
            )
            .await
            .map_err(backend)?;
        let mut found: HashMap<Uuid, Entity> = HashMap::new();
        for row in &rows {
            let e = entity_row(row)?;
            found.insert(*e.id.as_uuid(), e);
        }
        let companies = Query::select()
            .columns([a("entity_id"), a("organisation_id")])
            .from(a("entity_companies"))
            .and_where(col("entity_companies", "entity_id").is_in(ids.iter().copied()))
            .to_owned();
        for row in db.query_all(&companies).await.map_err(backend)? {
            let e: Uuid = row.try_get("", "entity_id").map_err(backend)?;
            let o: Uuid = row.try_get("", "organisation_id").map_err(backend)?;
            if let Some(x) = found.get_mut(&e) {
                x.companies.push(OrgId::from_uuid(o));
            }
        }
        let links = Query::select()
            .columns([a("entity_id"), a("kind"), a("to_entity_id")])
            .from(a("entity_links"))
            .and_where(col("entity_links", "entity_id").is_in(ids.iter().copied()))
            .to_owned();
        for row in db.query_all(&links).await.map_err(backend)? {
            let e: Uuid = row.try_get("", "entity_id").map_err(backend)?;
            let k: String = row.try_get("", "kind").map_err(backend)?;
            let to: Uuid = row.try_get("", "to_entity_id").map_err(backend)?;
            let kind = match k.as_str() {
                "previous_employer" => LinkKind::PreviousEmployer,
                _ => LinkKind::NewEmployer,
            };
            if let Some(x) = found.get_mut(&e) {
                x.links.push(EntityLink { kind, to: EntityId::from_uuid(to) });
            }
        }
        let mut out: Vec<Entity> = ids.iter().filter_map(|id| found.remove(id)).collect();
        for e in &mut out {
            let companies = std::mem::take(&mut e.companies);
            e.set_companies(companies);
            e.links.sort_unstable();
        }
        Ok(out)
    }

    /// The groups (with only these members listed) that hold any of these entities.
    async fn groups_of(&self, entities: &[Uuid]) -> Result<Vec<Group>, BackendError> {
        if entities.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.db();
        let members = Query::select()
            .columns([a("group_id"), a("entity_id")])
            .from(a("group_members"))
            .and_where(col("group_members", "entity_id").is_in(entities.iter().copied()))
            .to_owned();
        let mut by_group: BTreeMap<Uuid, Vec<EntityId>> = BTreeMap::new();
        for row in db.query_all(&members).await.map_err(backend)? {
            let g: Uuid = row.try_get("", "group_id").map_err(backend)?;
            let e: Uuid = row.try_get("", "entity_id").map_err(backend)?;
            by_group.entry(g).or_default().push(EntityId::from_uuid(e));
        }
        self.load_groups(Some(by_group)).await
    }

    /// Groups by id with the members given, or every group with all members.
    async fn load_groups(
        &self,
        members: Option<BTreeMap<Uuid, Vec<EntityId>>>,
    ) -> Result<Vec<Group>, BackendError> {
        let db = self.db();
        let mut q = Query::select()
            .columns([a("id"), a("name"), a("description"), a("kind")])
            .from(a("entity_groups"))
            .to_owned();
        let mut members = match members {
            Some(m) if m.is_empty() => return Ok(Vec::new()),
            Some(m) => {
                q.and_where(col("entity_groups", "id").is_in(m.keys().copied()));
                m
            }
            None => {
                let all = Query::select()
                    .columns([a("group_id"), a("entity_id")])
                    .from(a("group_members"))
                    .to_owned();
                let mut m: BTreeMap<Uuid, Vec<EntityId>> = BTreeMap::new();
                for row in db.query_all(&all).await.map_err(backend)? {
                    let g: Uuid = row.try_get("", "group_id").map_err(backend)?;
                    let e: Uuid = row.try_get("", "entity_id").map_err(backend)?;
                    m.entry(g).or_default().push(EntityId::from_uuid(e));
                }
                m
            }
        };
        let mut out = Vec::new();
        for row in db.query_all(&q).await.map_err(backend)? {
            let id: Uuid = row.try_get("", "id").map_err(backend)?;
            let name: String = row.try_get("", "name").map_err(backend)?;
            let description: String = row.try_get("", "description").map_err(backend)?;
            let kind: String = row.try_get("", "kind").map_err(backend)?;
            let mut m = members.remove(&id).unwrap_or_default();
            m.sort_unstable();
            out.push(Group {
                id: GroupId::from_uuid(id),
                name: Name::parse(&name).map_err(|e| corrupt("group", id, e))?,
                description,
                kind: kind_of(&kind)?,
                members: m,
            });
        }
        Ok(out)
    }

    async fn load_datasets(&self, only: Option<&[Uuid]>) -> Result<Vec<Dataset>, BackendError> {
        let mut q = Query::select()
            .columns([a("id"), a("key"), a("name"), a("kind"), a("embedded_in"), a("fields")])
            .from(a("datasets"))
            .to_owned();
        if let Some(ids) = only {
            q.and_where(col("datasets", "id").is_in(ids.iter().copied()));
        }
        let mut out = Vec::new();
        for row in self.db().query_all(&q).await.map_err(backend)? {
            let id: Uuid = row.try_get("", "id").map_err(backend)?;
            let key: String = row.try_get("", "key").map_err(backend)?;
            let name: String = row.try_get("", "name").map_err(backend)?;
            let kind: String = row.try_get("", "kind").map_err(backend)?;
            let embedded: Option<Uuid> = row.try_get("", "embedded_in").map_err(backend)?;
            let fields: String = row.try_get("", "fields").map_err(backend)?;
            let fields: Vec<(String, String)> =
                serde_json::from_str(&fields).map_err(|e| corrupt("dataset", id, e))?;
            out.push(Dataset {
                id: DatasetId::from_uuid(id),
                key,
                name: Name::parse(&name).map_err(|e| corrupt("dataset", id, e))?,
                kind: if kind == "table" { DatasetKind::Table } else { DatasetKind::Form },
                embedded_in: embedded.map(DatasetId::from_uuid),
                fields,
            });
        }
        // Forms before the tables embedded in them, so a world accepts them in order.
        out.sort_by_key(|d| d.embedded_in.is_some());
        Ok(out)
    }

    async fn load_roles(&self, only: Option<&[Uuid]>) -> Result<Vec<Role>, BackendError> {
        let mut q = Query::select()
            .columns([a("id"), a("key"), a("name"), a("description"), a("definition")])
            .from(a("roles"))
            .to_owned();
        if let Some(ids) = only {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            q.and_where(col("roles", "id").is_in(ids.iter().copied()));
        }
        let mut out = Vec::new();
        for row in self.db().query_all(&q).await.map_err(backend)? {
            let id: Uuid = row.try_get("", "id").map_err(backend)?;
            let key: String = row.try_get("", "key").map_err(backend)?;
            let name: String = row.try_get("", "name").map_err(backend)?;
            let description: String = row.try_get("", "description").map_err(backend)?;
            let definition: String = row.try_get("", "definition").map_err(backend)?;
            out.push(stored_role(id, key, name, description, &definition)?);
        }
        Ok(out)
    }

    /// Adds the customer-built roles among these users' roles to the world's catalogue,
    /// so the users can be added to it.
    pub(crate) async fn add_custom_roles(
        &self,
        world: &mut World,
        users: &[User],
    ) -> Result<(), BackendError> {
        let mut missing: Vec<Uuid> = users
            .iter()
            .flat_map(|u| u.roles.iter())
            .filter(|r| world.roles().get(**r).is_none())
            .map(|r| *r.as_uuid())
            .collect();
        missing.sort_unstable();
        missing.dedup();
        for role in self.load_roles(Some(&missing)).await? {
            world.upsert_role(role).map_err(backend)?;
        }
        Ok(())
    }

    /// Whether a user's newest invitation or reactivation link is not accepted yet (the
    /// links say it, as for `Manage::status`).
    async fn invited(&self, user: UserId) -> Result<bool, BackendError> {
        let q = Query::select()
            .column(a("state"))
            .from(a("links"))
            .and_where(col("links", "user_id").eq(*user.as_uuid()))
            .and_where(col("links", "purpose").is_in(["invitation", "reactivation"]))
            .order_by(a("issued_at"), Order::Desc)
            .order_by(a("id"), Order::Desc)
            .limit(1)
            .to_owned();
        let Some(row) = self.db().query_one(&q).await.map_err(backend)? else {
            return Ok(false);
        };
        let state: String = row.try_get("", "state").map_err(backend)?;
        Ok(state != "accepted")
    }

    /// The Corterum part of a snapshot: the actor's username links and entity and
    /// whether they are yet to accept their invitation, the entity a resource is about
    /// with the groups that hold it, its dataset (and form), the group or custom role a
    /// resource is, and the companies involved.
    pub(crate) async fn add_corterum(
        &self,
        world: &mut World,
        actor: UserId,
        resource: Resource,
    ) -> Result<(), BackendError> {
        let db = self.db();
        // Only roles whose grants reach through companies or entities read a user's links,
        // and only roles set with an account can be held before it is accepted: a CORE
        // user (and the root administrator, who reaches everything) needs no extra round
        // trip for either.
        let held = world.user(actor).map_or(&[][..], |u| u.roles.as_slice());
        let reads_links = held.iter().any(|r| world.roles().get(*r).is_some_and(Role::reads_links));
        let may_be_invited = held.iter().any(|r| builtin::held_before_acceptance(*r));
        if may_be_invited && self.invited(actor).await? {
            world.set_invited(actor, true).map_err(backend)?;
        }
        let links =
            if reads_links { self.user_links(actor).await?.map(|(_, links)| links) } else { None };
        match resource {
            Resource::Group(g) => {
                let only = BTreeMap::from([(*g.as_uuid(), Vec::new())]);
                for group in self.load_groups(Some(only)).await? {
                    // The engine needs the group, not its members.
                    world.upsert_group(Group { members: Vec::new(), ..group }).map_err(backend)?;
                }
            }
            Resource::Role(r) if world.roles().get(r).is_none() => {
                for role in self.load_roles(Some(&[*r.as_uuid()])).await? {
                    world.upsert_role(role).map_err(backend)?;
                }
            }
            _ => {}
        }
        let mut entity_ids: Vec<Uuid> =
            links.as_ref().and_then(|l| l.entity).map(|e| *e.as_uuid()).into_iter().collect();
        let mut dataset_ids: Vec<Uuid> = Vec::new();
        match resource {
            Resource::Entity(e) => entity_ids.push(*e.as_uuid()),
            Resource::Instance { dataset, entity } => {
                entity_ids.push(*entity.as_uuid());
                dataset_ids.push(*dataset.as_uuid());
            }
            _ => {}
        }
        if links.is_none() && entity_ids.is_empty() && dataset_ids.is_empty() {
            return Ok(());
        }
        entity_ids.sort_unstable();
        entity_ids.dedup();
        let mut entities = self.entities_by_id(&entity_ids).await?;
        let mut orgs: Vec<Uuid> =
            entities.iter().flat_map(|e| e.companies.iter().map(|c| *c.as_uuid())).collect();
        if let Some(l) = &links {
            orgs.extend(l.companies.iter().map(|c| *c.as_uuid()));
        }
        orgs.retain(|o| world.organisation(OrgId::from_uuid(*o)).is_none());
        orgs.sort_unstable();
        orgs.dedup();
        if !orgs.is_empty() {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            let rows = organisations::Entity::find()
                .filter(organisations::Column::Id.is_in(orgs))
                .all(db)
                .await
                .map_err(backend)?;
            for row in rows {
                world.insert_organisation(convert::organisation(row)?).map_err(backend)?;
            }
        }
        for e in &mut entities {
            // The engine does not follow links; the snapshot leaves them out.
            e.links.clear();
            world.upsert_entity(e.clone()).map_err(backend)?;
        }
        for g in self.groups_of(&entity_ids).await? {
            world.upsert_group(g).map_err(backend)?;
        }
        if let Some(l) = links {
            world.set_user_links(actor, l).map_err(backend)?;
        }
        if let Some(d) = dataset_ids.first() {
            let first = self.load_datasets(Some(&[*d])).await?;
            if let Some(form) = first.first().and_then(|x| x.embedded_in) {
                for f in self.load_datasets(Some(&[*form.as_uuid()])).await? {
                    world.upsert_dataset(f).map_err(backend)?;
                }
            }
            for x in first {
                world.upsert_dataset(x).map_err(backend)?;
            }
        }
        Ok(())
    }
}

fn scope_condition(scope: &EntityScope) -> Option<Cond> {
    if scope.everything {
        return None;
    }
    let in_companies = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(a("entity_companies"))
            .and_where(col("entity_companies", "entity_id").equals((a("entities"), a("id"))))
            .and_where(
                col("entity_companies", "organisation_id")
                    .is_in(scope.companies.iter().map(|c| *c.as_uuid())),
            )
            .to_owned(),
    );
    let mut reach = Cond::any();
    if let Some(own) = scope.own {
        reach = reach.add(col("entities", "id").eq(*own.as_uuid()));
    }
    if scope.company_wide {
        reach = reach.add(Expr::val(1).eq(1));
    }
    if scope.groups.contains(&ALL_PEOPLE) {
        reach = reach.add(col("entities", "kind").eq(EntityKind::Person.as_str()));
    }
    let groups: Vec<Uuid> =
        scope.groups.iter().filter(|g| **g != ALL_PEOPLE).map(|g| *g.as_uuid()).collect();
    if !groups.is_empty() {
        reach = reach.add(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(a("group_members"))
                .and_where(col("group_members", "entity_id").equals((a("entities"), a("id"))))
                .and_where(col("group_members", "group_id").is_in(groups))
                .to_owned(),
        ));
    }
    Some(Cond::all().add(in_companies).add(reach))
}

#[async_trait]
impl CorterumStore for SeaOrmStore {
    async fn entities(
        &self,
        scope: &EntityScope,
        query: &EntityQuery,
        page: Page,
    ) -> Result<Vec<Entity>, BackendError> {
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        let mut q = Query::select().column((a("entities"), a("id"))).from(a("entities")).to_owned();
        if let Some(c) = scope_condition(scope) {
            q.cond_where(c);
        }
        if let Some(s) = &query.search {
            q.and_where(col("entities", "sort_name").like(crate::directory::contains(s)));
        }
        if let Some(k) = query.kind {
            q.and_where(col("entities", "kind").eq(k.as_str()));
        }
        q.order_by((a("entities"), a("sort_name")), Order::Asc)
            .order_by((a("entities"), a("id")), Order::Asc)
            .limit(page.limit.min(Page::MAX_LIMIT) as u64)
            .offset(page.offset as u64);
        let ids: Vec<Uuid> = self
            .db()
            .query_all(&q)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| r.try_get("", "id").map_err(backend))
            .collect::<Result<_, _>>()?;
        self.entities_by_id(&ids).await
    }

    async fn entity(&self, id: EntityId) -> Result<Option<Entity>, BackendError> {
        Ok(self.entities_by_id(&[*id.as_uuid()]).await?.pop())
    }

    async fn groups(&self) -> Result<Vec<Group>, BackendError> {
        self.load_groups(None).await
    }

    async fn datasets(&self) -> Result<Vec<Dataset>, BackendError> {
        self.load_datasets(None).await
    }

    async fn custom_roles(&self) -> Result<Vec<Role>, BackendError> {
        self.load_roles(None).await
    }

    async fn user_links(&self, user: UserId) -> Result<Option<(String, UserLinks)>, BackendError> {
        let db = self.db();
        let q = Query::select()
            .columns([a("username"), a("entity_id")])
            .from(a("user_links"))
            .and_where(col("user_links", "user_id").eq(*user.as_uuid()))
            .to_owned();
        let Some(row) = db.query_one(&q).await.map_err(backend)? else { return Ok(None) };
        let username: String = row.try_get("", "username").map_err(backend)?;
        let entity: Option<Uuid> = row.try_get("", "entity_id").map_err(backend)?;
        let q = Query::select()
            .column(a("organisation_id"))
            .from(a("user_companies"))
            .and_where(col("user_companies", "user_id").eq(*user.as_uuid()))
            .to_owned();
        let mut companies = Vec::new();
        for row in db.query_all(&q).await.map_err(backend)? {
            let o: Uuid = row.try_get("", "organisation_id").map_err(backend)?;
            companies.push(OrgId::from_uuid(o));
        }
        companies.sort_unstable();
        Ok(Some((username, UserLinks { entity: entity.map(EntityId::from_uuid), companies })))
    }

    async fn accounts(
        &self,
        scope: &Scope,
        page: Page,
    ) -> Result<Vec<(String, User)>, BackendError> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        let mut q = Query::select()
            .columns([(a("user_links"), a("user_id")), (a("user_links"), a("username"))])
            .from(a("user_links"))
            .to_owned();
        if !scope.everything {
            // The engine's user scope: users of these organisations, or the actor.
            let mut reach = Cond::any();
            if !scope.organisations.is_empty() {
                q.inner_join(
                    a("users"),
                    col("users", "id").equals((a("user_links"), a("user_id"))),
                );
                reach = reach.add(
                    col("users", "organisation_id")
                        .is_in(scope.organisations.iter().map(|o| *o.as_uuid())),
                );
            }
            if scope.own {
                reach = reach.add(col("user_links", "user_id").eq(*scope.actor.as_uuid()));
            }
            q.cond_where(reach);
        }
        q.order_by((a("user_links"), a("username_folded")), Order::Asc)
            .order_by((a("user_links"), a("user_id")), Order::Asc)
            .limit(page.limit.min(Page::MAX_LIMIT) as u64)
            .offset(page.offset as u64);
        let mut names: Vec<(Uuid, String)> = Vec::new();
        for row in self.db().query_all(&q).await.map_err(backend)? {
            names.push((
                row.try_get("", "user_id").map_err(backend)?,
                row.try_get("", "username").map_err(backend)?,
            ));
        }
        let rows = users::Entity::find()
            .filter(users::Column::Id.is_in(names.iter().map(|(u, _)| *u)))
            .all(self.db())
            .await
            .map_err(backend)?;
        let users = self.with_roles(rows).await?;
        Ok(names
            .into_iter()
            .filter_map(|(id, n)| {
                users.iter().find(|u| *u.id.as_uuid() == id).map(|u| (n, u.clone()))
            })
            .collect())
    }

    async fn history(
        &self,
        dataset: DatasetId,
        entity: EntityId,
    ) -> Result<Vec<Version>, BackendError> {
        let q = Query::select()
            .columns([a("number"), a("at"), a("by_user"), a("content")])
            .from(a("instance_versions"))
            .and_where(col("instance_versions", "dataset_id").eq(*dataset.as_uuid()))
            .and_where(col("instance_versions", "entity_id").eq(*entity.as_uuid()))
            .order_by(a("number"), Order::Asc)
            .to_owned();
        let mut out = Vec::new();
        for row in self.db().query_all(&q).await.map_err(backend)? {
            let number: i32 = row.try_get("", "number").map_err(backend)?;
            let at: i64 = row.try_get("", "at").map_err(backend)?;
            let by: Option<Uuid> = row.try_get("", "by_user").map_err(backend)?;
            let content: String = row.try_get("", "content").map_err(backend)?;
            out.push(Version {
                number: u32::try_from(number).map_err(|e| corrupt("version", number, e))?,
                at: Moment(at),
                by: by.map(UserId::from_uuid),
                content: json_content(&content)
                    .ok_or_else(|| corrupt("version", number, "content"))?,
            });
        }
        Ok(out)
    }
}
