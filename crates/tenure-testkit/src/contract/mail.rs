//! The mail queue contract: what every [`MailQueue`] must do, with mail queued through the
//! same store's [`ChangeStore::apply`], and the [`Courier`] delivering from it. Bodies are
//! sealed under the tests' key ([`crate::fakes::TEST_KEY`]) and never stored in the clear.

use std::future::Future;
use std::sync::Arc;

use tenure_core::courier::open_body;
use tenure_core::{
    AfterFailure, ChangeError, ChangeStore, Clock, Courier, CourierPolicy, MailQueue, MailStatus,
    Notification, Page, QueueCounts, QueuedMail, Timestamp, Write,
};
use tenure_domain::{Email, Name, OrgId, Organisation, World};
use tenure_secrets_os::KeyVault;
use uuid::Uuid;

use crate::fakes::{FixedClock, SwitchedMailer};

const START: i64 = 1_000_000;

/// A world with one organisation (for a change that conflicts).
pub fn world() -> World {
    let mut w = World::with_roles(tenure_domain::RoleCatalogue::with_corterum());
    w.insert_organisation(Organisation::new(org(), Name::parse("Northbridge Homes").expect("n")))
        .expect("org");
    w
}

fn org() -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(1))
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0xAB00 + n)
}

fn open_reset_mail(n: u128, at: i64) -> QueuedMail {
    QueuedMail::new(
        id(n),
        Timestamp(at),
        Notification::PasswordReset {
            to: Email::parse(&format!("person{n}@example.com")).expect("email"),
            url: format!("https://tenure.example/account/reset-password?token=secret{n}"),
        },
    )
}

/// A reset message sealed under the tests' key, as a service queues it.
fn reset_mail(n: u128, at: i64) -> QueuedMail {
    open_reset_mail(n, at).seal(&*crate::fakes::vault()).expect("sealed")
}

async fn queue<S: ChangeStore + ?Sized>(store: &S, mail: Vec<QueuedMail>) {
    store
        .apply(mail.into_iter().map(Write::QueueMail).collect(), Vec::new())
        .await
        .expect("queued");
}

