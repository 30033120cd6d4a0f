//! Router tests for Corterum's Companies screen (issue 15): stub, filled in by the companies work.
