//! The second-factor contract, through the `SecondFactors` service with the fake clock
//! and the real vault: set-up, codes at the window's edges, drift, replay, the lockout
//! shared with passwords, recovery codes used once and replaced, secrets unreadable
//! without the key, who must set one up, removal (own and an administrator's), and recent
//! sign-in. Every store runs it.

use std::future::Future;
use std::sync::Arc;

use tenure_core::second_factor::totp::{STEP_SECONDS, Totp};
use tenure_core::{
    AccountStore, Accounts, AuditName, CodeError, Live, LockoutPolicy, ManageError,
    SecondFactorPorts, SecondFactorStore, SecondFactors, SessionPolicy, SessionStage, SessionStore,
    Sessions, SetupError, Timestamp, Vault,
};
use tenure_domain::second_factor::Step;
use tenure_domain::{DenyReason, UserId, World};
use tenure_secrets_os::KeyVault;

use crate::contract::manage::{self, FullStore};
use crate::fakes::{CountingHasher, FixedClock, MemoryMailer, SequentialIds, SequentialSecrets};

/// What the suite needs of a store.
pub trait SecondFactorFullStore: FullStore + SecondFactorStore {}
impl<T: FullStore + SecondFactorStore> SecondFactorFullStore for T {}

const PASSWORD: &str = "correct horse battery staple";
/// A moment a whole number of steps from the epoch, plus a second.
const START: i64 = 1_800_000_000_000 + 1_000; // 1_800_000_000_000 is a multiple of 30_000: a step starts there
const STEP_MS: i64 = 30_000;

fn uid(n: u128) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(100 + n))
}
const ADA: u128 = 1;
const CORA: u128 = 2;
const PETE: u128 = 4;
const CAT: u128 = 6;

struct Harness<S> {
    store: Arc<S>,
    service: SecondFactors,
    accounts: Accounts,
    sessions: Sessions,
    clock: Arc<FixedClock>,
    mailer: Arc<MemoryMailer>,
    vault: Arc<KeyVault>,
}

async fn harness<S: SecondFactorFullStore>(store: Arc<S>) -> Harness<S> {
    let clock = Arc::new(FixedClock::at(START));
    let mailer = Arc::new(MemoryMailer::default());
    let ids = Arc::new(SequentialIds::default());
    let secrets = Arc::new(SequentialSecrets::default());
    let hasher = Arc::new(CountingHasher::with_cost(2));
    let vault = Arc::new(KeyVault::from_key(&[42; 32]));
    let courier = crate::fakes::courier(store.clone(), mailer.clone(), clock.clone());
    let sessions = Sessions::new(
        store.clone(),
        secrets.clone(),
        clock.clone(),
        ids.clone(),
        SessionPolicy::default(),
    );
    let lockout = LockoutPolicy::default();
    let accounts =
        Accounts::new(store.clone(), hasher.clone(), clock.clone(), ids.clone(), lockout);
    let service = SecondFactors::new(
        SecondFactorPorts {
            store: store.clone(),
            accounts: store.clone(),
            directory: store.clone(),
            changes: store.clone(),
            vault: vault.clone(),
            secrets,
            courier,
            clock: clock.clone(),
            ids: ids.clone(),
        },
        sessions.clone(),
        lockout,
    );
    for n in [ADA, CORA, PETE, CAT] {
        let audit = tenure_core::AuditEvent {
            id: uuid::Uuid::from_u128(9_000 + n),
            at: Timestamp(START),
            actor: Some(uid(n)),
            name: AuditName::PasswordChange,
            outcome: tenure_core::Outcome::Success,
            target_user: Some(uid(n)),
            organisation: None,
            detail: tenure_core::AuditDetail::Empty,
            origin: None,
        };
        AccountStore::set_password(&*store, uid(n), hasher.hash_of(PASSWORD), audit)
            .await
            .expect("password");
    }
    Harness { store, service, accounts, sessions, clock, mailer, vault }
}

impl<S: SecondFactorFullStore> Harness<S> {
    async fn live(&self, token: &str) -> Live {
        self.sessions.resume(token).await.expect("resume").expect("live session")
    }

