//! Batch jobs: one engine that imports and exports every kind of record under the same
//! services and rules as the web application.
//!
//! A kind of record ([`Kind`]) says what a row is: its columns, how a row parses into a
//! typed input (each bad cell a [`FieldError`] naming its column), its natural key (an
//! organisation's name, a user's email address, a relationship's two ends), how to find
//! what is stored under that key, whether the row differs from it, and how to create or
//! update it. Every row is decided by the permission engine as the acting user, exactly
//! as it decides a form on the web, and written with its audit entries (and the mail it
//! queues): a refused or failed row writes nothing and the rows around it go on.
//!
//! How rows are written (the guarantee): a kind with a chunked path ([`Kind::bulk`]: users
//! and organisations) commits rows in chunks of up to [`chunk::CHUNK_ROWS`] (or what came
//! in [`chunk::CHUNK_TIME`]), one write transaction a chunk ([`chunk::Chunk`]; on SQLite
//! it holds the write lock, so nobody else changes the data meanwhile). The chunk's data
//! is read once inside it (the records under the rows' keys, one query each; the actor's
//! snapshot), each row is decided on it by [`Planner::plan`] with the same writes and
//! audit entries as the row's service, and the row's effect is applied to what was read,
//! so later rows in the chunk see earlier ones. The allowed rows are written together
//! (multi-row statements) inside a savepoint; if that is refused they are rolled back to
//! it and written again one savepoint a row, decided again, so only the bad row is lost
//! (on PostgreSQL too, where an error otherwise poisons the transaction). Rows are
//! reported once their chunk is committed: `kill -9` loses at most the uncommitted chunk,
//! and re-running the file finishes it (natural keys skip what committed). Dry runs,
//! updates, rows the chunk's data does not settle (a record the actor may not view) and
//! kinds without a chunked path go row by row through the existing services, a
//! transaction a row.
//!
//! [`import`] runs a kind over a CSV file:
//! - the whole file is checked first ([`crate::csv::read::check`], streaming), so a file
//!   refused whole (a bad header, a quote never closed, over the caps) writes nothing;
//! - then it is read again row by row and each row is handled as it is read (a chunk at a
//!   time: at most [`chunk::CHUNK_ROWS`] rows are held), so memory does not grow with the
//!   file;
//! - a row whose key is not there is created; one that is there and the same is
//!   [`Outcome::Unchanged`]; one that differs is updated with [`Options::update`] and
//!   otherwise [`Outcome::Differs`] (skipped), so re-running a file changes nothing;
//! - with [`Options::dry_run`] nothing is written: each row is parsed, looked up and
//!   checked with the engine (may the actor create or change it?), and reported as what
//!   would happen;
//! - every row is reported to a sink as it ends ([`RowReport`]: line, key, outcome,
//!   error), and the counts come back in a [`Report`], whose [`Report::exit_code`] is 0
//!   when every row was fine and 1 when some failed (2, a file refused whole, is the
//!   caller's: [`ImportError`]).
//!
//! One batch id on every audit entry of a run: the services know nothing of batches, as
//! they know nothing of requests. The app runs the import inside an audit origin whose
//! request id is the batch's (`batch-<uuid>`), through the same task-local and store
//! decorator the web uses for requests (`tenure_web::origin`), so the trail shows which
//! run wrote each entry.
//!
//! [`export`] writes what the actor may see of a kind, page by page, with the columns its
//! import takes: an export imports back unchanged.
//!
//! # Adding a kind
//! 1. A module under `batch/` with a struct holding the services it calls (a
//!    [`Manage`] clone, or `Corterum`'s: a [`Sources`] holds what the CORE kinds use).
//! 2. `impl Kind for It`: [`Kind::COLUMNS`] (what the import takes, in the export's
//!    order), [`Kind::parse`] (cells to a typed input, every bad cell reported),
//!    [`Kind::key`], [`Kind::find`] (what the actor may see under the key, `None`
//!    otherwise: never reveal what the actor may not see), [`Kind::differs`],
//!    [`Kind::check`] (the engine's answer for a dry run), [`Kind::create`],
//!    [`Kind::update`] (each one service call) and [`Kind::export_page`].
//! 3. In the CLI, a subcommand that builds it and calls the CLI's `batch::import` and
//!    `batch::export` (which add the progress bar, `--format json` and the exit codes).

