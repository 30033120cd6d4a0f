//! Rates as settings write them, the GCRA's numbers, buckets' keys and verdicts.

use std::net::IpAddr;

use super::*;

#[test]
fn rates_read_as_settings_write_them() {
    assert_eq!(Rate::parse("10/minute"), Ok(Some(Rate::per(10, MINUTE_MS))));
    assert_eq!(Rate::parse(" 3 / Hour "), Ok(Some(Rate::per(3, HOUR_MS))));
    assert_eq!(Rate::parse("50/day"), Ok(Some(Rate::per(50, DAY_MS))));
    assert_eq!(Rate::parse("5/s"), Ok(Some(Rate::per(5, SECOND_MS))));
    assert_eq!(Rate::parse("off"), Ok(None));
    for bad in ["", "10", "0/minute", "-1/minute", "ten/minute", "10/fortnight", "10/"] {
        let e = Rate::parse(bad).unwrap_err().to_string();
        assert!(e.contains("is not a rate") && e.contains("`10/minute`"), "{bad}: {e}");
    }
    assert_eq!(Rate::per(3, HOUR_MS).to_string(), "3/hour");
    assert_eq!(
        Rate::parse(&Rate::per(10, MINUTE_MS).to_string()),
        Ok(Some(Rate::per(10, MINUTE_MS)))
    );
}

#[test]
fn the_gcra_admits_exactly_the_count_at_once_and_never_more_than_the_rate() {
    // 7 a minute: 60000 / 7 is not whole; rounding the interval up keeps the rate.
    let g = Rate::per(7, MINUTE_MS).gcra();
    assert_eq!(g.interval_ms, 8572);
    assert_eq!(g.burst_ms, 7 * 8572);
    assert!(g.interval_ms * 7 >= MINUTE_MS);
    let g = Rate::per(3, HOUR_MS).gcra();
    assert_eq!((g.interval_ms, g.burst_ms), (20 * MINUTE_MS, HOUR_MS));
}

#[test]
fn an_address_counts_by_its_ipv4_address_or_its_ipv6_64() {
    let key = |s: &str| LimitKey::address(s.parse::<IpAddr>().unwrap()).as_str().to_owned();
    assert_eq!(key("203.0.113.7"), "203.0.113.7");
    assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
    assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2::1"));
    assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
}

#[test]
fn kinds_are_found_by_name_and_the_policy_takes_each() {
    for kind in LimitKind::ALL {
        assert_eq!(LimitKind::parse(kind.name()), Some(*kind));
        assert_eq!(LimitPolicy::default().rate(*kind), Some(kind.default_rate()));
        assert_eq!(LimitPolicy::unlimited().rate(*kind), None);
    }
    assert_eq!(LimitKind::parse("nope"), None);
    let p = LimitPolicy::default().with(LimitKind::ResetAccount, None);
    assert_eq!(p.rate(LimitKind::ResetAccount), None);
    assert_eq!(p.rate(LimitKind::SignInAddress), Some(Rate::per(10, MINUTE_MS)));
}

#[test]
fn a_refusal_says_how_long_to_wait_in_whole_seconds() {
    assert_eq!(Verdict::Refused { retry_after_ms: 1 }.retry_after_secs(), 1);
    assert_eq!(Verdict::Refused { retry_after_ms: 6000 }.retry_after_secs(), 6);
    assert_eq!(Verdict::Refused { retry_after_ms: 6001 }.retry_after_secs(), 7);
    assert_eq!(Verdict::Allowed.retry_after_secs(), 0);
}
