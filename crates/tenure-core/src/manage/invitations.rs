//! Invitations: inviting a person, creating a Corterum account and the first accounts
//! from the command line, accepting, resending and withdrawing, and where an account stands.

use tenure_domain::role::builtin;
use tenure_domain::{
    Action, Email, Name, OrgId, Organisation, Request, Resource, RoleId, User, UserId,
};

use crate::audit::{self, AccountCreate, AuditDetail, AuditName, LinkUse, OrganisationCreate};
use crate::changes::{Link, LinkPurpose, LinkState, Write};
use crate::error::BackendError;
use crate::limits::LimitKind;
use crate::manage::{AccountStatus, InvitationView, Invite, Manage, PersonInput, required};
use crate::notification::{self, Notification};
use crate::ports::Timestamp;
use crate::usecase::{FieldError, ManageError, StateError};

impl Manage {
    /// A fresh link for `user`, with the email that carries it.
    #[allow(clippy::too_many_arguments, reason = "a link has this many parts")]
    pub(super) fn new_link(
        &self,
        purpose: LinkPurpose,
        user: &User,
        role: Option<RoleId>,
        email: Email,
        issued_by: Option<UserId>,
        lifetime_ms: i64,
    ) -> Result<(Link, String), BackendError> {
        let token = self.ports.secrets.token()?;
        let now = self.base.now();
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

    /// The write that queues the invitation (or reactivation) email carrying `link`.
    pub(super) fn invitation_mail(
        &self,
        link: &Link,
        plain: &str,
        name: &Name,
        organisation: &Name,
    ) -> Write {
        let url = notification::link(&self.policy.base_url, "/account/create", plain);
        let valid_days = self.policy.invitation_lifetime_ms / (24 * 60 * 60 * 1000);
        let (to, name, organisation) = (link.email.clone(), name.clone(), organisation.clone());
        let message = match link.purpose {
            LinkPurpose::Reactivation => {
                Notification::Reactivation { to, name, organisation, url, valid_days }
            }
            _ => Notification::Invitation { to, name, organisation, url, valid_days },
        };
        self.queue(message)
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
        self.base
            .require(
                &world,
                Request::new(actor, Action::UserInvite, Resource::Organisation(org.value.id))
                    .giving(invite.role),
            )
            .await?;
        self.email_free(&email, None).await?;
        self.within_limit(LimitKind::InvitationAccount, actor).await?;
        let (user, writes, audit) =
            self.invitation_writes(&world, actor, &org, invite.role, (name, email, telephone))?;
        self.commit(writes, audit).await?;
        Ok(user.id)
    }

    /// What inviting a person writes once the engine allowed it and the address is free:
    /// the user (no password, no role yet), the link, the touch of the organisation's
    /// version, the invitation email (not sealed yet) and the audit entry. The web's
    /// [`Manage::invite`] and a batch import's chunks write the same.
    pub(crate) fn invitation_writes(
        &self,
        world: &tenure_domain::World,
        actor: UserId,
        org: &crate::changes::Versioned<Organisation>,
        role: RoleId,
        (name, email, telephone): (Name, Email, Option<tenure_domain::Telephone>),
    ) -> Result<(User, Vec<Write>, Vec<crate::audit::AuditEvent>), BackendError> {
        let id = UserId::from_uuid(self.ports.ids.next_id());
        let mut user = User::new(id, name, email.clone(), org.value.id, Vec::new());
        user.telephone = telephone;
        let (link, plain) = self.new_link(
            LinkPurpose::Invitation,
            &user,
            Some(role),
            email,
            Some(actor),
            self.policy.invitation_lifetime_ms,
        )?;
        let role_key = world.roles().get(role).map_or("", |r| r.key.as_str());
        let audit = self.base.event(
            AuditName::InviteSend,
            Some(actor),
            Some(id),
            Some(org.value.id),
            AuditDetail::Invite(audit::Invite {
                role: Some(role_key.to_owned()),
                ..audit::Invite::default()
            }),
        );
        let mail = self.invitation_mail(&link, &plain, &user.name, &org.value.name);
        let writes = vec![
            Write::TouchOrganisation { id: org.value.id, version: org.version },
            Write::InsertUser(user.clone()),
            Write::IssueLink(link),
            mail,
        ];
        Ok((user, writes, vec![audit]))
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
        self.within_limit(LimitKind::InvitationAccount, actor).await?;
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
            self.base.event(
                AuditName::UserLinksSave,
                Some(actor),
                Some(id),
                Some(org.value.id),
                AuditDetail::AccountCreate(AccountCreate {
                    username: username.clone(),
                    roles: input.roles.len(),
                    companies: input.companies.len(),
                }),
            ),
            self.base.event(
                AuditName::InviteSend,
                Some(actor),
                Some(id),
                Some(org.value.id),
                AuditDetail::Invite(audit::Invite::default()),
            ),
        ];
        let mail = self.invitation_mail(&link, &plain, &user.name, &org.value.name);
        self.commit(
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
                Write::IssueLink(link),
                mail,
            ],
            audit,
        )
        .await?;
        Ok(id)
    }

    /// Creates the first administrator (from the command line), in an organisation
    /// found or created by name, and emails them an invitation. Refused once anyone
    /// holds the administrator role.
    ///
    /// # Errors
    /// [`ManageError::State`] if an administrator exists; [`ManageError::Invalid`]
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
                let audit = self.base.event(
                    AuditName::InviteSend,
                    None,
                    Some(existing.value.id),
                    Some(org.value.id),
                    AuditDetail::Invite(audit::Invite {
                        role: Some(role_key.to_owned()),
                        first: true,
                        resend: true,
                    }),
                );
                let mail =
                    self.invitation_mail(&link, &plain, &existing.value.name, &org.value.name);
                self.commit(vec![Write::IssueLink(link), mail], vec![audit]).await?;
                return Ok(existing.value.id);
            }
        }
        if self.ports.changes.anyone_holds(role).await? {
            return Err(ManageError::State(first.taken()));
        }
        let mut errors = Vec::new();
        let org_name = required(organisation, "organisation", Name::parse, &mut errors);
        let Some(org_name) = org_name else { return Err(ManageError::Invalid(errors)) };
        self.email_free(&email, None).await?;
        let mut writes = Vec::new();
        let mut audit = Vec::new();
        // Corterum's root administrator works in a company, CORE's first administrator
        // in a housing organisation: the sides stay apart.
        let kind = match first {
            First::Administrator => tenure_domain::OrganisationKind::Housing,
            First::RootAdministrator => tenure_domain::OrganisationKind::Company,
        };
        let org = match self.ports.changes.organisation_by_name(org_name.as_str()).await? {
            Some(o) if o.value.kind == kind => o.value,
            Some(_) => {
                let field = if kind == tenure_domain::OrganisationKind::Company {
                    "company"
                } else {
                    "organisation"
                };
                return Err(ManageError::Invalid(vec![crate::usecase::FieldError {
                    field,
                    message: "an organisation on the other side of the service (CORE or \
                              Corterum) has this name; choose another"
                        .to_owned(),
                }]));
            }
            None => {
                let id = OrgId::from_uuid(self.ports.ids.next_id());
                let org = Organisation { kind, ..Organisation::new(id, org_name) };
                writes.push(Write::InsertOrganisation(org.clone()));
                audit.push(self.base.event(
                    AuditName::OrganisationCreate,
                    None,
                    None,
                    Some(org.id),
                    AuditDetail::OrganisationCreate(OrganisationCreate {
                        name: org.name.to_string(),
                    }),
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
        writes.push(self.invitation_mail(&link, &plain, &user.name, &org.name));
        writes.push(Write::IssueLink(link));
        if first == First::RootAdministrator {
            writes.push(Write::SetUserLinks {
                user: id,
                links: tenure_domain::UserLinks { entity: None, companies: vec![org.id] },
                username: email.to_string(),
            });
        }
        audit.push(self.base.event(
            AuditName::InviteSend,
            None,
            Some(id),
            Some(org.id),
            AuditDetail::Invite(audit::Invite {
                role: Some(role_key.to_owned()),
                first: true,
                resend: false,
            }),
        ));
        self.commit(writes, audit).await?;
        Ok(id)
    }

    pub(super) async fn usable_link(
        &self,
        token: &str,
        purposes: &[LinkPurpose],
    ) -> Result<(Link, String), ManageError> {
        let digest = self.ports.secrets.digest(token);
        match self.ports.changes.link(&digest).await? {
            Some(link) if purposes.contains(&link.purpose) && link.usable(self.base.now()) => {
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
        let audit = self.base.event(
            AuditName::InviteAccept,
            Some(user.value.id),
            Some(user.value.id),
            Some(org.value.id),
            AuditDetail::LinkUse(LinkUse { purpose: link.purpose.as_str().to_owned() }),
        );
        self.ports
            .changes
            .apply(
                vec![
                    Write::ConsumeLink { digest, purpose: link.purpose, now: self.base.now() },
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
    pub(super) async fn open_invitation(&self, user: UserId) -> Result<Option<Link>, BackendError> {
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
            Some(l) => AccountStatus::Invited { expired: !l.usable(self.base.now()) },
        })
    }

    /// Where a user's account stands ([`Manage::status`]) in their organisation as
    /// stored, of either side: for a page that already showed the actor may view the user
    /// and has not their organisation at hand (Corterum's account page: a company, which
    /// CORE's organisation reads leave out).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures, the user's organisation missing
    /// included.
    pub async fn account_status(&self, user: &User) -> Result<AccountStatus, BackendError> {
        let Some(organisation) = self.ports.changes.organisation(user.organisation).await? else {
            return Err(BackendError::new("a user's organisation is missing"));
        };
        self.status(user, &organisation.value).await
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
    /// [`ManageError::State`] if the user has no open invitation;
    /// [`ManageError::Forbidden`] if the actor may not give its roles, or the user is
    /// deactivated ([`tenure_domain::decide_invitation`]);
    /// [`ManageError::NotFound`].
    pub async fn resend_invitation(&self, actor: UserId, id: UserId) -> Result<(), ManageError> {
        let user = self.user(id).await?;
        let org = self.org(user.value.organisation).await?;
        let world = self.ports.directory.snapshot(actor, Resource::User(id)).await?;
        self.base
            .require(&world, Request::new(actor, Action::UserView, Resource::User(id)))
            .await?;
        let Some(open) = self.open_invitation(id).await? else {
            return Err(ManageError::State(StateError::AlreadyAccepted));
        };
        let roles = Self::invitation_roles(&open, &user.value);
        let requests = Self::sending(actor, org.value.id, &roles).ok_or(ManageError::NotFound)?;
        for request in requests {
            // The engine's one decision for it: the user seen, still active, and the role
            // one the actor could send now.
            let decision =
                tenure_domain::decide_invitation(&world, actor, id, request.role.as_slice());
            if !decision.is_allowed() {
                return Err(self.base.refuse(&world, request, decision).await);
            }
        }
        self.within_limit(LimitKind::InvitationAccount, actor).await?;
        let (link, plain) = self.new_link(
            open.purpose,
            &user.value,
            open.role,
            user.value.email.clone(),
            Some(actor),
            self.policy.invitation_lifetime_ms,
        )?;
        let audit = self.base.event(
            AuditName::InviteSend,
            Some(actor),
            Some(id),
            Some(org.value.id),
            AuditDetail::Invite(audit::Invite { role: None, first: false, resend: true }),
        );
        let mail = self.invitation_mail(&link, &plain, &user.value.name, &org.value.name);
        self.commit(vec![Write::IssueLink(link), mail], vec![audit]).await?;
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
        self.base
            .require(&world, Request::new(actor, Action::UserView, Resource::User(id)))
            .await?;
        let Some(open) = self.open_invitation(id).await? else {
            return Err(ManageError::State(StateError::NoOpenInvitation));
        };
        let org = user.value.organisation;
        let roles = Self::invitation_roles(&open, &user.value);
        let requests = Self::sending(actor, org, &roles).ok_or(ManageError::NotFound)?;
        for request in requests {
            // The engine's one decision for it: the user seen, still active, and the role
            // one the actor could send now.
            let decision =
                tenure_domain::decide_invitation(&world, actor, id, request.role.as_slice());
            if !decision.is_allowed() {
                return Err(self.base.refuse(&world, request, decision).await);
            }
        }
        let audit = self.base.event(
            AuditName::InviteRevoke,
            Some(actor),
            Some(id),
            Some(org),
            AuditDetail::Empty,
        );
        let revoke = Write::RevokeLinks {
            user: id,
            purposes: vec![LinkPurpose::Invitation, LinkPurpose::Reactivation],
        };
        self.ports.changes.apply(vec![revoke], vec![audit]).await?;
        Ok(())
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
    const fn taken(self) -> StateError {
        match self {
            Self::Administrator => StateError::AdministratorExists,
            Self::RootAdministrator => StateError::RootAdministratorExists,
        }
    }
}
