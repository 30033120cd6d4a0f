//! The route registry: every route the application serves, once per method, with who may
//! reach it. [`crate::router`] is built from [`ALL`] and nothing else, so a route cannot
//! exist without its entry, and the router tests walk the same table (signed out, as each
//! role, and with ids out of reach) to check each entry against the engine.
//!
//! An entry says what the route needs of the engine; the handler still asks (through the
//! services and the [`tenure_core::Authorizer`]): the registry describes, it does not
//! decide.

use axum::Router;
use axum::extract::State;
use axum::routing::{MethodRouter, get, post};
use tenure_domain::{Action, Feature, ResourceKind};

use crate::corterum::{administration, records, reports};
use crate::form::{Form, Path};
use crate::security::Signed;
use crate::users::ConfirmForm;
use crate::{App, account, admin, logs, mail, organisations, second_factor, users, view};

/// A confirmation page (`/…/{id}/<step>`): the shared handler, told its step.
macro_rules! confirm_get {
    ($handler:path, $step:literal) => {
        get(|state: State<App>, viewer: Signed, Path(id): Path<String>| {
            $handler(state, viewer, Path((id, $step.to_owned())))
        })
    };
}

/// A confirmation form (`/…/{id}/<step>`): the shared handler, told its step.
macro_rules! confirm_post {
    ($handler:path, $step:literal) => {
        post(
            |state: State<App>, viewer: Signed, Path(id): Path<String>, form: Form<ConfirmForm>| {
                $handler(state, viewer, Path((id, $step.to_owned())), form)
            },
        )
    };
}

/// One route: a method on a path pattern, who may reach it, and its handler.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path pattern, with `{name}` for each segment taken from the path (`{id}` is
    /// the id of the record the page is about).
    pub path: &'static str,
    /// Who may reach it.
    pub access: Access,
    /// Builds the route's handler.
    pub(crate) handler: fn() -> MethodRouter<App>,
}

/// The methods the application serves.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Method {
    /// `GET`: a page (or a redirect, or a file).
    Get,
    /// `POST`: a form. The security layer refuses it without the CSRF token of the
    /// browser's session (or, signed out, of its anonymous cookie).
    Post,
}

/// Who may reach a route.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    /// Anyone, signed in or not: signing in, resets, invitations, email confirmation and
    /// the stylesheets.
    Public,
    /// A session part-way through signing in (the password passed; a security code, or
    /// setting up a second factor, is next): the only routes such a session reaches.
    /// Signed out they redirect to the sign-in page, signed in to the home page.
    SigningIn,
    /// A signed-in user; signed out, a `GET` redirects to the sign-in page.
    SignedIn {
        /// The engine action the route needs on `resource`; `None` for pages every
        /// signed-in user gets whatever their roles (their own account, signing out).
        action: Option<Action>,
        /// What the action is about.
        resource: Subject,
    },
}

/// What a route's action is about.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Subject {
    /// Nothing in particular (with no action: every signed-in user).
    Any,
    /// A list of the records the engine's scope of the action reaches: every signed-in
    /// user gets the page, perhaps empty.
    List,
    /// Some record of the action's kind, chosen on the form: the page is "not found" when
    /// the engine's scope of the action reaches nothing.
    Reach,
    /// The signed-in user.
    Yourself,
    /// The signed-in user's organisation.
    YourOrganisation,
    /// The service as a whole: a page for a service-wide action the user lacks is "not
    /// found".
    Service,
    /// Corterum features: the page is "not found" unless `feature.use` is allowed on one
    /// of them.
    Features(&'static [Feature]),
    /// The record of this kind the path's `{id}` names (for an instance, the entity's
    /// instance of the `{dataset}`): "not found" when the engine conceals it, exactly as
    /// when it does not exist.
    Id(ResourceKind),
    /// The organisation of the user the path's `{id}` names (their invitation): the user
    /// must be one the viewer sees, then the action is about their organisation.
    OrganisationOfUser,
    /// On a Corterum administration page: `feature.use` on the feature (else "not found"),
    /// then the action on the record of this kind the path's `{id}` names.
    Administered(Feature, ResourceKind),
    /// On a Corterum administration page, the invitation of the account the path's `{id}`
    /// names: `feature.use` on the feature and the account one the viewer sees (else "not
    /// found"), then the action is about the account's organisation, as for
    /// [`Subject::OrganisationOfUser`].
    AdministeredInvitation(Feature),
}

