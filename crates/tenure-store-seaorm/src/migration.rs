//! Schema migrations: one set for SQLite and PostgreSQL.

mod m0001_directory;
mod m0002_user_search;
mod m0003_credentials;
mod m0004_reset_tokens;
mod m0005_links;
mod m0006_sessions;
mod m0007_corterum;
mod m0008_relationship_requests;
mod m0009_audit_origin;
mod m0010_unique_organisation_names;
mod m0011_mail_queue;
mod m0012_rate_limits;
mod m0013_second_factor;
mod m0014_organisation_kind;

use sea_orm_migration::prelude::*;

/// Every migration, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_directory::Migration),
            Box::new(m0002_user_search::Migration),
            Box::new(m0003_credentials::Migration),
            Box::new(m0004_reset_tokens::Migration),
            Box::new(m0005_links::Migration),
            Box::new(m0006_sessions::Migration),
            Box::new(m0007_corterum::Migration),
            Box::new(m0008_relationship_requests::Migration),
            Box::new(m0009_audit_origin::Migration),
            Box::new(m0010_unique_organisation_names::Migration),
            Box::new(m0011_mail_queue::Migration),
            Box::new(m0012_rate_limits::Migration),
            Box::new(m0013_second_factor::Migration),
            Box::new(m0014_organisation_kind::Migration),
        ]
    }
}
