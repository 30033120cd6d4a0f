//! The audit trail's origins: every port that writes audit entries (`ChangeStore::apply`
//! with its entries and a lock's entry, `AccountStore`'s writes, `SessionStore`'s) keeps
//! each entry's origin (request id, client address, user agent) as given and returns it
//! as it was, and an entry with no origin reads back with none.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use tenure_core::{
    AuditDetail, AuditEvent, AuditName, AuditQuery, Origin, Outcome, Page, SessionRecord,
    Timestamp, Write,
};
use tenure_domain::{UserId, World};
use uuid::Uuid;

use crate::contract::manage::{FullStore, world};

/// Pete, a data provider of Alpha in [`world`].
fn pete() -> UserId {
    UserId::from_uuid(Uuid::from_u128(104))
}

fn event(n: u128, name: AuditName, origin: Option<Origin>) -> AuditEvent {
    AuditEvent {
        id: Uuid::from_u128(0xA0D1_7000 + n),
        at: Timestamp(1_000 + n as i64),
        actor: Some(pete()),
        name,
        outcome: Outcome::Success,
        target_user: Some(pete()),
        organisation: None,
        detail: AuditDetail::Empty,
        origin,
    }
}

fn origin(request_id: &str, ip: &str, user_agent: Option<&str>) -> Option<Origin> {
    Some(Origin {
        request_id: request_id.to_owned(),
        client_ip: ip.parse::<IpAddr>().expect("address"),
        user_agent: user_agent.map(str::to_owned),
    })
}

