//! CORE's screens of issue 15 through the real router: users for coordinators with an
//! organisation filter, the navigation's current page, and each attack a coordinator of
//! one organisation could try on them, kept as a regression test.

use axum::http::StatusCode;

use crate::{ADA, CORA, Client, org, site};

const ALPHA: u128 = 1;
const BETA: u128 = 2;
const GAMMA: u128 = 3;

#[tokio::test]
async fn a_coordinator_lists_the_users_of_her_organisation_and_its_managing_agents() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let page = cora.get("/users").await;
    assert_eq!(page.status, StatusCode::OK);
    // "Users" is in her header, marked as the current page.
    assert!(
        page.body.contains(r#"href="/users" aria-current="page"><strong class="govuk-service-navigation__active-fallback">Users</strong></a>"#),
        "Users in the header, current: {}",
        page.body
    );
    assert!(!page.body.contains(r#"href="/logs" aria-current"#));
    // Alpha's and Beta's users (Beta is Alpha's managing agent), never Gamma's.
    for email in ["cora@example.com", "pete@example.com", "bea@example.com"] {
        assert!(page.body.contains(email), "{email} is listed");
    }
    assert!(!page.body.contains("cat@example.com"));
    // The filter offers exactly the organisations whose users she may see.
    assert!(page.body.contains(&format!(r#"<option value="{}">Alpha</option>"#, org(ALPHA))));
    assert!(page.body.contains(&format!(r#"<option value="{}">Beta</option>"#, org(BETA))));
    assert!(!page.body.contains("Gamma"), "Gamma is not offered");

    let beta = cora.get(&format!("/users?organisation={}", org(BETA))).await;
    assert_eq!(beta.status, StatusCode::OK);
    assert!(beta.body.contains("Users of Beta"));
    assert!(beta.body.contains("bea@example.com") && !beta.body.contains("pete@example.com"));
    assert!(
        beta.body.contains(&format!(r#"<option value="{}" selected>Beta</option>"#, org(BETA))),
        "the chosen organisation stays chosen"
    );
}

#[tokio::test]
async fn naming_an_organisation_out_of_reach_in_the_users_filter_is_not_found() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    // The attack: name unrelated Gamma (or any id) in the filter to learn its name or
    // whether it exists. Gamma, an id that names nothing and text that is no id all
    // answer alike.
    let missing = uuid::Uuid::from_u128(999).to_string();
    for named in [org(GAMMA), missing, "gamma".to_owned()] {
        let page = cora.get(&format!("/users?organisation={named}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{named}");
        assert!(page.body.contains("Page not found"));
        assert!(!page.body.contains("Gamma") && !page.body.contains("cat@example.com"));
    }
    // A provider of Alpha sees Alpha's users, and Beta is out of her reach.
    let mut pete = Client::new(&site);
    pete.sign_in("pete@example.com").await;
    let page = pete.get(&format!("/users?organisation={}", org(BETA))).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains("Beta"));
    let page = pete.get(&format!("/users?organisation={}", org(ALPHA))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Users of Alpha") && !page.body.contains("bea@example.com"));

    // An administrator reaches every organisation's users by its id.
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let page = ada.get(&format!("/users?organisation={}", org(GAMMA))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Users of Gamma") && page.body.contains("cat@example.com"));
    assert!(!page.body.contains("pete@example.com"));
}

#[tokio::test]
async fn the_audit_trail_reads_as_sentences_filters_by_dates_and_downloads_its_view() {
    use tenure_core::ChangeStore as _;
    let site = site().await;
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    // Ada makes Pete a data coordinator through the edit form.
    let path = format!("/users/{}/edit", crate::id(4));
    ada.get(&path).await;
    let version = site.store.user(crate::user(4)).await.unwrap().unwrap().version.to_string();
    let page = ada
        .post(&path, &[("version", &version), ("role", "data_coordinator"), ("flags", "")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    let page = ada.get("/audit?event=authz_role_change").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Times and dates are in Europe/London"), "{}", page.body);
    assert!(
        page.body.contains("Role changed from data provider to data coordinator by ada."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(r#"<option value="authz_role_change" selected>Role changed</option>"#)
    );
    // Where the request came from has its column (this stack stamps no origins; the
    // audit_origin tests' stack does).
    assert!(page.body.contains(r#"<th scope="col" class="govuk-table__header">Request</th>"#));

    // The clock stands at 15 January 2027 (1_800_000_000_000 ms); the change is on it.
    let on = "from_day=15&from_month=1&from_year=2027&to_day=15&to_month=1&to_year=2027";
    let page = ada.get(&format!("/audit?event=authz_role_change&{on}")).await;
    assert!(page.body.contains("Role changed from data provider"), "{}", page.body);
    let before = "to_day=14&to_month=1&to_year=2027";
    let page = ada.get(&format!("/audit?event=authz_role_change&{before}")).await;
    assert!(page.body.contains("No entries match."));
    let after = "from_day=16&from_month=1&from_year=2027";
    let page = ada.get(&format!("/audit?event=authz_role_change&{after}")).await;
    assert!(page.body.contains("No entries match."));

    // Bad dates say what is wrong and what is accepted.
    for (query, message) in [
        (
            "from_day=31&from_month=2&from_year=2027",
            "The start date must be a real date, like 27 3 2026",
        ),
        (
            "to_day=1&to_month=1&to_year=27",
            "The end date must have a year of four digits, like 2026",
        ),
        (
            "from_day=2&from_month=1&from_year=2027&to_day=1&to_month=1&to_year=2027",
            "The end date must be the same as or after the start date",
        ),
        ("event=nonsense", "Choose an event from the list"),
    ] {
        let page = ada.get(&format!("/audit?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{query}");
        assert!(page.body.contains(message), "{query}: {}", page.body);
        assert!(page.body.contains("<title>Error: Audit trail"), "{query}");
    }

    // The download is the filtered view, formulas defused.
    let csv = ada.get(&format!("/audit/download?event=authz_role_change&{on}")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers.get("content-type").unwrap(), "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 2, "the header and the one change: {}", csv.body);
    assert!(lines[0].starts_with("when,event,outcome,by,to whom,organisation,details"));
    assert!(lines[1].contains("Role changed,success,ada,pete,Alpha,"), "{}", lines[1]);
    let empty = ada.get(&format!("/audit/download?event=authz_role_change&{after}")).await;
    assert_eq!(empty.body.lines().count(), 1);

    // A name typed as a formula is defused in the download.
    let formula = ada.get("/audit/download?event=authz_role_change").await;
    assert!(!formula.body.lines().any(|l| l.starts_with('=')));

    // Nobody else reaches the trail or its download, whatever the filter.
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    for path in [
        "/audit",
        "/audit/download",
        "/audit/download?event=authz_role_change",
        "/audit?user=pete@example.com",
    ] {
        let page = cora.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.body.contains("Role changed"));
    }
}

#[tokio::test]
async fn a_merge_is_a_journey_choose_check_confirm_and_the_merged_page_says_where_it_went() {
    let site = site().await;
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let beta = org(BETA);
    let gamma = org(GAMMA);
    // Step 1: choose from a searchable list (plain search, no JavaScript).
    let page = ada.get(&format!("/organisations/{beta}/merge?search=amm")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!(r#"value="{gamma}">"#)), "{}", page.body);
    assert!(!page.body.contains(&format!(r#"value="{}">"#, org(ALPHA))), "only matches");
    assert!(!page.body.contains(&format!(r#"name="into" type="radio" value="{beta}""#)));
    // Continuing without a choice says what to do.
    let page = ada.get(&format!("/organisations/{beta}/merge/check?search=amm")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = ada.get(page.location()).await;
    assert!(page.body.contains("Choose the organisation to merge into"));
    // Step 2: what moves, and what happens to Beta.
    let page = ada.get(&format!("/organisations/{beta}/merge/check?into={gamma}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Check before you merge Beta into Gamma"));
    let count = |label: &str, n: usize| {
        format!(
            r#"<dt class="govuk-summary-list__key">{label}</dt><dd class="govuk-summary-list__value">{n}</dd>"#
        )
    };
    // Beta: Bea; the log Alpha owns and Beta manages; Alpha as its stock owner.
    assert!(page.body.contains(&count("Users", 1)), "{}", page.body);
    assert!(page.body.contains(&count("Logs", 1)));
    assert!(page.body.contains(&count("Stock owners and managing agents", 1)));
    assert!(page.body.contains("Beta is deactivated"));
    // Nothing has moved yet.
    assert!(ada.get(&format!("/organisations/{beta}")).await.body.contains("Active"));
    // Step 3: confirm; the summary is Beta's page, which says where it went.
    ada.get(&format!("/organisations/{beta}/merge/check?into={gamma}")).await;
    let version = page
        .body
        .split(r#"name="version" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let done = ada
        .post(&format!("/organisations/{beta}/merge"), &[("version", &version), ("into", &gamma)])
        .await;
    assert_eq!(done.location(), format!("/organisations/{beta}?done=merged"), "{}", done.body);
    let page = ada.get(done.location()).await;
    assert!(page.body.contains("The organisations have been merged"));
    assert!(
        page.body.contains(&format!(
            r#"Beta was merged into <a class="govuk-link" href="/organisations/{gamma}">Gamma</a>"#
        )),
        "{}",
        page.body
    );
    let users = ada.get(&format!("/users?organisation={gamma}")).await;
    assert!(users.body.contains("bea@example.com"), "Bea moved");
}

#[tokio::test]
async fn a_coordinator_cannot_reach_the_merge_journey() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let (alpha, beta, gamma) = (org(ALPHA), org(BETA), org(GAMMA));
    // Her own organisation: she may not merge it (an administrator's action), so no
    // counts of anything.
    for path in [
        format!("/organisations/{alpha}/merge"),
        format!("/organisations/{alpha}/merge?search=a"),
        format!("/organisations/{alpha}/merge/check?into={gamma}"),
        format!("/organisations/{beta}/merge/check?into={alpha}"),
    ] {
        let page = cora.get(&path).await;
        assert!(
            matches!(page.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{path}: {}",
            page.status
        );
        assert!(!page.body.contains("What moves"), "{path}");
    }
    // Gamma is out of sight: not found, whatever is asked.
    for path in [
        format!("/organisations/{gamma}/merge"),
        format!("/organisations/{gamma}/merge/check?into={alpha}"),
    ] {
        assert_eq!(cora.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    cora.get("/users").await;
    let page = cora
        .post(&format!("/organisations/{alpha}/merge"), &[("version", "1"), ("into", &gamma)])
        .await;
    assert!(matches!(page.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND));
    assert!(cora.get(&format!("/organisations/{alpha}")).await.body.contains("Active"));
}

#[tokio::test]
async fn the_sign_in_heading_names_the_services_purpose_and_is_configurable() {
    let site = site().await;
    let page = Client::new(&site).get("/account/sign-in").await;
    assert!(
        page.body.contains(
            r#"<h1 class="govuk-heading-l">Sign in to your account to submit CORE data</h1>"#
        ),
        "{}",
        page.body
    );
    let mut config = tenure_web::WebConfig::new("http://127.0.0.1:3000");
    config.sign_in_heading = "Sign in to <Corterum>".to_owned();
    let other = crate::site_with(tenure_testkit::contract::manage::world(), config).await;
    let page = Client::new(&other).get("/account/sign-in").await;
    assert!(page.body.contains("Sign in to &#60;Corterum&#62;</h1>"), "escaped: {}", page.body);
}

#[tokio::test]
async fn logs_have_a_readable_title_their_organisations_assignee_and_status() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let page = cora.get("/logs").await;
    // Log 502: Alpha owns it, Beta manages it, Pete has it. Log 501 is Gamma's.
    let id = uuid::Uuid::from_u128(502).to_string();
    let title = format!("Log {}", id[id.len() - 8..].to_uppercase());
    assert!(page.body.contains(&format!(r#"href="/logs/{id}">{title}</a>"#)), "{}", page.body);
    assert!(page.body.contains("Alpha") && page.body.contains("Beta"));
    assert!(page.body.contains(">Assigned</strong>"));
    let other = uuid::Uuid::from_u128(501).to_string();
    assert!(!page.body.contains(&other), "Gamma's log is not listed");
    let page = cora.get(&format!("/logs/{id}")).await;
    assert!(page.body.contains(&format!("<title>{title} – Tenure</title>")), "{}", page.body);
    assert!(page.body.contains(r#"href="/logs" aria-current="page""#));
    // Gamma's log is out of reach whatever its address.
    assert_eq!(cora.get(&format!("/logs/{other}")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn moving_a_user_chooses_from_a_list_and_a_coordinator_cannot_move_into_what_is_not_hers() {
    let site = site().await;
    let pete = crate::id(4);
    let gamma = org(GAMMA);
    // A coordinator's list holds only what she may bring users into; naming Gamma by id
    // (the attack) is refused, and Pete stays.
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let page = cora.get(&format!("/users/{pete}/move")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "a coordinator may not move users");
    assert!(!page.body.contains("Gamma"));
    let page = cora
        .post(&format!("/users/{pete}/move"), &[("version", "1"), ("organisation", &gamma)])
        .await;
    assert!(page.status.is_client_error(), "{}", page.status);
    assert!(cora.get(&format!("/users/{pete}")).await.body.contains("Alpha"));

    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let page = ada.get(&format!("/users/{pete}/move?search=gam")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!(r#"type="radio" value="{gamma}""#)), "{}", page.body);
    assert!(!page.body.contains(&format!(r#"type="radio" value="{}""#, org(BETA))));
    // No choice says what to do.
    let version = page
        .body
        .split(r#"name="version" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let page = ada
        .post(&format!("/users/{pete}/move"), &[("version", &version), ("organisation", "")])
        .await;
    assert!(page.body.contains("Choose the organisation to move them to"));
    let page = ada
        .post(&format!("/users/{pete}/move"), &[("version", &version), ("organisation", &gamma)])
        .await;
    assert_eq!(page.location(), format!("/users/{pete}?done=moved"), "{}", page.body);
    assert!(
        ada.get(&format!("/users?organisation={gamma}")).await.body.contains("pete@example.com")
    );
}

/// Log 502: Alpha owns it, Beta manages it, Pete has it. Log 501 is Gamma's.
fn log_id(n: u128) -> String {
    uuid::Uuid::from_u128(n).to_string()
}

#[tokio::test]
async fn a_coordinator_deletes_her_organisations_log_after_confirming_and_the_audit_keeps_it() {
    use tenure_core::{AuditDetail, AuditName, AuditQuery, ChangeStore as _, Page};
    let site = site().await;
    let log = log_id(502);
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let page = cora.get(&format!("/logs/{log}")).await;
    assert!(page.body.contains(&format!(r#"href="/logs/{log}/delete">Delete log</a>"#)));
    let page = cora.get(&format!("/logs/{log}/delete")).await;
    assert_eq!(page.status, StatusCode::OK);
    let title = format!("Log {}", log[log.len() - 8..].to_uppercase());
    assert!(page.body.contains(&format!("Are you sure you want to delete {title}?")));
    assert!(
        page.body.contains("Alpha") && page.body.contains("Beta") && page.body.contains("pete")
    );
    assert!(page.body.contains("The audit trail keeps what it was"));
    // A post that did not come from the confirmation page deletes nothing.
    let page = cora.post(&format!("/logs/{log}/delete"), &[]).await;
    assert_eq!(page.location(), format!("/logs/{log}/delete"));
    assert_eq!(cora.get(&format!("/logs/{log}")).await.status, StatusCode::OK);
    cora.get(&format!("/logs/{log}/delete")).await;
    let page = cora.post(&format!("/logs/{log}/delete"), &[("confirm", "delete")]).await;
    assert_eq!(page.location(), "/logs?done=deleted");
    let page = cora.get("/logs?done=deleted").await;
    assert!(page.body.contains("The log has been deleted."), "{}", page.body);
    assert!(!page.body.contains(&log), "no longer listed");
    assert_eq!(cora.get(&format!("/logs/{log}")).await.status, StatusCode::NOT_FOUND);
    // Again: it is gone ("not found", nothing written).
    let page = cora.post(&format!("/logs/{log}/delete"), &[("confirm", "delete")]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // The audit keeps what it was, in one entry.
    let query = AuditQuery { name: Some(AuditName::LogDelete), ..AuditQuery::default() };
    let entries = site.store.audit(&query, Page::numbered(1, 10)).await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let AuditDetail::LogDelete(detail) = &entries[0].detail else { panic!("{entries:?}") };
    assert_eq!((detail.log.as_str(), detail.owner_name.as_str()), (log.as_str(), "Alpha"));
    assert_eq!(detail.manager_name, "Beta");
    assert_eq!(detail.assigned_to, Some(crate::id(4)));
    assert_eq!(entries[0].actor, Some(crate::user(2)));
    assert_eq!(entries[0].organisation.map(|o| o.to_string()), Some(org(ALPHA)));
    // And the trail says it in words.
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let page = ada.get("/audit?event=log_deleted").await;
    assert!(
        page.body.contains(&format!(
            "{title} deleted (owned by Alpha, managed by Beta, assigned) by cora."
        )),
        "{}",
        page.body
    );
}

/// The attack: a coordinator of Alpha deletes Gamma's log by its address. It is "not
/// found" exactly as a log that does not exist, and the log stays.
#[tokio::test]
async fn a_coordinator_cannot_delete_another_organisations_log() {
    use tenure_core::{AuditName, AuditQuery, ChangeStore as _, Page};
    let site = site().await;
    let gamma_log = log_id(501);
    let nothing = log_id(599);
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let missing = cora.get(&format!("/logs/{nothing}/delete")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let page = cora.get(&format!("/logs/{gamma_log}/delete")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(page.body, missing.body, "the same page as for no log at all");
    cora.get("/logs").await;
    let page = cora.post(&format!("/logs/{gamma_log}/delete"), &[("confirm", "delete")]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    // Gamma's log is still there for those who see it.
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    assert_eq!(ada.get(&format!("/logs/{gamma_log}")).await.status, StatusCode::OK);
    let query = AuditQuery { name: Some(AuditName::LogDelete), ..AuditQuery::default() };
    assert!(site.store.audit(&query, Page::numbered(1, 10)).await.unwrap().is_empty());
    // A provider deletes only the logs assigned to them: Cat's log is hers to delete,
    // Pete's page offers him his own, and he sees no button on a log he does not hold.
    let mut pete = Client::new(&site);
    pete.sign_in("pete@example.com").await;
    assert_eq!(pete.get(&format!("/logs/{gamma_log}/delete")).await.status, StatusCode::NOT_FOUND);
    let own = log_id(502);
    assert!(pete.get(&format!("/logs/{own}")).await.body.contains("Delete log"));
}
