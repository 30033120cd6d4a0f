//! The emails Tenure sends, as plain text and HTML from one description, so the two
//! bodies never disagree. Everything a person typed is escaped in the HTML.

use tenure_domain::{Email, Name};

use crate::ports::Message;

/// One block of an email body.
#[derive(Clone, Debug)]
pub(crate) enum Block {
    /// A paragraph of text.
    Text(String),
    /// A link on a line of its own.
    Link(String),
}

/// Builds a message with matching plain-text and HTML bodies.
pub(crate) fn message(to: Email, subject: &str, blocks: &[Block]) -> Message {
    let mut text = String::new();
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family: Arial, sans-serif; font-size: 19px; line-height: 1.3\">\n",
    );
    for block in blocks {
        match block {
            Block::Text(t) => {
                text.push_str(t);
                html.push_str("<p>");
                html.push_str(&escape(t));
                html.push_str("</p>\n");
            }
            Block::Link(url) => {
                text.push_str(url);
                let url = escape(url);
                html.push_str(&format!("<p><a href=\"{url}\">{url}</a></p>\n"));
            }
        }
        text.push_str("\n\n");
    }
    html.push_str("</body></html>\n");
    Message { to, subject: subject.to_owned(), text, html }
}

/// Who made a change a notice tells of.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ChangedBy<'a> {
    /// The account's holder.
    Themselves,
    /// Someone else, by name (`None` if their account has gone since).
    Other(Option<&'a Name>),
}

/// The notice that a password was changed, by its holder or with a reset link. Like
/// every notice it holds no link and no secret: it tells, it is never a way in.
pub(crate) fn password_changed(to: Email, name: &Name) -> Message {
    message(
        to,
        "Your password has been changed",
        &[
            Block::Text(format!(
                "Hello {name}, the password for your Tenure account has been changed."
            )),
            Block::Text(
                "You have been signed out on your other devices, and any password reset links \
                 we sent you no longer work."
                    .to_owned(),
            ),
            Block::Text(
                "If you did not change it, reset your password from the sign-in page now and \
                 tell your data coordinator."
                    .to_owned(),
            ),
        ],
    )
}

/// The notice to an account's old address that its email address was changed: what
/// changed and who changed it. No link and no secret.
pub(crate) fn email_changed(old: Email, name: &Name, new: &Email, by: ChangedBy<'_>) -> Message {
    let who = match by {
        ChangedBy::Themselves => "You".to_owned(),
        ChangedBy::Other(Some(n)) => n.to_string(),
        ChangedBy::Other(None) => "Someone else".to_owned(),
    };
    let from = old.to_string();
    message(
        old,
        "Your email address has been changed",
        &[
            Block::Text(format!(
                "Hello {name}. {who} changed the email address of your Tenure account from {from} to {new}."
            )),
            Block::Text(
                "Emails about your account, password reset links included, now go to the new \
                 address. You have been signed out, and any password reset links sent to this \
                 address no longer work."
                    .to_owned(),
            ),
            Block::Text(
                "If you did not expect this, contact your data coordinator or an administrator \
                 straight away."
                    .to_owned(),
            ),
        ],
    )
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A link to a page of the service with a token.
pub(crate) fn link(base_url: &str, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", base_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use tenure_domain::Email;

    use super::{Block, message};

    #[test]
    fn html_escapes_what_people_typed_and_text_keeps_it() {
        let to = Email::parse("a@example.com").unwrap();
        let m = message(
            to,
            "Hi",
            &[
                Block::Text("Welcome, <script>alert('x')</script> & co".to_owned()),
                Block::Link("https://x.example/a?token=1&b=\"2\"".to_owned()),
            ],
        );
        assert!(m.text.contains("Welcome, <script>alert('x')</script> & co\n\n"));
        assert!(
            m.html.contains("Welcome, &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co")
        );
        assert!(m.html.contains("<a href=\"https://x.example/a?token=1&amp;b=&quot;2&quot;\">"));
        assert!(!m.html.contains("<script>"));
    }
}
