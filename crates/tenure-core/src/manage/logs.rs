//! Logs: deleting one where the engine allows it. The log goes; its audit entry keeps
//! what it was (its organisations with their names then, its assignee and creator by id).

use tenure_domain::{Action, LogId, Request, Resource, UserId};

use crate::audit::{AuditDetail, AuditName, LogDetail};
use crate::changes::Write;
use crate::manage::Manage;
use crate::usecase::ManageError;

impl Manage {
    /// Deletes a log the engine lets the actor delete (`log.delete`), writing an audit
    /// entry with the log's details in the same transaction.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] when it does not exist or the actor may not see it;
    /// [`ManageError::Forbidden`] when they see it but may not delete it (both audited);
    /// [`ManageError::Conflict`] when someone else deleted it first.
    pub async fn delete_log(&self, actor: UserId, id: LogId) -> Result<(), ManageError> {
        let world = self.ports.directory.snapshot(actor, Resource::Log(id)).await?;
        self.base
            .require(&world, Request::new(actor, Action::LogDelete, Resource::Log(id)))
            .await?;
        let log = world.log(id).cloned().ok_or(ManageError::NotFound)?;
        let missing: Vec<_> = [log.owning_organisation, log.managing_organisation]
            .into_iter()
            .filter(|o| world.organisation(*o).is_none())
            .collect();
        let names = self.ports.directory.names(&[], &missing).await?;
        let name = |o| {
            world
                .organisation(o)
                .map(|org| org.name.to_string())
                .or_else(|| names.organisations.get(&o).map(ToString::to_string))
                .unwrap_or_default()
        };
        let detail = LogDetail {
            log: log.id.to_string(),
            owner: log.owning_organisation.to_string(),
            owner_name: name(log.owning_organisation),
            manager: log.managing_organisation.to_string(),
            manager_name: name(log.managing_organisation),
            assigned_to: log.assigned_to.map(|u| u.to_string()),
            created_by: log.created_by.map(|u| u.to_string()),
        };
        let audit = self.base.event(
            AuditName::LogDelete,
            Some(actor),
            None,
            Some(log.owning_organisation),
            AuditDetail::LogDelete(detail),
        );
        self.ports.changes.apply(vec![Write::DeleteLog(id)], vec![audit]).await?;
        Ok(())
    }
}
