//! CORE users in batches: name, email, telephone, organisation (by name) and role (by key,
//! `data_provider`, or name, `Data provider`, any case). The natural key is the email
//! address.
//!
//! Creating calls `Manage::invite`: the person gets an invitation link (no password is
//! set or hashed here), and their role is given when they accept. Updating calls
//! `Manage::edit_user` (name, telephone and role, each checked with its own action); a
//! user in another organisation than the row's is refused (moving is its own use case,
//! on the web). A user the actor may not view is not there for them: inviting them gets
//! the service's answer, as on the web.
//!
//! The export writes the users the actor may view, with the role they hold or, for an
//! invitation not yet accepted, the role it gives.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use tenure_domain::{
    Action, Email, OrgId, Organisation, Request, Resource, RoleCatalogue, RoleId, User, UserId,
};

use crate::batch::{Created, Kind, RowError, Sources, cell};
use crate::changes::{LinkPurpose, LinkState, Versioned};
use crate::csv::read::{Columns, Row};
use crate::error::BackendError;
use crate::manage::{Invite, PersonInput, UserChanges};
use crate::ports::Page;
use crate::query::UserQuery;
use crate::usecase::{FieldError, ManageError};

/// The most organisation names remembered between rows; past it the memory is cleared,
/// so it stays bounded whatever the file holds.
const REMEMBERED: usize = 10_000;

/// The users kind.
#[derive(Debug)]
pub struct Users {
    sources: Sources,
    roles: RoleCatalogue,
    /// Organisation names already looked up (lower case): names are public.
    orgs: Mutex<HashMap<String, Option<OrgId>>>,
}

impl Users {
    /// The kind over these services.
    pub fn new(sources: Sources) -> Self {
        Self { sources, roles: RoleCatalogue::core(), orgs: Mutex::new(HashMap::new()) }
    }

    async fn org_id(&self, name: &str) -> Result<OrgId, RowError> {
        let key = name.trim().to_lowercase();
        let known = self.orgs.lock().ok().and_then(|m| m.get(&key).copied());
        let id = match known {
            Some(id) => id,
            None => {
                let id = self.sources.manage.organisation_by_name(name).await?;
                if let Ok(mut m) = self.orgs.lock() {
                    if m.len() >= REMEMBERED {
                        m.clear();
                    }
                    m.insert(key, id);
                }
                id
            }
        };
        id.ok_or_else(|| {
            RowError(format!("organisation `{}` does not exist", tenure_domain::name::quoted(name)))
        })
    }

    /// The role a user holds, or the one their open invitation gives.
    async fn role_of(&self, user: &User) -> Result<Option<RoleId>, BackendError> {
        if let Some(role) = user.roles.first() {
            return Ok(Some(*role));
        }
        let links = self.sources.changes.links_for_user(user.id).await?;
        Ok(links
            .into_iter()
            .find(|l| {
                matches!(l.purpose, LinkPurpose::Invitation | LinkPurpose::Reactivation)
                    && l.state != LinkState::Accepted
            })
            .and_then(|l| l.role))
    }

    fn role_name(&self, role: Option<RoleId>) -> String {
        role.and_then(|r| self.roles.get(r)).map(|r| r.name.clone()).unwrap_or_default()
    }
}

/// A parsed row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    /// Name, email and telephone as typed (trimmed).
    pub person: PersonInput,
    /// The email address, parsed: the key.
    pub email: Email,
    /// The organisation's name.
    pub organisation: String,
    /// The role.
    pub role: RoleId,
}

/// A stored user the actor may view.
#[derive(Clone, Debug)]
pub struct ExistingUser {
    /// The user and their version.
    pub user: Versioned<User>,
    /// The role they hold, or their open invitation gives.
    pub role: Option<RoleId>,
}

#[async_trait]
impl Kind for Users {
    type Input = UserRow;
    type Existing = ExistingUser;

