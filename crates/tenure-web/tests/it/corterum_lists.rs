//! Router tests for Corterum's lists that scale and user account changes (issue 15): stub, filled in by that work.
