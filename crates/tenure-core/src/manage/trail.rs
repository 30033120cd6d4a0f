//! The audit trail, for those who may see every user and organisation.

use tenure_domain::{Action, Request, Resource, UserId};

use crate::audit::AuditEvent;
use crate::changes::AuditQuery;
use crate::manage::Manage;
use crate::ports::Page;
use crate::usecase::ManageError;

impl Manage {
    /// One page of the audit trail, newest first. It names every user and organisation,
    /// so it is for those who may list them all (`user.list_all` and
    /// `organisation.list_all`: administrators). The policy file format's action list is
    /// a public interface, so the trail reuses those two rather than adding an action.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for anyone else.
    pub async fn audit(
        &self,
        actor: UserId,
        query: &AuditQuery,
        page: Page,
    ) -> Result<Vec<AuditEvent>, ManageError> {
        let world = self.ports.directory.snapshot(actor, Resource::Service).await?;
        let may =
            |action| world.decide(&Request::new(actor, action, Resource::Service)).is_allowed();
        if !may(Action::UserListAll) || !may(Action::OrganisationListAll) {
            return Err(ManageError::NotFound);
        }
        Ok(self.ports.changes.audit(query, page).await?)
    }
}
