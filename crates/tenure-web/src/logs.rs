//! Logs: the ones a user can see, and a log's page; enough to show that visibility follows
//! the rules (editing logs is not in scope).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use tenure_core::Page;
use tenure_domain::{Action, Log, LogId, Resource, World};

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

/// Rows for these logs, with names from the viewer's snapshot where it has them and the
/// rest from one query.
async fn log_rows(
    app: &App,
    known: &World,
    logs: &[Log],
) -> Result<Vec<LogRow>, tenure_core::BackendError> {
    let mut orgs = Vec::new();
    let mut people = Vec::new();
    for l in logs {
        for org in [l.owning_organisation, l.managing_organisation] {
            if known.organisation(org).is_none() && !orgs.contains(&org) {
                orgs.push(org);
            }
        }
        if let Some(u) = l.assigned_to.filter(|u| !people.contains(u)) {
            people.push(u);
        }
    }
    let names = app.services.directory.names(&people, &orgs).await?;
    let org_name = |id| {
        known
            .organisation(id)
            .map(|o| o.name.to_string())
            .or_else(|| names.organisations.get(&id).map(ToString::to_string))
            .unwrap_or_default()
    };
    Ok(logs
        .iter()
        .map(|l| LogRow {
            id: l.id.to_string(),
            owner: org_name(l.owning_organisation),
            manager: org_name(l.managing_organisation),
            assignee: match l.assigned_to {
                Some(u) => names
                    .users
                    .get(&u)
                    .map_or_else(|| "A deleted user".to_owned(), ToString::to_string),
                None => String::new(),
            },
        })
        .collect())
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
    let mut logs = match app.services.directory.logs(&scope, page).await {
        Ok(l) => l,
        Err(e) => return view::backend(chrome, &e),
    };
    let more = logs.len() > Page::SCREEN;
    logs.truncate(Page::SCREEN);
    let rows = match log_rows(&app, &viewer.0.world, &logs).await {
        Ok(r) => r,
        Err(e) => return view::backend(chrome, &e),
    };
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
    let rows = match log_rows(&app, &w, std::slice::from_ref(&log)).await {
        Ok(r) => r,
        Err(e) => return view::backend(viewer.chrome("Log"), &e),
    };
    let Some(row) = rows.into_iter().next() else { return not_found() };
    view::render(&LogPage {
        chrome: viewer.chrome(&format!("Log {}", row.id)),
        row,
        can_edit: allowed(&w, &viewer.0, Action::LogEdit, resource),
        can_delete: allowed(&w, &viewer.0, Action::LogDelete, resource),
    })
}
