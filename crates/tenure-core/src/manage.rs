//! Managing people and organisations: invitations, edits, deactivation, reactivation,
//! deletion, organisations, relationships and the audit trail.
//!
//! Every use case follows one shape: read the versions it will write against, load a
//! snapshot, ask the engine, describe the change as [`Write`](crate::changes::Write)s
//! with their audit entries, and apply them in one transaction. No rule lives here that
//! the engine already knows (who may do what, the last data coordinator, states); this
//! module adds only what is about data: parsing, uniqueness, links and email.
//!
//! One module a concept, each adding its use cases to [`Manage`] on the shared base
//! here (ports, parsing, `require`, audit events): `invitations` (invite, create the
//! first accounts, accept, resend, withdraw, status), `users` (edit, email, move,
//! deactivate, reactivate, delete), `organisations` (create, edit, deactivate,
//! reactivate, merge), `relationships` (by consent), `trail` (the audit trail), `mail`
//! (mail queued with a change, and the undeliverable mail administrators see) and
//! `pages` (the reads pages show, each authorized: a record with the snapshot decided
//! on, lists in the actor's scope, lookups by name).

mod invitations;
mod logs;
mod mail;
mod organisations;
mod pages;
mod relationships;
mod trail;
mod users;

pub use organisations::MergePreview;
pub(crate) use organisations::organisation_detail;
pub use pages::{TrailNames, UsersList, Viewed};

use std::sync::Arc;

use tenure_domain::{
    Email, Name, OrgId, Organisation, PasswordPolicy, ProviderType, RoleId, Telephone, User, UserId,
};

use crate::accounts::LockoutPolicy;
use crate::changes::{ChangeStore, LinkPurpose, Versioned};
use crate::courier::Courier;
use crate::limits::{LimitKey, LimitKind, Limits, Verdict};
use crate::ports::{Clock, Directory, IdGen, PasswordHasher, Secrets};
use crate::usecase::{Base, FieldError, ManageError};

/// A person's details as typed.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PersonInput {
    /// Full name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Telephone number; empty for none.
    pub telephone: String,
}

/// Whom to invite, where, with what role.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Invite {
    /// Their details.
    pub person: PersonInput,
    /// The organisation: the inviter's own, or one of its managing agents.
    pub organisation: OrgId,
    /// The role they get when they accept.
    pub role: RoleId,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct UserChanges {
    /// Full name.
    pub name: Option<String>,
    /// Email address (`user.change_email`): changes only once the new address confirms
    /// it.
    pub email: Option<String>,
    /// The actor's current password. Required when they change their own email address:
    /// the address is a credential (resets go to it), so changing it re-authenticates.
    pub current_password: Option<String>,
    /// Telephone number; empty removes it.
    pub telephone: Option<String>,
    /// The role (`user.change_role`).
    pub role: Option<RoleId>,
    /// The data protection officer flag (`user.set_flags`).
    pub data_protection_officer: Option<bool>,
    /// The key contact flag (`user.set_flags`).
    pub key_contact: Option<bool>,
}

impl std::fmt::Debug for UserChanges {
    /// Everything but the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChanges")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("telephone", &self.telephone)
            .field("role", &self.role)
            .field("data_protection_officer", &self.data_protection_officer)
            .field("key_contact", &self.key_contact)
            .finish_non_exhaustive()
    }
}

/// An organisation's details as typed. Coordinators may change the first three;
/// the rest need `organisation.edit_all`.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct OrganisationInput {
    /// Name.
    pub name: String,
    /// Postal address; empty for none.
    pub address: String,
    /// Telephone number; empty for none.
    pub telephone: String,
    /// Kind of provider.
    pub provider_type: ProviderType,
    /// Regulator's registration number; empty for none.
    pub registration_number: String,
    /// Whether it holds its own stock.
    pub holds_stock: bool,
}

/// What happened to an edit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Edited {
    /// A confirmation link went to the new email address; the address changes when it is
    /// opened.
    pub email_confirmation_sent: bool,
}

/// Whose email address a confirmation link changed, and whether they asked for it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EmailConfirmed {
    /// The user.
    pub user: UserId,
    /// They changed it themselves. Either way every session of theirs has ended; an app
    /// may keep someone who confirms their own change signed in under a fresh session,
    /// but a change by someone else signs the person out everywhere.
    pub by_themselves: bool,
}

/// Where a user's account stands, for lists and profiles.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AccountStatus {
    /// Can sign in.
    Active,
    /// Invited (or reactivated) and not yet accepted.
    Invited {
        /// The link is past its time: resend it.
        expired: bool,
    },
    /// The invitation was withdrawn.
    InvitationRevoked,
    /// Deactivated.
    Deactivated,
}

impl AccountStatus {
    /// How screens name it.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Invited { expired: false } => "Invited",
            Self::Invited { expired: true } => "Invitation expired",
            Self::InvitationRevoked => "Invitation revoked",
            Self::Deactivated => "Deactivated",
        }
    }
}

/// An invitation as its link shows it, before it is accepted.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InvitationView {
    /// The invited person.
    pub user: UserId,
    /// Their name.
    pub name: Name,
    /// Their email address.
    pub email: Email,
    /// The organisation's name.
    pub organisation: Name,
    /// Invitation or reactivation.
    pub purpose: LinkPurpose,
}

