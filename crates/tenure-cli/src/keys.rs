//! The service's secret key: one 256-bit key that seals what must not lie in the database
//! in the clear (second-factor secrets, and queued mail bodies, which may hold a reset or
//! invitation link), resolved the same way by `tenure serve` and every command.
//!
//! In order: `secret_key_file` (`--secret-key-file`, TENURE_SECRET_KEY_FILE; a file of 64
//! hexadecimal characters), then the key itself in TENURE_SECRET_KEY. With neither:
//! `serve --demo` makes `tenure-demo.key` in the database file's folder (the current
//! folder for a database not in a file; see `second_factor.rs`); otherwise,
//! on SQLite, a key file is made beside the database file on first use (readable by its
//! owner only, and logged), and a database in memory gets a key that lives as long as it
//! does; on PostgreSQL nothing starts, since several instances must share one key and a
//! key made by one of them would not be the others'.
//!
//! Only commands that write (`serve`, `housekeeping`, imports, mail) go through [`vault`],
//! which may make a key; a command that only reads secrets (`demo code`) uses
//! [`existing_key_file`] and never makes one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use tenure_core::Vault;
use tenure_secrets_os::KeyVault;

/// The environment variable holding the key itself.
pub(crate) const KEY_VARIABLE: &str = "TENURE_SECRET_KEY";

/// Where a database's data lives, as far as the key is concerned.
#[derive(Debug, PartialEq, Eq)]
enum Database {
    /// A SQLite file.
    SqliteFile(PathBuf),
    /// A SQLite database in memory: gone with the process.
    SqliteMemory,
    /// Anything else (PostgreSQL): possibly shared by several instances.
    Shared,
}

impl Database {
    fn of(url: &str) -> Self {
        let Some(rest) = url.strip_prefix("sqlite:") else { return Self::Shared };
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
            return Self::SqliteMemory;
        }
        Self::SqliteFile(PathBuf::from(path))
    }
}

/// The key file made beside a SQLite database file: its name with `.key` added.
fn beside(database: &Path) -> PathBuf {
    let mut name = database.file_name().map(std::ffi::OsStr::to_owned).unwrap_or_default();
    name.push(".key");
    database.with_file_name(name)
}

/// The key file a SQLite database file already has beside it (`tenure.db.key`), if it
/// exists: for commands that only read secrets and must never make a key.
pub(crate) fn existing_key_file(database: &str) -> Option<PathBuf> {
    match Database::of(database) {
        Database::SqliteFile(path) => Some(beside(&path)).filter(|key| key.exists()),
        Database::SqliteMemory | Database::Shared => None,
    }
}

/// The folder the demo's key file goes in: the SQLite database file's folder, or the
/// current folder for a database not in a file (in memory, PostgreSQL).
pub(crate) fn demo_folder(database: &str) -> PathBuf {
    match Database::of(database) {
        Database::SqliteFile(path) => match path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder.to_path_buf(),
            _ => PathBuf::from("."),
        },
        Database::SqliteMemory | Database::Shared => PathBuf::from("."),
    }
}

/// The vault under the configured key (see the module's docs for the order).
///
/// # Errors
/// A key file that cannot be read or made, a key that is not 64 hexadecimal characters,
/// or no key configured for a database that is not a SQLite file.
pub(crate) fn vault(key_file: Option<&Path>, database: &str) -> Result<Arc<dyn Vault>> {
    resolve(key_file, std::env::var(KEY_VARIABLE).ok(), database)
}

