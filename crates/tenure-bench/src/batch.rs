//! `batch`: the batch jobs through the real `tenure` binary, as an operator runs them.
//!
//! Writes three files (organisations, half of them with a managing agent, and users
//! spread over the organisations), then on SQLite, and on PostgreSQL when
//! `TENURE_TEST_POSTGRES_URL` names a server (`cargo xtask bench batch` starts a
//! throwaway one): migrate, create the administrator, import the organisations, the
//! relationships, the first tenth of the users, then all the users (the tenth already
//! there is unchanged), deliver the invitations those imports queued (`tenure mail
//! deliver`: an import queues its mail and leaves it to the courier; its own row, in
//! emails a second, not in the import rate), and export the users and organisations. Each
//! command is timed from spawn to exit, as an operator sees it, and its peak resident
//! memory is read from `VmHWM` in
//! `/proc/<pid>/status` while it runs (the last reading before it exits: the mark only
//! rises). Memory is flat when the import of all the users peaks within 1.2x of the
//! import of a tenth of them.
//!
//! The administrator's invitation is not accepted through the web: the bench gives them
//! the administrator role directly through the store's `ChangeStore::apply` (setup, not
//! measured), which is what accepting does to a CORE user's roles.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sea_orm::{ConnectionTrait as _, Database};
use tenure_core::{ChangeStore as _, Write};
use tenure_domain::{Email, RoleCatalogue};
use tenure_store_seaorm::SeaOrmStore;

use crate::synth::Size;

