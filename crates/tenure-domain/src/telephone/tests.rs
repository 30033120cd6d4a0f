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

/// Found by the parser fuzzing (issue 16): the extension was trimmed of any Unicode white
/// space, so a C1 control (NEL, U+0085) or a line separator before its digits was stored;
/// a number had no length limit; `ext` with no digits was accepted; and a refused
/// character was repeated raw, so a newline split the message.
#[test]
fn hostile_extensions_and_lengths() {
    check("020 7946 0000 ext\u{85}123", Err(TelephoneError::Character { found: '\u{85}' }));
    check("020 7946 0000 x\u{2028}1", Err(TelephoneError::Character { found: '\u{2028}' }));
    check("020 7946 0000 ext", Err(TelephoneError::Extension));
    check("020 7946 0000 x ", Err(TelephoneError::Extension));
    let long = format!("020 7946 0000 x{}", "1".repeat(30));
    check(&long, Err(TelephoneError::TooLong { max: 40, actual: 45 }));
    check(&format!("0207946000{}", "-".repeat(30)), Ok(&format!("0207946000{}", "-".repeat(30))));
    assert_eq!(
        Telephone::parse("0\n1234567").unwrap_err().to_string(),
        "enter a telephone number using digits, spaces, brackets, hyphens and a leading +, like 01632 960 001 or +44 808 157 0192 (found `\\u{a}`)"
    );
}
