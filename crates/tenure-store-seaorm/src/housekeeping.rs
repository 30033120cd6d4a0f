//! The housekeeping store (being built).