pub mod chunk;
pub mod corterum;
pub mod organisations;
pub mod relationships;
pub mod users;

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tenure_domain::{Decision, Request, UserId};

use crate::audit::{AuditEvent, Origin};
use crate::batch::chunk::{CHUNK_ROWS, CHUNK_TIME, Chunk, ChunkStore, RowWrites};
use crate::changes::{ChangeError, ChangeStore};
use crate::csv::read::{self, Columns, CsvReader, FileError, Limits};
use crate::error::BackendError;
use crate::manage::Manage;
use crate::ports::Directory;
use crate::usecase::{FieldError, ManageError};

/// What the kinds stand on: the management service every write goes through, and the
/// read ports for lookups by key, dry-run decisions and export pages.
#[derive(Clone)]
pub struct Sources {
    /// The use cases every row is written through.
    pub manage: Manage,
    /// Snapshots for the engine, and list pages.
    pub directory: Arc<dyn Directory>,
    /// Records by id, name or email; links.
    pub changes: Arc<dyn ChangeStore>,
    /// Chunks for the kinds that write a chunk of rows a transaction ([`Bulk`]); `None`
    /// writes every row through the services, a transaction a row.
    pub chunks: Option<Arc<dyn ChunkStore>>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

impl Sources {
    /// For a dry run: the engine's answer to `request`, as the service would give it
    /// ("not found" where it conceals).
    ///
    /// # Errors
    /// The refusal.
    pub async fn allowed(&self, request: Request) -> Result<(), RowError> {
        let world = self.directory.snapshot(request.actor, request.resource).await?;
        match world.decide(&request) {
            Decision::Allow { .. } => Ok(()),
            Decision::Deny { conceal: true, .. } => Err(RowError("not found".to_owned())),
            Decision::Deny { reason, .. } => {
                Err(RowError(format!("forbidden: {}", reason.explain(&world))))
            }
        }
    }
}

/// Why a row was refused: a sentence saying what was wrong and what is accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RowError(pub String);

impl RowError {
    /// Cell errors, each naming its column.
    pub fn fields(errors: &[FieldError]) -> Self {
        Self(
            errors
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

impl From<ManageError> for RowError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid(fields) => Self::fields(&fields),
            other => Self(other.to_string()),
        }
    }
}

impl From<BackendError> for RowError {
    fn from(e: BackendError) -> Self {
        Self(e.to_string())
    }
}

/// What a created row became.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// It is in effect.
    Done,
    /// It waits for someone's consent (a coordinator's relationship request).
    Requested,
}

/// One kind of record the batch engine imports and exports. See the module docs for how
/// to add one.
#[async_trait]
pub trait Kind: Send + Sync {
    /// A parsed row.
    type Input: Send + Sync;
    /// What is stored under a row's key, as much as comparing and updating need.
    type Existing: Send + Sync;

    /// The columns an import file has (lower case, any order), in the order an export's
    /// header names them.
    const COLUMNS: Columns<'static>;

    /// Reads a row's cells into an input; every bad cell is reported by its column.
    ///
    /// # Errors
    /// The cells that are wrong, saying what is accepted.
    fn parse(&self, row: &read::Row) -> Result<Self::Input, Vec<FieldError>>;

    /// The row's natural key as people read it (`Riverside Homes`, `ann@example.com`).
    fn key(&self, input: &Self::Input) -> String;

    /// What is stored under the row's key that `actor` may see; `None` when nothing is,
    /// or when the actor may not see it (creating it then gets the service's answer).
    ///
    /// # Errors
    /// A row that cannot be handled (a name it refers to does not exist).
    async fn find(
        &self,
        actor: UserId,
        input: &Self::Input,
    ) -> Result<Option<Self::Existing>, RowError>;

    /// Whether the row would change what is stored.
    fn differs(&self, input: &Self::Input, existing: &Self::Existing) -> bool;