/// One command's run.
struct Run {
    rows: u64,
    took: Duration,
    peak_kib: u64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

/// A backend's figures.
struct Figures {
    imports: Vec<(&'static str, Run)>,
    exports: Vec<(&'static str, Run)>,
}

impl Figures {
    fn import_rate(&self) -> f64 {
        let rows: u64 = self.imports.iter().map(|(_, r)| r.rows).sum();
        let secs: f64 = self.imports.iter().map(|(_, r)| r.took.as_secs_f64()).sum();
        rows as f64 / secs.max(1e-9)
    }

    fn peak_kib(&self) -> u64 {
        self.imports.iter().chain(&self.exports).map(|(_, r)| r.peak_kib).max().unwrap_or(0)
    }

    fn peak_of(&self, label: &str) -> u64 {
        self.imports.iter().find(|(l, _)| *l == label).map_or(0, |(_, r)| r.peak_kib)
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `tenure ARGS` in `dir`, timing it and watching its peak memory.
fn tenure(bin: &Path, dir: &Path, args: &[&str], rows: u64) -> anyhow::Result<Run> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .current_dir(dir)
        .args(args)
        .env("TENURE_OUTBOX", dir.join("outbox"))
        // One secret key for every run (PostgreSQL needs one configured).
        .env("TENURE_SECRET_KEY", "b3".repeat(32))
        .env_remove("TENURE_SMTP_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut err)?;
        }
        bail!("tenure {} failed ({status}): {err}", args.join(" "));
    }
    Ok(Run { rows, took, peak_kib: peak })
}

/// Gives Ada the administrator role, as accepting her invitation would.
async fn make_administrator(url: &str) -> anyhow::Result<()> {
    let store = SeaOrmStore::open(url).await?;
    let email = Email::parse("ada@example.com")?;
    let ada = store.user_by_email(&email).await?.context("the administrator was not created")?;
    let admin = RoleCatalogue::core()
        .iter()
        .find(|r| r.key == "administrator")
        .map(|r| r.id)
        .context("no administrator role")?;
    let mut user = ada.value;
    user.roles = vec![admin];
    store.apply(vec![Write::UpdateUser { user, version: ada.version }], Vec::new()).await?;
    Ok(())
}

struct Files {
    organisations: u64,
    relationships: u64,
    users: u64,
    tenth: u64,
}

fn write_files(dir: &Path, size: Size) -> anyhow::Result<Files> {
    use std::io::Write as _;
    let n = size.organisations;
    let m = size.users;
    let mut orgs = std::io::BufWriter::new(std::fs::File::create(dir.join("orgs.csv"))?);
    writeln!(orgs, "name,address,telephone,provider_type,registration_number,holds_stock,active")?;
    for i in 0..n {
        writeln!(orgs, "Provider {i:06},\"{i} High Street, Leeds\",,,L{i:06},yes,yes")?;
    }
    let mut rels = std::io::BufWriter::new(std::fs::File::create(dir.join("rels.csv"))?);
    writeln!(rels, "stock_owner,managing_agent")?;
    let mut relationships = 0;
    for i in (0..n.saturating_sub(1)).step_by(2) {
        writeln!(rels, "Provider {i:06},Provider {:06}", i + 1)?;
        relationships += 1;
    }
    let tenth = (m / 10).max(1);
    let mut all = std::io::BufWriter::new(std::fs::File::create(dir.join("users.csv"))?);
    let mut some = std::io::BufWriter::new(std::fs::File::create(dir.join("users-tenth.csv"))?);
    for out in [&mut all, &mut some] {
        writeln!(out, "name,email,telephone,organisation,role")?;
    }
    for j in 0..m {
        let line = format!(
            "Person {j},person{j}@example.com,,Provider {:06},data_provider\n",
            j % n.max(1)
        );
        all.write_all(line.as_bytes())?;
        if j < tenth {
            some.write_all(line.as_bytes())?;
        }
    }
    for mut f in [orgs, rels, all, some] {
        f.flush()?;
    }
    Ok(Files { organisations: n as u64, relationships, users: m as u64, tenth: tenth as u64 })
}

#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn measure(bin: &Path, dir: &Path, url: &str, files: &Files) -> anyhow::Result<Figures> {
    let db = ["--database", url];
    let with = |args: &[&'static str]| -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).chain(db.iter().map(|a| (*a).to_owned())).collect()
    };
    let run = |args: Vec<String>, rows: u64| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tenure(bin, dir, &args, rows)
    };
    run(with(&["migrate"]), 0)?;
    run(with(&["admin", "create", "--name", "Ada Admin", "--email", "ada@example.com"]), 0)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(make_administrator(url))?;
    let ada = ["--as", "ada@example.com"];
    let mut imports = Vec::new();
    for (label, kind, file, rows) in [
        ("organisations", "organisations", "orgs.csv", files.organisations),
        ("relationships", "relationships", "rels.csv", files.relationships),
        ("users (a tenth)", "users", "users-tenth.csv", files.tenth),
        ("users (all, a tenth unchanged)", "users", "users.csv", files.users),
    ] {
        let mut args = with(&[kind, "import", file]);
        args.extend(ada.iter().map(|a| (*a).to_owned()));
        let r = run(args, rows)?;
        println!(
            "  import {label}: {} rows in {:.1} s, {:.0} rows/s, peak {:.1} MiB",
            r.rows,
            r.took.as_secs_f64(),
            r.rate(),
            r.peak_kib as f64 / 1024.0
        );
        imports.push((label, r));
    }
    // The invitations the users imports queued (one a user), delivered apart.
    let r = run(with(&["mail", "deliver"]), files.users)?;
    println!(
        "  mail deliver: {} emails in {:.1} s, {:.0} emails/s, peak {:.1} MiB",
        r.rows,
        r.took.as_secs_f64(),
        r.rate(),
        r.peak_kib as f64 / 1024.0
    );
    let mut exports = vec![("mail deliver", r)];
    for (label, kind, rows) in [
        ("users", "users", files.users + 1),
        ("organisations", "organisations", files.organisations + 1),
    ] {
        let out = dir.join(format!("{kind}-export.csv"));
        let mut args = with(&[kind, "export"]);
        args.extend(ada.iter().map(|a| (*a).to_owned()));
        args.extend(["--output".to_owned(), out.display().to_string()]);
        let r = run(args, rows)?;
        println!(
            "  export {label}: {} rows in {:.1} s, {:.0} rows/s, peak {:.1} MiB",
            r.rows,
            r.took.as_secs_f64(),
            r.rate(),
            r.peak_kib as f64 / 1024.0
        );
        exports.push((label, r));
    }
    let _ = std::fs::remove_dir_all(dir.join("outbox"));
    Ok(Figures { imports, exports })
}

#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) fn run(size: Size) -> anyhow::Result<()> {
    let bin = PathBuf::from(
        std::env::var("TENURE_BIN")
            .context("TENURE_BIN names the tenure binary (cargo xtask bench batch sets it)")?,
    );
    let dir = std::env::temp_dir().join(format!("tenure-bench-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let files = write_files(&dir, size)?;
    println!(
        "batch files: {} organisations, {} relationships, {} users",
        files.organisations, files.relationships, files.users
    );
    println!("sqlite:");
    let sqlite_url = format!("sqlite://{}?mode=rwc", dir.join("batch.db").display());
    let sqlite = measure(&bin, &dir, &sqlite_url, &files);
    let postgres = match (&sqlite, std::env::var("TENURE_TEST_POSTGRES_URL")) {
        (Ok(_), Ok(server)) => {
            let name = format!("tenure_batch_{}", std::process::id());
            tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(
                async {
                    let admin = Database::connect(&server).await?;
                    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
                    anyhow::Ok(())
                },
            )?;
            let (base, _) =
                server.rsplit_once('/').context("the PostgreSQL URL names a database")?;
            println!("postgres:");
            Some(measure(&bin, &dir, &format!("{base}/{name}"), &files))
        }
        _ => {
            println!("postgres: skipped (run through `cargo xtask bench batch`)");
            None
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    let sqlite = sqlite?;
    let postgres = postgres.transpose()?;
    let ratio = |f: &Figures| {
        f.peak_of("users (all, a tenth unchanged)") as f64
            / f.peak_of("users (a tenth)").max(1) as f64
    };
    println!(
        "memory: the users import of all rows peaks at {:.2}x the import of a tenth (sqlite){}",
        ratio(&sqlite),
        postgres.as_ref().map_or_else(String::new, |p| format!(", {:.2}x (postgres)", ratio(p)))
    );
    let peak = sqlite.peak_kib().max(postgres.as_ref().map_or(0, Figures::peak_kib));
    println!(
        "batch: sqlite {:.0} rows/s, postgres {} rows/s, peak {:.0} MiB",
        sqlite.import_rate(),
        postgres
            .as_ref()
            .map_or_else(|| "skipped".to_owned(), |p| format!("{:.0}", p.import_rate())),
        peak as f64 / 1024.0
    );
    Ok(())
}
