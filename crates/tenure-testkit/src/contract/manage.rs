//! The `ChangeStore` contract, through the `Manage` service: invitations (pending,
//! accepted, revoked, expired, resent, re-checked at acceptance), edits with versions,
//! email changes confirmed by the new address, deactivation, reactivation, deletion that
//! keeps logs and audit, organisations, relationships, merging, and the audit trail.

use std::future::Future;
use std::sync::Arc;

use tenure_core::{
    AccountStatus, AccountStore, AuditName, AuditQuery, ChangeStore, Directory, Invite, Manage,
    ManageError, ManagePolicy, ManagePorts, OrganisationInput, Page, PersonInput, SessionPolicy,
    SessionStore, Sessions, UserChanges,
};
use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{
    Email, Log, LogId, Name, OrgId, Organisation, Relationship, RelationshipError, Resource,
    RoleId, User, UserId, World,
};
use uuid::Uuid;

use crate::fakes::{CountingHasher, FixedClock, MemoryMailer, SequentialIds, SequentialSecrets};

/// What the suite needs of a store.
pub trait FullStore: Directory + ChangeStore + AccountStore + SessionStore {}
impl<T: Directory + ChangeStore + AccountStore + SessionStore> FullStore for T {}

const DAY: i64 = 24 * 60 * 60 * 1000;
const GOOD: &str = "correct horse battery staple";

fn org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}
fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(100 + n))
}
const ALPHA: u128 = 1;
const BETA: u128 = 2;
const GAMMA: u128 = 3;
const ADA: u128 = 1;
const CORA: u128 = 2;
const COLIN: u128 = 3;
const PETE: u128 = 4;
const BEA: u128 = 5;
const CAT: u128 = 6;

/// Alpha -> Beta; Gamma unrelated. Ada administers from Alpha; Cora and Colin coordinate
/// Alpha; Pete provides for Alpha (and has a log); Bea alone coordinates Beta; Cat
/// provides for Gamma.
pub fn world() -> World {
    let mut w = World::new();
    for (n, name) in [(ALPHA, "Alpha"), (BETA, "Beta"), (GAMMA, "Gamma")] {
        w.insert_organisation(Organisation::new(org(n), Name::parse(name).expect("name")))
            .expect("org");
    }
    w.add_relationship(Relationship { stock_owner: org(ALPHA), managing_agent: org(BETA) })
        .expect("edge");
    for (n, key, o, role) in [
        (ADA, "ada", ALPHA, ADMINISTRATOR),
        (CORA, "cora", ALPHA, DATA_COORDINATOR),
        (COLIN, "colin", ALPHA, DATA_COORDINATOR),
        (PETE, "pete", ALPHA, DATA_PROVIDER),
        (BEA, "bea", BETA, DATA_COORDINATOR),
        (CAT, "cat", GAMMA, DATA_PROVIDER),
    ] {
        let email = Email::parse(&format!("{key}@example.com")).expect("email");
        w.upsert_user(User::new(
            user(n),
            Name::parse(key).expect("name"),
            email,
            org(o),
            vec![role],
        ))
        .expect("user");
    }
    for (n, owner, agent, assignee) in [(1, GAMMA, GAMMA, Some(CAT)), (2, ALPHA, BETA, Some(PETE))]
    {
        w.upsert_log(Log {
            id: LogId::from_uuid(Uuid::from_u128(500 + n)),
            owning_organisation: org(owner),
            managing_organisation: org(agent),
            assigned_to: assignee.map(user),
            created_by: None,
        })
        .expect("log");
    }
    w
}

struct Harness<S> {
    store: Arc<S>,
    manage: Manage,
    clock: Arc<FixedClock>,
    mailer: Arc<MemoryMailer>,
    ids: Arc<SequentialIds>,
    secrets: Arc<SequentialSecrets>,
}

fn harness<S: FullStore>(store: Arc<S>) -> Harness<S> {
    let clock = Arc::new(FixedClock::at(1_000_000));
    let mailer = Arc::new(MemoryMailer::default());
    let ids = Arc::new(SequentialIds::default());
    let secrets = Arc::new(SequentialSecrets::default());
    let ports = ManagePorts {
        directory: store.clone(),
        changes: store.clone(),
        hasher: Arc::new(CountingHasher::with_cost(2)),
        secrets: secrets.clone(),
        mailer: mailer.clone(),
        clock: clock.clone(),
        ids: ids.clone(),
    };
    let policy =
        ManagePolicy { base_url: "https://tenure.example".to_owned(), ..ManagePolicy::default() };
    Harness { store, manage: Manage::new(ports, policy), clock, mailer, ids, secrets }
}

