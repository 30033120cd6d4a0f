//! The `ChangeStore` contract, through the `Manage` service: invitations (pending,
//! accepted, revoked, expired, resent, re-checked at acceptance), edits with versions,
//! email changes confirmed by the new address, deactivation, reactivation, deletion that
//! keeps logs and audit, organisations, relationships, merging, and the audit trail.

use std::future::Future;
use std::sync::Arc;

use tenure_core::{
    AccountStatus, AccountStore, AuditName, AuditQuery, ChangeStore, Directory, Invite, MailQueue,
    Manage, ManageError, ManagePolicy, ManagePorts, OrganisationInput, Page, PersonInput,
    SessionPolicy, SessionStore, Sessions, StateError, UserChanges,
};
use tenure_domain::RelationshipStep::{Accept, Add, Remove, Withdraw};
use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{
    Action, DenyReason, Email, Log, LogId, Name, OrgId, Organisation, Relationship,
    RelationshipEffect, RelationshipError, Request, Resource, RoleId, User, UserId, World,
};
use uuid::Uuid;

use crate::fakes::{CountingHasher, FixedClock, MemoryMailer, SequentialIds, SequentialSecrets};

/// What the suite needs of a store.
pub trait FullStore: Directory + ChangeStore + AccountStore + SessionStore + MailQueue {}
impl<T: Directory + ChangeStore + AccountStore + SessionStore + MailQueue> FullStore for T {}

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
        courier: crate::fakes::courier(store.clone(), mailer.clone(), clock.clone()),
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
        let org = ChangeStore::organisation(&*self.store, u.organisation)
            .await
            .expect("read")
            .expect("organisation")
            .value;
        self.manage.status(&u, &org).await.expect("status")
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
        Err(ManageError::Forbidden(why)) => {
            assert!(matches!(why.reason(), DenyReason::RoleNotAssignable(_)), "{why:?}");
            assert!(why.sentence().contains("Administrator"), "{why}");
        }
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
    assert!(matches!(
        m.resend_invitation(user(CORA), nina).await,
        Err(ManageError::State(StateError::AlreadyAccepted))
    ));

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
    let detail = rows[0].detail.to_string();
    assert!(
        detail.contains("\"name\"") && !detail.contains("Piper"),
        "field names, not personal data: {detail}"
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

    // An email change waits for the new address; the old one is told. One's own address
    // changes only with one's current password (see `credentials`).
    let event = tenure_core::AuditEvent {
        id: Uuid::from_u128(0xF00D),
        at: tenure_core::Timestamp(0),
        actor: None,
        name: AuditName::PasswordChange,
        outcome: tenure_core::Outcome::Success,
        target_user: Some(user(PETE)),
        organisation: None,
        detail: tenure_core::AuditDetail::Empty,
        origin: None,
    };
    let hash = CountingHasher::with_cost(2).hash_of(GOOD);
    h.store.set_password(user(PETE), hash, event).await.expect("password");
    let change = UserChanges {
        email: Some("Peter@Example.com".to_owned()),
        current_password: Some(GOOD.to_owned()),
        ..UserChanges::default()
    };
    assert!(matches!(
        m.edit_user(
            user(PETE),
            user(PETE),
            v + 1,
            &UserChanges {
                email: Some("cora@example.com".to_owned()),
                current_password: Some(GOOD.to_owned()),
                ..UserChanges::default()
            }
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
            assert!(matches!(why.reason(), DenyReason::LastGuardedHolder(_)), "{why:?}");
            assert!(why.sentence().contains("must keep at least one active"), "{why}");
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
    // Names are unique without case: forms name the organisation to relate, merge into or
    // move someone to, so taking another's name would point their requests here.
    for taken in ["Beta", "  gAMMA "] {
        match m.edit_organisation(user(CORA), org(ALPHA), v, &input(taken, true)).await {
            Err(ManageError::Invalid(fields)) => {
                assert_eq!(fields.len(), 1, "{fields:?}");
                assert_eq!(fields[0].field, "name");
                assert!(fields[0].message.contains("already has this name"), "{fields:?}");
            }
            other => {
                panic!("renaming Alpha to `{taken}`: expected the name refused, got {other:?}")
            }
        }
    }
    assert_eq!(h.org_version(org(ALPHA)).await, v, "a refused rename writes nothing");
    assert!(matches!(
        m.create_organisation(user(ADA), &input("BETA", false)).await,
        Err(ManageError::Invalid(f)) if f[0].field == "name"
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
    let detail = rows[0].detail.to_string();
    assert!(
        detail.contains(r#""before":{"name":"Alpha""#)
            && detail.contains(r#""after":{"name":"Alpha Homes""#),
        "{detail}"
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
    // Cat is shown as deactivated, though her own flag is untouched, and the engine
    // refuses to deactivate her again (the organisation's reactivation restores her).
    assert_eq!(h.status(user(CAT)).await, AccountStatus::Deactivated);
    assert!(h.user(user(CAT)).await.expect("cat").active, "her own flag is untouched");
    assert!(matches!(
        m.deactivate_user(user(ADA), user(CAT), h.version(user(CAT)).await).await,
        Err(ManageError::Forbidden(_))
    ));
    m.reactivate_organisation(user(ADA), org(GAMMA), h.org_version(org(GAMMA)).await)
        .await
        .expect("reactivate");
    assert!(h.store.sign_in_record(&cat).await.expect("read").expect("cat").active);
    assert_eq!(h.status(user(CAT)).await, AccountStatus::Active);

    // Relationships by consent: a coordinator's add is a request that widens nothing
    // until the other end (here only an administrator manages Gamma) accepts it.
    let edge = |a, b| Relationship { stock_owner: org(a), managing_agent: org(b) };
    let sees = |store: Arc<_>, actor: u128, target: u128| async move {
        let w = Directory::snapshot(&*store, user(actor), Resource::User(user(target)))
            .await
            .expect("snapshot");
        w.decide(&Request::new(user(actor), Action::UserView, Resource::User(user(target))))
            .is_allowed()
    };
    assert_eq!(
        m.change_relationship(user(CORA), edge(ALPHA, GAMMA), Add).await.expect("request"),
        RelationshipEffect::Requested { by: org(ALPHA) }
    );
    assert!(!sees(h.store.clone(), CORA, CAT).await, "a request must not widen reach");
    assert!(matches!(
        m.change_relationship(user(CORA), edge(ALPHA, GAMMA), Accept).await,
        Err(ManageError::Forbidden(_))
    ));
    assert!(matches!(
        m.change_relationship(user(CORA), edge(ALPHA, GAMMA), Add).await,
        Err(ManageError::Relationship(RelationshipError::AlreadyRequested { .. }))
    ));
    // Names are public to those who manage relationships (to choose the other end);
    // a provider manages none.
    let names = m.organisation_names(user(CORA), "AMM").await.expect("names");
    assert_eq!(names.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(), ["Gamma"]);
    assert!(matches!(m.organisation_names(user(PETE), "amm").await, Err(ManageError::NotFound)));
    let pending = m.relationship_requests(user(CORA), org(ALPHA)).await.expect("requests");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].requested_by, org(ALPHA));
    assert_eq!(
        m.change_relationship(user(ADA), edge(ALPHA, GAMMA), Accept).await.expect("accept"),
        RelationshipEffect::Accepted { by: org(ALPHA) }
    );
    assert!(sees(h.store.clone(), CORA, CAT).await, "an accepted request makes the relationship");
    assert!(m.relationship_requests(user(CORA), org(ALPHA)).await.expect("requests").is_empty());
    assert!(matches!(
        m.change_relationship(user(CORA), edge(ALPHA, BETA), Add).await,
        Err(ManageError::Relationship(RelationshipError::Duplicate { .. }))
    ));
    assert!(matches!(
        m.change_relationship(user(CORA), edge(ALPHA, ALPHA), Add).await,
        Err(ManageError::Relationship(RelationshipError::SelfRelationship))
    ));
    assert!(matches!(
        m.change_relationship(user(CAT), edge(GAMMA, BETA), Add).await,
        Err(ManageError::Forbidden(_))
    ));
    assert_eq!(
        m.change_relationship(user(CORA), edge(ALPHA, GAMMA), Remove).await.expect("remove"),
        RelationshipEffect::Removed
    );
    assert!(!sees(h.store.clone(), CORA, CAT).await, "removing ends the reach at once");
    assert!(matches!(
        m.change_relationship(user(CORA), edge(ALPHA, GAMMA), Remove).await,
        Err(ManageError::Relationship(RelationshipError::NotFound { .. }))
    ));
    // Between two coordinators: the asking end withdraws; the other end answers.
    m.change_relationship(user(CORA), edge(BETA, ALPHA), Add).await.expect("request");
    assert!(matches!(
        m.change_relationship(user(BEA), edge(BETA, ALPHA), Withdraw).await,
        Err(ManageError::Forbidden(_))
    ));
    assert_eq!(
        m.change_relationship(user(CORA), edge(BETA, ALPHA), Withdraw).await.expect("withdraw"),
        RelationshipEffect::Withdrawn { by: org(ALPHA) }
    );
    assert!(matches!(
        m.change_relationship(user(BEA), edge(BETA, ALPHA), Accept).await,
        Err(ManageError::Forbidden(_))
    ));
    m.change_relationship(user(CORA), edge(BETA, ALPHA), Add).await.expect("request again");
    let before = h.mailer.sent().len();
    assert_eq!(
        m.change_relationship(user(BEA), edge(BETA, ALPHA), Accept).await.expect("accept"),
        RelationshipEffect::Accepted { by: org(ALPHA) }
    );
    let told: Vec<String> = h.mailer.sent()[before..].iter().map(|m| m.to.to_string()).collect();
    // Everyone who manages Alpha's relationships is told: its two coordinators, and Ada,
    // an administrator who happens to be in Alpha.
    assert_eq!(
        told,
        ["ada@example.com", "colin@example.com", "cora@example.com"],
        "Alpha's relationship managers are told"
    );
    assert!(sees(h.store.clone(), BEA, PETE).await, "Beta now manages Alpha's users");
    m.change_relationship(user(BEA), edge(BETA, ALPHA), Remove).await.expect("either end removes");
    assert!(!sees(h.store.clone(), BEA, PETE).await);

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
            AuditName::RelationshipAccept,
            AuditName::RelationshipRequest,
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
        Err(ManageError::State(StateError::AdministratorExists))
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
            Err(ManageError::State(StateError::AdministratorExists))
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
        Err(ManageError::State(StateError::AdministratorExists))
    ));

    // Deleting a log (issue 15), on a fresh world: what the engine allows (a coordinator
    // of another organisation is told "not found"), the log gone with one audit entry that
    // keeps what it was, and a second deletion "not found".
    let h = harness(make(world()).await);
    let gamma_log = LogId::from_uuid(Uuid::from_u128(501));
    let ours = LogId::from_uuid(Uuid::from_u128(502));
    assert!(matches!(h.manage.delete_log(user(CORA), gamma_log).await, Err(ManageError::NotFound)));
    h.manage.delete_log(user(CORA), ours).await.expect("delete");
    assert!(matches!(h.manage.delete_log(user(CORA), ours).await, Err(ManageError::NotFound)));
    let w = h.store.snapshot(user(ADA), Resource::Log(ours)).await.expect("snapshot");
    assert!(w.log(ours).is_none(), "gone from the store");
    let w = h.store.snapshot(user(ADA), Resource::Log(gamma_log)).await.expect("snapshot");
    assert!(w.log(gamma_log).is_some(), "Gamma's stays");
    let q = AuditQuery { name: Some(AuditName::LogDelete), ..AuditQuery::default() };
    let rows = ChangeStore::audit(&*h.store, &q, Page::numbered(1, 10)).await.expect("audit");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].organisation, Some(org(ALPHA)));
    let tenure_core::AuditDetail::LogDelete(d) = &rows[0].detail else { panic!("{rows:?}") };
    assert_eq!((d.owner_name.as_str(), d.manager_name.as_str()), ("Alpha", "Beta"));
    assert_eq!(d.assigned_to, Some(user(PETE).to_string()));
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

/// The email address and the password are credentials (issue 11, attacks 2 and 4).
/// Someone else's address changes only by someone who strictly outranks them, and a
/// change to it, once confirmed, ends their sessions, kills their reset links and tells
/// the old address who did it. One's own address changes only with one's current
/// password, checked like a sign-in (a wrong one is audited and counts towards the
/// lockout). A password change and a completed reset kill every reset link and end every
/// session, and the person is told, by a notice that holds no link.
///
/// # Panics
/// On the first broken promise.
pub async fn credentials<S, F, Fut>(make: F)
where
    S: FullStore,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    use tenure_core::{
        Accounts, AuditEvent, ChangePasswordError, Clock, EmailConfirmed, IdGen, LockoutPolicy,
        Outcome, ResetError, ResetPolicy, Timestamp,
    };
    use tenure_domain::PasswordPolicy;

    let h = harness(make(world()).await);
    let m = &h.manage;
    let hasher = Arc::new(CountingHasher::with_cost(2));
    let accounts = Accounts::new(
        h.store.clone(),
        hasher.clone(),
        h.clock.clone(),
        h.ids.clone(),
        LockoutPolicy::default(),
    )
    .with_resets(
        h.secrets.clone(),
        crate::fakes::courier(h.store.clone(), h.mailer.clone(), h.clock.clone()),
        ResetPolicy { base_url: "https://tenure.example".to_owned(), ..ResetPolicy::default() },
    );
    let sessions = Sessions::new(
        h.store.clone(),
        h.secrets.clone(),
        h.clock.clone(),
        h.ids.clone(),
        SessionPolicy::default(),
    );
    for n in [ADA, CORA, COLIN, PETE, BEA, CAT] {
        let event = AuditEvent {
            id: h.ids.next_id(),
            at: Timestamp(0),
            actor: None,
            name: AuditName::PasswordChange,
            outcome: Outcome::Success,
            target_user: Some(user(n)),
            organisation: None,
            detail: tenure_core::AuditDetail::Empty,
            origin: None,
        };
        h.store.set_password(user(n), hasher.hash_of(GOOD), event).await.expect("password");
    }
    let links = |id: UserId| {
        let store = h.store.clone();
        async move { ChangeStore::links_for_user(&*store, id).await.expect("links").len() }
    };
    let last_to = |to: &str| {
        h.mailer.sent().into_iter().rev().find(|m| m.to.as_str() == to).expect("a message")
    };
    let secret_free = |m: &tenure_mail::Message| {
        !m.text.contains("token") && !m.text.contains("http") && !m.html.contains("href")
    };

    // Attack 2: Cora, a coordinator of Alpha, sets the address of Bea, a coordinator of
    // Beta (Alpha's managing agent: the same rank), to her own, to take Bea's account
    // over with a reset. Refused, with the reason; nothing written, no mail, no link.
    let v = h.version(user(BEA)).await;
    let mailed = h.mailer.sent().len();
    let hijack = UserChanges {
        email: Some("cora.private@example.com".to_owned()),
        ..UserChanges::default()
    };
    match m.edit_user(user(CORA), user(BEA), v, &hijack).await {
        Err(ManageError::Forbidden(why)) => {
            assert_eq!(why.reason(), DenyReason::TargetNotOutranked);
            assert!(why.sentence().contains("ranked above"), "{why}");
        }
        other => panic!("expected forbidden, got {other:?}"),
    }
    assert_eq!(h.version(user(BEA)).await, v, "nothing written");
    assert_eq!(h.mailer.sent().len(), mailed, "no mail");
    assert_eq!(links(user(BEA)).await, 0, "no link");
    let refused = h
        .audit_names(AuditQuery {
            user: Some(user(BEA)),
            name: Some(AuditName::AuthzFail),
            ..AuditQuery::default()
        })
        .await;
    assert_eq!(refused.len(), 1, "the refusal is audited");
    // Out of reach it is "not found"; a provider may not change a coordinator's either.
    assert!(matches!(
        m.edit_user(user(CORA), user(CAT), 1, &hijack).await,
        Err(ManageError::NotFound)
    ));
    assert!(matches!(
        m.edit_user(user(PETE), user(CORA), h.version(user(CORA)).await, &hijack).await,
        Err(ManageError::Forbidden(_) | ManageError::NotFound)
    ));
    // Bea's name and telephone are still Cora's to change (`user.edit_details`).
    let rename = UserChanges { name: Some("Bea Beta".to_owned()), ..UserChanges::default() };
    m.edit_user(user(CORA), user(BEA), v, &rename).await.expect("rename");
    // A coordinator strictly outranks a data provider within reach: Cora may change
    // Pete's address (no password of hers asked), and the link goes to the new address.
    let pete_address =
        UserChanges { email: Some("pete.new@example.com".to_owned()), ..UserChanges::default() };
    let edited = m
        .edit_user(user(CORA), user(PETE), h.version(user(PETE)).await, &pete_address)
        .await
        .expect("coordinator over provider");
    assert!(edited.email_confirmation_sent);

    // An administrator strictly outranks a coordinator: Ada changes Bea's address.
    // Nothing ends until the new address confirms.
    let bea_here = sessions.start(user(BEA)).await.expect("start");
    let bea_there = sessions.start(user(BEA)).await.expect("start");
    accounts.request_reset("bea@example.com").await.expect("reset asked");
    let bea_reset = h.token("bea@example.com");
    let change =
        UserChanges { email: Some("bea.new@example.com".to_owned()), ..UserChanges::default() };
    let edited = m
        .edit_user(user(ADA), user(BEA), h.version(user(BEA)).await, &change)
        .await
        .expect("administrator over coordinator");
    assert!(edited.email_confirmation_sent);
    let told = last_to("bea@example.com");
    assert!(told.text.contains("ada asked"), "the old address hears who asked: {}", told.text);
    assert!(sessions.resume(&bea_here).await.expect("resume").is_some());
    let confirmed = m.confirm_email(&h.token("bea.new@example.com")).await.expect("confirm");
    assert_eq!(confirmed, EmailConfirmed { user: user(BEA), by_themselves: false });
    assert_eq!(h.user(user(BEA)).await.expect("bea").email.as_str(), "bea.new@example.com");
    for token in [&bea_here, &bea_there] {
        assert!(sessions.resume(token).await.expect("resume").is_none(), "her sessions end");
    }
    assert!(matches!(
        accounts.reset_password(&bea_reset, "a brand new passphrase").await,
        Err(ResetError::LinkInvalid)
    ));
    let notice = last_to("bea@example.com");
    assert_eq!(notice.subject, "Your email address has been changed");
    assert!(
        notice.text.contains("ada changed")
            && notice.text.contains("from bea@example.com to bea.new@example.com"),
        "{}",
        notice.text
    );
    assert!(secret_free(&notice), "{}", notice.text);
    let q = AuditQuery {
        user: Some(user(BEA)),
        name: Some(AuditName::EmailChange),
        ..AuditQuery::default()
    };
    let rows = ChangeStore::audit(&*h.store, &q, Page::numbered(1, 10)).await.expect("audit");
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].actor, rows[0].target_user), (Some(user(ADA)), Some(user(BEA))));
    // She signs in at the new address; the old one is nobody's.
    assert!(accounts.sign_in("bea.new@example.com", GOOD).await.is_ok());
    assert!(accounts.sign_in("bea@example.com", GOOD).await.is_err());

    // A confirmation is checked again when used: Cora asked for Pete's new address, then
    // Pete became a coordinator (her equal); the link changes nothing.
    let promote = UserChanges { role: Some(DATA_COORDINATOR), ..UserChanges::default() };
    m.edit_user(user(ADA), user(PETE), h.version(user(PETE)).await, &promote)
        .await
        .expect("promote");
    assert!(matches!(
        m.confirm_email(&h.token("pete.new@example.com")).await,
        Err(ManageError::Forbidden(_))
    ));
    assert_eq!(h.user(user(PETE)).await.expect("pete").email.as_str(), "pete@example.com");

    // Attack 4: a reset link outlives a password change. Pete asks for a reset, then
    // changes his password while signed in on two devices: the link dies, and every
    // session ends with the change (an app starts a fresh one for the device he is on).
    let here = sessions.start(user(PETE)).await.expect("start");
    let there = sessions.start(user(PETE)).await.expect("start");
    accounts.request_reset("pete@example.com").await.expect("reset asked");
    let link = h.token("pete@example.com");
    let policy = PasswordPolicy::default();
    accounts
        .change_password(user(PETE), GOOD, "amber falcon meadow three", &policy)
        .await
        .expect("changed");
    for token in [&here, &there] {
        assert!(sessions.resume(token).await.expect("resume").is_none());
    }
    assert!(!accounts.reset_link_usable(&link).await.expect("usable"));
    assert!(matches!(
        accounts.reset_password(&link, "a brand new passphrase").await,
        Err(ResetError::LinkInvalid)
    ));
    assert!(accounts.sign_in("pete@example.com", "amber falcon meadow three").await.is_ok());
    let notice = last_to("pete@example.com");
    assert_eq!(notice.subject, "Your password has been changed");
    assert!(secret_free(&notice), "{}", notice.text);
    assert!(matches!(
        accounts.change_password(user(PETE), GOOD, "another passphrase here", &policy).await,
        Err(ChangePasswordError::CurrentIncorrect)
    ));

    // A completed reset ends every session and kills the other links (REC-05, REC-06).
    let here = sessions.start(user(COLIN)).await.expect("start");
    accounts.request_reset("colin@example.com").await.expect("reset asked");
    let first = h.token("colin@example.com");
    accounts.request_reset("colin@example.com").await.expect("reset asked");
    let second = h.token("colin@example.com");
    assert!(matches!(
        accounts.reset_password(&first, "a brand new passphrase").await,
        Err(ResetError::LinkInvalid)
    ));
    assert_eq!(
        accounts.reset_password(&second, "copper lantern willow five").await.expect("reset"),
        user(COLIN)
    );
    assert!(sessions.resume(&here).await.expect("resume").is_none());
    let notice = last_to("colin@example.com");
    assert_eq!(notice.subject, "Your password has been changed");
    assert!(secret_free(&notice), "{}", notice.text);

    // One's own address (AUTH-07): without the current password, or with a wrong one,
    // nothing changes and no mail goes; a wrong one is audited and counts like a failed
    // sign-in.
    let v = h.version(user(COLIN)).await;
    let mailed = h.mailer.sent().len();
    let own = |password: Option<&str>| UserChanges {
        email: Some("colin.new@example.com".to_owned()),
        current_password: password.map(ToOwned::to_owned),
        ..UserChanges::default()
    };
    let colin_email = Email::parse("colin@example.com").expect("email");
    for (password, counted) in [(None, 0), (Some(""), 0), (Some("not my password"), 1)] {
        match m.edit_user(user(COLIN), user(COLIN), v, &own(password)).await {
            Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "current_password"),
            other => panic!("expected a field error, got {other:?}"),
        }
        let record = h.store.sign_in_record(&colin_email).await.expect("read").expect("colin");
        assert_eq!(record.failed_attempts, counted);
    }
    assert_eq!(h.version(user(COLIN)).await, v, "nothing written");
    assert_eq!(h.mailer.sent().len(), mailed, "no mail");
    let trail = h.store.audit_for_user(user(COLIN)).await.expect("audit");
    let failed = |e: &AuditEvent| e.name == AuditName::LoginFail;
    assert!(
        trail
            .iter()
            .filter(|e| failed(e))
            .any(|e| e.detail.to_string().contains("wrong current password"))
    );
    assert!(trail.iter().all(|e| !e.detail.to_string().contains("not my password")));
    // With it, a link goes to the new address; confirming ends his sessions too (an app
    // keeps the confirming device signed in under a fresh session).
    let here = sessions.start(user(COLIN)).await.expect("start");
    let edited = m
        .edit_user(user(COLIN), user(COLIN), v, &own(Some("copper lantern willow five")))
        .await
        .expect("own change");
    assert!(edited.email_confirmation_sent);
    let record = h.store.sign_in_record(&colin_email).await.expect("read").expect("colin");
    assert_eq!(record.failed_attempts, 1, "re-authenticating is no sign-in: the count stays");
    let confirmed = m.confirm_email(&h.token("colin.new@example.com")).await.expect("confirm");
    assert_eq!(confirmed, EmailConfirmed { user: user(COLIN), by_themselves: true });
    assert!(sessions.resume(&here).await.expect("resume").is_none());
    let notice = last_to("colin@example.com");
    assert!(notice.text.contains("You changed"), "{}", notice.text);
    assert!(secret_free(&notice), "{}", notice.text);

    // Five wrong passwords lock the account, as five failed sign-ins do; then even the
    // right one is refused, and is not counted.
    let v = h.version(user(CAT)).await;
    let cat_email = Email::parse("cat@example.com").expect("email");
    let cat_own = |password: &str| UserChanges {
        email: Some("cat.new@example.com".to_owned()),
        current_password: Some(password.to_owned()),
        ..UserChanges::default()
    };
    for _ in 0..5 {
        assert!(matches!(
            m.edit_user(user(CAT), user(CAT), v, &cat_own("wrong wrong wrong")).await,
            Err(ManageError::Invalid(_))
        ));
    }
    let record = h.store.sign_in_record(&cat_email).await.expect("read").expect("cat");
    assert!(record.locked_until.is_some_and(|until| until > h.clock.now()), "locked");
    let trail = h.store.audit_for_user(user(CAT)).await.expect("audit");
    assert_eq!(trail.iter().filter(|e| e.name == AuditName::LoginLock).count(), 1);
    assert!(matches!(
        m.edit_user(user(CAT), user(CAT), v, &cat_own(GOOD)).await,
        Err(ManageError::Invalid(_))
    ));
    assert_eq!(
        h.store.sign_in_record(&cat_email).await.expect("read").expect("cat").failed_attempts,
        0,
        "attempts while locked are not counted"
    );
    assert_eq!(h.version(user(CAT)).await, v, "nothing written");

    // An invitation sent to an old address dies with it: Cora invites Nina, then changes
    // her address before she accepts (a typo, or a mailbox someone else now reads). The
    // link in the old mailbox no longer works; a resend goes to the new address.
    let nina = m
        .invite(user(CORA), &invite("Nina", "nina@example.com", ALPHA, DATA_PROVIDER))
        .await
        .expect("invite");
    let old_link = h.token("nina@example.com");
    let moved =
        UserChanges { email: Some("nina.new@example.com".to_owned()), ..UserChanges::default() };
    m.edit_user(user(CORA), nina, h.version(nina).await, &moved).await.expect("change");
    assert!(m.invitation(&old_link).await.is_ok(), "nothing changes until it is confirmed");
    m.confirm_email(&h.token("nina.new@example.com")).await.expect("confirm");
    assert!(matches!(m.invitation(&old_link).await, Err(ManageError::LinkInvalid)));
    assert!(matches!(m.accept_invitation(&old_link, GOOD).await, Err(ManageError::LinkInvalid)));
    assert_eq!(h.status(nina).await, AccountStatus::InvitationRevoked);
    m.resend_invitation(user(CORA), nina).await.expect("resend");
    m.accept_invitation(&h.token("nina.new@example.com"), GOOD).await.expect("accept");
    assert_eq!(h.user(nina).await.expect("nina").roles, vec![DATA_PROVIDER]);
}
