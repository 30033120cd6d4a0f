//! The `AccountStore` contract, and sign-in through the `Accounts` service on top of it:
//! generic refusals, one password check in every branch, lockout by the clock, case
//! variants sharing one counter, rehashing, and atomic counting under concurrency.

use std::future::Future;
use std::sync::Arc;

use tenure_core::{
    AccountStore, Accounts, AuditDetail, AuditEvent, AuditName, Clock, LockoutPolicy, Outcome,
    SignInError, Timestamp,
};
use tenure_domain::role::builtin::DATA_PROVIDER;
use tenure_domain::{Email, Name, OrgId, Organisation, User, UserId, World};
use uuid::Uuid;

use crate::fakes::{CountingHasher, FixedClock, SequentialIds};

const PASSWORD: &str = "quiet river lantern";

/// Alpha (active) with alice, bob (deactivated) and nopass (never set a password); Xray
/// (deactivated) with xena.
pub fn world() -> World {
    let mut w = World::new();
    let org = |n: u128, name: &str, active: bool| {
        let mut o = Organisation::new(
            OrgId::from_uuid(Uuid::from_u128(n)),
            Name::parse(name).expect("name"),
        );
        o.active = active;
        o
    };
    w.insert_organisation(org(1, "Alpha", true)).expect("org");
    w.insert_organisation(org(2, "Xray", false)).expect("org");
    for (n, key, o, active) in [
        (10, "alice", 1, true),
        (11, "bob", 1, false),
        (12, "nopass", 1, true),
        (13, "xena", 2, true),
    ] {
        let email = Email::parse(&format!("{key}@example.com")).expect("email");
        let mut u = User::new(
            user(n),
            Name::parse(key).expect("name"),
            email,
            OrgId::from_uuid(Uuid::from_u128(o)),
            vec![DATA_PROVIDER],
        );
        u.active = active;
        w.upsert_user(u).expect("user");
    }
    w
}

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}
const ALICE: u128 = 10;
const BOB: u128 = 11;

fn email(s: &str) -> Email {
    Email::parse(s).expect("email")
}

fn event(n: u128, name: AuditName, who: UserId) -> AuditEvent {
    AuditEvent {
        id: Uuid::from_u128(0xE000 + n),
        at: Timestamp(n as i64),
        actor: Some(who),
        name,
        outcome: Outcome::Failure,
        target_user: Some(who),
        organisation: None,
        detail: AuditDetail::Empty,
        origin: None,
    }
}

/// The store on its own.
///
/// # Panics
/// On the first broken promise.
pub async fn account_store<F, Fut>(make: F)
where
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<dyn AccountStore>>,
{
    let store = make(world()).await;
    assert!(store.sign_in_record(&email("nobody@example.com")).await.expect("read").is_none());
    let alice =
        store.sign_in_record(&email("alice@example.com")).await.expect("read").expect("alice");
    assert_eq!(
        (alice.user, alice.password_hash.as_deref(), alice.active),
        (user(ALICE), None, true)
    );
    assert!(
        !store.sign_in_record(&email("bob@example.com")).await.expect("read").expect("bob").active
    );
    assert!(
        !store
            .sign_in_record(&email("xena@example.com"))
            .await
            .expect("read")
            .expect("xena")
            .active,
        "deactivated organisation"
    );

    store
        .set_password(
            user(ALICE),
            "h1".to_owned(),
            event(1, AuditName::PasswordChange, user(ALICE)),
        )
        .await
        .expect("set");
    let a = store.sign_in_record(&email("alice@example.com")).await.expect("read").expect("alice");
    assert_eq!(
        (a.password_hash.as_deref(), a.failed_attempts, a.locked_until),
        (Some("h1"), 0, None)
    );

    let mut n = 10;
    let mut fail = |store: Arc<dyn AccountStore>| {
        n += 2;
        let (e, l) = (
            event(n, AuditName::LoginFail, user(ALICE)),
            event(n + 1, AuditName::LoginLock, user(ALICE)),
        );
        async move { store.record_failure(user(ALICE), 3, Timestamp(99), e, l).await.expect("fail") }
    };
    assert_eq!(fail(store.clone()).await.failed_attempts, 1);
    assert_eq!(fail(store.clone()).await.failed_attempts, 2);
    let third = fail(store.clone()).await;
    assert!(third.locked && third.failed_attempts == 0);
    let a = store.sign_in_record(&email("alice@example.com")).await.expect("read").expect("alice");
    assert_eq!(a.locked_until, Some(Timestamp(99)));

    store
        .record_success(
            user(ALICE),
            Some("h2".to_owned()),
            event(50, AuditName::LoginSuccess, user(ALICE)),
        )
        .await
        .expect("ok");
    let a = store.sign_in_record(&email("alice@example.com")).await.expect("read").expect("alice");
    assert_eq!(
        (a.password_hash.as_deref(), a.failed_attempts, a.locked_until),
        (Some("h2"), 0, None)
    );

    // Counting is atomic: 50 concurrent failures count 50.
    let mut tasks = Vec::new();
    for i in 0..50u128 {
        let store = store.clone();
        tasks.push(async move {
            let (e, l) = (
                event(100 + 2 * i, AuditName::LoginFail, user(ALICE)),
                event(101 + 2 * i, AuditName::LoginLock, user(ALICE)),
            );
            store.record_failure(user(ALICE), 1_000, Timestamp(0), e, l).await.expect("fail")
        });
    }
    for task in tasks {
        task.await;
    }
    let a = store.sign_in_record(&email("alice@example.com")).await.expect("read").expect("alice");
    assert_eq!(a.failed_attempts, 50);

    // Every change came with its audit entry, in order.
    let trail = store.audit_for_user(user(ALICE)).await.expect("audit");
    assert_eq!(trail.len(), 1 + 3 + 1 + 1 + 50);
    assert_eq!(trail[0].name, AuditName::PasswordChange);
    assert_eq!(
        trail[4].name,
        AuditName::LoginLock,
        "the lock is audited right after the failure that caused it"
    );

    // A password for a user who does not exist is refused, with nothing kept.
    let ghost = user(999);
    assert!(
        store
            .set_password(ghost, "h".to_owned(), event(900, AuditName::PasswordChange, ghost))
            .await
            .is_err()
    );
    assert!(store.audit_for_user(ghost).await.expect("audit").is_empty());
}

