//! The users export: one set of columns for the web's download and the command line's
//! `tenure users export`, so a file reads the same wherever it came from.
//!
//! The columns are what a person looks for first (the web's list: name, email,
//! telephone, organisation, role, status), then what a batch job needs (the user's id,
//! and whether they are their organisation's data protection officer or key contact).
//! Roles are shown by name, as screens show them; `tenure users import` reads a role by
//! name too, so a one-role row goes back in as it came out.

use tenure_domain::{Organisation, RoleCatalogue, User};

use crate::manage::AccountStatus;

/// The header row of a users export.
pub const COLUMNS: [&str; 9] = [
    "name",
    "email",
    "telephone",
    "organisation",
    "role",
    "status",
    "id",
    "data_protection_officer",
    "key_contact",
];

/// One user's row, under [`COLUMNS`]: `organisation` is the user's own and `status` their
/// status as it stands in it (`Manage::status`: a user of a deactivated organisation is
/// deactivated); role names come from `roles`, several joined by ", ". Write it with
/// [`crate::csv::record`] or [`crate::csv::CsvWriter`], which defuse formulas.
pub fn row(
    user: &User,
    organisation: &Organisation,
    status: AccountStatus,
    roles: &RoleCatalogue,
) -> [String; 9] {
    let role_names: Vec<&str> =
        user.roles.iter().filter_map(|r| roles.get(*r)).map(|r| r.name.as_str()).collect();
    [
        user.name.to_string(),
        user.email.to_string(),
        user.telephone.as_ref().map(ToString::to_string).unwrap_or_default(),
        organisation.name.to_string(),
        role_names.join(", "),
        status.label().to_owned(),
        user.id.to_string(),
        user.data_protection_officer.to_string(),
        user.key_contact.to_string(),
    ]
}
