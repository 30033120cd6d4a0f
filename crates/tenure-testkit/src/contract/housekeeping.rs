//! The `HousekeepingStore` contract, and the `Housekeeping` service on top of it: rows
//! past their time go (expired sessions, used or expired reset links, one-time links
//! no longer usable, passed limiter buckets), live ones stay (a live session, a usable
//! link, each user's newest invitation, whatever its state), and every statement
//! removes at most a batch.

use std::future::Future;
use std::sync::Arc;

use tenure_core::housekeeping::{Housekeeping, HousekeepingPolicy, HousekeepingStore, Sweep};
use tenure_core::limits::{LimitKey, LimitKind, LimitPolicy, LimitStore, Limits, Rate};
use tenure_core::{
    AccountStore, AuditDetail, AuditEvent, AuditName, ChangeStore, Link, LinkPurpose, LinkState,
    Outcome, SessionPolicy, SessionRecord, SessionStore, Timestamp, Write,
};
use tenure_domain::{Email, OrgId, UserId, World};
use uuid::Uuid;

use crate::fakes::FixedClock;

/// Every port housekeeping sweeps after.
pub trait Swept:
    AccountStore + ChangeStore + SessionStore + LimitStore + HousekeepingStore
{
}
impl<T: AccountStore + ChangeStore + SessionStore + LimitStore + HousekeepingStore> Swept for T {}

const NOW: i64 = 1_800_000_000_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}
const ALICE: u128 = 10;
const BOB: u128 = 11;
const NOPASS: u128 = 12;
const XENA: u128 = 13;

fn event(n: u128, who: UserId) -> AuditEvent {
    AuditEvent {
        id: Uuid::from_u128(0xD000 + n),
        at: Timestamp(NOW),
        actor: Some(who),
        name: AuditName::PasswordChange,
        outcome: Outcome::Success,
        target_user: Some(who),
        organisation: None,
        detail: AuditDetail::Empty,
        origin: None,
    }
}

fn link(n: u128, purpose: LinkPurpose, who: u128, issued: i64, lifetime: i64) -> Link {
    Link {
        id: Uuid::from_u128(0x1000 + n),
        digest: format!("link-{n}"),
        purpose,
        user: user(who),
        organisation: OrgId::from_uuid(Uuid::from_u128(if who == XENA { 2 } else { 1 })),
        role: None,
        email: Email::parse(&format!("person{who}@example.com")).expect("email"),
        issued_by: None,
        issued: Timestamp(issued),
        expires: Timestamp(issued + lifetime),
        state: LinkState::Pending,
    }
}

/// The digests of a user's links, newest first.
async fn links_of<S: Swept>(store: &S, who: u128) -> Vec<String> {
    store.links_for_user(user(who)).await.expect("links").into_iter().map(|l| l.digest).collect()
}

