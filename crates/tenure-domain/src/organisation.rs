//! Organisations and the stock owner -> managing agent relationships between them.

use crate::id::OrgId;
use crate::name::Name;
use crate::telephone::Telephone;

/// The kinds of housing provider CORE knows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ProviderType {
    /// A local authority.
    LocalAuthority,
    /// A private registered provider (housing association and the like).
    #[default]
    PrivateRegisteredProvider,
}

/// An organisation: a housing provider, a local authority, or a company in a group.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Organisation {
    /// Its id.
    pub id: OrgId,
    /// Its name.
    pub name: Name,
    /// Its postal address, free text.
    pub address: Option<String>,
    /// Its telephone number.
    pub telephone: Option<Telephone>,
    /// What kind of provider it is.
    pub provider_type: ProviderType,
    /// Its regulator's registration number.
    pub registration_number: Option<String>,
    /// Whether it holds its own housing stock. Only such an organisation can be a stock
    /// owner.
    pub holds_stock: bool,
    /// Whether it is active. Users of a deactivated organisation are denied everything.
    pub active: bool,
}

impl Organisation {
    /// An active organisation that holds stock, with no optional details.
    pub fn new(id: OrgId, name: Name) -> Self {
        Self {
            id,
            name,
            address: None,
            telephone: None,
            provider_type: ProviderType::default(),
            registration_number: None,
            holds_stock: true,
            active: true,
        }
    }
}

/// A directed edge: the stock owner (parent) contracts management of its stock to the
/// managing agent (child). An organisation can be both: A -> B -> D.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Relationship {
    /// The parent, which holds the stock.
    pub stock_owner: OrgId,
    /// The child, which manages it.
    pub managing_agent: OrgId,
}
