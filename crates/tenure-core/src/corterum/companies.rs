//! Corterum companies (issue 15): stub, filled in by the companies work.
