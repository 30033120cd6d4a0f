//! The chunk port's contract (`tenure_core::batch::chunk`): a batch import's chunk reads
//! inside its transaction (its own writes too), a refused row (or set of rows written
//! together) is rolled back alone and the chunk goes on (on PostgreSQL too, where a failed
//! statement otherwise aborts the transaction), what was kept lands at the commit, and a
//! chunk dropped uncommitted keeps nothing. And the read port's `invitation_roles`, the
//! users export's read of the same roles outside a chunk.

use std::future::Future;
use std::sync::Arc;

use tenure_core::batch::chunk::{ChunkStore, RowWrites};
use tenure_core::{
    AuditDetail, AuditEvent, AuditName, AuditQuery, ChangeError, ChangeStore, Directory, Link,
    LinkPurpose, LinkState, Outcome, Page, Timestamp, Write,
};
use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{Email, Name, OrgId, Organisation, RoleCatalogue, RoleId, User, UserId, World};
use uuid::Uuid;

/// What a chunk's store also is: the ordinary write port, to look at what landed.
pub trait Chunked: ChunkStore + ChangeStore {}
impl<T: ChunkStore + ChangeStore> Chunked for T {}

const NOW: i64 = 1_800_000_000_000;

fn org_id() -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(0xB000))
}

/// The world a store starts from: one organisation, no users.
pub fn world() -> World {
    let mut world = World::with_roles(RoleCatalogue::core());
    let name = Name::parse("Chunk Homes").expect("a name");
    world.insert_organisation(Organisation::new(org_id(), name)).expect("an organisation");
    world
}

fn email(n: u128) -> Email {
    Email::parse(&format!("p{n}@example.com")).expect("an email")
}

/// Inviting person `n`: the user, their link, the touch of the organisation at `version`,
/// and an audit entry.
fn invite(n: u128, version: i64) -> RowWrites {
    invite_as(n, n, version)
}

/// As [`invite`], with `address`'s email (the same as another's: refused).
fn invite_as(n: u128, address: u128, version: i64) -> RowWrites {
    let id = UserId::from_uuid(Uuid::from_u128(0xC000 + n));
    let name = Name::parse(&format!("Person {n}")).expect("a name");
    let user = User::new(id, name, email(address), org_id(), Vec::new());
    let link = Link {
        id: Uuid::from_u128(0xE000 + n),
        digest: format!("{n:064x}"),
        purpose: LinkPurpose::Invitation,
        user: id,
        organisation: org_id(),
        role: RoleCatalogue::core().iter().next().map(|r| r.id),
        email: email(address),
        issued_by: None,
        issued: Timestamp(NOW),
        expires: Timestamp(NOW + 1_000),
        state: LinkState::Pending,
    };
    RowWrites {
        writes: vec![
            Write::TouchOrganisation { id: org_id(), version },
            Write::InsertUser(user),
            Write::IssueLink(link),
        ],
        audit: vec![AuditEvent {
            id: Uuid::from_u128(0xD000 + n),
            at: Timestamp(NOW),
            actor: None,
            name: AuditName::InviteSend,
            outcome: Outcome::Success,
            target_user: Some(id),
            organisation: Some(org_id()),
            detail: AuditDetail::Empty,
            origin: None,
        }],
    }
}

async fn users_in<S: Chunked + ?Sized>(store: &S, ns: &[u128]) -> Vec<u128> {
    let mut found = Vec::new();
    for n in ns {
        if store.user_by_email(&email(*n)).await.expect("a read").is_some() {
            found.push(*n);
        }
    }
    found
}

async fn audited<S: Chunked + ?Sized>(store: &S) -> usize {
    store.audit(&AuditQuery::default(), Page::numbered(1, 100)).await.expect("the trail").len()
}

