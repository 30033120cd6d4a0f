//! The `tenure` command line: thin wiring over the library crates.
//!
//! Role in the workspace: an app. It parses arguments, reads files, calls the libraries
//! and maps their outcomes to output and exit codes. No business rule lives here: every
//! change goes through the same services, and the same permission checks, as the web.
//!
//! Errors are reported through the log (`logging`), on standard error.
//!
//! Exit codes: 0 success; 1 a policy expectation failed, a request was denied, a command
//! failed, or some rows of a batch import failed; 2 bad input (a file that does not parse
//! or is refused whole, an unknown name).
#![allow(clippy::print_stdout, reason = "a command line prints its results")]

mod app;
mod audit;
mod batch;
mod batch_corterum;
mod corterum;
mod courier;
mod housekeeping;
mod keys;
mod logging;
mod mail;
mod policy;
mod second_factor;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use tenure_core::{ManageError, PersonInput};

use crate::app::{MailArgs, Services, StoreArgs};

/// mimalloc instead of the system allocator: a signed-in page allocates a few hundred
/// small objects (rows, the snapshot, the rendered page) across tokio's and sqlx's
/// threads, and glibc's allocator was about 15% of the server's time under load (see
/// docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tenure: accounts, organisations and permissions.
#[derive(Debug, Parser)]
#[command(name = "tenure", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web application (on 127.0.0.1:3000, SQLite and the file outbox by default).
    Serve(serve::ServeArgs),
    /// Check rules written down as examples (see docs/policy-tests.md).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Create the database, or bring its schema up to date.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Copy a live SQLite database to FILE, consistently, while the service runs
    /// (`VACUUM INTO`). Never overwrites FILE. On PostgreSQL, use `pg_dump`.
    Backup {
        /// The new file to write (must not exist).
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set up the service.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Import and export organisations (every field of the admin screen).
    #[command(subcommand)]
    Organisations(batch::KindCommand),
    /// Import and export stock owner -> managing agent relationships (by consent: an
    /// administrator's rows are in effect at once, a coordinator's are requests).
    #[command(subcommand)]
    Relationships(batch::KindCommand),
    /// Import and export users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Read the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The mail queue: `status` (counts and undeliverable messages), `deliver` (send what
    /// is due now, then exit), `retry ID`.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Prune expired sessions, used or expired links, passed rate limit buckets and
    /// delivered mail once, in bounded batches (`tenure serve` does it every
    /// `housekeeping_minutes`).
    Housekeeping(housekeeping::HousekeepingArgs),
    /// The demo: `code EMAIL` prints the code a demo account's authenticator app shows now.
    #[command(subcommand)]
    Demo(second_factor::DemoCommand),
    /// Corterum entities: people, businesses and regulators.
    #[command(subcommand)]
    Entities(EntitiesCommand),
    /// Corterum groups of entities.
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// Corterum roles built from the role form.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Import and export Corterum user accounts (username, email, entity, roles,
    /// companies); `tenure users create | list` make and list them one at a time.
    #[command(subcommand)]
    Accounts(batch::KindCommand),
    /// Import and export Corterum companies (name, address, telephone,
    /// registration_number); keyed by name. As `organisations import`.
    #[command(subcommand)]
    Companies(batch::KindCommand),
    /// Corterum dataset instances: read as of a time, save a new version.
    #[command(subcommand)]
    Instances(InstancesCommand),
    /// Corterum's dataset catalogue and exports.
    #[command(subcommand)]
    Datasets(DatasetsCommand),
}

/// What every acting command needs.
#[derive(Debug, clap::Args)]
struct Acting {
    /// Act as this user (email address): the command may do only what they may.
    #[arg(long = "as", value_name = "EMAIL")]
    actor: String,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    mail: MailArgs,
    #[command(flatten)]
    zone: Zone,
}

/// The time zone moments are read and shown in: the service's, as on the web.
#[derive(Debug, clap::Args)]
struct Zone {
    /// The time zone that times are read in and shown in, by IANA name (`Europe/London`,
    /// `UTC`): a date and time such as `2026-11-22 14:30` is the clock on the wall there.
    #[arg(
        long = "time-zone",
        value_name = "ZONE",
        env = "TENURE_TIME_ZONE",
        default_value = tenure_core::moment::SERVICE_ZONE,
        value_parser = |name: &str| tenure_core::moment::zone(name),
    )]
    time_zone: jiff::tz::TimeZone,
}

