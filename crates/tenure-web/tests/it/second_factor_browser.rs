//! The second factor in real headless Chromium (issue 14), on the browser stack of
//! `browser.rs` with nobody's authenticator app set up: an administrator signs in, is
//! sent to set one up, reads the key from the page, computes codes here (totp-rs, as the
//! service does), finishes, signs out and in with a code, then with a recovery code; a
//! data coordinator sets one up of their own accord and removes it; and after the clock
//! moves 16 minutes, changing an email address asks "Confirm it's you" first. axe checks
//! every page; screenshots 11a to 11i.

use crate::PASSWORD;
use crate::browser::{Browser, CODES, browser, fresh_code, stack_enrolled};

/// The key on a set-up page, as bytes; remembered for the stack's later codes.
fn read_key(base: &str, who: &str, page: &str) -> Vec<u8> {
    let at = page.find("id=\"secret-key\"").expect("the key is on the page");
    let rest = &page[at..];
    let text = &rest[rest.find('>').unwrap() + 1..rest.find("</strong>").unwrap()];
    let key: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let key = totp_rs::Secret::Encoded(key).to_bytes().unwrap();
    let mut all = CODES.lock().unwrap();
    let codes = &mut all.iter_mut().find(|(b, _)| b == base).unwrap().1;
    codes.keys.insert(who.to_owned(), key.clone());
    key
}

/// The recovery codes on the page.
fn recovery_codes(page: &str) -> Vec<String> {
    page.split("<code class=\"tenure-recovery-code\">")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_owned())
        .collect()
}

async fn path(b: &Browser) -> String {
    let url = b.client.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_journeys_in_a_real_browser() {
    let stack =
        stack_enrolled("second-factor", tenure_testkit::contract::manage::world(), false).await;
    let Some((mut b, _driver)) = browser(&stack.base).await else { return };
    let base = stack.base.clone();
    const ADA: &str = "ada@example.com";
    const CORA: &str = "cora@example.com";

    // The administrator: sent to set up right after the password, before anything else.
    let page = b.password_only(ADA, PASSWORD).await;
    assert_eq!(path(&b).await, "/account/sign-in/set-up");
    assert!(page.contains("As Administrator, you need to sign in with a security code"));
    assert!(page.contains("<svg role=\"img\""), "the QR code");
    b.shot("11a-second-factor-set-up-at-sign-in").await;
    b.go("/organisations").await;
    assert_eq!(path(&b).await, "/account/sign-in/set-up", "nothing else is reachable");
    let page = b.source().await;
    read_key(&base, ADA, &page);
    b.fill("#code", "000000").await;
    let page = b.click("form[action='/account/sign-in/set-up'] button.govuk-button").await;
    assert!(page.contains("The security code is not right"), "a wrong code sets nothing up");
    b.shot("11b-second-factor-set-up-wrong-code").await;
    b.fill("#code", &fresh_code(&base, ADA)).await;
    let page = b.click("form[action='/account/sign-in/set-up'] button.govuk-button").await;
    let codes = recovery_codes(&page);
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    b.shot("11c-second-factor-recovery-codes").await;
    b.click_link("I have saved my recovery codes").await;
    assert_eq!(path(&b).await, "/logs", "signed in");
    b.sign_out().await;

    // In again with a code: the code page, a wrong code, then the right one.
    b.password_only(ADA, PASSWORD).await;
    assert_eq!(path(&b).await, "/account/sign-in/code");
    b.shot("11d-second-factor-enter-a-security-code").await;
    b.fill("#code", "123456").await;
    let page = b.click("form[action='/account/sign-in/code'] button.govuk-button").await;
    assert!(page.contains("The security code is not right"));
    b.shot("11e-second-factor-enter-a-security-code-error").await;
    b.fill("#code", &fresh_code(&base, ADA)).await;
    b.click("form[action='/account/sign-in/code'] button.govuk-button").await;
    assert_eq!(path(&b).await, "/logs");
    b.sign_out().await;

    // And with a recovery code, which then works no more.
    b.password_only(ADA, PASSWORD).await;
    b.fill("#code", &codes[3]).await;
    b.click("form[action='/account/sign-in/code'] button.govuk-button").await;
    assert_eq!(path(&b).await, "/logs", "a recovery code signs in");
    let page = b.go("/account").await;
    assert!(page.contains("9 unused"), "one recovery code used");
    assert!(!page.contains("href=\"/account/second-factor/remove\""), "required: no removing");
    b.shot("11f-second-factor-your-account-required").await;
    b.sign_out().await;
    b.password_only(ADA, PASSWORD).await;
    b.fill("#code", &codes[3]).await;
    let page = b.click("form[action='/account/sign-in/code'] button.govuk-button").await;
    assert!(page.contains("The security code is not right"), "used once only");
    b.click("form[action='/account/sign-in/cancel'] button").await;
    assert_eq!(path(&b).await, "/account/sign-in?done=signed-out");

    // A data coordinator sets one up of their own accord, then removes it.
    b.sign_in(CORA, PASSWORD).await;
    assert_eq!(path(&b).await, "/logs", "no second factor: signed in at once");
    let page = b.go("/account").await;
    assert!(page.contains("Not set up"));
    let page = b.click("a[href='/account/second-factor/set-up']").await;
    assert_eq!(path(&b).await, "/account/second-factor/set-up");
    b.shot("11g-second-factor-set-up-from-your-account").await;
    read_key(&base, CORA, &page);
    b.fill("#code", &fresh_code(&base, CORA)).await;
    let page = b.click("form[action='/account/second-factor/set-up'] button.govuk-button").await;
    assert_eq!(recovery_codes(&page).len(), 10);
    let page = b.click_link("I have saved my recovery codes").await;
    assert!(page.contains("Your authenticator app is set up."));
    assert!(page.contains("10 unused"));
    b.click("a[href='/account/second-factor/remove']").await;
    assert_eq!(path(&b).await, "/account/second-factor/remove");
    b.shot("11h-second-factor-remove").await;
    b.fill("#code", &fresh_code(&base, CORA)).await;
    let page = b.click("form[action='/account/second-factor/remove'] button.govuk-button").await;
    assert!(page.contains("Your authenticator app has been removed."));
    assert!(page.contains("Not set up"));

    // Sixteen minutes on, a new email address needs the password again first; then the
    // change goes on where it was.
    stack.clock.advance(16 * 60 * 1000);
    b.go("/account/details").await;
    b.fill("#email", "cora.new@example.com").await;
    b.fill("#current_password", PASSWORD).await;
    b.click("form[action='/account/details'] button.govuk-button").await;
    assert_eq!(path(&b).await, "/account/confirm-identity?return=%2Faccount%2Fdetails");
    b.shot("11i-second-factor-confirm-its-you").await;
    b.fill("#password", PASSWORD).await;
    b.click("form[action='/account/confirm-identity'] button.govuk-button").await;
    assert_eq!(path(&b).await, "/account/details", "back where she was");
    b.fill("#email", "cora.new@example.com").await;
    b.fill("#current_password", PASSWORD).await;
    b.click("form[action='/account/details'] button.govuk-button").await;
    assert_eq!(path(&b).await, "/account?done=email-sent");
    assert!(b.visited > 20, "axe ran on every page");
    b.client.close().await.unwrap();
}
