//! Batch jobs on the command line: `tenure organisations | relationships | users import |
//! export`, each a kind of `tenure_core::batch` run by the one engine.
//!
//! This module adds what a terminal or a script needs around the engine: the file opened
//! twice (checked whole, then read row by row), a progress bar on a terminal (none when
//! standard error is not one), each row's outcome as text (`FILE:LINE: why` on standard
//! error, the counts on standard output) or as JSON lines (`--format json`: one object a
//! row, `{"line":..,"key":..,"outcome":..,"error":..}`, then `{"summary":{..}}`), the batch
//! id on every audit entry of the run, and the exit codes: 0 every row fine, 1 some rows
//! failed, 2 a bad invocation or a file refused whole (nothing written).
//!
//! Mail: each row's mail is queued in the row's own transaction (its chunk's), durably, as
//! on the web, and by default the import does not deliver it: the running service's
//! courier (`tenure serve`) does, or `tenure mail deliver` (`crate::mail`); the summary
//! says how many emails were queued and how they will go out. Delivering beside the rows
//! competed with them for the write lock and the cores (docs/performance.md). With
//! `--deliver` the import delivers as before: [`Delivery`] runs the courier in a task
//! while the rows are written and drains what is due before the command exits (mail that
//! fails stays queued for `tenure serve`'s courier). A dry run queues and sends nothing.
//!
//! A new kind needs a subcommand in `main.rs` that builds it from [`sources`] and calls
//! [`import`] and [`export`].

use std::io::{IsTerminal as _, Write as _};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tenure_core::batch::{self, Kind, Options, Report, RowReport, Sources};
use tenure_core::limits::LimitPolicy;
use tenure_core::{Courier, CourierPolicy, IdGen as _, Origin, Round};
use tenure_domain::UserId;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{MailArgs, Services, StoreArgs, Timings};

/// Messages the import's courier claims a round.
const DELIVERY_BATCH: usize = 200;

/// How long the import's courier waits when nothing is queued.
const DELIVERY_IDLE: Duration = Duration::from_millis(100);

/// How an import reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReportFormat {
    /// Errors as `FILE:LINE: why` on standard error, the counts on standard output.
    #[default]
    Text,
    /// One JSON object a row on standard output, then the counts as one more.
    Json,
}

/// How an export writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    /// CSV with a header row, formulas defused (the file imports back unchanged).
    #[default]
    Csv,
    /// One JSON object a row, keyed by column.
    Json,
}

/// `import` and `export` of one kind.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KindCommand {
    /// Import a CSV file (UTF-8). Each row is checked by the permission engine as the
    /// acting user and written with its audit entries in one transaction; a refused row
    /// writes nothing and the others go on. Safe to re-run: rows already there are
    /// skipped. A file with a bad header, a quote never closed, or over 100 MiB, a
    /// million rows or 64 KiB in one row is refused whole (exit 2). Exit 0 when every row
    /// was fine, 1 when some failed. Emails it queues (invitations) are kept in the mail
    /// queue for `tenure serve` or `tenure mail deliver` to send (`--deliver` sends them
    /// before exiting).
    Import(ImportArgs),
    /// Write what the acting user may see, with the columns the import takes.
    Export(ExportArgs),
}

/// What every import takes.
#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// The CSV file.
    pub(crate) file: PathBuf,
    /// Act as this user (email address): the import may do only what they may.
    #[arg(long = "as", value_name = "EMAIL")]
    pub(crate) actor: String,
    /// Change records that differ from their row (without it they are reported as
    /// differing and skipped).
    #[arg(long)]
    pub(crate) update: bool,
    /// Write nothing: report what would be created, changed and skipped.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Deliver the emails the import queues (invitations) while it runs, and wait until
    /// they are sent before exiting. Without it they stay queued (nothing is lost) for the
    /// running service (`tenure serve`) or `tenure mail deliver` to send.
    #[arg(long)]
    pub(crate) deliver: bool,
    /// How to report each row.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: ReportFormat,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) mail: MailArgs,
}

/// What every export takes.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// Act as this user (email address): the export holds only what they may see.
    #[arg(long = "as", value_name = "EMAIL")]
    pub(crate) actor: String,
    /// Write here instead of standard output.
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
    /// CSV or JSON lines.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: ExportFormat,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) mail: MailArgs,
}

/// What the kinds stand on, from the wired services.
pub(crate) fn sources(services: &Services) -> Sources {
    Sources {
        manage: services.core.manage.clone(),
        directory: services.store.clone(),
        changes: services.store.clone(),
        chunks: Some(services.store.clone()),
    }
}

