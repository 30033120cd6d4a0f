//! The second factor's key and the demo's authenticator apps.
//!
//! The key that seals second-factor secrets comes from the configuration, never the
//! database: `second_factor_key_file` (64 hexadecimal characters in a file) or
//! `TENURE_SECOND_FACTOR_KEY` (the characters themselves). Without either, sealing and
//! opening refuse with a message saying what to set, so a service with no key still
//! serves everyone without a second factor. `serve --demo` makes a key file in its folder
//! when none is configured.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tenure_core::{BackendError, Vault};
use tenure_secrets_os::KeyVault;

/// The key's environment variable.
pub(crate) const KEY_VARIABLE: &str = "TENURE_SECOND_FACTOR_KEY";

/// The vault under the configured key: the file when given, else the environment's key,
/// else one that refuses to seal or open.
///
/// # Errors
/// A key file that cannot be read, or a key that is not 64 hexadecimal characters.
pub(crate) fn vault(key_file: Option<&Path>) -> Result<Arc<dyn Vault>> {
    if let Some(path) = key_file {
        let vault = KeyVault::load(path).with_context(|| {
            format!("cannot read the second-factor key file `{}`", path.display())
        })?;
        return Ok(Arc::new(vault));
    }
    match std::env::var(KEY_VARIABLE) {
        Ok(text) => Ok(Arc::new(
            KeyVault::from_hex(&text).with_context(|| format!("{KEY_VARIABLE} is not a key"))?,
        )),
        Err(_) => Ok(Arc::new(NoKey)),
    }
}

/// No key configured: nothing can be sealed or opened.
#[derive(Debug)]
struct NoKey;

fn no_key() -> BackendError {
    BackendError::new(
        "no second-factor key is configured: set `second_factor_key_file` (a file of 64 hexadecimal characters, e.g. from `openssl rand -hex 32`) or TENURE_SECOND_FACTOR_KEY",
    )
}

impl Vault for NoKey {
    fn fill_random(&self, _buf: &mut [u8]) -> Result<(), BackendError> {
        Err(no_key())
    }

    fn seal(&self, _plain: &[u8], _context: &[u8]) -> Result<Vec<u8>, BackendError> {
        Err(no_key())
    }

    fn open(&self, _sealed: &[u8], _context: &[u8]) -> Result<Vec<u8>, BackendError> {
        Err(no_key())
    }
}

/// The demo's key file: the configured one, or `tenure-demo.key` made beside `outbox`.
///
/// # Errors
/// When the file cannot be made.
pub(crate) fn demo_key_file(outbox: &Path) -> Result<std::path::PathBuf> {
    let path = outbox.parent().unwrap_or_else(|| Path::new(".")).join("tenure-demo.key");
    KeyVault::load_or_create(&path)
        .with_context(|| format!("cannot make the demo's key file `{}`", path.display()))?;
    Ok(path)
}

/// The demo's authenticator secret for an account: 20 bytes fixed by its email, so the
/// secret printed at start-up is the same on every run of the same demo.
pub(crate) fn demo_secret(email: &str) -> [u8; 20] {
    let mut secret = *b"tenure-demo-secret!!";
    for (i, b) in email.bytes().enumerate() {
        secret[i % 20] ^= b;
    }
    secret
}

/// The demo accounts whose roles require a second factor.
const DEMO_ACCOUNTS: [&str; 2] = ["admin@example.com", "root@example.com"];

/// Sets up the demo administrator's and root administrator's authenticator apps (once)
/// and prints their secrets, so a newcomer can add them to an app or ask `tenure demo
/// code`.
///
/// # Errors
/// When storage or sealing fails.
pub(crate) async fn enrol_demo(services: &crate::app::Services) -> Result<()> {
    use tenure_core::AccountStore as _;
    let mut lines = Vec::new();
    for email in DEMO_ACCOUNTS {
        let parsed = tenure_domain::Email::parse(email)?;
        let Some(record) = services.store.sign_in_record(&parsed).await? else { continue };
        let factors = &services.core.second_factors;
        if !factors.status(record.user).await?.set_up {
            factors.enrol_with_secret(record.user, &demo_secret(email)).await?;
        }
        let secret = tenure_core::second_factor::totp::encode_secret(&demo_secret(email));
        lines.push(format!("  {email:<24} {secret}"));
    }
    #[allow(clippy::print_stdout, reason = "the demo's start-up message")]
    {
        println!(
            "These accounts sign in with a code from an authenticator app after the password \
             (add the secret to any TOTP app, or run `tenure demo code EMAIL` for the current code):\n{}",
            lines.join("\n")
        );
    }
    Ok(())
}

/// `tenure demo ...`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum DemoCommand {
    /// Print the code a demo account's authenticator app shows now (it needs the key:
    /// run it where the service runs, with the same settings).
    Code {
        /// The account's email address.
        email: String,
        #[command(flatten)]
        store: crate::app::StoreArgs,
        #[command(flatten)]
        mail: crate::app::MailArgs,
    },
}

/// Runs a `tenure demo` command.
///
/// # Errors
/// An unknown account, one with no authenticator app, or a key that does not open it.
pub(crate) async fn run(command: DemoCommand) -> Result<std::process::ExitCode> {
    use tenure_core::AccountStore as _;
    let DemoCommand::Code { email, mut store, mail } = command;
    if store.second_factor_key_file.is_none() && std::env::var(KEY_VARIABLE).is_err() {
        let demo = mail.outbox.parent().unwrap_or_else(|| Path::new(".")).join("tenure-demo.key");
        if demo.exists() {
            store.second_factor_key_file = Some(demo);
        }
    }
    let services = crate::app::Services::open(&store, &mail).await?;
    let parsed = tenure_domain::Email::parse(&email).map_err(|e| {
        anyhow::anyhow!("`{}` is not an email address: {e}", tenure_domain::name::quoted(&email))
    })?;
    let Some(record) = services.store.sign_in_record(&parsed).await? else {
        anyhow::bail!("no account has the email address `{}`", tenure_domain::name::quoted(&email));
    };
    let Some(code) = services.core.second_factors.current_code(record.user).await? else {
        anyhow::bail!("`{}` has no authenticator app set up", tenure_domain::name::quoted(&email));
    };
    #[allow(clippy::print_stdout, reason = "the command's output")]
    {
        println!("{code}");
    }
    Ok(std::process::ExitCode::SUCCESS)
}
