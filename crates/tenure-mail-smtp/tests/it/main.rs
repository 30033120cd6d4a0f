//! The SMTP adapter against a real SMTP server: Debian's aiosmtpd (`python3-aiosmtpd`,
//! installed by `.ci/run`), started by the test on a free port, storing what it accepts
//! in a maildir the test reads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use tenure_core::{Mailer, Notification};
use tenure_domain::{Email, Name};
use tenure_mail_smtp::SmtpMailer;
use tenure_testkit::smtp;
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_plain_text_and_html_to_a_real_smtp_server() {
    if !smtp::available() {
        return;
    }
    let server = smtp::Server::start(smtp::free_port());
    let mailer = SmtpMailer::new(&server.url(), "Tenure <no-reply@tenure.example>").unwrap();
    mailer
        .send(Notification::Invitation {
            to: Email::parse("alice@example.com").unwrap(),
            name: Name::parse("Alice").unwrap(),
            organisation: Name::parse("Acme").unwrap(),
            url: "https://tenure.example/account/create?token=abc".to_owned(),
            valid_days: 3,
        })
        .await
        .unwrap();
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let data = &messages[0];
    // The envelope, as the server recorded it.
    assert!(data.contains("X-MailFrom: no-reply@tenure.example"), "{data}");
    assert!(data.contains("X-RcptTo: alice@example.com"), "{data}");
    assert!(data.contains("Subject: You have been invited to Tenure"), "{data}");
    assert!(data.contains("To: alice@example.com"), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
    let plain = data.find("Content-Type: text/plain").expect("a plain part");
    let html = data.find("Content-Type: text/html").expect("an html part");
    assert!(plain < html, "plain text first, so simple clients show it");
}

#[test]
fn bad_configuration_says_what_is_accepted() {
    let url = SmtpMailer::new("http://nope", "a@example.com").unwrap_err().to_string();
    assert!(url.contains("smtps://USER:PASSWORD@HOST"), "{url}");
    let from = SmtpMailer::new("smtp://127.0.0.1:25", "not an address").unwrap_err().to_string();
    assert!(from.contains("`not an address`") && from.contains("address@example.com"), "{from}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_backend_error_not_a_panic() {
    // A port nothing listens on.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mailer = SmtpMailer::new(&format!("smtp://127.0.0.1:{port}"), "a@example.com").unwrap();
    let sent = mailer
        .send(Notification::PasswordChanged {
            to: Email::parse("b@example.com").unwrap(),
            name: Name::parse("Bob").unwrap(),
        })
        .await;
    assert!(sent.is_err());
}
