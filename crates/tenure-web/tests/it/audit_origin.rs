//! Audit entries carry where their request came from, over real HTTP: the app served on a
//! port, the SQL store (SQLite) wrapped in `WithOrigin` as the CLI wires it, and a client
//! sending its own `User-Agent`, `X-Request-Id` and `X-Forwarded-For`. Each entry read
//! back from the store has the request id the response returned, the client's address as
//! the app resolves it (behind a trusted proxy, the address the proxy vouches for; else
//! the peer's, whatever the headers say) and the user agent, cleaned and cut short.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tenure_core::{
    AccountStore as _, AuditEvent, AuditName, ChangeStore as _, Origin, Policies, Ports,
};
use tenure_store_seaorm::SeaOrmStore;
use tenure_testkit::contract::manage::world;
use tenure_testkit::fakes::{
    CountingHasher, FixedClock, MemoryMailer, SequentialIds, SequentialSecrets,
};
use tenure_web::{Services, TrustedProxies, WebConfig, WithOrigin};

use crate::{PASSWORD, user};

const CORA: &str = "cora@example.com";

/// The app on a port of its own over SQLite, every audit-writing store wrapped.
struct Served {
    base: String,
    store: Arc<SeaOrmStore>,
}

async fn serve(trusted_proxies: TrustedProxies) -> Served {
    let world = world();
    let store = Arc::new(SeaOrmStore::open("sqlite::memory:").await.unwrap());
    store.import(&world).await.unwrap();
    let hasher = Arc::new(CountingHasher::with_cost(1));
    let ids: Vec<_> = world.users().map(|u| u.id).collect();
    crate::give_everyone_the_password(&*store, &ids, &hasher).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stamped = Arc::new(WithOrigin::new(store.clone()));
    let clock = Arc::new(FixedClock::at(1_800_000_000_000));
    let mailer = Arc::new(MemoryMailer::default());
    let secrets = Arc::new(SequentialSecrets::default());
    let ids = Arc::new(SequentialIds::default());
    let ports = Ports {
        directory: store.clone(),
        changes: stamped.clone(),
        accounts: stamped.clone(),
        sessions: stamped.clone(),
        limits: store.clone(),
        second_factors: stamped,
        vault: Arc::new(tenure_secrets_os::KeyVault::from_key(&[7; 32])),
        corterum: store.clone(),
        hasher,
        secrets,
        mail_queue: store.clone(),
        mailer,
        clock,
        ids,
    };
    let services = Services::wire(ports, Policies::at(&base)).await.unwrap();
    let mut config = WebConfig::new(&base);
    config.trusted_proxies = trusted_proxies;
    let router = tenure_web::router(services, config);
    tokio::spawn(async move { tenure_web::serve(listener, router).await });
    Served { base, store }
}

/// A client over real HTTP that keeps cookies and the last form's CSRF token and sends
/// these headers with every request.
struct Visitor {
    http: HttpClient<HttpConnector, Body>,
    base: String,
    cookies: HashMap<String, String>,
    csrf: String,
    headers: HeaderMap,
}

/// A response: its status, the request id it returned, its `Location`.
struct Answer {
    status: StatusCode,
    request_id: String,
    location: String,
}

