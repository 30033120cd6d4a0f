//! Typed bodies read what the pages' forms send: repeated keys into lists, one value or
//! none, fields named as the page is shown, and the CSRF token taken off; and refuse, with
//! the service's 400 page, what no page sends: unknown fields, text that is not UTF-8,
//! control and text-direction characters, a body that is not a form. Query strings drop
//! those characters instead, and a page number that is not one is the first page.

use axum::body::Body as HttpBody;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use crate::form::{Form, Named, PageNumber, Query, Sent};

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixed {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: i64,
}

#[derive(Debug, Deserialize)]
struct List {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: PageNumber,
}

async fn form<T: serde::de::DeserializeOwned + Send>(
    body: &[u8],
    content_type: &str,
) -> Result<T, Response> {
    let request = Request::post("/")
        .header(header::CONTENT_TYPE, content_type)
        .body(HttpBody::from(body.to_vec()))
        .unwrap();
    Form::<T>::from_request(request, &()).await.map(|Form(value)| value)
}

async fn query(uri: &str) -> Result<List, Response> {
    let (mut parts, ()) = Request::get(uri).body(()).unwrap().into_parts();
    Query::<List>::from_request_parts(&mut parts, &()).await.map(|Query(value)| value)
}

async fn check(
    body: &str,
    kind: &str,
    companies: &[&str],
    select_all: bool,
    named: &[(&str, Option<&str>)],
) {
    let got: Body = form(body.as_bytes(), "application/x-www-form-urlencoded").await.unwrap();
    assert_eq!(got.kind, kind);
    assert_eq!(got.companies, companies);
    assert_eq!(got.select_all, Sent(select_all));
    for (key, value) in named {
        assert_eq!(got.named.has(key), value.is_some(), "{key} sent");
        assert_eq!(got.named.one(key), value.unwrap_or_default(), "{key}");
    }
}

/// The form is refused with the service's 400 page, which says `why`.
async fn refused<T: std::fmt::Debug>(got: Result<T, Response>, why: &str) {
    let response = got.expect_err(why);
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{why}");
    let bytes = axum::body::to_bytes(response.into_body(), 1_000_000).await.unwrap();
    let body = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(body.starts_with("<!DOCTYPE html>"), "{why}: {body}");
    assert!(body.contains(why), "{why}: {body}");
}

#[tokio::test]
async fn typed_bodies_read_what_forms_send() {
    check("", "", &[], false, &[("field_x", None)]).await;
    check("csrf=t&type=person", "person", &[], false, &[("csrf", None)]).await;
    check("companies=a", "", &["a"], false, &[]).await;
    check("companies=a&companies=b&type=x", "x", &["a", "b"], false, &[]).await;
    check("select_all=1", "", &[], true, &[]).await;
    check("select_all=", "", &[], true, &[]).await;
    check(
        "field_job_title=Analyst&read_1=1&edit_1=1&create_1=1&field_ni=&field_x=1&field_x=2",
        "",
        &[],
        false,
        &[
            ("field_job_title", Some("Analyst")),
            ("read_1", Some("1")),
            ("edit_1", Some("1")),
            ("create_1", Some("1")),
            ("field_ni", Some("")),
            ("field_x", Some("1")),
            ("read_2", None),
        ],
    )
    .await;
    let urlencoded = "application/x-www-form-urlencoded; charset=UTF-8";
    let fixed: Fixed = form(b"csrf=t&name=Ada+L%C3%B6we&version=3", urlencoded).await.unwrap();
    assert_eq!((fixed.name.as_str(), fixed.version), ("Ada Löwe", 3));
}

#[tokio::test]
async fn what_no_page_sends_is_refused_with_the_services_page() {
    let urlencoded = "application/x-www-form-urlencoded";
    refused(form::<Fixed>(b"name=a&role=x", urlencoded).await, "unknown field `role`").await;
    refused(form::<Body>(b"type=a&role=x", urlencoded).await, "unknown field `role`").await;
    refused(form::<Fixed>(b"version=x", urlencoded).await, "version: invalid digit").await;
    refused(form::<Fixed>(b"name=a%00b", urlencoded).await, "The field `name` contains").await;
    refused(form::<Fixed>(b"name=a%E2%80%AEb", urlencoded).await, "`\\u{202e}`").await;
    refused(form::<Fixed>(b"na%07me=a", urlencoded).await, "The field `na\\u{7}me`").await;
    refused(form::<Fixed>(b"name=%FF%FE", urlencoded).await, "not UTF-8").await;
    refused(form::<Fixed>(b"name=a", "text/plain").await, "is not a form").await;
    refused(form::<Fixed>(b"name=a", "multipart/form-data; boundary=x").await, "is not a form")
        .await;
    refused(query("/?q=%C0%80").await, "not UTF-8").await;
}

#[tokio::test]
async fn query_strings_drop_forbidden_characters_and_bad_page_numbers() {
    for (uri, q, page) in [
        ("/", "", None),
        ("/?q=ab%00&page=2", "ab", Some(2)),
        ("/?q=%E2%80%AEab%C2%85&page=x", "ab", None),
        ("/?page=-1", "", None),
        ("/?page=0", "", None),
        ("/?page=+7+", "", Some(7)),
        ("/?page=99999999999999999999", "", None),
        ("/?unknown=1&q=a+b", "a b", None),
        ("/?q=100%25", "100%", None),
        ("/?q=%zz", "%zz", None),
    ] {
        let got = query(uri).await.unwrap();
        assert_eq!((got.q.as_str(), got.page.get()), (q, page), "{uri}");
    }
}
