//! The second_factor store (being built).
