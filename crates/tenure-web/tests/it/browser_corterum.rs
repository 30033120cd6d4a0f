//! Corterum's newer screens in real headless Chromium, with axe on every page (see
//! `browser.rs` for the stack and the helpers): links between entities on the entity
//! form and "Linked from" on the business's page and record, and the Reports area from
//! the header (a report not available, the FCA Directory report). With
//! `TENURE_SCREENSHOTS=DIR` it saves screenshots 51 to 55.

use uuid::Uuid;

use crate::PASSWORD;
use crate::browser::{browser, stack_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corterum_links_and_reports_in_a_real_browser() {
    let stack = stack_with("corterum-links", tenure_testkit::contract::corterum::world()).await;
    let Some((mut b, _driver)) = browser(&stack.base).await else { return };
    let fca = Uuid::from_u128(1).to_string();
    b.sign_in("root@example.com", PASSWORD).await;

    // The root administrator sees the most navigation items: at 1280 by 800 they fit on
    // one row, with "Your account" and "Sign out" in the header above them.
    b.client.set_window_size(1280, 800).await.unwrap();
    b.go("/administration").await;
    let layout = b
        .client
        .execute(
            "const items = [...document.querySelectorAll('.govuk-service-navigation__item')];\n\
             const account = document.querySelector('.tenure-header__account').getBoundingClientRect();\n\
             const menu = document.querySelector('.govuk-service-navigation').getBoundingClientRect();\n\
             return [window.innerWidth, items.length,\n\
               new Set(items.map(i => Math.round(i.getBoundingClientRect().top))).size,\n\
               account.bottom <= menu.top ? 1 : 0];",
            vec![],
        )
        .await
        .unwrap();
    let [width, items, rows, above]: [u64; 4] = serde_json::from_value(layout).unwrap();
    assert!(width >= 1270 && items >= 8, "{width} px wide, {items} items");
    assert_eq!((rows, above), (1, 1), "one row of {items} items, the account links above");
    b.client.set_window_size(1200, 1000).await.unwrap();

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
