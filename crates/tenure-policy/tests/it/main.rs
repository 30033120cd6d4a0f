//! Loading and running policy files: good files run, bad files are refused with the file,
//! line and what was expected.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod fuzz;

use tenure_policy::load;

/// A file must be refused with exactly these `line:column: message` errors.
#[track_caller]
fn check_errors(source: &str, expected: &[&str]) {
    let errors = load("f.toml", source).expect_err("the file must be refused");
    let got: Vec<String> =
        errors.iter().map(|e| format!("{}:{}: {}", e.line, e.column, e.message)).collect();
    assert_eq!(got, expected);
    for e in &errors {
        assert!(e.to_string().starts_with("f.toml:"), "errors name the file: {e}");
    }
}

const WORLD: &str = r#"
[[organisations]]
key = "alpha"
name = "Alpha Homes"

[[organisations]]
key = "beta"
name = "Beta Lettings"

[[relationships]]
stock_owner = "alpha"
managing_agent = "beta"

[[users]]
key = "alice"
organisation = "alpha"
role = "data_coordinator"

[[users]]
key = "bob"
organisation = "beta"
role = "data_provider"
"#;

#[test]
fn an_unknown_organisation_kind_says_which_are_accepted() {
    check_errors(
        "[[organisations]]\nkey = \"a\"\nname = \"A\"\nkind = \"charity\"\n",
        &["4:8: unknown organisation kind `charity`: expected `housing` or `company`"],
    );
}

#[test]
fn unknown_fields_and_tables() {
    check_errors(
        "[[organisations]]\nkey = \"a\"\nname = \"A\"\ncolour = \"red\"\n",
        &[
            "4:1: unknown field `colour`, expected one of `key`, `name`, `kind`, `holds_stock`, `active`",
        ],
    );
    check_errors(
        "[[organization]]\nkey = \"a\"\n",
        &[
            "1:3: unknown field `organization`, expected one of `organisations`, `relationships`, `users`, `logs`, `checks`, `lists`, `entities`, `groups`, `datasets`, `roles`, `second_factors`, `reports`",
        ],
    );
}

#[test]
fn syntax_errors() {
    check_errors("[[checks]\nactor = 1\n", &["1:10: unclosed array table, expected `]`"]);
    check_errors("[[checks]]\nactor = 1\n", &["2:9: invalid type: integer `1`, expected a string"]);
}

#[test]
fn bad_references_each_say_what_is_accepted() {
    let source = format!(
        "{WORLD}\n{}",
        r#"
[[users]]
key = "alice"
organisation = "gamma"
role = "boss"

[[checks]]
actor = "alice"
action = "user.fly"
resource = "user:bob"
expect = "allow"

[[checks]]
actor = "zed"
action = "user.view"
resource = "organisation:alpha"
expect = "maybe"

[[checks]]
actor = "alice"
action = "user.invite"
resource = "organisation:alpha"
expect = "allow"

[[lists]]
actor = "alice"
kind = "group"
expect = []
"#
    );
    check_errors(
        &source,
        &[
            "26:7: user key `alice` is used twice",
            "32:10: unknown action `user.fly`; expected one of: user.view, user.edit_details, user.change_email, user.set_flags, user.change_role, user.change_password, user.deactivate, user.reactivate, user.delete, user.move_organisation, user.invite, organisation.view, organisation.edit_details, organisation.edit_all, organisation.list_users, organisation.manage_relationships, organisation.deactivate, organisation.reactivate, organisation.merge, organisation.create, organisation.list_all, user.list_all, log.view, log.edit, log.delete, dataset.read, dataset.edit, dataset.create, feature.use, entity.view, group.edit, role.edit, user.remove_second_factor",
            "37:9: unknown user `zed`; expected one of `alice`, `bob`",
            "39:12: resource `organisation:alpha` does not fit this action; expected `user:KEY`",
            "40:10: unknown expectation `maybe`; expected `allow` or `deny`",
            "42:1: `user.invite` needs `role`: the role given",
            "50:8: unknown list kind `group`; expected `user`, `organisation`, `log`, `entity` or `instance`",
        ],
    );
}

