//! Parser fuzzing (issue 16): arbitrary and hostile text thrown at every parser of outside
//! text in the domain (email addresses, names, telephone numbers, the password policy, and
//! the action, feature and entity-type keys). Each property says more than "no panic":
//! a parser accepts exactly what its documented rule allows, an accepted value parses
//! back to itself, a stored value never holds a control or text-direction character and
//! keeps its length limit, and every refusal is a sentence in the house style.
//!
//! The case count is modest so CI stays fast; `PROPTEST_CASES` overrides it for a long
//! run: `PROPTEST_CASES=100000 cargo test -p tenure-domain --test it fuzz`.

use proptest::prelude::*;
use tenure_domain::email::EMAIL_MAX_CHARS;
use tenure_domain::name::{NAME_MAX_CHARS, is_forbidden_in_text};
use tenure_domain::password::{PRODUCT, normalise};
use tenure_domain::{
    Action, Email, EntityKind, Feature, Name, PasswordContext, PasswordError, PasswordPolicy,
    Telephone,
};

/// The cases each property runs: `PROPTEST_CASES` when set, else a CI-sized default.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// The Unicode `Bidi_Control` characters (UAX #9, table 4), written out independently of
/// the code under test.
const BIDI_CONTROLS: &[char] = &[
    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

/// Characters that have broken parsers elsewhere: controls (C0, C1, DEL), text-direction
/// marks, Unicode white space that is not ASCII, letters whose lower case is longer
/// (`İ`), a final sigma, separators and the characters addresses and numbers are made of.
const HOSTILE: &[char] = &[
    '\0', '\u{1}', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{1b}', '\u{7f}', '\u{80}', '\u{85}',
    '\u{9f}', '\u{a0}', '\u{61c}', '\u{200b}', '\u{200e}', '\u{200f}', '\u{2028}', '\u{2029}',
    '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{3000}', '\u{feff}', 'İ', 'Σ', 'ß', 'ﬁ',
    'K', '@', '.', ',', ';', '<', '>', '"', '\'', '\\', '+', '-', '(', ')', 'x', 'X', 'e', 't',
    ' ', '0', '1', '7', '9', 'a', 'Z', 'é', '😀',
];

/// Whether a character must never reach a stored value.
fn forbidden(c: char) -> bool {
    c.is_control() || BIDI_CONTROLS.contains(&c)
}

/// Text made mostly of [`HOSTILE`] characters, arbitrary text, or either made very long.
fn hostile_text() -> impl Strategy<Value = String> {
    let mixed = prop::collection::vec(
        prop_oneof![3 => prop::sample::select(HOSTILE), 1 => any::<char>()],
        0..48,
    )
    .prop_map(|cs| cs.into_iter().collect::<String>());
    prop_oneof![
        4 => mixed.clone(),
        2 => any::<String>(),
        1 => (mixed, 1usize..400).prop_map(|(s, n)| s.repeat(n)),
    ]
}

/// A character somewhere in a string, where `at` picks the place.
fn insert(s: &str, at: usize, c: char) -> String {
    let chars: Vec<char> = s.chars().collect();
    let at = at % (chars.len() + 1);
    chars[..at].iter().chain(std::iter::once(&c)).chain(&chars[at..]).collect()
}

/// A refusal in the house style: a non-empty phrase, lower case first, one line, no
/// trailing period.
#[track_caller]
fn assert_sentence(message: &str) {
    assert!(!message.trim().is_empty(), "an error says something");
    assert!(!message.contains(['\n', '\r']), "an error is one line: {message:?}");
    assert!(!message.ends_with('.'), "an error has no trailing period: {message:?}");
    let first = message.chars().next().unwrap_or(' ');
    assert!(!first.is_uppercase(), "an error starts in lower case: {message:?}");
}

/// A valid address from the documented grammar, with a mixed-case spelling.
fn valid_email() -> impl Strategy<Value = String> {
    let local = "[A-Za-z0-9_+=!#$%&'*/?^`{|}~-]{1,20}(\\.[A-Za-z0-9_+-]{1,10}){0,3}";
    let label = "[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?";
    (local, prop::collection::vec(label, 2..4)).prop_map(|(l, ls)| format!("{l}@{}", ls.join(".")))
}

/// Whether a stored address meets the documented rule: one `@`, a non-empty local part
/// of at most 64 characters without leading, trailing or doubled dots, a domain of at
/// least two labels of letters, digits and inner hyphens, nothing that separates
/// addresses, at most [`EMAIL_MAX_CHARS`] characters, and lower case.
fn email_rule(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    s.chars().count() <= EMAIL_MAX_CHARS
        && !domain.contains('@')
        && !local.is_empty()
        && local.chars().count() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && domain.contains('.')
        && domain.split('.').all(label_ok)
        && !s.chars().any(|c| c.is_whitespace() || forbidden(c) || ",;<>\"".contains(c))
        && s.to_lowercase() == s
}

/// Whether a stored telephone number meets the documented rule: ASCII digits, spaces,
/// hyphens, brackets and a leading `+`, holding 7 to 15 digits, then optionally an `ext`
/// or `x` extension of digits; nothing else, and at most
/// [`tenure_domain::telephone::TELEPHONE_MAX_CHARS`] characters.
fn telephone_rule(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let (number, extension) = match lower.find("ext").or_else(|| lower.find('x')) {
        Some(at) => (&s[..at], Some(&s[at..])),
        None => (s, None),
    };
    let number_ok = number.char_indices().all(|(i, c)| {
        c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (c == '+' && i == 0)
    }) && (7..=15).contains(&number.chars().filter(char::is_ascii_digit).count());
    let extension_ok = extension.is_none_or(|e| {
        let digits = e.trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '.');
        let digits = digits.trim_start_matches(' ');
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    });
    number_ok
        && extension_ok
        && s.trim() == s
        && s.chars().count() <= tenure_domain::telephone::TELEPHONE_MAX_CHARS
}

