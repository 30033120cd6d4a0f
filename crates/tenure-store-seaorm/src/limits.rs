//! The limits store (being built).