/// The queue's port: queued with a change or not at all, claims under a lease fenced by
/// the attempt, sent bodies erased, retries, abandonment, counts and pruning.
///
/// # Panics
/// On the first broken promise.
pub async fn queue_port<S, F, Fut>(make: F)
where
    S: ChangeStore + MailQueue,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let store = make(world()).await;
    let counts = |queued, sent, abandoned| QueueCounts { queued, sent, abandoned };
    assert_eq!(store.counts().await.expect("counts"), counts(0, 0, 0));

    // A refused change queues nothing: the mail lives and dies with it.
    let refused = store
        .apply(
            vec![
                Write::QueueMail(reset_mail(99, START)),
                Write::TouchOrganisation { id: org(), version: 41 },
            ],
            Vec::new(),
        )
        .await;
    assert!(matches!(refused, Err(ChangeError::Conflict)), "{refused:?}");
    assert_eq!(store.counts().await.expect("counts"), counts(0, 0, 0), "nothing half-written");
    assert!(store.message(id(99)).await.expect("read").is_none());
    // A body that was not sealed is never written: the change is refused with it.
    let unsealed =
        store.apply(vec![Write::QueueMail(open_reset_mail(98, START))], Vec::new()).await;
    assert!(unsealed.is_err(), "{unsealed:?}");
    assert_eq!(store.counts().await.expect("counts"), counts(0, 0, 0), "nothing in the clear");

    queue(&*store, vec![reset_mail(1, START), reset_mail(2, START + 1)]).await;
    queue(&*store, vec![reset_mail(3, START + 5_000)]).await;
    assert_eq!(store.counts().await.expect("counts"), counts(3, 0, 0));
    let m1 = store.message(id(1)).await.expect("read").expect("queued");
    assert_eq!(
        (m1.status, m1.attempts, m1.kind.as_str(), m1.recipient.as_str()),
        (MailStatus::Queued, 0, "password_reset", "person1@example.com")
    );

    // Only what is due, oldest first, at most `limit`; each claim is an attempt.
    let now = Timestamp(START + 10);
    let lease = Timestamp(START + 60_000);
    let first = store.claim(now, lease, 1, None).await.expect("claim");
    assert_eq!(first.iter().map(|c| (c.id, c.attempt)).collect::<Vec<_>>(), [(id(1), 1)]);
    // The stored body holds neither the link nor the address: only the key opens it.
    let stored = &first[0].body;
    assert!(!stored.contains("secret1") && !stored.contains("person1@"), "{stored}");
    assert!(matches!(open_body(&*crate::fakes::vault(), id(1), stored),
            Ok(Notification::PasswordReset { url, .. }) if url.ends_with("secret1")));
    let rest = store.claim(now, lease, 10, None).await.expect("claim");
    assert_eq!(rest.iter().map(|c| c.id).collect::<Vec<_>>(), [id(2)], "3 is not due yet");
    // Held: nobody else gets them before the lease runs out.
    assert!(store.claim(now, lease, 10, Some(&[id(1), id(2)])).await.expect("claim").is_empty());

    // A courier whose lease ran out cannot mark what another has claimed since.
    let again = store.claim(lease, Timestamp(lease.0 + 60_000), 10, Some(&[id(1)])).await;
    let again = again.expect("claim");
    assert_eq!(again.iter().map(|c| (c.id, c.attempt)).collect::<Vec<_>>(), [(id(1), 2)]);
    assert!(!store.mark_sent(id(1), 1, lease).await.expect("mark"), "stale attempt");
    assert!(store.mark_sent(id(1), 2, lease).await.expect("mark"));
    assert!(!store.mark_sent(id(1), 2, lease).await.expect("mark"), "once");
    let sent = store.message(id(1)).await.expect("read").expect("kept");
    assert_eq!((sent.status, sent.sent), (MailStatus::Sent, Some(lease)));
    // Its body is gone: a sent message is never claimed again, whatever the time.
    assert!(
        store
            .claim(Timestamp(i64::MAX), Timestamp(i64::MAX), 10, Some(&[id(1)]))
            .await
            .expect("claim")
            .is_empty()
    );
    assert!(!store.retry(id(1), lease).await.expect("retry"), "only the undeliverable");

    // A failure: its error kept, due again at the given time.
    assert!(
        store
            .mark_failed(
                id(2),
                1,
                "connection refused",
                AfterFailure::RetryAt(Timestamp(START + 30_000))
            )
            .await
            .expect("mark")
    );
    let failed = store.message(id(2)).await.expect("read").expect("kept");
    assert_eq!(failed.last_error.as_deref(), Some("connection refused"));
    assert_eq!(
        (failed.status, failed.next_attempt),
        (MailStatus::Queued, Timestamp(START + 30_000))
    );
    assert!(
        store
            .claim(Timestamp(START + 29_999), lease, 10, Some(&[id(2)]))
            .await
            .expect("claim")
            .is_empty()
    );
    let retried = store.claim(Timestamp(START + 30_000), lease, 10, Some(&[id(2)])).await;
    assert_eq!(retried.expect("claim")[0].attempt, 2);
    assert!(
        store.mark_failed(id(2), 2, "still refused", AfterFailure::Abandon).await.expect("mark")
    );
    assert_eq!(store.counts().await.expect("counts"), counts(1, 1, 1));

    // The undeliverable, newest first, without bodies; an administrator's retry.
    let stuck = store.undeliverable(Page::numbered(1, 20)).await.expect("list");
    assert_eq!(stuck.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(), [(id(2), 2)]);
    assert!(store.undeliverable(Page::numbered(2, 20)).await.expect("list").is_empty());
    assert!(store.retry(id(2), Timestamp(START + 40_000)).await.expect("retry"));
    assert!(!store.retry(id(2), Timestamp(START + 40_000)).await.expect("retry"), "queued now");
    assert!(!store.retry(id(77), Timestamp(START + 40_000)).await.expect("retry"), "unknown");
    let requeued = store.message(id(2)).await.expect("read").expect("kept");
    assert_eq!((requeued.status, requeued.attempts), (MailStatus::Queued, 0));
    let claimed = store.claim(Timestamp(START + 40_000), lease, 10, None).await.expect("claim");
    assert_eq!(
        claimed.iter().map(|c| (c.id, c.attempt)).collect::<Vec<_>>(),
        [(id(2), 1), (id(3), 1)]
    );
    assert!(store.mark_failed(id(2), 1, "refused", AfterFailure::Abandon).await.expect("mark"));
    assert!(store.mark_sent(id(3), 1, Timestamp(START + 50_000)).await.expect("mark"));
    assert_eq!(store.counts().await.expect("counts"), counts(0, 2, 1));

    // Pruning: only delivered (by when sent) and abandoned (by when queued) messages
    // older than the cutoff, at most a batch at a time; queued ones never.
    queue(&*store, vec![reset_mail(4, START)]).await;
    assert_eq!(store.prune(Timestamp(START + 55_000), 10).await.expect("prune"), 2, "2 and 3");
    assert_eq!(store.counts().await.expect("counts"), counts(1, 1, 0));
    assert_eq!(store.prune(Timestamp(i64::MAX), 0).await.expect("prune"), 0);
    assert_eq!(store.prune(Timestamp(i64::MAX), 10).await.expect("prune"), 1, "1");
    assert_eq!(store.counts().await.expect("counts"), counts(1, 0, 0), "4 is still queued");
    assert!(store.message(id(4)).await.expect("read").is_some());

    mark_round(&*store).await;
}

