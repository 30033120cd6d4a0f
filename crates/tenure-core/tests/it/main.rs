//! Integration tests of the core through its public interface.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod csv_read;
mod fuzz;
