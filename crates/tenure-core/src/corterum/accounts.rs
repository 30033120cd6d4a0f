//! Corterum user accounts: the list within the actor's reach (searched, filtered and
//! paged by the store), one account, and changing its username, roles, entity and
//! companies, decided on the user. Email addresses, deactivating, reactivating and
//! deleting go through `Manage` (the email address is a credential with its own rule).

use tenure_domain::role::builtin;
use tenure_domain::{
    Action, EntityId, EntityKind, Feature, Name, OrgId, Request, Resource, Role, RoleId, Scope,
    User, UserId, UserLinks, World,
};

use crate::audit::{AccountChange, AuditDetail, AuditName, Change};
use crate::changes::Write;
use crate::corterum::{
    Account, AccountInput, Corterum, Listed, check_companies, covers_entity, invalid,
};
use crate::error::BackendError;
use crate::ports::Page;
use crate::query::Search;
use crate::usecase::{FieldError, ManageError};

/// What a user account list is narrowed to.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct AccountQuery {
    /// Part of the username or email address, any case.
    pub search: Option<Search>,
    /// Linked to this company.
    pub company: Option<OrgId>,
    /// Holding this role.
    pub role: Option<RoleId>,
    /// Active (`true`) or deactivated (`false`) only.
    pub active: Option<bool>,
}

impl AccountQuery {
    /// Whether an account passes the query (the reference for stores).
    pub fn matches(&self, username: &str, user: &User, links: &UserLinks) -> bool {
        self.search.as_ref().is_none_or(|s| s.found_in(username) || s.found_in(user.email.as_str()))
            && self.company.is_none_or(|c| links.companies.contains(&c))
            && self.role.is_none_or(|r| user.roles.contains(&r))
            && self.active.is_none_or(|a| user.active == a)
    }

    /// The list order: lower-cased username, then id.
    pub fn sort_key(username: &str, user: &User) -> (String, UserId) {
        (username.to_lowercase(), user.id)
    }
}

/// One account of a list: its username, the user, their entity and companies, and the
/// name of their entity.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AccountItem {
    /// Unique across the service.
    pub username: String,
    /// The user, with their roles.
    pub user: User,
    /// Their entity and companies (in a service's answer, only the companies the actor
    /// administers users in).
    pub links: UserLinks,
    /// The name of their entity, if they have one.
    pub entity_name: Option<Name>,
}

impl Corterum {
    /// The user accounts (users with a username) the actor may see
    /// (`user_administration`): those of their companies, every one for the root
    /// administrator. The store filters by the engine's `user.view` scope.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature.
    pub async fn accounts(
        &self,
        actor: UserId,
        page: Page,
    ) -> Result<Vec<(String, User)>, ManageError> {
        let world = self.feature(actor, Feature::UserAdministration).await?;
        let scope = world.scope(actor, Action::UserView);
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        Ok(self.ports.store.accounts(&scope, page).await?)
    }

    /// One page of the user accounts the actor may see (`user_administration`, the
    /// engine's `user.view` scope), searched and filtered by the store, with how many
    /// match in all. Each account shows only the companies the actor administers users
    /// in; a company filter outside them matches nothing (it would say which other
    /// companies their users are linked to).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature.
    pub async fn account_list(
        &self,
        actor: UserId,
        query: &AccountQuery,
        page: Page,
    ) -> Result<Listed<AccountItem>, ManageError> {
        let world = self.feature(actor, Feature::UserAdministration).await?;
        let scope = world.scope(actor, Action::UserView);
        let mine = world.company_scope(actor, Feature::UserAdministration);
        if scope.is_nothing() || query.company.is_some_and(|c| !mine.covers_organisation(c)) {
            return Ok(Listed::default());
        }
        let mut listed = self.ports.store.account_list(&scope, query, page).await?;
        for item in &mut listed.items {
            item.links.companies.retain(|c| mine.covers_organisation(*c));
        }
        Ok(listed)
    }

    /// A user's account: username, entity, companies and the user with their version
    /// (`user_administration`, and `user.view` on the user).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature, for a user out of reach, or for a
    /// user without a username.
    pub async fn account(&self, actor: UserId, user: UserId) -> Result<Account, ManageError> {
        self.target(actor, Feature::UserAdministration, Action::UserView, Resource::User(user))
            .await?;
        let (username, links) =
            self.ports.store.user_links(user).await?.ok_or(ManageError::NotFound)?;
        let user = self.ports.changes.user(user).await?.ok_or(ManageError::NotFound)?;
        Ok(Account { username, links, user })
    }

