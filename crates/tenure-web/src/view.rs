//! What every page shares: the header, form errors, dates, rendering, and the pages for
//! "not found", "forbidden" and other outcomes.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use tenure_core::{BackendError, FieldError, ManageError};

use crate::form::Path;
use crate::security::{Csrf, MaybeSigned, Reference, Viewer};

/// The parts of the layout that depend on who is looking.
#[derive(Clone, Debug)]
pub(crate) struct Chrome {
    pub(crate) title: String,
    pub(crate) signed_in: bool,
    pub(crate) admin: bool,
    pub(crate) organisation: Option<String>,
    pub(crate) logs: bool,
    pub(crate) records: bool,
    pub(crate) administration: bool,
    pub(crate) reports: bool,
    pub(crate) users: bool,
    /// The navigation item this page is under.
    pub(crate) current: Section,
    pub(crate) csrf: String,
    /// The page shows form errors: the title starts "Error:".
    pub(crate) errors: bool,
    /// The request id, which error pages show for people to quote.
    pub(crate) reference: String,
}

impl Chrome {
    /// The same chrome, marking a page with form errors.
    pub(crate) fn with_errors(mut self, errors: &Errors) -> Self {
        self.errors = !errors.is_empty();
        self
    }

    pub(crate) fn new(
        title: &str,
        viewer: Option<&Viewer>,
        csrf: &Csrf,
        reference: &Reference,
    ) -> Self {
        Self {
            title: title.to_owned(),
            signed_in: viewer.is_some(),
            admin: viewer.is_some_and(|v| v.nav.admin),
            organisation: viewer.and_then(|v| v.nav.organisation).map(|o| o.to_string()),
            logs: viewer.is_some_and(|v| v.nav.logs),
            records: viewer.is_some_and(|v| v.nav.records),
            administration: viewer.is_some_and(|v| v.nav.administration),
            reports: viewer.is_some_and(|v| v.nav.reports),
            users: viewer.is_some_and(|v| v.nav.users),
            current: viewer.map_or(Section::None, |v| v.nav.current),
            csrf: csrf.0.clone(),
            errors: false,
            reference: reference.0.clone(),
        }
    }
}

/// The navigation items, to mark the one a page is under (`aria-current="page"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Section {
    /// A page under no item.
    #[default]
    None,
    Logs,
    Records,
    Reports,
    Administration,
    YourOrganisation,
    Organisations,
    Users,
    Audit,
    Account,
}

impl Section {
    /// Whether this is the item named (its key in `base.html`), for `aria-current`.
    pub(crate) fn is(self, item: &str) -> bool {
        let this = match self {
            Self::None => return false,
            Self::Logs => "logs",
            Self::Records => "records",
            Self::Reports => "reports",
            Self::Administration => "administration",
            Self::YourOrganisation => "your-organisation",
            Self::Organisations => "organisations",
            Self::Users => "users",
            Self::Audit => "audit",
            Self::Account => "account",
        };
        this == item
    }
}

/// The navigation item a path is under: its first segment, and the viewer's own
/// organisation's pages under "Your organisation".
pub(crate) fn section(path: &str, own: Option<tenure_domain::OrgId>) -> Section {
    let mut segments = path.trim_start_matches('/').split('/');
    match segments.next().unwrap_or_default() {
        "logs" => Section::Logs,
        "records" => Section::Records,
        "reports" => Section::Reports,
        "administration" => Section::Administration,
        "organisations" => match (segments.next(), own) {
            (Some(id), Some(own)) if id == own.to_string() => Section::YourOrganisation,
            _ => Section::Organisations,
        },
        "users" => Section::Users,
        "audit" => Section::Audit,
        "account" => Section::Account,
        _ => Section::None,
    }
}

/// Errors of a form: the error summary lists them; each field shows its own.
#[derive(Clone, Debug, Default)]
pub(crate) struct Errors(pub(crate) Vec<(String, String)>);

impl Errors {
    pub(crate) fn one(field: &str, message: &str) -> Self {
        Self(vec![(field.to_owned(), message.to_owned())])
    }

