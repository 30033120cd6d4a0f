//! What an actor can ask to do, and the kind of resource each action takes.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The kinds of resource an action can be about.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ResourceKind {
    /// A user account.
    User,
    /// An organisation.
    Organisation,
    /// A log.
    Log,
    /// The service as a whole (service-wide actions such as creating an organisation).
    Service,
    /// A Corterum entity: a person, business or regulator.
    Entity,
    /// One entity's instance of a dataset.
    Instance,
    /// A Corterum feature (an area of the service such as user administration).
    Feature,
    /// A Corterum group of entities.
    Group,
    /// A role (Corterum builds them from a form).
    Role,
}

impl ResourceKind {
    /// The name used in policy files and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Organisation => "organisation",
            Self::Log => "log",
            Self::Service => "service",
            Self::Entity => "entity",
            Self::Instance => "instance",
            Self::Feature => "feature",
            Self::Group => "group",
            Self::Role => "role",
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal on $kind:ident,)*) => {
        /// An action an actor may be allowed to take.
        ///
        /// The names (`user.view`, ...) are a public interface: policy files and the CLI use
        /// them.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        #[repr(u8)]
        pub enum Action {
            $($(#[$doc])* $variant,)*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The action's public name, such as `user.view`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// The kind of resource the action is about.
            pub const fn resource_kind(self) -> ResourceKind {
                match self {
                    $(Action::$variant => ResourceKind::$kind,)*
                }
            }
        }

        impl FromStr for Action {
            type Err = UnknownActionError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Action::$variant),)*
                    _ => Err(UnknownActionError { given: s.to_owned() }),
                }
            }
        }
    };
}

actions! {
    /// See a user's account.
    UserView = "user.view" on User,
    /// Change a user's name and telephone.
    UserEditDetails = "user.edit_details" on User,
    /// Change a user's email address. The address is a credential (password resets go
    /// to it), so someone else may change it only if they strictly outrank the user.
    UserChangeEmail = "user.change_email" on User,
    /// Set the data protection officer and key contact flags.
    UserSetFlags = "user.set_flags" on User,
    /// Give a user another role (the request names the role).
    UserChangeRole = "user.change_role" on User,
    /// Change a password. Only one's own: nobody sets another person's password.
    UserChangePassword = "user.change_password" on User,
    /// Block sign-in and end sessions, keeping the account.
    UserDeactivate = "user.deactivate" on User,
    /// Restore a deactivated account with a fresh invitation.
    UserReactivate = "user.reactivate" on User,
    /// Permanently remove a deactivated user's account and personal data.
    UserDelete = "user.delete" on User,
    /// Move a user to another organisation.
    UserMoveOrganisation = "user.move_organisation" on User,
    /// Invite a new user into an organisation (the request names the role).
    UserInvite = "user.invite" on Organisation,
    /// See an organisation.
    OrganisationView = "organisation.view" on Organisation,
    /// Change an organisation's name, address and telephone.
    OrganisationEditDetails = "organisation.edit_details" on Organisation,
    /// Change every detail of an organisation.
    OrganisationEditAll = "organisation.edit_all" on Organisation,
    /// List an organisation's users.
    OrganisationListUsers = "organisation.list_users" on Organisation,
    /// Add and remove an organisation's stock owners and managing agents.
    OrganisationManageRelationships = "organisation.manage_relationships" on Organisation,
    /// Deactivate an organisation and its users.
    OrganisationDeactivate = "organisation.deactivate" on Organisation,
    /// Reactivate an organisation and the users its deactivation deactivated.
    OrganisationReactivate = "organisation.reactivate" on Organisation,
    /// Merge this organisation into another.
    OrganisationMerge = "organisation.merge" on Organisation,
    /// Create an organisation.
    OrganisationCreate = "organisation.create" on Service,
    /// List every organisation in the service.
    OrganisationListAll = "organisation.list_all" on Service,
    /// List every user in the service.
    UserListAll = "user.list_all" on Service,
    /// See a log.
    LogView = "log.view" on Log,
    /// Change a log.
    LogEdit = "log.edit" on Log,
    /// Delete a log.
    LogDelete = "log.delete" on Log,
    /// Read an entity's instance of a dataset.
    DatasetRead = "dataset.read" on Instance,
    /// Change an entity's instance of a dataset.
    DatasetEdit = "dataset.edit" on Instance,
    /// Start an entity's instance of a dataset.
    DatasetCreate = "dataset.create" on Instance,
    /// Use a feature (an area of the service).
    FeatureUse = "feature.use" on Feature,
    /// See an entity.
    EntityView = "entity.view" on Entity,
    /// Change a group's name, description and members ("All People" is built in).
    GroupEdit = "group.edit" on Group,
    /// Change a role built from the role form (built-in roles are code, not data).
    RoleEdit = "role.edit" on Role,
    /// Remove a person's second factor (a lost device): an administrator's for the
    /// people they reach, or one's own unless a role one holds requires one.
    UserRemoveSecondFactor = "user.remove_second_factor" on User,
}

