//! Roles: the list, the "+" form and the edit form, with "Select all" to tick every
//! dataset for reading. Built-in roles show read only.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tenure_core::Page;
use tenure_core::query::Search;
use tenure_domain::role::form::RoleForm;
use tenure_domain::{DatasetId, DatasetPermissions, Feature, GroupId, RoleId};

use crate::App;
use crate::corterum::administration::SavedQuery;
use crate::corterum::administration::listing::Pager;
use crate::corterum::{offered, require};
use crate::form::{self, Choice, Form, FormPage, Named, PageNumber, Path, Query};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

const NEW: &str = "/administration/roles/new";

pub(crate) struct RoleRow {
    id: String,
    name: String,
    description: String,
    builtin: bool,
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    chrome: Chrome,
    q: String,
    rows: Vec<RoleRow>,
    pager: Pager,
}

/// `GET /administration/roles`: the search and the page.
#[derive(Deserialize, Default)]
pub(crate) struct RoleListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: PageNumber,
}

pub(crate) struct DatasetChoice {
    id: String,
    name: String,
    read: bool,
    edit: bool,
    create: bool,
}

#[derive(Template)]
#[template(path = "role_form.html")]
struct RoleFormPage {
    chrome: Chrome,
    errors: Errors,
    heading: String,
    action: String,
    read_only: bool,
    name: String,
    description: String,
    groups: Vec<Choice>,
    features: Vec<Choice>,
    /// "Requires an authenticator app" (issue 14), one box.
    second_factor: Vec<Choice>,
    datasets: Vec<DatasetChoice>,
    banner: String,
}

/// What the role form sends.
#[derive(Deserialize)]
pub(crate) struct RoleBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    features: Vec<String>,
    /// The "Select all" buttons, one a column: `read`, `edit` or `create`.
    #[serde(default)]
    select_all: String,
    /// "Requires an authenticator app", ticked.
    #[serde(default)]
    requires_second_factor: Option<String>,
    /// `read_<dataset>`, `edit_<dataset>` and `create_<dataset>` boxes, ticked.
    #[serde(flatten)]
    named: Named,
}

impl RoleBody {
    /// The role the form describes, over the catalogue's datasets. "Select all" ticks
    /// one column (read, edit or create) for every dataset, keeping the other ticks.
    fn role(&self, datasets: &[DatasetId]) -> RoleForm {
        let mut out = RoleForm {
            name: self.name.clone(),
            description: self.description.clone(),
            groups: form::ids(&self.groups, GroupId::from_uuid),
            features: self.features.iter().filter_map(|f| f.parse::<Feature>().ok()).collect(),
            datasets: BTreeMap::new(),
            requires_second_factor: self.requires_second_factor.is_some(),
        };
        // "1" is what the single "Select all (read)" button used to send.
        let all = match self.select_all.as_str() {
            "1" => "read",
            other => other,
        };
        for d in datasets {
            let ticked = |p: &str| all == p || self.named.has(&format!("{p}_{d}"));
            let p = DatasetPermissions {
                read: ticked("read"),
                edit: ticked("edit"),
                create: ticked("create"),
            };
            if !p.is_none() {
                out.datasets.insert(*d, p);
            }
        }
        out
    }
}

/// The role form as it is shown.
struct RolePage {
    heading: String,
    action: String,
    role: RoleForm,
    read_only: bool,
    banner: String,
}

impl RolePage {
    /// The form for role `id` (a new one when `None`), editable.
    fn new(id: Option<RoleId>, heading: String, role: RoleForm) -> Self {
        Self {
            heading,
            action: id.map_or_else(|| NEW.to_owned(), |r| format!("/administration/roles/{r}")),
            role,
            read_only: false,
            banner: String::new(),
        }
    }
}

impl FormPage for RolePage {
    async fn show(
        &self,
        app: &App,
        viewer: &Signed,
        errors: Errors,
    ) -> Result<Response, PageError> {
        let chrome = viewer.chrome(&self.heading);
        // Without group administration there are no groups to offer.
        let all_groups = offered(app.services.corterum.groups(viewer.0.user.id).await, &chrome)?;
        let datasets = app.services.corterum.datasets().await.or_page(&chrome)?;
        let role = &self.role;
        Ok(view::render(&RoleFormPage {
            chrome: chrome.with_errors(&errors),
            errors,
            heading: self.heading.clone(),
            action: self.action.clone(),
            read_only: self.read_only,
            name: role.name.clone(),
            description: role.description.clone(),
            groups: all_groups
                .into_iter()
                .map(|g| Choice {
                    value: g.id.to_string(),
                    hint: g.description.clone(),
                    label: g.name.to_string(),
                    checked: role.groups.contains(&g.id),
                })
                .collect(),
            features: Feature::ALL
                .iter()
                .map(|f| {
                    // The report features open their reports; the others open nothing yet,
                    // and the form says so rather than pretending.
                    let label = if opens_something(*f) {
                        f.label().to_owned()
                    } else {
                        format!("{} (opens nothing yet)", f.label())
                    };
                    Choice::new(f.as_str(), label, role.features.contains(*f))
                })
                .collect(),
            second_factor: vec![Choice::new(
                "1",
                "Requires an authenticator app: its users sign in with a security code as well as their password",
                role.requires_second_factor,
            )],
            datasets: datasets
                .into_iter()
                .map(|d| {
                    let p = role.datasets.get(&d.id).copied().unwrap_or_default();
                    DatasetChoice {
                        id: d.id.to_string(),
                        name: d.name.to_string(),
                        read: p.read,
                        edit: p.edit,
                        create: p.create,
                    }
                })
                .collect(),
            banner: self.banner.clone(),
        }))
    }
}

