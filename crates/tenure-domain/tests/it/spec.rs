//! Random CORE worlds as plain data, and how to build a `World` from them.

use proptest::prelude::*;
use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{
    Action, Email, Log, LogId, Name, OrgId, Organisation, Relationship, Request, Resource, RoleId,
    User, UserId, World,
};
use uuid::Uuid;

/// A CORE role, or none.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum CoreRole {
    None,
    Provider,
    Coordinator,
    Administrator,
}

impl CoreRole {
    pub(crate) fn id(self) -> Option<RoleId> {
        match self {
            Self::None => None,
            Self::Provider => Some(DATA_PROVIDER),
            Self::Coordinator => Some(DATA_COORDINATOR),
            Self::Administrator => Some(ADMINISTRATOR),
        }
    }

    pub(crate) fn from_id(id: RoleId) -> Self {
        [Self::Provider, Self::Coordinator, Self::Administrator]
            .into_iter()
            .find(|r| r.id() == Some(id))
            .unwrap_or(Self::None)
    }

    pub(crate) fn rank(self) -> u8 {
        self as u8
    }
}

#[derive(Clone, Debug)]
pub(crate) struct OrgSpec {
    pub(crate) holds_stock: bool,
    pub(crate) active: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct UserSpec {
    pub(crate) org: usize,
    pub(crate) role: CoreRole,
    pub(crate) active: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct LogSpec {
    pub(crate) owning: usize,
    pub(crate) managing: usize,
    pub(crate) assigned: Option<usize>,
}

/// A world as plain data. Edges are (stock owner, managing agent) indexes, already
/// valid: no self-edges, no duplicates, owners hold stock.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) orgs: Vec<OrgSpec>,
    pub(crate) edges: Vec<(usize, usize)>,
    pub(crate) users: Vec<UserSpec>,
    pub(crate) logs: Vec<LogSpec>,
}

pub(crate) fn org_id(i: usize) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(0x1_0000 + i as u128))
}
pub(crate) fn user_id(i: usize) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0x2_0000 + i as u128))
}
pub(crate) fn log_id(i: usize) -> LogId {
    LogId::from_uuid(Uuid::from_u128(0x3_0000 + i as u128))
}

fn role() -> impl Strategy<Value = CoreRole> {
    prop_oneof![
        1 => Just(CoreRole::None),
        4 => Just(CoreRole::Provider),
        4 => Just(CoreRole::Coordinator),
        2 => Just(CoreRole::Administrator),
    ]
}

pub(crate) fn spec() -> impl Strategy<Value = Spec> {
    (2usize..7)
        .prop_flat_map(|n| {
            let orgs =
                prop::collection::vec((prop::bool::weighted(0.85), prop::bool::weighted(0.85)), n);
            let edges = prop::collection::vec((0..n, 0..n), 0..n * 2);
            let users = prop::collection::vec((0..n, role(), prop::bool::weighted(0.8)), 1..10);
            let logs = prop::collection::vec((0..n, 0..n, prop::option::of(0usize..10)), 0..7);
            (orgs, edges, users, logs)
        })
        .prop_map(|(orgs, edges, users, logs)| {
            let orgs: Vec<_> = orgs
                .into_iter()
                .map(|(holds_stock, active)| OrgSpec { holds_stock, active })
                .collect();
            let mut valid = Vec::new();
            for (p, c) in edges {
                if p != c && orgs[p].holds_stock && !valid.contains(&(p, c)) {
                    valid.push((p, c));
                }
            }
            let users: Vec<_> = users
                .into_iter()
                .map(|(org, role, active)| UserSpec { org, role, active })
                .collect();
            let n_users = users.len();
            let logs = logs
                .into_iter()
                .map(|(owning, managing, assigned)| LogSpec {
                    owning,
                    managing,
                    assigned: assigned.filter(|u| *u < n_users),
                })
                .collect();
            Spec { orgs, edges: valid, users, logs }
        })
}

/// One step of building a world, so the order of steps can be shuffled.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Edge(usize),
    User(usize),
    Log(usize),
}

impl Spec {
    pub(crate) fn steps(&self) -> Vec<Step> {
        let mut steps: Vec<Step> = (0..self.edges.len()).map(Step::Edge).collect();
        steps.extend((0..self.users.len()).map(Step::User));
        steps.extend((0..self.logs.len()).map(Step::Log));
        steps
    }

    pub(crate) fn user(&self, i: usize) -> User {
        let u = &self.users[i];
        let email = Email::parse(&format!("user{i}@example.com")).unwrap();
        let mut user = User::new(
            user_id(i),
            Name::parse(&format!("User {i}")).unwrap(),
            email,
            org_id(u.org),
            u.role.id().into_iter().collect(),
        );
        user.active = u.active;
        user
    }

    /// Builds the world, organisations first, then the other steps in the given order.
    pub(crate) fn build_in(&self, steps: &[Step]) -> World {
        let mut w = World::new();
        for (i, o) in self.orgs.iter().enumerate() {
            let mut org = Organisation::new(org_id(i), Name::parse(&format!("Org {i}")).unwrap());
            org.holds_stock = o.holds_stock;
            org.active = o.active;
            w.insert_organisation(org).unwrap();
        }
        for step in steps {
            match *step {
                Step::Edge(i) => {
                    let (p, c) = self.edges[i];
                    w.add_relationship(Relationship {
                        stock_owner: org_id(p),
                        managing_agent: org_id(c),
                    })
                    .unwrap();
                }
                Step::User(i) => w.upsert_user(self.user(i)).unwrap(),
                Step::Log(i) => {
                    let l = &self.logs[i];
                    w.upsert_log(Log {
                        id: log_id(i),
                        owning_organisation: org_id(l.owning),
                        managing_organisation: org_id(l.managing),
                        assigned_to: l.assigned.map(user_id),
                        created_by: None,
                    })
                    .unwrap();
                }
            }
        }
        w
    }

    pub(crate) fn build(&self) -> World {
        self.build_in(&self.steps())
    }

    /// Every well-formed request in this world, with every role for the actions that
    /// give one.
    pub(crate) fn requests(&self) -> Vec<Request> {
        let mut out = Vec::new();
        for actor in 0..self.users.len() {
            for &action in Action::ALL {
                let resources: Vec<Resource> = match action.resource_kind() {
                    tenure_domain::ResourceKind::User => {
                        (0..self.users.len()).map(|i| Resource::User(user_id(i))).collect()
                    }
                    tenure_domain::ResourceKind::Organisation => {
                        (0..self.orgs.len()).map(|i| Resource::Organisation(org_id(i))).collect()
                    }
                    tenure_domain::ResourceKind::Log => {
                        (0..self.logs.len()).map(|i| Resource::Log(log_id(i))).collect()
                    }
                    tenure_domain::ResourceKind::Service => vec![Resource::Service],
                    // Spec worlds are CORE's; Corterum has its own tests.
                    tenure_domain::ResourceKind::Entity
                    | tenure_domain::ResourceKind::Instance
                    | tenure_domain::ResourceKind::Feature
                    | tenure_domain::ResourceKind::Group
                    | tenure_domain::ResourceKind::Role => Vec::new(),
                };
                for resource in resources {
                    let request = Request::new(user_id(actor), action, resource);
                    if action.takes_role() {
                        for role in [ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER] {
                            out.push(request.giving(role));
                        }
                    } else {
                        out.push(request);
                    }
                }
            }
        }
        out
    }
}
