//! The seed's worked examples through the command line: the root administrator sets up
//! entities, a group, roles and users; a line manager reads a report's training record
//! (as it is and as it was) but not their criminal record; a standard user reads only
//! their own datasets; a dataset exports what the acting user may read.

use crate::batch::{accept, outbox, tenure, text, workdir};

const FCA: &str = "Financial Conduct Authority";

/// Runs a command, expecting success; returns standard output.
fn ok(dir: &std::path::Path, args: &[&str]) -> String {
    let out = tenure(dir, args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worked_examples_through_the_command_line() {
    let dir = workdir("corterum");
    let root = ["--as", "root@example.com"];
    let with = |args: &[&'static str], acting: &[&'static str]| -> Vec<&'static str> {
        args.iter().chain(acting.iter()).copied().collect()
    };

    ok(
        &dir,
        &[
            "admin",
            "create-root",
            "--name",
            "Rita Root",
            "--email",
            "root@example.com",
            "--company",
            FCA,
        ],
    );
    accept(&dir, outbox(&dir).last().unwrap()).await;
    let again = tenure(
        &dir,
        &[
            "admin",
            "create-root",
            "--name",
            "Other",
            "--email",
            "other@example.com",
            "--company",
            FCA,
        ],
    );
    assert_eq!(again.status.code(), Some(1), "one root administrator per account");
    assert!(text(&again.stderr).contains("one per account"), "{}", text(&again.stderr));

    // Entities, a group and two roles.
    for name in ["Jane Smith", "Joe Bloggs", "Charlie Chaplin"] {
        ok(
            &dir,
            &with(
                &["entities", "create", "--type", "person", "--name", name, "--company", FCA],
                &root,
            ),
        );
    }
    let bad = tenure(
        &dir,
        &with(
            &[
                "entities",
                "create",
                "--type",
                "person",
                "--name",
                "X",
                "--field",
                "shoe_size=9",
                "--company",
                FCA,
            ],
            &root,
        ),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("a person has no field `shoe_size`; its fields are:"),
        "{}",
        text(&bad.stderr)
    );
    ok(
        &dir,
        &with(
            &[
                "groups",
                "create",
                "--name",
                "Jane's reports",
                "--type",
                "person",
                "--member",
                "Joe Bloggs",
            ],
            &root,
        ),
    );
    ok(
        &dir,
        &with(
            &[
                "roles",
                "create",
                "--name",
                "Line manager",
                "--description",
                "Sees the training of the people they manage",
                "--group",
                "Jane's reports",
                "--read",
                "training_record",
                "--read",
                "training_courses",
                "--feature",
                "report_fit_and_proper_certificate",
            ],
            &root,
        ),
    );
    let mut standard: Vec<&str> = vec![
        "roles",
        "create",
        "--name",
        "Standard User",
        "--description",
        "Reads their own datasets only",
        "--read",
        "all",
        "--feature",
        "report_fit_and_proper_certificate",
        "--feature",
        "report_statement_of_responsibility",
    ];
    for removed in tenure_domain::dataset::NOT_FOR_STANDARD_USERS {
        standard.extend(["--except", removed]);
    }
    standard.extend(root);
    ok(&dir, &standard);
    let roles = ok(&dir, &with(&["roles", "list"], &root));
    assert!(roles.contains("Standard User") && roles.contains("read 9/22 datasets"), "{roles}");

    // Users: an invitation each, roles once accepted.
    ok(
        &dir,
        &with(
            &[
                "users",
                "create",
                "--username",
                "jane.smith@example.com",
                "--email",
                "jane@example.com",
                "--entity",
                "Jane Smith",
                "--role",
                "Line manager",
                "--company",
                FCA,
            ],
            &root,
        ),
    );
    accept(&dir, outbox(&dir).last().unwrap()).await;
    ok(
        &dir,
        &with(
            &[
                "users",
                "create",
                "--username",
                "Charlie Chaplin",
                "--email",
                "charlie@example.com",
                "--entity",
                "Charlie Chaplin",
                "--role",
                "Standard User",
                "--company",
                FCA,
            ],
            &root,
        ),
    );
    // Until he accepts the invitation, Charlie's account cannot act.
    let early = tenure(&dir, &["entities", "list", "--as", "charlie@example.com"]);
    assert_eq!(early.status.code(), Some(1));
    assert!(text(&early.stderr).contains("cannot act (invited)"), "{}", text(&early.stderr));
    accept(&dir, outbox(&dir).last().unwrap()).await;
    let taken = tenure(
        &dir,
        &with(
            &[
                "users",
                "create",
                "--username",
                "charlie chaplin",
                "--email",
                "c2@example.com",
                "--role",
                "Standard User",
                "--company",
                FCA,
            ],
            &root,
        ),
    );
    assert_eq!(taken.status.code(), Some(2), "usernames are unique, any case");
    let users = ok(&dir, &with(&["users", "list"], &root));
    assert!(
        users.contains("jane.smith@example.com") && users.contains("Charlie Chaplin"),
        "{users}"
    );

    // Versions, and time travel.
    ok(
        &dir,
        &with(
            &[
                "instances",
                "save",
                "--dataset",
                "training_record",
                "--entity",
                "Joe Bloggs",
                "--set",
                "hours_this_year=4",
            ],
            &root,
        ),
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    let between = jiff::Timestamp::now().to_string();
    std::thread::sleep(std::time::Duration::from_millis(20));
    ok(
        &dir,
        &with(
            &[
                "instances",
                "save",
                "--dataset",
                "training_record",
                "--entity",
                "Joe Bloggs",
                "--set",
                "hours_this_year=6",
                "--set",
                "completed=yes",
            ],
            &root,
        ),
    );
    ok(
        &dir,
        &with(
            &[
                "instances",
                "save",
                "--dataset",
                "criminal_record_check",
                "--entity",
                "Joe Bloggs",
                "--set",
                "result=clear",
            ],
            &root,
        ),
    );

    let jane = ["--as", "jane@example.com"];
    let now = ok(
        &dir,
        &with(
            &["instances", "show", "--dataset", "training_record", "--entity", "Joe Bloggs"],
            &jane,
        ),
    );
    assert!(now.contains("version 2 of 2") && now.contains("hours_this_year: 6"), "{now}");
    let then: Vec<&str> = [
        "instances",
        "show",
        "--dataset",
        "training_record",
        "--entity",
        "Joe Bloggs",
        "--as-of",
        between.as_str(),
    ]
    .into_iter()
    .chain(jane)
    .collect();
    let then = ok(&dir, &then);
    assert!(then.contains("version 1 of 2") && then.contains("hours_this_year: 4"), "{then}");
    // Times are read and shown in the service's zone, Europe/London, and say so.
    assert!(now.contains(" GMT\n") || now.contains(" BST\n"), "{now}");
    let before = ok(
        &dir,
        &with(
            &[
                "instances",
                "show",
                "--dataset",
                "training_record",
                "--entity",
                "Joe Bloggs",
                "--as-of",
                "2000-01-01",
                "--time-zone",
                "America/New_York",
            ],
            &jane,
        ),
    );
    assert!(before.contains("no version yet at that time (2 versions in all)"), "{before}");
    let garbled = tenure(
        &dir,
        &with(
            &[
                "instances",
                "show",
                "--dataset",
                "training_record",
                "--entity",
                "Joe Bloggs",
                "--as-of",
                "yesterday",
            ],
            &jane,
        ),
    );
    assert_eq!(garbled.status.code(), Some(1));
    let stderr = text(&garbled.stderr);
    assert!(
        stderr.contains("`yesterday` is not a moment")
            && stderr.contains("2026-11-22 14:30")
            && stderr.contains("read in Europe/London"),
        "{stderr}"
    );
    let nowhere = tenure(
        &dir,
        &with(
            &[
                "instances",
                "show",
                "--dataset",
                "training_record",
                "--entity",
                "Joe Bloggs",
                "--time-zone",
                "Mars/Olympus",
            ],
            &jane,
        ),
    );
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(
        text(&nowhere.stderr).contains("`Mars/Olympus` is not a time zone"),
        "{}",
        text(&nowhere.stderr)
    );
    let secret = tenure(
        &dir,
        &with(
            &["instances", "show", "--dataset", "criminal_record_check", "--entity", "Joe Bloggs"],
            &jane,
        ),
    );
    assert_eq!(secret.status.code(), Some(1));
    assert_eq!(text(&secret.stderr), "error: not found\n");
    let edit = tenure(
        &dir,
        &with(
            &[
                "instances",
                "save",
                "--dataset",
                "training_record",
                "--entity",
                "Joe Bloggs",
                "--set",
                "hours_this_year=9",
            ],
            &jane,
        ),
    );
    assert_eq!(edit.status.code(), Some(1), "read only: {}", text(&edit.stderr));
    let csv = ok(&dir, &with(&["datasets", "export", "training_record"], &jane));
    assert_eq!(csv.lines().count(), 2, "a header and Joe's row: {csv}");
    assert!(csv.lines().nth(1).unwrap().contains(",Joe Bloggs,2,"), "{csv}");
    let entities = ok(&dir, &with(&["entities", "list"], &jane));
    assert_eq!(entities.lines().count(), 2, "herself and her report: {entities}");

    // Charlie reads his own data only.
    let charlie = ["--as", "charlie@example.com"];
    let own = ok(
        &dir,
        &with(
            &["instances", "show", "--dataset", "training_record", "--entity", "Charlie Chaplin"],
            &charlie,
        ),
    );
    assert!(own.contains("no version yet"), "{own}");
    for (dataset, entity) in [
        ("fitness_and_propriety_assessment_record", "Charlie Chaplin"),
        ("training_record", "Joe Bloggs"),
    ] {
        let out = tenure(
            &dir,
            &with(&["instances", "show", "--dataset", dataset, "--entity", entity], &charlie),
        );
        assert_ne!(out.status.code(), Some(0), "{dataset} for {entity}: {}", text(&out.stdout));
    }
    let entities = ok(&dir, &with(&["entities", "list"], &charlie));
    assert!(entities.contains("Charlie Chaplin") && entities.lines().count() == 1, "{entities}");
    let groups = tenure(&dir, &with(&["groups", "list"], &charlie));
    assert_eq!(groups.status.code(), Some(1), "no group administration");
}
