//! Corterum's batch jobs through the real binary on SQLite: entities and groups round
//! trip (export, import into an empty database, export again: the same file), re-runs
//! change nothing, dry runs write nothing, and an administrator of one company neither
//! reads another company's entities in an export nor imports into them. Companies
//! round trip too, and a CORE housing organisation is never one of the root
//! administrator's companies: naming one fails the row and writes nothing.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::batch::{accept, outbox, tenure, text, workdir};

const FCA: &str = "Financial Conduct Authority";
const PSR: &str = "Payment Systems Regulator";
const ROOT: &str = "root@example.com";

const ENTITIES: &str = "type,name,job_title,registration_number,abbreviation,companies,links\n\
    person,Joe Bloggs,=1+2,,,Financial Conduct Authority,previous_employer=Acme Bank\n\
    business,Acme Bank,,01234567,,Financial Conduct Authority,\n\
    regulator,Watchdog,,,WD,Financial Conduct Authority,regulator_of=Acme Bank; custom:Auditor \
    of=Joe Bloggs\n\
    person,Pat Jones,,,,Payment Systems Regulator,\n";

const ROLES: &str = "name,description,groups,features,datasets,requires_second_factor\n\
    Line manager,Sees the training of the people they manage,Jane's reports,,\
    training_record=read; training_courses=read,no\n\
    Compliance reader,Reads who is who,All People,group_administration; entity_administration,,yes\n";

const ACCOUNTS: &str = "username,email,entity,roles,companies\n\
    joe.bloggs,joe@example.com,Joe Bloggs,Line manager,Financial Conduct Authority\n\
    pat,pat@example.com,Pat Jones,Conduct Rules Staff,Payment Systems Regulator\n";

const INSTANCES: &str = "dataset,entity_type,entity,content\n\
    training_record,person,Joe Bloggs,\"{\"\"hours_this_year\"\":\"\"4\"\",\"\"completed\"\":\"\"yes\"\"}\"\n\
    training_courses,person,Joe Bloggs,\"[{\"\"course\"\":\"\"AML\"\",\"\"hours\"\":\"\"2\"\"}]\"\n\
    training_record,person,Pat Jones,\"{\"\"hours_this_year\"\":\"\"1\"\"}\"\n";

const GROUPS: &str = "name,description,type,members\n\
    Jane's reports,Who Jane manages,person,Joe Bloggs; Pat Jones\n\
    Banks,,business,Acme Bank\n";

const HOUSING: &str = "Riverside Homes";

/// A database with Corterum's root administrator (Rita, at the FCA, who administers
/// every company), a second company, the PSR (imported by Rita), and CORE's first
/// administrator (Ada) at a housing organisation.
async fn ready(name: &str) -> PathBuf {
    let dir = workdir(&format!("corterum-jobs-{name}"));
    let root = ["admin", "create-root", "--name", "Rita Root", "--email", ROOT, "--company", FCA];
    ok(&tenure(&dir, &root));
    accept(&dir, outbox(&dir).last().unwrap()).await;
    let psr = write(&dir, "psr.csv", &format!("name\n{PSR}\n"));
    ok(&import(&dir, "companies", &psr, ROOT, &[]));
    let ada = ["admin", "create", "--name", "Ada", "--email", "ada@example.com"];
    ok(&tenure(&dir, &[&ada[..], &["--organisation", HOUSING]].concat()));
    accept(&dir, outbox(&dir).last().unwrap()).await;
    dir
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    std::fs::write(dir.join(name), contents).unwrap();
    name.to_owned()
}

fn import(dir: &Path, kind: &str, file: &str, actor: &str, extra: &[&str]) -> Output {
    tenure(dir, &[&[kind, "import", file, "--as", actor][..], extra].concat())
}

fn export(dir: &Path, kind: &str, actor: &str) -> String {
    ok(&tenure(dir, &[kind, "export", "--as", actor]))
}

fn everything(dir: &Path, actor: &str) -> [String; 5] {
    ["entities", "groups", "roles", "accounts", "instances"].map(|k| export(dir, k, actor))
}

