//! `tenure housekeeping`: one run over a real SQLite database prunes what is past its
//! time by the same settings as `tenure serve` (here the idle timeout from the
//! environment), keeps what is live, and prints its figures.

use std::process::Command;

use tenure_core::limits::{LimitKey, LimitKind, LimitPolicy, Limits, Rate};
use tenure_core::{
    AuditDetail, AuditEvent, AuditName, Clock, Outcome, SessionRecord, SessionStore,
};
use tenure_domain::UserId;
use tenure_secrets_os::SystemClock;
use tenure_store_seaorm::SeaOrmStore;
use uuid::Uuid;

const MINUTE: i64 = 60_000;

fn session(user: UserId, now: i64, idle: i64) -> SessionRecord {
    SessionRecord {
        user,
        csrf: "csrf".to_owned(),
        created: tenure_core::Timestamp(now - idle),
        last_seen: tenure_core::Timestamp(now - idle),
        stage: tenure_core::SessionStage::SignedIn,
        proved_at: tenure_core::Timestamp(now - idle),
    }
}

fn event(n: u128, user: UserId) -> AuditEvent {
    AuditEvent {
        id: Uuid::from_u128(0xC000 + n),
        at: tenure_core::Timestamp(0),
        actor: Some(user),
        name: AuditName::PasswordChange,
        outcome: Outcome::Success,
        target_user: Some(user),
        organisation: None,
        detail: AuditDetail::Empty,
        origin: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_prunes_by_serves_settings_and_prints_its_figures() {
    let dir = std::env::temp_dir().join(format!("tenure-housekeeping-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
    let store = std::sync::Arc::new(SeaOrmStore::open(&url).await.unwrap());
    store.import(&tenure_testkit::contract::accounts::world()).await.unwrap();
    let alice = UserId::from_uuid(Uuid::from_u128(10));
    let now = SystemClock.now().0;
    // Idle for 20 minutes: live under serve's default of 30, past the 10 set below.
    for (n, digest, idle) in [(1, "recent", MINUTE), (2, "idle-20", 20 * MINUTE)] {
        store.create_session(digest, session(alice, now, idle), event(n, alice)).await.unwrap();
    }
    // A rate limit bucket from an hour ago, long passed.
    let old = tenure_testkit::fakes::FixedClock::at(now - 60 * MINUTE);
    let limits = Limits::new(
        store.clone(),
        std::sync::Arc::new(old),
        LimitPolicy::default().with(LimitKind::SignInAddress, Some(Rate::per(1, MINUTE))),
    );
    let key = LimitKey::address("192.0.2.1".parse().unwrap());
    assert!(limits.hit(LimitKind::SignInAddress, &key).await.unwrap().is_allowed());

    let output = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["housekeeping", "--database", &url])
        .env("TENURE_SESSION_IDLE_MINUTES", "10")
        .env_remove("TENURE_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.contains(
            "Housekeeping removed 2 rows: sessions=1 reset_links=0 links=0 limit_buckets=1 \
             delivered_mail=0."
        ),
        "{stdout}"
    );
    assert!(store.session("recent").await.unwrap().is_some(), "the live session stays");
    assert!(store.session("idle-20").await.unwrap().is_none());

    // A bad setting is refused with its name, where it came from and what is accepted.
    let output = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["housekeeping", "--database", &url])
        .env("TENURE_SESSION_IDLE_MINUTES", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("session_idle_minutes")
            && stderr.contains("TENURE_SESSION_IDLE_MINUTES")
            && stderr.contains("at least 1"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
