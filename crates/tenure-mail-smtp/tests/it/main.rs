//! The SMTP adapter against a real SMTP conversation over TCP: a small server started by
//! the test speaks the protocol (RFC 5321: greeting, EHLO, MAIL, RCPT, DATA, QUIT) and
//! keeps what it receives.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use tenure_core::{Mailer, Notification};
use tenure_domain::{Email, Name};
use tenure_mail_smtp::SmtpMailer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What one SMTP session delivered: the envelope and the raw message.
#[derive(Debug, Default)]
struct Delivery {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

/// Serves one SMTP session on a free port; returns the port and the delivery.
async fn smtp_server() -> (u16, tokio::task::JoinHandle<Delivery>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut delivery = Delivery::default();
        write.write_all(b"220 test.example ESMTP ready\r\n").await.unwrap();
        while let Some(line) = lines.next_line().await.unwrap() {
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                b"250-test.example\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("MAIL FROM:") {
                delivery.mail_from = line[10..].trim().to_owned();
                b"250 OK\r\n"
            } else if upper.starts_with("RCPT TO:") {
                delivery.rcpt_to.push(line[8..].trim().to_owned());
                b"250 OK\r\n"
            } else if upper == "DATA" {
                write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await.unwrap();
                while let Some(data) = lines.next_line().await.unwrap() {
                    if data == "." {
                        break;
                    }
                    delivery.data.push_str(data.strip_prefix('.').unwrap_or(&data));
                    delivery.data.push('\n');
                }
                b"250 OK queued\r\n"
            } else if upper == "QUIT" {
                write.write_all(b"221 Bye\r\n").await.unwrap();
                break;
            } else {
                b"250 OK\r\n"
            };
            write.write_all(reply).await.unwrap();
        }
        delivery
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_plain_text_and_html_through_a_real_smtp_conversation() {
    let (port, server) = smtp_server().await;
    let mailer =
        SmtpMailer::new(&format!("smtp://127.0.0.1:{port}"), "Tenure <no-reply@tenure.example>")
            .unwrap();
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
    drop(mailer);
    let delivery = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("the session ends")
        .unwrap();
    assert_eq!(delivery.mail_from, "<no-reply@tenure.example>");
    assert_eq!(delivery.rcpt_to, ["<alice@example.com>"]);
    let data = delivery.data;
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
