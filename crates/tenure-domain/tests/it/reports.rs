//! Corterum's reports on random worlds (the shipped catalogue, random roles built from
//! role forms over the report features and dataset permissions, people in random
//! companies and groups): `decide_report` agrees with a plain reading of the rules.
//!
//! - Without the report's feature, or able to read none of its datasets about the
//!   person, the report is "not found", whatever the condition's evidence says: nobody
//!   learns whether someone was assessed fit and proper through a report they cannot
//!   open.
//! - Otherwise it shows exactly the datasets the engine lets the actor read, and the
//!   condition alone turns it from available to unavailable.
//! - The seed's Charlie (worked example 02) sees his own certificate only once assessed
//!   fit and proper, his statement only as a senior manager, and nobody else's.

use proptest::prelude::*;
use tenure_domain::dataset::{NOT_FOR_STANDARD_USERS, catalogue, catalogue_id_of};
use tenure_domain::report::{Condition, Report, ReportDecision, Unavailable, decide_report};
use tenure_domain::role::builtin::ROOT_ADMINISTRATOR;
use tenure_domain::{
    ALL_PEOPLE, Action, DatasetPermissions, Email, Entity, EntityId, EntityKind, Feature,
    FeatureSet, Name, OrgId, Organisation, Request, Resource, RoleCatalogue, RoleForm, RoleId,
    User, UserId, UserLinks, World,
};
use uuid::Uuid;

fn org(i: usize) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(700 + i as u128))
}
fn person(i: usize) -> EntityId {
    EntityId::from_uuid(Uuid::from_u128(800 + i as u128))
}
fn user(i: usize) -> UserId {
    UserId::from_uuid(Uuid::from_u128(900 + i as u128))
}
fn role(i: usize) -> RoleId {
    RoleId::from_uuid(Uuid::from_u128(950 + i as u128))
}

/// A user of a spec: own entity, companies, roles, root (indexes into the spec).
type UserSpec = (Option<usize>, Vec<usize>, Vec<usize>, bool);

#[derive(Clone, Debug)]
struct Spec {
    /// Per person: companies.
    people: Vec<Vec<usize>>,
    /// Per role: report features, datasets read (catalogue indexes), All People or not.
    roles: Vec<(Vec<usize>, Vec<usize>, bool)>,
    /// Per user: own entity, companies, roles, root.
    users: Vec<UserSpec>,
}

fn spec() -> impl Strategy<Value = Spec> {
    let datasets = catalogue().len();
    (
        prop::collection::vec(prop::collection::vec(0usize..2, 0..3), 1..5),
        prop::collection::vec(
            (
                prop::collection::vec(0usize..4, 0..4),
                prop::collection::vec(0..datasets, 0..12),
                any::<bool>(),
            ),
            1..4,
        ),
        prop::collection::vec(
            (
                prop::option::of(0usize..5),
                prop::collection::vec(0usize..2, 1..3),
                prop::collection::vec(0usize..4, 0..3),
                prop::bool::weighted(0.1),
            ),
            1..4,
        ),
    )
        .prop_map(|(people, roles, users)| Spec { people, roles, users })
}

impl Spec {
    fn build(&self) -> World {
        let mut w = World::with_roles(RoleCatalogue::with_corterum());
        for i in 0..2 {
            w.insert_organisation(Organisation::company(
                org(i),
                Name::parse(&format!("Co {i}")).unwrap(),
            ))
            .unwrap();
        }
        for (i, companies) in self.people.iter().enumerate() {
            let mut e =
                Entity::new(person(i), EntityKind::Person, Name::parse(&format!("P{i}")).unwrap());
            e.set_companies(companies.iter().map(|c| org(*c)).collect());
            w.upsert_entity(e).unwrap();
        }
        let mut all = catalogue();
        all.sort_by_key(|d| d.embedded_in.is_some());
        for d in all {
            w.upsert_dataset(d).unwrap();
        }
        let ids: Vec<_> = catalogue().into_iter().map(|d| d.id).collect();
        for (i, (features, datasets, everyone)) in self.roles.iter().enumerate() {
            let form = RoleForm {
                name: "R".to_owned(),
                description: "For testing".to_owned(),
                groups: if *everyone { vec![ALL_PEOPLE] } else { Vec::new() },
                features: features
                    .iter()
                    .map(|f| Report::ALL[*f].feature())
                    .collect::<FeatureSet>(),
                datasets: datasets.iter().map(|d| (ids[*d], DatasetPermissions::READ)).collect(),
                ..RoleForm::default()
            };
            w.upsert_role(form.into_role(role(i), format!("r{i}")).unwrap()).unwrap();
        }
        for (i, (entity, companies, roles, root)) in self.users.iter().enumerate() {
            let mut held: Vec<RoleId> =
                roles.iter().filter(|r| **r < self.roles.len()).map(|r| role(*r)).collect();
            if *root {
                held.push(ROOT_ADMINISTRATOR);
            }
            let u = User::new(
                user(i),
                Name::parse("U").unwrap(),
                Email::parse(&format!("u{i}@example.com")).unwrap(),
                org(companies[0]),
                held,
            );
            w.upsert_user(u).unwrap();
            let entity = entity.filter(|e| *e < self.people.len()).map(person);
            w.set_user_links(
                user(i),
                UserLinks { entity, companies: companies.iter().map(|c| org(*c)).collect() },
            )
            .unwrap();
        }
        w
    }
}

