//! Corterum's entities and groups.
//!
//! An entity is a person, business or regulator that exists in its own right: an
//! ex-employee stays an entity after their user account is gone. Only the name is
//! mandatory; the other static data depends on the type. Entities link to each other
//! with a kind (a person's previous and new employers, a regulator of a business, any
//! kind a customer names) and to the companies (organisations) they belong to. A group holds entities of one type; "All People" exists from the start and
//! holds every person without being told.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;
use uuid::Uuid;

use crate::id::{EntityId, GroupId, OrgId};
use crate::name::Name;

/// The type of an entity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum EntityKind {
    /// A person (a member of staff, an ex-employee).
    Person,
    /// A business (a previous or new employer).
    Business,
    /// A regulator.
    Regulator,
}

impl EntityKind {
    /// Every type.
    pub const ALL: &'static [Self] = &[Self::Person, Self::Business, Self::Regulator];

    /// The name used in policy files, the CLI and forms.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Business => "business",
            Self::Regulator => "regulator",
        }
    }

    /// The name people read.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Person => "Person",
            Self::Business => "Business",
            Self::Regulator => "Regulator",
        }
    }

    /// The optional static data this type carries, as `(key, label)`.
    pub const fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Person => &[
                ("preferred_name", "Preferred name"),
                ("date_of_birth", "Date of birth"),
                ("national_insurance_number", "National Insurance number"),
                ("individual_reference_number", "FCA individual reference number"),
                ("job_title", "Job title"),
                ("email", "Email address"),
                ("telephone", "Telephone"),
            ],
            Self::Business => &[
                ("registration_number", "Company registration number"),
                ("firm_reference_number", "FCA firm reference number"),
                ("address", "Address"),
                ("telephone", "Telephone"),
            ],
            Self::Regulator => {
                &[("abbreviation", "Abbreviation"), ("address", "Address"), ("website", "Website")]
            }
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entity type that is not one of [`EntityKind::ALL`].
#[derive(Clone, PartialEq, Eq, Debug, Error)]
#[error(
    "unknown entity type `{}`; expected person, business or regulator",
    crate::name::quoted(.given)
)]
pub struct UnknownEntityKindError {
    /// What was given.
    pub given: String,
}

impl FromStr for EntityKind {
    type Err = UnknownEntityKindError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "person" => Ok(Self::Person),
            "business" => Ok(Self::Business),
            "regulator" => Ok(Self::Regulator),
            _ => Err(UnknownEntityKindError { given: s.to_owned() }),
        }
    }
}

/// How one entity is linked to another: one of the kinds the service knows, or a kind
/// a customer named. Stored as text ([`LinkKind::as_str`], `custom:<label>` for a
/// custom kind), so a new kind needs no change to the schema.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum LinkKind {
    /// The linked business employed this person before they joined.
    PreviousEmployer,
    /// The linked business employs this person since they left.
    NewEmployer,
    /// This regulator regulates the linked entity.
    RegulatorOf,
    /// The two are related in some other way.
    RelatedTo,
    /// A kind a customer named (trimmed, 1 to [`LinkKind::MAX_LABEL`] characters).
    Custom(String),
}

/// A link kind that cannot be read.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum LinkKindError {
    /// Neither a known kind nor a custom one.
    #[error(
        "unknown link kind `{}`; expected previous_employer, new_employer, regulator_of, related_to or custom:<name>",
        crate::name::quoted(.0)
    )]
    Unknown(String),
    /// A custom kind with no name.
    #[error("name the custom link kind, for example \"Auditor of\"")]
    EmptyLabel,
    /// A custom kind's name too long.
    #[error("a custom link kind must be {max} characters or fewer", max = LinkKind::MAX_LABEL)]
    TooLong,
    /// A custom kind's name with a line break or another control character.
    #[error("a custom link kind must be one line of text")]
    NotOneLine,
}

impl LinkKind {
    /// The kinds the service knows, in the order forms offer them.
    pub const KNOWN: [Self; 4] =
        [Self::PreviousEmployer, Self::NewEmployer, Self::RegulatorOf, Self::RelatedTo];

    /// The longest custom kind name, in characters.
    pub const MAX_LABEL: usize = 60;

    /// A custom kind named `label` (trimmed), or the known kind with that name or label.
    ///
    /// # Errors
    /// An empty name, or one over [`LinkKind::MAX_LABEL`] characters.
    pub fn custom(label: &str) -> Result<Self, LinkKindError> {
        let label = label.trim();
        if label.is_empty() {
            return Err(LinkKindError::EmptyLabel);
        }
        if label.chars().count() > Self::MAX_LABEL {
            return Err(LinkKindError::TooLong);
        }
        if label.chars().any(char::is_control) {
            return Err(LinkKindError::NotOneLine);
        }
        Ok(Self::KNOWN
            .into_iter()
            .find(|k| k.label().eq_ignore_ascii_case(label) || k.as_str() == label)
            .unwrap_or_else(|| Self::Custom(label.to_owned())))
    }

