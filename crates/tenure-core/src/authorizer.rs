//! The permission service: decisions and lists for apps, loading through the
//! [`Directory`] port and deciding in the domain.

use std::sync::Arc;

use tenure_domain::{Action, Decision, Log, Organisation, Request, Resource, User, UserId};

use crate::error::BackendError;
use crate::ports::{Directory, Page};
use crate::query::{OrganisationQuery, UserQuery};

/// A decision that apps map to a response.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Checked {
    /// Go ahead.
    Allowed,
    /// Answer "forbidden": the actor may see the resource but not do this.
    Forbidden,
    /// Answer "not found", exactly as for a resource that does not exist.
    NotFound,
}

impl From<Decision> for Checked {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Allow { .. } => Self::Allowed,
            Decision::Deny { conceal: true, .. } => Self::NotFound,
            Decision::Deny { conceal: false, .. } => Self::Forbidden,
        }
    }
}

/// Decides requests and lists what actors may see, against fresh data every time: no
/// decision is cached, so a revocation takes effect on the very next request.
#[derive(Clone)]
pub struct Authorizer {
    directory: Arc<dyn Directory>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer").finish_non_exhaustive()
    }
}

impl Authorizer {
    /// A service over a directory.
    pub fn new(directory: Arc<dyn Directory>) -> Self {
        Self { directory }
    }

    /// Decides a request.
    ///
    /// # Errors
    /// [`BackendError`] if the directory fails; callers must then deny.
    pub async fn decide(&self, request: &Request) -> Result<Decision, BackendError> {
        let world = self.directory.snapshot(request.actor, request.resource).await?;
        Ok(world.decide(request))
    }

    /// Decides a request and says how to answer.
    ///
    /// # Errors
    /// [`BackendError`] if the directory fails; callers must then deny.
    pub async fn check(&self, request: &Request) -> Result<Checked, BackendError> {
        self.decide(request).await.map(Checked::from)
    }

    /// One page of the users the actor may see, in name order.
    ///
    /// # Errors
    /// [`BackendError`] if the directory fails.
    pub async fn visible_users(
        &self,
        actor: UserId,
        page: Page,
    ) -> Result<Vec<User>, BackendError> {
        self.find_users(actor, &UserQuery::default(), page).await
    }

    /// One page of the users the actor may see that match a query.
    ///
    /// # Errors
    /// [`BackendError`] if the directory fails.
    pub async fn find_users(
        &self,
        actor: UserId,
        query: &UserQuery,
        page: Page,
    ) -> Result<Vec<User>, BackendError> {
        let scope =
            self.directory.snapshot(actor, Resource::Service).await?.scope(actor, Action::UserView);
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        self.directory.users(&scope, query, page).await
    }

    /// One page of the organisations the actor may see, in name order.
    ///
    /// # Errors
    /// [`BackendError`] if the directory fails.
    pub async fn visible_organisations(
        &self,
        actor: UserId,
        page: Page,
    ) -> Result<Vec<Organisation>, BackendError> {
        self.find_organisations(actor, &OrganisationQuery::default(), page).await
    }

    /// One page of the organisations the actor may see that match a query.
    ///
    /// # Errors
    /// [`BackendError`] if the directory fails.
    pub async fn find_organisations(
        &self,
        actor: UserId,
        query: &OrganisationQuery,
        page: Page,
    ) -> Result<Vec<Organisation>, BackendError> {
        let scope = self
            .directory
            .snapshot(actor, Resource::Service)
            .await?
            .scope(actor, Action::OrganisationView);
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        self.directory.organisations(&scope, query, page).await
    }

    /// One page of the logs the actor may see.
    ///
    /// # Errors
    /// [`BackendError`] if the directory fails.
    pub async fn visible_logs(&self, actor: UserId, page: Page) -> Result<Vec<Log>, BackendError> {
        let scope =
            self.directory.snapshot(actor, Resource::Service).await?.scope(actor, Action::LogView);
        if scope.is_nothing() {
            return Ok(Vec::new());
        }
        self.directory.logs(&scope, page).await
    }
}