/// Every route, once per method. [`crate::router`] serves exactly these.
pub static ALL: &[Route] = &[
    // The home page: the logs signed in, signed out a redirect to sign in.
    signed(Method::Get, "/", None, Subject::Any, || get(account::home)),
    // Anyone.
    public(Method::Get, "/assets/{file}", || get(view::asset)),
    public(Method::Get, "/account/sign-in", || get(account::sign_in_page)),
    public(Method::Post, "/account/sign-in", || post(account::sign_in)),
    public(Method::Get, "/account/create", || get(account::create_page)),
    public(Method::Post, "/account/create", || post(account::create)),
    public(Method::Get, "/account/reset-password", || get(account::reset_page)),
    public(Method::Post, "/account/reset-password", || post(account::reset_request)),
    public(Method::Post, "/account/reset-password/new", || post(account::reset)),
    public(Method::Get, "/account/check-email", || get(account::check_email)),
    public(Method::Get, "/account/link-expired", || get(account::link_expired)),
    public(Method::Get, "/account/confirm-email", || get(account::confirm_email_page)),
    public(Method::Post, "/account/confirm-email", || post(account::confirm_email)),
    // The second step of signing in (issue 14): a security code, or setting up an
    // authenticator app when a role requires one; nothing else until it is passed.
    signing_in(Method::Get, second_factor::CODE_PAGE, || get(second_factor::code_page)),
    signing_in(Method::Post, second_factor::CODE_PAGE, || post(second_factor::code)),
    signing_in(Method::Get, second_factor::SET_UP_AT_SIGN_IN, || {
        get(second_factor::set_up_at_sign_in_page)
    }),
    signing_in(Method::Post, second_factor::SET_UP_AT_SIGN_IN, || {
        post(second_factor::set_up_at_sign_in)
    }),
    signing_in(Method::Post, "/account/sign-in/cancel", || post(second_factor::cancel)),
    // Your account.
    signed(Method::Post, "/account/sign-out", None, Subject::Any, || post(account::sign_out)),
    signed(Method::Post, "/account/sign-out-everywhere", None, Subject::Any, || {
        post(account::sign_out_everywhere)
    }),
    signed(Method::Get, "/account", None, Subject::Any, || get(account::your_account)),
    signed(
        Method::Get,
        "/account/details",
        Some(Action::UserEditDetails),
        Subject::Yourself,
        || get(account::details_page),
    ),
    signed(
        Method::Post,
        "/account/details",
        Some(Action::UserEditDetails),
        Subject::Yourself,
        || post(account::details),
    ),
    signed(
        Method::Get,
        "/account/password",
        Some(Action::UserChangePassword),
        Subject::Yourself,
        || get(account::password_page),
    ),
    signed(
        Method::Post,
        "/account/password",
        Some(Action::UserChangePassword),
        Subject::Yourself,
        || post(account::password),
    ),
    // Your second factor, and proving who you are again before a sensitive change.
    signed(Method::Get, "/account/second-factor/set-up", None, Subject::Any, || {
        get(second_factor::set_up_page)
    }),
    signed(Method::Post, "/account/second-factor/set-up", None, Subject::Any, || {
        post(second_factor::set_up)
    }),
    signed(Method::Get, "/account/second-factor/recovery-codes", None, Subject::Any, || {
        get(second_factor::recovery_codes_page)
    }),
    signed(Method::Post, "/account/second-factor/recovery-codes", None, Subject::Any, || {
        post(second_factor::recovery_codes)
    }),
    signed(
        Method::Get,
        "/account/second-factor/remove",
        Some(Action::UserRemoveSecondFactor),
        Subject::Yourself,
        || get(second_factor::remove_page),
    ),
    signed(
        Method::Post,
        "/account/second-factor/remove",
        Some(Action::UserRemoveSecondFactor),
        Subject::Yourself,
        || post(second_factor::remove),
    ),
    signed(Method::Get, second_factor::CONFIRM_IDENTITY, None, Subject::Any, || {
        get(second_factor::confirm_identity_page)
    }),
    signed(Method::Post, second_factor::CONFIRM_IDENTITY, None, Subject::Any, || {
        post(second_factor::confirm_identity)
    }),
    // Users.
    signed(Method::Get, "/users", Some(Action::UserView), Subject::List, || get(users::list)),
    signed(Method::Get, "/users/download", Some(Action::UserListAll), Subject::Service, || {
        get(users::download)
    }),
    signed(Method::Get, "/users/invite", Some(Action::UserInvite), Subject::Reach, || {
        get(users::invite_page)
    }),
    signed(Method::Post, "/users/invite", Some(Action::UserInvite), Subject::Reach, || {
        post(users::invite_details)
    }),
    signed(
        Method::Post,
        "/users/invite/organisation",
        Some(Action::UserInvite),
        Subject::Reach,
        || post(users::invite_organisation),
    ),
    signed(Method::Post, "/users/invite/role", Some(Action::UserInvite), Subject::Reach, || {
        post(users::invite_role)
    }),
    signed(Method::Get, "/users/{id}", Some(Action::UserView), USER, || get(users::profile)),
    signed(Method::Get, "/users/{id}/edit", Some(Action::UserEditDetails), USER, || {
        get(users::edit_page)
    }),
    signed(Method::Post, "/users/{id}/edit", Some(Action::UserEditDetails), USER, || {
        post(users::edit)
    }),
    signed(Method::Get, "/users/{id}/move", Some(Action::UserMoveOrganisation), USER, || {
        get(users::move_page)
    }),
    signed(Method::Post, "/users/{id}/move", Some(Action::UserMoveOrganisation), USER, || {
        post(users::move_user)
    }),
    signed(Method::Get, "/users/{id}/deactivate", Some(Action::UserDeactivate), USER, || {
        confirm_get!(users::confirm_page, "deactivate")
    }),
    signed(Method::Post, "/users/{id}/deactivate", Some(Action::UserDeactivate), USER, || {
        confirm_post!(users::confirm, "deactivate")
    }),
    signed(Method::Get, "/users/{id}/reactivate", Some(Action::UserReactivate), USER, || {
        confirm_get!(users::confirm_page, "reactivate")
    }),
    signed(Method::Post, "/users/{id}/reactivate", Some(Action::UserReactivate), USER, || {
        confirm_post!(users::confirm, "reactivate")
    }),
    signed(Method::Get, "/users/{id}/delete", Some(Action::UserDelete), USER, || {
        confirm_get!(users::confirm_page, "delete")
    }),
    signed(Method::Post, "/users/{id}/delete", Some(Action::UserDelete), USER, || {
        confirm_post!(users::confirm, "delete")
    }),
    signed(
        Method::Get,
        "/users/{id}/resend-invitation",
        Some(Action::UserInvite),
        Subject::OrganisationOfUser,
        || confirm_get!(users::confirm_page, "resend-invitation"),
    ),
    signed(
        Method::Post,
        "/users/{id}/resend-invitation",
        Some(Action::UserInvite),
        Subject::OrganisationOfUser,
        || confirm_post!(users::confirm, "resend-invitation"),
    ),
    signed(
        Method::Get,
        "/users/{id}/revoke-invitation",
        Some(Action::UserInvite),
        Subject::OrganisationOfUser,
        || confirm_get!(users::confirm_page, "revoke-invitation"),
    ),
    signed(
        Method::Post,
        "/users/{id}/revoke-invitation",
        Some(Action::UserInvite),
        Subject::OrganisationOfUser,
        || confirm_post!(users::confirm, "revoke-invitation"),
    ),
    signed(
        Method::Get,
        "/users/{id}/remove-second-factor",
        Some(Action::UserRemoveSecondFactor),
        USER,
        || get(second_factor::remove_for_page),
    ),
    signed(
        Method::Post,
        "/users/{id}/remove-second-factor",
        Some(Action::UserRemoveSecondFactor),
        USER,
        || post(second_factor::remove_for),
    ),
    // Organisations.
    signed(
        Method::Get,
        "/organisation",
        Some(Action::OrganisationView),
        Subject::YourOrganisation,
        || get(organisations::own),
    ),
    signed(Method::Get, "/organisations", Some(Action::OrganisationView), Subject::List, || {
        get(organisations::list)
    }),
    signed(
        Method::Get,
        "/organisations/new",
        Some(Action::OrganisationCreate),
        Subject::Service,
        || get(organisations::new_page),
    ),
    signed(
        Method::Post,
        "/organisations/new",
        Some(Action::OrganisationCreate),
        Subject::Service,
        || post(organisations::create),
    ),
    signed(Method::Get, "/organisations/{id}", Some(Action::OrganisationView), ORG, || {
        get(organisations::profile)
    }),
    signed(
        Method::Get,
        "/organisations/{id}/edit",
        Some(Action::OrganisationEditDetails),
        ORG,
        || get(organisations::edit_page),
    ),
    signed(
        Method::Post,
        "/organisations/{id}/edit",
        Some(Action::OrganisationEditDetails),
        ORG,
        || post(organisations::edit),
    ),
    signed(
        Method::Get,
        "/organisations/{id}/relationships",
        Some(Action::OrganisationManageRelationships),
        ORG,
        || get(organisations::relationships),
    ),
    signed(
        Method::Post,
        "/organisations/{id}/relationships",
        Some(Action::OrganisationManageRelationships),
        ORG,
        || post(organisations::change_relationship),
    ),
    signed(Method::Get, "/organisations/{id}/merge", Some(Action::OrganisationMerge), ORG, || {
        get(organisations::merge_page)
    }),
    signed(
        Method::Get,
        "/organisations/{id}/merge/check",
        Some(Action::OrganisationMerge),
        ORG,
        || get(organisations::merge_check),
    ),
    signed(Method::Post, "/organisations/{id}/merge", Some(Action::OrganisationMerge), ORG, || {
        post(organisations::merge)
    }),
    signed(
        Method::Get,
        "/organisations/{id}/deactivate",
        Some(Action::OrganisationDeactivate),
        ORG,
        || confirm_get!(organisations::confirm_page, "deactivate"),
    ),
    signed(
        Method::Post,
        "/organisations/{id}/deactivate",
        Some(Action::OrganisationDeactivate),
        ORG,
        || confirm_post!(organisations::confirm, "deactivate"),
    ),
    signed(
        Method::Get,
        "/organisations/{id}/reactivate",
        Some(Action::OrganisationReactivate),
        ORG,
        || confirm_get!(organisations::confirm_page, "reactivate"),
    ),
    signed(
        Method::Post,
        "/organisations/{id}/reactivate",
        Some(Action::OrganisationReactivate),
        ORG,
        || confirm_post!(organisations::confirm, "reactivate"),
    ),
    // Logs and the audit trail.
    signed(Method::Get, "/logs", Some(Action::LogView), Subject::List, || get(logs::list)),
    signed(
        Method::Get,
        "/logs/{id}",
        Some(Action::LogView),
        Subject::Id(ResourceKind::Log),
        || get(logs::page),
    ),
    signed(
        Method::Get,
        "/logs/{id}/delete",
        Some(Action::LogDelete),
        Subject::Id(ResourceKind::Log),
        || get(logs::delete_page),
    ),
    signed(
        Method::Post,
        "/logs/{id}/delete",
        Some(Action::LogDelete),
        Subject::Id(ResourceKind::Log),
        || post(logs::delete),
    ),
    // `Manage::audit` asks `organisation.list_all` on the service as well.
    signed(Method::Get, "/audit", Some(Action::UserListAll), Subject::Service, || {
        get(admin::audit)
    }),
    signed(Method::Get, "/audit/download", Some(Action::UserListAll), Subject::Service, || {
        get(admin::download)
    }),
    // `Manage::undeliverable_mail` and `retry_mail` ask `organisation.list_all` as well.
    signed(Method::Get, "/mail", Some(Action::UserListAll), Subject::Service, || {
        get(mail::undeliverable)
    }),
    signed(Method::Post, "/mail/retry", Some(Action::UserListAll), Subject::Service, || {
        post(mail::retry)
    }),
    // Corterum administration.
    signed(
        Method::Get,
        "/administration",
        Some(Action::FeatureUse),
        Subject::Features(Feature::ADMINISTRATION),
        || get(administration::index),
    ),
    // Companies: the service decides; a housing organisation's id is "not found".
    feature(Method::Get, "/administration/companies", COMPANIES, || {
        get(administration::companies::list)
    }),
    feature(Method::Get, "/administration/companies/new", COMPANIES, || {
        get(administration::companies::new_page)
    }),
    feature(Method::Post, "/administration/companies/new", COMPANIES, || {
        post(administration::companies::create)
    }),
    signed(
        Method::Get,
        "/administration/companies/{id}",
        Some(Action::OrganisationView),
        Subject::Administered(Feature::CompanyAdministration, ResourceKind::Organisation),
        || get(administration::companies::show),
    ),
    signed(
        Method::Get,
        "/administration/companies/{id}/edit",
        Some(Action::OrganisationEditDetails),
        Subject::Administered(Feature::CompanyAdministration, ResourceKind::Organisation),
        || get(administration::companies::edit_page),
    ),
    signed(
        Method::Post,
        "/administration/companies/{id}/edit",
        Some(Action::OrganisationEditDetails),
        Subject::Administered(Feature::CompanyAdministration, ResourceKind::Organisation),
        || post(administration::companies::edit),
    ),
    feature(Method::Get, "/administration/entities", ENTITIES, || {
        get(administration::entities::list)
    }),
    feature(Method::Get, "/administration/entities/new", ENTITIES, || {
        get(administration::entities::new_page)
    }),
    feature(Method::Post, "/administration/entities/new", ENTITIES, || {
        post(administration::entities::create)
    }),
    signed(
        Method::Get,
        "/administration/entities/{id}",
        Some(Action::EntityView),
        Subject::Administered(Feature::EntityAdministration, ResourceKind::Entity),
        || get(administration::entities::edit_page),
    ),
    signed(
        Method::Post,
        "/administration/entities/{id}",
        Some(Action::EntityView),
        Subject::Administered(Feature::EntityAdministration, ResourceKind::Entity),
        || post(administration::entities::edit),
    ),
    feature(Method::Get, "/administration/groups", GROUPS, || get(administration::groups::list)),
    feature(Method::Get, "/administration/groups/new", GROUPS, || {
        get(administration::groups::new_page)
    }),
    feature(Method::Post, "/administration/groups/new", GROUPS, || {
        post(administration::groups::create)
    }),
    signed(
        Method::Get,
        "/administration/groups/{id}",
        Some(Action::GroupEdit),
        Subject::Administered(Feature::GroupAdministration, ResourceKind::Group),
        || get(administration::groups::edit_page),
    ),
    signed(
        Method::Post,
        "/administration/groups/{id}",
        Some(Action::GroupEdit),
        Subject::Administered(Feature::GroupAdministration, ResourceKind::Group),
        || post(administration::groups::edit),
    ),
    feature(Method::Get, "/administration/roles", ROLES, || get(administration::roles::list)),
    feature(Method::Get, "/administration/roles/new", ROLES, || {
        get(administration::roles::new_page)
    }),
    feature(Method::Post, "/administration/roles/new", ROLES, || {
        post(administration::roles::create)
    }),
    signed(
        Method::Get,
        "/administration/roles/{id}",
        Some(Action::RoleEdit),
        Subject::Administered(Feature::RolesAdministration, ResourceKind::Role),
        || get(administration::roles::edit_page),
    ),
    signed(
        Method::Post,
        "/administration/roles/{id}",
        Some(Action::RoleEdit),
        Subject::Administered(Feature::RolesAdministration, ResourceKind::Role),
        || post(administration::roles::edit),
    ),
    feature(Method::Get, "/administration/users", ACCOUNTS, || get(administration::accounts::list)),
    feature(Method::Get, "/administration/users/new", ACCOUNTS, || {
        get(administration::accounts::new_page)
    }),
    feature(Method::Post, "/administration/users/new", ACCOUNTS, || {
        post(administration::accounts::create)
    }),
    signed(
        Method::Get,
        "/administration/users/{id}",
        Some(Action::UserView),
        Subject::Administered(Feature::UserAdministration, ResourceKind::User),
        || get(administration::accounts::edit_page),
    ),
    signed(
        Method::Post,
        "/administration/users/{id}",
        Some(Action::UserChangeRole),
        Subject::Administered(Feature::UserAdministration, ResourceKind::User),
        || post(administration::accounts::edit),
    ),
    signed(
        Method::Get,
        "/administration/users/{id}/email",
        Some(Action::UserChangeEmail),
        Subject::Administered(Feature::UserAdministration, ResourceKind::User),
        || get(administration::accounts::email_page),
    ),
    signed(
        Method::Post,
        "/administration/users/{id}/email",
        Some(Action::UserChangeEmail),
        Subject::Administered(Feature::UserAdministration, ResourceKind::User),
        || post(administration::accounts::email),
    ),
    signed(
        Method::Post,
        "/administration/users/{id}/resend-invitation",
        Some(Action::UserInvite),
        Subject::AdministeredInvitation(Feature::UserAdministration),
        || post(administration::accounts::resend_invitation),
    ),
    signed(
        Method::Post,
        "/administration/users/{id}/withdraw-invitation",
        Some(Action::UserInvite),
        Subject::AdministeredInvitation(Feature::UserAdministration),
        || post(administration::accounts::withdraw_invitation),
    ),
    signed(
        Method::Post,
        "/administration/users/{id}/deactivate",
        Some(Action::UserDeactivate),
        Subject::Administered(Feature::UserAdministration, ResourceKind::User),
        || post(administration::accounts::deactivate),
    ),
    signed(
        Method::Post,
        "/administration/users/{id}/reactivate",
        Some(Action::UserReactivate),
        Subject::Administered(Feature::UserAdministration, ResourceKind::User),
        || post(administration::accounts::reactivate),
    ),
    signed(
        Method::Get,
        "/administration/users/{id}/delete",
        Some(Action::UserDelete),
        Subject::Administered(Feature::UserAdministration, ResourceKind::User),
        || get(administration::accounts::delete_page),
    ),
    signed(
        Method::Post,
        "/administration/users/{id}/delete",
        Some(Action::UserDelete),
        Subject::Administered(Feature::UserAdministration, ResourceKind::User),
        || post(administration::accounts::delete),
    ),
    // Corterum reports: each opened by its report feature; the person is chosen on the
    // page (`?entity=`), and the service asks the engine (`decide_report`).
    feature(Method::Get, "/reports", REPORTS, || get(reports::index)),
    feature(Method::Get, "/reports/fca-directory", &[Feature::ReportFcaDirectory], || {
        get(reports::directory)
    }),
    feature(
        Method::Get,
        "/reports/fit-and-proper-certificate",
        &[Feature::ReportFitAndProperCertificate],
        || get(reports::certificate),
    ),
    feature(
        Method::Get,
        "/reports/regulatory-reference",
        &[Feature::ReportRegulatoryReference],
        || get(reports::reference),
    ),
    feature(
        Method::Get,
        "/reports/statement-of-responsibilities",
        &[Feature::ReportStatementOfResponsibility],
        || get(reports::statement),
    ),
    // Corterum records.
    signed(Method::Get, "/records", Some(Action::EntityView), Subject::Reach, || {
        get(records::records)
    }),
    signed(
        Method::Get,
        "/records/{id}",
        Some(Action::EntityView),
        Subject::Id(ResourceKind::Entity),
        || get(records::record),
    ),
    signed(
        Method::Get,
        "/records/{id}/{dataset}",
        Some(Action::DatasetRead),
        Subject::Id(ResourceKind::Instance),
        || get(records::instance),
    ),
    signed(
        Method::Post,
        "/records/{id}/{dataset}",
        Some(Action::DatasetEdit),
        Subject::Id(ResourceKind::Instance),
        || post(records::save_instance),
    ),
    signed(
        Method::Get,
        "/records/{id}/{dataset}/compare",
        Some(Action::DatasetRead),
        Subject::Id(ResourceKind::Instance),
        || get(records::compare),
    ),
    signed(
        Method::Get,
        "/records/{id}/{dataset}/rows/{row}",
        Some(Action::DatasetEdit),
        Subject::Id(ResourceKind::Instance),
        || get(records::row_page),
    ),
    signed(
        Method::Post,
        "/records/{id}/{dataset}/rows/{row}",
        Some(Action::DatasetEdit),
        Subject::Id(ResourceKind::Instance),
        || post(records::change_row),
    ),
    signed(
        Method::Get,
        "/records/{id}/{dataset}/rows/{row}/remove",
        Some(Action::DatasetEdit),
        Subject::Id(ResourceKind::Instance),
        || get(records::remove_row_page),
    ),
    signed(
        Method::Post,
        "/records/{id}/{dataset}/rows/{row}/remove",
        Some(Action::DatasetEdit),
        Subject::Id(ResourceKind::Instance),
        || post(records::remove_row),
    ),
];

