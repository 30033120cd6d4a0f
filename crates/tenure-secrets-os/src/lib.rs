//! Tenure's `Secrets` port: tokens of 256 bits from the operating system's generator,
//! written as 64 lower-case hex characters, and their SHA-256 digests (a plain hash is
//! enough at this entropy: ASVS 5 11.5.1, 6.5.2).
//!
//! It also holds the other ports the operating system answers: [`SystemClock`], [`UuidV7`]
//! ids, and [`KeyVault`], the second factor's [`Vault`](tenure_core::Vault)
//! (XChaCha20-Poly1305 under a key from a file or the environment, never the database).
//!
//! Role in the workspace: an adapter. Allowed dependencies: `tenure-core`, `rand` (its OS
//! generator), `sha2`, `uuid`, `chacha20poly1305`. Forbidden knowledge: storage, HTTP.

use std::fmt::Write as _;

use rand::TryRng as _;
use rand::rngs::SysRng;
use sha2::{Digest as _, Sha256};
use tenure_core::{BackendError, Clock, IdGen, Secrets, Timestamp, Token};

mod vault;

pub use vault::{KeyError, KeyVault};

/// The system's clock, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods, reason = "this is the one real clock")]
    fn now(&self) -> Timestamp {
        let since =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }
}

/// UUID v7 ids: time-ordered (so new rows append to indexes, and the audit trail sorts by
/// id within a millisecond) with 74 random bits.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7;

impl IdGen for UuidV7 {
    #[allow(clippy::disallowed_methods, reason = "this is the one id generator")]
    fn next_id(&self) -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }
}

/// Secrets from the operating system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsSecrets;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Secrets for OsSecrets {
    fn token(&self) -> Result<Token, BackendError> {
        let mut bytes = [0u8; 32];
        SysRng.try_fill_bytes(&mut bytes).map_err(BackendError::new)?;
        let plain = hex(&bytes);
        Ok(Token { digest: self.digest(&plain), plain })
    }

    fn digest(&self, plain: &str) -> String {
        hex(&Sha256::digest(plain.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use tenure_core::Secrets;

    use crate::OsSecrets;

    #[test]
    fn tokens_are_256_bits_unique_and_stored_only_as_digests() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let token = OsSecrets.token().unwrap();
            assert_eq!(token.plain.len(), 64, "32 bytes, hex");
            assert!(token.plain.chars().all(|c| c.is_ascii_hexdigit()));
            assert_ne!(token.plain, token.digest);
            assert_eq!(
                OsSecrets.digest(&token.plain),
                token.digest,
                "the digest is a function of the token"
            );
            assert!(seen.insert(token.plain));
        }
        assert_eq!(
            OsSecrets.digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "SHA-256"
        );
        assert!(
            !format!("{:?}", OsSecrets.token().unwrap()).contains("plain"),
            "Debug hides the token"
        );
    }

    #[test]
    fn ids_are_v7_unique_and_ordered_and_the_clock_is_now() {
        use tenure_core::{Clock, IdGen};
        let ids: Vec<uuid::Uuid> = (0..1000).map(|_| crate::UuidV7.next_id()).collect();
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "monotonic within a process");
        // 2026-01-01 in milliseconds: the clock is not stuck at the epoch.
        assert!(crate::SystemClock.now().0 > 1_767_225_600_000);
    }
}
