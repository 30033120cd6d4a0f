//! Logs: the ones a user can see, and a log's page; enough to show that visibility follows
//! the rules (editing logs is not in scope).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tenure_core::{NamedLog, Page};
use tenure_domain::{Action, LogId, Name, Resource};

use crate::App;
use crate::form::{PageNumber, Path, Query};
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
        let reference: String =
            id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
        let (status, tag) = if n.log.assigned_to.is_some() {
            // The default tag, which is blue.
            ("Assigned", "")
        } else {
            ("Not assigned", "govuk-tag--grey")
        };
        Self {
            title: format!("Log {}", reference.to_uppercase()),
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

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    page: PageNumber,
}

#[derive(Template)]
#[template(path = "logs.html")]
struct LogsPage {
    chrome: Chrome,
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

pub(crate) async fn page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let not_found = viewer.chrome("Page not found");
    let id = uuid::Uuid::parse_str(&id).ok().map(LogId::from_uuid).or_page(&not_found)?;
    let log = app
        .services
        .manage
        .log_for(viewer.0.user.id, id)
        .await
        .or_pages(&not_found, &viewer.chrome("Log"))?;
    let row = LogRow::new(&log.value);
    let resource = Resource::Log(id);
    Ok(view::render(&LogPage {
        chrome: viewer.chrome(&row.title),
        row,
        can_edit: allowed(&log.world, &viewer.0, Action::LogEdit, resource),
        can_delete: allowed(&log.world, &viewer.0, Action::LogDelete, resource),
    }))
}
