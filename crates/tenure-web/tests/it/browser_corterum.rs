//! Corterum's newer screens in real headless Chromium, with axe on every page (see
//! `browser.rs` for the stack and the helpers): links between entities on the entity
//! form and "Linked from" on the business's page and record, and the Reports area from
//! the header (a report not available, the FCA Directory report). With
//! `TENURE_SCREENSHOTS=DIR` it saves screenshots 51 to 55. The Companies screen's
//! journey saves 56 and 57.

use uuid::Uuid;

use crate::PASSWORD;
use crate::browser::{browser, stack_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corterum_links_and_reports_in_a_real_browser() {
    let stack = stack_with("corterum-links", tenure_testkit::contract::corterum::world()).await;
    let Some((mut b, _driver)) = browser(&stack.base).await else { return };
    let fca = Uuid::from_u128(1).to_string();
    b.sign_in("root@example.com", PASSWORD).await;

    // The root administrator is on the company side: Records, Reports and Administration
    // (CORE's Logs, Your organisation, Users, Organisations and Audit trail are the
    // housing side's; `corterum::the_root_administrators_header_is_the_company_sides`
    // pins the same items without a browser). At 1280 by 800 they fit on one row, with
    // "Your account" and "Sign out" in the header above them (CORE's administrator has
    // the widest header, checked in `browser.rs`).
    b.go("/administration").await;
    let [width, items, rows, above] = b.header_layout().await;
    assert!(width >= 1270 && items == 3, "{width} px wide, {items} items");
    assert_eq!((rows, above), (1, 1), "one row of {items} items, the account links above");

    // A person and a business of the FCA.
    let mut made = Vec::new();
    for (kind, name) in [("person", "Charlie Chaplin"), ("business", "Acme Bank")] {
        b.go(&format!("/administration/entities/new?type={kind}")).await;
        b.fill("#name", name).await;
        let page = b.click("form[method='post'] button.govuk-button").await;
        assert!(page.contains("Entity saved"), "{page}");
        made.push(b.current_id().await);
    }
    let (charlie, acme) = (made[0].clone(), made[1].clone());
    assert!(b.source().await.contains(&format!("value=\"{fca}\" checked")));

    // Charlie's previous employer: the kind, then the entity, then Save.
    let page = b.go(&format!("/administration/entities/{charlie}")).await;
    assert!(page.contains("Links to other entities") && page.contains("Acme Bank (Business)"));
    b.choose("#link_kind", "previous_employer").await;
    b.choose("#link_to", &acme).await;
    b.shot("51-corterum-entity-links").await;
    let page = b.click("form[method='post'] button.govuk-button").await;
    assert!(
        page.contains("Entity saved") && page.contains("Previous employer: Acme Bank"),
        "{page}"
    );
    // A custom kind with no name says what to do.
    b.choose("#link_kind", "custom").await;
    b.choose("#link_to", &acme).await;
    let page = b.click("form[method='post'] button.govuk-button").await;
    assert!(page.contains("There is a problem") && page.contains("Name the custom link kind"));

    // Linked from: Acme shows Charlie, on its administration page and its record.
    let page = b.go(&format!("/administration/entities/{acme}")).await;
    assert!(page.contains("Linked from") && page.contains("Charlie Chaplin"));
    let page = b.go(&format!("/records/{acme}")).await;
    assert!(page.contains("Linked from") && page.contains("Previous employer"));
    b.shot("52-corterum-linked-from").await;

    // Reports from the header.
    let page = b.click_link("Reports").await;
    assert!(page.contains("aria-current=\"page\"><strong class=\"govuk-service-navigation__active-fallback\">Reports</strong></a>") || page.contains("Fit and Proper"));
    b.shot("53-corterum-reports").await;
    let page = b.click_link("Fit and Proper Certificate").await;
    assert!(page.contains("Who is it about?"));
    b.choose("#entity", &charlie).await;
    let page = b.click("form button.govuk-button").await;
    assert!(page.contains("Not available"), "never assessed: {page}");
    b.shot("54-corterum-report-not-available").await;
    b.go("/reports").await;
    let page = b.click_link("FCA Directory report").await;
    let page = if page.contains("Show report") && !page.contains("Download as CSV") {
        b.click("form button.govuk-button").await
    } else {
        page
    };
    assert!(page.contains("Charlie Chaplin") && page.contains("Download as CSV"), "{page}");
    b.shot("55-corterum-report").await;
    b.sign_out().await;
    assert!(b.visited >= 12, "axe ran on {} pages", b.visited);
    b.client.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&stack.dir);
}