/// A number people write, in the documented layouts.
fn valid_telephone() -> impl Strategy<Value = String> {
    let number = "\\+?(\\([0-9]{1,4}\\) ?)?[0-9]{3,4}([ -]?[0-9]{2,4}){1,3}";
    let extension = prop_oneof![Just(String::new()), "( ext | ext\\. | x| X)[0-9]{1,6}"];
    (number, extension).prop_map(|(n, e)| format!("{n}{e}"))
}

proptest! {
    #![proptest_config(config())]

    /// An address is accepted only when its stored form meets the rule, and an accepted
    /// address parses back to itself.
    #[test]
    fn email_accepts_only_the_rule_and_round_trips(input in hostile_text()) {
        match Email::parse(&input) {
            Ok(email) => {
                prop_assert!(email_rule(email.as_str()), "stored {:?} from {:?}", email, input);
                prop_assert_eq!(Email::parse(&email.to_string()), Ok(email.clone()));
                prop_assert_eq!(email.as_str(), input.trim().to_lowercase());
            }
            Err(e) => assert_sentence(&e.to_string()),
        }
    }

    /// Every address the grammar allows is accepted, in lower case, and round-trips,
    /// however its letters are cased.
    #[test]
    fn email_accepts_valid_addresses(input in valid_email(), pad in " {0,2}") {
        let email = Email::parse(&format!("{pad}{input}{pad}"));
        let expected = input.to_lowercase();
        prop_assert_eq!(email.as_ref().map(Email::as_str), Ok(expected.as_str()));
    }

    /// A valid address with one hostile character put anywhere is refused unless the
    /// result still meets the rule; a control or text-direction character always is.
    #[test]
    fn email_refuses_hostile_characters(
        input in valid_email(),
        at in any::<usize>(),
        c in prop::sample::select(HOSTILE),
    ) {
        let tampered = insert(&input, at, c);
        match Email::parse(&tampered) {
            Ok(email) => {
                // White space at either end is trimmed off; anywhere else it is refused.
                prop_assert!(!forbidden(c) || c.is_whitespace(), "{:?} accepted into {:?}", c, email);
                prop_assert!(email_rule(email.as_str()), "stored {:?}", email);
            }
            Err(e) => assert_sentence(&e.to_string()),
        }
    }

    /// A name is accepted exactly when, trimmed, it is not empty, has at most
    /// [`NAME_MAX_CHARS`] characters and no control or text-direction character; an
    /// accepted name parses back to itself.
    #[test]
    fn name_accepts_exactly_the_rule(input in hostile_text()) {
        let trimmed = input.trim();
        let rule = !trimmed.is_empty()
            && trimmed.chars().count() <= NAME_MAX_CHARS
            && !trimmed.chars().any(forbidden);
        match Name::parse(&input) {
            Ok(name) => {
                prop_assert!(rule, "accepted {:?}", input);
                prop_assert_eq!(name.as_str(), trimmed);
                prop_assert_eq!(Name::parse(&name.to_string()), Ok(name));
            }
            Err(e) => {
                prop_assert!(!rule, "refused {:?}: {}", input, e);
                assert_sentence(&e.to_string());
            }
        }
    }

    /// The one rule for free text refuses every control and text-direction character
    /// and nothing else among the hostile ones.
    #[test]
    fn the_text_rule_is_the_documented_one(c in prop_oneof![
        prop::sample::select(HOSTILE),
        prop::sample::select(BIDI_CONTROLS),
        any::<char>(),
    ]) {
        prop_assert_eq!(is_forbidden_in_text(c), forbidden(c), "U+{:04X}", u32::from(c));
    }

    /// A telephone number is accepted only when it meets the rule, keeps its layout, and
    /// parses back to itself.
    #[test]
    fn telephone_accepts_only_the_rule_and_round_trips(input in prop_oneof![
        hostile_text(),
        (valid_telephone(), any::<usize>(), prop::sample::select(HOSTILE))
            .prop_map(|(t, at, c)| insert(&t, at, c)),
    ]) {
        match Telephone::parse(&input) {
            Ok(telephone) => {
                prop_assert!(telephone_rule(telephone.as_str()), "stored {:?}", telephone);
                prop_assert_eq!(telephone.as_str(), input.trim());
                prop_assert_eq!(Telephone::parse(&telephone.to_string()), Ok(telephone));
            }
            Err(e) => assert_sentence(&e.to_string()),
        }
    }

    /// Numbers written in the documented layouts are accepted.
    #[test]
    fn telephone_accepts_valid_numbers(input in valid_telephone()) {
        let digits = input
            .split(['x', 'X', 'e'])
            .next()
            .map_or(0, |n| n.chars().filter(char::is_ascii_digit).count());
        let parsed = Telephone::parse(&input);
        if (7..=15).contains(&digits) {
            prop_assert_eq!(parsed.as_ref().map(Telephone::as_str), Ok(input.as_str()));
        } else {
            prop_assert!(parsed.is_err(), "{} digits accepted: {:?}", digits, input);
        }
    }

    /// A password is accepted only within the length limits, counted in code points after
    /// NFKC, never truncated, never on the product's name; the verdict does not change
    /// with normalisation; and the accepted password is the normalised input.
    #[test]
    fn password_policy_counts_code_points_and_never_truncates(
        input in prop_oneof![hostile_text(), "[a-z ]{10,30}", "\\PC{14,20}"],
    ) {
        let policy = PasswordPolicy::default();
        let context = PasswordContext::default();
        let normal = normalise(&input);
        let chars = normal.chars().count();
        let verdict = policy.check(&input, &context);
        prop_assert_eq!(&verdict, &policy.check(&normal, &context), "NFKC changes nothing");
        match verdict {
            Ok(password) => {
                prop_assert_eq!(password.expose(), normal.as_str(), "never truncated");
                prop_assert!((policy.min_chars..=policy.max_chars).contains(&chars));
                prop_assert!(!normal.to_lowercase().contains(PRODUCT));
            }
            Err(e) => {
                match e {
                    PasswordError::TooShort { actual, .. } => {
                        prop_assert_eq!(actual, chars);
                        prop_assert!(chars < policy.min_chars);
                    }
                    PasswordError::TooLong { actual, .. } => {
                        prop_assert_eq!(actual, chars);
                        prop_assert!(chars > policy.max_chars);
                    }
                    PasswordError::Common | PasswordError::ContainsYourDetails => {
                        prop_assert!((policy.min_chars..=policy.max_chars).contains(&chars));
                    }
                }
                assert_sentence(&e.to_string());
            }
        }
    }

    /// Random words of letters, long enough, are accepted whatever separates them: no
    /// composition rules.
    #[test]
    fn password_policy_accepts_random_passphrases(
        words in prop::collection::vec("[bcdfghjklmnpqrstvwxz]{6,9}", 3..5),
        sep in "[ .!-]",
    ) {
        let phrase = words.join(&sep);
        prop_assume!(!phrase.contains(PRODUCT));
        let checked = PasswordPolicy::default().check(&phrase, &PasswordContext::default());
        prop_assert!(checked.is_ok(), "{:?} refused: {:?}", phrase, checked);
    }

    /// Action, feature and entity-type keys parse exactly the names they print as, and
    /// a refusal names what was given.
    #[test]
    fn keys_parse_exactly_their_names(input in prop_oneof![
        hostile_text(),
        prop::sample::select(Action::ALL).prop_map(|a| a.to_string()),
        prop::sample::select(Feature::ALL).prop_map(|f| f.to_string()),
        prop::sample::select(EntityKind::ALL).prop_map(|k| k.to_string()),
    ]) {
        let action = input.parse::<Action>();
        let is_action = Action::ALL.iter().any(|a| a.to_string() == input);
        prop_assert_eq!(action.is_ok(), is_action);
        match action {
            Ok(a) => prop_assert!(a.to_string() == input, "{} from {:?}", a, input),
            Err(e) => assert_sentence(&e.to_string()),
        }
        let feature = input.parse::<Feature>();
        let is_feature = Feature::ALL.iter().any(|f| f.to_string() == input);
        prop_assert_eq!(feature.is_ok(), is_feature);
        match feature {
            Ok(f) => prop_assert!(f.to_string() == input, "{} from {:?}", f, input),
            Err(e) => assert_sentence(&e.to_string()),
        }
        let kind = input.parse::<EntityKind>();
        let is_kind = EntityKind::ALL.iter().any(|k| k.to_string() == input);
        prop_assert_eq!(kind.is_ok(), is_kind);
        match kind {
            Ok(k) => prop_assert_eq!(k.to_string(), input),
            Err(e) => assert_sentence(&e.to_string()),
        }
    }
}