fn person(name: &str, email: &str) -> PersonInput {
    PersonInput { name: name.to_owned(), email: email.to_owned(), telephone: String::new() }
}

fn invite(name: &str, email: &str, o: u128, role: RoleId) -> Invite {
    Invite { person: person(name, email), organisation: org(o), role }
}

impl<S: FullStore> Harness<S> {
    async fn version(&self, id: UserId) -> i64 {
        ChangeStore::user(&*self.store, id).await.expect("read").expect("user").version
    }

    async fn user(&self, id: UserId) -> Option<User> {
        ChangeStore::user(&*self.store, id).await.expect("read").map(|v| v.value)
    }

    async fn org_version(&self, id: OrgId) -> i64 {
        ChangeStore::organisation(&*self.store, id).await.expect("read").expect("org").version
    }

    async fn status(&self, id: UserId) -> AccountStatus {
        let u = self.user(id).await.expect("user");
        self.manage.status(&u).await.expect("status")
    }

    fn token(&self, to: &str) -> String {
        self.mailer.last_token_for(to).expect("a link in the mail")
    }

    async fn audit_names(&self, q: AuditQuery) -> Vec<AuditName> {
        let rows =
            ChangeStore::audit(&*self.store, &q, Page::numbered(1, 100)).await.expect("audit");
        rows.into_iter().map(|e| e.name).collect()
    }
}

