//! Housekeeping: pruning what no longer counts (expired sessions, used or expired reset
//! links and one-time links, passed limiter buckets, and, through the courier, delivered
//! mail), in bounded batches, so no table grows without limit.
//!
//! Delivered mail is the courier's ([`DeliveredMail`], through the [`Prune`] hook).
//!
//! Each [`Sweep`] is one bounded statement in the store (at most `batch` rows); the
//! service repeats it until a batch comes back short, so no statement holds a lock for
//! long however much there is to do. The figures come back as a [`Report`] for the app
//! to log.
//!
//! What stays: a live session, a usable link, and the newest invitation or reactivation
//! link of each user whatever its state, because that link says whether they accepted
//! (`Manage::status`, and whether their roles are in force yet). Older invitation links
//! and every email confirmation link go once they are used, withdrawn, replaced or
//! expired.

use std::sync::Arc;

use async_trait::async_trait;

use crate::courier::Courier;
use crate::error::BackendError;
use crate::ports::{Clock, Timestamp};
use crate::sessions::SessionPolicy;

/// One kind of row to prune, with the moments that decide which rows are past it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sweep {
    /// Sessions last seen at or before `idle_since`, or started at or before
    /// `started_before` (the session service ends them then).
    Sessions {
        /// Now less the idle timeout.
        idle_since: Timestamp,
        /// Now less the absolute timeout.
        started_before: Timestamp,
    },
    /// Reset links used, or expired at or before `now`.
    ResetLinks {
        /// Now.
        now: Timestamp,
    },
    /// One-time links not usable at `now` (used, withdrawn, replaced or expired), except
    /// each user's newest invitation or reactivation link.
    Links {
        /// Now.
        now: Timestamp,
    },
    /// Limiter buckets whose theoretical arrival time is at or before `now` (the same as
    /// no bucket).
    LimitBuckets {
        /// Now.
        now: Timestamp,
    },
}

impl Sweep {
    /// Its name in the figures.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sessions { .. } => "sessions",
            Self::ResetLinks { .. } => "reset_links",
            Self::Links { .. } => "links",
            Self::LimitBuckets { .. } => "limit_buckets",
        }
    }
}

/// Deletes what a sweep names, a bounded batch at a time.
#[async_trait]
pub trait HousekeepingStore: Send + Sync + 'static {
    /// Deletes at most `batch` rows that `sweep` names, in one statement; returns how
    /// many went. Rows not named (live, usable, the newest invitation) are never touched.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn sweep(&self, sweep: Sweep, batch: u32) -> Result<u64, BackendError>;
}

/// Another thing to prune in bounded batches, kept by another port. The courier's
/// delivered messages come in through this hook: the app adds it with
/// [`Housekeeping::also`] (see `tenure serve`).
#[async_trait]
pub trait Prune: Send + Sync + 'static {
    /// Its name in the figures.
    fn name(&self) -> &'static str;

    /// Deletes at most `batch` rows that are done with at `now`; returns how many went.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn prune(&self, now: Timestamp, batch: u32) -> Result<u64, BackendError>;
}

/// The courier's delivered and abandoned messages, pruned once they are `kept_ms` old
/// (a delivered message's body is erased at delivery; the row stays a while for the
/// queue's figures and for administrators looking into what could not be delivered).
#[derive(Clone, Debug)]
pub struct DeliveredMail {
    courier: Courier,
    kept_ms: i64,
}

impl DeliveredMail {
    /// Messages kept this long after delivery (or after being given up on).
    pub fn new(courier: Courier, kept_ms: i64) -> Self {
        Self { courier, kept_ms }
    }
}

#[async_trait]
impl Prune for DeliveredMail {
    fn name(&self) -> &'static str {
        "delivered_mail"
    }

    async fn prune(&self, now: Timestamp, batch: u32) -> Result<u64, BackendError> {
        let before = Timestamp(now.0.saturating_sub(self.kept_ms));
        self.courier.prune(before, batch as usize).await
    }
}

