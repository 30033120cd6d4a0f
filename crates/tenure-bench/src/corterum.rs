//! The Corterum-shaped benchmark: 1,000 roles built from role forms, 10,000 groups,
//! 100,000 entities, 50 datasets (some tables embedded in forms) and 1,000,000 instances;
//! dataset read checks through the engine, and the same decisions through `cedar-policy`.
//!
//! Cedar has no "for some role of the user" quantifier, so roles that customers build
//! become policies: one generated `permit` per role (principal in the role, the datasets
//! it reads, the user's own entity or the role's groups, and a shared company). That is
//! how an embedder would express data-defined roles in Cedar. An instance is the pair
//! (dataset, entity): the entity is the resource and the dataset travels in the context.
//! A table embedded in a form needs read on both; Cedar is asked twice for those, as an
//! application would ask.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Instant;

use anyhow::Context as _;
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity as CedarEntity, EntityId as CedarId,
    EntityTypeName, EntityUid, PolicySet, Request as CedarRequest, RestrictedExpression,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tenure_domain::{
    ALL_PEOPLE, Action, Dataset, DatasetId, DatasetKind, DatasetPermissions, Email, Entity,
    EntityId, EntityKind, Feature, FeatureSet, Group, GroupId, Name, OrgId, Organisation, Request,
    Resource, RoleCatalogue, RoleForm, RoleId, User, UserId, UserLinks, World,
};
use uuid::Uuid;

use crate::time_each;

/// How big the world is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub(crate) roles: usize,
    pub(crate) groups: usize,
    pub(crate) entities: usize,
    pub(crate) datasets: usize,
    pub(crate) instances: usize,
    pub(crate) users: usize,
    pub(crate) companies: usize,
}

pub(crate) const FULL: Shape = Shape {
    roles: 1_000,
    groups: 10_000,
    entities: 100_000,
    datasets: 50,
    instances: 1_000_000,
    users: 10_000,
    companies: 5,
};

pub(crate) fn scaled(scale: f64) -> Shape {
    let s = |n: usize, min: usize| ((n as f64 * scale) as usize).max(min);
    Shape {
        roles: s(FULL.roles, 10),
        groups: s(FULL.groups, 20),
        entities: s(FULL.entities, 200),
        datasets: FULL.datasets,
        instances: s(FULL.instances, 2_000),
        users: s(FULL.users, 50),
        companies: FULL.companies,
    }
}

fn id(kind: u128, n: usize) -> Uuid {
    Uuid::from_u128((kind << 64) | n as u128)
}

/// An entity's id, type, companies and groups.
type EntityFacts = (EntityId, EntityKind, Vec<OrgId>, Vec<GroupId>);
/// A user's id, entity, companies and roles.
type UserFacts = (UserId, Option<EntityId>, Vec<OrgId>, Vec<RoleId>);

/// The world, and what Cedar needs to mirror it.
pub(crate) struct Built {
    pub(crate) world: World,
    roles: Vec<(RoleId, RoleForm)>,
    entities: Vec<EntityFacts>,
    users: Vec<UserFacts>,
    datasets: Vec<Dataset>,
    /// The instances that exist: (dataset, entity).
    pub(crate) instances: Vec<(DatasetId, EntityId)>,
}

