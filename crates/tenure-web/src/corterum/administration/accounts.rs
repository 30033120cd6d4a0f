//! User accounts: the list (search by username or email, filters by company, role and
//! status, 20 a page), the "+" form (saving it sends the invitation), the edit form
//! (username, entity, roles, companies; written against the version it showed so that a
//! stale form conflicts), the email address form (a credential: `Manage::edit_user`, the
//! engine's `user.change_email`), resending or withdrawing an invitation not yet accepted
//! (`Manage::resend_invitation` and `revoke_invitation`, CORE's: the engine's `user.invite`
//! into the account's company giving each of its roles), deactivating, reactivating
//! (every role given back on acceptance) and deleting on a confirmation page (the linked
//! entity stays).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tenure_core::{
    AccountInput, AccountQuery, AccountStatus, FieldError, ManageError, Page, UserChanges,
};
use tenure_domain::{EntityId, EntityKind, Feature, OrgId, RoleId, UserId};

use crate::App;
use crate::corterum::administration::listing::Pager;
use crate::corterum::administration::{company_choices, one_entity_choices};
use crate::corterum::{offered, require};
use crate::form::{self, Choice, Form, FormPage, PageNumber, Path, Query, Sent};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

const NEW: &str = "/administration/users/new";
const LIST: &str = "/administration/users";

pub(crate) struct AccountRow {
    id: String,
    username: String,
    email: String,
    entity: String,
    companies: String,
    roles: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    rows: Vec<AccountRow>,
    banner: String,
    q: String,
    companies: Vec<Choice>,
    roles: Vec<Choice>,
    statuses: Vec<Choice>,
    pager: Pager,
}

/// `GET /administration/users`: the search, the filters, the page and the banner of a
/// change just made.
#[derive(Deserialize, Default)]
pub(crate) struct AccountListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: PageNumber,
    #[serde(default)]
    saved: Sent,
    #[serde(default)]
    deleted: Sent,
}

#[derive(Template)]
#[template(path = "account_form.html")]
struct AccountForm {
    chrome: Chrome,
    errors: Errors,
    heading: String,
    action: String,
    editing: bool,
    id: String,
    username: String,
    email: String,
    entities: Vec<Choice>,
    roles: Vec<Choice>,
    companies: Vec<Choice>,
    /// The user's version the form was made from, written against (editing only).
    version: i64,
    banner: String,
    /// Editing: whether the account is active (deactivate) or not (reactivate, delete).
    active: bool,
    /// Editing: where the account stands, as CORE's screens name it, and its tag's class.
    status: &'static str,
    tag: &'static str,
    /// Editing: its invitation is not accepted, so it may be sent again (expired or
    /// withdrawn too) or withdrawn (while open).
    resend: bool,
    withdraw: bool,
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
    /// The account being edited, its version, whether it is active and where it stands;
    /// `None` for a new account.
    editing: Option<(UserId, i64, bool, AccountStatus)>,
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
        let status = self.editing.map(|(.., status)| status);
        let chrome = viewer.chrome(&self.heading);
        let entities = one_entity_choices(app, viewer, EntityKind::Person, input.entity).await;
        let entities = entities.or_page(&chrome)?;
        // Without roles or user administration there are no roles to offer.
        let roles = offered(app.services.corterum.roles(viewer.0.user.id).await, &chrome)?;
        let companies =
            company_choices(app, viewer, Feature::UserAdministration, &input.companies).await;
        let companies = companies.or_page(&chrome)?;
        Ok(view::render(&AccountForm {
            chrome: chrome.with_errors(&errors),
            errors,
            heading: self.heading.clone(),
            action: self.action.clone(),
            editing: self.editing.is_some(),
            id: self.editing.map(|(id, ..)| id.to_string()).unwrap_or_default(),
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
            companies,
            version: self.editing.map(|(_, v, ..)| v).unwrap_or_default(),
            banner: self.banner.clone(),
            active: self.editing.is_some_and(|(_, _, a, _)| a),
            status: status.map_or("", AccountStatus::label),
            tag: status.map_or("", crate::users::tag),
            resend: matches!(
                status,
                Some(AccountStatus::Invited { .. } | AccountStatus::InvitationRevoked)
            ),
            withdraw: matches!(status, Some(AccountStatus::Invited { .. })),
        }))
    }
}

