//! Logs: the ones a user can see, a log's page, and deleting one where the engine allows
//! it (a confirmation page, then `Manage::delete_log`, whose audit entry keeps what the
//! log was); enough to show that visibility follows the rules (editing logs is not in
//! scope).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tenure_core::{NamedLog, Page};
use tenure_domain::{Action, LogId, Name, Resource};

use crate::App;
use crate::form::{Form, PageNumber, Path, Query};
use crate::security::Signed;
use crate::users::allowed;
use crate::view::{self, Chrome, OrPage, OrPages, PageError};

pub(crate) struct LogRow {
    id: String,
    /// A readable title: "Log" and a short reference (the id's last eight characters,
    /// upper case), unique enough to say aloud.
    title: String,
    /// Whether someone is working on it.
    status: &'static str,
    tag: &'static str,
    owner: String,
    manager: String,
    assignee: String,
}

impl LogRow {
    fn new(n: &NamedLog) -> Self {
        let name = |n: &Option<Name>| n.as_ref().map(ToString::to_string).unwrap_or_default();
        let id = n.log.id.to_string();
        let (status, tag) = if n.log.assigned_to.is_some() {
            // The default tag, which is blue.
            ("Assigned", "")
        } else {
            ("Not assigned", "govuk-tag--grey")
        };
        Self {
            title: title(&id),
            status,
            tag,
            id,
            owner: name(&n.owner),
            manager: name(&n.manager),
            assignee: match (n.log.assigned_to, &n.assignee) {
                (None, _) => String::new(),
                (Some(_), Some(a)) => a.to_string(),
                (Some(_), None) => "A deleted user".to_owned(),
            },
        }
    }
}

/// A log's readable title: "Log" and a short reference (the id's last eight characters,
/// upper case), unique enough to say aloud.
pub(crate) fn title(id: &str) -> String {
    let reference: String =
        id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
    format!("Log {}", reference.to_uppercase())
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    page: PageNumber,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "logs.html")]
struct LogsPage {
    chrome: Chrome,
    banner: &'static str,
    rows: Vec<LogRow>,
    previous: String,
    next: String,
    page: usize,
}

pub(crate) async fn list(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Logs");
    let number = q.page.get().unwrap_or(1);
    let mut page = Page::numbered(number, Page::SCREEN);
    page.limit += 1;
    // The page and every name on it in one read.
    let mut logs = app
        .services
        .manage
        .logs_page(viewer.0.user.id, &viewer.0.world, page)
        .await
        .or_page(&chrome)?;
    let more = logs.len() > Page::SCREEN;
    logs.truncate(Page::SCREEN);
    let rows = logs.iter().map(LogRow::new).collect();
    Ok(view::render(&LogsPage {
        chrome,
        banner: if q.done.as_deref() == Some("deleted") {
            "The log has been deleted. The audit trail keeps what it was."
        } else {
            ""
        },
        rows,
        previous: if number > 1 { format!("/logs?page={}", number - 1) } else { String::new() },
        next: if more { format!("/logs?page={}", number + 1) } else { String::new() },
        page: number,
    }))
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    chrome: Chrome,
    row: LogRow,
    can_edit: bool,
    can_delete: bool,
}

/// The log the path names, if the viewer may see it; "Page not found" otherwise.
async fn visible(
    app: &App,
    viewer: &Signed,
    id: &str,
) -> Result<(LogId, tenure_core::Viewed<NamedLog>), PageError> {
    let not_found = viewer.chrome("Page not found");
    let id = uuid::Uuid::parse_str(id).ok().map(LogId::from_uuid).or_page(&not_found)?;
    let log = app
        .services
        .manage
        .log_for(viewer.0.user.id, id)
        .await
        .or_pages(&not_found, &viewer.chrome("Log"))?;
    Ok((id, log))
}

pub(crate) async fn page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (id, log) = visible(&app, &viewer, &id).await?;
    let row = LogRow::new(&log.value);
    let resource = Resource::Log(id);
    Ok(view::render(&LogPage {
        chrome: viewer.chrome(&row.title),
        row,
        can_edit: allowed(&log.world, &viewer.0, Action::LogEdit, resource),
        can_delete: allowed(&log.world, &viewer.0, Action::LogDelete, resource),
    }))
}

#[derive(Template)]
#[template(path = "log_delete.html")]
struct DeletePage {
    chrome: Chrome,
    row: LogRow,
}

/// "Are you sure?": the log's details and the button that deletes it, for someone the
/// engine lets delete it (who may see it but not delete it is told so).
pub(crate) async fn delete_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (id, log) = visible(&app, &viewer, &id).await?;
    let row = LogRow::new(&log.value);
    if !allowed(&log.world, &viewer.0, Action::LogDelete, Resource::Log(id)) {
        return Ok(view::forbidden_page(viewer.chrome(&row.title), "you cannot delete this log"));
    }
    Ok(view::render(&DeletePage {
        chrome: viewer.chrome(&format!("Are you sure you want to delete {}?", row.title)),
        row,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteForm {
    /// `delete`, from the confirmation page's form: a post without it (not from that
    /// page) goes to the page instead of deleting.
    #[serde(default)]
    confirm: String,
}

/// Deletes the log (the service asks the engine and writes the audit entry), then the
/// list says so.
pub(crate) async fn delete(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Result<Response, PageError> {
    let (id, _) = visible(&app, &viewer, &id).await?;
    if form.confirm != "delete" {
        return Ok(Redirect::to(&format!("/logs/{id}/delete")).into_response());
    }
    app.services
        .manage
        .delete_log(viewer.0.user.id, id)
        .await
        .or_page(&viewer.chrome("You cannot do this"))?;
    Ok(Redirect::to("/logs?done=deleted").into_response())
}
