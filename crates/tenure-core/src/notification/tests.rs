//! Notifications survive being stored: every kind reads back as it was written, and
//! what reads back is parsed again, never trusted.

use tenure_domain::{Email, Name};

use crate::notification::{ChangedBy, Notification, RelationshipChange};

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

#[track_caller]
fn check(notification: &Notification) {
    let json = serde_json::to_string(notification).unwrap();
    let back: Notification = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, notification, "{json}");
}

#[test]
fn every_kind_reads_back_as_it_was_written() {
    let (to, alice, url) =
        (email("a@example.com"), name("Alice O'Neil"), "https://x.example/?token=1");
    let org = name("Acme & Co");
    check(&Notification::Invitation {
        to: to.clone(),
        name: alice.clone(),
        organisation: org.clone(),
        url: url.to_owned(),
        valid_days: 3,
    });
    check(&Notification::Reactivation {
        to: to.clone(),
        name: alice.clone(),
        organisation: org.clone(),
        url: url.to_owned(),
        valid_days: 7,
    });
    check(&Notification::PasswordReset { to: to.clone(), url: url.to_owned() });
    check(&Notification::PasswordChanged { to: to.clone(), name: alice.clone() });
    check(&Notification::EmailConfirmation {
        to: to.clone(),
        name: alice.clone(),
        url: url.to_owned(),
    });
    for by in [ChangedBy::Themselves, ChangedBy::Other(Some(name("Bob"))), ChangedBy::Other(None)] {
        check(&Notification::EmailChangeRequested {
            to: to.clone(),
            name: alice.clone(),
            new: email("b@example.com"),
            by: by.clone(),
        });
        check(&Notification::EmailChanged {
            to: to.clone(),
            name: alice.clone(),
            new: email("b@example.com"),
            by,
        });
    }
    check(&Notification::OrganisationChanged {
        to: to.clone(),
        name: alice.clone(),
        from: org.clone(),
        into: name("Beta"),
    });
    for change in [
        RelationshipChange::Added,
        RelationshipChange::Requested { by: Some(name("Beta")) },
        RelationshipChange::Requested { by: None },
        RelationshipChange::Accepted,
        RelationshipChange::Declined,
        RelationshipChange::Withdrawn,
        RelationshipChange::Removed,
    ] {
        check(&Notification::RelationshipChanged {
            to: to.clone(),
            name: alice.clone(),
            organisation: org.clone(),
            stock_owner: Some(org.clone()),
            managing_agent: None,
            change,
            url: url.to_owned(),
        });
    }
}

#[test]
fn what_reads_back_is_parsed_again() {
    let bad_email = r#"{"kind":"password_changed","to":"not an address","name":"Alice"}"#;
    assert!(serde_json::from_str::<Notification>(bad_email).is_err());
    let bad_name = r#"{"kind":"password_changed","to":"a@example.com","name":"   "}"#;
    assert!(serde_json::from_str::<Notification>(bad_name).is_err());
    let good = r#"{"kind":"password_changed","to":"a@example.com","name":"Alice"}"#;
    let n: Notification = serde_json::from_str(good).unwrap();
    assert_eq!(n.to().as_str(), "a@example.com");
}