fn reads(world: &World, actor: UserId, d: tenure_domain::DatasetId, e: EntityId) -> bool {
    let r = Request::new(actor, Action::DatasetRead, Resource::Instance { dataset: d, entity: e });
    world.decide(&r).is_allowed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn reports_open_exactly_what_the_rules_say(spec in spec(), holds in any::<bool>()) {
        let world = spec.build();
        for u in 0..spec.users.len() {
            for e in 0..spec.people.len() {
                for report in Report::ALL.iter().copied().filter(|r| r.about_one()) {
                    let feature = world
                        .decide(&Request::new(user(u), Action::FeatureUse, Resource::Feature(report.feature())))
                        .is_allowed();
                    let readable: Vec<_> = report
                        .source_ids()
                        .into_iter()
                        .filter(|d| reads(&world, user(u), *d, person(e)))
                        .collect();
                    let expected = if !feature || readable.is_empty() {
                        ReportDecision::NotFound
                    } else {
                        match report.condition() {
                            Some(c) if !holds => ReportDecision::Unavailable(Unavailable(c)),
                            _ => ReportDecision::Available(readable.clone()),
                        }
                    };
                    let got = decide_report(&world, user(u), report, person(e), holds);
                    prop_assert_eq!(&got, &expected, "user {} person {} {}", u, e, report);
                    // The evidence never turns "not found" into anything else.
                    let other = decide_report(&world, user(u), report, person(e), !holds);
                    prop_assert_eq!(
                        got == ReportDecision::NotFound,
                        other == ReportDecision::NotFound,
                        "the condition leaks through {}", report
                    );
                }
            }
        }
    }
}

/// Worked example 02: Charlie, a Standard User with the two report features, in the FCA.
#[test]
fn charlie_sees_his_certificate_once_fit_and_proper_and_his_statement_as_a_senior_manager() {
    let mut w = World::with_roles(RoleCatalogue::with_corterum());
    w.insert_organisation(Organisation::company(org(0), Name::parse("FCA").unwrap())).unwrap();
    for (i, name) in ["Charlie Chaplin", "Joe Bloggs"].iter().enumerate() {
        let mut e = Entity::new(person(i), EntityKind::Person, Name::parse(name).unwrap());
        e.set_companies(vec![org(0)]);
        w.upsert_entity(e).unwrap();
    }
    let mut all = catalogue();
    all.sort_by_key(|d| d.embedded_in.is_some());
    for d in all.clone() {
        w.upsert_dataset(d).unwrap();
    }
    let standard = RoleForm {
        name: "Standard User".to_owned(),
        description: "Own datasets, read only".to_owned(),
        groups: Vec::new(),
        features: FeatureSet::of(&[
            Feature::ReportFitAndProperCertificate,
            Feature::ReportStatementOfResponsibility,
        ]),
        datasets: all
            .iter()
            .filter(|d| !NOT_FOR_STANDARD_USERS.contains(&d.key.as_str()))
            .map(|d| (d.id, DatasetPermissions::READ))
            .collect(),
        ..RoleForm::default()
    };
    w.upsert_role(standard.into_role(role(0), "standard".to_owned()).unwrap()).unwrap();
    let charlie = user(0);
    w.upsert_user(User::new(
        charlie,
        Name::parse("Charlie Chaplin").unwrap(),
        Email::parse("charlie@example.com").unwrap(),
        org(0),
        vec![role(0)],
    ))
    .unwrap();
    w.set_user_links(charlie, UserLinks { entity: Some(person(0)), companies: vec![org(0)] })
        .unwrap();

    let cert = Report::FitAndProperCertificate;
    let certificate = catalogue_id_of("fit_and_proper_certificate").unwrap();
    assert_eq!(
        decide_report(&w, charlie, cert, person(0), true),
        ReportDecision::Available(vec![certificate])
    );
    assert_eq!(
        decide_report(&w, charlie, cert, person(0), false),
        ReportDecision::Unavailable(Unavailable(Condition::AssessedFitAndProper))
    );
    assert_eq!(
        decide_report(&w, charlie, cert, person(1), true),
        ReportDecision::NotFound,
        "not Joe's"
    );
    let statement = Report::StatementOfResponsibilities;
    assert_eq!(
        decide_report(&w, charlie, statement, person(0), true),
        ReportDecision::Available(vec![catalogue_id_of("statement_of_responsibilities").unwrap()]),
        "the responsibilities map is one of the thirteen he does without"
    );
    assert_eq!(
        decide_report(&w, charlie, statement, person(0), false),
        ReportDecision::Unavailable(Unavailable(Condition::SeniorManager))
    );
    assert_eq!(
        decide_report(&w, charlie, Report::RegulatoryReference, person(0), true),
        ReportDecision::NotFound,
        "no Regulatory Reference feature"
    );
}
