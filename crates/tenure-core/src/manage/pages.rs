//! Reads for pages: a record the actor may view together with the snapshot the engine
//! decided on (so an app offers only the actions the engine allows), lists in the actor's
//! scope with the names they show, and the lookups forms need.
//!
//! Each read is authorized here, not by its caller: a record the engine does not let the
//! actor view is [`ManageError::NotFound`], exactly like one that does not exist. Lists
//! take the actor's snapshot of the service (the one `Sessions::resume_with_snapshot`
//! gives with the session) rather than loading another: a list's scope depends only on
//! the actor, and that snapshot holds everything the engine needs for it.

use std::collections::HashMap;

use tenure_domain::{
    Action, Email, LogId, Name, OrgId, Organisation, OrganisationKind, Request, Resource,
    RoleCatalogue, RoleId, Scope, User, UserId, World,
};

use crate::audit::AuditEvent;
use crate::changes::{AuditQuery, Versioned};
use crate::error::BackendError;
use crate::manage::Manage;
use crate::ports::{NamedLog, NamedUser, Page};
use crate::query::{OrganisationQuery, Search, UserQuery};
use crate::usecase::ManageError;

/// A record the actor may view, with the snapshot the engine decided on: it holds the
/// actor, the record and their organisations, so an app can ask it which actions to
/// offer.
#[derive(Clone, Debug)]
pub struct Viewed<T> {
    /// The record.
    pub value: T,
    /// The snapshot for decisions by the actor about the record.
    pub world: World,
}

/// The people and organisations an audit trail page names.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct TrailNames {
    /// The email address of each user the page names who still exists (a deleted user is
    /// absent).
    pub users: HashMap<UserId, Email>,
    /// The name of each user the page names who still exists, for sentences ("by Cora
    /// Coordinator").
    pub people: HashMap<UserId, Name>,
    /// The name of each organisation the page names that still exists.
    pub organisations: HashMap<OrgId, Name>,
}

/// A page of the users list ([`Manage::users_list`]).
#[derive(Clone, Debug)]
pub struct UsersList {
    /// The page, each user with their organisation's name.
    pub users: Vec<NamedUser>,
    /// The organisation the query names, once the actor may view its users.
    pub organisation: Option<Organisation>,
    /// The organisations the filter offers, in name order; `None` for those who view
    /// every user (they filter from an organisation's page).
    pub choices: Option<Vec<Organisation>>,
}

impl Manage {
    /// An organisation the actor may view (`organisation.view`), its version, and the
    /// snapshot decided on.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] when it does not exist or the actor may not view it.
    pub async fn organisation_for(
        &self,
        actor: UserId,
        id: OrgId,
    ) -> Result<Viewed<Versioned<Organisation>>, ManageError> {
        let world =
            self.viewable(actor, Action::OrganisationView, Resource::Organisation(id)).await?;
        Ok(Viewed { value: self.org(id).await?, world })
            .and_then(|v| Self::core_record(actor, v, id))
    }

    /// A user the actor may view (`user.view`), their version, and the snapshot decided
    /// on.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] when they do not exist or the actor may not view them.
    pub async fn user_for(
        &self,
        actor: UserId,
        id: UserId,
    ) -> Result<Viewed<Versioned<User>>, ManageError> {
        let world = self.viewable(actor, Action::UserView, Resource::User(id)).await?;
        let user = self.user(id).await?;
        let organisation = user.value.organisation;
        Self::core_record(actor, Viewed { value: user, world }, organisation)
    }

    /// A log the actor may view (`log.view`), with its organisations' and assignee's
    /// names, and the snapshot decided on.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] when it does not exist or the actor may not view it.
    pub async fn log_for(&self, actor: UserId, id: LogId) -> Result<Viewed<NamedLog>, ManageError> {
        let world = self.viewable(actor, Action::LogView, Resource::Log(id)).await?;
        let log = world.log(id).cloned().ok_or(ManageError::NotFound)?;
        // The snapshot holds the log's organisations as a rule; the rest, and the
        // assignee, come in one query.
        let orgs: Vec<_> = [log.owning_organisation, log.managing_organisation]
            .into_iter()
            .filter(|o| world.organisation(*o).is_none())
            .collect();
        let people: Vec<_> = log.assigned_to.into_iter().collect();
        let names = self.ports.directory.names(&people, &orgs).await?;
        let org_name = |id| {
            world
                .organisation(id)
                .map(|o| o.name.clone())
                .or_else(|| names.organisations.get(&id).cloned())
        };
        let value = NamedLog {
            owner: org_name(log.owning_organisation),
            manager: org_name(log.managing_organisation),
            assignee: log.assigned_to.and_then(|u| names.users.get(&u).cloned()),
            log,
        };
        Ok(Viewed { value, world })
    }

