//! Moments as people type and read them: one parser and one formatter for the web and the
//! command line, always in a stated time zone.
//!
//! A [`Moment`] is milliseconds since the Unix epoch (the domain's type; the core's
//! `Timestamp` is the same type). People do not type milliseconds: they type
//! `2026-11-22 14:30` and mean the clock on their wall, so every function here takes the
//! time zone the text is read in, or shown in. The service's zone is
//! [`SERVICE_ZONE`] (Europe/London) unless the `time_zone` setting says otherwise.
//!
//! Accepted by [`parse`], tried in this order:
//! - RFC 3339 with an offset (`2026-11-22T14:30:00Z`, `2026-11-22T14:30+01:00`): the zone
//!   does not matter, the text names its own offset;
//! - a date and time (`2026-11-22 14:30`, `2026-11-22T14:30`, seconds optional), read in
//!   the zone; a time that happens twice (the hour clocks go back) is the earlier one, a
//!   time that never happens (the hour clocks go forward) is read as if the clocks had
//!   not yet changed, as jiff's "compatible" rule does (the same as RFC 5545);
//! - a date (`2026-11-22`): the end of that day in the zone, so "as of a date" includes
//!   everything saved on it.
//!
//! Pure: no clock and no files (the time zone database is compiled in).

#[cfg(test)]
mod tests;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned, civil};
pub use tenure_domain::dataset::Moment;

/// The service's time zone, by its IANA name: the default for reading and showing
/// moments on the web and the command line.
pub const SERVICE_ZONE: &str = "Europe/London";

/// The formats [`parse`] accepts, as error messages and help texts name them.
pub const ACCEPTED: &str = "a date (2026-11-22, meaning the end of that day), a date and time \
                            (2026-11-22 14:30 or 2026-11-22T14:30), or RFC 3339 with an offset \
                            (2026-11-22T14:30:00Z)";

/// Text that is not a moment.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error(
    "`{}` is not a moment: {reason}; write {ACCEPTED}, read in {zone}",
    tenure_domain::name::quoted(text)
)]
pub struct MomentError {
    /// What was given.
    pub text: String,
    /// What was wrong with it.
    pub reason: String,
    /// The time zone it would have been read in, by name.
    pub zone: String,
}

/// A time zone name that is not one.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("`{name}` is not a time zone; use an IANA name such as Europe/London or UTC")]
pub struct ZoneError {
    /// What was given.
    pub name: String,
}

/// A time zone by its IANA name (`Europe/London`, `UTC`, `America/New_York`).
///
/// # Errors
/// [`ZoneError`] when the compiled-in time zone database has no zone by that name.
pub fn zone(name: &str) -> Result<TimeZone, ZoneError> {
    TimeZone::get(name.trim()).map_err(|_| ZoneError { name: name.to_owned() })
}

/// The service's time zone, [`SERVICE_ZONE`].
pub fn service_zone() -> TimeZone {
    // INVARIANT: the time zone database is compiled in (jiff's `tzdb-bundle-always`) and
    // holds Europe/London; UTC is only a formality for the type checker.
    zone(SERVICE_ZONE).unwrap_or(TimeZone::UTC)
}

/// A zone as screens and help texts name it: its IANA name (`Europe/London`), or its
/// offset for a zone that has none (`UTC+01:00`).
pub fn zone_name(tz: &TimeZone) -> String {
    match tz.iana_name() {
        Some(name) => name.to_owned(),
        None => {
            let offset = tz.to_offset(Timestamp::UNIX_EPOCH);
            if offset.seconds() == 0 { "UTC".to_owned() } else { format!("UTC{offset}") }
        }
    }
}

