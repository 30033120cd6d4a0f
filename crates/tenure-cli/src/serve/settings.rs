//! `tenure serve`'s settings, layered with figment: the defaults (written once, on
//! [`Settings`]) < the configuration file (`--config`, TOML) < the environment
//! (`TENURE_...`) < the command line's flags.
//!
//! Every setting has one name, used as its file key; its flag is the name in kebab case
//! (`--lockout-attempts`) and its environment variable the name in capitals after
//! `TENURE_` (`TENURE_LOCKOUT_ATTEMPTS`), except `database`, whose variable is
//! `TENURE_DATABASE_URL` as for every other command. A bad value is refused with the
//! setting's name, where the value came from, and what is accepted.
//!
//! The file is read with the workspace's `toml` (figment's own TOML support would bring a
//! second, older `toml` into the build) and handed to figment as one more layer.

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use tenure_core::limits::{LimitKind, LimitPolicy, Rate};

use crate::app::Timings;
use crate::logging::LogFormat;

/// Every setting by its name (the file key), with its environment variable.
pub(crate) const SETTINGS: [(&str, &str); 22] = [
    ("database", "TENURE_DATABASE_URL"),
    ("listen", "TENURE_LISTEN"),
    ("base_url", "TENURE_BASE_URL"),
    ("outbox", "TENURE_OUTBOX"),
    ("smtp_url", "TENURE_SMTP_URL"),
    ("mail_from", "TENURE_MAIL_FROM"),
    ("secure_cookies", "TENURE_SECURE_COOKIES"),
    ("lockout_attempts", "TENURE_LOCKOUT_ATTEMPTS"),
    ("lockout_minutes", "TENURE_LOCKOUT_MINUTES"),
    ("reset_link_minutes", "TENURE_RESET_LINK_MINUTES"),
    ("invitation_days", "TENURE_INVITATION_DAYS"),
    ("session_idle_minutes", "TENURE_SESSION_IDLE_MINUTES"),
    ("session_absolute_hours", "TENURE_SESSION_ABSOLUTE_HOURS"),
    ("trusted_proxies", "TENURE_TRUSTED_PROXIES"),
    ("log_format", "TENURE_LOG_FORMAT"),
    ("time_zone", "TENURE_TIME_ZONE"),
    ("metrics_listen", "TENURE_METRICS_LISTEN"),
    ("shutdown_grace_seconds", "TENURE_SHUTDOWN_GRACE_SECONDS"),
    ("secret_key_file", "TENURE_SECRET_KEY_FILE"),
    ("limits", "TENURE_LIMITS"),
    ("housekeeping_minutes", "TENURE_HOUSEKEEPING_MINUTES"),
    ("sign_in_heading", "TENURE_SIGN_IN_HEADING"),
];

/// The settings whose values are text as given: an environment variable's value is not
/// read as a number or a boolean for them (a password of digits in an SMTP URL stays text).
const TEXT: [&str; 12] = [
    "database",
    "listen",
    "base_url",
    "outbox",
    "smtp_url",
    "mail_from",
    "log_format",
    "time_zone",
    "metrics_listen",
    "secret_key_file",
    "limits",
    "sign_in_heading",
];

