//! Route fuzzing (issue 16). Every entry of `tenure_web::routes::ALL` is requested as each
//! demo role (the administrator ada, the data coordinator cora and the data provider pete
//! in the demo world; the root administrator in Corterum's world) and signed out, with
//! path segments, query strings and form fields that proptest builds from hostile pieces:
//! empty and 10,000-character values, NUL and every C0 and C1 control character,
//! text-direction overrides, percent-escapes that are not UTF-8 (`%FF%FE`), SQL and FTS5
//! syntax, repeated and unknown keys, numbers out of range, malformed ids and real ones,
//! and forms sent with the wrong content type; each route also gets one method it is not
//! listed with (GET for POST and back, PUT, DELETE, PATCH, OPTIONS). Every form carries
//! the CSRF token of the role's session (or the anonymous one), taken from a page, so it
//! reaches the handler rather than the CSRF refusal.
//!
//! Every answer must be the service's own: no 5xx and no panic; an HTML page of the
//! service (or a redirect, a stylesheet, the users' CSV), never a framework's plain text
//! or empty body; no control or text-direction character anywhere in the page (issue 16,
//! finding 3); and a refused request other than a `GET` (4xx) changes nothing in the
//! store's world and sends no mail. (The audit trail is left out of the comparison: a
//! refusal the engine decides is audited by design.)
//!
//! Each case is one set of hostile inputs sent to every route as every role (about 600
//! requests). CI runs [`DEFAULT_CASES`]; `PROPTEST_CASES` scales up, and `cargo xtask
//! fuzz` runs a long one. The three findings are regression tests below, named
//! after them.

use std::sync::Arc;

use axum::http::{Method as HttpMethod, StatusCode, header};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tenure_core::{Policies, Ports};
use tenure_domain::name::is_forbidden_in_text;
use tenure_store_seaorm::SeaOrmStore;
use tenure_testkit::contract::manage::world;
use tenure_testkit::fakes::{
    CountingHasher, FixedClock, MemoryMailer, SequentialIds, SequentialSecrets,
};
use tenure_web::routes::{ALL, Access, Method, Route};
use tenure_web::{RateLimits, Services, WebConfig};
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::routes::{ASSET, DATASET, candidates, ends_session, id_kind, roomy_site, world_of};
use crate::{ADA, CORA, Client, PASSWORD, Page, Site, site_with};

/// Cases in CI (about 30,000 requests, some 12 seconds in debug).
const DEFAULT_CASES: u32 = 48;
const PETE: &str = "pete@example.com";
const ROOT: &str = "root@example.com";
const URLENCODED: &str = "application/x-www-form-urlencoded";

/// Text that has broken parsers before, or could: SQL and FTS5 syntax, numbers out of
/// range, malformed ids, values the forms know.
const NASTY: &[&str] = &[
    "\"",
    "*",
    "NEAR(",
    "NEAR(a b, 2)",
    "' OR 1=1 --",
    "'); DROP TABLE users;--",
    "a\" OR \"b",
    "ab*",
    "^ab",
    "name:ab",
    "-1",
    "0",
    "x",
    "99999999999999999999",
    "18446744073709551615",
    "9223372036854775808",
    "-9223372036854775809",
    "1e9",
    " 3 ",
    "NaN",
    "00000000-0000-0000-0000-000000000000",
    "00000000-0000-0000-0000-00000000000g",
    "{00000000-0000-0000-0000-000000000001}",
    "not-an-id",
    "nobody@example.com",
    "a@x.com,b@y.com",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "on",
    "person",
    "add-managing-agent",
    "data_provider",
    "training_record",
];

/// Percent-escapes and separators sent as they are: not UTF-8, overlong, a surrogate,
/// cut short, not hexadecimal, and the pair separators themselves.
const RAW: &[&str] = &[
    "%FF%FE",
    "%C0%80",
    "%ED%A0%80",
    "%",
    "%zz",
    "%0",
    "%00",
    "%E2%80%AE",
    "%C2%85",
    "+",
    "&",
    "=",
    "==",
];