/// The list: the out-of-the-box roles, then those customers built, searched by name,
/// 20 a page.
pub(crate) async fn list(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<RoleListQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Roles");
    require(&app, &viewer, Feature::RolesAdministration, &chrome).await?;
    let number = q.page.get().unwrap_or(1);
    let page = Page::numbered(number, Page::SCREEN);
    let search = Search::parse(&q.q);
    let me = viewer.0.user.id;
    let listed =
        app.services.corterum.role_list(me, search.as_ref(), page).await.or_page(&chrome)?;
    let pager = Pager::new(
        "/administration/roles",
        &[("q", q.q.as_str())],
        number,
        listed.items.len(),
        listed.total,
        "roles",
    );
    Ok(view::render(&RolesPage {
        chrome,
        q: q.q.clone(),
        pager,
        rows: listed
            .items
            .into_iter()
            .map(|r| RoleRow {
                id: r.id.to_string(),
                builtin: r.built_in,
                name: r.name,
                description: r.description,
            })
            .collect(),
    }))
}

/// "+": the form for a new role.
pub(crate) async fn new_page(
    State(app): State<App>,
    viewer: Signed,
) -> Result<Response, PageError> {
    let heading = "Add a role";
    require(&app, &viewer, Feature::RolesAdministration, &viewer.chrome(heading)).await?;
    let page = RolePage::new(None, heading.to_owned(), RoleForm::default());
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves a new role (or, for "Select all", shows the form again with every dataset
/// ticked for reading).
pub(crate) async fn create(
    State(app): State<App>,
    viewer: Signed,
    Form(body): Form<RoleBody>,
) -> Result<Response, PageError> {
    save(&app, &viewer, None, &body).await
}

/// The edit form (read only for a built-in role).
pub(crate) async fn edit_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Role");
    let id = form::id(&id, RoleId::from_uuid).or_page(&chrome)?;
    require(&app, &viewer, Feature::RolesAdministration, &chrome).await?;
    let roles = app.services.corterum.roles(viewer.0.user.id).await.or_page(&chrome)?;
    let role = roles.into_iter().find(|r| r.id == id).or_page(&chrome)?;
    let mut page = RolePage::new(Some(id), role.name.clone(), RoleForm::from_role(&role));
    page.read_only = role.built_in;
    page.banner = q.banner("Role saved");
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves a role's changes (or "Select all", as for a new role).
pub(crate) async fn edit(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(body): Form<RoleBody>,
) -> Result<Response, PageError> {
    let id = form::id(&id, RoleId::from_uuid).or_page(&viewer.chrome("Role"))?;
    save(&app, &viewer, Some(id), &body).await
}

async fn save(
    app: &App,
    viewer: &Signed,
    id: Option<RoleId>,
    body: &RoleBody,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Role");
    let datasets = app.services.corterum.datasets().await.or_page(&chrome)?;
    let datasets: Vec<DatasetId> = datasets.iter().map(|d| d.id).collect();
    let role = body.role(&datasets);
    let heading = if id.is_some() { role.name.clone() } else { "Add a role".to_owned() };
    let page = RolePage::new(id, heading, role);
    // "Select all" ticks every dataset (read) and shows the form again to untick some.
    if !body.select_all.is_empty() {
        return page.show(app, viewer, Errors::default()).await;
    }
    let saved = app.services.corterum.save_role(viewer.0.user.id, id, page.role.clone()).await;
    form::submit(app, viewer, &page, &chrome, saved, |rid| {
        format!("/administration/roles/{rid}?saved=1")
    })
    .await
}

/// Whether a feature opens a screen yet: the administration areas and the reports
/// (`tenure_domain::report`).
fn opens_something(feature: Feature) -> bool {
    Feature::ADMINISTRATION.contains(&feature)
        || tenure_domain::report::Report::of_feature(feature).is_some()
}
