//! The `tenure` command line: thin wiring over the library crates.
//!
//! Role in the workspace: an app. It parses arguments, reads files, calls the libraries
//! and maps their outcomes to output and exit codes. No business rule lives here.
//!
//! Exit codes: 0 success; 1 a policy expectation failed or a request was denied; 2 bad
//! input (a file that does not parse, an unknown name).

mod policy;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tenure: accounts, organisations and permissions.
#[derive(Debug, Parser)]
#[command(name = "tenure", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check rules written down as examples (see docs/policy-tests.md).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Policy(command) => policy::run(command),
    }
}
