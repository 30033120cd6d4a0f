//! Identifier newtypes.
//!
//! Every id is a UUID wrapped in its own type, so a user id can never be passed where an
//! organisation id is expected. Ids are made by the `IdGen` port (UUID v7 in production);
//! the domain only carries them.

use std::fmt;

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(transparent))]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id_type!(
    /// Identifies a user account.
    UserId
);
id_type!(
    /// Identifies an organisation (a housing provider, a local authority, a company).
    OrgId
);
id_type!(
    /// Identifies a log (a CORE lettings or sales record).
    LogId
);
id_type!(
    /// Identifies a role definition.
    RoleId
);
id_type!(
    /// Identifies a Corterum entity: a person, business or regulator.
    EntityId
);
id_type!(
    /// Identifies a group of entities.
    GroupId
);
id_type!(
    /// Identifies a dataset (a form or a table).
    DatasetId
);
