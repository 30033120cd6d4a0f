//! The courier: mail queued in the database in the same transaction as the change it
//! announces, then delivered with retries (after Ory Kratos' courier).
//!
//! A service never sends mail itself. It adds a [`QueuedMail`] to the change it applies
//! ([`crate::Write::QueueMail`], or the account store's operations that issue a reset link
//! or set a password), so the message exists exactly when the change does: a refused
//! change queues nothing, and a mail server that is down loses nothing.
//!
//! [`Courier`] delivers from the [`MailQueue`] port through the [`Mailer`] port:
//! - it claims due messages with a lease (on PostgreSQL with `FOR UPDATE SKIP LOCKED`), so
//!   several instances never hold one message at once; the claim counts an attempt, and
//!   the attempt number fences the answer (a courier whose lease ran out cannot mark a
//!   message another one has claimed since);
//! - a delivered message is marked sent and its body (which may hold a link) erased;
//! - a failure is retried after an exponential backoff, and abandoned after
//!   [`CourierPolicy::max_attempts`]; an administrator may retry an abandoned message.
//!
//! Delivery is at least once: a courier that dies between handing a message to the mail
//! server and marking it sent leaves it to be sent again when its lease runs out.
//!
//! Right after a change commits, its service asks the courier to deliver that change's
//! messages at once ([`Courier::deliver_now`]), under the same claim, so mail is not kept
//! waiting for the next round; whatever fails then stays queued for the loop.

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::BackendError;
use crate::notification::Notification;
use crate::ports::{Clock, Mailer, Page, Timestamp};

/// A message to queue with a change: written in the change's transaction.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct QueuedMail {
    /// Its id.
    pub id: Uuid,
    /// What to tell whom (rendered only when it is delivered).
    pub notification: Notification,
    /// When it was queued (it is due at once).
    pub queued: Timestamp,
}

impl QueuedMail {
    /// A message queued at `queued`.
    pub fn new(id: Uuid, queued: Timestamp, notification: Notification) -> Self {
        Self { id, notification, queued }
    }

    /// Its kind, as stored beside it (`invitation`, `password_reset`, ...).
    pub fn kind(&self) -> String {
        kind_of(&self.notification)
    }

    /// Its body as stored: the notification as JSON.
    ///
    /// # Errors
    /// [`BackendError`] if it cannot be written as JSON (it always can).
    pub fn body(&self) -> Result<String, BackendError> {
        serde_json::to_string(&self.notification).map_err(BackendError::new)
    }
}

/// A notification's kind: its serde tag (`invitation`, `password_reset`, ...).
pub fn kind_of(notification: &Notification) -> String {
    match serde_json::to_value(notification) {
        Ok(serde_json::Value::Object(fields)) => match fields.get("kind") {
            Some(serde_json::Value::String(kind)) => kind.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// A stored body read back.
///
/// # Errors
/// [`BackendError`] if it is not a notification.
pub fn read_body(body: &str) -> Result<Notification, BackendError> {
    serde_json::from_str(body).map_err(BackendError::new)
}

/// Where a queued message stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MailStatus {
    /// Waiting for delivery (or for its next attempt).
    Queued,
    /// Handed to the mail server; its body is erased.
    Sent,
    /// Given up on after too many failures; an administrator may retry it.
    Abandoned,
}

impl MailStatus {
    /// The stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Abandoned => "abandoned",
        }
    }

    /// The status from its stored form.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Sent, Self::Abandoned].into_iter().find(|m| m.as_str() == s)
    }
}

/// A queued message as administrators see it: never its body.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MailRecord {
    /// Its id.
    pub id: Uuid,
    /// The recipient's address.
    pub recipient: String,
    /// What kind of message it is (`invitation`, `password_reset`, ...).
    pub kind: String,
    /// Where it stands.
    pub status: MailStatus,
    /// How many deliveries were tried.
    pub attempts: u32,
    /// When the next attempt is due (for a queued message).
    pub next_attempt: Timestamp,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created: Timestamp,
    /// When it was delivered.
    pub sent: Option<Timestamp>,
}

/// A message a courier holds under a lease, to deliver.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Claimed {
    /// Its id.
    pub id: Uuid,
    /// What to send.
    pub notification: Notification,
    /// This attempt's number (from 1); it fences the answer.
    pub attempt: u32,
}

