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
    World,
};

use crate::batch::chunk::{Chunk, RowWrites};
use crate::batch::{
    Bulk, BulkPath, Created, Kind, Options, Outcome, Planned, Planner, RowError, Sources, cell,
};
use crate::changes::{LinkPurpose, LinkState, Versioned};
use crate::csv::read::{Column, Columns, Row};
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

    const COLUMNS: Columns<'static> = Columns {
        columns: &[
            Column::required("name"),
            Column::required("email"),
            Column::optional("telephone"),
            Column::required("organisation"),
            Column::required("role"),
        ],
    };

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
        let key = input.organisation.to_lowercase();
        let known = self.orgs.lock().ok().and_then(|m| m.get(&key).copied().flatten());
        differs(input, existing, known)
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
            // As `Manage::invite` answers it: an address someone the actor may not view
            // holds is in use (addresses are unique across the service).
            if self.sources.changes.user_by_email(&input.email).await?.is_some() {
                return Err(ManageError::EmailInUse.into());
            }
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

    fn bulk(&self) -> Option<BulkPath<'_, UserRow>> {
        let chunks = self.sources.chunks.clone()?;
        // A chunk writes without counting rate limits; with limits, row by row.
        self.sources.manage.unlimited().then_some(BulkPath { planner: self, chunks })
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
        // The roles open invitations give, for the whole page in one read (a user with a
        // role shows it).
        let roleless: Vec<UserId> =
            users.iter().filter(|u| u.roles.is_empty()).map(|u| u.id).collect();
        let invited: HashMap<UserId, Option<RoleId>> = if roleless.is_empty() {
            HashMap::new()
        } else {
            self.sources.directory.invitation_roles(&roleless).await?.into_iter().collect()
        };
        let mut rows = Vec::with_capacity(users.len());
        for u in &users {
            let org = orgs
                .get(&u.organisation)
                .ok_or_else(|| BackendError::new("a user's organisation is missing"))?;
            let role = u.roles.first().copied().or_else(|| invited.get(&u.id).copied().flatten());
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

/// Whether the row would change the stored user (`org`: the row's organisation's id).
fn differs(input: &UserRow, existing: &ExistingUser, org: Option<OrgId>) -> bool {
    let u = &existing.user.value;
    let telephone = u.telephone.as_ref().map(ToString::to_string).unwrap_or_default();
    let same_telephone = telephone == input.person.telephone
        || tenure_domain::Telephone::parse(&input.person.telephone)
            .is_ok_and(|t| u.telephone.as_ref() == Some(&t));
    u.name.as_str() != input.person.name
        || !same_telephone
        || existing.role != Some(input.role)
        || org != Some(u.organisation)
}

/// A chunk of users: the organisations named and the users under the rows' email
/// addresses, read in the chunk's transaction, in the actor's snapshot of the service.
struct UsersPlanner<'a> {
    kind: &'a Users,
    actor: UserId,
    world: World,
    /// By lower-case name.
    orgs: HashMap<String, Versioned<Organisation>>,
    /// By email address.
    users: HashMap<Email, Versioned<User>>,
    /// The role an open invitation gives, for users with no role yet.
    invited: HashMap<UserId, Option<RoleId>>,
}

