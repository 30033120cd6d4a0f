//! Finding A4: an open invitation (or reactivation link) is resent or withdrawn only
//! while its user is active. A deactivated account's links were withdrawn with it and a
//! new one could never be accepted: the engine refuses it as a state precondition, after
//! checking the user is within reach (out of reach stays "not found").

use tenure_domain::role::builtin::{
    CONDUCT_RULES_STAFF, CORTERUM_ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER,
};
use tenure_domain::{
    Decision, DenyReason, Email, Feature, FeatureSet, Name, OrgId, Organisation, Precondition,
    RoleCatalogue, RoleForm, RoleId, User, UserId, UserLinks, World, decide_invitation,
};
use uuid::Uuid;

fn org(i: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(1 + i))
}
fn user(i: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(500 + i))
}

fn add_user(w: &mut World, i: u128, organisation: OrgId, roles: Vec<RoleId>, active: bool) {
    let mut u = User::new(
        user(i),
        Name::parse("U").unwrap(),
        Email::parse(&format!("u{i}@example.com")).unwrap(),
        organisation,
        roles,
    );
    u.active = active;
    w.upsert_user(u).unwrap();
}

const DEACTIVATED: Decision = Decision::Deny {
    reason: DenyReason::Precondition(Precondition::UserMustBeActive),
    conceal: false,
};

#[test]
fn core_a_deactivated_users_invitation_is_neither_resent_nor_withdrawn() {
    let mut w = World::with_roles(RoleCatalogue::core());
    w.insert_organisation(Organisation::new(org(0), Name::parse("Alpha").unwrap())).unwrap();
    w.insert_organisation(Organisation::new(org(1), Name::parse("Gamma").unwrap())).unwrap();
    add_user(&mut w, 0, org(0), vec![DATA_COORDINATOR], true);
    add_user(&mut w, 1, org(0), vec![DATA_PROVIDER], true);
    add_user(&mut w, 2, org(0), vec![DATA_PROVIDER], false);
    add_user(&mut w, 3, org(1), vec![DATA_PROVIDER], false);

    assert!(decide_invitation(&w, user(0), user(1), &[DATA_PROVIDER]).is_allowed());
    assert_eq!(decide_invitation(&w, user(0), user(2), &[DATA_PROVIDER]), DEACTIVATED);
    // Out of reach: "not found" before any state is told.
    let hidden = decide_invitation(&w, user(0), user(3), &[DATA_PROVIDER]);
    assert!(!hidden.is_allowed() && hidden.conceals(), "{hidden:?}");
    // A link giving nothing is one nobody sends.
    let nothing = decide_invitation(&w, user(0), user(1), &[]);
    assert_eq!(nothing, Decision::Deny { reason: DenyReason::NotFound, conceal: true });
    // A provider may not send one at all.
    let provider = decide_invitation(&w, user(1), user(2), &[DATA_PROVIDER]);
    assert!(!provider.is_allowed());
}

#[test]
fn corterum_a_deactivated_accounts_invitation_is_neither_resent_nor_withdrawn() {
    let mut w = World::with_roles(RoleCatalogue::with_corterum());
    w.insert_organisation(Organisation::company(org(0), Name::parse("Co").unwrap())).unwrap();
    let admin = RoleForm {
        name: "Compliance Administrator".to_owned(),
        description: "Administers users".to_owned(),
        features: FeatureSet::of(&[Feature::UserAdministration]),
        ..RoleForm::default()
    };
    let compliance = RoleId::from_uuid(Uuid::from_u128(400));
    w.upsert_role(admin.clone().into_role(compliance, "compliance".to_owned()).unwrap()).unwrap();
    let staff = RoleId::from_uuid(Uuid::from_u128(401));
    let reader = RoleForm { features: FeatureSet::EMPTY, ..admin };
    w.upsert_role(reader.into_role(staff, "staff".to_owned()).unwrap()).unwrap();
    add_user(&mut w, 0, org(0), vec![compliance], true);
    add_user(&mut w, 1, org(0), vec![staff], true);
    add_user(&mut w, 2, org(0), vec![staff], false);
    for i in 0..3 {
        w.set_user_links(user(i), UserLinks { entity: None, companies: vec![org(0)] }).unwrap();
    }

    assert!(decide_invitation(&w, user(0), user(1), &[staff]).is_allowed());
    assert_eq!(decide_invitation(&w, user(0), user(2), &[staff]), DEACTIVATED);
    // Resending a link carrying a role the sender could not give (finding A1) is refused
    // like sending it.
    for role in [CORTERUM_ADMINISTRATOR, CONDUCT_RULES_STAFF] {
        let stronger = decide_invitation(&w, user(0), user(1), &[staff, role]);
        assert!(
            matches!(stronger, Decision::Deny { reason: DenyReason::RoleNotAssignable(r), .. } if r == role),
            "{stronger:?}"
        );
    }
}
