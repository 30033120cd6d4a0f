//! Users: the list (search, filters, 20 a page), the CSV download, inviting in three
//! steps, a user's page, editing, moving, and the confirmation pages for deactivating,
//! reactivating, deleting and invitations.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tenure_core::{
    AccountStatus, Invite, ManageError, Page, PersonInput, Search, UserChanges, UserQuery,
};
use tenure_domain::{
    Action, Email, Name, OrgId, Organisation, Request, Resource, RoleCatalogue, RoleId, Telephone,
    User, UserId, World,
};

use crate::App;
use crate::form::{Form, PageNumber, Path, Query};
use crate::security::{Signed, Viewer};
use crate::view::{self, Chrome, Errors, OrPage, PageError};

/// One row of a users table.
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) organisation: String,
    pub(crate) role: String,
    pub(crate) status: &'static str,
    pub(crate) tag: &'static str,
    /// The status itself, for deciding which actions to offer.
    pub(crate) state: AccountStatus,
}

/// The Design System tag colour for a status (none: the default tag, which is blue).
pub(crate) fn tag(status: AccountStatus) -> &'static str {
    match status {
        AccountStatus::Active => "govuk-tag--green",
        AccountStatus::Invited { expired: false } => "",
        AccountStatus::Invited { expired: true } | AccountStatus::InvitationRevoked => {
            "govuk-tag--orange"
        }
        AccountStatus::Deactivated => "govuk-tag--grey",
    }
}

