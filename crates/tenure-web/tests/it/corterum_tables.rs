//! Router tests for Corterum's editable tables and readable history (issue 15): stub, filled in by that work.