/// What `tenure serve` runs with, once every layer is merged.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Settings {
    /// Database URL.
    pub(crate) database: String,
    /// Address to listen on.
    pub(crate) listen: String,
    /// Public address for links in emails; `None`: `http://` and the listen address.
    pub(crate) base_url: Option<String>,
    /// Outbox folder, used without an SMTP URL.
    pub(crate) outbox: PathBuf,
    /// SMTP server URL, instead of the outbox.
    pub(crate) smtp_url: Option<String>,
    /// Sender of emails.
    pub(crate) mail_from: String,
    /// Whether cookies are `Secure`; `None`: yes unless the base URL is plain-HTTP
    /// localhost (the web's own rule).
    pub(crate) secure_cookies: Option<bool>,
    /// Consecutive failed sign-ins that lock an account.
    #[serde(deserialize_with = "at_least_one_u32")]
    pub(crate) lockout_attempts: u32,
    /// Minutes a lock lasts.
    #[serde(deserialize_with = "at_least_one")]
    pub(crate) lockout_minutes: i64,
    /// Minutes a password reset link works.
    #[serde(deserialize_with = "at_least_one")]
    pub(crate) reset_link_minutes: i64,
    /// Days an invitation link works.
    #[serde(deserialize_with = "at_least_one")]
    pub(crate) invitation_days: i64,
    /// Minutes a session may sit unused.
    #[serde(deserialize_with = "at_least_one")]
    pub(crate) session_idle_minutes: i64,
    /// Hours a session lasts at most.
    #[serde(deserialize_with = "at_least_one")]
    pub(crate) session_absolute_hours: i64,
    /// Reverse proxies whose `X-Forwarded-For` gives the client's address.
    #[serde(deserialize_with = "proxies")]
    pub(crate) trusted_proxies: tenure_web::TrustedProxies,
    /// How log lines are written.
    #[serde(deserialize_with = "log_format")]
    pub(crate) log_format: LogFormat,
    /// The zone times are read and shown in.
    #[serde(deserialize_with = "time_zone")]
    pub(crate) time_zone: jiff::tz::TimeZone,
    /// Where Prometheus metrics are served (`GET /metrics`); `None`: not at all.
    pub(crate) metrics_listen: Option<String>,
    /// Seconds a stopping server gives requests in flight to finish.
    #[serde(deserialize_with = "at_least_one")]
    pub(crate) shutdown_grace_seconds: i64,
    /// The file holding the service's secret key, which seals second-factor secrets and
    /// queued mail (never the database); `None`: the key from `TENURE_SECRET_KEY`, or
    /// with `--demo` a file made in the demo's folder, or on SQLite one made beside the
    /// database (see `keys.rs`).
    pub(crate) secret_key_file: Option<PathBuf>,
    /// Rate limits shared by every instance, by kind.
    #[serde(deserialize_with = "limits")]
    pub(crate) limits: LimitPolicy,
    /// Minutes between housekeeping runs.
    #[serde(deserialize_with = "at_least_one")]
    pub(crate) housekeeping_minutes: i64,
    /// The sign-in page's heading, naming what the service is for.
    #[serde(deserialize_with = "heading")]
    pub(crate) sign_in_heading: String,
}

/// One layer of settings from one place, for figment.
struct Layer {
    /// Where the values came from, as an error names it.
    metadata: Metadata,
    values: Dict,
}

impl Default for Settings {
    /// The defaults, in one place (the times are the services' own, from [`Timings`]).
    fn default() -> Self {
        let t = Timings::default();
        Self {
            database: "sqlite://tenure.db?mode=rwc".to_owned(),
            listen: "127.0.0.1:3000".to_owned(),
            base_url: None,
            outbox: PathBuf::from("outbox"),
            smtp_url: None,
            mail_from: "Tenure <no-reply@tenure.invalid>".to_owned(),
            secure_cookies: None,
            lockout_attempts: t.lockout_attempts,
            lockout_minutes: t.lockout_minutes,
            reset_link_minutes: t.reset_link_minutes,
            invitation_days: t.invitation_days,
            session_idle_minutes: t.session_idle_minutes,
            session_absolute_hours: t.session_absolute_hours,
            trusted_proxies: tenure_web::TrustedProxies::default(),
            log_format: LogFormat::default(),
            time_zone: tenure_core::moment::service_zone(),
            metrics_listen: None,
            shutdown_grace_seconds: 30,
            secret_key_file: None,
            limits: LimitPolicy::default(),
            housekeeping_minutes: 10,
            sign_in_heading: tenure_web::SIGN_IN_HEADING.to_owned(),
        }
    }
}