/// Invitations from sending to acceptance.
///
/// # Panics
/// On the first broken promise.
pub async fn invitations<S, F, Fut>(make: F)
where
    S: FullStore,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let h = harness(make(world()).await);
    let m = &h.manage;

    // Refusals: out of reach is "not found"; in reach but not allowed says why.
    assert!(matches!(
        m.invite(user(CORA), &invite("Nina", "nina@example.com", GAMMA, DATA_PROVIDER)).await,
        Err(ManageError::NotFound)
    ));
    assert!(matches!(
        m.invite(user(PETE), &invite("Nina", "nina@example.com", ALPHA, DATA_PROVIDER)).await,
        Err(ManageError::Forbidden(_))
    ));
    match m.invite(user(CORA), &invite("Nina", "nina@example.com", ALPHA, ADMINISTRATOR)).await {
        Err(ManageError::Forbidden(why)) => assert!(why.contains("Administrator"), "{why}"),
        other => panic!("expected forbidden, got {other:?}"),
    }
    match m.invite(user(CORA), &invite("", "not an email", ALPHA, DATA_PROVIDER)).await {
        Err(ManageError::Invalid(errors)) => {
            let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
            assert_eq!(fields, ["name", "email"]);
        }
        other => panic!("expected invalid fields, got {other:?}"),
    }
    for taken in ["pete@example.com", " PETE@Example.com "] {
        assert!(matches!(
            m.invite(user(CORA), &invite("Pete 2", taken, ALPHA, DATA_PROVIDER)).await,
            Err(ManageError::EmailInUse)
        ));
    }
    assert!(h.mailer.sent().is_empty(), "no mail for refused invitations");

    // Cora invites Nina into Beta, a managing agent of Alpha.
    let nina = m
        .invite(user(CORA), &invite("Nina", "nina@example.com", BETA, DATA_PROVIDER))
        .await
        .expect("invite");
    let mail = h.mailer.sent().pop().expect("mail");
    assert_eq!(mail.subject, "You have been invited to Tenure");
    assert!(mail.text.contains("https://tenure.example/account/create?token="), "{}", mail.text);
    assert!(mail.html.contains("<a href=\"https://tenure.example/account/create?token="));
    assert_eq!(h.status(nina).await, AccountStatus::Invited { expired: false });
    let stored = h.user(nina).await.expect("nina");
    assert!(stored.roles.is_empty(), "no role before acceptance");
    assert_eq!(stored.organisation, org(BETA));
    let record = h.store.sign_in_record(&Email::parse("nina@example.com").expect("e")).await;
    assert_eq!(record.expect("read").expect("record").password_hash, None);

    // Opening the link does not use it; a weak password leaves it usable.
    let token = h.token("nina@example.com");
    let view = m.invitation(&token).await.expect("view");
    assert_eq!((view.name.as_str(), view.organisation.as_str()), ("Nina", "Beta"));
    assert!(matches!(m.accept_invitation(&token, "password").await, Err(ManageError::Password(_))));
    assert!(matches!(
        m.accept_invitation(&token, "nina example passphrase").await,
        Err(ManageError::Password(_))
    ));
    assert!(matches!(m.accept_invitation("token-999", GOOD).await, Err(ManageError::LinkInvalid)));
    assert_eq!(m.accept_invitation(&token, GOOD).await.expect("accept"), nina);
    assert_eq!(h.user(nina).await.expect("nina").roles, [DATA_PROVIDER]);
    assert_eq!(h.status(nina).await, AccountStatus::Active);
    assert!(matches!(m.accept_invitation(&token, GOOD).await, Err(ManageError::LinkInvalid)));
    assert!(matches!(m.invitation(&token).await, Err(ManageError::LinkInvalid)));
    assert!(matches!(m.resend_invitation(user(CORA), nina).await, Err(ManageError::Forbidden(_))));

    // A resend kills the old link.
    let omar = m
        .invite(user(CORA), &invite("Omar", "omar@example.com", ALPHA, DATA_PROVIDER))
        .await
        .expect("invite");
    let old = h.token("omar@example.com");
    m.resend_invitation(user(CORA), omar).await.expect("resend");
    let new = h.token("omar@example.com");
    assert_ne!(old, new);
    assert!(matches!(m.accept_invitation(&old, GOOD).await, Err(ManageError::LinkInvalid)));

    // Revoked: the link dies, the status says so.
    m.revoke_invitation(user(CORA), omar).await.expect("revoke");
    assert_eq!(h.status(omar).await, AccountStatus::InvitationRevoked);
    assert!(matches!(m.accept_invitation(&new, GOOD).await, Err(ManageError::LinkInvalid)));

    // Expired after 3 days; a resend revives the invitation.
    let yan = m
        .invite(user(CORA), &invite("Yan", "yan@example.com", ALPHA, DATA_PROVIDER))
        .await
        .expect("invite");
    let first = h.token("yan@example.com");
    h.clock.advance(3 * DAY);
    assert_eq!(h.status(yan).await, AccountStatus::Invited { expired: true });
    assert!(matches!(m.accept_invitation(&first, GOOD).await, Err(ManageError::LinkInvalid)));
    m.resend_invitation(user(CORA), yan).await.expect("resend");
    assert_eq!(m.accept_invitation(&h.token("yan@example.com"), GOOD).await.expect("accept"), yan);

    // The inviter's authority is checked again at acceptance: Cora invites Quinn as a
    // coordinator, then is made a provider; accepting gives nothing.
    let quinn = m
        .invite(user(CORA), &invite("Quinn", "quinn@example.com", ALPHA, DATA_COORDINATOR))
        .await
        .expect("invite");
    let quinn_token = h.token("quinn@example.com");
    let changes = UserChanges { role: Some(DATA_PROVIDER), ..UserChanges::default() };
    m.edit_user(user(ADA), user(CORA), h.version(user(CORA)).await, &changes)
        .await
        .expect("demote");
    assert!(matches!(m.accept_invitation(&quinn_token, GOOD).await, Err(ManageError::LinkInvalid)));
    assert!(h.user(quinn).await.expect("quinn").roles.is_empty());

    let names = h.audit_names(AuditQuery { user: Some(nina), ..AuditQuery::default() }).await;
    assert_eq!(names, [AuditName::InviteAccept, AuditName::InviteSend]);
    let denials = AuditQuery { name: Some(AuditName::AuthzFail), ..AuditQuery::default() };
    assert_eq!(h.audit_names(denials).await.len(), 3, "the three refused invitations");
}

