//! Worlds to run contract suites on: a hand-made CORE world and seeded random ones.

use tenure_domain::role::builtin::{
    ADMINISTRATOR, CERTIFICATION_EMPLOYEE, CONDUCT_RULES_STAFF, CORTERUM_ADMINISTRATOR,
    DATA_COORDINATOR, DATA_PROVIDER, ROOT_ADMINISTRATOR, SENIOR_MANAGER,
};
use tenure_domain::{
    ALL_PEOPLE, DatasetPermissions, Email, Entity, EntityId, EntityKind, Feature, FeatureSet,
    Group, GroupId, Log, LogId, Name, OrgId, Organisation, Relationship, RoleCatalogue, RoleForm,
    RoleId, User, UserId, UserLinks, World,
};
use uuid::Uuid;

/// A small deterministic generator (xorshift64*), so worlds are the same on every run
/// without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// A random version-4-shaped UUID.
    pub fn uuid(&mut self) -> Uuid {
        let hi = u128::from(self.next_u64());
        let lo = u128::from(self.next_u64());
        Uuid::from_u128((hi << 64 | lo) & !(0xF000 << 64) | (0x4000 << 64))
    }
}

/// Names that sort differently under byte order, case folding and locales, so any backend
/// that orders by anything but the lower-cased bytes shows up.
const NAMES: &[&str] = &[
    "alpha",
    "Alpha",
    "Émile",
    "zoë",
    "Zed",
    "bob",
    "Bob Jones",
    "ørsted",
    "Anne-Marie",
    "anne marie",
    "O'Brien",
    "李",
];

/// A random CORE world: organisations with relationships (reciprocal pairs included),
/// users of every role, some deactivated, and logs across the relationships.
pub fn random(seed: u64, organisations: usize, users: usize, logs: usize) -> World {
    let mut rng = Rng::new(seed);
    let mut world = World::new();
    let orgs: Vec<OrgId> =
        (0..organisations.max(1)).map(|_| OrgId::from_uuid(rng.uuid())).collect();
    for (i, id) in orgs.iter().enumerate() {
        let name = format!("{} {i}", NAMES[rng.below(NAMES.len())]);
        let mut o = Organisation::new(
            *id,
            Name::parse(&name).unwrap_or_else(|_| unreachable!("fixture names are valid")),
        );
        o.holds_stock = rng.chance(85);
        o.active = rng.chance(90);
        // INVARIANT: fresh random ids do not collide.
        let _ = world.insert_organisation(o);
    }
    for _ in 0..organisations * 2 {
        let rel = Relationship {
            stock_owner: orgs[rng.below(orgs.len())],
            managing_agent: orgs[rng.below(orgs.len())],
        };
        // Self-edges, duplicates and owners without stock are refused; that is fine here.
        let _ = world.add_relationship(rel);
    }
    let mut user_ids = Vec::new();
    for i in 0..users {
        let role: Vec<RoleId> = match rng.below(10) {
            0 => vec![ADMINISTRATOR],
            1..=4 => vec![DATA_COORDINATOR],
            5..=8 => vec![DATA_PROVIDER],
            _ => vec![],
        };
        let name = format!("{} {i}", NAMES[rng.below(NAMES.len())]);
        let email = format!("user{i}@example.com");
        let mut u = User::new(
            UserId::from_uuid(rng.uuid()),
            Name::parse(&name).unwrap_or_else(|_| unreachable!("fixture names are valid")),
            Email::parse(&email).unwrap_or_else(|_| unreachable!("fixture emails are valid")),
            orgs[rng.below(orgs.len())],
            role,
        );
        u.active = rng.chance(85);
        u.data_protection_officer = rng.chance(10);
        user_ids.push(u.id);
        let _ = world.upsert_user(u);
    }
    for _ in 0..logs {
        let owning = orgs[rng.below(orgs.len())];
        let agents = world.managing_agents(owning);
        let managing = if agents.is_empty() || rng.chance(40) {
            owning
        } else {
            agents[rng.below(agents.len())]
        };
        let assigned_to =
            (!user_ids.is_empty() && rng.chance(60)).then(|| user_ids[rng.below(user_ids.len())]);
        let log = Log {
            id: LogId::from_uuid(rng.uuid()),
            owning_organisation: owning,
            managing_organisation: managing,
            assigned_to,
            created_by: assigned_to,
        };
        let _ = world.upsert_log(log);
    }
    world
}