#[derive(Debug, Subcommand)]
enum EntitiesCommand {
    /// Create an entity (needs `entity_administration`).
    Create {
        /// person, business or regulator.
        #[arg(long = "type")]
        kind: String,
        /// Its name (the only mandatory field).
        #[arg(long)]
        name: String,
        /// A company to link it to, by name (repeat for more).
        #[arg(long = "company", value_name = "NAME")]
        companies: Vec<String>,
        /// Static data, FIELD=VALUE (repeat for more), e.g. job_title=Analyst.
        #[arg(long = "field", value_name = "FIELD=VALUE")]
        fields: Vec<String>,
        /// A person's previous employer: a business entity, by name or id.
        #[arg(long)]
        previous_employer: Option<String>,
        /// A person's new employer (after they left): a business entity, by name or id.
        #[arg(long)]
        new_employer: Option<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Import entities from a CSV file: type, name, the static fields (one column
    /// each), companies and links (`kind=name`, `;` between them); keyed by type and
    /// name. As `organisations import` (`--update`, `--dry-run`, `--format json`).
    Import(batch::ImportArgs),
    /// Write the entities the acting user administers, with the columns the import takes.
    Export(batch::ExportArgs),
    /// List the entities the acting user sees, by name: id, type, name.
    List {
        /// Part of the name.
        #[arg(long)]
        search: Option<String>,
        /// person, business or regulator.
        #[arg(long = "type")]
        kind: Option<String>,
        #[command(flatten)]
        acting: Acting,
    },
}

#[derive(Debug, Subcommand)]
enum GroupsCommand {
    /// Create a group of entities of one type (needs `group_administration`).
    Create {
        /// Its name.
        #[arg(long)]
        name: String,
        /// Why it was created.
        #[arg(long, default_value = "")]
        description: String,
        /// The type of its members: person, business or regulator.
        #[arg(long = "type")]
        kind: String,
        /// A member, by entity name or id (repeat for more).
        #[arg(long = "member", value_name = "ENTITY")]
        members: Vec<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Import groups from a CSV file: name, description, type, members (entity names,
    /// `;` between them); keyed by name. As `organisations import`.
    Import(batch::ImportArgs),
    /// Write the groups (not "All People") with the members the acting user sees.
    Export(batch::ExportArgs),
    /// List the groups ("All People" first).
    List {
        #[command(flatten)]
        acting: Acting,
    },
}

#[derive(Debug, Subcommand)]
enum RolesCommand {
    /// Import roles from a CSV file: the role form as columns (name, description, groups,
    /// features, datasets as `key=read edit create`, `;` between items,
    /// requires_second_factor); keyed by name. As `organisations import`.
    Import(batch::ImportArgs),
    /// Write the roles customers built, with the columns the import takes.
    Export(batch::ExportArgs),
    /// Create a role (needs `roles_administration`).
    Create {
        #[command(flatten)]
        role: corterum::RoleArgs,
        #[command(flatten)]
        acting: Acting,
    },
    /// List the roles: the out-of-the-box ones, then those built here.
    List {
        #[command(flatten)]
        acting: Acting,
    },
}

#[derive(Debug, Subcommand)]
enum InstancesCommand {
    /// Import instances from a CSV file: dataset (its key), entity_type, entity (its
    /// name) and content (JSON: an object for a form, an array of objects for a table);
    /// a row whose content changed is saved as a new version with `--update`, one that
    /// did not is left alone. As `organisations import`.
    Import(batch::ImportArgs),
    /// Write the latest version of every instance the acting user may read, with the
    /// columns the import takes.
    Export(batch::ExportArgs),
    /// Show an entity's instance of a dataset, as it is or as it was.
    Show {
        /// The dataset's key, such as `training_record`.
        #[arg(long)]
        dataset: String,
        /// The entity, by name or id.
        #[arg(long)]
        entity: String,
        /// The version current at this time: a date and time (`2026-11-22 14:30`) read in
        /// `--time-zone` (Europe/London unless given), a date (`2026-11-22`: the end of that
        /// day there), or RFC 3339 with an offset (`2026-11-22T14:30:00Z`).
        #[arg(long = "as-of", value_name = "TIME")]
        as_of: Option<String>,
        /// This version number.
        #[arg(long)]
        version: Option<u32>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Save a new version of a form instance.
    Save {
        /// The dataset's key.
        #[arg(long)]
        dataset: String,
        /// The entity, by name or id.
        #[arg(long)]
        entity: String,
        /// FIELD=VALUE to change (repeat for more; an empty value clears the field).
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
        #[command(flatten)]
        acting: Acting,
    },
}

#[derive(Debug, Subcommand)]
enum DatasetsCommand {
    /// List the dataset catalogue: key, kind, name.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// Write the latest version of every instance the acting user may read, as CSV
    /// (`saved_at` in RFC 3339 with the offset of `--time-zone`).
    Export {
        /// The dataset's key.
        dataset: String,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        acting: Acting,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create Corterum's root administrator (full rights that cannot be revoked; use it
    /// to set the account up) and email them an invitation. One per account.
    CreateRoot {
        /// Their full name.
        #[arg(long)]
        name: String,
        /// Their email address (also their username).
        #[arg(long)]
        email: String,
        /// Their company's name (created if no organisation has it).
        #[arg(long)]
        company: String,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// Create the first administrator and email them an invitation to set a password.
    /// Refused once an administrator exists (they invite everyone else).
    Create {
        /// Their full name.
        #[arg(long)]
        name: String,
        /// Their email address.
        #[arg(long)]
        email: String,
        /// Their organisation's name (created if no organisation has it).
        #[arg(long, default_value = "Tenure support")]
        organisation: String,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        mail: MailArgs,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Invite users from a CSV file (UTF-8) with the columns name, email, telephone
    /// (optional), organisation (its name) and role (`data_provider`, `data_coordinator`,
    /// `administrator`, or their names). Safe to re-run: rows already imported are
    /// skipped. A file with a bad header, a quote never closed, or over 100 MiB, a
    /// million rows or 64 KiB in one row is refused whole and nothing is written (exit
    /// code 2); otherwise each row is its own change, and a refused row (reported with
    /// its line) does not undo the others (exit code 1).
    Import(batch::ImportArgs),
    /// Create a Corterum user account (needs `user_administration`) and email them an
    /// invitation to set a password.
    Create {
        /// Unique across the service; an email address makes a good one.
        #[arg(long)]
        username: String,
        /// Where the invitation and password resets go.
        #[arg(long)]
        email: String,
        /// Their own entity, by name or id.
        #[arg(long)]
        entity: Option<String>,
        /// A role, by name or key (repeat for more).
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
        /// A company, by name (repeat for more).
        #[arg(long = "company", value_name = "NAME", required = true)]
        companies: Vec<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// List Corterum user accounts (needs `user_administration`): id, username, email, state.
    List {
        #[command(flatten)]
        acting: Acting,
    },
    /// Write every user the acting user may see, with the columns the import takes.
    Export(batch::ExportArgs),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Write the audit trail as CSV, newest first (administrators only); `at` in RFC 3339
    /// with the offset of `--time-zone`.
    Export {
        /// Act as this user (email address).
        #[arg(long = "as", value_name = "EMAIL")]
        actor: String,
        #[command(flatten)]
        filter: audit::AuditFilter,
        #[command(flatten)]
        zone: Zone,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        mail: MailArgs,
    },
}

async fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Policy(command) => Ok(policy::run(command)),
        Command::Serve(args) => {
            serve::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { store } => {
            let db = tenure_store_seaorm::SeaOrmStore::connect(&store.database).await?;
            db.migrate().await?;
            println!("The database `{}` is up to date.", store.database);
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { file, store } => backup(&file, &store.database).await,
        Command::Admin(AdminCommand::Create { name, email, organisation, store, mail }) => {
            let services = Services::open(&store, &mail).await?;
            let person = PersonInput { name, email: email.clone(), telephone: String::new() };
            match services.core.manage.create_first_administrator(&person, &organisation).await {
                Ok(_) => {
                    let place = match &mail.smtp_url {
                        Some(_) => "by email".to_owned(),
                        None => format!("in the outbox folder `{}`", mail.outbox.display()),
                    };
                    println!(
                        "Invitation sent to {email}: open the link in it ({place}) to set a password."
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e @ (ManageError::Invalid(_) | ManageError::EmailInUse)) => {
                    tracing::error!("{e}");
                    Ok(ExitCode::from(2))
                }
                Err(e) => {
                    tracing::error!("{e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Mail(command) => mail::run(command).await,
        Command::Housekeeping(args) => housekeeping::once(args).await,
        Command::Demo(command) => second_factor::run(command).await,
        Command::Organisations(command) => {
            let kind = tenure_core::batch::organisations::Organisations::new;
            batch::run(command, "organisations", kind).await
        }
        Command::Relationships(command) => {
            let kind = tenure_core::batch::relationships::Relationships::new;
            batch::run(command, "relationships", kind).await
        }
        Command::Users(UsersCommand::Import(args)) => {
            let kind = tenure_core::batch::users::Users::new;
            batch::run(batch::KindCommand::Import(args), "users", kind).await
        }
        Command::Users(UsersCommand::Export(args)) => {
            let kind = tenure_core::batch::users::Users::new;
            batch::run(batch::KindCommand::Export(args), "users", kind).await
        }
        Command::Admin(AdminCommand::CreateRoot { name, email, company, store, mail }) => {
            let services = Services::open(&store, &mail).await?;
            let person = PersonInput { name, email: email.clone(), telephone: String::new() };
            match services.core.manage.create_root_administrator(&person, &company).await {
                Ok(_) => {
                    println!(
                        "Invitation sent to {email}: the root administrator of {company}. Use it to set the account up, then work from accounts with roles that can be revoked."
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(corterum::refused(&e)),
            }
        }
        Command::Users(UsersCommand::Create {
            username,
            email,
            entity,
            roles,
            companies,
            acting,
        }) => {
            let (services, actor) = acting.open().await?;
            corterum::create_user(
                &services,
                actor,
                &username,
                &email,
                entity.as_deref(),
                &roles,
                &companies,
            )
            .await
        }
        Command::Users(UsersCommand::List { acting }) => {
            let (services, actor) = acting.open().await?;
            corterum::list_users(&services, actor).await
        }
        Command::Entities(EntitiesCommand::Create {
            kind,
            name,
            companies,
            fields,
            previous_employer,
            new_employer,
            acting,
        }) => {
            let (services, actor) = acting.open().await?;
            let employers = (previous_employer.as_deref(), new_employer.as_deref());
            corterum::create_entity(&services, actor, &kind, &name, &companies, &fields, employers)
                .await
        }
        Command::Entities(EntitiesCommand::Import(args)) => {
            let kind = tenure_core::batch::corterum::entities::Entities::new;
            batch_corterum::run(batch::KindCommand::Import(args), "entities", kind).await
        }
        Command::Entities(EntitiesCommand::Export(args)) => {
            let kind = tenure_core::batch::corterum::entities::Entities::new;
            batch_corterum::run(batch::KindCommand::Export(args), "entities", kind).await
        }
        Command::Groups(GroupsCommand::Import(args)) => {
            let kind = tenure_core::batch::corterum::groups::Groups::new;
            batch_corterum::run(batch::KindCommand::Import(args), "groups", kind).await
        }
        Command::Groups(GroupsCommand::Export(args)) => {
            let kind = tenure_core::batch::corterum::groups::Groups::new;
            batch_corterum::run(batch::KindCommand::Export(args), "groups", kind).await
        }
        Command::Roles(RolesCommand::Import(args)) => {
            let kind = tenure_core::batch::corterum::roles::Roles::new;
            batch_corterum::run(batch::KindCommand::Import(args), "roles", kind).await
        }
        Command::Roles(RolesCommand::Export(args)) => {
            let kind = tenure_core::batch::corterum::roles::Roles::new;
            batch_corterum::run(batch::KindCommand::Export(args), "roles", kind).await
        }
        Command::Instances(InstancesCommand::Import(args)) => {
            let kind = tenure_core::batch::corterum::instances::Instances::new;
            batch_corterum::run(batch::KindCommand::Import(args), "instances", kind).await
        }
        Command::Instances(InstancesCommand::Export(args)) => {
            let kind = tenure_core::batch::corterum::instances::Instances::new;
            batch_corterum::run(batch::KindCommand::Export(args), "instances", kind).await
        }
        Command::Accounts(command) => {
            let kind = tenure_core::batch::corterum::accounts::Accounts::new;
            batch_corterum::run(command, "accounts", kind).await
        }
        Command::Companies(command) => {
            let kind = tenure_core::batch::corterum::companies::Companies::new;
            batch_corterum::run(command, "companies", kind).await
        }
        Command::Entities(EntitiesCommand::List { search, kind, acting }) => {
            let (services, actor) = acting.open().await?;
            corterum::list_entities(&services, actor, search.as_deref(), kind.as_deref()).await
        }
        Command::Groups(GroupsCommand::Create { name, description, kind, members, acting }) => {
            let (services, actor) = acting.open().await?;
            corterum::create_group(&services, actor, &name, &description, &kind, &members).await
        }
        Command::Groups(GroupsCommand::List { acting }) => {
            let (services, actor) = acting.open().await?;
            corterum::list_groups(&services, actor).await
        }
        Command::Roles(RolesCommand::Create { role, acting }) => {
            let (services, actor) = acting.open().await?;
            corterum::create_role(&services, actor, &role).await
        }
        Command::Roles(RolesCommand::List { acting }) => {
            let (services, actor) = acting.open().await?;
            corterum::list_roles(&services, actor).await
        }
        Command::Instances(InstancesCommand::Show { dataset, entity, as_of, version, acting }) => {
            let (services, actor) = acting.open().await?;
            let tz = &acting.zone.time_zone;
            corterum::show_instance(
                &services,
                actor,
                &dataset,
                &entity,
                as_of.as_deref(),
                version,
                tz,
            )
            .await
        }
        Command::Instances(InstancesCommand::Save { dataset, entity, set, acting }) => {
            let (services, actor) = acting.open().await?;
            corterum::save_instance(&services, actor, &dataset, &entity, &set).await
        }
        Command::Datasets(DatasetsCommand::List { store, mail }) => {
            let services = Services::open(&store, &mail).await?;
            corterum::list_datasets(&services).await
        }
        Command::Datasets(DatasetsCommand::Export { dataset, output, acting }) => {
            let (services, actor) = acting.open().await?;
            let tz = &acting.zone.time_zone;
            corterum::export_dataset(&services, actor, &dataset, output.as_ref(), tz).await
        }
        Command::Audit(AuditCommand::Export { actor, filter, zone, output, store, mail }) => {
            let services = Services::open(&store, &mail).await?;
            let actor = services.actor(&actor).await?;
            audit::export(&services, actor, &filter, output.as_ref(), &zone.time_zone).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `tenure backup`: opens the database without creating it, then copies it.
async fn backup(file: &std::path::Path, database: &str) -> Result<ExitCode> {
    use tenure_store_seaorm::{BackupError, SeaOrmStore};
    if database.starts_with("postgres:") || database.starts_with("postgresql:") {
        tracing::error!("{}", BackupError::NotSqlite);
        return Ok(ExitCode::from(2));
    }
    // Never create an empty database by backing up one that is not there.
    let url = if database.starts_with("sqlite:") && !database.contains(":memory:") {
        let base = database.split('?').next().unwrap_or(database);
        format!("{base}?mode=ro")
    } else {
        database.to_owned()
    };
    let db = SeaOrmStore::connect(&url).await.map_err(|e| {
        anyhow::Error::new(e).context(format!("cannot open the database `{database}`"))
    })?;
    match db.backup(file).await {
        Ok(()) => {
            println!("Backed up `{database}` to `{}`.", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (BackupError::NotSqlite | BackupError::Exists(_) | BackupError::BadPath(_))) => {
            tracing::error!("{e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

impl Acting {
    async fn open(&self) -> Result<(Services, tenure_domain::UserId)> {
        let services = Services::open(&self.store, &self.mail).await?;
        let actor = services.actor(&self.actor).await?;
        Ok((services, actor))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` installs the log once its settings are merged (the format may come from its
    // file); every other command logs warnings and errors in the default format.
    if !matches!(cli.command, Command::Serve(_)) {
        logging::init(logging::LogFormat::default(), logging::LevelFilter::WARN);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            logging::init(logging::LogFormat::default(), logging::LevelFilter::WARN);
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            // A no-op unless `serve` failed before installing the log.
            logging::init(logging::LogFormat::default(), logging::LevelFilter::WARN);
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
