//! CORE's built-in roles, written as data in the common grant model.
//!
//! Their ids are fixed so that every store and every policy file agrees on them.

use uuid::Uuid;

use crate::action::{Action, ActionSet};
use crate::id::RoleId;
use crate::organisation::OrganisationKind;
use crate::role::{Assignable, Grant, Reach, Role};

/// The service-wide role (CORE calls it "support").
pub const ADMINISTRATOR: RoleId =
    RoleId::from_uuid(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001));
/// Manages the users and details of their own organisation and its managing agents' users.
pub const DATA_COORDINATOR: RoleId =
    RoleId::from_uuid(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0002));
/// Completes and submits logs.
pub const DATA_PROVIDER: RoleId =
    RoleId::from_uuid(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0003));

/// The three CORE roles.
pub fn core_roles() -> Vec<Role> {
    use Action::*;
    let grant = |actions: &[Action], reach| Grant {
        actions: ActionSet::of(actions),
        reach,
        only: crate::role::Only::Any,
        assignable: Assignable::NONE,
    };
    let giving = |actions: &[Action], reach, roles: &[RoleId]| Grant {
        actions: ActionSet::of(actions),
        reach,
        only: crate::role::Only::Any,
        assignable: Assignable::Roles(roles.to_vec()),
    };
    vec![
        Role {
            id: ADMINISTRATOR,
            key: "administrator".to_owned(),
            name: "Administrator".to_owned(),
            description: "Sees and manages every organisation, user and log in the service".to_owned(),
            groups: Vec::new(),
            irrevocable: false,
            built_in: true,
            requires_second_factor: true,
            side: OrganisationKind::Housing,
            rank: 3,
            grants: vec![
                giving(
                    &Action::ALL
                        .iter()
                        .copied()
                        .filter(|a| a.is_core() && *a != UserChangePassword)
                        .collect::<Vec<_>>(),
                    Reach::Everything,
                    &[ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER],
                ),
                grant(&[UserChangePassword], Reach::Own),
            ],
        },
        Role {
            id: DATA_COORDINATOR,
            key: "data_coordinator".to_owned(),
            name: "Data coordinator".to_owned(),
            description: "Manages the users and details of their organisation, and the users of its managing agents"
                .to_owned(),
            groups: Vec::new(),
            irrevocable: false,
            built_in: true,
            requires_second_factor: false,
            side: OrganisationKind::Housing,
            rank: 2,
            grants: vec![
                giving(
                    &[
                        UserView,
                        UserEditDetails,
                        UserChangeEmail,
                        UserSetFlags,
                        UserChangeRole,
                        UserDeactivate,
                        UserReactivate,
                        UserDelete,
                        UserInvite,
                        OrganisationListUsers,
                    ],
                    Reach::ManagingAgents,
                    &[DATA_COORDINATOR, DATA_PROVIDER],
                ),
                grant(&[UserChangePassword, UserRemoveSecondFactor], Reach::Own),
                grant(&[OrganisationView], Reach::Related),
                grant(&[OrganisationEditDetails, OrganisationManageRelationships], Reach::Organisation),
                grant(&[LogView, LogEdit, LogDelete], Reach::Organisation),
            ],
        },
        Role {
            id: DATA_PROVIDER,
            key: "data_provider".to_owned(),
            name: "Data provider".to_owned(),
            description: "Completes and submits logs; sees their organisation and its users".to_owned(),
            groups: Vec::new(),
            irrevocable: false,
            built_in: true,
            requires_second_factor: false,
            side: OrganisationKind::Housing,
            rank: 1,
            grants: vec![
                grant(&[UserView, OrganisationListUsers], Reach::Organisation),
                grant(
                    &[UserEditDetails, UserChangeEmail, UserChangePassword, UserRemoveSecondFactor],
                    Reach::Own,
                ),
                grant(&[OrganisationView], Reach::Related),
                grant(&[LogView, LogEdit], Reach::Organisation),
                grant(&[LogDelete], Reach::Own),
            ],
        },
    ]
}

/// Corterum's root administrator: created with each account, every right, and no rule
/// lets anyone revoke it (see [`crate::engine`]).
pub const ROOT_ADMINISTRATOR: RoleId =
    RoleId::from_uuid(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0010));
/// Corterum's out-of-the-box Administrator.
pub const CORTERUM_ADMINISTRATOR: RoleId =
    RoleId::from_uuid(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0011));
/// Corterum's out-of-the-box Senior Manager.
pub const SENIOR_MANAGER: RoleId =
    RoleId::from_uuid(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0012));
/// Corterum's out-of-the-box Certification Employee.
pub const CERTIFICATION_EMPLOYEE: RoleId =
    RoleId::from_uuid(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0013));
/// Corterum's out-of-the-box Conduct Rules Staff.
pub const CONDUCT_RULES_STAFF: RoleId =
    RoleId::from_uuid(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0014));

/// CORE's three roles.
pub const CORE_ROLES: [RoleId; 3] = [ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER];

/// Corterum's four out-of-the-box roles (the root administrator aside).
pub const CORTERUM_ROLES: [RoleId; 4] =
    [CORTERUM_ADMINISTRATOR, SENIOR_MANAGER, CERTIFICATION_EMPLOYEE, CONDUCT_RULES_STAFF];

/// Whether a role is built in (CORE's, Corterum's, or the root administrator): built-in
/// roles are code, not data, and cannot be edited (see [`Role::built_in`]).
pub fn is_builtin(id: RoleId) -> bool {
    id == ROOT_ADMINISTRATOR || CORE_ROLES.contains(&id) || CORTERUM_ROLES.contains(&id)
}

