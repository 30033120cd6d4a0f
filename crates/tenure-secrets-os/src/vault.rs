//! [`KeyVault`]: the [`Vault`] port, under the service's one secret key. Second-factor
//! secrets and queued mail bodies are sealed with XChaCha20-Poly1305 (an AEAD: altered
//! bytes or another key do not open) under a 256-bit key read from a file or the
//! environment, never from the database, with a fresh random 192-bit nonce each time
//! (safe to draw at random at this size) and the caller's context (the user's id, the
//! message's id) as associated data, so a sealed value moved to another row does not
//! open.
//!
//! Sealed layout: one version byte (`1`), the 24-byte nonce, then the ciphertext and its
//! 16-byte tag. The key is 64 hexadecimal characters (a file may end with a newline).

use std::io::Write as _;
use std::path::Path;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::TryRng as _;
use rand::rngs::SysRng;
use tenure_core::{BackendError, Vault};

const VERSION: u8 = 1;
const NONCE: usize = 24;

/// The vault under one key.
#[derive(Clone)]
pub struct KeyVault {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyVault(..)")
    }
}

/// Why a key could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not 64 hexadecimal characters.
    #[error(
        "the secret key must be 64 hexadecimal characters (256 bits); make one with `openssl rand -hex 32`"
    )]
    Malformed,
    /// The file could not be read or written.
    #[error("the secret key file `{path}`: {source}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The operating system's generator failed.
    #[error("could not make a secret key: {0}")]
    Random(String),
}

impl KeyVault {
    /// The vault under a raw 256-bit key.
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self { cipher: XChaCha20Poly1305::new(&(*key).into()) }
    }

    /// The vault under a key written as 64 hexadecimal characters (surrounding
    /// whitespace ignored), as in `TENURE_SECRET_KEY`.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] for anything else.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::Malformed);
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).map_err(|_| KeyError::Malformed)?;
        }
        Ok(Self::from_key(&key))
    }

    /// The vault under the key in a file.
    ///
    /// # Errors
    /// [`KeyError::File`] when it cannot be read, [`KeyError::Malformed`] for its content.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| KeyError::File { path: path.display().to_string(), source })?;
        Self::from_hex(&text)
    }

    /// The vault under a fresh random key that lives as long as the process (for a
    /// database that does too, such as SQLite's `:memory:`).
    ///
    /// # Errors
    /// [`KeyError::Random`] when the generator fails.
    pub fn ephemeral() -> Result<Self, KeyError> {
        Ok(Self::from_key(&fresh_key()?))
    }

    /// The vault under the key in a file, making the file with a fresh key (readable by
    /// its owner only) if it does not exist (`serve --demo`, or beside a SQLite
    /// database).
    ///
    /// # Errors
    /// As [`KeyVault::load`], or when the file cannot be made.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        if path.exists() {
            return Self::load(path);
        }
        let key = fresh_key()?;
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let file_error = |source| KeyError::File { path: path.display().to_string(), source };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(file_error)?;
        file.write_all(format!("{hex}\n").as_bytes()).map_err(file_error)?;
        Ok(Self::from_key(&key))
    }
}

fn fresh_key() -> Result<[u8; 32], KeyError> {
    let mut key = [0u8; 32];
    SysRng.try_fill_bytes(&mut key).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(key)
}

impl Vault for KeyVault {
    fn fill_random(&self, buf: &mut [u8]) -> Result<(), BackendError> {
        SysRng.try_fill_bytes(buf).map_err(BackendError::new)
    }

    fn seal(&self, plain: &[u8], context: &[u8]) -> Result<Vec<u8>, BackendError> {
        let mut nonce = [0u8; NONCE];
        self.fill_random(&mut nonce)?;
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plain, aad: context })
            .map_err(|_| BackendError::new("could not seal a secret"))?;
        let mut out = Vec::with_capacity(1 + NONCE + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, BackendError> {
        let refused = || {
            BackendError::new(
                "a sealed secret does not open with this key: is `secret_key_file` (TENURE_SECRET_KEY_FILE, or TENURE_SECRET_KEY) the key it was sealed with?",
            )
        };
        let (&version, rest) = sealed.split_first().ok_or_else(refused)?;
        if version != VERSION || rest.len() < NONCE {
            return Err(refused());
        }
        let (nonce, body) = rest.split_at(NONCE);
        let nonce: [u8; NONCE] = nonce.try_into().map_err(|_| refused())?;
        self.cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: body, aad: context })
            .map_err(|_| refused())
    }
}

#[cfg(test)]
mod tests {
    use tenure_core::Vault;

    use super::KeyVault;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_context() {
        let vault = KeyVault::from_key(&[7; 32]);
        let sealed = vault.seal(b"twenty bytes secret!", b"user-1").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"twenty"), "the secret is not in the clear");
        assert_eq!(vault.open(&sealed, b"user-1").unwrap(), b"twenty bytes secret!");
        assert!(vault.open(&sealed, b"user-2").is_err(), "bound to its user");
        assert!(KeyVault::from_key(&[8; 32]).open(&sealed, b"user-1").is_err(), "another key");
        let mut altered = sealed;
        *altered.last_mut().unwrap() ^= 1;
        assert!(vault.open(&altered, b"user-1").is_err(), "altered bytes");
        assert_ne!(vault.seal(b"same", b"c").unwrap(), vault.seal(b"same", b"c").unwrap());
    }

    #[test]
    fn keys_from_text_and_files() {
        assert!(KeyVault::from_hex(&"ab".repeat(32)).is_ok());
        assert!(KeyVault::from_hex(&format!(" {}\n", "AB".repeat(32))).is_ok());
        for bad in ["", "ab", &"zz".repeat(32), &"ab".repeat(33)] {
            let err = KeyVault::from_hex(bad).unwrap_err().to_string();
            assert!(err.contains("64 hexadecimal characters"), "{err}");
        }
        let dir = std::env::temp_dir().join(format!("tenure-key-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let made = KeyVault::load_or_create(&dir).unwrap();
        let sealed = made.seal(b"s", b"c").unwrap();
        let again = KeyVault::load_or_create(&dir).unwrap();
        assert_eq!(again.open(&sealed, b"c").unwrap(), b"s", "the file keeps the key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_file(&dir).unwrap();
    }
}
