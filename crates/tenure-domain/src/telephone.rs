//! Telephone numbers.

use std::fmt;

use thiserror::Error;

use crate::name::quoted;

/// The most characters a number may have, extension and layout included.
pub const TELEPHONE_MAX_CHARS: usize = 40;

/// A telephone number as people write it: digits, with optional spaces, hyphens,
/// brackets, a leading `+` and an `ext` or `x` extension, holding 7 to 15 digits before
/// any extension (E.164 allows at most 15), and at most [`TELEPHONE_MAX_CHARS`]
/// characters in all.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Telephone(String);

/// Why a telephone number was refused.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum TelephoneError {
    /// Nothing was given.
    #[error("enter a telephone number")]
    Empty,
    /// A character that does not belong in a number.
    #[error(
        "enter a telephone number using digits, spaces, brackets, hyphens and a leading +, like 01632 960 001 or +44 808 157 0192 (found `{}`)",
        quoted(&.found.to_string())
    )]
    Character {
        /// The character found.
        found: char,
    },
    /// Too many characters.
    #[error("a telephone number must be {max} characters or fewer, not {actual}")]
    TooLong {
        /// The limit.
        max: usize,
        /// What was given.
        actual: usize,
    },
    /// `ext` or `x` with no extension after it.
    #[error("write the extension's digits after ext or x, like 020 7946 0000 ext 123")]
    Extension,
    /// Too few or too many digits.
    #[error("a telephone number has 7 to 15 digits, not {digits}")]
    Digits {
        /// How many digits were given.
        digits: usize,
    },
}

impl Telephone {
    /// Parses a number, trimming surrounding white space and keeping its layout.
    ///
    /// # Errors
    /// [`TelephoneError`] says what is wrong and what is accepted.
    pub fn parse(input: &str) -> Result<Self, TelephoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(TelephoneError::Empty);
        }
        let actual = trimmed.chars().count();
        if actual > TELEPHONE_MAX_CHARS {
            return Err(TelephoneError::TooLong { max: TELEPHONE_MAX_CHARS, actual });
        }
        let lower = trimmed.to_ascii_lowercase();
        // ASCII lower-casing keeps every byte offset, so `at` is a boundary in `trimmed`.
        let (number, extension) = match lower.find("ext").or_else(|| lower.find('x')) {
            Some(at) => {
                let extension = trimmed[at..]
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '.')
                    .trim_start_matches(' ');
                if extension.is_empty() {
                    return Err(TelephoneError::Extension);
                }
                (&trimmed[..at], extension)
            }
            None => (trimmed, ""),
        };
        for (i, c) in number.char_indices() {
            let ok =
                c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (c == '+' && i == 0);
            if !ok {
                return Err(TelephoneError::Character { found: c });
            }
        }
        if let Some(c) = extension.chars().find(|c| !c.is_ascii_digit()) {
            return Err(TelephoneError::Character { found: c });
        }
        let digits = number.chars().filter(char::is_ascii_digit).count();
        if !(7..=15).contains(&digits) {
            return Err(TelephoneError::Digits { digits });
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The number as entered, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Telephone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