/// Edits, versions, email changes, deactivation, reactivation and deletion.
///
/// # Panics
/// On the first broken promise.
pub async fn lifecycle<S, F, Fut>(make: F)
where
    S: FullStore,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let h = harness(make(world()).await);
    let m = &h.manage;

    // A stale version is refused and changes nothing; the fresh one works once.
    let v = h.version(user(PETE)).await;
    let rename = UserChanges {
        name: Some("Peter Piper".to_owned()),
        telephone: Some("01632 960 001".to_owned()),
        ..UserChanges::default()
    };
    m.edit_user(user(CORA), user(PETE), v, &rename).await.expect("edit");
    assert_eq!(h.version(user(PETE)).await, v + 1);
    assert!(matches!(
        m.edit_user(
            user(COLIN),
            user(PETE),
            v,
            &UserChanges { name: Some("Lost".to_owned()), ..UserChanges::default() }
        )
        .await,
        Err(ManageError::Conflict)
    ));
    let pete = h.user(user(PETE)).await.expect("pete");
    assert_eq!(pete.name.as_str(), "Peter Piper");
    let q = AuditQuery {
        user: Some(user(PETE)),
        name: Some(AuditName::UserUpdate),
        ..AuditQuery::default()
    };
    let rows = ChangeStore::audit(&*h.store, &q, Page::numbered(1, 10)).await.expect("audit");
    assert_eq!(rows.len(), 1, "one entry for the one change that happened");
    assert!(
        rows[0].detail.contains("\"name\"") && !rows[0].detail.contains("Piper"),
        "field names, not personal data: {}",
        rows[0].detail
    );
    match m
        .edit_user(
            user(CORA),
            user(PETE),
            v + 1,
            &UserChanges { telephone: Some("12".to_owned()), ..UserChanges::default() },
        )
        .await
    {
        Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "telephone"),
        other => panic!("expected invalid, got {other:?}"),
    }
    // Out of reach: Cat is in an unrelated organisation.
    assert!(matches!(
        m.edit_user(user(CORA), user(CAT), 1, &rename).await,
        Err(ManageError::NotFound)
    ));
    // A provider changes only themself, and no roles.
    assert!(matches!(
        m.edit_user(user(PETE), user(COLIN), 1, &rename).await,
        Err(ManageError::Forbidden(_))
    ));
    let promote = UserChanges { role: Some(DATA_COORDINATOR), ..UserChanges::default() };
    assert!(matches!(
        m.edit_user(user(PETE), user(PETE), v + 1, &promote).await,
        Err(ManageError::Forbidden(_))
    ));

    // An email change waits for the new address; the old one is told.
    let change =
        UserChanges { email: Some("Peter@Example.com".to_owned()), ..UserChanges::default() };
    assert!(matches!(
        m.edit_user(
            user(PETE),
            user(PETE),
            v + 1,
            &UserChanges { email: Some("cora@example.com".to_owned()), ..UserChanges::default() }
        )
        .await,
        Err(ManageError::EmailInUse)
    ));
    let edited = m.edit_user(user(PETE), user(PETE), v + 1, &change).await.expect("edit");
    assert!(edited.email_confirmation_sent);
    let sent = h.mailer.sent();
    let to: Vec<_> = sent.iter().map(|m| m.to.as_str().to_owned()).collect();
    assert_eq!(to, ["peter@example.com", "pete@example.com"]);
    assert_eq!(h.user(user(PETE)).await.expect("pete").email.as_str(), "pete@example.com");
    m.confirm_email(&h.token("peter@example.com")).await.expect("confirm");
    assert_eq!(h.user(user(PETE)).await.expect("pete").email.as_str(), "peter@example.com");
    assert!(matches!(
        m.confirm_email(&h.token("peter@example.com")).await,
        Err(ManageError::LinkInvalid)
    ));

    // Deactivation: not oneself, not the last coordinator, not twice.
    assert!(matches!(
        m.deactivate_user(user(CORA), user(CORA), h.version(user(CORA)).await).await,
        Err(ManageError::Forbidden(_))
    ));
    match m.deactivate_user(user(CORA), user(BEA), h.version(user(BEA)).await).await {
        Err(ManageError::Forbidden(why)) => {
            assert!(why.contains("must keep at least one active"), "{why}")
        }
        other => panic!("expected the guard, got {other:?}"),
    }
    // Two coordinators deactivating each other at once: at most one wins.
    let (vc, vo) = (h.version(user(CORA)).await, h.version(user(COLIN)).await);
    let (a, b) = tokio_join(
        m.deactivate_user(user(CORA), user(COLIN), vo),
        m.deactivate_user(user(COLIN), user(CORA), vc),
    )
    .await;
    assert!(a.is_ok() != b.is_ok(), "exactly one of the two: {a:?} {b:?}");
    let survivor = if a.is_ok() { CORA } else { COLIN };
    let gone = if a.is_ok() { COLIN } else { CORA };
    assert!(h.user(user(survivor)).await.expect("u").active);
    assert!(!h.user(user(gone)).await.expect("u").active);

    let vp = h.version(user(PETE)).await;
    m.deactivate_user(user(survivor), user(PETE), vp).await.expect("deactivate");
    assert_eq!(h.status(user(PETE)).await, AccountStatus::Deactivated);
    assert!(matches!(
        m.deactivate_user(user(survivor), user(PETE), vp + 1).await,
        Err(ManageError::Forbidden(_))
    ));
    let record = h.store.sign_in_record(&Email::parse("peter@example.com").expect("e")).await;
    assert!(!record.expect("read").expect("pete").active);

    // Reactivation: active again, no password, no role until the fresh link is used.
    m.reactivate_user(user(survivor), user(PETE), vp + 1).await.expect("reactivate");
    let pete = h.user(user(PETE)).await.expect("pete");
    assert!(pete.active && pete.roles.is_empty());
    assert_eq!(h.status(user(PETE)).await, AccountStatus::Invited { expired: false });
    let mail = h.mailer.sent().pop().expect("mail");
    assert_eq!(mail.subject, "Your account has been reactivated");
    m.accept_invitation(&h.token("peter@example.com"), GOOD).await.expect("accept");
    assert_eq!(h.user(user(PETE)).await.expect("pete").roles, [DATA_PROVIDER]);

    // Deletion: only when deactivated; the person goes, their log and audit stay.
    let vp = h.version(user(PETE)).await;
    assert!(matches!(
        m.delete_user(user(survivor), user(PETE), vp).await,
        Err(ManageError::Forbidden(_))
    ));
    m.deactivate_user(user(survivor), user(PETE), vp).await.expect("deactivate");
    m.delete_user(user(survivor), user(PETE), vp + 1).await.expect("delete");
    assert!(h.user(user(PETE)).await.is_none());
    assert!(
        h.store
            .sign_in_record(&Email::parse("peter@example.com").expect("e"))
            .await
            .expect("read")
            .is_none()
    );
    let names = h.audit_names(AuditQuery { user: Some(user(PETE)), ..AuditQuery::default() }).await;
    assert_eq!(names.first(), Some(&AuditName::UserDelete));
    assert!(names.contains(&AuditName::UserUpdate) && names.contains(&AuditName::InviteAccept));
    let auth = tenure_core::Authorizer::new(h.store.clone());
    let logs = auth.visible_logs(user(ADA), Page::numbered(1, 10)).await.expect("logs");
    let kept = logs
        .iter()
        .find(|l| l.id == LogId::from_uuid(Uuid::from_u128(502)))
        .expect("the log stays");
    assert_eq!(kept.assigned_to, Some(user(PETE)), "named by id only: a deleted user");
    let scope = h.store.snapshot(user(ADA), Resource::Service).await.expect("snapshot");
    let scope = scope.scope(user(ADA), tenure_domain::Action::LogView);
    let named = h.store.logs_named(&scope, Page::numbered(1, 10)).await.expect("logs");
    let kept = named
        .iter()
        .find(|n| n.log.id == LogId::from_uuid(Uuid::from_u128(502)))
        .expect("the log stays, named");
    assert_eq!(kept.log.assigned_to, Some(user(PETE)));
    assert_eq!(kept.assignee, None, "a deleted assignee has no name");
    assert_eq!(kept.owner.as_ref().map(Name::as_str), Some("Alpha"));
    assert_eq!(kept.manager.as_ref().map(Name::as_str), Some("Beta"));
    // Names for display: a deleted user is simply absent; unknown ids too.
    let names = h
        .store
        .names(&[user(PETE), user(ADA), user(99)], &[org(ALPHA), org(77)])
        .await
        .expect("names");
    assert_eq!(names.users.len(), 1);
    assert_eq!(names.users.get(&user(ADA)).map(Name::as_str), Some("ada"));
    assert_eq!(names.organisations.get(&org(ALPHA)).map(Name::as_str), Some("Alpha"));
    assert_eq!(names.organisations.len(), 1);
    // The address is free again.
    m.invite(user(survivor), &invite("Pete", "peter@example.com", ALPHA, DATA_PROVIDER))
        .await
        .expect("reuse");
}

