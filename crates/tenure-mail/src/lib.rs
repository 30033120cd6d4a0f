//! Renders Tenure's notifications: a [`Notification`] from the core becomes a
//! [`Message`] with a subject, a plain-text body and an HTML body, from askama templates
//! (`templates/`, one `.txt` and one `.html` per kind, checked at compile time). The
//! HTML templates escape everything they are given (names and addresses are what
//! people typed); the text templates do not, so the text keeps it as typed.
//!
//! Role in the workspace: the wording of every email, shared by the mail adapters and
//! the test mailers. Allowed dependencies: `tenure-core` (for the notification),
//! `tenure-domain` (its values), `askama`, `thiserror`. Forbidden knowledge: how mail
//! is sent, storage, HTTP.

use askama::Template;
use tenure_core::{ChangedBy, Notification, RelationshipChange, SecondFactorChange};
use tenure_domain::{Email, Name};
use thiserror::Error;

/// An email ready to send: one notification, rendered.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    /// The recipient.
    pub to: Email,
    /// The subject line.
    pub subject: String,
    /// The plain-text body: paragraphs separated by blank lines, links on lines of
    /// their own.
    pub text: String,
    /// The same body as HTML (escaped; links as anchors), for mail clients that show it.
    pub html: String,
}

/// Why a notification could not be rendered.
#[derive(Debug, Error)]
#[error("could not render the email: {0}")]
pub struct RenderError(#[from] askama::Error);

/// Renders a notification into its message.
///
/// # Errors
/// [`RenderError`] if a template fails (its values are all plain text, so in practice
/// only when writing into memory fails).
pub fn render(notification: &Notification) -> Result<Message, RenderError> {
    let (subject, text, html) = match notification {
        Notification::Invitation { name, organisation, url, valid_days, .. } => (
            "You have been invited to Tenure",
            InvitationText { name, organisation, url, valid_days }.render()?,
            InvitationHtml { name, organisation, url, valid_days }.render()?,
        ),
        Notification::Reactivation { name, organisation, url, valid_days, .. } => (
            "Your account has been reactivated",
            ReactivationText { name, organisation, url, valid_days }.render()?,
            ReactivationHtml { name, organisation, url, valid_days }.render()?,
        ),
        Notification::PasswordReset { url, .. } => (
            "Reset your password",
            PasswordResetText { url }.render()?,
            PasswordResetHtml { url }.render()?,
        ),
        Notification::PasswordChanged { name, .. } => (
            "Your password has been changed",
            PasswordChangedText { name }.render()?,
            PasswordChangedHtml { name }.render()?,
        ),
        Notification::SecondFactorChanged { name, change, .. } => (
            match change {
                SecondFactorChange::SetUp => "You have set up an authenticator app",
                SecondFactorChange::RecoveryCodeUsed { .. } => {
                    "A recovery code was used to sign in"
                }
                SecondFactorChange::RecoveryCodesReplaced => {
                    "Your recovery codes have been replaced"
                }
                SecondFactorChange::Removed { .. } => "Your authenticator app has been removed",
            },
            SecondFactorChangedText { name, change }.render()?,
            SecondFactorChangedHtml { name, change }.render()?,
        ),
        Notification::EmailConfirmation { name, url, .. } => (
            "Confirm your new email address",
            EmailConfirmationText { name, url }.render()?,
            EmailConfirmationHtml { name, url }.render()?,
        ),
        Notification::EmailChangeRequested { name, new, by, .. } => (
            "Your email address is being changed",
            EmailChangeRequestedText { name, new, by }.render()?,
            EmailChangeRequestedHtml { name, new, by }.render()?,
        ),
        Notification::EmailChanged { to, name, new, by } => (
            "Your email address has been changed",
            EmailChangedText { old: to, name, new, by }.render()?,
            EmailChangedHtml { old: to, name, new, by }.render()?,
        ),
        Notification::OrganisationChanged { name, from, into, .. } => (
            "Your organisation has changed",
            OrganisationChangedText { name, from, into }.render()?,
            OrganisationChangedHtml { name, from, into }.render()?,
        ),
        Notification::RelationshipChanged {
            name,
            organisation,
            stock_owner,
            managing_agent,
            change,
            url,
            ..
        } => {
            // An end that has gone since is left blank, as is one that asked.
            let (stock_owner, managing_agent) = (or_blank(stock_owner), or_blank(managing_agent));
            let asked_by = match change {
                RelationshipChange::Requested { by } => or_blank(by),
                _ => "",
            };
            (
                "A change to your organisation's relationships",
                RelationshipChangedText {
                    name,
                    organisation,
                    stock_owner,
                    managing_agent,
                    asked_by,
                    change,
                    url,
                }
                .render()?,
                RelationshipChangedHtml {
                    name,
                    organisation,
                    stock_owner,
                    managing_agent,
                    asked_by,
                    change,
                    url,
                }
                .render()?,
            )
        }
    };
    Ok(Message { to: notification.to().clone(), subject: subject.to_owned(), text, html })
}

fn or_blank(name: &Option<Name>) -> &str {
    name.as_ref().map_or("", Name::as_str)
}

/// Declares one kind's pair of templates, `NAME.txt` (not escaped) and `NAME.html`
/// (escaped), over the same fields, so the two bodies are given the same values.
macro_rules! templates {
    ($text:ident, $html:ident, $txt_path:tt, $html_path:tt { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Template)]
        #[template(path = $txt_path, escape = "none")]
        struct $text<'a> {
            $($field: $ty),*
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            $($field: $ty),*
        }
    };
}

templates!(InvitationText, InvitationHtml, "invitation.txt", "invitation.html" {
    name: &'a Name, organisation: &'a Name, url: &'a str, valid_days: &'a i64,
});
templates!(ReactivationText, ReactivationHtml, "reactivation.txt", "reactivation.html" {
    name: &'a Name, organisation: &'a Name, url: &'a str, valid_days: &'a i64,
});
templates!(PasswordResetText, PasswordResetHtml, "password_reset.txt", "password_reset.html" {
    url: &'a str,
});
templates!(PasswordChangedText, PasswordChangedHtml, "password_changed.txt", "password_changed.html" {
    name: &'a Name,
});
templates!(SecondFactorChangedText, SecondFactorChangedHtml, "second_factor_changed.txt", "second_factor_changed.html" {
    name: &'a Name, change: &'a SecondFactorChange,
});
templates!(EmailConfirmationText, EmailConfirmationHtml, "email_confirmation.txt", "email_confirmation.html" {
    name: &'a Name, url: &'a str,
});
templates!(EmailChangeRequestedText, EmailChangeRequestedHtml, "email_change_requested.txt", "email_change_requested.html" {
    name: &'a Name, new: &'a Email, by: &'a ChangedBy,
});
templates!(EmailChangedText, EmailChangedHtml, "email_changed.txt", "email_changed.html" {
    old: &'a Email, name: &'a Name, new: &'a Email, by: &'a ChangedBy,
});
templates!(OrganisationChangedText, OrganisationChangedHtml, "organisation_changed.txt", "organisation_changed.html" {
    name: &'a Name, from: &'a Name, into: &'a Name,
});
templates!(RelationshipChangedText, RelationshipChangedHtml, "relationship_changed.txt", "relationship_changed.html" {
    name: &'a Name,
    organisation: &'a Name,
    stock_owner: &'a str,
    managing_agent: &'a str,
    asked_by: &'a str,
    change: &'a RelationshipChange,
    url: &'a str,
});

#[cfg(test)]
mod tests;
