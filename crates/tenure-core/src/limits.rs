//! Rate limits shared by every instance, kept in the database (being built).
