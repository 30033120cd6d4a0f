//! Batch jobs through the real binary on SQLite: every kind's round trip (export, import
//! into an empty database, export again: the same file), re-runs that change nothing,
//! dry runs that write nothing (database and audit trail), one batch id on every audit
//! entry of a run, a coordinator's import held to the engine, a bad row in the middle of
//! a chunk (its neighbours commit), `kill -9` in the middle of a chunk (the re-run ends
//! with every row exactly once), and an import's invitations left queued for `tenure mail
//! deliver`, which sends each exactly once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::batch::{accept, outbox, tenure, text, workdir};

/// A database with an active administrator, Ada, in `Tenure support`.
async fn ready(name: &str) -> PathBuf {
    let dir = workdir(&format!("jobs-{name}"));
    let out = tenure(&dir, &["migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out =
        tenure(&dir, &["admin", "create", "--name", "Ada Admin", "--email", "ada@example.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    accept(&dir, &outbox(&dir)[0]).await;
    dir
}

const ORGS: &str = "name,address,telephone,provider_type,registration_number,holds_stock,active\n\
    Riverside Homes,\"1 River Street, Leeds\",+44 113 496 0000,private_registered_provider,L0001,yes,yes\n\
    Northshire Council,,0113 496 0001,local_authority,,no,yes\n\
    Elsewhere Homes,,,,,,\n\
    Old Homes,2 Old Road,,private_registered_provider,L0099,yes,no\n";

const RELATIONSHIPS: &str = "stock_owner,managing_agent\n\
    Riverside Homes,Northshire Council\n\
    Elsewhere Homes,Northshire Council\n";

const USERS: &str = "name,email,telephone,organisation,role\n\
    Cora Coordinator,cora@example.com,,Riverside Homes,data_coordinator\n\
    \"Pete, Provider\",pete@example.com,+44 1632 960001,Northshire Council,Data provider\n\
    Olive Old,olive@example.com,,Elsewhere Homes,administrator\n";

fn write(dir: &Path, name: &str, contents: &str) -> String {
    std::fs::write(dir.join(name), contents).unwrap();
    name.to_owned()
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

fn import(dir: &Path, kind: &str, file: &str, extra: &[&str]) -> Output {
    let mut args = vec![kind, "import", file, "--as", "ada@example.com"];
    args.extend_from_slice(extra);
    tenure(dir, &args)
}

fn export(dir: &Path, kind: &str, actor: &str) -> String {
    ok(&tenure(dir, &[kind, "export", "--as", actor]))
}

/// Every kind's export, in order, as Ada sees it.
fn everything(dir: &Path) -> [String; 3] {
    ["organisations", "relationships", "users"].map(|k| export(dir, k, "ada@example.com"))
}

/// The audit trail's rows, as Ada reads it.
fn trail(dir: &Path) -> Vec<csv::StringRecord> {
    let out = ok(&tenure(dir, &["audit", "export", "--as", "ada@example.com"]));
    csv::Reader::from_reader(out.as_bytes()).records().map(Result::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_round_trips_reruns_change_nothing_and_dry_runs_write_nothing() {
    let a = ready("source").await;
    let orgs = write(&a, "orgs.csv", ORGS);
    let out = ok(&import(&a, "organisations", &orgs, &[]));
    assert_eq!(
        out,
        "4 created, 0 updated, 0 unchanged, 0 differ (skipped; --update changes them), 0 failed\n"
    );
    // One batch id on every audit entry of the run, and only on them.
    let created: Vec<_> = trail(&a)
        .into_iter()
        .filter(|r| &r[1] == "organisation_created" && r[7].starts_with("batch-"))
        .collect();
    assert_eq!(created.len(), 4);
    assert!(created[0][7].starts_with("batch-"), "{:?}", created[0]);
    assert!(
        created.iter().all(|r| r[7] == created[0][7] && &r[9] == "tenure organisations import")
    );
    let deactivated: Vec<_> =
        trail(&a).into_iter().filter(|r| &r[1] == "organisation_deactivated").collect();
    assert_eq!(deactivated.len(), 1, "Old Homes is inactive");
    assert_eq!(deactivated[0][7], created[0][7]);

    ok(&import(&a, "relationships", &write(&a, "rels.csv", RELATIONSHIPS), &[]));
    let out = ok(&import(&a, "users", &write(&a, "users.csv", USERS), &[]));
    assert!(out.starts_with("3 created,"), "{out}");
    let [orgs_a, rels_a, users_a] = everything(&a);
    assert_eq!(
        orgs_a,
        "name,address,telephone,provider_type,registration_number,holds_stock,active\r\n\
         Elsewhere Homes,,,private_registered_provider,,yes,yes\r\n\
         Northshire Council,,0113 496 0001,local_authority,,no,yes\r\n\
         Old Homes,2 Old Road,,private_registered_provider,L0099,yes,no\r\n\
         Riverside Homes,\"1 River Street, Leeds\",'+44 113 496 0000,private_registered_provider,L0001,yes,yes\r\n\
         Tenure support,,,private_registered_provider,,yes,yes\r\n",
        "the telephone is defused"
    );
    assert_eq!(
        rels_a,
        "stock_owner,managing_agent\r\nElsewhere Homes,Northshire Council\r\n\
         Riverside Homes,Northshire Council\r\n"
    );
    assert!(users_a.starts_with("name,email,telephone,organisation,role\r\n"), "{users_a}");
    assert!(users_a.contains("\"Pete, Provider\",pete@example.com,'+44 1632 960001,Northshire Council,Data provider\r\n"), "{users_a}");
    assert_eq!(users_a.lines().count(), 5, "{users_a}");

    // Into an empty database: the same files come out.
    let b = ready("copy").await;
    for (kind, contents) in
        [("organisations", &orgs_a), ("relationships", &rels_a), ("users", &users_a)]
    {
        let file = write(&b, &format!("{kind}.csv"), contents);
        ok(&import(&b, kind, &file, &[]));
    }
    assert_eq!(everything(&b), [orgs_a.clone(), rels_a.clone(), users_a.clone()]);

    // Re-running changes nothing: every row is unchanged, the trail is as it was.
    let before = trail(&b).len();
    for kind in ["organisations", "relationships", "users"] {
        let out = ok(&import(&b, kind, &format!("{kind}.csv"), &["--update"]));
        assert!(out.starts_with("0 created, 0 updated, "), "{kind}: {out}");
        assert!(out.contains(" unchanged, 0 differ"), "{kind}: {out}");
    }
    assert_eq!(trail(&b).len(), before);
    assert_eq!(everything(&b), [orgs_a.clone(), rels_a.clone(), users_a.clone()]);

    // A dry run reports what would happen and writes nothing.
    let changed = ORGS.replace("2 Old Road", "3 New Road") + "Newtown Homes,,,,,,\n";
    let file = write(&b, "changed.csv", &changed);
    let out =
        ok(&import(&b, "organisations", &file, &["--dry-run", "--update", "--format", "json"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    // Compared as JSON values: the order of an object's keys is not part of the format
    // (it follows serde_json's features, which the workspace unifies).
    let value = |line: &str| serde_json::from_str::<serde_json::Value>(line).unwrap_or_default();
    assert_eq!(
        value(lines[3]),
        serde_json::json!({"error": null, "key": "Old Homes", "line": 5, "outcome": "would_update"})
    );
    assert_eq!(
        value(lines[4]),
        serde_json::json!({"error": null, "key": "Newtown Homes", "line": 6, "outcome": "would_create"})
    );
    assert!(lines[5].contains(r#""created":1"#) && lines[5].contains(r#""dry_run":true"#), "{out}");
    assert_eq!(trail(&b).len(), before);
    assert_eq!(everything(&b), [orgs_a.clone(), rels_a.clone(), users_a.clone()]);

    // Without --update a changed row is reported and skipped; with it, changed.
    let out = import(&b, "organisations", &file, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stderr),
        "changed.csv:5: `Old Homes` differs from what is stored; skipped (--update changes it)\n"
    );
    assert!(text(&out.stdout).starts_with("1 created, 0 updated, 3 unchanged, 1 differ"));
    let out = ok(&import(&b, "organisations", &file, &["--update"]));
    assert!(out.starts_with("0 created, 1 updated, 4 unchanged"), "{out}");
    assert!(export(&b, "organisations", "ada@example.com").contains("Old Homes,3 New Road,"));
    for dir in [a, b] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinators_import_cannot_make_what_the_engine_refuses() {
    let dir = ready("coordinator").await;
    ok(&import(&dir, "organisations", &write(&dir, "orgs.csv", ORGS), &[]));
    ok(&import(
        &dir,
        "relationships",
        &write(
            &dir,
            "rels.csv",
            "stock_owner,managing_agent\nRiverside Homes,Northshire Council\n",
        ),
        &[],
    ));
    // `--deliver`: the invitations are sent before it exits.
    let out = ok(&import(&dir, "users", &write(&dir, "users.csv", USERS), &["--deliver"]));
    assert!(out.contains("3 emails queued (invitations); 3 delivered by this import"), "{out}");
    let mail = outbox(&dir).into_iter().find(|m| m.contains("To: cora@example.com")).unwrap();
    accept(&dir, &mail).await;
    let as_cora = |kind: &str, file: &str, extra: &[&str]| {
        let mut args = vec![kind, "import", file, "--as", "cora@example.com"];
        args.extend_from_slice(extra);
        tenure(&dir, &args)
    };

    // Users: her own organisation and its managing agent, not another organisation.
    let users = write(
        &dir,
        "cora-users.csv",
        "name,email,organisation,role\n\
         Rita,rita@example.com,Riverside Homes,data_provider\n\
         Nina,nina@example.com,Northshire Council,data_provider\n\
         Eve,eve@example.com,Elsewhere Homes,data_provider\n\
         Boss,boss@example.com,Riverside Homes,administrator\n",
    );
    for dry in [true, false] {
        let out = as_cora("users", &users, if dry { &["--dry-run"] } else { &[] });
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        let lines: Vec<_> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{stderr}");
        assert!(lines[0].starts_with("cora-users.csv:4: "), "{stderr}");
        assert!(lines[1].starts_with("cora-users.csv:5: "), "{stderr}");
        assert!(text(&out.stdout).starts_with("2 "), "{}", text(&out.stdout));
    }
    let seen = export(&dir, "users", "ada@example.com");
    assert!(seen.contains("rita@example.com") && seen.contains("nina@example.com"));
    assert!(!seen.contains("eve@example.com") && !seen.contains("boss@example.com"), "{seen}");
    // Her export holds only what she may see.
    let hers = export(&dir, "users", "cora@example.com");
    assert!(!hers.contains("olive@example.com") && !hers.contains("ada@example.com"), "{hers}");

    // Relationships: her end becomes a request; two organisations not hers, refused.
    let rels = write(
        &dir,
        "cora-rels.csv",
        "stock_owner,managing_agent\nRiverside Homes,Elsewhere Homes\nElsewhere Homes,Northshire Council\n",
    );
    let out = as_cora("relationships", &rels, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<_> = stdout.lines().collect();
    assert!(lines[0].contains(r#""outcome":"requested""#), "{stdout}");
    assert!(lines[1].contains(r#""outcome":"failed""#), "{stdout}");
    assert_eq!(
        export(&dir, "relationships", "ada@example.com"),
        "stock_owner,managing_agent\r\nRiverside Homes,Northshire Council\r\n",
        "nothing in effect without consent"
    );
    // Re-running leaves the request as it is.
    let out = as_cora("relationships", &rels, &[]);
    assert!(
        text(&out.stdout).starts_with("0 created, 0 updated, 1 unchanged"),
        "{}",
        text(&out.stdout)
    );
    // An administrator, who may answer for the other end, agrees by importing the row.
    let agreed = write(
        &dir,
        "ada-rels.csv",
        "stock_owner,managing_agent\nRiverside Homes,Elsewhere Homes\n",
    );
    let out = ok(&import(&dir, "relationships", &agreed, &["--dry-run"]));
    assert!(out.starts_with("1 would be created"), "{out}");
    let out = ok(&import(&dir, "relationships", &agreed, &[]));
    assert!(out.starts_with("1 created"), "{out}");
    assert!(
        export(&dir, "relationships", "ada@example.com")
            .contains("Riverside Homes,Elsewhere Homes"),
        "in effect"
    );
    let out = ok(&import(&dir, "relationships", &agreed, &[]));
    assert!(out.starts_with("0 created, 0 updated, 1 unchanged"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The invitation entries in the trail, one a user invited.
fn invitations(dir: &Path) -> usize {
    trail(dir).iter().filter(|r| &r[1] == "user_invite_send").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_in_the_middle_of_a_chunk_writes_nothing_and_its_neighbours_commit() {
    let dir = ready("bad-row").await;
    let before = invitations(&dir);
    // Five rows, one chunk: the third names an organisation that does not exist.
    let file = write(
        &dir,
        "five.csv",
        "name,email,organisation,role\n\
         One,one@example.com,Tenure support,data_provider\n\
         Two,two@example.com,Tenure support,data_provider\n\
         Bad,bad@example.com,Nowhere Homes,data_provider\n\
         Four,four@example.com,Tenure support,data_provider\n\
         Five,five@example.com,Tenure support,data_provider\n",
    );
    let out = import(&dir, "users", &file, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "five.csv:4: organisation `Nowhere Homes` does not exist\n",
        "reported with file and line"
    );
    assert!(text(&out.stdout).starts_with("4 created, 0 updated, 0 unchanged"));
    let users = export(&dir, "users", "ada@example.com");
    for who in ["one", "two", "four", "five"] {
        assert!(users.contains(&format!("{who}@example.com")), "{who}: {users}");
    }
    assert!(!users.contains("bad@example.com"), "{users}");
    assert_eq!(invitations(&dir), before + 4, "the bad row wrote no audit entry");
    // Fixed and re-run: only the bad row is new.
    std::fs::write(
        dir.join("five.csv"),
        text(&std::fs::read(dir.join("five.csv")).unwrap())
            .replace("Nowhere Homes", "Tenure support"),
    )
    .unwrap();
    let out = ok(&import(&dir, "users", &file, &[]));
    assert!(out.starts_with("1 created, 0 updated, 4 unchanged"), "{out}");
    assert_eq!(invitations(&dir), before + 5);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_of_an_import_loses_nothing_and_a_rerun_finishes_it() {
    // Rows are committed a chunk (up to 500) at a time: enough chunks that the kill
    // lands in the middle of one.
    const ROWS: usize = 5000;
    let dir = ready("kill").await;
    let before = invitations(&dir);
    let mut file = String::from("name,email,organisation,role\n");
    for i in 0..ROWS {
        file.push_str(&format!("Person {i},p{i}@example.com,Tenure support,data_provider\n"));
    }
    write(&dir, "big.csv", &file);
    let url = format!("sqlite://{}?mode=rwc", dir.join("tenure.db").display());
    let store = tenure_store_seaorm::SeaOrmStore::connect(&url).await.unwrap();
    let first = tenure_domain::Email::parse("p0@example.com").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .current_dir(&dir)
        .env("TENURE_INSECURE_FAST_HASHING", "1")
        .env_remove("TENURE_DATABASE_URL")
        .env_remove("TENURE_SMTP_URL")
        .args(["users", "import", "big.csv", "--as", "ada@example.com"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (polling the database, not timing) until the first chunk is committed, while
    // the next ones are being written, then kill -9.
    loop {
        if tenure_core::ChangeStore::user_by_email(&store, &first).await.unwrap().is_some() {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the import ended before it was killed");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(store);
    let before_rerun = export(&dir, "users", "ada@example.com");
    let kept = before_rerun.lines().count() - 2;
    assert!((1..ROWS).contains(&kept), "killed in the middle: {kept}");
    // What was kept is whole: each kept user has their invitation entry, and no entry of
    // the chunk cut off survived.
    assert_eq!(invitations(&dir), before + kept);

    let out = ok(&tenure(&dir, &["users", "import", "big.csv", "--as", "ada@example.com"]));
    let (summary, mail) = out.split_once('\n').unwrap();
    assert_eq!(
        summary,
        format!(
            "{} created, 0 updated, {kept} unchanged, 0 differ (skipped; --update changes them), 0 failed",
            ROWS - kept
        )
    );
    assert!(mail.starts_with(&format!("{} emails queued", ROWS - kept)), "{mail}");
    // Every row's invitation is queued exactly once: the kill lost none of the kept rows'.
    let status = ok(&tenure(&dir, &["mail", "status"]));
    assert!(status.contains(&format!("queued: {ROWS}\n")), "{status}");
    let after = export(&dir, "users", "ada@example.com");
    let mut emails: Vec<&str> =
        after.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(emails.len(), ROWS + 1);
    emails.sort_unstable();
    emails.dedup();
    assert_eq!(emails.len(), ROWS + 1, "no duplicates");
    for line in before_rerun.lines() {
        assert!(after.contains(line), "kept: {line}");
    }
    // Every row exactly once: one invitation entry each.
    assert_eq!(invitations(&dir), before + ROWS);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without `--deliver` an import queues its invitations and sends none (the outbox stays
/// empty, `tenure mail status` counts them); `tenure mail deliver` then sends each exactly
/// once, and a second run finds nothing to send.
#[tokio::test]
async fn an_import_queues_its_invitations_and_mail_deliver_sends_each_once() {
    let dir = ready("queued").await;
    ok(&import(&dir, "organisations", &write(&dir, "orgs.csv", ORGS), &[]));
    let before = outbox(&dir).len();
    let out = ok(&import(&dir, "users", &write(&dir, "users.csv", USERS), &[]));
    assert!(out.contains("3 emails queued (invitations)"), "{out}");
    assert!(out.contains("`tenure serve`") && out.contains("`tenure mail deliver`"), "{out}");
    assert_eq!(outbox(&dir).len(), before, "nothing sent by the import");
    let status = ok(&tenure(&dir, &["mail", "status"]));
    assert!(status.contains("queued: 3\n"), "{status}");

    let said = ok(&tenure(&dir, &["mail", "deliver"]));
    assert!(said.contains("sent: 3\n"), "{said}");
    let mails = outbox(&dir);
    assert_eq!(mails.len(), before + 3);
    for who in ["cora@example.com", "pete@example.com", "olive@example.com"] {
        let to = format!("To: {who}");
        assert_eq!(mails.iter().filter(|m| m.contains(&to)).count(), 1, "{who} once");
    }
    let status = ok(&tenure(&dir, &["mail", "status"]));
    assert!(status.contains("queued: 0\n"), "{status}");

    // Nothing left: a second run sends nothing, and a re-run of the import queues nothing.
    let said = ok(&tenure(&dir, &["mail", "deliver"]));
    assert!(said.contains("sent: 0\n"), "{said}");
    let out = ok(&import(&dir, "users", "users.csv", &[]));
    assert!(!out.contains("queued"), "{out}");
    assert_eq!(outbox(&dir).len(), before + 3, "each exactly once");
}

/// An administrator's relationships import writes in chunks with the service's own writes:
/// each relationship in effect at once, audited on both ends, and the coordinators of each
/// end told (queued with the row, sent by `mail deliver`); a row naming an organisation
/// that does not exist fails alone, and a row repeated is unchanged the second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_relationships_import_tells_each_ends_coordinators() {
    let dir = ready("relationship-mail").await;
    ok(&import(&dir, "organisations", &write(&dir, "orgs.csv", ORGS), &[]));
    let out = ok(&import(&dir, "users", &write(&dir, "users.csv", USERS), &["--deliver"]));
    assert!(out.contains("3 delivered"), "{out}");
    let cora = outbox(&dir).into_iter().find(|m| m.contains("To: cora@example.com")).unwrap();
    accept(&dir, &cora).await;
    let before = outbox(&dir);

    let rels = write(
        &dir,
        "rels.csv",
        "stock_owner,managing_agent\n\
         Riverside Homes,Northshire Council\n\
         Nowhere Homes,Northshire Council\n\
         Elsewhere Homes,Northshire Council\n\
         Riverside Homes,Northshire Council\n",
    );
    let out = import(&dir, "relationships", &rels, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let outcomes: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(r#""line":"#))
        .map(|l| {
            let at = l.find(r#""outcome":""#).expect("an outcome") + r#""outcome":""#.len();
            &l[at..at + l[at..].find('"').unwrap()]
        })
        .collect();
    assert_eq!(outcomes, ["created", "failed", "created", "unchanged"], "{stdout}");
    assert!(stdout.contains("Nowhere Homes") && stdout.contains("does not exist"), "{stdout}");
    assert_eq!(
        export(&dir, "relationships", "ada@example.com"),
        "stock_owner,managing_agent\r\n\
         Elsewhere Homes,Northshire Council\r\n\
         Riverside Homes,Northshire Council\r\n"
    );
    let added: Vec<_> = trail(&dir).into_iter().filter(|r| &r[1] == "relationship_added").collect();
    assert_eq!(added.len(), 4, "each relationship audited on both ends");

    // Cora manages Riverside's relationships: she is told of hers, once; Pete (a data
    // provider at Northshire) is not told; Northshire has no coordinator.
    let said = ok(&tenure(&dir, &["mail", "deliver"]));
    assert!(said.contains("sent: 1\n"), "{said}");
    let told: Vec<String> = outbox(&dir).into_iter().filter(|m| !before.contains(m)).collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("To: cora@example.com"), "{}", told[0]);
    assert!(told[0].contains("An administrator added"), "{}", told[0]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The demo's database (`tenure serve --demo`, stopped once it answers), in `dir` as
/// `tenure.db` with its key, for the commands to run on.
fn demo(dir: &Path) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .current_dir(dir)
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .env("TENURE_INSECURE_FAST_HASHING", "1")
        .env_remove("TENURE_CONFIG")
        .env_remove("TENURE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = (0..600).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(up, "the demo never answered");
}

/// A coordinator's users import learns nothing of Corterum's side (attack findings A2 and
/// A3): a company named is "does not exist", exactly as a name nothing has, in a real run
/// as in a dry run; and a row holding a company user's address fails alone, without
/// failing the rows of its chunk (the chunk once failed whole, "the storage backend
/// failed", and so told which company an address belonged to).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinators_users_import_learns_nothing_of_the_companies() {
    let dir = crate::batch::workdir("jobs-companies-hidden");
    demo(&dir);
    let key = dir.join("tenure-demo.key").display().to_string();
    let file = write(
        &dir,
        "users.csv",
        "name,email,organisation,role\n\
         Fa One,fa1@example.net,Financial Conduct Authority,data_provider\n\
         No One,no1@example.net,Nowhere Regulator,data_provider\n\
         Jane Again,jane@example.com,Northbridge Homes,data_provider\n\
         Nell New,nell@example.net,Northbridge Homes,data_provider\n",
    );
    for dry in [true, false] {
        let mut args = vec!["users", "import", &file, "--as", "coordinator@example.com"];
        args.extend(["--secret-key-file", &key]);
        if dry {
            args.push("--dry-run");
        }
        let out = tenure(&dir, &args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("users.csv:")).collect();
        assert_eq!(lines.len(), 3, "{stderr}");
        let company = lines[0].replace("Financial Conduct Authority", "X");
        let nothing = lines[1].replace("Nowhere Regulator", "X");
        assert_eq!(
            company.split_once(": ").unwrap().1,
            nothing.split_once(": ").unwrap().1,
            "a company is as a name nothing has"
        );
        assert!(lines[0].contains("does not exist"), "{stderr}");
        assert!(lines[2].starts_with("users.csv:4: "), "{stderr}");
        assert!(!stderr.contains("storage backend"), "{stderr}");
        let want = if dry { "1 would be created" } else { "1 created" };
        assert!(text(&out.stdout).contains(want), "{}", text(&out.stdout));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
