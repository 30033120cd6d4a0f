//! The courier's arithmetic and stored forms.

use tenure_domain::Email;

use super::*;

#[test]
fn backoff_doubles_from_the_first_wait_up_to_the_cap() {
    let policy =
        CourierPolicy { first_retry_ms: 1_000, max_retry_ms: 10_000, ..CourierPolicy::default() };
    let waits: Vec<i64> = (1..=6).map(|a| policy.backoff_ms(a)).collect();
    assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    assert_eq!(policy.backoff_ms(u32::MAX), 10_000, "no overflow");
}

#[test]
fn a_body_reads_back_as_the_notification_and_names_its_kind() {
    let n = Notification::PasswordReset {
        to: Email::parse("a@example.com").expect("email"),
        url: "https://t.example/account/reset-password?token=x".to_owned(),
    };
    let mail = QueuedMail::new(Uuid::nil(), Timestamp(5), n.clone());
    assert_eq!(mail.kind(), "password_reset");
    assert_eq!(read_body(&mail.body().expect("json")).expect("reads"), n);
    assert!(read_body("{\"kind\":\"nonsense\"}").is_err());
}

#[test]
fn statuses_round_trip_and_unknown_ones_are_refused() {
    for s in [MailStatus::Queued, MailStatus::Sent, MailStatus::Abandoned] {
        assert_eq!(MailStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(MailStatus::parse("lost"), None);
}

#[test]
fn a_failure_is_described_on_one_line_with_its_causes() {
    let e = BackendError::new(std::io::Error::other("connection refused\r\nsecond line"));
    let text = describe(&e);
    assert!(text.contains("connection refused"), "{text}");
    assert!(!text.contains('\n'));
}