impl Settings {
    /// The layers in order of precedence, lowest first: the file at `file` (if any), the
    /// environment as `var` reads it, then `flags`.
    ///
    /// # Errors
    /// When the file cannot be read, is not TOML or names a setting that does not exist,
    /// or when an environment variable is not Unicode.
    pub(crate) fn layers(
        file: Option<&Path>,
        var: impl Fn(&str) -> Result<Option<String>>,
        flags: Dict,
    ) -> Result<Figment> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            figment = figment.merge(file_layer(path)?);
        }
        Ok(figment.merge(env_layer(var)?).merge(Layer {
            metadata: Metadata::named("the command line").interpolater(
                |_: &Profile, keys: &[&str]| {
                    format!("the flag `--{}`", keys.join(".").replace('_', "-"))
                },
            ),
            values: flags,
        }))
    }

    /// The settings the layers give.
    ///
    /// # Errors
    /// Every bad value, each with its setting, where it came from and what is accepted.
    pub(crate) fn extract(figment: &Figment) -> Result<Self> {
        figment.extract::<Self>().map_err(explain)
    }

    /// The public address: the setting, or `http://` and the listen address.
    pub(crate) fn base_url(&self) -> String {
        self.base_url.clone().unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The lockout, link and session times.
    pub(crate) const fn timings(&self) -> Timings {
        Timings {
            lockout_attempts: self.lockout_attempts,
            lockout_minutes: self.lockout_minutes,
            reset_link_minutes: self.reset_link_minutes,
            invitation_days: self.invitation_days,
            session_idle_minutes: self.session_idle_minutes,
            session_absolute_hours: self.session_absolute_hours,
        }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// The environment variable of a setting.
pub(crate) fn env_name(key: &str) -> String {
    SETTINGS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(|| format!("TENURE_{}", key.to_uppercase()), |(_, v)| (*v).to_owned())
}

fn file_layer(path: &Path) -> Result<Layer> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let invalid = || format!("`{}` is not a valid configuration file", path.display());
    let values: Dict = toml::from_str(&text).with_context(invalid)?;
    if let Some(unknown) = values.keys().find(|k| !SETTINGS.iter().any(|(s, _)| s == k)) {
        let known: Vec<_> = SETTINGS.iter().map(|(k, _)| *k).collect();
        return Err(anyhow!("unknown setting `{unknown}`; the settings are {}", known.join(", ")))
            .with_context(invalid);
    }
    let shown = path.display().to_string();
    Ok(Layer {
        metadata: Metadata::named(format!("the configuration file `{shown}`")).interpolater(
            move |_: &Profile, keys: &[&str]| {
                format!("`{}` in the configuration file `{shown}`", keys.join("."))
            },
        ),
        values,
    })
}

fn env_layer(var: impl Fn(&str) -> Result<Option<String>>) -> Result<Layer> {
    let mut values = Dict::new();
    for (key, name) in SETTINGS {
        let Some(given) = var(name)? else { continue };
        let value = if key == "trusted_proxies" {
            // Networks separated by commas, as the flag takes them.
            Value::from(given.split(',').map(str::to_owned).collect::<Vec<_>>())
        } else if TEXT.contains(&key) {
            Value::from(given)
        } else {
            // Numbers and booleans; anything else stays text, refused with its setting.
            given.parse::<Value>().unwrap_or_else(|never| match never {})
        };
        values.insert(key.to_owned(), value);
    }
    Ok(Layer {
        metadata: Metadata::named("the environment").interpolater(|_: &Profile, keys: &[&str]| {
            format!("the environment variable `{}`", env_name(&keys.join(".")))
        }),
        values,
    })
}

/// figment's errors (one or more) as one message: for each, the setting, where its value
/// came from, and what was wrong with it.
fn explain(errors: figment::Error) -> anyhow::Error {
    let lines: Vec<String> = errors
        .into_iter()
        .map(|e| {
            let from = match (&e.profile, &e.metadata) {
                (Some(profile), Some(md)) if !e.path.is_empty() => md.interpolate(profile, &e.path),
                (_, Some(md)) => md.name.to_string(),
                (_, None) => "the defaults".to_owned(),
            };
            if e.path.is_empty() {
                format!("settings from {from}: {}", e.kind)
            } else {
                format!("setting `{}` (from {from}): {}", e.path.join("."), e.kind)
            }
        })
        .collect();
    anyhow!("{}", lines.join("; "))
}

/// A count or a time: a whole number of at least 1.
struct AtLeastOne;

impl Visitor<'_> for AtLeastOne {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number of at least 1")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        if v >= 1 { Ok(v) } else { Err(E::invalid_value(de::Unexpected::Signed(v), &self)) }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        match i64::try_from(v) {
            Ok(v) if v >= 1 => Ok(v),
            _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
        }
    }
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(AtLeastOne)
}

