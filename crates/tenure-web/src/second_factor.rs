//! The second factor's pages (issue 14), after GOV.UK One Login's "Enter a security
//! code" and "Set up an authenticator app" patterns:
//!
//! - signing in in two steps: after the password, the code page (a code from the
//!   authenticator app, or a recovery code, in the same box), or, for someone whose role
//!   requires a second factor and who has none, the set-up page; the session is not
//!   signed in until then and the security layer lets it reach nothing else;
//! - Your account: set up an authenticator app (a QR code drawn on the server as SVG and
//!   the key as text; done only once a right code is entered), then the ten recovery
//!   codes shown once; new recovery codes; removing one's own, with a code, unless a role
//!   requires one (the engine decides, and the button is absent then);
//! - an administrator removing someone's (a lost device), from the user's page;
//! - "Confirm it's you": a sensitive change (one's email, password or second factor, an
//!   organisation's deactivation or merge) needs a sign-in or code within 15 minutes
//!   ([`tenure_core::Sessions::is_recent`]); otherwise [`recent_or_prompt`] sends the
//!   person here, and a password (and code) brings them back where they were, to a local
//!   path only ([`safe_return`]).
//!
//! Every rule is the services' and the engine's: handlers parse, call one service and
//! render.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use tenure_core::limits::{LimitKey, LimitKind, Verdict};
use tenure_core::{CodeError, ManageError, SetupError, StateError};
use tenure_domain::{Action, Request, Resource, RoleCatalogue, UserId};

use crate::App;
use crate::account::CsrfOnly;
use crate::form::{Form, Path, Query};
use crate::security::{self, ClientIp, Signed, SigningIn};
use crate::view::{self, Chrome, Errors, OrPage, PageError};

/// The code page of signing in.
pub(crate) const CODE_PAGE: &str = "/account/sign-in/code";
/// The set-up page of signing in, for someone whose role requires a second factor.
pub(crate) const SET_UP_AT_SIGN_IN: &str = "/account/sign-in/set-up";
/// "Confirm it's you": the password (and code) again before a sensitive change.
pub(crate) const CONFIRM_IDENTITY: &str = "/account/confirm-identity";
/// Where a return path that is not safe sends people instead.
const HOME: &str = "/account";

const CODE_MISSING: &str = "Enter the 6 digit security code from your authenticator app";
const CODE_WRONG: &str = "The security code is not right. Enter the 6 digit code your authenticator app shows now, or one of your recovery codes";
const SET_UP_WRONG: &str = "The security code is not right. Enter the 6 digit code your authenticator app shows for Tenure";

