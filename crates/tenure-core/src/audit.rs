//! Audit events: who did what to whom, when, and how it ended. Stored append-only, in the
//! same transaction as the change they describe. Names follow the OWASP logging
//! vocabulary. Never holds a password, token or hash.

mod detail;

use std::net::IpAddr;

use tenure_domain::{OrgId, UserId};
use uuid::Uuid;

pub use self::detail::{
    AccountChange, AccountCreate, AuditDetail, Change, DemoSeed, EntityDetail, EntitySave,
    FailureReason, FieldsChange, GroupSave, InstanceSave, Invite, LinkUse, Lock, LogDetail,
    MergedFrom, MergedInto, OrganisationCreate, OrganisationDetail, Refusal, RelationshipDetail,
    RoleChange, RoleSave, SessionsEnd, SignInFailure, Stored, UserMove,
};
use crate::ports::Timestamp;

/// What happened.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AuditName {
    /// A successful sign-in.
    LoginSuccess,
    /// A failed sign-in (unknown email, wrong password, locked, deactivated).
    LoginFail,
    /// An account locked after repeated failures.
    LoginLock,
    /// A password set or changed.
    PasswordChange,
    /// A password reset asked for (an email with a link was sent).
    ResetRequest,
    /// A password reset with a link.
    ResetComplete,
    /// An invitation (or a reactivation link) sent.
    InviteSend,
    /// An invitation accepted: password set, role given.
    InviteAccept,
    /// An invitation withdrawn.
    InviteRevoke,
    /// A user's personal details changed (field names only, no values: they are personal data).
    UserUpdate,
    /// A user's role or flags changed (before and after).
    RoleChange,
    /// A new email address waiting for confirmation.
    EmailChangeRequest,
    /// A new email address confirmed.
    EmailChange,
    /// A user moved to another organisation.
    UserMove,
    /// A user deactivated.
    UserDeactivate,
    /// A user reactivated (a fresh invitation sent).
    UserReactivate,
    /// A user's account and personal data deleted.
    UserDelete,
    /// An organisation created.
    OrganisationCreate,
    /// An organisation's details changed (before and after).
    OrganisationUpdate,
    /// An organisation deactivated.
    OrganisationDeactivate,
    /// An organisation reactivated.
    OrganisationReactivate,
    /// An organisation merged into another.
    OrganisationMerge,
    /// A stock owner -> managing agent relationship added.
    RelationshipAdd,
    /// A relationship removed.
    RelationshipRemove,
    /// A relationship asked for by one end, waiting for the other.
    RelationshipRequest,
    /// A pending relationship request accepted by the other end: in effect now.
    RelationshipAccept,
    /// A pending relationship request declined by the other end.
    RelationshipDecline,
    /// A pending relationship request withdrawn by the end that asked.
    RelationshipWithdraw,
    /// A log deleted (what it was is in the entry's detail).
    LogDelete,
    /// A session started (after a sign-in).
    SessionCreate,
    /// Sessions ended (sign out, deactivation, password change).
    SessionRevoke,
    /// A request refused by the permission engine.
    AuthzFail,
    /// Corterum: an entity created or changed (before and after).
    EntitySave,
    /// Corterum: a group created or changed.
    GroupSave,
    /// Corterum: a role created or changed.
    RoleSave,
    /// Corterum: a user created, or their username, entity, roles or companies changed.
    UserLinksSave,
    /// Corterum: a new version of a dataset instance (what changed; values stay in the
    /// version history).
    InstanceSave,
    /// A second factor (an authenticator app) set up, with its recovery codes.
    SecondFactorSetUp,
    /// A second step of signing in passed (a code or a recovery code).
    SecondFactorPass,
    /// A recovery code used (which one is not recorded).
    RecoveryCodeUse,
    /// A fresh set of recovery codes made, the old set no longer working.
    RecoveryCodesReplace,
    /// A second factor removed, by its holder or an administrator (the actor says who).
    SecondFactorRemove,
}

