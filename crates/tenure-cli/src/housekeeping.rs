//! Housekeeping: under `tenure serve`, a task that prunes every `housekeeping_minutes`
//! until it is told to stop; as `tenure housekeeping`, one run. Both read the same
//! settings as `tenure serve` (the session timeouts say which sessions are past), and
//! log what each run removed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use figment::value::{Dict, Value};
use tenure_core::housekeeping::{DeliveredMail, Housekeeping, HousekeepingPolicy, Report};
use tenure_core::limits::LimitPolicy;
use tenure_secrets_os::SystemClock;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{MailArgs, Services, StoreArgs};
use crate::serve::settings::Settings;

/// Flags for `tenure housekeeping`.
#[derive(Debug, clap::Args)]
pub(crate) struct HousekeepingArgs {
    /// The TOML file `tenure serve` reads (its database and session timeouts are used);
    /// the environment's `TENURE_` variables count as for `tenure serve`.
    #[arg(long, env = "TENURE_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (`database`, TENURE_DATABASE_URL; default `sqlite://tenure.db?mode=rwc`).
    #[arg(long)]
    database: Option<String>,
}

/// The housekeeping these settings ask for over `services`' database and courier.
pub(crate) fn service(services: &Services, settings: &Settings) -> Housekeeping {
    let t = settings.timings();
    let policy = HousekeepingPolicy {
        sessions: tenure_core::SessionPolicy {
            idle_ms: t.session_idle_minutes * 60 * 1000,
            absolute_ms: t.session_absolute_hours * 60 * 60 * 1000,
        },
        ..HousekeepingPolicy::default()
    };
    let mail = DeliveredMail::new(services.core.courier.clone(), HousekeepingPolicy::MAIL_KEPT_MS);
    Housekeeping::new(services.store.clone(), Arc::new(SystemClock), policy).also(Arc::new(mail))
}

/// `tenure housekeeping`: one run, its figures printed.
pub(crate) async fn once(args: HousekeepingArgs) -> Result<ExitCode> {
    let env = |name: &str| match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("the environment variable `{name}` is not valid Unicode")
        }
    };
    let mut flags = Dict::new();
    if let Some(database) = args.database {
        flags.insert("database".to_owned(), Value::from(database));
    }
    let settings = Settings::extract(&Settings::layers(args.config.as_deref(), env, flags)?)?;
    let secret_key_file = settings.secret_key_file.clone();
    let store = StoreArgs { database: settings.database.clone(), secret_key_file };
    let mail = MailArgs {
        outbox: settings.outbox.clone(),
        smtp_url: settings.smtp_url.clone(),
        mail_from: settings.mail_from.clone(),
        base_url: settings.base_url(),
    };
    let timings = settings.timings();
    let services = Services::open_with(&store, &mail, timings, LimitPolicy::unlimited()).await?;
    let report = service(&services, &settings).run().await?;
    log(&report);
    println!("Housekeeping removed {} rows: {report}.", report.total());
    Ok(ExitCode::SUCCESS)
}

/// The running task; [`Running::stop`] ends it.
#[derive(Debug)]
pub(crate) struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Starts the task: a run now, then one every `every`.
pub(crate) fn spawn(housekeeping: Housekeeping, every: Duration) -> Running {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            match housekeeping.run().await {
                Ok(report) => log(&report),
                Err(e) => {
                    let cause =
                        std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
                    tracing::warn!(error = %e, cause, "housekeeping failed; it runs again later");
                }
            }
            tokio::select! {
                _ = stopped.changed() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
    Running { stop, task }
}

impl Running {
    /// Tells the task to stop (a run in progress finishes its statement first).
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the housekeeping task failed");
        }
    }
}

/// One log line a run: rows removed of each kind, and statements run.
fn log(report: &Report) {
    let count = |name| report.removed(name);
    let statements: u32 = report.swept.iter().map(|(_, _, s)| s).sum();
    tracing::info!(
        sessions = count("sessions"),
        reset_links = count("reset_links"),
        links = count("links"),
        limit_buckets = count("limit_buckets"),
        delivered_mail = count("delivered_mail"),
        statements,
        "housekeeping"
    );
}