pub(crate) fn role_names(user: &User) -> String {
    let roles = RoleCatalogue::core();
    user.roles
        .iter()
        .filter_map(|r| roles.get(*r))
        .map(|r| r.name.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// These users' organisations (their names, and whether they are active, which a user's
/// status depends on): from the viewer's snapshot when it has them, the rest from the
/// service in one go.
async fn organisations_of(
    app: &App,
    known: Option<&World>,
    users: &[User],
) -> Result<HashMap<OrgId, Organisation>, tenure_core::BackendError> {
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    for u in users {
        match known.and_then(|w| w.organisation(u.organisation)) {
            Some(o) => {
                found.insert(u.organisation, o.clone());
            }
            None if !missing.contains(&u.organisation) => missing.push(u.organisation),
            None => {}
        }
    }
    if let Some(anyone) = users.first().filter(|_| !missing.is_empty()) {
        let orgs = app.services.manage.organisations_by_id(anyone.id, &missing).await?;
        found.extend(orgs.into_iter().map(|o| (o.id, o)));
    }
    Ok(found)
}

pub(crate) async fn rows(
    app: &App,
    known: Option<&World>,
    users: &[User],
) -> Result<Vec<UserRow>, tenure_core::BackendError> {
    let orgs = organisations_of(app, known, users).await?;
    let mut rows = Vec::with_capacity(users.len());
    for u in users {
        let Some(org) = orgs.get(&u.organisation) else {
            return Err(tenure_core::BackendError::new("a user's organisation is missing"));
        };
        rows.push(row(app, u, org, org.name.to_string()).await?);
    }
    Ok(rows)
}

/// One user's row, beside their organisation's name; their status as it stands in their
/// organisation (a user of a deactivated organisation is shown deactivated).
async fn row(
    app: &App,
    u: &User,
    org: &Organisation,
    organisation: String,
) -> Result<UserRow, tenure_core::BackendError> {
    let status = app.services.manage.status(u, org).await?;
    Ok(UserRow {
        id: u.id.to_string(),
        name: u.name.to_string(),
        email: u.email.to_string(),
        organisation,
        role: role_names(u),
        status: status.label(),
        tag: tag(status),
        state: status,
    })
}

/// Whether the engine lets the viewer take an action on a resource, in a snapshot that
/// holds both: for the buttons and links a page offers (the services decide again).
pub(crate) fn allowed(world: &World, viewer: &Viewer, action: Action, resource: Resource) -> bool {
    world.decide(&Request::new(viewer.user.id, action, resource)).is_allowed()
}

fn parse_user(id: &str) -> Option<UserId> {
    uuid::Uuid::parse_str(id).ok().map(UserId::from_uuid)
}

pub(crate) fn parse_org(id: &str) -> Option<OrgId> {
    uuid::Uuid::parse_str(id).ok().map(OrgId::from_uuid)
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    page: PageNumber,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    banner: &'static str,
    heading: String,
    q: String,
    status: String,
    role: String,
    organisation: String,
    /// The organisations the filter offers (id, name); none for those who see every
    /// user.
    choices: Option<Vec<(String, String)>>,
    roles: Vec<(String, String)>,
    rows: Vec<UserRow>,
    can_invite: bool,
    can_download: bool,
    previous: String,
    next: String,
    page: usize,
}

fn list_link(query: &ListQuery, page: usize) -> String {
    format!(
        "/users?q={}&status={}&role={}&organisation={}&page={page}",
        view::query_value(&query.q),
        view::query_value(&query.status),
        view::query_value(&query.role),
        view::query_value(&query.organisation)
    )
}

pub(crate) async fn list(
    State(app): State<App>,
    viewer: Signed,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Users");
    let roles = RoleCatalogue::core();
    let mut filter = UserQuery {
        search: Search::parse(&query.q),
        active: match query.status.as_str() {
            "active" => Some(true),
            "deactivated" => Some(false),
            _ => None,
        },
        role: roles.by_key(&query.role).map(|r| r.id),
        ..UserQuery::default()
    };
    let me = viewer.0.user.id;
    if !query.organisation.is_empty() {
        // An organisation filter that is not an id names nothing.
        filter.organisation = Some(parse_org(&query.organisation).or_page(&chrome)?);
    }
    let number = query.page.get().unwrap_or(1);
    let mut page = Page::numbered(number, Page::SCREEN);
    page.limit += 1;
    // The organisations' names come in the same read; the service authorizes the
    // organisation filter ("not found" for one whose users the viewer may not see).
    let list = app
        .services
        .manage
        .users_list(me, &viewer.0.world, &filter, page)
        .await
        .or_page(&chrome)?;
    let heading = list
        .organisation
        .as_ref()
        .map_or_else(|| "Users".to_owned(), |o| format!("Users of {}", o.name));
    let choices: Option<Vec<(String, String)>> =
        list.choices.map(|c| c.iter().map(|o| (o.id.to_string(), o.name.to_string())).collect());
    let mut users = list.users;
    let more = users.len() > Page::SCREEN;
    users.truncate(Page::SCREEN);
    let plain: Vec<User> = users.iter().map(|u| u.user.clone()).collect();
    let orgs = organisations_of(&app, Some(&viewer.0.world), &plain).await.or_page(&chrome)?;
    let mut rows = Vec::with_capacity(users.len());
    for u in users {
        let organisation = u.organisation.map(|n| n.to_string()).unwrap_or_default();
        let Some(org) = orgs.get(&u.user.organisation) else {
            return Ok(view::problem_page(chrome));
        };
        rows.push(row(&app, &u.user, org, organisation).await.or_page(&chrome)?);
    }
    // The viewer's snapshot covers their own organisation.
    let w = &viewer.0.world;
    let own = Resource::Organisation(viewer.0.user.organisation);
    let can_invite = roles
        .iter()
        .any(|r| w.decide(&Request::new(me, Action::UserInvite, own).giving(r.id)).is_allowed());
    let can_download = allowed(w, &viewer.0, Action::UserListAll, Resource::Service);
    Ok(view::render(&UsersPage {
        chrome,
        banner: if query.done.as_deref() == Some("deleted") {
            "The user has been deleted."
        } else {
            ""
        },
        heading,
        previous: if number > 1 { list_link(&query, number - 1) } else { String::new() },
        next: if more { list_link(&query, number + 1) } else { String::new() },
        page: number,
        roles: roles.iter().map(|r| (r.key.clone(), r.name.clone())).collect(),
        q: query.q,
        status: query.status,
        role: query.role,
        organisation: query.organisation,
        choices,
        rows,
        can_invite,
        can_download,
    }))
}

/// Every user, as CSV, for those allowed `user.list_all`.
pub(crate) async fn download(State(app): State<App>, viewer: Signed) -> Response {
    let chrome = viewer.chrome("Users");
    if !allowed(&viewer.0.world, &viewer.0, Action::UserListAll, Resource::Service) {
        return view::not_found_page(chrome);
    }
    // The one CSV writer of every export (quoted as needed, formulas defused), and the
    // one users export's columns, the same as `tenure users export`.
    let mut csv = tenure_core::csv::record(tenure_core::csv::users::COLUMNS);
    for number in 1.. {
        let rows = match app.services.manage.users_export_page(viewer.0.user.id, number).await {
            Ok(rows) => rows,
            Err(e) => return view::backend(chrome, &e),
        };
        if rows.is_empty() {
            break;
        }
        for row in rows {
            csv.push_str(&tenure_core::csv::record(row));
        }
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"users.csv\""),
        ],
        csv,
    )
        .into_response()
}

