//! Finding A1: nobody gives a role above their own. Every role built from the form ranks
//! 0, so under `AtOrBelowOwn` a role is given only if it grants nothing the giver's own
//! roles do not. Checked on random role forms against an oracle written from the forms
//! themselves (features, dataset permissions, groups), not from the grants they become.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tenure_domain::role::builtin::{CORTERUM_ADMINISTRATOR, ROOT_ADMINISTRATOR};
use tenure_domain::{
    ALL_PEOPLE, Action, Dataset, DatasetId, DatasetKind, DatasetPermissions, Decision, DenyReason,
    Email, EntityKind, Feature, FeatureSet, Group, GroupId, Name, OrgId, Organisation, Request,
    Resource, RoleCatalogue, RoleForm, RoleId, User, UserId, UserLinks, World,
};
use uuid::Uuid;

/// Features drawn from a few, so that givers and given roles often share some.
const FEATURES: [Feature; 5] = [
    Feature::UserAdministration,
    Feature::RolesAdministration,
    Feature::CompanyAdministration,
    Feature::GroupAdministration,
    Feature::ReportFitAndProperCertificate,
];
const DATASETS: usize = 3;
/// Two groups and All People.
const GROUPS: usize = 3;

#[derive(Clone, Debug)]
struct FormSpec {
    groups: Vec<usize>,
    features: Vec<usize>,
    /// Per dataset index: read, edit, create.
    datasets: BTreeMap<usize, (bool, bool, bool)>,
}

fn form_spec() -> impl Strategy<Value = FormSpec> {
    (
        prop::collection::vec(0..GROUPS, 0..3),
        prop::collection::vec(0..FEATURES.len(), 0..4),
        prop::collection::btree_map(
            0..DATASETS,
            (any::<bool>(), any::<bool>(), any::<bool>()),
            0..=DATASETS,
        ),
    )
        .prop_map(|(groups, features, datasets)| FormSpec { groups, features, datasets })
}

fn org() -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(1))
}
fn group(i: usize) -> GroupId {
    if i + 1 == GROUPS { ALL_PEOPLE } else { GroupId::from_uuid(Uuid::from_u128(200 + i as u128)) }
}
fn dataset(i: usize) -> DatasetId {
    DatasetId::from_uuid(Uuid::from_u128(300 + i as u128))
}
fn role(i: usize) -> RoleId {
    RoleId::from_uuid(Uuid::from_u128(400 + i as u128))
}
fn user(i: usize) -> UserId {
    UserId::from_uuid(Uuid::from_u128(500 + i as u128))
}

const GIVEN: usize = 9;

impl FormSpec {
    fn form(&self) -> RoleForm {
        RoleForm {
            name: "Role".to_owned(),
            description: "For testing".to_owned(),
            groups: self.groups.iter().map(|g| group(*g)).collect(),
            features: self.features.iter().map(|f| FEATURES[*f]).collect::<FeatureSet>(),
            datasets: self
                .datasets
                .iter()
                .map(|(d, (read, edit, create))| {
                    (dataset(*d), DatasetPermissions { read: *read, edit: *edit, create: *create })
                })
                .collect(),
            requires_second_factor: false,
        }
    }

    fn has_feature(&self, f: usize) -> bool {
        self.features.contains(&f)
    }

    /// The dataset permissions it holds, as (dataset, 0 read / 1 edit / 2 create).
    fn permissions(&self) -> Vec<(usize, usize)> {
        self.datasets
            .iter()
            .flat_map(|(d, (r, e, c))| {
                [(*r, 0), (*e, 1), (*c, 2)].into_iter().filter(|(on, _)| *on).map(|(_, p)| (*d, p))
            })
            .collect()
    }
}

