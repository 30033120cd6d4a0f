//! The base every use case stands on: ports for audit entries and the engine's refusals,
//! and the errors services answer with. `Manage` and `Corterum` each hold one, so an
//! audit entry and a refusal are made the same way everywhere.

use std::sync::Arc;

use tenure_domain::{
    Decision, DenyReason, OrgId, PasswordError, RelationshipError, Request, Resource, UserId, World,
};
use thiserror::Error;

use crate::audit::{AuditDetail, AuditEvent, AuditName, Outcome, Refusal};
use crate::changes::{ChangeError, ChangeStore};
use crate::error::BackendError;
use crate::ports::{Clock, IdGen, Timestamp};

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
    /// The actor may see the record but not do this: the engine's reason.
    #[error("{0}")]
    Forbidden(Denial),
    /// The record is not in a state this change applies to (no open invitation, say).
    #[error("{0}")]
    State(StateError),
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
    /// Done too many times in a short while (a rate limit): nothing was done.
    #[error(
        "you have done this too many times in a short while; try again in {retry_after_secs} seconds"
    )]
    TooMany {
        /// Seconds until it may be done again.
        retry_after_secs: u64,
    },
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
            ChangeError::Duplicate => Self::State(StateError::Duplicate),
            ChangeError::LinkUnusable => Self::LinkInvalid,
            ChangeError::UsernameInUse => Self::Invalid(vec![FieldError {
                field: "username",
                message: "this username is already used by another user".to_owned(),
            }]),
            ChangeError::OrganisationNameInUse => Self::Invalid(vec![FieldError {
                field: "name",
                message: "another organisation already has this name; choose another".to_owned(),
            }]),
            ChangeError::Backend(e) => Self::Backend(e),
        }
    }
}

/// The engine's refusal of a request the actor may see: its reason, and the sentence
/// that explains it with the names the world held when it was decided.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Denial {
    reason: DenyReason,
    sentence: String,
}

impl Denial {
    /// The engine's reason, to match on.
    #[must_use]
    pub const fn reason(&self) -> DenyReason {
        self.reason
    }

    /// The reason as a sentence for people, capitalised ("Role `Administrator` ranks above
    /// every role you hold", say).
    #[must_use]
    pub fn sentence(&self) -> &str {
        &self.sentence
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sentence)
    }
}

/// A change that does not apply to the record as it stands. Not a permission: the same
/// answer for everyone who may see the record.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Error)]
pub enum StateError {
    /// The record to create exists already.
    #[error("this already exists")]
    Duplicate,
    /// The user accepted their invitation: there is none to send again.
    #[error("this user has already accepted their invitation")]
    AlreadyAccepted,
    /// The user has no open invitation to withdraw.
    #[error("this user has no open invitation")]
    NoOpenInvitation,
    /// A deactivated user to reactivate holds no role to give back.
    #[error("this user has no role to give back")]
    NoRoleToGiveBack,
    /// The first administrator exists or has been invited.
    #[error("an administrator already exists or has been invited; ask them to invite you")]
    AdministratorExists,
    /// The root administrator exists or has been invited.
    #[error("the root administrator already exists or has been invited; there is one per account")]
    RootAdministratorExists,
    /// The change needs a sign-in (or code) within the last 15 minutes
    /// ([`crate::Sessions::is_recent`]): the person proves who they are again first.
    #[error("confirm it is you first: you signed in more than 15 minutes ago")]
    SignInNotRecent,
}

/// What a use case needs to record what it did and what it refused.
#[derive(Clone)]
pub(crate) struct Base {
    /// Where audit entries (and refusals) are written.
    pub(crate) changes: Arc<dyn ChangeStore>,
    /// Now.
    pub(crate) clock: Arc<dyn Clock>,
    /// Ids for audit entries.
    pub(crate) ids: Arc<dyn IdGen>,
}

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Base").finish_non_exhaustive()
    }
}

impl Base {
    /// Now, from the clock port.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A successful audit entry.
    pub(crate) fn event(
        &self,
        name: AuditName,
        actor: Option<UserId>,
        target: Option<UserId>,
        org: Option<OrgId>,
        detail: AuditDetail,
    ) -> AuditEvent {
        AuditEvent {
            id: self.ids.next_id(),
            at: self.now(),
            actor,
            name,
            outcome: Outcome::Success,
            target_user: target,
            organisation: org,
            detail,
            origin: None,
        }
    }

    /// Asks the engine; a denial is audited and mapped to "not found" or "forbidden".
    pub(crate) async fn require(&self, world: &World, request: Request) -> Result<(), ManageError> {
        let decision = world.decide(&request);
        if decision.is_allowed() {
            return Ok(());
        }
        Err(self.refuse(world, request, decision).await)
    }

    /// Audits a denial of `request` and maps it to "not found" or "forbidden".
    pub(crate) async fn refuse(
        &self,
        world: &World,
        request: Request,
        decision: Decision,
    ) -> ManageError {
        let (error, event) = self.denial(world, request, decision);
        let Some(event) = event else { return error };
        if let Err(e) = self.changes.apply(Vec::new(), vec![*event]).await {
            return e.into();
        }
        error
    }

    /// The engine's answer to `request` without writing: `Ok` when allowed, otherwise
    /// the error [`Base::refuse`] answers and the audit entry it writes (a batch writes
    /// it in its chunk).
    pub(crate) fn check(
        &self,
        world: &World,
        request: Request,
    ) -> Result<(), (ManageError, Option<Box<AuditEvent>>)> {
        let decision = world.decide(&request);
        if decision.is_allowed() {
            return Ok(());
        }
        Err(self.denial(world, request, decision))
    }

    /// A denial of `request` as "not found" or "forbidden", with its audit entry (none
    /// for a decision that was not a denial).
    fn denial(
        &self,
        world: &World,
        request: Request,
        decision: Decision,
    ) -> (ManageError, Option<Box<AuditEvent>>) {
        let Decision::Deny { conceal, reason } = decision else {
            return (
                ManageError::Backend(BackendError::new("an allowed decision was refused")),
                None,
            );
        };
        let why = reason.explain(world).to_string();
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
            AuditDetail::Refusal(Refusal {
                action: request.action.as_str().to_owned(),
                reason: why.clone(),
            }),
        );
        event.outcome = Outcome::Failure;
        if conceal {
            return (ManageError::NotFound, Some(Box::new(event)));
        }
        let mut chars = why.chars();
        let sentence =
            chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect());
        (ManageError::Forbidden(Denial { reason, sentence }), Some(Box::new(event)))
    }
}
