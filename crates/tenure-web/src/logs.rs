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

async fn log_rows(app: &App, known: &World, logs: &[Log]) -> Vec<LogRow> {
    let mut names = std::collections::HashMap::new();
    let mut rows = Vec::new();
    for l in logs {
        for org in [l.owning_organisation, l.managing_organisation] {
            if let std::collections::hash_map::Entry::Vacant(e) = names.entry(org) {
                if let Some(o) = known.organisation(org) {
                    e.insert(o.name.to_string());
                    continue;
                }
                let name = app.services.changes.organisation(org).await.ok().flatten();
                e.insert(name.map(|o| o.value.name.to_string()).unwrap_or_default());
            }
        }
        let assignee = match l.assigned_to {
            Some(u) => match app.services.changes.user(u).await.ok().flatten() {
                Some(u) => u.value.name.to_string(),
                None => "A deleted user".to_owned(),
            },
            None => String::new(),
        };
        rows.push(LogRow {
            id: l.id.to_string(),
            owner: names.get(&l.owning_organisation).cloned().unwrap_or_default(),
            manager: names.get(&l.managing_organisation).cloned().unwrap_or_default(),
            assignee,
        });
    }
    rows
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
    view::render(&LogsPage {
        chrome,
        rows: log_rows(&app, &viewer.0.world, &logs).await,
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
    let rows = log_rows(&app, &w, std::slice::from_ref(&log)).await;
    let Some(row) = rows.into_iter().next() else { return not_found() };
    view::render(&LogPage {
        chrome: viewer.chrome(&format!("Log {}", row.id)),
        row,
        can_edit: allowed(&w, &viewer.0, Action::LogEdit, resource),
        can_delete: allowed(&w, &viewer.0, Action::LogDelete, resource),
    })
}