    pub(crate) fn from_fields(fields: &[FieldError]) -> Self {
        Self(fields.iter().map(|f| (f.field.to_owned(), sentence(&f.message))).collect())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for a field, if it has one.
    pub(crate) fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }

    /// The Design System's field classes with or without the error state.
    pub(crate) fn class(&self, field: &str, base: &str) -> String {
        if self.get(field).is_some() { format!("{base} {base}--error") } else { base.to_owned() }
    }
}

/// A message as a sentence: capital first letter.
pub(crate) fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// A value for a link's query string, percent-encoded.
pub(crate) fn query_value(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A moment for people in the service's time zone, which it states: "22 November 2026 at
/// 5:38pm GMT" (or BST in summer, in London).
pub(crate) fn when(tz: &jiff::tz::TimeZone, at: tenure_core::Timestamp) -> String {
    tenure_core::moment::describe_with_zone(at, tz)
}

/// Renders a template, or a plain 500 if the template fails (it cannot, once compiled).
pub(crate) fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(cause = %e, "a page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "Sorry, there is a problem with the service")
                .into_response()
        }
    }
}

/// The sentence that asks people to quote the request id, if the request has one.
pub(crate) fn quote(chrome: &Chrome) -> Option<String> {
    (!chrome.reference.is_empty())
        .then(|| format!("Quote this reference if you contact support: {}", chrome.reference))
}

/// A page with a heading and paragraphs.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct Message {
    pub(crate) chrome: Chrome,
    pub(crate) heading: String,
    pub(crate) body: Vec<String>,
}

/// "Page not found": for what does not exist and for what the user may not see alike.
pub(crate) fn not_found_page(chrome: Chrome) -> Response {
    let page = Message {
        chrome,
        heading: "Page not found".to_owned(),
        body: vec![
            "If you typed the web address, check it is correct.".to_owned(),
            "If you pasted the web address, check you copied the entire address.".to_owned(),
        ],
    };
    (StatusCode::NOT_FOUND, render(&page)).into_response()
}

/// The fallback route.
pub(crate) async fn not_found(viewer: MaybeSigned) -> Response {
    not_found_page(viewer.chrome("Page not found"))
}

/// The 400 page for a form or web address that could not be read: `why` (a sentence),
/// and that nothing was changed.
pub(crate) fn bad_request_page(chrome: Chrome, why: &str) -> Response {
    let page = Message {
        chrome,
        heading: "There is a problem with what was sent".to_owned(),
        body: vec![
            why.to_owned(),
            "Nothing was changed.".to_owned(),
            "Go back, reload the page and try again. If you typed the web address, check it \
             is correct."
                .to_owned(),
        ],
    };
    (StatusCode::BAD_REQUEST, render(&page)).into_response()
}

/// The fallback for a method a route does not take (a `POST` to a page, a `PUT`): 405
/// with the service's page, where axum would answer an empty body.
pub(crate) async fn method_not_allowed(viewer: MaybeSigned) -> Response {
    let page = Message {
        chrome: viewer.chrome("This address does not take that request"),
        heading: "This address does not take that request".to_owned(),
        body: vec![
            "Nothing was changed.".to_owned(),
            "Use the links and buttons on this service's pages.".to_owned(),
        ],
    };
    (StatusCode::METHOD_NOT_ALLOWED, render(&page)).into_response()
}

/// "You cannot do this", with the engine's reason.
pub(crate) fn forbidden_page(chrome: Chrome, why: &str) -> Response {
    let page =
        Message { chrome, heading: "You cannot do this".to_owned(), body: vec![sentence(why)] };
    (StatusCode::FORBIDDEN, render(&page)).into_response()
}

/// The page for a stale edit.
pub(crate) fn conflict_page(chrome: Chrome) -> Response {
    let page = Message {
        chrome,
        heading: "Someone else changed this".to_owned(),
        body: vec![
            "This record was changed by someone else after you opened it, so your change was not saved."
                .to_owned(),
            "Go back, reload the page to see the latest version, and make your change again."
                .to_owned(),
        ],
    };
    (StatusCode::CONFLICT, render(&page)).into_response()
}