/// The store, and the service over it, on [`super::accounts::world`].
///
/// # Panics
/// On the first broken promise.
pub async fn housekeeping<S, F, Fut>(make: F)
where
    S: Swept,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let store = make(super::accounts::world()).await;
    let sessions = SessionPolicy { idle_ms: 30 * MINUTE, absolute_ms: 12 * HOUR };
    let mut n = 0;
    let mut session = |digest: &str, created: i64, last_seen: i64| {
        n += 1;
        let record = SessionRecord {
            user: user(ALICE),
            csrf: "csrf".to_owned(),
            created: Timestamp(NOW - created),
            last_seen: Timestamp(NOW - last_seen),
            stage: tenure_core::SessionStage::SignedIn,
            proved_at: Timestamp(NOW - created),
        };
        (digest.to_owned(), record, event(n, user(ALICE)))
    };
    // Two live sessions (one a millisecond inside its idle time), two past it (idle for
    // exactly the idle time; started exactly the absolute time ago), and five idle ones.
    let mut rows = vec![
        session("live", HOUR, MINUTE),
        session("nearly-idle", HOUR, 30 * MINUTE - 1),
        session("idle", HOUR, 30 * MINUTE),
        session("too-old", 12 * HOUR, 0),
    ];
    for i in 0..5 {
        rows.push(session(&format!("idle-{i}"), 2 * HOUR, 2 * HOUR));
    }
    for (digest, record, audit) in rows {
        store.create_session(&digest, record, audit).await.expect("session");
    }

    // Reset links: alice's first (killed by her second), her second (usable), nopass's
    // (expired exactly now), xena's (a millisecond left).
    let reset = |n: u128, who: u128, issued: i64, lifetime: i64| {
        let store = store.clone();
        async move {
            let (digest, at) = (format!("reset-{n}"), Timestamp(NOW - issued));
            let expires = Timestamp(NOW - issued + lifetime);
            store.issue_reset(user(who), digest, at, expires, event(100 + n, user(who))).await
        }
    };
    reset(1, ALICE, 4 * HOUR, 3 * HOUR).await.expect("reset");
    reset(2, ALICE, 10 * MINUTE, 3 * HOUR).await.expect("reset");
    reset(3, NOPASS, 3 * HOUR, 3 * HOUR).await.expect("reset");
    reset(4, XENA, HOUR, HOUR + 1).await.expect("reset");

    // One-time links. Alice: an invitation replaced by a second she accepted, an expired
    // email confirmation, a usable one. Nopass: an expired invitation, never accepted.
    // Xena: a usable invitation. Bob: a reactivation withdrawn.
    let apply = |writes: Vec<Write>| {
        let store = store.clone();
        async move { store.apply(writes, Vec::new()).await.expect("apply") }
    };
    apply(vec![Write::IssueLink(link(1, LinkPurpose::Invitation, ALICE, NOW - 5 * DAY, 3 * DAY))])
        .await;
    apply(vec![Write::IssueLink(link(2, LinkPurpose::Invitation, ALICE, NOW - 4 * DAY, 3 * DAY))])
        .await;
    let accepted = Timestamp(NOW - 4 * DAY + 1);
    let consume = Write::ConsumeLink {
        digest: "link-2".to_owned(),
        purpose: LinkPurpose::Invitation,
        now: accepted,
    };
    apply(vec![consume]).await;
    apply(vec![Write::IssueLink(link(3, LinkPurpose::EmailChange, ALICE, NOW - DAY, 3 * HOUR))])
        .await;
    apply(vec![Write::IssueLink(link(4, LinkPurpose::EmailChange, ALICE, NOW - HOUR, 3 * HOUR))])
        .await;
    apply(vec![Write::IssueLink(link(5, LinkPurpose::Invitation, NOPASS, NOW - 5 * DAY, 3 * DAY))])
        .await;
    apply(vec![Write::IssueLink(link(6, LinkPurpose::Invitation, XENA, NOW - HOUR, 3 * DAY))])
        .await;
    apply(vec![Write::IssueLink(link(7, LinkPurpose::Reactivation, BOB, NOW - 2 * DAY, 3 * DAY))])
        .await;
    let revoke = Write::RevokeLinks { user: user(BOB), purposes: vec![LinkPurpose::Reactivation] };
    apply(vec![revoke]).await;

    // Limiter buckets: three whose time has passed, one still counting.
    let past = Limits::new(
        store.clone(),
        Arc::new(FixedClock::at(NOW - 2 * MINUTE)),
        LimitPolicy::default().with(LimitKind::SignInAddress, Some(Rate::per(1, MINUTE))),
    );
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        let key = LimitKey::address(ip.parse().expect("ip"));
        assert!(past.hit(LimitKind::SignInAddress, &key).await.expect("hit").is_allowed());
    }
    let clock = Arc::new(FixedClock::at(NOW));
    let current = Limits::new(
        store.clone(),
        clock.clone(),
        LimitPolicy::default().with(LimitKind::SignInAddress, Some(Rate::per(1, MINUTE))),
    );
    let counting = LimitKey::address("192.0.2.9".parse().expect("ip"));
    assert!(current.hit(LimitKind::SignInAddress, &counting).await.expect("hit").is_allowed());

    // The store alone: a sweep removes at most its batch, and repeats until short.
    let sweep = Sweep::Sessions {
        idle_since: Timestamp(NOW - 30 * MINUTE),
        started_before: Timestamp(NOW - 12 * HOUR),
    };
    let mut batches = Vec::new();
    loop {
        let removed = store.sweep(sweep, 2).await.expect("sweep");
        batches.push(removed);
        if removed < 2 {
            break;
        }
    }
    assert_eq!(batches, vec![2, 2, 2, 1], "seven sessions past their time, two at a time");
    assert!(store.session("live").await.expect("read").is_some());
    assert!(store.session("nearly-idle").await.expect("read").is_some());
    for gone in ["idle", "too-old", "idle-0", "idle-4"] {
        assert!(store.session(gone).await.expect("read").is_none(), "{gone}");
    }

    // The service: every sweep, batches of two, figures for the log.
    let service =
        Housekeeping::new(store.clone(), clock.clone(), HousekeepingPolicy { batch: 2, sessions });
    let report = service.run().await.expect("run");
    assert_eq!(
        report.swept,
        vec![("sessions", 0, 1), ("reset_links", 2, 2), ("links", 2, 2), ("limit_buckets", 3, 2)]
    );
    assert_eq!(report.to_string(), "sessions=0 reset_links=2 links=2 limit_buckets=3");
    assert_eq!(report.total(), 7);

    // What stays still works.
    assert!(store.reset_holder("reset-2", Timestamp(NOW)).await.expect("read").is_some());
    assert!(store.reset_holder("reset-4", Timestamp(NOW)).await.expect("read").is_some());
    assert_eq!(links_of(&*store, ALICE).await, vec!["link-4", "link-2"]);
    assert_eq!(links_of(&*store, NOPASS).await, vec!["link-5"], "the expired invitation says so");
    assert_eq!(links_of(&*store, XENA).await, vec!["link-6"]);
    assert_eq!(links_of(&*store, BOB).await, vec!["link-7"], "the withdrawal says so");
    let still = store.link("link-2").await.expect("read").expect("kept");
    assert_eq!(still.state, LinkState::Accepted);
    assert!(!current.hit(LimitKind::SignInAddress, &counting).await.expect("hit").is_allowed());

    // A second run finds nothing; once everything is past its time, everything past goes.
    assert_eq!(service.run().await.expect("run").total(), 0);
    clock.advance(3 * DAY);
    let report = service.run().await.expect("run");
    assert_eq!(report.removed("sessions"), 2);
    assert_eq!(report.removed("reset_links"), 2);
    assert_eq!(report.removed("links"), 1, "alice's email confirmation expired");
    assert_eq!(report.removed("limit_buckets"), 1);
    assert_eq!(links_of(&*store, XENA).await, vec!["link-6"], "newest, so kept though expired");
}
