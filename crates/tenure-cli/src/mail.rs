//! `tenure mail`: the mail queue for operators. `status` shows how many messages stand
//! where and lists those that could not be delivered; `retry ID` queues one of them
//! again (the running service's courier delivers it). Bodies are never shown: they may
//! hold a link.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use tenure_core::{MailStatus, Page};
use uuid::Uuid;

use crate::Zone;
use crate::app::{MailArgs, Services, StoreArgs};

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