// Inviting, in three steps; what was typed travels in hidden fields.

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct InviteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    telephone: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    search: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "invite_details.html")]
struct InviteDetailsPage {
    chrome: Chrome,
    errors: Errors,
    form: InviteForm,
}

#[derive(Template)]
#[template(path = "invite_organisation.html")]
struct InviteOrganisationPage {
    chrome: Chrome,
    errors: Errors,
    form: InviteForm,
    choices: Vec<(String, String)>,
    admin: bool,
}

#[derive(Template)]
#[template(path = "invite_role.html")]
struct InviteRolePage {
    chrome: Chrome,
    errors: Errors,
    form: InviteForm,
    organisation_name: String,
    choices: Vec<(String, String, String)>,
}

pub(crate) async fn invite_page(viewer: Signed) -> Response {
    if !may_invite(&viewer) {
        return view::not_found_page(viewer.chrome("Page not found"));
    }
    view::render(&InviteDetailsPage {
        chrome: viewer.chrome("Invite a user – Personal details"),
        errors: Errors::default(),
        form: InviteForm::default(),
    })
}

fn details_errors(form: &InviteForm) -> Errors {
    let mut errors = Vec::new();
    if let Err(e) = Name::parse(&form.name) {
        errors.push(("name".to_owned(), view::sentence(&e.to_string())));
    }
    if let Err(e) = Email::parse(&form.email) {
        errors.push(("email".to_owned(), view::sentence(&e.to_string())));
    }
    if !form.telephone.trim().is_empty() {
        if let Err(e) = Telephone::parse(form.telephone.trim()) {
            errors.push(("telephone".to_owned(), view::sentence(&e.to_string())));
        }
    }
    Errors(errors)
}

/// Whether the engine lets the viewer give some role this form offers (CORE's) into some
/// organisation they may invite into: to anyone else the invitation form does not exist.
/// A `user.invite` scope alone is not enough: Corterum's user administrators invite into
/// their companies, but only with roles this form does not offer. The organisations asked
/// about are those of the viewer's snapshot (their own and those related to it) that the
/// scope covers.
fn may_invite(viewer: &Signed) -> bool {
    let me = viewer.0.user.id;
    let w = &viewer.0.world;
    let scope = w.scope(me, Action::UserInvite);
    let roles = RoleCatalogue::core();
    w.organisations().filter(|o| scope.covers_organisation(o.id)).any(|o| {
        let into = Resource::Organisation(o.id);
        roles.iter().any(|r| {
            w.decide(&Request::new(me, Action::UserInvite, into).giving(r.id)).is_allowed()
        })
    })
}

/// Step 1 done: check the details, then choose the organisation.
pub(crate) async fn invite_details(
    State(app): State<App>,
    viewer: Signed,
    Form(form): Form<InviteForm>,
) -> Response {
    if !may_invite(&viewer) {
        return view::not_found_page(viewer.chrome("Page not found"));
    }
    let errors = details_errors(&form);
    if !errors.is_empty() {
        return view::render(&InviteDetailsPage {
            chrome: viewer.chrome("Invite a user – Personal details").with_errors(&errors),
            errors,
            form,
        });
    }
    organisation_step(&app, &viewer, form, Errors::default()).await
}

