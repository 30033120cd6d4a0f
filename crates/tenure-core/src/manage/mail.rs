//! Mail in management changes: each email is queued in the transaction of the change it
//! announces and handed to the courier once that commits; and the messages that could not
//! be delivered, for those who may see every user.

use tenure_domain::{Action, Request, Resource, UserId};
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::changes::{ChangeError, Write};
use crate::courier::{MailRecord, QueuedMail};
use crate::manage::Manage;
use crate::notification::Notification;
use crate::ports::Page;
use crate::usecase::ManageError;

impl Manage {
    /// The write that queues `notification` with the change it belongs to.
    pub(super) fn queue(&self, notification: Notification) -> Write {
        Write::QueueMail(QueuedMail::new(self.ports.ids.next_id(), self.base.now(), notification))
    }

    /// The writes with each queued mail's body sealed (a queued body may hold a link).
    pub(crate) fn seal(&self, writes: Vec<Write>) -> Result<Vec<Write>, ChangeError> {
        Ok(writes
            .into_iter()
            .map(|w| match w {
                Write::QueueMail(m) => self.ports.courier.seal(m).map(Write::QueueMail),
                other => Ok(other),
            })
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// Applies a change with the mail it queues (each body sealed first: a queued body may
    /// hold a link), then asks the courier to deliver that mail at once (whatever fails
    /// stays queued for the courier's loop). A refused change queues nothing.
    pub(super) async fn commit(
        &self,
        writes: Vec<Write>,
        audit: Vec<AuditEvent>,
    ) -> Result<(), ChangeError> {
        let writes = self.seal(writes)?;
        let mail: Vec<Uuid> = writes
            .iter()
            .filter_map(|w| match w {
                Write::QueueMail(m) => Some(m.id),
                _ => None,
            })
            .collect();
        self.ports.changes.apply(writes, audit).await?;
        self.ports.courier.deliver_now(&mail).await;
        Ok(())
    }

    /// Whether `actor` may see the mail queue. It names everyone mail was sent to, so it
    /// is for those who may list every user and organisation (administrators), as the
    /// audit trail is: the engine decides, on the service.
    async fn may_see_mail(&self, actor: UserId) -> Result<(), ManageError> {
        let world = self.ports.directory.snapshot(actor, Resource::Service).await?;
        let may =
            |action| world.decide(&Request::new(actor, action, Resource::Service)).is_allowed();
        if may(Action::UserListAll) && may(Action::OrganisationListAll) {
            Ok(())
        } else {
            Err(ManageError::NotFound)
        }
    }

    /// One page of the messages that could not be delivered (abandoned after their last
    /// attempt), newest first, without their bodies.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for anyone who may not list every user and organisation.
    pub async fn undeliverable_mail(
        &self,
        actor: UserId,
        page: Page,
    ) -> Result<Vec<MailRecord>, ManageError> {
        self.may_see_mail(actor).await?;
        Ok(self.ports.courier.undeliverable(page).await?)
    }

    /// Queues an undeliverable message again, due now, and tries it at once; `false` for
    /// a message that is not undeliverable (unknown, queued or sent).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for anyone who may not list every user and organisation.
    pub async fn retry_mail(&self, actor: UserId, id: Uuid) -> Result<bool, ManageError> {
        self.may_see_mail(actor).await?;
        if !self.ports.courier.retry(id).await? {
            return Ok(false);
        }
        self.ports.courier.deliver_now(&[id]).await;
        Ok(true)
    }
}
