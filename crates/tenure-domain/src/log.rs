//! Logs: CORE's lettings and sales records.
//!
//! Logs belong to organisations, not people, so deleting a user never deletes a log.

use crate::id::{LogId, OrgId, UserId};

/// A log, owned by a stock owner and managed by a managing agent (often the same
/// organisation).
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Log {
    /// Its id.
    pub id: LogId,
    /// The stock owner responsible for it.
    pub owning_organisation: OrgId,
    /// The organisation that manages the tenancy or sale.
    pub managing_organisation: OrgId,
    /// The user it is assigned to, if any.
    pub assigned_to: Option<UserId>,
    /// The user who created it, if still known.
    pub created_by: Option<UserId>,
}