    /// For a dry run: whether the engine lets `actor` create the row (`existing` `None`)
    /// or make the change, and what creating would make.
    ///
    /// # Errors
    /// The engine's refusal, as the service would answer it.
    async fn check(
        &self,
        actor: UserId,
        input: &Self::Input,
        existing: Option<&Self::Existing>,
    ) -> Result<Created, RowError>;

    /// Creates the row through its service, as `actor`.
    ///
    /// # Errors
    /// The service's refusal; nothing was written.
    async fn create(&self, actor: UserId, input: &Self::Input) -> Result<Created, RowError>;

    /// Changes what is stored to the row, through its services, as `actor`.
    ///
    /// # Errors
    /// The service's refusal.
    async fn update(
        &self,
        actor: UserId,
        input: &Self::Input,
        existing: &Self::Existing,
    ) -> Result<(), RowError>;

    /// The kind's chunked path ([`Bulk`]) and the chunks it writes through, if it has
    /// one and the sources offer chunks; `None` imports row by row through the services.
    fn bulk(&self) -> Option<BulkPath<'_, Self::Input>> {
        None
    }

    /// One page (numbered from 1) of export rows under [`Kind::COLUMNS`], of what `actor`
    /// may see (it may be empty); `None` after the last.
    ///
    /// # Errors
    /// [`BackendError`] for unexpected failures.
    async fn export_page(
        &self,
        actor: UserId,
        number: usize,
    ) -> Result<Option<Vec<Vec<String>>>, BackendError>;
}

/// A kind's chunked path: its planner and the chunks it writes through.
pub struct BulkPath<'a, I> {
    /// Reads a chunk's rows' data and decides each row.
    pub planner: &'a (dyn Bulk<I> + 'a),
    /// The chunks (write transactions) the rows are written in.
    pub chunks: Arc<dyn ChunkStore>,
}

impl<I> std::fmt::Debug for BulkPath<'_, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkPath").finish_non_exhaustive()
    }
}

/// A kind that decides a chunk of rows on data read once for the chunk (see the module
/// docs): [`Bulk::load`] reads, inside the chunk's transaction, what the rows need (the
/// actor's snapshot, the records under the rows' keys, each kind one query for the
/// chunk); the [`Planner`] it returns decides each row with the engine as the acting user
/// and says what the row writes, the same writes and audit entries as the row's service,
/// and applies the row's effect to what it read, so later rows in the chunk see it.
#[async_trait]
pub trait Bulk<I: Sync>: Send + Sync {
    /// What `rows` need, read in `chunk`, as a planner for them.
    ///
    /// # Errors
    /// [`BackendError`] for unexpected failures (every row of the chunk fails with it).
    async fn load<'a>(
        &'a self,
        chunk: &mut (dyn Chunk + '_),
        actor: UserId,
        rows: &[&I],
    ) -> Result<Box<dyn Planner<I> + 'a>, BackendError>;
}

/// Decides a chunk's rows one after another (see [`Bulk`]).
pub trait Planner<I>: Send {
    /// The row's outcome and what it writes, as if every row planned before it was
    /// written.
    fn plan(&mut self, input: &I, options: Options) -> Planned;
}

/// What a row comes to in a chunk.
#[derive(Debug)]
pub enum Planned {
    /// Nothing to write: unchanged, or differs and skipped.
    Done(Outcome),
    /// Write these, in the chunk; the row is then `Outcome`.
    Write(Outcome, RowWrites),
    /// Refused: the row fails, and the refusal's audit entry (an engine denial's) is
    /// written, as the service writes it.
    Refused(RowError, Option<Box<AuditEvent>>),
    /// The row goes through the services, a transaction of its own (an update, a case
    /// the chunk's data does not settle): the chunk before it is committed first.
    Services,
}

impl Planned {
    /// A service's refusal, with the audit entry its engine denial writes.
    pub fn refused((error, audit): (crate::usecase::ManageError, Option<Box<AuditEvent>>)) -> Self {
        Self::Refused(error.into(), audit)
    }
}

/// How an import runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Change stored records that differ from their row (otherwise they are skipped).
    pub update: bool,
    /// Write nothing: report what would be created, changed and skipped.
    pub dry_run: bool,
}

