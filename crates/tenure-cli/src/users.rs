//! `tenure users import` and `tenure users export`: batch jobs over the same services and
//! rules as the web application.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use tenure_core::{ChangeStore, Invite, ManageError, Page, PersonInput, UserQuery};
use tenure_domain::{Email, OrgId, Organisation, RoleCatalogue, RoleId, User, UserId};

use crate::app::Services;

/// The columns an import file has, in any order; `telephone` may be left out.
const COLUMNS: [&str; 5] = ["name", "email", "telephone", "organisation", "role"];

/// One row of an import file.
#[derive(Debug, serde::Deserialize)]
struct Row {
    name: String,
    email: String,
    #[serde(default)]
    telephone: String,
    organisation: String,
    role: String,
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
            format!("role `{given}` does not exist; expected one of: {}", keys.join(", "))
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
    let org = org.ok_or_else(|| format!("organisation `{}` does not exist", row.organisation))?;
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
    match services.manage.invite(actor, &invite).await {
        Ok(_) => Ok(RowOutcome::Invited),
        Err(ManageError::NotFound) => {
            Err(format!("organisation `{}` is not one you can invite users into", row.organisation))
        }
        Err(ManageError::Invalid(fields)) => Err(fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ")),
        Err(e) => Err(e.to_string()),
    }
}

/// Imports users from a CSV file, inviting each as `actor`. Every row is its own
/// transaction: a bad row writes nothing and the others go on. Returns exit code 0 when
/// every row was imported or skipped, 2 when any row was refused.
pub(crate) async fn import(services: &Services, actor: UserId, file: &Path) -> Result<ExitCode> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .with_context(|| format!("cannot read `{}`", file.display()))?;
    let headers = reader.headers().with_context(|| format!("{}: no header row", file.display()))?;
    let headers: Vec<String> = headers.iter().map(str::to_lowercase).collect();
    let unknown: Vec<_> = headers.iter().filter(|h| !COLUMNS.contains(&h.as_str())).collect();
    let missing: Vec<_> =
        COLUMNS.iter().filter(|c| **c != "telephone" && !headers.iter().any(|h| h == *c)).collect();
    if !unknown.is_empty() || !missing.is_empty() {
        eprintln!(
            "{}:1: the header row must name the columns {} (telephone may be left out); \
             unknown: {:?}, missing: {:?}",
            file.display(),
            COLUMNS.join(", "),
            unknown,
            missing
        );
        return Ok(ExitCode::from(2));
    }
    reader.set_headers(csv::StringRecord::from(headers));
    let records: Vec<_> = reader.deserialize::<Row>().collect();
    let bar = ProgressBar::new(records.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let roles = RoleCatalogue::core();
    let mut orgs = HashMap::new();
    let (mut invited, mut skipped, mut failed) = (0, 0, 0);
    for (index, record) in records.into_iter().enumerate() {
        // Line 1 is the header; records carry their own position when they parse.
        let mut line = index + 2;
        let outcome = match record {
            Ok(row) => import_row(services, actor, &roles, &mut orgs, row).await,
            Err(e) => {
                if let Some(p) = e.position() {
                    line = p.line() as usize;
                }
                Err(format!("this row cannot be read: {e}"))
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
    // The same columns as the web's download.
    out.write_record(tenure_core::csv::users::COLUMNS)?;
    let roles = RoleCatalogue::core();
    let mut orgs: HashMap<OrgId, Organisation> = HashMap::new();
    let mut page = 1;
    loop {
        let users: Vec<User> = services
            .authorizer
            .find_users(actor, &UserQuery::default(), Page::numbered(page, Page::MAX_LIMIT))
            .await?;
        if users.is_empty() {
            break;
        }
        for u in &users {
            let org = match orgs.get(&u.organisation) {
                Some(org) => org.clone(),
                None => {
                    let Some(org) = services.store.organisation(u.organisation).await? else {
                        bail!("user {}: their organisation is missing", u.id);
                    };
                    orgs.insert(u.organisation, org.value.clone());
                    org.value
                }
            };
            // A user of a deactivated organisation is exported as deactivated.
            let status = services.manage.status(u, &org).await?;
            out.write_record(tenure_core::csv::users::row(u, &org, status, &roles))?;
        }
        page += 1;
    }
    out.finish()?.flush()?;
    Ok(())
}
