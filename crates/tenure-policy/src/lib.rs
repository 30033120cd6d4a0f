//! Policy test files: people write their rules down as examples, and the engine checks
//! them. The format is a public interface, specified in `docs/policy-tests.md`.
//!
//! Role in the workspace: a library the CLI (`tenure policy test`) and embedders' own
//! tests share. It parses a file into a fresh in-memory [`tenure_domain::World`] plus
//! its checks and lists, and runs them against the engine.
//!
//! Allowed dependencies: the domain, `serde` and `toml`. Forbidden knowledge: storage,
//! HTTP, the clock; reading files is the caller's job, so this crate takes text.

mod file;
mod run;

pub use file::{LoadError, PolicyFile, load};
pub use run::{Failure, Report};
