//! Tenure's `Mailer` port for local use: every message becomes one readable file in an
//! outbox folder, named in sending order (`0001-alice@example.com.eml`), so a newcomer
//! can open the invitation or reset email and follow its link.
//!
//! Role in the workspace: an adapter. Allowed dependencies: `tenure-core`, `tenure-mail`
//! (which renders each notification), `tokio` (its blocking pool). Forbidden
//! knowledge: storage, HTTP. A message is written to a temporary name and renamed, so a
//! reader never sees half of one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tenure_core::{BackendError, Mailer, Notification};
use tenure_mail::Message;

/// A folder of sent messages.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    /// The next file's number, once known. Only the blocking pool's thread writing a
    /// message holds it (never across an `.await`), and it moves on exactly when a file
    /// was written, so a send that is given up on half way cannot leave its number to the
    /// next message.
    next: Arc<Mutex<Option<u32>>>,
}

impl Outbox {
    /// An outbox in this folder (created when the first message is sent).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), next: Arc::new(Mutex::new(None)) }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one rendered message as the next file: the folder, the file and its rename
    /// in one trip to the blocking pool (a trip for each step cost more than the writing,
    /// at thousands of messages a second).
    async fn write(&self, message: &Message) -> Result<(), BackendError> {
        let (dir, next) = (self.dir.clone(), self.next.clone());
        let to = file_safe(message.to.as_str());
        let text = format_message(message);
        tokio::task::spawn_blocking(move || write_next(&dir, &next, &to, &text))
            .await
            .map_err(BackendError::new)?
    }
}

/// Writes `text` into `dir` as the next file: the number after the last one written, or,
/// the first time, after the messages already there (so nothing an earlier run left is
/// overwritten), by way of a temporary name.
fn write_next(
    dir: &Path,
    next: &Mutex<Option<u32>>,
    to: &str,
    text: &str,
) -> Result<(), BackendError> {
    let mut next = next
        .lock()
        .map_err(|_| BackendError::new("a message being written to the outbox panicked"))?;
    std::fs::create_dir_all(dir).map_err(BackendError::new)?;
    let n = match *next {
        Some(n) => n,
        None => {
            let mut count = 0u32;
            for entry in std::fs::read_dir(dir).map_err(BackendError::new)? {
                let entry = entry.map_err(BackendError::new)?;
                if entry.file_name().to_string_lossy().ends_with(".eml") {
                    count += 1;
                }
            }
            count + 1
        }
    };
    let name = format!("{n:04}-{to}.eml");
    let temporary = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).map_err(BackendError::new)?;
    std::fs::rename(&temporary, dir.join(&name)).map_err(BackendError::new)?;
    *next = Some(n + 1);
    Ok(())
}

/// Keeps a recipient usable in a file name.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The boundary between the plain-text and HTML parts. Bodies are ours, rendered by
/// `tenure-mail`, and never contain it.
const BOUNDARY: &str = "tenure-alternative-7c1f0e";

/// A MIME message (multipart/alternative, 8-bit) whose plain-text part comes first and
/// stays readable as it is, links unbroken.
fn format_message(message: &Message) -> String {
    format!(
        "To: {to}\nSubject: {subject}\nMIME-Version: 1.0\n\
         Content-Type: multipart/alternative; boundary=\"{BOUNDARY}\"\n\n\
         --{BOUNDARY}\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\
         {text}\n--{BOUNDARY}\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\
         {html}\n--{BOUNDARY}--\n",
        to = message.to,
        subject = message.subject.replace(['\r', '\n'], " "),
        text = message.text,
        html = message.html,
    )
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, notification: Notification) -> Result<(), BackendError> {
        let message = tenure_mail::render(&notification).map_err(BackendError::new)?;
        self.write(&message).await
    }
}

#[cfg(test)]
mod tests {
    use tenure_core::{Mailer, Notification};
    use tenure_domain::{Email, Name};
    use tenure_mail::Message;

    use crate::Outbox;

    fn message(to: &str, subject: &str) -> Message {
        Message {
            to: Email::parse(to).unwrap(),
            subject: subject.to_owned(),
            text: "Open https://x.example/?token=abc\n".to_owned(),
            html: "<p><a href=\"https://x.example/?token=abc\">Open</a></p>".to_owned(),
        }
    }

    #[tokio::test]
    async fn one_readable_file_per_message_in_order_and_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("tenure-outbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let outbox = Outbox::new(&dir);
        outbox.write(&message("alice@example.com", "Reset your password")).await.unwrap();
        outbox.write(&message("bob@example.com", "Line\nbreak")).await.unwrap();
        // A later run carries on numbering.
        Outbox::new(&dir).write(&message("alice@example.com", "Again")).await.unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "0001-alice@example.com.eml",
                "0002-bob@example.com.eml",
                "0003-alice@example.com.eml"
            ]
        );
        let first = std::fs::read_to_string(dir.join("0001-alice@example.com.eml")).unwrap();
        assert_eq!(
            first,
            "To: alice@example.com\nSubject: Reset your password\nMIME-Version: 1.0\n\
             Content-Type: multipart/alternative; boundary=\"tenure-alternative-7c1f0e\"\n\n\
             --tenure-alternative-7c1f0e\nContent-Type: text/plain; charset=utf-8\n\
             Content-Transfer-Encoding: 8bit\n\nOpen https://x.example/?token=abc\n\n\
             --tenure-alternative-7c1f0e\nContent-Type: text/html; charset=utf-8\n\
             Content-Transfer-Encoding: 8bit\n\n<p><a href=\"https://x.example/?token=abc\">Open</a></p>\n\
             --tenure-alternative-7c1f0e--\n"
        );
        let second = std::fs::read_to_string(dir.join("0002-bob@example.com.eml")).unwrap();
        assert!(second.contains("Subject: Line break\n"), "no header injection: {second}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_notification_is_rendered_into_its_file() {
        let dir = std::env::temp_dir().join(format!("tenure-outbox-render-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let outbox = Outbox::new(&dir);
        let to = Email::parse("alice@example.com").unwrap();
        let url = "https://x.example/account/reset-password?token=abc".to_owned();
        outbox.send(Notification::PasswordReset { to: to.clone(), url }).await.unwrap();
        let notice = Notification::PasswordChanged { to, name: Name::parse("Alice").unwrap() };
        outbox.send(notice).await.unwrap();
        let first = std::fs::read_to_string(dir.join("0001-alice@example.com.eml")).unwrap();
        assert!(first.starts_with("To: alice@example.com\nSubject: Reset your password\n"));
        assert!(first.contains("\n\nhttps://x.example/account/reset-password?token=abc\n\n"));
        assert!(first.contains("<a href=\"https://x.example/account/reset-password?token=abc\">"));
        let second = std::fs::read_to_string(dir.join("0002-alice@example.com.eml")).unwrap();
        assert!(second.contains("Subject: Your password has been changed\n"), "{second}");
        assert!(second.contains("Hello Alice, the password for your Tenure account"), "{second}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
