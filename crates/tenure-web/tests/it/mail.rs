//! Undeliverable mail through the router: an administrator sees the messages the courier
//! gave up on (never their links) and sends one again; anyone else finds no such page.

use tenure_core::{
    AfterFailure, ChangeStore, MailQueue, Notification, QueuedMail, Timestamp, Write,
};
use tenure_domain::Email;
use uuid::Uuid;

use crate::{ADA, CORA, Client, site};

#[tokio::test]
async fn an_administrator_sees_undeliverable_mail_and_retries_it_and_nobody_else_may() {
    let site = site().await;
    let id = Uuid::from_u128(0xDEAD);
    let reset = Notification::PasswordReset {
        to: Email::parse("lost@example.com").unwrap(),
        url: "http://127.0.0.1:3000/account/reset-password?token=secret-token".to_owned(),
    };
    // Sealed as a service seals it, under the stack's key.
    let queued = QueuedMail::new(id, Timestamp(1_800_000_000_000), reset)
        .seal(&*tenure_testkit::fakes::vault())
        .unwrap();
    site.store.apply(vec![Write::QueueMail(queued)], Vec::new()).await.unwrap();
    let claimed = site.store.claim(Timestamp(i64::MAX - 1), Timestamp(i64::MAX), 1, None).await;
    let attempt = claimed.unwrap()[0].attempt;
    let gave_up = site.store.mark_failed(id, attempt, "connection refused", AfterFailure::Abandon);
    assert!(gave_up.await.unwrap());

    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let page = cora.get("/mail").await;
    assert!(page.body.contains("Page not found"), "a coordinator sees no mail queue");
    let refused = cora.post("/mail/retry", &[("id", &id.to_string())]).await;
    assert!(refused.body.contains("Page not found"));

    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let page = ada.get("/mail").await;
    assert!(page.body.contains("lost@example.com"), "{}", page.body);
    assert!(page.body.contains("connection refused"));
    assert!(page.body.contains("password reset"));
    assert!(!page.body.contains("secret-token"), "never the link");
    let unknown = ada.post("/mail/retry", &[("id", "not-an-id")]).await;
    assert_eq!(unknown.location(), "/mail?done=gone", "nothing to retry");
    let sent_before = site.mailer.sent().len();
    let done = ada.post("/mail/retry", &[("id", &id.to_string())]).await;
    assert_eq!(done.location(), "/mail?done=retried");
    let sent = site.mailer.sent();
    assert_eq!(sent.len(), sent_before + 1, "sent at once");
    assert_eq!(sent.last().unwrap().to.as_str(), "lost@example.com");
    let page = ada.get("/mail?done=retried").await;
    assert!(page.body.contains("Every email was delivered."), "{}", page.body);
    assert!(page.body.contains("queued again"));
}
