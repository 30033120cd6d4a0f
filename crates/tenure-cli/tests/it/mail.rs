//! `tenure mail status` and `tenure mail retry` through the binary: an invitation made
//! while the mail server does not answer stays queued, and the queue says so.

use crate::batch::{outbox, tenure, text, workdir};

#[test]
fn an_invitation_made_while_smtp_is_down_waits_in_the_queue_and_status_shows_it() {
    let dir = workdir("mail-status");
    let closed = tenure_testkit::smtp::free_port();
    let smtp = format!("smtp://127.0.0.1:{closed}");
    let out = tenure(
        &dir,
        &[
            "admin",
            "create",
            "--name",
            "Ada Admin",
            "--email",
            "ada@example.com",
            "--smtp-url",
            &smtp,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(outbox(&dir).is_empty(), "nothing went to the outbox either");

    let out = tenure(&dir, &["mail", "status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let status = text(&out.stdout);
    assert!(status.contains("queued: 1\nsent: 0\nundeliverable: 0"), "{status}");

    let out = tenure(&dir, &["mail", "retry", "not-an-id"]);
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out.stderr);
    assert!(said.contains("`not-an-id` is not a message id") && said.contains("UUID"), "{said}");
    let out = tenure(&dir, &["mail", "retry", "0190a5c2-7f3e-7d41-9a0b-2c4d6e8f1a3b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no undeliverable message has the id"));
}
