//! The layer every request passes: the client's address (behind trusted proxies only),
//! cross-site refusal by fetch metadata and origin, the body limit, session, CSRF and
//! security headers. And the per-IP rate limits handlers ask before the expensive or
//! abusable work (password checks, reset emails).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
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
use tenure_core::limits::{LimitKey, LimitKind, Rate, Verdict};
use tenure_core::{BackendError, Live};
use tenure_domain::{Action, Feature, OrgId, Request as EngineRequest, Resource, User, World};

use crate::view::{self, Chrome};
use crate::{App, request_log};

/// The session cookie over plain HTTP (a local demo).
const SESSION_COOKIE: &str = "tenure_session";
/// The session cookie when cookies are `Secure`: the `__Host-` prefix makes browsers
/// refuse it unless it is `Secure`, for the whole site (`Path=/`) and without a `Domain`,
/// so no sibling subdomain can plant or overwrite it.
const HOST_SESSION_COOKIE: &str = "__Host-tenure_session";
/// The anonymous CSRF cookie (double submit), for forms shown before signing in.
const CSRF_COOKIE: &str = "tenure_csrf";
/// The anonymous CSRF cookie when cookies are `Secure` (see [`HOST_SESSION_COOKIE`]).
const HOST_CSRF_COOKIE: &str = "__Host-tenure_csrf";
/// The largest request body read. The biggest legitimate forms are Corterum's: a group's
/// members are one `members=<uuid>` pair (about 45 bytes) per ticked entity, and a role
/// form carries three boxes per dataset plus its groups; 1 MiB holds over 20,000 members,
/// where 64 KiB would stop at about 1,400. Anything bigger is refused before it is read.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Sent with every response when cookies are `Secure` (the service is on HTTPS): two
/// years, subdomains included.
const HSTS: &str = "max-age=63072000; includeSubDomains";

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

impl RateLimits {
    /// In-process limits that never refuse what the shared limits would admit (at least
    /// each shared rate's burst a minute, and at least its rate): the cheap first filter
    /// only spares the database a flood from one address. `None` (no shared limit) is
    /// no filter either.
    pub fn covering(sign_in: Option<Rate>, reset: Option<Rate>) -> Self {
        let per_minute = |rate: Option<Rate>| {
            rate.map_or(u32::MAX, |r| {
                let sustained = i64::from(r.count()).saturating_mul(60_000) / r.period_ms();
                r.count().max(u32::try_from(sustained + 1).unwrap_or(u32::MAX))
            })
        };
        Self { sign_in_per_minute: per_minute(sign_in), reset_per_minute: per_minute(reset) }
    }
}

/// The reverse proxies in front of the service: networks whose `X-Forwarded-For` is
/// believed. Empty (the default) believes nobody's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

/// A trusted proxy setting that is not a network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CidrError {
    value: String,
}

/// One network: an address and how many leading bits of it count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cidr {
    address: IpAddr,
    prefix: u8,
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
        self.sign_in.check_key(&rate_key(ip)).is_ok()
    }

    /// Whether a reset request (or link use) from this address may go ahead.
    pub(crate) fn reset(&self, ip: IpAddr) -> bool {
        self.reset.retain_recent();
        self.reset.check_key(&rate_key(ip)).is_ok()
    }
}

/// Whether a request from `ip` may go ahead under `kind`: the in-process limiter first,
/// a cheap filter that spares the database a flood from one address, then the limit
/// every instance shares ([`tenure_core::limits`]). A refusal is the 429 page saying
/// when to try again; a store that fails refuses too (the error page).
pub(crate) async fn admit(
    app: &App,
    kind: LimitKind,
    ip: IpAddr,
    chrome: &Chrome,
) -> Result<(), Response> {
    let (cheap, per_minute) = match kind {
        LimitKind::SignInAddress => {
            (app.limits.sign_in(ip), app.config.rate_limits.sign_in_per_minute)
        }
        _ => (app.limits.reset(ip), app.config.rate_limits.reset_per_minute),
    };
    if !cheap {
        // The filter's next place comes within one interval.
        return Err(too_many(chrome.clone(), 60_u64.div_ceil(u64::from(per_minute.max(1)))));
    }
    match app.services.limits.hit(kind, &LimitKey::address(ip)).await {
        Ok(Verdict::Allowed) => Ok(()),
        Ok(refused) => Err(too_many(chrome.clone(), refused.retry_after_secs())),
        Err(e) => Err(view::backend(chrome.clone(), &e)),
    }
}

