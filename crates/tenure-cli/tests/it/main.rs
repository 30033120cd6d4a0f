//! The `tenure` binary, driven as a user would: exit codes and output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod batch;
mod batch_corterum;
mod batch_jobs;
mod corterum;
mod housekeeping;
mod import;
mod instances;
mod lifecycle;
mod mail;
mod serve;

use std::path::PathBuf;
use std::process::{Command, Output};

fn tenure(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenure")).args(args).output().expect("run tenure")
}

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/policies")
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tenure-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn policy_test_passes_the_examples() {
    let mut args = vec!["policy".to_owned(), "test".to_owned()];
    for entry in std::fs::read_dir(docs()).unwrap() {
        args.push(entry.unwrap().path().display().to_string());
    }
    let out = tenure(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let last = stdout.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
}

#[test]
fn a_wrong_expectation_fails_with_exit_1_and_the_explanation() {
    let file = temp_file(
        "wrong.toml",
        r#"
[[organisations]]
key = "a"
name = "A"

[[users]]
key = "p"
organisation = "a"
role = "data_provider"

[[checks]]
actor = "p"
action = "organisation.edit_details"
resource = "organisation:a"
expect = "allow"
"#,
    );
    let out = tenure(&["policy", "test", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        format!(
            "{}:11: p organisation.edit_details organisation:a: expected allow, got deny: denied (forbidden): none of the actor's roles grants this action over this resource\n0 passed, 1 failed\n",
            file.display()
        )
    );
}

#[test]
fn a_malformed_file_runs_nothing_and_exits_2() {
    let good = docs().join("core-users.toml");
    let bad =
        temp_file("bad.toml", "[[users]]\nkey = \"u\"\nrole = \"boss\"\norganisation = \"a\"\n");
    let out = tenure(&["policy", "test", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing is run: {}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{}:3:8: error: unknown role `boss`", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains(":4:16: error: unknown organisation `a`"), "{stderr}");

    let missing = tenure(&["policy", "test", "/nonexistent/policy.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8(missing.stderr)
            .unwrap()
            .contains("/nonexistent/policy.toml: error: cannot read the file")
    );
}

#[test]
fn explain_says_why() {
    let file = docs().join("core-users.toml");
    let f = file.to_str().unwrap();
    let out = tenure(&[
        "policy",
        "explain",
        f,
        "--actor",
        "alice",
        "--action",
        "user.deactivate",
        "--resource",
        "user:bob",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "allowed: role `Data coordinator` grants this over their organisation and its managing agents\n"
    );
    let out = tenure(&[
        "policy",
        "explain",
        f,
        "--actor",
        "alice",
        "--action",
        "user.view",
        "--resource",
        "user:dan",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "denied (not found): none of the actor's roles grants this action over this resource\n"
    );
    let out = tenure(&[
        "policy",
        "explain",
        f,
        "--actor",
        "alice",
        "--action",
        "user.invite",
        "--resource",
        "organisation:alpha",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: `user.invite` needs `role`: the role given\n"
    );
}
