//! sea-orm entities: one module a table. Rows convert to and from domain types in
//! `convert.rs`; nothing outside this crate sees them. (`audit_events` gets its entity
//! with the account services that write it; the migration creates the table.)
#![allow(
    unreachable_pub,
    reason = "sea-orm's derives generate `pub` items; this module is private"
)]

pub(crate) mod logs;
pub(crate) mod organisations;
pub(crate) mod relationships;
pub(crate) mod user_roles;
pub(crate) mod users;