impl Action {
    /// The action's bit in an [`ActionSet`].
    pub(crate) const fn bit(self) -> u64 {
        1 << (self as u8)
    }

    /// Whether the action is one of CORE's (about users, organisations, logs or the
    /// service) rather than Corterum's (entities, instances, features, groups, roles).
    pub const fn is_core(self) -> bool {
        matches!(
            self.resource_kind(),
            ResourceKind::User
                | ResourceKind::Organisation
                | ResourceKind::Log
                | ResourceKind::Service
        )
    }

    /// Whether the request must name the role being given.
    pub const fn takes_role(self) -> bool {
        matches!(self, Self::UserInvite | Self::UserChangeRole)
    }

    /// The view action for a kind of resource, which decides whether a refusal reads
    /// "not found" or "forbidden".
    pub const fn view_of(kind: ResourceKind) -> Option<Self> {
        match kind {
            ResourceKind::User => Some(Self::UserView),
            ResourceKind::Organisation => Some(Self::OrganisationView),
            ResourceKind::Log => Some(Self::LogView),
            ResourceKind::Entity => Some(Self::EntityView),
            ResourceKind::Instance => Some(Self::DatasetRead),
            ResourceKind::Service
            | ResourceKind::Feature
            | ResourceKind::Group
            | ResourceKind::Role => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action name that is not one of [`Action::ALL`].
#[derive(Clone, PartialEq, Eq, Debug, Error)]
#[error("unknown action `{}`; expected one of: {}", crate::name::quoted(.given), Action::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", "))]
pub struct UnknownActionError {
    /// What was given.
    pub given: String,
}

/// A set of actions, as a bit set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct ActionSet(u64);

impl ActionSet {
    /// No actions.
    pub const EMPTY: Self = Self(0);

    /// The set holding exactly these actions.
    pub const fn of(actions: &[Action]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < actions.len() {
            bits |= actions[i].bit();
            i += 1;
        }
        Self(bits)
    }

    /// Every action.
    pub const fn all() -> Self {
        Self::of(Action::ALL)
    }

    /// Whether the set holds the action.
    #[inline]
    pub const fn contains(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }

    /// The actions in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL.iter().copied().filter(move |a| self.contains(*a))
    }
}

#[cfg(test)]
mod tests {
    use crate::action::{Action, ActionSet};

    #[test]
    fn names_round_trip() {
        assert!(Action::ALL.len() < 64, "an ActionSet is a u64");
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(*action));
        }
        let err = "user.fly".parse::<Action>().unwrap_err().to_string();
        assert!(
            err.starts_with(
                "unknown action `user.fly`; expected one of: user.view, user.edit_details"
            ),
            "{err}"
        );
    }

    #[test]
    fn sets() {
        let set = ActionSet::of(&[Action::UserView, Action::LogDelete]);
        assert!(set.contains(Action::UserView) && set.contains(Action::LogDelete));
        assert!(!set.contains(Action::LogView));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![Action::UserView, Action::LogDelete]);
        assert_eq!(ActionSet::all().iter().count(), Action::ALL.len());
    }
}
