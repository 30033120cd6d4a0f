//! The `HousekeepingStore` port over SQL: each sweep is one `DELETE ... WHERE key IN
//! (SELECT key ... LIMIT batch)`, so a statement removes a bounded batch and holds its
//! locks briefly. The same SQL runs on SQLite and PostgreSQL.

use async_trait::async_trait;
use sea_orm::ConnectionTrait;
use tenure_core::BackendError;
use tenure_core::housekeeping::{HousekeepingStore, Sweep};

use crate::SeaOrmStore;
use crate::limits::statement;

/// Sessions idle since `$1` or started before `$2`.
const SESSIONS: &str = "DELETE FROM sessions WHERE digest IN (SELECT digest FROM sessions \
     WHERE last_seen_at <= $1 OR created_at <= $2 LIMIT $3)";

/// Reset links used, or expired by `$1`.
const RESET_LINKS: &str = "DELETE FROM reset_tokens WHERE digest IN (SELECT digest FROM \
     reset_tokens WHERE used_at IS NOT NULL OR expires_at <= $1 LIMIT $2)";

/// Links not usable at `$1`, but for each user's newest invitation or reactivation link
/// (by issue time, then id, as the stores read it), which says whether they accepted.
const LINKS: &str = "DELETE FROM links WHERE id IN (SELECT l.id FROM links l \
     WHERE (l.state <> 'pending' OR l.expires_at <= $1) \
     AND (l.purpose NOT IN ('invitation', 'reactivation') OR EXISTS (SELECT 1 FROM links n \
     WHERE n.user_id = l.user_id AND n.purpose IN ('invitation', 'reactivation') \
     AND (n.issued_at > l.issued_at OR (n.issued_at = l.issued_at AND n.id > l.id)))) \
     LIMIT $2)";

/// Limiter buckets whose time has passed by `$1`.
const LIMIT_BUCKETS: &str = "DELETE FROM rate_limits WHERE (kind, key) IN (SELECT kind, key \
     FROM rate_limits WHERE tat <= $1 LIMIT $2)";

#[async_trait]
impl HousekeepingStore for SeaOrmStore {
    async fn sweep(&self, sweep: Sweep, batch: u32) -> Result<u64, BackendError> {
        let batch = i64::from(batch);
        let (sql, values): (&str, Vec<sea_orm::Value>) = match sweep {
            Sweep::Sessions { idle_since, started_before } => {
                (SESSIONS, vec![idle_since.0.into(), started_before.0.into(), batch.into()])
            }
            Sweep::ResetLinks { now } => (RESET_LINKS, vec![now.0.into(), batch.into()]),
            Sweep::Links { now } => (LINKS, vec![now.0.into(), batch.into()]),
            Sweep::LimitBuckets { now } => (LIMIT_BUCKETS, vec![now.0.into(), batch.into()]),
        };
        let done = self
            .db()
            .execute_raw(statement(self.backend(), sql, values))
            .await
            .map_err(BackendError::new)?;
        Ok(done.rows_affected())
    }
}
