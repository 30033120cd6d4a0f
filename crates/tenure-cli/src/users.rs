//! `tenure users import` and `tenure users export`: batch jobs over the same services and
//! rules as the web application.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tenure_core::csv::read::{self, Columns, CsvReader, Limits};
use tenure_core::{ChangeStore, Invite, ManageError, PersonInput};
use tenure_domain::name::quoted;
use tenure_domain::{Email, OrgId, RoleCatalogue, RoleId, UserId};

use crate::app::Services;

/// The columns an import file has, in any order; `telephone` may be left out.
const COLUMNS: Columns<'static> =
    Columns { required: &["name", "email", "organisation", "role"], optional: &["telephone"] };

/// One row of an import file.
#[derive(Debug)]
struct Row {
    name: String,
    email: String,
    telephone: String,
    organisation: String,
    role: String,
}

impl Row {
    fn read(row: &read::Row) -> Self {
        let cell = |column| row.get(column).to_owned();
        Self {
            name: cell("name"),
            email: cell("email"),
            telephone: cell("telephone"),
            organisation: cell("organisation"),
            role: cell("role"),
        }
    }
}

/// How one row ended.
enum RowOutcome {
    Invited,
    Skipped,
}

/// Finds a role by key (`data_provider`) or name (`Data provider`), any case.
fn role(roles: &RoleCatalogue, given: &str) -> Result<RoleId, String> {
    let wanted = given.trim().to_lowercase();
    roles
        .iter()
        .find(|r| r.key == wanted || r.name.to_lowercase() == wanted)
        .map(|r| r.id)
        .ok_or_else(|| {
            let keys: Vec<_> = roles.iter().map(|r| r.key.as_str()).collect();
            format!("role `{}` does not exist; expected one of: {}", quoted(given), keys.join(", "))
        })
}

async fn import_row(
    services: &Services,
    actor: UserId,
    roles: &RoleCatalogue,
    orgs: &mut HashMap<String, Option<OrgId>>,
    row: Row,
) -> Result<RowOutcome, String> {
    let key = row.organisation.trim().to_lowercase();
    let org = match orgs.get(&key) {
        Some(o) => *o,
        None => {
            let found = services
                .store
                .organisation_by_name(&row.organisation)
                .await
                .map_err(|e| format!("{e:#}"))?
                .map(|o| o.value.id);
            orgs.insert(key, found);
            found
        }
    };
    let org =
        org.ok_or_else(|| format!("organisation `{}` does not exist", quoted(&row.organisation)))?;
    let role = role(roles, &row.role)?;
    // Re-running an import skips what it already did.
    if let Ok(email) = Email::parse(&row.email) {
        if let Some(existing) =
            services.store.user_by_email(&email).await.map_err(|e| format!("{e:#}"))?
        {
            return if existing.value.organisation == org {
                Ok(RowOutcome::Skipped)
            } else {
                Err(format!("{email} already has an account in another organisation"))
            };
        }
    }
    let invite = Invite {
        person: PersonInput { name: row.name, email: row.email, telephone: row.telephone },
        organisation: org,
        role,
    };
    match services.core.manage.invite(actor, &invite).await {
        Ok(_) => Ok(RowOutcome::Invited),
        Err(ManageError::NotFound) => Err(format!(
            "organisation `{}` is not one you can invite users into",
            quoted(&row.organisation)
        )),
        Err(ManageError::Invalid(fields)) => Err(fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ")),
        Err(e) => Err(e.to_string()),
    }
}

/// Imports users from a CSV file, inviting each as `actor`.
///
/// The file is read twice: once whole ([`read::check`]), so a file refused whole (a bad
/// header, a quote never closed, over [`Limits::DEFAULT`]) writes nothing, then row by
/// row. Every row is its own transaction: a bad row writes nothing and the others go on.
/// Returns exit code 0 when every row was imported or skipped, 2 when the file or any
/// row was refused.
pub(crate) async fn import(services: &Services, actor: UserId, file: &Path) -> Result<ExitCode> {
    let refuse = |line: Option<u64>, why: &dyn std::fmt::Display| {
        match line {
            Some(line) => eprintln!("{}:{line}: {why}", file.display()),
            None => eprintln!("{}: {why}", file.display()),
        }
        Ok(ExitCode::from(2))
    };
    let open = || std::fs::File::open(file);
    let summary = match open() {
        Ok(source) => read::check(source, &COLUMNS, Limits::DEFAULT),
        Err(e) => return refuse(None, &format_args!("cannot open the file: {e}")),
    };
    let summary = match summary {
        Ok(summary) => summary,
        Err(e) => return refuse(Some(e.line()), &e),
    };
    let reader = match open() {
        Ok(source) => CsvReader::open(source, &COLUMNS, Limits::DEFAULT),
        Err(e) => return refuse(None, &format_args!("cannot open the file: {e}")),
    };
    let mut reader = match reader {
        Ok(reader) => reader,
        Err(e) => return refuse(Some(e.line()), &e),
    };
    let bar = ProgressBar::new(summary.rows);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let roles = RoleCatalogue::core();
    let mut orgs = HashMap::new();
    let (mut invited, mut skipped, mut failed) = (0, 0, 0);
    loop {
        let (line, outcome) = match reader.next_row() {
            Ok(None) => break,
            Ok(Some(Ok(row))) => {
                (row.line(), import_row(services, actor, &roles, &mut orgs, Row::read(&row)).await)
            }
            Ok(Some(Err(e))) => (e.line(), Err(e.to_string())),
            // The file changed since it was checked: stop, saying where.
            Err(e) => {
                bar.finish_and_clear();
                println!(
                    "{invited} invited, {skipped} skipped (already imported), {failed} failed"
                );
                return refuse(Some(e.line()), &e);
            }
        };
        match outcome {
            Ok(RowOutcome::Invited) => invited += 1,
            Ok(RowOutcome::Skipped) => skipped += 1,
            Err(why) => {
                failed += 1;
                bar.suspend(|| eprintln!("{}:{line}: {why}", file.display()));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("{invited} invited, {skipped} skipped (already imported), {failed} failed");
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// Writes every user the actor may see as CSV, with the columns of the web's download
/// (`tenure_core::csv::users`).
pub(crate) async fn export(
    services: &Services,
    actor: UserId,
    output: Option<&PathBuf>,
) -> Result<()> {
    let sink: Box<dyn std::io::Write> = match output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write `{}`", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = tenure_core::csv::CsvWriter::new(sink);
    // The same columns and rows as the web's download.
    out.write_record(tenure_core::csv::users::COLUMNS)?;
    for number in 1.. {
        let rows = services.core.manage.users_export_page(actor, number).await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            out.write_record(row)?;
        }
    }
    out.finish()?.flush()?;
    Ok(())
}