/// A round's delivered messages marked at once: only those still held under the attempt
/// given (never one claimed since by another courier, nor one never claimed), each once,
/// bodies erased; more than one statement's worth at a time.
async fn mark_round<S: ChangeStore + MailQueue + ?Sized>(store: &S) {
    let at = START + 100_000;
    let lease = Timestamp(at + 60_000);
    queue(store, (5..=8).map(|n| reset_mail(n, at)).collect()).await;
    let held = store.claim(Timestamp(at), lease, 10, Some(&[id(5), id(6), id(7)])).await;
    assert_eq!(held.expect("claim").len(), 3);
    // 7's lease ran out and another courier holds it now (attempt 2).
    let again = store.claim(lease, Timestamp(lease.0 + 60_000), 10, Some(&[id(7)])).await;
    assert_eq!(again.expect("claim").iter().map(|c| c.attempt).collect::<Vec<_>>(), [2]);
    assert_eq!(store.mark_all_sent(&[], lease).await.expect("mark"), 0);
    let round = [(id(5), 1), (id(6), 1), (id(7), 1), (id(8), 1)];
    assert_eq!(store.mark_all_sent(&round, lease).await.expect("mark"), 2, "5 and 6 only");
    assert_eq!(store.mark_all_sent(&round, lease).await.expect("mark"), 0, "once");
    for n in [5, 6] {
        let m = store.message(id(n)).await.expect("read").expect("kept");
        assert_eq!((m.status, m.sent), (MailStatus::Sent, Some(lease)), "{n}");
    }
    for (n, attempts) in [(7, 2), (8, 0)] {
        let m = store.message(id(n)).await.expect("read").expect("kept");
        assert_eq!((m.status, m.attempts, m.sent), (MailStatus::Queued, attempts, None), "{n}");
    }
    let sent = [id(5), id(6)];
    let bodies = store.claim(Timestamp(i64::MAX), Timestamp(i64::MAX), 10, Some(&sent)).await;
    assert!(bodies.expect("claim").is_empty(), "sent bodies are erased");
    assert!(store.mark_sent(id(7), 2, lease).await.expect("mark"), "7's holder marks it");

    // A round larger than one statement's worth.
    let many: Vec<QueuedMail> = (1_000..1_250).map(|n| reset_mail(n, at)).collect();
    queue(store, many).await;
    let ids: Vec<Uuid> = (1_000..1_250).map(id).collect();
    let held = store.claim(Timestamp(at), lease, 300, Some(&ids)).await.expect("claim");
    assert_eq!(held.len(), 250);
    let round: Vec<(Uuid, u32)> = held.iter().map(|c| (c.id, c.attempt)).collect();
    assert_eq!(store.mark_all_sent(&round, lease).await.expect("mark"), 250);
    let last = store.message(id(1_249)).await.expect("read").expect("kept");
    assert_eq!(last.status, MailStatus::Sent);
}

