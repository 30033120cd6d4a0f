//! Wiring: the configuration every command shares, and the services built from it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use tenure_core::limits::LimitPolicy;
use tenure_core::{ChangeStore, LockoutPolicy, Mailer, ManagePolicy, Policies, Ports, ResetPolicy};
use tenure_domain::{Email, UserId};
use tenure_hash_argon2::Argon2id;
use tenure_mail_outbox::Outbox;
use tenure_mail_smtp::SmtpMailer;
use tenure_secrets_os::{OsSecrets, SystemClock, UuidV7};
use tenure_store_seaorm::SeaOrmStore;

/// Where the data lives.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StoreArgs {
    /// Database URL: `sqlite://PATH?mode=rwc` (the default, a file in the current folder)
    /// or `postgres://USER@HOST/DB`.
    #[arg(long, env = "TENURE_DATABASE_URL", default_value = "sqlite://tenure.db?mode=rwc")]
    pub(crate) database: String,
    /// File holding the service's secret key (64 hexadecimal characters), which seals
    /// second-factor secrets and queued mail, kept out of the database; or the key itself
    /// in `TENURE_SECRET_KEY`. Without either: on SQLite a key file is made beside the
    /// database file (`tenure.db.key`); on PostgreSQL nothing runs (every instance must
    /// share one key).
    #[arg(long, env = "TENURE_SECRET_KEY_FILE")]
    pub(crate) secret_key_file: Option<std::path::PathBuf>,
}

/// How mail goes out and where its links point.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct MailArgs {
    /// Folder where the file outbox writes one readable file per email (used unless
    /// `--smtp-url` is given).
    #[arg(long, env = "TENURE_OUTBOX", default_value = "outbox")]
    pub(crate) outbox: PathBuf,
    /// Send through this SMTP server instead: `smtps://USER:PASSWORD@HOST`,
    /// `smtp://USER:PASSWORD@HOST?tls=required` or `smtp://HOST:PORT`.
    #[arg(long, env = "TENURE_SMTP_URL")]
    pub(crate) smtp_url: Option<String>,
    /// The sender of every email.
    #[arg(long, env = "TENURE_MAIL_FROM", default_value = "Tenure <no-reply@tenure.invalid>")]
    pub(crate) mail_from: String,
    /// The public address of the web application, for links in emails.
    #[arg(long, env = "TENURE_BASE_URL", default_value = "http://127.0.0.1:3000")]
    pub(crate) base_url: String,
}

/// Lockout, link and session times (the defaults are the and the seed's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timings {
    /// Consecutive failed sign-ins that lock an account.
    pub(crate) lockout_attempts: u32,
    /// How long a lock lasts, in minutes.
    pub(crate) lockout_minutes: i64,
    /// How long a password reset link works, in minutes.
    pub(crate) reset_link_minutes: i64,
    /// How long an invitation or reactivation link works, in days.
    pub(crate) invitation_days: i64,
    /// A session ends after this many minutes unused.
    pub(crate) session_idle_minutes: i64,
    /// A session ends this many hours after signing in.
    pub(crate) session_absolute_hours: i64,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            lockout_attempts: 5,
            lockout_minutes: 60,
            reset_link_minutes: 180,
            invitation_days: 3,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
        }
    }
}

impl Timings {
    /// The lockout these times set: for sign-ins, and for a wrong current password typed
    /// to confirm one's own email change (which counts as a failed sign-in does).
    pub(crate) const fn lockout(self) -> LockoutPolicy {
        LockoutPolicy {
            lock_after: self.lockout_attempts,
            lock_for_ms: self.lockout_minutes * 60 * 1000,
        }
    }

    /// The management policy these times set, with links pointing at `base_url`.
    pub(crate) fn manage_policy(self, base_url: &str) -> ManagePolicy {
        ManagePolicy {
            base_url: base_url.to_owned(),
            invitation_lifetime_ms: self.invitation_days * 24 * 60 * 60 * 1000,
            lockout: self.lockout(),
            ..ManagePolicy::default()
        }
    }
}

/// Everything a command needs, over one database.
pub(crate) struct Services {
    pub(crate) store: Arc<SeaOrmStore>,
    /// Every service, as wired once: the commands and the web app run on these.
    pub(crate) core: tenure_core::Services,
    pub(crate) hasher: Arc<Argon2id>,
}

/// Argon2id with OWASP's parameters, or cheap ones when `TENURE_INSECURE_FAST_HASHING=1`
/// (tests only: the variable's name says why).
pub(crate) fn hasher() -> Result<Argon2id> {
    let cheap = std::env::var("TENURE_INSECURE_FAST_HASHING").is_ok_and(|v| v == "1");
    let hasher = if cheap { Argon2id::cheap_for_tests() } else { Argon2id::owasp() };
    hasher.context("cannot set up password hashing")
}

impl Services {
    /// Opens the database (bringing its schema up to date) and builds the services. The
    /// commands are not rate limited: whoever runs them holds the database (an import
    /// invites thousands as one person); the limits guard the web.
    pub(crate) async fn open(store: &StoreArgs, mail: &MailArgs) -> Result<Self> {
        Self::open_with(store, mail, Timings::default(), LimitPolicy::unlimited()).await
    }

    /// As [`Services::open`], with these times and rate limits.
    pub(crate) async fn open_with(
        store: &StoreArgs,
        mail: &MailArgs,
        timings: Timings,
        limits: LimitPolicy,
    ) -> Result<Self> {
        let courier = tenure_core::CourierPolicy::default();
        Self::open_configured(store, mail, timings, limits, courier).await
    }

