//! `tenure policy`: run policy test files, or explain one decision in a file's world.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use tenure_policy::{LoadError, PolicyFile, Report};

/// Policy file commands.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Run every check and list in the files; print each failure with the engine's
    /// explanation, then `N passed, M failed`. Exit 0 only when nothing failed; exit 2,
    /// running nothing, if any file is malformed.
    Test {
        /// Policy test files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Decide one request in a file's world and say why.
    Explain {
        /// The policy file whose world to use.
        file: PathBuf,
        /// The acting user's key.
        #[arg(long)]
        actor: String,
        /// The action, such as `user.deactivate`.
        #[arg(long)]
        action: String,
        /// The resource: `user:KEY`, `organisation:KEY`, `log:KEY` or `service`.
        #[arg(long)]
        resource: String,
        /// For `user.invite` and `user.change_role`: the role given.
        #[arg(long)]
        role: Option<String>,
    },
}

#[expect(clippy::print_stdout, reason = "a command line prints its results")]
pub(crate) fn run(command: PolicyCommand) -> ExitCode {
    match command {
        PolicyCommand::Test { files } => {
            let loaded = match load_all(&files) {
                Ok(loaded) => loaded,
                Err(code) => return code,
            };
            let mut report = Report::default();
            for file in &loaded {
                report.merge(file.run());
            }
            for failure in &report.failures {
                println!("{failure}");
            }
            println!("{}", report.summary());
            if report.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        PolicyCommand::Explain { file, actor, action, resource, role } => {
            let loaded = match load_all(std::slice::from_ref(&file)) {
                Ok(mut loaded) => loaded.remove(0),
                Err(code) => return code,
            };
            match loaded.request(&actor, &action, &resource, role.as_deref()) {
                Ok(request) => {
                    let decision = loaded.world().decide(&request);
                    println!("{}", decision.explain(loaded.world()));
                    if decision.is_allowed() { ExitCode::SUCCESS } else { ExitCode::from(1) }
                }
                Err(message) => {
                    eprintln!("error: {message}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// Loads every file; on any error prints them all and gives exit code 2.
fn load_all(files: &[PathBuf]) -> Result<Vec<PolicyFile>, ExitCode> {
    let mut loaded = Vec::new();
    let mut errors: Vec<LoadError> = Vec::new();
    let mut unreadable = false;
    for path in files {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(source) => match tenure_policy::load(&name, &source) {
                Ok(file) => loaded.push(file),
                Err(mut e) => errors.append(&mut e),
            },
            Err(e) => {
                eprintln!("{name}: error: cannot read the file: {e}");
                unreadable = true;
            }
        }
    }
    if errors.is_empty() && !unreadable {
        return Ok(loaded);
    }
    let mut stderr = std::io::stderr().lock();
    for error in &errors {
        // A failed write to stderr leaves nothing better to do.
        let _ = writeln!(stderr, "{error}");
    }
    Err(ExitCode::from(2))
}