/// Sign-in through the service.
///
/// # Panics
/// On the first broken promise.
pub async fn sign_in<F, Fut>(make: F)
where
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<dyn AccountStore>>,
{
    let store = make(world()).await;
    let clock = Arc::new(FixedClock::at(1_000_000));
    let hasher = Arc::new(CountingHasher::with_cost(2));
    let policy = LockoutPolicy { lock_after: 5, lock_for_ms: 3_600_000 };
    let accounts = Accounts::new(
        store.clone(),
        hasher.clone(),
        clock.clone(),
        Arc::new(SequentialIds::default()),
        policy,
    );
    let set = |n: u128, who: u128, hash: String| {
        let store = store.clone();
        async move {
            store
                .set_password(user(who), hash, event(n, AuditName::PasswordChange, user(who)))
                .await
                .expect("set")
        }
    };
    set(1, ALICE, hasher.hash_of(PASSWORD)).await;
    set(2, BOB, hasher.hash_of(PASSWORD)).await;

    // Every refusal looks the same and costs exactly one check.
    let mut checks = hasher.verifies();
    let mut expect = |result: Result<UserId, SignInError>, ok: Option<u128>, why: &str| {
        match (result, ok) {
            (Ok(u), Some(n)) => assert_eq!(u, user(n), "{why}"),
            (Err(SignInError::Refused), None) => {}
            (other, _) => panic!("{why}: unexpected {other:?}"),
        }
        assert_eq!(hasher.verifies(), checks + 1, "{why}: exactly one password check");
        checks += 1;
    };
    expect(accounts.sign_in("alice@example.com", PASSWORD).await, Some(ALICE), "right password");
    expect(accounts.sign_in("nobody@example.com", PASSWORD).await, None, "unknown email");
    expect(accounts.sign_in("not an email", PASSWORD).await, None, "malformed email");
    expect(accounts.sign_in("bob@example.com", PASSWORD).await, None, "deactivated user");
    expect(accounts.sign_in("xena@example.com", PASSWORD).await, None, "deactivated organisation");
    expect(accounts.sign_in("nopass@example.com", "").await, None, "no password set yet");
    expect(
        accounts.sign_in("alice@example.com", "wrong wrong wrong").await,
        None,
        "wrong password",
    );
    assert_eq!(SignInError::Refused.to_string(), "enter a correct email address and password");

    // Four more failures (five in all) lock; case variants share the counter.
    for variant in
        ["ALICE@example.com", " alice@EXAMPLE.com", "Alice@Example.Com", "alice@example.com "]
    {
        expect(
            accounts.sign_in(variant, "wrong wrong wrong").await,
            None,
            "wrong password, case variant",
        );
    }
    expect(
        accounts.sign_in("alice@example.com", PASSWORD).await,
        None,
        "locked: even the right password is refused",
    );
    for _ in 0..10 {
        expect(accounts.sign_in("alice@example.com", "wrong wrong wrong").await, None, "locked");
    }
    clock.advance(3_600_000 - 1);
    expect(
        accounts.sign_in("alice@example.com", PASSWORD).await,
        None,
        "a millisecond before the lock ends",
    );
    clock.advance(1);
    // Failures while locked were not counted, so the lock ends cleanly.
    expect(
        accounts.sign_in("alice@example.com", PASSWORD).await,
        Some(ALICE),
        "the lock has ended",
    );

    // A success clears the count: four failures, a success, four more do not lock.
    for _ in 0..4 {
        expect(accounts.sign_in("alice@example.com", "wrong wrong wrong").await, None, "failure");
    }
    expect(
        accounts.sign_in("alice@example.com", PASSWORD).await,
        Some(ALICE),
        "success clears the count",
    );
    for _ in 0..4 {
        expect(accounts.sign_in("alice@example.com", "wrong wrong wrong").await, None, "failure");
    }
    expect(accounts.sign_in("alice@example.com", PASSWORD).await, Some(ALICE), "still not locked");

    // A hash with old parameters is replaced at the next sign-in.
    set(3, ALICE, CountingHasher::with_cost(1).hash_of(PASSWORD)).await;
    let hashes = hasher.hashes();
    expect(
        accounts.sign_in("alice@example.com", PASSWORD).await,
        Some(ALICE),
        "old hash still verifies",
    );
    assert_eq!(hasher.hashes(), hashes + 1, "and is rehashed");
    let record =
        store.sign_in_record(&email("alice@example.com")).await.expect("read").expect("alice");
    assert_eq!(record.password_hash, Some(hasher.hash_of(PASSWORD)));

    // At capacity: the same "busy" for every account, real or not, and nothing counted.
    let before = store.audit_for_user(user(ALICE)).await.expect("audit").len();
    hasher.set_busy(true);
    for typed in ["alice@example.com", "nobody@example.com", "bob@example.com", "xena@example.com"]
    {
        for _ in 0..6 {
            assert!(
                matches!(
                    accounts.sign_in(typed, "wrong wrong wrong").await,
                    Err(SignInError::Busy)
                ),
                "{typed}"
            );
        }
    }
    hasher.set_busy(false);
    assert_eq!(store.audit_for_user(user(ALICE)).await.expect("audit").len(), before);
    expect(
        accounts.sign_in("alice@example.com", PASSWORD).await,
        Some(ALICE),
        "not locked by busy refusals",
    );

    // The trail tells the story, and holds no password.
    let trail = store.audit_for_user(user(ALICE)).await.expect("audit");
    let names: Vec<&str> = trail.iter().map(|e| e.name.as_str()).collect();
    assert!(names.contains(&"authn_login_lock"));
    assert_eq!(names.iter().filter(|n| **n == "authn_login_success").count(), 6);
    assert!(
        trail
            .iter()
            .map(|e| e.detail.to_string())
            .all(|d| !d.contains(PASSWORD) && !d.contains("wrong wrong")),
        "{trail:?}"
    );
    let sign_ins = trail.iter().filter(|e| e.name != AuditName::PasswordChange);
    assert!(sign_ins.clone().all(|e| e.at.0 >= 1_000_000), "times come from the clock");
    assert_eq!(sign_ins.clone().next_back().map(|e| e.at), Some(clock.now()));
}