    const COLUMNS: Columns<'static> =
        Columns { required: &["name", "email", "organisation", "role"], optional: &["telephone"] };
    const HEADER: &'static [&'static str] = &["name", "email", "telephone", "organisation", "role"];

    fn parse(&self, row: &Row) -> Result<UserRow, Vec<FieldError>> {
        let mut errors = Vec::new();
        let email = Email::parse(cell(row, "email"))
            .map_err(|e| errors.push(FieldError { field: "email", message: e.to_string() }))
            .ok();
        let given = cell(row, "role");
        let wanted = given.trim().to_lowercase();
        let role = self
            .roles
            .iter()
            .find(|r| r.key == wanted || r.name.to_lowercase() == wanted)
            .map(|r| r.id);
        if role.is_none() {
            let keys: Vec<_> = self.roles.iter().map(|r| r.key.as_str()).collect();
            errors.push(FieldError {
                field: "role",
                message: format!(
                    "`{}` does not exist; expected one of: {}",
                    tenure_domain::name::quoted(given),
                    keys.join(", ")
                ),
            });
        }
        if cell(row, "organisation").trim().is_empty() {
            errors.push(FieldError {
                field: "organisation",
                message: "enter the organisation's name".to_owned(),
            });
        }
        match (email, role) {
            (Some(email), Some(role)) if errors.is_empty() => Ok(UserRow {
                person: PersonInput {
                    name: cell(row, "name").trim().to_owned(),
                    email: cell(row, "email").trim().to_owned(),
                    telephone: cell(row, "telephone").trim().to_owned(),
                },
                email,
                organisation: cell(row, "organisation").trim().to_owned(),
                role,
            }),
            _ => Err(errors),
        }
    }

    fn key(&self, input: &UserRow) -> String {
        input.email.to_string()
    }

    async fn find(&self, actor: UserId, input: &UserRow) -> Result<Option<ExistingUser>, RowError> {
        // The organisation first: a row naming one that does not exist says so.
        self.org_id(&input.organisation).await?;
        let Some(found) = self.sources.changes.user_by_email(&input.email).await? else {
            return Ok(None);
        };
        match self.sources.manage.user_for(actor, found.value.id).await {
            Ok(viewed) => {
                let role = self.role_of(&viewed.value.value).await?;
                Ok(Some(ExistingUser { user: viewed.value, role }))
            }
            Err(ManageError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn differs(&self, input: &UserRow, existing: &ExistingUser) -> bool {
        let u = &existing.user.value;
        let telephone = u.telephone.as_ref().map(ToString::to_string).unwrap_or_default();
        let same_telephone = telephone == input.person.telephone
            || tenure_domain::Telephone::parse(&input.person.telephone)
                .is_ok_and(|t| u.telephone.as_ref() == Some(&t));
        u.name.as_str() != input.person.name
            || !same_telephone
            || existing.role != Some(input.role)
            || self.sources_org_differs(input, u)
    }

    async fn check(
        &self,
        actor: UserId,
        input: &UserRow,
        existing: Option<&ExistingUser>,
    ) -> Result<Created, RowError> {
        let org = self.org_id(&input.organisation).await?;
        let Some(existing) = existing else {
            self.sources
                .allowed(
                    Request::new(actor, Action::UserInvite, Resource::Organisation(org))
                        .giving(input.role),
                )
                .await?;
            return Ok(Created::Done);
        };
        let user = Resource::User(existing.user.value.id);
        self.moved(input, &existing.user.value, org)?;
        self.sources.allowed(Request::new(actor, Action::UserEditDetails, user)).await?;
        if existing.role != Some(input.role) {
            self.sources
                .allowed(Request::new(actor, Action::UserChangeRole, user).giving(input.role))
                .await?;
        }
        Ok(Created::Done)
    }

    async fn create(&self, actor: UserId, input: &UserRow) -> Result<Created, RowError> {
        let organisation = self.org_id(&input.organisation).await?;
        let invite = Invite { person: input.person.clone(), organisation, role: input.role };
        match self.sources.manage.invite(actor, &invite).await {
            Ok(_) => Ok(Created::Done),
            Err(ManageError::NotFound) => Err(RowError(format!(
                "organisation `{}` is not one you can invite users into",
                tenure_domain::name::quoted(&input.organisation)
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn update(
        &self,
        actor: UserId,
        input: &UserRow,
        existing: &ExistingUser,
    ) -> Result<(), RowError> {
        let org = self.org_id(&input.organisation).await?;
        let u = &existing.user.value;
        self.moved(input, u, org)?;
        let changes = UserChanges {
            name: Some(input.person.name.clone()),
            telephone: Some(input.person.telephone.clone()),
            role: (existing.role != Some(input.role)).then_some(input.role),
            ..UserChanges::default()
        };
        self.sources.manage.edit_user(actor, u.id, existing.user.version, &changes).await?;
        Ok(())
    }

    async fn export_page(
        &self,
        actor: UserId,
        number: usize,
    ) -> Result<Option<Vec<Vec<String>>>, BackendError> {
        let scope = self
            .sources
            .directory
            .snapshot(actor, Resource::Service)
            .await?
            .scope(actor, Action::UserView);
        if scope.is_nothing() {
            return Ok(None);
        }
        let page = Page::numbered(number, Page::MAX_LIMIT);
        let users = self.sources.directory.users(&scope, &UserQuery::default(), page).await?;
        if users.is_empty() {
            return Ok(None);
        }
        let ids: Vec<OrgId> = users.iter().map(|u| u.organisation).collect();
        let orgs: HashMap<OrgId, Organisation> = self
            .sources
            .manage
            .organisations_by_id(actor, &ids)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        let mut rows = Vec::with_capacity(users.len());
        for u in &users {
            let org = orgs
                .get(&u.organisation)
                .ok_or_else(|| BackendError::new("a user's organisation is missing"))?;
            let role = self.role_of(u).await?;
            rows.push(vec![
                u.name.to_string(),
                u.email.to_string(),
                u.telephone.as_ref().map(ToString::to_string).unwrap_or_default(),
                org.name.to_string(),
                self.role_name(role),
            ]);
        }
        Ok(Some(rows))
    }
}

impl Users {
    fn sources_org_differs(&self, input: &UserRow, user: &User) -> bool {
        let key = input.organisation.to_lowercase();
        let known = self.orgs.lock().ok().and_then(|m| m.get(&key).copied().flatten());
        known != Some(user.organisation)
    }

    fn moved(&self, input: &UserRow, user: &User, org: OrgId) -> Result<(), RowError> {
        if user.organisation == org {
            return Ok(());
        }
        Err(RowError(format!(
            "{} is in another organisation than `{}`; an import does not move users (move \
             them on the web, then re-run)",
            input.email,
            tenure_domain::name::quoted(&input.organisation)
        )))
    }
}
