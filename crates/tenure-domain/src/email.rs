//! Email addresses, normalised so that case variants are one address.

use std::fmt;

use thiserror::Error;

use crate::name::{is_forbidden_in_text, quoted};

/// The most characters an address may have (RFC 5321 path limit less the brackets).
pub const EMAIL_MAX_CHARS: usize = 254;
const LOCAL_MAX_CHARS: usize = 64;

/// A single email address, trimmed and lower-cased.
///
/// Lower-casing the local part is stricter than RFC 5321 allows, but every mail service
/// our users have treats addresses case-insensitively, and one normalised form is what
/// stops `Alice@Example.com` and `alice@example.com` being two accounts or two lockout
/// counters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Email(String);

/// Why an email address was refused.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum EmailError {
    /// Nothing was given.
    #[error("enter an email address")]
    Empty,
    /// Too long to be an address.
    #[error("email address must be {max} characters or fewer, not {actual}")]
    TooLong {
        /// The limit.
        max: usize,
        /// What was given.
        actual: usize,
    },
    /// More than one address, or text around an address.
    #[error("enter one email address only, like name@example.com")]
    NotSingle,
    /// No `@`, or nothing before it.
    #[error("enter an email address in the correct format, like name@example.com")]
    Format,
    /// The part after `@` is not a domain name.
    #[error("the part after @ in `{}` is not a valid domain, like example.com", quoted(.domain))]
    Domain {
        /// The domain as given.
        domain: String,
    },
}

impl Email {
    /// Parses one address.
    ///
    /// # Errors
    /// [`EmailError`] says what is wrong and what is accepted.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        check(trimmed)?;
        // Lower-casing can change an address: `İ` becomes `i` and a combining dot, which
        // is longer and not a letter. The stored form must meet the rule itself, so that
        // it parses back to itself, so it is checked too.
        let lower = trimmed.to_lowercase();
        if lower != trimmed {
            check(&lower)?;
        }
        Ok(Self(lower))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`, used to reject passwords built from the user's own details.
    pub fn local_part(&self) -> &str {
        // INVARIANT: `parse` only accepts text with exactly one `@`.
        self.0.split_once('@').map_or(self.0.as_str(), |(local, _)| local)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks trimmed text against the rule for one address.
fn check(trimmed: &str) -> Result<(), EmailError> {
    if trimmed.is_empty() {
        return Err(EmailError::Empty);
    }
    let actual = trimmed.chars().count();
    if actual > EMAIL_MAX_CHARS {
        return Err(EmailError::TooLong { max: EMAIL_MAX_CHARS, actual });
    }
    if trimmed.chars().any(|c| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '"'))
        || trimmed.matches('@').count() > 1
    {
        return Err(EmailError::NotSingle);
    }
    if trimmed.chars().any(is_forbidden_in_text) {
        return Err(EmailError::Format);
    }
    let Some((local, domain)) = trimmed.split_once('@') else {
        return Err(EmailError::Format);
    };
    if local.is_empty()
        || local.chars().count() > LOCAL_MAX_CHARS
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(EmailError::Format);
    }
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !domain_ok {
        return Err(EmailError::Domain { domain: domain.to_owned() });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