/// The worlds the contract suites run on.
pub fn standard() -> Vec<(String, World)> {
    vec![
        ("small".to_owned(), random(1, 4, 10, 8)),
        ("medium".to_owned(), random(2, 9, 24, 30)),
        ("hub".to_owned(), random(3, 3, 30, 12)),
        ("sides".to_owned(), with_companies(random(4, 5, 16, 10), 4, 3, 12)),
    ]
}

/// Adds Corterum companies to a world, with users of random roles in them (an
/// administrator among them reaches everything on the Corterum side only): the sides of
/// the service, which the engine keeps apart, in one world.
pub fn with_companies(mut world: World, seed: u64, companies: usize, users: usize) -> World {
    let mut rng = Rng::new(seed ^ 0x005e_edc0);
    let orgs: Vec<OrgId> = (0..companies.max(1)).map(|_| OrgId::from_uuid(rng.uuid())).collect();
    for (i, id) in orgs.iter().enumerate() {
        let name = format!("Company {} {i}", NAMES[rng.below(NAMES.len())]);
        let mut o = Organisation::company(
            *id,
            Name::parse(&name).unwrap_or_else(|_| unreachable!("fixture names are valid")),
        );
        o.active = rng.chance(90);
        let _ = world.insert_organisation(o);
    }
    for i in 0..users {
        let role: Vec<RoleId> = match rng.below(4) {
            0 => vec![ADMINISTRATOR],
            1 => vec![DATA_COORDINATOR],
            _ => vec![DATA_PROVIDER],
        };
        let name = format!("{} c{i}", NAMES[rng.below(NAMES.len())]);
        let email = format!("company{seed}-{i}@example.com");
        let u = User::new(
            UserId::from_uuid(rng.uuid()),
            Name::parse(&name).unwrap_or_else(|_| unreachable!("fixture names are valid")),
            Email::parse(&email).unwrap_or_else(|_| unreachable!("fixture emails are valid")),
            orgs[rng.below(orgs.len())],
            role,
        );
        let _ = world.upsert_user(u);
    }
    world
}

