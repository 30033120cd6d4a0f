//! The second factor over real HTTP against the real router (issue 14): the code page
//! gates every route until the code is passed, a used code is refused, wrong codes and
//! wrong passwords fill one lockout, the code page has its own per-address limit, a
//! sensitive change after 16 minutes asks "Confirm it's you" and then goes back where the
//! person was (never to another site), set-up from Your account with the key read from
//! the page, recovery codes, and an administrator removing a lost device.

use axum::http::StatusCode;
use tenure_web::routes::{ALL, Access, Method};

use crate::{ADA, CORA, Client, PASSWORD, Page, Site, TEST_SECRET, id, org, site};

const CODE: &str = "/account/sign-in/code";
const MINUTE: i64 = 60_000;

/// Signs in with the password only; the session waits for the code.
async fn password_only(c: &mut Client<'_>, email: &str) -> Page {
    c.get("/account/sign-in").await;
    let page = c.post("/account/sign-in", &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page
}

/// The key shown on a set-up page, as bytes.
fn key_on(page: &Page) -> Vec<u8> {
    let at = page.body.find("id=\"secret-key\"").expect("the key is on the page");
    let rest = &page.body[at..];
    let text = &rest[rest.find('>').unwrap() + 1..rest.find("</strong>").unwrap()];
    let key: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    totp_rs::Secret::Encoded(key).to_bytes().unwrap()
}

/// The recovery codes a page shows.
fn codes_on(page: &Page) -> Vec<String> {
    page.body
        .split("<code class=\"tenure-recovery-code\">")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_owned())
        .collect()
}

/// Sets up an authenticator app from Your account; returns its key and recovery codes.
async fn set_up(site: &Site, c: &mut Client<'_>, who: &str) -> (Vec<u8>, Vec<String>) {
    let page = c.get("/account/second-factor/set-up").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<svg role=\"img\" aria-label=\"QR code"), "a QR code as SVG");
    assert!(!page.body.contains("<script"), "no JavaScript");
    let key = key_on(&page);
    let uri = {
        let at = page.body.find("name=\"uri\" value=\"").unwrap() + 18;
        page.body[at..at + page.body[at..].find('"').unwrap()].replace("&amp;", "&")
    };
    // A wrong code sets nothing up, and the same key shows again.
    let wrong = c.post("/account/second-factor/set-up", &[("code", "000000"), ("uri", &uri)]).await;
    assert!(wrong.body.contains("The security code is not right"), "{}", wrong.body);
    assert_eq!(key_on(&wrong), key, "the same key again");
    let code = site.fresh_code(who, &key);
    let done = c.post("/account/second-factor/set-up", &[("code", &code), ("uri", &uri)]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let codes = codes_on(&done);
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    (key, codes)
}

/// Every route but the code page's own answers a session waiting for its code with the
/// code page, changing nothing; the wrong code is refused; the right one signs in under a
/// fresh session id.
#[tokio::test]
async fn until_the_code_every_route_sends_to_the_code_page() {
    let site = site().await;
    let mut c = Client::new(&site);
    let page = password_only(&mut c, ADA).await;
    assert_eq!(page.location(), CODE, "the administrator has one: the code is next");
    let pending = c.cookies.get("tenure_session").cloned().unwrap();
    let code_page = c.get(CODE).await;
    assert_eq!(code_page.status, StatusCode::OK);
    assert!(code_page.body.contains("Enter a security code"));
    assert!(!code_page.body.contains("govuk-service-navigation"), "no menu: not signed in");
    for route in ALL {
        if route.access == Access::SigningIn || route.path.starts_with("/assets/") {
            continue;
        }
        let path = route.path.replace("{id}", &id(4)).replace("{dataset}", "training_record");
        let answer = match route.method {
            Method::Get => c.get(&path).await,
            Method::Post => c.post(&path, &[("version", "0")]).await,
        };
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}: {}", answer.body);
        assert_eq!(answer.location(), CODE, "{path}");
    }
    // Pete's page was reachable by none of that, and Alpha is untouched.
    let wrong = c.post(CODE, &[("code", "123456")]).await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.body.contains("The security code is not right"));
    assert!(wrong.body.contains("<title>Error: Enter a security code"));
    let code = site.fresh_code(ADA, TEST_SECRET);
    let passed = c.post(CODE, &[("code", &code)]).await;
    assert_eq!(passed.location(), "/logs");
    let session = c.cookies.get("tenure_session").cloned().unwrap();
    assert_ne!(session, pending, "a fresh session id once the code passed");
    let organisation = c.get(&format!("/organisations/{}", org(1))).await;
    assert_eq!(organisation.status, StatusCode::OK, "signed in now");
    // The code page is for sessions waiting for a code only.
    assert_eq!(c.get(CODE).await.location(), "/");
    // The old, waiting id is dead.
    c.cookies.insert("tenure_session".to_owned(), pending);
    assert_eq!(c.get("/account").await.location(), "/account/sign-in");
}