/// Issue 15, items 4 and 5, in the browser with axe on every page: a table's rows added,
/// one changed and one removed (each a new version), the history in words, two versions
/// side by side, the form showing its embedded table, and "View as of" before the first
/// version. With `TENURE_SCREENSHOTS=DIR` it saves screenshots 58 to 61.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corterum_tables_and_history_in_a_real_browser() {
    let stack = stack_with("corterum-tables", tenure_testkit::contract::corterum::world()).await;
    let Some((mut b, _driver)) = browser(&stack.base).await else { return };
    b.sign_in("root@example.com", PASSWORD).await;
    b.go("/administration/entities/new?type=person").await;
    b.fill("#name", "Joe Bloggs").await;
    let page = b.click("form[method='post'] button.govuk-button").await;
    assert!(page.contains("Entity saved"), "{page}");
    let joe = b.current_id().await;

    // The training record (a form), then its table of courses, three rows.
    let record = format!("/records/{joe}/training_record");
    let table = format!("/records/{joe}/training_courses");
    let save = |path: &str| format!("form[method='post'][action='{path}'] button");
    b.go(&record).await;
    b.fill("#field_hours_this_year", "4").await;
    let page = b.click(&save(&record)).await;
    assert!(page.contains("New version saved"), "{page}");
    // Ten minutes apart on the stack's clock.
    let mut saved = Vec::new();
    for (course, hours) in [("AML", "3"), ("GDPR", "2"), ("Fire safety", "1")] {
        stack.clock.advance(10 * 60 * 1000);
        saved.push(tenure_core::Clock::now(&*stack.clock).0);
        b.go(&table).await;
        b.fill("#field_course", course).await;
        b.fill("#field_hours", hours).await;
        let page = b.click(&save(&table)).await;
        assert!(page.contains("New version saved") && page.contains(course), "{page}");
    }

    // Change row 2.
    let page = b.click("a[href$='/rows/2']").await;
    assert!(page.contains("Change row 2") && page.contains("value=\"GDPR\""), "{page}");
    b.fill("#field_course", "Data protection").await;
    b.shot("58-corterum-table-edit").await;
    let page = b.click(&save(&format!("{table}/rows/2"))).await;
    assert!(page.contains("New version saved") && page.contains("Data protection"), "{page}");
    // Remove row 1, after confirming.
    let page = b.click("a[href$='/rows/1/remove']").await;
    assert!(page.contains("Remove row 1?") && page.contains("AML"), "{page}");
    let page = b.click("button.govuk-button--warning").await;
    assert!(page.contains("Current version (5 of 5)"), "{page}");
    assert!(
        page.contains("Row 1 removed: Course \u{201c}AML\u{201d}, Hours \u{201c}3\u{201d}")
            && page.contains(
                "Row 2: Course changed from \u{201c}GDPR\u{201d} to \u{201c}Data protection\u{201d}"
            ),
        "{page}"
    );
    b.go(&format!("{table}#history")).await;
    b.shot("59-corterum-history-changes").await;

    // Versions 1 and 5 side by side.
    b.choose("#from", "1").await;
    b.choose("#to", "5").await;
    let page = b.click("form[action$='/compare'] button").await;
    assert!(page.contains("Side by side") && page.contains("Version 5, saved"), "{page}");
    assert!(page.contains("Row 2 added: Course \u{201c}Fire safety\u{201d}"), "{page}");
    b.shot("60-corterum-compare-versions").await;

    // The form's page shows its embedded table.
    let page = b.go(&record).await;
    assert!(page.contains(">Training courses</h2>") && page.contains("Data protection"), "{page}");

    // View as of: a date alone is the end of that day; noon the day before is before the
    // first version, and the page says so; a minute after the second row, the table as
    // it was then.
    let london = jiff::tz::TimeZone::get("Europe/London").unwrap();
    let zoned = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap().to_zoned(london.clone());
    let today = zoned(saved[0]).date();
    let yesterday = today.yesterday().unwrap();
    let get = format!("form[method='get'][action='{table}'] button");
    b.go(&table).await;
    for (field, value) in [
        ("#day", today.day().to_string()),
        ("#month", today.month().to_string()),
        ("#year", today.year().to_string()),
    ] {
        b.fill(field, &value).await;
    }
    let page = b.click(&get).await;
    assert!(page.contains("Current version (5 of 5)"), "{page}");
    for (field, value) in [
        ("#day", yesterday.day().to_string()),
        ("#month", yesterday.month().to_string()),
        ("#year", yesterday.year().to_string()),
        ("#time", "12:00".to_owned()),
    ] {
        b.fill(field, &value).await;
    }
    let page = b.click(&get).await;
    assert!(
        page.contains("Nothing had been recorded by then")
            && page.contains("before the first version of this record"),
        "{page}"
    );
    let then = zoned(saved[1] + 60_000);
    for (field, value) in [
        ("#day", then.day().to_string()),
        ("#month", then.month().to_string()),
        ("#year", then.year().to_string()),
        ("#time", then.strftime("%H:%M").to_string()),
    ] {
        b.fill(field, &value).await;
    }
    let page = b.click(&get).await;
    assert!(page.contains("Version 2 of 5, as saved") && page.contains(">GDPR<"), "{page}");
    assert!(!page.contains("Fire safety</td>"), "not yet added then: {page}");
    b.shot("61-corterum-view-as-of").await;
    b.sign_out().await;
    assert!(b.visited >= 16, "axe ran on {} pages", b.visited);
    b.client.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&stack.dir);
}

