//! The Administration area: its index, and one module a screen (`entities`, `groups`,
//! `roles`, `accounts`, `companies`), each with its list, "+" create form and edit form. What the
//! forms share is here: the feature gate and the choices they offer (companies and
//! entities).

pub(crate) mod accounts;
pub(crate) mod companies;
pub(crate) mod entities;
pub(crate) mod groups;
pub(crate) mod listing;
pub(crate) mod roles;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tenure_core::{EntityQuery, ManageError, Page};
use tenure_domain::{EntityId, EntityKind, Feature, OrgId};

use crate::App;
use crate::form::{Choice, Sent};
use crate::security::Signed;
use crate::view::{self, Chrome, OrPage, PageError};

/// `?saved=1`: a form was just saved, which the page says in a banner.
#[derive(Deserialize, Default)]
pub(crate) struct SavedQuery {
    #[serde(default)]
    saved: Sent,
}

impl SavedQuery {
    /// The banner: `text` once saved, else none.
    fn banner(&self, text: &str) -> String {
        if self.saved.0 { text.to_owned() } else { String::new() }
    }
}

/// `?type=`: the entity type chosen on the first step of a "+" form.
#[derive(Deserialize, Default)]
pub(crate) struct TypeQuery {
    #[serde(default)]
    r#type: String,
}

#[derive(Template)]
#[template(path = "administration.html")]
struct AdministrationPage {
    chrome: Chrome,
    links: Vec<(String, String, String)>,
}

/// The index: a link to each screen whose feature the viewer may use.
pub(crate) async fn index(State(app): State<App>, viewer: Signed) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Administration");
    let me = viewer.0.user.id;
    let mut links = Vec::new();
    for (feature, href, label, hint) in [
        (
            Feature::EntityAdministration,
            "/administration/entities",
            "Entities",
            "People, businesses and regulators, and the companies they are linked to",
        ),
        (
            Feature::GroupAdministration,
            "/administration/groups",
            "Groups",
            "Entities grouped together, to give roles access to them",
        ),
        (
            Feature::RolesAdministration,
            "/administration/roles",
            "Roles",
            "What each role may see and do",
        ),
        (
            Feature::UserAdministration,
            "/administration/users",
            "User accounts",
            "Who can sign in, their roles and their companies",
        ),
        (
            Feature::CompanyAdministration,
            "/administration/companies",
            "Companies",
            "The firms of your group subject to the SM&CR, with their entities and users",
        ),
    ] {
        if app.services.corterum.may_use(me, feature).await.or_page(&chrome)? {
            links.push((href.to_owned(), label.to_owned(), hint.to_owned()));
        }
    }
    if links.is_empty() {
        return Err(PageError::not_found(&chrome));
    }
    Ok(view::render(&AdministrationPage { chrome, links }))
}

/// The companies the viewer may link things to with an administration feature (the
/// engine's `company_scope`), as choices.
///
/// # Errors
/// [`ManageError::Backend`] when they cannot be read: the page fails rather than offer
/// none.
async fn company_choices(
    app: &App,
    viewer: &Signed,
    feature: Feature,
    checked: &[OrgId],
) -> Result<Vec<Choice>, ManageError> {
    let companies = app.services.corterum.linkable_companies(viewer.0.user.id, feature).await?;
    Ok(companies
        .into_iter()
        .map(|(id, name)| {
            let label = name.map(|n| n.to_string()).unwrap_or_default();
            Choice::new(id.to_string(), label, checked.contains(&id))
        })
        .collect())
}

/// The entities of a type the viewer may list, by name, as choices (none when the
/// viewer's reach holds none).
///
/// # Errors
/// [`ManageError::Backend`] when they cannot be read.
async fn entity_choices(
    app: &App,
    viewer: &Signed,
    kind: EntityKind,
    checked: &[EntityId],
) -> Result<Vec<Choice>, ManageError> {
    let query = EntityQuery { search: None, kind: Some(kind) };
    let all = app
        .services
        .corterum
        .entities(viewer.0.user.id, &query, Page::numbered(1, Page::MAX_LIMIT))
        .await?;
    Ok(all
        .into_iter()
        .map(|e| Choice::new(e.id.to_string(), e.name.as_str(), checked.contains(&e.id)))
        .collect())
}

/// One entity to choose, or none: "None" first, then the entities of a type.
///
/// # Errors
/// As [`entity_choices`].
async fn one_entity_choices(
    app: &App,
    viewer: &Signed,
    kind: EntityKind,
    chosen: Option<EntityId>,
) -> Result<Vec<Choice>, ManageError> {
    let mut out = vec![Choice::new("", "None", chosen.is_none())];
    out.extend(entity_choices(app, viewer, kind, chosen.as_slice()).await?);
    Ok(out)
}
