//! Policy file fuzzing (issue 16): arbitrary TOML-ish text and mutations of the
//! project's example files in `docs/policies`. The loader must never panic; a file it
//! refuses gets at least one error, and every error names the file, a line and column
//! inside it, and says in one line what is wrong; a file it accepts runs without panicking.
//!
//! The case count is modest so CI stays fast; `PROPTEST_CASES` overrides it for a long
//! run: `PROPTEST_CASES=20000 cargo test -p tenure-policy --test it fuzz`.

use proptest::prelude::*;
use tenure_policy::{LoadError, load};

/// The project's example files, with their names.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "core-organisations-and-logs.toml",
        include_str!("../../../../docs/policies/core-organisations-and-logs.toml"),
    ),
    (
        "core-relationship-requests.toml",
        include_str!("../../../../docs/policies/core-relationship-requests.toml"),
    ),
    (
        "core-roles-and-lifecycle.toml",
        include_str!("../../../../docs/policies/core-roles-and-lifecycle.toml"),
    ),
    ("core-second-factor.toml", include_str!("../../../../docs/policies/core-second-factor.toml")),
    ("core-users.toml", include_str!("../../../../docs/policies/core-users.toml")),
    (
        "corterum-administration-user.toml",
        include_str!("../../../../docs/policies/corterum-administration-user.toml"),
    ),
    (
        "corterum-company-confidentiality.toml",
        include_str!("../../../../docs/policies/corterum-company-confidentiality.toml"),
    ),
    (
        "corterum-line-manager.toml",
        include_str!("../../../../docs/policies/corterum-line-manager.toml"),
    ),
    (
        "corterum-second-factor.toml",
        include_str!("../../../../docs/policies/corterum-second-factor.toml"),
    ),
    (
        "corterum-standard-user.toml",
        include_str!("../../../../docs/policies/corterum-standard-user.toml"),
    ),
];

/// The cases each property runs: `PROPTEST_CASES` when set, else a CI-sized default.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(128);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// Pieces of policy files and of TOML syntax, and characters that have broken parsers.
const PIECES: &[&str] = &[
    "[[organisations]]\n",
    "[[users]]\n",
    "[[checks]]\n",
    "[[lists]]\n",
    "[[roles]]\n",
    "[[entities]]\n",
    "[[groups]]\n",
    "[[datasets]]\n",
    "[[relationships]]\n",
    "[[logs]]\n",
    "key = \"a\"\n",
    "key = \"b\"\n",
    "name = \"A\"\n",
    "organisation = \"a\"\n",
    "organisations = [\"a\"]\n",
    "role = \"administrator\"\n",
    "roles = [\"a\"]\n",
    "actor = \"a\"\n",
    "action = \"user.view\"\n",
    "resource = \"user:a\"\n",
    "resource = \"instance:a/b\"\n",
    "expect = \"allow\"\n",
    "expect = [\"a\"]\n",
    "kind = \"user\"\n",
    "datasets = { a = [\"read\"] }\n",
    "stock_owner = \"a\"\n",
    "managing_agent = \"a\"\n",
    "=",
    "\"",
    "'''",
    "\"\"\"",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    "#",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "\0",
    "\u{85}",
    "\u{202e}",
    "\u{feff}",
    "é",
    "😀",
    "İ",
    "\\u0000",
    "\\",
    "1979-05-27T07:32:00Z",
    "1e999",
    "-0",
    "true",
];

/// Text assembled from [`PIECES`] and arbitrary strings.
fn tomlish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![4 => prop::sample::select(PIECES).prop_map(str::to_owned), 1 => ".{0,8}"],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// One change to a file.
#[derive(Clone, Debug)]
enum Mutation {
    /// Cut the file at this character.
    Truncate(usize),
    /// Delete this line.
    DeleteLine(usize),
    /// Repeat this line.
    RepeatLine(usize),
    /// Put this text before this character.
    Insert(usize, String),
    /// Delete this character.
    DeleteChar(usize),
    /// Swap this line with the next.
    SwapLines(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::RepeatLine),
        (
            any::<usize>(),
            prop_oneof![prop::sample::select(PIECES).prop_map(str::to_owned), ".{1,4}"]
        )
            .prop_map(|(at, s)| Mutation::Insert(at, s)),
        any::<usize>().prop_map(Mutation::DeleteChar),
        any::<usize>().prop_map(Mutation::SwapLines),
    ]
}

