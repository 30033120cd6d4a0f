//! The audit trail in words: each event's name as people say it, and its details (before
//! and after values, reasons) as a sentence naming who did it ("Role changed from data
//! provider to data coordinator by Cora Coordinator"). Used by the trail's page and its
//! CSV download, so both read the same.

use tenure_core::audit::{Change, FailureReason};
use tenure_core::{AuditDetail, AuditEvent, AuditName, Outcome, TrailNames};
use tenure_domain::{RoleCatalogue, UserId};

/// An event's name in words.
pub(crate) const fn event(name: AuditName) -> &'static str {
    match name {
        AuditName::LoginSuccess => "Signed in",
        AuditName::LoginFail => "Sign-in refused",
        AuditName::LoginLock => "Account locked",
        AuditName::PasswordChange => "Password changed",
        AuditName::ResetRequest => "Password reset asked for",
        AuditName::ResetComplete => "Password reset",
        AuditName::InviteSend => "Invitation sent",
        AuditName::InviteAccept => "Invitation accepted",
        AuditName::InviteRevoke => "Invitation withdrawn",
        AuditName::UserUpdate => "Personal details changed",
        AuditName::RoleChange => "Role changed",
        AuditName::EmailChangeRequest => "Email address change asked for",
        AuditName::EmailChange => "Email address changed",
        AuditName::UserMove => "User moved",
        AuditName::UserDeactivate => "User deactivated",
        AuditName::UserReactivate => "User reactivated",
        AuditName::UserDelete => "User deleted",
        AuditName::OrganisationCreate => "Organisation created",
        AuditName::OrganisationUpdate => "Organisation changed",
        AuditName::OrganisationDeactivate => "Organisation deactivated",
        AuditName::OrganisationReactivate => "Organisation reactivated",
        AuditName::OrganisationMerge => "Organisations merged",
        AuditName::RelationshipAdd => "Relationship added",
        AuditName::RelationshipRemove => "Relationship removed",
        AuditName::RelationshipRequest => "Relationship asked for",
        AuditName::RelationshipAccept => "Relationship request accepted",
        AuditName::RelationshipDecline => "Relationship request declined",
        AuditName::RelationshipWithdraw => "Relationship request withdrawn",
        AuditName::LogDelete => "Log deleted",
        AuditName::SessionCreate => "Session started",
        AuditName::SessionRevoke => "Sessions ended",
        AuditName::AuthzFail => "Refused by the rules",
        AuditName::EntitySave => "Entity saved",
        AuditName::GroupSave => "Group saved",
        AuditName::RoleSave => "Role saved",
        AuditName::UserLinksSave => "User account saved",
        AuditName::InstanceSave => "Record saved",
        AuditName::SecondFactorSetUp => "Authenticator app set up",
        AuditName::SecondFactorPass => "Security code accepted",
        AuditName::RecoveryCodeUse => "Recovery code used",
        AuditName::RecoveryCodesReplace => "Recovery codes replaced",
        AuditName::SecondFactorRemove => "Authenticator app removed",
    }
}

/// A CORE role's key as people read it, lower case ("data coordinator"); an unknown key
/// as stored.
fn role(key: &str) -> String {
    RoleCatalogue::core()
        .by_key(key)
        .map_or_else(|| key.replace('_', " "), |r| r.name.to_lowercase())
}

