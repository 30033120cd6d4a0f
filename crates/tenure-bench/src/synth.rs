//! A synthetic CORE world: organisations with stock owner -> managing agent edges
//! (chains, reciprocal pairs, hubs), users across every role, logs across the edges.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{
    Action, Email, Log, LogId, Name, OrgId, Organisation, Relationship, Request, Resource, User,
    UserId, World,
};
use uuid::Uuid;

/// How big a world to build.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Size {
    pub(crate) organisations: usize,
    pub(crate) users: usize,
    pub(crate) logs: usize,
}

/// The world and handy lists of what is in it.
pub(crate) struct Synth {
    pub(crate) world: World,
    pub(crate) orgs: Vec<OrgId>,
    pub(crate) users: Vec<UserId>,
    pub(crate) logs: Vec<LogId>,
    /// Users of each organisation, by organisation index.
    pub(crate) members: Vec<Vec<usize>>,
    pub(crate) edges: Vec<Relationship>,
}

pub(crate) fn org_id(i: usize) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(0x0100_0000_0000_0000_0000_0000_0000_0000 | i as u128))
}
pub(crate) fn user_id(i: usize) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0x0200_0000_0000_0000_0000_0000_0000_0000 | i as u128))
}
pub(crate) fn log_id(i: usize) -> LogId {
    LogId::from_uuid(Uuid::from_u128(0x0300_0000_0000_0000_0000_0000_0000_0000 | i as u128))
}

/// Builds a world deterministically from a seed.
pub(crate) fn build(size: Size, seed: u64) -> anyhow::Result<Synth> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut world = World::new();
    world.reserve(size.organisations, size.users, size.logs);
    let n = size.organisations;
    let mut holds = vec![false; n];
    for (i, h) in holds.iter_mut().enumerate() {
        *h = rng.random_bool(0.8);
        let mut o = Organisation::new(org_id(i), Name::parse(&format!("Organisation {i}"))?);
        o.holds_stock = *h;
        o.active = rng.random_bool(0.99);
        world.insert_organisation(o)?;
    }
    // Edges: most stock owners contract to 0-3 agents nearby (so chains form), a few are
    // hubs with many agents, and some pairs are reciprocal.
    let mut edges = Vec::new();
    for p in 0..n {
        if !holds[p] {
            continue;
        }
        let agents =
            if rng.random_bool(0.01) { rng.random_range(10..40) } else { rng.random_range(0..4) };
        for _ in 0..agents {
            let c = if rng.random_bool(0.7) {
                (p + rng.random_range(1..20)) % n
            } else {
                rng.random_range(0..n)
            };
            let rel = Relationship { stock_owner: org_id(p), managing_agent: org_id(c) };
            if world.add_relationship(rel).is_ok() {
                edges.push(rel);
                if holds[c] && rng.random_bool(0.05) {
                    let back = Relationship { stock_owner: org_id(c), managing_agent: org_id(p) };
                    if world.add_relationship(back).is_ok() {
                        edges.push(back);
                    }
                }
            }
        }
    }
    let mut members = vec![Vec::new(); n];
    for u in 0..size.users {
        let o = rng.random_range(0..n);
        let role = match rng.random_range(0..100) {
            0..2 => ADMINISTRATOR,
            2..22 => DATA_COORDINATOR,
            _ => DATA_PROVIDER,
        };
        let email = Email::parse(&format!("user{u}@example.com"))?;
        let mut user =
            User::new(user_id(u), Name::parse(&format!("User {u}"))?, email, org_id(o), vec![role]);
        user.active = rng.random_bool(0.97);
        world.upsert_user(user)?;
        members[o].push(u);
    }
    for l in 0..size.logs {
        let owner = rng.random_range(0..n);
        let agents = world.managing_agents(org_id(owner));
        let managing = if agents.is_empty() || rng.random_bool(0.5) {
            org_id(owner)
        } else {
            agents[rng.random_range(0..agents.len())]
        };
        let managing_index = (managing.as_uuid().as_u128() & 0xffff_ffff) as usize;
        let pool = &members[managing_index];
        let assigned_to = (!pool.is_empty() && rng.random_bool(0.5))
            .then(|| user_id(pool[rng.random_range(0..pool.len())]));
        world.upsert_log(Log {
            id: log_id(l),
            owning_organisation: org_id(owner),
            managing_organisation: managing,
            assigned_to,
            created_by: assigned_to,
        })?;
    }
    Ok(Synth {
        world,
        orgs: (0..n).map(org_id).collect(),
        users: (0..size.users).map(user_id).collect(),
        logs: (0..size.logs).map(log_id).collect(),
        members,
        edges,
    })
}

/// The actions both engines are compared on.
pub(crate) const MIX: &[(Action, u32)] = &[
    (Action::UserView, 30),
    (Action::UserEditDetails, 15),
    (Action::UserDeactivate, 15),
    (Action::OrganisationView, 15),
    (Action::LogView, 15),
    (Action::LogDelete, 10),
];

/// A fixed random mix of requests. Half target something near the actor (their own or a
/// related organisation), so both allows and denies are common.
pub(crate) fn requests(s: &Synth, count: usize, seed: u64) -> Vec<Request> {
    let mut rng = StdRng::seed_from_u64(seed);
    let total: u32 = MIX.iter().map(|(_, w)| w).sum();
    (0..count)
        .map(|_| {
            let actor_index = rng.random_range(0..s.users.len());
            let actor = s.users[actor_index];
            let mut pick = rng.random_range(0..total);
            let action = MIX
                .iter()
                .find(|(_, w)| {
                    if pick < *w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .map_or(Action::UserView, |(a, _)| *a);
            let home = s.world.user(actor).map_or(s.orgs[0], |u| u.organisation);
            let near = {
                let mut related: Vec<OrgId> = vec![home];
                related.extend_from_slice(s.world.managing_agents(home));
                related.extend_from_slice(s.world.stock_owners(home));
                related[rng.random_range(0..related.len())]
            };
            let org =
                if rng.random_bool(0.5) { near } else { s.orgs[rng.random_range(0..s.orgs.len())] };
            let org_index = (org.as_uuid().as_u128() & 0xffff_ffff) as usize;
            let resource = match action.resource_kind() {
                tenure_domain::ResourceKind::User => {
                    let pool = &s.members[org_index];
                    if pool.is_empty() || rng.random_bool(0.05) {
                        Resource::User(actor)
                    } else {
                        Resource::User(s.users[pool[rng.random_range(0..pool.len())]])
                    }
                }
                tenure_domain::ResourceKind::Organisation => Resource::Organisation(org),
                _ => Resource::Log(s.logs[rng.random_range(0..s.logs.len())]),
            };
            Request::new(actor, action, resource)
        })
        .collect()
}