/// The chunk contract on a store made from [`world`] by `make`.
pub async fn chunks<S, F, Fut>(make: F)
where
    S: Chunked + ?Sized,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let store = make(world()).await;
    let start = store.organisation(org_id()).await.expect("a read").expect("the org").version;

    // A chunk reads what it wrote; a refused row is rolled back alone.
    let mut chunk = store.begin().await.expect("a chunk");
    chunk.apply(vec![invite(1, start), invite(2, start + 1)]).await.expect("written together");
    let seen = chunk.users_by_email(&[email(1), email(2), email(9)]).await.expect("read");
    assert_eq!(seen.len(), 2, "the chunk reads its own writes");
    let orgs = chunk.organisations_by_name(&["chunk homes".to_owned()]).await.expect("read");
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].version, start + 2, "two touches");
    let roles = chunk.invitation_roles(&[seen[0].value.id, seen[1].value.id]).await.expect("read");
    assert_eq!(roles.len(), 2, "each has an open invitation");
    // Person 3 takes person 1's address: refused, and nothing of it is kept.
    let refused = chunk.apply_row(invite_as(3, 1, start + 2)).await;
    assert!(matches!(refused, Err(ChangeError::EmailInUse)), "{refused:?}");
    // The chunk goes on (on PostgreSQL, past the failed statement).
    chunk.apply_row(invite(4, start + 2)).await.expect("a row after the refused one");
    // Rows written together are all refused when one is: person 6 at a stale version.
    let together = chunk.apply(vec![invite(5, start + 3), invite(6, start)]).await;
    assert!(together.is_err(), "{together:?}");
    chunk.apply_row(invite(5, start + 3)).await.expect("alone, it is fine");
    chunk.commit().await.expect("committed");
    assert_eq!(users_in(&*store, &[1, 2, 3, 4, 5, 6]).await, vec![1, 2, 4, 5]);
    assert_eq!(audited(&*store).await, 4, "the refused rows' entries are not kept");
    let version = store.organisation(org_id()).await.expect("a read").expect("the org").version;
    assert_eq!(version, start + 4, "one touch a kept row");

    // A chunk dropped without a commit keeps nothing.
    let mut chunk = store.begin().await.expect("a chunk");
    chunk.apply(vec![invite(7, version)]).await.expect("written");
    drop(chunk);
    assert!(users_in(&*store, &[7]).await.is_empty(), "nothing kept without a commit");
    assert_eq!(audited(&*store).await, 4);

    // A new chunk after a dropped one works as the first did.
    let mut chunk = store.begin().await.expect("a chunk");
    chunk.apply(vec![invite(7, version)]).await.expect("written");
    chunk.commit().await.expect("committed");
    assert_eq!(users_in(&*store, &[7]).await, vec![7]);
}

/// One link of person `n` for [`invitation_roles`]: link number `k`, issued at `issued`
/// (after `NOW`), giving `role`.
fn open_link(n: u128, k: u128, purpose: LinkPurpose, issued: i64, role: Option<RoleId>) -> Link {
    Link {
        id: Uuid::from_u128(0xF000 + 16 * n + k),
        digest: format!("roles-{n}-{k}"),
        purpose,
        user: person(n),
        organisation: org_id(),
        role,
        email: email(n),
        issued_by: None,
        issued: Timestamp(NOW + issued),
        expires: Timestamp(NOW + issued + 1_000_000),
        state: LinkState::Pending,
    }
}

fn person(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0xC000 + n))
}

/// The role `Directory::invitation_roles` gives a user, read the long way: the first of
/// their links, newest first, that is an invitation or reactivation not yet accepted (what
/// the users export read a user at a time).
async fn reference<S: Directory + ChangeStore + ?Sized>(
    store: &S,
    user: UserId,
) -> Option<(UserId, Option<RoleId>)> {
    let links = store.links_for_user(user).await.expect("links");
    links
        .into_iter()
        .find(|l| {
            matches!(l.purpose, LinkPurpose::Invitation | LinkPurpose::Reactivation)
                && l.state != LinkState::Accepted
        })
        .map(|l| (user, l.role))
}

