//! Tenure's pure domain: organisations and their stock owner -> managing agent
//! relationships, users, logs, roles made of grants, and the permission engine; and
//! Corterum's entities, groups, datasets with versioned instances, and roles built by
//! customers, decided by the same engine.
//!
//! Role in the workspace: the innermost layer. Everything else depends on it.
//!
//! Allowed dependencies: `thiserror`, `uuid` (as a type only), `unicode-normalization`
//! (NFKC for passwords, see docs/adr/0004-password-policy.md) and, behind the optional
//! `serde` feature for embedders, `serde`.
//!
//! Forbidden knowledge: async, IO, the clock, randomness, storage, HTTP. Every function
//! here is a pure function of its arguments, so decisions can be replayed and tested
//! exhaustively.
//!
//! # Embedding
//!
//! ```
//! use tenure_domain::{
//!     Action, Email, Name, Organisation, OrgId, Relationship, Resource, Request, User,
//!     UserId, World, role::builtin,
//! };
//! use uuid::Uuid;
//!
//! let alpha = OrgId::from_uuid(Uuid::from_u128(1));
//! let beta = OrgId::from_uuid(Uuid::from_u128(2));
//! let mut world = World::new();
//! world.insert_organisation(Organisation::new(alpha, Name::parse("Alpha Homes")?))?;
//! world.insert_organisation(Organisation::new(beta, Name::parse("Beta Lettings")?))?;
//! world.add_relationship(Relationship { stock_owner: alpha, managing_agent: beta })?;
//!
//! let alice = UserId::from_uuid(Uuid::from_u128(10));
//! let bob = UserId::from_uuid(Uuid::from_u128(11));
//! world.upsert_user(User::new(alice, Name::parse("Alice")?, Email::parse("alice@alpha.example")?, alpha, vec![builtin::DATA_COORDINATOR]))?;
//! world.upsert_user(User::new(bob, Name::parse("Bob")?, Email::parse("bob@beta.example")?, beta, vec![builtin::DATA_PROVIDER]))?;
//!
//! // A coordinator manages the users of their managing agents.
//! let decision = world.decide(&Request::new(alice, Action::UserDeactivate, Resource::User(bob)));
//! assert!(decision.is_allowed());
//! println!("{}", decision.explain(&world));
//!
//! // The same rules, as a filter a storage adapter turns into SQL.
//! let scope = world.scope(alice, Action::UserView);
//! assert!(scope.matches_user(world.user(bob).unwrap()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod action;
pub mod consent;
pub mod dataset;
pub mod email;
pub mod engine;
pub mod entity;
pub mod fasthash;
pub mod feature;
pub mod id;
pub mod log;
pub mod name;
pub mod organisation;
pub mod password;
pub mod report;
pub mod role;
pub mod second_factor;
pub mod telephone;
pub mod user;
pub mod world;

pub use action::{Action, ResourceKind};
pub use consent::{RelationshipEffect, RelationshipStep, decide_relationship};
pub use dataset::{
    Content, Dataset, DatasetKind, History, HistoryError, Moment, RowError, Version,
};
pub use email::{Email, EmailError};
pub use engine::{
    Decision, DenyReason, EntityScope, Explanation, InstanceScope, Precondition, ReasonExplanation,
    Request, Resource, Scope, decide_invitation, decide_merge, decide_move, may_create_company,
};
pub use entity::{ALL_PEOPLE, Entity, EntityKind, Group};
pub use feature::{Feature, FeatureSet};
pub use id::{DatasetId, EntityId, GroupId, LogId, OrgId, RoleId, UserId};
pub use log::Log;
pub use name::{Name, NameError};
pub use organisation::{Organisation, OrganisationKind, ProviderType, Relationship};
pub use password::{NewPassword, PasswordContext, PasswordError, PasswordPolicy};
pub use role::form::{DatasetPermissions, RoleForm, RoleFormError};
pub use role::{Assignable, Grant, Only, Reach, Role, RoleCatalogue};
pub use telephone::{Telephone, TelephoneError};
pub use user::User;
pub use world::{CorterumError, RelationshipError, UserLinks, World, WorldError};
