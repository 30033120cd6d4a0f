//! Parsing and loading a policy file into a world.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use tenure_domain::role::builtin;
use tenure_domain::{
    Action, Email, Log, LogId, Name, OrgId, Organisation, Relationship, Request, Resource,
    ResourceKind, RoleId, User, UserId, World,
};
use toml::Spanned;
use uuid::Uuid;

/// The actions of the Corterum tables, which later work will support.
const CORTERUM_ACTIONS: &[&str] =
    &["dataset.read", "dataset.edit", "dataset.create", "feature.use", "entity.view"];
const NOT_YET: &str = "is part of the Corterum tables, which are not supported yet";

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
    pub(crate) keys: Keys,
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
        self.checks.len() + self.lists.len()
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
    entities: Option<Spanned<toml::Value>>,
    groups: Option<Spanned<toml::Value>>,
    datasets: Option<Spanned<toml::Value>>,
    roles: Option<Spanned<toml::Value>>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    key: Spanned<String>,
    name: Spanned<String>,
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
    username: Option<Spanned<toml::Value>>,
    organisations: Option<Spanned<toml::Value>>,
    entity: Option<Spanned<toml::Value>>,
    roles: Option<Spanned<toml::Value>>,
    root: Option<Spanned<toml::Value>>,
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
            message: message.into(),
        });
    }
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
    for (table, value) in [
        ("entities", &raw.entities),
        ("groups", &raw.groups),
        ("datasets", &raw.datasets),
        ("roles", &raw.roles),
    ] {
        if let Some(v) = value {
            errors.push(v.span(), format!("`[[{table}]]` {NOT_YET}"));
        }
    }

    let mut world = World::new();
    let mut keys = Keys::default();
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
        let name = match Name::parse(r.name.get_ref()) {
            Ok(n) => n,
            Err(e) => {
                errors.push(r.name.span(), e.to_string());
                continue;
            }
        };
        let oid = OrgId::from_uuid(id());
        let mut o = Organisation::new(oid, name);
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
            if let Err(e) = world.add_relationship(Relationship { stock_owner, managing_agent }) {
                errors.push(rel.span(), e.to_string());
            }
        }
    }

    for user in &raw.users {
        let r = user.get_ref();
        for (field, value) in [
            ("username", &r.username),
            ("organisations", &r.organisations),
            ("entity", &r.entity),
            ("roles", &r.roles),
            ("root", &r.root),
        ] {
            if let Some(v) = value {
                errors.push(v.span(), format!("user field `{field}` {NOT_YET}"));
            }
        }
        if !valid_key(&r.key) {
            errors.push(r.key.span(), bad_key(r.key.get_ref()));
            continue;
        }
        if keys.users.contains_key(r.key.get_ref()) {
            errors.push(r.key.span(), format!("user key `{}` is used twice", r.key.get_ref()));
            continue;
        }
        let Some(org_field) = &r.organisation else {
            errors.push(user.span(), format!("user `{}` needs `organisation`", r.key.get_ref()));
            continue;
        };
        let org = lookup(&mut errors, "organisation", org_field, &keys.orgs);
        let role = match &r.role {
            None => {
                errors
                    .push(user.span(), format!("user `{}` needs `role`: {ROLES}", r.key.get_ref()));
                None
            }
            Some(role) => match parse_role(role.get_ref()) {
                Ok(role) => Some(role),
                Err(message) => {
                    errors.push(role.span(), message);
                    None
                }
            },
        };
        let (Some(org), Some(role)) = (org, role) else { continue };
        let key = r.key.get_ref();
        let uid = UserId::from_uuid(id());
        let (Ok(name), Ok(email)) =
            (Name::parse(key), Email::parse(&format!("{key}@policy.invalid")))
        else {
            errors.push(r.key.span(), bad_key(key));
            continue;
        };
        let mut u = User::new(uid, name, email, org, role.into_iter().collect());
        u.active = r.active;
        u.data_protection_officer = r.dpo;
        u.key_contact = r.key_contact;
        match world.upsert_user(u) {
            Ok(()) => {
                keys.users.insert(key.clone(), uid);
            }
            Err(e) => errors.push(user.span(), e.to_string()),
        }
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
            Some(role) => match parse_role(role.get_ref()) {
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
            k @ ("entity" | "instance") => {
                errors.push(r.kind.span(), format!("list kind `{k}` {NOT_YET}"));
                None
            }
            other => {
                errors.push(
                    r.kind.span(),
                    format!(
                        "unknown list kind `{other}`; expected `user`, `organisation` or `log`"
                    ),
                );
                None
            }
        };
        if let Some(kind) = kind {
            let known = match kind {
                ResourceKind::User => keys.users.keys().collect::<Vec<_>>(),
                ResourceKind::Organisation => keys.orgs.keys().collect(),
                _ => keys.logs.keys().collect(),
            };
            for k in r.expect.get_ref() {
                if !known.contains(&k) {
                    errors.push(r.expect.span(), format!("unknown {kind} `{k}` in `expect`"));
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

    if errors.list.is_empty() {
        Ok(PolicyFile { name: file.to_owned(), world, checks, lists, keys })
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

fn parse_action(action: &str) -> Result<Action, String> {
    if CORTERUM_ACTIONS.contains(&action) {
        return Err(format!("action `{action}` {NOT_YET}"));
    }
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
        ("instance" | "feature" | "entity", _) => Err(format!("resource `{resource}` {NOT_YET}")),
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