    /// Signs in with the password and starts the session the engine says.
    async fn password(&self, n: u128) -> (Live, Step) {
        let email =
            format!("{}@example.com", ["", "ada", "cora", "", "pete", "", "cat"][n as usize]);
        let user = self.accounts.sign_in(&email, PASSWORD).await.expect("password");
        let (token, step) = self.service.start_session(user).await.expect("session");
        (self.live(&token).await, step)
    }

    /// Sets up an authenticator app for `n`; returns its TOTP and recovery codes.
    async fn set_up(&self, live: &Live) -> (Totp, Vec<String>, Option<String>) {
        let start = self.service.begin_setup(live.user).await.expect("begin");
        assert!(start.uri.starts_with("otpauth://totp/Tenure:"), "{}", start.uri);
        assert!(start.uri.contains(&format!("secret={}", start.secret)));
        let totp = Totp::new(&decode_base32(&start.secret)).expect("secret");
        let code = totp.code_at(self.clock_now()).expect("code");
        let done = self.service.confirm_setup(live, &code).await.expect("confirm");
        (totp, done.recovery_codes.0, done.token)
    }

    fn clock_now(&self) -> Timestamp {
        tenure_core::Clock::now(&*self.clock)
    }

    fn code(&self, totp: &Totp, steps: i64) -> String {
        totp.code_at(Timestamp(self.clock_now().0 + steps * STEP_MS)).expect("code")
    }

    async fn failed_attempts(&self, n: u128) -> u32 {
        let email = tenure_domain::Email::parse(&format!(
            "{}@example.com",
            ["", "ada", "cora", "", "pete", "", "cat"][n as usize]
        ))
        .expect("email");
        self.store.sign_in_record(&email).await.expect("read").expect("record").failed_attempts
    }

    fn subjects_to(&self, to: &str) -> Vec<String> {
        self.mailer.sent().into_iter().filter(|m| m.to.as_str() == to).map(|m| m.subject).collect()
    }
}

fn decode_base32(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u32, 0, Vec::new());
    for c in s.bytes() {
        let v = alphabet.iter().position(|a| *a == c).expect("base32") as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// Runs every case, each on a fresh store made from [`manage::world`].
pub async fn second_factors<S, F, Fut>(make: F)
where
    S: SecondFactorFullStore,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    set_up_and_sign_in(harness(make(manage::world()).await).await).await;
    window_edges_drift_and_replay(harness(make(manage::world()).await).await).await;
    lockout_shared_with_passwords(harness(make(manage::world()).await).await).await;
    recovery_codes(harness(make(manage::world()).await).await).await;
    removal(harness(make(manage::world()).await).await).await;
    recent_sign_in(harness(make(manage::world()).await).await).await;
}