pub(crate) fn build(shape: Shape, seed: u64) -> anyhow::Result<Built> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut world = World::with_roles(RoleCatalogue::with_corterum());
    let companies: Vec<OrgId> = (0..shape.companies).map(|i| OrgId::from_uuid(id(1, i))).collect();
    for (i, c) in companies.iter().enumerate() {
        world.insert_organisation(Organisation::new(*c, Name::parse(&format!("Company {i}"))?))?;
    }
    // Datasets: every fifth one a table embedded in the form before it.
    let mut datasets = Vec::new();
    for i in 0..shape.datasets {
        let embedded = i % 5 == 4;
        let d = Dataset {
            id: DatasetId::from_uuid(id(2, i)),
            key: format!("dataset_{i}"),
            name: Name::parse(&format!("Dataset {i}"))?,
            kind: if embedded { DatasetKind::Table } else { DatasetKind::Form },
            embedded_in: embedded.then(|| DatasetId::from_uuid(id(2, i - 1))),
            fields: Vec::new(),
        };
        world.upsert_dataset(d.clone())?;
        datasets.push(d);
    }
    // Entities: mostly people, in one or two companies.
    let mut entities = Vec::with_capacity(shape.entities);
    for i in 0..shape.entities {
        let kind = if rng.random_bool(0.9) { EntityKind::Person } else { EntityKind::Business };
        let mut e =
            Entity::new(EntityId::from_uuid(id(3, i)), kind, Name::parse(&format!("Entity {i}"))?);
        let mut cs = vec![companies[rng.random_range(0..companies.len())]];
        if rng.random_bool(0.1) {
            cs.push(companies[rng.random_range(0..companies.len())]);
        }
        e.set_companies(cs);
        entities.push((e.id, kind, e.companies.clone(), Vec::new()));
        world.upsert_entity(e)?;
    }
    // Groups of people, 5 to 60 members each.
    let people: Vec<usize> =
        (0..entities.len()).filter(|i| entities[*i].1 == EntityKind::Person).collect();
    for g in 0..shape.groups {
        let gid = GroupId::from_uuid(id(4, g));
        let n = rng.random_range(5..60);
        let mut members: Vec<EntityId> =
            (0..n).map(|_| entities[people[rng.random_range(0..people.len())]].0).collect();
        members.sort_unstable();
        members.dedup();
        for m in &members {
            let i = usize::try_from(m.as_uuid().as_u128() & u128::from(u64::MAX)).unwrap_or(0);
            entities[i].3.push(gid);
        }
        world.upsert_group(Group {
            id: gid,
            name: Name::parse(&format!("Group {g}"))?,
            description: String::new(),
            kind: EntityKind::Person,
            members,
        })?;
    }
    // Roles: some groups (rarely All People), read on 5 to 40 datasets, a few features.
    let mut roles = Vec::with_capacity(shape.roles);
    for r in 0..shape.roles {
        let rid = RoleId::from_uuid(id(5, r));
        let mut groups: Vec<GroupId> = (0..rng.random_range(0..20))
            .map(|_| GroupId::from_uuid(id(4, rng.random_range(0..shape.groups))))
            .collect();
        if rng.random_bool(0.02) {
            groups.push(ALL_PEOPLE);
        }
        let mut ds = BTreeMap::new();
        for _ in 0..rng.random_range(5..40) {
            let d = &datasets[rng.random_range(0..datasets.len())];
            ds.insert(
                d.id,
                DatasetPermissions { read: true, edit: rng.random_bool(0.2), create: false },
            );
        }
        let form = RoleForm {
            name: format!("Role {r}"),
            description: "Generated".to_owned(),
            groups,
            features: FeatureSet::of(&[Feature::ALL[r % Feature::ALL.len()]]),
            datasets: ds,
            requires_second_factor: false,
        };
        let role = form.clone().into_role(rid, format!("role-{r}"))?;
        let form = RoleForm::from_role(&role);
        world.upsert_role(role)?;
        roles.push((rid, form));
    }
    // Users: one to three roles, one or two companies, most linked to a person.
    let mut users = Vec::with_capacity(shape.users);
    for u in 0..shape.users {
        let uid = UserId::from_uuid(id(6, u));
        let my_roles: Vec<RoleId> = (0..rng.random_range(1..4))
            .map(|_| roles[rng.random_range(0..roles.len())].0)
            .collect();
        let mut cs = vec![companies[rng.random_range(0..companies.len())]];
        if rng.random_bool(0.3) {
            cs.push(companies[rng.random_range(0..companies.len())]);
        }
        let entity =
            rng.random_bool(0.8).then(|| entities[people[rng.random_range(0..people.len())]].0);
        world.upsert_user(User::new(
            uid,
            Name::parse(&format!("User {u}"))?,
            Email::parse(&format!("user{u}@corterum.example"))?,
            cs[0],
            my_roles.clone(),
        ))?;
        world.set_user_links(uid, UserLinks { entity, companies: cs.clone() })?;
        cs.sort_unstable();
        cs.dedup();
        users.push((uid, entity, cs, my_roles));
    }
    let instances = (0..shape.instances)
        .map(|_| {
            (
                datasets[rng.random_range(0..datasets.len())].id,
                entities[rng.random_range(0..entities.len())].0,
            )
        })
        .collect();
    Ok(Built { world, roles, entities, users, datasets, instances })
}

/// Read checks drawn from the instances, half of them aimed at what some role of the user
/// reaches so both answers are common.
pub(crate) fn requests(b: &Built, n: usize, seed: u64) -> Vec<Request> {
    let mut rng = StdRng::seed_from_u64(seed);
    let forms: HashMap<RoleId, &RoleForm> = b.roles.iter().map(|(id, f)| (*id, f)).collect();
    (0..n)
        .map(|_| {
            let (uid, entity, companies, roles) = &b.users[rng.random_range(0..b.users.len())];
            let (mut dataset, mut target) = b.instances[rng.random_range(0..b.instances.len())];
            if rng.random_bool(0.5) {
                let form = forms[&roles[rng.random_range(0..roles.len())]];
                if let Some((d, _)) =
                    form.datasets.iter().nth(rng.random_range(0..form.datasets.len()))
                {
                    dataset = *d;
                }
                let group = form.groups.iter().find(|g| **g != ALL_PEOPLE);
                target = match (group, entity) {
                    (Some(g), _) if rng.random_bool(0.7) => b
                        .world
                        .group(*g)
                        .and_then(|g| {
                            // A member in one of the user's companies, when there is one.
                            g.members.iter().copied().find(|m| {
                                b.world.entity(*m).is_some_and(|e| e.in_any_company(companies))
                            })
                        })
                        .unwrap_or(target),
                    (_, Some(e)) => *e,
                    _ => target,
                };
            }
            Request::new(*uid, Action::DatasetRead, Resource::Instance { dataset, entity: target })
        })
        .collect()
}

