//! Shared rate limits through the router: two instances over one store count sign-ins
//! from one address together, a refusal is the 429 page saying when to try again, and an
//! account's invitations are limited with nothing written past the limit.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use tenure_core::limits::{LimitKind, LimitPolicy, Rate};
use tenure_core::{ChangeStore, Policies, Ports};
use tenure_domain::Email;
use tenure_store_memory::MemoryDirectory;
use tenure_testkit::contract::manage::world;
use tenure_testkit::fakes::{
    CountingHasher, FixedClock, MemoryMailer, SequentialIds, SequentialSecrets,
};
use tenure_web::{RateLimits, Services, WebConfig};

use crate::{CORA, Client, Site, org};

const MINUTE: i64 = 60_000;

/// An instance of the service over `store`, with these shared limits and an in-process
/// filter too roomy to matter.
async fn instance(
    store: &Arc<MemoryDirectory>,
    clock: &Arc<FixedClock>,
    ids: &Arc<SequentialIds>,
    limits: LimitPolicy,
) -> Site {
    let mailer = Arc::new(MemoryMailer::default());
    let ports = Ports {
        directory: store.clone(),
        changes: store.clone(),
        accounts: store.clone(),
        sessions: store.clone(),
        limits: store.clone(),
        corterum: store.clone(),
        mail_queue: store.clone(),
        second_factors: store.clone(),
        vault: Arc::new(tenure_secrets_os::KeyVault::from_key(&[7; 32])),
        hasher: Arc::new(CountingHasher::with_cost(1)),
        secrets: Arc::new(SequentialSecrets::default()),
        mailer: mailer.clone(),
        clock: clock.clone(),
        ids: ids.clone(),
    };
    let mut config = WebConfig::new("http://127.0.0.1:3000");
    config.rate_limits = RateLimits { sign_in_per_minute: 1000, reset_per_minute: 1000 };
    let mut policies = Policies::at(&config.base_url);
    policies.limits = limits;
    let services = Services::wire(ports, policies).await.unwrap();
    Site {
        router: tenure_web::router(services.clone(), config),
        store: store.clone(),
        mailer,
        clock: clock.clone(),
        services,
        used_steps: std::sync::Mutex::default(),
    }
}

/// Invites Nina `n` into `organisation` as a data provider.
async fn invite(c: &mut Client<'_>, organisation: &str, n: u32) -> crate::Page {
    let (name, email) = (format!("Nina {n}"), format!("nina{n}@example.com"));
    c.get("/users/invite").await;
    let fields = [
        ("name", name.as_str()),
        ("email", email.as_str()),
        ("telephone", ""),
        ("organisation", organisation),
        ("role", "data_provider"),
    ];
    c.post("/users/invite/role", &fields).await
}

/// A store over the manage contract's world, where everyone has the test password.
async fn store() -> Arc<MemoryDirectory> {
    let store = Arc::new(MemoryDirectory::new(world()));
    let users = crate::world_ids(&store);
    crate::give_everyone_the_password(&*store, &users, &CountingHasher::with_cost(1)).await;
    store
}

async fn wrong_password(site: &Site) -> crate::Page {
    let mut c = Client::new(site);
    c.get("/account/sign-in").await;
    c.post("/account/sign-in", &[("email", CORA), ("password", "not the password")]).await
}

#[tokio::test]
async fn two_instances_count_one_addresss_sign_ins_together_and_say_when_to_try_again() {
    let store = store().await;
    let clock = Arc::new(FixedClock::at(1_800_000_000_000));
    let limits = LimitPolicy::default().with(LimitKind::SignInAddress, Some(Rate::per(3, MINUTE)));
    // Two instances, one store (ids from one sequence, as UUID v7 ids never collide).
    let ids = Arc::new(SequentialIds::default());
    let a = instance(&store, &clock, &ids, limits).await;
    let b = instance(&store, &clock, &ids, limits).await;
    for site in [&a, &b, &a] {
        let page = wrong_password(site).await;
        assert_eq!(page.status, StatusCode::OK, "a wrong password is the form again");
    }
    let page = wrong_password(&b).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "the fourth, on the other instance");
    assert_eq!(page.headers.get(header::RETRY_AFTER).unwrap(), "20");
    assert!(page.body.contains("Try again in 20 seconds."), "{}", page.body);
    assert!(page.body.contains("Nothing was changed."));
    // 3 a minute is one every 20 seconds: on time, one more attempt gets through.
    clock.advance(20_000);
    assert_eq!(wrong_password(&a).await.status, StatusCode::OK);
    assert_eq!(wrong_password(&b).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_accounts_invitations_are_limited_and_nothing_is_written_past_the_limit() {
    let store = store().await;
    let clock = Arc::new(FixedClock::at(1_800_000_000_000));
    let limits =
        LimitPolicy::default().with(LimitKind::InvitationAccount, Some(Rate::per(2, 60 * MINUTE)));
    let site = instance(&store, &clock, &Arc::default(), limits).await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let alpha = org(1);
    assert_eq!(invite(&mut cora, &alpha, 1).await.status, StatusCode::SEE_OTHER);
    assert_eq!(invite(&mut cora, &alpha, 2).await.status, StatusCode::SEE_OTHER);
    let page = invite(&mut cora, &alpha, 3).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(page.headers.get(header::RETRY_AFTER).unwrap(), "1800");
    assert!(page.body.contains("Try again in 30 minutes."), "{}", page.body);
    let nina3 = Email::parse("nina3@example.com").unwrap();
    assert!(store.user_by_email(&nina3).await.unwrap().is_none(), "nothing written");
    assert_eq!(site.mailer.sent().len(), 2, "two invitations sent, not three");
    clock.advance(30 * MINUTE);
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let page = invite(&mut cora, &alpha, 3).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "half an hour later");
}
