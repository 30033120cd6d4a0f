//! The request log, read from a test subscriber: a 500 logs its cause under the request id
//! its page shows; tokens in query strings, passwords and cookies never reach the log; a
//! signed-in request's line names the user; a caller's request id is kept only if plain.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tracing::subscriber::DefaultGuard;

use crate::{CORA, Client, PASSWORD, Page, id, site};

/// The log lines written while the guard lives (this thread's requests only); the
/// backend-error tests read theirs through it too.
pub(crate) struct Captured {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: DefaultGuard,
}

/// A writer into the shared buffer.
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The service's human format, into a buffer.
    pub(crate) fn start() -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Sink(sink.clone()))
            .with_max_level(tracing::Level::INFO)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        Self { buffer, _guard: guard }
    }

    fn text(&self) -> String {
        String::from_utf8(self.buffer.lock().unwrap().clone()).unwrap()
    }

    /// The error lines logged under this request id.
    pub(crate) fn errors_of(&self, request_id: &str) -> Vec<String> {
        let needle = format!("request_id={request_id}");
        self.text()
            .lines()
            .filter(|l| l.contains("ERROR") && l.contains(&needle))
            .map(str::to_owned)
            .collect()
    }

    /// The lines that carry this request id.
    fn lines_of(&self, request_id: &str) -> Vec<String> {
        let needle = format!("request_id={request_id}");
        self.text()
            .lines()
            .filter(|l| l.split([' ', '}']).any(|w| w == needle))
            .map(str::to_owned)
            .collect()
    }
}

/// A `GET` with extra headers.
async fn get_with(c: &mut Client<'_>, path: &str, headers: &[(&str, &str)]) -> Page {
    let mut request = Request::get(path).header(header::COOKIE, c.cookie_header());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    c.send(request.body(Body::empty()).unwrap()).await
}

fn request_id(page: &Page) -> String {
    page.headers
        .get("x-request-id")
        .expect("every response has a request id")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_500_logs_its_cause_under_the_request_id_its_page_shows() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.get("/account/sign-in").await;
    // Break the real store: a panic while it holds its lock poisons it, and every read
    // after that fails with a backend error.
    let poison = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        site.store.update(|_| panic!("the test breaks the store"))
    }));
    assert!(poison.is_err());
    let log = Captured::start();
    let page = c.post("/account/sign-in", &[("email", CORA), ("password", PASSWORD)]).await;

    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", page.body);
    assert!(page.body.contains("Sorry, there is a problem with the service"));
    assert!(!page.body.contains("poisoned"), "the cause is not shown");
    let shown = page
        .body
        .split("Quote this reference if you contact support: ")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the page shows a reference")
        .to_owned();
    assert_eq!(shown, request_id(&page), "the page shows the response's request id");

    let lines = log.lines_of(&shown);
    let cause = lines
        .iter()
        .find(|l| l.contains("backend failure"))
        .unwrap_or_else(|| panic!("the cause is logged under {shown}: {}", log.text()));
    assert!(cause.contains("ERROR"), "{cause}");
    assert!(cause.contains("the in-memory directory lock is poisoned"), "{cause}");
    let answered = lines.iter().find(|l| l.contains("answered")).expect("the request line");
    assert!(answered.contains("ERROR") && answered.contains("status=500"), "{answered}");
    assert!(answered.contains("method=POST") && answered.contains("route=/account/sign-in"));
    assert!(!log.text().contains(PASSWORD), "no password in the log");
}

#[tokio::test]
async fn tokens_in_query_strings_never_reach_the_log() {
    let site = site().await;
    let mut c = Client::new(&site);
    let log = Captured::start();
    let page = c.get("/account/reset-password?token=SECRET").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let text = log.text();
    let lines = log.lines_of(&request_id(&page));
    assert_eq!(lines.len(), 1, "one line per request: {text}");
    assert!(lines[0].contains("route=/account/reset-password"), "{text}");
    assert!(lines[0].contains("status=303"), "{text}");
    assert!(!text.contains("SECRET") && !text.contains("token=") && !text.contains('?'), "{text}");
}

#[tokio::test]
async fn a_signed_in_request_names_its_user_and_never_its_cookie() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(CORA).await;
    let log = Captured::start();
    let page = c.get(&format!("/users/{}", id(2))).await;
    assert_eq!(page.status, StatusCode::OK);
    let lines = log.lines_of(&request_id(&page));
    assert_eq!(lines.len(), 1, "{}", log.text());
    let line = &lines[0];
    assert!(line.contains(&format!("user={}", id(2))), "Cora's id: {line}");
    assert!(line.contains("route=/users/{id}"), "the route, not the path: {line}");
    assert!(line.contains("INFO") && line.contains("status=200") && line.contains("latency_ms="));
    let session = c.cookies.get("tenure_session").cloned().expect("signed in");
    assert!(!log.text().contains(&session), "no session token in the log");
    assert!(!log.text().contains(&c.csrf), "no CSRF token in the log");
}

#[tokio::test]
async fn a_callers_request_id_is_kept_only_if_short_and_plain() {
    // From a trusted proxy (router tests' requests come from loopback).
    let mut config = tenure_web::WebConfig::new("http://127.0.0.1:3000");
    config.trusted_proxies = tenure_web::TrustedProxies::parse(["127.0.0.1/32"]).unwrap();
    let site = crate::site_with(tenure_testkit::contract::manage::world(), config).await;
    let mut c = Client::new(&site);
    let log = Captured::start();
    let kept = get_with(&mut c, "/account/sign-in", &[("x-request-id", "lb-7f3a.42_x")]).await;
    assert_eq!(request_id(&kept), "lb-7f3a.42_x");
    for bad in ["", "a b", "<script>", "id%0a", &"x".repeat(65)] {
        let page = get_with(&mut c, "/account/sign-in", &[("x-request-id", bad)]).await;
        let given = request_id(&page);
        assert!(given != bad && !given.is_empty(), "`{bad}` is replaced");
        assert_eq!(log.lines_of(&given).len(), 1, "{}", log.text());
    }
    assert!(!log.text().contains("<script>"));
}

#[tokio::test]
async fn a_request_id_from_anyone_but_a_trusted_proxy_is_replaced() {
    let site = site().await;
    let mut c = Client::new(&site);
    let page = get_with(&mut c, "/account/sign-in", &[("x-request-id", "lb-7f3a.42_x")]).await;
    let given = request_id(&page);
    assert!(given != "lb-7f3a.42_x" && !given.is_empty(), "replaced: {given}");
}