/// An administrator's role requires a second factor: after the password she must set one
/// up, reaching nothing else; setting up signs her in under a fresh id, emails her, and
/// stores the secret sealed (unreadable without the key, and bound to her). A data
/// coordinator's does not: she is signed in at once.
async fn set_up_and_sign_in<S: SecondFactorFullStore>(h: Harness<S>) {
    let (cora, step) = h.password(CORA).await;
    assert_eq!(step, Step::Done);
    assert_eq!(cora.stage, SessionStage::SignedIn);

    let (ada, step) = h.password(ADA).await;
    assert_eq!(step, Step::SetUp(tenure_domain::role::builtin::ADMINISTRATOR));
    assert_eq!(ada.stage, SessionStage::MustSetUp);
    assert!(!ada.stage.is_signed_in() && !h.sessions.is_recent(&ada));

    // A wrong code does not finish it; nothing is in force until a right one.
    h.service.begin_setup(uid(ADA)).await.expect("begin");
    assert!(matches!(
        h.service.confirm_setup(&ada, "000000").await,
        Err(SetupError::Incorrect | SetupError::NotStarted)
    ));
    let (totp, codes, token) = h.set_up(&ada).await;
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() == 27), "{codes:?}");
    let token = token.expect("a fresh session");
    let signed_in = h.live(&token).await;
    assert_eq!(signed_in.stage, SessionStage::SignedIn);
    assert_ne!(signed_in.digest, ada.digest, "a fresh id");
    assert!(
        SessionStore::session(&*h.store, &ada.digest).await.expect("read").is_none(),
        "the old id is dead"
    );
    assert!(matches!(h.service.begin_setup(uid(ADA)).await, Err(SetupError::AlreadySetUp)));
    assert_eq!(h.subjects_to("ada@example.com"), ["You have set up an authenticator app"]);

    // The secret at rest is sealed: the bytes are not the secret, another key cannot
    // open them, and they do not open as someone else's.
    let stored = h.store.second_factor(uid(ADA)).await.expect("read").expect("factor");
    let context = uid(ADA).to_string();
    let secret = h.vault.open(&stored.sealed_secret, context.as_bytes()).expect("opens");
    assert_eq!(secret.len(), 20);
    assert!(!stored.sealed_secret.windows(secret.len()).any(|w| w == secret.as_slice()));
    let other = KeyVault::from_key(&[43; 32]);
    assert!(other.open(&stored.sealed_secret, context.as_bytes()).is_err());
    assert!(h.vault.open(&stored.sealed_secret, uid(CORA).to_string().as_bytes()).is_err());
    assert_eq!(h.service.status(uid(ADA)).await.expect("status").recovery_codes_left, 10);

    // Signing in again asks for the code; the code signs her in under a fresh id.
    h.clock.advance(STEP_MS);
    let (ada, step) = h.password(ADA).await;
    assert_eq!(step, Step::Code);
    assert_eq!(ada.stage, SessionStage::AwaitingCode);
    let token = h.service.verify_sign_in(&ada, &h.code(&totp, 0)).await.expect("code");
    assert_eq!(h.live(&token).await.stage, SessionStage::SignedIn);
    // A signed-in session is not waiting for a code.
    let again = h.live(&token).await;
    assert!(matches!(
        h.service.verify_sign_in(&again, &h.code(&totp, 1)).await,
        Err(CodeError::Incorrect)
    ));
}

/// Codes of the step before and after are accepted (one step of drift), two steps away
/// are not; each step is used once, and a step before one used is refused too.
async fn window_edges_drift_and_replay<S: SecondFactorFullStore>(h: Harness<S>) {
    let (cora, _) = h.password(CORA).await;
    let (totp, _, _) = h.set_up(&cora).await;
    let sign_in_with = async |steps: i64| {
        let (live, _) = h.password(CORA).await;
        h.service.verify_sign_in(&live, &h.code(&totp, steps)).await.is_ok()
    };
    // The set-up used this step; move to the last millisecond of a later step.
    h.clock.advance(3 * STEP_MS - 1_000 + (STEP_MS - 1));
    assert!(!sign_in_with(-2).await, "two steps back");
    assert!(!sign_in_with(2).await, "two steps ahead");
    assert!(sign_in_with(-1).await, "one step back");
    assert!(!sign_in_with(-1).await, "the same code again");
    assert!(sign_in_with(1).await, "one step ahead");
    assert!(!sign_in_with(0).await, "a step before one used");
    assert!(!sign_in_with(1).await, "replayed within its window");
    // One millisecond later a new step starts: its code works once.
    h.clock.advance(1);
    assert!(!sign_in_with(0).await, "the step used as 'ahead' is now current and used");
    h.clock.advance(STEP_MS);
    assert!(sign_in_with(0).await, "a fresh step");
    assert_eq!(u64::try_from(STEP_MS / 1000).ok(), Some(STEP_SECONDS));
}

