//! Corterum over SQL: entities, groups, datasets, roles (stored as their role form), users'
//! usernames and companies, and instance versions; the writes that change them, the
//! `CorterumStore` reads, and the Corterum part of a snapshot.
//!
//! Entity lists run the engine's `EntityScope` as a `WHERE` clause: the actor's
//! companies through `entity_companies`, groups through `group_members`. Account lists
//! run its user `Scope` over `users` joined to `user_links`.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Cond, Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait, SqlErr,
};
use serde_json::{Value as Json, json};
use tenure_core::query::Search;
use tenure_core::{
    AccountItem, AccountQuery, BackendError, ChangeError, CorterumStore, EntityQuery, GroupQuery,
    Listed, Page, Write,
};
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
use crate::entity::{
    datasets, entities, entity_companies, entity_groups, entity_links, group_members,
    instance_versions, links, organisations, roles, user_companies, user_links, user_roles, users,
};

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
        "requires_second_factor": form.requires_second_factor,
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
    // Absent in definitions stored before second factors: not required.
    let requires_second_factor = v["requires_second_factor"].as_bool().unwrap_or(false);
    RoleForm { name, description, groups, features, datasets, requires_second_factor }
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
            use datasets::Column;
            let fields =
                json!(d.fields.iter().map(|(k, l)| json!([k, l])).collect::<Vec<_>>()).to_string();
            datasets::Entity::insert(datasets::ActiveModel {
                id: Set(*d.id.as_uuid()),
                key: Set(d.key.clone()),
                name: Set(d.name.to_string()),
                kind: Set(d.kind.as_str().to_owned()),
                embedded_in: Set(d.embedded_in.map(|x| *x.as_uuid())),
                fields: Set(fields),
            })
            .on_conflict(
                OnConflict::column(Column::Id)
                    .update_columns([
                        Column::Key,
                        Column::Name,
                        Column::Kind,
                        Column::EmbeddedIn,
                        Column::Fields,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await
            .map_err(write_err)?;
            Ok(())
        }
        Write::UpsertRole(role) => {
            use roles::Column;
            roles::Entity::insert(roles::ActiveModel {
                id: Set(*role.id.as_uuid()),
                key: Set(role.key.clone()),
                name: Set(role.name.clone()),
                description: Set(role.description.clone()),
                definition: Set(role_definition(&role)),
            })
            .on_conflict(
                OnConflict::column(Column::Id)
                    .update_columns([Column::Name, Column::Description, Column::Definition])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => ChangeError::Duplicate,
                _ => write_err(e),
            })?;
            Ok(())
        }
        Write::SetUserLinks { user, links, username } => {
            use user_links::Column;
            let uid = *user.as_uuid();
            user_links::Entity::insert(user_links::ActiveModel {
                user_id: Set(uid),
                username_folded: Set(username.to_lowercase()),
                username: Set(username),
                entity_id: Set(links.entity.map(|e| *e.as_uuid())),
            })
            .on_conflict(
                OnConflict::column(Column::UserId)
                    .update_columns([Column::Username, Column::UsernameFolded, Column::EntityId])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => ChangeError::UsernameInUse,
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => ChangeError::Conflict,
                _ => write_err(e),
            })?;
            user_companies::Entity::delete_many()
                .filter(user_companies::Column::UserId.eq(uid))
                .exec(txn)
                .await
                .map_err(write_err)?;
            let mut companies = links.companies;
            companies.sort_unstable();
            companies.dedup();
            if !companies.is_empty() {
                user_companies::Entity::insert_many(companies.into_iter().map(|c| {
                    user_companies::ActiveModel {
                        user_id: Set(uid),
                        organisation_id: Set(*c.as_uuid()),
                    }
                }))
                .exec_without_returning(txn)
                .await
                .map_err(write_err)?;
            }
            Ok(())
        }
        Write::AppendVersion { dataset, entity, version } => {
            use instance_versions::Column;
            let (latest, at): (Option<i32>, Option<i64>) = instance_versions::Entity::find()
                .select_only()
                .expr(Expr::col(Column::Number).max())
                .expr(Expr::col(Column::At).max())
                .filter(Column::DatasetId.eq(*dataset.as_uuid()))
                .filter(Column::EntityId.eq(*entity.as_uuid()))
                .into_tuple()
                .one(txn)
                .await
                .map_err(write_err)?
                .unwrap_or((None, None));
            let next = latest.map_or(1, |n| n + 1);
            if i64::from(version.number) != i64::from(next) || at.is_some_and(|t| t > version.at.0)
            {
                return Err(ChangeError::Conflict);
            }
            instance_versions::Entity::insert(instance_versions::ActiveModel {
                dataset_id: Set(*dataset.as_uuid()),
                entity_id: Set(*entity.as_uuid()),
                number: Set(i32::try_from(version.number).unwrap_or(i32::MAX)),
                at: Set(version.at.0),
                by_user: Set(version.by.map(|u| *u.as_uuid())),
                content: Set(content_json(&version.content)),
            })
            .exec_without_returning(txn)
            .await
            .map_err(|e| match e.sql_err() {
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
    use entities::Column;
    let id = *e.id.as_uuid();
    entities::Entity::insert(entities::ActiveModel {
        id: Set(id),
        kind: Set(e.kind.as_str().to_owned()),
        name: Set(e.name.to_string()),
        sort_name: Set(e.name.as_str().to_lowercase()),
        fields: Set(json!(e.fields).to_string()),
    })
    .on_conflict(
        OnConflict::column(Column::Id)
            .update_columns([Column::Kind, Column::Name, Column::SortName, Column::Fields])
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await
    .map_err(write_err)?;
    // A change of type leaves the groups of the old type.
    let wrong_groups = Query::select()
        .column(entity_groups::Column::Id)
        .from(entity_groups::Entity)
        .and_where(
            Expr::col((entity_groups::Entity, entity_groups::Column::Kind)).ne(e.kind.as_str()),
        )
        .to_owned();
    group_members::Entity::delete_many()
        .filter(group_members::Column::EntityId.eq(id))
        .filter(group_members::Column::GroupId.in_subquery(wrong_groups))
        .exec(txn)
        .await
        .map_err(write_err)?;
    entity_companies::Entity::delete_many()
        .filter(entity_companies::Column::EntityId.eq(id))
        .exec(txn)
        .await
        .map_err(write_err)?;
    entity_links::Entity::delete_many()
        .filter(entity_links::Column::EntityId.eq(id))
        .exec(txn)
        .await
        .map_err(write_err)?;
    let fk = |e: DbErr| match e.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => ChangeError::Conflict,
        _ => write_err(e),
    };
    if !e.companies.is_empty() {
        entity_companies::Entity::insert_many(e.companies.iter().map(|c| {
            entity_companies::ActiveModel { entity_id: Set(id), organisation_id: Set(*c.as_uuid()) }
        }))
        .exec_without_returning(txn)
        .await
        .map_err(fk)?;
    }
    if !e.links.is_empty() {
        entity_links::Entity::insert_many(e.links.iter().map(|l| entity_links::ActiveModel {
            entity_id: Set(id),
            kind: Set(l.kind.as_str().into_owned()),
            to_entity_id: Set(*l.to.as_uuid()),
        }))
        .exec_without_returning(txn)
        .await
        .map_err(fk)?;
    }
    Ok(())
}

async fn upsert_group<C: ConnectionTrait>(txn: &C, g: &Group) -> Result<(), ChangeError> {
    use entity_groups::Column;
    if g.id == ALL_PEOPLE {
        return Err(ChangeError::Backend(BackendError::new("\"All People\" cannot be stored")));
    }
    let id = *g.id.as_uuid();
    entity_groups::Entity::insert(entity_groups::ActiveModel {
        id: Set(id),
        name: Set(g.name.to_string()),
        description: Set(g.description.clone()),
        kind: Set(g.kind.as_str().to_owned()),
    })
    .on_conflict(
        OnConflict::column(Column::Id)
            .update_columns([Column::Name, Column::Description, Column::Kind])
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await
    .map_err(write_err)?;
    group_members::Entity::delete_many()
        .filter(group_members::Column::GroupId.eq(id))
        .exec(txn)
        .await
        .map_err(write_err)?;
    if !g.members.is_empty() {
        group_members::Entity::insert_many(g.members.iter().map(|m| group_members::ActiveModel {
            group_id: Set(id),
            entity_id: Set(*m.as_uuid()),
        }))
        .exec_without_returning(txn)
        .await
        .map_err(|e| match e.sql_err() {
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
    user_companies::Entity::delete_many()
        .filter(user_companies::Column::UserId.eq(user))
        .exec(txn)
        .await
        .map_err(write_err)?;
    user_links::Entity::delete_many()
        .filter(user_links::Column::UserId.eq(user))
        .exec(txn)
        .await
        .map_err(write_err)?;
    Ok(())
}

/// Moves entities' and users' company links from a merged organisation to the one it was
/// merged into (dropping links the receiver already has).
pub(crate) async fn merge<C: ConnectionTrait>(
    txn: &C,
    from: Uuid,
    into: Uuid,
) -> Result<(), ChangeError> {
    move_companies::<_, entity_companies::Entity>(
        txn,
        entity_companies::Column::EntityId,
        entity_companies::Column::OrganisationId,
        from,
        into,
    )
    .await?;
    move_companies::<_, user_companies::Entity>(
        txn,
        user_companies::Column::UserId,
        user_companies::Column::OrganisationId,
        from,
        into,
    )
    .await
}

/// Moves one company table's rows (`owner`, `organisation`) from one organisation to
/// another, first dropping the owners the receiver already has.
async fn move_companies<C: ConnectionTrait, E: EntityTrait>(
    txn: &C,
    owner: E::Column,
    organisation: E::Column,
    from: Uuid,
    into: Uuid,
) -> Result<(), ChangeError> {
    let already = Query::select()
        .column(owner)
        .from(E::default())
        .and_where(Expr::col((E::default(), organisation)).eq(into))
        .to_owned();
    E::delete_many()
        .filter(organisation.eq(from))
        .filter(owner.in_subquery(already))
        .exec(txn)
        .await
        .map_err(write_err)?;
    E::update_many()
        .col_expr(organisation, Expr::value(into))
        .filter(organisation.eq(from))
        .exec(txn)
        .await
        .map_err(write_err)?;
    Ok(())
}

// ---- reads ----------------------------------------------------------------------------

fn entity_row(row: &entities::Model) -> Result<Entity, BackendError> {
    let id = row.id;
    let name = Name::parse(&row.name).map_err(|e| corrupt("entity", id, e))?;
    let mut e = Entity::new(EntityId::from_uuid(id), kind_of(&row.kind)?, name);
    let map: BTreeMap<String, String> =
        serde_json::from_str(&row.fields).map_err(|e| corrupt("entity", id, e))?;
    e.fields = map;
    Ok(e)
}

/// Group members by group.
fn members_by_group(rows: Vec<group_members::Model>) -> BTreeMap<Uuid, Vec<EntityId>> {
    let mut by_group: BTreeMap<Uuid, Vec<EntityId>> = BTreeMap::new();
    for row in rows {
        by_group.entry(row.group_id).or_default().push(EntityId::from_uuid(row.entity_id));
    }
    by_group
}

impl SeaOrmStore {
    /// Entities by id, with their companies and links.
    async fn entities_by_id(&self, ids: &[Uuid]) -> Result<Vec<Entity>, BackendError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.db();
        let rows = entities::Entity::find()
            .filter(entities::Column::Id.is_in(ids.iter().copied()))
            .all(db)
            .await
            .map_err(backend)?;
        let mut found: HashMap<Uuid, Entity> = HashMap::new();
        for row in &rows {
            let e = entity_row(row)?;
            found.insert(*e.id.as_uuid(), e);
        }
        let companies = entity_companies::Entity::find()
            .filter(entity_companies::Column::EntityId.is_in(ids.iter().copied()))
            .all(db)
            .await
            .map_err(backend)?;
        for row in companies {
            if let Some(x) = found.get_mut(&row.entity_id) {
                x.companies.push(OrgId::from_uuid(row.organisation_id));
            }
        }
        let links = entity_links::Entity::find()
            .filter(entity_links::Column::EntityId.is_in(ids.iter().copied()))
            .all(db)
            .await
            .map_err(backend)?;
        for row in links {
            let kind =
                LinkKind::parse(&row.kind).map_err(|e| corrupt("entity link", row.entity_id, e))?;
            if let Some(x) = found.get_mut(&row.entity_id) {
                x.links.push(EntityLink { kind, to: EntityId::from_uuid(row.to_entity_id) });
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
        let members = group_members::Entity::find()
            .filter(group_members::Column::EntityId.is_in(entities.iter().copied()))
            .all(self.db())
            .await
            .map_err(backend)?;
        self.load_groups(Some(members_by_group(members))).await
    }

    /// Groups by id with the members given, or every group with all members.
    async fn load_groups(
        &self,
        members: Option<BTreeMap<Uuid, Vec<EntityId>>>,
    ) -> Result<Vec<Group>, BackendError> {
        let db = self.db();
        let mut q = entity_groups::Entity::find();
        let mut members = match members {
            Some(m) if m.is_empty() => return Ok(Vec::new()),
            Some(m) => {
                q = q.filter(entity_groups::Column::Id.is_in(m.keys().copied()));
                m
            }
            None => members_by_group(group_members::Entity::find().all(db).await.map_err(backend)?),
        };
        let mut out = Vec::new();
        for row in q.all(db).await.map_err(backend)? {
            let id = row.id;
            let mut m = members.remove(&id).unwrap_or_default();
            m.sort_unstable();
            out.push(Group {
                id: GroupId::from_uuid(id),
                name: Name::parse(&row.name).map_err(|e| corrupt("group", id, e))?,
                description: row.description,
                kind: kind_of(&row.kind)?,
                members: m,
            });
        }
        Ok(out)
    }

    async fn load_datasets(&self, only: Option<&[Uuid]>) -> Result<Vec<Dataset>, BackendError> {
        let mut q = datasets::Entity::find();
        if let Some(ids) = only {
            q = q.filter(datasets::Column::Id.is_in(ids.iter().copied()));
        }
        let mut out = Vec::new();
        for row in q.all(self.db()).await.map_err(backend)? {
            let id = row.id;
            let fields: Vec<(String, String)> =
                serde_json::from_str(&row.fields).map_err(|e| corrupt("dataset", id, e))?;
            out.push(Dataset {
                id: DatasetId::from_uuid(id),
                key: row.key,
                name: Name::parse(&row.name).map_err(|e| corrupt("dataset", id, e))?,
                kind: if row.kind == "table" { DatasetKind::Table } else { DatasetKind::Form },
                embedded_in: row.embedded_in.map(DatasetId::from_uuid),
                fields,
            });
        }
        // Forms before the tables embedded in them, so a world accepts them in order.
        out.sort_by_key(|d| d.embedded_in.is_some());
        Ok(out)
    }

    async fn load_roles(&self, only: Option<&[Uuid]>) -> Result<Vec<Role>, BackendError> {
        let mut q = roles::Entity::find();
        if let Some(ids) = only {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            q = q.filter(roles::Column::Id.is_in(ids.iter().copied()));
        }
        let mut out = Vec::new();
        for row in q.all(self.db()).await.map_err(backend)? {
            out.push(stored_role(row.id, row.key, row.name, row.description, &row.definition)?);
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
        let state: Option<String> = links::Entity::find()
            .select_only()
            .column(links::Column::State)
            .filter(links::Column::UserId.eq(*user.as_uuid()))
            .filter(links::Column::Purpose.is_in(["invitation", "reactivation"]))
            .order_by_desc(links::Column::IssuedAt)
            .order_by_desc(links::Column::Id)
            .into_tuple()
            .one(self.db())
            .await
            .map_err(backend)?;
        Ok(state.is_some_and(|s| s != "accepted"))
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

/// The entities a scope and a query match (the rows of an entity list and its count).
fn entity_select(scope: &EntityScope, query: &EntityQuery) -> sea_orm::Select<entities::Entity> {
    use entities::Column;
    let mut q = entities::Entity::find();
    if let Some(c) = scope_condition(scope) {
        q = q.filter(c);
    }
    if let Some(s) = &query.search {
        q = q.filter(Column::SortName.like(crate::directory::contains(s)));
    }
    if let Some(k) = query.kind {
        q = q.filter(Column::Kind.eq(k.as_str()));
    }
    q
}

/// `LOWER(column)`, to search and order names any case.
fn lower(column: impl sea_orm::sea_query::IntoColumnRef) -> sea_orm::sea_query::SimpleExpr {
    sea_orm::sea_query::Func::lower(Expr::col(column)).into()
}

fn scope_condition(scope: &EntityScope) -> Option<Cond> {
    if scope.everything {
        return None;
    }
    let entity_id = (entities::Entity, entities::Column::Id);
    let in_companies = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(entity_companies::Entity)
            .and_where(
                Expr::col((entity_companies::Entity, entity_companies::Column::EntityId))
                    .equals(entity_id),
            )
            .and_where(
                Expr::col((entity_companies::Entity, entity_companies::Column::OrganisationId))
                    .is_in(scope.companies.iter().map(|c| *c.as_uuid())),
            )
            .to_owned(),
    );
    let mut reach = Cond::any();
    if let Some(own) = scope.own {
        reach = reach.add(Expr::col(entity_id).eq(*own.as_uuid()));
    }
    if scope.company_wide {
        reach = reach.add(Expr::val(1).eq(1));
    }
    if scope.groups.contains(&ALL_PEOPLE) {
        reach = reach.add(
            Expr::col((entities::Entity, entities::Column::Kind)).eq(EntityKind::Person.as_str()),
        );
    }
    let groups: Vec<Uuid> =
        scope.groups.iter().filter(|g| **g != ALL_PEOPLE).map(|g| *g.as_uuid()).collect();
    if !groups.is_empty() {
        reach = reach.add(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(group_members::Entity)
                .and_where(
                    Expr::col((group_members::Entity, group_members::Column::EntityId))
                        .equals(entity_id),
                )
                .and_where(
                    Expr::col((group_members::Entity, group_members::Column::GroupId))
                        .is_in(groups),
                )
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
        use entities::Column;
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = entity_select(scope, query)
            .select_only()
            .column(Column::Id)
            .order_by_asc(Column::SortName)
            .order_by_asc(Column::Id)
            .limit(page.limit.min(Page::MAX_LIMIT) as u64)
            .offset(page.offset as u64)
            .into_tuple()
            .all(self.db())
            .await
            .map_err(backend)?;
        self.entities_by_id(&ids).await
    }

    async fn entity_count(
        &self,
        scope: &EntityScope,
        query: &EntityQuery,
    ) -> Result<u64, BackendError> {
        if scope.is_nothing() {
            return Ok(0);
        }
        entity_select(scope, query).count(self.db()).await.map_err(backend)
    }

    async fn entity(&self, id: EntityId) -> Result<Option<Entity>, BackendError> {
        Ok(self.entities_by_id(&[*id.as_uuid()]).await?.pop())
    }

    async fn linked_from(&self, id: EntityId) -> Result<Vec<(EntityId, LinkKind)>, BackendError> {
        use entity_links::Column;
        let rows = entity_links::Entity::find()
            .filter(Column::ToEntityId.eq(*id.as_uuid()))
            .order_by_asc(Column::EntityId)
            .order_by_asc(Column::Kind)
            .all(self.db())
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let kind =
                LinkKind::parse(&row.kind).map_err(|e| corrupt("entity link", row.entity_id, e))?;
            out.push((EntityId::from_uuid(row.entity_id), kind));
        }
        out.sort_unstable();
        Ok(out)
    }

    async fn groups(&self) -> Result<Vec<Group>, BackendError> {
        self.load_groups(None).await
    }

    async fn group_list(
        &self,
        query: &GroupQuery,
        page: Page,
    ) -> Result<Listed<Group>, BackendError> {
        use entity_groups::Column;
        let db = self.db();
        let mut q = entity_groups::Entity::find().filter(Column::Id.ne(*ALL_PEOPLE.as_uuid()));
        if let Some(s) = &query.search {
            q = q.filter(lower(Column::Name).like(crate::directory::contains(s)));
        }
        if let Some(k) = query.kind {
            q = q.filter(Column::Kind.eq(k.as_str()));
        }
        let total = q.clone().count(db).await.map_err(backend)?;
        let ids: Vec<Uuid> = q
            .select_only()
            .column(Column::Id)
            .order_by_asc(lower(Column::Name))
            .order_by_asc(Column::Id)
            .limit(page.limit.min(Page::MAX_LIMIT) as u64)
            .offset(page.offset as u64)
            .into_tuple()
            .all(db)
            .await
            .map_err(backend)?;
        let rows = group_members::Entity::find()
            .filter(group_members::Column::GroupId.is_in(ids.iter().copied()))
            .all(db)
            .await
            .map_err(backend)?;
        let mut members = members_by_group(rows);
        for id in &ids {
            members.entry(*id).or_default();
        }
        let mut groups = self.load_groups(Some(members)).await?;
        groups.sort_by_key(|g| ids.iter().position(|i| i == g.id.as_uuid()));
        Ok(Listed { items: groups, total })
    }

    async fn custom_role_list(
        &self,
        search: Option<&Search>,
        page: Page,
    ) -> Result<Listed<Role>, BackendError> {
        use roles::Column;
        let db = self.db();
        let mut q = roles::Entity::find();
        if let Some(s) = search {
            q = q.filter(lower(Column::Name).like(crate::directory::contains(s)));
        }
        let total = q.clone().count(db).await.map_err(backend)?;
        let rows = q
            .order_by_asc(lower(Column::Name))
            .order_by_asc(Column::Id)
            .limit(page.limit.min(Page::MAX_LIMIT) as u64)
            .offset(page.offset as u64)
            .all(db)
            .await
            .map_err(backend)?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            items.push(stored_role(row.id, row.key, row.name, row.description, &row.definition)?);
        }
        Ok(Listed { items, total })
    }

    async fn datasets(&self) -> Result<Vec<Dataset>, BackendError> {
        self.load_datasets(None).await
    }

    async fn custom_roles(&self) -> Result<Vec<Role>, BackendError> {
        self.load_roles(None).await
    }

    async fn user_links(&self, user: UserId) -> Result<Option<(String, UserLinks)>, BackendError> {
        let db = self.db();
        let Some(row) = user_links::Entity::find()
            .filter(user_links::Column::UserId.eq(*user.as_uuid()))
            .one(db)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let mut companies: Vec<OrgId> = user_companies::Entity::find()
            .select_only()
            .column(user_companies::Column::OrganisationId)
            .filter(user_companies::Column::UserId.eq(*user.as_uuid()))
            .into_tuple()
            .all(db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(OrgId::from_uuid)
            .collect();
        companies.sort_unstable();
        Ok(Some((
            row.username,
            UserLinks { entity: row.entity_id.map(EntityId::from_uuid), companies },
        )))
    }

    async fn accounts(
        &self,
        scope: &Scope,
        page: Page,
    ) -> Result<Vec<(String, User)>, BackendError> {
        use user_links::Column;
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        // The engine's user scope: users of these organisations, or the actor; with
        // everything, every user on the scope's side (a company's, never a housing one's).
        let mut q = user_links::Entity::find()
            .select_only()
            .columns([Column::UserId, Column::Username])
            .join(JoinType::InnerJoin, user_links::Relation::User.def());
        if let Some(reach) = crate::directory::scope_condition(
            scope,
            &[users::Column::OrganisationId],
            users::Column::Id,
        ) {
            q = q.filter(reach);
        }
        let names: Vec<(Uuid, String)> = q
            .order_by_asc(Column::UsernameFolded)
            .order_by_asc(Column::UserId)
            .limit(page.limit.min(Page::MAX_LIMIT) as u64)
            .offset(page.offset as u64)
            .into_tuple()
            .all(self.db())
            .await
            .map_err(backend)?;
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

    async fn account_list(
        &self,
        scope: &Scope,
        query: &AccountQuery,
        page: Page,
    ) -> Result<Listed<AccountItem>, BackendError> {
        use user_links::Column;
        if scope.is_nothing() {
            return Ok(Listed::default());
        }
        let db = self.db();
        let user_id = (user_links::Entity, Column::UserId);
        let mut q =
            user_links::Entity::find().join(JoinType::InnerJoin, user_links::Relation::User.def());
        // The engine's user scope, on the scope's side only (as `accounts`).
        if let Some(reach) = crate::directory::scope_condition(
            scope,
            &[users::Column::OrganisationId],
            users::Column::Id,
        ) {
            q = q.filter(reach);
        }
        if let Some(s) = &query.search {
            let pattern = crate::directory::contains(s);
            q = q.filter(
                Cond::any()
                    .add(Column::UsernameFolded.like(pattern.clone()))
                    .add(lower(users::Column::Email).like(pattern)),
            );
        }
        if let Some(c) = query.company {
            q = q.filter(Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(user_companies::Entity)
                    .and_where(
                        Expr::col((user_companies::Entity, user_companies::Column::UserId))
                            .equals(user_id),
                    )
                    .and_where(
                        Expr::col((user_companies::Entity, user_companies::Column::OrganisationId))
                            .eq(*c.as_uuid()),
                    )
                    .to_owned(),
            ));
        }
        if let Some(r) = query.role {
            q = q.filter(Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(user_roles::Entity)
                    .and_where(
                        Expr::col((user_roles::Entity, user_roles::Column::UserId)).equals(user_id),
                    )
                    .and_where(
                        Expr::col((user_roles::Entity, user_roles::Column::RoleId))
                            .eq(*r.as_uuid()),
                    )
                    .to_owned(),
            ));
        }
        if let Some(a) = query.active {
            q = q.filter(users::Column::Active.eq(a));
        }
        let total = q.clone().count(db).await.map_err(backend)?;
        let links = q
            .order_by_asc(Column::UsernameFolded)
            .order_by_asc(Column::UserId)
            .limit(page.limit.min(Page::MAX_LIMIT) as u64)
            .offset(page.offset as u64)
            .all(db)
            .await
            .map_err(backend)?;
        let ids: Vec<Uuid> = links.iter().map(|l| l.user_id).collect();
        let rows = users::Entity::find()
            .filter(users::Column::Id.is_in(ids.iter().copied()))
            .all(db)
            .await
            .map_err(backend)?;
        let users = self.with_roles(rows).await?;
        let mut companies: HashMap<Uuid, Vec<OrgId>> = HashMap::new();
        for row in user_companies::Entity::find()
            .filter(user_companies::Column::UserId.is_in(ids.iter().copied()))
            .all(db)
            .await
            .map_err(backend)?
        {
            companies.entry(row.user_id).or_default().push(OrgId::from_uuid(row.organisation_id));
        }
        let entity_ids: Vec<Uuid> = links.iter().filter_map(|l| l.entity_id).collect();
        let names: HashMap<Uuid, String> = entities::Entity::find()
            .select_only()
            .columns([entities::Column::Id, entities::Column::Name])
            .filter(entities::Column::Id.is_in(entity_ids))
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await
            .map_err(backend)?
            .into_iter()
            .collect();
        let mut items = Vec::with_capacity(links.len());
        for link in links {
            let Some(user) = users.iter().find(|u| *u.id.as_uuid() == link.user_id) else {
                continue;
            };
            let mut companies = companies.remove(&link.user_id).unwrap_or_default();
            companies.sort_unstable();
            let entity_name = match link.entity_id.and_then(|e| names.get(&e)) {
                Some(n) => Some(Name::parse(n).map_err(|e| corrupt("entity", link.user_id, e))?),
                None => None,
            };
            items.push(AccountItem {
                username: link.username,
                user: user.clone(),
                links: UserLinks { entity: link.entity_id.map(EntityId::from_uuid), companies },
                entity_name,
            });
        }
        Ok(Listed { items, total })
    }

    async fn history(
        &self,
        dataset: DatasetId,
        entity: EntityId,
    ) -> Result<Vec<Version>, BackendError> {
        use instance_versions::Column;
        let rows = instance_versions::Entity::find()
            .filter(Column::DatasetId.eq(*dataset.as_uuid()))
            .filter(Column::EntityId.eq(*entity.as_uuid()))
            .order_by_asc(Column::Number)
            .all(self.db())
            .await
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let number = row.number;
            out.push(Version {
                number: u32::try_from(number).map_err(|e| corrupt("version", number, e))?,
                at: Moment(row.at),
                by: row.by_user.map(UserId::from_uuid),
                content: json_content(&row.content)
                    .ok_or_else(|| corrupt("version", number, "content"))?,
            });
        }
        Ok(out)
    }
}