/// The bucket an address counts against: an IPv4 address alone, an IPv6 address by its
/// /64, since one subscriber is usually handed a whole /64 and could otherwise take a
/// fresh address for every attempt.
fn rate_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
    }
}

impl TrustedProxies {
    /// Parses networks written as an address with an optional prefix length
    /// (`10.0.0.0/8`, `192.168.1.7`, `fd00::/8`); empty entries are skipped.
    ///
    /// # Errors
    /// The first value that is not a network.
    pub fn parse<I>(values: I) -> Result<Self, CidrError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut out = Vec::new();
        for value in values {
            let value = value.as_ref().trim();
            if !value.is_empty() {
                out.push(Cidr::parse(value).ok_or_else(|| CidrError { value: value.to_owned() })?);
            }
        }
        Ok(Self(out))
    }

    /// Whether an address is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the
    /// right-most `X-Forwarded-For` address that is not itself a trusted proxy (every proxy
    /// appends the address it was reached from, so only the entries our own proxies added,
    /// read from the right, can be believed). An entry that is not an address stops the
    /// walk at the last address vouched for.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> IpAddr {
        let mut ip = peer.to_canonical();
        if !self.contains(ip) {
            return ip;
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).map(str::trim).collect();
        for hop in hops.into_iter().rev() {
            let parsed =
                hop.parse::<IpAddr>().or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()));
            let Ok(hop) = parsed else { break };
            ip = hop.to_canonical();
            if !self.contains(ip) {
                break;
            }
        }
        ip
    }
}

impl std::fmt::Display for CidrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trusted proxy `{}` is not a network: expected an IPv4 or IPv6 address with an \
             optional prefix length, such as `10.0.0.0/8`, `192.168.1.7` or `fd00::/8`",
            self.value
        )
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().ok()?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
        };
        Some(Self { address, prefix })
    }

    fn contains(self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The address a request came from, as the security layer worked it out (loopback when
/// unknown, as in router tests).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientIp(pub(crate) IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Self>().copied().unwrap_or(Self(IpAddr::from([127, 0, 0, 1]))))
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
    /// "Reports" (Corterum: any report feature).
    pub(crate) reports: bool,
    /// "Users" (anyone who may view the users of some organisation: coordinators see
    /// their organisation's and its managing agents' users there).
    pub(crate) users: bool,
    /// The navigation item the request's page is under, marked `aria-current`.
    pub(crate) current: crate::view::Section,
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

/// The request id, for pages to show (error pages ask people to quote it).
#[derive(Clone, Debug, Default)]
pub(crate) struct Reference(pub(crate) String);

/// A request's signed-in user, or a redirect to sign in.
#[derive(Clone, Debug)]
pub(crate) struct Signed(pub(crate) Viewer, pub(crate) Csrf, pub(crate) Reference);

/// A request's signed-in user if any.
#[derive(Clone, Debug)]
pub(crate) struct MaybeSigned(pub(crate) Option<Viewer>, pub(crate) Csrf, pub(crate) Reference);

/// A session part-way through signing in (issue 14): the password passed, and a code or
/// setting up a second factor is next. It is not signed in: the layer lets it reach only
/// the routes marked [`crate::routes::Access::SigningIn`] (and the stylesheets), and
/// sends every other request to the page its stage asks for.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub(crate) live: Live,
    pub(crate) user: User,
}

/// A request's session part-way through signing in; anything else is sent to sign in
/// (signed out) or home (signed in).
#[derive(Clone, Debug)]
pub(crate) struct SigningIn(pub(crate) Pending, pub(crate) Csrf, pub(crate) Reference);

impl SigningIn {
    pub(crate) fn chrome(&self, title: &str) -> Chrome {
        Chrome::new(title, None, &self.1, &self.2)
    }
}

impl Pending {
    /// The page this session's stage asks for before anything else.
    pub(crate) fn next_page(&self) -> &'static str {
        match self.live.stage {
            tenure_core::SessionStage::MustSetUp => crate::second_factor::SET_UP_AT_SIGN_IN,
            _ => crate::second_factor::CODE_PAGE,
        }
    }
}

/// Whether a session part-way through signing in may reach this path: the routes marked
/// for it in the registry, and the stylesheets.
fn reachable_while_signing_in(path: &str) -> bool {
    path.starts_with("/assets/")
        || crate::routes::ALL
            .iter()
            .any(|r| r.access == crate::routes::Access::SigningIn && r.path == path)
}

