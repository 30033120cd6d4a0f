//! Integration tests of the engine on random worlds: the invariants from the security
//! checklist and a differential test against a deliberately naive reference evaluator.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod corterum;
mod fuzz;
mod giving;
mod invitations;
mod irrevocable;
mod properties;
mod reference;
mod reports;
mod sides;
mod spec;
