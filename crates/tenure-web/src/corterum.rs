//! Corterum's screens: the Administration area (`administration`: Entities, Groups,
//! Roles, User accounts, each with its list, "+" create form and edit form, companies
//! linked on the forms) and the records people read (`records`: an entity's datasets,
//! and an instance with its version history and a "view as of" control). Feature
//! permissions gate the Administration pages; the engine decides everything through the
//! Corterum service.

pub(crate) mod administration;
pub(crate) mod records;
pub(crate) mod reports;

use std::collections::BTreeMap;

use tenure_core::ManageError;
use tenure_domain::{EntityKind, Feature};

use crate::App;
use crate::form::Choice;
use crate::security::Signed;
use crate::view::{Chrome, OrPage, PageError};

/// A text field on an entity's or a dataset's form, with its value.
pub(crate) struct FieldInput {
    key: String,
    label: String,
    value: String,
}

impl FieldInput {
    /// The fields of an entity type, filled in from `values` by key.
    fn of_kind(kind: EntityKind, values: &BTreeMap<String, String>) -> Vec<Self> {
        kind.fields()
            .iter()
            .map(|(k, l)| Self {
                key: (*k).to_owned(),
                label: (*l).to_owned(),
                value: values.get(*k).cloned().unwrap_or_default(),
            })
            .collect()
    }
}

/// The entity types, as radio options or a filter.
fn kind_choices(selected: Option<EntityKind>) -> Vec<Choice> {
    EntityKind::ALL
        .iter()
        .map(|k| Choice::new(k.as_str(), k.label(), selected == Some(*k)))
        .collect()
}

/// "Page not found" in `chrome` unless the engine lets the viewer use `feature`. A
/// failure to ask is the problem page, its cause logged: never a "not found" that hides a
/// broken store.
async fn require(
    app: &App,
    viewer: &Signed,
    feature: Feature,
    chrome: &Chrome,
) -> Result<(), PageError> {
    if app.services.corterum.may_use(viewer.0.user.id, feature).await.or_page(chrome)? {
        Ok(())
    } else {
        Err(PageError::not_found(chrome))
    }
}

/// What a form offers from a list the service gives only with a feature (the groups
/// with `group_administration`, the roles with `roles_administration` or
/// `user_administration`): without it ("not found") there is nothing to offer; any
/// other failure is its page (a 500, its cause logged), never an empty list.
fn offered<T>(found: Result<Vec<T>, ManageError>, chrome: &Chrome) -> Result<Vec<T>, PageError> {
    match found {
        Err(ManageError::NotFound) => Ok(Vec::new()),
        other => other.or_page(chrome),
    }
}