/// How links behave.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ManagePolicy {
    /// Where links point: the configured public address.
    pub base_url: String,
    /// How long an invitation or reactivation link lives (3 days).
    pub invitation_lifetime_ms: i64,
    /// How long an email confirmation link lives (3 hours).
    pub email_change_lifetime_ms: i64,
    /// Passwords set when accepting.
    pub passwords: PasswordPolicy,
    /// A wrong current password typed to confirm a change counts towards this lockout, as
    /// a failed sign-in does.
    pub lockout: LockoutPolicy,
}

impl Default for ManagePolicy {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:3000".to_owned(),
            invitation_lifetime_ms: 3 * 24 * 60 * 60 * 1000,
            email_change_lifetime_ms: 3 * 60 * 60 * 1000,
            passwords: PasswordPolicy::default(),
            lockout: LockoutPolicy::default(),
        }
    }
}

/// The ports the management services use.
#[derive(Clone)]
pub struct ManagePorts {
    /// Snapshots for the engine.
    pub directory: Arc<dyn Directory>,
    /// Versioned reads and transactional writes.
    pub changes: Arc<dyn ChangeStore>,
    /// Hashing passwords set on acceptance.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Link tokens.
    pub secrets: Arc<dyn Secrets>,
    /// Email: queued with each change, delivered by the courier (at once after the
    /// change commits, if its policy says so).
    pub courier: Courier,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Ids for users, organisations, links and audit entries.
    pub ids: Arc<dyn IdGen>,
}

impl std::fmt::Debug for ManagePorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagePorts").finish_non_exhaustive()
    }
}

/// The management services.
#[derive(Clone)]
pub struct Manage {
    ports: ManagePorts,
    policy: ManagePolicy,
    base: Base,
    limits: Option<Limits>,
}

impl std::fmt::Debug for Manage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manage").field("policy", &self.policy).finish_non_exhaustive()
    }
}

fn optional<T, E: std::fmt::Display>(
    input: &str,
    field: &'static str,
    parse: impl Fn(&str) -> Result<T, E>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return None;
    }
    match parse(trimmed) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(FieldError { field, message: e.to_string() });
            None
        }
    }
}

fn required<T, E: std::fmt::Display>(
    input: &str,
    field: &'static str,
    parse: impl Fn(&str) -> Result<T, E>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match parse(input) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(FieldError { field, message: e.to_string() });
            None
        }
    }
}

fn text_or_none(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

impl Manage {
    /// The services over these ports.
    pub fn new(ports: ManagePorts, policy: ManagePolicy) -> Self {
        let base = Base {
            changes: ports.changes.clone(),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
        };
        Self { ports, policy, base, limits: None }
    }

    /// The policy in force.
    pub fn policy(&self) -> &ManagePolicy {
        &self.policy
    }

    /// The same services under rate limits: invitations sent per account
    /// ([`LimitKind::InvitationAccount`]). Without them nothing is limited.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Whether invitations are counted against no rate limit (a batch import's chunks
    /// write without counting): no limits wired, or wired with no rate for
    /// [`LimitKind::InvitationAccount`], as every command-line run is
    /// ([`crate::limits::LimitPolicy::unlimited`]).
    pub(crate) fn unlimited(&self) -> bool {
        self.limits.as_ref().is_none_or(|l| l.policy().rate(LimitKind::InvitationAccount).is_none())
    }

    /// The engine's answer without writing: the refusal and its audit entry, for a batch
    /// chunk to write with its rows (see `Base::check`).
    pub(crate) fn check(
        &self,
        world: &tenure_domain::World,
        request: tenure_domain::Request,
    ) -> Result<(), (ManageError, Option<Box<crate::audit::AuditEvent>>)> {
        self.base.check(world, request)
    }

    /// Counts one `kind` against `actor`'s account: [`ManageError::TooMany`] past it.
    async fn within_limit(&self, kind: LimitKind, actor: UserId) -> Result<(), ManageError> {
        let Some(limits) = &self.limits else { return Ok(()) };
        match limits.hit(kind, &LimitKey::account(actor)).await? {
            Verdict::Allowed => Ok(()),
            refused @ Verdict::Refused { .. } => {
                Err(ManageError::TooMany { retry_after_secs: refused.retry_after_secs() })
            }
        }
    }

    async fn org(&self, id: OrgId) -> Result<Versioned<Organisation>, ManageError> {
        self.ports.changes.organisation(id).await?.ok_or(ManageError::NotFound)
    }

    async fn user(&self, id: UserId) -> Result<Versioned<User>, ManageError> {
        self.ports.changes.user(id).await?.ok_or(ManageError::NotFound)
    }

    async fn email_free(&self, email: &Email, except: Option<UserId>) -> Result<(), ManageError> {
        match self.ports.changes.user_by_email(email).await? {
            Some(other) if Some(other.value.id) != except => Err(ManageError::EmailInUse),
            _ => Ok(()),
        }
    }

    pub(crate) fn parse_person(
        input: &PersonInput,
    ) -> Result<(Name, Email, Option<Telephone>), ManageError> {
        let mut errors = Vec::new();
        let name = required(&input.name, "name", Name::parse, &mut errors);
        let email = required(&input.email, "email", Email::parse, &mut errors);
        let telephone = optional(&input.telephone, "telephone", Telephone::parse, &mut errors);
        match (name, email) {
            (Some(n), Some(e)) if errors.is_empty() => Ok((n, e, telephone)),
            _ => Err(ManageError::Invalid(errors)),
        }
    }
}