fn mutate(source: &str, m: &Mutation) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut lines: Vec<&str> = source.split_inclusive('\n').collect();
    let pick = |n: usize, len: usize| if len == 0 { 0 } else { n % len };
    match m {
        Mutation::Truncate(n) => chars[..pick(*n, chars.len() + 1)].iter().collect(),
        Mutation::DeleteChar(n) => {
            let at = pick(*n, chars.len());
            chars.iter().enumerate().filter(|&(i, _)| i != at).map(|(_, c)| c).collect()
        }
        Mutation::Insert(n, text) => {
            let at = pick(*n, chars.len() + 1);
            let head: String = chars[..at].iter().collect();
            let tail: String = chars[at..].iter().collect();
            format!("{head}{text}{tail}")
        }
        Mutation::DeleteLine(n) => {
            if !lines.is_empty() {
                lines.remove(pick(*n, lines.len()));
            }
            lines.concat()
        }
        Mutation::RepeatLine(n) => {
            if !lines.is_empty() {
                let at = pick(*n, lines.len());
                lines.insert(at, lines[at]);
            }
            lines.concat()
        }
        Mutation::SwapLines(n) => {
            if lines.len() >= 2 {
                let at = pick(*n, lines.len() - 1);
                lines.swap(at, at + 1);
            }
            lines.concat()
        }
    }
}

/// Loads a file and checks what came back: a refusal has errors, each naming the file, a
/// place inside the text, and a one-line message; an accepted file runs.
fn load_and_check(name: &str, source: &str) -> Result<(), TestCaseError> {
    match load(name, source) {
        Ok(file) => {
            let report = file.run();
            prop_assert_eq!(report.passed + report.failures.len(), file.len(), "all run");
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty(), "a refused file says why");
            let lines = source.split('\n').count();
            for e in &errors {
                check_error(e, name, lines)?;
            }
        }
    }
    Ok(())
}

fn check_error(e: &LoadError, name: &str, lines: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(&e.file, name);
    prop_assert!((1..=lines).contains(&e.line), "line {} of {}: {}", e.line, lines, e);
    prop_assert!(e.column >= 1, "{}", e);
    prop_assert!(!e.message.trim().is_empty(), "an error says what is wrong: {:?}", e);
    prop_assert!(!e.message.contains(['\n', '\r']), "an error is one line: {:?}", e.message);
    let shown = e.to_string();
    prop_assert!(shown.starts_with(&format!("{name}:{}:{}: ", e.line, e.column)), "{}", shown);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Arbitrary TOML-ish text never panics the loader, and every refusal says where.
    #[test]
    fn arbitrary_text_is_loaded_or_refused_with_places(source in tomlish()) {
        load_and_check("fuzz.toml", &source)?;
    }

    /// Arbitrary strings, not even TOML-shaped.
    #[test]
    fn arbitrary_strings_are_loaded_or_refused_with_places(source in any::<String>()) {
        load_and_check("fuzz.toml", &source)?;
    }

    /// The example files with up to three changes never panic the loader, and every
    /// refusal says where.
    #[test]
    fn mutated_examples_are_loaded_or_refused_with_places(
        example in prop::sample::select(EXAMPLES),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let (name, source) = example;
        let mutated = mutations.iter().fold(source.to_owned(), |s, m| mutate(&s, m));
        load_and_check(name, &mutated)?;
    }
}

/// Every example file loads unchanged (the mutations above start from good files).
#[test]
fn the_examples_load() {
    for (name, source) in EXAMPLES {
        let file = load(name, source).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(file.run().failures, [], "{name}");
    }
}

/// Found by the fuzzing: an unknown key holding a control character (here a newline
/// escaped in a TOML string) was repeated raw, so the error split over two lines.
#[test]
fn a_control_character_in_a_key_is_escaped_in_its_error() {
    let source = "[[checks]]\nactor = \"a\\nb\"\naction = \"user.view\"\nresource = \"service\"\nexpect = \"allow\"\n";
    let errors = load("f.toml", source).expect_err("an unknown actor is refused");
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.starts_with("unknown user `a\\u{a}b`")), "{messages:?}");
    assert!(messages.iter().all(|m| !m.contains('\n')), "{messages:?}");
}
