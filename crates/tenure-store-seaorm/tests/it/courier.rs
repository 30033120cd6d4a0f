//! The courier against a real SMTP server (aiosmtpd) and a real database, as two
//! instances would run it: two stores (two connection pools) on one database, each with
//! its own courier. An invitation made while the mail server is down is delivered once it
//! is back, exactly once; so are twenty reset emails that both couriers race for.

use std::sync::Arc;

use tenure_core::{
    Accounts, Courier, CourierPolicy, LockoutPolicy, MailQueue, Manage, ManagePolicy, ManagePorts,
    PersonInput, QueueCounts, ResetPolicy,
};
use tenure_domain::role::builtin::DATA_PROVIDER;
use tenure_domain::{Email, Name, OrgId, Organisation, User, UserId, World};
use tenure_mail_smtp::SmtpMailer;
use tenure_store_seaorm::SeaOrmStore;
use tenure_testkit::fakes::{CountingHasher, FixedClock, SequentialIds, SequentialSecrets};
use tenure_testkit::smtp;
use uuid::Uuid;

const PEOPLE: u128 = 20;

fn world() -> World {
    let mut w = World::with_roles(tenure_domain::RoleCatalogue::with_corterum());
    let org = OrgId::from_uuid(Uuid::from_u128(1));
    w.insert_organisation(Organisation::new(org, Name::parse("Northbridge Homes").unwrap()))
        .unwrap();
    for n in 0..PEOPLE {
        let user = User::new(
            UserId::from_uuid(Uuid::from_u128(100 + n)),
            Name::parse(&format!("Person {n}")).unwrap(),
            Email::parse(&format!("person{n}@example.com")).unwrap(),
            org,
            vec![DATA_PROVIDER],
        );
        w.upsert_user(user).unwrap();
    }
    w
}

fn policy() -> CourierPolicy {
    CourierPolicy {
        batch: 5,
        lease_ms: 60_000,
        first_retry_ms: 1_000,
        max_retry_ms: 8_000,
        max_attempts: 10,
        deliver_at_once: true,
    }
}

/// Runs the scenario on `url` (a fresh database).
async fn scenario(url: &str) {
    let port = smtp::free_port();
    let mailer = Arc::new(
        SmtpMailer::new(&format!("smtp://127.0.0.1:{port}"), "no-reply@tenure.example").unwrap(),
    );
    let clock = Arc::new(FixedClock::at(1_800_000_000_000));
    let a = Arc::new(SeaOrmStore::open(url).await.unwrap());
    a.import(&world()).await.unwrap();
    let b = Arc::new(SeaOrmStore::connect(url).await.unwrap());
    // Both instances share one secret key, as operations.md requires.
    let vault = tenure_testkit::fakes::vault();
    let courier_a = Courier::new(a.clone(), mailer.clone(), vault.clone(), clock.clone(), policy());
    let courier_b = Courier::new(b.clone(), mailer.clone(), vault, clock.clone(), policy());

    // Instance A invites the first administrator while the mail server is down: the
    // change stands, and its email waits in the queue.
    let ids = Arc::new(SequentialIds::default());
    let manage = Manage::new(
        ManagePorts {
            directory: a.clone(),
            changes: a.clone(),
            hasher: Arc::new(CountingHasher::with_cost(1)),
            secrets: Arc::new(SequentialSecrets::default()),
            courier: courier_a.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
        },
        ManagePolicy { base_url: "https://tenure.example".to_owned(), ..ManagePolicy::default() },
    );
    let person = PersonInput {
        name: "Ada Administrator".to_owned(),
        email: "ada@example.com".to_owned(),
        telephone: String::new(),
    };
    manage.create_first_administrator(&person, "Tenure support").await.expect("invited");
    assert_eq!(a.counts().await.unwrap().queued, 1, "the change stands, its email waits");
    let round = courier_b.run_once().await.unwrap();
    assert_eq!(round.claimed, 0, "tried at once, failed, waiting for its retry");
    // Instance B takes reset requests for twenty people, still with no mail server.
    let accounts = Accounts::new(
        b.clone(),
        Arc::new(CountingHasher::with_cost(1)),
        clock.clone(),
        ids,
        LockoutPolicy::default(),
    )
    .with_resets(
        Arc::new(SequentialSecrets::default()),
        courier_b.clone(),
        ResetPolicy { base_url: "https://tenure.example".to_owned(), ..ResetPolicy::default() },
    );
    for n in 0..PEOPLE {
        accounts.request_reset(&format!("person{n}@example.com")).await.expect("asked");
    }
    let waiting = a.counts().await.unwrap();
    assert_eq!(waiting, QueueCounts { queued: PEOPLE as u64 + 1, sent: 0, abandoned: 0 });

    // The server comes back; both couriers run rounds at the same time until the queue
    // is empty.
    let server = smtp::Server::start(port);
    clock.advance(1_000);
    let mut rounds = 0;
    loop {
        let (x, y) = tokio::join!(
            tokio::spawn({
                let c = courier_a.clone();
                async move { c.run_once().await.unwrap() }
            }),
            tokio::spawn({
                let c = courier_b.clone();
                async move { c.run_once().await.unwrap() }
            }),
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.lost_lease + y.lost_lease, 0);
        rounds += 1;
        if x.claimed + y.claimed == 0 {
            break;
        }
        assert!(rounds < 50, "the queue drains");
    }
    let messages = server.messages();
    let mut recipients: Vec<String> = messages
        .iter()
        .filter_map(|m| m.lines().find_map(|l| l.strip_prefix("X-RcptTo: ")).map(str::to_owned))
        .collect();
    recipients.sort();
    let mut expected: Vec<String> = (0..PEOPLE).map(|n| format!("person{n}@example.com")).collect();
    expected.push("ada@example.com".to_owned());
    expected.sort();
    assert_eq!(recipients, expected, "every message once, none twice");
    let invitation = messages.iter().find(|m| m.contains("X-RcptTo: ada@example.com")).unwrap();
    assert!(invitation.contains("/account/create?token="), "the link arrives");
    let done = b.counts().await.unwrap();
    assert_eq!(done, QueueCounts { queued: 0, sent: PEOPLE as u64 + 1, abandoned: 0 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_couriers_on_sqlite_deliver_mail_queued_while_smtp_was_down_exactly_once() {
    if !smtp::available() {
        return;
    }
    scenario(&crate::temp_sqlite().0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_couriers_on_postgres_deliver_mail_queued_while_smtp_was_down_exactly_once() {
    if !smtp::available() {
        return;
    }
    let Some(url) = crate::temp_postgres().await else { return };
    scenario(&url).await;
}
