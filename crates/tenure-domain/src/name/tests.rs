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

/// Found by the parser fuzzing (issue 16): the Arabic letter mark, a `Bidi_Control`
/// character like the marks and overrides, was accepted into names.
#[test]
fn the_arabic_letter_mark_is_a_text_direction_character() {
    check("a\u{061C}b", Err(NameError::ForbiddenCharacter { code: 0x061C }));
}

#[test]
fn quoted_input_is_one_short_line() {
    use crate::name::quoted;
    assert_eq!(quoted("a\nb\u{202E}c\0"), "a\\u{a}b\\u{202e}c\\u{0}");
    assert_eq!(quoted(&"x".repeat(65)), format!("{}…", "x".repeat(64)));
    assert_eq!(quoted(&"x".repeat(64)), "x".repeat(64));
}
