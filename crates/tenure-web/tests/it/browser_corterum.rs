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