/// Cedar's side.
pub(crate) struct CedarCorterum {
    policies: PolicySet,
    entities: Entities,
    authorizer: Authorizer,
    user: EntityTypeName,
    ent: EntityTypeName,
    dataset: EntityTypeName,
    action: EntityUid,
    embedded: HashMap<DatasetId, DatasetId>,
}

fn uid(ty: &EntityTypeName, id: impl std::fmt::Display) -> EntityUid {
    EntityUid::from_type_name_and_id(ty.clone(), CedarId::new(id.to_string()))
}

impl CedarCorterum {
    pub(crate) fn build(b: &Built) -> anyhow::Result<Self> {
        let ty = |s: &str| EntityTypeName::from_str(s).context("entity type");
        let (user, ent, group, company, role, dataset) =
            (ty("User")?, ty("Ent")?, ty("Group")?, ty("Company")?, ty("Role")?, ty("Dataset")?);
        let all_people = uid(&group, ALL_PEOPLE);
        // One policy per role: what the role form says, in Cedar.
        let mut text = String::new();
        for (rid, form) in &b.roles {
            let read: Vec<String> = form
                .datasets
                .iter()
                .filter(|(_, p)| p.read)
                .map(|(d, _)| format!("Dataset::\"{d}\""))
                .collect();
            if read.is_empty() {
                continue;
            }
            let groups: Vec<String> =
                form.groups.iter().map(|g| format!("Group::\"{g}\"")).collect();
            let reach = if groups.is_empty() {
                "(principal has entity && resource == principal.entity)".to_owned()
            } else {
                format!(
                    "((principal has entity && resource == principal.entity) || resource in [{}])",
                    groups.join(", ")
                )
            };
            writeln!(
                text,
                "permit (principal in Role::\"{rid}\", action == Action::\"dataset.read\", resource is Ent)\n\
                 when {{ context.dataset in [{}] && resource.companies.containsAny(principal.companies) && {reach} }};",
                read.join(", ")
            )?;
        }
        let policies = PolicySet::from_str(&text).context("generated policies")?;
        let mut out = Vec::new();
        for g in b.world.groups() {
            out.push(CedarEntity::new_no_attrs(uid(&group, g.id), HashSet::new()));
        }
        for c in b.world.organisations() {
            out.push(CedarEntity::new_no_attrs(uid(&company, c.id), HashSet::new()));
        }
        for (rid, _) in &b.roles {
            out.push(CedarEntity::new_no_attrs(uid(&role, rid), HashSet::new()));
        }
        for d in &b.datasets {
            out.push(CedarEntity::new_no_attrs(uid(&dataset, d.id), HashSet::new()));
        }
        let set = |cs: &[OrgId]| {
            RestrictedExpression::new_set(
                cs.iter().map(|c| RestrictedExpression::new_entity_uid(uid(&company, c))),
            )
        };
        for (eid, kind, cs, groups) in &b.entities {
            let mut parents: HashSet<EntityUid> = groups.iter().map(|g| uid(&group, g)).collect();
            if *kind == EntityKind::Person {
                parents.insert(all_people.clone());
            }
            let attrs = HashMap::from([("companies".to_owned(), set(cs))]);
            out.push(CedarEntity::new(uid(&ent, eid), attrs, parents)?);
        }
        for (u, entity, cs, roles) in &b.users {
            let mut attrs = HashMap::from([("companies".to_owned(), set(cs))]);
            if let Some(e) = entity {
                attrs.insert(
                    "entity".to_owned(),
                    RestrictedExpression::new_entity_uid(uid(&ent, e)),
                );
            }
            let parents = roles.iter().map(|r| uid(&role, r)).collect();
            out.push(CedarEntity::new(uid(&user, u), attrs, parents)?);
        }
        let entities = Entities::from_entities(out, None)?;
        let action = uid(&ty("Action")?, "dataset.read");
        let embedded = b.datasets.iter().filter_map(|d| d.embedded_in.map(|f| (d.id, f))).collect();
        Ok(Self {
            policies,
            entities,
            authorizer: Authorizer::new(),
            user,
            ent,
            dataset,
            action,
            embedded,
        })
    }

