//! Housekeeping: pruning expired sessions, links, limiter rows and delivered mail (being built).
