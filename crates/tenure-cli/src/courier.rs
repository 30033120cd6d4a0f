//! The courier's loop under `tenure serve`: a task that delivers queued mail every few
//! seconds until it is told to stop, then flushes what is due before it ends.

use std::time::Duration;

use tenure_core::{Courier, Round};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How many rounds the flush at shutdown runs at most (a batch each), so a mail server
/// that hangs cannot hold the process for ever.
const FLUSH_ROUNDS: usize = 10;

/// The running loop; [`Running::stop`] ends it.
#[derive(Debug)]
pub(crate) struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Starts the loop: a round now, then one every `every`.
pub(crate) fn spawn(courier: Courier, every: Duration) -> Running {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            log(courier.run_once().await, "round");
            tokio::select! {
                _ = stopped.changed() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
        log(courier.flush(FLUSH_ROUNDS).await, "flush at shutdown");
    });
    Running { stop, task }
}

impl Running {
    /// Tells the loop to stop, and waits while it flushes what is due.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the courier's task failed");
        }
    }
}

fn log(result: Result<Round, tenure_core::BackendError>, what: &'static str) {
    match result {
        Ok(r) if r.claimed > 0 => tracing::info!(
            claimed = r.claimed,
            sent = r.sent,
            retrying = r.retrying,
            abandoned = r.abandoned,
            lost_lease = r.lost_lease,
            "courier {what}"
        ),
        Ok(_) => {}
        Err(e) => {
            let cause = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
            tracing::warn!(error = %e, cause, "courier {what} failed; the mail stays queued");
        }
    }
}
