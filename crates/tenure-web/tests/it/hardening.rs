//! Hardening through the real router: HSTS and `__Host-` cookies on HTTPS only, refusal of
//! cross-site state changes by fetch metadata and origin, the body limit with the
//! service's own page, client addresses from trusted proxies only with IPv6 keyed by its
//! /64, the invitation form hidden from those who cannot invite, and defused CSV.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use tenure_domain::Name;
use tenure_testkit::contract::manage::world;
use tenure_web::{RateLimits, TrustedProxies, WebConfig};

use crate::{ADA, CORA, Client, PASSWORD, PETE, Page, Site, id, site, site_with};

const HTTPS: &str = "https://tenure.example";

fn https() -> WebConfig {
    WebConfig::new(HTTPS)
}

/// A cookie's attributes from a `Set-Cookie` value: the name and value first, then each
/// attribute as written.
fn set_cookie<'p>(page: &'p Page, name: &str) -> Option<Vec<&'p str>> {
    page.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').map(str::trim).collect())
}

#[track_caller]
fn check_host_cookie(attributes: &[&str]) {
    for wanted in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} in {attributes:?}");
    }
    assert!(
        !attributes.iter().any(|a| a.to_ascii_lowercase().starts_with("domain")),
        "no Domain: {attributes:?}"
    );
}