fn at_least_one_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = d.deserialize_any(AtLeastOne)?;
    u32::try_from(v).map_err(|_| {
        de::Error::invalid_value(de::Unexpected::Signed(v), &"a whole number from 1 to 4294967295")
    })
}

/// Trusted proxies: a list of networks, or one text of networks separated by commas.
struct Networks;

impl<'de> Visitor<'de> for Networks {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of networks such as [\"10.0.0.0/8\", \"fd00::/8\"]")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
        Ok(v.split(',').map(str::to_owned).collect())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<String>()? {
            out.push(v);
        }
        Ok(out)
    }
}

fn proxies<'de, D: Deserializer<'de>>(d: D) -> Result<tenure_web::TrustedProxies, D::Error> {
    let networks = d.deserialize_any(Networks)?;
    tenure_web::TrustedProxies::parse(networks).map_err(de::Error::custom)
}

fn log_format<'de, D: Deserializer<'de>>(d: D) -> Result<LogFormat, D::Error> {
    let name = String::deserialize(d)?;
    match name.as_str() {
        "human" => Ok(LogFormat::Human),
        "json" => Ok(LogFormat::Json),
        _ => Err(de::Error::custom(format!("`{name}` is not a log format; use `human` or `json`"))),
    }
}

/// Rate limits: a table of kind = rate (the file), or `kind=rate` pairs, as one text
/// separated by commas (the environment) or a list (the flag). Over the defaults.
struct Limits;

impl Limits {
    fn set(policy: LimitPolicy, pair: &str) -> Result<LimitPolicy, String> {
        let (kind, rate) = pair.split_once('=').ok_or_else(|| {
            format!(
                "`{}` is not a limit: expected KIND=RATE, such as `sign_in_address=10/minute`",
                tenure_domain::name::quoted(pair)
            )
        })?;
        Self::with(policy, kind, rate)
    }

    fn with(policy: LimitPolicy, kind: &str, rate: &str) -> Result<LimitPolicy, String> {
        let Some(found) = LimitKind::parse(kind.trim()) else {
            let kinds: Vec<_> = LimitKind::ALL.iter().map(|k| k.name()).collect();
            return Err(format!(
                "`{}` is not a kind of limit; the kinds are {}",
                tenure_domain::name::quoted(kind.trim()),
                kinds.join(", ")
            ));
        };
        let rate = Rate::parse(rate).map_err(|e| e.to_string())?;
        Ok(policy.with(found, rate))
    }
}

impl<'de> Visitor<'de> for Limits {
    type Value = LimitPolicy;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("limits by kind, such as { sign_in_address = \"10/minute\" }")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<LimitPolicy, E> {
        let mut pairs = v.split(',').map(str::trim).filter(|p| !p.is_empty());
        pairs.try_fold(LimitPolicy::default(), Self::set).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LimitPolicy, A::Error> {
        let mut policy = LimitPolicy::default();
        while let Some(pair) = seq.next_element::<String>()? {
            policy = Self::set(policy, &pair).map_err(de::Error::custom)?;
        }
        Ok(policy)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<LimitPolicy, A::Error> {
        let mut policy = LimitPolicy::default();
        while let Some((kind, rate)) = map.next_entry::<String, String>()? {
            policy = Self::with(policy, &kind, &rate).map_err(de::Error::custom)?;
        }
        Ok(policy)
    }
}

fn limits<'de, D: Deserializer<'de>>(d: D) -> Result<LimitPolicy, D::Error> {
    d.deserialize_any(Limits)
}

/// A heading: text on one line, 1 to 120 characters once trimmed.
fn heading<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let text = text.trim();
    let length = text.chars().count();
    let broken = text.chars().any(char::is_control);
    if length == 0 || length > 120 || broken {
        let how = if broken { " with a line break or control character" } else { "" };
        return Err(de::Error::custom(format!(
            "a heading of {length} characters{how} is not accepted: \
             expected text on one line, 1 to 120 characters"
        )));
    }
    Ok(text.to_owned())
}

fn time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<jiff::tz::TimeZone, D::Error> {
    let name = String::deserialize(d)?;
    tenure_core::moment::zone(&name).map_err(de::Error::custom)
}
