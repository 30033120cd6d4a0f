//! Forms, query strings and path segments as handlers take them, read by one set of
//! rules at the edge, and the one helper that shows a form again with its errors.
//!
//! Handlers take [`Form`], [`Query`] and [`Path`] from here, never axum's, so bad input
//! always gets the service's own page (issue 16), never a framework's plain text:
//! - Text is percent-decoded strictly: an escape that is not UTF-8 (`%FF%FE`) is refused.
//! - Control characters and text-direction overrides
//!   ([`tenure_domain::name::is_forbidden_in_text`], the domain's one rule for free text)
//!   are refused in a form's field names and values, so nothing a form sends carries one
//!   and no refused form shows one back; in a query string they are dropped, so a link or
//!   a search still opens (a search for `ab` NUL is a search for `ab`); in a path segment
//!   the page is "not found".
//! - The CSRF token field is taken off before a form is read (the security layer has
//!   checked it); every other field must be one the form names (`deny_unknown_fields`) or
//!   one the page builds from data, which [`Named`] collects (`field_<key>`,
//!   `read_<dataset>`, `edit_<dataset>`, `create_<dataset>`), so an unknown field is
//!   refused (checklist AC-05). Query strings may carry unknown keys (links from
//!   elsewhere add their own); they are ignored.
//! - A form or query that cannot be read (not a form, a field missing or of the wrong
//!   type, an unknown field) answers 400 with the service's page saying what was wrong,
//!   and nothing is changed. A page number that is not one ([`PageNumber`]) shows the
//!   first page instead.
//!
//! Repeated keys are read by `serde_html_form` (through `axum_extra`'s form reader), so a
//! checkbox list arrives as a `Vec<String>`. A form page implements [`FormPage`], and
//! [`submit`] turns a service's answer into the next page: a redirect once saved, the same
//! form with its errors when the input is invalid, and any other refusal's own page.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use tenure_core::ManageError;
use tenure_domain::name::{is_forbidden_in_text, quoted};

use crate::App;
use crate::security::{MaybeSigned, Signed};
use crate::view::{self, Chrome, Errors, PageError};

/// A form's fields, read by the rules of this module; refused with the service's 400 page.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Form<T>(pub(crate) T);

/// A query string's parameters, read by the rules of this module (control characters
/// dropped); refused with the service's 400 page.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Query<T>(pub(crate) T);

/// The path's segments; a segment that is not text, or carries a control character, is
/// "Page not found", as any address that names nothing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Path<T>(pub(crate) T);

/// A page number from a query string: any text that is not a whole number from 1 up to
/// `usize::MAX` (`x`, `-1`, `0`, `99999999999999999999`) is the first page. The first
/// rather than the last: the first page exists for every list and costs nothing to find,
/// while the last needs a count first, and a number past the end already shows an empty
/// page with a link back.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct PageNumber(Option<usize>);

/// How one text of a request breaks the rules.
#[derive(Debug)]
enum Bad {
    /// Percent-escapes that are not UTF-8, in a field's name or value.
    NotUtf8,
    /// A forbidden character in the named field.
    Character { field: String, found: char },
}

/// What happens to a forbidden character: refused in forms, dropped from query strings.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rule {
    Refuse,
    Drop,
}

/// The prefixes of the field names pages build from data (see [`Named`]).
const NAMED_PREFIXES: [&str; 4] = ["field_", "read_", "edit_", "create_"];
/// The CSRF token's field, checked by the security layer and taken off before reading.
const CSRF_FIELD: &str = "csrf";
/// The most characters of a reader's complaint the 400 page repeats.
const DETAIL_MAX_CHARS: usize = 300;

impl PageNumber {
    /// The number asked for, if it was one.
    pub(crate) fn get(self) -> Option<usize> {
        self.0
    }
}

