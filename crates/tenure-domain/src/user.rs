//! User accounts.

use crate::email::Email;
use crate::id::{OrgId, RoleId, UserId};
use crate::name::Name;
use crate::telephone::Telephone;

/// A person's account in one organisation.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// The person's name.
    pub name: Name,
    /// Where they sign in and get mail; unique across the service.
    pub email: Email,
    /// Their telephone number.
    pub telephone: Option<Telephone>,
    /// The organisation they belong to.
    pub organisation: OrgId,
    /// Their roles. A CORE user has one; a Corterum user may have several. None means no
    /// grants at all.
    pub roles: Vec<RoleId>,
    /// Data protection officer: a flag, not a role.
    pub data_protection_officer: bool,
    /// Key contact: a flag, not a role.
    pub key_contact: bool,
    /// Whether the account is active. A deactivated user is denied everything.
    pub active: bool,
}

impl User {
    /// An active user with no telephone and no flags.
    pub fn new(
        id: UserId,
        name: Name,
        email: Email,
        organisation: OrgId,
        roles: Vec<RoleId>,
    ) -> Self {
        Self {
            id,
            name,
            email,
            telephone: None,
            organisation,
            roles,
            data_protection_officer: false,
            key_contact: false,
            active: true,
        }
    }
}
