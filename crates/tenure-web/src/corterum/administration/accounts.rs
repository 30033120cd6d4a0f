//! User accounts: the list, the "+" form (saving it sends the invitation) and the edit
//! form, written against the version it showed so that a stale form conflicts.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tenure_core::{AccountInput, FieldError, ManageError, Page};
use tenure_domain::{EntityId, EntityKind, Feature, OrgId, RoleId, UserId};

use crate::App;
use crate::corterum::administration::{SavedQuery, company_choices, one_entity_choices};
use crate::corterum::require;
use crate::form::{self, Choice, Form, FormPage, Path, Query};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

const NEW: &str = "/administration/users/new";

pub(crate) struct AccountRow {
    id: String,
    username: String,
    email: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    rows: Vec<AccountRow>,
    banner: String,
}

#[derive(Template)]
#[template(path = "account_form.html")]
struct AccountForm {
    chrome: Chrome,
    errors: Errors,
    heading: String,
    action: String,
    editing: bool,
    username: String,
    email: String,
    entities: Vec<Choice>,
    roles: Vec<Choice>,
    companies: Vec<Choice>,
    /// The user's version the form was made from, written against (editing only).
    version: i64,
    banner: String,
}

/// What the user account form sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountBody {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    entity: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    companies: Vec<String>,
    /// The version the edit form showed (kept as sent: one that is not a number
    /// conflicts).
    #[serde(default)]
    version: String,
}

impl AccountBody {
    fn input(&self) -> AccountInput {
        AccountInput {
            username: self.username.clone(),
            email: self.email.clone(),
            entity: form::id(&self.entity, EntityId::from_uuid),
            roles: form::ids(&self.roles, RoleId::from_uuid),
            companies: form::ids(&self.companies, OrgId::from_uuid),
        }
    }
}

/// The user account form as it is shown.
struct AccountPage {
    heading: String,
    action: String,
    /// The version being edited; `None` for a new account.
    version: Option<i64>,
    input: AccountInput,
    banner: String,
}

impl FormPage for AccountPage {
    async fn show(
        &self,
        app: &App,
        viewer: &Signed,
        errors: Errors,
    ) -> Result<Response, PageError> {
        let input = &self.input;
        let entities = one_entity_choices(app, viewer, EntityKind::Person, input.entity).await;
        // Without roles administration there are no roles to offer.
        let roles = app.services.corterum.roles(viewer.0.user.id).await.unwrap_or_default();
        Ok(view::render(&AccountForm {
            chrome: viewer.chrome(&self.heading).with_errors(&errors),
            errors,
            heading: self.heading.clone(),
            action: self.action.clone(),
            editing: self.version.is_some(),
            username: input.username.clone(),
            email: input.email.clone(),
            entities,
            roles: roles
                .into_iter()
                .map(|r| Choice {
                    value: r.id.to_string(),
                    checked: input.roles.contains(&r.id),
                    hint: r.description,
                    label: r.name,
                })
                .collect(),
            companies: company_choices(app, viewer, Feature::UserAdministration, &input.companies)
                .await,
            version: self.version.unwrap_or_default(),
            banner: self.banner.clone(),
        }))
    }
}

/// The list.
pub(crate) async fn list(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("User accounts");
    let page = Page::numbered(1, Page::MAX_LIMIT);
    let rows = app.services.corterum.accounts(viewer.0.user.id, page).await.or_page(&chrome)?;
    Ok(view::render(&AccountsPage {
        chrome,
        rows: rows
            .into_iter()
            .map(|(username, u)| AccountRow {
                id: u.id.to_string(),
                username,
                email: u.email.to_string(),
                active: u.active,
            })
            .collect(),
        banner: q.banner("User account saved; an invitation to set a password was sent"),
    }))
}

/// "+": the form for a new account, the viewer's companies ticked.
pub(crate) async fn new_page(
    State(app): State<App>,
    viewer: Signed,
) -> Result<Response, PageError> {
    let heading = "Add a user";
    require(&app, &viewer, Feature::UserAdministration, &viewer.chrome(heading)).await?;
    let input = AccountInput {
        companies: viewer.0.world.user_companies(viewer.0.user.id),
        ..AccountInput::default()
    };
    let page = AccountPage {
        heading: heading.to_owned(),
        action: NEW.to_owned(),
        version: None,
        input,
        banner: String::new(),
    };
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves a new account and sends its invitation.
pub(crate) async fn create(
    State(app): State<App>,
    viewer: Signed,
    Form(body): Form<AccountBody>,
) -> Result<Response, PageError> {
    let heading = "Add a user";
    let page = AccountPage {
        heading: heading.to_owned(),
        action: NEW.to_owned(),
        version: None,
        input: body.input(),
        banner: String::new(),
    };
    let services = &app.services;
    let saved = services.manage.create_account(&services.corterum, viewer.0.user.id, &page.input);
    let saved = saved.await.map_err(|e| match e {
        ManageError::EmailInUse => ManageError::Invalid(vec![FieldError {
            field: "email",
            message: "This email address is already used by another account".to_owned(),
        }]),
        e => e,
    });
    form::submit(&app, &viewer, &page, &viewer.chrome(heading), saved, |_| {
        "/administration/users?saved=1".to_owned()
    })
    .await
}

/// The edit form.
pub(crate) async fn edit_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("User account");
    let id = form::id(&id, UserId::from_uuid).or_page(&chrome)?;
    let account = app.services.corterum.account(viewer.0.user.id, id).await.or_page(&chrome)?;
    let page = AccountPage {
        action: format!("/administration/users/{id}"),
        version: Some(account.user.version),
        input: AccountInput {
            username: account.username.clone(),
            email: account.user.value.email.to_string(),
            entity: account.links.entity,
            roles: account.user.value.roles,
            companies: account.links.companies,
        },
        heading: account.username,
        banner: q.banner("User account saved"),
    };
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves an account's entity, roles and companies (its username and email stay).
pub(crate) async fn edit(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(body): Form<AccountBody>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("User account");
    let id = form::id(&id, UserId::from_uuid).or_page(&chrome)?;
    let account = app.services.corterum.account(viewer.0.user.id, id).await.or_page(&chrome)?;
    // The version the form showed: a form from before someone else's save conflicts.
    let version =
        body.version.parse::<i64>().map_err(|_| ManageError::Conflict).or_page(&chrome)?;
    let mut input = body.input();
    input.username = account.username.clone();
    input.email = account.user.value.email.to_string();
    let page = AccountPage {
        heading: account.username,
        action: format!("/administration/users/{id}"),
        version: Some(version),
        input,
        banner: String::new(),
    };
    let saved =
        app.services.corterum.update_account(viewer.0.user.id, id, version, &page.input).await;
    form::submit(&app, &viewer, &page, &chrome, saved, |()| {
        format!("/administration/users/{id}?saved=1")
    })
    .await
}