#[test]
fn every_problem_in_a_user_is_reported() {
    check_errors(
        "[[organisations]]\nkey = \"a\"\nname = \"A\"\n\n[[users]]\nkey = \"u\"\norganisation = \"b\"\nrole = \"boss\"\n",
        &[
            "7:16: unknown organisation `b`; expected one of `a`",
            "8:8: unknown role `boss`; expected one of `administrator`, `data_coordinator`, `data_provider`, `none`",
        ],
    );
}

#[test]
fn worlds_the_domain_refuses() {
    let source = r#"
[[organisations]]
key = "a"
name = "A"
holds_stock = false

[[organisations]]
key = "b"
name = "B"

[[organisations]]
key = "a"
name = "Again"

[[relationships]]
stock_owner = "b"
managing_agent = "b"

[[relationships]]
stock_owner = "a"
managing_agent = "b"

[[relationships]]
stock_owner = "b"
managing_agent = "a"

[[relationships]]
stock_owner = "b"
managing_agent = "a"

[[organisations]]
key = "bad key"
name = "   "
"#;
    check_errors(
        source,
        &[
            "12:7: organisation key `a` is used twice",
            "15:1: an organisation cannot be its own stock owner or managing agent",
            "19:1: `A` does not hold its own stock, so it cannot be a stock owner",
            "27:1: `B` is already a stock owner of `A`",
            "32:7: key `bad key` must be 1 to 64 letters, digits, `_`, `-` or `.`",
        ],
    );
}

#[test]
fn corterum_tables_say_what_is_wrong_and_what_is_accepted() {
    check_errors(
        r#"[[organisations]]
key = "fca"
name = "FCA"

[[entities]]
key = "joe"
type = "persn"
name = "Joe"

[[entities]]
key = "acme"
type = "business"
name = "Acme"

[[groups]]
key = "g"
name = "G"
entity_type = "person"
members = ["acme"]

[[datasets]]
key = "courses"
name = "Courses"
kind = "form"
embedded_in = "courses2"

[[datasets]]
key = "courses2"
name = "Courses two"
kind = "table"

[[roles]]
key = "r"
name = "R"
description = " "
features = ["reporting"]
datasets = { courses = ["read", "write"] }

[[users]]
key = "jane"
username = "jane@example.com"
organisations = ["fca"]
roles = ["Line manager"]

[[checks]]
actor = "jane"
action = "dataset.read"
resource = "instance:training/acme"
expect = "allow"
"#,
        &[
            "7:8: unknown entity type `persn`; expected person, business or regulator",
            "15:1: `Acme` is a business, but the group holds person entities only",
            "25:15: only a table can be embedded, and only in a form",
            "36:13: unknown feature `reporting`; expected one of: attestation_form_administration, company_administration, entity_administration, external_report_anti_money_laundering, group_administration, report_fca_directory, report_fit_and_proper_certificate, report_form_h, report_regulatory_reference, report_statement_of_responsibility, roles_administration, rules_administration, task_administration, user_administration",
            "37:33: unknown dataset permission `write`; expected `read`, `edit` or `create`",
            "43:10: unknown role `Line manager`; expected a `[[roles]]` key, or a built-in role: `Root administrator`, `Administrator`, `Senior Manager`, `Certification Employee`, `Conduct Rules Staff` (or their keys), `administrator`, `data_coordinator`, `data_provider`",
            "46:9: unknown user `jane`; the file defines no users",
            "48:12: unknown dataset `training`; expected one of `courses2`, `courses`",
        ],
    );
}

#[test]
fn wrong_expectations_fail_with_the_engines_explanation() {
    let source = format!(
        "{WORLD}\n{}",
        r#"
[[checks]]
actor = "bob"
action = "user.view"
resource = "user:alice"
expect = "allow"

[[checks]]
actor = "alice"
action = "user.deactivate"
resource = "user:bob"
expect = "allow"

[[checks]]
actor = "alice"
action = "user.invite"
resource = "organisation:beta"
role = "administrator"
expect = "allow"

[[lists]]
actor = "alice"
kind = "user"
expect = ["alice"]
"#
    );
    let file = load("f.toml", &source).unwrap();
    assert_eq!(file.len(), 4);
    let report = file.run();
    assert_eq!(report.passed, 1);
    let lines: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "f.toml:25: bob user.view user:alice: expected allow, got deny: denied (not found): none of the actor's roles grants this action over this resource",
            "f.toml:37: alice user.invite organisation:beta giving administrator: expected allow, got deny: denied (forbidden): the actor's roles cannot give role `Administrator` here",
            "f.toml:44: list alice user: expected [alice], got [alice, bob]: `bob` unexpected (allowed: role `Data coordinator` grants this over their organisation and its managing agents)",
        ]
    );
    assert_eq!(report.summary(), "1 passed, 3 failed");
}