/// Written from the forms: every feature of the given role is one a giver's role opens;
/// every dataset permission it holds over its holder's own entity, one of theirs holds;
/// and for each group it names, some role of theirs names that group too (seeing its
/// members) and, for each of its dataset permissions, one naming the group holds it.
fn covered(given: &FormSpec, givers: &[FormSpec]) -> bool {
    let features = given.features.iter().all(|f| givers.iter().any(|g| g.has_feature(*f)));
    let own =
        given.permissions().iter().all(|p| givers.iter().any(|g| g.permissions().contains(p)));
    let groups = given.groups.iter().all(|group| {
        let naming: Vec<&FormSpec> = givers.iter().filter(|g| g.groups.contains(group)).collect();
        !naming.is_empty()
            && given
                .permissions()
                .iter()
                .all(|p| naming.iter().any(|g| g.permissions().contains(p)))
    });
    features && own && groups
}

fn world(givers: &[FormSpec], given: &FormSpec, root: bool) -> World {
    let mut w = World::with_roles(RoleCatalogue::with_corterum());
    w.insert_organisation(Organisation::company(org(), Name::parse("Co").unwrap())).unwrap();
    for g in 0..GROUPS - 1 {
        w.upsert_group(Group {
            id: group(g),
            name: Name::parse("G").unwrap(),
            description: String::new(),
            kind: EntityKind::Person,
            members: Vec::new(),
        })
        .unwrap();
    }
    for d in 0..DATASETS {
        w.upsert_dataset(Dataset {
            id: dataset(d),
            key: format!("d{d}"),
            name: Name::parse("D").unwrap(),
            kind: DatasetKind::Form,
            embedded_in: None,
            fields: Vec::new(),
        })
        .unwrap();
    }
    for (i, g) in givers.iter().enumerate() {
        w.upsert_role(g.form().into_role(role(i), format!("r{i}")).unwrap()).unwrap();
    }
    w.upsert_role(given.form().into_role(role(GIVEN), "given".to_owned()).unwrap()).unwrap();
    let mut roles: Vec<RoleId> = (0..givers.len()).map(role).collect();
    if root {
        roles.push(ROOT_ADMINISTRATOR);
    }
    for (i, roles) in [roles, vec![role(GIVEN)]].into_iter().enumerate() {
        let u = User::new(
            user(i),
            Name::parse("U").unwrap(),
            Email::parse(&format!("u{i}@example.com")).unwrap(),
            org(),
            roles,
        );
        w.upsert_user(u).unwrap();
        w.set_user_links(user(i), UserLinks { entity: None, companies: vec![org()] }).unwrap();
    }
    w
}

fn requests(role: RoleId) -> [Request; 2] {
    [
        Request::new(user(0), Action::UserInvite, Resource::Organisation(org())).giving(role),
        Request::new(user(0), Action::UserChangeRole, Resource::User(user(1))).giving(role),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A user administrator (the first of their roles opens User Administration) gives a
    /// form-built role exactly when it grants nothing their own roles do not; the root
    /// administrator gives any; a refusal names the role.
    #[test]
    fn a_role_given_never_grants_what_the_giver_lacks(
        mut givers in prop::collection::vec(form_spec(), 1..4),
        given in form_spec(),
        root in prop::bool::weighted(0.15),
    ) {
        if !givers[0].has_feature(0) {
            givers[0].features.push(0);
        }
        let w = world(&givers, &given, root);
        let expected = root || covered(&given, &givers);
        for request in requests(role(GIVEN)) {
            let decision = w.decide(&request);
            prop_assert_eq!(
                decision.is_allowed(), expected,
                "{:?} giving {:?} from {:?}: {}", request.action, given, givers, decision.explain(&w)
            );
            if !expected {
                let refused = matches!(
                    decision,
                    Decision::Deny { reason: DenyReason::RoleNotAssignable(r), .. } if r == role(GIVEN)
                );
                prop_assert!(refused, "{:?}", decision);
            }
        }
        // Corterum's built-in Administrator opens Roles and Company Administration and
        // reads every catalogue dataset, none of which these givers hold.
        for request in requests(CORTERUM_ADMINISTRATOR) {
            prop_assert_eq!(w.decide(&request).is_allowed(), root, "{:?}", request);
        }
    }
}
