//! Second factors: authenticator-app codes and recovery codes (being built).
