//! The in-memory housekeeping store: each sweep removes at most a batch of the rows it
//! names, as the SQL store's one bounded statement does.

use async_trait::async_trait;
use tenure_core::housekeeping::{HousekeepingStore, Sweep};
use tenure_core::{BackendError, Link, LinkPurpose};

use crate::MemoryDirectory;

/// Whether a link says whether its user accepted: an invitation or a reactivation.
fn invitation(link: &Link) -> bool {
    matches!(link.purpose, LinkPurpose::Invitation | LinkPurpose::Reactivation)
}

/// Removes at most `batch` of `items` that `doomed` picks (judged before any goes).
fn remove_some<T>(items: &mut Vec<T>, batch: usize, doomed: impl Fn(&T) -> bool) -> u64 {
    let picks: Vec<bool> = items.iter().map(&doomed).collect();
    let mut left = batch;
    let mut index = 0;
    items.retain(|_| {
        let pick = picks[index] && left > 0;
        index += 1;
        if pick {
            left -= 1;
        }
        !pick
    });
    (batch - left) as u64
}

#[async_trait]
impl HousekeepingStore for MemoryDirectory {
    async fn sweep(&self, sweep: Sweep, batch: u32) -> Result<u64, BackendError> {
        let batch = batch as usize;
        self.accounts(|a| match sweep {
            Sweep::Sessions { idle_since, started_before } => {
                let doomed: Vec<String> = a
                    .sessions
                    .iter()
                    .filter(|(_, s)| s.last_seen <= idle_since || s.created <= started_before)
                    .map(|(digest, _)| digest.clone())
                    .take(batch)
                    .collect();
                for digest in &doomed {
                    a.sessions.remove(digest);
                }
                doomed.len() as u64
            }
            Sweep::ResetLinks { now } => {
                remove_some(&mut a.resets, batch, |r| r.used.is_some() || r.expires <= now)
            }
            Sweep::Links { now } => {
                let all = a.links.clone();
                let newer = |l: &Link| {
                    all.iter().any(|n| {
                        n.user == l.user && invitation(n) && (n.issued, n.id) > (l.issued, l.id)
                    })
                };
                remove_some(&mut a.links, batch, |l| !l.usable(now) && (!invitation(l) || newer(l)))
            }
            Sweep::LimitBuckets { now } => {
                let doomed: Vec<_> = a
                    .limit_buckets
                    .iter()
                    .filter(|(_, tat)| **tat <= now.0)
                    .map(|(k, _)| k.clone())
                    .take(batch)
                    .collect();
                for key in &doomed {
                    a.limit_buckets.remove(key);
                }
                doomed.len() as u64
            }
        })
    }
}
