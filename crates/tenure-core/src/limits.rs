//! Rate limits shared by every instance, kept in the database: per address (sign-in,
//! resets) and per account (reset emails, invitations), so two instances give no more
//! than one and a restart forgets nothing.
//!
//! Each limit is a generic cell rate algorithm (GCRA): a [`Rate`] of `count` per
//! `period` admits `count` hits at once, then one every `period / count`. A bucket (a
//! [`LimitKind`] and a key) stores one number, its theoretical arrival time (TAT); a hit
//! is one atomic statement in the store ([`LimitStore::hit`]), so concurrent hits on one
//! bucket admit exactly as many as the rate allows. A bucket whose TAT has passed is the
//! same as no bucket, so housekeeping deletes it.
//!
//! Adding a kind of limit is one line in the table below (its name, which settings use,
//! and its default rate); [`Limits::hit`] then takes it.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use async_trait::async_trait;
use tenure_domain::UserId;

use crate::error::BackendError;
use crate::ports::{Clock, Timestamp};

const SECOND_MS: i64 = 1000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Declares [`LimitKind`] from a table of one line a kind: its variant, its stored name
/// (also its settings key) and its default rate.
macro_rules! limit_kinds {
    ($($(#[doc = $doc:literal])* $kind:ident = $name:literal, $rate:expr;)+) => {
        /// What a limit counts, and whose: each kind is counted per key (an address's
        /// bucket or an account), under its own rate.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum LimitKind {
            $($(#[doc = $doc])* $kind,)+
        }

        impl LimitKind {
            /// Every kind, in the table's order.
            pub const ALL: &'static [Self] = &[$(Self::$kind),+];

            /// Its stored name, also its key in settings.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$kind => $name,)+
                }
            }

            /// The rate it has unless settings say otherwise.
            pub const fn default_rate(self) -> Rate {
                match self {
                    $(Self::$kind => $rate,)+
                }
            }
        }
    };
}

limit_kinds! {
    /// Sign-in attempts from one address.
    SignInAddress = "sign_in_address", Rate::per(10, MINUTE_MS);
    /// Reset requests, reset link uses and email confirmations from one address.
    ResetAddress = "reset_address", Rate::per(5, MINUTE_MS);
    /// Reset emails to one account, whoever asks (the answer stays the same past it).
    ResetAccount = "reset_account", Rate::per(3, HOUR_MS);
    /// Invitations and resent invitations from one account.
    InvitationAccount = "invitation_account", Rate::per(50, HOUR_MS);
    /// Security codes (second factor) sent from one address: the code page's own limit.
    SecondFactorAddress = "second_factor_address", Rate::per(10, MINUTE_MS);
    /// Security codes tried at sign-in for one account, wherever they come from: a right
    /// password clears the lockout count, so this is what caps guessing codes.
    SecondFactorAccount = "second_factor_account", Rate::per(10, HOUR_MS);
}

impl LimitKind {
    /// The kind with this stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// How many hits a period allows: `count` at once, then one every `period / count`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rate {
    count: u32,
    period_ms: i64,
}

/// A rate that could not be read.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error(
    "`{0}` is not a rate: expected a count of at least 1, a slash and second, minute, hour or \
     day (such as `10/minute` or `3/hour`), or `off`"
)]
pub struct RateError(String);

impl Rate {
    /// `count` per `period_ms` (each at least 1).
    #[must_use]
    pub const fn per(count: u32, period_ms: i64) -> Self {
        let count = if count == 0 { 1 } else { count };
        let period_ms = if period_ms < 1 { 1 } else { period_ms };
        Self { count, period_ms }
    }

    /// How many hits at once.
    #[must_use]
    pub const fn count(self) -> u32 {
        self.count
    }

    /// Over how long, in milliseconds.
    #[must_use]
    pub const fn period_ms(self) -> i64 {
        self.period_ms
    }

    /// Reads `10/minute`, `3/hour`, `50/day` or `5/second`; `off` is no limit (`None`).
    ///
    /// # Errors
    /// [`RateError`] naming the text, with what is accepted.
    pub fn parse(text: &str) -> Result<Option<Self>, RateError> {
        let wrong = || RateError(tenure_domain::name::quoted(text));
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let (count, unit) = text.split_once('/').ok_or_else(wrong)?;
        let count: u32 = count.trim().parse().map_err(|_| wrong())?;
        let period_ms = match unit.trim().to_ascii_lowercase().as_str() {
            "second" | "s" => SECOND_MS,
            "minute" | "min" | "m" => MINUTE_MS,
            "hour" | "h" => HOUR_MS,
            "day" | "d" => DAY_MS,
            _ => return Err(wrong()),
        };
        if count == 0 {
            return Err(wrong());
        }
        Ok(Some(Self { count, period_ms }))
    }