/// As [`vault`], with the environment's key given.
fn resolve(
    key_file: Option<&Path>,
    key_text: Option<String>,
    database: &str,
) -> Result<Arc<dyn Vault>> {
    if let Some(path) = key_file {
        let vault = KeyVault::load(path).with_context(|| {
            format!("cannot read the secret key file `{}` (`secret_key_file`)", path.display())
        })?;
        return Ok(Arc::new(vault));
    }
    if let Some(text) = key_text {
        let vault =
            KeyVault::from_hex(&text).with_context(|| format!("{KEY_VARIABLE} is not a key"))?;
        return Ok(Arc::new(vault));
    }
    match Database::of(database) {
        Database::SqliteFile(path) => {
            let key = beside(&path);
            if !key.exists() {
                tracing::warn!(
                    key_file = %key.display(),
                    "no secret key is configured: making one beside the database; keep it with \
                     the database (back up both), or set `secret_key_file` to use another"
                );
            }
            let vault = KeyVault::load_or_create(&key).with_context(|| {
                format!("cannot make or read the secret key file `{}`", key.display())
            })?;
            Ok(Arc::new(vault))
        }
        Database::SqliteMemory => {
            Ok(Arc::new(KeyVault::ephemeral().context("cannot make a secret key")?))
        }
        Database::Shared => bail!(
            "no secret key is configured: set `secret_key_file` (--secret-key-file, \
             TENURE_SECRET_KEY_FILE) to a file holding 64 hexadecimal characters (make one with \
             `openssl rand -hex 32`), or put the key in {KEY_VARIABLE}. On PostgreSQL every \
             instance and command must use the same key, so Tenure does not make one"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_say_where_the_key_goes() {
        let file = |p: &str| Database::SqliteFile(PathBuf::from(p));
        assert_eq!(Database::of("sqlite://tenure.db?mode=rwc"), file("tenure.db"));
        assert_eq!(Database::of("sqlite:///var/lib/tenure/t.db"), file("/var/lib/tenure/t.db"));
        assert_eq!(Database::of("sqlite:data/t.db"), file("data/t.db"));
        assert_eq!(Database::of("sqlite::memory:"), Database::SqliteMemory);
        assert_eq!(Database::of("sqlite://t.db?mode=memory"), Database::SqliteMemory);
        assert_eq!(Database::of("postgres://tenure@db/tenure"), Database::Shared);
        assert_eq!(
            beside(Path::new("/var/lib/tenure/t.db")),
            Path::new("/var/lib/tenure/t.db.key")
        );
        assert_eq!(beside(Path::new("tenure.db")), Path::new("tenure.db.key"));
        assert_eq!(demo_folder("sqlite://tenure.db?mode=rwc"), Path::new("."));
        assert_eq!(demo_folder("sqlite:///var/lib/tenure/t.db"), Path::new("/var/lib/tenure"));
        assert_eq!(demo_folder("sqlite::memory:"), Path::new("."));
        assert_eq!(existing_key_file("sqlite:///nowhere/at/all/t.db"), None);
    }

    #[test]
    fn postgres_without_a_key_is_refused_with_the_setting_named() {
        let url = "postgres://tenure@127.0.0.1/tenure";
        let e = resolve(None, None, url).err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(e.contains("secret_key_file") && e.contains("TENURE_SECRET_KEY_FILE"), "{e}");
        assert!(e.contains("same key"), "{e}");
        assert!(resolve(None, Some("ab".repeat(32)), url).is_ok(), "the environment's key");
        let e = resolve(None, Some("ab".to_owned()), url).err().map(|e| format!("{e:#}"));
        assert!(e.unwrap_or_default().contains("64 hexadecimal characters"));
    }

    #[test]
    fn sqlite_without_a_key_makes_one_beside_the_database_once() {
        let dir = std::env::temp_dir().join(format!("tenure-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
        let made = resolve(None, None, &url).unwrap();
        let key = dir.join("t.db.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let sealed = made.seal(b"body", b"id").unwrap();
        let again = resolve(None, None, &url).unwrap();
        assert_eq!(again.open(&sealed, b"id").unwrap(), b"body", "the same key next time");
        // A configured file wins; a missing one is an error naming the setting.
        let missing = dir.join("missing.key");
        let e = resolve(Some(&missing), None, &url).err().map(|e| format!("{e:#}"));
        assert!(e.unwrap_or_default().contains("`secret_key_file`"));
        let memory = resolve(None, None, "sqlite::memory:").unwrap();
        assert!(memory.open(&sealed, b"id").is_err(), "a key of its own");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