/// How many messages stand where.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct QueueCounts {
    /// Waiting for delivery.
    pub queued: u64,
    /// Delivered (kept until pruned).
    pub sent: u64,
    /// Given up on.
    pub abandoned: u64,
}

/// What a failed attempt leads to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AfterFailure {
    /// Try again at this moment.
    RetryAt(Timestamp),
    /// Give up: the message is abandoned.
    Abandon,
}

/// Storage for the mail queue. Messages are added by the write ports, in the transaction
/// of the change they announce; this port delivers and looks after them.
#[async_trait]
pub trait MailQueue: Send + Sync + 'static {
    /// Claims up to `limit` queued messages due at `now` (those due longest first), or
    /// only those of `only` when given, and returns them oldest first: each gets one more attempt and is held until `lease_until`, so
    /// no other courier claims it meanwhile. A message whose body is gone is not claimed.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures (a stored body that no longer reads
    /// as a notification included).
    async fn claim(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
        only: Option<&[Uuid]>,
    ) -> Result<Vec<Claimed>, BackendError>;

    /// Marks a claimed message sent at `at` and erases its body, if it is still queued
    /// under this `attempt`; whether it was.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn mark_sent(&self, id: Uuid, attempt: u32, at: Timestamp) -> Result<bool, BackendError>;

    /// Records a failed attempt (if the message is still queued under this `attempt`):
    /// `error` becomes its last error, and it is retried or abandoned; whether it was.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn mark_failed(
        &self,
        id: Uuid,
        attempt: u32,
        error: &str,
        then: AfterFailure,
    ) -> Result<bool, BackendError>;

    /// One page of the abandoned messages, newest first.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn undeliverable(&self, page: Page) -> Result<Vec<MailRecord>, BackendError>;

    /// One message, without its body.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn message(&self, id: Uuid) -> Result<Option<MailRecord>, BackendError>;

    /// Queues an abandoned message again, due at `now` with its attempts counted from
    /// zero; whether there was such a message.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn retry(&self, id: Uuid, now: Timestamp) -> Result<bool, BackendError>;

    /// How many messages stand where.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn counts(&self) -> Result<QueueCounts, BackendError>;

    /// Deletes up to `batch` sent messages sent before `before` and abandoned messages
    /// queued before it (oldest first); how many it deleted. Queued messages are never
    /// pruned.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn prune(&self, before: Timestamp, batch: usize) -> Result<u64, BackendError>;
}

/// How the courier delivers.
#[derive(Clone, Debug)]
pub struct CourierPolicy {
    /// Messages claimed at a time.
    pub batch: usize,
    /// How long a claim holds a message from other couriers.
    pub lease_ms: i64,
    /// The wait after the first failure; it doubles with each failure after.
    pub first_retry_ms: i64,
    /// The longest wait between attempts.
    pub max_retry_ms: i64,
    /// After this many failed attempts a message is abandoned.
    pub max_attempts: u32,
    /// Whether a service delivers its change's messages as soon as the change commits
    /// (the loop still delivers whatever that leaves).
    pub deliver_at_once: bool,
}

impl Default for CourierPolicy {
    fn default() -> Self {
        Self {
            batch: 50,
            lease_ms: 5 * 60 * 1000,
            first_retry_ms: 30 * 1000,
            max_retry_ms: 60 * 60 * 1000,
            max_attempts: 10,
            deliver_at_once: true,
        }
    }
}

impl CourierPolicy {
    /// The wait after failed attempt number `attempt` (from 1): `first_retry_ms` doubled
    /// for each attempt after the first, at most `max_retry_ms`.
    pub fn backoff_ms(&self, attempt: u32) -> i64 {
        let doublings = attempt.saturating_sub(1).min(32);
        self.first_retry_ms.saturating_mul(1_i64 << doublings).min(self.max_retry_ms)
    }
}

/// What one round of delivery did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Round {
    /// Messages claimed.
    pub claimed: usize,
    /// Delivered.
    pub sent: usize,
    /// Failed, to be tried again.
    pub retrying: usize,
    /// Failed for the last time.
    pub abandoned: usize,
    /// Answers a courier could not record because its lease had run out and another
    /// courier claimed the message since.
    pub lost_lease: usize,
}

impl Round {
    fn add(&mut self, other: Self) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retrying += other.retrying;
        self.abandoned += other.abandoned;
        self.lost_lease += other.lost_lease;
    }
}

