//! Corterum's batch jobs on the command line: `tenure companies | entities | groups | roles
//! | instances | accounts import | export`, each a kind of
//! `tenure_core::batch::corterum` run by the one engine through [`crate::batch`]'s
//! import and export (progress bar, `--format json`, exit codes, the batch id).

use std::process::ExitCode;

use anyhow::Result;
use tenure_core::batch::Kind;
use tenure_core::batch::corterum::CorterumSources;

use crate::app::Services;
use crate::batch::{self, KindCommand};

/// What Corterum's kinds stand on, from the wired services.
pub(crate) fn sources(services: &Services) -> CorterumSources {
    CorterumSources {
        corterum: services.core.corterum.clone(),
        manage: services.core.manage.clone(),
        directory: services.store.clone(),
        changes: services.store.clone(),
    }
}

/// Runs an import or export of a Corterum kind built by `kind` from the services, as
/// [`batch::run`] does for CORE's (imports unlimited by the web's rate limits, their mail
/// delivered beside the rows).
pub(crate) async fn run<K: Kind>(
    command: KindCommand,
    name: &str,
    kind: impl FnOnce(CorterumSources) -> K,
) -> Result<ExitCode> {
    batch::run_on(command, name, |services| kind(sources(services))).await
}
