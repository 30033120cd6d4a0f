//! The account pages: sign in and out, create an account from an invitation, reset a
//! password, your account, your details and password, confirming a new email address.
//! Signing in is in two steps when the person has (or must have) a second factor: the
//! password here starts a session that is not yet signed in, and `second_factor.rs`
//! takes it from there.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use tenure_core::limits::{LimitKey, LimitKind, Verdict};
use tenure_core::{ChangePasswordError, ManageError, ResetError, SignInError, UserChanges};
use tenure_domain::second_factor::Step;
use tenure_domain::{Action, Resource, RoleCatalogue};

use crate::form::{Form, Query};
use crate::security::{self, ClientIp, MaybeSigned, Signed};
use crate::users::allowed;
use crate::view::{self, Chrome, Errors, OrPage, OrPages, PageError};
use crate::{App, second_factor};

/// A success message chosen by a fixed key, so nothing typed is ever reflected.
fn done_message(done: Option<&str>) -> &'static str {
    match done {
        Some("created") => "Your account has been created. Sign in to continue.",
        Some("reset") => "Your password has been reset. Sign in with your new password.",
        Some("signed-out") => "You have been signed out.",
        Some("everywhere") => "You have been signed out on every device.",
        Some("email") => "Your email address has been changed.",
        Some("details") => "Your details have been updated.",
        Some("email-sent") => {
            "Check your new email address: we have sent a link to confirm it. Your old address stays until you do."
        }
        Some("password") => {
            "Your password has been changed. You have been signed out on other devices."
        }
        Some("second-factor") => "Your authenticator app is set up.",
        Some("second-factor-removed") => {
            "Your authenticator app has been removed. You have been signed out on other devices."
        }
        _ => "",
    }
}

#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

/// The home page: logs for the signed in, sign in for everyone else.
pub(crate) async fn home(viewer: MaybeSigned) -> Redirect {
    if viewer.0.is_some() { Redirect::to("/logs") } else { Redirect::to("/account/sign-in") }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    errors: Errors,
    email: String,
    banner: &'static str,
    /// The heading, naming the service's purpose (`WebConfig::sign_in_heading`).
    heading: String,
}

