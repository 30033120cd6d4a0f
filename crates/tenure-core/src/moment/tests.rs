//! Moments: what people type reads as they meant it in the stated zone, what is written
//! reads back, and no text makes the parser panic.

use jiff::tz::TimeZone;
use proptest::prelude::*;

use crate::moment::{
    Moment, describe, describe_with_zone, format, format_civil, parse, service_zone, zone,
    zone_name,
};

/// 2026-12-01T15:05:00Z (London is on GMT then).
const DECEMBER: i64 = 1_796_137_500_000;
/// 2026-07-01T14:05:00Z (15:05 in London, on BST).
const JULY: i64 = 1_782_914_700_000;

fn london() -> TimeZone {
    service_zone()
}

#[track_caller]
fn check(text: &str, tz: &TimeZone, expected: i64) {
    assert_eq!(parse(text, tz), Ok(Moment(expected)), "{text}");
}

#[track_caller]
fn check_refused(text: &str, reason_has: &str) {
    let e = parse(text, &london()).expect_err(text);
    let message = e.to_string();
    assert!(e.reason.contains(reason_has), "{text}: {message}");
    assert!(message.contains(&format!("`{text}` is not a moment")), "{message}");
    assert!(message.contains("2026-11-22 14:30") && message.contains("RFC 3339"), "{message}");
    assert!(message.ends_with("read in Europe/London"), "{message}");
}

#[test]
fn what_people_type_is_read_in_the_zone() {
    let tz = london();
    // RFC 3339 names its own offset: the zone does not matter.
    check("2026-12-01T15:05:00Z", &tz, DECEMBER);
    check("2026-07-01T15:05:00+01:00", &TimeZone::UTC, JULY);
    // A date and time is the wall clock in the zone: GMT in December, BST in July.
    check("2026-12-01 15:05", &tz, DECEMBER);
    check("2026-12-01T15:05", &tz, DECEMBER);
    check("  2026-07-01 15:05:00  ", &tz, JULY);
    check("2026-07-01 15:05", &TimeZone::UTC, JULY + 3_600_000);
    // A date is the end of that day in the zone.
    check("2026-07-01", &tz, 1_782_946_800_000 - 1);
    check("2026-07-01", &TimeZone::UTC, 1_782_950_400_000 - 1);
    // The hour the clocks go back happens twice: the earlier one.
    check("2026-10-25 01:30", &tz, 1_792_888_200_000);
}

#[test]
fn what_is_not_a_moment_says_why_and_what_is_accepted() {
    check_refused("", "empty");
    check_refused("yesterday", "");
    check_refused("2026-02-30", "day");
    check_refused("2026-12-01 25:00", "hour");
    check_refused("2026-12-01T15:05:00+99:00", "");
}

#[test]
fn moments_are_described_for_people_in_the_zone() {
    let tz = london();
    assert_eq!(describe(Moment(DECEMBER), &tz), "1 December 2026 at 3:05pm");
    assert_eq!(describe(Moment(JULY), &tz), "1 July 2026 at 3:05pm");
    assert_eq!(describe(Moment(JULY), &TimeZone::UTC), "1 July 2026 at 2:05pm");
    assert_eq!(describe(Moment(DECEMBER - 15 * 3_600_000), &tz), "1 December 2026 at 12:05am");
    assert_eq!(describe(Moment(DECEMBER - 3 * 3_600_000), &tz), "1 December 2026 at 12:05pm");
    assert_eq!(describe_with_zone(Moment(DECEMBER), &tz), "1 December 2026 at 3:05pm GMT");
    assert_eq!(describe_with_zone(Moment(JULY), &tz), "1 July 2026 at 3:05pm BST");
    assert_eq!(describe(Moment(i64::MAX), &tz), i64::MAX.to_string());
    assert_eq!(format(Moment(JULY), &tz), "2026-07-01T15:05:00+01:00");
    assert_eq!(format(Moment(JULY + 250), &TimeZone::UTC), "2026-07-01T14:05:00.25+00:00");
    assert_eq!(format_civil(Moment(DECEMBER), &tz), "2026-12-01 15:05");
}

#[test]
fn zones_are_named_and_checked() {
    assert_eq!(zone_name(&london()), "Europe/London");
    assert_eq!(zone_name(&zone("UTC").unwrap()), "UTC");
    assert_eq!(zone_name(&TimeZone::fixed(jiff::tz::offset(1))), "UTC+01");
    let e = zone("Mars/Olympus").unwrap_err();
    assert_eq!(
        e.to_string(),
        "`Mars/Olympus` is not a time zone; use an IANA name such as Europe/London or UTC"
    );
}

/// Moments jiff can represent, to the millisecond.
fn moment() -> impl Strategy<Value = i64> {
    -377_705_116_800_000_i64..=253_402_207_200_000
}

fn zones() -> impl Strategy<Value = TimeZone> {
    prop_oneof![
        Just(TimeZone::UTC),
        Just(service_zone()),
        Just(zone("America/New_York").unwrap()),
        Just(zone("Australia/Lord_Howe").unwrap()),
        (-14_i8..=14).prop_map(|h| TimeZone::fixed(jiff::tz::offset(h))),
    ]
}

proptest! {
    #[test]
    fn written_moments_read_back_exactly(ms in moment(), tz in zones(), other in zones()) {
        let written = format(Moment(ms), &tz);
        // The offset is in the text: any zone reads it back.
        prop_assert_eq!(parse(&written, &other), Ok(Moment(ms)), "{}", written);
    }

    #[test]
    fn typed_wall_clock_times_read_back_as_the_same_wall_clock(
        minutes in -6_000_000_i64..6_000_000, tz in zones()
    ) {
        // Around the years 1960 to 2080, to the minute: what a form shows reads back as a
        // moment the form shows the same way (twice-happening times read as the earlier).
        let m = Moment(minutes * 60_000 + 1_000_000_000_000);
        let typed = format_civil(m, &tz);
        let read = parse(&typed, &tz).unwrap();
        prop_assert_eq!(&format_civil(read, &tz), &typed);
        prop_assert!(read.0 <= m.0, "{} read as {:?}, after {:?}", typed, read, m);
    }

    #[test]
    fn a_date_is_the_last_moment_of_that_day(days in -20_000_i32..40_000, tz in zones()) {
        let date = jiff::civil::date(1970, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
        let end = parse(&date.to_string(), &tz).unwrap();
        let zoned = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap().to_zoned(tz.clone());
        prop_assert_eq!(zoned(end.0).date(), date);
        prop_assert_eq!(zoned(end.0 + 1).date(), date.tomorrow().unwrap());
    }

    #[test]
    fn no_text_makes_the_parser_panic(text in ".{0,40}", tz in zones()) {
        let _ = parse(&text, &tz);
    }

    #[test]
    fn text_that_looks_almost_like_a_moment_never_panics(
        text in "[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}([ Tt][0-9]{1,3}(:[0-9]{1,3}){0,2}(\\.[0-9]{1,12})?)?(Z|[+-][0-9]{1,2}(:[0-9]{2})?|\\[[A-Za-z/_]{0,20}\\])?",
        tz in zones()
    ) {
        if let Ok(m) = parse(&text, &tz) {
            // Whatever reads is a moment that can be described.
            prop_assert!(!describe(m, &tz).is_empty());
        }
    }
}