/// The organisations the viewer may invite into: their own and its managing agents for a
/// coordinator; any (searchable) for an administrator.
async fn organisation_step(
    app: &App,
    viewer: &Signed,
    form: InviteForm,
    errors: Errors,
) -> Response {
    let chrome = viewer.chrome("Invite a user – Organisation").with_errors(&errors);
    let me = viewer.0.user.id;
    let w = &viewer.0.world;
    let search = Search::parse(&form.search);
    let orgs = match app.services.manage.invite_organisations(me, w, search).await {
        Ok(o) => o,
        Err(e) => return view::backend(chrome, &e),
    };
    let choices = orgs
        .into_iter()
        .filter(|o| o.active)
        .map(|o| (o.id.to_string(), o.name.to_string()))
        .collect();
    // Administrators search among every organisation (the engine's scope says who they
    // are); others choose from the few they may invite into.
    let admin = w.scope(me, Action::UserInvite).everything;
    view::render(&InviteOrganisationPage { chrome, errors, form, choices, admin })
}

/// Step 2 done: check the organisation, then choose the role.
pub(crate) async fn invite_organisation(
    State(app): State<App>,
    viewer: Signed,
    Form(form): Form<InviteForm>,
) -> Response {
    if !may_invite(&viewer) {
        return view::not_found_page(viewer.chrome("Page not found"));
    }
    if !details_errors(&form).is_empty() {
        return Redirect::to("/users/invite").into_response();
    }
    let Some(org) = parse_org(&form.organisation) else {
        let errors = Errors::one("organisation", "Select the organisation the user belongs to");
        return organisation_step(&app, &viewer, form, errors).await;
    };
    role_step(&app, &viewer, form, org, Errors::default()).await
}

async fn role_step(
    app: &App,
    viewer: &Signed,
    form: InviteForm,
    org: OrgId,
    errors: Errors,
) -> Response {
    let chrome = viewer.chrome("Invite a user – Role").with_errors(&errors);
    let given = match app.services.manage.invite_roles(viewer.0.user.id, org).await {
        Ok(g) => g,
        Err(e) => return view::backend(chrome, &e),
    };
    let roles = RoleCatalogue::core();
    let choices: Vec<_> = given
        .value
        .iter()
        .filter_map(|r| roles.get(*r))
        .map(|r| (r.key.clone(), r.name.clone(), r.description.clone()))
        .collect();
    if choices.is_empty() {
        return view::not_found_page(chrome);
    }
    let organisation_name =
        given.world.organisation(org).map(|o| o.name.to_string()).unwrap_or_default();
    view::render(&InviteRolePage { chrome, errors, form, organisation_name, choices })
}

/// Step 3 done: send the invitation.
pub(crate) async fn invite_role(
    State(app): State<App>,
    viewer: Signed,
    Form(form): Form<InviteForm>,
) -> Result<Response, PageError> {
    if !may_invite(&viewer) {
        return Err(PageError::not_found(&viewer.chrome("Page not found")));
    }
    let Some(org) = parse_org(&form.organisation) else {
        return Ok(Redirect::to("/users/invite").into_response());
    };
    let roles = RoleCatalogue::core();
    let Some(role) = roles.by_key(&form.role).map(|r| r.id) else {
        let errors = Errors::one("role", "Select the user's role");
        return Ok(role_step(&app, &viewer, form, org, errors).await);
    };
    let invite = Invite {
        person: PersonInput {
            name: form.name.clone(),
            email: form.email.clone(),
            telephone: form.telephone.clone(),
        },
        organisation: org,
        role,
    };
    Ok(match app.services.manage.invite(viewer.0.user.id, &invite).await {
        Ok(id) => Redirect::to(&format!("/users/{id}?done=invited")).into_response(),
        Err(ManageError::Invalid(fields)) => {
            let errors = Errors::from_fields(&fields);
            view::render(&InviteDetailsPage {
                chrome: viewer.chrome("Invite a user – Personal details").with_errors(&errors),
                errors,
                form,
            })
        }
        Err(ManageError::EmailInUse) => {
            let errors =
                Errors::one("email", "This email address is already used by another account");
            view::render(&InviteDetailsPage {
                chrome: viewer.chrome("Invite a user – Personal details").with_errors(&errors),
                errors,
                form,
            })
        }
        Err(e) => return Err(PageError::new(&viewer.chrome("Invite a user"), e)),
    })
}

