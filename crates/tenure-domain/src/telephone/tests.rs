//! Tests of telephone number parsing.

use crate::telephone::{Telephone, TelephoneError};

#[track_caller]
#[expect(
    clippy::needless_pass_by_value,
    reason = "check tables read better with owned expectations"
)]
fn check(input: &str, expected: Result<&str, TelephoneError>) {
    assert_eq!(
        Telephone::parse(input).as_ref().map(Telephone::as_str).map_err(Clone::clone),
        expected
    );
}

#[test]
fn numbers() {
    check(" 01632 960 001 ", Ok("01632 960 001"));
    check("+44 (0)808 157-0192", Ok("+44 (0)808 157-0192"));
    check("020 7946 0000 ext 123", Ok("020 7946 0000 ext 123"));
    check("", Err(TelephoneError::Empty));
    check("12345", Err(TelephoneError::Digits { digits: 5 }));
    check("1234567890123456", Err(TelephoneError::Digits { digits: 16 }));
    check("0800 CALL NOW", Err(TelephoneError::Character { found: 'C' }));
    check("01632+960001", Err(TelephoneError::Character { found: '+' }));
    check("020 7946 0000 ext 12a", Err(TelephoneError::Character { found: 'a' }));
}
