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
