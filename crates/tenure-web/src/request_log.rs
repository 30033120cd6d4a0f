//! The request log: every request gets a request id (`x-request-id`: a caller's own if it
//! is short and plain, else a new one) and one line when it is answered, with its method,
//! matched route, status, latency, request id and the signed-in user's id. Nothing else of
//! the request is logged: not the path (it holds ids), the query string (reset and
//! invitation tokens travel in it), headers or cookies.
//!
//! The line is a `tracing` event inside the request's span, so anything logged while the
//! request is handled (a backend failure's cause) carries the same request id, and the
//! error page shows it for people to quote.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tenure_core::IdGen;
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Span;

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

/// Drops a caller's request id unless it is short and plain (letters, digits, `-`, `_`,
/// `.`), so a new one is made: what reaches the logs and the page is never a caller's
/// arbitrary text.
pub(crate) async fn accept_request_id(mut request: Request) -> Request {
    let plain = request.headers().get(&REQUEST_ID).is_some_and(|v| {
        let v = v.as_bytes();
        !v.is_empty()
            && v.len() <= MAX_INCOMING
            && v.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    if !plain {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
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
