//! Corterum's role form, as the seed walks through it: a name and a description (both
//! mandatory), the groups the role reaches, feature permissions, and per-dataset
//! permissions (read, edit, create). A form becomes an ordinary [`Role`] of grants, so
//! the one engine decides for it; [`RoleForm::from_role`] reads a role back into a form.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::action::{Action, ActionSet};
use crate::feature::{Feature, FeatureSet};
use crate::id::{DatasetId, GroupId, RoleId};
use crate::organisation::OrganisationKind;
use crate::role::{Assignable, Grant, Only, Reach, Role};

/// What a role may do with one dataset.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct DatasetPermissions {
    /// Read instances.
    pub read: bool,
    /// Change instances.
    pub edit: bool,
    /// Start instances.
    pub create: bool,
}

impl DatasetPermissions {
    /// Read only.
    pub const READ: Self = Self { read: true, edit: false, create: false };
    /// Read, edit and create.
    pub const ALL: Self = Self { read: true, edit: true, create: true };

    /// Whether nothing is allowed.
    pub const fn is_none(self) -> bool {
        !self.read && !self.edit && !self.create
    }

    const fn allows(self, action: Action) -> bool {
        match action {
            Action::DatasetRead => self.read,
            Action::DatasetEdit => self.edit,
            Action::DatasetCreate => self.create,
            _ => false,
        }
    }
}

/// The dataset actions, in the form's order.
pub const DATASET_ACTIONS: [Action; 3] =
    [Action::DatasetRead, Action::DatasetEdit, Action::DatasetCreate];

/// What the User Administration feature lets a role do to the users of the holder's
/// companies: see them, change their details, roles and companies, deactivate,
/// reactivate and delete them, create accounts (an invitation into a company), and
/// remove a second factor a user has lost.
pub const USER_ADMINISTRATION: [Action; 10] = [
    Action::UserView,
    Action::UserEditDetails,
    Action::UserChangeEmail,
    Action::UserChangeRole,
    Action::UserMoveOrganisation,
    Action::UserDeactivate,
    Action::UserReactivate,
    Action::UserDelete,
    Action::UserInvite,
    Action::UserRemoveSecondFactor,
];

/// A role as people fill it in.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct RoleForm {
    /// Its name (mandatory).
    pub name: String,
    /// What it is for (mandatory).
    pub description: String,
    /// The groups it reaches.
    pub groups: Vec<GroupId>,
    /// The areas of the service it opens.
    pub features: FeatureSet,
    /// What it may do with each dataset; datasets not listed: nothing.
    pub datasets: BTreeMap<DatasetId, DatasetPermissions>,
    /// Whether its holders must sign in with a second factor
    /// ([`Role::requires_second_factor`]).
    pub requires_second_factor: bool,
}

/// Why a role form was refused.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum RoleFormError {
    /// The name is blank.
    #[error("enter the role's name")]
    NameMissing,
    /// The description is blank.
    #[error("enter a description of the role: what is it for?")]
    DescriptionMissing,
    /// Too long.
    #[error("the role's {field} must be {max} characters or fewer")]
    TooLong {
        /// `name` or `description`.
        field: &'static str,
        /// The limit.
        max: usize,
    },
}

