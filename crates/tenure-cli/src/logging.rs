//! The log: one `tracing` subscriber, on standard error, for the server's request lines
//! and every command's errors. Human-readable by default, one JSON object a line with
//! `--log-format json`; `RUST_LOG` filters it (default: `info` for the server, `warn` for
//! one-off commands, whose results are their output).

use serde::Deserialize;
use tracing_subscriber::EnvFilter;
pub(crate) use tracing_subscriber::filter::LevelFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// One readable line per event: time, level, the request's fields, the message.
    #[default]
    Human,
    /// One JSON object per line, for a log collector.
    Json,
}

/// Installs the subscriber, showing `level` and above unless `RUST_LOG` says otherwise;
/// the first call wins (later ones change nothing).
pub(crate) fn init(format: LogFormat, level: LevelFilter) {
    let filter = EnvFilter::builder().with_default_directive(level.into()).from_env_lossy();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // An error means a subscriber is already installed: keep it.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
