//! Items of the security checklist (docs/security.md) that no other router test covered:
//! VAL-05 (sign-in never sends anyone off the site, whatever return address is given),
//! SES-01 (a session id is taken from the cookie only, never from the URL, and ids are
//! unique and long), AC-07 (a deactivated or deleted user's cookie opens no page, and
//! reactivation brings back neither the old session nor the old reset link), REC-02
//! (tokens are stored as digests only, and an invitation is no reset link nor the
//! reverse), REC-05, REC-07 (mail links on the base URL whatever `Host` says; the landing
//! pages' headers), SES-02 (signing in over a session rotates it), SES-03, SES-07 (no GET
//! changes anything), AUTH-07 (one notice, no secret), AC-05 (extra fields change
//! nothing; no hash in any page), AC-09 (the last coordinator stays), VAL-01, VAL-03,
//! LOAD-02 (a locked account resets and signs in) and LOAD-04 (page numbers past the end).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tenure_core::{
    Accounts, ChangeStore as _, Invite, LockoutPolicy, Manage, ManagePolicy, ManagePorts,
    PersonInput, ResetPolicy, Secrets as _, SessionPolicy, Sessions,
};
use tenure_domain::OrgId;
use tenure_secrets_os::OsSecrets;
use tenure_store_seaorm::SeaOrmStore;
use tenure_testkit::contract::manage::world;
use tenure_testkit::fakes::{CountingHasher, FixedClock, MemoryMailer, SequentialIds};
use tenure_web::WebConfig;
use uuid::Uuid;

use crate::{ADA, CAT, CORA, Client, PASSWORD, PETE, Page, Site, id, org, site, site_with};

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
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{target}");
        assert!(page.body.contains("unknown field `next`"), "{target}: {}", page.body);
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

const BASE: &str = "http://127.0.0.1:3000";
const NEW_PASSWORD: &str = "maple stone river 7";

/// Asks for a reset for `email` from a fresh browser and waits for the new link (the
/// email goes out in the background).
async fn reset_token(site: &Site, email: &str) -> String {
    let before = site.mailer.sent().len();
    let mut c = Client::new(site);
    c.get("/account/reset-password").await;
    c.post("/account/reset-password", &[("email", email)]).await;
    wait_for_mail(site, before, email).await
}