/// Reads a moment as people type it, in the time zone `tz` (see the module's list of
/// accepted formats).
///
/// # Errors
/// [`MomentError`], saying what was wrong and which formats are accepted, when the text
/// is none of them, or names a moment outside the years -9999 to 9999.
pub fn parse(text: &str, tz: &TimeZone) -> Result<Moment, MomentError> {
    let given = text.trim();
    let fail = |reason: String| MomentError { text: text.to_owned(), reason, zone: zone_name(tz) };
    if given.is_empty() {
        return Err(fail("it is empty".to_owned()));
    }
    let timestamp = given.parse::<Timestamp>();
    if let Ok(t) = timestamp {
        return Ok(Moment(t.as_millisecond()));
    }
    let has_time = given.contains([':', 'T', 't', ' ']);
    if has_time {
        return match given.parse::<civil::DateTime>() {
            Ok(dt) => dt
                .to_zoned(tz.clone())
                .map(|z| Moment(z.timestamp().as_millisecond()))
                .map_err(|e| fail(e.to_string())),
            // With an offset, the RFC 3339 reading says more; without, the civil one.
            Err(e) if has_offset(given) => {
                Err(fail(timestamp.err().map_or_else(|| e.to_string(), |t| t.to_string())))
            }
            Err(e) => Err(fail(e.to_string())),
        };
    }
    let date = given.parse::<civil::Date>().map_err(|e| fail(e.to_string()))?;
    end_of_day(date, tz).map_err(|e| fail(e.to_string()))
}

/// A moment for people, in the zone `tz`: `1 December 2026 at 3:05pm`. A moment outside
/// the years -9999 to 9999 (no clock gives one) shows as its milliseconds.
pub fn describe(m: Moment, tz: &TimeZone) -> String {
    let Some(zoned) = zoned(m, tz) else { return m.0.to_string() };
    let hour = zoned.hour();
    let (h12, half) = match hour {
        0 => (12, "am"),
        1..=11 => (hour, "am"),
        12 => (12, "pm"),
        _ => (hour - 12, "pm"),
    };
    format!("{} at {}:{:02}{}", zoned.strftime("%-d %B %Y"), h12, zoned.minute(), half)
}

/// [`describe`] with the zone stated, for places that do not say it elsewhere:
/// `1 December 2026 at 3:05pm GMT` (the zone's abbreviation at that moment: GMT or BST
/// in London).
pub fn describe_with_zone(m: Moment, tz: &TimeZone) -> String {
    match zoned(m, tz) {
        Some(z) => format!("{} {}", describe(m, tz), z.strftime("%Z")),
        None => describe(m, tz),
    }
}

/// A moment as [`parse`] reads it back exactly: RFC 3339 with the zone's offset at that
/// moment and the fraction of a second when there is one (`2026-12-01T15:05:00+00:00`,
/// `2026-07-01T15:05:00.25+01:00`). For files and machine-readable output.
/// An offset that is not whole minutes (before standard time) is written as UTC.
pub fn format(m: Moment, tz: &TimeZone) -> String {
    match zoned(m, tz) {
        // RFC 3339 offsets are whole minutes; the local mean times of the 19th century
        // were not (London's was -00:01:15), so those moments are written in UTC.
        Some(z) if z.offset().seconds() % 60 == 0 => {
            z.timestamp().display_with_offset(z.offset()).to_string()
        }
        Some(z) => z.timestamp().to_string(),
        None => m.0.to_string(),
    }
}

/// A moment as a person types it in the zone `tz`, to the minute: `2026-12-01 15:05`
/// (for a form field that [`parse`] reads back).
pub fn format_civil(m: Moment, tz: &TimeZone) -> String {
    match zoned(m, tz) {
        Some(z) => z.strftime("%Y-%m-%d %H:%M").to_string(),
        None => m.0.to_string(),
    }
}

/// The last millisecond of a day in a zone: the next day's start, less one.
fn end_of_day(date: civil::Date, tz: &TimeZone) -> Result<Moment, jiff::Error> {
    let next = date.tomorrow()?.to_zoned(tz.clone())?;
    Ok(Moment(next.timestamp().as_millisecond() - 1))
}

/// Whether text ends in an offset (`Z`, `+01:00`, `-0500`) or names a zone (`[...]`).
fn has_offset(text: &str) -> bool {
    let Some((_, time)) = text.split_once(['T', 't', ' ']) else { return false };
    time.ends_with(['Z', 'z', ']']) || time.contains(['+', '-'])
}

fn zoned(m: Moment, tz: &TimeZone) -> Option<Zoned> {
    Timestamp::from_millisecond(m.0).ok().map(|t| t.to_zoned(tz.clone()))
}