/// Wrong passwords and wrong codes fill one count: three and two lock the account, and
/// then even the right code is refused, with the same answer, until the lock ends.
async fn lockout_shared_with_passwords<S: SecondFactorFullStore>(h: Harness<S>) {
    let (cora, _) = h.password(CORA).await;
    let (totp, _, _) = h.set_up(&cora).await;
    h.clock.advance(STEP_MS);
    for _ in 0..3 {
        assert!(h.accounts.sign_in("cora@example.com", "wrong password entirely").await.is_err());
    }
    assert_eq!(h.failed_attempts(CORA).await, 3);
    let (live, _) = h.password(CORA).await;
    assert_eq!(h.failed_attempts(CORA).await, 0, "a right password clears the count");
    for _ in 0..3 {
        assert!(h.accounts.sign_in("cora@example.com", "wrong password entirely").await.is_err());
    }
    assert!(matches!(h.service.verify_sign_in(&live, "111111").await, Err(CodeError::Incorrect)));
    assert_eq!(h.failed_attempts(CORA).await, 4, "a wrong code counts like a password");
    let wrong_recovery = "aaaaaa-aaaaaa-aaaaaa-aaaaaa";
    assert!(h.service.verify_sign_in(&live, wrong_recovery).await.is_err());
    let right = h.code(&totp, 0);
    assert!(
        matches!(h.service.verify_sign_in(&live, &right).await, Err(CodeError::Incorrect)),
        "locked: the right code is refused"
    );
    let audit = h.store.audit_for_user(uid(CORA)).await.expect("audit");
    assert!(audit.iter().any(|e| e.name == AuditName::LoginLock));
    h.clock.advance(LockoutPolicy::default().lock_for_ms);
    let (live, _) = h.password(CORA).await;
    let token = h.service.verify_sign_in(&live, &h.code(&totp, 0)).await.expect("unlocked");
    assert!(h.live(&token).await.stage.is_signed_in());
}

/// A recovery code signs in once (audited, emailed with the count left); a new set
/// replaces the old, whose unused codes stop working.
async fn recovery_codes<S: SecondFactorFullStore>(h: Harness<S>) {
    let (pete, _) = h.password(PETE).await;
    let (totp, codes, _) = h.set_up(&pete).await;
    let (live, _) = h.password(PETE).await;
    let typed = codes[0].to_uppercase().replace('-', " ");
    h.service.verify_sign_in(&live, &typed).await.expect("recovery code");
    let (live, _) = h.password(PETE).await;
    assert!(h.service.verify_sign_in(&live, &codes[0]).await.is_err(), "used once");
    assert_eq!(h.service.status(uid(PETE)).await.expect("status").recovery_codes_left, 9);
    assert!(
        h.subjects_to("pete@example.com")
            .contains(&"A recovery code was used to sign in".to_owned())
    );
    let body = h
        .mailer
        .sent()
        .into_iter()
        .find(|m| m.subject == "A recovery code was used to sign in")
        .expect("notice");
    assert!(body.text.contains("9 unused recovery codes"), "{}", body.text);
    assert!(!codes.iter().any(|c| body.text.contains(c.as_str())), "no code in the notice");
    let audit = h.store.audit_for_user(uid(PETE)).await.expect("audit");
    assert_eq!(audit.iter().filter(|e| e.name == AuditName::RecoveryCodeUse).count(), 1);

    let token = h.service.verify_sign_in(&live, &codes[1]).await.expect("another code");
    let signed_in = h.live(&token).await;
    h.clock.advance(STEP_MS);
    let fresh =
        h.service.replace_recovery_codes(&signed_in, &h.code(&totp, 0)).await.expect("replace");
    assert_eq!(fresh.0.len(), 10);
    let (live, _) = h.password(PETE).await;
    assert!(h.service.verify_sign_in(&live, &codes[2]).await.is_err(), "the old set is dead");
    h.service.verify_sign_in(&live, &fresh.0[9]).await.expect("the new set works");
}

