//! The user agent as an audit entry keeps it.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::origin::{MAX_USER_AGENT, user_agent};

#[track_caller]
fn check(sent: Option<&[u8]>, kept: Option<&str>) {
    let mut headers = HeaderMap::new();
    if let Some(bytes) = sent {
        headers.insert(header::USER_AGENT, HeaderValue::from_bytes(bytes).unwrap());
    }
    assert_eq!(user_agent(&headers).as_deref(), kept);
}

#[test]
fn the_user_agent_is_cleaned_and_cut_short() {
    check(None, None);
    check(Some(b"curl/8.5.0"), Some("curl/8.5.0"));
    check(Some(b"  Mozilla/5.0 (X11)  "), Some("Mozilla/5.0 (X11)"));
    check(Some(b""), None);
    check(Some(b" \t "), None);
    // Control characters go, the rest stays where it was.
    check(Some(b"a\tb\tc"), Some("abc"));
    // Bytes that are not UTF-8 read as U+FFFD; text-direction characters go.
    check(Some(b"caf\xe9"), Some("caf\u{FFFD}"));
    check(Some("x\u{202E}y\u{2066}z".as_bytes()), Some("xyz"));
    // At most MAX_USER_AGENT characters, counted as characters, not bytes.
    let long = "é".repeat(MAX_USER_AGENT + 50);
    let kept = "é".repeat(MAX_USER_AGENT);
    check(Some(long.as_bytes()), Some(&kept));
    // A cut that ends in space leaves no trailing space.
    let spaced = format!("{} tail", "b".repeat(MAX_USER_AGENT - 1));
    check(Some(spaced.as_bytes()), Some(&"b".repeat(MAX_USER_AGENT - 1)));
}
