//! The in-memory mail_queue store (being built).
