//! Parser fuzzing in the core (issue 16): search terms, page numbers and moments as people
//! type them, from arbitrary and hostile text. Each property says what a parsed value
//! must be, not only that nothing panics: a search term is trimmed, lower case, at most
//! [`SEARCH_MAX_CHARS`] characters, free of control and text-direction characters, and
//! parses back to itself; a page is inside its bounds whatever number a URL holds; a
//! moment reads back from its own formats, and a refusal names the accepted formats.
//!
//! The case count is modest so CI stays fast; `PROPTEST_CASES` overrides it for a long
//! run: `PROPTEST_CASES=100000 cargo test -p tenure-core --test it fuzz`.

use proptest::prelude::*;
use tenure_core::Page;
use tenure_core::moment::{self, ACCEPTED};
use tenure_core::query::{SEARCH_MAX_CHARS, Search};
use tenure_domain::Name;
use tenure_domain::name::is_forbidden_in_text;

/// The cases each property runs: `PROPTEST_CASES` when set, else a CI-sized default.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// Characters that have broken parsers: controls, text-direction marks, Unicode white
/// space, letters whose lower case is longer or depends on the next letter, full-text and
/// SQL syntax, and the characters of dates.
const HOSTILE: &[char] = &[
    '\0', '\u{1}', '\t', '\n', '\r', '\u{7f}', '\u{85}', '\u{9f}', '\u{a0}', '\u{61c}', '\u{200e}',
    '\u{202e}', '\u{2066}', '\u{2028}', '\u{3000}', '\u{feff}', 'İ', 'Σ', 'ß', 'ﬁ', '"', '\'', '*',
    '%', '_', '(', ')', '-', '+', ':', 'T', 'Z', 'z', ' ', '0', '1', '2', '9', 'a', 'é', '😀', '[',
    ']', '/',
];

/// Text made mostly of [`HOSTILE`] characters, arbitrary text, or either made long.
fn hostile_text() -> impl Strategy<Value = String> {
    let mixed = prop::collection::vec(
        prop_oneof![3 => prop::sample::select(HOSTILE), 1 => any::<char>()],
        0..48,
    )
    .prop_map(|cs| cs.into_iter().collect::<String>());
    prop_oneof![
        4 => mixed.clone(),
        2 => any::<String>(),
        1 => (mixed, 1usize..60).prop_map(|(s, n)| s.repeat(n)),
    ]
}

/// Text shaped like the moments people type, with hostile characters among the digits.
fn momentish() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "[0-9]{1,5}",
        Just("-".to_owned()),
        Just(":".to_owned()),
        Just("T".to_owned()),
        Just(" ".to_owned()),
        Just("Z".to_owned()),
        Just("+01:00".to_owned()),
        Just(".5".to_owned()),
        Just("[Europe/London]".to_owned()),
        prop::sample::select(HOSTILE).prop_map(String::from),
    ];
    prop_oneof![
        3 => prop::collection::vec(part, 0..12).prop_map(|p| p.concat()),
        1 => "-?[0-9]{4,6}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2})?)?",
    ]
}

proptest! {
    #![proptest_config(config())]

    /// A search term is what was typed without control and text-direction characters,
    /// trimmed, lower-cased, and cut to [`SEARCH_MAX_CHARS`] characters; blank means no
    /// search; a term parses back to itself.
    #[test]
    fn search_terms_are_clean_bounded_and_round_trip(input in hostile_text()) {
        let kept: String = input.chars().filter(|c| !is_forbidden_in_text(*c)).collect();
        match Search::parse(&input) {
            Some(search) => {
                let term = search.as_str();
                prop_assert!(!term.is_empty());
                prop_assert_eq!(term.trim(), term, "trimmed");
                prop_assert!(term.chars().count() <= SEARCH_MAX_CHARS, "{:?}", term);
                prop_assert!(!term.chars().any(is_forbidden_in_text), "{:?}", term);
                prop_assert_eq!(term.to_lowercase(), term, "lower case");
                prop_assert!(kept.to_lowercase().contains(term), "{:?} from {:?}", term, input);
                prop_assert_eq!(Search::parse(term), Some(search.clone()));
            }
            None => prop_assert!(kept.trim().is_empty(), "{:?} is not blank", input),
        }
    }

    /// Searching for a name finds it, however long the name and however its letters
    /// lower-case (a final sigma, a dotted capital I).
    #[test]
    fn a_name_is_found_by_searching_for_it(input in hostile_text()) {
        if let Ok(name) = Name::parse(&input) {
            let search = Search::parse(name.as_str()).expect("a name is not blank");
            prop_assert!(search.found_in(name.as_str()), "{:?} not found by {:?}", name, search);
        }
    }

    /// A page from any number and size a URL can hold stays inside its bounds, and the
    /// pages before the bound follow one another.
    #[test]
    fn pages_stay_in_bounds(number in any::<usize>(), size in any::<usize>()) {
        let page = Page::numbered(number, size);
        prop_assert!((1..=Page::MAX_LIMIT).contains(&page.limit));
        prop_assert!(page.offset <= Page::MAX_OFFSET);
        prop_assert_eq!(page.limit, size.clamp(1, Page::MAX_LIMIT));
        let expected = number.saturating_sub(1).checked_mul(page.limit);
        match expected {
            Some(offset) if offset <= Page::MAX_OFFSET => prop_assert_eq!(page.offset, offset),
            _ => prop_assert_eq!(page.offset, Page::MAX_OFFSET),
        }
    }

    /// A moment is read or refused without panicking in any zone; a moment read back
    /// from its own machine format is the same moment; a refusal names the formats
    /// accepted.
    #[test]
    fn moments_read_back_and_refusals_say_what_is_accepted(
        input in prop_oneof![momentish(), hostile_text()],
        zone in prop::sample::select(&["Europe/London", "UTC", "America/New_York", "Asia/Kolkata"][..]),
    ) {
        let tz = moment::zone(zone).expect("a compiled-in zone");
        match moment::parse(&input, &tz) {
            Ok(m) => {
                let written = moment::format(m, &tz);
                prop_assert_eq!(moment::parse(&written, &tz), Ok(m), "{}", written);
                let _ = moment::describe(m, &tz);
                let civil = moment::format_civil(m, &tz);
                let again = moment::parse(&civil, &tz);
                prop_assert!(again.is_ok(), "{} from {:?}: {:?}", civil, input, again);
            }
            Err(e) => {
                let message = e.to_string();
                prop_assert!(message.contains(ACCEPTED), "{}", message);
                prop_assert_eq!(e.text, input);
            }
        }
    }
}

/// Found by the fuzzing: the term was cut to 100 characters before lower-casing, so `İ`
/// (which lower-cases to two) made terms of up to 200 characters; a cut could end on
/// white space, so the term did not parse back to itself; and a capital sigma cut at the
/// end lower-cased as a final sigma, so searching for a long name did not find it.
#[test]
fn search_terms_are_cut_after_lower_casing() {
    let dotted = Search::parse(&"İ".repeat(SEARCH_MAX_CHARS)).expect("a term");
    assert_eq!(dotted.as_str().chars().count(), SEARCH_MAX_CHARS);
    let spaced = format!("a{}b", " ".repeat(SEARCH_MAX_CHARS));
    assert_eq!(Search::parse(&spaced).map(|s| s.as_str().to_owned()), Some("a".to_owned()));
    let greek = format!("{}ΣΑ", "Α".repeat(SEARCH_MAX_CHARS - 1));
    let search = Search::parse(&greek).expect("a term");
    assert!(search.found_in(&greek), "{search:?}");
}