    /// The Cedar requests for one check: the instance, and its form for an embedded table.
    pub(crate) fn requests(&self, r: &Request) -> anyhow::Result<Vec<CedarRequest>> {
        let Resource::Instance { dataset, entity } = r.resource else {
            anyhow::bail!("not an instance")
        };
        let mut datasets = vec![dataset];
        if let Some(form) = self.embedded.get(&dataset) {
            datasets.push(*form);
        }
        datasets
            .into_iter()
            .map(|d| {
                let context = Context::from_pairs([(
                    "dataset".to_owned(),
                    RestrictedExpression::new_entity_uid(uid(&self.dataset, d)),
                )])?;
                Ok(CedarRequest::new(
                    uid(&self.user, r.actor),
                    self.action.clone(),
                    uid(&self.ent, entity),
                    context,
                    None,
                )?)
            })
            .collect()
    }

    pub(crate) fn is_allowed(&self, requests: &[CedarRequest]) -> bool {
        requests.iter().all(|r| {
            self.authorizer.is_authorized(r, &self.policies, &self.entities).decision()
                == Decision::Allow
        })
    }

    pub(crate) fn policy_count(&self) -> usize {
        self.policies.policies().count()
    }
}

/// Runs the Corterum comparison and prints its figures.
#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) fn run(shape: Shape) -> anyhow::Result<()> {
    println!(
        "corterum world: {} roles, {} groups, {} entities, {} datasets, {} instances, {} users, {} companies",
        shape.roles,
        shape.groups,
        shape.entities,
        shape.datasets,
        shape.instances,
        shape.users,
        shape.companies
    );
    // (No memory figures here: the CORE run before this one freed memory the allocator
    // reuses, so the process's resident size would not show these worlds.)
    let t = Instant::now();
    let built = build(shape, 13)?;
    println!("ours:  world built in {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let cedar = CedarCorterum::build(&built)?;
    println!(
        "cedar: {} generated policies and entities built in {:.2} s",
        cedar.policy_count(),
        t.elapsed().as_secs_f64()
    );

    let requests = requests(&built, 100_000, 17);
    // Cedar evaluates every policy for every request; compare on a sample it can run in
    // seconds, and time ours on the whole set.
    let sample = &requests[..requests.len().min(5_000)];
    let cedar_requests: Vec<Vec<CedarRequest>> =
        sample.iter().map(|r| cedar.requests(r)).collect::<anyhow::Result<_>>()?;
    let mut allowed = 0;
    for (ours, theirs) in sample.iter().zip(&cedar_requests) {
        let a = built.world.decide(ours).is_allowed();
        anyhow::ensure!(
            a == cedar.is_allowed(theirs),
            "engines disagree on {ours:?}: {}",
            built.world.decide(ours).explain(&built.world)
        );
        allowed += usize::from(a);
    }
    println!(
        "agreement: {} checks, identical answers ({} allowed, {} denied)",
        sample.len(),
        allowed,
        sample.len() - allowed
    );
    let ours = time_each(&requests, |r| built.world.decide(r).is_allowed());
    let theirs = time_each(&cedar_requests, |r| cedar.is_allowed(r));
    println!(
        "dataset.read: ours mean {:.0} ns p50 {} ns p99 {} ns ({:.2} M checks/s on one core); cedar mean {:.0} ns p50 {} ns p99 {} ns",
        ours.mean_ns,
        ours.p50_ns,
        ours.p99_ns,
        1e3 / ours.mean_ns,
        theirs.mean_ns,
        theirs.p50_ns,
        theirs.p99_ns
    );
    println!(
        "corterum: ours {:.0} ns/check p99 {} ns, cedar {:.0} ns/check p99 {} ns, ratio {:.0}x",
        ours.mean_ns,
        ours.p99_ns,
        theirs.mean_ns,
        theirs.p99_ns,
        theirs.mean_ns / ours.mean_ns
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{CedarCorterum, build, requests, scaled};

    /// The generated Cedar policies and the engine agree on a small world, with both
    /// answers common.
    #[test]
    fn cedar_and_tenure_agree_on_corterum() {
        let b = build(scaled(0.01), 5).unwrap();
        let cedar = CedarCorterum::build(&b).unwrap();
        let mut allowed = 0;
        let checks = requests(&b, 3_000, 9);
        for r in &checks {
            let ours = b.world.decide(r).is_allowed();
            assert_eq!(
                ours,
                cedar.is_allowed(&cedar.requests(r).unwrap()),
                "{r:?}: {}",
                b.world.decide(r).explain(&b.world)
            );
            allowed += usize::from(ours);
        }
        assert!(allowed > 150 && allowed < 2_850, "both answers: {allowed} allowed");
    }
}