fn audit_rows(dir: &Path) -> usize {
    ok(&tenure(dir, &["audit", "export", "--as", "ada@example.com"])).lines().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corterum_kinds_round_trip_rerun_dry_run_and_stay_within_companies() {
    let a = ready("source").await;
    let entities = write(&a, "entities.csv", ENTITIES);
    let out = import(&a, "entities", &entities, ROOT, &[]);
    // The person is first in the file and links to a business further down; the
    // regulator links to the person.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "entities.csv:2: links: no entity you can see is called `Acme Bank` (if it is \
             further down the file, run the import again once it is created)"
        ),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        "2 created, 0 updated, 0 unchanged, 0 differ (skipped; --update changes them), 2 failed\n"
    );
    let out = ok(&import(&a, "entities", &entities, ROOT, &[]));
    assert_eq!(
        out,
        "2 created, 0 updated, 2 unchanged, 0 differ (skipped; --update changes them), 0 failed\n"
    );
    let groups = write(&a, "groups.csv", GROUPS);
    ok(&import(&a, "groups", &groups, ROOT, &[]));
    let roles = write(&a, "roles.csv", ROLES);
    ok(&import(&a, "roles", &roles, ROOT, &[]));
    let accounts = write(&a, "accounts.csv", ACCOUNTS);
    // `--deliver`: the invitations are sent before it exits (checked below).
    ok(&import(&a, "accounts", &accounts, ROOT, &["--deliver"]));
    let instances = write(&a, "instances.csv", INSTANCES);
    ok(&import(&a, "instances", &instances, ROOT, &[]));
    let [e1, g1, r1, acc1, i1] = everything(&a, ROOT);
    assert_eq!(
        i1.replace("\r\n", "\n"),
        "dataset,entity_type,entity,content\n\
         training_record,person,Joe Bloggs,\"{\"\"completed\"\":\"\"yes\"\",\"\"hours_this_year\"\":\"\"4\"\"}\"\n\
         training_record,person,Pat Jones,\"{\"\"hours_this_year\"\":\"\"1\"\"}\"\n\
         training_courses,person,Joe Bloggs,\"[{\"\"course\"\":\"\"AML\"\",\"\"hours\"\":\"\"2\"\"}]\"\n",
        "forms before the tables embedded in them"
    );
    // CSV rows end in CRLF.
    assert_eq!(
        e1.replace("\r\n", "\n"),
        "type,name,preferred_name,date_of_birth,national_insurance_number,\
         individual_reference_number,job_title,email,telephone,registration_number,\
         firm_reference_number,address,abbreviation,website,companies,links\n\
         business,Acme Bank,,,,,,,,01234567,,,,,Financial Conduct Authority,\n\
         person,Joe Bloggs,,,,,'=1+2,,,,,,,,Financial Conduct Authority,\
         previous_employer=Acme Bank\n\
         person,Pat Jones,,,,,,,,,,,,,Payment Systems Regulator,\n\
         regulator,Watchdog,,,,,,,,,,,WD,,Financial Conduct Authority,\
         custom:Auditor of=Joe Bloggs; regulator_of=Acme Bank\n",
        "businesses first, formulas defused"
    );
    assert_eq!(
        g1.replace("\r\n", "\n"),
        "name,description,type,members\n\
         Banks,,business,Acme Bank\n\
         Jane's reports,Who Jane manages,person,Joe Bloggs; Pat Jones\n"
    );

    assert_eq!(
        r1.replace("\r\n", "\n"),
        "name,description,groups,features,datasets,requires_second_factor\n\
         Compliance reader,Reads who is who,All People,entity_administration; \
         group_administration,,yes\n\
         Line manager,Sees the training of the people they manage,Jane's reports,,\
         training_courses=read; training_record=read,no\n"
    );
    assert_eq!(
        acc1.replace("\r\n", "\n"),
        "username,email,entity,roles,companies\n\
         joe.bloggs,joe@example.com,Joe Bloggs,Line manager,Financial Conduct Authority\n\
         pat,pat@example.com,Pat Jones,Conduct Rules Staff,Payment Systems Regulator\n\
         root@example.com,root@example.com,,Root administrator,Financial Conduct Authority\n",
        "the accounts' invitations were sent"
    );
    assert!(outbox(&a).iter().any(|m| m.contains("pat@example.com")));

    // Re-running changes nothing; a dry run writes nothing.
    let before = audit_rows(&a);
    for (kind, file, n) in [
        ("entities", &entities, 4),
        ("groups", &groups, 2),
        ("roles", &roles, 2),
        ("accounts", &accounts, 2),
        ("instances", &instances, 3),
    ] {
        let out = ok(&import(&a, kind, file, ROOT, &[]));
        assert_eq!(
            out,
            format!(
                "0 created, 0 updated, {n} unchanged, 0 differ (skipped; --update changes them), \
                 0 failed\n"
            )
        );
    }
    let changed = write(
        &a,
        "changed.csv",
        "type,name,job_title,companies\nperson,Joe Bloggs,Manager,Financial Conduct Authority\n\
         person,New Person,,Financial Conduct Authority\n",
    );
    let out = ok(&import(&a, "entities", &changed, ROOT, &["--update", "--dry-run"]));
    assert!(out.starts_with("1 would be created, 1 would be updated,"), "{out}");
    let groups_changed =
        write(&a, "groups2.csv", "name,type,members\nBanks,business,\nNew,person,Joe Bloggs\n");
    let out = ok(&import(&a, "groups", &groups_changed, ROOT, &["--update", "--dry-run"]));
    assert!(out.starts_with("1 would be created, 1 would be updated,"), "{out}");
    let roles_changed = write(
        &a,
        "roles2.csv",
        "name,description,features\nLine manager,Changed,\nNew role,New,entity_administration\n",
    );
    let out = ok(&import(&a, "roles", &roles_changed, ROOT, &["--update", "--dry-run"]));
    assert!(out.starts_with("1 would be created, 1 would be updated,"), "{out}");
    let accounts_changed = write(
        &a,
        "accounts2.csv",
        "username,email,roles,companies\n\
         joe.bloggs,joe@example.com,Conduct Rules Staff,Financial Conduct Authority\n\
         new,new@example.com,Conduct Rules Staff,Financial Conduct Authority\n",
    );
    let out = ok(&import(&a, "accounts", &accounts_changed, ROOT, &["--update", "--dry-run"]));
    assert!(out.starts_with("1 would be created, 1 would be updated,"), "{out}");
    let hours = write(
        &a,
        "hours.csv",
        "dataset,entity_type,entity,content\n\
         training_record,person,Joe Bloggs,\"{\"\"hours_this_year\"\":\"\"5\"\"}\"\n",
    );
    let out = ok(&import(&a, "instances", &hours, ROOT, &["--update", "--dry-run"]));
    assert!(out.starts_with("0 would be created, 1 would be updated,"), "{out}");
    let mail = outbox(&a).len();
    assert_eq!(
        everything(&a, ROOT),
        [e1.clone(), g1.clone(), r1.clone(), acc1.clone(), i1.clone()],
        "the dry runs wrote nothing"
    );
    assert_eq!(outbox(&a).len(), mail, "and sent nothing");
    assert_eq!(audit_rows(&a), before, "nor any audit entry");
    let joe = write(
        &a,
        "joe.csv",
        "type,name,job_title,companies\nperson,Joe Bloggs,Manager,Financial Conduct Authority\n",
    );
    let out = import(&a, "entities", &joe, ROOT, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains(r#""outcome":"differs""#), "{}", text(&out.stdout));

    // Into an empty database: the same files.
    let b = ready("copy").await;
    std::fs::write(b.join("entities.csv"), &e1).unwrap();
    std::fs::write(b.join("groups.csv"), &g1).unwrap();
    std::fs::write(b.join("roles.csv"), &r1).unwrap();
    std::fs::write(b.join("accounts.csv"), &acc1).unwrap();
    std::fs::write(b.join("instances.csv"), &i1).unwrap();
    for kind in ["entities", "groups", "roles", "accounts", "instances"] {
        ok(&import(&b, kind, &format!("{kind}.csv"), ROOT, &[]));
    }
    assert_eq!(
        everything(&b, ROOT),
        [e1.clone(), g1.clone(), r1.clone(), acc1.clone(), i1.clone()]
    );

    // A changed instance is saved as a new version, with --update; then left alone.
    let out = ok(&import(&a, "instances", &hours, ROOT, &["--update"]));
    assert!(out.starts_with("0 created, 1 updated,"), "{out}");
    let out = ok(&import(&a, "instances", &hours, ROOT, &["--update"]));
    assert!(out.starts_with("0 created, 0 updated, 1 unchanged,"), "{out}");
    let shown = ok(&tenure(
        &a,
        &[
            "instances",
            "show",
            "--dataset",
            "training_record",
            "--entity",
            "Joe Bloggs",
            "--as",
            ROOT,
        ],
    ));
    assert!(shown.contains("version 2 of 2, saved"), "{shown}");

    // The FCA's second administrator sees the FCA's entities and members only ...
    let second = [
        "users",
        "create",
        "--username",
        "second",
        "--email",
        "second@example.com",
        "--role",
        "Administrator",
        "--company",
        FCA,
        "--as",
        ROOT,
    ];
    ok(&tenure(&a, &second));
    accept(&a, outbox(&a).last().unwrap()).await;
    let [e2, g2, _, acc2, i2] = everything(&a, "second@example.com");
    assert!(!i2.contains("Pat Jones"), "{i2}");
    assert!(!acc2.contains("pat"), "{acc2}");
    assert!(acc2.contains("joe.bloggs"), "{acc2}");
    assert!(!e2.contains("Pat Jones") && !e2.contains(PSR), "{e2}");
    assert!(e2.contains("Joe Bloggs"), "{e2}");
    assert!(g2.contains("Jane's reports,Who Jane manages,person,Joe Bloggs\r\n"), "{g2}");
    assert!(!g2.contains("Pat"), "{g2}");
    // ... and cannot import into the PSR's: a company out of reach is one that does not
    // exist, and members out of sight are not found.
    let attack = write(
        &a,
        "attack.csv",
        "type,name,job_title,companies\nperson,Pat Jones,Spy,Payment Systems Regulator\n",
    );
    let out = import(&a, "entities", &attack, "second@example.com", &["--update"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("companies: none of your companies is called `Payment Systems Regulator`"),
        "{}",
        text(&out.stderr)
    );
    let attack = write(
        &a,
        "attack-links.csv",
        "type,name,companies,links\nperson,Spy,Financial Conduct Authority,related_to=Pat Jones\n",
    );
    let out = import(&a, "entities", &attack, "second@example.com", &["--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("links: no entity you can see is called `Pat Jones`"),
        "{}",
        text(&out.stderr)
    );
    let attack = write(&a, "attack-groups.csv", "name,type,members\nSpies,person,Pat Jones\n");
    let out = import(&a, "groups", &attack, "second@example.com", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("members: no person you can see is called `Pat Jones`"),
        "{}",
        text(&out.stderr)
    );
    let attack = write(
        &a,
        "attack-accounts.csv",
        "username,email,roles,companies\npat,pat@example.com,Line manager,Financial Conduct Authority\n",
    );
    let out = import(&a, "accounts", &attack, "second@example.com", &["--update"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // Their re-import of what they see keeps what they cannot: Pat stays in the group.
    std::fs::write(a.join("g2.csv"), &g2).unwrap();
    ok(&import(&a, "groups", "g2.csv", "second@example.com", &["--update"]));
    let [e3, g3, r3, acc3, _] = everything(&a, ROOT);
    assert_eq!([e3, g3, r3], [e1, g1, r1]);
    assert!(acc1.lines().all(|l| acc3.lines().any(|m| m == l)), "{acc3}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companies_round_trip_and_a_housing_organisation_is_no_company() {
    let a = ready("companies").await;
    let file = "name,address,telephone,registration_number\n\
        Acme Advisers,\"1 High Street, Leeds\",0113 496 0000,SC123456\n\
        Beta Partners,,,\n";
    let companies = write(&a, "companies.csv", file);
    let out = ok(&import(&a, "companies", &companies, ROOT, &[]));
    assert!(out.starts_with("2 created, 0 updated, 0 unchanged,"), "{out}");
    let e1 = export(&a, "companies", ROOT);
    assert_eq!(
        e1.replace("\r\n", "\n"),
        "name,address,telephone,registration_number\n\
         Acme Advisers,\"1 High Street, Leeds\",0113 496 0000,SC123456\n\
         Beta Partners,,,\n\
         Financial Conduct Authority,,,\n\
         Payment Systems Regulator,,,\n",
        "every company, never the housing organisation"
    );
    // Re-running changes nothing; a dry run writes nothing.
    let out = ok(&import(&a, "companies", &companies, ROOT, &[]));
    assert!(out.starts_with("0 created, 0 updated, 2 unchanged,"), "{out}");
    let before = audit_rows(&a);
    let changed =
        write(&a, "changed.csv", "name,address\nBeta Partners,2 Low Street\nGamma Group,\n");
    let out = ok(&import(&a, "companies", &changed, ROOT, &["--update", "--dry-run"]));
    assert!(out.starts_with("1 would be created, 1 would be updated,"), "{out}");
    assert_eq!(export(&a, "companies", ROOT), e1, "the dry run wrote nothing");
    assert_eq!(audit_rows(&a), before, "nor any audit entry");
    // The housing organisation's name is no company: not created over, not updated.
    let housing = write(&a, "housing.csv", &format!("name,address\n{HOUSING},Somewhere\n"));
    let out = import(&a, "companies", &housing, ROOT, &["--update"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("another organisation already has this name"),
        "{}",
        text(&out.stderr)
    );

    // CORE's administrator has no Companies: an empty export, and an import adds none.
    let ada = export(&a, "companies", "ada@example.com");
    assert_eq!(ada.replace("\r\n", "\n"), "name,address,telephone,registration_number\n");
    let out = import(&a, "companies", &changed, "ada@example.com", &["--update"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(export(&a, "companies", ROOT), e1);

    // Into an empty database: the same file.
    let b = ready("companies-copy").await;
    std::fs::write(b.join("companies.csv"), &e1).unwrap();
    let out = ok(&import(&b, "companies", "companies.csv", ROOT, &[]));
    assert!(out.starts_with("2 created, 0 updated, 2 unchanged,"), "{out}");
    assert_eq!(export(&b, "companies", ROOT), e1);

    // The root administrator's "every company" is never a CORE housing organisation:
    // entities, accounts and dry runs naming one fail the row and write nothing.
    let before = audit_rows(&a);
    let entities = write(
        &a,
        "housing-entities.csv",
        &format!("type,name,companies\nperson,Hugh Housing,{HOUSING}\n"),
    );
    for extra in [&[][..], &["--dry-run"][..]] {
        let out = import(&a, "entities", &entities, ROOT, extra);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&format!(
                "housing-entities.csv:2: companies: none of your companies is called `{HOUSING}`"
            )),
            "{}",
            text(&out.stderr)
        );
    }
    let accounts = write(
        &a,
        "housing-accounts.csv",
        &format!(
            "username,email,roles,companies\nhugh,hugh@example.com,Conduct Rules Staff,{HOUSING}\n"
        ),
    );
    let out = import(&a, "accounts", &accounts, ROOT, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains(&format!("companies: none of your companies is called `{HOUSING}`")),
        "{}",
        text(&out.stderr)
    );
    assert!(!export(&a, "entities", ROOT).contains("Hugh"));
    assert!(!export(&a, "accounts", ROOT).contains("hugh"));
    assert!(!outbox(&a).iter().any(|m| m.contains("hugh@example.com")));
    assert_eq!(audit_rows(&a), before, "nothing was written");
}