/// The list: searched, filtered and paged by the store within the viewer's reach.
pub(crate) async fn list(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<AccountListQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("User accounts");
    let me = viewer.0.user.id;
    let company = form::id(&q.company, OrgId::from_uuid);
    let role = form::id(&q.role, RoleId::from_uuid);
    let active = match q.status.as_str() {
        "active" => Some(true),
        "deactivated" => Some(false),
        _ => None,
    };
    let query =
        AccountQuery { search: tenure_core::query::Search::parse(&q.q), company, role, active };
    let number = q.page.get().unwrap_or(1);
    let page = Page::numbered(number, Page::SCREEN);
    let listed = app.services.corterum.account_list(me, &query, page).await.or_page(&chrome)?;
    let companies = company_choices(&app, &viewer, Feature::UserAdministration, &[]).await;
    let companies = companies.or_page(&chrome)?;
    let name_of = |id: &OrgId| {
        let id = id.to_string();
        companies.iter().find(|c| c.value == id).map(|c| c.label.clone())
    };
    let all_roles = offered(app.services.corterum.roles(me).await, &chrome)?;
    let role_name = |id: &RoleId| all_roles.iter().find(|r| r.id == *id).map(|r| r.name.clone());
    let rows = listed
        .items
        .iter()
        .map(|a| AccountRow {
            id: a.user.id.to_string(),
            username: a.username.clone(),
            email: a.user.email.to_string(),
            entity: a.entity_name.as_ref().map(ToString::to_string).unwrap_or_default(),
            companies: a.links.companies.iter().filter_map(name_of).collect::<Vec<_>>().join(", "),
            roles: a.user.roles.iter().filter_map(role_name).collect::<Vec<_>>().join(", "),
            active: a.user.active,
        })
        .collect();
    let params =
        [("q", q.q.as_str()), ("company", &q.company), ("role", &q.role), ("status", &q.status)];
    let pager =
        Pager::new(LIST, &params, number, listed.items.len(), listed.total, "user accounts");
    let mut company_filter = vec![Choice::new("", "All companies", company.is_none())];
    company_filter
        .extend(companies.iter().map(|c| Choice { checked: c.value == q.company, ..c.clone() }));
    let mut role_filter = vec![Choice::new("", "All roles", role.is_none())];
    role_filter.extend(
        all_roles.iter().map(|r| Choice::new(r.id.to_string(), r.name.clone(), Some(r.id) == role)),
    );
    let statuses = [("", "Any status"), ("active", "Active"), ("deactivated", "Deactivated")]
        .into_iter()
        .map(|(v, l)| Choice::new(v, l, q.status == v || (v.is_empty() && active.is_none())))
        .collect();
    let banner = if q.deleted.0 {
        "User account deleted; their entity is kept".to_owned()
    } else if q.saved.0 {
        "User account saved; an invitation to set a password was sent".to_owned()
    } else {
        String::new()
    };
    Ok(view::render(&AccountsPage {
        chrome,
        rows,
        banner,
        q: q.q.clone(),
        companies: company_filter,
        roles: role_filter,
        statuses,
        pager,
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
        editing: None,
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
        editing: None,
        input: body.input(),
        banner: String::new(),
    };
    let services = &app.services;
    let saved = services.manage.create_account(&services.corterum, viewer.0.user.id, &page.input);
    let saved = saved.await.map_err(email_in_use);
    form::submit(&app, &viewer, &page, &viewer.chrome(heading), saved, |_| {
        format!("{LIST}?saved=1")
    })
    .await
}

fn email_in_use(e: ManageError) -> ManageError {
    match e {
        ManageError::EmailInUse => ManageError::Invalid(vec![FieldError {
            field: "email",
            message: "This email address is already used by another account".to_owned(),
        }]),
        e => e,
    }
}

/// `?saved=` and `?done=` on an account's page: what was just changed.
#[derive(Deserialize, Default)]
pub(crate) struct DoneQuery {
    #[serde(default)]
    saved: Sent,
    #[serde(default)]
    done: String,
}

/// The edit form, with the account's actions beside it.
pub(crate) async fn edit_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("User account");
    let id = form::id(&id, UserId::from_uuid).or_page(&chrome)?;
    let account = app.services.corterum.account(viewer.0.user.id, id).await.or_page(&chrome)?;
    let banner = match (q.saved.0, q.done.as_str()) {
        (true, _) => "User account saved",
        (_, "email") => {
            "We have sent a link to the new email address; it changes once the link is used"
        }
        (_, "deactivated") => "User account deactivated: they are signed out and cannot sign in",
        (_, "reactivated") => {
            "User account reactivated: an invitation to set a password was sent, and every role comes back when they accept it"
        }
        (_, "resent") => "Invitation sent again: the link in the earlier one no longer works",
        (_, "withdrawn") => "Invitation withdrawn: its link no longer works",
        _ => "",
    };
    let status = app.services.manage.account_status(&account.user.value).await;
    let status = status.or_page(&chrome)?;
    let page = AccountPage {
        action: format!("{LIST}/{id}"),
        editing: Some((id, account.user.version, account.user.value.active, status)),
        input: AccountInput {
            username: account.username.clone(),
            email: account.user.value.email.to_string(),
            entity: account.links.entity,
            roles: account.user.value.roles,
            companies: account.links.companies,
        },
        heading: account.username,
        banner: banner.to_owned(),
    };
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves an account's username, entity, roles and companies (its email address has its
/// own form).
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
    input.email = account.user.value.email.to_string();
    let status = app.services.manage.account_status(&account.user.value).await;
    let status = status.or_page(&chrome)?;
    let page = AccountPage {
        heading: account.username,
        action: format!("{LIST}/{id}"),
        editing: Some((id, version, account.user.value.active, status)),
        input,
        banner: String::new(),
    };
    let saved =
        app.services.corterum.update_account(viewer.0.user.id, id, version, &page.input).await;
    form::submit(&app, &viewer, &page, &chrome, saved, |()| format!("{LIST}/{id}?saved=1")).await
}

#[derive(Template)]
#[template(path = "account_email.html")]
struct EmailForm {
    chrome: Chrome,
    errors: Errors,
    heading: String,
    action: String,
    back: String,
    email: String,
    version: i64,
    /// Changing one's own address asks for one's password.
    own: bool,
}

/// What the email address form sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailBody {
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    version: String,
}

