//! The courier: mail queued in the database in the same transaction as the change it
//! announces, then delivered with retries (after Ory Kratos' courier).
//!
//! A service never sends mail itself. It adds a [`QueuedMail`] to the change it applies
//! ([`crate::Write::QueueMail`], or the account store's operations that issue a reset link
//! or set a password), so the message exists exactly when the change does: a refused
//! change queues nothing, and a mail server that is down loses nothing.
//!
//! A queued body may hold a live link (a reset or an invitation), so it is never stored
//! in the clear: [`Courier::seal`] seals it with the [`Vault`] (an AEAD under the
//! service's secret key, which is never in the database) bound to the message's id, and
//! a store refuses a message that was not sealed. Only the courier opens it, to deliver
//! it; a body that does not open (sealed under another key, or altered) is abandoned with
//! an error saying why, and never sent.
//!
//! [`Courier`] delivers from the [`MailQueue`] port through the [`Mailer`] port:
//! - it claims due messages with a lease (on PostgreSQL with `FOR UPDATE SKIP LOCKED`), so
//!   several instances never hold one message at once; the claim counts an attempt, and
//!   the attempt number fences the answer (a courier whose lease ran out cannot mark a
//!   message another one has claimed since);
//! - a delivered message is marked sent and its body erased, a round's delivered messages
//!   together in one transaction ([`MailQueue::mark_all_sent`], each still fenced by its
//!   attempt number); only what the mail server took is marked;
//! - a failure is retried after an exponential backoff, and abandoned after
//!   [`CourierPolicy::max_attempts`]; an administrator may retry an abandoned message.
//!
//! Delivery is at least once: a courier that dies between handing a message to the mail
//! server and marking it sent (at the end of its round) leaves it to be sent again when
//! its lease runs out.
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
use crate::second_factor::Vault;

/// A message to queue with a change: written in the change's transaction, once sealed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct QueuedMail {
    /// Its id (also the context its body is sealed under).
    pub id: Uuid,
    /// When it was queued (it is due at once).
    pub queued: Timestamp,
    recipient: String,
    kind: String,
    body: Body,
}

/// A queued message's body: open until [`QueuedMail::seal`], which stores require.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Body {
    Open(Notification),
    Sealed(String),
}

/// How a stored body starts: sealed, then the sealed bytes in hexadecimal.
const SEALED: &str = "sealed:";

impl QueuedMail {
    /// A message queued at `queued`, still open: seal it ([`Courier::seal`]) before it
    /// is written, or the store refuses it.
    pub fn new(id: Uuid, queued: Timestamp, notification: Notification) -> Self {
        Self {
            id,
            queued,
            recipient: notification.to().to_string(),
            kind: kind_of(&notification),
            body: Body::Open(notification),
        }
    }

    /// The recipient's address, stored beside the body in the clear (administrators see
    /// it in the list of undeliverable mail).
    pub fn recipient(&self) -> &str {
        &self.recipient
    }

    /// Its kind, as stored beside it (`invitation`, `password_reset`, ...).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The same message with its body sealed by `vault`, bound to its id (sealing twice
    /// changes nothing).
    ///
    /// # Errors
    /// [`BackendError`] when the vault cannot seal.
    pub fn seal(self, vault: &dyn Vault) -> Result<Self, BackendError> {
        let Body::Open(notification) = &self.body else { return Ok(self) };
        let json = serde_json::to_vec(notification).map_err(BackendError::new)?;
        let sealed = vault.seal(&json, &context(self.id))?;
        Ok(Self { body: Body::Sealed(format!("{SEALED}{}", hex(&sealed))), ..self })
    }

    /// Its body as stored: sealed, as text.
    ///
    /// # Errors
    /// [`BackendError`] if it was never sealed: nothing stores a body in the clear.
    pub fn body(&self) -> Result<&str, BackendError> {
        match &self.body {
            Body::Sealed(text) => Ok(text),
            Body::Open(_) => Err(BackendError::new(format!(
                "mail `{}` was not sealed: a queued body may hold a link, so it is stored only sealed (Courier::seal)",
                self.id
            ))),
        }
    }
}