/// A code is accepted once (RFC 6238 section 5.2), even in its own 30 seconds; and the
/// answer to a password is the same whether or not the account has a second factor.
#[tokio::test]
async fn a_used_code_is_refused() {
    let site = site().await;
    let mut first = Client::new(&site);
    password_only(&mut first, ADA).await;
    first.get(CODE).await;
    let code = site.fresh_code(ADA, TEST_SECRET);
    assert_eq!(first.post(CODE, &[("code", &code)]).await.location(), "/logs");
    let mut second = Client::new(&site);
    password_only(&mut second, ADA).await;
    second.get(CODE).await;
    let replay = second.post(CODE, &[("code", &code)]).await;
    assert_eq!(replay.status, StatusCode::OK, "the same code again: refused");
    assert!(replay.body.contains("The security code is not right"));
    assert_eq!(second.get("/account").await.location(), CODE, "still waiting");
}

/// Wrong codes count towards the same lockout as wrong passwords: five wrong codes (or
/// recovery codes, or anything typed) lock the account, and then the right code is
/// refused, and so is the right password, with the usual answer, until the lock ends.
#[tokio::test]
async fn wrong_codes_fill_the_password_lockout() {
    let site = site().await;
    let mut c = Client::new(&site);
    password_only(&mut c, ADA).await;
    c.get(CODE).await;
    for wrong in ["111111", "222222", "aaaaaa-bbbbbb-cccccc-dddddd", "12345", "not a code"] {
        let page = c.post(CODE, &[("code", wrong)]).await;
        assert!(page.body.contains("The security code is not right"), "{wrong}");
    }
    // Locked: the right code is refused too, and so is the right password.
    let code = site.fresh_code(ADA, TEST_SECRET);
    let page = c.post(CODE, &[("code", &code)]).await;
    assert!(page.body.contains("The security code is not right"), "locked: refused");
    let mut d = Client::new(&site);
    d.get("/account/sign-in").await;
    let page = d.post("/account/sign-in", &[("email", ADA), ("password", PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Enter a correct email address and password"), "locked");
    // An hour later the lock has ended.
    site.clock.advance(61 * MINUTE);
    d.sign_in(ADA).await;
    assert_eq!(d.get("/account").await.status, StatusCode::OK);
}

/// A right password clears the lockout count, so guessing codes in rounds of four,
/// signing in again between them, never locks the account: the per-account limit on
/// codes tried at sign-in (10 an hour) is what stops it, wherever the guesses come from.
#[tokio::test]
async fn guessing_codes_between_fresh_sign_ins_is_stopped_per_account() {
    let site = site().await;
    let mut tried = 0;
    let mut refused = None;
    for round in 0..4 {
        // Another minute: the per-address limits have room again.
        site.clock.advance(MINUTE);
        let mut c = Client::new(&site);
        assert_eq!(password_only(&mut c, ADA).await.location(), CODE, "round {round}");
        c.get(CODE).await;
        for _ in 0..4 {
            let page = c.post(CODE, &[("code", "999999")]).await;
            tried += 1;
            if page.status == StatusCode::TOO_MANY_REQUESTS {
                refused.get_or_insert(tried);
            }
        }
    }
    assert_eq!(refused, Some(11), "the 11th code within the hour is refused");
    // The right code is refused too until the hour has passed.
    let mut c = Client::new(&site);
    password_only(&mut c, ADA).await;
    c.get(CODE).await;
    let code = site.fresh_code(ADA, TEST_SECRET);
    assert_eq!(c.post(CODE, &[("code", &code)]).await.status, StatusCode::TOO_MANY_REQUESTS);
    site.clock.advance(60 * MINUTE);
    let mut d = Client::new(&site);
    d.sign_in(ADA).await;
    assert_eq!(d.get("/account").await.status, StatusCode::OK, "an hour on, the code works");
}

/// The code page counts the security codes sent from one address (10 a minute by
/// default), whoever's session they are for.
#[tokio::test]
async fn the_code_page_has_its_own_per_address_limit() {
    let site = site().await;
    let mut c = Client::new(&site);
    password_only(&mut c, ADA).await;
    c.get(CODE).await;
    for n in 0..10 {
        let page = c.post(CODE, &[("code", "")]).await;
        assert_eq!(page.status, StatusCode::OK, "attempt {n}");
        assert!(page.body.contains("Enter the 6 digit security code"), "attempt {n}");
    }
    let page = c.post(CODE, &[("code", "")]).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.body.contains("Too many attempts"));
    assert!(page.headers.contains_key("retry-after"));
    // A minute on, codes are taken again.
    site.clock.advance(MINUTE);
    let code = site.fresh_code(ADA, TEST_SECRET);
    assert_eq!(c.post(CODE, &[("code", &code)]).await.location(), "/logs");
}

/// Sixteen minutes after signing in, changing one's password or email address asks for
/// the password again and then goes back to the page; an administrator's deactivation of
/// an organisation asks for the code as well.
#[tokio::test]
async fn after_16_minutes_sensitive_changes_ask_to_confirm_its_you() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(CORA).await;
    assert_eq!(c.get("/account/password").await.status, StatusCode::OK, "recent");
    site.clock.advance(16 * MINUTE);
    let page = c.get("/account/password").await;
    assert_eq!(page.location(), "/account/confirm-identity?return=%2Faccount%2Fpassword");
    // The email address too (the name alone needs nothing).
    let details = c.get("/account/details").await;
    assert_eq!(details.status, StatusCode::OK);
    let version = {
        let at = details.body.find("name=\"version\" value=\"").unwrap() + 22;
        details.body[at..at + details.body[at..].find('"').unwrap()].to_owned()
    };
    let email = c
        .post(
            "/account/details",
            &[
                ("name", "Cora Coordinator"),
                ("email", "cora.new@example.com"),
                ("telephone", ""),
                ("current_password", PASSWORD),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(
        email.location(),
        "/account/confirm-identity?return=%2Faccount%2Fdetails",
        "{} {}",
        email.status,
        email.body
    );
    assert!(
        site.mailer.sent().iter().all(|m| m.to.as_str() != "cora.new@example.com"),
        "nothing sent"
    );
    let prompt = c.get(page.location()).await;
    assert_eq!(prompt.status, StatusCode::OK);
    assert!(prompt.body.contains("Confirm it’s you"));
    assert!(!prompt.body.contains("name=\"code\""), "no second factor: the password only");
    let before = c.cookies.get("tenure_session").cloned().unwrap();
    let wrong = c
        .post(
            "/account/confirm-identity",
            &[("password", "not it"), ("return", "/account/password")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.body.contains("Enter your correct password"));
    let right = c
        .post(
            "/account/confirm-identity",
            &[("password", PASSWORD), ("return", "/account/password")],
        )
        .await;
    assert_eq!(right.location(), "/account/password", "back where they were");
    assert_ne!(c.cookies.get("tenure_session").unwrap(), &before, "a fresh session id");
    assert_eq!(c.get("/account/password").await.status, StatusCode::OK);

    // The administrator: deactivating an organisation, with the code.
    let mut a = Client::new(&site);
    a.sign_in(ADA).await;
    let gamma = format!("/organisations/{}/deactivate", org(3));
    assert_eq!(a.get(&gamma).await.status, StatusCode::OK);
    site.clock.advance(16 * MINUTE);
    let prompt = a.get(&gamma).await;
    let back =
        format!("/account/confirm-identity?return=%2Forganisations%2F{}%2Fdeactivate", org(3));
    assert_eq!(prompt.location(), back);
    let merge = a.get(&format!("/organisations/{}/merge", org(3))).await;
    assert!(merge.location().starts_with("/account/confirm-identity?return="), "merge too");
    let form = a.get(&back).await;
    assert!(form.body.contains("name=\"code\""), "a second factor: the code as well");
    let no_code = a
        .post(
            "/account/confirm-identity",
            &[("password", PASSWORD), ("code", ""), ("return", &gamma)],
        )
        .await;
    assert!(
        no_code.body.contains("Enter the 6 digit security code"),
        "{}",
        &no_code.body[no_code.body.find("<main").unwrap()..]
    );
    let code = site.fresh_code(ADA, TEST_SECRET);
    let done = a
        .post(
            "/account/confirm-identity",
            &[("password", PASSWORD), ("code", &code), ("return", &gamma)],
        )
        .await;
    assert_eq!(done.location(), gamma);
    assert_eq!(a.get(&gamma).await.status, StatusCode::OK);
}

/// "Confirm it's you" goes back only to a path on this service: other sites, scheme
/// tricks and header injection go to Your account instead.
#[tokio::test]
async fn confirm_its_you_never_redirects_to_another_site() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(CORA).await;
    // Control characters are refused before anything runs.
    site.clock.advance(16 * MINUTE);
    let page = c
        .post(
            "/account/confirm-identity",
            &[("password", PASSWORD), ("return", "/account\r\nLocation: https://evil.example")],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(page.location(), "");
    for target in [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        " //evil.example",
        "/%0d%0aSet-Cookie:x=1",
        "/account?x=<script>",
        "",
    ] {
        site.clock.advance(16 * MINUTE);
        let query: String = form_urlencoded::byte_serialize(target.as_bytes()).collect();
        let page = c.get(&format!("/account/confirm-identity?return={query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{target:?}");
        let expected = "/account";
        assert!(
            page.body.contains(&format!("name=\"return\" value=\"{expected}\"")),
            "{target:?}: the form carries {expected}"
        );
        let done = c
            .post("/account/confirm-identity", &[("password", PASSWORD), ("return", target)])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{target:?}");
        assert_eq!(done.location(), expected, "{target:?}");
    }
}

/// A data coordinator sets one up from Your account (a right code only), is asked for a
/// code at the next sign-in, gets new recovery codes (the old ones stop working), signs
/// in with a recovery code once, and an administrator removes it for a lost device: their
/// sessions end and they are emailed.
#[tokio::test]
async fn set_up_recovery_codes_and_an_administrator_removing_a_lost_device() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(CORA).await;
    let account = c.get("/account").await;
    assert!(account.body.contains("Not set up"));
    assert!(account.body.contains("href=\"/account/second-factor/set-up\""));
    let (key, codes) = set_up(&site, &mut c, CORA).await;
    let account = c.get("/account?done=second-factor").await;
    assert!(account.body.contains("10 unused"), "{}", account.body);
    assert!(account.body.contains("href=\"/account/second-factor/remove\""), "optional: removable");
    assert!(site.mailer.sent().iter().any(|m| m.to.as_str() == CORA), "the notice went to Cora");

    // New recovery codes need a code; the old set stops working.
    let wrong = c.post("/account/second-factor/recovery-codes", &[("code", "000000")]).await;
    assert!(wrong.body.contains("The security code is not right"));
    let code = site.fresh_code(CORA, &key);
    let fresh = c.post("/account/second-factor/recovery-codes", &[("code", &code)]).await;
    let new_codes = codes_on(&fresh);
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes.iter().all(|n| !codes.contains(n)));

    // The next sign-in asks for the code; an old recovery code is refused, a new one works
    // once.
    let mut d = Client::new(&site);
    assert_eq!(password_only(&mut d, CORA).await.location(), CODE);
    d.get(CODE).await;
    assert!(d.post(CODE, &[("code", &codes[0])]).await.body.contains("not right"));
    assert_eq!(d.post(CODE, &[("code", &new_codes[0].to_uppercase())]).await.location(), "/logs");
    let mut e = Client::new(&site);
    password_only(&mut e, CORA).await;
    e.get(CODE).await;
    assert!(e.post(CODE, &[("code", &new_codes[0])]).await.body.contains("not right"), "used");

    // The administrator removes it: the button is on Cora's page, her sessions end.
    let mut a = Client::new(&site);
    a.sign_in(ADA).await;
    let cora_page = a.get(&format!("/users/{}", id(2))).await;
    assert!(cora_page.body.contains("/remove-second-factor"), "the button shows");
    let own = a.get(&format!("/users/{}", id(1))).await;
    assert!(!own.body.contains("/remove-second-factor"), "not on their own page");
    let confirm = a.get(&format!("/users/{}/remove-second-factor", id(2))).await;
    assert!(
        confirm.body.contains("Remove cora"),
        "{}",
        &confirm.body[confirm.body.find("<main").unwrap()..]
    );
    let sent_before = site.mailer.sent().len();
    let done = a.post(&format!("/users/{}/remove-second-factor", id(2)), &[("version", "0")]).await;
    assert_eq!(done.location(), format!("/users/{}?done=second-factor-removed", id(2)));
    assert_eq!(c.get("/account").await.location(), "/account/sign-in", "her sessions ended");
    assert_eq!(d.get("/account").await.location(), "/account/sign-in");
    assert!(site.mailer.sent()[sent_before..].iter().any(|m| m.to.as_str() == CORA), "she is told");
    // Password only again.
    let mut f = Client::new(&site);
    assert_eq!(password_only(&mut f, CORA).await.location(), "/logs");
    // Nobody else removes the administrator's own, and she cannot remove her own here.
    let mut p = Client::new(&site);
    p.sign_in(CORA).await;
    let ada_page = p.get(&format!("/users/{}/remove-second-factor", id(1))).await;
    assert_ne!(ada_page.status, StatusCode::OK, "a coordinator cannot: {}", ada_page.status);
    let account = a.get("/account").await;
    assert!(
        !account.body.contains("href=\"/account/second-factor/remove\""),
        "required: no button"
    );
    assert_eq!(a.get("/account/second-factor/remove").await.status, StatusCode::FORBIDDEN);
}

/// Deleting a person deletes their authenticator secret and recovery codes with them, in
/// memory as SQL's cascade does.
#[tokio::test]
async fn a_deleted_persons_second_factor_goes_with_them() {
    use tenure_core::{ChangeStore as _, SecondFactorStore as _, Write};
    let site = site().await;
    let pete = crate::user(4);
    let mut c = Client::new(&site);
    c.sign_in("pete@example.com").await;
    set_up(&site, &mut c, "pete@example.com").await;
    assert!(site.store.second_factor(pete).await.unwrap().is_some());
    assert_eq!(site.store.recovery_codes_left(pete).await.unwrap(), 10);
    let version = site.store.user(pete).await.unwrap().unwrap().version;
    site.store.apply(vec![Write::DeleteUser { id: pete, version }], Vec::new()).await.unwrap();
    assert_eq!(site.store.second_factor(pete).await.unwrap(), None);
    assert_eq!(site.store.recovery_codes_left(pete).await.unwrap(), 0);
}

/// The first step gives no hint of a second factor: a wrong password for the
/// administrator (who has one) and an unknown address get the same page, and neither
/// starts a session.
#[tokio::test]
async fn the_password_step_answers_the_same_for_an_unknown_email() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.get("/account/sign-in").await;
    let wrong = c.post("/account/sign-in", &[("email", ADA), ("password", "not it at all")]).await;
    let unknown =
        c.post("/account/sign-in", &[("email", "nobody@example.com"), ("password", "x")]).await;
    let strip = |p: &Page| {
        let body = p.body.replace(ADA, "EMAIL").replace("nobody@example.com", "EMAIL");
        body.split("name=\"csrf\"").next().unwrap().to_owned()
    };
    assert_eq!((wrong.status, unknown.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(strip(&wrong), strip(&unknown));
    assert!(!c.has_session());
}

/// Every code check hits the per-account limit first, not only the sign-in code page:
/// eleven wrong codes within the hour through "Confirm it's you", with password sign-ins
/// between them clearing the lockout count, are stopped at the eleventh, and the right
/// code is refused too until the hour has passed.
#[tokio::test]
async fn confirm_its_you_codes_count_towards_the_per_account_limit() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(ADA).await;
    // The sign-in's own code was one of the ten.
    let mut tried = 1;
    let mut refused = None;
    for round in 0..3 {
        // Another minute: the per-address limits have room again.
        site.clock.advance(MINUTE);
        // A right password clears the lockout count.
        let mut p = Client::new(&site);
        assert_eq!(password_only(&mut p, ADA).await.location(), CODE, "round {round}");
        c.get("/account/confirm-identity?return=%2Faccount").await;
        for _ in 0..4 {
            let form = [("password", PASSWORD), ("code", "999999"), ("return", "/account")];
            let page = c.post("/account/confirm-identity", &form).await;
            tried += 1;
            if page.status == StatusCode::TOO_MANY_REQUESTS {
                refused.get_or_insert(tried);
            } else {
                assert!(page.body.contains("correct security code"), "{}", page.body);
            }
        }
    }
    assert_eq!(refused, Some(11), "the 11th code within the hour is refused");
    let code = site.fresh_code(ADA, TEST_SECRET);
    let form = [("password", PASSWORD), ("code", code.as_str()), ("return", "/account")];
    let page = c.post("/account/confirm-identity", &form).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "the right code too");
    // New recovery codes and removing one's own take codes under the same limit.
    let page = c.post("/account/second-factor/recovery-codes", &[("code", "999999")]).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    site.clock.advance(60 * MINUTE);
    let mut d = Client::new(&site);
    d.sign_in(ADA).await;
    d.get("/account/confirm-identity?return=%2Faccount").await;
    let code = site.fresh_code(ADA, TEST_SECRET);
    let form = [("password", PASSWORD), ("code", code.as_str()), ("return", "/account")];
    let page = d.post("/account/confirm-identity", &form).await;
    assert_eq!(page.location(), "/account", "an hour on, the code works: {}", page.body);
}

/// An administrator removing someone's authenticator app, or editing someone's details
/// (their email address), from a sign-in over 15 minutes old is asked "Confirm it's you"
/// first, and nothing changes.
#[tokio::test]
async fn an_administrator_changing_someone_else_needs_a_recent_sign_in() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(CORA).await;
    set_up(&site, &mut c, CORA).await;
    let mut a = Client::new(&site);
    a.sign_in(ADA).await;
    site.clock.advance(16 * MINUTE);
    let cora = id(2);
    let edit = format!("/users/{cora}/edit");
    let prompt_edit = format!("/account/confirm-identity?return=%2Fusers%2F{cora}%2Fedit");
    assert_eq!(a.get(&edit).await.location(), prompt_edit);
    let form = [("version", "0"), ("email", "mallory@example.com")];
    assert_eq!(a.post(&edit, &form).await.location(), prompt_edit);
    let remove = format!("/users/{cora}/remove-second-factor");
    let prompt_remove =
        format!("/account/confirm-identity?return=%2Fusers%2F{cora}%2Fremove-second-factor");
    assert_eq!(a.get(&remove).await.location(), prompt_remove);
    assert_eq!(a.post(&remove, &[("version", "0")]).await.location(), prompt_remove);
    // Nothing changed: Cora still signs in with her address, and still needs her code.
    let mut p = Client::new(&site);
    assert_eq!(password_only(&mut p, CORA).await.location(), CODE);
    // Confirming it is them leads back, and then the removal goes ahead.
    a.get(&prompt_remove).await;
    let code = site.fresh_code(ADA, TEST_SECRET);
    let back = format!("/users/{cora}/remove-second-factor");
    let form = [("password", PASSWORD), ("code", code.as_str()), ("return", back.as_str())];
    assert_eq!(a.post("/account/confirm-identity", &form).await.location(), back);
    assert_eq!(a.get(&edit).await.status, StatusCode::OK);
    let done = a.post(&remove, &[("version", "0")]).await;
    assert_eq!(done.location(), format!("/users/{cora}?done=second-factor-removed"));
}

/// Someone who may see a person but not remove their authenticator app gets the same
/// answer whether or not the person has one (permission first, then state).
#[tokio::test]
async fn removing_someone_elses_answers_the_same_whether_they_have_one() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(CORA).await;
    let mut seen = 0;
    for n in [1, 3, 4] {
        let path = format!("/users/{}/remove-second-factor", id(n));
        let get = c.get(&path).await;
        if get.status == StatusCode::NOT_FOUND {
            continue;
        }
        seen += 1;
        assert_eq!(get.status, StatusCode::FORBIDDEN, "user {n}");
        let post = c.post(&path, &[("version", "0")]).await;
        assert_eq!(post.status, StatusCode::FORBIDDEN, "user {n}: {}", post.body);
    }
    assert!(seen >= 2, "one with an app (Ada) and one without");
}
