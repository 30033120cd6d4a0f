//! The email address and the password are credentials (issue 11, attacks 2 and 4),
//! through the router: an equal cannot change someone's address, someone who outranks
//! them can and the change ends their sessions and reset links and tells the old
//! address; a password change or a reset kills every reset link and every other session,
//! the current session continuing under a fresh id; one's own address changes only with
//! one's current password.

use axum::http::StatusCode;
use tenure_mail::Message;

use crate::{ADA, CORA, Client, PASSWORD, PETE, Site, id, site};

const BEA: &str = "bea@example.com";
const SESSION: &str = "tenure_session";

/// The value of a form field on a page.
fn field(body: &str, name: &str) -> String {
    let at = body.find(&format!("name=\"{name}\" value=\"")).expect("the field") + name.len() + 15;
    body[at..body[at..].find('"').expect("its end") + at].to_owned()
}

/// Asks for a reset for `email` and waits for the new link (the email goes out in the
/// background).
async fn reset_link(site: &Site, email: &str) -> String {
    let before = site.mailer.sent().len();
    let mut c = Client::new(site);
    c.get("/account/reset-password").await;
    c.post("/account/reset-password", &[("email", email)]).await;
    for _ in 0..200 {
        let sent = site.mailer.sent();
        let new = sent[before..].iter().rev().find(|m| m.to.as_str() == email);
        if let Some(m) = new.filter(|m| m.subject == "Reset your password") {
            let at = m.text.find("token=").expect("a link") + "token=".len();
            return m.text[at..].chars().take_while(|c| !c.is_whitespace()).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no reset email for {email}");
}

/// The last message to an address.
fn last_to(site: &Site, to: &str) -> Message {
    site.mailer.sent().into_iter().rev().find(|m| m.to.as_str() == to).expect("a message")
}

/// A notice tells; it is never a way in: no link, no token.
fn assert_secret_free(m: &Message) {
    assert!(!m.text.contains("token") && !m.text.contains("http"), "{}", m.text);
    assert!(!m.html.contains("href"), "{}", m.html);
}

fn email_of(site: &Site, n: u128) -> String {
    site.store.update(|w| w.user(crate::user(n)).map(|u| u.email.to_string())).unwrap().unwrap()
}

/// Whether a reset link still opens its form.
async fn reset_link_works(site: &Site, token: &str) -> bool {
    let mut c = Client::new(site);
    let page = c.get(&format!("/account/reset-password?token={token}")).await;
    page.location() != "/account/link-expired"
}

/// Attack 2: Cora (a coordinator of Alpha) sets the address of Bea (a coordinator of
/// Beta, Alpha's managing agent: her equal) to her own, to take the account over with a
/// reset. The form does not offer it, and posting it anyway is refused with the reason.
#[tokio::test]
async fn an_equal_cannot_change_someones_email_address() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let bea = id(5);
    let page = cora.get(&format!("/users/{bea}/edit")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("name=\"name\""), "her name is Cora's to change");
    assert!(!page.body.contains("name=\"email\""), "her address is not");
    let version = field(&page.body, "version");
    let page = cora
        .post(
            &format!("/users/{bea}/edit"),
            &[
                ("version", &version),
                ("name", "bea"),
                ("email", "cora.private@example.com"),
                ("telephone", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("ranked above"), "{}", page.body);
    assert_eq!(email_of(&site, 5), BEA, "nothing written");
    assert!(site.mailer.sent().is_empty(), "no mail");
    // Over a data provider in reach she does outrank: the field is there.
    let page = cora.get(&format!("/users/{}/edit", id(4))).await;
    assert!(page.body.contains("name=\"email\""));
}

/// An administrator outranks a coordinator: Ada changes Bea's address. Once the new
/// address confirms, Bea's sessions are over, her earlier reset link is dead, and her
/// old address has been told who did it.
#[tokio::test]
async fn an_administrator_changes_a_coordinators_email_and_ends_her_sessions_and_links() {
    let site = site().await;
    let mut bea_client = Client::new(&site);
    bea_client.sign_in(BEA).await;
    let reset = reset_link(&site, BEA).await;

    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let bea = id(5);
    let page = ada.get(&format!("/users/{bea}/edit")).await;
    assert!(page.body.contains("name=\"email\""));
    let version = field(&page.body, "version");
    let page = ada
        .post(
            &format!("/users/{bea}/edit"),
            &[
                ("version", &version),
                ("name", "bea"),
                ("email", "bea.new@example.com"),
                ("telephone", ""),
            ],
        )
        .await;
    assert_eq!(page.location(), format!("/users/{bea}?done=email-sent"));
    assert_eq!(bea_client.get("/account").await.status, StatusCode::OK, "not before it confirms");

    let token = site.mailer.last_token_for("bea.new@example.com").expect("a confirmation");
    let mut inbox = Client::new(&site);
    inbox.get(&format!("/account/confirm-email?token={token}")).await;
    let page = inbox.post("/account/confirm-email", &[("token", &token)]).await;
    assert_eq!(page.location(), "/account/sign-in?done=email");
    assert_eq!(email_of(&site, 5), "bea.new@example.com");

    assert_eq!(bea_client.get("/account").await.location(), "/account/sign-in", "signed out");
    assert!(!reset_link_works(&site, &reset).await, "the earlier reset link is dead");
    let mut c = Client::new(&site);
    c.get("/account/sign-in").await;
    let fields = [
        ("token", reset.as_str()),
        ("password", "maple stone river 7"),
        ("confirm", "maple stone river 7"),
    ];
    assert_eq!(
        c.post("/account/reset-password/new", &fields).await.location(),
        "/account/link-expired"
    );
    let notice = last_to(&site, BEA);
    assert_eq!(notice.subject, "Your email address has been changed");
    assert!(notice.text.contains("ada changed"), "{}", notice.text);
    assert!(notice.text.contains("bea.new@example.com"), "{}", notice.text);
    assert_secret_free(&notice);
}

/// Attack 4 and SES-02: a reset link asked for before a password change is dead after
/// it; another session of the same person is over; the session the change was made in
/// goes on with a new cookie value, and the old value is dead.
#[tokio::test]
async fn a_password_change_kills_reset_links_and_rotates_the_session() {
    let site = site().await;
    let mut here = Client::new(&site);
    here.sign_in(PETE).await;
    let mut there = Client::new(&site);
    there.sign_in(PETE).await;
    let reset = reset_link(&site, PETE).await;
    assert!(reset_link_works(&site, &reset).await);

    let before = here.cookies.clone();
    here.get("/account/password").await;
    let page = here
        .post(
            "/account/password",
            &[
                ("current", PASSWORD),
                ("password", "amber falcon meadow 3"),
                ("confirm", "amber falcon meadow 3"),
            ],
        )
        .await;
    assert_eq!(page.location(), "/account?done=password");
    assert_ne!(here.cookies.get(SESSION), before.get(SESSION), "a fresh session id");
    let page = here.get("/account?done=password").await;
    assert_eq!(page.status, StatusCode::OK, "this session goes on");
    assert!(page.body.contains("Your password has been changed"));
    assert_eq!(there.get("/account").await.location(), "/account/sign-in", "the other ends");
    let mut stale = Client::new(&site);
    stale.cookies = before;
    assert_eq!(stale.get("/account").await.location(), "/account/sign-in", "old id dead");

    assert!(!reset_link_works(&site, &reset).await, "the reset link died with the change");
    let notice = last_to(&site, PETE);
    assert_eq!(notice.subject, "Your password has been changed");
    assert_secret_free(&notice);
}

/// REC-05 and REC-06: after a reset nobody is signed in, every earlier session is over,
/// a locked account can sign in again, and the "password changed" notice is sent.
#[tokio::test]
async fn a_reset_ends_every_session_and_sends_a_notice() {
    let site = site().await;
    let mut signed = Client::new(&site);
    signed.sign_in(PETE).await;
    let mut c = Client::new(&site);
    c.get("/account/sign-in").await;
    for _ in 0..5 {
        c.post("/account/sign-in", &[("email", PETE), ("password", "wrong wrong")]).await;
    }
    let older = reset_link(&site, PETE).await;
    let reset = reset_link(&site, PETE).await;
    assert!(!reset_link_works(&site, &older).await, "a newer link replaces the older");
    let page = c.get(&format!("/account/reset-password?token={reset}")).await;
    assert!(page.body.contains("Reset your password"));
    let fields = [
        ("token", reset.as_str()),
        ("password", "maple stone river 7"),
        ("confirm", "maple stone river 7"),
    ];
    let page = c.post("/account/reset-password/new", &fields).await;
    assert_eq!(page.location(), "/account/sign-in?done=reset");
    assert!(
        !page.headers.get_all("set-cookie").iter().any(|v| v
            .to_str()
            .is_ok_and(|v| v.starts_with(&format!("{SESSION}=")) && !v.contains("Max-Age=0"))),
        "no session from a reset"
    );
    assert_eq!(signed.get("/account").await.location(), "/account/sign-in");
    let notice = last_to(&site, PETE);
    assert_eq!(notice.subject, "Your password has been changed");
    assert_secret_free(&notice);
    let page =
        c.post("/account/sign-in", &[("email", PETE), ("password", "maple stone river 7")]).await;
    assert_eq!(page.location(), "/logs", "the lock is cleared: {} {}", page.status, page.body);
}

/// AUTH-07: one's own address changes only with one's current password. Without it, or
/// with a wrong one, the form says so and nothing changes; with it, the link goes to the
/// new address, and confirming it in the same browser keeps that one signed in under a
/// fresh session while every other session ends.
#[tokio::test]
async fn ones_own_email_change_needs_the_current_password() {
    let site = site().await;
    let mut here = Client::new(&site);
    here.sign_in(PETE).await;
    let mut there = Client::new(&site);
    there.sign_in(PETE).await;
    let page = here.get("/account/details").await;
    assert!(
        page.body.contains("name=\"email\"") && page.body.contains("name=\"current_password\"")
    );
    let version = field(&page.body, "version");
    let details = |password: Option<&'static str>| {
        let mut fields = vec![
            ("version", version.clone()),
            ("name", "pete".to_owned()),
            ("email", "peter@example.com".to_owned()),
            ("telephone", String::new()),
        ];
        if let Some(p) = password {
            fields.push(("current_password", p.to_owned()));
        }
        fields
    };
    for (password, message) in [
        (None, "Enter your current password to change your email address"),
        (Some(""), "Enter your current password to change your email address"),
        (Some("not my password"), "Your current password is incorrect"),
    ] {
        let fields = details(password);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = here.post("/account/details", &fields).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("govuk-error-summary"), "{}", page.body);
        assert!(page.body.contains("href=\"#current_password\""), "{}", page.body);
        assert!(page.body.contains(message), "{}", page.body);
        assert!(!page.body.contains("not my password"), "a password is never shown again");
        assert_eq!(email_of(&site, 4), PETE, "nothing changed");
        assert!(site.mailer.sent().is_empty(), "no mail");
    }

    let fields = details(Some(PASSWORD));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = here.post("/account/details", &fields).await;
    assert_eq!(page.location(), "/account?done=email-sent");
    assert_eq!(email_of(&site, 4), PETE, "not until it is confirmed");

    let token = site.mailer.last_token_for("peter@example.com").expect("a confirmation");
    let before = here.cookies.clone();
    here.get(&format!("/account/confirm-email?token={token}")).await;
    let page = here.post("/account/confirm-email", &[("token", &token)]).await;
    assert_eq!(page.location(), "/account?done=email");
    assert_ne!(here.cookies.get(SESSION), before.get(SESSION), "a fresh session id");
    let page = here.get("/account?done=email").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("peter@example.com"));
    assert_eq!(there.get("/account").await.location(), "/account/sign-in", "the other ends");
    let mut stale = Client::new(&site);
    stale.cookies = before;
    assert_eq!(stale.get("/account").await.location(), "/account/sign-in", "old id dead");
    let notice = last_to(&site, PETE);
    assert_eq!(notice.subject, "Your email address has been changed");
    assert!(notice.text.contains("You changed"), "{}", notice.text);
    assert_secret_free(&notice);
}
