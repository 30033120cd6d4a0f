//! Time-based one-time passwords (RFC 6238) over `totp-rs`: HMAC-SHA1, six digits,
//! 30-second steps, one step of drift either way, as every authenticator app expects.
//!
//! [`Totp::matching_step`] says which step a code belongs to, so the service can store
//! the last step used and refuse a code from that step or an earlier one (RFC 6238
//! section 5.2: a code is accepted once only, even within its window).

use totp_rs::{Algorithm, Secret, TOTP};

use crate::ports::Timestamp;

/// Seconds in a step.
pub const STEP_SECONDS: u64 = 30;
/// Steps of drift accepted either side of the current one.
pub const DRIFT_STEPS: i64 = 1;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Bytes of secret: 160 bits, RFC 4226's recommendation and what apps expect.
pub const SECRET_BYTES: usize = 20;

/// A TOTP generator for one secret.
pub struct Totp(TOTP);

impl std::fmt::Debug for Totp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Totp(..)")
    }
}

/// A secret of the wrong size (shorter than 128 bits).
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("an authenticator secret must be at least 128 bits")]
pub struct SecretTooShort;

impl Totp {
    /// The generator for a raw secret.
    ///
    /// # Errors
    /// [`SecretTooShort`] under 16 bytes.
    pub fn new(secret: &[u8]) -> Result<Self, SecretTooShort> {
        let step = STEP_SECONDS;
        // The skew is handled here (matching_step), not by totp-rs, so the step that
        // matched is known.
        TOTP::new(Algorithm::SHA1, DIGITS, 0, step, secret.to_vec())
            .map(Self)
            .map_err(|_| SecretTooShort)
    }

    /// The step a moment falls in (`None` before the epoch).
    pub fn step_at(now: Timestamp) -> Option<i64> {
        let seconds = u64::try_from(now.0).ok()? / 1000;
        i64::try_from(seconds / STEP_SECONDS).ok()
    }

    /// The code for a step.
    pub fn code_for_step(&self, step: i64) -> Option<String> {
        let start = u64::try_from(step).ok()?.checked_mul(STEP_SECONDS)?;
        Some(self.0.generate(start))
    }

    /// The code at a moment.
    pub fn code_at(&self, now: Timestamp) -> Option<String> {
        self.code_for_step(Self::step_at(now)?)
    }

    /// The step within one of `now`'s whose code is `code`, if any: the latest such step
    /// (two steps sharing a code is a one-in-a-million chance; the later one makes the
    /// replay guard stricter). `code` must already be six digits.
    pub fn matching_step(&self, code: &str, now: Timestamp) -> Option<i64> {
        let current = Self::step_at(now)?;
        (-DRIFT_STEPS..=DRIFT_STEPS).rev().map(|d| current + d).find(|&step| {
            self.code_for_step(step)
                .is_some_and(|c| constant_time_eq(c.as_bytes(), code.as_bytes()))
        })
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The secret as people type it into an app: RFC 4648 base32, no padding.
pub fn encode_secret(secret: &[u8]) -> String {
    match Secret::Raw(secret.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => String::new(),
    }
}

/// A code as typed: spaces and hyphens dropped; `None` unless six ASCII digits remain.
pub fn normalise_code(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    (code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::{Totp, encode_secret, normalise_code};
    use crate::ports::Timestamp;

    /// RFC 6238 appendix B, SHA-1, with its 20-byte secret (codes cut to six digits).
    #[test]
    fn rfc_6238_test_vectors() {
        let totp = Totp::new(b"12345678901234567890").unwrap();
        for (seconds, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(totp.code_at(Timestamp(seconds * 1000)).as_deref(), Some(code), "{seconds}");
        }
    }

    #[test]
    fn secrets_and_codes_as_typed() {
        assert_eq!(encode_secret(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(normalise_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalise_code("123-456").as_deref(), Some("123456"));
        assert_eq!(normalise_code("12345"), None);
        assert_eq!(normalise_code("12345a"), None);
        assert_eq!(normalise_code("١٢٣٤٥٦"), None);
        assert!(Totp::new(&[0; 15]).is_err());
    }
}