/// Waits for a message to `email` sent after the first `before`, and returns its token.
async fn wait_for_mail(site: &Site, before: usize, email: &str) -> String {
    for _ in 0..200 {
        let sent = site.mailer.sent();
        if let Some(m) = sent[before..].iter().rev().find(|m| m.to.as_str() == email) {
            let at = m.text.find("token=").expect("a link") + "token=".len();
            return m.text[at..].chars().take_while(|c| !c.is_whitespace()).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no email for {email}");
}

/// Cora invites Nina to Alpha as a data provider, in one post of the last step, with
/// these extra headers; returns the response.
async fn invite_nina(site: &Site, headers: &[(&str, &str)]) -> Page {
    let mut cora = Client::new(site);
    cora.sign_in(CORA).await;
    cora.get("/users/invite").await;
    let alpha = org(1);
    let fields = [
        ("csrf", cora.csrf.as_str()),
        ("name", "Nina Newcomer"),
        ("email", "nina@example.com"),
        ("telephone", ""),
        ("organisation", alpha.as_str()),
        ("role", "data_provider"),
    ];
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let mut request = Request::post("/users/invite/role")
        .header(header::COOKIE, cora.cookie_header())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    cora.send(request.body(Body::from(body)).unwrap()).await
}

/// The bytes of a SQLite database and its write-ahead log.
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for file in ["tenure.db", "tenure.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(file)) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn decoded_len(hex: &str) -> usize {
    assert!(hex.len() % 2 == 0 && hex.chars().all(|c| c.is_ascii_hexdigit()), "{hex}");
    (0..hex.len()).step_by(2).filter(|i| u8::from_str_radix(&hex[*i..*i + 2], 16).is_ok()).count()
}

/// REC-02 and SES-01 with the real generator on a real SQLite file: a reset link, an
/// invitation and a session each reach their holder as a token of at least 128 bits,
/// and the database holds its SHA-256 digest, never the token. 10,000 tokens from the
/// generator are all distinct and each decodes to at least 16 bytes.
#[tokio::test]
async fn tokens_are_long_unique_and_stored_only_as_digests() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10_000 {
        let token = OsSecrets.token().unwrap();
        assert!(decoded_len(&token.plain) >= 16, "{}", token.plain);
        assert!(seen.insert(token.plain), "a repeated token");
    }

    let dir = std::env::temp_dir().join(format!("tenure-web-checklist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("tenure.db").display());
    let store = Arc::new(SeaOrmStore::open(&url).await.unwrap());
    let world = world();
    store.import(&world).await.unwrap();
    let hasher = Arc::new(CountingHasher::with_cost(1));
    let users: Vec<_> = world.users().map(|u| u.id).collect();
    crate::give_everyone_the_password(&*store, &users, &hasher).await;
    let clock = Arc::new(FixedClock::at(1_800_000_000_000));
    let mailer = Arc::new(MemoryMailer::default());
    let ids = Arc::new(SequentialIds::default());
    let secrets = Arc::new(OsSecrets);
    let accounts = Accounts::new(
        store.clone(),
        hasher.clone(),
        clock.clone(),
        ids.clone(),
        LockoutPolicy::default(),
    )
    .with_resets(
        secrets.clone(),
        tenure_testkit::fakes::courier(store.clone(), mailer.clone(), clock.clone()),
        ResetPolicy { base_url: BASE.to_owned(), ..ResetPolicy::default() },
    );
    let manage = Manage::new(
        ManagePorts {
            directory: store.clone(),
            changes: store.clone(),
            hasher,
            secrets: secrets.clone(),
            courier: tenure_testkit::fakes::courier(store.clone(), mailer.clone(), clock.clone()),
            clock: clock.clone(),
            ids: ids.clone(),
        },
        ManagePolicy { base_url: BASE.to_owned(), ..ManagePolicy::default() },
    );
    let sessions = Sessions::new(store.clone(), secrets, clock, ids, SessionPolicy::default());

    accounts.request_reset(PETE).await.unwrap();
    let reset = mailer.last_token_for(PETE).expect("a reset email");
    let cora = crate::user(2);
    let invite = Invite {
        person: PersonInput {
            name: "Nina Newcomer".to_owned(),
            email: "nina@example.com".to_owned(),
            telephone: String::new(),
        },
        organisation: OrgId::from_uuid(Uuid::from_u128(1)),
        role: tenure_domain::role::builtin::DATA_PROVIDER,
    };
    manage.invite(cora, &invite).await.unwrap();
    let invitation = mailer.last_token_for("nina@example.com").expect("an invitation");
    let session = sessions.start(crate::user(4)).await.unwrap();
    assert!(sessions.resume(&session).await.unwrap().is_some(), "the session works");
    assert!(accounts.reset_link_usable(&reset).await.unwrap(), "the reset link works");

    let bytes = database_bytes(&dir);
    for (what, token) in [("reset", &reset), ("invitation", &invitation), ("session", &session)] {
        assert!(decoded_len(token) >= 16, "{what}: {token}");
        assert!(!contains(&bytes, token), "the {what} token is not in the database");
        assert!(contains(&bytes, &OsSecrets.digest(token)), "its digest is");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// REC-02: a link is bound to its purpose. An invitation token opens no reset form and
/// sets no password there; a reset token creates no account. Each still works for its
/// own purpose afterwards.
#[tokio::test]
async fn an_invitation_is_no_reset_link_and_a_reset_link_is_no_invitation() {
    let site = site().await;
    let page = invite_nina(&site, &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let invitation = site.mailer.last_token_for("nina@example.com").expect("an invitation");
    let reset = reset_token(&site, PETE).await;
    assert_ne!(invitation, reset);

    let mut c = Client::new(&site);
    c.get("/account/sign-in").await;
    let page = c.get(&format!("/account/reset-password?token={invitation}")).await;
    assert_eq!(page.location(), "/account/link-expired", "an invitation at the reset form");
    let fields =
        [("token", invitation.as_str()), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)];
    let page = c.post("/account/reset-password/new", &fields).await;
    assert_eq!(page.location(), "/account/link-expired", "an invitation posted as a reset");

    let page = c.get(&format!("/account/create?token={reset}")).await;
    assert_eq!(page.location(), "/account/link-expired", "a reset link at the invitation");
    c.get("/account/sign-in").await;
    let fields = [("token", reset.as_str()), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)];
    let page = c.post("/account/create", &fields).await;
    assert_eq!(page.location(), "/account/link-expired", "a reset link posted as an invitation");

    // Nothing was used up or changed: both still work for their own purpose, and Pete's
    // password is the old one.
    let page = c.get(&format!("/account/create?token={invitation}")).await;
    assert!(page.body.contains("you have been invited"), "{}", page.body);
    let page = c.get(&format!("/account/reset-password?token={reset}")).await;
    assert!(page.body.contains("Reset your password"), "{}", page.body);
    Client::new(&site).sign_in(PETE).await;
}

/// REC-07: links in mail are built from the configured base URL, never from the
/// request's `Host`, `X-Forwarded-Host` or `Forwarded`; the landing pages send
/// `no-referrer` and `no-store` and swap the URL's token for a posted field.
#[tokio::test]
async fn mail_links_use_the_base_url_whatever_the_host_and_landing_pages_leak_nothing() {
    let site = site().await;
    let evil = [
        ("host", "evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
        ("forwarded", "host=evil.example;proto=https"),
    ];
    // A reset request.
    let mut c = Client::new(&site);
    c.get("/account/reset-password").await;
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("csrf", c.csrf.as_str()), ("email", PETE)])
        .finish();
    let mut request = Request::post("/account/reset-password")
        .header(header::COOKIE, c.cookie_header())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in evil {
        request = request.header(name, value);
    }
    let page = c.send(request.body(Body::from(body)).unwrap()).await;
    assert_eq!(page.location(), "/account/check-email");
    let reset = wait_for_mail(&site, 0, PETE).await;
    // An invitation.
    let page = invite_nina(&site, &evil).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let invitation = site.mailer.last_token_for("nina@example.com").expect("an invitation");
    for m in site.mailer.sent() {
        assert!(!m.text.contains("evil") && !m.html.contains("evil"), "{}", m.text);
    }
    let text =
        |to: &str| site.mailer.sent().into_iter().rev().find(|m| m.to.as_str() == to).unwrap().text;
    assert!(
        text(PETE).contains(&format!("{BASE}/account/reset-password?token={reset}")),
        "{}",
        text(PETE)
    );
    assert!(
        text("nina@example.com").contains(&format!("{BASE}/account/create?token={invitation}")),
        "{}",
        text("nina@example.com")
    );

    // The landing pages themselves.
    for (path, action, token) in [
        ("/account/reset-password", "/account/reset-password/new", &reset),
        ("/account/create", "/account/create", &invitation),
    ] {
        let page = Client::new(&site).get(&format!("{path}?token={token}")).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let h = &page.headers;
        assert_eq!(h.get(header::REFERRER_POLICY).unwrap(), "no-referrer", "{path}");
        assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-store", "{path}");
        assert!(
            page.body.contains(&format!("<form method=\"post\" action=\"{action}\"")),
            "{path}: the token goes on by POST"
        );
        assert!(
            page.body
                .contains(&format!("<input type=\"hidden\" name=\"token\" value=\"{token}\">")),
            "{path}"
        );
        assert!(!page.body.contains("http://") || !page.body.contains(&format!("?token={token}")));
    }
}

/// REC-05 and AC-07 for deletion: a reset link issued before a user is deactivated and
/// deleted stays dead, and so does their old cookie.
#[tokio::test]
async fn a_deleted_users_reset_link_and_cookie_open_nothing() {
    let site = site().await;
    let mut pete = Client::new(&site);
    pete.sign_in(PETE).await;
    let old = pete.cookies.clone();
    let reset = reset_token(&site, PETE).await;

    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    for (action, version) in [("deactivate", "1"), ("delete", "2")] {
        let path = format!("/users/{}/{action}", id(4));
        cora.get(&path).await;
        let page = cora.post(&path, &[("version", version)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{action}: {}", page.body);
    }
    assert!(site.store.update(|w| w.user(crate::user(4)).is_none()).unwrap(), "deleted");

    let mut c = Client::new(&site);
    let page = c.get(&format!("/account/reset-password?token={reset}")).await;
    assert_eq!(page.location(), "/account/link-expired");
    c.get("/account/sign-in").await;
    let fields = [("token", reset.as_str()), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)];
    let page = c.post("/account/reset-password/new", &fields).await;
    assert_eq!(page.location(), "/account/link-expired");
    for path in signed_in_pages() {
        let mut ghost = Client::new(&site);
        ghost.cookies = old.clone();
        assert_eq!(ghost.get(&path).await.location(), "/account/sign-in", "{path}");
    }
    // Nor can the address sign in, with either password.
    for password in [PASSWORD, NEW_PASSWORD] {
        let mut d = Client::new(&site);
        d.get("/account/sign-in").await;
        let page = d.post("/account/sign-in", &[("email", PETE), ("password", password)]).await;
        assert!(page.body.contains("Enter a correct email address and password"));
    }
}

/// SES-02: the id a browser held before signing in (its anonymous CSRF cookie) never
/// becomes a session, and signing in over a live session gives a new id and kills the
/// old one.
#[tokio::test]
async fn signing_in_over_a_session_rotates_its_id_and_the_old_one_dies() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.get("/account/sign-in").await;
    let pre = c.cookies.get("tenure_csrf").expect("an anonymous cookie").clone();
    c.sign_in(PETE).await;
    let first = c.cookies.get("tenure_session").expect("a session").clone();
    assert_ne!(first, pre);
    let mut fixated = Client::new(&site);
    fixated.cookies.insert("tenure_session".to_owned(), pre);
    assert_eq!(fixated.get("/account").await.location(), "/account/sign-in");

    // Signed in as Pete, the same browser signs in as Cora.
    c.get("/account").await;
    let page = c.post("/account/sign-in", &[("email", CORA), ("password", PASSWORD)]).await;
    assert_eq!(page.location(), "/logs", "{}", page.body);
    let second = c.cookies.get("tenure_session").expect("a session").clone();
    assert_ne!(second, first, "a fresh id");
    assert!(c.get("/account").await.body.contains(CORA), "the new one is Cora's");
    let mut replay = Client::new(&site);
    replay.cookies.insert("tenure_session".to_owned(), first);
    assert_eq!(replay.get("/account").await.location(), "/account/sign-in", "the old id is dead");
}

/// The `Set-Cookie` values of a response, split into attributes.
fn set_cookies(page: &Page) -> Vec<Vec<String>> {
    page.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').map(|a| a.trim().to_owned()).collect())
        .collect()
}

/// SES-03: every cookie set on sign-in, reset and sign-out, over HTTPS, is `__Host-`
/// prefixed, `Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`, without `Domain`, and lives
/// no longer than the 12-hour absolute timeout (a browser-session cookie, or
/// `Max-Age=0` to remove it). A completed reset sets no session.
#[tokio::test]
async fn every_cookie_on_sign_in_reset_and_sign_out_has_the_attributes() {
    let site = site_with(world(), WebConfig::new("https://tenure.example")).await;
    let reset = reset_token(&site, PETE).await;
    let mut c = Client::new(&site);
    let mut pages = vec![("sign-in page", c.get("/account/sign-in").await)];
    let page = c.post("/account/sign-in", &[("email", CORA), ("password", PASSWORD)]).await;
    assert_eq!(page.location(), "/logs");
    pages.push(("sign-in", page));
    c.get("/account").await;
    pages.push(("sign-out", c.post("/account/sign-out", &[]).await));
    let mut r = Client::new(&site);
    pages.push(("reset page", r.get(&format!("/account/reset-password?token={reset}")).await));
    let fields = [("token", reset.as_str()), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)];
    let page = r.post("/account/reset-password/new", &fields).await;
    assert_eq!(page.location(), "/account/sign-in?done=reset");
    assert!(
        set_cookies(&page)
            .iter()
            .all(|c| !c[0].starts_with("__Host-tenure_session=")
                || c.iter().any(|a| a == "Max-Age=0")),
        "a reset signs nobody in"
    );
    pages.push(("reset", page));
    let mut seen = 0;
    for (what, page) in &pages {
        for cookie in set_cookies(page) {
            seen += 1;
            assert!(cookie[0].starts_with("__Host-"), "{what}: {cookie:?}");
            for wanted in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
                assert!(cookie.iter().any(|a| a == wanted), "{what}: {wanted} in {cookie:?}");
            }
            assert!(
                !cookie.iter().any(|a| a.to_ascii_lowercase().starts_with("domain")),
                "{what}: {cookie:?}"
            );
            for a in &cookie[1..] {
                if let Some(age) = a.strip_prefix("Max-Age=") {
                    assert!(age.parse::<i64>().unwrap() <= 12 * 60 * 60, "{what}: {cookie:?}");
                }
            }
        }
    }
    assert!(seen >= 3, "cookies were set: {seen}");
}

/// Everything a GET could change: the world (users, organisations, relationships, logs,
/// versions) as the store holds it, and the mail sent.
fn state(site: &Site) -> (String, usize) {
    (site.store.update(|w| format!("{w:?}")).unwrap(), site.mailer.sent().len())
}

/// SES-07: no GET changes anything, whoever sends it: every page, each confirmation
/// page, links in mail, and GETs to routes that only take a POST (405).
#[tokio::test]
async fn no_get_changes_anything() {
    let site = site().await;
    let reset = reset_token(&site, CAT).await;
    let page = invite_nina(&site, &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let invitation = site.mailer.last_token_for("nina@example.com").unwrap();
    let before = state(&site);
    let mut paths = signed_in_pages();
    for n in [2, 4, 5, 6] {
        for action in [
            "deactivate",
            "reactivate",
            "delete",
            "resend-invitation",
            "revoke-invitation",
            "move",
            "edit",
        ] {
            paths.push(format!("/users/{}/{action}", id(n)));
        }
    }
    for n in [1, 2, 3] {
        for action in ["", "/edit", "/merge", "/deactivate", "/reactivate", "/relationships"] {
            paths.push(format!("/organisations/{}{action}", org(n)));
        }
    }
    paths.extend(
        [
            "/audit",
            "/organisations/new",
            "/users/invite",
            "/users/invite/organisation",
            "/users/invite/role",
            "/account/sign-out",
            "/account/sign-out-everywhere",
            "/account/reset-password/new",
            "/account/confirm-email?token=x",
            "/administration/users",
            "/records",
        ]
        .map(str::to_owned),
    );
    paths.push(format!("/account/reset-password?token={reset}"));
    paths.push(format!("/account/create?token={invitation}"));
    paths.push("/account/sign-in".to_owned());
    for email in [None, Some(PETE), Some(CORA), Some(ADA)] {
        let mut c = Client::new(&site);
        if let Some(e) = email {
            c.sign_in(e).await;
        }
        for path in &paths {
            let page = c.get(path).await;
            assert!(!page.status.is_server_error(), "{email:?} GET {path}: {}", page.status);
            assert_eq!(state(&site), before, "{email:?} GET {path} changed something");
        }
        assert!(c.get("/account/sign-out").await.status == StatusCode::METHOD_NOT_ALLOWED);
        if email.is_some() {
            assert_eq!(c.get("/account").await.status, StatusCode::OK, "still signed in");
        }
    }
    // The links followed by GET are not used up.
    let page = Client::new(&site).get(&format!("/account/reset-password?token={reset}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let page = Client::new(&site).get(&format!("/account/create?token={invitation}")).await;
    assert_eq!(page.status, StatusCode::OK);
}

/// AUTH-07: a password change (with the current password) sends the person exactly one
/// notice, holding neither password, no link and no token.
#[tokio::test]
async fn a_password_change_sends_one_notice_without_secrets() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(PETE).await;
    c.get("/account/password").await;
    let before = site.mailer.sent().len();
    let page = c
        .post(
            "/account/password",
            &[("current", PASSWORD), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(page.location(), "/account?done=password");
    let sent = site.mailer.sent();
    let new: Vec<_> = sent[before..].iter().collect();
    assert_eq!(new.len(), 1, "exactly one message: {new:?}");
    let m = new[0];
    assert_eq!(m.to.as_str(), PETE);
    for secret in [PASSWORD, NEW_PASSWORD, "token", "http", "fake$"] {
        assert!(!m.text.contains(secret) && !m.html.contains(secret), "{secret}: {}", m.text);
    }
}

/// The user's record as the store holds it.
fn pete_record(site: &Site) -> String {
    site.store.update(|w| format!("{:?}", w.user(crate::user(4)))).unwrap()
}

/// AC-05: fields that are not the form's change nothing. On "Your details" they are
/// refused whole (422, nothing written); on a coordinator's edit form for someone else
/// they are ignored (the form's own fields are saved, the person's role, organisation,
/// state and password stay). No page shows a password hash.
#[tokio::test]
async fn extra_fields_change_nothing_and_no_page_shows_a_hash() {
    let site = site().await;
    let gamma = org(3);
    let extras: [(&str, &str); 8] = [
        ("role", "administrator"),
        ("roles", "administrator"),
        ("organisation", &gamma),
        ("organisation_id", &gamma),
        ("status", "deactivated"),
        ("active", "false"),
        ("password", "owned by someone else"),
        ("password_hash", "fake$1$x"),
    ];
    let mut pete = Client::new(&site);
    pete.sign_in(PETE).await;
    let before = pete_record(&site);
    for extra in extras {
        pete.get("/account/details").await;
        let page = pete
            .post(
                "/account/details",
                &[("name", "Pete Renamed"), ("telephone", ""), ("version", "1"), extra],
            )
            .await;
        // The service's own page, naming the field (issue 16, checklist AC-05).
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{extra:?}");
        assert!(page.body.starts_with("<!DOCTYPE html>"), "{extra:?}");
        assert!(page.body.contains(&format!("unknown field `{}`", extra.0)), "{extra:?}");
        assert_eq!(pete_record(&site), before, "{extra:?}: nothing changed");
    }

    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let path = format!("/users/{}/edit", id(4));
    for (i, extra) in extras.into_iter().enumerate() {
        cora.get(&path).await;
        let version = site.store.user(crate::user(4)).await.unwrap().unwrap().version.to_string();
        let name = format!("Pete {i}");
        let page = cora
            .post(&path, &[("version", &version), ("name", &name), ("telephone", ""), extra])
            .await;
        assert!(
            page.status == StatusCode::SEE_OTHER || page.status.is_client_error(),
            "{extra:?}: {}",
            page.status
        );
        site.store
            .update(|w| {
                let u = w.user(crate::user(4)).unwrap();
                assert_eq!(u.organisation, OrgId::from_uuid(Uuid::from_u128(1)), "{extra:?}");
                assert_eq!(u.roles, vec![tenure_domain::role::builtin::DATA_PROVIDER], "{extra:?}");
                assert!(u.active, "{extra:?}");
            })
            .unwrap();
    }
    Client::new(&site).sign_in(PETE).await;

    // No page, CSV included, carries a password hash (the fake hasher writes `fake$`).
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let mut pages = signed_in_pages();
    pages.extend(["/audit".to_owned(), format!("/users/{}", id(2)), "/users?q=pete".to_owned()]);
    for path in pages {
        let page = ada.get(&path).await;
        assert!(!page.body.contains("fake$"), "{path}");
        assert!(!page.body.contains("digest("), "{path}: no token digest");
    }
}

/// AC-09: Bea is Beta's only active data coordinator. Deactivating her, taking the role
/// from her or moving her to another organisation is refused and changes nothing.
#[tokio::test]
async fn the_last_coordinator_cannot_be_deactivated_demoted_or_moved() {
    let site = site().await;
    let bea = crate::user(5);
    let record = || site.store.update(|w| format!("{:?}", w.user(bea))).unwrap();
    let before = record();
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let attempts: [(String, Vec<(&str, &str)>); 3] = [
        (format!("/users/{}/deactivate", id(5)), vec![("version", "1")]),
        (
            format!("/users/{}/edit", id(5)),
            vec![("version", "1"), ("name", "bea"), ("telephone", ""), ("role", "data_provider")],
        ),
        (format!("/users/{}/move", id(5)), vec![("version", "1"), ("organisation", "Alpha")]),
    ];
    for (path, fields) in &attempts {
        ada.get(path).await;
        let page = ada.post(path, fields).await;
        assert!(
            page.status == StatusCode::CONFLICT || page.status == StatusCode::FORBIDDEN,
            "{path}: {} {}",
            page.status,
            page.body
        );
        assert!(page.body.contains("must keep at least one active"), "{path}: {}", page.body);
        assert_eq!(record(), before, "{path}: nothing changed");
    }
    // Bea herself cannot do it either.
    let mut bea_client = Client::new(&site);
    bea_client.sign_in("bea@example.com").await;
    let path = format!("/users/{}/deactivate", id(5));
    bea_client.get(&path).await;
    let page = bea_client.post(&path, &[("version", "1")]).await;
    assert!(page.status.is_client_error(), "{}", page.status);
    assert_eq!(record(), before);
}

/// VAL-01: names with NUL, other control characters, bidi overrides, nothing but spaces,
/// 201 characters or 10 MB are refused with a message on every form that takes a name,
/// and so are wrongly typed fields; nothing is a 5xx and nothing is written.
#[tokio::test]
async fn hostile_input_is_refused_with_a_message_never_a_server_error() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let huge = "x".repeat(10 * 1024 * 1024);
    let long = "x".repeat(201);
    let table: [(&str, &str); 7] = [
        ("a\u{0}b", "control or text-direction characters"),
        ("evil\u{202E}txet", "control or text-direction characters"),
        ("line\nbreak", "control or text-direction characters"),
        ("zero\u{200F}width", "control or text-direction characters"),
        ("   ", "Enter a name"),
        (&long, "200 characters or fewer"),
        (&huge, "This form is too large"),
    ];
    let alpha = org(1);
    let before = state(&site);
    for (name, message) in table {
        let shown = name.chars().take(20).collect::<String>();
        let forms: [(String, Vec<(&str, &str)>); 4] = [
            (
                "/account/details".to_owned(),
                vec![("name", name), ("telephone", ""), ("version", "1")],
            ),
            (
                format!("/users/{}/edit", id(4)),
                vec![("version", "1"), ("name", name), ("telephone", "")],
            ),
            (
                "/users/invite".to_owned(),
                vec![("name", name), ("email", "ivy@example.com"), ("telephone", "")],
            ),
            (
                format!("/organisations/{alpha}/edit"),
                vec![("version", "1"), ("name", name), ("address", ""), ("telephone", "")],
            ),
        ];
        for (path, fields) in forms {
            cora.get(&path).await;
            let page = cora.post(&path, &fields).await;
            assert!(
                page.status == StatusCode::OK || page.status.is_client_error(),
                "{shown:?} to {path}: {}",
                page.status
            );
            assert!(page.body.contains(message), "{shown:?} to {path}: {}", page.body);
            assert_eq!(state(&site), before, "{shown:?} to {path}: nothing written");
        }
    }
    // Wrong types and missing fields: a 4xx, never a 5xx.
    for fields in [
        vec![("name", "Cora"), ("telephone", ""), ("version", "abc")],
        vec![("name", "Cora"), ("telephone", ""), ("version", "99999999999999999999999")],
        vec![("name", "Cora"), ("version", "1")],
        vec![("name", "Cora"), ("name", "Other"), ("telephone", ""), ("version", "1")],
    ] {
        cora.get("/account/details").await;
        let page = cora.post("/account/details", &fields).await;
        assert!(page.status.is_client_error(), "{fields:?}: {}", page.status);
        assert_eq!(state(&site), before, "{fields:?}");
    }
}

/// VAL-03: names that look like SQL or HTML are kept byte for byte and shown escaped on
/// every page that shows them; every HTML page sends the CSP and `nosniff`.
#[tokio::test]
async fn names_that_look_like_sql_or_html_round_trip_and_render_escaped() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let path = format!("/users/{}/edit", id(4));
    let names = [
        ("'); DROP TABLE users;--", "&#39;); DROP TABLE users;--"),
        ("<script>alert(1)</script>", "&#60;script&#62;alert(1)&#60;/script&#62;"),
        ("\"><img src=x onerror=alert(1)>", "&#34;&#62;&#60;img src=x onerror=alert(1)&#62;"),
    ];
    // Each save moves the user's version on by one, from 1.
    for (version, (name, escaped)) in (1..).zip(names) {
        cora.get(&path).await;
        let v = version.to_string();
        let page = cora.post(&path, &[("version", &v), ("name", name), ("telephone", "")]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{name}: {}", page.body);
        let stored =
            site.store.update(|w| w.user(crate::user(4)).unwrap().name.to_string()).unwrap();
        assert_eq!(stored, name, "the round trip");
        let mut pete = Client::new(&site);
        pete.sign_in(PETE).await;
        for (pete_views, page) in [
            (false, format!("/users/{}", id(4))),
            (false, "/users".to_owned()),
            (false, path.clone()),
            (true, "/account".to_owned()),
            (true, "/account/details".to_owned()),
        ] {
            let c = if pete_views { &mut pete } else { &mut cora };
            let body = c.get(&page).await.body;
            assert!(body.contains(escaped), "{page} shows {name} escaped: {body}");
            assert!(!body.contains(name), "{page} shows {name} raw");
        }
        assert!(site.store.update(|w| w.users().count()).unwrap() == 6, "every user is there");
    }
    // The headers on every HTML response, for each role.
    for email in [PETE, CORA, ADA] {
        let mut c = Client::new(&site);
        c.sign_in(email).await;
        let mut paths = signed_in_pages();
        paths.extend(["/nowhere".to_owned(), "/users/invite".to_owned(), "/audit".to_owned()]);
        for p in paths {
            let page = c.get(&p).await;
            let kind = page
                .headers
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            if !kind.starts_with("text/html") {
                continue;
            }
            let csp = page.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
            for part in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"] {
                assert!(csp.contains(part), "{email} {p}: {csp}");
            }
            assert_eq!(page.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
        }
    }
}

/// LOAD-02: a lockout is no denial of service. Locked after five failures, even the right
/// password is refused with the usual message; a reset by email still works and the new
/// password signs in at once.
#[tokio::test]
async fn a_locked_account_can_reset_by_email_and_then_sign_in() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.get("/account/sign-in").await;
    for _ in 0..5 {
        let page = c.post("/account/sign-in", &[("email", PETE), ("password", "wrong")]).await;
        assert!(page.body.contains("Enter a correct email address and password"));
    }
    let page = c.post("/account/sign-in", &[("email", PETE), ("password", PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::OK, "locked: {}", page.location());
    assert!(page.body.contains("Enter a correct email address and password"), "same answer");
    assert!(!c.has_session());

    let reset = reset_token(&site, PETE).await;
    let mut r = Client::new(&site);
    r.get(&format!("/account/reset-password?token={reset}")).await;
    let fields = [("token", reset.as_str()), ("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)];
    let page = r.post("/account/reset-password/new", &fields).await;
    assert_eq!(page.location(), "/account/sign-in?done=reset");

    let mut d = Client::new(&site);
    d.get("/account/sign-in").await;
    let page = d.post("/account/sign-in", &[("email", PETE), ("password", NEW_PASSWORD)]).await;
    assert_eq!(page.location(), "/logs", "{}", page.body);
}

/// LOAD-04: page numbers far past the end, at the top of `usize`, or not numbers at all,
/// and a `page_size` the lists do not take, are answered with a page (or a 400), never a
/// server error, and a page never holds more than a screenful.
#[tokio::test]
async fn page_numbers_past_the_end_and_huge_page_sizes_are_bounded() {
    let site = site().await;
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    for list in ["/users", "/organisations", "/logs", "/audit"] {
        for query in [
            "page=100000",
            "page=18446744073709551615",
            "page=99999999999999999999999",
            "page=-1",
            "page=abc",
            "page_size=100000",
            "page=1&page_size=100000&limit=100000&per_page=100000",
        ] {
            let page = ada.get(&format!("{list}?{query}")).await;
            assert!(
                page.status == StatusCode::OK || page.status == StatusCode::BAD_REQUEST,
                "{list}?{query}: {}",
                page.status
            );
        }
        let all = ada.get(&format!("{list}?page=1&page_size=100000")).await;
        assert_eq!(all.status, StatusCode::OK, "{list}");
        let rows = all.body.matches("<tr class=\"govuk-table__row\"").count();
        assert!(rows <= 1 + tenure_core::Page::SCREEN, "{list}: {rows} rows");
    }
}