    /// Reads a kind as stored and as forms and the CLI send it: a known kind's name, or
    /// `custom:<label>`.
    ///
    /// # Errors
    /// [`LinkKindError`] for anything else.
    pub fn parse(s: &str) -> Result<Self, LinkKindError> {
        match s {
            "previous_employer" => Ok(Self::PreviousEmployer),
            "new_employer" => Ok(Self::NewEmployer),
            "regulator_of" => Ok(Self::RegulatorOf),
            "related_to" => Ok(Self::RelatedTo),
            _ => match s.strip_prefix("custom:") {
                Some(label) => Self::custom(label),
                None => Err(LinkKindError::Unknown(s.to_owned())),
            },
        }
    }

    /// The name stored and used in forms and the CLI.
    pub fn as_str(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            Self::PreviousEmployer => Cow::Borrowed("previous_employer"),
            Self::NewEmployer => Cow::Borrowed("new_employer"),
            Self::RegulatorOf => Cow::Borrowed("regulator_of"),
            Self::RelatedTo => Cow::Borrowed("related_to"),
            Self::Custom(label) => Cow::Owned(format!("custom:{label}")),
        }
    }

    /// The name people read.
    pub fn label(&self) -> &str {
        match self {
            Self::PreviousEmployer => "Previous employer",
            Self::NewEmployer => "New employer",
            Self::RegulatorOf => "Regulator of",
            Self::RelatedTo => "Related to",
            Self::Custom(label) => label,
        }
    }
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

/// A link from one entity to another.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct EntityLink {
    /// What the link means.
    pub kind: LinkKind,
    /// The other entity.
    pub to: EntityId,
}

/// A person, business or regulator.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entity {
    /// Its id.
    pub id: EntityId,
    /// Its type, which decides its static data and the groups it may join.
    pub kind: EntityKind,
    /// Its name: the only mandatory field.
    pub name: Name,
    /// Optional static data, keyed by the type's [`EntityKind::fields`].
    pub fields: BTreeMap<String, String>,
    /// The companies it is linked to, sorted, without duplicates.
    pub companies: Vec<OrgId>,
    /// Its links to other entities.
    pub links: Vec<EntityLink>,
}

/// Why an entity's static data was refused.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum EntityError {
    /// A field the type does not have.
    #[error("a {kind} has no field `{field}`; its fields are: {}", kind.fields().iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", "))]
    UnknownField {
        /// The entity's type.
        kind: EntityKind,
        /// The field given.
        field: String,
    },
    /// A value too long to be static data.
    #[error("`{field}` must be 500 characters or fewer")]
    TooLong {
        /// The field.
        field: String,
    },
    /// An entity cannot link to itself.
    #[error("an entity cannot be linked to itself")]
    SelfLink,
}

impl Entity {
    /// An entity with a name and nothing else.
    pub fn new(id: EntityId, kind: EntityKind, name: Name) -> Self {
        Self { id, kind, name, fields: BTreeMap::new(), companies: Vec::new(), links: Vec::new() }
    }

    /// Sets a static data field; an empty value clears it.
    ///
    /// # Errors
    /// A field the type does not have, or a value over 500 characters.
    pub fn set_field(&mut self, field: &str, value: &str) -> Result<(), EntityError> {
        if !self.kind.fields().iter().any(|(k, _)| *k == field) {
            return Err(EntityError::UnknownField { kind: self.kind, field: field.to_owned() });
        }
        let value = value.trim();
        if value.chars().count() > 500 {
            return Err(EntityError::TooLong { field: field.to_owned() });
        }
        if value.is_empty() {
            self.fields.remove(field);
        } else {
            self.fields.insert(field.to_owned(), value.to_owned());
        }
        Ok(())
    }

    /// Links the entity to these companies, replacing its links.
    pub fn set_companies(&mut self, mut companies: Vec<OrgId>) {
        companies.sort_unstable();
        companies.dedup();
        self.companies = companies;
    }

    /// Whether it is linked to any of these companies (sorted).
    #[inline]
    pub fn in_any_company(&self, companies: &[OrgId]) -> bool {
        // Both lists are short: an entity belongs to a few companies, a user to a few.
        self.companies.iter().any(|c| companies.binary_search(c).is_ok())
    }
}

/// "All People": every person, from the start. Its id is fixed so every store and
/// policy file agrees on it.
pub const ALL_PEOPLE: GroupId =
    GroupId::from_uuid(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0001_0001));

/// A named set of entities of one type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Group {
    /// Its id.
    pub id: GroupId,
    /// Its name.
    pub name: Name,
    /// Why it exists.
    pub description: String,
    /// The type of its members.
    pub kind: EntityKind,
    /// Its members, sorted, without duplicates. "All People" lists none: it holds every
    /// person.
    pub members: Vec<EntityId>,
}

impl Group {
    /// The built-in "All People" group.
    pub fn all_people() -> Self {
        Self {
            id: ALL_PEOPLE,
            // INVARIANT: a fixed, valid name.
            name: Name::parse("All People").unwrap_or_else(|_| unreachable!()),
            description: "Every person, kept up to date by the service".to_owned(),
            kind: EntityKind::Person,
            members: Vec::new(),
        }
    }

    /// Whether the group holds the entity.
    pub fn holds(&self, entity: &Entity) -> bool {
        if self.id == ALL_PEOPLE {
            return entity.kind == EntityKind::Person;
        }
        self.members.binary_search(&entity.id).is_ok()
    }
}

#[cfg(test)]
mod tests;