/// Whether a user may hold this role before accepting their invitation. CORE's roles and
/// the root administrator's are given only by accepting one (the link carries the role),
/// so holding one shows the invitation was accepted. Any other role (Corterum's, built in
/// or built by customers) is set with the account by a user administrator, and is in
/// force only once its holder accepts (see [`crate::World::set_invited`]).
pub fn held_before_acceptance(id: RoleId) -> bool {
    id != ROOT_ADMINISTRATOR && !CORE_ROLES.contains(&id)
}

/// The roles a user administrator may choose on Corterum's account form: the out-of-the-box
/// roles, never one that cannot be revoked (customers' roles come from the store).
pub fn assignable_corterum_roles() -> Vec<Role> {
    corterum_roles().into_iter().filter(|r| !r.irrevocable).collect()
}

/// The root administrator and Corterum's four out-of-the-box roles.
///
/// The four are conservative, as the seed says ("when in doubt, deny"): none reaches a
/// group, so each sees only the user's own entity; none may edit or create; reports and
/// administration go only to the roles that need them.
///
/// | role | features | datasets (own entity, read only) |
/// | --- | --- | --- |
/// | Administrator | the eight administration features, no reports | every catalogue dataset |
/// | Senior Manager | Statement of Responsibility and Fit and Proper Certificate reports | every catalogue dataset |
/// | Certification Employee | Fit and Proper Certificate report | all but the boards, the responsibilities map and the statement of responsibilities |
/// | Conduct Rules Staff | none | personal details, employment history, training, conduct rules attestation, qualifications |
pub fn corterum_roles() -> Vec<Role> {
    use crate::dataset::{catalogue, catalogue_id_of};
    use crate::feature::{Feature::*, FeatureSet};
    use crate::role::form::{DatasetPermissions, RoleForm};

    let every: Vec<_> = catalogue().into_iter().map(|d| d.id).collect();
    let read = |ids: &[crate::id::DatasetId]| {
        ids.iter().map(|id| (*id, DatasetPermissions::READ)).collect()
    };
    let keys = |keys: &[&str]| keys.iter().filter_map(|k| catalogue_id_of(k)).collect::<Vec<_>>();
    let without = |keys_out: &[&str]| {
        let out = keys(keys_out);
        every.iter().copied().filter(|id| !out.contains(id)).collect::<Vec<_>>()
    };
    let form = |name: &str, description: &str, features: FeatureSet, datasets: Vec<_>| RoleForm {
        name: name.to_owned(),
        description: description.to_owned(),
        groups: Vec::new(),
        features,
        datasets: read(&datasets),
        requires_second_factor: false,
    };
    let forms = [
        (
            CORTERUM_ADMINISTRATOR,
            "corterum_administrator",
            form(
                "Administrator",
                "Sets up and administers the account: entities, groups, roles, users, companies, rules, tasks and attestation forms. Reads only their own data.",
                FeatureSet::of(&[
                    AttestationFormAdministration,
                    CompanyAdministration,
                    EntityAdministration,
                    GroupAdministration,
                    RolesAdministration,
                    RulesAdministration,
                    TaskAdministration,
                    UserAdministration,
                ]),
                every.clone(),
            ),
        ),
        (
            SENIOR_MANAGER,
            "senior_manager",
            form(
                "Senior Manager",
                "A senior manager under the SM&CR: reads their own data and their statement of responsibility and fit and proper reports.",
                FeatureSet::of(&[ReportStatementOfResponsibility, ReportFitAndProperCertificate]),
                every.clone(),
            ),
        ),
        (
            CERTIFICATION_EMPLOYEE,
            "certification_employee",
            form(
                "Certification Employee",
                "A certified employee: reads their own data, except board and senior management records, and their fit and proper certificate.",
                FeatureSet::of(&[ReportFitAndProperCertificate]),
                without(&[
                    "boards_and_committees",
                    "boards_and_committee_details",
                    "management_responsibilities_map",
                    "statement_of_responsibilities",
                ]),
            ),
        ),
        (
            CONDUCT_RULES_STAFF,
            "conduct_rules_staff",
            form(
                "Conduct Rules Staff",
                "Staff under the conduct rules: reads their own personal details, training, qualifications and conduct rules attestation.",
                FeatureSet::EMPTY,
                keys(&[
                    "personal_details",
                    "employment_history",
                    "training_record",
                    "training_courses",
                    "conduct_rules_attestation",
                    "qualifications",
                ]),
            ),
        ),
    ];
    let mut roles = vec![root_administrator()];
    for (id, key, form) in forms {
        // INVARIANT: the built-in forms have names and descriptions.
        if let Ok(role) = form.into_role(id, key.to_owned()) {
            roles.push(Role { built_in: true, ..role });
        }
    }
    roles
}

/// The root administrator: every action over everything, giving any role but its own
/// (which no grant gives), and only their own password.
fn root_administrator() -> Role {
    use Action::*;
    Role {
        id: ROOT_ADMINISTRATOR,
        key: "root_administrator".to_owned(),
        name: "Root administrator".to_owned(),
        description: "Full rights over the whole account, which nobody can revoke. Use it to set the account up, then work from accounts with roles that can be revoked.".to_owned(),
        rank: u8::MAX,
        grants: vec![
            Grant {
                actions: ActionSet::of(
                    &Action::ALL.iter().copied().filter(|a| *a != UserChangePassword).collect::<Vec<_>>(),
                ),
                reach: Reach::Everything,
                only: crate::role::Only::Any,
                assignable: Assignable::AtOrBelowOwn,
            },
            Grant {
                actions: ActionSet::of(&[UserChangePassword]),
                reach: Reach::Own,
                only: crate::role::Only::Any,
                assignable: Assignable::NONE,
            },
        ],
        groups: Vec::new(),
        irrevocable: true,
        built_in: true,
        requires_second_factor: true,
        side: OrganisationKind::Company,
    }
}
