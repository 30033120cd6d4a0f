//! Logs: the ones a user can see, and a log's page; enough to show that visibility follows
//! the rules (editing logs is not in scope).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use tenure_core::{BackendError, NamedLog, Page};
use tenure_domain::{Action, Log, LogId, Name, Resource, World};

use crate::App;
use crate::security::Signed;
use crate::users::{allowed, world};
use crate::view::{self, Chrome};

pub(crate) struct LogRow {
    id: String,
    owner: String,
    manager: String,
    assignee: String,
}

impl LogRow {
    fn new(n: &NamedLog) -> Self {
        let name = |n: &Option<Name>| n.as_ref().map(ToString::to_string).unwrap_or_default();
        Self {
            id: n.log.id.to_string(),
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

/// One log with its names, from the snapshot where it has them and the rest from one
/// query.
async fn named(app: &App, known: &World, log: Log) -> Result<NamedLog, BackendError> {
    let orgs: Vec<_> = [log.owning_organisation, log.managing_organisation]
        .into_iter()
        .filter(|o| known.organisation(*o).is_none())
        .collect();
    let people: Vec<_> = log.assigned_to.into_iter().collect();
    let names = app.services.directory.names(&people, &orgs).await?;
    let org_name = |id| {
        known
            .organisation(id)
            .map(|o| o.name.clone())
            .or_else(|| names.organisations.get(&id).cloned())
    };
    Ok(NamedLog {
        owner: org_name(log.owning_organisation),
        manager: org_name(log.managing_organisation),
        assignee: log.assigned_to.and_then(|u| names.users.get(&u).cloned()),
        log,
    })
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    page: Option<usize>,
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
) -> Response {
    let chrome = viewer.chrome("Logs");
    let number = q.page.unwrap_or(1).max(1);
    let mut page = Page::numbered(number, Page::SCREEN);
    page.limit += 1;
    let scope = viewer.0.world.scope(viewer.0.user.id, Action::LogView);
    // The page and every name on it in one read.
    let mut logs = match app.services.directory.logs_named(&scope, page).await {
        Ok(l) => l,
        Err(e) => return view::backend(chrome, &e),
    };
    let more = logs.len() > Page::SCREEN;
    logs.truncate(Page::SCREEN);
    let rows = logs.iter().map(LogRow::new).collect();
    view::render(&LogsPage {
        chrome,
        rows,
        previous: if number > 1 { format!("/logs?page={}", number - 1) } else { String::new() },
        next: if more { format!("/logs?page={}", number + 1) } else { String::new() },
        page: number,
    })
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
) -> Response {
    let not_found = || view::not_found_page(viewer.chrome("Page not found"));
    let Ok(id) = uuid::Uuid::parse_str(&id).map(LogId::from_uuid) else { return not_found() };
    let resource = Resource::Log(id);
    let w = match world(&app, &viewer.0, resource).await {
        Ok(w) => w,
        Err(e) => return view::backend(viewer.chrome("Log"), &e),
    };
    if !allowed(&w, &viewer.0, Action::LogView, resource) {
        return not_found();
    }
    let Some(log) = w.log(id).cloned() else { return not_found() };
    let row = match named(&app, &w, log).await {
        Ok(n) => LogRow::new(&n),
        Err(e) => return view::backend(viewer.chrome("Log"), &e),
    };
    view::render(&LogPage {
        chrome: viewer.chrome(&format!("Log {}", row.id)),
        row,
        can_edit: allowed(&w, &viewer.0, Action::LogEdit, resource),
        can_delete: allowed(&w, &viewer.0, Action::LogDelete, resource),
    })
}
