//! sea-orm entities: one module a table. Rows convert to and from domain types in
//! `convert.rs`, `accounts.rs` and `corterum.rs`; nothing outside this crate sees them.
#![allow(
    unreachable_pub,
    reason = "sea-orm's derives generate `pub` items; this module is private"
)]

pub(crate) mod audit_events;
pub(crate) mod credentials;
pub(crate) mod datasets;
pub(crate) mod entities;
pub(crate) mod entity_companies;
pub(crate) mod entity_groups;
pub(crate) mod entity_links;
pub(crate) mod group_members;
pub(crate) mod instance_versions;
pub(crate) mod links;
pub(crate) mod logs;
pub(crate) mod mail_queue;
pub(crate) mod organisations;
pub(crate) mod recovery_codes;
pub(crate) mod relationship_requests;
pub(crate) mod relationships;
pub(crate) mod reset_tokens;
pub(crate) mod roles;
pub(crate) mod second_factors;
pub(crate) mod sessions;
pub(crate) mod user_companies;
pub(crate) mod user_links;
pub(crate) mod user_roles;
pub(crate) mod users;