    /// Checks an account form's fields against what exists and the companies the actor
    /// administers users in (`mine`): roles from the list (the out-of-the-box ones but
    /// the root administrator's, and those customers built), companies of the actor's, a
    /// person entity of those companies. Whether the actor may give the roles is the
    /// engine's to decide, afterwards: the customer-built roles among the form's are
    /// returned for its snapshot, which holds only the roles of the users it loaded.
    async fn check_account_fields(
        &self,
        mine: &Scope,
        input: &AccountInput,
    ) -> Result<Vec<Role>, ManageError> {
        let mut errors = Vec::new();
        if input.roles.is_empty() {
            errors.push(FieldError {
                field: "roles",
                message: "choose at least one role".to_owned(),
            });
        }
        let mut custom = self.ports.store.custom_roles().await?;
        let listed: Vec<RoleId> = builtin::assignable_corterum_roles()
            .iter()
            .chain(custom.iter())
            .map(|r| r.id)
            .collect();
        custom.retain(|r| input.roles.contains(&r.id));
        if input.roles.iter().any(|r| !listed.contains(r)) {
            errors.push(FieldError {
                field: "roles",
                message: "choose roles from the list; the root administrator cannot be given"
                    .to_owned(),
            });
        }
        if input.companies.is_empty() {
            errors.push(FieldError {
                field: "companies",
                message: "link the user to at least one company".to_owned(),
            });
        } else if let Err(ManageError::Invalid(e)) = check_companies(mine, &input.companies) {
            errors.extend(e);
        } else {
            match self.check_linkable(mine, &input.companies).await {
                Err(ManageError::Invalid(e)) => errors.extend(e),
                other => other?,
            }
        }
        if let Some(e) = input.entity {
            match self.ports.store.entity(e).await? {
                Some(ent) if ent.kind == EntityKind::Person && covers_entity(mine, &ent) => {}
                _ => errors.push(FieldError {
                    field: "entity",
                    message: "choose a person entity of your companies, or none".to_owned(),
                }),
            }
        }
        if errors.is_empty() { Ok(custom) } else { Err(ManageError::Invalid(errors)) }
    }

    /// Checks a new account: its fields, then the engine on the company it belongs to
    /// (its first): `user.invite` there, giving each of its roles. Returns the actor's
    /// snapshot and the username; [`crate::Manage::create_account`] makes the user and
    /// sends the invitation.
    pub(crate) async fn check_new_account(
        &self,
        actor: UserId,
        input: &AccountInput,
    ) -> Result<(World, String), ManageError> {
        let world = self.feature(actor, Feature::UserAdministration).await?;
        let username = input.username.trim().to_owned();
        let bad_username = !username_ok(&username);
        let mine = world.company_scope(actor, Feature::UserAdministration);
        let fields = self.check_account_fields(&mine, input).await;
        let custom = match (bad_username, fields) {
            (false, Ok(custom)) => custom,
            (bad, fields) => {
                let mut errors = Vec::new();
                if bad {
                    errors
                        .push(FieldError { field: "username", message: USERNAME_RULE.to_owned() });
                }
                match fields {
                    Err(ManageError::Invalid(e)) => errors.extend(e),
                    Err(e) => return Err(e),
                    Ok(_) => {}
                }
                return Err(ManageError::Invalid(errors));
            }
        };
        let home = Resource::Organisation(input.companies[0]);
        let mut at_home = self.world(actor, home).await?;
        for role in custom {
            at_home.upsert_role(role).map_err(BackendError::new)?;
        }
        for role in &input.roles {
            self.base
                .require(&at_home, Request::new(actor, Action::UserInvite, home).giving(*role))
                .await?;
        }
        Ok((world, username))
    }