impl Visitor {
    fn new(base: &str, headers: &[(&str, &str)]) -> Self {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                header::HeaderValue::from_str(value).unwrap(),
            );
        }
        Self {
            http: HttpClient::builder(TokioExecutor::new()).build_http(),
            base: base.to_owned(),
            cookies: HashMap::new(),
            csrf: String::new(),
            headers: map,
        }
    }

    async fn send(&mut self, request: axum::http::request::Builder, body: Body) -> Answer {
        let mut request = request.body(body).unwrap();
        request.headers_mut().extend(self.headers.clone());
        let cookies: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !cookies.is_empty() {
            request.headers_mut().insert(header::COOKIE, cookies.join("; ").parse().unwrap());
        }
        let response = self.http.request(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes =
            axum::body::to_bytes(Body::new(response.into_body()), 10_000_000).await.unwrap();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        if let Some(at) = body.find("name=\"csrf\" value=\"") {
            let rest = &body[at + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_owned();
        }
        let text = |name: &str| {
            headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
        };
        Answer { status, request_id: text("x-request-id"), location: text("location") }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let request = Request::get(format!("{}{path}", self.base));
        self.send(request, Body::empty()).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let csrf = self.csrf.clone();
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &csrf)
            .extend_pairs(fields)
            .finish();
        let request = Request::post(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(request, Body::from(body)).await
    }

    /// Sends one request with this header set (or replaced) for it alone.
    async fn post_with(
        &mut self,
        extra: (&'static str, &str),
        path: &str,
        fields: &[(&str, &str)],
    ) -> Answer {
        let saved = self.headers.clone();
        self.headers.insert(extra.0, extra.1.parse().unwrap());
        let answer = self.post(path, fields).await;
        self.headers = saved;
        answer
    }
}

/// Cora's entries with this name, oldest first.
async fn entries(served: &Served, name: AuditName) -> Vec<AuditEvent> {
    let mut all = served.store.audit_for_user(user(2)).await.unwrap();
    all.retain(|e| e.name == name);
    all.sort_by_key(|e| (e.at, e.id));
    all
}

fn origin(request_id: &str, ip: &str, user_agent: Option<&str>) -> Option<Origin> {
    Some(Origin {
        request_id: request_id.to_owned(),
        client_ip: ip.parse::<IpAddr>().unwrap(),
        user_agent: user_agent.map(str::to_owned),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_carry_the_request_id_client_address_and_user_agent() {
    // Behind a trusted proxy on loopback: the client is the address it forwards for.
    let served = serve(TrustedProxies::parse(["127.0.0.1/32"]).unwrap()).await;
    let long = format!("Mozilla/5.0 (X11; Linux x86_64)\tTest/1.0 {}", "a".repeat(400));
    let mut cora = Visitor::new(
        &served.base,
        &[("user-agent", long.as_str()), ("x-forwarded-for", "192.0.2.1, 198.51.100.7")],
    );
    cora.get("/account/sign-in").await;

    // A failed sign-in (the account store), with the caller's own plain request id.
    let answer = cora
        .post_with(
            ("x-request-id", "client-chosen.1"),
            "/account/sign-in",
            &[("email", CORA), ("password", "not the password")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.request_id, "client-chosen.1", "a plain request id is kept");
    // The tab is gone and the agent is cut to 256 characters.
    let kept = format!("Mozilla/5.0 (X11; Linux x86_64)Test/1.0 {}", "a".repeat(216));
    assert_eq!(kept.chars().count(), 256);
    let expected = origin("client-chosen.1", "198.51.100.7", Some(&kept));
    let failed = entries(&served, AuditName::LoginFail).await;
    assert_eq!(failed.last().map(|e| &e.origin), Some(&expected), "{failed:?}");

    // A sign-in (the account store and the session store); a request id that is not
    // plain is replaced, and the entry carries the one the response returns.
    let answer = cora
        .post_with(
            ("x-request-id", "not plain!"),
            "/account/sign-in",
            &[("email", CORA), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(!answer.request_id.is_empty() && answer.request_id != "not plain!");
    let expected = origin(&answer.request_id, "198.51.100.7", Some(&kept));
    for name in [AuditName::LoginSuccess, AuditName::SessionCreate] {
        let found = entries(&served, name).await;
        assert_eq!(found.last().map(|e| &e.origin), Some(&expected), "{name:?}: {found:?}");
    }

    // A change (the change store): Cora renames herself.
    cora.get("/account/details").await;
    let version = served.store.user(user(2)).await.unwrap().unwrap().version.to_string();
    let answer = cora
        .post_with(
            ("user-agent", "Plain/2.0"),
            "/account/details",
            &[("version", &version), ("name", "Cora Renamed"), ("email", CORA), ("telephone", "")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.location);
    let found = entries(&served, AuditName::UserUpdate).await;
    assert_eq!(
        found.last().map(|e| &e.origin),
        Some(&origin(&answer.request_id, "198.51.100.7", Some("Plain/2.0"))),
        "{found:?}"
    );

    // Signing out everywhere (the session store), with no user agent at all.
    cora.headers.remove(header::USER_AGENT);
    let answer = cora.post("/account/sign-out-everywhere", &[]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let found = entries(&served, AuditName::SessionRevoke).await;
    assert_eq!(
        found.last().map(|e| &e.origin),
        Some(&origin(&answer.request_id, "198.51.100.7", None)),
        "{found:?}"
    );

    // Entries written outside a request (the passwords set up front) have no origin.
    let set = entries(&served, AuditName::PasswordChange).await;
    assert!(!set.is_empty() && set.iter().all(|e| e.origin.is_none()), "{set:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trusted_proxies_the_address_is_the_peers() {
    let served = serve(TrustedProxies::default()).await;
    let mut cora =
        Visitor::new(&served.base, &[("user-agent", "Probe"), ("x-forwarded-for", "203.0.113.9")]);
    cora.get("/account/sign-in").await;
    let answer = cora.post("/account/sign-in", &[("email", CORA), ("password", PASSWORD)]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let found = entries(&served, AuditName::LoginSuccess).await;
    assert_eq!(
        found.last().map(|e| &e.origin),
        Some(&origin(&answer.request_id, "127.0.0.1", Some("Probe"))),
        "a forwarded address from an untrusted peer is ignored: {found:?}"
    );
}

/// Regression: a caller's own `X-Request-Id` reached the audit trail's origin from
/// anyone. Now only a trusted proxy's is kept; anyone else's is replaced by a new id,
/// and the entry carries the id the response returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_from_an_untrusted_peer_never_reaches_the_audit_trail() {
    let served = serve(TrustedProxies::default()).await;
    let mut cora = Visitor::new(&served.base, &[("user-agent", "Plain/1.0")]);
    cora.get("/account/sign-in").await;
    let answer = cora
        .post_with(
            ("x-request-id", "forged.1"),
            "/account/sign-in",
            &[("email", CORA), ("password", "not the password")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(!answer.request_id.is_empty() && answer.request_id != "forged.1");
    let failed = entries(&served, AuditName::LoginFail).await;
    let expected = origin(&answer.request_id, "127.0.0.1", Some("Plain/1.0"));
    assert_eq!(failed.last().map(|e| &e.origin), Some(&expected), "{failed:?}");
}
