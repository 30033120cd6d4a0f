//! Fakes for the ports with no real IO: a clock the test moves, ids in sequence, and a
//! password hasher that counts its checks.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;
use tenure_core::{BackendError, Clock, IdGen, Notification, PasswordHasher, Timestamp, Verified};
use tenure_domain::NewPassword;
use tenure_domain::password::normalise;
use tenure_mail::Message;
use uuid::Uuid;

/// A clock that stands still until the test moves it.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock at this many milliseconds since the epoch.
    pub fn at(ms: i64) -> Self {
        Self(AtomicI64::new(ms))
    }

    /// Moves the clock forward.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// Ids 1, 2, 3, ... (as UUIDs), so test output is deterministic.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl IdGen for SequentialIds {
    fn next_id(&self) -> Uuid {
        Uuid::from_u128(
            0xA000_0000_0000_0000_0000_0000_0000_0000
                | u128::from(self.0.fetch_add(1, Ordering::SeqCst) + 1),
        )
    }
}

/// A fast stand-in for Argon2 that counts its checks, for the structural timing tests
/// (every sign-in branch costs exactly one check). Hashes look like `fake$COST$password`;
/// a hash with another cost verifies and asks to be rehashed.
#[derive(Debug)]
pub struct CountingHasher {
    cost: u32,
    verifies: AtomicUsize,
    hashes: AtomicUsize,
    dummy: String,
    log: Mutex<Vec<String>>,
    busy: std::sync::atomic::AtomicBool,
}

impl CountingHasher {
    /// While busy, every check answers [`Verified::Unavailable`] without checking, as a
    /// hasher at capacity does.
    pub fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Ordering::SeqCst);
    }

    /// A hasher whose current cost is `cost`.
    pub fn with_cost(cost: u32) -> Self {
        Self {
            cost,
            verifies: AtomicUsize::new(0),
            hashes: AtomicUsize::new(0),
            dummy: format!("fake${cost}$\u{0}dummy"),
            log: Mutex::default(),
            busy: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// How many checks ran.
    pub fn verifies(&self) -> usize {
        self.verifies.load(Ordering::SeqCst)
    }

    /// How many hashes were made.
    pub fn hashes(&self) -> usize {
        self.hashes.load(Ordering::SeqCst)
    }

    /// The stored hash for a password at this hasher's cost.
    pub fn hash_of(&self, password: &str) -> String {
        format!("fake${}${}", self.cost, normalise(password))
    }
}

#[async_trait]
impl PasswordHasher for CountingHasher {
    async fn hash(&self, password: &NewPassword) -> Result<String, BackendError> {
        self.hashes.fetch_add(1, Ordering::SeqCst);
        Ok(self.hash_of(password.expose()))
    }

    async fn verify(&self, password: &str, stored: &str) -> Verified {
        if self.busy.load(Ordering::SeqCst) {
            return Verified::Unavailable;
        }
        self.verifies.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut log) = self.log.lock() {
            log.push(stored.to_owned());
        }
        let mut parts = stored.splitn(3, '$');
        let (Some("fake"), Some(cost), Some(plain)) = (parts.next(), parts.next(), parts.next())
        else {
            return Verified::NoMatch;
        };
        if plain != normalise(password) {
            Verified::NoMatch
        } else if cost == self.cost.to_string() {
            Verified::Match
        } else {
            Verified::MatchNeedsRehash
        }
    }

    fn dummy(&self) -> &str {
        &self.dummy
    }
}

/// Tokens `token-1`, `token-2`, ... with digests `digest(token-N)`: predictable, so a test
/// can check storage never holds the token itself.
#[derive(Debug, Default)]
pub struct SequentialSecrets(AtomicU64);

impl tenure_core::Secrets for SequentialSecrets {
    fn token(&self) -> Result<tenure_core::Token, BackendError> {
        let plain = format!("token-{}", self.0.fetch_add(1, Ordering::SeqCst) + 1);
        Ok(tenure_core::Token { digest: self.digest(&plain), plain })
    }

    fn digest(&self, plain: &str) -> String {
        format!("digest({plain})")
    }
}

/// A mailer that renders what it was given, as the real ones do, and keeps it, for tests
/// to read subjects, bodies and links out of.
#[derive(Debug, Default)]
pub struct MemoryMailer(Mutex<Vec<Message>>);

impl MemoryMailer {
    /// Everything sent so far.
    pub fn sent(&self) -> Vec<Message> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The value of `token=` in the last message to this address.
    pub fn last_token_for(&self, to: &str) -> Option<String> {
        let sent = self.sent();
        let message = sent.iter().rev().find(|m| m.to.as_str() == to)?;
        let at = message.text.find("token=")? + "token=".len();
        Some(message.text[at..].chars().take_while(|c| !c.is_whitespace()).collect())
    }
}

#[async_trait]
impl tenure_core::Mailer for MemoryMailer {
    async fn send(&self, notification: Notification) -> Result<(), BackendError> {
        let message = tenure_mail::render(&notification).map_err(BackendError::new)?;
        self.0
            .lock()
            .map_err(|_| BackendError::new("the memory mailer's lock is poisoned"))?
            .push(message);
        Ok(())
    }
}

/// A mailer that refuses every message while it is down (as an SMTP server that does not
/// answer), and otherwise keeps them as a [`MemoryMailer`] does.
#[derive(Debug, Default)]
pub struct SwitchedMailer {
    down: std::sync::atomic::AtomicBool,
    /// What it delivered.
    pub delivered: MemoryMailer,
}

impl SwitchedMailer {
    /// Takes it down (`true`) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

#[async_trait]
impl tenure_core::Mailer for SwitchedMailer {
    async fn send(&self, notification: Notification) -> Result<(), BackendError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(BackendError::new(std::io::Error::other("the mail server is down")));
        }
        tenure_core::Mailer::send(&self.delivered, notification).await
    }
}

/// The secret key tests seal with (the web tests' stacks use it too).
pub const TEST_KEY: [u8; 32] = [7; 32];

/// The real vault under [`TEST_KEY`].
pub fn vault() -> std::sync::Arc<tenure_secrets_os::KeyVault> {
    std::sync::Arc::new(tenure_secrets_os::KeyVault::from_key(&TEST_KEY))
}

/// A courier with the default policy (delivering each change's mail as soon as it
/// commits, as the services ask) sealing under [`TEST_KEY`], for tests that wire
/// services by hand.
pub fn courier(
    queue: std::sync::Arc<dyn tenure_core::MailQueue>,
    mailer: std::sync::Arc<dyn tenure_core::Mailer>,
    clock: std::sync::Arc<dyn Clock>,
) -> tenure_core::Courier {
    tenure_core::Courier::new(queue, mailer, vault(), clock, tenure_core::CourierPolicy::default())
}
