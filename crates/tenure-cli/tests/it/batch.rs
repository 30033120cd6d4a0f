//! The batch commands a newcomer runs first: migrate, create the first administrator,
//! import users from CSV (bad rows reported by line, nothing half-written, re-runs
//! skipping what was done), export users and the audit trail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use tenure_core::{Manage, ManagePolicy, ManagePorts};
use tenure_store_seaorm::SeaOrmStore;

/// A fresh folder to run in, like a newcomer's checkout.
pub(crate) fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tenure-batch-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) fn tenure(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenure"))
        .current_dir(dir)
        .env("TENURE_INSECURE_FAST_HASHING", "1")
        .env_remove("TENURE_DATABASE_URL")
        .env_remove("TENURE_SMTP_URL")
        .args(args)
        .output()
        .expect("run tenure")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The outbox's messages, in order.
pub(crate) fn outbox(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join("outbox"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    names.sort();
    names.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

fn token(message: &str) -> String {
    let at = message.find("token=").expect("a link") + "token=".len();
    message[at..].chars().take_while(char::is_ascii_hexdigit).collect()
}

/// Accepts an invitation the way the web's "create your account" page does.
pub(crate) async fn accept(dir: &Path, message: &str) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("tenure.db").display());
    let store = Arc::new(SeaOrmStore::open(&url).await.unwrap());
    let ports = ManagePorts {
        directory: store.clone(),
        changes: store.clone(),
        hasher: Arc::new(tenure_hash_argon2::Argon2id::cheap_for_tests().unwrap()),
        secrets: Arc::new(tenure_secrets_os::OsSecrets),
        courier: tenure_testkit::fakes::courier(
            store.clone(),
            Arc::new(tenure_testkit::fakes::MemoryMailer::default()),
            Arc::new(tenure_secrets_os::SystemClock),
        ),
        clock: Arc::new(tenure_secrets_os::SystemClock),
        ids: Arc::new(tenure_secrets_os::UuidV7),
    };
    Manage::new(ports, ManagePolicy::default())
        .accept_invitation(&token(message), "correct horse battery staple")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_migrates_creates_the_administrator_and_imports_users() {
    let dir = workdir("newcomer");
    let out = tenure(&dir, &["migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.join("tenure.db").exists());

    let out =
        tenure(&dir, &["admin", "create", "--name", "Ada Admin", "--email", "ada@example.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("outbox"), "says where the email is");
    let mails = outbox(&dir);
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: ada@example.com"));
    assert!(mails[0].contains("http://127.0.0.1:3000/account/create?token="));

    // Nobody else can take the first administrator's place.
    let out = tenure(&dir, &["admin", "create", "--name", "Eve", "--email", "eve@example.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("already exists or has been invited"));

    // Until Ada accepts, she cannot act.
    let csv = dir.join("users.csv");
    std::fs::write(
        &csv,
        "name,email,telephone,organisation,role\n\
         Cora Coordinator,cora@example.com,,Tenure support,data_coordinator\n\
         Bad Row,not-an-email,,Tenure support,data_provider\n\
         Nobody,nobody@example.com,,Nowhere Homes,data_provider\n\
         Wrong Role,wr@example.com,,Tenure support,boss\n\
         \"Pete, Provider\",pete@example.com,01632 960 001,tenure SUPPORT,Data provider\n",
    )
    .unwrap();
    let out = tenure(&dir, &["users", "import", "users.csv", "--as", "ada@example.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("invitation accepted"), "{}", text(&out.stderr));

    accept(&dir, &mails[0]).await;
    let out = tenure(&dir, &["users", "import", "users.csv", "--as", "ada@example.com"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "some rows failed: {stderr}");
    assert!(stderr.contains("users.csv:3: email: enter an email address"), "{stderr}");
    assert!(
        stderr.contains("users.csv:4: organisation `Nowhere Homes` does not exist"),
        "{stderr}"
    );
    assert!(
        stderr.contains("users.csv:5: role: `boss` does not exist; expected one of"),
        "{stderr}"
    );
    assert!(!stderr.contains("users.csv:2:") && !stderr.contains("users.csv:6:"), "{stderr}");
    let said = text(&out.stdout);
    assert_eq!(
        said.lines().next(),
        Some(
            "2 created, 0 updated, 0 unchanged, 0 differ (skipped; --update changes them), 3 failed"
        )
    );
    // The invitations are queued, not sent: `tenure mail deliver` (or `tenure serve`) sends them.
    assert!(said.contains("2 emails queued (invitations)"), "{said}");
    assert!(said.contains("`tenure mail deliver`"), "{said}");
    assert_eq!(outbox(&dir).len(), 1, "only Ada's, so far");
    let out = tenure(&dir, &["mail", "deliver"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sent: 2\n"), "{}", text(&out.stdout));
    let mails = outbox(&dir);
    assert_eq!(mails.len(), 3, "one invitation per good row");
    assert!(mails[1].contains("To: cora@example.com") && mails[2].contains("To: pete@example.com"));

    // Safe to re-run: done rows are skipped, nothing is duplicated, no mail is resent.
    let out = tenure(&dir, &["users", "import", "users.csv", "--as", "ada@example.com"]);
    assert_eq!(
        text(&out.stdout).trim(),
        "0 created, 0 updated, 2 unchanged, 0 differ (skipped; --update changes them), 3 failed",
        "and no email queued"
    );
    assert_eq!(outbox(&dir).len(), 3);

    // A file with the wrong columns is refused whole, saying which.
    std::fs::write(dir.join("wrong.csv"), "name,mail\nA,a@example.com\n").unwrap();
    let out = tenure(&dir, &["users", "import", "wrong.csv", "--as", "ada@example.com"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr,
        "wrong.csv:1: the header row must name the columns `name`, `email`, `organisation`, \
         `role` and may name `telephone`; unknown: `mail`; missing: `email`, `organisation`, \
         `role`\n"
    );

    // Export: everyone Ada sees, with the import's columns (an invitation's role shows
    // until it is accepted).
    let out = tenure(&dir, &["users", "export", "--as", "ada@example.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let export = text(&out.stdout);
    let lines: Vec<_> = export.lines().collect();
    assert_eq!(lines[0], "name,email,telephone,organisation,role");
    assert_eq!(lines.len(), 4, "{export}");
    assert!(
        lines.iter().any(|l| l.contains("ada@example.com") && l.ends_with(",Administrator")),
        "{export}"
    );
    assert!(
        lines.iter().any(|l| l.contains(
            "\"Pete, Provider\",pete@example.com,01632 960 001,Tenure support,Data provider"
        )),
        "{export}"
    );

    // The audit trail: for administrators, filtered.
    let out = tenure(
        &dir,
        &["audit", "export", "--as", "ada@example.com", "--event", "user_invite_send"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let audit = text(&out.stdout);
    assert_eq!(audit.lines().count(), 1 + 3, "{audit}");
    assert!(
        audit
            .lines()
            .nth(1)
            .unwrap()
            .contains(",user_invite_send,success,ada@example.com,pete@example.com,Tenure support,"),
        "{audit}"
    );
    let out = tenure(&dir, &["audit", "export", "--as", "ada@example.com", "--event", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("expected one of: authn_login_success"));
    std::fs::remove_dir_all(&dir).unwrap();
}
