//! The request log: every request gets a request id (`x-request-id`: the one a trusted
//! proxy passes on if it is short and plain, else a new one; anyone else's is dropped, so
//! nobody outside chooses what the audit trail's origin says) and one line when it is
//! answered, with its method, matched route, status, latency, request id and the
//! signed-in user's id. Nothing else of the request is logged: not the path (it holds
//! ids), the query string (reset and invitation tokens travel in it), headers or cookies.
//!
//! Metrics (recorded through the `metrics` facade; nothing unless an app installs a
//! recorder, as `tenure serve` does with `metrics_listen`): `tenure_http_requests_total`
//! and the histogram `tenure_http_request_duration_seconds` by method, matched route
//! (the template, never the path) and status; `tenure_sign_ins_total` by outcome
//! (`success`, `refused`, `rate_limited`, `busy`), read from the sign-in form's answer.
//!
//! The line is a `tracing` event inside the request's span, so anything logged while the
//! request is handled (a backend failure's cause) carries the same request id, and the
//! error page shows it for people to quote.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tenure_core::IdGen;
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Span;

use crate::TrustedProxies;

/// The header that carries the request id, both ways.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id accepted from a caller.
const MAX_INCOMING: usize = 64;

/// Where request ids come from.
///
/// The default counts (`r1`, `r2`, ...): predictable, for tests. A service gives each
/// request a fresh id with [`RequestIds::from_ids`] (the CLI wires UUID v7).
#[derive(Clone)]
pub struct RequestIds(Source);

#[derive(Clone)]
enum Source {
    Counter(Arc<AtomicU64>),
    Ids(Arc<dyn IdGen>),
}

impl RequestIds {
    /// Each request's id from an id generator.
    pub fn from_ids(ids: Arc<dyn IdGen>) -> Self {
        Self(Source::Ids(ids))
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self(Source::Counter(Arc::new(AtomicU64::new(1))))
    }
}

impl fmt::Debug for RequestIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Source::Counter(_) => f.write_str("RequestIds::Counter"),
            Source::Ids(_) => f.write_str("RequestIds::Ids"),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = match &self.0 {
            Source::Counter(n) => format!("r{}", n.fetch_add(1, Ordering::Relaxed)),
            Source::Ids(ids) => ids.next_id().to_string(),
        };
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Drops a caller's request id unless it comes from a trusted proxy (the peer is one of
/// `trusted_proxies`; a request with no known peer, as in router tests, counts as from
/// loopback, like the security layer's address) and is short and plain (letters,
/// digits, `-`, `_`, `.`), so a new one is made: what reaches the logs, the page and the
/// audit trail is never a stranger's choice.
pub(crate) async fn accept_request_id(
    State(trusted): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
    let plain = trusted.contains(peer)
        && request.headers().get(&REQUEST_ID).is_some_and(|v| {
            let v = v.as_bytes();
            !v.is_empty()
                && v.len() <= MAX_INCOMING
                && v.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if !plain {
        request.headers_mut().remove(&REQUEST_ID);
    }
    next.run(request).await
}

/// Counts every request by method, matched route and status, with its latency.
pub(crate) async fn measure(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "fallback".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let start = Instant::now();
    let response = next.run(request).await;
    let seconds = start.elapsed().as_secs_f64();
    let status = response.status();
    let labels = [
        ("method", method.as_str().to_owned()),
        ("route", route.clone()),
        ("status", status.as_str().to_owned()),
    ];
    metrics::counter!("tenure_http_requests_total", &labels).increment(1);
    metrics::histogram!("tenure_http_request_duration_seconds", &labels).record(seconds);
    if method == Method::POST && route == "/account/sign-in" {
        // The sign-in form's answers: a redirect signs in; the form again refuses (the same
        // answer for every refusal, by design); 429 and 503 are the limits.
        let outcome = match status {
            StatusCode::SEE_OTHER => Some("success"),
            StatusCode::OK => Some("refused"),
            StatusCode::TOO_MANY_REQUESTS => Some("rate_limited"),
            StatusCode::SERVICE_UNAVAILABLE => Some("busy"),
            _ => None,
        };
        if let Some(outcome) = outcome {
            metrics::counter!("tenure_sign_ins_total", "outcome" => outcome).increment(1);
        }
    }
    response
}

/// The request's span: method, matched route (the pattern, never the path or query),
/// request id, and the user, recorded by the security layer once the session is known.
/// A request no route matches is `fallback`.
pub(crate) fn span(request: &Request) -> Span {
    let route = request.extensions().get::<MatchedPath>().map_or("fallback", MatchedPath::as_str);
    let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        request_id = %id,
        user = tracing::field::Empty,
    )
}

/// Records the signed-in user on the current request's span.
pub(crate) fn record_user(user: tenure_domain::UserId) {
    Span::current().record("user", tracing::field::display(user));
}

/// The one line per request: at error level for a 5xx, else info.
pub(crate) fn answered(response: &Response<Body>, latency: Duration, _: &Span) {
    let status = response.status().as_u16();
    let latency_ms = (latency.as_secs_f64() * 100_000.0).round() / 100.0;
    if response.status().is_server_error() {
        tracing::error!(status, latency_ms, "answered");
    } else {
        tracing::info!(status, latency_ms, "answered");
    }
}

/// The request id of a request, as the request-id layer set it (empty outside it).
pub(crate) fn request_id(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