/// Issue 15, Corterum 6: the Administration lists search, filter and page (the next
/// page keeps the filters), and a user account is deactivated, reactivated and deleted
/// after a confirmation page, its entity kept. With `TENURE_SCREENSHOTS=DIR` it saves
/// screenshot 62 (the delete confirmation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corterum_lists_and_account_changes_in_a_real_browser() {
    use fantoccini::Locator;
    use tenure_domain::{Entity, EntityId, EntityKind, Name, OrgId};
    let stack = stack_with("corterum-lists", tenure_testkit::contract::corterum::world()).await;
    // 25 people of the FCA, straight into the stack's database.
    let url = format!("sqlite://{}?mode=rwc", stack.dir.join("tenure.db").display());
    let store = tenure_store_seaorm::SeaOrmStore::open(&url).await.unwrap();
    let people = (0..25u128)
        .map(|i| {
            let mut e = Entity::new(
                EntityId::from_uuid(Uuid::from_u128(0x1000 + i)),
                EntityKind::Person,
                Name::parse(&format!("Person {i:02}")).unwrap(),
            );
            e.set_companies(vec![OrgId::from_uuid(Uuid::from_u128(1))]);
            tenure_core::Write::UpsertEntity(e)
        })
        .collect();
    tenure_core::ChangeStore::apply(&store, people, Vec::new()).await.unwrap();
    let Some((mut b, _driver)) = browser(&stack.base).await else { return };
    b.sign_in("root@example.com", PASSWORD).await;

    // Entities: a type filter and a search, then the next page keeps both.
    b.go("/administration/entities").await;
    b.choose("#type", "person").await;
    b.fill("#q", "person").await;
    let page = b.click("form[method='get'] button.govuk-button").await;
    assert!(page.contains("Showing 1 to 20 of 25 entities"), "{page}");
    let page = b.click("a[rel='next']").await;
    assert!(page.contains("Showing 21 to 25 of 25 entities") && page.contains("Person 24"));
    assert!(b.client.current_url().await.unwrap().query().unwrap().contains("type=person"));
    let page = b.go("/administration/groups").await;
    assert!(page.contains("All People") && page.contains("Every person (25)"), "{page}");
    let page = b.go("/administration/roles?q=senior").await;
    assert!(page.contains("Showing 1 to 1 of 1 roles"), "{page}");

    // A user account linked to Person 00, found by its email address.
    let person = EntityId::from_uuid(Uuid::from_u128(0x1000)).to_string();
    b.go("/administration/users/new").await;
    b.fill("#username", "dee").await;
    b.fill("#email", "dee@example.com").await;
    for css in [
        format!("input[name='entity'][value='{person}']"),
        format!(
            "input[name='roles'][value='{}']",
            tenure_domain::role::builtin::CONDUCT_RULES_STAFF
        ),
    ] {
        b.client.find(Locator::Css(&css)).await.unwrap().click().await.unwrap();
    }
    let page = b.click("form[method='post'] button.govuk-button").await;
    assert!(page.contains("User account saved"), "{page}");
    b.fill("#q", "DEE@example").await;
    let page = b.click("form[method='get'] button.govuk-button").await;
    assert!(page.contains(">dee</a>") && page.contains("Person 00"), "{page}");
    b.click_link("dee").await;

    // Deactivate, reactivate, deactivate again, then delete after the confirmation.
    let page = b.click("button.govuk-button--warning").await;
    assert!(page.contains("User account deactivated"), "{page}");
    let page = b.click("form[action$='/reactivate'] button").await;
    assert!(page.contains("every role comes back"), "{page}");
    b.click("button.govuk-button--warning").await;
    let page = b.click_link("Delete account").await;
    assert!(page.contains("Are you sure you want to delete dee?"));
    assert!(page.contains("The linked entity, Person 00, is kept"), "{page}");
    b.shot("62-corterum-user-account-delete").await;
    let page = b.click("form[method='post'] button.govuk-button--warning").await;
    assert!(page.contains("User account deleted; their entity is kept"), "{page}");
    let page = b.go(&format!("/administration/entities/{person}")).await;
    assert!(page.contains("Person 00"));
    b.sign_out().await;
    assert!(b.visited >= 10, "axe ran on {} pages", b.visited);
    b.client.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&stack.dir);
}

