//! The Companies screen (issue 15), opened from Administration by Company
//! Administration: the list, "+" (for whoever may add companies: the root administrator),
//! each company's page with its linked entities and users, and its edit form. Everything
//! is decided by `Corterum`'s company use cases: a housing organisation's id, or a
//! company outside the viewer's, is "Page not found"; a stale edit is 409.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tenure_core::corterum::CompanyInput;
use tenure_domain::OrgId;

use crate::App;
use crate::corterum::administration::SavedQuery;
use crate::form::{self, FormPage, Path, Query};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

const NEW: &str = "/administration/companies/new";

/// A row of the list.
pub(crate) struct CompanyRow {
    id: String,
    name: String,
    registration_number: String,
    status: String,
}

#[derive(Template)]
#[template(path = "companies.html")]
struct CompaniesPage {
    chrome: Chrome,
    rows: Vec<CompanyRow>,
    may_create: bool,
}

#[derive(Template)]
#[template(path = "company.html")]
struct CompanyPage {
    chrome: Chrome,
    banner: String,
    id: String,
    name: String,
    details: Vec<(String, String)>,
    entities: Vec<(String, String, String)>,
    users: Vec<(String, String, String)>,
    may_edit: bool,
}

/// What the company form sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompanyBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    telephone: String,
    #[serde(default)]
    registration_number: String,
    /// The version the form showed (edits only).
    #[serde(default)]
    version: String,
}

#[derive(Template)]
#[template(path = "company_form.html")]
struct CompanyForm {
    chrome: Chrome,
    errors: Errors,
    heading: String,
    action: String,
    back: String,
    name: String,
    address: String,
    telephone: String,
    registration_number: String,
    version: String,
}

/// The company form as it is shown.
struct CompanyFormPage {
    heading: String,
    id: Option<OrgId>,
    version: Option<i64>,
    input: CompanyInput,
}

impl FormPage for CompanyFormPage {
    async fn show(
        &self,
        _app: &App,
        viewer: &Signed,
        errors: Errors,
    ) -> Result<Response, PageError> {
        let (action, back) = match self.id {
            Some(id) => (
                format!("/administration/companies/{id}/edit"),
                format!("/administration/companies/{id}"),
            ),
            None => (NEW.to_owned(), "/administration/companies".to_owned()),
        };
        Ok(view::render(&CompanyForm {
            chrome: viewer.chrome(&self.heading).with_errors(&errors),
            errors,
            heading: self.heading.clone(),
            action,
            back,
            name: self.input.name.clone(),
            address: self.input.address.clone(),
            telephone: self.input.telephone.clone(),
            registration_number: self.input.registration_number.clone(),
            version: self.version.map(|v| v.to_string()).unwrap_or_default(),
        }))
    }
}

/// The list of the viewer's companies, by name.
pub(crate) async fn list(State(app): State<App>, viewer: Signed) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Companies");
    let listed = app.services.corterum.companies(viewer.0.user.id).await.or_page(&chrome)?;
    Ok(view::render(&CompaniesPage {
        chrome,
        may_create: listed.may_create,
        rows: listed
            .companies
            .into_iter()
            .map(|c| CompanyRow {
                id: c.id.to_string(),
                name: c.name.to_string(),
                registration_number: c.registration_number.unwrap_or_default(),
                status: if c.active { "Active" } else { "Deactivated" }.to_owned(),
            })
            .collect(),
    }))
}

/// "+": an empty form.
pub(crate) async fn new_page(
    State(app): State<App>,
    viewer: Signed,
) -> Result<Response, PageError> {
    let heading = "Add a company";
    let chrome = viewer.chrome(heading);
    let listed = app.services.corterum.companies(viewer.0.user.id).await.or_page(&chrome)?;
    if !listed.may_create {
        return Err(PageError::not_found(&chrome));
    }
    let page = CompanyFormPage {
        heading: heading.to_owned(),
        id: None,
        version: None,
        input: CompanyInput::default(),
    };
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves a new company.
pub(crate) async fn create(
    State(app): State<App>,
    viewer: Signed,
    form::Form(body): form::Form<CompanyBody>,
) -> Result<Response, PageError> {
    let input = input_of(body);
    let saved = app.services.corterum.create_company(viewer.0.user.id, &input).await;
    let page =
        CompanyFormPage { heading: "Add a company".to_owned(), id: None, version: None, input };
    form::submit(&app, &viewer, &page, &viewer.chrome("Add a company"), saved, |id| {
        format!("/administration/companies/{id}?saved=1")
    })
    .await
}

/// A company's page: its details, linked entities and users.
pub(crate) async fn show(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Company");
    let id = form::id(&id, OrgId::from_uuid).or_page(&chrome)?;
    let view = app.services.corterum.company(viewer.0.user.id, id).await.or_page(&chrome)?;
    let c = &view.company.value;
    let or_none = |v: Option<String>| v.filter(|s| !s.is_empty()).unwrap_or_else(|| "None".into());
    let details = vec![
        ("Name".to_owned(), c.name.to_string()),
        ("Registered office".to_owned(), or_none(c.address.clone())),
        ("Telephone".to_owned(), or_none(c.telephone.as_ref().map(ToString::to_string))),
        ("Company number".to_owned(), or_none(c.registration_number.clone())),
        ("Status".to_owned(), if c.active { "Active" } else { "Deactivated" }.to_owned()),
    ];
    Ok(view::render(&CompanyPage {
        chrome: viewer.chrome(c.name.as_str()),
        banner: q.banner("Company saved"),
        id: id.to_string(),
        name: c.name.to_string(),
        details,
        entities: view
            .entities
            .iter()
            .map(|e| (e.id.to_string(), e.name.to_string(), e.kind.label().to_owned()))
            .collect(),
        users: view
            .users
            .iter()
            .map(|(username, u)| {
                let status = if u.active { "Active" } else { "Deactivated" };
                (u.id.to_string(), username.clone(), status.to_owned())
            })
            .collect(),
        may_edit: view.may_edit,
    }))
}

/// The edit form, with the version it will be written against.
pub(crate) async fn edit_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Change company");
    let id = form::id(&id, OrgId::from_uuid).or_page(&chrome)?;
    let view = app.services.corterum.company(viewer.0.user.id, id).await.or_page(&chrome)?;
    if !view.may_edit {
        return Err(PageError::not_found(&chrome));
    }
    let page = CompanyFormPage {
        heading: format!("Change {}", view.company.value.name),
        id: Some(id),
        version: Some(view.company.version),
        input: CompanyInput::of(&view.company.value),
    };
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves a company's changes against the version its form showed.
pub(crate) async fn edit(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    form::Form(body): form::Form<CompanyBody>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Change company");
    let id = form::id(&id, OrgId::from_uuid).or_page(&chrome)?;
    // A version that is not a number cannot be current: the edit conflicts.
    let version = body.version.trim().parse::<i64>().unwrap_or(-1);
    let input = input_of(body);
    let saved = app.services.corterum.edit_company(viewer.0.user.id, id, version, &input).await;
    let page = CompanyFormPage {
        heading: "Change company".to_owned(),
        id: Some(id),
        version: Some(version),
        input,
    };
    form::submit(&app, &viewer, &page, &chrome, saved, |()| {
        format!("/administration/companies/{id}?saved=1")
    })
    .await
}

fn input_of(body: CompanyBody) -> CompanyInput {
    CompanyInput {
        name: body.name,
        address: body.address,
        telephone: body.telephone,
        registration_number: body.registration_number,
    }
}
