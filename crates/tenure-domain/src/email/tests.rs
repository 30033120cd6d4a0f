//! Tests of email parsing and normalisation.

use proptest::prelude::*;

use crate::email::{Email, EmailError};

#[track_caller]
#[expect(
    clippy::needless_pass_by_value,
    reason = "check tables read better with owned expectations"
)]
fn check(input: &str, expected: Result<&str, EmailError>) {
    assert_eq!(Email::parse(input).as_ref().map(Email::as_str).map_err(Clone::clone), expected);
}

#[test]
fn addresses() {
    check(" Alice@Example.COM ", Ok("alice@example.com"));
    check("first.last+tag@sub.example.co.uk", Ok("first.last+tag@sub.example.co.uk"));
    check("", Err(EmailError::Empty));
    check("alice", Err(EmailError::Format));
    check("@example.com", Err(EmailError::Format));
    check("a..b@example.com", Err(EmailError::Format));
    check("a@x.com,b@y.com", Err(EmailError::NotSingle));
    check("a@x.com b@y.com", Err(EmailError::NotSingle));
    check("a@b@c.com", Err(EmailError::NotSingle));
    check("Alice <a@x.com>", Err(EmailError::NotSingle));
    check("a@localhost", Err(EmailError::Domain { domain: "localhost".to_owned() }));
    check("a@-x.com", Err(EmailError::Domain { domain: "-x.com".to_owned() }));
    check("a@x..com", Err(EmailError::Domain { domain: "x..com".to_owned() }));
    let long = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
    check(&long, Err(EmailError::TooLong { max: 254, actual: long.chars().count() }));
}

#[test]
fn local_part() {
    assert_eq!(Email::parse("Jane.Smith@x.org").unwrap().local_part(), "jane.smith");
}

proptest! {
    /// Normalising is idempotent: a parsed address parses to itself.
    #[test]
    fn parse_is_idempotent(input in "\\PC{0,40}") {
        if let Ok(email) = Email::parse(&input) {
            prop_assert_eq!(Email::parse(email.as_str()), Ok(email));
        }
    }
}

/// Found by the parser fuzzing (issue 16): `İ` lower-cases to `i` and a combining dot, so
/// an address was stored in a form that is not itself an address (the dot is not a letter
/// of a domain) and longer than the limit, and a refused domain was repeated raw.
#[test]
fn lower_casing_cannot_break_the_rule() {
    check("a@İ.com", Err(EmailError::Domain { domain: "i\u{307}.com".to_owned() }));
    let local = format!("{}İ", "a".repeat(63));
    check(&format!("{local}@x.com"), Err(EmailError::Format));
    let domain = format!("{}.{}.{}.com", "b".repeat(60), "c".repeat(60), "d".repeat(63));
    let at_limit = format!("{local}@{domain}");
    assert_eq!(at_limit.chars().count(), 254);
    check(&at_limit, Err(EmailError::TooLong { max: 254, actual: 255 }));
    assert_eq!(
        Email::parse("a@x_y.com").unwrap_err().to_string(),
        "the part after @ in `x_y.com` is not a valid domain, like example.com"
    );
}
