//! Integration tests of the engine on random worlds: the invariants from the security
//! checklist and a differential test against a deliberately naive reference evaluator.

mod properties;
mod reference;
mod spec;
