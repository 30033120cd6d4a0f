//! Reach never widens by one's own hand: whatever the people of one organisation do
//! (relationships, invitations, roles, moves, deactivations), its data coordinators reach
//! no user or organisation they did not reach before, unless someone of the other
//! organisation or an administrator takes part. Here only Alpha's people act.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use tenure_core::{Directory, Invite, Manage, ManagePolicy, ManagePorts, PersonInput, UserChanges};
use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{Action, OrgId, Relationship, RelationshipStep, RoleId, UserId};
use tenure_store_memory::MemoryDirectory;
use tenure_testkit::contract::manage::world;
use tenure_testkit::fakes::{
    CountingHasher, FixedClock, MemoryMailer, SequentialIds, SequentialSecrets,
};
use uuid::Uuid;

fn org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}
fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(100 + n))
}

const ALPHA: u128 = 1;
/// Alpha's people: Cora and Colin (data coordinators) and Pete (data provider).
const ACTORS: [u128; 3] = [2, 3, 4];
/// Everyone in the world: Ada (administrator), Cora, Colin, Pete, Bea (Beta), Cat (Gamma).
const USERS: [u128; 6] = [1, 2, 3, 4, 5, 6];
const ROLES: [RoleId; 3] = [ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER];

#[derive(Clone, Debug)]
enum Op {
    Relationship { step: RelationshipStep, other: u128, other_is_owner: bool },
    Invite { into: u128, role: usize, n: u8 },
    ChangeRole { target: usize, role: usize },
    Move { target: usize, to: u128 },
    Deactivate { target: usize },
    Reactivate { target: usize },
}

fn op() -> impl Strategy<Value = (usize, Op)> {
    let step = prop_oneof![
        Just(RelationshipStep::Add),
        Just(RelationshipStep::Accept),
        Just(RelationshipStep::Decline),
        Just(RelationshipStep::Withdraw),
        Just(RelationshipStep::Remove),
    ];
    let op = prop_oneof![
        3 => (step, 1..=3u128, any::<bool>())
            .prop_map(|(step, other, other_is_owner)| Op::Relationship { step, other, other_is_owner }),
        1 => (1..=3u128, 0..3usize, any::<u8>()).prop_map(|(into, role, n)| Op::Invite { into, role, n }),
        1 => (0..6usize, 0..3usize).prop_map(|(target, role)| Op::ChangeRole { target, role }),
        1 => (0..6usize, 1..=3u128).prop_map(|(target, to)| Op::Move { target, to }),
        1 => (0..6usize).prop_map(|target| Op::Deactivate { target }),
        1 => (0..6usize).prop_map(|target| Op::Reactivate { target }),
    ];
    (0..ACTORS.len(), op)
}

/// The organisations Alpha's active data coordinators reach, for users and for
/// organisations.
async fn reach(store: &MemoryDirectory) -> BTreeSet<OrgId> {
    let mut out = BTreeSet::new();
    let w = store.update(|w| w.clone()).unwrap();
    for u in w.users().filter(|u| u.organisation == org(ALPHA)) {
        if !u.roles.contains(&DATA_COORDINATOR) {
            continue;
        }
        for action in [Action::UserView, Action::UserEditDetails, Action::OrganisationView] {
            let scope = Directory::snapshot(store, u.id, tenure_domain::Resource::Service)
                .await
                .unwrap()
                .scope(u.id, action);
            assert!(!scope.everything, "an Alpha coordinator reaches everything");
            out.extend(scope.organisations);
        }
    }
    out
}

async fn run(ops: Vec<(usize, Op)>) -> Result<(), TestCaseError> {
    let store = Arc::new(MemoryDirectory::new(world()));
    let manage = Manage::new(
        ManagePorts {
            directory: store.clone(),
            changes: store.clone(),
            hasher: Arc::new(CountingHasher::with_cost(1)),
            secrets: Arc::new(SequentialSecrets::default()),
            courier: tenure_testkit::fakes::courier(
                store.clone(),
                Arc::new(MemoryMailer::default()),
                Arc::new(FixedClock::at(1_000_000)),
            ),
            clock: Arc::new(FixedClock::at(1_000_000)),
            ids: Arc::new(SequentialIds::default()),
        },
        ManagePolicy::default(),
    );
    let before = reach(&store).await;
    let version = |id: UserId| {
        let store = store.clone();
        async move {
            tenure_core::ChangeStore::user(&*store, id).await.unwrap().map_or(1, |u| u.version)
        }
    };
    for (actor, op) in ops {
        let actor = user(ACTORS[actor]);
        // Refusals are expected; only what lands matters.
        match op {
            Op::Relationship { step, other, other_is_owner } => {
                let rel = if other_is_owner {
                    Relationship { stock_owner: org(other), managing_agent: org(ALPHA) }
                } else {
                    Relationship { stock_owner: org(ALPHA), managing_agent: org(other) }
                };
                let _ = manage.change_relationship(actor, rel, step).await;
            }
            Op::Invite { into, role, n } => {
                let person = PersonInput {
                    name: format!("Person {n}"),
                    email: format!("person{n}@example.com"),
                    telephone: String::new(),
                };
                let invite = Invite { person, organisation: org(into), role: ROLES[role] };
                let _ = manage.invite(actor, &invite).await;
            }
            Op::ChangeRole { target, role } => {
                let id = user(USERS[target]);
                let changes = UserChanges { role: Some(ROLES[role]), ..UserChanges::default() };
                let _ = manage.edit_user(actor, id, version(id).await, &changes).await;
            }
            Op::Move { target, to } => {
                let id = user(USERS[target]);
                let _ = manage.move_user(actor, id, version(id).await, org(to)).await;
            }
            Op::Deactivate { target } => {
                let id = user(USERS[target]);
                let _ = manage.deactivate_user(actor, id, version(id).await).await;
            }
            Op::Reactivate { target } => {
                let id = user(USERS[target]);
                let _ = manage.reactivate_user(actor, id, version(id).await).await;
            }
        }
        let now = reach(&store).await;
        prop_assert!(now.is_subset(&before), "reach widened from {before:?} to {now:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn reach_never_widens_by_ones_own_hand(ops in prop::collection::vec(op(), 1..14)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}