/// Issue 15, Corterum 2: Administration -> Companies in the browser with axe on every
/// page. The root administrator lists the companies (never CORE's housing
/// organisation), adds one, changes its details, links an entity and a user account to
/// it and sees both on its page; a housing organisation's page is "not found". With
/// `TENURE_SCREENSHOTS=DIR` it saves screenshots 56 and 57.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corterum_companies_in_a_real_browser() {
    use fantoccini::Locator;
    use tenure_domain::role::builtin::{CONDUCT_RULES_STAFF, ROOT_ADMINISTRATOR};
    use tenure_domain::{Email, Name, OrgId, Organisation, RoleCatalogue, User, UserId, World};
    let org = |n: u128| OrgId::from_uuid(Uuid::from_u128(n));
    let mut w = World::with_roles(RoleCatalogue::with_corterum());
    for (n, name) in [(1, "Financial Conduct Authority"), (2, "Payment Systems Regulator")] {
        w.insert_organisation(Organisation::company(org(n), Name::parse(name).unwrap())).unwrap();
    }
    w.insert_organisation(Organisation::new(org(0xa1), Name::parse("Alpha Homes").unwrap()))
        .unwrap();
    w.upsert_user(User::new(
        UserId::from_uuid(Uuid::from_u128(0xface)),
        Name::parse("Root").unwrap(),
        Email::parse("root@example.com").unwrap(),
        org(1),
        vec![ROOT_ADMINISTRATOR],
    ))
    .unwrap();
    let stack = stack_with("corterum-companies", w).await;
    let Some((mut b, _driver)) = browser(&stack.base).await else { return };
    b.sign_in("root@example.com", PASSWORD).await;

    // Administration -> Companies: both companies, not the housing organisation.
    b.go("/administration").await;
    let page = b.click("main a[href='/administration/companies']").await;
    assert!(page.contains("Financial Conduct Authority") && page.contains("Payment Systems"));
    assert!(!page.contains("Alpha Homes"), "{page}");

    // Add a company; a bad telephone number first says what is wrong.
    b.click("a[href='/administration/companies/new']").await;
    b.fill("#name", "Acme Advisers").await;
    b.fill("#telephone", "not a number").await;
    let page = b.click("form[method='post'] button.govuk-button").await;
    assert!(page.contains("There is a problem"), "{page}");
    b.fill("#telephone", "0113 496 0000").await;
    b.fill("#address", "1 High Street, Leeds").await;
    b.fill("#registration_number", "SC123456").await;
    let page = b.click("form[method='post'] button.govuk-button").await;
    assert!(page.contains("Company saved") && page.contains("SC123456"), "{page}");
    let acme = b.current_id().await;

    // Change its details.
    let page = b.click_link("Change the company's details").await;
    assert!(page.contains("1 High Street, Leeds"), "{page}");
    b.fill("#address", "2 Low Street, Leeds").await;
    let page = b.click("form[method='post'] button.govuk-button").await;
    assert!(page.contains("Company saved") && page.contains("2 Low Street, Leeds"), "{page}");
    let page = b.go("/administration/companies").await;
    assert!(page.contains("Acme Advisers"), "{page}");
    b.shot("56-corterum-companies").await;

    // An entity and a user account linked to it.
    b.go("/administration/entities/new?type=person").await;
    b.fill("#name", "Ada Adviser").await;
    let tick = format!("input[name='companies'][value='{acme}']");
    b.client.find(Locator::Css(&tick)).await.unwrap().click().await.unwrap();
    let page = b.click("form[method='post'] button.govuk-button").await;
    assert!(page.contains("Entity saved"), "{page}");
    b.go("/administration/users/new").await;
    b.fill("#username", "ada.adviser").await;
    b.fill("#email", "ada.adviser@example.com").await;
    for css in [tick.clone(), format!("input[name='roles'][value='{CONDUCT_RULES_STAFF}']")] {
        b.client.find(Locator::Css(&css)).await.unwrap().click().await.unwrap();
    }
    let page = b.click("form[method='post'] button.govuk-button").await;
    assert!(page.contains("User account saved"), "{page}");

    // The company's page lists both.
    let page = b.go(&format!("/administration/companies/{acme}")).await;
    assert!(page.contains("Ada Adviser") && page.contains("ada.adviser"), "{page}");
    b.shot("57-corterum-company").await;

    // CORE's housing organisation is no company here.
    let page = b.go(&format!("/administration/companies/{}", org(0xa1))).await;
    assert!(page.contains("Page not found") && !page.contains("Alpha Homes"), "{page}");
    b.sign_out().await;
    assert!(b.visited >= 10, "axe ran on {} pages", b.visited);
    b.client.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&stack.dir);
}
