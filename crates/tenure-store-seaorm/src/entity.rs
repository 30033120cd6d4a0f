//! sea-orm entities: one module a table. Rows convert to and from domain types in
//! `convert.rs` and `accounts.rs`; nothing outside this crate sees them.
#![allow(
    unreachable_pub,
    reason = "sea-orm's derives generate `pub` items; this module is private"
)]

pub(crate) mod audit_events;
pub(crate) mod credentials;
pub(crate) mod links;
pub(crate) mod logs;
pub(crate) mod organisations;
pub(crate) mod relationship_requests;
pub(crate) mod relationships;
pub(crate) mod reset_tokens;
pub(crate) mod sessions;
pub(crate) mod user_roles;
pub(crate) mod users;
