//! The courier: mail queued with the change it announces, delivered with retries (being built).