fn roles(keys: &str) -> String {
    let named: Vec<String> = keys.split(',').filter(|k| !k.is_empty()).map(role).collect();
    if named.is_empty() { "no role".to_owned() } else { named.join(" and ") }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn changed<T: PartialEq>(what: &str, c: &Change<T>, show: impl Fn(&T) -> String) -> String {
    format!("{what} changed from {} to {}", show(&c.before), show(&c.after))
}

/// Who a user is on the page: their name, or "a deleted user".
pub(crate) fn person(names: &TrailNames, id: Option<UserId>) -> String {
    match id {
        None => String::new(),
        Some(id) => {
            names.people.get(&id).map_or_else(|| "a deleted user".to_owned(), ToString::to_string)
        }
    }
}

/// What happened, as a sentence ending in who did it, when known.
pub(crate) fn sentence(e: &AuditEvent, names: &TrailNames) -> String {
    let mut parts: Vec<String> = match &e.detail {
        AuditDetail::Empty | AuditDetail::DemoSeed(_) => Vec::new(),
        AuditDetail::Refusal(r) => {
            vec![format!("Refused {} because {}", r.action.replace(['.', '_'], " "), r.reason)]
        }
        AuditDetail::SignInFailure(f) => vec![format!(
            "Refused: {}",
            match f.reason {
                FailureReason::UnknownEmail => "no account has this email address",
                FailureReason::Locked => "the account is locked",
                FailureReason::Deactivated => "the account is deactivated",
                FailureReason::WrongPassword => "wrong password",
                FailureReason::WrongCurrentPassword => "wrong current password",
                FailureReason::WrongCode => "wrong or used security code",
            }
        )],
        AuditDetail::Lock(_) => vec!["Locked for an hour after five failed sign-ins".to_owned()],
        AuditDetail::Invite(i) => {
            let mut s = match &i.role {
                Some(r) => format!("Invited as {}", role(r)),
                None => "Invited".to_owned(),
            };
            if i.first {
                s.push_str(", the organisation's first account");
            }
            if i.resend {
                s.push_str(" (sent again)");
            }
            vec![s]
        }
        AuditDetail::LinkUse(l) => vec![format!("Used a link for {}", l.purpose.replace('_', " "))],
        AuditDetail::FieldsChange(f) => {
            vec![format!("Changed {}", f.fields.join(", ").replace('_', " "))]
        }
        AuditDetail::RoleChange(r) => {
            let mut v = Vec::new();
            if let Some(c) = &r.role {
                v.push(changed("Role", c, |k| roles(k)));
            }
            if let Some(c) = &r.data_protection_officer {
                v.push(changed("Data protection officer", c, |b| yes_no(*b).to_owned()));
            }
            if let Some(c) = &r.key_contact {
                v.push(changed("Key contact", c, |b| yes_no(*b).to_owned()));
            }
            v
        }
        AuditDetail::UserMove(m) => vec![format!("Moved from {} to {}", m.from, m.to)],
        AuditDetail::OrganisationCreate(c) => vec![format!("Created {}", c.name)],
        AuditDetail::OrganisationChange(c) => {
            let (b, a) = (&c.before, &c.after);
            let mut v = Vec::new();
            let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "nothing".to_owned());
            if b.name != a.name {
                v.push(format!("Name changed from {} to {}", b.name, a.name));
            }
            if b.address != a.address {
                v.push(format!("Address changed from {} to {}", opt(&b.address), opt(&a.address)));
            }
            if b.telephone != a.telephone {
                v.push(format!(
                    "Telephone changed from {} to {}",
                    opt(&b.telephone),
                    opt(&a.telephone)
                ));
            }
            if b.provider_type != a.provider_type {
                v.push(format!(
                    "Provider type changed from {} to {}",
                    b.provider_type.replace('_', " "),
                    a.provider_type.replace('_', " ")
                ));
            }
            if b.registration_number != a.registration_number {
                v.push(format!(
                    "Registration number changed from {} to {}",
                    opt(&b.registration_number),
                    opt(&a.registration_number)
                ));
            }
            if b.holds_stock != a.holds_stock {
                v.push(format!(
                    "Holds stock changed from {} to {}",
                    yes_no(b.holds_stock),
                    yes_no(a.holds_stock)
                ));
            }
            if b.active != a.active {
                v.push(if a.active { "Reactivated" } else { "Deactivated" }.to_owned());
            }
            v
        }
        AuditDetail::MergedInto(m) => vec![format!("Merged into {}", m.into_name)],
        AuditDetail::MergedFrom(m) => vec![format!("{} merged into this one", m.from_name)],
        AuditDetail::Relationship(r) => vec![format!(
            "{} (stock owner) and {} (managing agent)",
            r.stock_owner, r.managing_agent
        )],
        AuditDetail::SessionsEnd(s) => {
            vec![if s.all { "Every session ended" } else { "Other sessions ended" }.to_owned()]
        }
        AuditDetail::LogDelete(l) => vec![format!(
            "{} deleted (owned by {}, managed by {}{})",
            crate::logs::title(&l.log),
            l.owner_name,
            l.manager_name,
            match &l.assigned_to {
                Some(_) => ", assigned",
                None => ", not assigned",
            }
        )],
        AuditDetail::AccountCreate(a) => vec![format!("Account {} created", a.username)],
        AuditDetail::AccountChange(a) => vec![format!("Account {} changed", a.username)],
        AuditDetail::EntitySave(s) => vec![format!("{} saved", s.after.name)],
        AuditDetail::GroupSave(g) => vec![format!("Group {} saved", g.name)],
        AuditDetail::RoleSave(r) => vec![format!("Role {} saved", r.name)],
        AuditDetail::InstanceSave(i) => vec![format!("Version {} saved", i.version)],
        AuditDetail::LegacyJson(s) | AuditDetail::LegacyText(s) => vec![s.text.clone()],
    };
    if parts.is_empty() {
        parts.push(event(e.name).to_owned());
    }
    let mut text = parts.join("; ");
    if e.actor.is_some() {
        text.push_str(" by ");
        text.push_str(&person(names, e.actor));
    }
    if e.outcome == Outcome::Failure && !text.starts_with("Refused") {
        text.push_str(" (refused)");
    }
    text.push('.');
    text
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tenure_core::audit::{Change, RoleChange};
    use tenure_core::{AuditDetail, AuditEvent, AuditName, Outcome, Timestamp};
    use tenure_domain::{Name, UserId};

    use super::{event, sentence};

    #[test]
    fn a_role_change_reads_as_a_sentence() {
        let cora = UserId::from_uuid(uuid::Uuid::from_u128(7));
        let names = tenure_core::TrailNames {
            users: HashMap::new(),
            people: HashMap::from([(cora, Name::parse("Cora Coordinator").unwrap())]),
            organisations: HashMap::new(),
        };
        let e = AuditEvent {
            id: uuid::Uuid::from_u128(1),
            at: Timestamp(0),
            actor: Some(cora),
            name: AuditName::RoleChange,
            outcome: Outcome::Success,
            target_user: None,
            organisation: None,
            detail: AuditDetail::RoleChange(RoleChange {
                role: Some(Change {
                    before: "data_provider".to_owned(),
                    after: "data_coordinator".to_owned(),
                }),
                ..RoleChange::default()
            }),
            origin: None,
        };
        assert_eq!(
            sentence(&e, &names),
            "Role changed from data provider to data coordinator by Cora Coordinator."
        );
        assert_eq!(event(AuditName::RoleChange), "Role changed");
        let gone = AuditEvent { actor: Some(UserId::from_uuid(uuid::Uuid::from_u128(8))), ..e };
        assert!(sentence(&gone, &names).ends_with("by a deleted user."));
    }
}