/// The read port's `invitation_roles` (the users export's page of roles) on a store made
/// from [`world`] by `make`: for each user asked about with an invitation or reactivation
/// not yet accepted, the role the newest gives (by issue time, then link id), whether it
/// is pending, replaced or revoked, across purposes, whatever order the links were
/// written in; nobody else; in one statement a few hundred ids and across them.
pub async fn invitation_roles<S, F, Fut>(make: F)
where
    S: Directory + ChangeStore + ?Sized,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    use LinkPurpose::{EmailChange, Invitation, Reactivation};
    let store = make(world()).await;
    let roles = RoleCatalogue::core();
    let [a, b, c] = [ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER];
    assert!([a, b, c].iter().all(|r| roles.get(*r).is_some()), "CORE's roles");
    let apply = |writes: Vec<Write>| {
        let store = store.clone();
        async move { store.apply(writes, Vec::new()).await.expect("written") }
    };
    let issue =
        |n, k, purpose, issued, role| Write::IssueLink(open_link(n, k, purpose, issued, role));
    let accept = |n, k, purpose| Write::ConsumeLink {
        digest: format!("roles-{n}-{k}"),
        purpose,
        now: Timestamp(NOW + 50),
    };
    for n in 1..=11 {
        let name = Name::parse(&format!("Person {n}")).expect("a name");
        apply(vec![Write::InsertUser(User::new(person(n), name, email(n), org_id(), Vec::new()))])
            .await;
    }
    // 1: one pending invitation.
    apply(vec![issue(1, 1, Invitation, 10, Some(a))]).await;
    // 2: resent with another role: the first is replaced, the newest wins.
    apply(vec![issue(2, 1, Invitation, 10, Some(a))]).await;
    apply(vec![issue(2, 2, Invitation, 20, Some(b))]).await;
    // 3: accepted: nothing open.
    apply(vec![issue(3, 1, Invitation, 10, Some(a))]).await;
    apply(vec![accept(3, 1, Invitation)]).await;
    // 4: accepted, then a pending reactivation with another role.
    apply(vec![issue(4, 1, Invitation, 10, Some(a))]).await;
    apply(vec![accept(4, 1, Invitation)]).await;
    apply(vec![issue(4, 2, Reactivation, 60, Some(c))]).await;
    // 5: a reactivation written after a newer invitation: newest by issue time wins.
    apply(vec![issue(5, 1, Invitation, 20, Some(a))]).await;
    apply(vec![issue(5, 2, Reactivation, 10, Some(b))]).await;
    // 6: the newest accepted is passed over for an older pending one.
    apply(vec![issue(6, 1, Invitation, 10, Some(a))]).await;
    apply(vec![issue(6, 2, Reactivation, 20, Some(b))]).await;
    apply(vec![accept(6, 2, Reactivation)]).await;
    // 7: only an email change pending: no role to show.
    apply(vec![issue(7, 1, EmailChange, 10, None)]).await;
    // 8: a revoked invitation still shows its role, as the export always did.
    apply(vec![issue(8, 1, Invitation, 10, Some(a))]).await;
    apply(vec![Write::RevokeLinks { user: person(8), purposes: vec![Invitation] }]).await;
    // 9: an invitation giving no role.
    apply(vec![issue(9, 1, Invitation, 10, None)]).await;
    // 10: two issued in the same millisecond: the greater link id is the newer, whichever
    // was written last.
    apply(vec![issue(10, 3, Reactivation, 10, Some(b))]).await;
    apply(vec![issue(10, 2, Reactivation, 10, Some(c))]).await;
    // 11: pending, but not asked about.
    apply(vec![issue(11, 1, Invitation, 10, Some(a))]).await;

    // Asked about among many unknown ids, so the read spans several statements.
    let mut asked: Vec<UserId> =
        (0..1_200u128).map(|i| UserId::from_uuid(Uuid::from_u128(0x9_0000 + i))).collect();
    for (i, n) in (1..=10).enumerate() {
        asked.insert(i * 130, person(n));
    }
    let mut got = store.invitation_roles(&asked).await.expect("read");
    got.sort_unstable();
    let mut expected = vec![
        (person(1), Some(a)),
        (person(2), Some(b)),
        (person(4), Some(c)),
        (person(5), Some(a)),
        (person(6), Some(a)),
        (person(8), Some(a)),
        (person(9), None),
        (person(10), Some(b)),
    ];
    expected.sort_unstable();
    assert_eq!(got, expected);

    // The same as each user's links say, one at a time.
    let mut one_by_one = Vec::new();
    for n in 1..=10 {
        one_by_one.extend(reference(&*store, person(n)).await);
    }
    one_by_one.sort_unstable();
    assert_eq!(got, one_by_one, "as `links_for_user` orders them");

    assert!(store.invitation_roles(&[]).await.expect("read").is_empty(), "nobody asked");
    assert!(store.invitation_roles(&[person(3), person(7)]).await.expect("read").is_empty());
}