impl AuditName {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LoginSuccess => "authn_login_success",
            Self::LoginFail => "authn_login_fail",
            Self::LoginLock => "authn_login_lock",
            Self::PasswordChange => "authn_password_change",
            Self::ResetRequest => "authn_reset_request",
            Self::ResetComplete => "authn_reset_complete",
            Self::InviteSend => "user_invite_send",
            Self::InviteAccept => "user_invite_accept",
            Self::InviteRevoke => "user_invite_revoke",
            Self::UserUpdate => "user_updated",
            Self::RoleChange => "authz_role_change",
            Self::EmailChangeRequest => "user_email_change_request",
            Self::EmailChange => "user_email_changed",
            Self::UserMove => "user_moved",
            Self::UserDeactivate => "user_deactivated",
            Self::UserReactivate => "user_reactivated",
            Self::UserDelete => "user_deleted",
            Self::OrganisationCreate => "organisation_created",
            Self::OrganisationUpdate => "organisation_updated",
            Self::OrganisationDeactivate => "organisation_deactivated",
            Self::OrganisationReactivate => "organisation_reactivated",
            Self::OrganisationMerge => "organisation_merged",
            Self::RelationshipAdd => "relationship_added",
            Self::RelationshipRemove => "relationship_removed",
            Self::RelationshipRequest => "relationship_requested",
            Self::RelationshipAccept => "relationship_request_accepted",
            Self::RelationshipDecline => "relationship_request_declined",
            Self::RelationshipWithdraw => "relationship_request_withdrawn",
            Self::LogDelete => "log_deleted",
            Self::SessionCreate => "session_created",
            Self::SessionRevoke => "session_revoked",
            Self::AuthzFail => "authz_fail",
            Self::EntitySave => "entity_saved",
            Self::GroupSave => "group_saved",
            Self::RoleSave => "role_saved",
            Self::UserLinksSave => "user_links_saved",
            Self::InstanceSave => "instance_saved",
            Self::SecondFactorSetUp => "authn_second_factor_set_up",
            Self::SecondFactorPass => "authn_second_factor_pass",
            Self::RecoveryCodeUse => "authn_recovery_code_used",
            Self::RecoveryCodesReplace => "authn_recovery_codes_replaced",
            Self::SecondFactorRemove => "authn_second_factor_removed",
        }
    }

    /// The name from its stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|n| n.as_str() == s)
    }

    /// Every name, so nothing can be stored that cannot be read back.
    pub const ALL: &'static [Self] = &[
        Self::LoginSuccess,
        Self::LoginFail,
        Self::LoginLock,
        Self::PasswordChange,
        Self::ResetRequest,
        Self::ResetComplete,
        Self::InviteSend,
        Self::InviteAccept,
        Self::InviteRevoke,
        Self::UserUpdate,
        Self::RoleChange,
        Self::EmailChangeRequest,
        Self::EmailChange,
        Self::UserMove,
        Self::UserDeactivate,
        Self::UserReactivate,
        Self::UserDelete,
        Self::OrganisationCreate,
        Self::OrganisationUpdate,
        Self::OrganisationDeactivate,
        Self::OrganisationReactivate,
        Self::OrganisationMerge,
        Self::RelationshipAdd,
        Self::RelationshipRemove,
        Self::RelationshipRequest,
        Self::RelationshipAccept,
        Self::RelationshipDecline,
        Self::RelationshipWithdraw,
        Self::LogDelete,
        Self::SessionCreate,
        Self::SessionRevoke,
        Self::AuthzFail,
        Self::EntitySave,
        Self::GroupSave,
        Self::RoleSave,
        Self::UserLinksSave,
        Self::InstanceSave,
        Self::SecondFactorSetUp,
        Self::SecondFactorPass,
        Self::RecoveryCodeUse,
        Self::RecoveryCodesReplace,
        Self::SecondFactorRemove,
    ];
}

/// How it ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// It worked.
    Success,
    /// It was refused.
    Failure,
}

impl Outcome {
    /// The stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// One entry of the audit trail.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuditEvent {
    /// Its id.
    pub id: Uuid,
    /// When.
    pub at: Timestamp,
    /// Who acted, if known (a sign-in attempt for an unknown email has no actor).
    pub actor: Option<UserId>,
    /// What happened.
    pub name: AuditName,
    /// How it ended.
    pub outcome: Outcome,
    /// The user it was done to.
    pub target_user: Option<UserId>,
    /// The organisation concerned.
    pub organisation: Option<OrgId>,
    /// Before and after values or a reason; never a secret.
    pub detail: AuditDetail,
    /// Where the request came from, when the entry was written while serving one. Services
    /// always write `None`: they know nothing of requests. The app that serves requests
    /// fills it in at the edge, on its way to the store (the web app's `WithOrigin`), so
    /// entries written by the CLI, and rows stored before origins were kept, have none.
    pub origin: Option<Origin>,
}

/// Where a request came from, as the app that served it saw it. Plain data: the app
/// decides what it may hold (the web app keeps only a short, plain request id and a user
/// agent cut to a few hundred characters with control characters removed).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Origin {
    /// The request's id, as its logs and error page show it.
    pub request_id: String,
    /// The client's address (behind trusted proxies only, the address they vouch for).
    pub client_ip: IpAddr,
    /// The client's `User-Agent`, if it sent one.
    pub user_agent: Option<String>,
}

#[cfg(test)]
mod tests {
    use crate::audit::AuditName;

    #[test]
    fn every_name_reads_back() {
        for name in AuditName::ALL {
            assert_eq!(AuditName::parse(name.as_str()), Some(*name));
        }
        assert_eq!(AuditName::parse("authn_unknown"), None);
    }
}
