//! Tenure's `Mailer` port over SMTP with lettre: each message goes out as
//! multipart/alternative, plain text first, HTML second.
//!
//! Role in the workspace: an adapter. Allowed dependencies: `tenure-core`, `tenure-mail`
//! (which renders each notification), `lettre`. Forbidden knowledge: storage, HTTP. Configured by one URL, as lettre reads it:
//! `smtps://USER:PASSWORD@HOST` (TLS), `smtp://USER:PASSWORD@HOST?tls=required`
//! (STARTTLS), or `smtp://HOST:PORT` (plain, for a relay on the same machine or tests).

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tenure_core::{BackendError, Mailer, Notification};
use thiserror::Error;

/// Sends mail through an SMTP server.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("SmtpMailer").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

/// Why the mailer could not be configured.
#[derive(Debug, Error)]
pub enum SmtpConfigError {
    /// The URL is not one lettre reads.
    #[error(
        "SMTP url is not valid: {0}; expected smtps://USER:PASSWORD@HOST, \
         smtp://USER:PASSWORD@HOST?tls=required or smtp://HOST:PORT"
    )]
    Url(String),
    /// The sender address is not an address.
    #[error(
        "sender `{0}` is not a valid address; expected `Name <address@example.com>` or `address@example.com`"
    )]
    From(String),
}

impl SmtpMailer {
    /// A mailer for this server URL, sending as `from`.
    ///
    /// # Errors
    /// [`SmtpConfigError`] saying which of the two is wrong.
    pub fn new(url: &str, from: &str) -> Result<Self, SmtpConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| SmtpConfigError::Url(e.to_string()))?
            .build();
        let from = from.parse().map_err(|_| SmtpConfigError::From(from.to_owned()))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, notification: Notification) -> Result<(), BackendError> {
        let message = tenure_mail::render(&notification).map_err(BackendError::new)?;
        let to: Mailbox = message.to.as_str().parse().map_err(BackendError::new)?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject)
            .multipart(MultiPart::alternative_plain_html(message.text, message.html))
            .map_err(BackendError::new)?;
        self.transport.send(email).await.map_err(BackendError::new)?;
        Ok(())
    }
}