/// The routes of [`ALL`] on an axum router (state still to give), with the "Page not
/// found" fallback, and the service's own page for a method a route does not take.
pub(crate) fn router() -> Router<App> {
    ALL.iter()
        .fold(Router::new(), |router, route| router.route(route.path, (route.handler)()))
        .fallback(view::not_found)
        .method_not_allowed_fallback(view::method_not_allowed)
}

const USER: Subject = Subject::Id(ResourceKind::User);
const ORG: Subject = Subject::Id(ResourceKind::Organisation);
const ENTITIES: &[Feature] = &[Feature::EntityAdministration];
const GROUPS: &[Feature] = &[Feature::GroupAdministration];
const COMPANIES: &[Feature] = &[Feature::CompanyAdministration];
const ROLES: &[Feature] = &[Feature::RolesAdministration];
const ACCOUNTS: &[Feature] = &[Feature::UserAdministration];
const REPORTS: &[Feature] = &[
    Feature::ReportFcaDirectory,
    Feature::ReportFitAndProperCertificate,
    Feature::ReportRegulatoryReference,
    Feature::ReportStatementOfResponsibility,
];

const fn public(method: Method, path: &'static str, handler: fn() -> MethodRouter<App>) -> Route {
    Route { method, path, access: Access::Public, handler }
}

const fn signing_in(
    method: Method,
    path: &'static str,
    handler: fn() -> MethodRouter<App>,
) -> Route {
    Route { method, path, access: Access::SigningIn, handler }
}

const fn signed(
    method: Method,
    path: &'static str,
    action: Option<Action>,
    resource: Subject,
    handler: fn() -> MethodRouter<App>,
) -> Route {
    Route { method, path, access: Access::SignedIn { action, resource }, handler }
}

/// A Corterum administration page: `feature.use` on one of `features`.
const fn feature(
    method: Method,
    path: &'static str,
    features: &'static [Feature],
    handler: fn() -> MethodRouter<App>,
) -> Route {
    signed(method, path, Some(Action::FeatureUse), Subject::Features(features), handler)
}