/// Runs an import or export of a kind built by `kind` from the services.
pub(crate) async fn run<K: Kind>(
    command: KindCommand,
    name: &str,
    kind: impl FnOnce(Sources) -> K,
) -> Result<ExitCode> {
    run_on(command, name, |services| kind(sources(services))).await
}

/// As [`run`], for a kind built from the wired services themselves (Corterum's kinds,
/// `crate::batch_corterum`).
pub(crate) async fn run_on<K: Kind>(
    command: KindCommand,
    name: &str,
    kind: impl FnOnce(&Services) -> K,
) -> Result<ExitCode> {
    match command {
        KindCommand::Import(args) => {
            let services = Services::open_configured(
                &args.store,
                &args.mail,
                Timings::default(),
                LimitPolicy::unlimited(),
                courier_policy(),
            )
            .await?;
            let actor = services.actor(&args.actor).await?;
            let kind = kind(&services);
            let courier = services.core.courier.clone();
            // A dry run queues nothing, and must not send what others queued either.
            let before = if args.dry_run { None } else { Some(queued_total(&courier).await?) };
            let delivery =
                (args.deliver && !args.dry_run).then(|| Delivery::start(courier.clone()));
            let code = import(&kind, name, actor, &args).await;
            let delivered = match delivery {
                Some(delivery) => Some(delivery.finish().await),
                None => None,
            };
            if let Some(before) = before {
                let queued = queued_total(&courier).await?.saturating_sub(before);
                if queued > 0 {
                    let said = mail_sentence(queued, delivered);
                    match args.format {
                        ReportFormat::Text => println!("{said}"),
                        // Standard output holds only JSON lines.
                        ReportFormat::Json => eprintln!("{said}"),
                    }
                }
            }
            code
        }
        KindCommand::Export(args) => {
            let services = Services::open(&args.store, &args.mail).await?;
            let actor = services.actor(&args.actor).await?;
            let kind = kind(&services);
            export(&kind, actor, args.output.as_deref(), args.format).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How many messages the queue has ever held and still keeps (queued, sent and
/// undeliverable): delivering moves a message, so what a run adds is what it queued
/// (and what others queued meanwhile).
async fn queued_total(courier: &Courier) -> Result<u64> {
    let counts = courier.counts().await?;
    Ok(counts.queued + counts.sent + counts.abandoned)
}

/// What the summary says of the run's mail: how many emails it queued and how they go out.
fn mail_sentence(queued: u64, delivered: Option<Round>) -> String {
    let (emails, them) = if queued == 1 {
        ("1 email".to_owned(), "it")
    } else {
        (format!("{queued} emails"), "them")
    };
    match delivered {
        None => format!(
            "{emails} queued (invitations); the running service (`tenure serve`) delivers \
             {them}, or run `tenure mail deliver` now (`tenure mail status` shows the queue)"
        ),
        Some(round) => format!(
            "{emails} queued (invitations); {} delivered by this import{}",
            round.sent,
            match round.retrying + round.abandoned {
                0 => String::new(),
                n => format!(
                    ", {n} could not be sent yet and wait in the queue (`tenure mail status`; \
                     `tenure serve` goes on trying)"
                ),
            }
        ),
    }
}

/// An import's courier policy: a row's mail is queued in the row's transaction, as
/// always, but not delivered inside the row (a claim, a send and a mark a message, which
/// were most of a row's time); with `--deliver`, [`Delivery`] sends it beside the rows.
pub(crate) fn courier_policy() -> CourierPolicy {
    CourierPolicy { deliver_at_once: false, batch: DELIVERY_BATCH, ..CourierPolicy::default() }
}

/// The import's courier: a task that delivers queued mail while the rows are written, a
/// round after another while there is some, and drains what is due when told to finish.
/// Mail that fails stays queued for `tenure serve`'s courier (`tenure mail status`).
struct Delivery {
    stop: watch::Sender<bool>,
    task: JoinHandle<Round>,
}

impl Delivery {
    fn start(courier: Courier) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut total = Round::default();
            loop {
                // Read before the round: the last round must start after the stop (after
                // the import committed), or a round begun while a chunk held the write
                // lock would find nothing and end delivery with the chunk's mail unsent.
                let stopping = *stopped.borrow();
                let claimed = match courier.run_once().await {
                    Ok(round) => {
                        total.claimed += round.claimed;
                        total.sent += round.sent;
                        total.retrying += round.retrying;
                        total.abandoned += round.abandoned;
                        round.claimed
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "delivering the import's mail failed; it stays queued");
                        0
                    }
                };
                if claimed > 0 {
                    continue;
                }
                if stopping {
                    break;
                }
                tokio::select! {
                    _ = stopped.changed() => {}
                    () = tokio::time::sleep(DELIVERY_IDLE) => {}
                }
            }
            total
        });
        Self { stop, task }
    }

    /// Delivers what is still due, then ends; what it did.
    async fn finish(self) -> Round {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(round) => round,
            Err(e) => {
                tracing::error!(error = %e, "the import's courier failed; its mail stays queued");
                Round::default()
            }
        }
    }
}