/// How one row ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Created.
    Created,
    /// Asked for: waits for the other side's consent.
    Requested,
    /// Changed to match the row (`--update`).
    Updated,
    /// Already there and the same: nothing to do.
    Unchanged,
    /// There but different; skipped without `--update`.
    Differs,
    /// Dry run: would be created.
    WouldCreate,
    /// Dry run: would be asked for.
    WouldRequest,
    /// Dry run: would be changed.
    WouldUpdate,
    /// Refused or failed; nothing was written.
    Failed,
}

impl Outcome {
    /// Its name in reports (`created`, `differs`, `would_create`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Requested => "requested",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Differs => "differs",
            Self::WouldCreate => "would_create",
            Self::WouldRequest => "would_request",
            Self::WouldUpdate => "would_update",
            Self::Failed => "failed",
        }
    }
}

/// One row's report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowReport {
    /// The line the row starts on.
    pub line: u64,
    /// Its natural key, when the row parsed.
    pub key: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed.
    pub error: Option<String>,
}

impl RowReport {
    /// The report as one JSON object: `{"line":..,"key":..,"outcome":..,"error":..}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "line": self.line,
            "key": self.key,
            "outcome": self.outcome.as_str(),
            "error": self.error,
        })
        .to_string()
    }
}

/// The counts of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Created (or would be, in a dry run).
    pub created: u64,
    /// Asked for, waiting for consent (or would be).
    pub requested: u64,
    /// Changed (or would be).
    pub updated: u64,
    /// Already there and the same.
    pub unchanged: u64,
    /// There but different, skipped (no `--update`).
    pub differs: u64,
    /// Refused or failed.
    pub failed: u64,
    /// Whether nothing was written.
    pub dry_run: bool,
}

impl Report {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created | Outcome::WouldCreate => self.created += 1,
            Outcome::Requested | Outcome::WouldRequest => self.requested += 1,
            Outcome::Updated | Outcome::WouldUpdate => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Differs => self.differs += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    /// The rows seen.
    pub fn rows(&self) -> u64 {
        self.created + self.requested + self.updated + self.unchanged + self.differs + self.failed
    }

    /// 0 when every row was fine, 1 when some failed.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.failed > 0)
    }

    /// The report as a sentence: `3 created, 1 unchanged, 0 failed` (`would be created`
    /// in a dry run).
    pub fn sentence(&self) -> String {
        let would = if self.dry_run { "would be " } else { "" };
        let mut parts = vec![format!("{} {would}created", self.created)];
        if self.requested > 0 {
            parts.push(format!("{} {would}requested (waiting for consent)", self.requested));
        }
        parts.push(format!("{} {would}updated", self.updated));
        parts.push(format!("{} unchanged", self.unchanged));
        parts.push(format!("{} differ (skipped; --update changes them)", self.differs));
        parts.push(format!("{} failed", self.failed));
        let mut s = parts.join(", ");
        if self.dry_run {
            s.push_str(" (dry run: nothing was written)");
        }
        s
    }

    /// The report as one JSON object, `{"summary":{...}}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({"summary": {
            "created": self.created,
            "requested": self.requested,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "differs": self.differs,
            "failed": self.failed,
            "dry_run": self.dry_run,
        }})
        .to_string()
    }
}

/// Why an import stopped before (or while) reading rows: the file itself.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file was refused whole (or changed while being read): nothing more was done.
    #[error("{0}")]
    File(#[from] FileError),
    /// The file could not be opened.
    #[error("cannot open the file: {0}")]
    Open(std::io::Error),
}

impl ImportError {
    /// The line concerned, if any.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::File(e) => Some(e.line()),
            Self::Open(_) => None,
        }
    }
}

/// Checks a whole file (streaming) before any row is written; returns its row count.
///
/// # Errors
/// [`ImportError`] when the file is refused whole.
pub fn check_file<K: Kind, R: Read>(source: R) -> Result<u64, ImportError> {
    Ok(read::check(source, &K::COLUMNS, Limits::DEFAULT)?.rows)
}