/// The courier over the store: a message queued while the mail server is down is
/// retried with a growing wait, delivered once when it is back, and abandoned after the
/// last attempt; two couriers taking turns never send one message twice.
///
/// # Panics
/// On the first broken promise.
pub async fn courier<S, F, Fut>(make: F)
where
    S: ChangeStore + MailQueue,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let store = make(world()).await;
    let clock = Arc::new(FixedClock::at(START));
    let mailer = Arc::new(SwitchedMailer::default());
    let policy = CourierPolicy {
        batch: 10,
        lease_ms: 60_000,
        first_retry_ms: 1_000,
        max_retry_ms: 4_000,
        max_attempts: 4,
        deliver_at_once: true,
    };
    let vault = crate::fakes::vault();
    let a =
        Courier::new(store.clone(), mailer.clone(), vault.clone(), clock.clone(), policy.clone());
    let b = Courier::new(store.clone(), mailer.clone(), vault, clock.clone(), policy.clone());

    mailer.set_down(true);
    queue(&*store, vec![reset_mail(1, START)]).await;
    let at_once = a.deliver_now(&[id(1)]).await;
    assert_eq!((at_once.claimed, at_once.retrying), (1, 1));
    // Waits of 1 s, 2 s, 4 s (the cap) between attempts.
    for wait in [1_000, 2_000] {
        clock.advance(wait - 1);
        assert_eq!(b.run_once().await.expect("round").claimed, 0, "not due yet");
        clock.advance(1);
        let round = b.run_once().await.expect("round");
        assert_eq!((round.claimed, round.retrying, round.sent), (1, 1, 0));
    }
    mailer.set_down(false);
    clock.advance(4_000);
    let (first, second) = (a.run_once().await.expect("round"), b.run_once().await.expect("round"));
    assert_eq!((first.sent, second.claimed), (1, 0), "sent once");
    let delivered = mailer.delivered.sent();
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].text.contains("secret1"), "the link arrives");
    assert_eq!(store.message(id(1)).await.expect("read").expect("kept").status, MailStatus::Sent);

    // Down for good: abandoned after the fourth attempt, and listed.
    mailer.set_down(true);
    queue(&*store, vec![reset_mail(2, clock.now().0)]).await;
    let mut abandoned = 0;
    for _ in 0..4 {
        abandoned += a.run_once().await.expect("round").abandoned;
        clock.advance(4_000);
    }
    assert_eq!(abandoned, 1);
    assert_eq!(a.counts().await.expect("counts").abandoned, 1);
    assert_eq!(a.undeliverable(Page::numbered(1, 20)).await.expect("list")[0].id, id(2));
    // Retried by an administrator once the server is back: delivered.
    mailer.set_down(false);
    assert!(a.retry(id(2)).await.expect("retry"));
    assert_eq!(a.flush(5).await.expect("flush").sent, 1);
    assert_eq!(mailer.delivered.sent().len(), 2);
    assert_eq!(a.counts().await.expect("counts"), QueueCounts { queued: 0, sent: 2, abandoned: 0 });

    // Sealed under another key (an instance configured with the wrong one queued it):
    // never sent, abandoned at once with the reason, listed; a retry under the right key
    // cannot help, but the message stays for an operator to see.
    let other = KeyVault::from_key(&[0x99; 32]);
    let foreign = open_reset_mail(3, clock.now().0).seal(&other).expect("sealed");
    queue(&*store, vec![foreign]).await;
    let round = a.run_once().await.expect("round");
    assert_eq!((round.claimed, round.sent, round.abandoned, round.unopened), (1, 0, 1, 1));
    assert_eq!(mailer.delivered.sent().len(), 2, "nothing sent");
    let stuck = a.undeliverable(Page::numbered(1, 20)).await.expect("list");
    assert_eq!(stuck.iter().map(|m| m.id).collect::<Vec<_>>(), [id(3)]);
    let why = stuck[0].last_error.clone().unwrap_or_default();
    assert!(why.contains("another key") && why.contains("secret_key_file"), "{why}");
    // The same message under the right key (the operator fixed the setting): a courier
    // with that key delivers it once it is retried.
    let right = Courier::new(store.clone(), mailer.clone(), Arc::new(other), clock.clone(), policy);
    assert!(right.retry(id(3)).await.expect("retry"));
    assert_eq!(right.flush(5).await.expect("flush").sent, 1);
    assert!(mailer.delivered.sent()[2].text.contains("secret3"));
}