impl RoleForm {
    /// The role this form describes.
    ///
    /// Its grants: `entity.view` and every dataset permission over the user's own entity,
    /// and, when the role names groups, over those groups' members too; `feature.use`
    /// for the features ticked. Three features also open records: User Administration
    /// the users of the holder's companies ([`USER_ADMINISTRATION`], giving any role that
    /// grants nothing the holder's own roles do not, [`Assignable::AtOrBelowOwn`], but
    /// never one that cannot be revoked), Group Administration
    /// `group.edit`, Roles Administration `role.edit`. A user's companies bound all of it
    /// (see [`Reach`]). Every role lets its holder remove their own second factor, which
    /// the engine refuses while one of their roles requires one.
    ///
    /// # Errors
    /// A blank or over-long name or description.
    pub fn into_role(self, id: RoleId, key: String) -> Result<Role, RoleFormError> {
        let name = self.name.trim();
        let description = self.description.trim();
        if name.is_empty() {
            return Err(RoleFormError::NameMissing);
        }
        if description.is_empty() {
            return Err(RoleFormError::DescriptionMissing);
        }
        if name.chars().count() > 100 {
            return Err(RoleFormError::TooLong { field: "name", max: 100 });
        }
        if description.chars().count() > 2_000 {
            return Err(RoleFormError::TooLong { field: "description", max: 2_000 });
        }
        let mut groups = self.groups;
        groups.sort_unstable();
        groups.dedup();
        let reaches: &[Reach] =
            if groups.is_empty() { &[Reach::Own] } else { &[Reach::Own, Reach::Groups] };
        let grant = |action: Action, reach: Reach, only: Only| Grant {
            actions: ActionSet::of(&[action]),
            reach,
            only,
            assignable: Assignable::NONE,
        };
        let mut grants = Vec::new();
        if !self.features.is_empty() {
            grants.push(grant(Action::FeatureUse, Reach::Own, Only::Features(self.features)));
        }
        if self.features.contains(Feature::UserAdministration) {
            grants.push(Grant {
                actions: ActionSet::of(&USER_ADMINISTRATION),
                reach: Reach::Companies,
                only: Only::Any,
                assignable: Assignable::AtOrBelowOwn,
            });
        }
        grants.push(grant(Action::UserRemoveSecondFactor, Reach::Own, Only::Any));
        if self.features.contains(Feature::CompanyAdministration) {
            // The companies of the actor's own (the engine's `company_scope`), seen and
            // edited; only a grant reaching everything adds one.
            grants.push(Grant {
                actions: ActionSet::of(&[
                    Action::OrganisationView,
                    Action::OrganisationEditDetails,
                ]),
                reach: Reach::Companies,
                only: Only::Any,
                assignable: Assignable::NONE,
            });
        }
        if self.features.contains(Feature::GroupAdministration) {
            grants.push(grant(Action::GroupEdit, Reach::Companies, Only::Any));
        }
        if self.features.contains(Feature::RolesAdministration) {
            grants.push(grant(Action::RoleEdit, Reach::Companies, Only::Any));
        }
        for &reach in reaches {
            grants.push(grant(Action::EntityView, reach, Only::Any));
        }
        for action in DATASET_ACTIONS {
            // BTreeMap keys are sorted and distinct, as `Only::Datasets` needs.
            let ids: Vec<DatasetId> =
                self.datasets.iter().filter(|(_, p)| p.allows(action)).map(|(id, _)| *id).collect();
            if ids.is_empty() {
                continue;
            }
            for &reach in reaches {
                grants.push(grant(action, reach, Only::Datasets(ids.clone())));
            }
        }
        Ok(Role {
            id,
            key,
            name: name.to_owned(),
            description: description.to_owned(),
            rank: 0,
            grants,
            groups,
            irrevocable: false,
            built_in: false,
            requires_second_factor: self.requires_second_factor,
            // A role form is Corterum's: its holders are the users of companies.
            side: OrganisationKind::Company,
        })
    }

    /// Reads a role back into a form. For a role made by [`RoleForm::into_role`] it
    /// gives back the form (trimmed, groups sorted); for other roles, what their
    /// feature and dataset grants allow.
    pub fn from_role(role: &Role) -> Self {
        let mut form = Self {
            name: role.name.clone(),
            description: role.description.clone(),
            groups: role.groups.clone(),
            requires_second_factor: role.requires_second_factor,
            ..Self::default()
        };
        for grant in &role.grants {
            if grant.actions.contains(Action::FeatureUse) {
                match &grant.only {
                    Only::Features(set) => {
                        form.features = set.iter().chain(form.features.iter()).collect();
                    }
                    Only::Any => form.features = FeatureSet::all(),
                    Only::Datasets(_) => {}
                }
            }
            if let Only::Datasets(ids) = &grant.only {
                for id in ids {
                    let p = form.datasets.entry(*id).or_default();
                    p.read |= grant.actions.contains(Action::DatasetRead);
                    p.edit |= grant.actions.contains(Action::DatasetEdit);
                    p.create |= grant.actions.contains(Action::DatasetCreate);
                }
            }
        }
        form
    }
}