pub(crate) async fn sign_in_page(
    State(app): State<App>,
    viewer: MaybeSigned,
    Query(q): Query<Done>,
) -> Response {
    if viewer.0.is_some() && q.done.is_none() {
        return Redirect::to("/logs").into_response();
    }
    view::render(&SignInPage {
        chrome: viewer.chrome("Sign in"),
        errors: Errors::default(),
        email: String::new(),
        banner: done_message(q.done.as_deref()),
        heading: app.config.sign_in_heading.clone(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignInForm {
    email: String,
    password: String,
}

pub(crate) async fn sign_in(
    State(app): State<App>,
    ip: ClientIp,
    viewer: MaybeSigned,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Response {
    let chrome = viewer.chrome("Too many attempts");
    if let Err(refused) = security::admit(&app, LimitKind::SignInAddress, ip.0, &chrome).await {
        return refused;
    }
    let errors = |field: &str, message: &str| {
        let errors = Errors::one(field, message);
        view::render(&SignInPage {
            chrome: viewer.chrome("Sign in").with_errors(&errors),
            errors,
            email: form.email.clone(),
            banner: "",
            heading: app.config.sign_in_heading.clone(),
        })
    };
    if form.email.trim().is_empty() {
        return errors("email", "Enter your email address");
    }
    if form.password.is_empty() {
        return errors("password", "Enter your password");
    }
    match app.services.accounts.sign_in(&form.email, &form.password).await {
        Ok(user) => {
            // A new session id at every sign-in; any old session ends. If it cannot be
            // ended, nothing goes on: a 500 with its cause logged, the old cookie left as
            // it is (its session is still live, so the person must not be told otherwise).
            if let Some(old) = &viewer.0 {
                if let Err(e) = app.services.sessions.end(&old.live).await {
                    return view::backend(viewer.chrome("Sign in"), &e);
                }
            }
            // The engine says what comes next: nothing (signed in), a security code, or
            // setting one up; until then the session is not signed in.
            match app.services.second_factors.start_session(user).await {
                Ok((token, step)) => {
                    let next = match step {
                        Step::Done => "/logs",
                        Step::Code => second_factor::CODE_PAGE,
                        Step::SetUp(_) => second_factor::SET_UP_AT_SIGN_IN,
                    };
                    (jar.add(security::session_cookie(&app, token)), Redirect::to(next))
                        .into_response()
                }
                Err(e) => view::backend(viewer.chrome("Sign in"), &e),
            }
        }
        Err(SignInError::Refused) => errors("email", "Enter a correct email address and password"),
        Err(SignInError::Busy) => security::busy(viewer.chrome("Sign in")),
        Err(SignInError::Backend(e)) => view::backend(viewer.chrome("Sign in"), &e),
    }
}

/// A form that sends nothing but its CSRF token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CsrfOnly {}

pub(crate) async fn sign_out(
    State(app): State<App>,
    viewer: Signed,
    jar: CookieJar,
    Form(_): Form<CsrfOnly>,
) -> Response {
    // A session that could not be ended is still live: a 500 with its cause logged and
    // the cookie left alone, never "signed out" while it still works.
    if let Err(e) = app.services.sessions.end(&viewer.0.live).await {
        return view::backend(viewer.chrome("Sign out"), &e);
    }
    (
        jar.add(security::removed_session_cookie(&app)),
        Redirect::to("/account/sign-in?done=signed-out"),
    )
        .into_response()
}

pub(crate) async fn sign_out_everywhere(
    State(app): State<App>,
    viewer: Signed,
    jar: CookieJar,
    Form(_): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    app.services
        .sessions
        .end_all(viewer.0.user.id, None)
        .await
        .or_page(&viewer.chrome("Sign out"))?;
    Ok((
        jar.add(security::removed_session_cookie(&app)),
        Redirect::to("/account/sign-in?done=everywhere"),
    )
        .into_response())
}

const PASSWORD_HINT: &str = "Use at least 15 characters. Three or four random words make a good password that is easy to remember. Do not use your name, email address or organisation.";

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    chrome: Chrome,
    errors: Errors,
    heading: String,
    intro: String,
    action: &'static str,
    token: String,
    button: &'static str,
    hint: &'static str,
}

pub(crate) async fn create_page(
    State(app): State<App>,
    viewer: MaybeSigned,
    Query(q): Query<TokenQuery>,
) -> Response {
    let token = q.token.unwrap_or_default();
    match app.services.manage.invitation(&token).await {
        Ok(invitation) => view::render(&SetPasswordPage {
            chrome: viewer.chrome("Create your account"),
            errors: Errors::default(),
            heading: "Create your account".to_owned(),
            intro: format!(
                "{}, you have been invited to join {} with the email address {}. Choose a password to finish setting up your account.",
                invitation.name, invitation.organisation, invitation.email
            ),
            action: "/account/create",
            token,
            button: "Create account",
            hint: PASSWORD_HINT,
        }),
        Err(ManageError::LinkInvalid) => Redirect::to("/account/link-expired").into_response(),
        Err(e) => view::refusal(viewer.chrome("Create your account"), &e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPasswordForm {
    token: String,
    password: String,
    confirm: String,
}

fn password_errors(form: &NewPasswordForm) -> Option<Errors> {
    if form.password.is_empty() {
        Some(Errors::one("password", "Enter a password"))
    } else if form.password != form.confirm {
        Some(Errors::one("confirm", "The passwords do not match"))
    } else {
        None
    }
}

pub(crate) async fn create(
    State(app): State<App>,
    viewer: MaybeSigned,
    Form(form): Form<NewPasswordForm>,
) -> Response {
    let again = |errors: Errors| {
        view::render(&SetPasswordPage {
            chrome: viewer.chrome("Create your account").with_errors(&errors),
            errors,
            heading: "Create your account".to_owned(),
            intro: "Choose a password to finish setting up your account.".to_owned(),
            action: "/account/create",
            token: form.token.clone(),
            button: "Create account",
            hint: PASSWORD_HINT,
        })
    };
    if let Some(errors) = password_errors(&form) {
        return again(errors);
    }
    match app.services.manage.accept_invitation(&form.token, &form.password).await {
        Ok(_) => Redirect::to("/account/sign-in?done=created").into_response(),
        Err(ManageError::Password(e)) => {
            again(Errors::one("password", &view::sentence(&e.to_string())))
        }
        Err(ManageError::LinkInvalid) => Redirect::to("/account/link-expired").into_response(),
        Err(e) => view::refusal(viewer.chrome("Create your account"), &e),
    }
}

#[derive(Template)]
#[template(path = "reset_request.html")]
struct ResetRequestPage {
    chrome: Chrome,
    errors: Errors,
    email: String,
}

pub(crate) async fn reset_page(
    State(app): State<App>,
    viewer: MaybeSigned,
    Query(q): Query<TokenQuery>,
) -> Response {
    let Some(token) = q.token else {
        return view::render(&ResetRequestPage {
            chrome: viewer.chrome("Reset your password"),
            errors: Errors::default(),
            email: String::new(),
        });
    };
    match app.services.accounts.reset_link_usable(&token).await {
        Ok(true) => view::render(&SetPasswordPage {
            chrome: viewer.chrome("Reset your password"),
            errors: Errors::default(),
            heading: "Reset your password".to_owned(),
            intro: "Choose a new password. Once it is set, you will be signed out everywhere and can sign in with it."
                .to_owned(),
            action: "/account/reset-password/new",
            token,
            button: "Reset password",
            hint: PASSWORD_HINT,
        }),
        Ok(false) => Redirect::to("/account/link-expired").into_response(),
        Err(e) => view::backend(viewer.chrome("Reset your password"), &e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailForm {
    email: String,
}

/// Asks for a reset. The answer is the same whatever was typed, and the email goes out
/// in the background, so the response takes the same time too.
pub(crate) async fn reset_request(
    State(app): State<App>,
    ip: ClientIp,
    viewer: MaybeSigned,
    Form(form): Form<EmailForm>,
) -> Response {
    if form.email.trim().is_empty() {
        let errors = Errors::one("email", "Enter your email address");
        return view::render(&ResetRequestPage {
            chrome: viewer.chrome("Reset your password").with_errors(&errors),
            errors,
            email: String::new(),
        });
    }
    // Past the per-address limit the answer stays the same; no email is sent. The shared
    // limit is asked in the background too, so the answer takes the same time either way.
    if app.limits.reset(ip.0) {
        let (accounts, limits) = (app.services.accounts, app.services.limits);
        tokio::spawn(async move {
            let key = LimitKey::address(ip.0);
            if let Ok(Verdict::Allowed) = limits.hit(LimitKind::ResetAddress, &key).await {
                let _ = accounts.request_reset(&form.email).await;
            }
        });
    }
    Redirect::to("/account/check-email").into_response()
}

pub(crate) async fn reset(
    State(app): State<App>,
    ip: ClientIp,
    viewer: MaybeSigned,
    Form(form): Form<NewPasswordForm>,
) -> Response {
    let chrome = viewer.chrome("Too many attempts");
    if let Err(refused) = security::admit(&app, LimitKind::ResetAddress, ip.0, &chrome).await {
        return refused;
    }
    let again = |errors: Errors| {
        view::render(&SetPasswordPage {
            chrome: viewer.chrome("Reset your password").with_errors(&errors),
            errors,
            heading: "Reset your password".to_owned(),
            intro: "Choose a new password.".to_owned(),
            action: "/account/reset-password/new",
            token: form.token.clone(),
            button: "Reset password",
            hint: PASSWORD_HINT,
        })
    };
    if let Some(errors) = password_errors(&form) {
        return again(errors);
    }
    // The reset ends every session of the person in its own transaction; nobody is
    // signed in by it.
    match app.services.accounts.reset_password(&form.token, &form.password).await {
        Ok(_) => Redirect::to("/account/sign-in?done=reset").into_response(),
        Err(ResetError::Password(e)) => {
            again(Errors::one("password", &view::sentence(&e.to_string())))
        }
        Err(ResetError::LinkInvalid) => Redirect::to("/account/link-expired").into_response(),
        Err(ResetError::Backend(e)) => view::backend(viewer.chrome("Reset your password"), &e),
    }
}

pub(crate) async fn check_email(viewer: MaybeSigned) -> Response {
    view::render(&view::Message {
        chrome: viewer.chrome("Check your email"),
        heading: "Check your email".to_owned(),
        body: vec![
            "If an account exists for the email address you gave, we have sent it a link to reset your password."
                .to_owned(),
            "The link works once and stops working after 3 hours. If no email arrives within a few minutes, check your spam folder or ask again."
                .to_owned(),
        ],
    })
}

pub(crate) async fn link_expired(viewer: MaybeSigned) -> Response {
    view::render(&view::Message {
        chrome: viewer.chrome("This link has expired"),
        heading: "This link has expired or has already been used".to_owned(),
        body: vec![
            "Links in our emails work once, for a limited time.".to_owned(),
            "To reset your password, go to the sign in page and choose “Forgot your password?” to get a new link."
                .to_owned(),
            "If you were invited to create an account, ask your data coordinator to send you a new invitation."
                .to_owned(),
        ],
    })
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    banner: &'static str,
    name: String,
    email: String,
    telephone: String,
    organisation: String,
    role: String,
    data_protection_officer: bool,
    key_contact: bool,
    /// The person's second factor: set up or not, required or not, codes left.
    second_factor: tenure_core::SecondFactorStatus,
}

pub(crate) async fn your_account(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<Done>,
) -> Response {
    let user = &viewer.0.user;
    // The viewer's snapshot holds their organisation (the security layer checked it is
    // active in it).
    let organisation = viewer
        .0
        .world
        .organisation(user.organisation)
        .map(|o| o.name.to_string())
        .unwrap_or_default();
    let roles = RoleCatalogue::core();
    let role = user.roles.iter().filter_map(|r| roles.get(*r)).map(|r| r.name.clone()).collect();
    let second_factor = match app.services.second_factors.status(user.id).await {
        Ok(status) => status,
        Err(e) => return view::backend(viewer.chrome("Your account"), &e),
    };
    view::render(&AccountPage {
        chrome: viewer.chrome("Your account"),
        banner: done_message(q.done.as_deref()),
        name: user.name.to_string(),
        email: user.email.to_string(),
        telephone: user.telephone.as_ref().map(ToString::to_string).unwrap_or_default(),
        organisation,
        role,
        data_protection_officer: user.data_protection_officer,
        key_contact: user.key_contact,
        second_factor,
    })
}

#[derive(Template)]
#[template(path = "details.html")]
struct DetailsPage {
    chrome: Chrome,
    errors: Errors,
    name: String,
    /// Whether the engine lets the viewer change their email address here.
    change_email: bool,
    email: String,
    telephone: String,
    version: i64,
}

/// Whether the engine lets the viewer change their own email address.
fn may_change_email(viewer: &Signed) -> bool {
    let me = viewer.0.user.id;
    allowed(&viewer.0.world, &viewer.0, Action::UserChangeEmail, Resource::User(me))
}

pub(crate) async fn details_page(
    State(app): State<App>,
    viewer: Signed,
) -> Result<Response, PageError> {
    let user = &viewer.0.user;
    let version = app
        .services
        .manage
        .own_record(user.id)
        .await
        .or_pages(&viewer.chrome("Page not found"), &viewer.chrome("Change your personal details"))?
        .version;
    Ok(view::render(&DetailsPage {
        chrome: viewer.chrome("Change your personal details"),
        errors: Errors::default(),
        name: user.name.to_string(),
        change_email: may_change_email(&viewer),
        email: user.email.to_string(),
        telephone: user.telephone.as_ref().map(ToString::to_string).unwrap_or_default(),
        version,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DetailsForm {
    name: String,
    /// Absent when the page did not offer it.
    email: Option<String>,
    telephone: String,
    /// Needed only when the email address changes.
    current_password: Option<String>,
    version: i64,
}

pub(crate) async fn details(
    State(app): State<App>,
    viewer: Signed,
    Form(form): Form<DetailsForm>,
) -> Response {
    let me = viewer.0.user.id;
    // A new email address is a credential change: it needs a recent sign-in.
    let new_email = form.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    if new_email.is_some_and(|e| !e.eq_ignore_ascii_case(&viewer.0.user.email.to_string())) {
        if let Some(prompt) = second_factor::recent_or_prompt(&app, &viewer, "/account/details") {
            return prompt;
        }
    }
    let changes = UserChanges {
        name: Some(form.name.clone()),
        email: form.email.clone(),
        telephone: Some(form.telephone.clone()),
        current_password: form.current_password.clone(),
        ..UserChanges::default()
    };
    // The form again with what was typed (never the password) and these errors.
    let again = |errors: Errors| {
        view::render(&DetailsPage {
            chrome: viewer.chrome("Change your personal details").with_errors(&errors),
            errors,
            name: form.name.clone(),
            change_email: may_change_email(&viewer),
            email: form.email.clone().unwrap_or_else(|| viewer.0.user.email.to_string()),
            telephone: form.telephone.clone(),
            version: form.version,
        })
    };
    match app.services.manage.edit_user(me, me, form.version, &changes).await {
        Ok(edited) if edited.email_confirmation_sent => {
            Redirect::to("/account?done=email-sent").into_response()
        }
        Ok(_) => Redirect::to("/account?done=details").into_response(),
        Err(ManageError::Invalid(fields)) => again(Errors::from_fields(&fields)),
        Err(ManageError::EmailInUse) => {
            again(Errors::one("email", "This email address is already used by another account"))
        }
        Err(e) => view::refusal(viewer.chrome("Change your personal details"), &e),
    }
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    chrome: Chrome,
    errors: Errors,
    hint: &'static str,
}

pub(crate) async fn password_page(State(app): State<App>, viewer: Signed) -> Response {
    if let Some(prompt) = second_factor::recent_or_prompt(&app, &viewer, "/account/password") {
        return prompt;
    }
    view::render(&PasswordPage {
        chrome: viewer.chrome("Change your password"),
        errors: Errors::default(),
        hint: PASSWORD_HINT,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordForm {
    current: String,
    password: String,
    confirm: String,
}

pub(crate) async fn password(
    State(app): State<App>,
    viewer: Signed,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> Response {
    if let Some(prompt) = second_factor::recent_or_prompt(&app, &viewer, "/account/password") {
        return prompt;
    }
    let again = |errors: Errors| {
        view::render(&PasswordPage {
            chrome: viewer.chrome("Change your password").with_errors(&errors),
            errors,
            hint: PASSWORD_HINT,
        })
    };
    if form.current.is_empty() {
        return again(Errors::one("current", "Enter your current password"));
    }
    if form.password.is_empty() {
        return again(Errors::one("password", "Enter a new password"));
    }
    if form.password != form.confirm {
        return again(Errors::one("confirm", "The new passwords do not match"));
    }
    let me = viewer.0.user.id;
    let policy = &app.config.passwords;
    match app.services.accounts.change_password(me, &form.current, &form.password, policy).await {
        // The change ended every session, this one included, and killed every reset
        // link; the person stays signed in here under a fresh session id.
        Ok(()) => continue_signed_in(&app, me, jar, "/account?done=password").await,
        Err(ChangePasswordError::Busy) => security::busy(viewer.chrome("Change your password")),
        Err(ChangePasswordError::CurrentIncorrect) => {
            again(Errors::one("current", "Your current password is incorrect"))
        }
        Err(ChangePasswordError::Password(e)) => {
            again(Errors::one("password", &view::sentence(&e.to_string())))
        }
        Err(ChangePasswordError::Backend(e)) => {
            view::backend(viewer.chrome("Change your password"), &e)
        }
    }
}

#[derive(Template)]
#[template(path = "confirm_email.html")]
struct ConfirmEmailPage {
    chrome: Chrome,
    token: String,
}

pub(crate) async fn confirm_email_page(
    viewer: MaybeSigned,
    Query(q): Query<TokenQuery>,
) -> Response {
    view::render(&ConfirmEmailPage {
        chrome: viewer.chrome("Confirm your new email address"),
        token: q.token.unwrap_or_default(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenForm {
    token: String,
}

pub(crate) async fn confirm_email(
    State(app): State<App>,
    ip: ClientIp,
    viewer: MaybeSigned,
    jar: CookieJar,
    Form(form): Form<TokenForm>,
) -> Response {
    let chrome = viewer.chrome("Too many attempts");
    if let Err(refused) = security::admit(&app, LimitKind::ResetAddress, ip.0, &chrome).await {
        return refused;
    }
    match app.services.manage.confirm_email(&form.token).await {
        // Confirming ended every session of the person. Someone confirming their own
        // change in a browser signed in as them stays signed in under a fresh session id;
        // after a change by someone else they sign in again.
        Ok(confirmed) if viewer.0.as_ref().is_some_and(|v| v.user.id == confirmed.user) => {
            if confirmed.by_themselves {
                continue_signed_in(&app, confirmed.user, jar, "/account?done=email").await
            } else {
                (
                    jar.add(security::removed_session_cookie(&app)),
                    Redirect::to("/account/sign-in?done=email"),
                )
                    .into_response()
            }
        }
        Ok(_) => Redirect::to("/account/sign-in?done=email").into_response(),
        Err(ManageError::EmailInUse) => view::forbidden_page(
            viewer.chrome("Confirm your new email address"),
            "this email address is now used by another account",
        ),
        Err(e) => view::refusal(viewer.chrome("Confirm your new email address"), &e),
    }
}

/// After a credential change that ended every session of the person, this one included:
/// a fresh session (a new id, the old one dead) and a new cookie, then `to`. If no session
/// can be started the person is simply signed out, which is safe.
async fn continue_signed_in(
    app: &App,
    user: tenure_domain::UserId,
    jar: CookieJar,
    to: &str,
) -> Response {
    match app.services.sessions.start(user).await {
        Ok(token) => {
            (jar.add(security::session_cookie(app, token)), Redirect::to(to)).into_response()
        }
        Err(_) => {
            (jar.add(security::removed_session_cookie(app)), Redirect::to("/account/sign-in"))
                .into_response()
        }
    }
}
