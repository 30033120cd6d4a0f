//! The opaque error for unexpected failures in adapters.

use std::error::Error;
use std::fmt;

/// An unexpected failure behind a port (a lost connection, a corrupt row). Callers treat
/// it as "deny and report", never as an answer.
#[derive(Debug)]
pub struct BackendError {
    source: Box<dyn Error + Send + Sync>,
}

impl BackendError {
    /// Wraps an adapter's error.
    pub fn new(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self { source: source.into() }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the storage backend failed")
    }
}

impl Error for BackendError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}
