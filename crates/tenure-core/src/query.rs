//! What a list screen asks for beyond the actor's scope: search, filters and sort. The
//! meaning is defined here, once, by [`UserQuery::matches`] and friends; storage adapters
//! translate it and the contract suite holds them to it.

use tenure_domain::{OrgId, Organisation, RoleId, User};

/// The most characters a search term may have.
pub const SEARCH_MAX_CHARS: usize = 100;

/// A search term: trimmed, lower-cased, at most [`SEARCH_MAX_CHARS`] characters. Matches
/// text containing it, ignoring case.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Search(String);

impl Search {
    /// A search from what was typed; blank means no search. Control and text-direction
    /// characters are dropped (`tenure_domain::name::is_forbidden_in_text`): no stored
    /// text holds them, and a NUL ends a full-text query early.
    pub fn parse(input: &str) -> Option<Self> {
        let kept = input.chars().filter(|c| !tenure_domain::name::is_forbidden_in_text(*c));
        // Lower-case, then cut: lower-casing can lengthen text (`İ`) and depends on the
        // next letter (a final sigma), and the cut can end on white space.
        let lower = kept.collect::<String>().to_lowercase();
        let term: String = lower.trim().chars().take(SEARCH_MAX_CHARS).collect();
        let term = term.trim_end();
        (!term.is_empty()).then(|| Self(term.to_owned()))
    }

    /// The lower-cased term.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether lower-cased text contains the term.
    pub fn found_in(&self, text: &str) -> bool {
        text.to_lowercase().contains(&self.0)
    }
}

/// How to order users.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum UserSort {
    /// By name, ignoring case, then id.
    #[default]
    Name,
    /// By email address, then id.
    Email,
}

/// A users list: search name or email, filter by status, role and flags.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct UserQuery {
    /// Name or email contains this.
    pub search: Option<Search>,
    /// Only active (`Some(true)`) or deactivated (`Some(false)`) users.
    pub active: Option<bool>,
    /// Only holders of this role.
    pub role: Option<RoleId>,
    /// Only users of this organisation.
    pub organisation: Option<OrgId>,
    /// Only data protection officers (or only others).
    pub data_protection_officer: Option<bool>,
    /// Only key contacts (or only others).
    pub key_contact: Option<bool>,
    /// The order.
    pub sort: UserSort,
}

impl UserQuery {
    /// Whether a user matches (the scope is applied separately).
    pub fn matches(&self, user: &User) -> bool {
        self.search
            .as_ref()
            .is_none_or(|s| s.found_in(user.name.as_str()) || s.found_in(user.email.as_str()))
            && self.active.is_none_or(|a| user.active == a)
            && self.role.is_none_or(|r| user.roles.contains(&r))
            && self.organisation.is_none_or(|o| user.organisation == o)
            && self.data_protection_officer.is_none_or(|d| user.data_protection_officer == d)
            && self.key_contact.is_none_or(|k| user.key_contact == k)
    }

    /// The sort key: lower-cased name or email, then the id's bytes.
    pub fn sort_key(&self, user: &User) -> (String, [u8; 16]) {
        let text = match self.sort {
            UserSort::Name => user.name.as_str().to_lowercase(),
            UserSort::Email => user.email.as_str().to_owned(),
        };
        (text, *user.id.as_uuid().as_bytes())
    }
}

/// An organisations list: search the name, filter by status.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct OrganisationQuery {
    /// The name contains this.
    pub search: Option<Search>,
    /// Only active (`Some(true)`) or deactivated (`Some(false)`) organisations.
    pub active: Option<bool>,
}

impl OrganisationQuery {
    /// Whether an organisation matches (the scope is applied separately).
    pub fn matches(&self, organisation: &Organisation) -> bool {
        self.search.as_ref().is_none_or(|s| s.found_in(organisation.name.as_str()))
            && self.active.is_none_or(|a| organisation.active == a)
    }

    /// The sort key: lower-cased name, then the id's bytes.
    pub fn sort_key(organisation: &Organisation) -> (String, [u8; 16]) {
        (organisation.name.as_str().to_lowercase(), *organisation.id.as_uuid().as_bytes())
    }
}

#[cfg(test)]
mod tests;
