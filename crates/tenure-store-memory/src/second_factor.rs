//! The in-memory second_factor store (being built).