/// Password resets through the service: the same answer whatever was typed, links that
/// are stored only as digests, work once, die after 3 hours or when replaced, refuse weak
/// passwords without being used up, unlock a locked account, are rate-limited per account
/// (by the store's shared limits), and of 20 concurrent uses exactly one wins.
///
/// # Panics
/// On the first broken promise.
pub async fn reset<S, F, Fut>(make: F)
where
    S: AccountStore + tenure_core::MailQueue + tenure_core::limits::LimitStore,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    use crate::fakes::{MemoryMailer, SequentialSecrets};
    use tenure_core::limits::{LimitPolicy, Limits};
    use tenure_core::{ResetError, ResetPolicy};

    let store = make(world()).await;
    let clock = Arc::new(FixedClock::at(5_000_000));
    let hasher = Arc::new(CountingHasher::with_cost(2));
    let mailer = Arc::new(MemoryMailer::default());
    let policy =
        ResetPolicy { base_url: "https://tenure.example/".to_owned(), ..ResetPolicy::default() };
    let accounts = Accounts::new(
        store.clone(),
        hasher.clone(),
        clock.clone(),
        Arc::new(SequentialIds::default()),
        LockoutPolicy::default(),
    )
    .with_resets(
        Arc::new(SequentialSecrets::default()),
        crate::fakes::courier(store.clone(), mailer.clone(), clock.clone()),
        policy,
    )
    .with_limits(Limits::new(store.clone(), clock.clone(), LimitPolicy::default()));
    store
        .set_password(
            user(ALICE),
            hasher.hash_of(PASSWORD),
            event(1, AuditName::PasswordChange, user(ALICE)),
        )
        .await
        .expect("set");

    // The same answer whatever was typed; mail only for an active account.
    for typed in ["nobody@example.com", "not an email", "bob@example.com", "xena@example.com"] {
        accounts.request_reset(typed).await.expect("same answer");
    }
    assert!(mailer.sent().is_empty(), "no mail for unknown or deactivated accounts");
    accounts.request_reset(" ALICE@example.com").await.expect("same answer");
    let sent = mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "Reset your password");
    assert!(
        sent[0].text.contains("https://tenure.example/account/reset-password?token=token-1"),
        "{}",
        sent[0].text
    );
    let first = mailer.last_token_for("alice@example.com").expect("a link");
    // Storage holds the digest, not the token.
    assert!(store.reset_holder(&first, clock.now()).await.expect("read").is_none());
    assert!(
        store.reset_holder(&format!("digest({first})"), clock.now()).await.expect("read").is_some()
    );

    // A newer link replaces the older.
    accounts.request_reset("alice@example.com").await.expect("same answer");
    let second = mailer.last_token_for("alice@example.com").expect("a link");
    assert_ne!(first, second);
    assert!(matches!(
        accounts.reset_password(&first, "brand new passphrase here").await,
        Err(ResetError::LinkInvalid)
    ));

    // A refused password leaves the link usable, and says why.
    match accounts.reset_password(&second, "short").await {
        Err(ResetError::Password(e)) => assert!(e.to_string().contains("at least 15 characters")),
        other => panic!("expected a password error, got {other:?}"),
    }
    assert!(matches!(
        accounts.reset_password(&second, "alice example passphrase").await,
        Err(ResetError::Password(_))
    ));

    // Lock the account, then reset: the reset unlocks it, and the old password stops working.
    for _ in 0..5 {
        let _ = accounts.sign_in("alice@example.com", "wrong wrong wrong").await;
    }
    assert!(accounts.sign_in("alice@example.com", PASSWORD).await.is_err(), "locked");
    // The link expires 3 hours after it was issued: valid a millisecond before.
    clock.advance(3 * 60 * 60 * 1000 - 1);
    assert_eq!(
        accounts.reset_password(&second, "brand new passphrase here").await.expect("reset"),
        user(ALICE)
    );
    assert_eq!(
        accounts.sign_in("alice@example.com", "brand new passphrase here").await.expect("unlocked"),
        user(ALICE)
    );
    assert!(
        accounts.sign_in("alice@example.com", PASSWORD).await.is_err(),
        "the old password is gone"
    );
    // Single use.
    assert!(matches!(
        accounts.reset_password(&second, "another passphrase here").await,
        Err(ResetError::LinkInvalid)
    ));

    // Exactly at 3 hours a link is dead, and the password is unchanged.
    accounts.request_reset("alice@example.com").await.expect("same answer");
    let third = mailer.last_token_for("alice@example.com").expect("a link");
    clock.advance(3 * 60 * 60 * 1000);
    assert!(matches!(
        accounts.reset_password(&third, "another passphrase here").await,
        Err(ResetError::LinkInvalid)
    ));
    assert!(accounts.sign_in("alice@example.com", "brand new passphrase here").await.is_ok());
    assert_eq!(
        ResetError::LinkInvalid.to_string(),
        "this link has expired or has already been used; request a new one"
    );

    // Rate limit, 3 an hour per account: 3 links at once, then one every 20 minutes;
    // past it the same answer and no mail.
    let before = mailer.sent().len();
    for _ in 0..5 {
        accounts.request_reset("alice@example.com").await.expect("same answer");
    }
    assert_eq!(mailer.sent().len(), before + 3);
    clock.advance(20 * 60 * 1000 - 1);
    accounts.request_reset("alice@example.com").await.expect("same answer");
    assert_eq!(mailer.sent().len(), before + 3, "a millisecond early");
    clock.advance(1);
    accounts.request_reset("alice@example.com").await.expect("same answer");
    assert_eq!(mailer.sent().len(), before + 4, "20 minutes later, one more link");
    accounts.request_reset("alice@example.com").await.expect("same answer");
    assert_eq!(mailer.sent().len(), before + 4, "and only one");

    // Twenty concurrent uses of one link: exactly one wins.
    let last = mailer.last_token_for("alice@example.com").expect("a link");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let accounts = accounts.clone();
        let token = last.clone();
        tasks.push(async move {
            accounts.reset_password(&token, &format!("concurrent passphrase number {i}")).await
        });
    }
    let mut wins = 0;
    for task in tasks {
        match task.await {
            Ok(_) => wins += 1,
            Err(ResetError::LinkInvalid) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1, "exactly one use of a link succeeds");

    // The trail tells the story, and holds no token or password.
    let trail = store.audit_for_user(user(ALICE)).await.expect("audit");
    assert_eq!(trail.iter().filter(|e| e.name == AuditName::ResetComplete).count(), 2);
    assert!(
        trail
            .iter()
            .map(|e| e.detail.to_string())
            .all(|d| !d.contains("token-") && !d.contains("passphrase"))
    );
}

