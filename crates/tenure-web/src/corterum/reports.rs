//! Corterum's Reports area: the reports the viewer's report features open, each about a
//! person they choose (or, for the FCA Directory report, a list), as of now or a past
//! moment, on screen or as CSV. The engine decides through the Corterum service
//! (`tenure_domain::report`): a report or person the viewer may not see is "Page not
//! found", and a report whose condition fails says which rule, not the evidence.

use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tenure_core::corterum::{ReportOutcome, ReportSection};
use tenure_domain::EntityId;
use tenure_domain::report::Report;

use crate::App;
use crate::form::{self, Query};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

/// `?entity=&as_of=&format=csv`.
#[derive(Deserialize, Default)]
pub(crate) struct ReportQuery {
    #[serde(default)]
    entity: String,
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    format: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    chrome: Chrome,
    reports: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    chrome: Chrome,
    errors: Errors,
    title: String,
    path: String,
    about: String,
    entity: String,
    subjects: Vec<(String, String)>,
    chosen: bool,
    as_of: String,
    hint: String,
    when: String,
    unavailable: String,
    sections: Vec<ReportSection>,
    csv: String,
}

/// The Reports index: one link a report the viewer's features open.
pub(crate) async fn index(State(app): State<App>, viewer: Signed) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Reports");
    let reports = app.services.corterum.reports(viewer.0.user.id).await.or_page(&chrome)?;
    if reports.is_empty() {
        return Err(PageError::not_found(&chrome));
    }
    let reports = reports
        .into_iter()
        .map(|r| (format!("/reports/{}", r.as_str()), r.label().to_owned()))
        .collect();
    Ok(view::render(&ReportsPage { chrome, reports }))
}

/// `/reports/fit-and-proper-certificate`.
pub(crate) async fn certificate(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<ReportQuery>,
) -> Result<Response, PageError> {
    show(&app, &viewer, Report::FitAndProperCertificate, q).await
}

/// `/reports/statement-of-responsibilities`.
pub(crate) async fn statement(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<ReportQuery>,
) -> Result<Response, PageError> {
    show(&app, &viewer, Report::StatementOfResponsibilities, q).await
}

/// `/reports/fca-directory`.
pub(crate) async fn directory(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<ReportQuery>,
) -> Result<Response, PageError> {
    show(&app, &viewer, Report::FcaDirectory, q).await
}

/// `/reports/regulatory-reference`.
pub(crate) async fn reference(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<ReportQuery>,
) -> Result<Response, PageError> {
    show(&app, &viewer, Report::RegulatoryReference, q).await
}

/// A report: the people to choose from, or the report about the one chosen (the list
/// for the directory), on screen or as CSV.
async fn show(
    app: &App,
    viewer: &Signed,
    report: Report,
    q: ReportQuery,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome(report.label());
    let me = viewer.0.user.id;
    let tz = &app.config.time_zone;
    let zone = tenure_core::moment::zone_name(tz);
    let mut errors = Errors::default();
    let as_of = match q.as_of.trim() {
        "" => None,
        text => match tenure_core::moment::parse(text, tz) {
            Ok(m) => Some(m),
            Err(_) => {
                errors = Errors::one(
                    "as_of",
                    &format!(
                        "Enter a date and time in {zone} time, like 2026-11-22 14:30 (a date alone means the end of that day)"
                    ),
                );
                None
            }
        },
    };
    let entity = match q.entity.trim() {
        "" => None,
        text => Some(form::id(text, EntityId::from_uuid).or_page(&chrome)?),
    };
    let subjects = app.services.corterum.report_subjects(me, report).await.or_page(&chrome)?;
    let subjects: Vec<(String, String)> =
        subjects.into_iter().map(|e| (e.id.to_string(), e.name.to_string())).collect();
    let chosen = entity.is_some() || !report.about_one();
    let mut page = ReportPage {
        chrome,
        errors,
        title: report.label().to_owned(),
        path: format!("/reports/{}", report.as_str()),
        about: String::new(),
        entity: q.entity.trim().to_owned(),
        subjects,
        chosen,
        as_of: q.as_of.clone(),
        hint: format!(
            "Leave blank for now, or a date and time in the past, like 2026-11-22 14:30 ({zone} time)"
        ),
        when: String::new(),
        unavailable: String::new(),
        sections: Vec::new(),
        csv: String::new(),
    };
    if !chosen {
        return Ok(view::render(&page));
    }
    let shown =
        app.services.corterum.report(me, report, entity, as_of).await.or_page(&page.chrome)?;
    if q.format == "csv" {
        let body = shown.to_csv(|m| tenure_core::moment::describe_with_zone(m, tz));
        let name = format!("attachment; filename=\"{}.csv\"", report.as_str());
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, name),
            ],
            body,
        )
            .into_response());
    }
    page.about = shown.entity.as_ref().map(|e| e.name.to_string()).unwrap_or_default();
    page.when = shown
        .as_of
        .map_or_else(|| "now".to_owned(), |m| tenure_core::moment::describe_with_zone(m, tz));
    let mut csv = format!("{}?format=csv", page.path);
    if let Some(e) = entity {
        csv.push_str(&format!("&entity={e}"));
    }
    if let Some(m) = shown.as_of {
        csv.push_str(&format!("&as_of={}", tenure_core::moment::format(m, tz).replace(' ', "+")));
    }
    page.csv = csv;
    match shown.outcome {
        ReportOutcome::Available(sections) => page.sections = sections,
        ReportOutcome::Unavailable(c) => page.unavailable = c.explain().to_owned(),
    }
    Ok(view::render(&page))
}
