//! The mail_queue store (being built).
