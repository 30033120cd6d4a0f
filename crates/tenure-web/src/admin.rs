//! The audit trail, with filters, for administrators.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use tenure_core::{AuditName, AuditQuery, ManageError, Page};
use tenure_domain::Email;

use crate::App;
use crate::security::Signed;
use crate::view::{self, Chrome, Errors};

#[derive(Deserialize, Default)]
pub(crate) struct Filter {
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    event: String,
    page: Option<usize>,
}

pub(crate) struct EventRow {
    when: String,
    event: &'static str,
    failed: bool,
    actor: String,
    target: String,
    organisation: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    errors: Errors,
    organisation: String,
    user: String,
    event: String,
    events: Vec<String>,
    rows: Vec<EventRow>,
    previous: String,
    next: String,
    page: usize,
}

pub(crate) async fn audit(
    State(app): State<App>,
    viewer: Signed,
    Query(f): Query<Filter>,
) -> Response {
    let chrome = viewer.chrome("Audit trail");
    let mut query = AuditQuery::default();
    let mut errors = Vec::new();
    if !f.organisation.trim().is_empty() {
        match app.services.changes.organisation_by_name(&f.organisation).await {
            Ok(Some(o)) => query.organisation = Some(o.value.id),
            Ok(None) => {
                errors.push(("organisation".to_owned(), "No organisation has this name".to_owned()))
            }
            Err(e) => return view::backend(chrome, &e),
        }
    }
    if !f.user.trim().is_empty() {
        let found = match Email::parse(&f.user) {
            Ok(email) => match app.services.changes.user_by_email(&email).await {
                Ok(u) => u,
                Err(e) => return view::backend(chrome, &e),
            },
            Err(_) => None,
        };
        match found {
            Some(u) => query.user = Some(u.value.id),
            None => errors.push(("user".to_owned(), "No user has this email address".to_owned())),
        }
    }
    query.name = AuditName::parse(&f.event);
    let number = f.page.unwrap_or(1).max(1);
    let mut page = Page::numbered(number, Page::SCREEN);
    page.limit += 1;
    let mut rows = if errors.is_empty() {
        match app.services.manage.audit(viewer.0.user.id, &query, page).await {
            Ok(r) => r,
            Err(ManageError::NotFound) => return view::not_found_page(chrome),
            Err(e) => return view::refusal(chrome, &e),
        }
    } else {
        // Even with bad filters, only administrators learn the page exists.
        match app.services.manage.audit(viewer.0.user.id, &query, Page::numbered(1, 1)).await {
            Ok(_) => Vec::new(),
            Err(_) => return view::not_found_page(chrome),
        }
    };
    let more = rows.len() > Page::SCREEN;
    rows.truncate(Page::SCREEN);
    let mut people = std::collections::HashMap::new();
    let mut orgs = std::collections::HashMap::new();
    let mut out = Vec::new();
    for e in rows {
        let mut names = Vec::new();
        for id in [e.actor, e.target_user] {
            let name = match id {
                None => String::new(),
                Some(id) => {
                    if let Some(n) = people.get(&id) {
                        String::clone(n)
                    } else {
                        let n = match app.services.changes.user(id).await.ok().flatten() {
                            Some(u) => u.value.email.to_string(),
                            None => "A deleted user".to_owned(),
                        };
                        people.insert(id, n.clone());
                        n
                    }
                }
            };
            names.push(name);
        }
        let organisation = match e.organisation {
            None => String::new(),
            Some(id) => {
                if let Some(n) = orgs.get(&id) {
                    String::clone(n)
                } else {
                    let n = app
                        .services
                        .changes
                        .organisation(id)
                        .await
                        .ok()
                        .flatten()
                        .map(|o| o.value.name.to_string())
                        .unwrap_or_default();
                    orgs.insert(id, n.clone());
                    n
                }
            }
        };
        out.push(EventRow {
            when: view::when(e.at.0),
            event: e.name.as_str(),
            failed: e.outcome == tenure_core::Outcome::Failure,
            actor: names[0].clone(),
            target: names[1].clone(),
            organisation,
            detail: e.detail.to_string(),
        });
    }
    let link = |n: usize| {
        format!(
            "/audit?organisation={}&user={}&event={}&page={n}",
            view::query_value(&f.organisation),
            view::query_value(&f.user),
            view::query_value(&f.event)
        )
    };
    let errors = Errors(errors);
    view::render(&AuditPage {
        chrome: chrome.with_errors(&errors),
        errors,
        events: AuditName::ALL.iter().map(|n| n.as_str().to_owned()).collect(),
        rows: out,
        previous: if number > 1 { link(number - 1) } else { String::new() },
        next: if more { link(number + 1) } else { String::new() },
        page: number,
        organisation: f.organisation,
        user: f.user,
        event: f.event,
    })
}