/// Changing one's own password: the current one is required and a wrong one counts like
/// a failed sign-in; the new one meets the policy; the change is audited.
///
/// # Panics
/// On the first broken promise.
pub async fn change_password<F, Fut>(make: F)
where
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<dyn AccountStore>>,
{
    use tenure_core::ChangePasswordError;
    use tenure_domain::PasswordPolicy;

    let store = make(world()).await;
    let hasher = Arc::new(CountingHasher::with_cost(2));
    let clock = Arc::new(FixedClock::at(9_000_000));
    let accounts = Accounts::new(
        store.clone(),
        hasher.clone(),
        clock.clone(),
        Arc::new(SequentialIds::default()),
        LockoutPolicy::default(),
    );
    store
        .set_password(
            user(ALICE),
            hasher.hash_of(PASSWORD),
            event(1, AuditName::PasswordChange, user(ALICE)),
        )
        .await
        .expect("set");
    let policy = PasswordPolicy::default();

    let checks = hasher.verifies();
    let unknown =
        accounts.change_password(user(999), PASSWORD, "a brand new passphrase", &policy).await;
    assert!(matches!(unknown, Err(ChangePasswordError::CurrentIncorrect)));
    assert_eq!(hasher.verifies(), checks + 1, "an unknown user costs one check too");

    let wrong = accounts
        .change_password(user(ALICE), "not my password", "a brand new passphrase", &policy)
        .await;
    assert!(matches!(wrong, Err(ChangePasswordError::CurrentIncorrect)));
    let record =
        store.sign_in_record(&email("alice@example.com")).await.expect("read").expect("alice");
    assert_eq!(record.failed_attempts, 1, "a wrong current password counts towards the lockout");

    match accounts.change_password(user(ALICE), PASSWORD, "alice@example.com 2026", &policy).await {
        Err(ChangePasswordError::Password(e)) => {
            assert!(e.to_string().contains("contains your name"))
        }
        other => panic!("expected a policy refusal, got {other:?}"),
    }
    let record =
        store.sign_in_record(&email("alice@example.com")).await.expect("read").expect("alice");
    assert_eq!(
        record.password_hash,
        Some(hasher.hash_of(PASSWORD)),
        "a refused change changes nothing"
    );

    accounts
        .change_password(user(ALICE), PASSWORD, "a brand new passphrase", &policy)
        .await
        .expect("changed");
    assert_eq!(
        accounts.sign_in("alice@example.com", "a brand new passphrase").await.expect("new works"),
        user(ALICE)
    );
    assert!(accounts.sign_in("alice@example.com", PASSWORD).await.is_err(), "the old one does not");
    let trail = store.audit_for_user(user(ALICE)).await.expect("audit");
    assert_eq!(
        trail.iter().filter(|e| e.name == AuditName::PasswordChange && e.at == clock.now()).count(),
        1
    );

    // While locked, even the right current password is refused.
    for _ in 0..5 {
        let _ = accounts.sign_in("alice@example.com", "wrong wrong wrong").await;
    }
    let locked = accounts
        .change_password(user(ALICE), "a brand new passphrase", "another new passphrase", &policy)
        .await;
    assert!(matches!(locked, Err(ChangePasswordError::CurrentIncorrect)));
    assert_eq!(
        ChangePasswordError::CurrentIncorrect.to_string(),
        "your current password is incorrect"
    );
}
