//! Corterum user accounts in batches: `username`, `email`, `entity` (a person's name,
//! or empty), `roles` (role names, `;` between them) and `companies` (names). The natural
//! key is the username (any case).
//!
//! Creating calls `Manage::create_account` (the user is emailed an invitation, as from
//! the web); updating calls `Corterum::update_account` (roles, entity and companies,
//! decided on the user; companies out of the actor's reach stay). An email address is a
//! credential and is not changed by an import: a row whose email differs is refused,
//! saying where to change it. Exports list the accounts the actor may see, with the
//! companies and entity the actor sees.

use async_trait::async_trait;
use tenure_domain::{Action, EntityKind, Feature, Request, Resource, Role, Scope, User, UserId};

use crate::batch::corterum::{CorterumSources, escape, join_list, names, sort_names};
use crate::batch::{Created, Kind, RowError, cell};
use crate::corterum::{Account, AccountInput};
use crate::csv::read::{Column, Columns, Row};
use crate::error::BackendError;
use crate::ports::Page;
use crate::usecase::{FieldError, ManageError};

/// The accounts kind.
#[derive(Clone, Debug)]
pub struct Accounts {
    sources: CorterumSources,
}

impl Accounts {
    /// The kind over these services.
    pub fn new(sources: CorterumSources) -> Self {
        Self { sources }
    }
}

/// A parsed row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    /// Unique across the service.
    pub username: String,
    /// Where the invitation goes.
    pub email: String,
    /// Their own entity's name, if any.
    pub entity: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Company names.
    pub companies: Vec<String>,
}

/// An account stored under a row's username, with the row as the names resolve.
#[derive(Clone, Debug)]
pub struct StoredAccount {
    /// The account.
    pub account: Account,
    /// Its export row.
    pub stored: Vec<String>,
    /// The import row, names spelt as stored.
    pub wanted: Vec<String>,
}

fn row_cells(
    username: &str,
    email: &str,
    entity: Option<String>,
    mut roles: Vec<String>,
    mut companies: Vec<String>,
) -> Vec<String> {
    sort_names(&mut roles);
    sort_names(&mut companies);
    let list = |v: &[String]| join_list(&v.iter().map(|x| escape(x)).collect::<Vec<_>>());
    vec![
        username.to_owned(),
        email.to_owned(),
        entity.unwrap_or_default(),
        list(&roles),
        list(&companies),
    ]
}

impl Accounts {
    async fn roles(&self, actor: UserId) -> Result<Vec<Role>, RowError> {
        Ok(self.sources.corterum.roles(actor).await?)
    }

    async fn mine(&self, actor: UserId) -> Result<Scope, BackendError> {
        self.sources.company_scope(actor, Feature::UserAdministration).await
    }