/// A random Corterum world: companies, the dataset catalogue, entities of every kind
/// linked to some companies, groups of people, roles customers built from random forms
/// (administration features, groups, dataset permissions), and users holding built-in and
/// built roles (at most one root administrator), some deactivated, each linked to an
/// entity or none and to some companies.
pub fn random_corterum(seed: u64, companies: usize, users: usize, entities: usize) -> World {
    let mut rng = Rng::new(seed);
    let mut world = World::with_roles(RoleCatalogue::with_corterum());
    let name = |rng: &mut Rng, i: usize| {
        Name::parse(&format!("{} {i}", NAMES[rng.below(NAMES.len())]))
            .unwrap_or_else(|_| unreachable!("fixture names are valid"))
    };
    let orgs: Vec<OrgId> = (0..companies.max(1)).map(|_| OrgId::from_uuid(rng.uuid())).collect();
    for (i, id) in orgs.iter().enumerate() {
        let mut o = Organisation::company(*id, name(&mut rng, i));
        o.active = rng.chance(90);
        let _ = world.insert_organisation(o);
    }
    let mut datasets = tenure_domain::dataset::catalogue();
    // Forms before the tables embedded in them.
    datasets.sort_by_key(|d| d.embedded_in.is_some());
    let dataset_ids: Vec<_> = datasets.iter().map(|d| d.id).collect();
    for d in datasets {
        let _ = world.upsert_dataset(d);
    }
    let some_companies = |rng: &mut Rng| {
        let mut out: Vec<OrgId> = orgs.iter().copied().filter(|_| rng.chance(40)).collect();
        if out.is_empty() {
            out.push(orgs[rng.below(orgs.len())]);
        }
        out
    };
    let mut people = Vec::new();
    for i in 0..entities {
        let kind = match rng.below(10) {
            0..=6 => EntityKind::Person,
            7 | 8 => EntityKind::Business,
            _ => EntityKind::Regulator,
        };
        let mut e = Entity::new(EntityId::from_uuid(rng.uuid()), kind, name(&mut rng, i));
        e.companies = some_companies(&mut rng);
        e.companies.sort_unstable();
        e.companies.dedup();
        if kind == EntityKind::Person {
            people.push(e.id);
        }
        let _ = world.upsert_entity(e);
    }
    let mut groups = vec![ALL_PEOPLE];
    for i in 0..2 {
        let mut members: Vec<EntityId> =
            people.iter().copied().filter(|_| rng.chance(50)).collect();
        members.sort_unstable();
        let group = Group {
            id: GroupId::from_uuid(rng.uuid()),
            name: name(&mut rng, i),
            description: String::new(),
            kind: EntityKind::Person,
            members,
        };
        groups.push(group.id);
        let _ = world.upsert_group(group);
    }
    let admin = [
        Feature::EntityAdministration,
        Feature::GroupAdministration,
        Feature::RolesAdministration,
        Feature::UserAdministration,
    ];
    let mut roles = vec![CORTERUM_ADMINISTRATOR, SENIOR_MANAGER, CERTIFICATION_EMPLOYEE];
    roles.push(CONDUCT_RULES_STAFF);
    for i in 0..3 {
        let features: Vec<Feature> = admin.iter().copied().filter(|_| rng.chance(50)).collect();
        let mut datasets = std::collections::BTreeMap::new();
        for d in &dataset_ids {
            if rng.chance(30) {
                let all = rng.chance(50);
                let p = if all { DatasetPermissions::ALL } else { DatasetPermissions::READ };
                datasets.insert(*d, p);
            }
        }
        let form = RoleForm {
            name: format!("Built role {i}"),
            description: format!("A random role, number {i}"),
            groups: groups.iter().copied().filter(|_| rng.chance(40)).collect(),
            features: FeatureSet::of(&features),
            datasets,
            requires_second_factor: false,
        };
        let id = RoleId::from_uuid(rng.uuid());
        if let Ok(role) = form.into_role(id, format!("built_role_{i}")) {
            if world.upsert_role(role).is_ok() {
                roles.push(id);
            }
        }
    }
    let mut root = rng.chance(70);
    for i in 0..users {
        let held: Vec<RoleId> = if std::mem::take(&mut root) {
            vec![ROOT_ADMINISTRATOR]
        } else {
            let mut held: Vec<RoleId> =
                (0..1 + rng.below(2)).map(|_| roles[rng.below(roles.len())]).collect();
            held.sort_unstable();
            held.dedup();
            held
        };
        let mut u = User::new(
            UserId::from_uuid(rng.uuid()),
            name(&mut rng, i),
            Email::parse(&format!("person{i}@example.com"))
                .unwrap_or_else(|_| unreachable!("fixture emails are valid")),
            orgs[rng.below(orgs.len())],
            held,
        );
        u.active = rng.chance(90);
        let id = u.id;
        if world.upsert_user(u).is_err() {
            continue;
        }
        let entity =
            (!people.is_empty() && rng.chance(70)).then(|| people[rng.below(people.len())]);
        let _ = world.set_user_links(id, UserLinks { entity, companies: some_companies(&mut rng) });
    }
    world
}
