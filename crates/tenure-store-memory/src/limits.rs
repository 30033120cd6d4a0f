//! The in-memory limits store: each bucket's theoretical arrival time in a map, a hit
//! decided and counted under the accounts lock, so concurrent hits cannot both take the
//! last place.

use async_trait::async_trait;
use tenure_core::limits::{Gcra, LimitKind, LimitStore, Tally};
use tenure_core::{BackendError, Timestamp};

use crate::MemoryDirectory;

#[async_trait]
impl LimitStore for MemoryDirectory {
    async fn hit(
        &self,
        kind: LimitKind,
        key: &str,
        gcra: Gcra,
        now: Timestamp,
    ) -> Result<Tally, BackendError> {
        self.accounts(|a| {
            let stored = a.limit_buckets.entry((kind, key.to_owned())).or_insert(now.0);
            let tat = (*stored).max(now.0);
            let admitted = tat.saturating_add(gcra.interval_ms) - now.0 <= gcra.burst_ms;
            if admitted {
                *stored = tat.saturating_add(gcra.interval_ms);
            }
            Tally { admitted, tat: Timestamp(*stored) }
        })
    }
}