/// The context a message's body is sealed under: its id, under a label of its own, so a
/// body moved to another row (or a second factor's secret moved into the queue) does not
/// open.
fn context(id: Uuid) -> Vec<u8> {
    [b"tenure mail ".as_slice(), id.as_bytes()].concat()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
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

/// Why a stored body could not be opened: the message cannot be delivered by this
/// process, and is abandoned with its text as its last error.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Unopened {
    /// It does not open with this key: sealed under another one, or altered.
    #[error(
        "its body does not open with this process's secret key: it was sealed under another key (or altered). Run the courier with the key it was queued under (`secret_key_file`, TENURE_SECRET_KEY_FILE), then retry it; under a new key it cannot be sent, so make the change again"
    )]
    OtherKey,
    /// It is not a sealed body (stored in the clear, or damaged).
    #[error("its stored body is not sealed (stored in the clear or damaged), so it is not sent")]
    NotSealed,
    /// It opened but is not a notification this version knows.
    #[error("its body opened but is not a notification this version of Tenure knows: {0}")]
    Unknown(String),
}

/// Opens a stored body with `vault`, as sealed for message `id`.
///
/// # Errors
/// [`Unopened`] when it is not sealed, does not open with this key and id, or is not a
/// notification.
pub fn open_body(vault: &dyn Vault, id: Uuid, body: &str) -> Result<Notification, Unopened> {
    let sealed = body.strip_prefix(SEALED).and_then(unhex).ok_or(Unopened::NotSealed)?;
    let plain = vault.open(&sealed, &context(id)).map_err(|_| Unopened::OtherKey)?;
    serde_json::from_slice(&plain).map_err(|e| Unopened::Unknown(e.to_string()))
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
    /// Its body as stored (sealed; the courier opens it with [`open_body`]).
    pub body: String,
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
    /// [`BackendError`] only for unexpected failures.
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

    /// Marks a round's delivered messages sent at `at`, each `(id, attempt)` only if it is
    /// still queued under that attempt (as [`MailQueue::mark_sent`]), in one transaction;
    /// how many were. The default marks them one at a time; stores override it.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures (then none is marked, where the store
    /// has transactions; the messages are sent again once their lease runs out).
    async fn mark_all_sent(
        &self,
        sent: &[(Uuid, u32)],
        at: Timestamp,
    ) -> Result<usize, BackendError> {
        let mut marked = 0;
        for &(id, attempt) in sent {
            if self.mark_sent(id, attempt, at).await? {
                marked += 1;
            }
        }
        Ok(marked)
    }

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
    /// Failed for the last time (those that did not open included).
    pub abandoned: usize,
    /// Abandoned because their body did not open with this process's key.
    pub unopened: usize,
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
        self.unopened += other.unopened;
        self.lost_lease += other.lost_lease;
    }
}

/// Delivers queued mail through a [`Mailer`].
#[derive(Clone)]
pub struct Courier {
    queue: Arc<dyn MailQueue>,
    mailer: Arc<dyn Mailer>,
    vault: Arc<dyn Vault>,
    clock: Arc<dyn Clock>,
    policy: CourierPolicy,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl Courier {
    /// A courier over this queue and mailer, sealing and opening bodies with `vault`
    /// (under the service's secret key).
    pub fn new(
        queue: Arc<dyn MailQueue>,
        mailer: Arc<dyn Mailer>,
        vault: Arc<dyn Vault>,
        clock: Arc<dyn Clock>,
        policy: CourierPolicy,
    ) -> Self {
        Self { queue, mailer, vault, clock, policy }
    }

    /// Seals a message's body for the queue (services call it before writing the
    /// message with its change).
    ///
    /// # Errors
    /// [`BackendError`] when the vault cannot seal.
    pub fn seal(&self, mail: QueuedMail) -> Result<QueuedMail, BackendError> {
        mail.seal(&*self.vault)
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
        // What the transport took, marked together once the round is over (one
        // transaction a round, not one a message); failures are marked as they happen.
        let mut sent = Vec::with_capacity(claimed.len());
        for message in claimed {
            let (id, attempt) = (message.id, message.attempt);
            let notification = match open_body(&*self.vault, id, &message.body) {
                Ok(notification) => notification,
                Err(unopened) => {
                    // Another try under this key cannot do better: abandoned at once, with
                    // the reason for `tenure mail status` and the administrators' list.
                    round.abandoned += 1;
                    round.unopened += 1;
                    let error = format!("not sent: {unopened}");
                    if !self.queue.mark_failed(id, attempt, &error, AfterFailure::Abandon).await? {
                        round.lost_lease += 1;
                    }
                    continue;
                }
            };
            let recorded = match self.mailer.send(notification).await {
                Ok(()) => {
                    round.sent += 1;
                    sent.push((id, attempt));
                    continue;
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
        if !sent.is_empty() {
            let marked = self.queue.mark_all_sent(&sent, self.clock.now()).await?;
            round.lost_lease += sent.len().saturating_sub(marked);
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
