//! The rendered emails: the exact layout of one, escaping in HTML only, and for every
//! kind of notification a text body and an HTML body that say the same.

use tenure_core::{ChangedBy, Notification, RelationshipChange, SecondFactorChange};
use tenure_domain::{Email, Name};

use crate::render;

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

/// One of every kind (and every way a change is made or described).
fn every_kind() -> Vec<Notification> {
    let (to, alice, url) = (email("a@example.com"), name("Alice"), "https://x.example/p?token=t1");
    let mut all = vec![
        Notification::Invitation {
            to: to.clone(),
            name: alice.clone(),
            organisation: name("Acme"),
            url: url.to_owned(),
            valid_days: 3,
        },
        Notification::Reactivation {
            to: to.clone(),
            name: alice.clone(),
            organisation: name("Acme"),
            url: url.to_owned(),
            valid_days: 3,
        },
        Notification::PasswordReset { to: to.clone(), url: url.to_owned() },
        Notification::PasswordChanged { to: to.clone(), name: alice.clone() },
        Notification::EmailConfirmation {
            to: to.clone(),
            name: alice.clone(),
            url: url.to_owned(),
        },
        Notification::OrganisationChanged {
            to: to.clone(),
            name: alice.clone(),
            from: name("Acme"),
            into: name("Beta"),
        },
    ];
    for by in [ChangedBy::Themselves, ChangedBy::Other(Some(name("Bob"))), ChangedBy::Other(None)] {
        let new = email("new@example.com");
        all.push(Notification::EmailChangeRequested {
            to: to.clone(),
            name: alice.clone(),
            new: new.clone(),
            by: by.clone(),
        });
        all.push(Notification::EmailChanged { to: to.clone(), name: alice.clone(), new, by });
    }
    for change in [
        RelationshipChange::Added,
        RelationshipChange::Requested { by: Some(name("Beta")) },
        RelationshipChange::Accepted,
        RelationshipChange::Declined,
        RelationshipChange::Withdrawn,
        RelationshipChange::Removed,
    ] {
        all.push(Notification::RelationshipChanged {
            to: to.clone(),
            name: alice.clone(),
            organisation: name("Acme"),
            stock_owner: Some(name("Acme")),
            managing_agent: Some(name("Beta")),
            change,
            url: "https://x.example/organisations/1/relationships".to_owned(),
        });
    }
    for change in [
        SecondFactorChange::SetUp,
        SecondFactorChange::RecoveryCodeUsed { left: 9 },
        SecondFactorChange::RecoveryCodesReplaced,
        SecondFactorChange::Removed { by: ChangedBy::Other(Some(name("Ada <b>"))) },
    ] {
        all.push(Notification::SecondFactorChanged { to: to.clone(), name: alice.clone(), change });
    }
    all
}

/// The paragraphs of an HTML body as text: tags dropped, entities read.
fn html_paragraphs(html: &str) -> Vec<String> {
    html.split("<p>")
        .skip(1)
        .map(|p| {
            let p = &p[..p.find("</p>").unwrap()];
            let p = match p.strip_prefix("<a href=\"") {
                Some(rest) => &rest[..rest.find('"').unwrap()],
                None => p,
            };
            p.replace("&#60;", "<")
                .replace("&#62;", ">")
                .replace("&#34;", "\"")
                .replace("&#39;", "'")
                .replace("&#38;", "&")
        })
        .collect()
}

#[track_caller]
fn check(notification: &Notification, expected_subject: &str, expected_opening: &str) {
    let m = render(notification).unwrap();
    assert_eq!(&m.to, notification.to());
    assert_eq!(m.subject, expected_subject);
    assert!(m.text.starts_with(expected_opening), "{}", m.text);
    // Paragraphs, the last too, end with a blank line.
    assert!(m.text.ends_with("\n\n") && !m.text.ends_with("\n\n\n"), "{:?}", m.text);
    let text: Vec<&str> = m.text.trim_end().split("\n\n").collect();
    assert_eq!(html_paragraphs(&m.html), text, "the two bodies say the same");
    assert!(m.html.starts_with("<!DOCTYPE html>\n") && m.html.ends_with("</body></html>\n"));
}