/// Imports a file of `kind` as `actor`, reporting each row to `sink` once it is settled.
/// `open` opens the file: it is read twice, once whole by [`check_file`] (call it first),
/// then row by row here. A kind with a chunked path ([`Kind::bulk`]) writes a chunk of
/// rows ([`CHUNK_ROWS`], or what came in [`CHUNK_TIME`]) a transaction, each row's writes
/// rolled back alone when they fail, and reports the chunk's rows once it is committed;
/// a dry run, and a kind without one, go row by row through the services. `origin`
/// stamps every audit entry a chunk writes (the batch id; the services' own writes are
/// stamped by the caller's origin decorator).
///
/// # Errors
/// [`ImportError`] when the file is refused (the rows before were handled and reported).
pub async fn import<K: Kind, R: Read + Send>(
    kind: &K,
    actor: UserId,
    source: R,
    options: Options,
    origin: Option<Origin>,
    sink: &mut (dyn FnMut(&RowReport) + Send),
) -> Result<Report, (Report, ImportError)> {
    let mut report = Report { dry_run: options.dry_run, ..Report::default() };
    let mut reader = match CsvReader::open(source, &K::COLUMNS, Limits::DEFAULT) {
        Ok(r) => r,
        Err(e) => return Err((report, e.into())),
    };
    let bulk = if options.dry_run { None } else { kind.bulk() };
    let Some(bulk) = bulk else {
        loop {
            let row = match reader.next_row() {
                Ok(None) => break,
                Ok(Some(row)) => row,
                Err(e) => return Err((report, e.into())),
            };
            let done = match row {
                Ok(row) => one_row(kind, actor, &row, options).await,
                Err(e) => RowReport {
                    line: e.line(),
                    key: None,
                    outcome: Outcome::Failed,
                    error: Some(e.to_string()),
                },
            };
            report.count(done.outcome);
            sink(&done);
        }
        return Ok(report);
    };
    let chunks: Arc<dyn ChunkStore> = match origin {
        Some(origin) => Arc::new(chunk::WithOrigin::new(bulk.chunks.clone(), origin)),
        None => bulk.chunks.clone(),
    };
    loop {
        let started = Instant::now();
        let mut entries: Vec<Entry<K::Input>> = Vec::with_capacity(CHUNK_ROWS);
        let mut stopped = None;
        let mut ended = false;
        while entries.len() < CHUNK_ROWS && started.elapsed() < CHUNK_TIME {
            match reader.next_row() {
                Ok(None) => {
                    ended = true;
                    break;
                }
                Ok(Some(Ok(row))) => entries.push(match kind.parse(&row) {
                    Ok(input) => Entry::Parsed { line: row.line(), key: kind.key(&input), input },
                    Err(errors) => Entry::Done(failed(row.line(), None, RowError::fields(&errors))),
                }),
                Ok(Some(Err(e))) => {
                    entries.push(Entry::Done(failed(e.line(), None, RowError(e.to_string()))));
                }
                Err(e) => {
                    stopped = Some(e);
                    break;
                }
            }
        }
        let mut start = 0;
        while start < entries.len() {
            let (reports, next) =
                write_chunk(kind, bulk.planner, &*chunks, actor, &entries[start..], options).await;
            for done in &reports {
                report.count(done.outcome);
                sink(done);
            }
            start += next;
            // The row the chunk stopped at goes through the services, on its own.
            if let Some(Entry::Parsed { line, key, input }) = entries.get(start) {
                let done = match handle(kind, actor, input, options).await {
                    Ok(outcome) => {
                        RowReport { line: *line, key: Some(key.clone()), outcome, error: None }
                    }
                    Err(e) => failed(*line, Some(key.clone()), e),
                };
                report.count(done.outcome);
                sink(&done);
                start += 1;
            }
        }
        if let Some(e) = stopped {
            return Err((report, e.into()));
        }
        if ended {
            return Ok(report);
        }
    }
}

/// A row read for a chunk: parsed, or already settled (a bad row).
enum Entry<I> {
    Parsed { line: u64, key: String, input: I },
    Done(RowReport),
}

fn failed(line: u64, key: Option<String>, error: RowError) -> RowReport {
    RowReport { line, key, outcome: Outcome::Failed, error: Some(error.0) }
}