/// The page for anything unexpected. The cause is not shown, only the request id to
/// quote (the cause is in the log under it).
pub(crate) fn problem_page(chrome: Chrome) -> Response {
    let mut body = vec!["Try again later.".to_owned()];
    body.extend(quote(&chrome));
    let page =
        Message { chrome, heading: "Sorry, there is a problem with the service".to_owned(), body };
    (StatusCode::INTERNAL_SERVER_ERROR, render(&page)).into_response()
}

/// Maps a refusal from the services to its page (forms handle `Invalid` themselves).
pub(crate) fn refusal(chrome: Chrome, e: &ManageError) -> Response {
    match e {
        ManageError::NotFound => not_found_page(chrome),
        ManageError::Forbidden(denial) => forbidden_page(chrome, denial.sentence()),
        ManageError::Conflict => conflict_page(chrome),
        ManageError::LinkInvalid => Redirect::to("/account/link-expired").into_response(),
        ManageError::Backend(e) => backend(chrome, e),
        ManageError::TooMany { retry_after_secs } => {
            crate::security::too_many(chrome, *retry_after_secs)
        }
        other => forbidden_page(chrome, &other.to_string()),
    }
}

/// Maps a backend failure to its page, and logs its cause (every source in the chain)
/// inside the request's span, so under the request id the page shows.
pub(crate) fn backend(chrome: Chrome, e: &BackendError) -> Response {
    tracing::error!(cause = %Causes(e), "backend failure");
    problem_page(chrome)
}

/// Why a page could not be shown, with the chrome to show it in. It renders itself
/// (404, 403, 409 or 500, as [`refusal`] maps it), and a 500 logs its cause under the
/// request id that the page shows. Handlers return `Result<Response, PageError>` and
/// reach it with `?` through [`OrPage::or_page`].
#[derive(Debug)]
pub(crate) struct PageError(Box<(Chrome, ManageError)>);

impl PageError {
    /// "Page not found" in this chrome.
    pub(crate) fn not_found(chrome: &Chrome) -> Self {
        Self::new(chrome, ManageError::NotFound)
    }

    /// The refusal or failure, shown in this chrome.
    pub(crate) fn new(chrome: &Chrome, cause: impl Into<ManageError>) -> Self {
        Self(Box::new((chrome.clone(), cause.into())))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (chrome, cause) = *self.0;
        refusal(chrome, &cause)
    }
}

/// Turns a service's error into the page for it: `service.call().await.or_page(&chrome)?`.
pub(crate) trait OrPage<T> {
    /// The value, or the page that says why there is none.
    fn or_page(self, chrome: &Chrome) -> Result<T, PageError>;
}

impl<T, E: Into<ManageError>> OrPage<T> for Result<T, E> {
    fn or_page(self, chrome: &Chrome) -> Result<T, PageError> {
        self.map_err(|e| PageError::new(chrome, e))
    }
}

/// Like [`OrPage`], for pages whose "not found" has its own title.
pub(crate) trait OrPages<T> {
    /// The value; "not found" in the `missing` chrome, any other refusal or failure in
    /// `chrome`.
    fn or_pages(self, missing: &Chrome, chrome: &Chrome) -> Result<T, PageError>;
}

impl<T> OrPages<T> for Result<T, ManageError> {
    fn or_pages(self, missing: &Chrome, chrome: &Chrome) -> Result<T, PageError> {
        self.map_err(|e| match e {
            ManageError::NotFound => PageError::not_found(missing),
            other => PageError::new(chrome, other),
        })
    }
}

impl<T> OrPage<T> for Option<T> {
    /// `None` is "not found".
    fn or_page(self, chrome: &Chrome) -> Result<T, PageError> {
        self.ok_or_else(|| PageError::not_found(chrome))
    }
}

/// An error and its sources, `: `-separated.
struct Causes<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

const GOVUK_CSS: &[u8] = include_bytes!("../assets/govuk-frontend.min.css");
const TENURE_CSS: &[u8] = include_bytes!("../assets/tenure.css");
const AUTOCOMPLETE_CSS: &[u8] = include_bytes!("../assets/accessible-autocomplete.min.css");
const AUTOCOMPLETE_JS: &[u8] = include_bytes!("../assets/accessible-autocomplete.min.js");
const PICKERS_JS: &[u8] = include_bytes!("../assets/pickers.js");

