//! What an audit entry says beyond its name: before and after values or a reason, as a
//! typed value. Stored as JSON tagged with its `kind`; shown as the JSON the trail has
//! always shown (the value without its tag). Never holds a secret or a personal detail's
//! value (field names only).
//!
//! The trail is append-only, so rows written before details were typed are never
//! rewritten: [`AuditDetail::parse_stored`] reads them as [`AuditDetail::LegacyJson`] or,
//! for the Corterum rows once written with Rust's `{:?}` (not JSON),
//! [`AuditDetail::LegacyText`], and both show their text as stored.

use std::fmt;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// The detail of an audit entry.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditDetail {
    /// Nothing more to say than the entry's name.
    Empty,
    /// The permission engine refused a request.
    Refusal(Refusal),
    /// A sign-in or a password check failed.
    SignInFailure(SignInFailure),
    /// An account locked after repeated failures, until a moment (ms since the epoch).
    Lock(Lock),
    /// An invitation (or a reactivation link) sent.
    Invite(Invite),
    /// A one-time link used (an invitation accepted).
    LinkUse(LinkUse),
    /// A user's personal details changed: the fields' names, never their values.
    FieldsChange(FieldsChange),
    /// A user's role or flags changed, before and after.
    RoleChange(RoleChange),
    /// A user moved from one organisation to another.
    UserMove(UserMove),
    /// An organisation created.
    OrganisationCreate(OrganisationCreate),
    /// An organisation's details changed, before and after.
    OrganisationChange(Change<OrganisationDetail>),
    /// An organisation merged into another (on the one merged).
    MergedInto(MergedInto),
    /// An organisation merged into this one (on the one kept).
    MergedFrom(MergedFrom),
    /// A stock owner -> managing agent relationship (added, asked for, answered or removed).
    Relationship(RelationshipDetail),
    /// A user's sessions ended.
    SessionsEnd(SessionsEnd),
    /// A log deleted: what it was.
    LogDelete(LogDetail),
    /// A password set by the demo seed.
    DemoSeed(DemoSeed),
    /// Corterum: a user account created.
    AccountCreate(AccountCreate),
    /// Corterum: a user account's roles or companies changed.
    AccountChange(AccountChange),
    /// Corterum: an entity created or changed.
    EntitySave(EntitySave),
    /// Corterum: a group saved.
    GroupSave(GroupSave),
    /// Corterum: a role saved.
    RoleSave(RoleSave),
    /// Corterum: a new version of a dataset instance (where it changed, never the values).
    InstanceSave(InstanceSave),
    /// JSON stored before details were typed, kept as stored.
    LegacyJson(Stored),
    /// Text stored before details were typed that is not JSON (Corterum wrote some with
    /// Rust's `{:?}`), kept as stored.
    LegacyText(Stored),
}

/// The engine's refusal of a request.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Refusal {
    /// The action asked for, as stored (`user.invite`).
    pub action: String,
    /// Why the engine refused it.
    pub reason: String,
}

/// A failed sign-in or password check.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SignInFailure {
    /// Why it failed.
    pub reason: FailureReason,
}

/// Why a sign-in or a password check failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum FailureReason {
    /// No account has this email address.
    #[serde(rename = "unknown email")]
    UnknownEmail,
    /// The account is locked.
    #[serde(rename = "locked")]
    Locked,
    /// The account is deactivated.
    #[serde(rename = "deactivated")]
    Deactivated,
    /// The password is wrong.
    #[serde(rename = "wrong password")]
    WrongPassword,
    /// The current password, asked for to change a credential, is wrong.
    #[serde(rename = "wrong current password")]
    WrongCurrentPassword,
    /// A code from an authenticator app, or a recovery code, is wrong or used already.
    #[serde(rename = "wrong code")]
    WrongCode,
}

/// A lock until a moment.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Lock {
    /// The end of the lock, in milliseconds since the epoch.
    pub until: i64,
}

/// An invitation sent.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Invite {
    /// The key of the role it gives, if it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The first administrator's invitation.
    #[serde(default, skip_serializing_if = "is_false")]
    pub first: bool,
    /// Sent again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub resend: bool,
}

const fn is_false(b: &bool) -> bool {
    !*b
}

/// A one-time link used.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LinkUse {
    /// What the link was for, as stored (`invitation`).
    pub purpose: String,
}

/// Personal details changed: the names of the fields, never their values.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct FieldsChange {
    /// The fields' names, as forms spell them.
    pub fields: Vec<String>,
}

/// A value before and after a change.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Change<T> {
    /// Before.
    pub before: T,
    /// After.
    pub after: T,
}

/// A role or flags changed; only what changed is present.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct RoleChange {
    /// The role keys before (comma-separated) and the one after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Change<String>>,
    /// The data protection officer flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_protection_officer: Option<Change<bool>>,
    /// The key contact flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_contact: Option<Change<bool>>,
}

/// A user moved between organisations.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UserMove {
    /// The organisation left (its id).
    pub from: String,
    /// The organisation joined (its id).
    pub to: String,
}

/// An organisation created.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OrganisationCreate {
    /// Its name.
    pub name: String,
}

/// An organisation's details at one moment.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OrganisationDetail {
    /// Its name.
    pub name: String,
    /// Its address.
    pub address: Option<String>,
    /// Its telephone number.
    pub telephone: Option<String>,
    /// Its provider type, as stored (`local_authority`).
    pub provider_type: String,
    /// Its registration number.
    pub registration_number: Option<String>,
    /// Whether it holds stock.
    pub holds_stock: bool,
    /// Whether it is active.
    pub active: bool,
}