/// Writes `entries` in one chunk, up to the first row that goes through the services;
/// returns the reports of the rows settled (after the commit) and how many there were.
async fn write_chunk<K: Kind>(
    kind: &K,
    bulk: &dyn Bulk<K::Input>,
    chunks: &dyn ChunkStore,
    actor: UserId,
    entries: &[Entry<K::Input>],
    options: Options,
) -> (Vec<RowReport>, usize) {
    let _ = kind;
    let fail_all = |e: &dyn std::fmt::Display| -> (Vec<RowReport>, usize) {
        let reports = entries
            .iter()
            .map(|entry| match entry {
                Entry::Parsed { line, key, .. } => {
                    failed(*line, Some(key.clone()), RowError(e.to_string()))
                }
                Entry::Done(done) => done.clone(),
            })
            .collect();
        (reports, entries.len())
    };
    let mut chunk = match chunks.begin().await {
        Ok(chunk) => chunk,
        Err(e) => return fail_all(&e),
    };
    let inputs: Vec<&K::Input> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Parsed { input, .. } => Some(input),
            Entry::Done(_) => None,
        })
        .collect();
    // First every row the engine allows, written together in one savepoint.
    let mut planner = match bulk.load(&mut *chunk, actor, &inputs).await {
        Ok(p) => p,
        Err(e) => return fail_all(&e),
    };
    let mut reports = Vec::with_capacity(entries.len());
    let mut pending = Vec::new();
    let mut settled = entries.len();
    for (i, entry) in entries.iter().enumerate() {
        let (line, key, input) = match entry {
            Entry::Parsed { line, key, input } => (*line, key, input),
            Entry::Done(done) => {
                reports.push(done.clone());
                continue;
            }
        };
        let row = |outcome| RowReport { line, key: Some(key.clone()), outcome, error: None };
        match planner.plan(input, options) {
            Planned::Done(outcome) => reports.push(row(outcome)),
            Planned::Write(outcome, writes) => {
                pending.push(writes);
                reports.push(row(outcome));
            }
            Planned::Refused(error, audit) => {
                if let Some(event) = audit {
                    pending.push(RowWrites { writes: Vec::new(), audit: vec![*event] });
                }
                reports.push(failed(line, Some(key.clone()), error));
            }
            Planned::Services => {
                settled = i;
                break;
            }
        }
    }
    drop(planner);
    if !pending.is_empty() && chunk.apply(pending).await.is_err() {
        // Rolled back to the savepoint: each row again in a savepoint of its own, decided
        // again on what is read now, so only the failing row is lost.
        match one_by_one(bulk, &mut *chunk, actor, &entries[..settled], &inputs, options).await {
            Ok(r) => reports = r,
            Err(e) => return fail_all(&e),
        }
    }
    if let Err(e) = chunk.commit().await {
        return fail_all(&e);
    }
    (reports, settled)
}