/// Organisations, relationships, merging, the audit trail and the first administrator.
///
/// # Panics
/// On the first broken promise.
pub async fn organisations<S, F, Fut>(make: F)
where
    S: FullStore,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let h = harness(make(world()).await);
    let m = &h.manage;
    let input = |name: &str, holds_stock: bool| OrganisationInput {
        name: name.to_owned(),
        address: "1 High Street".to_owned(),
        telephone: "01632 960 123".to_owned(),
        holds_stock,
        ..OrganisationInput::default()
    };

    // Coordinators change name, address and telephone; the rest is for administrators.
    let v = h.org_version(org(ALPHA)).await;
    m.edit_organisation(user(CORA), org(ALPHA), v, &input("Alpha Homes", true))
        .await
        .expect("edit");
    assert!(matches!(
        m.edit_organisation(user(CORA), org(ALPHA), v, &input("Alpha", true)).await,
        Err(ManageError::Conflict)
    ));
    let v = h.org_version(org(ALPHA)).await;
    assert!(matches!(
        m.edit_organisation(user(CORA), org(ALPHA), v, &input("Alpha Homes", false)).await,
        Err(ManageError::Forbidden(_))
    ));
    assert!(matches!(
        m.edit_organisation(user(CORA), org(GAMMA), 1, &input("Mine", true)).await,
        Err(ManageError::NotFound)
    ));
    match m.edit_organisation(user(ADA), org(ALPHA), v, &input("", true)).await {
        Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "name"),
        other => panic!("expected invalid, got {other:?}"),
    }
    let q = AuditQuery {
        organisation: Some(org(ALPHA)),
        name: Some(AuditName::OrganisationUpdate),
        ..AuditQuery::default()
    };
    let rows = ChangeStore::audit(&*h.store, &q, Page::numbered(1, 10)).await.expect("audit");
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].detail.contains(r#""before":{"name":"Alpha""#)
            && rows[0].detail.contains(r#""after":{"name":"Alpha Homes""#),
        "{}",
        rows[0].detail
    );

    // Deactivating an organisation shuts out its users; reactivating lets them back.
    let cat = Email::parse("cat@example.com").expect("e");
    assert!(matches!(
        m.deactivate_organisation(user(CORA), org(ALPHA), h.org_version(org(ALPHA)).await).await,
        Err(ManageError::Forbidden(_))
    ));
    m.deactivate_organisation(user(ADA), org(GAMMA), h.org_version(org(GAMMA)).await)
        .await
        .expect("deactivate");
    assert!(!h.store.sign_in_record(&cat).await.expect("read").expect("cat").active);
    m.reactivate_organisation(user(ADA), org(GAMMA), h.org_version(org(GAMMA)).await)
        .await
        .expect("reactivate");
    assert!(h.store.sign_in_record(&cat).await.expect("read").expect("cat").active);

    // Relationships: a coordinator of either end, with the domain's rules.
    let edge = |a, b| Relationship { stock_owner: org(a), managing_agent: org(b) };
    m.add_relationship(user(CORA), edge(ALPHA, GAMMA)).await.expect("add");
    assert!(matches!(
        m.add_relationship(user(CORA), edge(ALPHA, BETA)).await,
        Err(ManageError::Relationship(RelationshipError::Duplicate { .. }))
    ));
    assert!(matches!(
        m.add_relationship(user(CORA), edge(ALPHA, ALPHA)).await,
        Err(ManageError::Relationship(RelationshipError::SelfRelationship))
    ));
    assert!(matches!(
        m.add_relationship(user(CAT), edge(GAMMA, BETA)).await,
        Err(ManageError::Forbidden(_))
    ));
    m.remove_relationship(user(CORA), edge(ALPHA, GAMMA)).await.expect("remove");
    assert!(matches!(
        m.remove_relationship(user(CORA), edge(ALPHA, GAMMA)).await,
        Err(ManageError::Relationship(RelationshipError::NotFound { .. }))
    ));

    // Merging Gamma into Beta moves Cat and Gamma's log; Gamma stays, deactivated.
    assert!(matches!(
        m.merge_organisation(user(CORA), org(GAMMA), 1, org(BETA)).await,
        Err(ManageError::NotFound)
    ));
    m.merge_organisation(user(ADA), org(GAMMA), h.org_version(org(GAMMA)).await, org(BETA))
        .await
        .expect("merge");
    assert_eq!(h.user(user(CAT)).await.expect("cat").organisation, org(BETA));
    let gamma =
        ChangeStore::organisation(&*h.store, org(GAMMA)).await.expect("read").expect("kept");
    assert!(!gamma.value.active);
    let auth = tenure_core::Authorizer::new(h.store.clone());
    let logs = auth.visible_logs(user(BEA), Page::numbered(1, 10)).await.expect("logs");
    assert!(
        logs.iter().any(|l| l.id == LogId::from_uuid(Uuid::from_u128(501))),
        "Gamma's log moved to Beta"
    );

    // The audit trail: administrators only, by organisation and by user.
    assert!(matches!(
        m.audit(user(CORA), &AuditQuery::default(), Page::numbered(1, 20)).await,
        Err(ManageError::NotFound)
    ));
    let by_org = m
        .audit(
            user(ADA),
            &AuditQuery { organisation: Some(org(GAMMA)), ..AuditQuery::default() },
            Page::numbered(1, 20),
        )
        .await
        .expect("audit");
    let names: Vec<_> = by_org.iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        [
            AuditName::OrganisationMerge,
            AuditName::AuthzFail,
            AuditName::RelationshipRemove,
            AuditName::AuthzFail,
            AuditName::RelationshipAdd,
            AuditName::OrganisationReactivate,
            AuditName::OrganisationDeactivate,
            AuditName::AuthzFail,
        ]
    );
    let created = m.create_organisation(user(ADA), &input("Delta", false)).await.expect("create");
    assert!(
        !ChangeStore::organisation(&*h.store, created)
            .await
            .expect("read")
            .expect("delta")
            .value
            .holds_stock
    );
    assert!(matches!(
        m.create_organisation(user(CORA), &input("Nope", true)).await,
        Err(ManageError::NotFound | ManageError::Forbidden(_))
    ));

    // The first administrator: only while there is none.
    assert!(matches!(
        m.create_first_administrator(&person("Root", "root@example.com"), "Service").await,
        Err(ManageError::Forbidden(_))
    ));
    let fresh = harness(make(World::new()).await);
    let root = fresh
        .manage
        .create_first_administrator(&person("Root", "root@example.com"), "Tenure Support")
        .await
        .expect("first admin");
    assert!(
        matches!(
            fresh
                .manage
                .create_first_administrator(&person("Two", "two@example.com"), "Tenure Support")
                .await,
            Err(ManageError::Forbidden(_))
        ),
        "a pending first administrator counts"
    );
    let first = fresh.token("root@example.com");
    let again = fresh
        .manage
        .create_first_administrator(&person("Root", "root@example.com"), "Tenure Support")
        .await
        .expect("the same person again: a fresh link");
    assert_eq!(again, root);
    assert!(matches!(
        fresh.manage.accept_invitation(&first, GOOD).await,
        Err(ManageError::LinkInvalid)
    ));
    fresh.manage.accept_invitation(&fresh.token("root@example.com"), GOOD).await.expect("accept");
    assert_eq!(fresh.user(root).await.expect("root").roles, [ADMINISTRATOR]);
    assert!(matches!(
        fresh
            .manage
            .create_first_administrator(&person("Two", "two@example.com"), "Tenure Support")
            .await,
        Err(ManageError::Forbidden(_))
    ));
}