#[derive(Template)]
#[template(path = "second_factor_code.html")]
struct CodePage {
    chrome: Chrome,
    errors: Errors,
    heading: &'static str,
    intro: &'static str,
    action: &'static str,
    button: &'static str,
    warning: bool,
    /// Signing in: "Sign out" instead of "Cancel".
    signing_in: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeForm {
    code: String,
}

/// The per-address limit of the code page and "Confirm it's you" (shared by every
/// instance): guessing codes from one address is slowed whoever's they are.
async fn within_limit(app: &App, ip: ClientIp, chrome: &Chrome) -> Result<(), Response> {
    match app.services.limits.hit(LimitKind::SecondFactorAddress, &LimitKey::address(ip.0)).await {
        Ok(Verdict::Allowed) => Ok(()),
        Ok(refused) => Err(security::too_many(chrome.clone(), refused.retry_after_secs())),
        Err(e) => Err(view::backend(chrome.clone(), &e)),
    }
}

fn sign_in_code_page(chrome: Chrome, errors: Errors) -> Response {
    view::render(&CodePage {
        chrome: chrome.with_errors(&errors),
        errors,
        heading: "Enter a security code",
        intro: "Enter the 6 digit security code shown in your authenticator app.",
        action: CODE_PAGE,
        button: "Continue",
        warning: false,
        signing_in: true,
    })
}

pub(crate) async fn code_page(pending: SigningIn) -> Response {
    if pending.0.next_page() != CODE_PAGE {
        return Redirect::to(pending.0.next_page()).into_response();
    }
    sign_in_code_page(pending.chrome("Enter a security code"), Errors::default())
}

/// The second step of signing in: a code (or a recovery code) moves the session on to
/// signed in under a fresh id. A wrong one counts towards the account's lockout (the
/// service's), and the page has its own per-address limit.
pub(crate) async fn code(
    State(app): State<App>,
    ip: ClientIp,
    pending: SigningIn,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Response {
    let chrome = pending.chrome("Enter a security code");
    if let Err(refused) = within_limit(&app, ip, &chrome).await {
        return refused;
    }
    if form.code.trim().is_empty() {
        return sign_in_code_page(chrome, Errors::one("code", CODE_MISSING));
    }
    // The service hits the per-account limit on codes before checking one.
    match app.services.second_factors.verify_sign_in(&pending.0.live, &form.code).await {
        Ok(token) => {
            (jar.add(security::session_cookie(&app, token)), Redirect::to("/logs")).into_response()
        }
        Err(CodeError::Incorrect | CodeError::NotRecent) => {
            sign_in_code_page(chrome, Errors::one("code", CODE_WRONG))
        }
        Err(CodeError::TooMany { retry_after_secs }) => {
            security::too_many(chrome, retry_after_secs)
        }
        Err(CodeError::Backend(e)) => view::backend(chrome, &e),
    }
}

/// Leaves signing in part-way: the session ends (if it cannot, a 500 with its cause
/// logged and the cookie left alone: the part-way session is still live).
pub(crate) async fn cancel(
    State(app): State<App>,
    pending: SigningIn,
    jar: CookieJar,
    Form(_): Form<CsrfOnly>,
) -> Response {
    if let Err(e) = app.services.sessions.end(&pending.0.live).await {
        return view::backend(pending.chrome("Sign in"), &e);
    }
    (
        jar.add(security::removed_session_cookie(&app)),
        Redirect::to("/account/sign-in?done=signed-out"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "second_factor_set_up.html")]
struct SetUpPage {
    chrome: Chrome,
    errors: Errors,
    action: &'static str,
    /// The role that requires a second factor, when one does.
    required_by: String,
    /// The QR code, drawn on the server (an inline SVG with a text alternative).
    qr: String,
    /// The key as people type it, in groups of four.
    key: String,
    /// The `otpauth://` URI, carried back so a wrong code shows the same key again.
    uri: String,
    signing_in: bool,
}

/// A set-up page's form: the code, and the key being set up (shown again after a wrong
/// code: only the stored, sealed key counts, so a changed one sets up nothing).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetUpForm {
    code: String,
    uri: String,
}

/// The QR code of an `otpauth://` URI as an inline SVG image with a text alternative;
/// empty when it cannot be drawn.
fn qr_svg(uri: &str) -> String {
    let Ok(code) = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M) else {
        return String::new();
    };
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#0b0c0c"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    // The XML declaration does not belong inside HTML; the image gets its name.
    svg.find("<svg").map_or_else(String::new, |at| {
        svg[at..].replacen(
            "<svg ",
            "<svg role=\"img\" aria-label=\"QR code for your authenticator app\" focusable=\"false\" ",
            1,
        )
    })
}

/// The key of an `otpauth://` URI the service made, in groups of four for reading; `None`
/// for anything else (a changed form).
fn key_of(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("otpauth://totp/")?;
    let query = rest.split_once('?')?.1;
    let key = query.split('&').find_map(|p| p.strip_prefix("secret="))?;
    let valid = !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    valid.then(|| {
        key.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// Why the person must set one up, in words: the role that requires it.
async fn required_by(app: &App, user: UserId) -> Result<String, tenure_core::BackendError> {
    let status = app.services.second_factors.status(user).await?;
    Ok(match status.demand {
        tenure_domain::second_factor::Demand::Required(role) => {
            RoleCatalogue::core().get(role).map_or_else(String::new, |r| r.name.clone())
        }
        tenure_domain::second_factor::Demand::Optional => String::new(),
    })
}

/// The same chrome under another title.
fn titled(mut chrome: Chrome, title: &str) -> Chrome {
    title.clone_into(&mut chrome.title);
    chrome
}

fn set_up_form(
    chrome: Chrome,
    errors: Errors,
    action: &'static str,
    required_by: String,
    uri: &str,
    signing_in: bool,
) -> Response {
    view::render(&SetUpPage {
        chrome: chrome.with_errors(&errors),
        errors,
        action,
        required_by,
        qr: qr_svg(uri),
        key: key_of(uri).unwrap_or_default(),
        uri: uri.to_owned(),
        signing_in,
    })
}

pub(crate) async fn set_up_at_sign_in_page(State(app): State<App>, pending: SigningIn) -> Response {
    if pending.0.next_page() != SET_UP_AT_SIGN_IN {
        return Redirect::to(pending.0.next_page()).into_response();
    }
    let chrome = pending.chrome("Set up an authenticator app");
    let user = pending.0.user.id;
    let role = match required_by(&app, user).await {
        Ok(role) => role,
        Err(e) => return view::backend(chrome, &e),
    };
    match app.services.second_factors.begin_setup(user).await {
        Ok(start) => {
            set_up_form(chrome, Errors::default(), SET_UP_AT_SIGN_IN, role, &start.uri, true)
        }
        Err(e) => setup_refused(chrome, e),
    }
}

fn setup_refused(chrome: Chrome, e: SetupError) -> Response {
    match e {
        SetupError::Backend(e) => view::backend(chrome, &e),
        other => view::forbidden_page(chrome, &other.to_string()),
    }
}

/// Finishes a set-up: the right code puts it in force, then the recovery codes show,
/// once. At sign-in the session is signed in under a fresh id as well.
async fn finish_set_up(
    app: &App,
    live: &tenure_core::Live,
    form: &SetUpForm,
    chrome: Chrome,
    page: impl FnOnce(Chrome, Errors) -> Response,
    next: &'static str,
    jar: CookieJar,
) -> Response {
    if form.code.trim().is_empty() {
        return page(chrome, Errors::one("code", CODE_MISSING));
    }
    match app.services.second_factors.confirm_setup(live, &form.code).await {
        Ok(done) => {
            let codes = view::render(&RecoveryCodesPage {
                chrome: titled(chrome.clone(), "Save your recovery codes"),
                codes: done.recovery_codes.0,
                intro: "Your authenticator app is set up. If you lose your phone or cannot use the app, you can sign in with one of these recovery codes instead.",
                next,
            });
            match done.token {
                Some(token) => {
                    (jar.add(security::session_cookie(app, token)), codes).into_response()
                }
                None => codes,
            }
        }
        Err(SetupError::Incorrect) => page(chrome, Errors::one("code", SET_UP_WRONG)),
        Err(SetupError::NotRecent) => prompt("/account/second-factor/set-up"),
        Err(SetupError::NotStarted) => Redirect::to(if next == "/logs" {
            SET_UP_AT_SIGN_IN
        } else {
            "/account/second-factor/set-up"
        })
        .into_response(),
        Err(e) => setup_refused(chrome, e),
    }
}

pub(crate) async fn set_up_at_sign_in(
    State(app): State<App>,
    pending: SigningIn,
    jar: CookieJar,
    Form(form): Form<SetUpForm>,
) -> Response {
    let chrome = pending.chrome("Set up an authenticator app");
    let role = match required_by(&app, pending.0.user.id).await {
        Ok(role) => role,
        Err(e) => return view::backend(chrome, &e),
    };
    let uri = form.uri.clone();
    let again =
        move |chrome, errors| set_up_form(chrome, errors, SET_UP_AT_SIGN_IN, role, &uri, true);
    finish_set_up(&app, &pending.0.live, &form, chrome, again, "/logs", jar).await
}

#[derive(Template)]
#[template(path = "second_factor_recovery_codes.html")]
struct RecoveryCodesPage {
    chrome: Chrome,
    codes: Vec<String>,
    intro: &'static str,
    next: &'static str,
}

/// The recent-sign-in gate: `None` when the viewer signed in (or proved who they are)
/// within 15 minutes; otherwise the redirect to "Confirm it's you", which brings them
/// back to `back_to` (a local path of ours).
pub(crate) fn recent_or_prompt(app: &App, viewer: &Signed, back_to: &str) -> Option<Response> {
    if app.services.sessions.is_recent(&viewer.0.live) {
        return None;
    }
    Some(prompt(back_to))
}

/// "Confirm it's you", then back to `back_to`: what a service's refusal for want of a
/// recent sign-in turns into.
fn prompt(back_to: &str) -> Response {
    let back: String =
        form_urlencoded::byte_serialize(safe_return(Some(back_to)).as_bytes()).collect();
    Redirect::to(&format!("{CONFIRM_IDENTITY}?return={back}")).into_response()
}

/// A return path that stays on this service: a path starting with one `/` (not `//`,
/// not `/\`, which browsers read as another host), of plain URL characters only (no
/// scheme, no backslash, no control or white space); anything else is Your account.
pub(crate) fn safe_return(path: Option<&str>) -> &str {
    match path {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && p.len() <= 512
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.~?=&%+".contains(&b)) =>
        {
            p
        }
        _ => HOME,
    }
}

pub(crate) async fn set_up_page_for(app: &App, viewer: &Signed) -> Response {
    let chrome = viewer.chrome("Set up an authenticator app");
    let user = viewer.0.user.id;
    let role = match required_by(app, user).await {
        Ok(role) => role,
        Err(e) => return view::backend(chrome, &e),
    };
    match app.services.second_factors.begin_setup(user).await {
        Ok(start) => set_up_form(
            chrome,
            Errors::default(),
            "/account/second-factor/set-up",
            role,
            &start.uri,
            false,
        ),
        Err(SetupError::AlreadySetUp) => Redirect::to(HOME).into_response(),
        Err(e) => setup_refused(chrome, e),
    }
}

pub(crate) async fn set_up_page(State(app): State<App>, viewer: Signed) -> Response {
    if let Some(prompt) = recent_or_prompt(&app, &viewer, "/account/second-factor/set-up") {
        return prompt;
    }
    set_up_page_for(&app, &viewer).await
}

pub(crate) async fn set_up(
    State(app): State<App>,
    viewer: Signed,
    jar: CookieJar,
    Form(form): Form<SetUpForm>,
) -> Response {
    if let Some(prompt) = recent_or_prompt(&app, &viewer, "/account/second-factor/set-up") {
        return prompt;
    }
    let chrome = viewer.chrome("Set up an authenticator app");
    let role = match required_by(&app, viewer.0.user.id).await {
        Ok(role) => role,
        Err(e) => return view::backend(chrome, &e),
    };
    let uri = form.uri.clone();
    let again = move |chrome, errors| {
        set_up_form(chrome, errors, "/account/second-factor/set-up", role, &uri, false)
    };
    let next = "/account?done=second-factor";
    finish_set_up(&app, &viewer.0.live, &form, chrome, again, next, jar).await
}

fn new_codes_page(chrome: Chrome, errors: Errors) -> Response {
    view::render(&CodePage {
        chrome: chrome.with_errors(&errors),
        errors,
        heading: "Get new recovery codes",
        intro: "Your recovery codes will be replaced by ten new ones: the old ones stop working. Enter the 6 digit security code shown in your authenticator app, or one of your recovery codes.",
        action: "/account/second-factor/recovery-codes",
        button: "Get new recovery codes",
        warning: false,
        signing_in: false,
    })
}

pub(crate) async fn recovery_codes_page(State(app): State<App>, viewer: Signed) -> Response {
    if let Some(prompt) = recent_or_prompt(&app, &viewer, "/account/second-factor/recovery-codes") {
        return prompt;
    }
    new_codes_page(viewer.chrome("Get new recovery codes"), Errors::default())
}

pub(crate) async fn recovery_codes(
    State(app): State<App>,
    ip: ClientIp,
    viewer: Signed,
    Form(form): Form<CodeForm>,
) -> Response {
    if let Some(prompt) = recent_or_prompt(&app, &viewer, "/account/second-factor/recovery-codes") {
        return prompt;
    }
    let chrome = viewer.chrome("Get new recovery codes");
    if let Err(refused) = within_limit(&app, ip, &chrome).await {
        return refused;
    }
    if form.code.trim().is_empty() {
        return new_codes_page(chrome, Errors::one("code", CODE_MISSING));
    }
    match app.services.second_factors.replace_recovery_codes(&viewer.0.live, &form.code).await {
        Ok(codes) => view::render(&RecoveryCodesPage {
            chrome: titled(chrome, "Save your new recovery codes"),
            codes: codes.0,
            intro: "These replace your old recovery codes, which no longer work.",
            next: HOME,
        }),
        Err(CodeError::Incorrect) => new_codes_page(chrome, Errors::one("code", CODE_WRONG)),
        Err(CodeError::NotRecent) => prompt("/account/second-factor/recovery-codes"),
        Err(CodeError::TooMany { retry_after_secs }) => {
            security::too_many(chrome, retry_after_secs)
        }
        Err(CodeError::Backend(e)) => view::backend(chrome, &e),
    }
}

fn remove_own_page(chrome: Chrome, errors: Errors) -> Response {
    view::render(&CodePage {
        chrome: chrome.with_errors(&errors),
        errors,
        heading: "Remove your authenticator app",
        intro: "You will sign in with your password only, and your recovery codes will stop working. You will be signed out on other devices. Enter the 6 digit security code shown in your authenticator app, or one of your recovery codes.",
        action: "/account/second-factor/remove",
        button: "Remove authenticator app",
        warning: true,
        signing_in: false,
    })
}

pub(crate) async fn remove_page(State(app): State<App>, viewer: Signed) -> Response {
    if let Some(prompt) = recent_or_prompt(&app, &viewer, "/account/second-factor/remove") {
        return prompt;
    }
    let chrome = viewer.chrome("Remove your authenticator app");
    match app.services.second_factors.status(viewer.0.user.id).await {
        Ok(status) if !status.set_up => Redirect::to(HOME).into_response(),
        Ok(status) if !status.may_remove() => view::forbidden_page(
            chrome,
            "your role requires an authenticator app, so you cannot remove yours; if you have lost it, ask an administrator to remove it",
        ),
        Ok(_) => remove_own_page(chrome, Errors::default()),
        Err(e) => view::backend(chrome, &e),
    }
}

pub(crate) async fn remove(
    State(app): State<App>,
    ip: ClientIp,
    viewer: Signed,
    Form(form): Form<CodeForm>,
) -> Response {
    if let Some(prompt) = recent_or_prompt(&app, &viewer, "/account/second-factor/remove") {
        return prompt;
    }
    let chrome = viewer.chrome("Remove your authenticator app");
    if let Err(refused) = within_limit(&app, ip, &chrome).await {
        return refused;
    }
    if form.code.trim().is_empty() {
        return remove_own_page(chrome, Errors::one("code", CODE_MISSING));
    }
    match app.services.second_factors.remove_own(&viewer.0.live, &form.code).await {
        Ok(()) => Redirect::to("/account?done=second-factor-removed").into_response(),
        Err(ManageError::Invalid(_)) => remove_own_page(chrome, Errors::one("code", CODE_WRONG)),
        Err(ManageError::State(StateError::SignInNotRecent)) => {
            prompt("/account/second-factor/remove")
        }
        Err(e) => view::refusal(chrome, &e),
    }
}

#[derive(Template)]
#[template(path = "confirm_identity.html")]
struct ConfirmIdentityPage {
    chrome: Chrome,
    errors: Errors,
    needs_code: bool,
    return_to: String,
}

#[derive(Deserialize)]
pub(crate) struct ReturnQuery {
    #[serde(rename = "return")]
    return_to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmIdentityForm {
    password: String,
    /// Absent when the person has no second factor.
    code: Option<String>,
    #[serde(rename = "return")]
    return_to: String,
}

async fn confirm_identity_form(
    app: &App,
    viewer: &Signed,
    errors: Errors,
    return_to: &str,
) -> Response {
    let chrome = viewer.chrome("Confirm it’s you");
    match app.services.second_factors.status(viewer.0.user.id).await {
        Ok(status) => view::render(&ConfirmIdentityPage {
            chrome: chrome.with_errors(&errors),
            errors,
            needs_code: status.set_up,
            return_to: safe_return(Some(return_to)).to_owned(),
        }),
        Err(e) => view::backend(chrome, &e),
    }
}

pub(crate) async fn confirm_identity_page(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<ReturnQuery>,
) -> Response {
    let back = safe_return(q.return_to.as_deref()).to_owned();
    confirm_identity_form(&app, &viewer, Errors::default(), &back).await
}

/// The password (and a code, when the person has a second factor) again: the session
/// continues under a fresh id, proved now, and the person goes back where they were.
pub(crate) async fn confirm_identity(
    State(app): State<App>,
    ip: ClientIp,
    viewer: Signed,
    jar: CookieJar,
    Form(form): Form<ConfirmIdentityForm>,
) -> Response {
    let back = safe_return(Some(&form.return_to)).to_owned();
    let chrome = viewer.chrome("Confirm it’s you");
    if let Err(refused) = within_limit(&app, ip, &chrome).await {
        return refused;
    }
    if form.password.is_empty() {
        let errors = Errors::one("password", "Enter your password");
        return confirm_identity_form(&app, &viewer, errors, &back).await;
    }
    let needs_code = match app.services.second_factors.status(viewer.0.user.id).await {
        Ok(status) => status.set_up,
        Err(e) => return view::backend(chrome, &e),
    };
    if needs_code && form.code.as_deref().is_none_or(|c| c.trim().is_empty()) {
        let errors = Errors::one("code", CODE_MISSING);
        return confirm_identity_form(&app, &viewer, errors, &back).await;
    }
    let second_factors = &app.services.second_factors;
    let accounts = &app.services.accounts;
    let live = &viewer.0.live;
    match second_factors.reauthenticate(live, accounts, &form.password, form.code.as_deref()).await
    {
        Ok(token) => {
            (jar.add(security::session_cookie(&app, token)), Redirect::to(&back)).into_response()
        }
        Err(CodeError::Incorrect | CodeError::NotRecent) => {
            let message = if needs_code {
                "Enter your correct password and a correct security code"
            } else {
                "Enter your correct password"
            };
            confirm_identity_form(&app, &viewer, Errors::one("password", message), &back).await
        }
        Err(CodeError::TooMany { retry_after_secs }) => {
            security::too_many(chrome, retry_after_secs)
        }
        Err(CodeError::Backend(e)) => view::backend(chrome, &e),
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct RemoveForPage {
    chrome: Chrome,
    heading: String,
    body: Vec<String>,
    action: String,
    version: i64,
    button: &'static str,
    warning: bool,
    back: String,
}

/// The user an administrator asks about, if the engine lets them see the person, and
/// whether it lets them remove the person's second factor.
async fn target(
    app: &App,
    viewer: &Signed,
    id: &str,
) -> Result<(tenure_domain::User, bool), PageError> {
    let not_found = viewer.chrome("Page not found");
    let id = uuid::Uuid::parse_str(id)
        .map(UserId::from_uuid)
        .map_err(|_| PageError::not_found(&not_found))?;
    let found = app.services.manage.user_for(viewer.0.user.id, id).await.or_page(&not_found)?;
    let request =
        Request::new(viewer.0.user.id, Action::UserRemoveSecondFactor, Resource::User(id));
    let decision = found.world.decide(&request);
    if decision.conceals() {
        return Err(PageError::not_found(&not_found));
    }
    Ok((found.value.value, decision.is_allowed()))
}

/// What the confirmation page and its form both check before anything else, in this
/// order: the person (not found when the engine conceals them), one's own sent to Your
/// account (removed there, with a code), the engine's permission, then a recent sign-in.
/// Whether the person has an app is looked at only after this, so it is told only to
/// those who may remove it. `Ok(Err(response))` is the answer when a check stops it.
async fn removal_gate(
    app: &App,
    viewer: &Signed,
    id: &str,
) -> Result<Result<(tenure_domain::User, Chrome), Response>, PageError> {
    let (user, allowed) = target(app, viewer, id).await?;
    if user.id == viewer.0.user.id {
        return Ok(Err(Redirect::to("/account/second-factor/remove").into_response()));
    }
    let chrome = viewer.chrome("Remove their authenticator app");
    if !allowed {
        return Ok(Err(view::forbidden_page(
            chrome,
            "you cannot remove this person's authenticator app",
        )));
    }
    let back = format!("/users/{}/remove-second-factor", user.id);
    if let Some(prompt) = recent_or_prompt(app, viewer, &back) {
        return Ok(Err(prompt));
    }
    Ok(Ok((user, chrome)))
}

pub(crate) async fn remove_for_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (user, chrome) = match removal_gate(&app, &viewer, &id).await? {
        Ok(passed) => passed,
        Err(stopped) => return Ok(stopped),
    };
    let status = app.services.second_factors.status(user.id).await.or_page(&chrome)?;
    let back = format!("/users/{}", user.id);
    if !status.set_up {
        return Ok(view::render(&view::Message {
            chrome,
            heading: format!("{} has no authenticator app set up", user.name),
            body: vec!["There is nothing to remove.".to_owned()],
        }));
    }
    Ok(view::render(&RemoveForPage {
        chrome,
        heading: format!("Remove {}’s authenticator app?", user.name),
        body: vec![
            "Do this when they have lost their phone or cannot use their authenticator app. Their recovery codes stop working too.".to_owned(),
            "They will be signed out everywhere and emailed. If their role requires an authenticator app, they will set up a new one when they next sign in.".to_owned(),
        ],
        action: format!("{back}/remove-second-factor"),
        version: 0,
        button: "Remove authenticator app",
        warning: true,
        back,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoveForForm {
    /// The confirmation page's form carries it; nothing is versioned here.
    #[serde(rename = "version")]
    _version: Option<String>,
}

pub(crate) async fn remove_for(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(_): Form<RemoveForForm>,
) -> Result<Response, PageError> {
    let (user, chrome) = match removal_gate(&app, &viewer, &id).await? {
        Ok(passed) => passed,
        Err(stopped) => return Ok(stopped),
    };
    // Only one in force is removed (the service's `false`: nothing to remove).
    let removed =
        app.services.second_factors.remove_for(viewer.0.user.id, user.id).await.or_page(&chrome)?;
    let done = if removed { "?done=second-factor-removed" } else { "" };
    Ok(Redirect::to(&format!("/users/{}{done}", user.id)).into_response())
}
