//! Tests of name parsing.

use crate::name::{NAME_MAX_CHARS, Name, NameError};

#[track_caller]
#[expect(
    clippy::needless_pass_by_value,
    reason = "check tables read better with owned expectations"
)]
fn check(input: &str, expected: Result<&str, NameError>) {
    assert_eq!(Name::parse(input).as_ref().map(Name::as_str).map_err(Clone::clone), expected);
}

#[test]
fn names() {
    check("  Alpha Homes ", Ok("Alpha Homes"));
    check("O'Brien-Smith", Ok("O'Brien-Smith"));
    check("'); DROP TABLE users;--", Ok("'); DROP TABLE users;--"));
    check("", Err(NameError::Empty));
    check("   ", Err(NameError::Empty));
    check("bad\u{202E}name", Err(NameError::ForbiddenCharacter { code: 0x202E }));
    check("new\nline", Err(NameError::ForbiddenCharacter { code: 0x0A }));
    check(&"é".repeat(NAME_MAX_CHARS), Ok(&"é".repeat(NAME_MAX_CHARS)));
    check(
        &"a".repeat(NAME_MAX_CHARS + 1),
        Err(NameError::TooLong { max: NAME_MAX_CHARS, actual: NAME_MAX_CHARS + 1 }),
    );
}

#[test]
fn messages_say_what_is_accepted() {
    assert_eq!(
        Name::parse(&"a".repeat(201)).unwrap_err().to_string(),
        "name must be 200 characters or fewer, not 201"
    );
    assert_eq!(
        Name::parse("x\u{7}").unwrap_err().to_string(),
        "name must not contain control or text-direction characters (found U+0007)"
    );
}
