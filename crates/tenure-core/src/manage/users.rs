//! Changing a user: details, email address (a credential), role and flags, moving them
//! to another organisation, deactivating, reactivating and deleting them.

use tenure_domain::role::builtin;
use tenure_domain::{
    Action, Email, Name, OrgId, Request, Resource, RoleId, Telephone, User, UserId,
};

use crate::audit::{
    AuditDetail, AuditName, Change, FailureReason, FieldsChange, Lock, Outcome, RoleChange,
    SignInFailure, UserMove,
};
use crate::changes::{Link, LinkPurpose, Write};
use crate::error::BackendError;
use crate::manage::{Edited, EmailConfirmed, Manage, UserChanges, optional, required};
use crate::notification::{self, ChangedBy, Notification};
use crate::ports::{Timestamp, Verified};
use crate::usecase::{FieldError, ManageError, StateError};

impl Manage {
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
        self.base
            .require(&world, Request::new(actor, Action::UserView, Resource::User(id)))
            .await?;
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
            self.base
                .require(&world, Request::new(actor, Action::UserEditDetails, resource))
                .await?;
        }
        if new_email.is_some() {
            // The address is a credential: its own action, which the engine allows to the
            // person and to those who strictly outrank them.
            self.base
                .require(&world, Request::new(actor, Action::UserChangeEmail, resource))
                .await?;
        }
        let mut audit = Vec::new();
        let mut role_detail = RoleChange::default();
        if let Some(role) = changes.role.filter(|r| !next.roles.contains(r)) {
            self.base
                .require(&world, Request::new(actor, Action::UserChangeRole, resource).giving(role))
                .await?;
            let key = |r: &RoleId| world.roles().get(*r).map_or("", |r| r.key.as_str()).to_owned();
            let before: Vec<_> = next.roles.iter().map(key).collect();
            role_detail.role = Some(Change { before: before.join(","), after: key(&role) });
            next.roles = vec![role];
        }
        let flags = [
            (
                &mut role_detail.data_protection_officer,
                changes.data_protection_officer,
                next.data_protection_officer,
            ),
            (&mut role_detail.key_contact, changes.key_contact, next.key_contact),
        ];
        for (detail, wanted, before) in flags {
            if let Some(after) = wanted.filter(|w| *w != before) {
                self.base
                    .require(&world, Request::new(actor, Action::UserSetFlags, resource))
                    .await?;
                *detail = Some(Change { before, after });
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
            audit.push(self.base.event(
                AuditName::UserUpdate,
                Some(actor),
                Some(id),
                org_id,
                AuditDetail::FieldsChange(FieldsChange {
                    fields: fields.iter().map(|f| (*f).to_owned()).collect(),
                }),
            ));
        }
        if role_detail != RoleChange::default() {
            audit.push(self.base.event(
                AuditName::RoleChange,
                Some(actor),
                Some(id),
                org_id,
                AuditDetail::RoleChange(role_detail),
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
            audit.push(self.base.event(
                AuditName::EmailChangeRequest,
                Some(actor),
                Some(id),
                org_id,
                AuditDetail::Empty,
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
        let sent = confirmation.is_some();
        if let Some((link, plain)) = confirmation {
            let by = if actor == id {
                ChangedBy::Themselves
            } else {
                ChangedBy::Other(world.user(actor).map(|u| u.name.clone()))
            };
            writes.extend(self.email_change_mail(&next, &link, &plain, by));
        }
        self.commit(writes, audit).await?;
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
        let now = self.base.now();
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
        let reason =
            if locked { FailureReason::Locked } else { FailureReason::WrongCurrentPassword };
        let mut event = self.base.event(
            AuditName::LoginFail,
            Some(user),
            Some(user),
            Some(org),
            AuditDetail::SignInFailure(SignInFailure { reason }),
        );
        event.outcome = Outcome::Failure;
        // Attempts while locked are not counted, as for signing in.
        let mut writes = Vec::new();
        if !locked {
            let until = Timestamp(now.0.saturating_add(self.policy.lockout.lock_for_ms));
            let lock = self.base.event(
                AuditName::LoginLock,
                Some(user),
                Some(user),
                Some(org),
                AuditDetail::Lock(Lock { until: until.0 }),
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

    /// The writes that queue the confirmation link to the new address and the notice to
    /// the current one.
    fn email_change_mail(
        &self,
        user: &User,
        link: &Link,
        plain: &str,
        by: ChangedBy,
    ) -> [Write; 2] {
        let url = notification::link(&self.policy.base_url, "/account/confirm-email", plain);
        let confirm = Notification::EmailConfirmation {
            to: link.email.clone(),
            name: user.name.clone(),
            url,
        };
        let notice = Notification::EmailChangeRequested {
            to: user.email.clone(),
            name: user.name.clone(),
            new: link.email.clone(),
            by,
        };
        [self.queue(confirm), self.queue(notice)]
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
        self.base
            .require(&world, Request::new(by, Action::UserChangeEmail, Resource::User(id)))
            .await?;
        self.email_free(&link.email, Some(id)).await?;
        let mut next = user.value.clone();
        next.email = link.email.clone();
        let audit = self.base.event(
            AuditName::EmailChange,
            Some(by),
            Some(id),
            Some(user.value.organisation),
            AuditDetail::Empty,
        );
        let by_themselves = by == id;
        let changed_by = if by_themselves {
            ChangedBy::Themselves
        } else {
            ChangedBy::Other(world.user(by).map(|u| u.name.clone()))
        };
        let notice = Notification::EmailChanged {
            to: user.value.email.clone(),
            name: user.value.name.clone(),
            new: link.email.clone(),
            by: changed_by,
        };
        self.commit(
            vec![
                Write::ConsumeLink {
                    digest,
                    purpose: LinkPurpose::EmailChange,
                    now: self.base.now(),
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
                self.queue(notice),
            ],
            vec![audit],
        )
        .await?;
        Ok(EmailConfirmed { user: id, by_themselves })
    }

    /// Moves a user to another organisation the actor may invite into with the user's
    /// roles: CORE's move, decided as one by [`tenure_domain::decide_move`] (a housing
    /// user into an active housing organisation; a company, or a company's user, is "not
    /// found").
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
        // The engine decides on the user's snapshot holding `to` if it exists (as a merge
        // does), so a missing `to` is answered as the engine answers it: the move and the
        // destination in one decision, never two questions on two worlds.
        let target = self.ports.changes.organisation(to).await?;
        let mut world = self.ports.directory.snapshot(actor, Resource::User(id)).await?;
        if let Some(t) = target.as_ref().filter(|t| world.organisation(t.value.id).is_none()) {
            world.insert_organisation(t.value.clone()).map_err(BackendError::new)?;
        }
        let decision = tenure_domain::decide_move(&world, actor, id, to);
        if !decision.is_allowed() {
            let request = Request::new(actor, Action::UserMoveOrganisation, Resource::User(id));
            return Err(self.base.refuse(&world, request, decision).await);
        }
        let target = target.ok_or(ManageError::NotFound)?;
        if to == from.value.id {
            return Ok(());
        }
        let mut next = user.value.clone();
        next.organisation = to;
        let audit = self.base.event(
            AuditName::UserMove,
            Some(actor),
            Some(id),
            Some(from.value.id),
            AuditDetail::UserMove(UserMove { from: from.value.id.to_string(), to: to.to_string() }),
        );
        let notice = Notification::OrganisationChanged {
            to: user.value.email.clone(),
            name: user.value.name.clone(),
            from: from.value.name.clone(),
            into: target.value.name.clone(),
        };
        self.commit(
            vec![
                Write::TouchOrganisation { id: from.value.id, version: from.version },
                Write::TouchOrganisation { id: to, version: target.version },
                Write::UpdateUser { user: next, version },
                self.queue(notice),
            ],
            vec![audit],
        )
        .await?;
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

    /// Reactivates a user: their account is active again with no password and no role
    /// in force, and a fresh link lets them set a password and gives their role back
    /// (every role a Corterum account held: they stay on it, in force from acceptance).
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
        self.base.require(&world, Request::new(actor, action, Resource::User(id))).await?;
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
                let audit = self.base.event(
                    AuditName::UserDeactivate,
                    Some(actor),
                    Some(id),
                    org_id,
                    AuditDetail::Empty,
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
                let role = user
                    .value
                    .roles
                    .first()
                    .copied()
                    .ok_or_else(|| ManageError::State(StateError::NoRoleToGiveBack))?;
                let mut next = user.value.clone();
                next.active = true;
                // A CORE user holds one role, given back by the link. A Corterum account
                // keeps every role it held (in force only once the link is accepted, as
                // for its invitation), so none is lost: the link gives nothing itself.
                let corterum = next.roles.iter().all(|r| builtin::held_before_acceptance(*r));
                let given = if corterum { None } else { Some(role) };
                if !corterum {
                    next.roles = Vec::new();
                }
                let (link, plain) = self.new_link(
                    LinkPurpose::Reactivation,
                    &next,
                    given,
                    next.email.clone(),
                    Some(actor),
                    self.policy.invitation_lifetime_ms,
                )?;
                let audit = self.base.event(
                    AuditName::UserReactivate,
                    Some(actor),
                    Some(id),
                    org_id,
                    AuditDetail::Empty,
                );
                let mail = self.invitation_mail(&link, &plain, &next.name, &org.value.name);
                self.commit(
                    vec![
                        touch,
                        Write::UpdateUser { user: next.clone(), version },
                        Write::SetPassword { user: id, hash: None },
                        Write::RevokeLinks { user: id, purposes: all_links },
                        Write::IssueLink(link),
                        mail,
                    ],
                    vec![audit],
                )
                .await?;
            }
            _ => {
                let audit = self.base.event(
                    AuditName::UserDelete,
                    Some(actor),
                    Some(id),
                    org_id,
                    AuditDetail::Empty,
                );
                self.ports
                    .changes
                    .apply(vec![touch, Write::DeleteUser { id, version }], vec![audit])
                    .await?;
            }
        }
        Ok(())
    }
}
