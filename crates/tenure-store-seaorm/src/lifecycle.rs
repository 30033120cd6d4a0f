//! The store's lifecycle: migrations that two instances starting at once cannot run
//! twice, readiness (the core's [`HealthProbe`]), and a consistent copy of a live SQLite
//! database.
//!
//! On PostgreSQL, migrating holds a session advisory lock (`pg_advisory_lock`) on one
//! pooled connection while the migrations run on others: a second instance waits for the
//! first, then finds nothing to apply. The lock dies with its connection, so a process
//! killed mid-migration never leaves it held. On SQLite one writer at a time is the
//! database's own rule: a second migrator waits on the busy timeout (each migration is
//! its own write), and `CREATE TABLE IF NOT EXISTS` of the migrations table is safe there.

use std::collections::HashSet;
use std::path::Path;

use async_trait::async_trait;
use sea_orm::sqlx;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, Statement};
use sea_orm_migration::{MigratorTrait, SchemaManager, seaql_migrations};
use tenure_core::BackendError;
use tenure_core::health::HealthProbe;

use crate::SeaOrmStore;
use crate::migration::Migrator;

/// The advisory lock's key: any fixed 64-bit number other applications on the same
/// server are unlikely to use (`tenure` in ASCII).
const MIGRATION_LOCK: i64 = 0x7465_6e75_7265;

/// Applies every pending migration, on PostgreSQL under the advisory lock.
pub(crate) async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let mut held = db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(|e| DbErr::Custom(format!("cannot take a connection for the lock: {e}")))?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *held)
        .await
        .map_err(|e| DbErr::Custom(format!("cannot take the migration lock: {e}")))?;
    let outcome = Migrator::up(db, None).await;
    let unlocked =
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *held).await;
    if unlocked.is_err() {
        // The lock lives on this connection: closing it releases the lock for certain.
        held.close_on_drop();
    }
    outcome
}

/// Migrations the code knows that the database has not applied. Migrations the database
/// has that this binary does not know (a newer instance migrated during a rolling upgrade)
/// do not count: migrations add, so an older binary keeps working until it is replaced.
async fn pending(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let table = Migrator::migration_table_name().to_string();
    let applied: HashSet<String> = if SchemaManager::new(db).has_table(&table).await? {
        seaql_migrations::Entity::find().all(db).await?.into_iter().map(|m| m.version).collect()
    } else {
        HashSet::new()
    };
    Ok(Migrator::migrations().iter().filter(|m| !applied.contains(m.name())).count())
}

#[async_trait]
impl HealthProbe for SeaOrmStore {
    async fn ping(&self) -> Result<(), BackendError> {
        self.db.ping().await.map_err(BackendError::new)
    }

    async fn pending_migrations(&self) -> Result<usize, BackendError> {
        pending(&self.db).await.map_err(BackendError::new)
    }
}

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database is not SQLite.
    #[error("`tenure backup` copies SQLite databases; back PostgreSQL up with `pg_dump`")]
    NotSqlite,
    /// The target exists: a backup never overwrites.
    #[error("`{0}` already exists; a backup never overwrites a file: choose a new name")]
    Exists(String),
    /// The target's path cannot be given to SQLite.
    #[error("`{0}` is not a path SQLite can write to (it must be UTF-8)")]
    BadPath(String),
    /// The database refused.
    #[error("the backup failed")]
    Failed(#[source] DbErr),
}

/// The connection pool's use at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open.
    pub open: u32,
    /// Of those, how many are idle.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

impl SeaOrmStore {
    /// How the pool is used now (cheap: counters sqlx keeps), for metrics.
    pub fn pool_use(&self) -> PoolUse {
        let (open, idle, max) = match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            _ => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
        };
        PoolUse { open, idle: u32::try_from(idle).unwrap_or(u32::MAX), max }
    }

    /// Writes a consistent copy of a live SQLite database to `target` with
    /// `VACUUM INTO` (a snapshot as of one moment, taken while others keep writing;
    /// the copy is compact and has no WAL of its own). Never overwrites: an existing
    /// `target` is refused, and SQLite itself refuses to write over one that appears
    /// meanwhile.
    ///
    /// # Errors
    /// [`BackupError`]: not SQLite, the target exists or cannot be named, or the copy
    /// failed.
    pub async fn backup(&self, target: &Path) -> Result<(), BackupError> {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return Err(BackupError::NotSqlite);
        }
        let shown = target.display().to_string();
        if target.exists() {
            return Err(BackupError::Exists(shown));
        }
        let Some(path) = target.to_str() else {
            return Err(BackupError::BadPath(shown));
        };
        let sql = Statement::from_sql_and_values(DbBackend::Sqlite, "VACUUM INTO ?", [path.into()]);
        self.db.execute_raw(sql).await.map_err(BackupError::Failed)?;
        Ok(())
    }
}
