//! Forms: typed extraction of urlencoded bodies (repeated keys included) and the one
//! helper that shows a form again with its errors.
//!
//! Handlers take a typed body with `axum_extra::extract::Form` (over `serde_html_form`,
//! so a checkbox list sent as repeated keys arrives as a `Vec<String>`). Fields a form
//! names only as it is shown (`field_<key>`, `read_<dataset>`) are flattened into
//! [`Named`]. Unknown fields, the CSRF token among them, are accepted and ignored. A form
//! page implements [`FormPage`], and [`submit`] turns a service's answer into the next
//! page: a redirect once saved, the same form with its errors when the input is invalid,
//! and any other refusal's own page.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Deserializer};
use tenure_core::ManageError;

use crate::App;
use crate::security::Signed;
use crate::view::{Chrome, Errors, PageError};

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
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
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
