//! Typed bodies read what the pages' forms send: repeated keys into lists, one value or
//! none, fields named as the page is shown, and the CSRF token accepted alongside.

use axum::body::Body as HttpBody;
use axum::extract::FromRequest;
use axum::http::{Request, header};
use axum_extra::extract::Form;
use serde::Deserialize;

use crate::form::{Named, Sent};

#[derive(Debug, Deserialize)]
struct Body {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    companies: Vec<String>,
    #[serde(default)]
    select_all: Sent,
    #[serde(flatten)]
    named: Named,
}

async fn check(
    body: &str,
    kind: &str,
    companies: &[&str],
    select_all: bool,
    named: &[(&str, Option<&str>)],
) {
    let request = Request::post("/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(HttpBody::from(body.to_owned()))
        .unwrap();
    let Form(got) = Form::<Body>::from_request(request, &()).await.unwrap();
    assert_eq!(got.kind, kind);
    assert_eq!(got.companies, companies);
    assert_eq!(got.select_all, Sent(select_all));
    for (key, value) in named {
        assert_eq!(got.named.has(key), value.is_some(), "{key} sent");
        assert_eq!(got.named.one(key), value.unwrap_or_default(), "{key}");
    }
}

#[tokio::test]
async fn typed_bodies_read_what_forms_send() {
    check("", "", &[], false, &[("field_x", None)]).await;
    check("csrf=t&type=person", "person", &[], false, &[("csrf", Some("t"))]).await;
    check("companies=a", "", &["a"], false, &[]).await;
    check("companies=a&companies=b&type=x", "x", &["a", "b"], false, &[]).await;
    check("select_all=1", "", &[], true, &[]).await;
    check("select_all=", "", &[], true, &[]).await;
    check(
        "field_job_title=Analyst&read_1=1&field_ni=&field_x=1&field_x=2",
        "",
        &[],
        false,
        &[
            ("field_job_title", Some("Analyst")),
            ("read_1", Some("1")),
            ("field_ni", Some("")),
            ("field_x", Some("1")),
            ("read_2", None),
        ],
    )
    .await;
}