    /// The row's names as ids, and the row spelt as stored.
    async fn resolve(
        &self,
        actor: UserId,
        row: &AccountRow,
    ) -> Result<(AccountInput, Vec<String>), RowError> {
        // The root administrator's role by name too: an export names it, and the
        // service refuses to give it.
        let all = Self::every_role(self.roles(actor).await?);
        let mut roles = Vec::new();
        let mut role_names = Vec::new();
        for n in &row.roles {
            let wanted = n.to_lowercase();
            match all.iter().find(|r| r.name.to_lowercase() == wanted || r.key == wanted) {
                Some(r) => {
                    roles.push(r.id);
                    role_names.push(r.name.clone());
                }
                None => {
                    return Err(RowError(format!(
                        "roles: no role is called `{}`; expected one of: {}",
                        tenure_domain::name::quoted(n),
                        all.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
        let mine = self.mine(actor).await?;
        let companies = self.sources.companies_named(&mine, &row.companies).await?;
        let entity = match &row.entity {
            Some(n) => match self.sources.entity_named(actor, n, Some(EntityKind::Person)).await? {
                Some(e) => Some((e.id, e.name.to_string())),
                None => {
                    return Err(RowError(format!(
                        "entity: no person you can see is called `{}`",
                        tenure_domain::name::quoted(n)
                    )));
                }
            },
            None => None,
        };
        let input = AccountInput {
            username: row.username.clone(),
            email: row.email.clone(),
            entity: entity.as_ref().map(|(id, _)| *id),
            roles,
            companies: companies.iter().map(|(id, _)| *id).collect(),
        };
        let cells = row_cells(
            &row.username,
            &row.email,
            entity.map(|(_, n)| n),
            role_names,
            companies.into_iter().map(|(_, n)| n).collect(),
        );
        Ok((input, cells))
    }

    /// An account's export row, as `actor` sees it.
    async fn cells(
        &self,
        actor: UserId,
        mine: &Scope,
        roles: &[Role],
        account: &Account,
    ) -> Result<Vec<String>, BackendError> {
        let entity = match account.links.entity {
            Some(e) => self.sources.visible_name(actor, e).await?,
            None => None,
        };
        let role_names = account
            .user
            .value
            .roles
            .iter()
            .filter_map(|id| roles.iter().find(|r| r.id == *id).map(|r| r.name.clone()))
            .collect();
        let companies = self.sources.company_names(mine, &account.links.companies).await?;
        Ok(row_cells(
            &account.username,
            account.user.value.email.as_str(),
            entity,
            role_names,
            companies,
        ))
    }

    /// The account with this username the actor may see.
    async fn named(&self, actor: UserId, username: &str) -> Result<Option<User>, RowError> {
        let wanted = username.to_lowercase();
        let mut page = Page::numbered(1, Page::MAX_LIMIT);
        loop {
            let found = match self.sources.corterum.accounts(actor, page).await {
                Ok(f) => f,
                Err(ManageError::NotFound) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let done = found.len() < page.limit;
            if let Some((_, user)) = found.into_iter().find(|(u, _)| u.to_lowercase() == wanted) {
                return Ok(Some(user));
            }
            if done {
                return Ok(None);
            }
            page.offset += page.limit;
        }
    }

    /// Every role there is, for names (the root administrator's too).
    fn every_role(assignable: Vec<Role>) -> Vec<Role> {
        let mut all = assignable;
        for r in tenure_domain::role::builtin::corterum_roles() {
            if !all.iter().any(|x| x.id == r.id) {
                all.push(r.clone());
            }
        }
        all
    }
}

#[async_trait]
impl Kind for Accounts {
    type Input = AccountRow;
    type Existing = StoredAccount;

    const COLUMNS: Columns<'static> = Columns {
        columns: &[
            Column::required("username"),
            Column::required("email"),
            Column::optional("entity"),
            Column::required("roles"),
            Column::required("companies"),
        ],
    };

    fn parse(&self, row: &Row) -> Result<AccountRow, Vec<FieldError>> {
        let mut errors = Vec::new();
        let username = cell(row, "username").trim().to_owned();
        if username.is_empty() {
            errors.push(FieldError {
                field: "username",
                message: "enter a username of 1 to 200 characters (an email address makes a \
                          good one)"
                    .to_owned(),
            });
        }
        let roles = names("roles", cell(row, "roles")).map_err(|e| errors.push(e)).ok();
        let companies = names("companies", cell(row, "companies")).map_err(|e| errors.push(e)).ok();
        let entity = Some(cell(row, "entity").trim()).filter(|e| !e.is_empty()).map(str::to_owned);
        match (roles, companies) {
            (Some(roles), Some(companies)) if errors.is_empty() => Ok(AccountRow {
                username,
                email: cell(row, "email").trim().to_owned(),
                entity,
                roles,
                companies,
            }),
            _ => Err(errors),
        }
    }

    fn key(&self, input: &AccountRow) -> String {
        input.username.clone()
    }

    async fn find(
        &self,
        actor: UserId,
        input: &AccountRow,
    ) -> Result<Option<StoredAccount>, RowError> {
        let Some(user) = self.named(actor, &input.username).await? else { return Ok(None) };
        let account = self.sources.corterum.account(actor, user.id).await?;
        let roles = Self::every_role(self.roles(actor).await?);
        let mine = self.mine(actor).await?;
        let stored = self.cells(actor, &mine, &roles, &account).await?;
        let (_, wanted) = self.resolve(actor, input).await?;
        Ok(Some(StoredAccount { account, stored, wanted }))
    }

    fn differs(&self, _input: &AccountRow, existing: &StoredAccount) -> bool {
        existing.stored != existing.wanted
    }

    async fn check(
        &self,
        actor: UserId,
        input: &AccountRow,
        existing: Option<&StoredAccount>,
    ) -> Result<Created, RowError> {
        let (resolved, _) = self.resolve(actor, input).await?;
        let feature = Resource::Feature(Feature::UserAdministration);
        let (resource, action) = match (existing, resolved.companies.first()) {
            (Some(a), _) => (Resource::User(a.account.user.value.id), Action::UserChangeRole),
            (None, Some(home)) => (Resource::Organisation(*home), Action::UserInvite),
            (None, None) => {
                return Err(RowError("companies: link the user to at least one company".into()));
            }
        };
        let world = self.sources.directory.snapshot(actor, resource).await?;
        if !world.decide(&Request::new(actor, Action::FeatureUse, feature)).is_allowed() {
            return Err(RowError("not found".to_owned()));
        }
        if let Some(a) = existing {
            email_unchanged(input, a)?;
        }
        for role in &resolved.roles {
            let request = Request::new(actor, action, resource).giving(*role);
            if !world.decide(&request).is_allowed() {
                return Err(RowError(
                    "roles: you may not give this account these roles".to_owned(),
                ));
            }
        }
        Ok(Created::Done)
    }

    async fn create(&self, actor: UserId, input: &AccountRow) -> Result<Created, RowError> {
        let (resolved, _) = self.resolve(actor, input).await?;
        let corterum = &self.sources.corterum;
        self.sources.manage.create_account(corterum, actor, &resolved).await?;
        Ok(Created::Done)
    }

    async fn update(
        &self,
        actor: UserId,
        input: &AccountRow,
        existing: &StoredAccount,
    ) -> Result<(), RowError> {
        email_unchanged(input, existing)?;
        let (resolved, _) = self.resolve(actor, input).await?;
        let user = &existing.account.user;
        self.sources.corterum.update_account(actor, user.value.id, user.version, &resolved).await?;
        Ok(())
    }

    async fn export_page(
        &self,
        actor: UserId,
        number: usize,
    ) -> Result<Option<Vec<Vec<String>>>, BackendError> {
        let to_backend = |e: ManageError| match e {
            ManageError::Backend(e) => e,
            e => BackendError::new(e.to_string()),
        };
        let page = Page::numbered(number, Page::MAX_LIMIT);
        let found = match self.sources.corterum.accounts(actor, page).await {
            Ok(f) => f,
            Err(ManageError::NotFound) => return Ok(None),
            Err(e) => return Err(to_backend(e)),
        };
        if found.is_empty() {
            return Ok(None);
        }
        let roles = Self::every_role(self.sources.corterum.roles(actor).await.map_err(to_backend)?);
        let mine = self.mine(actor).await?;
        let mut rows = Vec::with_capacity(found.len());
        for (_, user) in &found {
            let account = match self.sources.corterum.account(actor, user.id).await {
                Ok(a) => a,
                Err(ManageError::NotFound) => continue,
                Err(e) => return Err(to_backend(e)),
            };
            rows.push(self.cells(actor, &mine, &roles, &account).await?);
        }
        Ok(Some(rows))
    }
}

/// An import does not change an email address (a credential, confirmed by its owner).
fn email_unchanged(input: &AccountRow, existing: &StoredAccount) -> Result<(), RowError> {
    let stored = existing.account.user.value.email.as_str();
    if stored.eq_ignore_ascii_case(input.email.trim()) {
        Ok(())
    } else {
        Err(RowError(format!(
            "email: `{}` is `{stored}`; an import does not change email addresses (the user's \
             page does, with a confirmation sent to the new address)",
            tenure_domain::name::quoted(&input.username)
        )))
    }
}
