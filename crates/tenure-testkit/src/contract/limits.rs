//! The `LimitStore` contract, through the `Limits` service on top of it: a burst of
//! exactly the count, refusals that say how long to wait and count nothing, buckets
//! apart by kind and key, the window moving with the (fake) clock, and concurrent hits
//! on one bucket admitting exactly the count.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use tenure_core::limits::{LimitKey, LimitKind, LimitPolicy, LimitStore, Limits, Rate, Verdict};
use tenure_domain::UserId;
use uuid::Uuid;

use crate::fakes::FixedClock;

const MINUTE: i64 = 60_000;

fn refused(ms: i64) -> Verdict {
    Verdict::Refused { retry_after_ms: ms }
}

/// Drives every future at once on this task (so a store sees them all in flight
/// together: on SQL, each on a connection of its own), and gives their outputs in order.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// The store through the service.
///
/// # Panics
/// On the first broken promise.
pub async fn limits<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn LimitStore>>,
{
    let store = make().await;
    let clock = Arc::new(FixedClock::at(1_800_000_000_000));
    // 3 a minute: 3 at once, then one every 20 seconds.
    let policy = LimitPolicy::default()
        .with(LimitKind::SignInAddress, Some(Rate::per(3, MINUTE)))
        .with(LimitKind::ResetAccount, Some(Rate::per(1, 60 * MINUTE)))
        .with(LimitKind::InvitationAccount, None);
    let limits = Limits::new(store.clone(), clock.clone(), policy);
    let ip = LimitKey::address("203.0.113.7".parse().expect("ip"));
    let other_ip = LimitKey::address("203.0.113.8".parse().expect("ip"));
    let hit = |kind, key: &LimitKey| {
        let (limits, key) = (limits.clone(), key.clone());
        async move { limits.hit(kind, &key).await.expect("hit") }
    };

    for _ in 0..3 {
        assert_eq!(hit(LimitKind::SignInAddress, &ip).await, Verdict::Allowed);
    }
    assert_eq!(hit(LimitKind::SignInAddress, &ip).await, refused(20_000), "the 4th waits 20 s");
    // A refused hit counts nothing: hammering does not push the wait back.
    for _ in 0..10 {
        assert_eq!(hit(LimitKind::SignInAddress, &ip).await, refused(20_000));
    }
    // Buckets are apart by key and by kind.
    assert_eq!(hit(LimitKind::SignInAddress, &other_ip).await, Verdict::Allowed);
    assert_eq!(hit(LimitKind::ResetAddress, &ip).await, Verdict::Allowed);

    // The window moves with the clock: a millisecond early is still refused...
    clock.advance(20_000 - 1);
    assert_eq!(hit(LimitKind::SignInAddress, &ip).await, refused(1));
    // ...on time, one more, and then the wait is a full interval again.
    clock.advance(1);
    assert_eq!(hit(LimitKind::SignInAddress, &ip).await, Verdict::Allowed);
    assert_eq!(hit(LimitKind::SignInAddress, &ip).await, refused(20_000));
    // After a quiet minute the whole burst is back, and no more.
    clock.advance(MINUTE);
    for _ in 0..3 {
        assert_eq!(hit(LimitKind::SignInAddress, &ip).await, Verdict::Allowed);
    }
    assert!(!hit(LimitKind::SignInAddress, &ip).await.is_allowed());

    // Per account, one an hour: the second waits the hour out, to the millisecond.
    let alice = LimitKey::account(UserId::from_uuid(Uuid::from_u128(10)));
    assert_eq!(hit(LimitKind::ResetAccount, &alice).await, Verdict::Allowed);
    assert_eq!(hit(LimitKind::ResetAccount, &alice).await, refused(60 * MINUTE));
    clock.advance(60 * MINUTE - 1);
    assert!(!hit(LimitKind::ResetAccount, &alice).await.is_allowed());
    clock.advance(1);
    assert_eq!(hit(LimitKind::ResetAccount, &alice).await, Verdict::Allowed);
    // A kind with no limit is always allowed.
    for _ in 0..100 {
        assert_eq!(hit(LimitKind::InvitationAccount, &alice).await, Verdict::Allowed);
    }
}

/// `n` concurrent hits on one bucket under a limit of `k` admit exactly `k`, and every
/// refusal says to wait.
///
/// # Panics
/// On the first broken promise.
pub async fn concurrent_hits<F, Fut>(make: F, n: usize, k: u32)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn LimitStore>>,
{
    let store = make().await;
    let clock = Arc::new(FixedClock::at(1_800_000_000_000));
    let policy = LimitPolicy::default().with(LimitKind::SignInAddress, Some(Rate::per(k, MINUTE)));
    let limits = Limits::new(store, clock, policy);
    let key = LimitKey::address("2001:db8::1".parse().expect("ip"));
    let hits = (0..n).map(|_| {
        let (limits, key) = (limits.clone(), key.clone());
        async move { limits.hit(LimitKind::SignInAddress, &key).await.expect("hit") }
    });
    let verdicts = join_all(hits.collect()).await;
    let admitted = verdicts.iter().filter(|v| v.is_allowed()).count();
    assert_eq!(admitted, k as usize, "{n} concurrent hits under a limit of {k}");
    assert!(verdicts.iter().all(|v| v.is_allowed() || v.retry_after_secs() > 0));
}
