//! Audit events: who did what to whom, when, and how it ended. Stored append-only, in the
//! same transaction as the change they describe. Names follow the OWASP logging
//! vocabulary. Never holds a password, token or hash.

use tenure_domain::{OrgId, UserId};
use uuid::Uuid;

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
    /// Before and after values or a reason, as JSON text; never a secret.
    pub detail: String,
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
