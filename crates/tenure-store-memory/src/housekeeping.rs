//! The in-memory housekeeping store (being built).
