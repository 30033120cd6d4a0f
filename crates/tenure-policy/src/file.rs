//! Parsing and loading a policy file into a world.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use tenure_domain::dataset::catalogue_id_of;
use tenure_domain::role::builtin;
use tenure_domain::{
    Action, Dataset, DatasetId, DatasetKind, DatasetPermissions, Email, Entity, EntityId,
    EntityKind, Feature, FeatureSet, Group, GroupId, Log, LogId, Name, OrgId, Organisation,
    OrganisationKind, Relationship, Request, Resource, ResourceKind, RoleCatalogue, RoleForm,
    RoleId, User, UserId, UserLinks, World,
};
use toml::Spanned;
use uuid::Uuid;

/// A problem that stops a file from running, with where it is.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LoadError {
    /// The file's name as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error: {}", self.file, self.line, self.column, self.message)
    }
}

impl std::error::Error for LoadError {}

/// A loaded policy file: a world and what is expected in it.
#[derive(Debug)]
pub struct PolicyFile {
    pub(crate) name: String,
    pub(crate) world: World,
    pub(crate) checks: Vec<Check>,
    pub(crate) lists: Vec<ListCheck>,
    pub(crate) second_factors: Vec<SecondFactorCheck>,
    pub(crate) reports: Vec<ReportCheck>,
    pub(crate) keys: Keys,
}

/// A `[[reports]]` entry: what the engine's `decide_report` answers an actor about a
/// report on an entity, given whether the report's condition holds for it.
#[derive(Debug)]
pub(crate) struct ReportCheck {
    pub(crate) line: usize,
    pub(crate) actor_key: String,
    pub(crate) actor: UserId,
    pub(crate) report: tenure_domain::report::Report,
    pub(crate) entity_key: String,
    pub(crate) entity: EntityId,
    pub(crate) condition_holds: bool,
    /// `available`, `unavailable` or `not_found`.
    pub(crate) expect: String,
}

/// A `[[second_factors]]` entry: whether the engine says the user must have one.
#[derive(Debug)]
pub(crate) struct SecondFactorCheck {
    pub(crate) line: usize,
    pub(crate) user_key: String,
    pub(crate) user: UserId,
    pub(crate) expect_required: bool,
}

#[derive(Debug)]
pub(crate) struct Check {
    pub(crate) line: usize,
    pub(crate) text: String,
    pub(crate) request: Request,
    pub(crate) expect_allow: bool,
}

#[derive(Debug)]
pub(crate) struct ListCheck {
    pub(crate) line: usize,
    pub(crate) actor_key: String,
    pub(crate) actor: UserId,
    pub(crate) kind: ResourceKind,
    pub(crate) expect: Vec<String>,
}

/// Handles from the file, both ways.
#[derive(Debug, Default)]
pub(crate) struct Keys {
    pub(crate) orgs: HashMap<String, OrgId>,
    pub(crate) users: HashMap<String, UserId>,
    pub(crate) logs: HashMap<String, LogId>,
    pub(crate) entities: HashMap<String, EntityId>,
    pub(crate) groups: HashMap<String, GroupId>,
    pub(crate) datasets: HashMap<String, DatasetId>,
    pub(crate) roles: HashMap<String, RoleId>,
    pub(crate) usernames: HashMap<UserId, String>,
}

impl Keys {
    pub(crate) fn user_key(&self, id: UserId) -> Option<&str> {
        self.users.iter().find(|(_, v)| **v == id).map(|(k, _)| k.as_str())
    }
    pub(crate) fn org_key(&self, id: OrgId) -> Option<&str> {
        self.orgs.iter().find(|(_, v)| **v == id).map(|(k, _)| k.as_str())
    }
    pub(crate) fn log_key(&self, id: LogId) -> Option<&str> {
        self.logs.iter().find(|(_, v)| **v == id).map(|(k, _)| k.as_str())
    }
    pub(crate) fn entity_key(&self, id: EntityId) -> Option<&str> {
        self.entities.iter().find(|(_, v)| **v == id).map(|(k, _)| k.as_str())
    }
}

impl PolicyFile {
    /// The world the file describes.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Parses a request written as in a `[[checks]]` entry, against this file's world.
    ///
    /// # Errors
    /// Unknown keys, actions, roles and resources, as for a file.
    pub fn request(
        &self,
        actor: &str,
        action: &str,
        resource: &str,
        role: Option<&str>,
    ) -> Result<Request, String> {
        let actor =
            *self.keys.users.get(actor).ok_or_else(|| unknown("user", actor, &self.keys.users))?;
        let action = parse_action(action)?;
        let resource = parse_resource(resource, action.resource_kind(), &self.keys)?;
        let role = role.map(parse_role).transpose()?.flatten();
        check_role_use(action, role.is_some())?;
        Ok(Request { actor, action, resource, role })
    }