// A user's page and what can be done there.

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    banner: &'static str,
    row: UserRow,
    telephone: String,
    organisation_id: String,
    data_protection_officer: bool,
    key_contact: bool,
    own: bool,
    actions: Vec<(String, &'static str)>,
}

fn user_done(done: Option<&str>) -> &'static str {
    match done {
        Some("invited") => "The invitation has been sent.",
        Some("resent") => "A new invitation has been sent. The old link no longer works.",
        Some("revoked") => "The invitation has been withdrawn.",
        Some("updated") => "The user's details have been updated.",
        Some("email-sent") => "A link has been sent to the new email address to confirm it.",
        Some("deactivated") => "The user has been deactivated.",
        Some("reactivated") => {
            "The user has been reactivated and sent an invitation to set a new password."
        }
        Some("moved") => "The user has been moved.",
        Some("second-factor-removed") => {
            "Their authenticator app has been removed. They have been signed out and emailed."
        }
        _ => "",
    }
}

#[derive(Deserialize)]
pub(crate) struct DoneQuery {
    done: Option<String>,
}

/// Loads a user the viewer may see, or answers "Page not found".
async fn visible_user(
    app: &App,
    viewer: &Signed,
    id: &str,
) -> Result<(User, i64, World), PageError> {
    let chrome = viewer.chrome("Page not found");
    let id = parse_user(id).or_page(&chrome)?;
    let found = app.services.manage.user_for(viewer.0.user.id, id).await.or_page(&chrome)?;
    Ok((found.value.value, found.value.version, found.world))
}

pub(crate) async fn profile(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let (user, _, w) = visible_user(&app, &viewer, &id).await?;
    let chrome = viewer.chrome(user.name.as_str());
    let rows =
        rows(&app, Some(&viewer.0.world), std::slice::from_ref(&user)).await.or_page(&chrome)?;
    let Some(row) = rows.into_iter().next() else { return Ok(view::problem_page(chrome)) };
    let status = row.state;
    let resource = Resource::User(user.id);
    let may = |a| allowed(&w, &viewer.0, a, resource);
    let base = format!("/users/{}", user.id);
    let own = user.id == viewer.0.user.id;
    let mut actions = Vec::new();
    if !own
        && (may(Action::UserEditDetails)
            || may(Action::UserSetFlags)
            || may(Action::UserChangeRole) && user.active)
    {
        actions.push((format!("{base}/edit"), "Change details"));
    }
    if may(Action::UserMoveOrganisation) {
        actions.push((format!("{base}/move"), "Move to another organisation"));
    }
    let can_invite_here = RoleCatalogue::core().iter().any(|r| {
        w.decide(
            &Request::new(
                viewer.0.user.id,
                Action::UserInvite,
                Resource::Organisation(user.organisation),
            )
            .giving(r.id),
        )
        .is_allowed()
    });
    if matches!(status, AccountStatus::Invited { .. } | AccountStatus::InvitationRevoked)
        && can_invite_here
    {
        actions.push((format!("{base}/resend-invitation"), "Resend invitation"));
    }
    if matches!(status, AccountStatus::Invited { .. }) && can_invite_here {
        actions.push((format!("{base}/revoke-invitation"), "Withdraw invitation"));
    }
    if may(Action::UserDeactivate) {
        actions.push((format!("{base}/deactivate"), "Deactivate user"));
    }
    if may(Action::UserReactivate) {
        actions.push((format!("{base}/reactivate"), "Reactivate user"));
    }
    if may(Action::UserDelete) {
        actions.push((format!("{base}/delete"), "Delete user"));
    }
    // A lost device: only when the engine allows it and they have one.
    if !own
        && may(Action::UserRemoveSecondFactor)
        && app.services.second_factors.status(user.id).await.is_ok_and(|s| s.set_up)
    {
        actions.push((format!("{base}/remove-second-factor"), "Remove authenticator app"));
    }
    Ok(view::render(&UserPage {
        chrome,
        banner: user_done(q.done.as_deref()),
        row,
        telephone: user.telephone.as_ref().map(ToString::to_string).unwrap_or_default(),
        organisation_id: user.organisation.to_string(),
        data_protection_officer: user.data_protection_officer,
        key_contact: user.key_contact,
        own,
        actions,
    }))
}

