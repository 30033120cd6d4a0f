//! `tenure mail`: the mail queue for operators. `status` shows how many messages stand
//! where and lists those that could not be delivered; `retry ID` queues one of them
//! again (the running service's courier delivers it); `deliver` delivers everything due
//! now and exits (after a batch import, which queues its invitations and leaves them to
//! the courier), under the courier's own leases, so it may run beside `tenure serve`.
//! Bodies are never shown: they may hold a link.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use tenure_core::limits::LimitPolicy;
use tenure_core::{MailStatus, Page, Round};
use uuid::Uuid;

use crate::Zone;
use crate::app::{MailArgs, Services, StoreArgs, Timings};

/// The mail queue.
#[derive(Debug, Subcommand)]
pub(crate) enum MailCommand {
    /// How many messages are queued, sent and undeliverable, and the undeliverable ones
    /// (newest first, at most 100).
    Status {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        mail: MailArgs,
        #[command(flatten)]
        zone: Zone,
    },
    /// Deliver every queued message that is due now, then exit: a progress bar on a
    /// terminal, the counts at the end, exit 1 if some could not be sent (they stay
    /// queued and are tried again later, or listed by `tenure mail status` once given
    /// up on). Safe beside a running `tenure serve`: each message is held by one courier.
    Deliver {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// Queue an undeliverable message again, by the id `tenure mail status` shows.
    Retry {
        /// The message's id.
        id: String,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        mail: MailArgs,
    },
}

/// Runs a `tenure mail` command.
pub(crate) async fn run(command: MailCommand) -> Result<ExitCode> {
    match command {
        MailCommand::Status { store, mail, zone } => {
            let services = Services::open(&store, &mail).await?;
            let courier = &services.core.courier;
            let counts = courier.counts().await?;
            println!(
                "queued: {}\nsent: {}\nundeliverable: {}",
                counts.queued, counts.sent, counts.abandoned
            );
            let stuck = courier.undeliverable(Page::numbered(1, Page::MAX_LIMIT)).await?;
            if !stuck.is_empty() {
                println!("\nUndeliverable (retry one with `tenure mail retry ID`):");
            }
            for m in stuck {
                debug_assert_eq!(m.status, MailStatus::Abandoned);
                let queued = tenure_core::moment::format(m.created, &zone.time_zone);
                println!(
                    "{}  {}  to {}  queued {queued}  {} attempts  last error: {}",
                    m.id,
                    m.kind,
                    m.recipient,
                    m.attempts,
                    m.last_error.as_deref().unwrap_or("none")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        MailCommand::Deliver { store, mail } => deliver(&store, &mail).await,
        MailCommand::Retry { id, store, mail } => {
            let Ok(id) = Uuid::parse_str(id.trim()) else {
                tracing::error!(
                    "`{}` is not a message id; give the id `tenure mail status` shows (a UUID such as 0190a5c2-7f3e-7d41-9a0b-2c4d6e8f1a3b)",
                    tenure_domain::name::quoted(&id)
                );
                return Ok(ExitCode::from(2));
            };
            let services = Services::open(&store, &mail).await?;
            if services.core.courier.retry(id).await? {
                println!("Message {id} is queued again; the running service's courier sends it.");
                Ok(ExitCode::SUCCESS)
            } else {
                tracing::error!(
                    "no undeliverable message has the id {id}; `tenure mail status` lists them"
                );
                Ok(ExitCode::from(2))
            }
        }
    }
}

/// `tenure mail deliver`: rounds of the courier until a round finds nothing due (a
/// message that fails is due again only after its backoff, so it is tried once here), or
/// until the rounds that what was queued at the start needs, and one more, have run (so
/// mail queued meanwhile by a busy service cannot keep it going for ever).
async fn deliver(store: &StoreArgs, mail: &MailArgs) -> Result<ExitCode> {
    let policy = crate::batch::courier_policy();
    let batch = policy.batch.max(1);
    let services = Services::open_configured(
        store,
        mail,
        Timings::default(),
        LimitPolicy::unlimited(),
        policy,
    )
    .await?;
    let courier = &services.core.courier;
    let queued = courier.counts().await?.queued;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(queued);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} emails {per_sec} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let rounds = usize::try_from(queued).unwrap_or(usize::MAX).div_ceil(batch).saturating_add(1);
    let mut total = Round::default();
    for _ in 0..rounds {
        let round = courier.run_once().await?;
        total.claimed += round.claimed;
        total.sent += round.sent;
        total.retrying += round.retrying;
        total.abandoned += round.abandoned;
        total.lost_lease += round.lost_lease;
        bar.inc(round.claimed as u64);
        if round.claimed == 0 {
            break;
        }
    }
    bar.finish_and_clear();
    println!(
        "sent: {}\nfailed, to be tried again: {}\nundeliverable: {}",
        total.sent, total.retrying, total.abandoned
    );
    if total.lost_lease > 0 {
        println!(
            "{} answers were not recorded: another courier claimed those messages after this one's lease ran out",
            total.lost_lease
        );
    }
    let left = courier.counts().await?.queued;
    if left > 0 {
        println!(
            "still queued: {left} (not due yet, or held by another courier; `tenure serve` delivers them)"
        );
    }
    if total.retrying + total.abandoned > 0 {
        tracing::error!(
            "{} emails could not be sent; `tenure mail status` lists the undeliverable ones",
            total.retrying + total.abandoned
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