/// Sessions: fresh tokens stored as digests, idle and absolute timeouts, signing out,
/// signing out everywhere else, and deactivation or deletion ending them all.
///
/// # Panics
/// On the first broken promise.
pub async fn sessions<S, F, Fut>(make: F)
where
    S: FullStore,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let h = harness(make(world()).await);
    let policy = SessionPolicy { idle_ms: 30 * 60 * 1000, absolute_ms: 12 * 60 * 60 * 1000 };
    let sessions =
        Sessions::new(h.store.clone(), h.secrets.clone(), h.clock.clone(), h.ids.clone(), policy);
    let a = sessions.start(user(PETE)).await.expect("start");
    let b = sessions.start(user(PETE)).await.expect("start");
    assert_ne!(a, b, "a fresh token every time");
    assert!(h.store.session(&a).await.expect("read").is_none(), "stored as a digest");
    let live = sessions.resume(&a).await.expect("resume").expect("live");
    assert_eq!(live.user, user(PETE));
    assert!(sessions.resume("token-404").await.expect("resume").is_none());

    // The session and its user's snapshot in one read hold what the two reads apart do:
    // for a user of a stock owner (Pete) and of its managing agent (Bea).
    for who in [PETE, BEA] {
        let token = sessions.start(user(who)).await.expect("start");
        let (with, world) =
            sessions.resume_with_snapshot(&token).await.expect("resume").expect("live");
        assert_eq!(Some(&with), sessions.resume(&token).await.expect("resume").as_ref());
        let apart = h.store.snapshot(user(who), Resource::Service).await.expect("snapshot");
        assert_eq!(contents(&world), contents(&apart), "user {who}");
        let (orgs, edges, users) = contents(&world);
        assert_eq!(orgs.len(), 2, "their organisation and the one related to it");
        assert_eq!(edges, [Relationship { stock_owner: org(ALPHA), managing_agent: org(BETA) }]);
        assert_eq!(users.iter().map(|u| u.id).collect::<Vec<_>>(), [user(who)]);
        sessions.end(&with).await.expect("sign out");
        assert!(sessions.resume_with_snapshot(&token).await.expect("resume").is_none());
    }
    assert!(sessions.resume_with_snapshot("token-404").await.expect("resume").is_none());

    // Idle: 29 minutes apart is fine, 30 is not.
    h.clock.advance(29 * 60 * 1000);
    assert!(sessions.resume(&a).await.expect("resume").is_some());
    h.clock.advance(29 * 60 * 1000);
    assert!(sessions.resume(&a).await.expect("resume").is_some(), "use restarts the idle clock");
    assert!(
        sessions.resume_with_snapshot(&b).await.expect("resume").is_none(),
        "b sat idle for 58 minutes"
    );
    assert!(sessions.resume(&b).await.expect("resume").is_none(), "and was ended");
    // Absolute: 12 hours after signing in, however busy.
    let c = sessions.start(user(PETE)).await.expect("start");
    for _ in 0..25 {
        h.clock.advance(29 * 60 * 1000);
        let _ = sessions.resume(&c).await.expect("resume");
    }
    assert!(sessions.resume(&c).await.expect("resume").is_none(), "past 12 hours");

    // Everywhere else: the current one stays.
    let d = sessions.start(user(PETE)).await.expect("start");
    let e = sessions.start(user(PETE)).await.expect("start");
    let keep = sessions.resume(&d).await.expect("resume").expect("live");
    assert!(sessions.end_all(user(PETE), Some(&keep)).await.expect("end") >= 1);
    assert!(sessions.resume(&d).await.expect("resume").is_some());
    assert!(sessions.resume(&e).await.expect("resume").is_none());
    sessions.end(&keep).await.expect("sign out");
    assert!(sessions.resume(&d).await.expect("resume").is_none());

    // Deactivation ends every session at once; so does deletion.
    let f = sessions.start(user(PETE)).await.expect("start");
    let v = h.version(user(PETE)).await;
    h.manage.deactivate_user(user(CORA), user(PETE), v).await.expect("deactivate");
    assert!(sessions.resume(&f).await.expect("resume").is_none());
    let g = sessions.start(user(PETE)).await.expect("start");
    h.manage.delete_user(user(CORA), user(PETE), v + 1).await.expect("delete");
    assert!(sessions.resume(&g).await.expect("resume").is_none());
    let names = h
        .audit_names(AuditQuery { name: Some(AuditName::SessionCreate), ..AuditQuery::default() })
        .await;
    assert_eq!(names.len(), 9);
}

/// What a snapshot holds, each part sorted by id, to compare two.
fn contents(w: &World) -> (Vec<Organisation>, Vec<Relationship>, Vec<User>) {
    let mut orgs: Vec<Organisation> = w.organisations().cloned().collect();
    orgs.sort_by_key(|o| o.id);
    let mut edges: Vec<Relationship> = w.relationships().copied().collect();
    edges.sort();
    let mut users: Vec<User> = w.users().cloned().collect();
    users.sort_by_key(|u| u.id);
    (orgs, edges, users)
}

/// Runs two futures concurrently on the current task.
async fn tokio_join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    match (ra, rb) {
        (Some(a), Some(b)) => (a, b),
        _ => unreachable!("both finished"),
    }
}
