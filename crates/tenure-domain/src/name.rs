//! Display names of people and organisations.

use std::fmt;

use thiserror::Error;

/// The most characters a name may have.
pub const NAME_MAX_CHARS: usize = 200;

/// A person's or organisation's name: trimmed, not empty, at most [`NAME_MAX_CHARS`]
/// characters, and free of control characters and bidirectional overrides (which can
/// make a name display as something else).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Name(String);

/// Why a name was refused.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum NameError {
    /// Nothing but white space was given.
    #[error("enter a name")]
    Empty,
    /// Too many characters.
    #[error("name must be {max} characters or fewer, not {actual}")]
    TooLong {
        /// The limit.
        max: usize,
        /// What was given.
        actual: usize,
    },
    /// A character that cannot be shown safely.
    #[error("name must not contain control or text-direction characters (found U+{code:04X})")]
    ForbiddenCharacter {
        /// The code point found.
        code: u32,
    },
}

impl Name {
    /// Parses a name, trimming surrounding white space.
    ///
    /// # Errors
    /// [`NameError`] says what is wrong and what is accepted.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if let Some(c) = trimmed.chars().find(|&c| is_forbidden_in_text(c)) {
            return Err(NameError::ForbiddenCharacter { code: u32::from(c) });
        }
        let actual = trimmed.chars().count();
        if actual > NAME_MAX_CHARS {
            return Err(NameError::TooLong { max: NAME_MAX_CHARS, actual });
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Control characters (C0, C1, DEL; NUL among them) and the Unicode bidirectional
/// formatting characters (the `Bidi_Control` property: the Arabic letter mark, the
/// left-to-right and right-to-left marks, embeddings, overrides and isolates): the one
/// rule for free text everywhere. Names and email addresses refuse them; search terms
/// drop them.
pub fn is_forbidden_in_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// The most characters of someone's input an error message repeats.
const QUOTED_MAX_CHARS: usize = 64;

/// Someone's input as an error message repeats it (inside backticks): characters
/// [`is_forbidden_in_text`] refuses are written as `\u{…}` escapes, so the message stays
/// one line and shows what was really typed, and input longer than 64 characters is cut
/// short with `…`, so a pasted page does not swamp the message.
pub fn quoted(input: &str) -> String {
    let mut out = String::new();
    for (i, c) in input.chars().enumerate() {
        if i == QUOTED_MAX_CHARS {
            out.push('…');
            break;
        }
        if is_forbidden_in_text(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
