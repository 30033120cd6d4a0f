//! Tests of the password policy: length in code points, normalisation, the blocklist,
//! and the user's details.

use proptest::prelude::*;

use crate::password::{PasswordContext, PasswordError, PasswordPolicy, normalise};
use crate::{Email, Name};

#[track_caller]
#[expect(
    clippy::needless_pass_by_value,
    reason = "check tables read better with owned expectations"
)]
fn check(input: &str, expected: Result<(), PasswordError>) {
    let email = Email::parse("jane.smith@alpha-homes.example").unwrap();
    let name = Name::parse("Jane Smith").unwrap();
    let org = Name::parse("Alpha Homes").unwrap();
    let context =
        PasswordContext { email: Some(&email), name: Some(&name), organisation: Some(&org) };
    assert_eq!(PasswordPolicy::default().check(input, &context).map(|_| ()), expected, "{input:?}");
}

#[test]
fn length_counts_code_points_and_never_truncates() {
    check("correct horse b", Ok(()));
    check("correct horse ", Err(PasswordError::TooShort { min: 15, actual: 14 }));
    check("🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀", Err(PasswordError::TooShort { min: 15, actual: 14 }));
    check("crab 🦀 lobster 🦞 prawn", Ok(()));
    check(&"wxyz mnop qrst ".repeat(4)[..60], Ok(()));
    check(&"quiet river lantern ".repeat(10), Ok(()));
    let long = "quiet river lantern ".repeat(13);
    check(&long, Err(PasswordError::TooLong { max: 256, actual: long.chars().count() }));
    check("", Err(PasswordError::TooShort { min: 15, actual: 0 }));
}

#[test]
fn no_composition_rules() {
    check("all lower case words here", Ok(()));
    check("ALL UPPER CASE WORDS HERE", Ok(()));
    check("spaces  and   more  spaces", Ok(()));
    check("ÿüñïçödé letters ok", Ok(()));
}

#[test]
fn common_passwords_and_their_padded_or_repeated_forms() {
    check("password1234567", Err(PasswordError::Common));
    check("!!!Password!!!!!", Err(PasswordError::Common));
    check("passwordpassword", Err(PasswordError::Common));
    check("qwertyuiopasdfgh", Err(PasswordError::Common));
    check("abcabcabcabcabcabc", Err(PasswordError::Common));
    check("aaaaaaaaaaaaaaaaaaaa", Err(PasswordError::Common));
    check("123456789012345678", Err(PasswordError::Common));
    check("dragon!!!!!!!!!!!!", Err(PasswordError::Common));
    check("correct horse battery", Ok(()));
}

#[test]
fn a_sample_of_the_list_is_refused_when_padded_to_length() {
    let list = include_str!("common.txt").lines().filter(|l| !l.starts_with('#'));
    for (i, word) in list.enumerate().step_by(97) {
        let padded = format!("{word}{}", "1".repeat(15usize.saturating_sub(word.chars().count())));
        let result = PasswordPolicy::default().check(&padded, &PasswordContext::default());
        assert!(result.is_err(), "entry {i} `{word}` padded as `{padded}` was accepted");
    }
}

#[test]
fn the_users_own_details_and_the_services_name() {
    check("tenure123456789", Err(PasswordError::ContainsYourDetails));
    check("my Tenure account pass", Err(PasswordError::ContainsYourDetails));
    check("jane.smith12345", Err(PasswordError::ContainsYourDetails));
    check("JaneSmith and more", Err(PasswordError::ContainsYourDetails));
    check("alphahomes 2026 rocks", Err(PasswordError::ContainsYourDetails));
    check("jane.smith@alpha-homes.example", Err(PasswordError::ContainsYourDetails));
    check("janet smithers walk", Ok(()));
}

#[test]
fn normalisation_makes_compatible_forms_one_password() {
    assert_eq!(normalise("ﬁsh ﬁngers"), "fish fingers");
    let a = PasswordPolicy::default()
        .check("ﬁsh ﬁngers and custard", &PasswordContext::default())
        .unwrap();
    let b = PasswordPolicy::default()
        .check("fish fingers and custard", &PasswordContext::default())
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(format!("{a:?}"), "NewPassword(***)", "Debug never shows the password");
}

#[test]
fn messages_say_why_and_what_is_accepted() {
    assert_eq!(
        PasswordError::TooShort { min: 15, actual: 9 }.to_string(),
        "your password must be at least 15 characters long (it has 9); three or four random words make a strong one"
    );
    assert!(
        !PasswordError::Common.to_string().contains("upper"),
        "no composition rules are hinted at"
    );
}

proptest! {
    /// Any input: no panic, and the verdict is the same for the input and its NFKC form.
    #[test]
    fn verdicts_ignore_normalisation(input in "\\PC{0,40}") {
        let policy = PasswordPolicy::default();
        let context = PasswordContext::default();
        let a = policy.check(&input, &context).map(|p| p.expose().to_owned());
        let b = policy.check(&normalise(&input), &context).map(|p| p.expose().to_owned());
        prop_assert_eq!(a, b);
    }

    /// Long passphrases of random lower-case words are accepted.
    #[test]
    fn random_passphrases_are_accepted(words in prop::collection::vec("[b-df-hj-np-tv-z]{5,8}", 3..6)) {
        let phrase = words.join(" ");
        prop_assume!(phrase.chars().count() >= 15);
        prop_assert!(PasswordPolicy::default().check(&phrase, &PasswordContext::default()).is_ok(), "{}", phrase);
    }
}
