//! Mail that could not be delivered, for administrators: the messages the courier gave up
//! on (never their bodies, which may hold a link), and a button to try one again. Who may
//! see it is the engine's decision, asked by `Manage::undeliverable_mail` and
//! `Manage::retry_mail` ("Page not found" for anyone else).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tenure_core::Page;
use uuid::Uuid;

use crate::App;
use crate::form::{Form, Query};
use crate::security::Signed;
use crate::view::{self, Chrome, OrPage, PageError};

/// `?done=retried` after a retry.
#[derive(Deserialize, Default)]
pub(crate) struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// One undeliverable message as shown.
struct Row {
    id: String,
    kind: String,
    recipient: String,
    queued: String,
    attempts: u32,
    error: String,
}

#[derive(Template)]
#[template(path = "mail.html")]
struct MailPage {
    chrome: Chrome,
    banner: &'static str,
    rows: Vec<Row>,
    full: bool,
}

/// `GET /mail`: the newest undeliverable messages.
pub(crate) async fn undeliverable(
    State(app): State<App>,
    viewer: Signed,
    Query(query): Query<Done>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Undeliverable mail");
    let page = Page::numbered(1, Page::MAX_LIMIT);
    let messages =
        app.services.manage.undeliverable_mail(viewer.0.user.id, page).await.or_page(&chrome)?;
    let rows: Vec<Row> = messages
        .into_iter()
        .map(|m| Row {
            id: m.id.to_string(),
            kind: m.kind.replace('_', " "),
            recipient: m.recipient,
            queued: view::when(&app.config.time_zone, m.created),
            attempts: m.attempts,
            error: m.last_error.unwrap_or_default(),
        })
        .collect();
    let banner = match query.done.as_deref() {
        Some("retried") => "The message is queued again and is being sent.",
        Some("gone") => "That message was not waiting to be retried: nothing changed.",
        _ => "",
    };
    let full = rows.len() == page.limit;
    Ok(view::render(&MailPage { chrome, banner, rows, full }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetryForm {
    id: String,
}

/// `POST /mail/retry`: queue one undeliverable message again.
pub(crate) async fn retry(
    State(app): State<App>,
    viewer: Signed,
    Form(form): Form<RetryForm>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Undeliverable mail");
    // Not a message id: like any message that is not undeliverable (the engine is still
    // asked first, so only administrators learn that).
    let id = Uuid::parse_str(form.id.trim()).unwrap_or(Uuid::nil());
    let retried = app.services.manage.retry_mail(viewer.0.user.id, id).await.or_page(&chrome)?;
    let done = if retried { "retried" } else { "gone" };
    Ok(Redirect::to(&format!("/mail?done={done}")).into_response())
}
