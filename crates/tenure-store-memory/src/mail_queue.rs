//! The in-memory mail queue: the [`MailQueue`] port over a list kept with the account
//! data, so a message queued by a change is swapped in with it or not at all. One lock
//! means one courier at a time holds it: claims never overlap.

use async_trait::async_trait;
use tenure_core::{
    AfterFailure, BackendError, Claimed, MailQueue, MailRecord, MailStatus, Page, QueueCounts,
    QueuedMail, Timestamp,
};
use uuid::Uuid;

use crate::{Accounts, MemoryDirectory};

/// One queued message, as the SQL table holds it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    record: MailRecord,
    /// The notification as the courier sealed it; `None` once delivered.
    body: Option<String>,
}

/// The queue, oldest first.
#[derive(Debug, Default, Clone)]
pub(crate) struct Queue(Vec<Row>);

impl Queue {
    /// Adds a message (in a change's copy of the data).
    pub(crate) fn push(&mut self, mail: &QueuedMail) -> Result<(), BackendError> {
        if self.0.iter().any(|r| r.record.id == mail.id) {
            return Err(BackendError::new(format!("mail `{}` is already queued", mail.id)));
        }
        self.0.push(Row {
            record: MailRecord {
                id: mail.id,
                recipient: mail.recipient().to_owned(),
                kind: mail.kind().to_owned(),
                status: MailStatus::Queued,
                attempts: 0,
                next_attempt: mail.queued,
                last_error: None,
                created: mail.queued,
                sent: None,
            },
            body: Some(mail.body()?.to_owned()),
        });
        Ok(())
    }

    fn held(&mut self, id: Uuid, attempt: u32) -> Option<&mut Row> {
        self.0.iter_mut().find(|r| {
            r.record.id == id
                && r.record.status == MailStatus::Queued
                && r.record.attempts == attempt
        })
    }
}

impl MemoryDirectory {
    fn queue<T>(&self, f: impl FnOnce(&mut Queue) -> T) -> Result<T, BackendError> {
        self.accounts(|a: &mut Accounts| f(&mut a.mail))
    }
}

#[async_trait]
impl MailQueue for MemoryDirectory {
    async fn claim(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
        only: Option<&[Uuid]>,
    ) -> Result<Vec<Claimed>, BackendError> {
        self.queue(|q| {
            let mut due: Vec<&mut Row> =
                q.0.iter_mut()
                    .filter(|r| {
                        r.record.status == MailStatus::Queued
                            && r.record.next_attempt <= now
                            && r.body.is_some()
                            && only.is_none_or(|ids| ids.contains(&r.record.id))
                    })
                    .collect();
            due.sort_by_key(|r| (r.record.next_attempt, r.record.created));
            let mut taken: Vec<&mut Row> = due.into_iter().take(limit).collect();
            taken.sort_by_key(|r| (r.record.created, r.record.id));
            taken
                .into_iter()
                .map(|r| {
                    r.record.attempts += 1;
                    r.record.next_attempt = lease_until;
                    Claimed {
                        id: r.record.id,
                        body: r.body.clone().unwrap_or_default(),
                        attempt: r.record.attempts,
                    }
                })
                .collect()
        })
    }

    async fn mark_sent(&self, id: Uuid, attempt: u32, at: Timestamp) -> Result<bool, BackendError> {
        self.queue(|q| {
            let Some(row) = q.held(id, attempt) else { return false };
            row.record.status = MailStatus::Sent;
            row.record.sent = Some(at);
            row.record.last_error = None;
            row.body = None;
            true
        })
    }

    async fn mark_all_sent(
        &self,
        sent: &[(Uuid, u32)],
        at: Timestamp,
    ) -> Result<usize, BackendError> {
        // Under the one lock: all at once, as a store's transaction.
        self.queue(|q| {
            let mut marked = 0;
            for &(id, attempt) in sent {
                let Some(row) = q.held(id, attempt) else { continue };
                row.record.status = MailStatus::Sent;
                row.record.sent = Some(at);
                row.record.last_error = None;
                row.body = None;
                marked += 1;
            }
            marked
        })
    }

    async fn mark_failed(
        &self,
        id: Uuid,
        attempt: u32,
        error: &str,
        then: AfterFailure,
    ) -> Result<bool, BackendError> {
        self.queue(|q| {
            let Some(row) = q.held(id, attempt) else { return false };
            row.record.last_error = Some(error.to_owned());
            match then {
                AfterFailure::RetryAt(at) => row.record.next_attempt = at,
                AfterFailure::Abandon => row.record.status = MailStatus::Abandoned,
            }
            true
        })
    }

    async fn undeliverable(&self, page: Page) -> Result<Vec<MailRecord>, BackendError> {
        self.queue(|q| {
            let mut rows: Vec<MailRecord> =
                q.0.iter()
                    .filter(|r| r.record.status == MailStatus::Abandoned)
                    .map(|r| r.record.clone())
                    .collect();
            rows.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
            rows.into_iter().skip(page.offset).take(page.limit).collect()
        })
    }

    async fn message(&self, id: Uuid) -> Result<Option<MailRecord>, BackendError> {
        self.queue(|q| q.0.iter().find(|r| r.record.id == id).map(|r| r.record.clone()))
    }

    async fn retry(&self, id: Uuid, now: Timestamp) -> Result<bool, BackendError> {
        self.queue(|q| {
            let Some(row) = q.0.iter_mut().find(|r| {
                r.record.id == id && r.record.status == MailStatus::Abandoned && r.body.is_some()
            }) else {
                return false;
            };
            row.record.status = MailStatus::Queued;
            row.record.attempts = 0;
            row.record.next_attempt = now;
            true
        })
    }

    async fn counts(&self) -> Result<QueueCounts, BackendError> {
        self.queue(|q| {
            let count = |s: MailStatus| q.0.iter().filter(|r| r.record.status == s).count() as u64;
            QueueCounts {
                queued: count(MailStatus::Queued),
                sent: count(MailStatus::Sent),
                abandoned: count(MailStatus::Abandoned),
            }
        })
    }

    async fn prune(&self, before: Timestamp, batch: usize) -> Result<u64, BackendError> {
        self.queue(|q| {
            let old = |r: &Row| match r.record.status {
                MailStatus::Sent => r.record.sent.is_some_and(|s| s < before),
                MailStatus::Abandoned => r.record.created < before,
                MailStatus::Queued => false,
            };
            let mut doomed: Vec<(Timestamp, Uuid)> =
                q.0.iter()
                    .filter(|r| old(r))
                    .map(|r| (r.record.sent.unwrap_or(r.record.created), r.record.id))
                    .collect();
            doomed.sort();
            doomed.truncate(batch);
            q.0.retain(|r| !doomed.iter().any(|(_, id)| *id == r.record.id));
            doomed.len() as u64
        })
    }
}