/// The organisations of the relationship reads' world: Alpha and Gamma hold stock,
/// Beta manages Alpha's.
fn rel_org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(0xB100 + n))
}

/// A world of three organisations, Alpha managed by Beta, and a user in each of Alpha
/// and Beta (Beta's a coordinator).
pub fn relationship_world() -> World {
    let mut world = World::with_roles(RoleCatalogue::core());
    for (n, name, stock) in [(1, "Alpha", true), (2, "Beta", false), (3, "Gamma", true)] {
        let mut org = Organisation::new(rel_org(n), Name::parse(name).expect("a name"));
        org.holds_stock = stock;
        world.insert_organisation(org).expect("an organisation");
    }
    world
        .add_relationship(tenure_domain::Relationship {
            stock_owner: rel_org(1),
            managing_agent: rel_org(2),
        })
        .expect("a relationship");
    for (n, org, role) in [(1, 1, DATA_PROVIDER), (2, 2, DATA_COORDINATOR)] {
        let id = UserId::from_uuid(Uuid::from_u128(0xC100 + n));
        let name = Name::parse(&format!("Member {n}")).expect("a name");
        let email = Email::parse(&format!("member{n}@example.com")).expect("an email");
        world.upsert_user(User::new(id, name, email, rel_org(org), vec![role])).expect("a user");
    }
    world
}

/// A chunk's relationship reads, on a store made from [`relationship_world`] by `make`:
/// the relationships and requests with any of the organisations at either end, and the
/// organisations' users with their roles, its own writes included.
pub async fn relationship_reads<S, F, Fut>(make: F)
where
    S: Chunked + ?Sized,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    use tenure_core::RelationshipRequest;
    use tenure_domain::Relationship;
    let store = make(relationship_world()).await;
    let alpha_beta = Relationship { stock_owner: rel_org(1), managing_agent: rel_org(2) };
    let gamma_beta = Relationship { stock_owner: rel_org(3), managing_agent: rel_org(2) };
    let mut chunk = store.begin().await.expect("a chunk");
    let (edges, requests) = chunk.relationships_among(&[rel_org(1)]).await.expect("read");
    assert_eq!((edges, requests.len()), (vec![alpha_beta], 0), "Alpha's, from its end");
    let (edges, _) = chunk.relationships_among(&[rel_org(2)]).await.expect("read");
    assert_eq!(edges, vec![alpha_beta], "Beta's, from the other end");
    let (edges, requests) = chunk.relationships_among(&[rel_org(3)]).await.expect("read");
    assert!(edges.is_empty() && requests.is_empty(), "Gamma has none");

    // Gamma asks Beta, in the chunk: the chunk reads it, from either end, once.
    let request = RelationshipRequest {
        relationship: gamma_beta,
        requested_by: rel_org(3),
        requested_at: Timestamp(NOW),
    };
    chunk
        .apply_row(RowWrites { writes: vec![Write::RequestRelationship(request)], audit: vec![] })
        .await
        .expect("a request");
    let (edges, requests) =
        chunk.relationships_among(&[rel_org(1), rel_org(2), rel_org(3)]).await.expect("read");
    assert_eq!(edges, vec![alpha_beta], "each relationship once");
    assert_eq!(requests, vec![request], "each request once");

    let mut members = chunk.members_of(&[rel_org(1), rel_org(2)]).await.expect("read");
    members.sort_by_key(|u| u.id);
    let found: Vec<_> = members.iter().map(|u| (u.organisation, u.roles.clone())).collect();
    assert_eq!(
        found,
        vec![(rel_org(1), vec![DATA_PROVIDER]), (rel_org(2), vec![DATA_COORDINATOR])],
        "each organisation's users, with their roles"
    );
    assert!(chunk.members_of(&[rel_org(3)]).await.expect("read").is_empty());
    drop(chunk);
    let left = store.relationship_request(gamma_beta).await.expect("a read");
    assert!(left.is_none(), "nothing kept without a commit");
}