/// The stylesheets and the pickers' scripts (`accessible-autocomplete`, vendored by
/// `cargo xtask assets`, and `pickers.js`), cached for a day; any other file is "Page not
/// found".
pub(crate) async fn asset(viewer: MaybeSigned, Path(file): Path<String>) -> Response {
    const CSS: &str = "text/css; charset=utf-8";
    const JS: &str = "text/javascript; charset=utf-8";
    let (kind, body) = match file.as_str() {
        "govuk-frontend.min.css" => (CSS, GOVUK_CSS),
        "tenure.css" => (CSS, TENURE_CSS),
        "accessible-autocomplete.min.css" => (CSS, AUTOCOMPLETE_CSS),
        "accessible-autocomplete.min.js" => (JS, AUTOCOMPLETE_JS),
        "pickers.js" => (JS, PICKERS_JS),
        _ => return not_found_page(viewer.chrome("Page not found")),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=86400")], body)
        .into_response()
}

#[cfg(test)]
mod tests {
    use tenure_core::Timestamp;

    use super::{query_value, when};

    /// The stylesheet is built with only the Design System components the pages use
    /// (`cargo xtask assets`, its list `GOVUK_COMPONENTS`): every `govuk-` class in the
    /// templates and the code must be styled by it, so a page using a component left out
    /// of the build, or a class GOV.UK Frontend has removed, fails here.
    #[test]
    fn stylesheet_styles_every_component_the_templates_use() {
        let css = std::str::from_utf8(super::GOVUK_CSS).unwrap();
        // Whether `.selector` starts a selector in the stylesheet, whole (`exact`) or as
        // the prefix of a longer class (a component's block styles only its elements).
        let has = |selector: &str, exact: bool| {
            css.match_indices(selector).any(|(at, _)| {
                let next = css[at + selector.len()..].chars().next().unwrap_or(' ');
                !exact || !(next.is_ascii_alphanumeric() || next == '-' || next == '_')
            })
        };
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("templates"), root.join("src")];
        let mut missing = std::collections::BTreeSet::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("govuk-") {
                let rest = &text[at..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "-_!".contains(c)))
                    .unwrap_or(rest.len());
                let class = rest[..end].trim_end_matches('-');
                let before = text[..at].chars().next_back().unwrap_or(' ');
                // Not a class: part of a longer word, the prefix alone (as in this test),
                // or the stylesheet's file name.
                if before.is_ascii_alphanumeric()
                    || before == '-'
                    || ["govuk", "govuk-!", "govuk-frontend"].contains(&class)
                {
                    continue;
                }
                let styled = if let Some(utility) = class.strip_prefix("govuk-!-") {
                    has(&format!(".govuk-\\!-{utility}"), true)
                } else if class.contains("--") {
                    has(&format!(".{class}"), true)
                } else {
                    let block = class.split("__").next().unwrap_or(class);
                    has(&format!(".{block}"), false)
                };
                if !styled {
                    missing.insert(format!("{class} ({})", path.display()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "classes the stylesheet does not style (add the component to `GOVUK_COMPONENTS` \
             in xtask and run `cargo xtask assets`, or use the current class): {missing:#?}"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("a b&c/é=1"), "a+b%26c%2F%C3%A9%3D1");
    }

    #[test]
    fn moments_show_in_the_zone_they_state() {
        let london = tenure_core::moment::service_zone();
        // 2026-07-01 12:30 UTC is 1:30pm in London (summer time).
        assert_eq!(when(&london, Timestamp(1_782_909_000_000)), "1 July 2026 at 1:30pm BST");
        // 2026-01-01 00:05 UTC is 12:05am in London.
        assert_eq!(when(&london, Timestamp(1_767_225_900_000)), "1 January 2026 at 12:05am GMT");
        let tokyo = tenure_core::moment::zone("Asia/Tokyo").unwrap();
        assert_eq!(when(&tokyo, Timestamp(1_767_225_900_000)), "1 January 2026 at 9:05am JST");
    }
}