    /// As [`Services::open_with`], with this courier policy (a batch import queues its
    /// mail with each row and delivers it apart from the rows: `crate::batch`).
    pub(crate) async fn open_configured(
        store: &StoreArgs,
        mail: &MailArgs,
        timings: Timings,
        limits: LimitPolicy,
        courier: tenure_core::CourierPolicy,
    ) -> Result<Self> {
        // The key first: on PostgreSQL without one nothing is opened.
        let vault = crate::keys::vault(store.secret_key_file.as_deref(), &store.database)?;
        let db = SeaOrmStore::open(&store.database)
            .await
            .with_context(|| format!("cannot open the database `{}`", store.database))?;
        let store = Arc::new(db);
        // Audit entries written while serving a request carry its origin; elsewhere none.
        let stamped_store = Arc::new(tenure_web::WithOrigin::new(store.clone()));
        let mailer: Arc<dyn Mailer> = match &mail.smtp_url {
            Some(url) => Arc::new(SmtpMailer::new(url, &mail.mail_from)?),
            None => Arc::new(Outbox::new(&mail.outbox)),
        };
        let hasher = Arc::new(hasher()?);
        let ports = Ports {
            directory: store.clone(),
            changes: stamped_store.clone(),
            accounts: stamped_store.clone(),
            sessions: stamped_store.clone(),
            limits: store.clone(),
            second_factors: stamped_store,
            vault,
            corterum: store.clone(),
            hasher: hasher.clone(),
            secrets: Arc::new(OsSecrets),
            mail_queue: store.clone(),
            mailer,
            clock: Arc::new(SystemClock),
            ids: Arc::new(UuidV7),
        };
        let policies = Policies {
            manage: timings.manage_policy(&mail.base_url),
            lockout: timings.lockout(),
            resets: ResetPolicy {
                base_url: mail.base_url.clone(),
                lifetime_ms: timings.reset_link_minutes * 60 * 1000,
                ..ResetPolicy::default()
            },
            sessions: tenure_core::SessionPolicy {
                idle_ms: timings.session_idle_minutes * 60 * 1000,
                absolute_ms: timings.session_absolute_hours * 60 * 60 * 1000,
            },
            courier,
            limits,
        };
        let core = tenure_core::Services::wire(ports, policies)
            .await
            .context("cannot install the dataset catalogue")?;
        Ok(Self { store, core, hasher })
    }

    /// The services the web application runs on: the same ones the commands use.
    pub(crate) fn web(&self) -> tenure_web::Services {
        self.core.clone()
    }

    /// The user acting, by email address.
    pub(crate) async fn actor(&self, email: &str) -> Result<UserId> {
        let parsed = Email::parse(email).with_context(|| format!("--as `{email}`"))?;
        let Some(user) = ChangeStore::user_by_email(&*self.store, &parsed).await? else {
            bail!("--as `{email}`: no user has this email address");
        };
        let Some(org) = ChangeStore::organisation(&*self.store, user.value.organisation).await?
        else {
            bail!("--as `{email}`: this user's organisation is missing");
        };
        let status = self.core.manage.status(&user.value, &org.value).await?;
        if status != tenure_core::AccountStatus::Active {
            bail!(
                "--as `{email}`: this account cannot act ({}); it must be active, with its \
                 invitation accepted",
                status.label().to_lowercase()
            );
        }
        Ok(user.value.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configured lockout reaches both services: sign-ins, and the current password
    /// typed to change one's own email address (it once got the default 5 tries an hour).
    #[test]
    fn the_configured_lockout_reaches_the_management_policy() {
        let timings = Timings { lockout_attempts: 3, lockout_minutes: 7, ..Timings::default() };
        let policy = timings.manage_policy("https://tenure.example");
        let expected = LockoutPolicy { lock_after: 3, lock_for_ms: 7 * 60 * 1000 };
        assert_eq!(policy.lockout, expected);
        assert_eq!(timings.lockout(), expected);
        assert_ne!(policy.lockout, LockoutPolicy::default());
        assert_eq!(policy.base_url, "https://tenure.example");
        assert_eq!(policy.invitation_lifetime_ms, 3 * 24 * 60 * 60 * 1000);
    }

    /// The commands' services (no rate limits) give the users import its chunked path, and
    /// the web's (limited) do not. The wiring once gave every command limits with no rate
    /// in them, which read as limited: every users import then went row by row, a
    /// transaction a row, at a tenth of the chunked speed.
    #[test]
    fn a_command_line_users_import_writes_in_chunks() {
        use tenure_core::batch::Kind as _;
        let dir = std::env::temp_dir().join(format!("tenure-chunked-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let store = StoreArgs {
            database: format!("sqlite://{}?mode=rwc", dir.join("t.db").display()),
            secret_key_file: None,
        };
        let mail = MailArgs {
            outbox: dir.join("outbox"),
            smtp_url: None,
            mail_from: "Tenure <no-reply@tenure.invalid>".to_owned(),
            base_url: "http://127.0.0.1:3000".to_owned(),
        };
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async {
            let chunked = |services: &Services| {
                tenure_core::batch::users::Users::new(crate::batch::sources(services))
                    .bulk()
                    .is_some()
            };
            let commands = Services::open(&store, &mail).await.expect("services");
            assert!(chunked(&commands), "the commands' users import goes row by row");
            let web =
                Services::open_with(&store, &mail, Timings::default(), LimitPolicy::default())
                    .await
                    .expect("services");
            assert!(!chunked(&web), "a rate-limited users import must count each invitation");
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
