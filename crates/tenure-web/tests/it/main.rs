//! Router tests: every route, signed out and as each role, out of reach, with bad input
//! and without a CSRF token; driven through the real router and security layer against
//! the in-memory store, with the fake clock and mailer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod audit_origin;
mod backend_errors;
mod browser;
mod browser_core;
mod browser_corterum;
mod checklist;
mod corterum;
mod corterum_companies;
mod corterum_links;
mod corterum_lists;
mod corterum_reports;
mod corterum_tables;
mod credentials;
mod fuzz;
mod hardening;
mod health;
mod leftovers;
mod limits;
mod logging;
mod mail;
mod relationships;
mod routes;
mod screens;
mod second_factor;
mod second_factor_browser;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tenure_core::limits::{LimitKind, Rate};
use tenure_core::{
    AccountStore, AuditDetail, AuditEvent, AuditName, Outcome, Policies, Ports, Timestamp,
};
use tenure_domain::{UserId, World};
use tenure_store_memory::MemoryDirectory;
use tenure_testkit::contract::manage::world;
use tenure_testkit::fakes::{
    CountingHasher, FixedClock, MemoryMailer, SequentialIds, SequentialSecrets,
};
use tenure_web::{Services, WebConfig};
use tower::ServiceExt as _;
use uuid::Uuid;

pub(crate) const PASSWORD: &str = "quiet river lantern";
/// The authenticator key of everyone whose role requires a second factor (set up at
/// start, with no notice), so the sign-in helpers can compute their codes.
pub(crate) const TEST_SECRET: &[u8] = b"tenure-test-secret-1";

/// The code an authenticator app with `secret` shows at `at_ms` (totp-rs, as the service
/// uses: SHA-1, 6 digits, 30 seconds).
pub(crate) fn totp_code(secret: &[u8], at_ms: i64) -> String {
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret.to_vec()).unwrap();
    totp.generate(u64::try_from(at_ms / 1000).unwrap())
}

pub(crate) fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(100 + n))
}

/// The service over a store, with fakes for time, mail, ids and hashing.
pub(crate) struct Site {
    pub(crate) router: Router,
    pub(crate) store: Arc<MemoryDirectory>,
    pub(crate) mailer: Arc<MemoryMailer>,
    pub(crate) clock: Arc<FixedClock>,
    /// The services the router serves, for tests that ask a service directly (what a
    /// page never sends, such as an attack a page's own read already stops).
    pub(crate) services: Services,
    /// The last 30-second step whose code each person used: a code is accepted once, so
    /// the next sign-in waits for the next step (the clock moves on).
    pub(crate) used_steps: std::sync::Mutex<HashMap<String, i64>>,
}

impl Site {
    /// A code for `secret` not used before by `who`: the clock moves to the next step
    /// when this one's code was used already.
    pub(crate) fn fresh_code(&self, who: &str, secret: &[u8]) -> String {
        fresh_code(&self.clock, &mut self.used_steps.lock().unwrap(), who, secret)
    }
}

/// A code for `secret` that `who` has not used (`used` holds the last step each person
/// used): the clock moves on to the next 30-second step when this one's code was used.
pub(crate) fn fresh_code(
    clock: &FixedClock,
    used: &mut HashMap<String, i64>,
    who: &str,
    secret: &[u8],
) -> String {
    use tenure_core::Clock as _;
    let step = |clock: &FixedClock| clock.now().0 / 30_000;
    if let Some(last) = used.get(who) {
        if *last >= step(clock) {
            clock.advance((last - step(clock) + 1) * 30_000);
        }
    }
    used.insert(who.to_owned(), step(clock));
    totp_code(secret, clock.now().0)
}

/// Sets up [`TEST_SECRET`] for everyone whose role requires a second factor.
pub(crate) async fn enrol_those_required(services: &Services, world: &World) {
    for u in world.users() {
        let status = services.second_factors.status(u.id).await.unwrap();
        if status.demand.is_required() && !status.set_up {
            services.second_factors.enrol_with_secret(u.id, TEST_SECRET).await.unwrap();
        }
    }
}