impl<'de> Deserialize<'de> for PageNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self(text.trim().parse::<usize>().ok().filter(|n| *n > 0)))
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let chrome = chrome(&mut parts, state).await;
        let urlencoded = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if parts.method != Method::POST || !urlencoded {
            return Err(view::bad_request_page(
                chrome,
                "What was sent is not a form from this service's pages \
                 (application/x-www-form-urlencoded).",
            ));
        }
        // The security layer has read the body already, within its limit.
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return Err(view::bad_request_page(chrome, "What was sent could not be read."));
        };
        let pairs = match pairs(&bytes, Rule::Refuse) {
            Ok(pairs) => pairs,
            Err(bad) => return Err(view::bad_request_page(chrome, &explain(&bad))),
        };
        let pairs = pairs.into_iter().filter(|(k, _)| k != CSRF_FIELD);
        read(pairs).await.map(Self).map_err(|detail| {
            view::bad_request_page(chrome, &format!("The form could not be read: {detail}."))
        })
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default().to_owned();
        let pairs = match pairs(query.as_bytes(), Rule::Drop) {
            Ok(pairs) => pairs,
            Err(bad) => {
                return Err(view::bad_request_page(chrome(parts, state).await, &explain(&bad)));
            }
        };
        match read(pairs.into_iter()).await {
            Ok(value) => Ok(Self(value)),
            Err(detail) => Err(view::bad_request_page(
                chrome(parts, state).await,
                &format!("The web address could not be read: {detail}."),
            )),
        }
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let clean = RawPathParams::from_request_parts(parts, state)
            .await
            .is_ok_and(|raw| raw.iter().all(|(_, v)| !v.chars().any(is_forbidden_in_text)));
        let path = if clean {
            axum::extract::Path::<T>::from_request_parts(parts, state).await.ok()
        } else {
            None
        };
        match path {
            Some(axum::extract::Path(value)) => Ok(Self(value)),
            None => Err(view::not_found_page(
                MaybeSigned::from_request_parts(parts, state)
                    .await
                    .unwrap_or_else(|never| match never {})
                    .chrome("Page not found"),
            )),
        }
    }
}

/// The chrome of the 400 page for this request.
async fn chrome<S: Send + Sync>(parts: &mut Parts, state: &S) -> Chrome {
    let viewer = MaybeSigned::from_request_parts(parts, state).await;
    viewer.unwrap_or_else(|never| match never {}).chrome("There is a problem with what was sent")
}

/// The fields of a urlencoded text, decoded strictly, with forbidden characters refused
/// or dropped by `rule`.
fn pairs(text: &[u8], rule: Rule) -> Result<Vec<(String, String)>, Bad> {
    let mut out = Vec::new();
    for pair in text.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let key = decode(key).ok_or(Bad::NotUtf8)?;
        let value = decode(value).ok_or(Bad::NotUtf8)?;
        let name = key.clone();
        let key = clean(key, &name, rule)?;
        let value = clean(value, &key, rule)?;
        out.push((key, value));
    }
    Ok(out)
}

/// The text with forbidden characters dropped, or refused naming the `field`.
fn clean(text: String, field: &str, rule: Rule) -> Result<String, Bad> {
    match text.chars().find(|c| is_forbidden_in_text(*c)) {
        None => Ok(text),
        Some(_) if rule == Rule::Drop => {
            Ok(text.chars().filter(|c| !is_forbidden_in_text(*c)).collect())
        }
        Some(found) => Err(Bad::Character { field: field.to_owned(), found }),
    }
}

/// Percent-decoding, with `+` for a space; `None` when the bytes are not UTF-8. A `%` not
/// followed by two hexadecimal digits stands for itself, as browsers and `form_urlencoded`
/// read it.
fn decode(raw: &[u8]) -> Option<String> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' if i + 2 < raw.len() => {
                match (hex(raw[i + 1]), hex(raw[i + 2])) {
                    (Some(h), Some(l)) => {
                        // INVARIANT: two hexadecimal digits make at most 255.
                        bytes.push(u8::try_from(h * 16 + l).unwrap_or(0));
                        i += 2;
                    }
                    _ => bytes.push(b'%'),
                }
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).ok()
}

/// The 400 page's sentence for a text that breaks the rules.
fn explain(bad: &Bad) -> String {
    match bad {
        Bad::NotUtf8 => "What was sent has percent-escapes that are not UTF-8 text, which \
                         this service does not accept."
            .to_owned(),
        Bad::Character { field, found } => format!(
            "The field `{}` contains `{}`: control or text-direction characters are not \
             accepted. Remove it and try again.",
            quoted(field),
            quoted(&found.to_string()),
        ),
    }
}