/// Every audit-writing port method keeps the origin it is given.
///
/// # Panics
/// On the first broken promise.
pub async fn origins<S, F, Fut>(make: F)
where
    S: FullStore,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let store = make(world()).await;
    // A long user agent with letters outside ASCII, as the web app may keep one.
    let long = format!("Mozilla/5.0 (X11; Linux x86_64) Größe/1.0 ☃ {}", "x".repeat(200));
    let written = [
        event(1, AuditName::RoleChange, origin("r1", "203.0.113.7", Some("curl/8.5.0"))),
        event(2, AuditName::LoginLock, origin("r2", "2001:db8::1", None)),
        event(3, AuditName::LoginFail, origin("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "::1", None)),
        event(4, AuditName::UserUpdate, None),
        event(5, AuditName::PasswordChange, origin("r5", "198.51.100.2", Some(&long))),
        event(6, AuditName::SessionCreate, origin("r6", "10.0.0.1", Some("Firefox"))),
        event(7, AuditName::SessionRevoke, origin("r7", "10.0.0.2", Some("Safari"))),
        event(8, AuditName::LoginFail, origin("r8", "192.0.2.8", Some("Edge"))),
    ];
    let [changed, lock, fail, plain, password, session, revoke, failure] = written.clone();

    // Through the change store: its entries and the entry of a lock a failure causes.
    store.apply(Vec::new(), vec![changed]).await.expect("apply");
    let count = Write::CountFailure {
        user: pete(),
        lock_after: 1,
        lock_until: Timestamp(99_999),
        lock_audit: Box::new(lock),
    };
    store.apply(vec![count], vec![fail]).await.expect("count");
    // Through the account store.
    store.append_audit(plain).await.expect("append");
    store.set_password(pete(), "h1".to_owned(), password).await.expect("password");
    let _ = store
        .record_failure(
            pete(),
            100,
            Timestamp(99_999),
            failure,
            event(9, AuditName::LoginLock, None),
        )
        .await
        .expect("failure");
    // Through the session store.
    let record = SessionRecord {
        user: pete(),
        csrf: "csrf".to_owned(),
        created: Timestamp(1_006),
        last_seen: Timestamp(1_006),
        stage: tenure_core::SessionStage::SignedIn,
        proved_at: Timestamp(1_006),
    };
    store.create_session("digest-origin", record, session).await.expect("session");
    store.end_sessions(pete(), None, revoke).await.expect("end");

    let query = AuditQuery { user: Some(pete()), ..AuditQuery::default() };
    let trail = store.audit(&query, Page { offset: 0, limit: 100 }).await.expect("trail");
    let for_user = store.audit_for_user(pete()).await.expect("for user");
    for expected in &written {
        for (read, from) in [(&trail, "the trail"), (&for_user, "the user's entries")] {
            let found = read.iter().find(|e| e.id == expected.id);
            assert_eq!(found, Some(expected), "{:?} as read back from {from}", expected.name);
        }
    }
    // The failure that did not lock wrote no lock entry.
    assert!(!trail.iter().any(|e| e.id == event(9, AuditName::LoginLock, None).id));

    // A date range: from is inclusive, before exclusive, and both together.
    let mut moments: Vec<Timestamp> = trail.iter().map(|e| e.at).collect();
    moments.sort_unstable();
    moments.dedup();
    assert!(moments.len() >= 2, "the trail spans moments");
    let (first, second) = (moments[0], moments[1]);
    for (from, before) in [(Some(second), None), (None, Some(second)), (Some(first), Some(second))]
    {
        let ranged = AuditQuery { from, before, ..query.clone() };
        let got = store.audit(&ranged, Page { offset: 0, limit: 100 }).await.expect("range");
        let expected: Vec<_> = trail
            .iter()
            .filter(|e| from.is_none_or(|t| e.at >= t) && before.is_none_or(|t| e.at < t))
            .cloned()
            .collect();
        assert_eq!(got, expected, "entries from {from:?} before {before:?}");
    }
}

/// The trail of one side of the service: a query with a side leaves out the entries about
/// an organisation of the other side and those by or about one of its users (an entry
/// about no organisation included), in the store's query; without a side it holds all.
///
/// # Panics
/// On the first broken promise.
pub async fn sides<S, F, Fut>(make: F)
where
    S: FullStore,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    use tenure_domain::{Email, Name, OrgId, Organisation, OrganisationKind, User};
    let company = OrgId::from_uuid(Uuid::from_u128(0xC0_0001));
    let jane = UserId::from_uuid(Uuid::from_u128(0xC0_0002));
    let mut w = world();
    w.insert_organisation(Organisation::company(
        company,
        Name::parse("Financial Conduct Authority").expect("name"),
    ))
    .expect("company");
    w.upsert_user(User::new(
        jane,
        Name::parse("Jane Admin").expect("name"),
        Email::parse("jane@example.com").expect("email"),
        company,
        Vec::new(),
    ))
    .expect("jane");
    let store = make(w).await;
    let about = |n: u128, actor, target, organisation| AuditEvent {
        actor: Some(actor),
        target_user: target,
        organisation,
        ..event(100 + n, AuditName::UserUpdate, None)
    };
    let housing = about(1, pete(), Some(pete()), None);
    let alpha = OrgId::from_uuid(Uuid::from_u128(1));
    let on_alpha = about(2, pete(), None, Some(alpha));
    let on_company = about(3, jane, None, Some(company));
    let by_jane = about(4, jane, None, None);
    let to_jane = about(5, pete(), Some(jane), None);
    let all = [housing, on_alpha, on_company, by_jane, to_jane];
    store.apply(Vec::new(), all.to_vec()).await.expect("apply");
    let ids = |side| {
        let store = store.clone();
        async move {
            let query = AuditQuery { side, ..AuditQuery::default() };
            let got = store.audit(&query, Page { offset: 0, limit: 100 }).await.expect("trail");
            let mut ids: Vec<u128> = got
                .iter()
                .filter_map(|e| e.id.as_u128().checked_sub(0xA0D1_7000 + 100))
                .filter(|n| (1..=5).contains(n))
                .collect();
            ids.sort_unstable();
            ids
        }
    };
    assert_eq!(ids(None).await, vec![1, 2, 3, 4, 5], "every side");
    assert_eq!(ids(Some(OrganisationKind::Housing)).await, vec![1, 2], "the housing side");
    assert_eq!(ids(Some(OrganisationKind::Company)).await, vec![3, 4], "the company side");
}
