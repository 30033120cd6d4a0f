//! The in-memory limits store (being built).
