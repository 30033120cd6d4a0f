//! `tenure users import` given bad files, one test per finding of the import's fuzzing
//! review: every answer names the file and line (and the column, where there is one),
//! exits 1 for refused rows and 2 for a file refused whole, never panics, and a file
//! refused whole writes nothing (no invitation sent, no user added).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::batch::{accept, outbox, tenure, text, workdir};

const HEADER: &str = "name,email,organisation,role\n";

/// A database with an active administrator, Ada, to import as.
async fn ready(name: &str) -> PathBuf {
    let dir = workdir(&format!("import-{name}"));
    let out = tenure(&dir, &["migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out =
        tenure(&dir, &["admin", "create", "--name", "Ada Admin", "--email", "ada@example.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    accept(&dir, &outbox(&dir)[0]).await;
    dir
}

fn import(dir: &Path, contents: &[u8]) -> Output {
    std::fs::write(dir.join("users.csv"), contents).unwrap();
    tenure(dir, &["users", "import", "users.csv", "--as", "ada@example.com"])
}

/// The users Ada's export lists, by email.
fn users(dir: &Path) -> Vec<String> {
    let out = tenure(dir, &["users", "export", "--as", "ada@example.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout).lines().skip(1).map(|l| l.split(',').nth(1).unwrap().to_owned()).collect()
}

/// The file was refused whole: exit code 2, exactly `message` on standard error, no
/// summary, and nothing written (no invitation, no user but Ada).
#[track_caller]
fn assert_refused_whole(dir: &Path, out: &Output, message: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), format!("{message}\n"));
    assert_eq!(text(&out.stdout), "", "no summary: nothing was imported");
    assert_eq!(outbox(dir).len(), 1, "no invitation was sent");
    assert_eq!(users(dir), ["ada@example.com"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_1_rows_after_a_multi_line_cell_are_reported_on_their_own_line() {
    let dir = ready("multi-line").await;
    let out = import(
        &dir,
        format!(
            "{HEADER}\"Ann\nOnTwoLines\",ann@example.com,Tenure support,data_provider\n\
             Bad Role,bad@example.com,Tenure support,boss\n\
             \n\
             \"Pete\r\n\",pete@example.com,Tenure support,data_provider\n\
             Nobody,nobody@example.com,Nowhere Homes,data_provider\n"
        )
        .as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(lines[0].starts_with("users.csv:2: name: "), "{stderr}");
    assert!(lines[1].starts_with("users.csv:4: role: `boss` does not exist"), "{stderr}");
    assert_eq!(lines[2], "users.csv:8: organisation `Nowhere Homes` does not exist");
    assert_eq!(
        text(&out.stdout).lines().next(),
        Some(
            "1 created, 0 updated, 0 unchanged, 0 differ (skipped; --update changes them), 3 failed"
        )
    );
    assert_eq!(users(&dir), ["ada@example.com", "pete@example.com"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_2_an_unclosed_quote_is_refused_at_its_row_and_nothing_is_written() {
    let dir = ready("unclosed").await;
    let out = import(
        &dir,
        format!(
            "{HEADER}Cora,cora@example.com,Tenure support,data_coordinator\n\
             \"Una,una@example.com,Tenure support,data_provider\n\
             Pete,pete@example.com,Tenure support,data_provider\n"
        )
        .as_bytes(),
    );
    assert_refused_whole(
        &dir,
        &out,
        "users.csv:3: a quote opened in this row is never closed, so the rest of the file \
         reads as one cell; close it (a quote inside a cell is written twice: \"\")",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_3_a_duplicate_header_is_refused_at_line_1() {
    let dir = ready("duplicate").await;
    let out = import(
        &dir,
        b"name,Name,email,organisation,role\nCora,C,cora@example.com,Tenure support,data_provider\n",
    );
    assert_refused_whole(&dir, &out, "users.csv:1: column `name` appears twice");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_4_a_header_not_utf8_is_refused_with_exit_code_2() {
    let dir = ready("not-utf8").await;
    let message = "users.csv:1: the header row is not UTF-8 text; save the file as CSV UTF-8";
    // What spreadsheets save as "Unicode text": UTF-16 with a byte order mark.
    let utf16: Vec<u8> =
        format!("\u{feff}{HEADER}Cora,cora@example.com,Tenure support,data_provider\n")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
    assert_refused_whole(&dir, &import(&dir, &utf16), message);
    // UTF-16 without the mark.
    let bare: Vec<u8> = HEADER.encode_utf16().flat_map(u16::to_be_bytes).collect();
    assert_refused_whole(&dir, &import(&dir, &bare), message);
    // A legacy code page (Windows-1252's ä).
    let latin1 = b"n\xe4me,email,organisation,role\nCora,cora@example.com,Tenure support,x\n";
    assert_refused_whole(&dir, &import(&dir, latin1), message);
    // A UTF-8 byte order mark is fine.
    let out = import(
        &dir,
        format!("\u{feff}{HEADER}Cora,cora@example.com,Tenure support,data_provider\n").as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(users(&dir), ["ada@example.com", "cora@example.com"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_5_a_cell_not_utf8_names_its_column() {
    let dir = ready("cell-utf8").await;
    let out = import(
        &dir,
        b"name,email,organisation,role\n\
          Cora,cora@example.com,Tenure support,data_coordinator\n\
          Ren\xe9,rene@example.com,Tenure support,data_provider\n\
          Pete,pete@example.com,Tenure support,data_provider\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "users.csv:3: column `name`: the cell is not UTF-8 text; save the file as CSV UTF-8\n"
    );
    assert_eq!(
        text(&out.stdout).lines().next(),
        Some(
            "2 created, 0 updated, 0 unchanged, 0 differ (skipped; --update changes them), 1 failed"
        )
    );
    assert_eq!(users(&dir), ["ada@example.com", "cora@example.com", "pete@example.com"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_6_organisation_and_role_are_quoted_escaped() {
    let dir = ready("escaped").await;
    let out = import(
        &dir,
        b"name,email,organisation,role\n\
          Nora,nora@example.com,\"Now\0here\nHomes\",data_provider\n\
          Rob,rob@example.com,Tenure support,\"bo\xe2\x80\xaess\r\n\"\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "one line each: {stderr:?}");
    assert_eq!(lines[0], "users.csv:2: organisation `Now\\u{0}here\\u{a}Homes` does not exist");
    assert!(
        lines[1].starts_with("users.csv:4: role: `bo\\u{202e}ss` does not exist; expected one of"),
        "{stderr:?}"
    );
    assert!(!stderr.contains(['\0', '\r', '\u{202e}']), "{stderr:?}");
    assert_eq!(users(&dir), ["ada@example.com"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_7_a_file_over_the_caps_is_refused_whole() {
    let dir = ready("caps").await;
    let help = text(&tenure(&dir, &["users", "import", "--help"]).stdout);
    assert!(help.contains("100 MiB, a million rows or 64 KiB in one row"), "{help}");

    let long = format!(
        "{HEADER}Cora,cora@example.com,Tenure support,data_coordinator\n\
         \"{}\",long@example.com,Tenure support,data_provider\n",
        "Long name\n".repeat(7000)
    );
    assert_refused_whole(
        &dir,
        &import(&dir, long.as_bytes()),
        "users.csv:3: this row is longer than 64 KiB",
    );

    let mut many = String::from(HEADER);
    many.push_str("Cora,cora@example.com,Tenure support,data_coordinator\n");
    many.push_str(&"a,b,c,d\n".repeat(1_000_000));
    assert_refused_whole(
        &dir,
        &import(&dir, many.as_bytes()),
        "users.csv:1000002: the file has more than 1000000 rows; split it into smaller files",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_is_bad_input() {
    let dir = ready("missing").await;
    let out = tenure(&dir, &["users", "import", "nope.csv", "--as", "ada@example.com"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("nope.csv: cannot open the file: "),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(users(&dir), ["ada@example.com"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
