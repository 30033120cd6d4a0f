//! The emails Tenure sends, as typed values: who gets one, about what, with which link.
//! A `Notification` holds no wording and no markup; the mail side (`tenure-mail`)
//! renders it into a subject and plain-text and HTML bodies from templates, so wording
//! and escaping live in one place outside the core. It is serde, so a later outbox table
//! can store it and render it when it is delivered.

use serde::{Deserialize, Serialize};
use tenure_domain::{Email, Name};

/// One email to send, by kind. Every notice that tells of a change (everything but the
/// links to follow) holds no link and no secret: it tells, it is never a way in.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notification {
    /// A link to set a password and sign in, for someone invited to an organisation.
    Invitation {
        /// The invited person's address.
        #[serde(with = "email")]
        to: Email,
        /// Their name.
        #[serde(with = "name")]
        name: Name,
        /// The organisation they are invited to.
        #[serde(with = "name")]
        organisation: Name,
        /// The link (it holds the token).
        url: String,
        /// How many whole days the link works for.
        valid_days: i64,
    },
    /// A link to set a password and sign in again, for someone whose account was
    /// reactivated.
    Reactivation {
        /// The person's address.
        #[serde(with = "email")]
        to: Email,
        /// Their name.
        #[serde(with = "name")]
        name: Name,
        /// Their organisation.
        #[serde(with = "name")]
        organisation: Name,
        /// The link (it holds the token).
        url: String,
        /// How many whole days the link works for.
        valid_days: i64,
    },
    /// A link to choose a new password, for whoever asked for one at this address.
    PasswordReset {
        /// The account's address.
        #[serde(with = "email")]
        to: Email,
        /// The link (it holds the token).
        url: String,
    },
    /// The notice that a password was changed, by its holder or with a reset link.
    PasswordChanged {
        /// The account's address.
        #[serde(with = "email")]
        to: Email,
        /// The account holder's name.
        #[serde(with = "name")]
        name: Name,
    },
    /// The notice that a second factor was set up, removed, or a recovery code used or
    /// replaced (a credential changed: it tells, and holds no link or code).
    SecondFactorChanged {
        /// The account's address.
        #[serde(with = "email")]
        to: Email,
        /// The account holder's name.
        #[serde(with = "name")]
        name: Name,
        /// What happened.
        change: SecondFactorChange,
    },
    /// A link, sent to a new address, that confirms it as the account's email address.
    EmailConfirmation {
        /// The new address.
        #[serde(with = "email")]
        to: Email,
        /// The account holder's name.
        #[serde(with = "name")]
        name: Name,
        /// The link (it holds the token).
        url: String,
    },
    /// The notice to an account's current address that someone asked to change it.
    EmailChangeRequested {
        /// The current address.
        #[serde(with = "email")]
        to: Email,
        /// The account holder's name.
        #[serde(with = "name")]
        name: Name,
        /// The address asked for.
        #[serde(with = "email")]
        new: Email,
        /// Who asked.
        by: ChangedBy,
    },
    /// The notice to an account's old address that its email address was changed.
    EmailChanged {
        /// The old address.
        #[serde(with = "email")]
        to: Email,
        /// The account holder's name.
        #[serde(with = "name")]
        name: Name,
        /// The new address.
        #[serde(with = "email")]
        new: Email,
        /// Who changed it.
        by: ChangedBy,
    },
    /// The notice that an account was moved to another organisation.
    OrganisationChanged {
        /// The account's address.
        #[serde(with = "email")]
        to: Email,
        /// The account holder's name.
        #[serde(with = "name")]
        name: Name,
        /// The organisation it left.
        #[serde(with = "name")]
        from: Name,
        /// The organisation it joined.
        #[serde(with = "name")]
        into: Name,
    },
    /// The notice, to someone who manages an organisation's relationships, of a step
    /// another organisation took about one of its relationships.
    RelationshipChanged {
        /// The recipient's address.
        #[serde(with = "email")]
        to: Email,
        /// The recipient's name.
        #[serde(with = "name")]
        name: Name,
        /// The recipient's organisation (one end of the relationship).
        #[serde(with = "name")]
        organisation: Name,
        /// The stock owner's name (`None` if it has gone since).
        #[serde(with = "optional_name")]
        stock_owner: Option<Name>,
        /// The managing agent's name (`None` if it has gone since).
        #[serde(with = "optional_name")]
        managing_agent: Option<Name>,
        /// What happened.
        change: RelationshipChange,
        /// The recipient organisation's relationships page.
        url: String,
    },
}

/// What happened to a person's second factor, for the notice that tells them.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum SecondFactorChange {
    /// They set up an authenticator app.
    SetUp,
    /// One of their recovery codes was used to sign in; this many are left.
    RecoveryCodeUsed {
        /// Unused codes left.
        left: u32,
    },
    /// They made a new set of recovery codes; the old ones no longer work.
    RecoveryCodesReplaced,
    /// Their second factor was removed, by them or by someone else.
    Removed {
        /// Who removed it.
        by: ChangedBy,
    },
}

impl Notification {
    /// The recipient.
    pub fn to(&self) -> &Email {
        match self {
            Self::Invitation { to, .. }
            | Self::Reactivation { to, .. }
            | Self::PasswordReset { to, .. }
            | Self::PasswordChanged { to, .. }
            | Self::SecondFactorChanged { to, .. }
            | Self::EmailConfirmation { to, .. }
            | Self::EmailChangeRequested { to, .. }
            | Self::EmailChanged { to, .. }
            | Self::OrganisationChanged { to, .. }
            | Self::RelationshipChanged { to, .. } => to,
        }
    }
}

/// Who made a change a notice tells of.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangedBy {
    /// The account's holder.
    Themselves,
    /// Someone else, by name (`None` if their account has gone since).
    Other(#[serde(with = "optional_name")] Option<Name>),
}

/// A step in a relationship's life that the other end is told of.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationshipChange {
    /// An administrator added it; it is in effect.
    Added,
    /// One end asked for it; it waits for the recipient's organisation.
    Requested {
        /// The asking organisation's name (`None` if it has gone since).
        #[serde(with = "optional_name")]
        by: Option<Name>,
    },
    /// The request was accepted; it is in effect.
    Accepted,
    /// The request was declined.
    Declined,
    /// The request was withdrawn.
    Withdrawn,
    /// It was removed.
    Removed,
}

/// The address of a page of the service.
pub(crate) fn page(base_url: &str, path: &str) -> String {
    format!("{}{path}", base_url.trim_end_matches('/'))
}

/// A link to a page of the service with a token.
pub(crate) fn link(base_url: &str, path: &str, token: &str) -> String {
    format!("{}?token={token}", page(base_url, path))
}

/// An [`Email`] as its text, parsed again when read back.
mod email {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use tenure_domain::Email;

    pub(super) fn serialize<S: Serializer>(email: &Email, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(email.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Email, D::Error> {
        Email::parse(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// A [`Name`] as its text, parsed again when read back.
mod name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use tenure_domain::Name;

    pub(super) fn serialize<S: Serializer>(name: &Name, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(name.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        Name::parse(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// An optional [`Name`] as its text or null.
mod optional_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use tenure_domain::Name;

    pub(super) fn serialize<S: Serializer>(name: &Option<Name>, s: S) -> Result<S::Ok, S::Error> {
        match name {
            Some(n) => s.serialize_some(n.as_str()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Name>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|n| Name::parse(&n).map_err(D::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests;
