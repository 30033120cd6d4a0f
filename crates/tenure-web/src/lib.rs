//! Tenure's web application: server-rendered pages in the GOV.UK Frontend style over the
//! core services. It works without JavaScript and sends none.
//!
//! Role in the workspace: an app. Handlers parse forms, call a service, and render the
//! outcome; every permission is the engine's (through the services and the
//! [`Authorizer`](tenure_core::Authorizer)), so no rule lives in a handler. Anything
//! outside the user's reach is "Page not found", exactly like a page that does not exist.
//!
//! Allowed dependencies: `tenure-core`, `tenure-domain`, axum, askama, `metrics` (the
//! facade: what it records goes nowhere unless the app installs a recorder). Forbidden
//! knowledge: SQL, SMTP, the real clock (time comes through the core's ports).
//!
//! Security, by construction rather than by handler:
//! - every `POST` passes the CSRF check in the security layer before any handler runs, and
//!   every state-changing request from another site (by `Sec-Fetch-Site`, else `Origin`)
//!   is refused before that;
//! - request bodies over 1 MiB are refused with the service's own page;
//! - every response carries the security headers (CSP without inline script, no framing,
//!   no referrer, no caching of pages, HSTS on HTTPS);
//! - the session cookie is `HttpOnly`, `SameSite=Lax`, and `Secure` with a `__Host-` name
//!   outside localhost;
//! - per-IP limits believe `X-Forwarded-For` only from trusted proxies.
//!
//! Every request is logged once (`tracing`, see `request_log`): method, matched route,
//! status, latency, request id and user id, never a path, query string, cookie or form.
//! A 5xx logs its cause with the request id, which its page shows for people to quote.
//! `/healthz` and `/readyz` (see `health`) are outside the registry, its layers and the
//! log: load balancers ask every few seconds.

mod account;
mod admin;
mod corterum;
mod form;
mod health;
mod logs;
mod mail;
mod organisations;
mod origin;
mod request_log;
pub mod routes;
mod second_factor;
mod security;
mod users;
mod view;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Router;
use tenure_domain::PasswordPolicy;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use crate::health::{BoxFuture, RenderMetrics, metrics_router};
pub use crate::origin::{WithOrigin, within as within_origin};
pub use crate::request_log::RequestIds;
pub use crate::security::{CidrError, RateLimits, TrustedProxies};

/// How the web application behaves.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// The public address, for links in emails and to decide whether cookies are `Secure`.
    pub base_url: String,
    /// Mark cookies `Secure`. On by default unless the base URL is `http://localhost` or
    /// `http://127.0.0.1`.
    pub secure_cookies: bool,
    /// Passwords people choose.
    pub passwords: PasswordPolicy,
    /// Per-IP limits on signing in and asking for resets.
    pub rate_limits: RateLimits,
    /// The reverse proxies whose `X-Forwarded-For` gives the client's address.
    pub trusted_proxies: TrustedProxies,
    /// Where request ids come from (a counter unless set).
    pub request_ids: RequestIds,
    /// The time zone pages show times in and read typed times in, stated beside them
    /// (the service's, Europe/London, unless set).
    pub time_zone: jiff::tz::TimeZone,
    /// Readiness for `/readyz` (the database and its schema); without it, ready means
    /// the process answers.
    pub health: Option<tenure_core::health::Health>,
    /// The sign-in page's heading, naming what the service is for (the seed's caption:
    /// "Sign in to your account to submit CORE data", the default).
    pub sign_in_heading: String,
}

/// The sign-in heading unless a setting says otherwise.
pub const SIGN_IN_HEADING: &str = "Sign in to your account to submit CORE data";

impl WebConfig {
    /// Defaults for a public address.
    pub fn new(base_url: &str) -> Self {
        let local = base_url.starts_with("http://127.0.0.1")
            || base_url.starts_with("http://localhost")
            || base_url.starts_with("http://[::1]");
        Self {
            base_url: base_url.to_owned(),
            secure_cookies: !local,
            passwords: PasswordPolicy::default(),
            rate_limits: RateLimits::default(),
            trusted_proxies: TrustedProxies::default(),
            request_ids: RequestIds::default(),
            time_zone: tenure_core::moment::service_zone(),
            health: None,
            sign_in_heading: SIGN_IN_HEADING.to_owned(),
        }
    }
}

/// The services the web application runs on: services only, no ports, so a handler
/// parses, calls one service and renders. Built by [`Services::wire`].
pub use tenure_core::Services;

/// Shared state of the application.
#[derive(Clone, Debug)]
pub(crate) struct App {
    pub(crate) services: Services,
    pub(crate) config: Arc<WebConfig>,
    pub(crate) limits: Arc<security::Limiters>,
}

/// The application's routes (every one of [`routes::ALL`], nothing else), with the
/// request log and the security layers; beside them, outside those layers, `/healthz`
/// and `/readyz` (see `health.rs`).
pub fn router(services: Services, config: WebConfig) -> Router {
    let limits = Arc::new(security::Limiters::new(&config.rate_limits));
    let request_ids = config.request_ids.clone();
    let trusted = config.trusted_proxies.clone();
    let health = config.health.clone();
    let app = App { services, config: Arc::new(config), limits };
    // Outermost last: a caller's request id is checked, then set if absent, then the
    // request's span opens (the security layer records the user on it), and the id goes
    // back on the response.
    routes::router()
        .layer(axum::middleware::from_fn(origin::scope))
        .layer(axum::middleware::from_fn_with_state(app.clone(), security::guard))
        .layer(PropagateRequestIdLayer::new(request_log::REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_log::span)
                .on_request(())
                .on_response(request_log::answered)
                .on_failure(()),
        )
        .layer(axum::middleware::from_fn(request_log::measure))
        .layer(SetRequestIdLayer::new(request_log::REQUEST_ID, request_ids))
        .layer(axum::middleware::from_fn_with_state(trusted, request_log::accept_request_id))
        .with_state(app)
        .merge(health::routes(health))
}

/// Serves the application on `listener` until the process ends.
///
/// # Errors
/// If the server fails.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
}

/// Serves the application on `listener` until `stop` completes; then it stops accepting,
/// lets the requests in flight finish, and returns once they have (bound the wait from
/// outside, as `tenure serve` does with its grace period).
///
/// # Errors
/// If the server fails.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    app: Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stop)
        .await
}

pub(crate) fn per_minute(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}