    /// The actor's own record and its version, for the forms that change it.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] when the actor no longer exists.
    pub async fn own_record(&self, actor: UserId) -> Result<Versioned<User>, ManageError> {
        self.user(actor).await
    }

    /// The housing organisation with this exact name, if any. Organisation names are
    /// public (registered providers), so CORE's forms that name another organisation (a
    /// move, a merge, a relationship, a filter, an import) look it up this way; the use
    /// case it is for then asks the engine about it. A Corterum company is `None`, as a
    /// name nothing has: CORE never shows one.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    pub async fn organisation_by_name(&self, name: &str) -> Result<Option<OrgId>, BackendError> {
        let found = self.ports.changes.organisation_by_name(name).await?;
        Ok(found.filter(|o| Self::on_core(&o.value)).map(|o| o.value.id))
    }

    /// The organisation with this exact name on the actor's side of the service (the
    /// kind the engine's scope for them names), if any: for the audit trail's filter.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    pub async fn side_organisation_by_name(
        &self,
        actor: UserId,
        name: &str,
    ) -> Result<Option<OrgId>, BackendError> {
        let side = self.side(actor).await?;
        let found = self.ports.changes.organisation_by_name(name).await?;
        Ok(found.filter(|o| o.value.kind == side).map(|o| o.value.id))
    }

    /// The user with this email address, for those who may list every user and
    /// organisation (administrators, the readers of the audit trail).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for anyone else.
    pub async fn user_by_email(
        &self,
        actor: UserId,
        email: &Email,
    ) -> Result<Option<UserId>, ManageError> {
        self.lists_all(actor).await?;
        let Some(user) = self.ports.changes.user_by_email(email).await? else { return Ok(None) };
        // Only a user of the actor's side, as if no one else held the address.
        let side = self.side(actor).await?;
        let org = self.ports.changes.organisation(user.value.organisation).await?;
        Ok(org.filter(|o| o.value.kind == side).map(|_| user.value.id))
    }

    /// These organisations, those that exist, in no particular order: for the names and
    /// states shown beside records the actor may see (an organisation's stock owners, a
    /// user's organisation). Organisation names are public.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    pub async fn organisations_by_id(
        &self,
        actor: UserId,
        ids: &[OrgId],
    ) -> Result<Vec<Organisation>, BackendError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut found = Vec::with_capacity(ids.len());
        // A scope of just these organisations (no `own` records, so its actor matters
        // not), a page at most `Page::MAX_LIMIT` long.
        for chunk in ids.chunks(Page::MAX_LIMIT) {
            let these = Scope { organisations: chunk.to_vec(), ..Scope::nothing(actor) };
            let page = Page::numbered(1, chunk.len());
            found.extend(
                self.ports
                    .directory
                    .organisations(&these, &OrganisationQuery::default(), page)
                    .await?,
            );
        }
        Ok(found)
    }

    /// One page (of [`Page::MAX_LIMIT`]) of the users export: every user the actor may
    /// view (`user.view`), each as a row under [`crate::csv::users::COLUMNS`] with their
    /// organisation and their status as it stands in it (a user of a deactivated
    /// organisation is exported as deactivated). Empty past the last page. The web's
    /// download and `tenure users export` both write these rows, so a file reads the same
    /// wherever it came from.
    ///
    /// # Errors
    /// [`BackendError`] for unexpected failures, a user's organisation missing included.
    pub async fn users_export_page(
        &self,
        actor: UserId,
        number: usize,
    ) -> Result<Vec<[String; 9]>, BackendError> {
        let scope = self
            .ports
            .directory
            .snapshot(actor, Resource::Service)
            .await?
            .scope(actor, Action::UserView);
        let scope = Self::core_scope(scope);
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        let page = Page::numbered(number, Page::MAX_LIMIT);
        let users = self.ports.directory.users(&scope, &UserQuery::default(), page).await?;
        let ids: Vec<OrgId> = users.iter().map(|u| u.organisation).collect();
        let orgs: HashMap<OrgId, Organisation> =
            self.organisations_by_id(actor, &ids).await?.into_iter().map(|o| (o.id, o)).collect();
        let roles = RoleCatalogue::core();
        let mut rows = Vec::with_capacity(users.len());
        for u in &users {
            let org = orgs
                .get(&u.organisation)
                .ok_or_else(|| BackendError::new("a user's organisation is missing"))?;
            let status = self.status(u, org).await?;
            rows.push(crate::csv::users::row(u, org, status, &roles));
        }
        Ok(rows)
    }

    /// One page of the users the actor may view (`user.view`) that match a query, each
    /// with their organisation's name. `snapshot` is the actor's snapshot of the service.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    pub async fn users_page(
        &self,
        actor: UserId,
        snapshot: &World,
        query: &UserQuery,
        page: Page,
    ) -> Result<Vec<NamedUser>, BackendError> {
        let scope = Self::core_scope(snapshot.scope(actor, Action::UserView));
        self.ports.directory.users_named(&scope, query, page).await
    }

    /// One page of the users list: the users the actor may view (`user.view`) that match
    /// a query, with the organisation the query names and the organisations it may name.
    /// An organisation filter is authorized here: it must be one whose users the engine
    /// lets the actor view (any existing organisation for those who view every user);
    /// naming another is [`ManageError::NotFound`], exactly as if it did not exist, so
    /// the heading never names an organisation the actor may not see. `snapshot` is the
    /// actor's snapshot of the service.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an organisation filter outside the actor's reach;
    /// [`ManageError::Backend`] for unexpected failures.
    pub async fn users_list(
        &self,
        actor: UserId,
        snapshot: &World,
        query: &UserQuery,
        page: Page,
    ) -> Result<UsersList, ManageError> {
        let scope = Self::core_scope(snapshot.scope(actor, Action::UserView));
        let organisation = match query.organisation {
            None => None,
            Some(id) if scope.everything || scope.organisations.binary_search(&id).is_ok() => Some(
                self.organisations_by_id(actor, &[id]).await?.pop().ok_or(ManageError::NotFound)?,
            ),
            Some(_) => return Err(ManageError::NotFound),
        };
        // Those who view every user filter by an organisation's page ("Users" there);
        // the others choose from the organisations whose users they may view.
        let choices = if scope.everything {
            None
        } else {
            let mut orgs = self.organisations_by_id(actor, &scope.organisations).await?;
            orgs.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
            Some(orgs)
        };
        let users = self.ports.directory.users_named(&scope, query, page).await?;
        Ok(UsersList { users, organisation, choices })
    }

    /// One page of the organisations the actor may view (`organisation.view`) that match
    /// a query. `snapshot` is the actor's snapshot of the service.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    pub async fn organisations_page(
        &self,
        actor: UserId,
        snapshot: &World,
        query: &OrganisationQuery,
        page: Page,
    ) -> Result<Vec<Organisation>, BackendError> {
        let scope = Self::core_scope(snapshot.scope(actor, Action::OrganisationView));
        self.ports.directory.organisations(&scope, query, page).await
    }

    /// One page of the logs the actor may view (`log.view`), with their names.
    /// `snapshot` is the actor's snapshot of the service.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    pub async fn logs_page(
        &self,
        actor: UserId,
        snapshot: &World,
        page: Page,
    ) -> Result<Vec<NamedLog>, BackendError> {
        let scope = Self::core_scope(snapshot.scope(actor, Action::LogView));
        self.ports.directory.logs_named(&scope, page).await
    }

    /// The first 50 organisations the actor may invite into (`user.invite`) whose names
    /// match a search, in name order. `snapshot` is the actor's snapshot of the service.
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    pub async fn invite_organisations(
        &self,
        actor: UserId,
        snapshot: &World,
        search: Option<Search>,
    ) -> Result<Vec<Organisation>, BackendError> {
        let scope = Self::core_scope(snapshot.scope(actor, Action::UserInvite));
        let query = OrganisationQuery { search, ..OrganisationQuery::default() };
        self.ports.directory.organisations(&scope, &query, Page::numbered(1, 50)).await
    }

    /// The CORE roles the actor may give by inviting someone into this organisation, in
    /// the catalogue's order, with the snapshot decided on (it holds the organisation).
    ///
    /// # Errors
    /// [`BackendError`] only for unexpected failures.
    pub async fn invite_roles(
        &self,
        actor: UserId,
        organisation: OrgId,
    ) -> Result<Viewed<Vec<RoleId>>, BackendError> {
        let into = Resource::Organisation(organisation);
        let world = self.ports.directory.snapshot(actor, into).await?;
        let roles = RoleCatalogue::core()
            .iter()
            .filter(|r| {
                world
                    .decide(&Request::new(actor, Action::UserInvite, into).giving(r.id))
                    .is_allowed()
            })
            .map(|r| r.id)
            .collect();
        Ok(Viewed { value: roles, world })
    }

    /// One page of the audit trail ([`Manage::audit`]) with the email addresses and
    /// names it shows.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for anyone but those who may read the trail.
    pub async fn audit_trail(
        &self,
        actor: UserId,
        query: &AuditQuery,
        page: Page,
    ) -> Result<(Vec<AuditEvent>, TrailNames), ManageError> {
        let events = self.audit(actor, query, page).await?;
        let mut people: Vec<UserId> =
            events.iter().flat_map(|e| [e.actor, e.target_user]).flatten().collect();
        people.sort_unstable();
        people.dedup();
        let mut orgs: Vec<OrgId> = events.iter().filter_map(|e| e.organisation).collect();
        orgs.sort_unstable();
        orgs.dedup();
        let mut names = TrailNames::default();
        for id in people {
            if let Some(u) = self.ports.changes.user(id).await? {
                names.people.insert(id, u.value.name);
                names.users.insert(id, u.value.email);
            }
        }
        for id in orgs {
            if let Some(o) = self.ports.changes.organisation(id).await? {
                names.organisations.insert(id, o.value.name);
            }
        }
        Ok((events, names))
    }

    /// A snapshot for decisions by the actor about the resource, once the engine lets
    /// them take `action` (a view) on it; "not found" otherwise, never "forbidden".
    async fn viewable(
        &self,
        actor: UserId,
        action: Action,
        resource: Resource,
    ) -> Result<World, ManageError> {
        let world = self.ports.directory.snapshot(actor, resource).await?;
        if world.decide(&Request::new(actor, action, resource)).is_allowed() {
            Ok(world)
        } else {
            Err(ManageError::NotFound)
        }
    }

    /// CORE's screens are the housing side of the service: a scope of the other side
    /// (the engine's [`Scope::kind`], the actor's side) matches nothing on them.
    pub(crate) fn core_scope(scope: Scope) -> Scope {
        scope.on_core_screens()
    }

    /// Whether an organisation is one CORE shows: a housing organisation.
    pub(crate) fn on_core(organisation: &Organisation) -> bool {
        !organisation.is_company()
    }

    /// A record a CORE page shows, once the engine let the actor view it: only for an
    /// actor on the housing side (their scope's kind) and a record of a housing
    /// organisation; "not found" otherwise, exactly like one that does not exist.
    fn core_record<T>(
        actor: UserId,
        viewed: Viewed<T>,
        organisation: OrgId,
    ) -> Result<Viewed<T>, ManageError> {
        if viewed.world.core_serves(actor, organisation) {
            Ok(viewed)
        } else {
            Err(ManageError::NotFound)
        }
    }

    /// The actor's side of the service: the kind the engine's scope for them names.
    async fn side(&self, actor: UserId) -> Result<OrganisationKind, BackendError> {
        let world = self.ports.directory.snapshot(actor, Resource::Service).await?;
        Ok(world.scope(actor, Action::OrganisationView).kind)
    }

    /// Whether the actor may list every user and organisation; "not found" otherwise.
    async fn lists_all(&self, actor: UserId) -> Result<(), ManageError> {
        let world = self.ports.directory.snapshot(actor, Resource::Service).await?;
        let may =
            |action| world.decide(&Request::new(actor, action, Resource::Service)).is_allowed();
        if may(Action::UserListAll) && may(Action::OrganisationListAll) {
            Ok(())
        } else {
            Err(ManageError::NotFound)
        }
    }
}