    /// The number of checks and lists in the file.
    pub fn len(&self) -> usize {
        self.checks.len() + self.lists.len() + self.second_factors.len() + self.reports.len()
    }

    /// Whether the file expects nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    organisations: Vec<Spanned<RawOrg>>,
    #[serde(default)]
    relationships: Vec<Spanned<RawRelationship>>,
    #[serde(default)]
    users: Vec<Spanned<RawUser>>,
    #[serde(default)]
    logs: Vec<Spanned<RawLog>>,
    #[serde(default)]
    checks: Vec<Spanned<RawCheck>>,
    #[serde(default)]
    lists: Vec<Spanned<RawList>>,
    #[serde(default)]
    entities: Vec<Spanned<RawEntity>>,
    #[serde(default)]
    groups: Vec<Spanned<RawGroup>>,
    #[serde(default)]
    datasets: Vec<Spanned<RawDataset>>,
    #[serde(default)]
    roles: Vec<Spanned<RawRole>>,
    #[serde(default)]
    second_factors: Vec<Spanned<RawSecondFactor>>,
    #[serde(default)]
    reports: Vec<Spanned<RawReport>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    actor: Spanned<String>,
    report: Spanned<String>,
    entity: Spanned<String>,
    #[serde(default = "condition_holds_by_default")]
    condition_holds: bool,
    expect: Spanned<String>,
}

const fn condition_holds_by_default() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecondFactor {
    user: Spanned<String>,
    expect: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntity {
    key: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    organisations: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    key: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    entity_type: Spanned<String>,
    #[serde(default)]
    members: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    key: Spanned<String>,
    name: Spanned<String>,
    kind: Spanned<String>,
    embedded_in: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    key: Spanned<String>,
    name: Spanned<String>,
    description: Spanned<String>,
    #[serde(default)]
    groups: Vec<Spanned<String>>,
    #[serde(default)]
    features: Vec<Spanned<String>>,
    #[serde(default)]
    datasets: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    requires_second_factor: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    key: Spanned<String>,
    name: Spanned<String>,
    /// `housing` (CORE's, the default) or `company` (Corterum's).
    kind: Option<Spanned<String>>,
    #[serde(default = "yes")]
    holds_stock: bool,
    #[serde(default = "yes")]
    active: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelationship {
    stock_owner: Spanned<String>,
    managing_agent: Spanned<String>,
    #[serde(default)]
    state: RawRelationshipState,
}

/// Where a relationship stands: `accepted` (in effect, the default) or `requested` (asked
/// for by the stock owner, widening nothing until the other end accepts).
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum RawRelationshipState {
    #[default]
    Accepted,
    Requested,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    key: Spanned<String>,
    organisation: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    dpo: bool,
    #[serde(default)]
    key_contact: bool,
    username: Option<Spanned<String>>,
    organisations: Option<Spanned<Vec<Spanned<String>>>>,
    entity: Option<Spanned<String>>,
    roles: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    root: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    key: Spanned<String>,
    owning_organisation: Spanned<String>,
    managing_organisation: Spanned<String>,
    assigned_to: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    actor: Spanned<String>,
    action: Spanned<String>,
    resource: Spanned<String>,
    expect: Spanned<String>,
    role: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    actor: Spanned<String>,
    kind: Spanned<String>,
    expect: Spanned<Vec<String>>,
}

/// Turns byte offsets into 1-based lines and columns.
struct Lines<'a> {
    source: &'a str,
}

impl Lines<'_> {
    fn at(&self, offset: usize) -> (usize, usize) {
        let before = &self.source[..offset.min(self.source.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }
}

/// Collects errors with their places.
struct Errors<'a> {
    file: &'a str,
    lines: Lines<'a>,
    list: Vec<LoadError>,
}

impl Errors<'_> {
    fn push(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = self.lines.at(span.start);
        self.list.push(LoadError {
            file: self.file.to_owned(),
            line,
            column,
            message: one_line(&message.into()),
        });
    }
}

