//! The demo's key file and authenticator apps. The key itself (the service's one secret
//! key, which seals second-factor secrets and queued mail) is resolved in `keys.rs`;
//! `serve --demo` makes `tenure-demo.key` in the database file's folder when none is
//! configured, and `demo code` reads it there (it never makes a key).

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use tenure_secrets_os::KeyVault;

use crate::keys::KEY_VARIABLE;

/// Where the demo's key file is for `database`: `tenure-demo.key` in the database file's
/// folder (the current folder for a database not in a file).
pub(crate) fn demo_key_path(database: &str) -> PathBuf {
    crate::keys::demo_folder(database).join("tenure-demo.key")
}

/// The demo's key file for `database` ([`demo_key_path`]), made when missing.
///
/// # Errors
/// When the file cannot be made.
pub(crate) fn demo_key_file(database: &str) -> Result<PathBuf> {
    let path = demo_key_path(database);
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
    /// run it where the service runs, with the same settings). It reads the configured
    /// key, else the demo's `tenure-demo.key` in the database file's folder, else the
    /// database's own `tenure.db.key`; it never makes a key.
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
/// An unknown account, one with no authenticator app, no key found, or a key that does
/// not open it.
pub(crate) async fn run(command: DemoCommand) -> Result<std::process::ExitCode> {
    use tenure_core::AccountStore as _;
    let DemoCommand::Code { email, mut store, mail } = command;
    if store.secret_key_file.is_none() && std::env::var(KEY_VARIABLE).is_err() {
        // Reading only: a key made now would open nothing, so none is made.
        let demo = demo_key_path(&store.database);
        let found = Some(demo.clone())
            .filter(|p| p.exists())
            .or_else(|| crate::keys::existing_key_file(&store.database));
        let Some(found) = found else {
            anyhow::bail!(
                "no secret key found: `{}` (made by `tenure serve --demo` with the same \
                 --database) does not exist and the database has no key file beside it; pass \
                 --secret-key-file (TENURE_SECRET_KEY_FILE) or set {KEY_VARIABLE}",
                demo.display()
            );
        };
        store.secret_key_file = Some(found);
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