/// The slow path of a chunk whose rows were refused together: each row decided and
/// written on its own savepoint; a refused row fails alone and what was read is read
/// again for the rows after it.
async fn one_by_one<I: Sync>(
    bulk: &dyn Bulk<I>,
    chunk: &mut (dyn Chunk + '_),
    actor: UserId,
    entries: &[Entry<I>],
    inputs: &[&I],
    options: Options,
) -> Result<Vec<RowReport>, BackendError> {
    let mut reports = Vec::with_capacity(entries.len());
    let mut planner = bulk.load(&mut *chunk, actor, inputs).await?;
    for entry in entries {
        let (line, key, input) = match entry {
            Entry::Parsed { line, key, input } => (*line, key, input),
            Entry::Done(done) => {
                reports.push(done.clone());
                continue;
            }
        };
        let (outcome, writes, error) = match planner.plan(input, options) {
            Planned::Done(outcome) => (outcome, None, None),
            Planned::Write(outcome, writes) => (outcome, Some(writes), None),
            Planned::Refused(error, audit) => (
                Outcome::Failed,
                audit.map(|event| RowWrites { writes: Vec::new(), audit: vec![*event] }),
                Some(error),
            ),
            // Not reached: the rows given stop before the first that goes through the
            // services; fail it rather than write it outside the chunk.
            Planned::Services => (
                Outcome::Failed,
                None,
                Some(RowError("could not be written in its chunk; re-run the import".to_owned())),
            ),
        };
        let mut done =
            RowReport { line, key: Some(key.clone()), outcome, error: error.map(|e| e.0) };
        if let Some(writes) = writes {
            if let Err(e) = chunk.apply_row(writes).await {
                done = failed(line, Some(key.clone()), refusal(e));
                drop(planner);
                planner = bulk.load(&mut *chunk, actor, inputs).await?;
            }
        }
        reports.push(done);
    }
    Ok(reports)
}

/// A store's refusal of a row's writes, as the row's service answers it.
fn refusal(e: ChangeError) -> RowError {
    crate::usecase::ManageError::from(e).into()
}

async fn one_row<K: Kind>(kind: &K, actor: UserId, row: &read::Row, options: Options) -> RowReport {
    let line = row.line();
    let input = match kind.parse(row) {
        Ok(input) => input,
        Err(errors) => {
            return RowReport {
                line,
                key: None,
                outcome: Outcome::Failed,
                error: Some(RowError::fields(&errors).0),
            };
        }
    };
    let key = kind.key(&input);
    let outcome = handle(kind, actor, &input, options).await;
    let (outcome, error) = match outcome {
        Ok(o) => (o, None),
        Err(e) => (Outcome::Failed, Some(e.0)),
    };
    RowReport { line, key: Some(key), outcome, error }
}

async fn handle<K: Kind>(
    kind: &K,
    actor: UserId,
    input: &K::Input,
    options: Options,
) -> Result<Outcome, RowError> {
    let existing = kind.find(actor, input).await?;
    match existing {
        None if options.dry_run => Ok(match kind.check(actor, input, None).await? {
            Created::Done => Outcome::WouldCreate,
            Created::Requested => Outcome::WouldRequest,
        }),
        None => Ok(match kind.create(actor, input).await? {
            Created::Done => Outcome::Created,
            Created::Requested => Outcome::Requested,
        }),
        Some(existing) if !kind.differs(input, &existing) => Ok(Outcome::Unchanged),
        Some(_) if !options.update => Ok(Outcome::Differs),
        Some(existing) if options.dry_run => {
            kind.check(actor, input, Some(&existing)).await?;
            Ok(Outcome::WouldUpdate)
        }
        Some(existing) => {
            kind.update(actor, input, &existing).await?;
            Ok(Outcome::Updated)
        }
    }
}

/// Writes every row of `kind` that `actor` may see to `write`, page by page (memory holds
/// one page), after the header. `write` gets the names in [`Kind::COLUMNS`] first.
///
/// # Errors
/// [`BackendError`] from the store, or the sink's error.
pub async fn export<K: Kind, E: From<BackendError>>(
    kind: &K,
    actor: UserId,
    write: &mut (dyn FnMut(&[String]) -> Result<(), E> + Send),
) -> Result<u64, E> {
    let header: Vec<String> = K::COLUMNS.names().map(str::to_owned).collect();
    write(&header)?;
    let mut rows = 0;
    for number in 1.. {
        let Some(page) = kind.export_page(actor, number).await? else { break };
        for row in &page {
            write(row)?;
            rows += 1;
        }
    }
    Ok(rows)
}

/// A row's cell as typed before an export defused it: a leading single quote before a
/// character a spreadsheet reads as a formula (`'=`, `'+`, `'-`, `'@`, `'` then a tab or
/// carriage return) is taken off, so an export imports back unchanged
/// ([`crate::csv::defuse`] is its inverse). The value then goes through the service's own
/// parsing like any other.
pub fn cell<'r>(row: &'r read::Row, column: &str) -> &'r str {
    let raw = row.get(column);
    match raw.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => raw,
    }
}

/// `yes`/`no` (and `true`/`false`, `y`/`n`, `1`/`0`, any case) as a flag; empty is `no`.
///
/// # Errors
/// What is accepted.
pub fn flag(field: &'static str, cell: &str) -> Result<bool, FieldError> {
    match cell.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Ok(true),
        "no" | "n" | "false" | "0" | "" => Ok(false),
        _ => Err(FieldError {
            field,
            message: format!(
                "`{}` is not yes or no; write yes or no",
                tenure_domain::name::quoted(cell)
            ),
        }),
    }
}

/// A flag as exports write it.
pub const fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}
