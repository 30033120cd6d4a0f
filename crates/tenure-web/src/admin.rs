//! The audit trail, for administrators: events in words and their details as sentences,
//! filters by organisation, user, event and date range (GOV.UK date inputs, read in the
//! service's time zone, which the page states), pages, where each request came from, and
//! a CSV download of the filtered view (through the one CSV writer, formulas defused).

mod words;

use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tenure_core::{AuditEvent, AuditName, AuditQuery, ManageError, Page, TrailNames};
use tenure_domain::Email;

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
    from_day: String,
    #[serde(default)]
    from_month: String,
    #[serde(default)]
    from_year: String,
    #[serde(default)]
    to_day: String,
    #[serde(default)]
    to_month: String,
    #[serde(default)]
    to_year: String,
    #[serde(default)]
    page: PageNumber,
}

impl Filter {
    /// The filter as a query string, without the page.
    fn query_string(&self) -> String {
        [
            ("organisation", &self.organisation),
            ("user", &self.user),
            ("event", &self.event),
            ("from_day", &self.from_day),
            ("from_month", &self.from_month),
            ("from_year", &self.from_year),
            ("to_day", &self.to_day),
            ("to_month", &self.to_month),
            ("to_year", &self.to_year),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", view::query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// A date typed into a GOV.UK date input: `None` when all three fields are empty, the
/// date when they make a real one, and otherwise the sentence saying what is wrong.
fn date(label: &str, day: &str, month: &str, year: &str) -> Result<Option<String>, String> {
    let (day, month, year) = (day.trim(), month.trim(), year.trim());
    if day.is_empty() && month.is_empty() && year.is_empty() {
        return Ok(None);
    }
    let wrong = || format!("{label} must be a real date, like 27 3 2026");
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (Some(d), Some(m), Some(y)) = (number(day), number(month), number(year)) else {
        return Err(wrong());
    };
    if year.len() != 4 {
        return Err(format!("{label} must have a year of four digits, like 2026"));
    }
    let text = format!("{y:04}-{m:02}-{d:02}");
    // A civil date check: jiff refuses 31 February and month 13.
    if text.parse::<jiff::civil::Date>().is_err() {
        return Err(wrong());
    }
    Ok(Some(text))
}

/// One row of the trail as shown.
pub(crate) struct EventRow {
    when: String,
    event: &'static str,
    failed: bool,
    target: String,
    organisation: String,
    detail: String,
    origin: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    errors: Errors,
    filter: Filter,
    dates: [DateField; 2],
    zone: String,
    events: Vec<(String, &'static str)>,
    rows: Vec<EventRow>,
    download: String,
    previous: String,
    next: String,
    page: usize,
}

/// One GOV.UK date input of the filter, as typed.
struct DateField {
    field: &'static str,
    legend: &'static str,
    day: String,
    month: String,
    year: String,
}

/// What a filter comes to: the query it asks for, or the form's errors.
type Filtered = Result<AuditQuery, Vec<(String, String)>>;

/// The query a filter asks for, or the form's errors. Only those who may read the trail
/// learn whether an email address is in use ("not found" for anyone else).
///
/// # Errors
/// [`ManageError::Backend`] when a name or an address cannot be looked up: the page
/// fails rather than say the organisation or user does not exist.
async fn query(app: &App, me: tenure_domain::UserId, f: &Filter) -> Result<Filtered, ManageError> {
    let manage = &app.services.manage;
    let mut query = AuditQuery::default();
    let mut errors = Vec::new();
    if !f.organisation.trim().is_empty() {
        match manage.side_organisation_by_name(me, &f.organisation).await? {
            Some(id) => query.organisation = Some(id),
            None => errors.push((
                "organisation".to_owned(),
                "No organisation has this name: type an organisation's full name".to_owned(),
            )),
        }
    }
    if !f.user.trim().is_empty() {
        let found = match Email::parse(&f.user) {
            // "Not found" for those who may not look addresses up: the same as no user.
            Ok(email) => match manage.user_by_email(me, &email).await {
                Err(ManageError::NotFound) => None,
                found => found?,
            },
            Err(_) => None,
        };
        match found {
            Some(id) => query.user = Some(id),
            None => errors.push((
                "user".to_owned(),
                "No user has this email address: type a user's full email address".to_owned(),
            )),
        }
    }
    if !f.event.is_empty() {
        match AuditName::parse(&f.event) {
            Some(n) => query.name = Some(n),
            None => errors.push(("event".to_owned(), "Choose an event from the list".to_owned())),
        }
    }
    let tz = &app.config.time_zone;
    match date("The start date", &f.from_day, &f.from_month, &f.from_year) {
        Ok(Some(d)) => match tenure_core::moment::parse(&format!("{d} 00:00"), tz) {
            Ok(m) => query.from = Some(m),
            Err(e) => errors.push(("from".to_owned(), view::sentence(&e.to_string()))),
        },
        Ok(None) => {}
        Err(e) => errors.push(("from".to_owned(), e)),
    }
    match date("The end date", &f.to_day, &f.to_month, &f.to_year) {
        // The end of that day: everything on it is included.
        Ok(Some(d)) => match tenure_core::moment::parse(&d, tz) {
            Ok(m) => query.before = Some(tenure_core::Timestamp(m.0 + 1)),
            Err(e) => errors.push(("to".to_owned(), view::sentence(&e.to_string()))),
        },
        Ok(None) => {}
        Err(e) => errors.push(("to".to_owned(), e)),
    }
    if let (Some(from), Some(before)) = (query.from, query.before)
        && from >= before
    {
        errors.push((
            "to".to_owned(),
            "The end date must be the same as or after the start date".to_owned(),
        ));
    }
    Ok(if errors.is_empty() { Ok(query) } else { Err(errors) })
}

fn rows(app: &App, events: &[AuditEvent], names: &TrailNames) -> Vec<EventRow> {
    events
        .iter()
        .map(|e| EventRow {
            when: view::when(&app.config.time_zone, e.at),
            event: words::event(e.name),
            failed: e.outcome == tenure_core::Outcome::Failure,
            target: match e.target_user {
                None => String::new(),
                Some(id) => {
                    let name = words::person(names, Some(id));
                    match names.users.get(&id) {
                        Some(email) => format!("{name} ({email})"),
                        None => name,
                    }
                }
            },
            organisation: e
                .organisation
                .and_then(|id| names.organisations.get(&id))
                .map(ToString::to_string)
                .unwrap_or_default(),
            detail: words::sentence(e, names),
            origin: e
                .origin
                .as_ref()
                .map(|o| format!("{} from {}", o.request_id, o.client_ip))
                .unwrap_or_default(),
        })
        .collect()
}

pub(crate) async fn audit(
    State(app): State<App>,
    viewer: Signed,
    Query(f): Query<Filter>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Audit trail");
    let me = viewer.0.user.id;
    let manage = &app.services.manage;
    let number = f.page.get().unwrap_or(1);
    let mut page = Page::numbered(number, Page::SCREEN);
    page.limit += 1;
    let (events, names, errors) = match query(&app, me, &f).await.or_page(&chrome)? {
        Ok(q) => {
            let (events, names) = manage.audit_trail(me, &q, page).await.or_page(&chrome)?;
            (events, names, Vec::new())
        }
        // Even with bad filters, only administrators learn the page exists.
        Err(errors) => {
            manage
                .audit(me, &AuditQuery::default(), Page::numbered(1, 1))
                .await
                .or_page(&chrome)?;
            (Vec::new(), TrailNames::default(), errors)
        }
    };
    let more = events.len() > Page::SCREEN;
    let shown = &events[..events.len().min(Page::SCREEN)];
    let out = rows(&app, shown, &names);
    let filter = f.query_string();
    let errors = Errors(errors);
    Ok(view::render(&AuditPage {
        chrome: chrome.with_errors(&errors),
        errors,
        zone: tenure_core::moment::zone_name(&app.config.time_zone),
        events: AuditName::ALL.iter().map(|n| (n.as_str().to_owned(), words::event(*n))).collect(),
        rows: out,
        download: format!("/audit/download?{filter}"),
        previous: if number > 1 {
            format!("/audit?{filter}&page={}", number - 1)
        } else {
            String::new()
        },
        next: if more { format!("/audit?{filter}&page={}", number + 1) } else { String::new() },
        page: number,
        dates: [
            DateField {
                field: "from",
                legend: "From (the start of this day)",
                day: f.from_day.clone(),
                month: f.from_month.clone(),
                year: f.from_year.clone(),
            },
            DateField {
                field: "to",
                legend: "To (the end of this day)",
                day: f.to_day.clone(),
                month: f.to_month.clone(),
                year: f.to_year.clone(),
            },
        ],
        filter: f,
    }))
}

/// The columns of the trail's CSV download.
const COLUMNS: [&str; 9] = [
    "when",
    "event",
    "outcome",
    "by",
    "to whom",
    "organisation",
    "details",
    "request id",
    "client address",
];

/// The filtered view of the trail as CSV, every page of it, for those who may read the
/// trail (administrators); "not found" for anyone else and for a filter with errors.
pub(crate) async fn download(
    State(app): State<App>,
    viewer: Signed,
    Query(f): Query<Filter>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Audit trail");
    let me = viewer.0.user.id;
    let manage = &app.services.manage;
    // Refused before anything is read for anyone who may not read the trail.
    manage.audit(me, &AuditQuery::default(), Page::numbered(1, 1)).await.or_page(&chrome)?;
    let Ok(q) = query(&app, me, &f).await.or_page(&chrome)? else {
        return Ok(view::bad_request_page(
            chrome,
            "The filter has errors: go back to the audit trail to see them.",
        ));
    };
    let mut csv = tenure_core::csv::record(COLUMNS);
    for number in 1.. {
        let page = Page::numbered(number, Page::MAX_LIMIT);
        let (events, names) = match manage.audit_trail(me, &q, page).await {
            Ok(found) => found,
            Err(ManageError::NotFound) => return Err(PageError::not_found(&chrome)),
            Err(e) => return Err(PageError::new(&chrome, e)),
        };
        if events.is_empty() {
            break;
        }
        for e in &events {
            csv.push_str(&tenure_core::csv::record([
                tenure_core::moment::format(e.at, &app.config.time_zone),
                words::event(e.name).to_owned(),
                e.outcome.as_str().to_owned(),
                words::person(&names, e.actor),
                words::person(&names, e.target_user),
                e.organisation
                    .and_then(|id| names.organisations.get(&id))
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                words::sentence(e, &names),
                e.origin.as_ref().map(|o| o.request_id.clone()).unwrap_or_default(),
                e.origin.as_ref().map(|o| o.client_ip.to_string()).unwrap_or_default(),
            ]));
        }
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit-trail.csv\""),
        ],
        csv,
    )
        .into_response())
}
