//! Managing people and organisations: invitations, edits, deactivation, reactivation,
//! deletion, organisations, relationships and the audit trail.
//!
//! Every use case follows one shape: read the versions it will write against, load a
//! snapshot, ask the engine, describe the change as [`Write`]s with their audit entries,
//! and apply them in one transaction. No rule lives here that the engine already knows
//! (who may do what, the last data coordinator, states); this module adds only what is
//! about data: parsing, uniqueness, links and email.

use std::sync::Arc;

use tenure_domain::role::builtin;
use tenure_domain::{
    Action, Decision, Email, Name, OrgId, Organisation, PasswordError, PasswordPolicy,
    ProviderType, Relationship, RelationshipEffect, RelationshipError, RelationshipStep, Request,
    Resource, RoleId, Telephone, User, UserId, World, decide_relationship,
};
use thiserror::Error;

use crate::accounts::LockoutPolicy;
use crate::audit::{AuditEvent, AuditName, Outcome};
use crate::changes::{
    AuditQuery, ChangeError, ChangeStore, Link, LinkPurpose, LinkState, RelationshipRequest,
    Versioned, Write,
};
use crate::error::BackendError;
use crate::mail::{self, Block, ChangedBy};
use crate::ports::{
    Clock, Directory, IdGen, Mailer, Page, PasswordHasher, Secrets, Timestamp, Verified,
};

/// A field of a form and what is wrong with it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FieldError {
    /// The field's name, as forms and CSV headers spell it.
    pub field: &'static str,
    /// What is wrong and what is accepted.
    pub message: String,
}

/// Why a change was refused. Nothing was written.
#[derive(Debug, Error)]
pub enum ManageError {
    /// The record does not exist, or the actor may not see it: the same answer.
    #[error("not found")]
    NotFound,
    /// The actor may see the record but not do this; the text says why.
    #[error("{0}")]
    Forbidden(String),
    /// Some fields are wrong.
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The record changed since it was read.
    #[error("this record was changed by someone else since you opened it; reload it and try again")]
    Conflict,
    /// The email address belongs to another account.
    #[error("this email address is already used by another account")]
    EmailInUse,
    /// The link is unknown, used, replaced, revoked or expired.
    #[error("this link has expired or has already been used; ask for a new one")]
    LinkInvalid,
    /// The new password does not meet the policy.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The relationship is not allowed.
    #[error(transparent)]
    Relationship(#[from] RelationshipError),
    /// Something broke.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl From<ChangeError> for ManageError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Conflict => Self::Conflict,
            ChangeError::EmailInUse => Self::EmailInUse,
            ChangeError::Duplicate => Self::Forbidden("this already exists".to_owned()),
            ChangeError::LinkUnusable => Self::LinkInvalid,
            ChangeError::UsernameInUse => Self::Invalid(vec![FieldError {
                field: "username",
                message: "this username is already used by another user".to_owned(),
            }]),
            ChangeError::Backend(e) => Self::Backend(e),
        }
    }
}

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
    /// Email.
    pub mailer: Arc<dyn Mailer>,
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

