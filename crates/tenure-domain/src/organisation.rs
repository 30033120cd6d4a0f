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

/// Which side of the service an organisation belongs to. The engine keeps the sides apart:
/// an actor's reach over organisations, their users and logs covers only organisations
/// of the kind of the actor's own organisation (see [`crate::engine`]), so Corterum's
/// root administrator's "every company" is every company, and CORE's "every
/// organisation" never includes a company.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum OrganisationKind {
    /// A CORE housing organisation (a housing provider or local authority).
    #[default]
    Housing,
    /// A Corterum company: a firm of a customer's group, subject to the SM&CR.
    Company,
}

impl OrganisationKind {
    /// Both kinds.
    pub const ALL: [Self; 2] = [Self::Housing, Self::Company];

    /// Its name in storage, policy files and CSV: `housing` or `company`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Housing => "housing",
            Self::Company => "company",
        }
    }

    /// The kind named `s` (as [`OrganisationKind::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for OrganisationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An organisation: a housing provider, a local authority, or a company in a group.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Organisation {
    /// Its id.
    pub id: OrgId,
    /// Its name.
    pub name: Name,
    /// CORE's housing organisation or Corterum's company. It never changes.
    pub kind: OrganisationKind,
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
    /// An active housing organisation that holds stock, with no optional details.
    pub fn new(id: OrgId, name: Name) -> Self {
        Self {
            id,
            name,
            kind: OrganisationKind::Housing,
            address: None,
            telephone: None,
            provider_type: ProviderType::default(),
            registration_number: None,
            holds_stock: true,
            active: true,
        }
    }

    /// An active Corterum company, with no optional details (it holds no stock).
    pub fn company(id: OrgId, name: Name) -> Self {
        Self { kind: OrganisationKind::Company, holds_stock: false, ..Self::new(id, name) }
    }

    /// Whether it is a Corterum company.
    pub fn is_company(&self) -> bool {
        self.kind == OrganisationKind::Company
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
