//! Test support shared by every adapter: worlds to test on and contract suites that each
//! adapter must pass, so the in-memory, SQLite and PostgreSQL directories are held to
//! one standard.
//!
//! Role in the workspace: test support (a dev-dependency only). Allowed dependencies:
//! `tenure-core`, `tenure-domain`. Forbidden knowledge: real IO; an adapter's own tests
//! bring the database and hand the suite a way to make a directory.

pub mod contract;
pub mod fakes;
pub mod smtp;
pub mod worlds;
