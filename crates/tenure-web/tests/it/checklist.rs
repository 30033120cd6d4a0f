//! Items of the security checklist (docs/security.md) that no other router test covered:
//! VAL-05 (sign-in never sends anyone off the site, whatever return address is given),
//! SES-01 (a session id is taken from the cookie only, never from the URL) and AC-07 (a
//! deactivated user's cookie opens no page, and reactivation brings back neither the old
//! session nor the old reset link).

use axum::http::StatusCode;

use crate::{CORA, Client, PASSWORD, PETE, id, site};

/// Return addresses that would leave the site, or run script, if they were followed.
const ELSEWHERE: [&str; 6] = [
    "//evil.com",
    "https://evil.com",
    "/\\evil.com",
    "javascript:alert(1)",
    "http:evil.com",
    "%2F%2Fevil.com",
];

/// The pages a signed-in user may open, one of each kind.
fn signed_in_pages() -> Vec<String> {
    vec![
        "/logs".to_owned(),
        "/account".to_owned(),
        "/account/details".to_owned(),
        "/account/password".to_owned(),
        "/users".to_owned(),
        "/users/download".to_owned(),
        format!("/users/{}", id(4)),
        format!("/users/{}/edit", id(4)),
        "/organisation".to_owned(),
        "/organisations".to_owned(),
    ]
}

/// VAL-05: the sign-in handler takes no return address at all; whatever `next` or
/// `return_to` says, in the URL or in the form, a successful sign-in lands on `/logs`.
#[tokio::test]
async fn signing_in_never_leaves_the_site_whatever_return_address_is_given() {
    for target in ELSEWHERE {
        // A fresh site each time: sign-in attempts are limited per address.
        let site = site().await;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("next", target)
            .append_pair("return_to", target)
            .finish();
        let mut c = Client::new(&site);
        let page = c.get(&format!("/account/sign-in?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{target}");
        assert!(!page.body.contains(target), "the form does not carry {target}");
        let page = c
            .post(&format!("/account/sign-in?{query}"), &[("email", CORA), ("password", PASSWORD)])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{target}: {}", page.body);
        assert_eq!(page.location(), "/logs", "{target}");
        assert!(c.has_session(), "{target}");
        // Already signed in, the sign-in page sends them to the same place.
        let page = c.get(&format!("/account/sign-in?{query}")).await;
        assert_eq!(page.location(), "/logs", "{target}");

        // As a form field the address is an unknown field: refused, no session, no redirect.
        let mut d = Client::new(&site);
        d.get("/account/sign-in").await;
        let page = d
            .post("/account/sign-in", &[("email", CORA), ("password", PASSWORD), ("next", target)])
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{target}");
        assert_eq!(page.location(), "", "{target}");
        assert!(!d.has_session(), "{target}");
    }
}

/// SES-01: a session id is read from the cookie only. The same live id in the query
/// string, under any likely name, leaves the request signed out.
#[tokio::test]
async fn a_session_id_in_the_url_is_ignored() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(CORA).await;
    let token = c.cookies.get("tenure_session").expect("a session cookie").clone();
    assert_eq!(c.get("/account").await.status, StatusCode::OK, "the cookie works");

    let mut bare = Client::new(&site);
    for name in ["session", "tenure_session", "__Host-tenure_session", "sid", "token"] {
        for path in ["/account", "/users", "/logs"] {
            let page = bare.get(&format!("{path}?{name}={token}")).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}?{name}=");
            assert_eq!(page.location(), "/account/sign-in", "{path}?{name}=");
        }
    }
    // Nor as a path segment.
    let page = bare.get(&format!("/account;session={token}")).await;
    assert_ne!(page.status, StatusCode::OK);
    assert!(!bare.has_session(), "no cookie was handed out for the URL's id");
    // The owner's session is untouched.
    assert_eq!(c.get("/account").await.status, StatusCode::OK);
}

/// AC-07: once deactivated, the cookie that worked a moment ago opens no page and
/// changes nothing; reactivation does not bring back the old session or the reset link
/// issued before.
#[tokio::test]
async fn a_deactivated_users_old_cookie_opens_nothing_even_after_reactivation() {
    let site = site().await;
    let mut pete = Client::new(&site);
    pete.sign_in(PETE).await;
    for path in signed_in_pages() {
        let page = pete.get(&path).await;
        assert_ne!(page.location(), "/account/sign-in", "{path} is open while active");
    }
    let old = pete.cookies.clone();
    let old_csrf = pete.csrf.clone();

    // A reset link issued while active.
    let mut anon = Client::new(&site);
    anon.get("/account/reset-password").await;
    anon.post("/account/reset-password", &[("email", PETE)]).await;
    let mut link = None;
    for _ in 0..100 {
        link = site.mailer.last_token_for(PETE);
        if link.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let link = link.expect("a reset email");

    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let deactivate = format!("/users/{}/deactivate", id(4));
    cora.get(&deactivate).await;
    let page = cora.post(&deactivate, &[("version", "1")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    let check = |when: &'static str| {
        let old = old.clone();
        let old_csrf = old_csrf.clone();
        let site = &site;
        async move {
            for path in signed_in_pages() {
                let mut ghost = Client::new(site);
                ghost.cookies = old.clone();
                let page = ghost.get(&path).await;
                assert_eq!(page.status, StatusCode::SEE_OTHER, "{when}: {path}");
                assert_eq!(page.location(), "/account/sign-in", "{when}: {path}");
            }
            // A state change with the old cookie and its token is refused too.
            let mut ghost = Client::new(site);
            ghost.cookies = old.clone();
            ghost.csrf = old_csrf.clone();
            let page = ghost.post("/account/sign-out-everywhere", &[]).await;
            assert_ne!(page.status, StatusCode::OK, "{when}");
            assert_ne!(page.location(), "/account/sign-in?done=everywhere", "{when}");
        }
    };
    check("deactivated").await;

    let reactivate = format!("/users/{}/reactivate", id(4));
    cora.get(&reactivate).await;
    let page = cora.post(&reactivate, &[("version", "2")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    check("reactivated").await;
    let page = anon.get(&format!("/account/reset-password?token={link}")).await;
    assert_eq!(page.location(), "/account/link-expired", "the old reset link stays dead");
}
