//! The layer every request passes: session, CSRF, security headers. And the per-IP rate
//! limits handlers ask before the expensive or abusable work (password checks, reset
//! emails).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use subtle::ConstantTimeEq;
use tenure_core::Live;
use tenure_domain::{Action, Feature, OrgId, Request as EngineRequest, Resource, User, World};

use crate::App;
use crate::view::{self, Chrome};

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "tenure_session";
/// The anonymous CSRF cookie (double submit), for forms shown before signing in.
pub(crate) const CSRF_COOKIE: &str = "tenure_csrf";
/// Forms are small; anything bigger is refused before it is read.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Per-IP request limits, per minute.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RateLimits {
    /// Sign-in attempts from one address.
    pub sign_in_per_minute: u32,
    /// Reset requests and link uses from one address.
    pub reset_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { sign_in_per_minute: 10, reset_per_minute: 5 }
    }
}

/// The limiters themselves.
pub(crate) struct Limiters {
    sign_in: DefaultKeyedRateLimiter<IpAddr>,
    reset: DefaultKeyedRateLimiter<IpAddr>,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiters").finish_non_exhaustive()
    }
}

impl Limiters {
    pub(crate) fn new(limits: &RateLimits) -> Self {
        Self {
            sign_in: RateLimiter::keyed(Quota::per_minute(crate::per_minute(
                limits.sign_in_per_minute,
            ))),
            reset: RateLimiter::keyed(Quota::per_minute(crate::per_minute(
                limits.reset_per_minute,
            ))),
        }
    }

    /// Whether a sign-in attempt from this address may go ahead.
    pub(crate) fn sign_in(&self, ip: IpAddr) -> bool {
        self.sign_in.retain_recent();
        self.sign_in.check_key(&ip).is_ok()
    }

    /// Whether a reset request (or link use) from this address may go ahead.
    pub(crate) fn reset(&self, ip: IpAddr) -> bool {
        self.reset.retain_recent();
        self.reset.check_key(&ip).is_ok()
    }
}

/// The address a request came from (loopback when unknown, as in router tests).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientIp(pub(crate) IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        Ok(Self(ip))
    }
}

/// What the header shows, decided by the engine.
#[derive(Clone, Debug, Default)]
pub(crate) struct Nav {
    /// "Organisations" and "Users" (administrators).
    pub(crate) admin: bool,
    /// "Your organisation" (coordinators).
    pub(crate) organisation: Option<OrgId>,
    /// "Logs" (anyone who may see some).
    pub(crate) logs: bool,
    /// "Records" (Corterum: anyone who reaches an entity).
    pub(crate) records: bool,
    /// "Administration" (Corterum: any administration feature).
    pub(crate) administration: bool,
}

/// The signed-in user of a request, with the snapshot the layer loaded for them (their
/// organisation and its relationships): handlers decide about the viewer's own
/// organisation and the whole service from it without loading again.
#[derive(Clone, Debug)]
pub(crate) struct Viewer {
    pub(crate) user: User,
    pub(crate) live: Live,
    pub(crate) nav: Nav,
    pub(crate) world: Arc<World>,
}

/// The CSRF token forms on this response must carry.
#[derive(Clone, Debug)]
pub(crate) struct Csrf(pub(crate) String);

/// A request's signed-in user, or a redirect to sign in.
#[derive(Clone, Debug)]
pub(crate) struct Signed(pub(crate) Viewer, pub(crate) Csrf);

/// A request's signed-in user if any.
#[derive(Clone, Debug)]
pub(crate) struct MaybeSigned(pub(crate) Option<Viewer>, pub(crate) Csrf);

impl Signed {
    pub(crate) fn chrome(&self, title: &str) -> Chrome {
        Chrome::new(title, Some(&self.0), &self.1)
    }
}

