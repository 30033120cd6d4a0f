//! Trigram indexes for searching users by any part of their name or email.
//!
//! `LIKE '%term%'` cannot use a B-tree, so without these an administrator's search walks
//! every user. SQLite gets a contentless FTS5 table with the trigram tokenizer, kept in
//! step by triggers; PostgreSQL gets `pg_trgm` GIN indexes, which `LIKE` uses directly.
//! Either way the index only narrows the rows: the escaped `LIKE` remains the exact test.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

const SQLITE: &[&str] = &[
    "CREATE VIRTUAL TABLE users_search USING fts5(words, content='', contentless_delete=1, tokenize='trigram')",
    "INSERT INTO users_search (rowid, words) SELECT rowid, sort_name || ' ' || email FROM users",
    "CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN \
     INSERT INTO users_search (rowid, words) VALUES (new.rowid, new.sort_name || ' ' || new.email); END",
    "CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN \
     DELETE FROM users_search WHERE rowid = old.rowid; END",
    "CREATE TRIGGER users_search_update AFTER UPDATE OF sort_name, email ON users BEGIN \
     DELETE FROM users_search WHERE rowid = old.rowid; \
     INSERT INTO users_search (rowid, words) VALUES (new.rowid, new.sort_name || ' ' || new.email); END",
];

const POSTGRES: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX users_search_name ON users USING gin (sort_name gin_trgm_ops)",
    "CREATE INDEX users_search_email ON users USING gin (email gin_trgm_ops)",
];

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
        let statements = match manager.get_database_backend() {
            DbBackend::Sqlite => SQLITE,
            DbBackend::Postgres => POSTGRES,
            _ => {
                return Err(DbErr::Migration(
                    "Tenure supports SQLite and PostgreSQL only".to_owned(),
                ));
            }
        };
        for statement in statements {
            manager.get_connection().execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