impl Signed {
    pub(crate) fn chrome(&self, title: &str) -> Chrome {
        Chrome::new(title, Some(&self.0), &self.1, &self.2)
    }
}

impl MaybeSigned {
    pub(crate) fn chrome(&self, title: &str) -> Chrome {
        Chrome::new(title, self.0.as_ref(), &self.1, &self.2)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let csrf = parts.extensions.get::<Csrf>().cloned().unwrap_or(Csrf(String::new()));
        let reference = Reference(request_log::request_id(&parts.extensions));
        match parts.extensions.get::<Viewer>() {
            Some(v) => Ok(Self(v.clone(), csrf, reference)),
            None => Err(Redirect::to("/account/sign-in").into_response()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SigningIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let csrf = parts.extensions.get::<Csrf>().cloned().unwrap_or(Csrf(String::new()));
        let reference = Reference(request_log::request_id(&parts.extensions));
        match (parts.extensions.get::<Pending>(), parts.extensions.get::<Viewer>()) {
            (Some(p), _) => Ok(Self(p.clone(), csrf, reference)),
            (None, Some(_)) => Err(Redirect::to("/").into_response()),
            (None, None) => Err(Redirect::to("/account/sign-in").into_response()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeSigned {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let csrf = parts.extensions.get::<Csrf>().cloned().unwrap_or(Csrf(String::new()));
        let reference = Reference(request_log::request_id(&parts.extensions));
        Ok(Self(parts.extensions.get::<Viewer>().cloned(), csrf, reference))
    }
}

/// The session cookie for a token.
pub(crate) fn session_cookie(app: &App, token: String) -> Cookie<'static> {
    cookie(app, session_cookie_name(app), token)
}

/// The session cookie's name: `__Host-` prefixed when cookies are `Secure`.
fn session_cookie_name(app: &App) -> &'static str {
    if app.config.secure_cookies { HOST_SESSION_COOKIE } else { SESSION_COOKIE }
}

/// The anonymous CSRF cookie's name: `__Host-` prefixed when cookies are `Secure`.
fn csrf_cookie_name(app: &App) -> &'static str {
    if app.config.secure_cookies { HOST_CSRF_COOKIE } else { CSRF_COOKIE }
}

/// A cookie of ours: the whole site, no `Domain`, script cannot read it, `SameSite=Lax`
/// said explicitly (links from emails must still arrive signed in), and `Secure` when the
/// service is on HTTPS.
fn cookie(app: &App, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
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

/// What a request's session cookie turned out to be.
enum Session {
    /// None, or one that no longer works.
    None,
    /// Signed in.
    Signed(Viewer),
    /// Part-way through signing in.
    Pending(Pending),
}

/// Loads the signed-in user: the session must be live and its user and organisation
/// active; otherwise the session is ended and the request is anonymous. The session and
/// one snapshot come in one read, and the snapshot serves the check, the header and the
/// handler's decisions about the viewer's own organisation. A session part-way through
/// signing in (a code or a set-up next) is no viewer: it is [`Session::Pending`].
///
/// # Errors
/// [`BackendError`] when the session cannot be read or ended: the request fails (a 500,
/// its cause logged) rather than go on signed out, which would also remove the cookie of
/// a session that may be fine.
async fn viewer(app: &App, token: &str) -> Result<Session, BackendError> {
    let Some((live, world)) = app.services.sessions.resume_with_snapshot(token).await? else {
        return Ok(Session::None);
    };
    let usable = world.user(live.user).filter(|u| {
        u.active
            && !u.roles.is_empty()
            && world.organisation(u.organisation).is_some_and(|o| o.active)
    });
    let Some(user) = usable.cloned() else {
        app.services.sessions.end(&live).await?;
        return Ok(Session::None);
    };
    if !live.stage.is_signed_in() {
        return Ok(Session::Pending(Pending { live, user }));
    }
    let me = user.id;
    let own = Resource::Organisation(user.organisation);
    let nav = Nav {
        admin: world
            .decide(&EngineRequest::new(me, Action::OrganisationListAll, Resource::Service))
            .is_allowed(),
        organisation: world
            .decide(&EngineRequest::new(me, Action::OrganisationEditDetails, own))
            .is_allowed()
            .then_some(user.organisation)
            .filter(|&org| world.core_serves(me, org)),
        logs: !world.scope(me, Action::LogView).is_nothing(),
        users: {
            let users = world.scope(me, Action::UserView).on_core_screens();
            users.everything || !users.organisations.is_empty()
        },
        current: crate::view::Section::None,
        records: !world.entity_scope(me, Action::EntityView, None).is_nothing(),
        administration: Feature::ADMINISTRATION.iter().any(|&f| {
            world
                .decide(&EngineRequest::new(me, Action::FeatureUse, Resource::Feature(f)))
                .is_allowed()
        }),
        reports: tenure_domain::report::Report::ALL.iter().any(|r| {
            let feature = Resource::Feature(r.feature());
            world.decide(&EngineRequest::new(me, Action::FeatureUse, feature)).is_allowed()
        }),
    };
    Ok(Session::Signed(Viewer { user, live, nav, world: Arc::new(world) }))
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

fn cross_site_page(chrome: Chrome) -> Response {
    let page = view::Message {
        chrome,
        heading: "This form came from another website".to_owned(),
        body: vec![
            "For your security, forms sent from other websites are refused.".to_owned(),
            "Nothing was changed. Open this service's page yourself and try again.".to_owned(),
        ],
    };
    (StatusCode::FORBIDDEN, view::render(&page)).into_response()
}

fn too_large_page(chrome: Chrome) -> Response {
    let page = view::Message {
        chrome,
        heading: "This form is too large".to_owned(),
        body: vec![
            "What you sent is larger than this service accepts. Nothing was changed.".to_owned(),
            "Go back, send less at a time and try again.".to_owned(),
        ],
    };
    (StatusCode::PAYLOAD_TOO_LARGE, view::render(&page)).into_response()
}

/// Whether a request changes state, and so must come from this service's own pages.
fn changes_state(method: &Method) -> bool {
    [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
}

/// Whether a state-changing request comes from another site, by fetch metadata: browsers
/// say where a request started in `Sec-Fetch-Site`, which pages cannot forge. Same origin
/// and a person's own navigation (`none`) pass; a sibling site (`same-site`) passes only
/// with this service's `Origin`; anything else is refused. Browsers without fetch metadata
/// are judged by `Origin` when they send it. This comes on top of the CSRF token.
fn cross_site(app: &App, headers: &axum::http::HeaderMap) -> bool {
    let origin = headers.get(header::ORIGIN).map(|o| o.to_str().ok().and_then(origin_of));
    let ours = origin_of(&app.config.base_url);
    let from_us = matches!((&origin, &ours), (Some(Some(o)), Some(ours)) if o == ours);
    match headers.get("sec-fetch-site").map(HeaderValue::as_bytes) {
        Some(b"same-origin" | b"none") => false,
        Some(b"same-site") => !from_us,
        Some(_) => true,
        None => origin.is_some() && !from_us,
    }
}

/// The origin of a URL (`scheme://host[:port]`), lower case, without the scheme's default
/// port, as browsers write `Origin`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("https", Some((host, "443"))) | ("http", Some((host, "80"))) => host.to_owned(),
        _ => authority,
    };
    (!scheme.is_empty() && !authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

/// The layer: works out the client's address, refuses cross-site state changes and
/// bodies over the limit, resolves the session, checks CSRF on every `POST`, and adds the
/// security headers to every response.
pub(crate) async fn guard(State(app): State<App>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
    let forwarded = parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let client = app.config.trusted_proxies.client_ip(peer, forwarded);
    parts.extensions.insert(ClientIp(client));
    let jar = CookieJar::from_headers(&parts.headers);
    let session = jar.get(session_cookie_name(&app));
    let reference = Reference(request_log::request_id(&parts.extensions));
    // The problem page, its cause logged, for a backend failure before the handler runs:
    // nobody is signed in or out by it, and no cookie is set or removed.
    let failed = |e: &BackendError| {
        let chrome = Chrome::new(
            "Sorry, there is a problem with the service",
            None,
            &Csrf(String::new()),
            &reference,
        );
        with_headers(&app, view::backend(chrome, e))
    };
    let (mut viewer, pending) = match session {
        Some(c) => match viewer(&app, c.value()).await {
            Ok(Session::Signed(v)) => (Some(v), None),
            Ok(Session::Pending(p)) => (None, Some(p)),
            Ok(Session::None) => (None, None),
            Err(e) => return failed(&e),
        },
        None => (None, None),
    };
    if let Some(v) = &mut viewer {
        v.nav.current = crate::view::section(parts.uri.path(), v.nav.organisation);
    }
    if let Some(v) = &viewer {
        request_log::record_user(v.user.id);
    }
    let mut new_cookie = None;
    let csrf = match (&viewer, jar.get(csrf_cookie_name(&app))) {
        (Some(v), _) => v.live.csrf.clone(),
        (None, _) if pending.is_some() => {
            pending.as_ref().map(|p| p.live.csrf.clone()).unwrap_or_default()
        }
        (None, Some(c)) if !c.value().is_empty() => c.value().to_owned(),
        (None, _) => {
            let token = match app.services.sessions.anonymous_csrf() {
                Ok(token) => token,
                Err(e) => return failed(&e),
            };
            new_cookie = Some(token.clone());
            token
        }
    };
    let csrf = Csrf(csrf);
    let stale_session = viewer.is_none() && pending.is_none() && session.is_some();
    let refuse = |page: fn(Chrome) -> Response, title: &str| {
        let mut response = page(Chrome::new(title, viewer.as_ref(), &csrf, &reference));
        add_cookies(&app, &mut response, new_cookie.clone(), stale_session);
        with_headers(&app, response)
    };

    if changes_state(&parts.method) && cross_site(&app, &parts.headers) {
        return refuse(cross_site_page, "This form came from another website");
    }
    // Part-way through signing in, nothing but the code or set-up pages (and signing
    // out from them) is reachable: every other request goes to the page the stage asks
    // for, changing nothing.
    if let Some(p) = &pending {
        if !reachable_while_signing_in(parts.uri.path()) {
            return with_headers(&app, Redirect::to(p.next_page()).into_response());
        }
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return refuse(too_large_page, "This form is too large");
    }
    let body = if parts.method == Method::POST {
        let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
            return refuse(too_large_page, "This form is too large");
        };
        let given = form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v);
        let ok = new_cookie.is_none()
            && given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(csrf.0.as_bytes())));
        if !ok {
            let chrome = Chrome::new("This page has expired", viewer.as_ref(), &csrf, &reference);
            let mut response = forbidden_form(chrome);
            add_cookies(&app, &mut response, new_cookie, stale_session);
            return with_headers(&app, response);
        }
        Body::from(bytes)
    } else {
        body
    };
    if let Some(v) = viewer {
        parts.extensions.insert(v);
    }
    if let Some(p) = pending {
        parts.extensions.insert(p);
    }
    parts.extensions.insert(csrf);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    add_cookies(&app, &mut response, new_cookie, stale_session);
    with_headers(&app, response)
}

fn add_cookies(app: &App, response: &mut Response, csrf: Option<String>, stale: bool) {
    let mut cookies = Vec::new();
    if let Some(token) = csrf {
        cookies.push(cookie(app, csrf_cookie_name(app), token));
    }
    // A session cookie that no longer works is removed, unless the handler set a new one.
    let name = format!("{}=", session_cookie_name(app));
    let sets_session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with(&name)));
    if stale && !sets_session {
        cookies.push(removed_session_cookie(app));
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// The security headers every response carries, and HSTS when the service is on HTTPS.
fn with_headers(app: &App, mut response: Response) -> Response {
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
    if app.config.secure_cookies {
        set(h, header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}

/// The 503 page when password checking is at capacity, with a hint to retry.
pub(crate) fn busy(chrome: Chrome) -> Response {
    let mut body = vec![
        "Too many people are signing in right now. Nothing was changed.".to_owned(),
        "Wait a minute and try again.".to_owned(),
    ];
    body.extend(view::quote(&chrome));
    let page = view::Message { chrome, heading: "Sorry, the service is busy".to_owned(), body };
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, view::render(&page)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// The 429 page for a rate-limited request: when to try again, in words and in
/// `Retry-After`.
pub(crate) fn too_many(chrome: Chrome, retry_after_secs: u64) -> Response {
    let secs = retry_after_secs.max(1);
    let page = view::Message {
        chrome,
        heading: "Too many attempts".to_owned(),
        body: vec![
            "You have tried this too many times in a short while. Nothing was changed.".to_owned(),
            format!("Try again in {}.", wait_in_words(secs)),
        ],
    };
    let mut response = (StatusCode::TOO_MANY_REQUESTS, view::render(&page)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// A wait, rounded up to what people say: seconds under a minute, then minutes, then
/// hours.
fn wait_in_words(secs: u64) -> String {
    let plural =
        |n: u64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    match secs {
        0..60 => plural(secs, "second"),
        60..7200 => plural(secs.div_ceil(60), "minute"),
        _ => plural(secs.div_ceil(3600), "hour"),
    }
}