impl MaybeSigned {
    pub(crate) fn chrome(&self, title: &str) -> Chrome {
        Chrome::new(title, self.0.as_ref(), &self.1)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let csrf = parts.extensions.get::<Csrf>().cloned().unwrap_or(Csrf(String::new()));
        match parts.extensions.get::<Viewer>() {
            Some(v) => Ok(Self(v.clone(), csrf)),
            None => Err(Redirect::to("/account/sign-in").into_response()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeSigned {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let csrf = parts.extensions.get::<Csrf>().cloned().unwrap_or(Csrf(String::new()));
        Ok(Self(parts.extensions.get::<Viewer>().cloned(), csrf))
    }
}

/// The session cookie for a token.
pub(crate) fn session_cookie(app: &App, token: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.config.secure_cookies)
        .build()
}

/// A cookie that removes the session cookie.
pub(crate) fn removed_session_cookie(app: &App) -> Cookie<'static> {
    let mut c = session_cookie(app, String::new());
    c.make_removal();
    c
}

/// Loads the signed-in user: the session must be live and its user and organisation
/// active; otherwise the session is ended and the request is anonymous. The session and
/// one snapshot come in one read, and the snapshot serves the check, the header and the
/// handler's decisions about the viewer's own organisation.
async fn viewer(app: &App, token: &str) -> Option<Viewer> {
    let (live, world) = app.services.sessions.resume_with_snapshot(token).await.ok()??;
    let usable = world.user(live.user).filter(|u| {
        u.active
            && !u.roles.is_empty()
            && world.organisation(u.organisation).is_some_and(|o| o.active)
    });
    let Some(user) = usable.cloned() else {
        let _ = app.services.sessions.end(&live).await;
        return None;
    };
    let me = user.id;
    let own = Resource::Organisation(user.organisation);
    let nav = Nav {
        admin: world
            .decide(&EngineRequest::new(me, Action::OrganisationListAll, Resource::Service))
            .is_allowed(),
        organisation: world
            .decide(&EngineRequest::new(me, Action::OrganisationEditDetails, own))
            .is_allowed()
            .then_some(user.organisation),
        logs: !world.scope(me, Action::LogView).is_nothing(),
        records: !world.entity_scope(me, Action::EntityView, None).is_nothing(),
        administration: [
            Feature::EntityAdministration,
            Feature::GroupAdministration,
            Feature::RolesAdministration,
            Feature::UserAdministration,
        ]
        .into_iter()
        .any(|f| {
            world
                .decide(&EngineRequest::new(me, Action::FeatureUse, Resource::Feature(f)))
                .is_allowed()
        }),
    };
    Some(Viewer { user, live, nav, world: Arc::new(world) })
}

fn forbidden_form(chrome: Chrome) -> Response {
    let page = view::Message {
        chrome,
        heading: "This page has expired".to_owned(),
        body: vec![
            "For your security, forms stop working after a while or when you sign in or out."
                .to_owned(),
            "Go back, reload the page and try again.".to_owned(),
        ],
    };
    (StatusCode::FORBIDDEN, view::render(&page)).into_response()
}

/// The layer: resolves the session, checks CSRF on every `POST`, and adds the security
/// headers to every response.
pub(crate) async fn guard(State(app): State<App>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let jar = CookieJar::from_headers(&parts.headers);
    let viewer = match jar.get(SESSION_COOKIE) {
        Some(c) => viewer(&app, c.value()).await,
        None => None,
    };
    let mut new_cookie = None;
    let csrf = match (&viewer, jar.get(CSRF_COOKIE)) {
        (Some(v), _) => v.live.csrf.clone(),
        (None, Some(c)) if !c.value().is_empty() => c.value().to_owned(),
        (None, _) => {
            let token = app.services.secrets.token().map(|t| t.plain).unwrap_or_default();
            new_cookie = Some(token.clone());
            token
        }
    };
    let csrf = Csrf(csrf);
    let stale_session = viewer.is_none() && jar.get(SESSION_COOKIE).is_some();

    let body = if parts.method == Method::POST {
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return with_headers(
                (StatusCode::PAYLOAD_TOO_LARGE, "This form is too large.").into_response(),
            );
        };
        let given = form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v);
        let ok = new_cookie.is_none()
            && given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(csrf.0.as_bytes())));
        if !ok {
            let chrome = Chrome::new("This page has expired", viewer.as_ref(), &csrf);
            let mut response = forbidden_form(chrome);
            add_cookies(&app, &mut response, new_cookie, stale_session);
            return with_headers(response);
        }
        Body::from(bytes)
    } else {
        body
    };
    if let Some(v) = viewer {
        parts.extensions.insert(v);
    }
    parts.extensions.insert(csrf);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    add_cookies(&app, &mut response, new_cookie, stale_session);
    with_headers(response)
}

fn add_cookies(app: &App, response: &mut Response, csrf: Option<String>, stale: bool) {
    let mut cookies = Vec::new();
    if let Some(token) = csrf {
        cookies.push(
            Cookie::build((CSRF_COOKIE, token))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .secure(app.config.secure_cookies)
                .build(),
        );
    }
    // A session cookie that no longer works is removed, unless the handler set a new one.
    let sets_session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with(SESSION_COOKIE)));
    if stale && !sets_session {
        cookies.push(removed_session_cookie(app));
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// The security headers every response carries.
fn with_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    );
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // Token links never leak to other sites through the Referer header.
    set(h, header::REFERRER_POLICY, "no-referrer");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    set(h, header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    response
}

/// The 503 page when password checking is at capacity, with a hint to retry.
pub(crate) fn busy(chrome: Chrome) -> Response {
    let page = view::Message {
        chrome,
        heading: "Sorry, the service is busy".to_owned(),
        body: vec![
            "Too many people are signing in right now. Nothing was changed.".to_owned(),
            "Wait a minute and try again.".to_owned(),
        ],
    };
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, view::render(&page)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// The 429 page for a rate-limited request.
pub(crate) fn too_many(chrome: Chrome) -> Response {
    let page = view::Message {
        chrome,
        heading: "Too many attempts".to_owned(),
        body: vec!["You have tried this too many times. Wait a minute and try again.".to_owned()],
    };
    (StatusCode::TOO_MANY_REQUESTS, view::render(&page)).into_response()
}