#[async_trait]
impl Bulk<UserRow> for Users {
    async fn load<'a>(
        &'a self,
        chunk: &mut (dyn Chunk + '_),
        actor: UserId,
        rows: &[&UserRow],
    ) -> Result<Box<dyn Planner<UserRow> + 'a>, BackendError> {
        let mut names: Vec<String> = rows.iter().map(|r| r.organisation.clone()).collect();
        names.sort_unstable();
        names.dedup();
        let mut emails: Vec<Email> = rows.iter().map(|r| r.email.clone()).collect();
        emails.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        emails.dedup();
        // CORE's users belong to housing organisations: a company named is as a name
        // nothing has (as `Manage::organisation_by_name` answers a row on its own).
        let mut orgs = chunk.organisations_by_name(&names).await?;
        orgs.retain(|o| crate::manage::Manage::on_core(&o.value));
        let users = chunk.users_by_email(&emails).await?;
        let roleless: Vec<UserId> =
            users.iter().filter(|u| u.value.roles.is_empty()).map(|u| u.value.id).collect();
        let invited = if roleless.is_empty() {
            HashMap::new()
        } else {
            chunk.invitation_roles(&roleless).await?.into_iter().collect()
        };
        // On SQLite the chunk holds the write lock, so this is what the chunk reads too.
        let mut world = self.sources.directory.snapshot(actor, Resource::Service).await?;
        for org in &orgs {
            if world.organisation(org.value.id).is_none() {
                world.insert_organisation(org.value.clone()).map_err(BackendError::new)?;
            }
        }
        for user in &users {
            // A user the snapshot cannot hold (a role it does not know: a Corterum
            // customer's) is left out: their row goes through the services on its own,
            // and the rest of the chunk is not failed for it.
            if world.organisation(user.value.organisation).is_some()
                && world.user(user.value.id).is_none()
            {
                let _ = world.upsert_user(user.value.clone());
            }
        }
        Ok(Box::new(UsersPlanner {
            kind: self,
            actor,
            world,
            orgs: orgs.into_iter().map(|o| (o.value.name.as_str().to_lowercase(), o)).collect(),
            users: users.into_iter().map(|u| (u.value.email.clone(), u)).collect(),
            invited,
        }))
    }
}

impl Planner<UserRow> for UsersPlanner<'_> {
    fn plan(&mut self, input: &UserRow, options: Options) -> Planned {
        // As `find`: the organisation first.
        let Some(org) = self.orgs.get(&input.organisation.trim().to_lowercase()).cloned() else {
            return Planned::Refused(
                RowError(format!(
                    "organisation `{}` does not exist",
                    tenure_domain::name::quoted(&input.organisation)
                )),
                None,
            );
        };
        if let Some(found) = self.users.get(&input.email) {
            let id = found.value.id;
            // Only a user the actor may view, in the snapshot, is settled here; anyone
            // else gets the services' own answer, row by row.
            if self.world.user(id).is_none()
                || !self
                    .world
                    .decide(&Request::new(self.actor, Action::UserView, Resource::User(id)))
                    .is_allowed()
            {
                return Planned::Services;
            }
            let role = found
                .value
                .roles
                .first()
                .copied()
                .or_else(|| self.invited.get(&id).copied().flatten());
            let existing = ExistingUser { user: found.clone(), role };
            return match (differs(input, &existing, Some(org.value.id)), options.update) {
                (false, _) => Planned::Done(Outcome::Unchanged),
                (true, false) => Planned::Done(Outcome::Differs),
                (true, true) => Planned::Services,
            };
        }
        self.invite(input, &org)
    }
}

impl UsersPlanner<'_> {
    /// As `Manage::invite`: the engine, then the same writes.
    fn invite(&mut self, input: &UserRow, org: &Versioned<Organisation>) -> Planned {
        let manage = &self.kind.sources.manage;
        let person = match crate::manage::Manage::parse_person(&input.person) {
            Ok(p) => p,
            Err(e) => return Planned::Refused(e.into(), None),
        };
        let request =
            Request::new(self.actor, Action::UserInvite, Resource::Organisation(org.value.id))
                .giving(input.role);
        if let Err((error, audit)) = manage.check(&self.world, request) {
            let error = match error {
                ManageError::NotFound => RowError(format!(
                    "organisation `{}` is not one you can invite users into",
                    tenure_domain::name::quoted(&input.organisation)
                )),
                other => other.into(),
            };
            return Planned::Refused(error, audit);
        }
        let built = manage
            .invitation_writes(&self.world, self.actor, org, input.role, person)
            .map_err(ManageError::from)
            .and_then(|(user, writes, audit)| Ok((user, manage.seal(writes)?, audit)));
        let (user, writes, audit) = match built {
            Ok(b) => b,
            Err(e) => return Planned::Refused(e.into(), None),
        };
        // The row's effect on what the chunk read, for the rows after it.
        if let Some(o) = self.orgs.get_mut(&input.organisation.trim().to_lowercase()) {
            o.version += 1;
        }
        self.invited.insert(user.id, Some(input.role));
        let _ = self.world.upsert_user(user.clone());
        self.users.insert(user.email.clone(), Versioned { value: user, version: 1 });
        Planned::Write(Outcome::Created, RowWrites { writes, audit })
    }
}

impl Users {
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