/// The fields the service's forms and queries name.
const FIELDS: &[&str] = &[
    "name",
    "email",
    "telephone",
    "version",
    "organisation",
    "search",
    "role",
    "password",
    "current",
    "confirm",
    "token",
    "current_password",
    "data_protection_officer",
    "key_contact",
    "flags",
    "change",
    "other",
    "into",
    "address",
    "provider_type",
    "registration_number",
    "holds_stock",
    "all",
    "type",
    "companies",
    "links",
    "link_kind",
    "link_custom",
    "link_to",
    "description",
    "members",
    "groups",
    "features",
    "select_all",
    "username",
    "entity",
    "roles",
    "based_on",
    "q",
    "status",
    "page",
    "done",
    "user",
    "event",
    "saved",
    "as_of",
    "field_name",
    "read_x",
    "csrf",
];

/// The parameters the service's query strings name.
const QUERY_FIELDS: &[&str] = &[
    "q",
    "page",
    "status",
    "role",
    "organisation",
    "done",
    "type",
    "saved",
    "as_of",
    "version",
    "token",
    "user",
    "event",
];

/// Fields no form has, some of them mass-assignment bait.
const UNKNOWN: &[&str] =
    &["role_id", "org_id", "admin", "password_hash", "active", "__proto__", ""];

/// One set of hostile inputs, sent to every route as every role.
#[derive(Clone, Debug)]
struct Hostile {
    /// The path's `{id}`.
    id: Segment,
    /// The path's `{dataset}` or `{file}`.
    second: Segment,
    /// Query string pairs, percent-encoded as sent.
    query: Vec<(String, String)>,
    /// Form fields, percent-encoded as sent (after the CSRF token).
    form: Vec<(String, String)>,
    /// The form's content type.
    content_type: Option<&'static str>,
    /// The form also carries a name of 70,000 characters: more than a web address holds.
    long: bool,
    /// A method each route is also sent, with the form: the one the registry does not
    /// list for the path (GET for POST, POST for GET), or one the service never takes.
    other: Other,
}

/// A method beyond the registry's.
#[derive(Clone, Copy, Debug)]
enum Other {
    Swapped,
    Put,
    Delete,
    Patch,
    Options,
}

/// A path segment: a real record's id (of the route's kind), or hostile text.
#[derive(Clone, Debug)]
enum Segment {
    Real(Index),
    Raw(String),
}

/// A role as the fuzz plays it: its site, its browser, and its email (none signed out).
struct Actor<'a> {
    email: Option<&'static str>,
    site: &'a Site,
    client: Client<'a>,
}

fn hostile_text() -> impl Strategy<Value = String> {
    let character = |c: u32| char::from_u32(c).unwrap_or('?');
    prop_oneof![
        Just(String::new()),
        Just("x".repeat(10_000)),
        Just("ab\0".to_owned()),
        (0u32..0x20).prop_map(move |c| format!("a{}b", character(c))),
        (0x7Fu32..0xA0).prop_map(move |c| format!("a{}b", character(c))),
        prop::sample::select(vec![
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}',
            '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ])
        .prop_map(|c| format!("Ada{c}Lovelace")),
        prop::sample::select(NASTY).prop_map(str::to_owned),
        prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter),
    ]
}

/// A value as sent: hostile text percent-encoded, or raw escapes, glued together.
fn raw_value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => hostile_text().prop_map(|t| encode(&t)),
        1 => prop::sample::select(RAW).prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 1..3).prop_map(|p| p.concat())
}

fn key(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(known).prop_map(str::to_owned),
        1 => prop::sample::select(UNKNOWN).prop_map(str::to_owned),
        1 => raw_value(),
        1 => raw_value().prop_map(|v| format!("field_{v}")),
    ]
}

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof![3 => any::<Index>().prop_map(Segment::Real), 1 => raw_value().prop_map(Segment::Raw)]
}

