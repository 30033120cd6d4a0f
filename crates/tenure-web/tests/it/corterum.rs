//! Corterum's screens through the router: the root administrator sets up an entity, a
//! group, a role (with "Select all") and a user account from the Administration area;
//! the line manager reads a report's training record as it is and as it was, and finds
//! nothing else; feature permissions gate the Administration pages. User administration
//! through real HTTP: a second administrator cannot strip the root administrator (attack
//! 3 of issue 11), reaches no account of another company, and a stale form conflicts; an
//! account does nothing until its invitation is accepted.

use axum::http::StatusCode;
use tenure_domain::dataset::catalogue_id_of;
use tenure_domain::role::builtin::{CONDUCT_RULES_STAFF, CORTERUM_ADMINISTRATOR, SENIOR_MANAGER};

use crate::{Client, PASSWORD, Site, site_with};

fn id_from(location: &str) -> String {
    location
        .trim_start_matches('/')
        .split('/')
        .nth(2)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_administration_area_and_records_follow_the_roles() {
    let site = site_with(
        tenure_testkit::contract::corterum::world(),
        tenure_web::WebConfig::new("http://127.0.0.1:3000"),
    )
    .await;
    let fca = uuid::Uuid::from_u128(1).to_string();
    let psr = uuid::Uuid::from_u128(2).to_string();
    let training = catalogue_id_of("training_record").unwrap().to_string();
    let courses = catalogue_id_of("training_courses").unwrap().to_string();

    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let home = root.get("/administration").await;
    assert_eq!(home.status, StatusCode::OK);
    for link in [
        // The current page's item, in the Design System's fallback for forced colours.
        ">Administration</strong></a>",
        ">Records</a>",
        ">Entities</a>",
        ">Groups</a>",
        ">Roles</a>",
        ">User accounts</a>",
    ] {
        assert!(home.body.contains(link), "{link}");
    }

    // Entities: choose the type, then the form for that type.
    let step = root.get("/administration/entities/new").await;
    assert!(step.body.contains("What type of entity is it?"));
    let form = root.get("/administration/entities/new?type=person").await;
    assert!(
        form.body.contains("National Insurance number (optional)")
            && form.body.contains("Link to companies")
    );
    let blank = root
        .post(
            "/administration/entities/new",
            &[("type", "person"), ("name", " "), ("companies", &fca)],
        )
        .await;
    assert_eq!(blank.status, StatusCode::OK);
    assert!(
        blank.body.contains("There is a problem") && blank.body.contains("Enter a name"),
        "{}",
        blank.body
    );
    let jane = entity(&mut root, "Jane Smith", &fca).await;
    let joe = entity(&mut root, "Joe Bloggs", &fca).await;
    let pat = entity(&mut root, "Pat Jones", &psr).await;
    let saved = root.get(&format!("/administration/entities/{joe}?saved=1")).await;
    assert!(saved.body.contains("Entity saved") && saved.body.contains("value=\"Analyst\""));

    // A group, a role ("Select all" ticks every dataset), a user account.
    root.get("/administration/groups/new?type=person").await;
    let group = root
        .post(
            "/administration/groups/new",
            &[
                ("type", "person"),
                ("name", "Jane's reports"),
                ("description", "Her team"),
                ("members", &joe),
            ],
        )
        .await;
    assert_eq!(group.status, StatusCode::SEE_OTHER, "{}", group.body);
    let reports = id_from(group.location());
    // The role form says which features open nothing yet, and Company Administration
    // (Companies) is not one of them; the report features open their reports.
    let form = root.get("/administration/roles/new").await;
    assert!(form.body.contains("Rules Administration (opens nothing yet)"), "{}", form.body);
    assert!(form.body.contains(">Company Administration<"), "{}", form.body);
    assert!(!form.body.contains("Company Administration (opens"), "{}", form.body);
    let all = root
        .post(
            "/administration/roles/new",
            &[("name", "Everything"), ("description", "x"), ("select_all", "1")],
        )
        .await;
    assert_eq!(all.body.matches("name=\"read_").count(), 22);
    assert_eq!(
        all.body.matches("value=\"1\" checked").count(),
        22,
        "every dataset ticked for reading"
    );
    let missing = root
        .post("/administration/roles/new", &[("name", "Line manager"), ("description", "")])
        .await;
    assert!(missing.body.contains("Enter a description of the role"), "{}", missing.body);
    let read_training = format!("read_{training}");
    let read_courses = format!("read_{courses}");
    let role = root
        .post(
            "/administration/roles/new",
            &[
                ("name", "Line manager"),
                ("description", "Sees the training of the people they manage"),
                ("groups", &reports),
                ("features", "report_fit_and_proper_certificate"),
                (&read_training, "1"),
                (&read_courses, "1"),
            ],
        )
        .await;
    assert_eq!(role.status, StatusCode::SEE_OTHER, "{}", role.body);
    let line_manager = id_from(role.location());
    root.get("/administration/users/new").await;
    let user = root
        .post(
            "/administration/users/new",
            &[
                ("username", "jane.smith@example.com"),
                ("email", "jane@example.com"),
                ("entity", &jane),
                ("roles", &line_manager),
                ("companies", &fca),
            ],
        )
        .await;
    assert_eq!(user.status, StatusCode::SEE_OTHER, "{}", user.body);
    let token = site.mailer.last_token_for("jane@example.com").expect("an invitation");
    let mut jane_browser = Client::new(&site);
    jane_browser.get(&format!("/account/create?token={token}")).await;
    let created = jane_browser
        .post(
            "/account/create",
            &[("token", &token), ("password", PASSWORD), ("confirm", PASSWORD)],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);

    // Versions of Joe's training record.
    let at = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap())
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    };
    let start = tenure_core::Clock::now(&*site.clock).0;
    let record = format!("/records/{joe}/training_record");
    root.get(&record).await;
    assert_eq!(
        root.post(&record, &[("based_on", "0"), ("field_hours_this_year", "4")]).await.status,
        StatusCode::SEE_OTHER
    );
    site.clock.advance(20 * 60 * 1000);
    root.get(&record).await;
    assert_eq!(
        root.post(&record, &[("based_on", "1"), ("field_hours_this_year", "6")]).await.status,
        StatusCode::SEE_OTHER
    );
    let stale = root.post(&record, &[("based_on", "1"), ("field_hours_this_year", "7")]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "a save from an old version is a conflict");

    // The line manager: Records, no Administration; Joe's training as it is and as it was.
    let mut c = Client::new(&site);
    c.sign_in("jane@example.com").await;
    let page = c.get("/records").await;
    assert!(
        page.body.contains(">Records</strong></a>") && !page.body.contains(">Administration</")
    );
    assert!(
        page.body.contains("Jane Smith")
            && page.body.contains("Joe Bloggs")
            && !page.body.contains("Pat Jones")
    );
    for path in [
        "/administration",
        "/administration/entities",
        "/administration/users",
        "/administration/roles/new",
    ] {
        assert_eq!(c.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let joe_page = c.get(&format!("/records/{joe}")).await;
    assert!(
        joe_page.body.contains("Training record")
            && !joe_page.body.contains("Criminal record check")
    );
    let now = c.get(&record).await;
    assert!(
        now.body.contains("Current version (2 of 2)") && now.body.contains(">6</dd>"),
        "{}",
        now.body
    );
    assert!(!now.body.contains("Save a new version"), "read only");
    let then =
        c.get(&format!("{record}?as_of={}", tenure_web_query(&at(start + 10 * 60 * 1000)))).await;
    assert!(then.body.contains("Version 1 of 2") && then.body.contains(">4</dd>"), "{}", then.body);
    let before = c
        .get(&format!("{record}?as_of={}", tenure_web_query(&at(start - 24 * 60 * 60 * 1000))))
        .await;
    assert!(before.body.contains("Nothing had been recorded by then"));
    let bad = c.get(&format!("{record}?as_of=yesterday-ish")).await;
    assert!(bad.body.contains("Enter a date and time"), "{}", bad.body);
    assert!(c.get(&format!("{record}?version=1")).await.body.contains("Version 1 of 2"));
    assert_eq!(
        c.get(&format!("/records/{joe}/criminal_record_check")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(c.get(&format!("/records/{pat}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        c.get(&format!("/records/{pat}/training_record")).await.status,
        StatusCode::NOT_FOUND
    );
    let edit = c.post(&record, &[("based_on", "2"), ("field_hours_this_year", "9")]).await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);

    // Without the CSRF token nothing is saved.
    let raw = root
        .post_raw(
            "/administration/entities/new",
            &[("type", "person"), ("name", "Sneaky"), ("companies", &fca)],
        )
        .await;
    assert_eq!(raw.status, StatusCode::FORBIDDEN);
    assert!(!root.get("/administration/entities?q=sneaky").await.body.contains("Sneaky"));
}

pub(crate) async fn entity(root: &mut Client<'_>, name: &str, company: &str) -> String {
    root.get("/administration/entities/new?type=person").await;
    let page = root
        .post(
            "/administration/entities/new",
            &[
                ("type", "person"),
                ("name", name),
                ("field_job_title", "Analyst"),
                ("companies", company),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    id_from(page.location())
}

fn tenure_web_query(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The root administrator (with their account, as `tenure serve --demo` seeds it) and
/// the two companies: FCA and PSR.
pub(crate) async fn corterum_site() -> Site {
    let site = site_with(
        tenure_testkit::contract::corterum::world(),
        tenure_web::WebConfig::new("http://127.0.0.1:3000"),
    )
    .await;
    let root = tenure_domain::UserId::from_uuid(uuid::Uuid::from_u128(0xface));
    tenure_core::ChangeStore::apply(
        &*site.store,
        vec![tenure_core::Write::SetUserLinks {
            user: root,
            links: tenure_domain::UserLinks {
                entity: None,
                companies: vec![company(FCA), company(PSR)],
            },
            username: "root@example.com".to_owned(),
        }],
        Vec::new(),
    )
    .await
    .unwrap();
    site
}

pub(crate) const FCA: u128 = 1;
pub(crate) const PSR: u128 = 2;

fn company(n: u128) -> tenure_domain::OrgId {
    tenure_domain::OrgId::from_uuid(uuid::Uuid::from_u128(n))
}

/// The root creates an account through the form; the id from the accounts list.
pub(crate) async fn create_account(
    root: &mut Client<'_>,
    name: &str,
    role: tenure_domain::RoleId,
    company_n: u128,
) -> String {
    root.get("/administration/users/new").await;
    let email = format!("{name}@example.com");
    let page = root
        .post(
            "/administration/users/new",
            &[
                ("username", email.as_str()),
                ("email", email.as_str()),
                ("roles", &role.to_string()),
                ("companies", &company(company_n).to_string()),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let list = root.get("/administration/users").await;
    let at = list.body.find(&format!(">{email}</a>")).expect("listed");
    let href = list.body[..at].rfind("/administration/users/").expect("a link");
    list.body[href + "/administration/users/".len()..at - 1].to_owned()
}

/// Accepts the newest invitation sent to `email`, setting the test password.
pub(crate) async fn accept(site: &Site, email: &str) {
    let token = site.mailer.last_token_for(email).expect("an invitation");
    let mut browser = Client::new(site);
    browser.get(&format!("/account/create?token={token}")).await;
    let page = browser
        .post(
            "/account/create",
            &[("token", &token), ("password", PASSWORD), ("confirm", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

fn version_in(body: &str) -> String {
    let field = "name=\"version\" value=\"";
    let at = body.find(field).expect("a version field") + field.len();
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn a_second_administrator_cannot_strip_the_root_or_leave_their_companies() {
    let site = corterum_site().await;
    let root_id = uuid::Uuid::from_u128(0xface).to_string();
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let second = create_account(&mut root, "second", CORTERUM_ADMINISTRATOR, FCA).await;
    let staff = create_account(&mut root, "staff", CONDUCT_RULES_STAFF, FCA).await;
    let pat = create_account(&mut root, "pat", CONDUCT_RULES_STAFF, PSR).await;
    accept(&site, "second@example.com").await;
    accept(&site, "pat@example.com").await;
    accept(&site, "staff@example.com").await;

    let mut admin = Client::new(&site);
    admin.sign_in("second@example.com").await;
    assert_eq!(admin.get("/administration").await.status, StatusCode::OK);

    // Attack 3: Administration > User accounts > root, only Conduct Rules Staff, Save.
    let page = admin.get(&format!("/administration/users/{root_id}")).await;
    assert_eq!(page.status, StatusCode::OK, "root is in the FCA: visible");
    let version = version_in(&page.body);
    let stripped = admin
        .post(
            &format!("/administration/users/{root_id}"),
            &[
                ("version", &version),
                ("roles", &CONDUCT_RULES_STAFF.to_string()),
                ("companies", &company(FCA).to_string()),
            ],
        )
        .await;
    assert_eq!(stripped.status, StatusCode::FORBIDDEN, "{}", stripped.body);
    assert!(stripped.body.contains("cannot be revoked"), "{}", stripped.body);
    let home = root.get("/administration").await;
    assert_eq!(home.status, StatusCode::OK, "root still opens Administration");
    assert!(home.body.contains(">User accounts</a>"));

    // An account of another company: not listed, not found, not changed.
    let list = admin.get("/administration/users").await;
    assert!(list.body.contains("staff@example.com") && list.body.contains("root@example.com"));
    assert!(!list.body.contains("pat@example.com"), "{}", list.body);
    assert_eq!(
        admin.get(&format!("/administration/users/{pat}")).await.status,
        StatusCode::NOT_FOUND
    );
    admin.get("/administration/users").await;
    let changed = admin
        .post(
            &format!("/administration/users/{pat}"),
            &[
                ("version", "1"),
                ("roles", &CORTERUM_ADMINISTRATOR.to_string()),
                ("companies", &company(FCA).to_string()),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::NOT_FOUND, "{}", changed.body);

    // Nobody changes their own roles.
    let own = admin.get(&format!("/administration/users/{second}")).await;
    let own_version = version_in(&own.body);
    let raised = admin
        .post(
            &format!("/administration/users/{second}"),
            &[
                ("version", &own_version),
                ("roles", &SENIOR_MANAGER.to_string()),
                ("companies", &company(FCA).to_string()),
            ],
        )
        .await;
    assert_eq!(raised.status, StatusCode::FORBIDDEN, "{}", raised.body);

    // A stale form: the administrator opens Staff's account, root saves it first.
    let opened = admin.get(&format!("/administration/users/{staff}")).await;
    let stale = version_in(&opened.body);
    let fresh = root.get(&format!("/administration/users/{staff}")).await;
    assert_eq!(version_in(&fresh.body), stale);
    let saved = root
        .post(
            &format!("/administration/users/{staff}"),
            &[
                ("version", &stale),
                ("roles", &SENIOR_MANAGER.to_string()),
                ("companies", &company(FCA).to_string()),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    admin.get(&format!("/administration/users/{staff}")).await;
    let lost = admin
        .post(
            &format!("/administration/users/{staff}"),
            &[
                ("version", &stale),
                ("roles", &CONDUCT_RULES_STAFF.to_string()),
                ("companies", &company(FCA).to_string()),
            ],
        )
        .await;
    assert_eq!(lost.status, StatusCode::CONFLICT, "{}", lost.body);
    let now = root.get(&format!("/administration/users/{staff}")).await;
    let ticked = format!("value=\"{SENIOR_MANAGER}\" checked");
    assert!(now.body.contains(&ticked), "root's save stands: {}", now.body);
}

#[tokio::test]
async fn an_account_does_nothing_until_its_invitation_is_accepted() {
    let site = corterum_site().await;
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let pending = create_account(&mut root, "pending", CORTERUM_ADMINISTRATOR, FCA).await;
    // A password through a reset link, without accepting the invitation.
    let mut c = Client::new(&site);
    c.get("/account/reset-password").await;
    c.post("/account/reset-password", &[("email", "pending@example.com")]).await;
    let mut token = None;
    for _ in 0..100 {
        let sent = site.mailer.sent();
        let mine: Vec<_> = sent.iter().filter(|m| m.to.as_str() == "pending@example.com").collect();
        if mine.len() >= 2 {
            token = site.mailer.last_token_for("pending@example.com");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let token = token.expect("a reset email: the account is active");
    c.get(&format!("/account/reset-password?token={token}")).await;
    c.post(
        "/account/reset-password/new",
        &[("token", &token), ("password", PASSWORD), ("confirm", PASSWORD)],
    )
    .await;
    c.get("/account/sign-in").await;
    c.post("/account/sign-in", &[("email", "pending@example.com"), ("password", PASSWORD)]).await;
    assert!(c.has_session(), "signed in with a reset password");
    // Its roles are not in force: every page it might use is not found.
    for path in ["/administration", "/administration/users", "/records"] {
        assert_eq!(c.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    // Its page in Corterum's administration says it is invited and offers to withdraw
    // the invitation (CORE's user pages are the housing side's: not found for it).
    let path = format!("/administration/users/{pending}");
    let page = root.get(&path).await;
    assert!(page.body.contains(">Invited</strong>"), "{}", page.body);
    assert!(page.body.contains(&format!("{path}/withdraw-invitation")), "{}", page.body);
    let core = root.get(&format!("/users/{pending}/revoke-invitation")).await;
    assert_eq!(core.status, StatusCode::NOT_FOUND, "{}", core.body);
    // Withdrawing it works, and the account stays idle.
    let withdrawn = root.post(&format!("{path}/withdraw-invitation"), &[]).await;
    assert_eq!(withdrawn.status, StatusCode::SEE_OTHER, "{}", withdrawn.body);
    assert_eq!(withdrawn.location(), format!("{path}?done=withdrawn"));
    let page = root.get(withdrawn.location()).await;
    assert!(page.body.contains("Invitation withdrawn: its link"), "{}", page.body);
    assert!(page.body.contains(">Invitation revoked</strong>"), "{}", page.body);
    assert!(!page.body.contains("/withdraw-invitation"), "nothing left to withdraw");
    assert!(page.body.contains(&format!("{path}/resend-invitation")), "it may be sent again");
    for path in ["/administration", "/administration/users"] {
        assert_eq!(c.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// The root administrator is on the company side: the header offers Corterum's Records,
/// Reports and Administration, and none of CORE's items (Logs, Your organisation, Users,
/// Organisations, Audit trail are the housing side's). The browser test's layout check
/// (`browser_corterum`) counts the same items.
#[tokio::test]
async fn the_root_administrators_header_is_the_company_sides() {
    let site = corterum_site().await;
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let page = root.get("/administration").await;
    let items: Vec<&str> = page
        .body
        .split("<li class=\"govuk-service-navigation__item")
        .skip(1)
        .map(|item| {
            let label = &item[..item.find("</a>").unwrap()];
            let label = label.trim_end_matches("</strong>");
            &label[label.rfind('>').unwrap() + 1..]
        })
        .collect();
    assert_eq!(items, ["Records", "Reports", "Administration"], "{}", page.body);
}
