//! Chromium journeys for CORE's screens of issue 15, axe on every page: the sign-in
//! heading, users for a coordinator with the organisation filter, the relationships
//! picker (enhanced: typed into, picked from its list), logs (the list, a log, deleting one), then as an administrator the move
//! picker, the merge journey (choose from the enhanced picker, check what moves, confirm, the merged
//! organisation's page) and the audit trail in words.
//!
//! With `TENURE_SCREENSHOTS=DIR` each screen is saved as 27 to 39, after the first
//! journey's 01 to 26 and before Corterum's 40 and on, in the seed's order (account,
//! then data coordinators, then administrators).

use fantoccini::Locator;
use tenure_domain::{Name, World};
use uuid::Uuid;

use crate::PASSWORD;
use crate::browser::{Browser, browser, stack_with};

/// The contract world with people's names as people write them ("Cora Coordinator", not
/// "cora"), as the screenshots show them.
pub(crate) fn named_world() -> World {
    let mut world = tenure_testkit::contract::manage::world();
    let names = [
        ("ada", "Ada Administrator"),
        ("cora", "Cora Coordinator"),
        ("colin", "Colin Coordinator"),
        ("pete", "Pete Provider"),
        ("bea", "Bea Baker"),
        ("cat", "Cat Carter"),
    ];
    let people: Vec<_> = world.users().cloned().collect();
    for mut person in people {
        if let Some((_, name)) = names.iter().find(|(k, _)| person.name.as_str() == *k) {
            person.name = Name::parse(name).unwrap();
            world.upsert_user(person).unwrap();
        }
    }
    world
}

fn org(n: u128) -> String {
    Uuid::from_u128(n).to_string()
}

/// Types into an enhanced picker (`pickers.js` over accessible-autocomplete), checks the
/// page with the list open, and picks `name` from the list: its search's choices come in
/// with it chosen.
async fn pick(b: &mut Browser, typed: &str, name: &str) {
    b.fill("#search", typed).await;
    let option = format!(
        "//ul[@id='search__listbox']/li[contains(@class, 'autocomplete__option') and normalize-space()='{name}']"
    );
    b.client.wait().for_element(Locator::XPath(&option)).await.unwrap();
    b.landed().await;
    b.client.find(Locator::XPath(&option)).await.unwrap().click().await.unwrap();
    let chosen = format!(
        "//form[@data-picker-choices]//input[@type='radio'][@id=//form[@data-picker-choices]//label[normalize-space()='{name}']/@for]"
    );
    let radio = b.client.wait().for_element(Locator::XPath(&chosen)).await.unwrap();
    assert_eq!(radio.prop("checked").await.unwrap().as_deref(), Some("true"), "{name} chosen");
    b.landed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_screens_in_a_real_browser_with_no_accessibility_violations() {
    let stack = stack_with("core-screens", named_world()).await;
    let Some((mut b, _driver)) = browser(&stack.base).await else { return };
    let (alpha, beta, gamma) = (org(1), org(2), org(3));
    let pete = crate::user(4).to_string();
    let log = Uuid::from_u128(502).to_string();
    let title = format!("Log {}", log[log.len() - 8..].to_uppercase());

    // The sign-in page names what the service is for.
    let page = b.go("/account/sign-in").await;
    assert!(page.contains("Sign in to your account to submit CORE data</h1>"), "{page}");
    b.shot("27-account-sign-in-heading").await;

    // A coordinator: her users and her managing agent's, filtered by organisation.
    b.sign_in("cora@example.com", PASSWORD).await;
    let page = b.click_link("Users").await;
    assert!(page.contains("bea@example.com") && !page.contains("cat@example.com"));
    b.shot("28-coordinator-users").await;
    b.choose("#organisation", &beta).await;
    let page = b.click("form[action='/users'] button.govuk-button").await;
    assert!(page.contains("Users of Beta") && !page.contains("pete@example.com"), "{page}");
    b.shot("29-coordinator-users-filtered").await;

    // Adding a relationship: type part of the name, pick from the list (the enhanced
    // picker; the plain search is the router tests'), and it is a request Gamma answers.
    b.go(&format!("/organisations/{alpha}/relationships")).await;
    pick(&mut b, "gam", "Gamma").await;
    b.shot("30-coordinator-add-relationship-picker").await;
    let page = b.click("button[value='add-managing-agent']").await;
    assert!(page.contains("The request has been sent."), "{page}");
    assert!(page.contains("Waiting for Gamma"));
    b.shot("31-coordinator-relationship-requested").await;

    // Logs: the list, a log, and deleting it after confirming.
    let page = b.click_link("Logs").await;
    assert!(page.contains(&title) && !page.contains(&Uuid::from_u128(501).to_string()));
    b.shot("32-coordinator-logs").await;
    let page = b.click_link(&title).await;
    assert!(page.contains("Pete Provider") && page.contains("Delete log"));
    b.shot("33-coordinator-log").await;
    let page = b.click_link("Delete log").await;
    assert!(page.contains(&format!("Are you sure you want to delete {title}?")));
    b.shot("34-coordinator-log-delete").await;
    let page = b.click("button.govuk-button--warning").await;
    assert!(page.contains("The log has been deleted.") && !page.contains(&log), "{page}");
    b.sign_out().await;

    // An administrator: the move picker, then a merge from start to end.
    b.sign_in("ada@example.com", PASSWORD).await;
    b.go(&format!("/users/{pete}/move")).await;
    b.fill("#search", "a").await;
    let page = b.click("form[method='get'] button.govuk-button").await;
    assert!(page.contains(&format!("value=\"{gamma}\"")) && page.contains("Pete Provider"));
    b.shot("35-administrator-move-user-picker").await;
    b.go(&format!("/organisations/{gamma}")).await;
    let page = b.click_link("Merge into another organisation").await;
    assert!(page.contains("Which organisation should Gamma be merged into?"), "{page}");
    pick(&mut b, "bet", "Beta").await;
    let radio = format!("input[name='into'][value='{beta}']:checked");
    b.client.find(Locator::Css(&radio)).await.unwrap();
    b.shot("36-administrator-merge-choose").await;
    let page = b.click("form[action$='/merge/check'] button.govuk-button").await;
    assert!(page.contains("Check before you merge Gamma into Beta"), "{page}");
    b.shot("37-administrator-merge-check").await;
    let page = b.click("button.govuk-button--warning").await;
    assert!(page.contains("The organisations have been merged"), "{page}");
    assert!(page.contains("Gamma was merged into"));
    b.shot("38-administrator-merged-organisation").await;

    // The audit trail says what happened in words.
    let page = b.go("/audit").await;
    assert!(
        page.contains(&format!(
            "{title} deleted (owned by Alpha, managed by Beta, assigned) by Cora Coordinator."
        )),
        "{page}"
    );
    assert!(page.contains("Merged into Beta by Ada Administrator."), "{page}");
    b.shot("39-administrator-audit-trail").await;
    b.sign_out().await;

    assert!(b.visited >= 20, "axe ran on {} pages", b.visited);
    b.client.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&stack.dir);
}