    /// The name of a user's linked entity for a page about them, if the actor may see
    /// the entity; empty otherwise (or without one).
    ///
    /// # Errors
    /// [`ManageError::Backend`] when storage fails.
    pub async fn entity_name_of(
        &self,
        actor: UserId,
        entity: Option<EntityId>,
    ) -> Result<String, ManageError> {
        let Some(id) = entity else { return Ok(String::new()) };
        match self.entity(actor, id).await {
            Ok(e) => Ok(e.name.to_string()),
            Err(ManageError::NotFound) => Ok(String::new()),
            Err(e) => Err(e),
        }
    }

    /// The name of an entity, if it exists.
    pub(crate) async fn entity_name(
        &self,
        id: Option<EntityId>,
    ) -> Result<Option<Name>, BackendError> {
        match id {
            Some(e) => Ok(self.ports.store.entity(e).await?.map(|x| x.name)),
            None => Ok(None),
        }
    }

    /// Changes a user's username, roles, entity and companies (`user_administration`),
    /// written against `version`, the version the form showed. The engine decides on the
    /// user: `user.view`, `user.edit_details` for a new username, then
    /// `user.change_role` giving each role (so nobody changes their own
    /// account, or the root administrator's, whose rights cannot be revoked), and
    /// `user.move_organisation` when the company they belong to is no longer among their
    /// companies. Companies the actor does not administer stay as they were.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature or for a user out of reach;
    /// [`ManageError::Conflict`] if the user changed since `version`;
    /// [`ManageError::Forbidden`] as the engine decides; [`ManageError::Invalid`] as for
    /// creating.
    pub async fn update_account(
        &self,
        actor: UserId,
        user: UserId,
        version: i64,
        input: &AccountInput,
    ) -> Result<(), ManageError> {
        let current = self.ports.changes.user(user).await?.ok_or(ManageError::NotFound)?;
        let target = Resource::User(user);
        let mut world =
            self.target(actor, Feature::UserAdministration, Action::UserView, target).await?;
        if current.version != version {
            return Err(ManageError::Conflict);
        }
        let mine = world.company_scope(actor, Feature::UserAdministration);
        for role in self.check_account_fields(&mine, input).await? {
            world.upsert_role(role).map_err(BackendError::new)?;
        }
        for role in &input.roles {
            self.base
                .require(&world, Request::new(actor, Action::UserChangeRole, target).giving(*role))
                .await?;
        }
        let (mut username, before) =
            self.ports.store.user_links(user).await?.ok_or(ManageError::NotFound)?;
        let wanted = input.username.trim();
        if !wanted.is_empty() && wanted != username {
            if !username_ok(wanted) {
                return Err(invalid("username", USERNAME_RULE));
            }
            self.base.require(&world, Request::new(actor, Action::UserEditDetails, target)).await?;
            wanted.clone_into(&mut username);
        }
        let mut companies: Vec<OrgId> =
            before.companies.iter().copied().filter(|c| !mine.covers_organisation(*c)).collect();
        companies.extend_from_slice(&input.companies);
        companies.sort_unstable();
        companies.dedup();
        let mut changed = current.value.clone();
        changed.roles.clone_from(&input.roles);
        if !companies.contains(&changed.organisation) {
            self.base
                .require(&world, Request::new(actor, Action::UserMoveOrganisation, target))
                .await?;
            changed.organisation = input.companies[0];
        }
        let ids = |roles: &[RoleId]| roles.iter().map(ToString::to_string).collect::<Vec<_>>();
        let audit = self.event(
            AuditName::UserLinksSave,
            actor,
            Some(user),
            AuditDetail::AccountChange(AccountChange {
                username: username.clone(),
                roles: Change { before: ids(&current.value.roles), after: ids(&changed.roles) },
                companies: Change { before: before.companies.len(), after: companies.len() },
            }),
        );
        let links = UserLinks { entity: input.entity, companies };
        self.ports
            .changes
            .apply(
                vec![
                    Write::UpdateUser { user: changed, version },
                    Write::SetUserLinks { user, links, username },
                ],
                vec![audit],
            )
            .await?;
        Ok(())
    }
}

/// What a username must be, as a form says it.
const USERNAME_RULE: &str =
    "enter a username of 1 to 200 characters (an email address makes a good one)";

/// Whether a trimmed username is one: 1 to 200 characters, none of them control or
/// text-direction characters.
fn username_ok(username: &str) -> bool {
    !username.is_empty()
        && username.chars().count() <= 200
        && !username.chars().any(tenure_domain::name::is_forbidden_in_text)
}