#[test]
fn every_kind_has_its_subject_and_the_same_words_in_both_bodies() {
    let cases = [
        (
            "You have been invited to Tenure",
            "Hello Alice, you have been invited to join Acme on Tenure.\n\nTo set your password and sign in, open this link within 3 days:\n\nhttps://x.example/p?token=t1\n\n",
        ),
        (
            "Your account has been reactivated",
            "Hello Alice, your Tenure account for Acme has been reactivated.\n\n",
        ),
        (
            "Reset your password",
            "Someone asked to reset the password for your Tenure account.\n\nTo choose a new password, open this link within 3 hours:\n\nhttps://x.example/p?token=t1\n\n",
        ),
        (
            "Your password has been changed",
            "Hello Alice, the password for your Tenure account has been changed.\n\n",
        ),
        (
            "Confirm your new email address",
            "Hello Alice, this address was given as the new email address for your Tenure account.\n\nTo confirm it, open this link within 3 hours:\n\nhttps://x.example/p?token=t1\n\n",
        ),
        (
            "Your organisation has changed",
            "Hello Alice, your Tenure account has moved from Acme to Beta.\n\n",
        ),
        (
            "Your email address is being changed",
            "Hello Alice. You asked to change the email address of your Tenure account to new@example.com.\n\n",
        ),
        (
            "Your email address has been changed",
            "Hello Alice. You changed the email address of your Tenure account from a@example.com to new@example.com.\n\n",
        ),
        ("Your email address is being changed", "Hello Alice. Bob asked to change"),
        ("Your email address has been changed", "Hello Alice. Bob changed"),
        ("Your email address is being changed", "Hello Alice. Someone asked to change"),
        ("Your email address has been changed", "Hello Alice. Someone else changed"),
        (
            "A change to your organisation's relationships",
            "Hello Alice, An administrator added Acme as a stock owner of Beta.\n\nSee Acme's stock owners and managing agents:\n\nhttps://x.example/organisations/1/relationships\n\n",
        ),
        (
            "A change to your organisation's relationships",
            "Hello Alice, Beta asked to add Acme as a stock owner of Beta. It takes effect only if a data coordinator of Acme accepts it.\n\n",
        ),
        (
            "A change to your organisation's relationships",
            "Hello Alice, The request to add Acme as a stock owner of Beta was accepted. It is in effect now.\n\n",
        ),
        (
            "A change to your organisation's relationships",
            "Hello Alice, The request to add Acme as a stock owner of Beta was declined.\n\n",
        ),
        (
            "A change to your organisation's relationships",
            "Hello Alice, The request to add Acme as a stock owner of Beta was withdrawn.\n\n",
        ),
        (
            "A change to your organisation's relationships",
            "Hello Alice, The relationship of Acme as a stock owner of Beta was removed.\n\n",
        ),
        (
            "You have set up an authenticator app",
            "Hello Alice. You have set up an authenticator app for your Tenure account.",
        ),
        (
            "A recovery code was used to sign in",
            "Hello Alice. One of your recovery codes was used to sign in to your Tenure account instead of a code from your authenticator app. You have 9 unused recovery codes left.\n\n",
        ),
        ("Your recovery codes have been replaced", "Hello Alice. You made a new set"),
        (
            "Your authenticator app has been removed",
            "Hello Alice. Ada <b> removed the authenticator app from your Tenure account",
        ),
    ];
    let all = every_kind();
    assert_eq!(all.len(), cases.len());
    for (notification, (subject, opening)) in all.iter().zip(cases) {
        check(notification, subject, opening);
    }
}

#[test]
fn notices_tell_and_hold_no_link() {
    for notification in every_kind() {
        let notice = matches!(
            notification,
            Notification::PasswordChanged { .. }
                | Notification::SecondFactorChanged { .. }
                | Notification::EmailChangeRequested { .. }
                | Notification::EmailChanged { .. }
                | Notification::OrganisationChanged { .. }
        );
        let m = render(&notification).unwrap();
        if notice {
            assert!(!m.text.contains("http") && !m.html.contains("href"), "{}", m.text);
        }
    }
}

#[test]
fn a_reset_email_exactly() {
    let m = render(&Notification::PasswordReset {
        to: email("a@example.com"),
        url: "https://x.example/account/reset-password?token=abc".to_owned(),
    })
    .unwrap();
    assert_eq!(
        m.text,
        "Someone asked to reset the password for your Tenure account.\n\n\
         To choose a new password, open this link within 3 hours:\n\n\
         https://x.example/account/reset-password?token=abc\n\n\
         The link works once. If you did not ask for this, you can ignore this email: \
         your password has not changed.\n\n"
    );
    assert_eq!(
        m.html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family: Arial, sans-serif; font-size: 19px; line-height: 1.3\">\n\
         <p>Someone asked to reset the password for your Tenure account.</p>\n\
         <p>To choose a new password, open this link within 3 hours:</p>\n\
         <p><a href=\"https://x.example/account/reset-password?token=abc\">\
         https://x.example/account/reset-password?token=abc</a></p>\n\
         <p>The link works once. If you did not ask for this, you can ignore this email: \
         your password has not changed.</p>\n\
         </body></html>\n"
    );
}

#[test]
fn html_escapes_what_people_typed_and_text_keeps_it() {
    let m = render(&Notification::Invitation {
        to: email("a@example.com"),
        name: name("<script>alert('x')</script> & co"),
        organisation: name("Acme"),
        url: "https://x.example/a?token=1&b=\"2\"".to_owned(),
        valid_days: 3,
    })
    .unwrap();
    assert!(m.text.contains("Hello <script>alert('x')</script> & co, you have"), "{}", m.text);
    assert!(m.text.contains("\n\nhttps://x.example/a?token=1&b=\"2\"\n\n"), "{}", m.text);
    assert!(
        m.html.contains("Hello &#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; co,"),
        "{}",
        m.html
    );
    assert!(m.html.contains("<a href=\"https://x.example/a?token=1&#38;b=&#34;2&#34;\">"));
    assert!(!m.html.contains("<script>"));
}

#[test]
fn a_name_that_has_gone_is_left_blank() {
    let m = render(&Notification::RelationshipChanged {
        to: email("a@example.com"),
        name: name("Alice"),
        organisation: name("Acme"),
        stock_owner: None,
        managing_agent: Some(name("Acme")),
        change: RelationshipChange::Requested { by: None },
        url: "https://x.example/organisations/1/relationships".to_owned(),
    })
    .unwrap();
    assert!(
        m.text.starts_with(
            "Hello Alice,  asked to add  as a stock owner of Acme. It takes effect only if"
        ),
        "{}",
        m.text
    );
}