    /// The GCRA's parameters: the interval between hits (the period over the count,
    /// rounded up, so the long-run rate never exceeds the stated one) and the burst
    /// (`count` intervals, so exactly `count` hits are admitted at once).
    #[must_use]
    pub const fn gcra(self) -> Gcra {
        let count = self.count as i64;
        let interval_ms = (self.period_ms + count - 1) / count;
        Gcra { interval_ms, burst_ms: interval_ms.saturating_mul(count) }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.period_ms {
            SECOND_MS => "second",
            MINUTE_MS => "minute",
            HOUR_MS => "hour",
            DAY_MS => "day",
            ms => return write!(f, "{}/{ms}ms", self.count),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// The GCRA's two numbers, as a store applies them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Gcra {
    /// Milliseconds each admitted hit moves the bucket's TAT on by.
    pub interval_ms: i64,
    /// How far past now the TAT may be after an admitted hit.
    pub burst_ms: i64,
}

/// What a store did with one hit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Tally {
    /// Whether the hit was admitted (and counted).
    pub admitted: bool,
    /// The bucket's theoretical arrival time after the hit.
    pub tat: Timestamp,
}

/// Buckets of hits, shared by every instance.
#[async_trait]
pub trait LimitStore: Send + Sync + 'static {
    /// Counts one hit on the bucket (`kind`, `key`) at `now`, in one atomic step: with
    /// `tat` the bucket's TAT, or `now` if it has none or it has passed, the hit is
    /// admitted when `tat + interval - now <= burst`, and then the TAT becomes
    /// `tat + interval`; a refused hit changes nothing. Of concurrent hits on one bucket
    /// each sees the others' effect (no lost updates).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    async fn hit(
        &self,
        kind: LimitKind,
        key: &str,
        gcra: Gcra,
        now: Timestamp,
    ) -> Result<Tally, BackendError>;
}

/// The rate of each kind; `None` is no limit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LimitPolicy {
    rates: [Option<Rate>; LimitKind::ALL.len()],
}

impl Default for LimitPolicy {
    /// Every kind at its default rate.
    fn default() -> Self {
        let mut rates = [None; LimitKind::ALL.len()];
        for kind in LimitKind::ALL {
            rates[kind.index()] = Some(kind.default_rate());
        }
        Self { rates }
    }
}

impl LimitPolicy {
    /// No limits at all: for commands run by whoever holds the database (an import
    /// invites thousands as one person), never for the web.
    #[must_use]
    pub const fn unlimited() -> Self {
        Self { rates: [None; LimitKind::ALL.len()] }
    }

    /// The rate of a kind; `None`: not limited.
    #[must_use]
    pub const fn rate(&self, kind: LimitKind) -> Option<Rate> {
        self.rates[kind.index()]
    }

    /// The same policy with `kind` at `rate` (`None`: not limited).
    #[must_use]
    pub const fn with(mut self, kind: LimitKind, rate: Option<Rate>) -> Self {
        self.rates[kind.index()] = rate;
        self
    }
}

/// What a limit said about one hit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Too many: try again after this many milliseconds (at least 1).
    Refused {
        /// How long until a hit would be admitted.
        retry_after_ms: i64,
    },
}

impl Verdict {
    /// Whether the hit may go ahead.
    #[must_use]
    pub const fn is_allowed(self) -> bool {
        matches!(self, Self::Allowed)
    }

    /// Whole seconds to wait, rounded up (for `Retry-After`); 0 when allowed.
    #[must_use]
    pub const fn retry_after_secs(self) -> u64 {
        match self {
            Self::Allowed => 0,
            Self::Refused { retry_after_ms } => retry_after_ms.unsigned_abs().div_ceil(1000),
        }
    }
}

/// The key of a bucket: whose hits count together.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LimitKey(String);

impl LimitKey {
    /// An address's bucket: an IPv4 address alone, an IPv6 address by its /64 (one
    /// subscriber is usually handed a whole /64 and could otherwise take a fresh address
    /// for every attempt). An IPv4 address mapped into IPv6 counts as itself.
    #[must_use]
    pub fn address(ip: IpAddr) -> Self {
        Self(match ip.to_canonical() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let net = Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX));
                format!("{net}/64")
            }
        })
    }

    /// An account's bucket.
    #[must_use]
    pub fn account(user: UserId) -> Self {
        Self(user.as_uuid().to_string())
    }

    /// The key as stored.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The limits service: asks the store, under the policy, at the clock's time.
#[derive(Clone)]
pub struct Limits {
    store: Arc<dyn LimitStore>,
    clock: Arc<dyn Clock>,
    policy: LimitPolicy,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl Limits {
    /// The service over a store.
    pub fn new(store: Arc<dyn LimitStore>, clock: Arc<dyn Clock>, policy: LimitPolicy) -> Self {
        Self { store, clock, policy }
    }

    /// The rates in force.
    #[must_use]
    pub const fn policy(&self) -> &LimitPolicy {
        &self.policy
    }

    /// Counts one hit of `kind` against `key`. A kind with no limit is always allowed
    /// and counts nothing.
    ///
    /// # Errors
    /// [`BackendError`] when the store fails: callers refuse then (deny by default).
    pub async fn hit(&self, kind: LimitKind, key: &LimitKey) -> Result<Verdict, BackendError> {
        let Some(rate) = self.policy.rate(kind) else { return Ok(Verdict::Allowed) };
        let gcra = rate.gcra();
        let now = self.clock.now();
        let tally = self.store.hit(kind, key.as_str(), gcra, now).await?;
        if tally.admitted {
            return Ok(Verdict::Allowed);
        }
        let wait = tally.tat.0.saturating_add(gcra.interval_ms) - gcra.burst_ms - now.0;
        Ok(Verdict::Refused { retry_after_ms: wait.max(1) })
    }
}

#[cfg(test)]
mod tests;
