//! The in-memory [`SecondFactorStore`]: secrets and recovery codes kept with the account
//! data under its one lock, so each method is one transaction with its audit entries and
//! the sessions it ends.

use std::collections::HashMap;

use async_trait::async_trait;
use tenure_core::{AuditEvent, BackendError, Enrolment, QueuedMail, SecondFactorStore, Timestamp};
use tenure_domain::UserId;

use crate::MemoryDirectory;

/// One recovery code: its digest and when it was used.
#[derive(Debug, Clone)]
struct Code {
    digest: String,
    used: Option<Timestamp>,
}

/// Every user's second factor and recovery codes.
#[derive(Debug, Default, Clone)]
pub(crate) struct Factors {
    enrolments: HashMap<UserId, Enrolment>,
    codes: HashMap<UserId, Vec<Code>>,
}

impl Factors {
    /// Drops a deleted user's secret and recovery codes.
    pub(crate) fn forget(&mut self, user: UserId) {
        self.enrolments.remove(&user);
        self.codes.remove(&user);
    }
}

fn unknown(user: UserId) -> BackendError {
    BackendError::new(format!("user `{user}` does not exist"))
}

#[allow(
    clippy::too_many_arguments,
    reason = "confirming is one transaction: every input it writes, named"
)]
#[async_trait]
impl SecondFactorStore for MemoryDirectory {
    async fn second_factor(&self, user: UserId) -> Result<Option<Enrolment>, BackendError> {
        self.accounts(|a| a.second_factors.enrolments.get(&user).cloned())
    }

    async fn begin_enrolment(
        &self,
        user: UserId,
        sealed_secret: Vec<u8>,
        _now: Timestamp,
    ) -> Result<bool, BackendError> {
        if self.read(|w| w.user(user).is_none())? {
            return Err(unknown(user));
        }
        self.accounts(|a| {
            let factors = &mut a.second_factors.enrolments;
            if factors.get(&user).is_some_and(|e| e.confirmed.is_some()) {
                return false;
            }
            factors.insert(user, Enrolment { sealed_secret, confirmed: None, last_step: None });
            true
        })
    }

    async fn confirm_enrolment(
        &self,
        user: UserId,
        sealed_secret: &[u8],
        step: i64,
        now: Timestamp,
        recovery_digests: Vec<String>,
        audit: AuditEvent,
        mail: Option<QueuedMail>,
    ) -> Result<bool, BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            let Some(e) = a.second_factors.enrolments.get(&user) else { return Ok(false) };
            if e.confirmed.is_some() || e.sealed_secret != sealed_secret {
                return Ok(false);
            }
            if let Some(mail) = &mail {
                a.mail.push(mail)?;
            }
            let Some(e) = a.second_factors.enrolments.get_mut(&user) else { return Ok(false) };
            e.confirmed = Some(now);
            e.last_step = Some(step);
            let codes = recovery_digests.into_iter().map(|digest| Code { digest, used: None });
            a.second_factors.codes.insert(user, codes.collect());
            a.append(audit);
            Ok(true)
        })?
    }

    async fn use_step(
        &self,
        user: UserId,
        step: i64,
        audit: AuditEvent,
    ) -> Result<bool, BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            let Some(e) = a.second_factors.enrolments.get_mut(&user) else { return Ok(false) };
            if e.confirmed.is_none() || e.last_step.is_some_and(|last| last >= step) {
                return Ok(false);
            }
            e.last_step = Some(step);
            a.append(audit);
            Ok(true)
        })?
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        digest: &str,
        now: Timestamp,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<Option<u32>, BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            let unused = |c: &Code| c.used.is_none() && c.digest == digest;
            if !a.second_factors.codes.get(&user).is_some_and(|codes| codes.iter().any(unused)) {
                return Ok(None);
            }
            a.mail.push(&mail)?;
            let Some(codes) = a.second_factors.codes.get_mut(&user) else { return Ok(None) };
            let Some(code) = codes.iter_mut().find(|c| unused(c)) else { return Ok(None) };
            code.used = Some(now);
            let left = codes.iter().filter(|c| c.used.is_none()).count();
            a.append(audit);
            Ok(Some(u32::try_from(left).unwrap_or(u32::MAX)))
        })?
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        digests: Vec<String>,
        audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<bool, BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&audit])?;
            if a.second_factors.enrolments.get(&user).is_none_or(|e| e.confirmed.is_none()) {
                return Ok(false);
            }
            a.mail.push(&mail)?;
            let codes = digests.into_iter().map(|digest| Code { digest, used: None });
            a.second_factors.codes.insert(user, codes.collect());
            a.append(audit);
            Ok(true)
        })?
    }

    async fn recovery_codes_left(&self, user: UserId) -> Result<u32, BackendError> {
        self.accounts(|a| {
            let left = a
                .second_factors
                .codes
                .get(&user)
                .map_or(0, |codes| codes.iter().filter(|c| c.used.is_none()).count());
            u32::try_from(left).unwrap_or(u32::MAX)
        })
    }

    async fn remove_second_factor(
        &self,
        user: UserId,
        keep: Option<&str>,
        audit: AuditEvent,
        sessions_audit: AuditEvent,
        mail: QueuedMail,
    ) -> Result<bool, BackendError> {
        self.accounts(|a| {
            a.check_ids(&[&audit, &sessions_audit])?;
            if !a.second_factors.enrolments.contains_key(&user) {
                return Ok(false);
            }
            a.mail.push(&mail)?;
            a.second_factors.enrolments.remove(&user);
            a.second_factors.codes.remove(&user);
            a.sessions.retain(|d, s| s.user != user || Some(d.as_str()) == keep);
            a.append(audit);
            a.append(sessions_audit);
            Ok(true)
        })?
    }
}