/// Delivers queued mail through a [`Mailer`].
#[derive(Clone)]
pub struct Courier {
    queue: Arc<dyn MailQueue>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    policy: CourierPolicy,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl Courier {
    /// A courier over this queue and mailer.
    pub fn new(
        queue: Arc<dyn MailQueue>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        policy: CourierPolicy,
    ) -> Self {
        Self { queue, mailer, clock, policy }
    }

    /// The policy in force.
    pub fn policy(&self) -> &CourierPolicy {
        &self.policy
    }

    /// One round: claims up to a batch of due messages and delivers them.
    ///
    /// # Errors
    /// [`BackendError`] when the queue fails (a mail server that fails is a failed
    /// attempt, recorded, not an error).
    pub async fn run_once(&self) -> Result<Round, BackendError> {
        self.round(None).await
    }

    /// Delivers these messages now, if they are still queued and due (a service calls it
    /// right after its change commits). Best effort: a failure stays queued for the loop.
    pub async fn deliver_now(&self, ids: &[Uuid]) -> Round {
        if !self.policy.deliver_at_once || ids.is_empty() {
            return Round::default();
        }
        self.round(Some(ids)).await.unwrap_or_default()
    }

    /// Rounds until nothing due is left or `max_rounds` rounds ran (at shutdown).
    ///
    /// # Errors
    /// [`BackendError`] when the queue fails.
    pub async fn flush(&self, max_rounds: usize) -> Result<Round, BackendError> {
        let mut total = Round::default();
        for _ in 0..max_rounds {
            let round = self.run_once().await?;
            total.add(round);
            if round.claimed == 0 {
                break;
            }
        }
        Ok(total)
    }

    async fn round(&self, only: Option<&[Uuid]>) -> Result<Round, BackendError> {
        let now = self.clock.now();
        let lease_until = Timestamp(now.0.saturating_add(self.policy.lease_ms));
        let claimed = self.queue.claim(now, lease_until, self.policy.batch, only).await?;
        let mut round = Round { claimed: claimed.len(), ..Round::default() };
        for message in claimed {
            let (id, attempt) = (message.id, message.attempt);
            let recorded = match self.mailer.send(message.notification).await {
                Ok(()) => {
                    round.sent += 1;
                    self.queue.mark_sent(id, attempt, self.clock.now()).await?
                }
                Err(e) => {
                    let then = if attempt >= self.policy.max_attempts {
                        round.abandoned += 1;
                        AfterFailure::Abandon
                    } else {
                        round.retrying += 1;
                        let wait = self.policy.backoff_ms(attempt);
                        AfterFailure::RetryAt(Timestamp(self.clock.now().0.saturating_add(wait)))
                    };
                    self.queue.mark_failed(id, attempt, &describe(&e), then).await?
                }
            };
            if !recorded {
                round.lost_lease += 1;
            }
        }
        Ok(round)
    }

    /// How many messages stand where.
    ///
    /// # Errors
    /// [`BackendError`] when the queue fails.
    pub async fn counts(&self) -> Result<QueueCounts, BackendError> {
        self.queue.counts().await
    }

    /// One page of the messages that could not be delivered, newest first. For the
    /// command line (an operator); the web asks [`crate::Manage::undeliverable_mail`],
    /// which asks the engine first.
    ///
    /// # Errors
    /// [`BackendError`] when the queue fails.
    pub async fn undeliverable(&self, page: Page) -> Result<Vec<MailRecord>, BackendError> {
        self.queue.undeliverable(page).await
    }

    /// Queues an abandoned message again, due now; whether there was one with this id.
    ///
    /// # Errors
    /// [`BackendError`] when the queue fails.
    pub async fn retry(&self, id: Uuid) -> Result<bool, BackendError> {
        self.queue.retry(id, self.clock.now()).await
    }

    /// Deletes up to `batch` delivered or abandoned messages older than `before`; how
    /// many (for housekeeping, which calls it until it returns less than `batch`).
    ///
    /// # Errors
    /// [`BackendError`] when the queue fails.
    pub async fn prune(&self, before: Timestamp, batch: usize) -> Result<u64, BackendError> {
        self.queue.prune(before, batch).await
    }
}

/// A mailer's failure as one line for the queue's last error: the error and its causes,
/// cut to 500 characters.
fn describe(e: &BackendError) -> String {
    use std::error::Error;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().filter(|c| !c.is_control()).take(500).collect()
}

#[cfg(test)]
mod tests;