/// The typed value of these fields, or what `serde` found wrong with them (the field's
/// path and the complaint, cut short). The fields are read by `axum_extra`'s form reader
/// (`serde_html_form` for repeated keys, `serde_path_to_error` for the field's name),
/// given them re-encoded as a form's body (a body, not a query string: a web address
/// holds at most 64 KiB, and a form may be up to the body limit).
async fn read<T: DeserializeOwned + Send>(
    pairs: impl Iterator<Item = (String, String)>,
) -> Result<T, String> {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let request = Request::post("/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .map_err(|_| "it is not a form".to_owned())?;
    match axum_extra::extract::Form::<T>::from_request(request, &()).await {
        Ok(axum_extra::extract::Form(value)) => Ok(value),
        Err(rejection) => {
            let detail = std::error::Error::source(&rejection)
                .map_or_else(|| rejection.to_string(), ToString::to_string);
            let mut cut: String = detail.chars().take(DETAIL_MAX_CHARS).collect();
            if cut.len() < detail.len() {
                cut.push('…');
            }
            Err(cut)
        }
    }
}

/// A checkbox or radio option.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) hint: String,
    pub(crate) checked: bool,
}

impl Choice {
    /// An option without a hint.
    pub(crate) fn new(value: impl Into<String>, label: impl Into<String>, checked: bool) -> Self {
        Self { value: value.into(), label: label.into(), hint: String::new(), checked }
    }
}

/// A field that counts by being sent at all, whatever its value: a submit button's name,
/// a ticked box.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct Sent(pub(crate) bool);

impl<'de> Deserialize<'de> for Sent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Ok(Self(true))
    }
}

/// The fields a typed form does not name (`#[serde(flatten)]`): those whose names the
/// page builds as it is shown, such as `field_<key>` for an entity's or a dataset's
/// fields and `read_<dataset>` for a role's datasets, and anything else sent.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub(crate) struct Named(BTreeMap<String, Values>);

/// The values sent under one key: one, or several when the key repeats.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(untagged)]
enum Values {
    One(String),
    Many(Vec<String>),
}

impl Named {
    /// The first value sent under `key`, or "" when none was.
    pub(crate) fn one(&self, key: &str) -> &str {
        match self.0.get(key) {
            Some(Values::One(v)) => v,
            Some(Values::Many(vs)) => vs.first().map_or("", String::as_str),
            None => "",
        }
    }

    /// Whether `key` was sent at all (a ticked box).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

impl<'de> Deserialize<'de> for Named {
    /// The fields, refusing any whose name no page builds (checklist AC-05).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = BTreeMap::<String, Values>::deserialize(deserializer)?;
        if let Some(unknown) =
            fields.keys().find(|k| !NAMED_PREFIXES.iter().any(|p| k.starts_with(p)))
        {
            return Err(serde::de::Error::custom(format!(
                "unknown field `{}`, expected one of the form's own or a field of the record \
                 (`field_…`, `read_…`, `edit_…`, `create_…`)",
                quoted(unknown)
            )));
        }
        Ok(Self(fields))
    }
}

/// An id from a path segment or a form's value, if it is one.
pub(crate) fn id<T>(value: &str, wrap: fn(uuid::Uuid) -> T) -> Option<T> {
    uuid::Uuid::parse_str(value).ok().map(wrap)
}

/// The ids among a checkbox list's values (values that are not ids are left out).
pub(crate) fn ids<T>(values: &[String], wrap: fn(uuid::Uuid) -> T) -> Vec<T> {
    values.iter().filter_map(|v| id(v, wrap)).collect()
}

/// A form page as it is about to be shown: what it holds and where it posts. The same
/// value shows it first (no errors) and again after a refused save.
pub(crate) trait FormPage {
    /// The page, with these errors (none when first shown).
    async fn show(&self, app: &App, viewer: &Signed, errors: Errors)
    -> Result<Response, PageError>;
}

/// What a form's submission comes to: once `saved`, a redirect to the page `next` names;
/// refused as invalid, `form` again with its errors; any other refusal, its page in
/// `chrome`.
///
/// # Errors
/// The refusal's page, or the form page's own.
pub(crate) async fn submit<T>(
    app: &App,
    viewer: &Signed,
    form: &impl FormPage,
    chrome: &Chrome,
    saved: Result<T, ManageError>,
    next: impl FnOnce(T) -> String,
) -> Result<Response, PageError> {
    match saved {
        Ok(value) => Ok(Redirect::to(&next(value)).into_response()),
        Err(ManageError::Invalid(fields)) => {
            form.show(app, viewer, Errors::from_fields(&fields)).await
        }
        Err(e) => Err(PageError::new(chrome, e)),
    }
}
