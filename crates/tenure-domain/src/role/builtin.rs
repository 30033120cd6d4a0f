//! CORE's built-in roles, written as data in the common grant model.
//!
//! Their ids are fixed so that every store and every policy file agrees on them.

use uuid::Uuid;

use crate::action::{Action, ActionSet};
use crate::id::RoleId;
use crate::role::{Grant, Reach, Role};

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
        assignable: Vec::new(),
    };
    let giving = |actions: &[Action], reach, roles: &[RoleId]| Grant {
        actions: ActionSet::of(actions),
        reach,
        assignable: roles.to_vec(),
    };
    vec![
        Role {
            id: ADMINISTRATOR,
            key: "administrator".to_owned(),
            name: "Administrator".to_owned(),
            description: "Sees and manages every organisation, user and log in the service".to_owned(),
            rank: 3,
            grants: vec![
                giving(
                    &Action::ALL.iter().copied().filter(|a| *a != UserChangePassword).collect::<Vec<_>>(),
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
            rank: 2,
            grants: vec![
                giving(
                    &[
                        UserView,
                        UserEditDetails,
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
                grant(&[UserChangePassword], Reach::Own),
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
            rank: 1,
            grants: vec![
                grant(&[UserView, OrganisationListUsers], Reach::Organisation),
                grant(&[UserEditDetails, UserChangePassword], Reach::Own),
                grant(&[OrganisationView], Reach::Related),
                grant(&[LogView, LogEdit], Reach::Organisation),
                grant(&[LogDelete], Reach::Own),
            ],
        },
    ]
}