/// Imports `args.file` as `actor`; see the module docs for what it prints.
pub(crate) async fn import<K: Kind>(
    kind: &K,
    name: &str,
    actor: UserId,
    args: &ImportArgs,
) -> Result<ExitCode> {
    let file = &args.file;
    let refuse = |line: Option<u64>, why: &dyn std::fmt::Display| {
        match line {
            Some(line) => eprintln!("{}:{line}: {why}", file.display()),
            None => eprintln!("{}: {why}", file.display()),
        }
        Ok(ExitCode::from(2))
    };
    let open = || std::fs::File::open(file).map(std::io::BufReader::new);
    let rows = match open().map_err(batch::ImportError::Open).and_then(batch::check_file::<K, _>) {
        Ok(rows) => rows,
        Err(e) => return refuse(e.line(), &e),
    };
    let source = match open() {
        Ok(source) => source,
        Err(e) => return refuse(None, &batch::ImportError::Open(e)),
    };
    let bar = if std::io::stderr().is_terminal() && args.format == ReportFormat::Text {
        let bar = ProgressBar::new(rows);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec} {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let format = args.format;
    let shown = file.display().to_string();
    let mut stdout = std::io::stdout();
    let mut sink = |row: &RowReport| {
        match format {
            ReportFormat::Json => {
                let _ = writeln!(stdout, "{}", row.to_json());
            }
            ReportFormat::Text => {
                if let Some(why) = &row.error {
                    bar.suspend(|| eprintln!("{shown}:{}: {why}", row.line));
                } else if row.outcome == batch::Outcome::Differs {
                    let key = row.key.as_deref().unwrap_or_default();
                    bar.suspend(|| {
                        eprintln!(
                            "{shown}:{}: `{}` differs from what is stored; skipped (--update \
                             changes it)",
                            row.line,
                            tenure_domain::name::quoted(key)
                        );
                    });
                }
            }
        }
        bar.inc(1);
    };
    let options = Options { update: args.update, dry_run: args.dry_run };
    // One batch id on every audit entry this run writes: the origin's request id.
    let batch_id = format!("batch-{}", tenure_secrets_os::UuidV7.next_id());
    let origin = Origin {
        request_id: batch_id,
        // The run's own machine: a batch job has no remote client.
        client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        user_agent: Some(format!("tenure {name} import")),
    };
    // The chunks' writes are stamped by the engine, the services' by the origin decorator.
    let chunked = Some(origin.clone());
    let result = tenure_web::within_origin(
        origin,
        batch::import(kind, actor, source, options, chunked, &mut sink),
    )
    .await;
    bar.finish_and_clear();
    let (report, stopped): (Report, Option<batch::ImportError>) = match result {
        Ok(report) => (report, None),
        Err((report, e)) => (report, Some(e)),
    };
    match format {
        ReportFormat::Json => println!("{}", report.to_json()),
        ReportFormat::Text => println!("{}", report.sentence()),
    }
    if let Some(e) = stopped {
        // The file changed since it was checked: stop, saying where.
        return refuse(e.line(), &e);
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// Writes what `actor` may see of a kind to `output` (standard output if none).
pub(crate) async fn export<K: Kind>(
    kind: &K,
    actor: UserId,
    output: Option<&Path>,
    format: ExportFormat,
) -> Result<()> {
    let sink: Box<dyn std::io::Write + Send> = match output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write `{}`", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    match format {
        ExportFormat::Csv => {
            let mut out = tenure_core::csv::CsvWriter::new(sink);
            let mut write = |cells: &[String]| -> Result<()> {
                out.write_record(cells)?;
                Ok(())
            };
            batch::export(kind, actor, &mut write).await?;
            out.finish()?.flush()?;
        }
        ExportFormat::Json => {
            let mut out = std::io::BufWriter::new(sink);
            let mut header: Option<Vec<String>> = None;
            let mut write = |cells: &[String]| -> Result<()> {
                let Some(columns) = &header else {
                    header = Some(cells.to_vec());
                    return Ok(());
                };
                let object: serde_json::Map<String, serde_json::Value> = columns
                    .iter()
                    .zip(cells)
                    .map(|(c, v)| (c.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                writeln!(out, "{}", serde_json::Value::Object(object))?;
                Ok(())
            };
            batch::export(kind, actor, &mut write).await?;
            out.flush()?;
        }
    }
    Ok(())
}
