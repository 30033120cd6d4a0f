//! Relationships by consent through the router: a coordinator's "add" is a request that
//! reaches nothing until the other end accepts (attack 1 of issue 11: a coordinator took
//! over an unrelated organisation by adding it as a managing agent).

use axum::http::StatusCode;

use crate::{ADA, CAT, CORA, Client, id, org, site};

const ALPHA: u128 = 1;
const GAMMA: u128 = 3;
const CAT_ID: u128 = 6;

#[tokio::test]
async fn a_coordinator_cannot_take_over_an_unrelated_organisation() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let alpha = format!("/organisations/{}/relationships", org(ALPHA));
    let cat = format!("/users/{}", id(CAT_ID));
    assert_eq!(cora.get(&cat).await.status, StatusCode::NOT_FOUND, "Cat is out of reach");

    // The attack: add unrelated Gamma as a managing agent. It becomes a request.
    cora.get(&alpha).await;
    let page = cora.post(&alpha, &[("change", "add-managing-agent"), ("other", "gamma")]).await;
    assert_eq!(page.location(), format!("{alpha}?done=requested"));
    let page = cora.get(&format!("{alpha}?done=requested")).await;
    assert!(page.body.contains("Requests waiting for an answer"), "{}", page.body);
    assert!(page.body.contains("Waiting for Gamma"));
    let withdraw = format!(
        r#"name="change" value="withdraw-managing-agent">
  <input type="hidden" name="other" value="{}">"#,
        org(GAMMA)
    );
    assert!(page.body.contains(&withdraw), "a Withdraw button for the request: {}", page.body);
    // Nothing of Gamma is reached: not Cat's page, not the list, not Gamma's page.
    assert_eq!(cora.get(&cat).await.status, StatusCode::NOT_FOUND);
    assert_eq!(cora.get(&format!("{cat}/edit")).await.status, StatusCode::NOT_FOUND);
    assert!(!cora.get("/users").await.body.contains("cat@example.com"));
    let gamma_page = format!("/organisations/{}", org(GAMMA));
    assert_eq!(cora.get(&gamma_page).await.status, StatusCode::NOT_FOUND);
    // Nor can she answer her own request.
    cora.get(&alpha).await;
    let page =
        cora.post(&alpha, &[("change", "accept-managing-agent"), ("other", &org(GAMMA))]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(cora.get(&cat).await.status, StatusCode::NOT_FOUND);
    // A provider of Gamma has no say either: only who manages Gamma's relationships.
    let mut cat_client = Client::new(&site);
    cat_client.sign_in(CAT).await;
    let gamma = format!("/organisations/{}/relationships", org(GAMMA));
    assert_eq!(cat_client.get(&gamma).await.status, StatusCode::FORBIDDEN);
    let page =
        cat_client.post(&gamma, &[("change", "accept-stock-owner"), ("other", &org(ALPHA))]).await;
    assert!(matches!(page.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND));
    assert_eq!(cora.get(&cat).await.status, StatusCode::NOT_FOUND);

    // Gamma's side (here an administrator) sees the request and accepts it.
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let page = ada.get(&gamma).await;
    assert!(page.body.contains("Asked by Alpha"), "{}", page.body);
    assert!(page.body.contains(r#"name="change" value="accept-stock-owner">"#));
    assert!(page.body.contains(r#"name="change" value="decline-stock-owner">"#));
    let page = ada.post(&gamma, &[("change", "accept-stock-owner"), ("other", &org(ALPHA))]).await;
    assert_eq!(page.location(), format!("{gamma}?done=accepted"));
    assert_eq!(cora.get(&cat).await.status, StatusCode::OK, "in effect once accepted");

    // Either end removes at once, and reach ends with it.
    cora.get(&alpha).await;
    let page =
        cora.post(&alpha, &[("change", "remove-managing-agent"), ("other", &org(GAMMA))]).await;
    assert_eq!(page.location(), format!("{alpha}?done=removed"));
    assert_eq!(cora.get(&cat).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn relationship_errors_are_clear_and_an_administrator_adds_at_once() {
    let site = site().await;
    let mut c = Client::new(&site);
    c.sign_in(CORA).await;
    let path = format!("/organisations/{}/relationships", org(ALPHA));
    c.get(&path).await;
    let page = c.post(&path, &[("change", "add-managing-agent"), ("other", "Nowhere")]).await;
    assert!(page.body.contains("Enter the name of an existing organisation"));
    // Names are public: a partial name lists the organisations whose names contain it.
    let page = c.post(&path, &[("change", "add-managing-agent"), ("other", "amm")]).await;
    assert!(page.body.contains("Names containing what you typed: Gamma"), "{}", page.body);
    let page = c.post(&path, &[("change", "add-managing-agent"), ("other", "Beta")]).await;
    assert!(page.body.contains("already a stock owner of"), "{}", page.body);
    c.post(&path, &[("change", "add-managing-agent"), ("other", "gamma")]).await;
    c.get(&path).await;
    let page = c.post(&path, &[("change", "add-managing-agent"), ("other", "gamma")]).await;
    assert!(page.body.contains("already waiting for an answer"), "{}", page.body);
    let page =
        c.post(&path, &[("change", "withdraw-managing-agent"), ("other", &org(GAMMA))]).await;
    assert_eq!(page.location(), format!("{path}?done=withdrawn"));
    let page = c.post(&path, &[("change", "fly-managing-agent"), ("other", &org(GAMMA))]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    ada.get(&path).await;
    let page = ada.post(&path, &[("change", "add-managing-agent"), ("other", "gamma")]).await;
    assert_eq!(page.location(), format!("{path}?done=added"));
    let page = c.get(&format!("/organisations/{}", org(ALPHA))).await;
    assert!(page.body.contains(">Gamma</a>"));
}

/// Names are unique (a review of issue 12's changes, finding F1): Cora renamed her
/// organisation to an unrelated one's name, so another coordinator's request "to
/// Gamma", by name, reached her instead, and she accepted it and took over that
/// organisation's users. The rename is refused now, and the request goes to Gamma.
#[tokio::test]
async fn a_coordinator_cannot_take_another_organisations_name_to_catch_its_requests() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let edit = format!("/organisations/{}/edit", org(ALPHA));
    let form = cora.get(&edit).await;
    let field = "name=\"version\" value=\"";
    let at = form.body.find(field).expect("a version field") + field.len();
    let version = form.body[at..at + form.body[at..].find('"').unwrap()].to_owned();
    for taken in ["Gamma", "gamma "] {
        let page = cora
            .post(
                &edit,
                &[
                    ("version", version.as_str()),
                    ("name", taken),
                    ("address", "1 High Street"),
                    ("telephone", "01632 960 123"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "shown again with the error: {}", page.status);
        assert!(page.body.contains("Another organisation already has this name"), "{}", page.body);
    }
    let alpha = cora.get(&format!("/organisations/{}", org(ALPHA))).await;
    assert!(alpha.body.contains("<title>Alpha – Tenure</title>"), "not renamed: {}", alpha.body);
    // A request to "Gamma" by name is Gamma's to answer, never Alpha's.
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let gamma = format!("/organisations/{}/relationships", org(GAMMA));
    let page = ada.get(&gamma).await;
    assert!(!page.body.contains("Waiting for Alpha"), "{}", page.body);
}

/// The picker (issue 15): a plain GET search lists other organisations by name (names are
/// public), and choosing one posts its id. The attack: a coordinator picks unrelated
/// Gamma (or posts its id by hand) to add it as a managing agent without its consent; it
/// becomes a request, and nothing of Gamma is reached until Gamma accepts.
#[tokio::test]
async fn the_picker_finds_organisations_by_name_and_an_add_by_id_still_needs_consent() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let alpha = format!("/organisations/{}/relationships", org(ALPHA));
    let page = cora.get(&alpha).await;
    assert!(page.body.contains(r#"<input class="govuk-input govuk-!-width-two-thirds" id="search" name="search" type="search""#));
    assert!(!page.body.contains(r#"name="other" type="radio""#), "no list before a search");
    let page = cora.get(&format!("{alpha}?search=a")).await;
    assert_eq!(page.status, StatusCode::OK);
    for other in [org(2), org(GAMMA)] {
        assert!(page.body.contains(&format!(r#"type="radio" value="{other}""#)), "{}", page.body);
    }
    assert!(!page.body.contains(&format!(r#"type="radio" value="{}""#, org(ALPHA))), "not itself");
    assert!(page.body.contains(r#"name="change" value="add-managing-agent""#));
    let page = cora.get(&format!("{alpha}?search=zzz")).await;
    assert!(page.body.contains("No other active organisation matches"));
    // Nothing chosen: says what to do, and shows the list again.
    let page = cora.post(&alpha, &[("change", "add-managing-agent"), ("search", "gam")]).await;
    assert!(page.body.contains("Choose the organisation to add"), "{}", page.body);
    assert!(page.body.contains(&format!(r#"type="radio" value="{}""#, org(GAMMA))));
    // An id nobody has: refused in words.
    let nobody = "00000000-0000-0000-0000-0000000000ff";
    let page = cora.post(&alpha, &[("change", "add-managing-agent"), ("other", nobody)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("There is a problem"), "{}", page.body);

    // The attack, by the picker's id.
    let page = cora.post(&alpha, &[("change", "add-managing-agent"), ("other", &org(GAMMA))]).await;
    assert_eq!(page.location(), format!("{alpha}?done=requested"));
    assert_eq!(cora.get(&format!("/users/{}", id(CAT_ID))).await.status, StatusCode::NOT_FOUND);
    assert!(!cora.get("/users").await.body.contains("cat@example.com"));
    let gamma = format!("/organisations/{}", org(GAMMA));
    assert_eq!(cora.get(&gamma).await.status, StatusCode::NOT_FOUND);
    // Nor can she pick Gamma as a stock owner to reach it the other way.
    cora.get(&alpha).await;
    let page = cora.post(&alpha, &[("change", "add-stock-owner"), ("other", &org(GAMMA))]).await;
    assert!(page.status.is_success() || page.status.is_redirection(), "{}", page.status);
    assert_eq!(cora.get(&format!("/users/{}", id(CAT_ID))).await.status, StatusCode::NOT_FOUND);
    // And the picker is only for those who manage the organisation's relationships: a
    // coordinator cannot search from Gamma's page.
    let page = cora.get(&format!("{gamma}/relationships?search=a")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}