#[derive(Template)]
#[template(path = "user_edit.html")]
struct EditPage {
    chrome: Chrome,
    errors: Errors,
    id: String,
    version: i64,
    details: bool,
    name: String,
    /// Whether the engine lets the viewer change this user's email address (only someone
    /// who strictly outranks them may).
    change_email: bool,
    email: String,
    telephone: String,
    roles: Vec<(String, String)>,
    role: String,
    flags: bool,
    data_protection_officer: bool,
    key_contact: bool,
}

/// The edit form for what the viewer may change of this user.
fn edit_form(viewer: &Signed, w: &World, user: &User, version: i64, errors: Errors) -> EditPage {
    let resource = Resource::User(user.id);
    let roles = RoleCatalogue::core();
    let role_choices: Vec<_> = roles
        .iter()
        .filter(|r| {
            user.roles.contains(&r.id)
                || w.decide(
                    &Request::new(viewer.0.user.id, Action::UserChangeRole, resource).giving(r.id),
                )
                .is_allowed()
        })
        .map(|r| (r.key.clone(), r.name.clone()))
        .collect();
    let can_change_role = role_choices.len() > 1;
    EditPage {
        chrome: viewer.chrome(&format!("Change {}", user.name)).with_errors(&errors),
        errors,
        id: user.id.to_string(),
        version,
        details: allowed(w, &viewer.0, Action::UserEditDetails, resource),
        name: user.name.to_string(),
        change_email: allowed(w, &viewer.0, Action::UserChangeEmail, resource),
        email: user.email.to_string(),
        telephone: user.telephone.as_ref().map(ToString::to_string).unwrap_or_default(),
        roles: if can_change_role { role_choices } else { Vec::new() },
        role: user
            .roles
            .first()
            .and_then(|r| roles.get(*r))
            .map(|r| r.key.clone())
            .unwrap_or_default(),
        flags: allowed(w, &viewer.0, Action::UserSetFlags, resource),
        data_protection_officer: user.data_protection_officer,
        key_contact: user.key_contact,
    }
}

