//! The `LimitStore` port over SQL: a hit is one `INSERT ... ON CONFLICT DO UPDATE ...
//! RETURNING` on the bucket's row, so concurrent hits on one bucket are serialised by
//! the row (PostgreSQL) or the database (SQLite) and none is lost.
//!
//! The update's `SET` expressions all read the row as it was, so `admitted` and `tat`
//! are decided on the same old value: admitted when the old time (or now, if later)
//! plus the interval is at most the burst past now, and only then moved on.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tenure_core::limits::{Gcra, LimitKind, LimitStore, Tally};
use tenure_core::{BackendError, Timestamp};

use crate::SeaOrmStore;

/// The hit, with `$1` kind, `$2` key, `$3` now, `$4` interval, `$5` burst. A new bucket
/// is admitted (the interval never exceeds the burst).
const HIT: &str = "INSERT INTO rate_limits (kind, key, tat, admitted) VALUES ($1, $2, $3 + $4, TRUE) \
     ON CONFLICT (kind, key) DO UPDATE SET \
     tat = CASE WHEN (CASE WHEN rate_limits.tat > $3 THEN rate_limits.tat ELSE $3 END) + $4 - $3 <= $5 \
           THEN (CASE WHEN rate_limits.tat > $3 THEN rate_limits.tat ELSE $3 END) + $4 \
           ELSE rate_limits.tat END, \
     admitted = (CASE WHEN rate_limits.tat > $3 THEN rate_limits.tat ELSE $3 END) + $4 - $3 <= $5 \
     RETURNING tat, admitted";

/// A statement written with `$n` placeholders, in the backend's own: SQLite reads `?n`.
pub(crate) fn statement(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let sql = match backend {
        DbBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

#[async_trait]
impl LimitStore for SeaOrmStore {
    async fn hit(
        &self,
        kind: LimitKind,
        key: &str,
        gcra: Gcra,
        now: Timestamp,
    ) -> Result<Tally, BackendError> {
        let values = vec![
            kind.name().into(),
            key.into(),
            now.0.into(),
            gcra.interval_ms.into(),
            gcra.burst_ms.into(),
        ];
        let row = self
            .db()
            .query_one_raw(statement(self.backend(), HIT, values))
            .await
            .map_err(BackendError::new)?
            .ok_or_else(|| BackendError::new("a rate limit hit returned no row"))?;
        let tat: i64 = row.try_get("", "tat").map_err(BackendError::new)?;
        let admitted: bool = row.try_get("", "admitted").map_err(BackendError::new)?;
        Ok(Tally { admitted, tat: Timestamp(tat) })
    }
}