/// How housekeeping runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HousekeepingPolicy {
    /// Rows a statement deletes at most.
    pub batch: u32,
    /// The session timeouts, which say when a session is past.
    pub sessions: SessionPolicy,
}

impl HousekeepingPolicy {
    /// How long delivered and abandoned mail is kept: 14 days.
    pub const MAIL_KEPT_MS: i64 = 14 * 24 * 60 * 60 * 1000;
}

impl Default for HousekeepingPolicy {
    fn default() -> Self {
        Self { batch: 1000, sessions: SessionPolicy::default() }
    }
}

/// What one run removed, by kind, and in how many statements.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Report {
    /// (kind, rows removed, statements run), in the order they ran.
    pub swept: Vec<(&'static str, u64, u32)>,
}

impl Report {
    /// Rows removed of one kind.
    #[must_use]
    pub fn removed(&self, name: &str) -> u64 {
        self.swept.iter().filter(|(n, ..)| *n == name).map(|(_, r, _)| r).sum()
    }

    /// Rows removed in all.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.swept.iter().map(|(_, r, _)| r).sum()
    }
}

impl std::fmt::Display for Report {
    /// `sessions=3 reset_links=0 ...`, for a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, removed, _)) in self.swept.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={removed}")?;
        }
        Ok(())
    }
}

/// The housekeeping service.
#[derive(Clone)]
pub struct Housekeeping {
    store: Arc<dyn HousekeepingStore>,
    others: Vec<Arc<dyn Prune>>,
    clock: Arc<dyn Clock>,
    policy: HousekeepingPolicy,
}

impl std::fmt::Debug for Housekeeping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Housekeeping").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl Housekeeping {
    /// The service over a store.
    pub fn new(
        store: Arc<dyn HousekeepingStore>,
        clock: Arc<dyn Clock>,
        policy: HousekeepingPolicy,
    ) -> Self {
        Self { store, others: Vec::new(), clock, policy: normalised(policy) }
    }

    /// The same service, also pruning `other` (the courier's delivered messages).
    #[must_use]
    pub fn also(mut self, other: Arc<dyn Prune>) -> Self {
        self.others.push(other);
        self
    }

    /// One run: every sweep, each repeated until a batch comes back short.
    ///
    /// # Errors
    /// [`BackendError`] from the first sweep that fails; what earlier sweeps removed
    /// stays removed.
    pub async fn run(&self) -> Result<Report, BackendError> {
        let now = self.clock.now();
        let batch = self.policy.batch;
        let sessions = self.policy.sessions;
        let sweeps = [
            Sweep::Sessions {
                idle_since: Timestamp(now.0.saturating_sub(sessions.idle_ms)),
                started_before: Timestamp(now.0.saturating_sub(sessions.absolute_ms)),
            },
            Sweep::ResetLinks { now },
            Sweep::Links { now },
            Sweep::LimitBuckets { now },
        ];
        let mut report = Report::default();
        for sweep in sweeps {
            let (removed, statements) = repeat(batch, || self.store.sweep(sweep, batch)).await?;
            report.swept.push((sweep.name(), removed, statements));
        }
        for other in &self.others {
            let (removed, statements) = repeat(batch, || other.prune(now, batch)).await?;
            report.swept.push((other.name(), removed, statements));
        }
        Ok(report)
    }
}

/// A batch of at least one row.
fn normalised(mut policy: HousekeepingPolicy) -> HousekeepingPolicy {
    policy.batch = policy.batch.max(1);
    policy
}

/// Runs `step` until it removes fewer than `batch` rows: (rows, statements).
async fn repeat<F, Fut>(batch: u32, mut step: F) -> Result<(u64, u32), BackendError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, BackendError>>,
{
    let (mut removed, mut statements) = (0, 0);
    loop {
        let n = step().await?;
        removed += n;
        statements += 1;
        if n < u64::from(batch) {
            return Ok((removed, statements));
        }
    }
}
