//! The audit trail, with filters, for administrators.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tenure_core::{AuditName, AuditQuery, ManageError, Page, TrailNames};
use tenure_domain::{Email, UserId};

use crate::App;
use crate::form::{PageNumber, Query};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

#[derive(Deserialize, Default)]
pub(crate) struct Filter {
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    page: PageNumber,
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
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Audit trail");
    let me = viewer.0.user.id;
    let manage = &app.services.manage;
    let mut query = AuditQuery::default();
    let mut errors = Vec::new();
    if !f.organisation.trim().is_empty() {
        match manage.organisation_by_name(&f.organisation).await.or_page(&chrome)? {
            Some(id) => query.organisation = Some(id),
            None => {
                errors.push(("organisation".to_owned(), "No organisation has this name".to_owned()))
            }
        }
    }
    if !f.user.trim().is_empty() {
        let found = match Email::parse(&f.user) {
            // Only those who may read the trail learn whether an address is in use.
            Ok(email) => match manage.user_by_email(me, &email).await {
                Ok(u) => u,
                Err(ManageError::NotFound) => return Err(PageError::not_found(&chrome)),
                Err(e) => return Err(PageError::new(&chrome, e)),
            },
            Err(_) => None,
        };
        match found {
            Some(id) => query.user = Some(id),
            None => errors.push(("user".to_owned(), "No user has this email address".to_owned())),
        }
    }
    query.name = AuditName::parse(&f.event);
    let number = f.page.get().unwrap_or(1);
    let mut page = Page::numbered(number, Page::SCREEN);
    page.limit += 1;
    let (mut rows, names) = if errors.is_empty() {
        manage.audit_trail(me, &query, page).await.or_page(&chrome)?
    } else {
        // Even with bad filters, only administrators learn the page exists.
        match manage.audit(me, &query, Page::numbered(1, 1)).await {
            Ok(_) => (Vec::new(), TrailNames::default()),
            Err(_) => return Err(PageError::not_found(&chrome)),
        }
    };
    let more = rows.len() > Page::SCREEN;
    rows.truncate(Page::SCREEN);
    let person = |id: Option<UserId>| match id {
        None => String::new(),
        Some(id) => {
            names.users.get(&id).map_or_else(|| "A deleted user".to_owned(), ToString::to_string)
        }
    };
    let out: Vec<_> = rows
        .into_iter()
        .map(|e| EventRow {
            when: view::when(&app.config.time_zone, e.at),
            event: e.name.as_str(),
            failed: e.outcome == tenure_core::Outcome::Failure,
            actor: person(e.actor),
            target: person(e.target_user),
            organisation: e
                .organisation
                .and_then(|id| names.organisations.get(&id))
                .map(ToString::to_string)
                .unwrap_or_default(),
            detail: e.detail.to_string(),
        })
        .collect();
    let link = |n: usize| {
        format!(
            "/audit?organisation={}&user={}&event={}&page={n}",
            view::query_value(&f.organisation),
            view::query_value(&f.user),
            view::query_value(&f.event)
        )
    };
    let errors = Errors(errors);
    Ok(view::render(&AuditPage {
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
    }))
}