/// On the organisation merged: the one it went into.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MergedInto {
    /// The id of the organisation kept.
    pub into: String,
    /// Its name.
    pub into_name: String,
}

/// A deleted log as it was: its id, its organisations (ids and names then), and who it
/// was assigned to and created by (ids only: people's names are personal data).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LogDetail {
    /// The log's id.
    pub log: String,
    /// The owning organisation's id.
    pub owner: String,
    /// Its name when the log was deleted.
    pub owner_name: String,
    /// The managing organisation's id.
    pub manager: String,
    /// Its name when the log was deleted.
    pub manager_name: String,
    /// Who it was assigned to, if anyone.
    pub assigned_to: Option<String>,
    /// Who created it, if known.
    pub created_by: Option<String>,
}

/// On the organisation kept: the one merged into it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MergedFrom {
    /// The id of the organisation merged.
    pub from: String,
    /// Its name.
    pub from_name: String,
}

/// The two ends of a relationship.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RelationshipDetail {
    /// The stock owner's id.
    pub stock_owner: String,
    /// The managing agent's id.
    pub managing_agent: String,
}

/// Sessions ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SessionsEnd {
    /// Every session of the user (perhaps but the current one).
    pub all: bool,
}

/// Set by the demo seed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DemoSeed {
    /// Always true: the mark of a demo.
    pub demo: bool,
}

/// A Corterum account created.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AccountCreate {
    /// Its username.
    pub username: String,
    /// How many roles it holds.
    pub roles: usize,
    /// How many companies it is linked to.
    pub companies: usize,
}

/// A Corterum account's links changed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AccountChange {
    /// Its username.
    pub username: String,
    /// The ids of its roles.
    pub roles: Change<Vec<String>>,
    /// How many companies it is linked to.
    pub companies: Change<usize>,
}

/// A Corterum entity created (no `before`) or changed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EntitySave {
    /// Its id.
    pub entity: String,
    /// Before, if it existed.
    pub before: Option<EntityDetail>,
    /// After.
    pub after: EntityDetail,
}

/// An entity at one moment: its static fields' names, never their values.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EntityDetail {
    /// Its name.
    pub name: String,
    /// Its type, as stored.
    #[serde(rename = "type")]
    pub entity_type: String,
    /// The names of the static fields it has.
    pub fields: Vec<String>,
    /// How many companies it is linked to.
    pub companies: usize,
    /// Its links to other entities, each `<kind> <entity id>` (no personal data: kinds
    /// and ids); absent from entries written before links were recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

/// A Corterum group saved.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct GroupSave {
    /// Its id.
    pub group: String,
    /// Its name.
    pub name: String,
    /// How many members it has.
    pub members: usize,
}

/// A Corterum role saved.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RoleSave {
    /// Its id.
    pub role: String,
    /// Its name.
    pub name: String,
    /// How many grants it holds.
    pub grants: usize,
}

/// A new version of a dataset instance.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InstanceSave {
    /// The dataset's key.
    pub dataset: String,
    /// The entity's id.
    pub entity: String,
    /// The new version's number.
    pub version: u32,
    /// Where it changed (places, never values).
    pub changed: Vec<String>,
}

/// A detail's text as it was stored.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Stored {
    /// The text.
    pub text: String,
}

impl AuditDetail {
    /// The stored form: JSON tagged with the detail's kind.
    pub fn to_stored(&self) -> String {
        // INVARIANT: every variant is plain data (strings, numbers, booleans, lists and
        // structs), which serde_json always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored detail. Never fails: a row written before details were typed reads
    /// as [`AuditDetail::LegacyJson`], or [`AuditDetail::LegacyText`] if it is not JSON.
    pub fn parse_stored(text: &str) -> Self {
        if let Ok(detail) = serde_json::from_str(text) {
            return detail;
        }
        let stored = Stored { text: text.to_owned() };
        if serde_json::from_str::<IgnoredAny>(text).is_ok() {
            Self::LegacyJson(stored)
        } else {
            Self::LegacyText(stored)
        }
    }
}

/// Writes a value as JSON to a formatter.
fn json(f: &mut fmt::Formatter<'_>, value: &impl Serialize) -> fmt::Result {
    f.write_str(&serde_json::to_string(value).map_err(|_| fmt::Error)?)
}

/// As the trail shows it: the JSON of the value without its kind (what the trail showed
/// before details were typed), or a legacy row's text as stored.
impl fmt::Display for AuditDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("{}"),
            Self::Refusal(d) => json(f, d),
            Self::SignInFailure(d) => json(f, d),
            Self::Lock(d) => json(f, d),
            Self::Invite(d) => json(f, d),
            Self::LinkUse(d) => json(f, d),
            Self::FieldsChange(d) => json(f, d),
            Self::RoleChange(d) => json(f, d),
            Self::UserMove(d) => json(f, d),
            Self::OrganisationCreate(d) => json(f, d),
            Self::OrganisationChange(d) => json(f, d),
            Self::MergedInto(d) => json(f, d),
            Self::MergedFrom(d) => json(f, d),
            Self::Relationship(d) => json(f, d),
            Self::SessionsEnd(d) => json(f, d),
            Self::LogDelete(d) => json(f, d),
            Self::DemoSeed(d) => json(f, d),
            Self::AccountCreate(d) => json(f, d),
            Self::AccountChange(d) => json(f, d),
            Self::EntitySave(d) => json(f, d),
            Self::GroupSave(d) => json(f, d),
            Self::RoleSave(d) => json(f, d),
            Self::InstanceSave(d) => json(f, d),
            Self::LegacyJson(d) | Self::LegacyText(d) => f.write_str(&d.text),
        }
    }
}

#[cfg(test)]
mod tests;