pub(crate) async fn site_with(world: World, config: WebConfig) -> Site {
    let store = Arc::new(MemoryDirectory::new(world));
    let clock = Arc::new(FixedClock::at(1_800_000_000_000));
    let mailer = Arc::new(MemoryMailer::default());
    let hasher = Arc::new(CountingHasher::with_cost(1));
    let secrets = Arc::new(SequentialSecrets::default());
    let ids = Arc::new(SequentialIds::default());
    give_everyone_the_password(&*store, &world_ids(&store), &hasher).await;
    let ports = Ports {
        directory: store.clone(),
        changes: store.clone(),
        accounts: store.clone(),
        sessions: store.clone(),
        limits: store.clone(),
        second_factors: store.clone(),
        vault: Arc::new(tenure_secrets_os::KeyVault::from_key(&[7; 32])),
        corterum: store.clone(),
        hasher,
        secrets,
        mail_queue: store.clone(),
        mailer: mailer.clone(),
        clock: clock.clone(),
        ids,
    };
    let mut policies = Policies::at(&config.base_url);
    let per_minute = |n| Some(Rate::per(n, 60_000));
    policies.limits = policies
        .limits
        .with(LimitKind::SignInAddress, per_minute(config.rate_limits.sign_in_per_minute))
        .with(LimitKind::ResetAddress, per_minute(config.rate_limits.reset_per_minute));
    let services = Services::wire(ports, policies).await.unwrap();
    enrol_those_required(&services, &store.update(|w| w.clone()).unwrap()).await;
    let router = tenure_web::router(services.clone(), config);
    Site { router, store, mailer, clock, services, used_steps: std::sync::Mutex::default() }
}

/// Gives every one of these users [`PASSWORD`], audited as set at time 0.
pub(crate) async fn give_everyone_the_password(
    store: &dyn AccountStore,
    users: &[UserId],
    hasher: &CountingHasher,
) {
    for (i, id) in users.iter().enumerate() {
        let event = AuditEvent {
            id: Uuid::from_u128(0xF000 + i as u128),
            at: Timestamp(0),
            actor: None,
            name: AuditName::PasswordChange,
            outcome: Outcome::Success,
            target_user: Some(*id),
            organisation: None,
            detail: AuditDetail::Empty,
            origin: None,
        };
        store.set_password(*id, hasher.hash_of(PASSWORD), event).await.unwrap();
    }
}

fn world_ids(store: &MemoryDirectory) -> Vec<UserId> {
    store.update(|w| w.users().map(|u| u.id).collect()).unwrap()
}

pub(crate) async fn site() -> Site {
    site_with(world(), WebConfig::new("http://127.0.0.1:3000")).await
}

/// A browser: keeps cookies, knows the last page's CSRF token.
pub(crate) struct Client<'a> {
    site: &'a Site,
    pub(crate) cookies: HashMap<String, String>,
    pub(crate) csrf: String,
}

