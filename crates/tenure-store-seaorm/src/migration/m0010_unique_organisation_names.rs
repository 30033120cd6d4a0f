//! Organisation names are unique (compared without case): forms name an organisation
//! to relate, merge into or move a user to, so two organisations with one name would
//! let a rename point someone else's request at one's own organisation. A database
//! that already holds two organisations with one name refuses this migration with a
//! message naming them: rename one of each pair, then migrate again.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    SortName,
}

#[async_trait::async_trait]
#[allow(
    elided_lifetimes_in_paths,
    reason = "sea-orm-migration's trait signature elides the lifetime"
)]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let shared = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT sort_name FROM organisations GROUP BY sort_name HAVING COUNT(*) > 1 \
                 ORDER BY sort_name LIMIT 20",
            ))
            .await?;
        if !shared.is_empty() {
            let names: Vec<String> = shared
                .iter()
                .filter_map(|row| row.try_get::<String>("", "sort_name").ok())
                .map(|n| format!("`{}`", tenure_domain::name::quoted(&n)))
                .collect();
            return Err(DbErr::Migration(format!(
                "organisation names must be unique, and these are each held by more than one \
                 organisation: {}; rename one of each, then migrate again",
                names.join(", ")
            )));
        }
        manager
            .create_index(
                Index::create()
                    .name("organisations_unique_sort_name")
                    .table(Organisations::Table)
                    .col(Organisations::SortName)
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