struct EmailPage {
    id: UserId,
    username: String,
    email: String,
    version: i64,
    own: bool,
}

impl FormPage for EmailPage {
    async fn show(
        &self,
        _app: &App,
        viewer: &Signed,
        errors: Errors,
    ) -> Result<Response, PageError> {
        let heading = format!("Change {}'s email address", self.username);
        Ok(view::render(&EmailForm {
            chrome: viewer.chrome(&heading).with_errors(&errors),
            errors,
            heading,
            action: format!("{LIST}/{}/email", self.id),
            back: format!("{LIST}/{}", self.id),
            email: self.email.clone(),
            version: self.version,
            own: self.own,
        }))
    }
}

/// The email address form.
pub(crate) async fn email_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Change an email address");
    let id = form::id(&id, UserId::from_uuid).or_page(&chrome)?;
    let account = app.services.corterum.account(viewer.0.user.id, id).await.or_page(&chrome)?;
    let page = EmailPage {
        id,
        email: account.user.value.email.to_string(),
        username: account.username,
        version: account.user.version,
        own: id == viewer.0.user.id,
    };
    page.show(&app, &viewer, Errors::default()).await
}

/// Asks for a new email address: a link goes to it, a notice to the old one, and the
/// address changes when the link is used, if the engine still allows it then
/// (`user.change_email`: the person themselves, or someone who strictly outranks them).
pub(crate) async fn email(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(body): Form<EmailBody>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Change an email address");
    let id = form::id(&id, UserId::from_uuid).or_page(&chrome)?;
    let account = app.services.corterum.account(viewer.0.user.id, id).await.or_page(&chrome)?;
    let version =
        body.version.parse::<i64>().map_err(|_| ManageError::Conflict).or_page(&chrome)?;
    let page = EmailPage {
        id,
        email: body.email.clone(),
        username: account.username,
        version,
        own: id == viewer.0.user.id,
    };
    let changes = UserChanges {
        email: Some(body.email.clone()),
        current_password: Some(body.current_password.clone()),
        ..UserChanges::default()
    };
    let saved = app.services.manage.edit_user(viewer.0.user.id, id, version, &changes).await;
    let saved = saved.map_err(email_in_use).and_then(|edited| {
        if edited.email_confirmation_sent {
            Ok(())
        } else {
            Err(ManageError::Invalid(vec![FieldError {
                field: "email",
                message: "enter a new email address: this is the one the account has".to_owned(),
            }]))
        }
    });
    form::submit(&app, &viewer, &page, &chrome, saved, |()| format!("{LIST}/{id}?done=email")).await
}

/// Which invitation button was pressed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Invitation {
    Resend,
    Withdraw,
}

