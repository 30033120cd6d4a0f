//! The chunk port's contract (`tenure_core::batch::chunk`): a batch import's chunk reads
//! inside its transaction (its own writes too), a refused row (or set of rows written
//! together) is rolled back alone and the chunk goes on (on PostgreSQL too, where a failed
//! statement otherwise aborts the transaction), what was kept lands at the commit, and a
//! chunk dropped uncommitted keeps nothing.

use std::future::Future;
use std::sync::Arc;

use tenure_core::batch::chunk::{ChunkStore, RowWrites};
use tenure_core::{
    AuditDetail, AuditEvent, AuditName, AuditQuery, ChangeError, ChangeStore, Link, LinkPurpose,
    LinkState, Outcome, Page, Timestamp, Write,
};
use tenure_domain::{Email, Name, OrgId, Organisation, RoleCatalogue, User, UserId, World};
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
