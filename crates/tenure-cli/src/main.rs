//! The `tenure` command line: thin wiring over the library crates.
//!
//! Role in the workspace: an app. It parses arguments, reads files, calls the libraries
//! and maps their outcomes to output and exit codes. No business rule lives here: every
//! change goes through the same services, and the same permission checks, as the web.
//!
//! Exit codes: 0 success; 1 a policy expectation failed, a request was denied, or a
//! command failed; 2 bad input (a file that does not parse, an unknown name, bad rows).
#![allow(clippy::print_stdout, reason = "a command line prints its results")]

mod app;
mod audit;
mod policy;
mod serve;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use tenure_core::{ManageError, PersonInput};

use crate::app::{MailArgs, Services, StoreArgs};

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
    /// Set up the service.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Import and export users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Read the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
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
    /// Invite users from a CSV file with the columns name, email, telephone (optional),
    /// organisation (its name) and role (`data_provider`, `data_coordinator`,
    /// `administrator`). Safe to re-run: rows already imported are skipped.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Act as this user (email address): the import may do only what they may.
        #[arg(long = "as", value_name = "EMAIL")]
        actor: String,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// Write every user the acting user may see as CSV.
    Export {
        /// Act as this user (email address).
        #[arg(long = "as", value_name = "EMAIL")]
        actor: String,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        mail: MailArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Write the audit trail as CSV, newest first (administrators only).
    Export {
        /// Act as this user (email address).
        #[arg(long = "as", value_name = "EMAIL")]
        actor: String,
        #[command(flatten)]
        filter: audit::AuditFilter,
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
        Command::Admin(AdminCommand::Create { name, email, organisation, store, mail }) => {
            let services = Services::open(&store, &mail).await?;
            let person = PersonInput { name, email: email.clone(), telephone: String::new() };
            match services.manage.create_first_administrator(&person, &organisation).await {
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
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(2))
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Users(UsersCommand::Import { file, actor, store, mail }) => {
            let services = Services::open(&store, &mail).await?;
            let actor = services.actor(&actor).await?;
            users::import(&services, actor, &file).await
        }
        Command::Users(UsersCommand::Export { actor, output, store, mail }) => {
            let services = Services::open(&store, &mail).await?;
            let actor = services.actor(&actor).await?;
            users::export(&services, actor, output.as_ref()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Export { actor, filter, output, store, mail }) => {
            let services = Services::open(&store, &mail).await?;
            let actor = services.actor(&actor).await?;
            audit::export(&services, actor, &filter, output.as_ref()).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
