//! Tenure's `PasswordHasher`: Argon2id, version 0x13, PHC strings, a fresh 16-byte salt
//! from the operating system for every hash.
//!
//! Role in the workspace: an adapter. Allowed dependencies: `tenure-core`,
//! `tenure-domain`, `argon2`, `rand` (its OS generator only), `tokio` (the blocking pool
//! and a semaphore), `metrics` (the facade). Forbidden knowledge: storage, HTTP.
//!
//! Every hash and check runs on tokio's blocking pool, at most `permits` at a time, so a
//! burst of sign-ins queues instead of starving the executor or exhausting memory
//! (memory is about `m_cost × permits`).
//!
//! Production uses OWASP's parameters (19 MiB, 2 passes, 1 lane: `Argon2id::owasp`); tests
//! use the cheapest the algorithm allows (`Argon2id::cheap_for_tests`). A stored hash
//! made with other parameters still verifies, and says it needs rehashing, so raising the
//! cost upgrades every account at its next sign-in.
//!
//! Metrics (through the `metrics` facade; nothing unless an app installs a recorder):
//! the gauges `tenure_argon2_waiting` (checks queued for a permit) and
//! `tenure_argon2_running` (holding one), and the counter `tenure_argon2_refused_total`
//! (refused at once because the queue was full).

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRng as _;
use rand::rngs::SysRng;
use std::sync::Arc;

use async_trait::async_trait;
use std::sync::atomic::{AtomicUsize, Ordering};
use tenure_core::{BackendError, PasswordHasher, Verified};
use tenure_domain::NewPassword;
use tenure_domain::password::normalise;

use tokio::sync::Semaphore;

/// Argon2id with fixed parameters.
#[derive(Debug, Clone)]
pub struct Argon2id {
    params: Params,
    dummy: Arc<str>,
    permits: Arc<Semaphore>,
    /// Checks waiting for a permit, and how many may wait: past that, a check is refused
    /// at once instead of queueing without bound.
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

/// The hasher is at capacity.
#[derive(Debug)]
pub struct Busy;

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the password hasher is at capacity")
    }
}

impl std::error::Error for Busy {}

/// How many hashes run at once by default: one per core is the most that helps.
fn default_permits() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// Parameters Argon2 refuses.
#[derive(Debug)]
pub struct ParamsError(argon2::Error);

impl std::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid argon2 parameters: {}", self.0)
    }
}

impl std::error::Error for ParamsError {}

impl Argon2id {
    /// OWASP's recommendation (Password Storage Cheat Sheet): m = 19 MiB, t = 2, p = 1.
    ///
    /// # Errors
    /// [`BackendError`] if no random salt could be had for the start-up dummy hash.
    pub fn owasp() -> Result<Self, BackendError> {
        Self::with_params(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, Params::DEFAULT_P_COST)
    }

    /// The cheapest parameters Argon2 allows (8 KiB, 1 pass): for tests only.
    ///
    /// # Errors
    /// [`BackendError`] if no random salt could be had for the start-up dummy hash.
    pub fn cheap_for_tests() -> Result<Self, BackendError> {
        Self::with_params(8, 1, 1)
    }

    /// Memory in KiB, passes and lanes.
    ///
    /// # Errors
    /// [`BackendError`] for parameters Argon2 refuses, or no random salt.
    pub fn with_params(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, BackendError> {
        let params = Params::new(m_cost, t_cost, p_cost, None)
            .map_err(|e| BackendError::new(ParamsError(e)))?;
        let mut random = [0u8; 24];
        SysRng.try_fill_bytes(&mut random).map_err(BackendError::new)?;
        let phrase: String = random.iter().map(|b| char::from(b'a' + b % 26)).collect();
        let dummy = hash_str(&params, &phrase)?.into();
        let permits = default_permits();
        Ok(Self {
            params,
            dummy,
            permits: Arc::new(Semaphore::new(permits)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting: permits * 32,
        })
    }

    /// At most this many hashes or checks at once (at least one).
    #[must_use]
    pub fn with_permits(mut self, permits: usize) -> Self {
        self.permits = Arc::new(Semaphore::new(permits.max(1)));
        self
    }

    /// At most this many waiting for a permit (default 32 per permit: at OWASP's cost of
    /// about 25 ms a check on this machine, under half a second of queue). Past it,
    /// checks are refused at once as [`Verified::Unavailable`].
    #[must_use]
    pub fn with_max_waiting(mut self, waiting: usize) -> Self {
        self.max_waiting = waiting;
        self
    }

    /// Runs CPU-heavy work on the blocking pool, holding a permit.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(Params) -> T + Send + 'static,
    ) -> Result<T, BackendError> {
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        if queued >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            metrics::counter!("tenure_argon2_refused_total").increment(1);
            return Err(BackendError::new(Busy));
        }
        let permit = {
            let _waiting = Gauge::up("tenure_argon2_waiting");
            self.permits.acquire().await
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let _permit = permit.map_err(BackendError::new)?;
        let _running = Gauge::up("tenure_argon2_running");
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || work(params)).await.map_err(BackendError::new)
    }
}

/// A gauge raised while this lives (and lowered however the wait ends, a dropped request
/// included).
struct Gauge(&'static str);

impl Gauge {
    fn up(name: &'static str) -> Self {
        metrics::gauge!(name).increment(1.0);
        Self(name)
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

fn argon2(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_str(params: &Params, password: &str) -> Result<String, BackendError> {
    let mut salt = [0u8; 16];
    SysRng.try_fill_bytes(&mut salt).map_err(BackendError::new)?;
    let salt = SaltString::encode_b64(&salt).map_err(BackendError::new)?;
    let hash = argon2(params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map_err(BackendError::new)?;
    Ok(hash.to_string())
}

fn verify_str(params: &Params, password: &str, stored: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored) else { return Verified::NoMatch };
    let password = normalise(password);
    // The stored hash carries its own algorithm and parameters; verify with those.
    if Argon2::default().verify_password(password.as_bytes(), &parsed).is_err() {
        return Verified::NoMatch;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && parsed.version == Some(Version::V0x13.into())
        && Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == params.m_cost()
                && p.t_cost() == params.t_cost()
                && p.p_cost() == params.p_cost()
        });
    if current { Verified::Match } else { Verified::MatchNeedsRehash }
}

#[async_trait]
impl PasswordHasher for Argon2id {
    async fn hash(&self, password: &NewPassword) -> Result<String, BackendError> {
        let password = password.clone();
        self.run(move |params| hash_str(&params, password.expose())).await?
    }

    async fn verify(&self, password: &str, stored: &str) -> Verified {
        let (password, stored) = (password.to_owned(), stored.to_owned());
        match self.run(move |params| verify_str(&params, &password, &stored)).await {
            Ok(verified) => verified,
            Err(e) if std::error::Error::source(&e).is_some_and(|s| s.is::<Busy>()) => {
                Verified::Unavailable
            }
            // A failed worker fails closed.
            Err(_) => Verified::NoMatch,
        }
    }

    fn dummy(&self) -> &str {
        &self.dummy
    }
}