/// Posts a form with the client's CSRF token and these extra headers.
async fn post_with(
    c: &mut Client<'_>,
    path: &str,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Page {
    let csrf = c.csrf.clone();
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&all).finish();
    let mut request = Request::post(path)
        .header(header::COOKIE, c.cookie_header())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    c.send(request.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn hsts_is_sent_on_every_response_exactly_when_cookies_are_secure() {
    for (config, expected) in [
        (https(), Some("max-age=63072000; includeSubDomains")),
        (WebConfig::new("http://127.0.0.1:3000"), None),
        (
            WebConfig { secure_cookies: true, ..WebConfig::new("http://127.0.0.1:3000") },
            Some("max-age=63072000; includeSubDomains"),
        ),
    ] {
        let secure = config.secure_cookies;
        let site = site_with(world(), config).await;
        let mut c = Client::new(&site);
        let mut pages = Vec::new();
        for path in ["/account/sign-in", "/nope", "/assets/tenure.css", "/logs"] {
            pages.push((path, c.get(path).await));
        }
        pages.push(("POST without token", c.post_raw("/account/sign-in", &[]).await));
        for (path, page) in pages {
            let hsts = page.headers.get(header::STRICT_TRANSPORT_SECURITY);
            assert_eq!(hsts.map(|v| v.to_str().unwrap()), expected, "{path}, secure {secure}");
        }
    }
}

#[tokio::test]
async fn secure_cookies_take_host_prefixed_names_and_plain_http_keeps_the_old_ones() {
    let site = site_with(world(), https()).await;
    let mut c = Client::new(&site);
    let page = c.get("/account/sign-in").await;
    assert!(set_cookie(&page, "tenure_csrf").is_none());
    check_host_cookie(&set_cookie(&page, "__Host-tenure_csrf").expect("a CSRF cookie"));
    let page = c.post("/account/sign-in", &[("email", CORA), ("password", PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(set_cookie(&page, "tenure_session").is_none());
    let session = set_cookie(&page, "__Host-tenure_session").expect("a session cookie");
    check_host_cookie(&session);
    assert_eq!(c.get("/account").await.status, StatusCode::OK, "the session works");
    // The same token under the old name is not a session.
    let token = session[0].split_once('=').unwrap().1.to_owned();
    let request = Request::get("/account")
        .header(header::COOKIE, format!("tenure_session={token}"))
        .body(Body::empty())
        .unwrap();
    let page = Client::new(&site).send(request).await;
    assert_eq!(page.location(), "/account/sign-in");
    // Signing out removes the prefixed cookie.
    let page = c.post("/account/sign-out", &[]).await;
    let removed = set_cookie(&page, "__Host-tenure_session").expect("the session cookie removed");
    assert!(removed.contains(&"Max-Age=0"), "{removed:?}");
    check_host_cookie(&removed);

    // Plain HTTP (the local demo): today's names, not `Secure`.
    let plain = crate::site().await;
    let mut c = Client::new(&plain);
    let page = c.get("/account/sign-in").await;
    let csrf = set_cookie(&page, "tenure_csrf").expect("the plain CSRF cookie");
    assert!(!csrf.contains(&"Secure") && csrf.contains(&"SameSite=Lax"), "{csrf:?}");
    assert!(set_cookie(&page, "__Host-tenure_csrf").is_none());
    let page = c.post("/account/sign-in", &[("email", CORA), ("password", PASSWORD)]).await;
    assert!(set_cookie(&page, "tenure_session").is_some());
}

/// Signing in (a state change) from a fresh browser, with these headers.
async fn sign_in_with(site: &Site, headers: &[(&str, &str)]) -> Page {
    let mut c = Client::new(site);
    c.get("/account/sign-in").await;
    post_with(&mut c, "/account/sign-in", &[("email", CORA), ("password", PASSWORD)], headers).await
}

#[tokio::test]
async fn state_changes_from_other_sites_are_refused_by_fetch_metadata_and_origin() {
    let site = site().await;
    let ours = "http://127.0.0.1:3000";
    let refused = StatusCode::FORBIDDEN;
    let signed_in = StatusCode::SEE_OTHER;
    let table: [(&[(&str, &str)], StatusCode); 11] = [
        (&[], signed_in),
        (&[("sec-fetch-site", "same-origin")], signed_in),
        (&[("sec-fetch-site", "none")], signed_in),
        (&[("sec-fetch-site", "cross-site")], refused),
        (&[("sec-fetch-site", "cross-site"), ("origin", ours)], refused),
        (&[("sec-fetch-site", "same-site")], refused),
        (&[("sec-fetch-site", "same-site"), ("origin", "http://other.127.0.0.1:3000")], refused),
        (&[("sec-fetch-site", "same-site"), ("origin", ours)], signed_in),
        (&[("origin", "https://evil.example")], refused),
        (&[("origin", "null")], refused),
        (&[("origin", ours)], signed_in),
    ];
    for (headers, expected) in table {
        let page = sign_in_with(&site, headers).await;
        assert_eq!(page.status, expected, "{headers:?}");
        if expected == refused {
            assert!(page.body.contains("This form came from another website"), "{headers:?}");
            assert!(
                page.body.contains("govuk-template__header"),
                "the service's own page: {headers:?}"
            );
            assert!(set_cookie(&page, "tenure_session").is_none(), "{headers:?}");
        }
    }
    // The base URL's origin is compared without its path or default port.
    let site = site_with(world(), WebConfig::new("https://tenure.example:443/app/")).await;
    assert_eq!(
        sign_in_with(&site, &[("origin", "https://tenure.example")]).await.status,
        signed_in
    );
    assert_eq!(
        sign_in_with(&site, &[("origin", "https://tenure.example:8443")]).await.status,
        refused
    );
}

#[tokio::test]
async fn a_cross_site_post_with_a_valid_token_changes_nothing() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let pete = format!("/users/{}", id(4));
    let path = format!("{pete}/deactivate");
    cora.get(&path).await;
    for headers in
        [&[("sec-fetch-site", "cross-site")][..], &[("origin", "https://evil.example")][..]]
    {
        let page = post_with(&mut cora, &path, &[("version", "1")], headers).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(page.body.contains("This form came from another website"));
        assert!(!cora.get(&pete).await.body.contains("Deactivated"), "{headers:?}");
        cora.get(&path).await;
    }
    // The same form from the service's own page goes through.
    let page =
        post_with(&mut cora, &path, &[("version", "1")], &[("sec-fetch-site", "same-origin")])
            .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(cora.get(&pete).await.body.contains("Deactivated"));
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_with_the_services_own_page() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.get("/account/sign-in").await;
    let padding = "a".repeat(2 * 1024 * 1024);
    // With a declared length, and streamed without one.
    for declared in [true, false] {
        let body = format!("csrf={}&email=x&password=y&padding={padding}", c.csrf);
        let mut request = Request::post("/account/sign-in")
            .header(header::COOKIE, c.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if declared {
            request = request.header(header::CONTENT_LENGTH, body.len());
        }
        let page = c.send(request.body(Body::from(body)).unwrap()).await;
        assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE, "declared {declared}");
        let kind = page.headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap();
        assert!(kind.starts_with("text/html"), "{kind}");
        assert!(page.body.contains("This form is too large"));
        assert!(page.body.contains("govuk-template__header"), "the service's own page");
        assert!(page.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    }
    // A large form under the limit (900 KiB, like a group with thousands of members) is
    // read: here a long wrong password, refused as usual.
    let long = "a".repeat(900 * 1024);
    let page = c.post("/account/sign-in", &[("email", CORA), ("password", &long)]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Enter a correct email address and password"));
}

/// One failed sign-in from `peer`, with an `X-Forwarded-For` header when given.
async fn attempt(site: &Site, peer: &str, forwarded_for: Option<&str>) -> StatusCode {
    let mut c = Client::new(site);
    c.get("/account/sign-in").await;
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("csrf", c.csrf.as_str()), ("email", CORA), ("password", "wrong")])
        .finish();
    let mut request = Request::post("/account/sign-in")
        .header(header::COOKIE, c.cookie_header())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .extension(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    if let Some(xff) = forwarded_for {
        request = request.header("x-forwarded-for", xff);
    }
    c.send(request.body(Body::from(body)).unwrap()).await.status
}

/// Three attempts: the third is refused when all three count against one address.
#[track_caller]
fn shared(statuses: &[StatusCode]) -> bool {
    assert_eq!(&statuses[..2], [StatusCode::OK; 2]);
    statuses[2] == StatusCode::TOO_MANY_REQUESTS
}

async fn three(
    site: &Site,
    peer: &dyn Fn(usize) -> String,
    xff: &dyn Fn(usize) -> Option<String>,
) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for i in 1..=3 {
        out.push(attempt(site, &peer(i), xff(i).as_deref()).await);
    }
    out
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies_and_ipv6_by_its_64() {
    let mut config = WebConfig::new("http://127.0.0.1:3000");
    config.rate_limits = RateLimits { sign_in_per_minute: 2, reset_per_minute: 2 };
    config.trusted_proxies = TrustedProxies::parse(["10.0.0.0/8", "fd00::/8"]).unwrap();
    // (peer, X-Forwarded-For, whether the three attempts share one bucket)
    type Case = (fn(usize) -> String, fn(usize) -> Option<String>, bool);
    let table: Vec<(&str, Case)> = vec![
        (
            "an untrusted peer's spoofed header is ignored",
            (|_| "203.0.113.5:4000".into(), |i| Some(format!("198.51.100.{i}")), true),
        ),
        (
            "a trusted proxy's header names the client",
            (|_| "10.0.0.1:4000".into(), |i| Some(format!("198.51.100.{i}")), false),
        ),
        (
            "one client behind the proxy is one client",
            (|i| format!("10.0.0.{i}:4000"), |_| Some("198.51.100.77".into()), true),
        ),
        (
            "spoofed entries left of the last untrusted hop are ignored",
            (
                |_| "10.0.0.1:4000".into(),
                |i| Some(format!("6.6.6.{i}, 198.51.100.50, 10.0.0.9")),
                true,
            ),
        ),
        (
            "a chain of trusted proxies is walked from the right",
            (
                |_| "10.0.0.1:4000".into(),
                |i| Some(format!("198.51.100.{}, 10.1.2.3", 100 + i)),
                false,
            ),
        ),
        (
            "without the header, the proxy itself counts",
            (|i| format!("10.0.0.{i}:4000"), |_| None, false),
        ),
        (
            "IPv6 clients in one /64 share a bucket",
            (|_| "[fd00::1]:4000".into(), |i| Some(format!("2001:db8:1:2::{i}")), true),
        ),
        (
            "IPv6 clients in different /64s do not",
            (|_| "[fd00::1]:4000".into(), |i| Some(format!("2001:db8:1:{i}::1")), false),
        ),
        (
            "an untrusted IPv6 peer is keyed by its /64 too",
            (|i| format!("[2001:db8:9:9::{i}]:4000"), |_| None, true),
        ),
        (
            "IPv4 clients are keyed by the full address",
            (|i| format!("192.0.2.{i}:4000"), |_| None, false),
        ),
    ];
    for (what, (peer, xff, expected)) in table {
        // A fresh site each time: fresh buckets.
        let site = site_with(world(), config.clone()).await;
        let statuses = three(&site, &peer, &xff).await;
        assert_eq!(shared(&statuses), expected, "{what}: {statuses:?}");
    }
}

#[test]
fn trusted_proxies_parse_networks_and_name_a_bad_one() {
    let proxies = TrustedProxies::parse(["10.0.0.0/8", " 192.168.1.7 ", "", "fd00::/8"]).unwrap();
    for (ip, inside) in [
        ("10.255.0.1", true),
        ("11.0.0.1", false),
        ("192.168.1.7", true),
        ("192.168.1.8", false),
        ("fd12::1", true),
        ("fe80::1", false),
        ("::ffff:10.1.1.1", true),
    ] {
        assert_eq!(proxies.contains(ip.parse().unwrap()), inside, "{ip}");
    }
    assert!(TrustedProxies::parse(["0.0.0.0/0"]).unwrap().contains("8.8.8.8".parse().unwrap()));
    for bad in ["10.0.0.0/33", "fd00::/129", "10.0.0/8", "example.com", "10.0.0.0/", "10.0.0.0/+8"]
    {
        let e = TrustedProxies::parse(["10.0.0.0/8", bad]).unwrap_err().to_string();
        assert!(e.contains(&format!("`{bad}`")) && e.contains("10.0.0.0/8"), "{e}");
    }
}

#[tokio::test]
async fn only_those_who_may_invite_see_the_invitation_form() {
    let site = site().await;
    for (email, expected) in
        [(PETE, StatusCode::NOT_FOUND), (CORA, StatusCode::OK), (ADA, StatusCode::OK)]
    {
        let mut c = Client::new(&site);
        c.sign_in(email).await;
        let page = c.get("/users/invite").await;
        assert_eq!(page.status, expected, "{email}");
        let posted =
            c.post("/users/invite", &[("name", "Ivy"), ("email", "ivy@example.com")]).await;
        assert_eq!(posted.status, expected, "{email} posts the first step");
        if expected == StatusCode::NOT_FOUND {
            assert!(page.body.contains("Page not found") && posted.body.contains("Page not found"));
            assert!(!page.body.contains("Personal details"));
        } else {
            assert!(page.body.contains("Invite a user"));
        }
    }
}

#[tokio::test]
async fn the_users_download_defuses_formulas() {
    let mut w = world();
    let mut pete = w.user(crate::user(4)).unwrap().clone();
    pete.name = Name::parse("=HYPERLINK(\"http://evil.example\",\"Click\")").unwrap();
    w.upsert_user(pete).unwrap();
    let site = site_with(w, WebConfig::new("http://127.0.0.1:3000")).await;
    let mut c = Client::new(&site);
    c.sign_in(ADA).await;
    let csv = c.get("/users/download").await.body;
    assert!(csv.starts_with("name,email,telephone,organisation,role,status,id,data_protection_officer,key_contact\r\n"), "{csv}");
    let line = csv.lines().find(|l| l.contains(PETE)).unwrap();
    assert!(
        line.starts_with("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Click\"\")\","),
        "{line}"
    );
    assert!(csv.lines().all(|l| !l.starts_with('=') && !l.starts_with("\"=")), "{csv}");
}
