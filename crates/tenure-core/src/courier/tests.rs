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

/// A stand-in vault for these tests: "seals" by XOR with its key byte after a tag
/// binding the context, so another key or context does not open (the real AEAD is
/// `tenure_secrets_os::KeyVault`, checked by the contract suites).
struct XorVault(u8);

impl Vault for XorVault {
    fn fill_random(&self, buf: &mut [u8]) -> Result<(), BackendError> {
        buf.fill(4);
        Ok(())
    }

    fn seal(&self, plain: &[u8], context: &[u8]) -> Result<Vec<u8>, BackendError> {
        let tag = context.iter().fold(self.0, |t, b| t.wrapping_mul(31).wrapping_add(*b));
        Ok(std::iter::once(tag).chain(plain.iter().map(|b| b ^ self.0)).collect())
    }

    fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, BackendError> {
        let tag = context.iter().fold(self.0, |t, b| t.wrapping_mul(31).wrapping_add(*b));
        match sealed.split_first() {
            Some((&t, rest)) if t == tag => Ok(rest.iter().map(|b| b ^ self.0).collect()),
            _ => Err(BackendError::new("does not open")),
        }
    }
}

#[test]
fn a_body_is_stored_only_sealed_and_opens_only_for_its_id_and_key() {
    let n = Notification::PasswordReset {
        to: Email::parse("a@example.com").expect("email"),
        url: "https://t.example/account/reset-password?token=x".to_owned(),
    };
    let id = Uuid::from_u128(7);
    let open = QueuedMail::new(id, Timestamp(5), n.clone());
    assert_eq!((open.kind(), open.recipient()), ("password_reset", "a@example.com"));
    let refused = describe(&open.body().expect_err("an open body is never stored"));
    assert!(refused.contains("not sealed"), "{refused}");

    let vault = XorVault(0x5a);
    let sealed = open.seal(&vault).expect("sealed");
    assert_eq!(sealed.clone().seal(&vault).expect("again"), sealed, "sealed once");
    let body = sealed.body().expect("sealed").to_owned();
    assert!(body.starts_with("sealed:"), "{body}");
    assert!(!body.contains("token=x") && !body.contains("a@example.com"), "{body}");
    assert_eq!(open_body(&vault, id, &body), Ok(n));
    assert_eq!(open_body(&vault, Uuid::from_u128(8), &body), Err(Unopened::OtherKey), "moved");
    assert_eq!(open_body(&XorVault(1), id, &body), Err(Unopened::OtherKey), "another key");
    for clear in ["{\"kind\":\"password_reset\"}", "sealed:zz", "sealed:abc"] {
        assert_eq!(open_body(&vault, id, clear), Err(Unopened::NotSealed), "{clear}");
    }
    let nonsense = vault.seal(b"{\"kind\":\"nonsense\"}", &context(id)).expect("sealed");
    let nonsense = format!("sealed:{}", hex(&nonsense));
    assert!(matches!(open_body(&vault, id, &nonsense), Err(Unopened::Unknown(_))));
    assert!(Unopened::OtherKey.to_string().contains("secret_key_file"));
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
