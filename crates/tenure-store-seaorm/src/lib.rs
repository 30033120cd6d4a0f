//! Tenure's storage adapter: sea-orm on SQLite (the embedded default) and PostgreSQL
//! (for scale), with one migration set for both.
//!
//! Role in the workspace: an adapter. It implements the core's ports over a database and
//! translates rows to domain types at its edge; no business rule lives here. Lists run
//! the engine's `Scope` as SQL, so nothing loads a table to filter it.
//!
//! Allowed dependencies: `tenure-core`, `tenure-domain`, `sea-orm`. Forbidden
//! knowledge: HTTP, email.

mod accounts;
mod batch;
mod changes;
mod convert;
mod corterum;
mod directory;
mod entity;
mod housekeeping;
mod lifecycle;
mod limits;
mod mail_queue;
pub mod migration;
mod second_factor;
mod sessions;

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, EntityTrait, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tenure_core::BackendError;
use tenure_domain::World;
use thiserror::Error;

pub use crate::lifecycle::{BackupError, PoolUse};

/// A connection pool to a Tenure database.
#[derive(Clone, Debug)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
}

/// Why the store could not be opened.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// The URL names a database Tenure does not support.
    #[error(
        "database url `{0}` is not supported; use `sqlite://PATH?mode=rwc`, `sqlite::memory:` or `postgres://USER@HOST/DB`"
    )]
    Unsupported(String),
    /// The database could not be reached or opened.
    #[error("cannot open the database")]
    Open(#[source] DbErr),
    /// The schema could not be brought up to date.
    #[error("cannot migrate the database")]
    Migrate(#[source] DbErr),
}

impl SeaOrmStore {
    /// Opens a pool. SQLite connections use WAL, a 5 s busy timeout, foreign keys,
    /// `secure_delete` (deleted content is overwritten) and `synchronous = NORMAL`
    /// (durable across process crashes; the last commits may be lost on power failure,
    /// see docs/adr/0003-sqlite-settings.md).
    ///
    /// # Errors
    /// [`ConnectError`] if the URL is not SQLite or PostgreSQL, or the database cannot
    /// be opened.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let mut options = ConnectOptions::new(url.to_owned());
        options.sqlx_logging(false).acquire_timeout(Duration::from_secs(10));
        if url.starts_with("sqlite:") {
            if url.contains(":memory:") {
                // Each connection to `:memory:` is a database of its own: keep one.
                options
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None::<Duration>)
                    .max_lifetime(None::<Duration>);
            } else {
                options.max_connections(8);
            }
            options.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
                    // Deleted content is overwritten with zeros, not left in free pages
                    // (the mail queue's erased bodies among it).
                    .pragma("secure_delete", "ON")
            });
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            options.max_connections(16);
        } else {
            return Err(ConnectError::Unsupported(url.to_owned()));
        }
        let db = Database::connect(options).await.map_err(ConnectError::Open)?;
        Ok(Self { db })
    }

    /// Opens a pool and brings the schema up to date.
    ///
    /// # Errors
    /// As [`SeaOrmStore::connect`], and [`ConnectError::Migrate`].
    pub async fn open(url: &str) -> Result<Self, ConnectError> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies every pending migration; on PostgreSQL under an advisory lock, so
    /// instances starting at once apply each migration once (see `lifecycle.rs`).
    ///
    /// # Errors
    /// [`ConnectError::Migrate`] if a migration fails; it is rolled back where the
    /// database allows.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        lifecycle::migrate(&self.db).await.map_err(ConnectError::Migrate)
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Loads a whole world in one transaction: for seeding, imports of a directory kept
    /// elsewhere, tests and benchmarks. Nothing is written if any row fails.
    ///
    /// # Errors
    /// [`BackendError`] on any database failure, including a duplicate id or email.
    pub async fn import(&self, world: &World) -> Result<(), BackendError> {
        const BATCH: usize = 1_000;
        let txn = self.write_transaction().await?;
        let orgs: Vec<_> = world.organisations().map(convert::organisation_row).collect();
        for chunk in orgs.chunks(BATCH) {
            entity::organisations::Entity::insert_many(chunk.iter().cloned())
                .exec(&txn)
                .await
                .map_err(BackendError::new)?;
        }
        let rels: Vec<_> = world.relationships().map(convert::relationship_row).collect();
        for chunk in rels.chunks(BATCH) {
            entity::relationships::Entity::insert_many(chunk.iter().cloned())
                .exec(&txn)
                .await
                .map_err(BackendError::new)?;
        }
        let users: Vec<_> = world.users().collect();
        for chunk in users.chunks(BATCH) {
            entity::users::Entity::insert_many(chunk.iter().map(|u| convert::user_row(u)))
                .exec(&txn)
                .await
                .map_err(BackendError::new)?;
            let roles: Vec<_> = chunk.iter().flat_map(|u| convert::user_role_rows(u)).collect();
            if !roles.is_empty() {
                entity::user_roles::Entity::insert_many(roles)
                    .exec(&txn)
                    .await
                    .map_err(BackendError::new)?;
            }
        }
        let logs: Vec<_> = world.logs().map(convert::log_row).collect();
        for chunk in logs.chunks(BATCH) {
            entity::logs::Entity::insert_many(chunk.iter().cloned())
                .exec(&txn)
                .await
                .map_err(BackendError::new)?;
        }
        txn.commit().await.map_err(BackendError::new)?;
        // Fresh statistics, so the planner picks the indexes for the new row counts. On
        // PostgreSQL, VACUUM also merges the GIN indexes' pending lists, which a bulk load
        // fills: until then the planner rightly judges a trigram search dearer than
        // scanning the table (23 ms instead of 7 ms for "user 99" in 100,000 users).
        let refresh = match self.backend() {
            DbBackend::Postgres => "VACUUM ANALYZE",
            _ => "ANALYZE",
        };
        self.db.execute_unprepared(refresh).await.map_err(BackendError::new)?;
        if self.backend() == DbBackend::Sqlite {
            self.drop_stat4().await?;
        }
        Ok(())
    }

    /// Keeps `ANALYZE`'s per-index row counts (`sqlite_stat1`) but drops its value
    /// samples (`sqlite_stat4`). With samples, SQLite re-plans a prepared statement
    /// whenever a value bound to an indexed column changes (`sqlite3Reprepare`), which
    /// is every query here: a profile of a signed-in page showed parsing and planning in
    /// every call, and dropping the samples took the users page from 2,773 to 3,187
    /// requests/s. Our lists filter on ids and organisations, where row counts are all
    /// the planner needs.
    ///
    /// Our SQLite is now also built with `SQLITE_ENABLE_QPSG` (`.cargo/config.toml`),
    /// under which bound values never re-plan a statement; the samples stay dropped so
    /// the plans do not depend on that build option, and for a SQLite linked without it.
    async fn drop_stat4(&self) -> Result<(), BackendError> {
        let has = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Sqlite,
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat4'",
            ))
            .await
            .map_err(BackendError::new)?
            .is_some();
        if has {
            self.db
                .execute_unprepared("DELETE FROM sqlite_stat4; ANALYZE sqlite_schema;")
                .await
                .map_err(BackendError::new)?;
        }
        Ok(())
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`: it takes the write
    /// lock at once (waiting up to the busy timeout), so a transaction that reads and then
    /// writes cannot fail with `SQLITE_BUSY` halfway.
    pub(crate) async fn write_transaction(&self) -> Result<DatabaseTransaction, BackendError> {
        self.db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .map_err(BackendError::new)
    }
}
