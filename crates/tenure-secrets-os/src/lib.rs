//! Tenure's `Secrets` port: tokens of 256 bits from the operating system's generator,
//! written as 64 lower-case hex characters, and their SHA-256 digests (a plain hash is
//! enough at this entropy: ASVS 5 11.5.1, 6.5.2).
//!
//! Role in the workspace: an adapter. Allowed dependencies: `tenure-core`, `rand` (its OS
//! generator), `sha2`. Forbidden knowledge: storage, HTTP.

use std::fmt::Write as _;

use rand::TryRng as _;
use rand::rngs::SysRng;
use sha2::{Digest as _, Sha256};
use tenure_core::{BackendError, Secrets, Token};

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
}