/// Resends or withdraws an account's invitation through CORE's use cases, which ask the
/// engine for `user.invite` into the account's organisation giving each of its roles:
/// whoever could create the account now may (a user administrator covering its company);
/// anyone else gets "not found", one who sees it but may not give its roles the engine's
/// reason. An accepted invitation has nothing to send or withdraw.
async fn invitation(
    app: &App,
    viewer: &Signed,
    id: &str,
    step: Invitation,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("User account");
    let id = form::id(id, UserId::from_uuid).or_page(&chrome)?;
    let me = viewer.0.user.id;
    // A Corterum account in the viewer's reach, else "not found" before anything else.
    app.services.corterum.account(me, id).await.or_page(&chrome)?;
    let manage = &app.services.manage;
    let (done, next) = match step {
        Invitation::Resend => (manage.resend_invitation(me, id).await, "resent"),
        Invitation::Withdraw => (manage.revoke_invitation(me, id).await, "withdrawn"),
    };
    done.or_page(&viewer.chrome("You cannot do this"))?;
    Ok(Redirect::to(&format!("{LIST}/{id}?done={next}")).into_response())
}

/// `POST .../resend-invitation`: a fresh link; the old one stops working.
pub(crate) async fn resend_invitation(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    invitation(&app, &viewer, &id, Invitation::Resend).await
}

/// `POST .../withdraw-invitation`: the link stops working; the account stays, idle.
pub(crate) async fn withdraw_invitation(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    invitation(&app, &viewer, &id, Invitation::Withdraw).await
}

/// What a deactivate, reactivate or delete button sends: the version the page showed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionBody {
    #[serde(default)]
    version: String,
}

/// Which change a lifecycle button makes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lifecycle {
    Deactivate,
    Reactivate,
    Delete,
}

/// Deactivates, reactivates or deletes an account (the engine decides on the user; only
/// a deactivated account can be deleted, and its entity stays).
async fn lifecycle(
    app: &App,
    viewer: &Signed,
    id: &str,
    body: &VersionBody,
    change: Lifecycle,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("User account");
    let id = form::id(id, UserId::from_uuid).or_page(&chrome)?;
    let me = viewer.0.user.id;
    // A Corterum account in the viewer's reach, else "not found" before anything else.
    app.services.corterum.account(me, id).await.or_page(&chrome)?;
    let version =
        body.version.parse::<i64>().map_err(|_| ManageError::Conflict).or_page(&chrome)?;
    let manage = &app.services.manage;
    let (done, next) = match change {
        Lifecycle::Deactivate => {
            (manage.deactivate_user(me, id, version).await, format!("{LIST}/{id}?done=deactivated"))
        }
        Lifecycle::Reactivate => {
            (manage.reactivate_user(me, id, version).await, format!("{LIST}/{id}?done=reactivated"))
        }
        Lifecycle::Delete => {
            (manage.delete_user(me, id, version).await, format!("{LIST}?deleted=1"))
        }
    };
    done.or_page(&viewer.chrome("You cannot do this"))?;
    Ok(Redirect::to(&next).into_response())
}

/// `POST .../deactivate`.
pub(crate) async fn deactivate(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(body): Form<VersionBody>,
) -> Result<Response, PageError> {
    lifecycle(&app, &viewer, &id, &body, Lifecycle::Deactivate).await
}

/// `POST .../reactivate`.
pub(crate) async fn reactivate(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(body): Form<VersionBody>,
) -> Result<Response, PageError> {
    lifecycle(&app, &viewer, &id, &body, Lifecycle::Reactivate).await
}

/// `POST .../delete`, from the confirmation page.
pub(crate) async fn delete(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(body): Form<VersionBody>,
) -> Result<Response, PageError> {
    lifecycle(&app, &viewer, &id, &body, Lifecycle::Delete).await
}

#[derive(Template)]
#[template(path = "account_delete.html")]
struct DeletePage {
    chrome: Chrome,
    heading: String,
    entity: String,
    action: String,
    back: String,
    version: i64,
}

/// The confirmation page before deleting an account.
pub(crate) async fn delete_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Delete a user account");
    let id = form::id(&id, UserId::from_uuid).or_page(&chrome)?;
    let account = app.services.corterum.account(viewer.0.user.id, id).await.or_page(&chrome)?;
    let heading = format!("Are you sure you want to delete {}?", account.username);
    let entity = app
        .services
        .corterum
        .entity_name_of(viewer.0.user.id, account.links.entity)
        .await
        .or_page(&chrome)?;
    Ok(view::render(&DeletePage {
        chrome: viewer.chrome(&heading),
        heading,
        entity,
        action: format!("{LIST}/{id}/delete"),
        back: format!("{LIST}/{id}"),
        version: account.user.version,
    }))
}
