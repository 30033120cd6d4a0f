//! Operational endpoints, for load balancers and monitoring rather than people:
//!
//! - `GET /healthz`: the process answers (`ok`);
//! - `GET /readyz`: the database answers and every migration is applied (`ready`, else
//!   503 `not ready`, with the cause logged, never shown: it may name hosts or users);
//! - `GET /metrics` on its own router ([`metrics_router`]), served by the CLI on a
//!   separate listen address only when asked for.
//!
//! They sit outside the route registry and its layers: no session, cookie, CSRF token or
//! rate limit, and no line in the request log (a load balancer asks every few seconds;
//! a failed readiness check is logged at `warn` with its cause). They answer plain text
//! with no versions, so they say nothing an attacker could use.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tenure_core::health::{Health, Readiness};

/// Renders the metrics in Prometheus' text format (set up by the app that owns the
/// recorder); asynchronous, so a scrape may read gauges from the database first.
pub type RenderMetrics = Arc<dyn Fn() -> BoxFuture<String> + Send + Sync>;

/// A boxed future that may cross threads.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// `/healthz` and `/readyz`. Without a [`Health`] (an app with no database), ready means
/// the process answers.
pub(crate) fn routes(health: Option<Health>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { text(StatusCode::OK, "ok\n") }))
        .route("/readyz", get(readyz))
        .with_state(health)
}

async fn readyz(State(health): State<Option<Health>>) -> Response {
    let Some(health) = health else { return text(StatusCode::OK, "ready\n") };
    match health.readiness().await {
        (Readiness::Ready, _) => text(StatusCode::OK, "ready\n"),
        (Readiness::SchemaBehind(pending), _) => {
            tracing::warn!(pending, "not ready: migrations to apply (run `tenure migrate`)");
            text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
        }
        (Readiness::DatabaseUnavailable, cause) => {
            let cause = cause.as_ref().and_then(std::error::Error::source).map(ToString::to_string);
            tracing::warn!(
                cause = cause.unwrap_or_default(),
                "not ready: the database does not answer"
            );
            text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
        }
    }
}

/// The metrics endpoint, alone on its router: `GET /metrics`, and "not found" for
/// anything else.
pub fn metrics_router(render: RenderMetrics) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(render): State<RenderMetrics>| async move {
                let mut response = text(StatusCode::OK, render().await);
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }),
        )
        .with_state(render)
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut response = (status, body.into()).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
