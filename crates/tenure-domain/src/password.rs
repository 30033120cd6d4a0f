//! Choosing a password: NIST SP 800-63B rev 4 for a single factor.
//!
//! A new password is normalised (Unicode NFKC, so `ﬁ` and `fi` are one password), then
//! checked for length in code points (at least 15 by default; never truncated; at most
//! 256) and against what makes passwords guessable: the 30,000 most common passwords,
//! including as the base of a padded or repeated password (`password1234567`,
//! `passwordpassword`), and the user's own details and the service's name. There are no
//! composition rules and no expiry. Every refusal says why and what is accepted.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use crate::email::Email;
use crate::name::Name;

/// The service's name, which no password may be built on.
pub const PRODUCT: &str = "tenure";

/// How long passwords must be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PasswordPolicy {
    /// The fewest characters (code points, after normalisation).
    pub min_chars: usize,
    /// The most characters; longer passwords are refused, never truncated.
    pub max_chars: usize,
}

impl Default for PasswordPolicy {
    /// 15 to 256 characters: NIST SP 800-63B rev 4's minimum where the password is the
    /// only factor.
    fn default() -> Self {
        Self { min_chars: 15, max_chars: 256 }
    }
}

/// What the password must not be built from: the person's details and their
/// organisation's name.
#[derive(Clone, Copy, Debug, Default)]
pub struct PasswordContext<'a> {
    /// Their email address.
    pub email: Option<&'a Email>,
    /// Their name.
    pub name: Option<&'a Name>,
    /// Their organisation's name.
    pub organisation: Option<&'a Name>,
}

/// A password that passed the policy, normalised. Its `Debug` hides it, and it has no
/// `Display`, so it cannot end up in a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    /// The normalised password, to hash.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A password that has just verified against its stored hash, normalised, so it can be
    /// hashed again with current parameters. It may predate the current policy, so this is
    /// for rehashing only, never for setting a password.
    pub fn verified(password: &str) -> Self {
        Self(normalise(password))
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// Why a password was refused.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum PasswordError {
    /// Too few characters.
    #[error(
        "your password must be at least {min} characters long (it has {actual}); three or four random words make a strong one"
    )]
    TooShort {
        /// The minimum.
        min: usize,
        /// What was given, in characters.
        actual: usize,
    },
    /// Too many characters.
    #[error("your password must be {max} characters or fewer (it has {actual})")]
    TooLong {
        /// The maximum.
        max: usize,
        /// What was given, in characters.
        actual: usize,
    },
    /// A common password, or one built from a common password or a repeated pattern.
    #[error(
        "this password is commonly used or built on a common password or pattern, so it is easy to guess; choose another, such as three or four random words"
    )]
    Common,
    /// Built from the person's details or the service's name.
    #[error(
        "this password contains your name, email address, organisation or the service's name, so it is easy to guess; choose another"
    )]
    ContainsYourDetails,
}

/// Normalises a password as every check and every hash sees it (NFKC).
pub fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

impl PasswordPolicy {
    /// Checks a new password and returns it normalised.
    ///
    /// # Errors
    /// [`PasswordError`] says what is wrong and what is accepted.
    pub fn check(
        &self,
        input: &str,
        context: &PasswordContext<'_>,
    ) -> Result<NewPassword, PasswordError> {
        let password = normalise(input);
        let actual = password.chars().count();
        if actual < self.min_chars {
            return Err(PasswordError::TooShort { min: self.min_chars, actual });
        }
        if actual > self.max_chars {
            return Err(PasswordError::TooLong { max: self.max_chars, actual });
        }
        let lower = password.to_lowercase();
        if is_common(&lower) {
            return Err(PasswordError::Common);
        }
        if context_words(context).any(|word| lower.contains(&word)) {
            return Err(PasswordError::ContainsYourDetails);
        }
        Ok(NewPassword(password))
    }
}

/// The common-password list, loaded once.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("password/common.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// Keyboard rows, the alphabet and the digits: runs along these are sequences.
const SEQUENCES: &[&str] = &[
    "qwertyuiopasdfghjklzxcvbnm",
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
];

/// Whether a lower-cased password is guessable from the list or a pattern:
/// - a common password, or one with padding (digits, symbols or one repeated character)
///   before or after it;
/// - one unit repeated, where the unit is short (up to four characters) or common;
/// - a run along a keyboard row, the alphabet or the digits, either way.
fn is_common(lower: &str) -> bool {
    let chars: Vec<char> = lower.chars().collect();
    let base = |s: &[char]| {
        let text: String = s.iter().collect();
        COMMON.contains(text.as_str()) || is_one_repeated_char(s)
    };
    if base(&chars) {
        return true;
    }
    for split in 1..chars.len() {
        let (head, tail) = chars.split_at(split);
        if (is_padding(tail) && base(head)) || (is_padding(head) && base(tail)) {
            return true;
        }
    }
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    if core.is_empty() || COMMON.contains(core) {
        return true;
    }
    let repeated = (1..=chars.len() / 2).any(|period| {
        chars.len() % period == 0
            && chars.chunks(period).all(|c| c == &chars[..period])
            && (period <= 4 || base(&chars[..period]))
    });
    repeated || is_sequence(&chars)
}

fn is_one_repeated_char(s: &[char]) -> bool {
    s.first().is_some_and(|first| s.iter().all(|c| c == first))
}

/// Digits and symbols, or one character repeated.
fn is_padding(s: &[char]) -> bool {
    s.iter().all(|c| !c.is_alphabetic()) || is_one_repeated_char(s)
}

/// Whether every neighbouring pair is adjacent in one of the [`SEQUENCES`], either way.
fn is_sequence(chars: &[char]) -> bool {
    let adjacent = |a: char, b: char| {
        SEQUENCES.iter().any(|seq| {
            let s: Vec<char> = seq.chars().collect();
            s.windows(2).any(|w| (w[0] == a && w[1] == b) || (w[0] == b && w[1] == a))
        })
    };
    chars.len() >= 2 && chars.windows(2).all(|w| adjacent(w[0], w[1]))
}

/// Lower-cased words no password may contain: the service's name, the email address and
/// its part before `@`, and the person's and organisation's names with spaces removed
/// (each when at least four characters long).
fn context_words<'a>(context: &'a PasswordContext<'a>) -> impl Iterator<Item = String> + 'a {
    let squash =
        |s: &str| s.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect::<String>();
    let email = context.email.map(|e| e.as_str().to_owned());
    let local = context.email.map(|e| e.local_part().to_owned());
    let name = context.name.map(|n| squash(n.as_str()));
    let organisation = context.organisation.map(|o| squash(o.as_str()));
    std::iter::once(PRODUCT.to_owned())
        .chain(email)
        .chain(local)
        .chain(name)
        .chain(organisation)
        .filter(|w| w.chars().count() >= 4)
}

#[cfg(test)]
mod tests;