/// A response, read whole.
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl<'a> Client<'a> {
    pub(crate) fn new(site: &'a Site) -> Self {
        Self { site, cookies: HashMap::new(), csrf: String::new() }
    }

    async fn send(&mut self, request: Request<Body>) -> Page {
        let response = self.site.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = axum::body::to_bytes(response.into_body(), 10_000_000).await.unwrap();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        if let Some(at) = body.find("name=\"csrf\" value=\"") {
            let rest = &body[at + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_owned();
        }
        Page { status, headers, body }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let request = Request::get(path)
            .header(header::COOKIE, self.cookie_header())
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    /// Posts a form with the current CSRF token added.
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Sends a request exactly as given: the path with its query string, already
    /// percent-encoded, and for a `POST` the body with this content type (none when
    /// `None`).
    pub(crate) async fn raw(
        &mut self,
        method: axum::http::Method,
        uri: &str,
        content_type: Option<&str>,
        body: String,
    ) -> Page {
        let mut request = Request::builder().method(method).uri(uri);
        request = request.header(header::COOKIE, self.cookie_header());
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// Posts exactly these fields.
    pub(crate) async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let request = Request::post(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    pub(crate) async fn sign_in(&mut self, email: &str) -> Page {
        self.get("/account/sign-in").await;
        let mut page =
            self.post("/account/sign-in", &[("email", email), ("password", PASSWORD)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{email} signs in: {}", page.body);
        if page.location() == "/account/sign-in/code" {
            // Their role requires a second factor: the code step.
            self.get("/account/sign-in/code").await;
            let code = self.site.fresh_code(email, TEST_SECRET);
            page = self.post("/account/sign-in/code", &[("code", &code)]).await;
            assert_eq!(page.location(), "/logs", "{email} passes the code step: {}", page.body);
        }
        self.get("/logs").await;
        page
    }

    pub(crate) fn has_session(&self) -> bool {
        self.cookies.contains_key("tenure_session")
    }
}

pub(crate) const ADA: &str = "ada@example.com";
pub(crate) const CORA: &str = "cora@example.com";
const PETE: &str = "pete@example.com";
pub(crate) const CAT: &str = "cat@example.com";

pub(crate) fn id(n: u128) -> String {
    user(n).to_string()
}
pub(crate) fn org(n: u128) -> String {
    Uuid::from_u128(n).to_string()
}

#[tokio::test]
async fn every_page_sends_the_security_headers() {
    let site = site().await;
    let mut c = Client::new(&site);
    for path in ["/", "/account/sign-in", "/nope", "/assets/govuk-frontend.min.css"] {
        let page = c.get(path).await;
        let h = &page.headers;
        let csp = h.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(h.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
        assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
        assert_eq!(h.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
    }
    let page = c.get("/account/sign-in").await;
    assert!(!page.body.contains("<script"), "no JavaScript at all");
    assert_eq!(page.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
}

#[tokio::test]
async fn signed_out_visitors_see_only_the_account_pages() {
    let site = site().await;
    let mut c = Client::new(&site);
    for path in [
        "/logs",
        "/account",
        "/account/details",
        "/account/password",
        "/users",
        "/users/download",
        "/users/invite",
        &format!("/users/{}", id(4)),
        &format!("/users/{}/edit", id(4)),
        &format!("/users/{}/deactivate", id(4)),
        "/organisations",
        "/organisation",
        &format!("/organisations/{}", org(1)),
        &format!("/organisations/{}/edit", org(1)),
        &format!("/organisations/{}/relationships", org(1)),
        "/audit",
        "/logs/00000000-0000-0000-0000-0000000001f6",
    ] {
        let page = c.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), "/account/sign-in", "{path}");
    }
    for path in [
        "/account/sign-in",
        "/account/reset-password",
        "/account/check-email",
        "/account/link-expired",
        "/account/confirm-email?token=x",
    ] {
        assert_eq!(c.get(path).await.status, StatusCode::OK, "{path}");
    }
    let page = c.get("/nowhere").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Page not found"));
    // Links that do not work go to the page that says what to do.
    assert_eq!(c.get("/account/create?token=bogus").await.location(), "/account/link-expired");
    assert_eq!(
        c.get("/account/reset-password?token=bogus").await.location(),
        "/account/link-expired"
    );
}

#[tokio::test]
async fn a_post_without_the_csrf_token_changes_nothing() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.get("/account/sign-in").await;
    // Missing, wrong, and a cookie-less request.
    for fields in [
        vec![("email", CORA), ("password", PASSWORD)],
        vec![("csrf", "forged"), ("email", CORA), ("password", PASSWORD)],
    ] {
        let page = c.post_raw("/account/sign-in", &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(page.body.contains("This page has expired"));
        assert!(!c.has_session());
    }
    let mut fresh = Client::new(&site);
    let page = fresh
        .post_raw("/account/sign-in", &[("csrf", &c.csrf), ("email", CORA), ("password", PASSWORD)])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "a token without its cookie is refused");

    // Signed in: a state-changing POST without the session's token is refused.
    c.sign_in(CORA).await;
    let pete = format!("/users/{}/deactivate", id(4));
    let page = c.post_raw(&pete, &[("version", "1")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = c.post_raw(&pete, &[("csrf", "token-1"), ("version", "1")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "the anonymous token is not the session's");
    assert!(!c.get(&format!("/users/{}", id(4))).await.body.contains("Deactivated"));
    let page = c.post_raw("/account/sign-out", &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "even signing out needs the token");
}

#[tokio::test]
async fn signing_in_gives_the_same_answer_for_unknown_email_and_wrong_password() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.get("/account/sign-in").await;
    let wrong =
        c.post("/account/sign-in", &[("email", CORA), ("password", "not the password")]).await;
    let unknown =
        c.post("/account/sign-in", &[("email", "nobody@example.com"), ("password", "x")]).await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert_eq!(unknown.status, StatusCode::OK);
    let strip = |p: &Page| {
        p.body
            .replace("nobody@example.com", "EMAIL")
            .replace(CORA, "EMAIL")
            .split("name=\"csrf\"")
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(strip(&wrong), strip(&unknown));
    assert!(wrong.body.contains("Enter a correct email address and password"));
    assert!(wrong.body.contains("<title>Error: Sign in"));
    assert!(wrong.body.contains("value=\"cora@example.com\""), "what was typed is kept");
    assert!(!wrong.body.contains("not the password"), "passwords are never echoed");
    assert!(!c.has_session());

    let page = c.post("/account/sign-in", &[("email", CORA), ("password", PASSWORD)]).await;
    assert_eq!(page.location(), "/logs");
    let cookie = page
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("tenure_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure")
    );
}

#[tokio::test]
async fn cookies_are_secure_outside_localhost() {
    let site = site_with(world(), WebConfig::new("https://tenure.example")).await;
    let mut c = Client::new(&site);
    let page = c.get("/account/sign-in").await;
    let cookie = page.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn the_header_shows_each_role_its_links() {
    let site = site().await;
    for (email, admin, organisation) in
        [(ADA, true, true), (CORA, false, true), (PETE, false, false)]
    {
        let mut c = Client::new(&site);
        c.sign_in(email).await;
        let body = c.get("/account").await.body;
        // The current page's item, in the Design System's fallback for forced colours.
        assert!(body.contains(">Your account</strong></a>"), "{email}");
        // Everyone who may view some organisation's users: administrators, coordinators
        // (theirs and their managing agents') and providers (their organisation's).
        assert!(body.contains(">Users</a>"), "{email}");
        assert_eq!(body.contains(">Organisations</a>"), admin, "{email}");
        assert_eq!(body.contains(">Audit trail</a>"), admin, "{email}");
        assert_eq!(body.contains(">Your organisation</a>"), organisation, "{email}");
    }
}

/// (path, anonymous-or-role expectations): provider, coordinator, administrator.
#[tokio::test]
async fn every_page_answers_each_role_as_the_rules_say() {
    let site = site().await;
    let ok = StatusCode::OK;
    let nf = StatusCode::NOT_FOUND;
    let forbidden = StatusCode::FORBIDDEN;
    let pete = id(4);
    let cat = id(6);
    let bea = id(5);
    let table: Vec<(String, [StatusCode; 3])> = vec![
        ("/logs".into(), [ok, ok, ok]),
        ("/account".into(), [ok, ok, ok]),
        ("/account/details".into(), [ok, ok, ok]),
        ("/account/password".into(), [ok, ok, ok]),
        ("/users".into(), [ok, ok, ok]),
        ("/users/download".into(), [nf, nf, ok]),
        // Attack 5 of issue 11: a data provider invites nobody, so the form is not there.
        ("/users/invite".into(), [nf, ok, ok]),
        (format!("/users/{pete}"), [ok, ok, ok]),
        (format!("/users/{bea}"), [nf, ok, ok]),
        (format!("/users/{cat}"), [nf, nf, ok]),
        (format!("/users/{cat}/edit"), [nf, nf, ok]),
        (format!("/users/{cat}/deactivate"), [nf, nf, ok]),
        (format!("/users/{pete}/deactivate"), [ok, ok, ok]),
        (format!("/users/{pete}/move"), [forbidden, forbidden, ok]),
        ("/users/not-a-uuid".into(), [nf, nf, nf]),
        ("/organisations".into(), [ok, ok, ok]),
        (format!("/organisations/{}", org(1)), [ok, ok, ok]),
        (format!("/organisations/{}", org(2)), [ok, ok, ok]),
        (format!("/organisations/{}", org(3)), [nf, nf, ok]),
        (format!("/organisations/{}/edit", org(1)), [forbidden, ok, ok]),
        (format!("/organisations/{}/edit", org(3)), [nf, nf, ok]),
        (format!("/organisations/{}/relationships", org(1)), [forbidden, ok, ok]),
        (format!("/organisations/{}/merge", org(3)), [nf, nf, ok]),
        (format!("/organisations/{}/deactivate", org(3)), [nf, nf, ok]),
        ("/organisations/new".into(), [nf, nf, ok]),
        ("/audit".into(), [nf, nf, ok]),
        ("/logs/00000000-0000-0000-0000-0000000001f6".into(), [ok, ok, ok]),
        ("/logs/00000000-0000-0000-0000-0000000001f5".into(), [nf, nf, ok]),
        // Corterum's pages: CORE roles hold no feature permission and reach no entity.
        ("/administration".into(), [nf, nf, nf]),
        ("/administration/entities".into(), [nf, nf, nf]),
        ("/administration/entities/new".into(), [nf, nf, nf]),
        ("/administration/groups".into(), [nf, nf, nf]),
        ("/administration/roles".into(), [nf, nf, nf]),
        ("/administration/users".into(), [nf, nf, nf]),
        ("/administration/users/new".into(), [nf, nf, nf]),
        ("/records".into(), [nf, nf, nf]),
        (format!("/records/{}", org(1)), [nf, nf, nf]),
        (format!("/records/{}/training_record", org(1)), [nf, nf, nf]),
    ];
    for (i, email) in [PETE, CORA, ADA].into_iter().enumerate() {
        let mut c = Client::new(&site);
        c.sign_in(email).await;
        for (path, expected) in &table {
            let page = c.get(path).await;
            assert_eq!(page.status, expected[i], "{email} GET {path}");
            if page.status == nf {
                assert!(page.body.contains("Page not found"), "{email} GET {path}");
            }
        }
    }
}

#[tokio::test]
async fn a_coordinator_invites_in_three_steps_with_only_the_choices_they_may_give() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(CORA).await;
    c.get("/users/invite").await;
    // Bad input: the errors, with what was typed kept.
    let page = c.post("/users/invite", &[("name", ""), ("email", "nope"), ("telephone", "")]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("There is a problem"));
    assert!(page.body.contains("href=\"#name\"") && page.body.contains("href=\"#email\""));
    assert!(page.body.contains("value=\"nope\""));
    // Step 2: own organisation and its managing agent, nothing else.
    let page = c
        .post(
            "/users/invite",
            &[("name", "Nina Newcomer"), ("email", "nina@example.com"), ("telephone", "")],
        )
        .await;
    assert!(page.body.contains(">Alpha<") && page.body.contains(">Beta<"), "{}", page.body);
    assert!(!page.body.contains(">Gamma<"));
    let fields = [("name", "Nina Newcomer"), ("email", "nina@example.com"), ("telephone", "")];
    let mut step3: Vec<(&str, &str)> = fields.to_vec();
    let beta = org(2);
    step3.push(("organisation", &beta));
    let page = c.post("/users/invite/organisation", &step3).await;
    assert!(
        page.body.contains("value=\"data_provider\"")
            && page.body.contains("value=\"data_coordinator\"")
    );
    assert!(!page.body.contains("value=\"administrator\""), "no role above her own");
    // Without a role: the error.
    let page = c.post("/users/invite/role", &step3).await;
    assert!(
        page.body.contains("Select the user&#39;s role")
            || page.body.contains("Select the user's role"),
        "{}",
        page.body
    );
    // A forged administrator role is refused by the engine.
    let mut forged = step3.clone();
    forged.push(("role", "administrator"));
    let page = c.post("/users/invite/role", &forged).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let mut good = step3.clone();
    good.push(("role", "data_provider"));
    let page = c.post("/users/invite/role", &good).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().ends_with("?done=invited"));
    let profile = c.get(page.location()).await;
    assert!(
        profile.body.contains("The invitation has been sent.") && profile.body.contains("Invited")
    );
    let mail = site.mailer.sent().pop().unwrap();
    assert_eq!(mail.to.as_str(), "nina@example.com");

    // Nina creates her account from the link and signs in.
    let token = site.mailer.last_token_for("nina@example.com").unwrap();
    let mut nina = Client::new(&site);
    let page = nina.get(&format!("/account/create?token={token}")).await;
    assert!(page.body.contains("Nina Newcomer, you have been invited to join Beta"));
    let page = nina
        .post("/account/create", &[("token", &token), ("password", "short"), ("confirm", "short")])
        .await;
    assert!(page.body.contains("at least 15 characters"), "{}", page.body);
    let page = nina
        .post(
            "/account/create",
            &[("token", &token), ("password", "a b c d e f g h"), ("confirm", "different")],
        )
        .await;
    assert!(page.body.contains("The passwords do not match"));
    let page = nina
        .post(
            "/account/create",
            &[
                ("token", &token),
                ("password", "walnut orbit candle 9"),
                ("confirm", "walnut orbit candle 9"),
            ],
        )
        .await;
    assert_eq!(page.location(), "/account/sign-in?done=created");
    nina.get("/account/sign-in").await;
    let page = nina
        .post(
            "/account/sign-in",
            &[("email", "nina@example.com"), ("password", "walnut orbit candle 9")],
        )
        .await;
    assert_eq!(page.location(), "/logs");
}

#[tokio::test]
async fn deactivating_ends_sessions_and_a_stale_form_is_a_conflict() {
    let site = site().await;
    let mut pete = Client::new(&site);
    pete.sign_in(PETE).await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let path = format!("/users/{}/deactivate", id(4));
    let page = cora.get(&path).await;
    assert!(page.body.contains("Are you sure you want to deactivate pete?"));
    let page = cora.post(&path, &[("version", "1")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    // Pete's cookie stops working at once.
    let page = pete.get("/account").await;
    assert_eq!(page.location(), "/account/sign-in");
    // A second tab with the old version: 409.
    let page = cora.post(&format!("/users/{}/reactivate", id(4)), &[("version", "1")]).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("Someone else changed this"));
    // The last coordinator of Beta: refused with the reason.
    let page = cora.post(&format!("/users/{}/deactivate", id(5)), &[("version", "1")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("must keep at least one active"), "{}", page.body);
}

#[tokio::test]
async fn reset_requests_look_the_same_whatever_was_typed_and_links_work_once() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.get("/account/reset-password").await;
    let mut answers = Vec::new();
    for email in ["nobody@example.com", PETE] {
        let page = c.post("/account/reset-password", &[("email", email)]).await;
        answers.push((page.status, page.location().to_owned()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].1, "/account/check-email");
    // The email goes out in the background.
    let mut token = None;
    for _ in 0..100 {
        token = site.mailer.last_token_for(PETE);
        if token.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let token = token.expect("a reset email for the real account");
    assert!(site.mailer.sent().iter().all(|m| m.to.as_str() != "nobody@example.com"));
    let mut signed = Client::new(&site);
    signed.sign_in(PETE).await;
    let page = c.get(&format!("/account/reset-password?token={token}")).await;
    assert!(page.body.contains("Reset your password"));
    let fields = [
        ("token", token.as_str()),
        ("password", "maple stone river 7"),
        ("confirm", "maple stone river 7"),
    ];
    let page = c.post("/account/reset-password/new", &fields).await;
    assert_eq!(page.location(), "/account/sign-in?done=reset");
    let page = c.get(page.location()).await;
    assert!(page.body.contains("Your password has been reset"));
    assert_eq!(
        signed.get("/account").await.location(),
        "/account/sign-in",
        "a reset ends every session"
    );
    let page = c.post("/account/reset-password/new", &fields).await;
    assert_eq!(page.location(), "/account/link-expired", "single use");
    // Three hours later, a fresh link no longer works.
    c.post("/account/reset-password", &[("email", PETE)]).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let late = site.mailer.last_token_for(PETE).unwrap();
    assert_ne!(late, token);
    site.clock.advance(3 * 60 * 60 * 1000);
    assert_eq!(
        c.get(&format!("/account/reset-password?token={late}")).await.location(),
        "/account/link-expired"
    );
}

#[tokio::test]
async fn sign_in_is_limited_per_address() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.get("/account/sign-in").await;
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(
            c.post("/account/sign-in", &[("email", CAT), ("password", "wrong")]).await.status,
        );
    }
    assert!(statuses[..10].iter().all(|s| *s == StatusCode::OK));
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn signing_out_ends_the_session_and_password_changes_end_the_others() {
    let site = site().await;
    let mut a = Client::new(&site);
    a.sign_in(PETE).await;
    let mut b = Client::new(&site);
    b.sign_in(PETE).await;
    a.get("/account/password").await;
    let page = a
        .post("/account/password", &[("current", "wrong"), ("password", "x"), ("confirm", "x")])
        .await;
    assert!(page.body.contains("Your current password is incorrect"));
    let page = a
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
    assert_eq!(a.get("/account").await.status, StatusCode::OK, "this session stays");
    assert_eq!(b.get("/account").await.location(), "/account/sign-in", "the others end");
    let old = a.cookies.clone();
    a.get("/account").await;
    let page = a.post("/account/sign-out", &[]).await;
    assert_eq!(page.location(), "/account/sign-in?done=signed-out");
    assert!(!a.has_session());
    a.cookies = old;
    assert_eq!(a.get("/account").await.location(), "/account/sign-in", "the old cookie is dead");
}

#[tokio::test]
async fn an_administrator_edits_and_deactivates_an_organisation() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(ADA).await;
    let gamma = org(3);
    c.get(&format!("/organisations/{gamma}/edit")).await;
    let page = c
        .post(
            &format!("/organisations/{gamma}/edit"),
            &[("version", "1"), ("name", ""), ("all", "1")],
        )
        .await;
    assert!(page.body.contains("There is a problem"));
    let page = c
        .post(
            &format!("/organisations/{gamma}/edit"),
            &[
                ("version", "1"),
                ("name", "Gamma Housing"),
                ("address", "2 Low Road"),
                ("telephone", ""),
                ("all", "1"),
                ("provider_type", "local_authority"),
                ("holds_stock", "yes"),
            ],
        )
        .await;
    assert_eq!(page.location(), format!("/organisations/{gamma}?done=updated"));
    let page = c.get(page.location()).await;
    assert!(page.body.contains("Gamma Housing") && page.body.contains("Local authority"));
    c.get(&format!("/organisations/{gamma}/deactivate")).await;
    let page = c.post(&format!("/organisations/{gamma}/deactivate"), &[("version", "2")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    // Cat can no longer sign in.
    let mut cat = Client::new(&site);
    cat.get("/account/sign-in").await;
    let page = cat.post("/account/sign-in", &[("email", CAT), ("password", PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Enter a correct email address and password"));
    // The audit trail shows it.
    let page = c.get("/audit?event=organisation_deactivated").await;
    assert!(page.body.contains("organisation_deactivated") && page.body.contains("Gamma Housing"));
    let page = c.get("/users/download").await;
    assert_eq!(page.headers.get(header::CONTENT_TYPE).unwrap(), "text/csv; charset=utf-8");
    assert!(page.body.starts_with(
        "name,email,telephone,organisation,role,status,id,data_protection_officer,key_contact\r\n"
    ));
    assert!(page.body.contains("\r\ncat,cat@example.com,"), "{}", page.body);
}