/// Removing: an administrator cannot remove her own (her role requires one) but removes
/// a coordinator's, ending every session of the coordinator and telling her; a
/// coordinator removes her own with a code; a coordinator cannot remove a provider's,
/// nor see a user of another organisation's.
async fn removal<S: SecondFactorFullStore>(h: Harness<S>) {
    let (ada, _) = h.password(ADA).await;
    let (ada_totp, _, token) = h.set_up(&ada).await;
    let ada = h.live(&token.expect("signed in")).await;
    h.clock.advance(STEP_MS);
    match h.service.remove_own(&ada, &h.code(&ada_totp, 0)).await {
        Err(ManageError::Forbidden(d)) => {
            assert!(matches!(d.reason(), DenyReason::SecondFactorRequired(_)), "{d}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(h.service.status(uid(ADA)).await.expect("status").set_up);

    let (cora, _) = h.password(CORA).await;
    let (cora_totp, _, _) = h.set_up(&cora).await;
    let (cora_elsewhere, _) = h.password(CORA).await;
    h.clock.advance(STEP_MS);
    let token = h.service.verify_sign_in(&cora_elsewhere, &h.code(&cora_totp, 0)).await;
    let cora_elsewhere = h.live(&token.expect("code")).await;
    assert!(matches!(
        h.service.remove_for(uid(CORA), uid(PETE)).await,
        Err(ManageError::Forbidden(_))
    ));
    assert!(matches!(h.service.remove_for(uid(CORA), uid(CAT)).await, Err(ManageError::NotFound)));
    assert!(h.service.remove_for(uid(ADA), uid(CORA)).await.expect("removed"));
    assert!(!h.service.status(uid(CORA)).await.expect("status").set_up);
    for digest in [&cora.digest, &cora_elsewhere.digest] {
        let session = SessionStore::session(&*h.store, digest).await.expect("read");
        assert!(session.is_none(), "her sessions ended");
    }
    let notice = h
        .mailer
        .sent()
        .into_iter()
        .find(|m| m.subject == "Your authenticator app has been removed")
        .expect("notice");
    assert!(notice.text.contains("ada removed the authenticator app"), "{}", notice.text);
    let audit = h.store.audit_for_user(uid(CORA)).await.expect("audit");
    let removed = audit.iter().find(|e| e.name == AuditName::SecondFactorRemove).expect("audit");
    assert_eq!(removed.actor, Some(uid(ADA)));
    assert!(!h.service.remove_for(uid(ADA), uid(CORA)).await.expect("none left"));

    // Cora sets one up again and removes it herself with a code; a wrong one is refused
    // on the code field.
    let (cora, _) = h.password(CORA).await;
    let (totp, _, _) = h.set_up(&cora).await;
    h.clock.advance(STEP_MS);
    match h.service.remove_own(&cora, "123 456").await {
        Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "code"),
        other => panic!("expected a field error, got {other:?}"),
    }
    h.service.remove_own(&cora, &h.code(&totp, 0)).await.expect("removed her own");
    assert!(SessionStore::session(&*h.store, &cora.digest).await.expect("read").is_some());
    assert!(!h.service.status(uid(CORA)).await.expect("status").set_up);
}

/// A sign-in is recent for 15 minutes; after 16 the holder proves it again with the
/// password and code, under a fresh id.
async fn recent_sign_in<S: SecondFactorFullStore>(h: Harness<S>) {
    let (cora, _) = h.password(CORA).await;
    let (totp, _, _) = h.set_up(&cora).await;
    assert!(h.sessions.is_recent(&cora));
    h.clock.advance(15 * 60 * 1000 - 1);
    assert!(h.sessions.is_recent(&cora), "a millisecond inside");
    h.clock.advance(60 * 1000 + 1);
    assert!(!h.sessions.is_recent(&cora), "16 minutes on");
    // Changing her second factor now is refused before any code is checked.
    assert!(matches!(
        h.service.replace_recovery_codes(&cora, &h.code(&totp, 0)).await,
        Err(CodeError::NotRecent)
    ));
    assert!(matches!(
        h.service.remove_own(&cora, &h.code(&totp, 0)).await,
        Err(ManageError::State(tenure_core::StateError::SignInNotRecent))
    ));
    assert!(h.service.status(uid(CORA)).await.expect("status").set_up, "nothing removed");
    assert!(matches!(
        h.service.reauthenticate(&cora, &h.accounts, PASSWORD, None).await,
        Err(CodeError::Incorrect)
    ));
    assert!(
        h.service
            .reauthenticate(&cora, &h.accounts, "not my password at all", Some(&h.code(&totp, 0)))
            .await
            .is_err()
    );
    let token = h
        .service
        .reauthenticate(&cora, &h.accounts, PASSWORD, Some(&h.code(&totp, 0)))
        .await
        .expect("proved again");
    let fresh = h.live(&token).await;
    assert!(h.sessions.is_recent(&fresh));
    h.clock.advance(STEP_MS);
    let codes = h.service.replace_recovery_codes(&fresh, &h.code(&totp, 0)).await;
    assert_eq!(codes.expect("recent again").0.len(), 10);
    assert_eq!(fresh.created, cora.created, "the absolute timeout still counts from the start");
}