pub(crate) async fn edit_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (user, version, w) = visible_user(&app, &viewer, &id).await?;
    if user.id == viewer.0.user.id {
        return Ok(Redirect::to("/account/details").into_response());
    }
    // Someone else's email address can change here, and with it who may reset their
    // password: only from a recent sign-in.
    let back = format!("/users/{}/edit", user.id);
    if let Some(prompt) = crate::second_factor::recent_or_prompt(&app, &viewer, &back) {
        return Ok(prompt);
    }
    Ok(view::render(&edit_form(&viewer, &w, &user, version, Errors::default())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditForm {
    version: i64,
    name: Option<String>,
    email: Option<String>,
    telephone: Option<String>,
    role: Option<String>,
    data_protection_officer: Option<String>,
    key_contact: Option<String>,
    flags: Option<String>,
}

pub(crate) async fn edit(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(form): Form<EditForm>,
) -> Result<Response, PageError> {
    let (user, _, w) = visible_user(&app, &viewer, &id).await?;
    if user.id != viewer.0.user.id {
        let back = format!("/users/{}/edit", user.id);
        if let Some(prompt) = crate::second_factor::recent_or_prompt(&app, &viewer, &back) {
            return Ok(prompt);
        }
    }
    let roles = RoleCatalogue::core();
    let role: Option<RoleId> = form.role.as_deref().and_then(|k| roles.by_key(k)).map(|r| r.id);
    let has_flags = form.flags.is_some();
    let changes = UserChanges {
        name: form.name.clone(),
        email: form.email.clone(),
        telephone: form.telephone.clone(),
        role: role.filter(|r| !user.roles.contains(r)),
        data_protection_officer: has_flags.then(|| form.data_protection_officer.is_some()),
        key_contact: has_flags.then(|| form.key_contact.is_some()),
        // This page edits someone else (one's own account is on "Your account"): their
        // address changes on the engine's say, with no password of the actor's.
        current_password: None,
    };
    let again = |errors: Errors| {
        let mut page = edit_form(&viewer, &w, &user, form.version, errors);
        if let Some(n) = &form.name {
            page.name.clone_from(n);
        }
        if let Some(e) = &form.email {
            page.email.clone_from(e);
        }
        if let Some(t) = &form.telephone {
            page.telephone.clone_from(t);
        }
        view::render(&page)
    };
    Ok(
        match app.services.manage.edit_user(viewer.0.user.id, user.id, form.version, &changes).await
        {
            Ok(edited) => {
                let done = if edited.email_confirmation_sent { "email-sent" } else { "updated" };
                Redirect::to(&format!("/users/{}?done={done}", user.id)).into_response()
            }
            Err(ManageError::Invalid(fields)) => again(Errors::from_fields(&fields)),
            Err(ManageError::EmailInUse) => {
                again(Errors::one("email", "This email address is already used by another account"))
            }
            Err(e) => return Err(PageError::new(&viewer.chrome("Change details"), e)),
        },
    )
}

#[derive(Template)]
#[template(path = "move.html")]
struct MovePage {
    chrome: Chrome,
    errors: Errors,
    id: String,
    name: String,
    version: i64,
    organisation: String,
    search: String,
    /// The organisations the search found (id, name) that the viewer may move users
    /// into (the service decides again).
    choices: Vec<(String, String)>,
}

#[derive(Deserialize, Default)]
pub(crate) struct MoveSearch {
    #[serde(default)]
    search: String,
}

/// The organisations (id, name) a search finds among those the viewer may bring users
/// into, without the user's own.
async fn move_choices(
    app: &App,
    viewer: &Signed,
    search: &str,
    current: OrgId,
) -> Result<Vec<(String, String)>, tenure_core::BackendError> {
    let found = app
        .services
        .manage
        .invite_organisations(viewer.0.user.id, &viewer.0.world, Search::parse(search))
        .await?;
    Ok(found
        .iter()
        .filter(|o| o.id != current && o.active)
        .take(20)
        .map(|o| (o.id.to_string(), o.name.to_string()))
        .collect())
}

pub(crate) async fn move_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<MoveSearch>,
) -> Result<Response, PageError> {
    let (user, version, w) = visible_user(&app, &viewer, &id).await?;
    if !allowed(&w, &viewer.0, Action::UserMoveOrganisation, Resource::User(user.id)) {
        return Ok(view::forbidden_page(viewer.chrome("Move user"), "you cannot move this user"));
    }
    let chrome = viewer.chrome("Move user to another organisation");
    let choices =
        move_choices(&app, &viewer, &q.search, user.organisation).await.or_page(&chrome)?;
    Ok(view::render(&MovePage {
        chrome,
        errors: Errors::default(),
        id: user.id.to_string(),
        name: user.name.to_string(),
        version,
        organisation: String::new(),
        search: q.search,
        choices,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MoveForm {
    version: i64,
    organisation: String,
}

pub(crate) async fn move_user(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(form): Form<MoveForm>,
) -> Result<Response, PageError> {
    let (user, _, _) = visible_user(&app, &viewer, &id).await?;
    let chrome = viewer.chrome("Move user");
    let choices = move_choices(&app, &viewer, "", user.organisation).await.or_page(&chrome)?;
    let again = |message: &str| {
        let errors = Errors::one("organisation", message);
        view::render(&MovePage {
            chrome: viewer.chrome("Move user to another organisation").with_errors(&errors),
            errors,
            id: user.id.to_string(),
            name: user.name.to_string(),
            version: form.version,
            organisation: form.organisation.clone(),
            search: String::new(),
            choices: choices.clone(),
        })
    };
    // Chosen from the list by id; a name still names one (names are public and unique).
    let target = match parse_org(&form.organisation) {
        Some(id) => Some(id),
        None if form.organisation.trim().is_empty() => None,
        None => {
            app.services.manage.organisation_by_name(&form.organisation).await.or_page(&chrome)?
        }
    };
    let Some(target) = target else {
        return Ok(again("Choose the organisation to move them to"));
    };
    Ok(match app.services.manage.move_user(viewer.0.user.id, user.id, form.version, target).await {
        Ok(()) => Redirect::to(&format!("/users/{}?done=moved", user.id)).into_response(),
        Err(ManageError::NotFound) => {
            again("Enter the name of an organisation you can move users into")
        }
        Err(e) => return Err(PageError::new(&chrome, e)),
    })
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmPage {
    pub(crate) chrome: Chrome,
    pub(crate) heading: String,
    pub(crate) body: Vec<String>,
    pub(crate) action: String,
    pub(crate) version: i64,
    pub(crate) button: &'static str,
    pub(crate) warning: bool,
    pub(crate) back: String,
}

fn confirm_text(action: &str, name: &str) -> Option<(String, Vec<String>, &'static str, bool)> {
    Some(match action {
        "deactivate" => (
            format!("Are you sure you want to deactivate {name}?"),
            vec![
                "They will be signed out at once and will not be able to sign in.".to_owned(),
                "Their account, logs and history are kept. You can reactivate them later.".to_owned(),
            ],
            "Deactivate user",
            true,
        ),
        "reactivate" => (
            format!("Reactivate {name}?"),
            vec!["We will send them an invitation to set a new password. They get their role back when they accept it.".to_owned()],
            "Reactivate user",
            false,
        ),
        "delete" => (
            format!("Are you sure you want to delete {name}?"),
            vec![
                "This permanently removes their account and personal details. It cannot be undone.".to_owned(),
                "Their logs and the audit trail are kept, and will show them as a deleted user.".to_owned(),
            ],
            "Delete user",
            true,
        ),
        "resend-invitation" => (
            format!("Send {name} a new invitation?"),
            vec!["The link in their earlier invitation will stop working.".to_owned()],
            "Send invitation",
            false,
        ),
        "revoke-invitation" => (
            format!("Withdraw {name}'s invitation?"),
            vec!["The link in their invitation will stop working. You can send a new one later.".to_owned()],
            "Withdraw invitation",
            true,
        ),
        _ => return None,
    })
}

pub(crate) async fn confirm_page(
    State(app): State<App>,
    viewer: Signed,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (user, version, _) = visible_user(&app, &viewer, &id).await?;
    let (heading, body, button, warning) =
        confirm_text(&action, user.name.as_str()).or_page(&viewer.chrome("Page not found"))?;
    Ok(view::render(&ConfirmPage {
        chrome: viewer.chrome(&heading),
        heading,
        body,
        action: format!("/users/{}/{action}", user.id),
        version,
        button,
        warning,
        back: format!("/users/{}", user.id),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmForm {
    pub(crate) version: i64,
}

pub(crate) async fn confirm(
    State(app): State<App>,
    viewer: Signed,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    let (user, _, _) = visible_user(&app, &viewer, &id).await?;
    let (me, m) = (viewer.0.user.id, &app.services.manage);
    let (result, done) = match action.as_str() {
        "deactivate" => (m.deactivate_user(me, user.id, form.version).await, "deactivated"),
        "reactivate" => (m.reactivate_user(me, user.id, form.version).await, "reactivated"),
        "delete" => (m.delete_user(me, user.id, form.version).await, "deleted"),
        "resend-invitation" => (m.resend_invitation(me, user.id).await, "resent"),
        "revoke-invitation" => (m.revoke_invitation(me, user.id).await, "revoked"),
        _ => return Err(PageError::not_found(&viewer.chrome("Page not found"))),
    };
    result.or_page(&viewer.chrome("You cannot do this"))?;
    Ok(if done == "deleted" {
        Redirect::to("/users?done=deleted").into_response()
    } else {
        Redirect::to(&format!("/users/{}?done={done}", user.id)).into_response()
    })
}