#[test]
fn the_projects_example_files_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policies");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let source = std::fs::read_to_string(&path).unwrap();
            let file =
                load(&path.display().to_string(), &source).unwrap_or_else(|e| panic!("{e:?}"));
            let report = file.run();
            assert!(report.failures.is_empty(), "{:#?}", report.failures);
            assert!(report.passed > 0);
            count += 1;
        }
    }
    assert!(count >= 3, "docs/policies holds the CORE examples");
}

#[test]
fn second_factors_are_checkable() {
    let source = r#"
[[organisations]]
key = "alpha"
name = "Alpha Homes"

[[users]]
key = "ada"
organisation = "alpha"
role = "administrator"

[[users]]
key = "cora"
organisation = "alpha"
role = "data_coordinator"

[[second_factors]]
user = "ada"
expect = "optional"

[[second_factors]]
user = "cora"
expect = "optional"
"#;
    let file = tenure_policy::load("2fa.toml", source).unwrap();
    let report = file.run();
    assert_eq!(report.summary(), "1 passed, 1 failed");
    assert_eq!(
        report.failures[0].to_string(),
        "2fa.toml:16: second factor for ada: expected optional, got required: role `Administrator` requires one"
    );

    let bad = source.replace(
        "expect = \"optional\"\n\n[[second_factors]]\nuser = \"cora\"",
        "expect = \"maybe\"\n\n[[second_factors]]\nuser = \"zed\"",
    );
    let errors: Vec<String> = tenure_policy::load("2fa.toml", &bad)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "2fa.toml:18:10: error: unknown second factor expectation `maybe`; expected `required` or `optional`",
            "2fa.toml:21:8: error: unknown user `zed`; expected one of `ada`, `cora`",
        ]
    );
}

#[test]
fn reports_are_checkable_with_the_rule_named() {
    let source = r#"
[[organisations]]
key = "fca"
name = "Financial Conduct Authority"

[[entities]]
key = "charlie"
type = "person"
name = "Charlie Chaplin"
organisations = ["fca"]

[[datasets]]
key = "fit_and_proper_certificate"
name = "Fit and Proper Certificate"
kind = "form"

[[roles]]
key = "standard"
name = "Standard User"
description = "Reads his own certificate"
features = ["report_fit_and_proper_certificate"]
datasets = { fit_and_proper_certificate = ["read"] }

[[users]]
key = "charlie"
username = "Charlie Chaplin"
organisations = ["fca"]
entity = "charlie"
roles = ["standard"]

[[reports]]
actor = "charlie"
report = "fit-and-proper-certificate"
entity = "charlie"
condition_holds = false
expect = "available"

[[reports]]
actor = "charlie"
report = "statement-of-responsibilities"
entity = "charlie"
expect = "not_found"
"#;
    let report = tenure_policy::load("reports.toml", source).unwrap().run();
    assert_eq!(report.summary(), "1 passed, 1 failed");
    assert_eq!(
        report.failures[0].to_string(),
        "reports.toml:31: report fit-and-proper-certificate about charlie for charlie: expected available, got unavailable: A Fit and Proper Certificate is available only for someone whose latest Fitness and Propriety Assessment says they are fit and proper."
    );
    let bad = source
        .replace("report = \"statement-of-responsibilities\"", "report = \"form-h\"")
        .replace("expect = \"not_found\"", "expect = \"maybe\"");
    let errors = tenure_policy::load("reports.toml", &bad).unwrap_err();
    let messages: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
    assert!(messages.iter().any(|m| m.contains("form-h")), "{messages:?}");
    assert!(
        messages.iter().any(|m| m.contains("expected `available`, `unavailable` or `not_found`")),
        "{messages:?}"
    );
}