/// A JSON string literal (for audit details).
fn json(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Manage {
    /// The services over these ports.
    pub fn new(ports: ManagePorts, policy: ManagePolicy) -> Self {
        Self { ports, policy }
    }

    /// The policy in force.
    pub fn policy(&self) -> &ManagePolicy {
        &self.policy
    }

    fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    fn event(
        &self,
        name: AuditName,
        actor: Option<UserId>,
        target: Option<UserId>,
        org: Option<OrgId>,
        detail: String,
    ) -> AuditEvent {
        AuditEvent {
            id: self.ports.ids.next_id(),
            at: self.now(),
            actor,
            name,
            outcome: Outcome::Success,
            target_user: target,
            organisation: org,
            detail,
        }
    }

    /// Asks the engine; a denial is audited and mapped to "not found" or "forbidden".
    async fn require(&self, world: &World, request: Request) -> Result<(), ManageError> {
        let decision = world.decide(&request);
        if decision.is_allowed() {
            return Ok(());
        }
        Err(self.refuse(world, request, decision).await)
    }

    /// Audits a denial of `request` and maps it to "not found" or "forbidden".
    async fn refuse(&self, world: &World, request: Request, decision: Decision) -> ManageError {
        let Decision::Deny { conceal, .. } = decision else {
            return ManageError::Backend(BackendError::new("an allowed decision was refused"));
        };
        let why = decision.explain(world).to_string();
        let why = why.split_once(": ").map_or(why.as_str(), |(_, w)| w).to_owned();
        let target = match request.resource {
            Resource::User(u) => Some(u),
            _ => None,
        };
        let org = match request.resource {
            Resource::Organisation(o) => Some(o),
            _ => None,
        };
        let mut event = self.event(
            AuditName::AuthzFail,
            Some(request.actor),
            target,
            org,
            format!(r#"{{"action":{},"reason":{}}}"#, json(request.action.as_str()), json(&why)),
        );
        event.outcome = Outcome::Failure;
        if let Err(e) = self.ports.changes.apply(Vec::new(), vec![event]).await {
            return e.into();
        }
        if conceal {
            return ManageError::NotFound;
        }
        let mut chars = why.chars();
        let why =
            chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect());
        ManageError::Forbidden(why)
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

    fn parse_person(input: &PersonInput) -> Result<(Name, Email, Option<Telephone>), ManageError> {
        let mut errors = Vec::new();
        let name = required(&input.name, "name", Name::parse, &mut errors);
        let email = required(&input.email, "email", Email::parse, &mut errors);
        let telephone = optional(&input.telephone, "telephone", Telephone::parse, &mut errors);
        match (name, email) {
            (Some(n), Some(e)) if errors.is_empty() => Ok((n, e, telephone)),
            _ => Err(ManageError::Invalid(errors)),
        }
    }

    /// A fresh link for `user`, with the email that carries it.
    #[allow(clippy::too_many_arguments, reason = "a link has this many parts")]
    fn new_link(
        &self,
        purpose: LinkPurpose,
        user: &User,
        role: Option<RoleId>,
        email: Email,
        issued_by: Option<UserId>,
        lifetime_ms: i64,
    ) -> Result<(Link, String), BackendError> {
        let token = self.ports.secrets.token()?;
        let now = self.now();
        let link = Link {
            id: self.ports.ids.next_id(),
            digest: token.digest,
            purpose,
            user: user.id,
            organisation: user.organisation,
            role,
            email,
            issued_by,
            issued: now,
            expires: Timestamp(now.0.saturating_add(lifetime_ms)),
            state: LinkState::Pending,
        };
        Ok((link, token.plain))
    }

    async fn send_invitation(
        &self,
        link: &Link,
        plain: &str,
        name: &Name,
        organisation: &Name,
    ) -> Result<(), BackendError> {
        let url = mail::link(&self.policy.base_url, "/account/create", plain);
        let days = self.policy.invitation_lifetime_ms / (24 * 60 * 60 * 1000);
        let (subject, opening) = match link.purpose {
            LinkPurpose::Reactivation => (
                "Your account has been reactivated",
                format!(
                    "Hello {name}, your Tenure account for {organisation} has been reactivated."
                ),
            ),
            _ => (
                "You have been invited to Tenure",
                format!("Hello {name}, you have been invited to join {organisation} on Tenure."),
            ),
        };
        let message = mail::message(
            link.email.clone(),
            subject,
            &[
                Block::Text(opening),
                Block::Text(format!(
                    "To set your password and sign in, open this link within {days} days:"
                )),
                Block::Link(url),
                Block::Text(
                    "The link works once. If you were not expecting this email, you can ignore it."
                        .to_owned(),
                ),
            ],
        );
        self.ports.mailer.send(message).await
    }

    /// Invites a person: an account with no password and no role yet, and a link to set a
    /// password; the role is given when they accept, if the inviter may still give it.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for bad details, [`ManageError::EmailInUse`],
    /// [`ManageError::NotFound`] or [`ManageError::Forbidden`] as the engine decides.
    pub async fn invite(&self, actor: UserId, invite: &Invite) -> Result<UserId, ManageError> {
        let (name, email, telephone) = Self::parse_person(&invite.person)?;
        let org = self.org(invite.organisation).await?;
        let world =
            self.ports.directory.snapshot(actor, Resource::Organisation(org.value.id)).await?;
        self.require(
            &world,
            Request::new(actor, Action::UserInvite, Resource::Organisation(org.value.id))
                .giving(invite.role),
        )
        .await?;
        self.email_free(&email, None).await?;
        let id = UserId::from_uuid(self.ports.ids.next_id());
        let mut user = User::new(id, name, email.clone(), org.value.id, Vec::new());
        user.telephone = telephone;
        let (link, plain) = self.new_link(
            LinkPurpose::Invitation,
            &user,
            Some(invite.role),
            email,
            Some(actor),
            self.policy.invitation_lifetime_ms,
        )?;
        let role_key = world.roles().get(invite.role).map_or("", |r| r.key.as_str());
        let audit = self.event(
            AuditName::InviteSend,
            Some(actor),
            Some(id),
            Some(org.value.id),
            format!(r#"{{"role":{}}}"#, json(role_key)),
        );
        self.ports
            .changes
            .apply(
                vec![
                    Write::TouchOrganisation { id: org.value.id, version: org.version },
                    Write::InsertUser(user.clone()),
                    Write::IssueLink(link.clone()),
                ],
                vec![audit],
            )
            .await?;
        self.send_invitation(&link, &plain, &user.name, &org.value.name).await?;
        Ok(id)
    }

    /// Creates a Corterum user account (`user_administration`, and `user.invite` into
    /// the company it belongs to, its first, giving each of its roles): a username
    /// unique across the service, an email, an optional entity, roles and companies. The
    /// user is emailed an invitation to set a password; their roles are in force only
    /// once they accept (until then the engine denies them everything), and only if the
    /// one who created them is still a user administrator.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature; [`ManageError::Invalid`] for bad
    /// details or a username in use; [`ManageError::EmailInUse`]; the engine's refusal.
    pub async fn create_account(
        &self,
        corterum: &crate::corterum::Corterum,
        actor: UserId,
        input: &crate::corterum::AccountInput,
    ) -> Result<UserId, ManageError> {
        let (world, username) = corterum.check_new_account(actor, input).await?;
        let email = Email::parse(&input.email).map_err(|e| {
            ManageError::Invalid(vec![FieldError { field: "email", message: e.to_string() }])
        })?;
        self.email_free(&email, None).await?;
        let name = match input.entity.and_then(|e| world.entity(e)) {
            Some(e) => e.name.clone(),
            None => match corterum.entity_name(input.entity).await? {
                Some(n) => n,
                None => Name::parse(&username).map_err(|e| {
                    ManageError::Invalid(vec![FieldError {
                        field: "username",
                        message: e.to_string(),
                    }])
                })?,
            },
        };
        let org = self.org(input.companies[0]).await?;
        let id = UserId::from_uuid(self.ports.ids.next_id());
        let user = User::new(id, name, email.clone(), org.value.id, input.roles.clone());
        let (link, plain) = self.new_link(
            LinkPurpose::Invitation,
            &user,
            None,
            email,
            Some(actor),
            self.policy.invitation_lifetime_ms,
        )?;
        let audit = vec![
            self.event(
                AuditName::UserLinksSave,
                Some(actor),
                Some(id),
                Some(org.value.id),
                format!(
                    r#"{{"username":{},"roles":{},"companies":{}}}"#,
                    json(&username),
                    input.roles.len(),
                    input.companies.len()
                ),
            ),
            self.event(
                AuditName::InviteSend,
                Some(actor),
                Some(id),
                Some(org.value.id),
                "{}".to_owned(),
            ),
        ];
        self.ports
            .changes
            .apply(
                vec![
                    Write::InsertUser(user.clone()),
                    Write::SetUserLinks {
                        user: id,
                        links: tenure_domain::UserLinks {
                            entity: input.entity,
                            companies: input.companies.clone(),
                        },
                        username,
                    },
                    Write::IssueLink(link.clone()),
                ],
                audit,
            )
            .await?;
        self.send_invitation(&link, &plain, &user.name, &org.value.name).await?;
        Ok(id)
    }

    /// Creates the first administrator (from the command line), in an organisation
    /// found or created by name, and emails them an invitation. Refused once anyone
    /// holds the administrator role.
    ///
    /// # Errors
    /// [`ManageError::Forbidden`] if an administrator exists; [`ManageError::Invalid`]
    /// for bad details; [`ManageError::EmailInUse`].
    pub async fn create_first_administrator(
        &self,
        person: &PersonInput,
        organisation: &str,
    ) -> Result<UserId, ManageError> {
        self.create_first(person, organisation, First::Administrator).await
    }

    /// Creates Corterum's root administrator (from the command line) in a company found
    /// or created by name, with their email as username, and emails them an invitation.
    /// Refused once a root administrator exists or is invited: there is one per account,
    /// and its rights cannot be revoked.
    ///
    /// # Errors
    /// As [`Manage::create_first_administrator`].
    pub async fn create_root_administrator(
        &self,
        person: &PersonInput,
        company: &str,
    ) -> Result<UserId, ManageError> {
        self.create_first(person, company, First::RootAdministrator).await
    }

    async fn create_first(
        &self,
        person: &PersonInput,
        organisation: &str,
        first: First,
    ) -> Result<UserId, ManageError> {
        let (role, role_key) = first.role();
        let (name, email, telephone) = Self::parse_person(person)?;
        // Running the command again for the same person sends a fresh link (the first
        // may have expired).
        if let Some(existing) = self.ports.changes.user_by_email(&email).await? {
            let open = self.open_invitation(existing.value.id).await?;
            if let Some(open) = open.filter(|l| l.issued_by.is_none() && l.role == Some(role)) {
                let org = self.org(existing.value.organisation).await?;
                let (link, plain) = self.new_link(
                    open.purpose,
                    &existing.value,
                    Some(role),
                    existing.value.email.clone(),
                    None,
                    self.policy.invitation_lifetime_ms,
                )?;
                let audit = self.event(
                    AuditName::InviteSend,
                    None,
                    Some(existing.value.id),
                    Some(org.value.id),
                    format!(r#"{{"role":"{role_key}","first":true,"resend":true}}"#),
                );
                self.ports.changes.apply(vec![Write::IssueLink(link.clone())], vec![audit]).await?;
                self.send_invitation(&link, &plain, &existing.value.name, &org.value.name).await?;
                return Ok(existing.value.id);
            }
        }
        if self.ports.changes.anyone_holds(role).await? {
            return Err(ManageError::Forbidden(first.taken().to_owned()));
        }
        let mut errors = Vec::new();
        let org_name = required(organisation, "organisation", Name::parse, &mut errors);
        let Some(org_name) = org_name else { return Err(ManageError::Invalid(errors)) };
        self.email_free(&email, None).await?;
        let mut writes = Vec::new();
        let mut audit = Vec::new();
        let org = match self.ports.changes.organisation_by_name(org_name.as_str()).await? {
            Some(o) => o.value,
            None => {
                let org = Organisation::new(OrgId::from_uuid(self.ports.ids.next_id()), org_name);
                writes.push(Write::InsertOrganisation(org.clone()));
                audit.push(self.event(
                    AuditName::OrganisationCreate,
                    None,
                    None,
                    Some(org.id),
                    format!(r#"{{"name":{}}}"#, json(org.name.as_str())),
                ));
                org
            }
        };
        let id = UserId::from_uuid(self.ports.ids.next_id());
        let mut user = User::new(id, name, email.clone(), org.id, Vec::new());
        user.telephone = telephone;
        let (link, plain) = self.new_link(
            LinkPurpose::Invitation,
            &user,
            Some(role),
            email.clone(),
            None,
            self.policy.invitation_lifetime_ms,
        )?;
        writes.push(Write::InsertUser(user.clone()));
        writes.push(Write::IssueLink(link.clone()));
        if first == First::RootAdministrator {
            writes.push(Write::SetUserLinks {
                user: id,
                links: tenure_domain::UserLinks { entity: None, companies: vec![org.id] },
                username: email.to_string(),
            });
        }
        audit.push(self.event(
            AuditName::InviteSend,
            None,
            Some(id),
            Some(org.id),
            format!(r#"{{"role":"{role_key}","first":true}}"#),
        ));
        self.ports.changes.apply(writes, audit).await?;
        self.send_invitation(&link, &plain, &user.name, &org.name).await?;
        Ok(id)
    }

    async fn usable_link(
        &self,
        token: &str,
        purposes: &[LinkPurpose],
    ) -> Result<(Link, String), ManageError> {
        let digest = self.ports.secrets.digest(token);
        match self.ports.changes.link(&digest).await? {
            Some(link) if purposes.contains(&link.purpose) && link.usable(self.now()) => {
                Ok((link, digest))
            }
            _ => Err(ManageError::LinkInvalid),
        }
    }

    /// What an invitation link is for, without using it (mail scanners open links).
    ///
    /// # Errors
    /// [`ManageError::LinkInvalid`] for an unknown, used, revoked, replaced or expired
    /// link.
    pub async fn invitation(&self, token: &str) -> Result<InvitationView, ManageError> {
        let (link, _) =
            self.usable_link(token, &[LinkPurpose::Invitation, LinkPurpose::Reactivation]).await?;
        let user = self.ports.changes.user(link.user).await?.ok_or(ManageError::LinkInvalid)?;
        let org = self
            .ports
            .changes
            .organisation(user.value.organisation)
            .await?
            .ok_or(ManageError::LinkInvalid)?;
        Ok(InvitationView {
            user: user.value.id,
            name: user.value.name,
            email: user.value.email,
            organisation: org.value.name,
            purpose: link.purpose,
        })
    }

    /// Accepts an invitation or reactivation: sets the password and gives the role, once.
    /// The inviter's authority to give the role is checked again now: an inviter demoted
    /// since sending makes the link give nothing.
    ///
    /// # Errors
    /// [`ManageError::LinkInvalid`] for an unusable link (or one whose inviter can no
    /// longer give the role, or whose account or organisation was deactivated);
    /// [`ManageError::Password`] for a refused password (the link still works).
    pub async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
    ) -> Result<UserId, ManageError> {
        let (link, digest) =
            self.usable_link(token, &[LinkPurpose::Invitation, LinkPurpose::Reactivation]).await?;
        let user = self.ports.changes.user(link.user).await?.ok_or(ManageError::LinkInvalid)?;
        let org = self
            .ports
            .changes
            .organisation(user.value.organisation)
            .await?
            .ok_or(ManageError::LinkInvalid)?;
        if !user.value.active || !org.value.active || org.value.id != link.organisation {
            return Err(ManageError::LinkInvalid);
        }
        // Whoever sent the link must still be able to send it now: `user.invite` giving
        // the role a CORE link carries, or each role a Corterum account holds (set by a
        // user administrator, whom a demotion since leaves unable to give them), decided
        // on the invited user's snapshot, which holds their organisation and their roles.
        if let Some(issuer) = link.issued_by {
            let roles = Self::invitation_roles(&link, &user.value);
            let requests =
                Self::sending(issuer, org.value.id, &roles).ok_or(ManageError::LinkInvalid)?;
            let world =
                self.ports.directory.snapshot(issuer, Resource::User(user.value.id)).await?;
            if !requests.iter().all(|r| world.decide(r).is_allowed()) {
                return Err(ManageError::LinkInvalid);
            }
        } else if link.role.is_none() {
            return Err(ManageError::LinkInvalid);
        }
        let context = tenure_domain::PasswordContext {
            email: Some(&user.value.email),
            name: Some(&user.value.name),
            organisation: Some(&org.value.name),
        };
        let password = self.policy.passwords.check(password, &context)?;
        let hash = self.ports.hasher.hash(&password).await?;
        let mut accepted = user.value.clone();
        if let Some(role) = link.role {
            accepted.roles = vec![role];
        }
        let audit = self.event(
            AuditName::InviteAccept,
            Some(user.value.id),
            Some(user.value.id),
            Some(org.value.id),
            format!(r#"{{"purpose":{}}}"#, json(link.purpose.as_str())),
        );
        self.ports
            .changes
            .apply(
                vec![
                    Write::ConsumeLink { digest, purpose: link.purpose, now: self.now() },
                    Write::TouchOrganisation { id: org.value.id, version: org.version },
                    Write::UpdateUser { user: accepted, version: user.version },
                    Write::SetPassword { user: user.value.id, hash: Some(hash) },
                ],
                vec![audit],
            )
            .await?;
        Ok(user.value.id)
    }

    /// The newest invitation or reactivation link of a user, if they have not accepted it.
    async fn open_invitation(&self, user: UserId) -> Result<Option<Link>, BackendError> {
        let links = self.ports.changes.links_for_user(user).await?;
        Ok(links
            .into_iter()
            .find(|l| matches!(l.purpose, LinkPurpose::Invitation | LinkPurpose::Reactivation))
            .filter(|l| l.state != LinkState::Accepted))
    }

    /// Where a user's account stands, in their organisation: a user of a deactivated
    /// organisation can do nothing (the engine denies them everything, and refuses to
    /// deactivate or reactivate them until the organisation is reactivated), so they are
    /// shown as deactivated whatever their own flag says.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures, or for an organisation that is not
    /// the user's.
    pub async fn status(
        &self,
        user: &User,
        organisation: &Organisation,
    ) -> Result<AccountStatus, BackendError> {
        if organisation.id != user.organisation {
            return Err(BackendError::new("a status asked of another organisation"));
        }
        if !user.active || !organisation.active {
            return Ok(AccountStatus::Deactivated);
        }
        // CORE's roles and the root administrator's are given only on acceptance (and
        // taken away on reactivation), so a user holding only such roles has no open
        // invitation: no need to look. A Corterum user holds the roles their administrator
        // chose from the start, so only their invitation says whether they have accepted.
        if !user.roles.is_empty() && !user.roles.iter().any(|r| builtin::held_before_acceptance(*r))
        {
            return Ok(AccountStatus::Active);
        }
        Ok(match self.open_invitation(user.id).await? {
            None => AccountStatus::Active,
            Some(l) if l.state == LinkState::Revoked => AccountStatus::InvitationRevoked,
            Some(l) => AccountStatus::Invited { expired: !l.usable(self.now()) },
        })
    }

    /// The roles an open invitation gives: the one its link carries (CORE), or each role
    /// the account holds (Corterum, whose roles are set with the account and are in force
    /// only once it is accepted).
    fn invitation_roles(link: &Link, user: &User) -> Vec<RoleId> {
        match link.role {
            Some(role) => vec![role],
            None => user.roles.clone(),
        }
    }

    /// The requests that let `actor` send (or resend, or withdraw) an invitation giving
    /// `roles` into `organisation`: `user.invite` giving each of them. None for an
    /// invitation that gives nothing, which nobody may send.
    fn sending(actor: UserId, organisation: OrgId, roles: &[RoleId]) -> Option<Vec<Request>> {
        (!roles.is_empty()).then(|| {
            roles
                .iter()
                .map(|role| {
                    Request::new(actor, Action::UserInvite, Resource::Organisation(organisation))
                        .giving(*role)
                })
                .collect()
        })
    }

    /// Sends a fresh invitation (or reactivation) link; the old one stops working.
    /// Whoever could send it now may resend it, as for [`Manage::revoke_invitation`]:
    /// the link gives what the old one gave (CORE's role, or nothing more than the
    /// Corterum account already holds).
    ///
    /// # Errors
    /// [`ManageError::Forbidden`] if the user has no open invitation or the actor may
    /// not give its roles; [`ManageError::NotFound`].
    pub async fn resend_invitation(&self, actor: UserId, id: UserId) -> Result<(), ManageError> {
        let user = self.user(id).await?;
        let org = self.org(user.value.organisation).await?;
        let world = self.ports.directory.snapshot(actor, Resource::User(id)).await?;
        self.require(&world, Request::new(actor, Action::UserView, Resource::User(id))).await?;
        let Some(open) = self.open_invitation(id).await? else {
            return Err(ManageError::Forbidden(
                "this user has already accepted their invitation".to_owned(),
            ));
        };
        let roles = Self::invitation_roles(&open, &user.value);
        let requests = Self::sending(actor, org.value.id, &roles).ok_or(ManageError::NotFound)?;
        for request in requests {
            self.require(&world, request).await?;
        }
        let (link, plain) = self.new_link(
            open.purpose,
            &user.value,
            open.role,
            user.value.email.clone(),
            Some(actor),
            self.policy.invitation_lifetime_ms,
        )?;
        let audit = self.event(
            AuditName::InviteSend,
            Some(actor),
            Some(id),
            Some(org.value.id),
            r#"{"resend":true}"#.to_owned(),
        );
        self.ports.changes.apply(vec![Write::IssueLink(link.clone())], vec![audit]).await?;
        self.send_invitation(&link, &plain, &user.value.name, &org.value.name).await?;
        Ok(())
    }

    /// Withdraws a user's open invitation: the link stops working. Whoever could send it
    /// now may withdraw it: `user.invite` into the user's organisation, giving the role
    /// it carries (CORE), or each role the account holds (Corterum, whose roles are set
    /// with the account and not in force until it is accepted, which it now never is),
    /// decided on the user's snapshot, which holds their organisation and their roles.
    ///
    /// # Errors
    /// As [`Manage::resend_invitation`].
    pub async fn revoke_invitation(&self, actor: UserId, id: UserId) -> Result<(), ManageError> {
        let user = self.user(id).await?;
        let world = self.ports.directory.snapshot(actor, Resource::User(id)).await?;
        self.require(&world, Request::new(actor, Action::UserView, Resource::User(id))).await?;
        let Some(open) = self.open_invitation(id).await? else {
            return Err(ManageError::Forbidden("this user has no open invitation".to_owned()));
        };
        let org = user.value.organisation;
        let roles = Self::invitation_roles(&open, &user.value);
        let requests = Self::sending(actor, org, &roles).ok_or(ManageError::NotFound)?;
        for request in requests {
            self.require(&world, request).await?;
        }
        let audit =
            self.event(AuditName::InviteRevoke, Some(actor), Some(id), Some(org), "{}".to_owned());
        let revoke = Write::RevokeLinks {
            user: id,
            purposes: vec![LinkPurpose::Invitation, LinkPurpose::Reactivation],
        };
        self.ports.changes.apply(vec![revoke], vec![audit]).await?;
        Ok(())
    }

    /// Changes a user's details, role or flags, each checked with its own action (the
    /// email address with `user.change_email`: it is a credential). A new email address
    /// is not set at once: a link goes to it, and a notice to the old one. Changing one's
    /// own address also needs one's current password, checked like a sign-in.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] (on `current_password` for a missing or wrong current
    /// password), [`ManageError::Conflict`] for a stale `version`,
    /// [`ManageError::EmailInUse`], or the engine's refusal.
    pub async fn edit_user(
        &self,
        actor: UserId,
        id: UserId,
        version: i64,
        changes: &UserChanges,
    ) -> Result<Edited, ManageError> {
        let current = self.user(id).await?;
        let org = self.org(current.value.organisation).await?;
        let world = self.ports.directory.snapshot(actor, Resource::User(id)).await?;
        self.require(&world, Request::new(actor, Action::UserView, Resource::User(id))).await?;
        if current.version != version {
            return Err(ManageError::Conflict);
        }
        let mut errors = Vec::new();
        let mut next = current.value.clone();
        let mut fields = Vec::new();
        if let Some(name) = &changes.name {
            if let Some(name) = required(name, "name", Name::parse, &mut errors) {
                if name != next.name {
                    fields.push("name");
                    next.name = name;
                }
            }
        }
        if let Some(telephone) = &changes.telephone {
            let telephone = optional(telephone, "telephone", Telephone::parse, &mut errors);
            if telephone != next.telephone {
                fields.push("telephone");
                next.telephone = telephone;
            }
        }
        let new_email = match &changes.email {
            Some(e) => required(e, "email", Email::parse, &mut errors).filter(|e| *e != next.email),
            None => None,
        };
        if !errors.is_empty() {
            return Err(ManageError::Invalid(errors));
        }
        let resource = Resource::User(id);
        if !fields.is_empty() {
            self.require(&world, Request::new(actor, Action::UserEditDetails, resource)).await?;
        }
        if new_email.is_some() {
            // The address is a credential: its own action, which the engine allows to the
            // person and to those who strictly outrank them.
            self.require(&world, Request::new(actor, Action::UserChangeEmail, resource)).await?;
        }
        let mut audit = Vec::new();
        let mut role_detail = Vec::new();
        if let Some(role) = changes.role.filter(|r| !next.roles.contains(r)) {
            self.require(
                &world,
                Request::new(actor, Action::UserChangeRole, resource).giving(role),
            )
            .await?;
            let key = |r: &RoleId| world.roles().get(*r).map_or("", |r| r.key.as_str()).to_owned();
            let before: Vec<_> = next.roles.iter().map(key).collect();
            role_detail.push(format!(
                r#""role":{{"before":{},"after":{}}}"#,
                json(&before.join(",")),
                json(&key(&role))
            ));
            next.roles = vec![role];
        }
        let flags = [
            (
                "data_protection_officer",
                changes.data_protection_officer,
                next.data_protection_officer,
            ),
            ("key_contact", changes.key_contact, next.key_contact),
        ];
        for (field, wanted, before) in flags {
            if let Some(after) = wanted.filter(|w| *w != before) {
                self.require(&world, Request::new(actor, Action::UserSetFlags, resource)).await?;
                role_detail.push(format!(r#""{field}":{{"before":{before},"after":{after}}}"#));
            }
        }
        if let Some(v) = changes.data_protection_officer {
            next.data_protection_officer = v;
        }
        if let Some(v) = changes.key_contact {
            next.key_contact = v;
        }
        let org_id = Some(org.value.id);
        if !fields.is_empty() {
            let names: Vec<_> = fields.iter().map(|f| json(f)).collect();
            audit.push(self.event(
                AuditName::UserUpdate,
                Some(actor),
                Some(id),
                org_id,
                format!(r#"{{"fields":[{}]}}"#, names.join(",")),
            ));
        }
        if !role_detail.is_empty() {
            audit.push(self.event(
                AuditName::RoleChange,
                Some(actor),
                Some(id),
                org_id,
                format!("{{{}}}", role_detail.join(",")),
            ));
        }
        let mut writes = Vec::new();
        let mut confirmation = None;
        if let Some(new_email) = new_email {
            // Checked after every decision, so a refused edit costs no password check, and
            // before the address is looked up, so a stolen session cannot probe addresses.
            if actor == id {
                self.reauthenticate(id, org.value.id, changes.current_password.as_deref()).await?;
            }
            self.email_free(&new_email, Some(id)).await?;
            let (link, plain) = self.new_link(
                LinkPurpose::EmailChange,
                &next,
                None,
                new_email,
                Some(actor),
                self.policy.email_change_lifetime_ms,
            )?;
            audit.push(self.event(
                AuditName::EmailChangeRequest,
                Some(actor),
                Some(id),
                org_id,
                "{}".to_owned(),
            ));
            writes.push(Write::IssueLink(link.clone()));
            confirmation = Some((link, plain));
        }
        if next != current.value {
            writes.insert(0, Write::UpdateUser { user: next.clone(), version });
            writes.insert(0, Write::TouchOrganisation { id: org.value.id, version: org.version });
        }
        if writes.is_empty() {
            return Ok(Edited { email_confirmation_sent: false });
        }
        self.ports.changes.apply(writes, audit).await?;
        let sent = confirmation.is_some();
        if let Some((link, plain)) = confirmation {
            let by = if actor == id {
                ChangedBy::Themselves
            } else {
                ChangedBy::Other(world.user(actor).map(|u| &u.name))
            };
            self.send_email_change(&next, &link, &plain, by).await?;
        }
        Ok(Edited { email_confirmation_sent: sent })
    }

    /// Checks the password someone typed to confirm a change to their own account as
    /// signing in checks it: one password check whatever the state (the hasher's dummy
    /// hash when there is no usable one), a locked account refused without counting, and
    /// a wrong password audited and counted towards the lockout. Every refusal is a field
    /// error on `current_password`, and nothing else is written.
    async fn reauthenticate(
        &self,
        user: UserId,
        org: OrgId,
        typed: Option<&str>,
    ) -> Result<(), ManageError> {
        let refuse = |message: &str| {
            ManageError::Invalid(vec![FieldError {
                field: "current_password",
                message: message.to_owned(),
            }])
        };
        let Some(typed) = typed.filter(|p| !p.is_empty()) else {
            return Err(refuse("enter your current password to change your email address"));
        };
        let now = self.now();
        let credential = self.ports.changes.credential(user).await?;
        let locked =
            credential.as_ref().and_then(|c| c.locked_until).is_some_and(|until| until > now);
        let stored = credential.and_then(|c| c.password_hash).filter(|_| !locked);
        let hasher = &self.ports.hasher;
        let verified = match &stored {
            Some(hash) => hasher.verify(typed, hash).await,
            None => match hasher.verify(typed, hasher.dummy()).await {
                Verified::Unavailable => Verified::Unavailable,
                _ => Verified::NoMatch,
            },
        };
        match verified {
            Verified::Match | Verified::MatchNeedsRehash => return Ok(()),
            Verified::Unavailable => {
                return Err(refuse(
                    "too many people are signing in right now; try again in a minute",
                ));
            }
            Verified::NoMatch => {}
        }
        let reason = if locked { "locked" } else { "wrong current password" };
        let mut event = self.event(
            AuditName::LoginFail,
            Some(user),
            Some(user),
            Some(org),
            format!(r#"{{"reason":{}}}"#, json(reason)),
        );
        event.outcome = Outcome::Failure;
        // Attempts while locked are not counted, as for signing in.
        let mut writes = Vec::new();
        if !locked {
            let until = Timestamp(now.0.saturating_add(self.policy.lockout.lock_for_ms));
            let lock = self.event(
                AuditName::LoginLock,
                Some(user),
                Some(user),
                Some(org),
                format!(r#"{{"until":{}}}"#, until.0),
            );
            writes.push(Write::CountFailure {
                user,
                lock_after: self.policy.lockout.lock_after,
                lock_until: until,
                lock_audit: Box::new(lock),
            });
        }
        self.ports.changes.apply(writes, vec![event]).await?;
        Err(refuse("your current password is incorrect"))
    }

    async fn send_email_change(
        &self,
        user: &User,
        link: &Link,
        plain: &str,
        by: ChangedBy<'_>,
    ) -> Result<(), BackendError> {
        let url = mail::link(&self.policy.base_url, "/account/confirm-email", plain);
        let confirm = mail::message(
            link.email.clone(),
            "Confirm your new email address",
            &[
                Block::Text(format!(
                    "Hello {}, this address was given as the new email address for your Tenure account.",
                    user.name
                )),
                Block::Text("To confirm it, open this link within 3 hours:".to_owned()),
                Block::Link(url),
                Block::Text(
                    "Until you do, your account keeps its old address. If you did not ask for \
                     this, ignore this email."
                        .to_owned(),
                ),
            ],
        );
        let who = match by {
            ChangedBy::Themselves => "You".to_owned(),
            ChangedBy::Other(Some(name)) => name.to_string(),
            ChangedBy::Other(None) => "Someone".to_owned(),
        };
        let notice = mail::message(
            user.email.clone(),
            "Your email address is being changed",
            &[
                Block::Text(format!(
                    "Hello {}. {who} asked to change the email address of your Tenure account to {}.",
                    user.name, link.email
                )),
                Block::Text(
                    "The change happens only when the new address confirms it. If you did not \
                     expect this, tell your data coordinator or an administrator straight away."
                        .to_owned(),
                ),
            ],
        );
        self.ports.mailer.send(confirm).await?;
        self.ports.mailer.send(notice).await
    }

    /// Confirms a new email address with the link sent to it, once, if whoever asked for
    /// the change may still make it (someone demoted since, or no longer above the person,
    /// changes nothing). The address is a credential, so in the same transaction every
    /// reset link of the person dies and every session of theirs ends; then the old
    /// address is told what changed and who changed it.
    ///
    /// # Errors
    /// [`ManageError::LinkInvalid`]; [`ManageError::EmailInUse`] if another account took
    /// the address meanwhile; the engine's refusal of the change as it stands now.
    pub async fn confirm_email(&self, token: &str) -> Result<EmailConfirmed, ManageError> {
        let (link, digest) = self.usable_link(token, &[LinkPurpose::EmailChange]).await?;
        let user = self.ports.changes.user(link.user).await?.ok_or(ManageError::LinkInvalid)?;
        let id = user.value.id;
        let by = link.issued_by.unwrap_or(id);
        let world = self.ports.directory.snapshot(by, Resource::User(id)).await?;
        self.require(&world, Request::new(by, Action::UserChangeEmail, Resource::User(id))).await?;
        self.email_free(&link.email, Some(id)).await?;
        let mut next = user.value.clone();
        next.email = link.email.clone();
        let audit = self.event(
            AuditName::EmailChange,
            Some(by),
            Some(id),
            Some(user.value.organisation),
            "{}".to_owned(),
        );
        self.ports
            .changes
            .apply(
                vec![
                    Write::ConsumeLink {
                        digest,
                        purpose: LinkPurpose::EmailChange,
                        now: self.now(),
                    },
                    Write::UpdateUser { user: next, version: user.version },
                    // Every reset link dies with the old address, and every other link
                    // sent to it: any other pending confirmation, and a pending invitation
                    // or reactivation (whoever holds the old mailbox must not get in by
                    // it; the person's new address gets a fresh one when it is resent).
                    // Every session ends.
                    Write::RevokeLinks {
                        user: id,
                        purposes: vec![
                            LinkPurpose::EmailChange,
                            LinkPurpose::Invitation,
                            LinkPurpose::Reactivation,
                        ],
                    },
                    Write::EndSessions(id),
                ],
                vec![audit],
            )
            .await?;
        let by_themselves = by == id;
        let changed_by = if by_themselves {
            ChangedBy::Themselves
        } else {
            ChangedBy::Other(world.user(by).map(|u| &u.name))
        };
        let notice = mail::email_changed(
            user.value.email.clone(),
            &user.value.name,
            &link.email,
            changed_by,
        );
        self.ports.mailer.send(notice).await?;
        Ok(EmailConfirmed { user: id, by_themselves })
    }

    /// Moves a user to another organisation the actor may invite into with the user's
    /// role.
    ///
    /// # Errors
    /// As [`Manage::edit_user`].
    pub async fn move_user(
        &self,
        actor: UserId,
        id: UserId,
        version: i64,
        to: OrgId,
    ) -> Result<(), ManageError> {
        let user = self.user(id).await?;
        let from = self.org(user.value.organisation).await?;
        let world = self.ports.directory.snapshot(actor, Resource::User(id)).await?;
        self.require(&world, Request::new(actor, Action::UserMoveOrganisation, Resource::User(id)))
            .await?;
        let target = self.org(to).await?;
        let to_world = self.ports.directory.snapshot(actor, Resource::Organisation(to)).await?;
        for role in &user.value.roles {
            self.require(
                &to_world,
                Request::new(actor, Action::UserInvite, Resource::Organisation(to)).giving(*role),
            )
            .await?;
        }
        if to == from.value.id {
            return Ok(());
        }
        let mut next = user.value.clone();
        next.organisation = to;
        let audit = self.event(
            AuditName::UserMove,
            Some(actor),
            Some(id),
            Some(from.value.id),
            format!(r#"{{"from":"{}","to":"{}"}}"#, from.value.id, to),
        );
        self.ports
            .changes
            .apply(
                vec![
                    Write::TouchOrganisation { id: from.value.id, version: from.version },
                    Write::TouchOrganisation { id: to, version: target.version },
                    Write::UpdateUser { user: next, version },
                ],
                vec![audit],
            )
            .await?;
        let notice = mail::message(
            user.value.email.clone(),
            "Your organisation has changed",
            &[
                Block::Text(format!(
                    "Hello {}, your Tenure account has moved from {} to {}.",
                    user.value.name, from.value.name, target.value.name
                )),
                Block::Text(
                    "You now see the logs and users of your new organisation. Your password \
                     has not changed."
                        .to_owned(),
                ),
            ],
        );
        self.ports.mailer.send(notice).await?;
        Ok(())
    }

    /// Deactivates a user: they cannot sign in, and their open links stop working.
    ///
    /// # Errors
    /// As [`Manage::edit_user`]; the engine refuses one's own account, users ranked
    /// above, and the last active data coordinator.
    pub async fn deactivate_user(
        &self,
        actor: UserId,
        id: UserId,
        version: i64,
    ) -> Result<(), ManageError> {
        self.lifecycle(actor, id, version, Action::UserDeactivate).await
    }

    /// Reactivates a user: their account is active again with no password and no role,
    /// and a fresh link lets them set a password and gives their role back.
    ///
    /// # Errors
    /// As [`Manage::edit_user`].
    pub async fn reactivate_user(
        &self,
        actor: UserId,
        id: UserId,
        version: i64,
    ) -> Result<(), ManageError> {
        self.lifecycle(actor, id, version, Action::UserReactivate).await
    }

    /// Deletes a deactivated user's account and personal data. Their logs and every
    /// audit entry stay, naming them by id only.
    ///
    /// # Errors
    /// As [`Manage::edit_user`].
    pub async fn delete_user(
        &self,
        actor: UserId,
        id: UserId,
        version: i64,
    ) -> Result<(), ManageError> {
        self.lifecycle(actor, id, version, Action::UserDelete).await
    }

    async fn lifecycle(
        &self,
        actor: UserId,
        id: UserId,
        version: i64,
        action: Action,
    ) -> Result<(), ManageError> {
        let user = self.user(id).await?;
        let org = self.org(user.value.organisation).await?;
        let world = self.ports.directory.snapshot(actor, Resource::User(id)).await?;
        self.require(&world, Request::new(actor, action, Resource::User(id))).await?;
        if user.version != version {
            return Err(ManageError::Conflict);
        }
        let touch = Write::TouchOrganisation { id: org.value.id, version: org.version };
        let all_links =
            vec![LinkPurpose::Invitation, LinkPurpose::Reactivation, LinkPurpose::EmailChange];
        let org_id = Some(org.value.id);
        match action {
            Action::UserDeactivate => {
                let mut next = user.value.clone();
                next.active = false;
                let audit = self.event(
                    AuditName::UserDeactivate,
                    Some(actor),
                    Some(id),
                    org_id,
                    "{}".to_owned(),
                );
                self.ports
                    .changes
                    .apply(
                        vec![
                            touch,
                            Write::UpdateUser { user: next, version },
                            Write::RevokeLinks { user: id, purposes: all_links },
                            Write::EndSessions(id),
                        ],
                        vec![audit],
                    )
                    .await?;
            }
            Action::UserReactivate => {
                let role = user.value.roles.first().copied().ok_or_else(|| {
                    ManageError::Forbidden("this user has no role to give back".to_owned())
                })?;
                let mut next = user.value.clone();
                next.active = true;
                next.roles = Vec::new();
                let (link, plain) = self.new_link(
                    LinkPurpose::Reactivation,
                    &next,
                    Some(role),
                    next.email.clone(),
                    Some(actor),
                    self.policy.invitation_lifetime_ms,
                )?;
                let audit = self.event(
                    AuditName::UserReactivate,
                    Some(actor),
                    Some(id),
                    org_id,
                    "{}".to_owned(),
                );
                self.ports
                    .changes
                    .apply(
                        vec![
                            touch,
                            Write::UpdateUser { user: next.clone(), version },
                            Write::SetPassword { user: id, hash: None },
                            Write::RevokeLinks { user: id, purposes: all_links },
                            Write::IssueLink(link.clone()),
                        ],
                        vec![audit],
                    )
                    .await?;
                self.send_invitation(&link, &plain, &next.name, &org.value.name).await?;
            }
            _ => {
                let audit = self.event(
                    AuditName::UserDelete,
                    Some(actor),
                    Some(id),
                    org_id,
                    "{}".to_owned(),
                );
                self.ports
                    .changes
                    .apply(vec![touch, Write::DeleteUser { id, version }], vec![audit])
                    .await?;
            }
        }
        Ok(())
    }

    fn parse_organisation(
        input: &OrganisationInput,
        id: OrgId,
        active: bool,
    ) -> Result<Organisation, ManageError> {
        let mut errors = Vec::new();
        let name = required(&input.name, "name", Name::parse, &mut errors);
        let telephone = optional(&input.telephone, "telephone", Telephone::parse, &mut errors);
        let Some(name) = name.filter(|_| errors.is_empty()) else {
            return Err(ManageError::Invalid(errors));
        };
        Ok(Organisation {
            id,
            name,
            address: text_or_none(&input.address),
            telephone,
            provider_type: input.provider_type,
            registration_number: text_or_none(&input.registration_number),
            holds_stock: input.holds_stock,
            active,
        })
    }

    /// Creates an organisation.
    ///
    /// # Errors
    /// [`ManageError::Invalid`], or the engine's refusal.
    pub async fn create_organisation(
        &self,
        actor: UserId,
        input: &OrganisationInput,
    ) -> Result<OrgId, ManageError> {
        let world = self.ports.directory.snapshot(actor, Resource::Service).await?;
        self.require(&world, Request::new(actor, Action::OrganisationCreate, Resource::Service))
            .await?;
        let id = OrgId::from_uuid(self.ports.ids.next_id());
        let org = Self::parse_organisation(input, id, true)?;
        let audit = self.event(
            AuditName::OrganisationCreate,
            Some(actor),
            None,
            Some(id),
            format!(r#"{{"name":{}}}"#, json(org.name.as_str())),
        );
        self.ports.changes.apply(vec![Write::InsertOrganisation(org)], vec![audit]).await?;
        Ok(id)
    }

    /// Changes an organisation's details: name, address and telephone need
    /// `organisation.edit_details`, anything else `organisation.edit_all`. Audited with
    /// before and after values.
    ///
    /// # Errors
    /// [`ManageError::Invalid`], [`ManageError::Conflict`], or the engine's refusal.
    pub async fn edit_organisation(
        &self,
        actor: UserId,
        id: OrgId,
        version: i64,
        input: &OrganisationInput,
    ) -> Result<(), ManageError> {
        let current = self.org(id).await?;
        let resource = Resource::Organisation(id);
        let world = self.ports.directory.snapshot(actor, resource).await?;
        self.require(&world, Request::new(actor, Action::OrganisationView, resource)).await?;
        let next = Self::parse_organisation(input, id, current.value.active)?;
        let before = &current.value;
        let details_only = next.provider_type == before.provider_type
            && next.registration_number == before.registration_number
            && next.holds_stock == before.holds_stock;
        let action = if details_only {
            Action::OrganisationEditDetails
        } else {
            Action::OrganisationEditAll
        };
        self.require(&world, Request::new(actor, action, resource)).await?;
        if current.version != version {
            return Err(ManageError::Conflict);
        }
        if next == current.value {
            return Ok(());
        }
        let audit = self.event(
            AuditName::OrganisationUpdate,
            Some(actor),
            None,
            Some(id),
            format!(
                r#"{{"before":{},"after":{}}}"#,
                organisation_json(before),
                organisation_json(&next)
            ),
        );
        self.ports
            .changes
            .apply(vec![Write::UpdateOrganisation { organisation: next, version }], vec![audit])
            .await?;
        Ok(())
    }

    /// Deactivates an organisation: its users are denied everything until it is
    /// reactivated, which restores exactly those who were active before (individually
    /// deactivated users stay deactivated).
    ///
    /// # Errors
    /// [`ManageError::Conflict`], or the engine's refusal.
    pub async fn deactivate_organisation(
        &self,
        actor: UserId,
        id: OrgId,
        version: i64,
    ) -> Result<(), ManageError> {
        self.set_organisation_active(actor, id, version, false).await
    }

    /// Reactivates an organisation.
    ///
    /// # Errors
    /// As [`Manage::deactivate_organisation`].
    pub async fn reactivate_organisation(
        &self,
        actor: UserId,
        id: OrgId,
        version: i64,
    ) -> Result<(), ManageError> {
        self.set_organisation_active(actor, id, version, true).await
    }

    async fn set_organisation_active(
        &self,
        actor: UserId,
        id: OrgId,
        version: i64,
        active: bool,
    ) -> Result<(), ManageError> {
        let current = self.org(id).await?;
        let resource = Resource::Organisation(id);
        let world = self.ports.directory.snapshot(actor, resource).await?;
        let (action, name) = if active {
            (Action::OrganisationReactivate, AuditName::OrganisationReactivate)
        } else {
            (Action::OrganisationDeactivate, AuditName::OrganisationDeactivate)
        };
        self.require(&world, Request::new(actor, action, resource)).await?;
        if current.version != version {
            return Err(ManageError::Conflict);
        }
        let mut next = current.value.clone();
        next.active = active;
        let audit = self.event(name, Some(actor), None, Some(id), "{}".to_owned());
        self.ports
            .changes
            .apply(vec![Write::UpdateOrganisation { organisation: next, version }], vec![audit])
            .await?;
        Ok(())
    }

    /// Merges `from` into `into`: users, logs and relationships move; `from` is
    /// deactivated and its history stays.
    ///
    /// # Errors
    /// [`ManageError::Conflict`]; the engine's refusal (which covers merging into itself
    /// or into a deactivated organisation, see [`tenure_domain::decide_merge`]).
    pub async fn merge_organisation(
        &self,
        actor: UserId,
        from: OrgId,
        version: i64,
        into: OrgId,
    ) -> Result<(), ManageError> {
        let source = self.org(from).await?;
        // The engine decides first, on a world holding `into` if it exists, so a missing
        // `into` is answered as the engine answers it.
        let target = self.ports.changes.organisation(into).await?;
        let mut world = self.ports.directory.snapshot(actor, Resource::Organisation(from)).await?;
        if let Some(t) = target.as_ref().filter(|t| world.organisation(t.value.id).is_none()) {
            world.insert_organisation(t.value.clone()).map_err(BackendError::new)?;
        }
        let decision = tenure_domain::decide_merge(&world, actor, from, into);
        if !decision.is_allowed() {
            let request =
                Request::new(actor, Action::OrganisationMerge, Resource::Organisation(from));
            return Err(self.refuse(&world, request, decision).await);
        }
        let target = target.ok_or(ManageError::NotFound)?;
        if source.version != version {
            return Err(ManageError::Conflict);
        }
        let mut merged = source.value.clone();
        merged.active = false;
        let audit = self.event(
            AuditName::OrganisationMerge,
            Some(actor),
            None,
            Some(from),
            format!(r#"{{"into":"{into}","into_name":{}}}"#, json(target.value.name.as_str())),
        );
        let audit_into = self.event(
            AuditName::OrganisationMerge,
            Some(actor),
            None,
            Some(into),
            format!(r#"{{"from":"{from}","from_name":{}}}"#, json(source.value.name.as_str())),
        );
        self.ports
            .changes
            .apply(
                vec![
                    Write::TouchOrganisation { id: into, version: target.version },
                    Write::MergeOrganisation { from, into },
                    Write::UpdateOrganisation { organisation: merged, version },
                ],
                vec![audit, audit_into],
            )
            .await?;
        Ok(())
    }

    /// A world for deciding a step about `rel`: the actor's snapshot with both ends and
    /// the pending request, if any.
    async fn relationship_world(
        &self,
        actor: UserId,
        rel: Relationship,
    ) -> Result<(World, Vec<Organisation>, bool), ManageError> {
        // A missing end is not an error here: the engine decides on the world without
        // it (someone who manages the other end may be refused, or may be told the
        // organisation does not exist by the world's own rules).
        let mut ends = Vec::new();
        for id in [rel.stock_owner, rel.managing_agent] {
            if let Some(org) = self.ports.changes.organisation(id).await? {
                ends.push(org.value);
            }
        }
        let mut world =
            self.ports.directory.snapshot(actor, Resource::Organisation(rel.stock_owner)).await?;
        for org in &ends {
            if world.organisation(org.id).is_none() {
                world.insert_organisation(org.clone()).map_err(BackendError::new)?;
            }
        }
        let pending = self.ports.changes.relationship_request(rel).await?;
        if let Some(p) = pending {
            if world.relationship_request(rel).is_none() {
                world.request_relationship(rel, p.requested_by).map_err(BackendError::new)?;
            }
        }
        Ok((world, ends, pending.is_some()))
    }

    /// Takes a step in a relationship's life, as the engine decides
    /// ([`tenure_domain::decide_relationship`]): an administrator adds at once; a data
    /// coordinator's add is a request that the other end accepts or declines, or that
    /// they withdraw; either end removes at once. Each step is audited on both
    /// organisations, and the other organisation's relationship managers are emailed.
    ///
    /// # Errors
    /// [`ManageError::Relationship`] saying which rule (self, stock, duplicate, none
    /// pending); [`ManageError::NotFound`] or [`ManageError::Forbidden`] as the engine
    /// decides.
    pub async fn change_relationship(
        &self,
        actor: UserId,
        rel: Relationship,
        step: RelationshipStep,
    ) -> Result<RelationshipEffect, ManageError> {
        let (mut world, ends, pending) = self.relationship_world(actor, rel).await?;
        let effect = match decide_relationship(&world, actor, rel, step) {
            Ok(effect) => effect,
            Err(denial) => {
                let request = Request::new(
                    actor,
                    Action::OrganisationManageRelationships,
                    Resource::Organisation(rel.stock_owner),
                );
                return Err(self.refuse(&world, request, denial).await);
            }
        };
        let drop_request = Write::DropRelationshipRequest(rel);
        let (writes, name) = match effect {
            RelationshipEffect::Added => {
                world.add_relationship(rel)?;
                let mut writes = Vec::new();
                if pending {
                    writes.push(drop_request);
                }
                writes.push(Write::InsertRelationship(rel));
                (writes, AuditName::RelationshipAdd)
            }
            RelationshipEffect::Requested { by } => {
                world.request_relationship(rel, by)?;
                let request = RelationshipRequest {
                    relationship: rel,
                    requested_by: by,
                    requested_at: self.now(),
                };
                (vec![Write::RequestRelationship(request)], AuditName::RelationshipRequest)
            }
            RelationshipEffect::Accepted { .. } => {
                world.add_relationship(rel)?;
                (vec![drop_request, Write::InsertRelationship(rel)], AuditName::RelationshipAccept)
            }
            RelationshipEffect::Declined { .. } => {
                world.remove_request(rel)?;
                (vec![drop_request], AuditName::RelationshipDecline)
            }
            RelationshipEffect::Withdrawn { .. } => {
                world.remove_request(rel)?;
                (vec![drop_request], AuditName::RelationshipWithdraw)
            }
            RelationshipEffect::Removed => {
                (vec![Write::DeleteRelationship(rel)], AuditName::RelationshipRemove)
            }
        };
        let names = |id: OrgId| {
            ends.iter().find(|o| o.id == id).map_or_else(|| id.to_string(), |o| o.name.to_string())
        };
        let result =
            self.ports.changes.apply(writes, self.relationship_event(name, actor, rel)).await;
        match result {
            Ok(()) => {}
            // The store knows relationships the actor's snapshot may not hold.
            Err(ChangeError::Duplicate) => {
                return Err(if name == AuditName::RelationshipRequest {
                    RelationshipError::AlreadyRequested {
                        stock_owner: names(rel.stock_owner),
                        managing_agent: names(rel.managing_agent),
                    }
                } else {
                    RelationshipError::Duplicate {
                        stock_owner: names(rel.stock_owner),
                        managing_agent: names(rel.managing_agent),
                    }
                }
                .into());
            }
            Err(ChangeError::Conflict) if name == AuditName::RelationshipRemove => {
                return Err(RelationshipError::NotFound {
                    stock_owner: names(rel.stock_owner),
                    managing_agent: names(rel.managing_agent),
                }
                .into());
            }
            Err(e) => return Err(e.into()),
        }
        let actor_org = world.user(actor).map(|u| u.organisation);
        for end in &ends {
            if Some(end.id) != actor_org {
                self.notify_relationship(&world, end, &ends, rel, effect).await?;
            }
        }
        Ok(effect)
    }

    /// Organisations whose names contain `term`, by name, at most ten, for choosing the
    /// other end of a relationship. Organisation names are public in CORE (they are
    /// registered providers), so this reads every organisation's name and nothing else,
    /// and is for anyone who manages some organisation's relationships.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for anyone who manages no organisation's relationships.
    pub async fn organisation_names(
        &self,
        actor: UserId,
        term: &str,
    ) -> Result<Vec<(OrgId, Name)>, ManageError> {
        let world = self.ports.directory.snapshot(actor, Resource::Service).await?;
        if world.scope(actor, Action::OrganisationManageRelationships).is_nothing() {
            return Err(ManageError::NotFound);
        }
        let Some(search) = crate::query::Search::parse(term) else { return Ok(Vec::new()) };
        let public =
            tenure_domain::Scope { actor, everything: true, organisations: Vec::new(), own: false };
        let query = crate::query::OrganisationQuery { search: Some(search), active: Some(true) };
        let found =
            self.ports.directory.organisations(&public, &query, Page::numbered(1, 10)).await?;
        Ok(found.into_iter().map(|o| (o.id, o.name)).collect())
    }

    /// The pending relationship requests with this organisation at either end, for those
    /// who manage its relationships.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] or [`ManageError::Forbidden`] as the engine decides.
    pub async fn relationship_requests(
        &self,
        actor: UserId,
        organisation: OrgId,
    ) -> Result<Vec<RelationshipRequest>, ManageError> {
        let resource = Resource::Organisation(organisation);
        let world = self.ports.directory.snapshot(actor, resource).await?;
        self.require(
            &world,
            Request::new(actor, Action::OrganisationManageRelationships, resource),
        )
        .await?;
        Ok(self.ports.changes.relationship_requests(organisation).await?)
    }

    /// Emails the people who manage `to`'s relationships (the engine says who) about a
    /// step another organisation took.
    async fn notify_relationship(
        &self,
        world: &World,
        to: &Organisation,
        ends: &[Organisation],
        rel: Relationship,
        effect: RelationshipEffect,
    ) -> Result<(), BackendError> {
        let scope = tenure_domain::Scope {
            actor: UserId::from_uuid(uuid::Uuid::nil()),
            everything: false,
            organisations: vec![to.id],
            own: false,
        };
        let members = self
            .ports
            .directory
            .users(&scope, &crate::query::UserQuery::default(), Page::numbered(1, Page::MAX_LIMIT))
            .await?;
        let mut local = World::with_roles(world.roles().clone());
        local.insert_organisation(to.clone()).map_err(BackendError::new)?;
        let name = |id: OrgId| {
            ends.iter().find(|o| o.id == id).map_or_else(String::new, |o| o.name.to_string())
        };
        let (owner, agent) = (name(rel.stock_owner), name(rel.managing_agent));
        let what = format!("{owner} as a stock owner of {agent}");
        let sentence = match effect {
            RelationshipEffect::Added => format!("An administrator added {what}."),
            RelationshipEffect::Requested { by } => format!(
                "{} asked to add {what}. It takes effect only if a data coordinator of {} accepts it.",
                name(by),
                to.name
            ),
            RelationshipEffect::Accepted { .. } => {
                format!("The request to add {what} was accepted. It is in effect now.")
            }
            RelationshipEffect::Declined { .. } => {
                format!("The request to add {what} was declined.")
            }
            RelationshipEffect::Withdrawn { .. } => {
                format!("The request to add {what} was withdrawn.")
            }
            RelationshipEffect::Removed => format!("The relationship of {what} was removed."),
        };
        let url = format!(
            "{}/organisations/{}/relationships",
            self.policy.base_url.trim_end_matches('/'),
            to.id
        );
        for user in members {
            // Users whose roles this world does not hold (custom roles) are not told.
            if !user.active || local.upsert_user(user.clone()).is_err() {
                continue;
            }
            let may = local.decide(&Request::new(
                user.id,
                Action::OrganisationManageRelationships,
                Resource::Organisation(to.id),
            ));
            if !may.is_allowed() {
                continue;
            }
            let message = mail::message(
                user.email.clone(),
                "A change to your organisation's relationships",
                &[
                    Block::Text(format!("Hello {}, {sentence}", user.name)),
                    Block::Text(format!("See {}'s stock owners and managing agents:", to.name)),
                    Block::Link(url.clone()),
                ],
            );
            self.ports.mailer.send(message).await?;
        }
        Ok(())
    }

    fn relationship_event(
        &self,
        name: AuditName,
        actor: UserId,
        rel: Relationship,
    ) -> Vec<AuditEvent> {
        let detail = format!(
            r#"{{"stock_owner":"{}","managing_agent":"{}"}}"#,
            rel.stock_owner, rel.managing_agent
        );
        vec![
            self.event(name, Some(actor), None, Some(rel.stock_owner), detail.clone()),
            self.event(name, Some(actor), None, Some(rel.managing_agent), detail),
        ]
    }

    /// One page of the audit trail, newest first. It names every user and organisation,
    /// so it is for those who may list them all (`user.list_all` and
    /// `organisation.list_all`: administrators). The policy file format's action list is
    /// a public interface, so the trail reuses those two rather than adding an action.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for anyone else.
    pub async fn audit(
        &self,
        actor: UserId,
        query: &AuditQuery,
        page: Page,
    ) -> Result<Vec<AuditEvent>, ManageError> {
        let world = self.ports.directory.snapshot(actor, Resource::Service).await?;
        let may =
            |action| world.decide(&Request::new(actor, action, Resource::Service)).is_allowed();
        if !may(Action::UserListAll) || !may(Action::OrganisationListAll) {
            return Err(ManageError::NotFound);
        }
        Ok(self.ports.changes.audit(query, page).await?)
    }
}

/// The accounts created from the command line, before anyone can invite.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum First {
    /// CORE's first administrator.
    Administrator,
    /// Corterum's root administrator (one per account, with a username and company).
    RootAdministrator,
}

impl First {
    /// The role it is given when it accepts, and the role's key for the audit trail.
    fn role(self) -> (RoleId, &'static str) {
        match self {
            Self::Administrator => (builtin::ADMINISTRATOR, "administrator"),
            Self::RootAdministrator => (builtin::ROOT_ADMINISTRATOR, "root_administrator"),
        }
    }

    /// Why a second one is refused.
    fn taken(self) -> &'static str {
        match self {
            Self::Administrator => {
                "an administrator already exists or has been invited; ask them to invite you"
            }
            Self::RootAdministrator => {
                "the root administrator already exists or has been invited; there is one per account"
            }
        }
    }
}

fn organisation_json(o: &Organisation) -> String {
    let opt = |s: Option<&str>| s.map_or_else(|| "null".to_owned(), json);
    format!(
        r#"{{"name":{},"address":{},"telephone":{},"provider_type":"{}","registration_number":{},"holds_stock":{},"active":{}}}"#,
        json(o.name.as_str()),
        opt(o.address.as_deref()),
        opt(o.telephone.as_ref().map(Telephone::as_str)),
        match o.provider_type {
            ProviderType::LocalAuthority => "local_authority",
            ProviderType::PrivateRegisteredProvider => "private_registered_provider",
        },
        opt(o.registration_number.as_deref()),
        o.holds_stock,
        o.active
    )
}

#[cfg(test)]
mod tests {
    use super::json;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_line_breaks() {
        assert_eq!(json("a\"b\\c\nd\re"), r#""a\"b\\c\u000ad\u000de""#);
    }
}