/// A message with any control or text-direction character (from a key or value in the
/// file, repeated in it) written as a `\u{…}` escape, so each error stays one line and
/// shows what the file really holds.
fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        if tenure_domain::name::is_forbidden_in_text(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses and loads one policy file.
///
/// # Errors
/// Every problem found, each with its line and column: syntax, unknown tables or fields,
/// unknown keys, actions or roles, duplicate keys, dangling references, and worlds the
/// domain refuses (a self-relationship, say).
pub fn load(file: &str, source: &str) -> Result<PolicyFile, Vec<LoadError>> {
    let mut errors = Errors { file, lines: Lines { source }, list: Vec::new() };
    let raw: Raw = match toml::from_str(source) {
        Ok(raw) => raw,
        Err(e) => {
            errors.push(e.span().unwrap_or(0..0), e.message().trim().replace('\n', "; "));
            return Err(errors.list);
        }
    };
    let mut world = World::with_roles(RoleCatalogue::with_corterum());
    let mut keys = Keys::default();
    // "All People" exists from the start.
    keys.groups.insert("all_people".to_owned(), tenure_domain::ALL_PEOPLE);
    let mut next = 0u128;
    let mut id = || {
        next += 1;
        Uuid::from_u128(next)
    };

    for org in &raw.organisations {
        let r = org.get_ref();
        if !valid_key(&r.key) {
            errors.push(r.key.span(), bad_key(r.key.get_ref()));
            continue;
        }
        if keys.orgs.contains_key(r.key.get_ref()) {
            errors.push(
                r.key.span(),
                format!("organisation key `{}` is used twice", r.key.get_ref()),
            );
            continue;
        }
        let Some(name) = parsed(&mut errors, &r.name, Name::parse) else {
            continue;
        };
        let kind = match &r.kind {
            None => OrganisationKind::Housing,
            Some(k) => match OrganisationKind::parse(k.get_ref()) {
                Some(kind) => kind,
                None => {
                    errors.push(
                        k.span(),
                        format!(
                            "unknown organisation kind `{}`: expected `housing` or `company`",
                            k.get_ref()
                        ),
                    );
                    continue;
                }
            },
        };
        let oid = OrgId::from_uuid(id());
        let mut o = Organisation::new(oid, name);
        o.kind = kind;
        o.holds_stock = r.holds_stock;
        o.active = r.active;
        // INVARIANT: ids are fresh, so insertion cannot fail.
        if world.insert_organisation(o).is_ok() {
            keys.orgs.insert(r.key.get_ref().clone(), oid);
        }
    }

    for rel in &raw.relationships {
        let r = rel.get_ref();
        let owner = lookup(&mut errors, "organisation", &r.stock_owner, &keys.orgs);
        let agent = lookup(&mut errors, "organisation", &r.managing_agent, &keys.orgs);
        if let (Some(stock_owner), Some(managing_agent)) = (owner, agent) {
            let relationship = Relationship { stock_owner, managing_agent };
            let added = match r.state {
                RawRelationshipState::Accepted => world.add_relationship(relationship),
                RawRelationshipState::Requested => {
                    world.request_relationship(relationship, stock_owner)
                }
            };
            if let Err(e) = added {
                errors.push(rel.span(), e.to_string());
            }
        }
    }

    load_corterum(&raw, &mut errors, &mut world, &mut keys, &mut id);

    for user in &raw.users {
        load_user(user, &mut errors, &mut world, &mut keys, &mut id);
    }

    for log in &raw.logs {
        let r = log.get_ref();
        if !valid_key(&r.key) {
            errors.push(r.key.span(), bad_key(r.key.get_ref()));
            continue;
        }
        if keys.logs.contains_key(r.key.get_ref()) {
            errors.push(r.key.span(), format!("log key `{}` is used twice", r.key.get_ref()));
            continue;
        }
        let owning = lookup(&mut errors, "organisation", &r.owning_organisation, &keys.orgs);
        let managing = lookup(&mut errors, "organisation", &r.managing_organisation, &keys.orgs);
        let assigned = match &r.assigned_to {
            Some(k) => match lookup(&mut errors, "user", k, &keys.users) {
                Some(u) => Some(u),
                None => continue,
            },
            None => None,
        };
        let (Some(owning), Some(managing)) = (owning, managing) else { continue };
        let lid = LogId::from_uuid(id());
        let l = Log {
            id: lid,
            owning_organisation: owning,
            managing_organisation: managing,
            assigned_to: assigned,
            created_by: None,
        };
        if world.upsert_log(l).is_ok() {
            keys.logs.insert(r.key.get_ref().clone(), lid);
        }
    }

    let mut checks = Vec::new();
    for check in &raw.checks {
        let r = check.get_ref();
        let (line, _) = errors.lines.at(check.span().start);
        let actor = lookup(&mut errors, "user", &r.actor, &keys.users);
        let action = match parse_action(r.action.get_ref()) {
            Ok(a) => Some(a),
            Err(message) => {
                errors.push(r.action.span(), message);
                None
            }
        };
        let resource = action.and_then(|a| {
            match parse_resource(r.resource.get_ref(), a.resource_kind(), &keys) {
                Ok(res) => Some(res),
                Err(message) => {
                    errors.push(r.resource.span(), message);
                    None
                }
            }
        });
        let role = match &r.role {
            Some(role) => match parse_given_role(role.get_ref(), &keys) {
                Ok(role) => role,
                Err(message) => {
                    errors.push(role.span(), message);
                    None
                }
            },
            None => None,
        };
        if let Some(a) = action {
            if let Err(message) = check_role_use(a, r.role.is_some()) {
                errors.push(r.role.as_ref().map_or(check.span(), Spanned::span), message);
            }
        }
        let expect_allow = match r.expect.get_ref().as_str() {
            "allow" => Some(true),
            "deny" => Some(false),
            other => {
                errors.push(
                    r.expect.span(),
                    format!("unknown expectation `{other}`; expected `allow` or `deny`"),
                );
                None
            }
        };
        if let (Some(actor), Some(action), Some(resource), Some(expect_allow)) =
            (actor, action, resource, expect_allow)
        {
            let text =
                format!("{} {} {}", r.actor.get_ref(), r.action.get_ref(), r.resource.get_ref())
                    + &r.role
                        .as_ref()
                        .map_or_else(String::new, |role| format!(" giving {}", role.get_ref()));
            checks.push(Check {
                line,
                text,
                request: Request { actor, action, resource, role },
                expect_allow,
            });
        }
    }

    let mut lists = Vec::new();
    for list in &raw.lists {
        let r = list.get_ref();
        let (line, _) = errors.lines.at(list.span().start);
        let actor = lookup(&mut errors, "user", &r.actor, &keys.users);
        let kind = match r.kind.get_ref().as_str() {
            "user" => Some(ResourceKind::User),
            "organisation" => Some(ResourceKind::Organisation),
            "log" => Some(ResourceKind::Log),
            "entity" => Some(ResourceKind::Entity),
            "instance" => Some(ResourceKind::Instance),
            other => {
                errors.push(
                    r.kind.span(),
                    format!(
                        "unknown list kind `{other}`; expected `user`, `organisation`, `log`, `entity` or `instance`"
                    ),
                );
                None
            }
        };
        if let Some(kind) = kind {
            for k in r.expect.get_ref() {
                let known = match kind {
                    ResourceKind::User => keys.users.contains_key(k),
                    ResourceKind::Organisation => keys.orgs.contains_key(k),
                    ResourceKind::Entity => keys.entities.contains_key(k),
                    ResourceKind::Instance => k.split_once('/').is_some_and(|(d, e)| {
                        keys.datasets.contains_key(d) && keys.entities.contains_key(e)
                    }),
                    _ => keys.logs.contains_key(k),
                };
                if !known {
                    let form = if kind == ResourceKind::Instance {
                        " (expected DATASET/ENTITY keys)"
                    } else {
                        ""
                    };
                    errors.push(r.expect.span(), format!("unknown {kind} `{k}` in `expect`{form}"));
                }
            }
        }
        if let (Some(actor), Some(kind)) = (actor, kind) {
            lists.push(ListCheck {
                line,
                actor_key: r.actor.get_ref().clone(),
                actor,
                kind,
                expect: r.expect.get_ref().clone(),
            });
        }
    }

    let mut second_factors = Vec::new();
    for entry in &raw.second_factors {
        let r = entry.get_ref();
        let (line, _) = errors.lines.at(entry.span().start);
        let user = lookup(&mut errors, "user", &r.user, &keys.users);
        let expect_required = match r.expect.get_ref().as_str() {
            "required" => Some(true),
            "optional" => Some(false),
            other => {
                errors.push(
                    r.expect.span(),
                    format!(
                        "unknown second factor expectation `{}`; expected `required` or `optional`",
                        tenure_domain::name::quoted(other)
                    ),
                );
                None
            }
        };
        if let (Some(user), Some(expect_required)) = (user, expect_required) {
            second_factors.push(SecondFactorCheck {
                line,
                user_key: r.user.get_ref().clone(),
                user,
                expect_required,
            });
        }
    }

    let mut reports = Vec::new();
    for entry in &raw.reports {
        let r = entry.get_ref();
        let (line, _) = errors.lines.at(entry.span().start);
        let actor = lookup(&mut errors, "user", &r.actor, &keys.users);
        let entity = lookup(&mut errors, "entity", &r.entity, &keys.entities);
        let report = match r.report.get_ref().parse::<tenure_domain::report::Report>() {
            Ok(report) => Some(report),
            Err(e) => {
                errors.push(r.report.span(), e.to_string());
                None
            }
        };
        let expect = r.expect.get_ref().as_str();
        if !["available", "unavailable", "not_found"].contains(&expect) {
            errors.push(
                r.expect.span(),
                format!(
                    "unknown report expectation `{}`; expected `available`, `unavailable` or `not_found`",
                    tenure_domain::name::quoted(expect)
                ),
            );
        } else if let (Some(actor), Some(entity), Some(report)) = (actor, entity, report) {
            reports.push(ReportCheck {
                line,
                actor_key: r.actor.get_ref().clone(),
                actor,
                report,
                entity_key: r.entity.get_ref().clone(),
                entity,
                condition_holds: r.condition_holds,
                expect: expect.to_owned(),
            });
        }
    }

    if errors.list.is_empty() {
        Ok(PolicyFile {
            name: file.to_owned(),
            world,
            checks,
            lists,
            second_factors,
            reports,
            keys,
        })
    } else {
        errors.list.sort_by_key(|e| (e.line, e.column));
        Err(errors.list)
    }
}

const ROLES: &str = "expected one of `administrator`, `data_coordinator`, `data_provider`, `none`";

fn parse_role(role: &str) -> Result<Option<RoleId>, String> {
    match role {
        "administrator" => Ok(Some(builtin::ADMINISTRATOR)),
        "data_coordinator" => Ok(Some(builtin::DATA_COORDINATOR)),
        "data_provider" => Ok(Some(builtin::DATA_PROVIDER)),
        "none" => Ok(None),
        other => Err(format!("unknown role `{other}`; {ROLES}")),
    }
}

/// The role a check gives: CORE's by key (`administrator` is CORE's here), or a
/// Corterum role (a `[[roles]]` key, or a built-in one by key or name).
fn parse_given_role(role: &str, keys: &Keys) -> Result<Option<RoleId>, String> {
    parse_role(role).or_else(|_| {
        keys.roles
            .get(role)
            .copied()
            .or_else(|| builtin_role(role))
            .map(Some)
            .ok_or_else(|| format!("unknown role `{role}`; {ROLES}, or {CORTERUM_ROLES}"))
    })
}

fn parse_action(action: &str) -> Result<Action, String> {
    action.parse::<Action>().map_err(|e| e.to_string())
}

fn check_role_use(action: Action, has_role: bool) -> Result<(), String> {
    match (action.takes_role(), has_role) {
        (true, false) => Err(format!("`{action}` needs `role`: the role given")),
        (false, true) => {
            Err(format!("`role` is only for `user.invite` and `user.change_role`, not `{action}`"))
        }
        _ => Ok(()),
    }
}

fn parse_resource(resource: &str, kind: ResourceKind, keys: &Keys) -> Result<Resource, String> {
    let accepted = match kind {
        ResourceKind::User => "user:KEY",
        ResourceKind::Organisation => "organisation:KEY",
        ResourceKind::Log => "log:KEY",
        ResourceKind::Service => "service",
        ResourceKind::Entity => "entity:KEY",
        ResourceKind::Instance => "instance:DATASET/ENTITY",
        ResourceKind::Feature => "feature:NAME",
        ResourceKind::Group => "group:KEY",
        ResourceKind::Role => "role:KEY",
    };
    let wrong = || format!("resource `{resource}` does not fit this action; expected `{accepted}`");
    if kind == ResourceKind::Service {
        return if resource == "service" { Ok(Resource::Service) } else { Err(wrong()) };
    }
    let Some((prefix, key)) = resource.split_once(':') else { return Err(wrong()) };
    match (prefix, kind) {
        ("user", ResourceKind::User) => keys
            .users
            .get(key)
            .map(|id| Resource::User(*id))
            .ok_or_else(|| unknown("user", key, &keys.users)),
        ("organisation", ResourceKind::Organisation) => keys
            .orgs
            .get(key)
            .map(|id| Resource::Organisation(*id))
            .ok_or_else(|| unknown("organisation", key, &keys.orgs)),
        ("log", ResourceKind::Log) => keys
            .logs
            .get(key)
            .map(|id| Resource::Log(*id))
            .ok_or_else(|| unknown("log", key, &keys.logs)),
        ("entity", ResourceKind::Entity) => keys
            .entities
            .get(key)
            .map(|id| Resource::Entity(*id))
            .ok_or_else(|| unknown("entity", key, &keys.entities)),
        ("instance", ResourceKind::Instance) => {
            let Some((dataset, entity)) = key.split_once('/') else { return Err(wrong()) };
            let dataset = *keys
                .datasets
                .get(dataset)
                .ok_or_else(|| unknown("dataset", dataset, &keys.datasets))?;
            let entity = *keys
                .entities
                .get(entity)
                .ok_or_else(|| unknown("entity", entity, &keys.entities))?;
            Ok(Resource::Instance { dataset, entity })
        }
        ("feature", ResourceKind::Feature) => {
            key.parse::<Feature>().map(Resource::Feature).map_err(|e| e.to_string())
        }
        ("group", ResourceKind::Group) => keys
            .groups
            .get(key)
            .map(|id| Resource::Group(*id))
            .ok_or_else(|| unknown("group", key, &keys.groups)),
        ("role", ResourceKind::Role) => keys
            .roles
            .get(key)
            .copied()
            .or_else(|| builtin_role(key))
            .map(Resource::Role)
            .ok_or_else(|| format!("unknown role `{key}`; expected {CORTERUM_ROLES}")),
        _ => Err(wrong()),
    }
}

fn unknown<V>(kind: &str, key: &str, known: &HashMap<String, V>) -> String {
    let mut names: Vec<_> = known.keys().map(|k| format!("`{k}`")).collect();
    names.sort();
    if names.is_empty() {
        format!("unknown {kind} `{key}`; the file defines no {kind}s")
    } else {
        format!("unknown {kind} `{key}`; expected one of {}", names.join(", "))
    }
}

fn lookup<V: Copy>(
    errors: &mut Errors<'_>,
    kind: &str,
    key: &Spanned<String>,
    known: &HashMap<String, V>,
) -> Option<V> {
    let found = known.get(key.get_ref()).copied();
    if found.is_none() {
        errors.push(key.span(), unknown(kind, key.get_ref(), known));
    }
    found
}

fn valid_key(key: &Spanned<String>) -> bool {
    let k = key.get_ref();
    !k.is_empty()
        && k.len() <= 64
        && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn bad_key(key: &str) -> String {
    format!("key `{key}` must be 1 to 64 letters, digits, `_`, `-` or `.`")
}

/// The Corterum tables: entities, groups, datasets and roles, in that order (each refers
/// only to the ones before it, and datasets to each other).
fn load_corterum(
    raw: &Raw,
    errors: &mut Errors<'_>,
    world: &mut World,
    keys: &mut Keys,
    id: &mut dyn FnMut() -> Uuid,
) {
    for entity in &raw.entities {
        let r = entity.get_ref();
        if !fresh_key(errors, "entity", &r.key, &keys.entities) {
            continue;
        }
        let Some(kind) = parsed(errors, &r.kind, str::parse::<EntityKind>) else {
            continue;
        };
        let Some(name) = parsed(errors, &r.name, Name::parse) else {
            continue;
        };
        let companies: Vec<OrgId> = r
            .organisations
            .iter()
            .filter_map(|o| lookup(errors, "organisation", o, &keys.orgs))
            .collect();
        if companies.len() != r.organisations.len() {
            continue;
        }
        let eid = EntityId::from_uuid(id());
        let mut e = Entity::new(eid, kind, name);
        e.set_companies(companies);
        match world.upsert_entity(e) {
            Ok(()) => {
                keys.entities.insert(r.key.get_ref().clone(), eid);
            }
            Err(err) => errors.push(entity.span(), err.to_string()),
        }
    }

    for group in &raw.groups {
        let r = group.get_ref();
        if !fresh_key(errors, "group", &r.key, &keys.groups) {
            continue;
        }
        let Some(kind) = parsed(errors, &r.entity_type, str::parse::<EntityKind>) else {
            continue;
        };
        let Some(name) = parsed(errors, &r.name, Name::parse) else {
            continue;
        };
        let members: Vec<EntityId> =
            r.members.iter().filter_map(|m| lookup(errors, "entity", m, &keys.entities)).collect();
        if members.len() != r.members.len() {
            continue;
        }
        let gid = GroupId::from_uuid(id());
        let g = Group { id: gid, name, description: r.description.clone(), kind, members };
        match world.upsert_group(g) {
            Ok(()) => {
                keys.groups.insert(r.key.get_ref().clone(), gid);
            }
            Err(err) => errors.push(group.span(), err.to_string()),
        }
    }

    // Datasets: ids first (a table may name a form further down), then forms before the
    // tables embedded in them. A key in Corterum's catalogue takes the catalogue's id, so
    // the out-of-the-box roles apply to it.
    let mut pending = Vec::new();
    for dataset in &raw.datasets {
        let r = dataset.get_ref();
        if !fresh_key(errors, "dataset", &r.key, &keys.datasets) {
            continue;
        }
        let kind = match r.kind.get_ref().as_str() {
            "form" => DatasetKind::Form,
            "table" => DatasetKind::Table,
            other => {
                errors.push(
                    r.kind.span(),
                    format!("unknown dataset kind `{other}`; expected `form` or `table`"),
                );
                continue;
            }
        };
        let Some(name) = parsed(errors, &r.name, Name::parse) else {
            continue;
        };
        let did = catalogue_id_of(r.key.get_ref()).unwrap_or_else(|| DatasetId::from_uuid(id()));
        keys.datasets.insert(r.key.get_ref().clone(), did);
        pending.push((
            dataset,
            Dataset {
                id: did,
                key: r.key.get_ref().clone(),
                name,
                kind,
                embedded_in: None,
                fields: Vec::new(),
            },
        ));
    }
    for (dataset, d) in &mut pending {
        if let Some(parent) = &dataset.get_ref().embedded_in {
            d.embedded_in = lookup(errors, "dataset", parent, &keys.datasets);
        }
    }
    pending.sort_by_key(|(_, d)| d.embedded_in.is_some());
    for (dataset, d) in pending {
        if let Err(err) = world.upsert_dataset(d) {
            let span = dataset.get_ref().embedded_in.as_ref().map_or(dataset.span(), Spanned::span);
            errors.push(span, err.to_string());
        }
    }

    for role in &raw.roles {
        let r = role.get_ref();
        if !fresh_key(errors, "role", &r.key, &keys.roles) {
            continue;
        }
        if builtin_role(r.key.get_ref()).is_some() {
            errors.push(
                r.key.span(),
                format!("role key `{}` is a built-in role's; choose another", r.key.get_ref()),
            );
            continue;
        }
        let mut ok = true;
        let groups: Vec<GroupId> =
            r.groups.iter().filter_map(|g| lookup(errors, "group", g, &keys.groups)).collect();
        ok &= groups.len() == r.groups.len();
        let mut features = FeatureSet::EMPTY;
        for f in &r.features {
            match f.get_ref().parse::<Feature>() {
                Ok(f) => features = features.with(f),
                Err(e) => {
                    errors.push(f.span(), e.to_string());
                    ok = false;
                }
            }
        }
        let mut datasets = BTreeMap::new();
        for (key, permissions) in &r.datasets {
            let Some(did) = lookup(errors, "dataset", key, &keys.datasets) else {
                ok = false;
                continue;
            };
            let mut p = DatasetPermissions::default();
            for word in permissions.get_ref() {
                match word.get_ref().as_str() {
                    "read" => p.read = true,
                    "edit" => p.edit = true,
                    "create" => p.create = true,
                    other => {
                        errors.push(
                            word.span(),
                            format!("unknown dataset permission `{other}`; expected `read`, `edit` or `create`"),
                        );
                        ok = false;
                    }
                }
            }
            datasets.insert(did, p);
        }
        if !ok {
            continue;
        }
        let form = RoleForm {
            name: r.name.get_ref().clone(),
            description: r.description.get_ref().clone(),
            groups,
            features,
            datasets,
            requires_second_factor: r.requires_second_factor,
        };
        let rid = RoleId::from_uuid(id());
        match form.into_role(rid, r.key.get_ref().clone()) {
            Ok(built) => match world.upsert_role(built) {
                Ok(()) => {
                    keys.roles.insert(r.key.get_ref().clone(), rid);
                }
                Err(err) => errors.push(role.span(), err.to_string()),
            },
            Err(err) => {
                let span = if r.name.get_ref().trim().is_empty() {
                    r.name.span()
                } else {
                    r.description.span()
                };
                errors.push(span, err.to_string());
            }
        }
    }
}

/// Parses a field, reporting a failure at its place.
fn parsed<T, E: fmt::Display>(
    errors: &mut Errors<'_>,
    field: &Spanned<String>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<T> {
    match parse(field.get_ref()) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(field.span(), e.to_string());
            None
        }
    }
}

/// Corterum's built-in roles by key or name, and CORE's by key.
fn builtin_role(name: &str) -> Option<RoleId> {
    let corterum = RoleCatalogue::with_corterum();
    let core = [builtin::ADMINISTRATOR, builtin::DATA_COORDINATOR, builtin::DATA_PROVIDER];
    // Corterum's names first: in a `roles` list, "Administrator" is Corterum's.
    corterum
        .iter()
        .filter(|r| !core.contains(&r.id))
        .find(|r| r.key == name || r.name == name)
        .or_else(|| corterum.iter().find(|r| r.key == name))
        .map(|r| r.id)
}

const CORTERUM_ROLES: &str = "a `[[roles]]` key, or a built-in role: `Root administrator`, `Administrator`, `Senior Manager`, `Certification Employee`, `Conduct Rules Staff` (or their keys), `administrator`, `data_coordinator`, `data_provider`";

fn fresh_key<V>(
    errors: &mut Errors<'_>,
    kind: &str,
    key: &Spanned<String>,
    known: &HashMap<String, V>,
) -> bool {
    if !valid_key(key) {
        errors.push(key.span(), bad_key(key.get_ref()));
        return false;
    }
    if known.contains_key(key.get_ref()) {
        errors.push(key.span(), format!("{kind} key `{}` is used twice", key.get_ref()));
        return false;
    }
    true
}

/// A `[[users]]` entry: CORE's (`organisation`, `role`) or Corterum's (`organisations`,
/// `roles`, `username`, `entity`, `root`).
fn load_user(
    user: &Spanned<RawUser>,
    errors: &mut Errors<'_>,
    world: &mut World,
    keys: &mut Keys,
    id: &mut dyn FnMut() -> Uuid,
) {
    let r = user.get_ref();
    let key = r.key.get_ref();
    if !fresh_key(errors, "user", &r.key, &keys.users) {
        return;
    }
    // Every problem is reported, so nothing returns before all three are looked at.
    let companies: Option<Vec<OrgId>> = match (&r.organisation, &r.organisations) {
        (Some(_), Some(list)) => {
            errors.push(
                list.span(),
                format!("user `{key}`: give `organisation` or `organisations`, not both"),
            );
            None
        }
        (Some(o), None) => lookup(errors, "organisation", o, &keys.orgs).map(|o| vec![o]),
        (None, Some(list)) => {
            let found: Vec<OrgId> = list
                .get_ref()
                .iter()
                .filter_map(|o| lookup(errors, "organisation", o, &keys.orgs))
                .collect();
            if list.get_ref().is_empty() {
                errors.push(list.span(), format!("user `{key}` needs at least one organisation"));
            }
            (found.len() == list.get_ref().len() && !found.is_empty()).then_some(found)
        }
        (None, None) => {
            errors.push(
                user.span(),
                format!("user `{key}` needs `organisation` (or `organisations`)"),
            );
            None
        }
    };
    let roles: Option<Vec<RoleId>> = match (&r.role, &r.roles) {
        (Some(_), Some(list)) => {
            errors.push(list.span(), format!("user `{key}`: give `role` or `roles`, not both"));
            None
        }
        (Some(role), None) => match parse_role(role.get_ref()) {
            Ok(role) => Some(role.into_iter().collect()),
            Err(message) => {
                errors.push(role.span(), message);
                None
            }
        },
        (None, Some(list)) => {
            let mut found = Vec::new();
            for role in list.get_ref() {
                let name = role.get_ref();
                match keys.roles.get(name).copied().or_else(|| builtin_role(name)) {
                    Some(rid) => found.push(rid),
                    None => errors.push(
                        role.span(),
                        format!("unknown role `{name}`; expected {CORTERUM_ROLES}"),
                    ),
                }
            }
            (found.len() == list.get_ref().len()).then_some(found)
        }
        (None, None) if r.root => Some(Vec::new()),
        (None, None) => {
            errors.push(user.span(), format!("user `{key}` needs `role`: {ROLES}"));
            None
        }
    };
    let entity = match &r.entity {
        Some(e) => lookup(errors, "entity", e, &keys.entities).map(Some),
        None => Some(None),
    };
    let (Some(companies), Some(mut roles), Some(entity)) = (companies, roles, entity) else {
        return;
    };
    if r.root {
        roles.insert(0, builtin::ROOT_ADMINISTRATOR);
    }
    roles.dedup();
    let email_text = match &r.username {
        Some(u) if u.get_ref().trim().is_empty() => {
            errors.push(u.span(), format!("user `{key}`: `username` must not be blank"));
            return;
        }
        Some(u) => {
            if world.users().any(|other| keys_username(other, keys) == Some(u.get_ref().as_str())) {
                errors.push(
                    u.span(),
                    format!(
                        "username `{}` is used twice: usernames are unique across the service",
                        u.get_ref()
                    ),
                );
                return;
            }
            Email::parse(u.get_ref())
                .map_or_else(|_| format!("{key}@policy.invalid"), |e| e.to_string())
        }
        None => format!("{key}@policy.invalid"),
    };
    let uid = UserId::from_uuid(id());
    let (Ok(name), Ok(email)) = (Name::parse(key), Email::parse(&email_text)) else {
        errors.push(r.key.span(), bad_key(key));
        return;
    };
    let mut u = User::new(uid, name, email, companies[0], roles);
    u.active = r.active;
    u.data_protection_officer = r.dpo;
    u.key_contact = r.key_contact;
    if let Err(e) = world.upsert_user(u) {
        errors.push(user.span(), e.to_string());
        return;
    }
    if r.organisations.is_some() || entity.is_some() {
        if let Err(e) = world.set_user_links(uid, UserLinks { entity, companies }) {
            errors.push(user.span(), e.to_string());
            return;
        }
    }
    keys.users.insert(key.clone(), uid);
    if let Some(u) = &r.username {
        keys.usernames.insert(uid, u.get_ref().clone());
    }
}

fn keys_username<'k>(user: &User, keys: &'k Keys) -> Option<&'k str> {
    keys.usernames.get(&user.id).map(String::as_str)
}