fn hostile() -> impl Strategy<Value = Hostile> {
    let pairs = |known, n| prop::collection::vec((key(known), raw_value()), 0..n);
    let content_type = prop_oneof![
        6 => Just(Some(URLENCODED)),
        1 => Just(None),
        1 => Just(Some("text/plain")),
        1 => Just(Some("multipart/form-data; boundary=x")),
        1 => Just(Some("application/json")),
    ];
    (
        segment(),
        segment(),
        pairs(QUERY_FIELDS, 6),
        pairs(FIELDS, 8),
        content_type,
        prop::bool::weighted(0.125),
        other(),
    )
        .prop_map(|(id, second, query, form, content_type, long, other)| Hostile {
            id,
            second,
            query,
            form,
            content_type,
            long,
            other,
        })
}

fn other() -> impl Strategy<Value = Other> {
    prop_oneof![
        4 => Just(Other::Swapped),
        1 => Just(Other::Put),
        1 => Just(Other::Delete),
        1 => Just(Other::Patch),
        1 => Just(Other::Options),
    ]
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn joined(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The route's path with its segments filled from the case.
fn path(route: &Route, case: &Hostile, world: &tenure_domain::World, nobody: Uuid) -> String {
    let second = match &case.second {
        Segment::Real(_) if route.path.contains("{file}") => ASSET.to_owned(),
        Segment::Real(_) => DATASET.to_owned(),
        Segment::Raw(raw) => raw.clone(),
    };
    let id = match (&case.id, id_kind(route)) {
        (Segment::Raw(raw), _) => raw.clone(),
        (Segment::Real(i), Some(kind)) => {
            let all = candidates(world, kind, nobody);
            all[i.index(all.len())].to_string()
        }
        (Segment::Real(_), None) => nobody.to_string(),
    };
    route.path.replace("{dataset}", &second).replace("{file}", &second).replace("{id}", &id)
}

/// What the store holds that a request could change, and the mail sent.
fn state(site: &Site) -> (String, usize) {
    (site.store.update(|w| format!("{w:?}")).unwrap(), site.mailer.sent().len())
}

/// Why this answer is not one of the service's own, if it is not.
fn not_ours(page: &Page) -> Option<String> {
    let content_type = page
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let start: String = page.body.chars().take(160).collect();
    if page.status.is_server_error() {
        return Some(format!("answers {}: {start}", page.status));
    }
    let ours = if page.status.is_redirection() {
        page.body.is_empty() && !page.location().is_empty()
    } else if content_type.starts_with("text/css") || content_type.starts_with("text/csv") {
        page.status == StatusCode::OK
    } else {
        content_type.starts_with("text/html") && page.body.starts_with("<!DOCTYPE html>")
    };
    if !ours {
        return Some(format!(
            "answers {} `{content_type}` that is not one of the service's pages: {start:?}",
            page.status
        ));
    }
    page.body
        .chars()
        .find(|c| is_forbidden_in_text(*c) && !matches!(c, '\n' | '\r' | '\t'))
        .map(|c| format!("answers a page that carries {c:?}"))
}

/// Signs in, after letting any lockout the fuzz caused expire; whether it worked.
async fn resume(actor: &mut Actor<'_>) {
    let Some(email) = actor.email else { return };
    let page = actor.client.get("/account").await;
    if page.status == StatusCode::OK {
        return;
    }
    actor.site.clock.advance(2 * 60 * 60 * 1000);
    actor.client.sign_in(email).await;
}

/// One case: every route as every actor. What went wrong, one line each.
async fn run(actors: &mut [Actor<'_>], case: &Hostile, sent: &mut usize) -> Vec<String> {
    let nobody = Uuid::from_u128(0xDEAD_BEEF);
    let mut findings = Vec::new();
    for actor in actors.iter_mut() {
        resume(actor).await;
        let world = world_of(actor.site);
        let who = actor.email.unwrap_or("signed out");
        for route in ALL {
            if actor.email.is_some() && route.access == Access::Public {
                continue;
            }
            let mut uri = path(route, case, &world, nobody);
            if !case.query.is_empty() {
                uri = format!("{uri}?{}", joined(&case.query));
            }
            if axum::http::Uri::try_from(uri.as_str()).is_err() {
                continue;
            }
            let listed =
                |method: Method| ALL.iter().any(|r| r.path == route.path && r.method == method);
            let mut methods = vec![match route.method {
                Method::Get => HttpMethod::GET,
                Method::Post => HttpMethod::POST,
            }];
            match (case.other, route.method) {
                (Other::Swapped, Method::Get) if !listed(Method::Post) => {
                    methods.push(HttpMethod::POST);
                }
                (Other::Swapped, Method::Post) if !listed(Method::Get) => {
                    methods.push(HttpMethod::GET);
                }
                (Other::Swapped, _) => {}
                (Other::Put, _) => methods.push(HttpMethod::PUT),
                (Other::Delete, _) => methods.push(HttpMethod::DELETE),
                (Other::Patch, _) => methods.push(HttpMethod::PATCH),
                (Other::Options, _) => methods.push(HttpMethod::OPTIONS),
            }
            for method in methods {
                let name = format!("{who} {method} {uri}");
                *sent += 1;
                if method == HttpMethod::GET {
                    let page = actor.client.raw(method, &uri, None, String::new()).await;
                    findings.extend(not_ours(&page).map(|why| format!("{name}: {why}")));
                    continue;
                }
                let mut body = format!("csrf={}", encode(&actor.client.csrf));
                if !case.form.is_empty() {
                    body = format!("{body}&{}", joined(&case.form));
                }
                if case.long {
                    body = format!("{body}&name={}", "x".repeat(70_000));
                }
                let before = state(actor.site);
                let page = actor.client.raw(method, &uri, case.content_type, body).await;
                if page.status.is_client_error() && state(actor.site) != before {
                    findings
                        .push(format!("{name}: refused ({}) but changed the store", page.status));
                }
                findings.extend(not_ours(&page).map(|why| format!("{name}: {why}")));
                if ends_session(route) {
                    resume(actor).await;
                }
            }
        }
    }
    findings
}

/// Every route, as every role and signed out, survives hostile input (see the module's
/// doc). Prints how many requests it sent.
#[test]
fn every_route_answers_hostile_input_with_its_own_pages_and_changes_nothing_when_refusing() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let demo = runtime.block_on(roomy_site());
    let corterum = runtime.block_on(roomy(tenure_testkit::contract::corterum::world()));
    let mut actors = Vec::new();
    for (email, site) in [
        (Some(ADA), &demo),
        (Some(CORA), &demo),
        (Some(PETE), &demo),
        (Some(ROOT), &corterum),
        (None, &demo),
    ] {
        let mut client = Client::new(site);
        runtime.block_on(async {
            match email {
                Some(email) => drop(client.sign_in(email).await),
                None => drop(client.get("/account/sign-in").await),
            }
        });
        actors.push(Actor { email, site, client });
    }
    let actors = std::sync::Mutex::new((actors, 0));
    let cases =
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(DEFAULT_CASES);
    let mut runner =
        TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let result = runner.run(&hostile(), |case| {
        let mut guard = actors.lock().unwrap();
        let (actors, sent) = &mut *guard;
        let findings = runtime.block_on(run(actors, &case, sent));
        if findings.is_empty() {
            Ok(())
        } else {
            let shown: Vec<&str> = findings.iter().take(20).map(String::as_str).collect();
            Err(TestCaseError::fail(format!(
                "{} answers were not the service's own:\n{}",
                findings.len(),
                shown.join("\n")
            )))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let sent = actors.lock().unwrap().1;
    eprintln!("route fuzzing: {cases} cases, {sent} requests, every one the service's own");
    assert!(sent >= ALL.len() * cases as usize, "every route was requested in every case");
}

/// A site over `world` with room for the fuzz's sign-ins.
async fn roomy(world: tenure_domain::World) -> Site {
    let mut config = WebConfig::new("http://127.0.0.1:3000");
    config.rate_limits = RateLimits { sign_in_per_minute: 1000, reset_per_minute: 1000 };
    site_with(world, config).await
}

/// The demo world's router over SQLite in memory, whose search runs FTS5.
async fn sqlite_router() -> axum::Router {
    let world = world();
    let store = Arc::new(SeaOrmStore::open("sqlite::memory:").await.unwrap());
    store.import(&world).await.unwrap();
    let hasher = Arc::new(CountingHasher::with_cost(1));
    let users: Vec<_> = world.users().map(|u| u.id).collect();
    crate::give_everyone_the_password(&*store, &users, &hasher).await;
    let base = "http://127.0.0.1:3000";
    let clock = Arc::new(FixedClock::at(1_800_000_000_000));
    let mailer = Arc::new(MemoryMailer::default());
    let secrets = Arc::new(SequentialSecrets::default());
    let ids = Arc::new(SequentialIds::default());
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
        mailer,
        clock,
        ids,
    };
    let services = Services::wire(ports, Policies::at(base)).await.unwrap();
    crate::enrol_those_required(&services, &world).await;
    tenure_web::router(services, WebConfig::new(base))
}

/// Issue 16, finding 1: `/users?q=ab%00` as the administrator was a 500 on SQLite, whose
/// full-text query stopped at the NUL. The search term drops it (`Search::parse`) and the
/// query string drops it at the edge: the search for `ab` answers.
#[tokio::test]
async fn finding_1_a_nul_in_the_administrators_search_answers_the_search_on_sqlite() {
    let router = sqlite_router().await;
    let send = |request| router.clone().oneshot(request);
    let sign_in =
        send(axum::http::Request::get("/account/sign-in").body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
    let cookie = sign_in
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body = axum::body::to_bytes(sign_in.into_body(), 1_000_000).await.unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    let at = body.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &body[at..at + body[at..].find('"').unwrap()];
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("csrf", csrf), ("email", ADA), ("password", PASSWORD)])
        .finish();
    let signed = send(
        axum::http::Request::post("/account/sign-in")
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, URLENCODED)
            .body(axum::body::Body::from(form))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let session_of = |response: &axum::response::Response| {
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|v| v.starts_with("tenure_session="))
            .unwrap()
    };
    // The administrator's second step: a code from their authenticator app.
    let pending = session_of(&signed);
    let code_page = send(
        axum::http::Request::get("/account/sign-in/code")
            .header(header::COOKIE, &pending)
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let body = axum::body::to_bytes(code_page.into_body(), 1_000_000).await.unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    let at = body.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &body[at..at + body[at..].find('"').unwrap()];
    let code = crate::totp_code(crate::TEST_SECRET, 1_800_000_000_000);
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("csrf", csrf), ("code", code.as_str())])
        .finish();
    let passed = send(
        axum::http::Request::post("/account/sign-in/code")
            .header(header::COOKIE, &pending)
            .header(header::CONTENT_TYPE, URLENCODED)
            .body(axum::body::Body::from(form))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(passed.headers().get(header::LOCATION).unwrap(), "/logs");
    let session = session_of(&passed);
    for query in ["ab%00", "%00ab%00", "ab%00*", "a%00%22b", "%E2%80%AEab"] {
        let page = send(
            axum::http::Request::get(format!("/users?q={query}"))
                .header(header::COOKIE, &session)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(page.status(), StatusCode::OK, "/users?q={query}");
        let body = axum::body::to_bytes(page.into_body(), 10_000_000).await.unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("<h1"), "/users?q={query} shows the users page");
        assert!(!body.contains('\0'), "/users?q={query} shows no NUL");
    }
}

/// Issue 16, finding 2: `/users?page=x` answered axum's plain text ("Failed to
/// deserialize query string"). A page number that is not one shows the first page; any
/// other query string that cannot be read gets the service's own 400 page.
#[tokio::test]
async fn finding_2_a_malformed_query_string_answers_the_services_own_page() {
    let site = crate::site().await;
    let mut c = Client::new(&site);
    c.sign_in(ADA).await;
    let first = c.get("/users").await;
    assert_eq!(first.status, StatusCode::OK);
    for page in ["x", "-1", "0", "99999999999999999999", "", "1.5", "%FF"] {
        let path = format!("/users?page={page}");
        let got = c.get(&path).await;
        if page == "%FF" {
            assert_eq!(got.status, StatusCode::BAD_REQUEST, "{path}");
            assert!(got.body.contains("There is a problem with what was sent"), "{path}");
            assert!(got.body.contains("not UTF-8"), "{path}");
        } else {
            assert_eq!(got.status, StatusCode::OK, "{path} is the first page");
            assert_eq!(got.body, first.body, "{path} is the first page");
        }
    }
    for path in ["/logs?page=x", "/organisations?page=-1", "/audit?page=99999999999999999999"] {
        assert_eq!(c.get(path).await.status, StatusCode::OK, "{path}");
    }
    for path in ["/users?q=%FF%FE", "/logs?page=1&page=2"] {
        let got = c.get(path).await;
        assert_eq!(got.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(got.body.starts_with("<!DOCTYPE html>"), "{path}");
        assert!(got.body.contains("Nothing was changed."), "{path}");
        assert!(!got.body.contains("Failed to deserialize"), "{path}");
    }
}

/// Issue 16, finding 3: a NUL typed into a name field came back raw inside the field's
/// `value`. A form field with a control or text-direction character is refused at the
/// edge with the service's 400 page, which names the field and shows the character
/// escaped, and nothing is changed.
#[tokio::test]
async fn finding_3_a_nul_in_a_name_field_is_refused_and_never_comes_back_raw() {
    let site = crate::site().await;
    let mut c = Client::new(&site);
    c.sign_in(ADA).await;
    let before = state(&site);
    for name in ["Ada\0Lovelace", "Ada\u{202E}Lovelace", "Ada\u{85}Lovelace", "Ada\u{7}"] {
        let page = c
            .post("/account/details", &[("name", name), ("telephone", ""), ("version", "0")])
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{name:?}");
        assert!(page.body.contains("The field `name` contains `\\u{"), "{name:?}");
        assert!(!page.body.contains(name), "{name:?} never comes back raw");
        assert!(not_ours(&page).is_none(), "{name:?}: {:?}", not_ours(&page));
        let page = c
            .post(
                "/users/invite",
                &[("name", name), ("email", "nina@example.com"), ("telephone", "")],
            )
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{name:?}");
        assert!(not_ours(&page).is_none(), "{name:?}: {:?}", not_ours(&page));
    }
    assert!(state(&site) == before, "nothing was changed");
}

/// Checklist AC-05: a form field that the form does not have is refused with the
/// service's 400 page, which names it and what the form takes, and nothing is changed;
/// the fields the pages send (the CSRF token, Corterum's `field_<key>`) are read.
#[tokio::test]
async fn unknown_form_fields_are_refused_with_what_the_form_takes() {
    let site = crate::site().await;
    let mut c = Client::new(&site);
    c.sign_in(ADA).await;
    let before = state(&site);
    let pete = format!("/users/{}/deactivate", crate::id(4));
    let page = c.post(&pete, &[("version", "0"), ("role_id", "administrator")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("unknown field `role_id`, expected `version`"), "{}", page.body);
    let page = c
        .raw(HttpMethod::POST, &pete, Some("text/plain"), format!("csrf={}&version=0", c.csrf))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("is not a form from this service"), "{}", page.body);
    let page = c.post(&pete, &[("version", "x")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("version: invalid digit found in string"), "{}", page.body);
    assert!(state(&site) == before, "nothing was changed");
    // The page's own form still works: a stale version is a conflict, not a refusal.
    let page = c.post(&pete, &[("version", "0")]).await;
    assert_eq!(page.status, StatusCode::CONFLICT);

    // Corterum's forms take the fields their pages build from data, and nothing else.
    let site = roomy(tenure_testkit::contract::corterum::world()).await;
    let mut root = Client::new(&site);
    root.sign_in(ROOT).await;
    root.get("/administration/roles/new").await;
    let before = state(&site);
    for extra in ["role_id", "fieldx", "read", "admin"] {
        let page =
            root.post("/administration/roles/new", &[("name", "Auditors"), (extra, "1")]).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{extra}");
        assert!(page.body.contains(&format!("unknown field `{extra}`")), "{extra}: {}", page.body);
    }
    assert!(state(&site) == before, "nothing was changed");
    let page = root
        .post(
            "/administration/roles/new",
            &[("name", "Auditors"), ("read_x", "1"), ("edit_x", "1"), ("field_x", "")],
        )
        .await;
    assert_ne!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
}
