//! The audit trail, for those who may see every user and organisation.

use tenure_domain::{Action, Request, Resource, UserId};

use crate::audit::AuditEvent;
use crate::changes::AuditQuery;
use crate::manage::Manage;
use crate::ports::Page;
use crate::usecase::ManageError;

impl Manage {
    /// One page of the audit trail, newest first. It names every user and organisation
    /// of the actor's side of the service, so it is for those who may list them all
    /// (`user.list_all` and `organisation.list_all`: administrators). The policy file
    /// format's action list is a public interface, so the trail reuses those two rather
    /// than adding an action.
    ///
    /// The trail holds only the actor's side (the kind the engine's scope for them
    /// names): the store leaves out entries about an organisation of the other side, and
    /// a filter naming the other side's organisation or user matches nothing, exactly as
    /// one naming nothing that exists.
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
        let side = world.scope(actor, Action::OrganisationListAll).kind;
        // A filter naming the other side's organisation, or a user of it, matches nothing.
        if let Some(id) = query.organisation {
            if let Some(o) = self.ports.changes.organisation(id).await? {
                if o.value.kind != side {
                    return Ok(Vec::new());
                }
            }
        }
        if let Some(id) = query.user {
            if let Some(u) = self.ports.changes.user(id).await? {
                let org = self.ports.changes.organisation(u.value.organisation).await?;
                if org.is_some_and(|o| o.value.kind != side) {
                    return Ok(Vec::new());
                }
            }
        }
        let query = AuditQuery { side: Some(side), ..query.clone() };
        Ok(self.ports.changes.audit(&query, page).await?)
    }
}
