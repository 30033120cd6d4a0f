//! CORE's screens of issue 15 through the real router: users for coordinators with an
//! organisation filter, the navigation's current page, and each attack a coordinator of
//! one organisation could try on them, kept as a regression test.

use axum::http::StatusCode;

use crate::{ADA, CORA, Client, org, site};

const ALPHA: u128 = 1;
const BETA: u128 = 2;
const GAMMA: u128 = 3;

#[tokio::test]
async fn a_coordinator_lists_the_users_of_her_organisation_and_its_managing_agents() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    let page = cora.get("/users").await;
    assert_eq!(page.status, StatusCode::OK);
    // "Users" is in her header, marked as the current page.
    assert!(
        page.body.contains(r#"href="/users" aria-current="page">Users</a>"#),
        "Users in the header, current: {}",
        page.body
    );
    assert!(!page.body.contains(r#"href="/logs" aria-current"#));
    // Alpha's and Beta's users (Beta is Alpha's managing agent), never Gamma's.
    for email in ["cora@example.com", "pete@example.com", "bea@example.com"] {
        assert!(page.body.contains(email), "{email} is listed");
    }
    assert!(!page.body.contains("cat@example.com"));
    // The filter offers exactly the organisations whose users she may see.
    assert!(page.body.contains(&format!(r#"<option value="{}">Alpha</option>"#, org(ALPHA))));
    assert!(page.body.contains(&format!(r#"<option value="{}">Beta</option>"#, org(BETA))));
    assert!(!page.body.contains("Gamma"), "Gamma is not offered");

    let beta = cora.get(&format!("/users?organisation={}", org(BETA))).await;
    assert_eq!(beta.status, StatusCode::OK);
    assert!(beta.body.contains("Users of Beta"));
    assert!(beta.body.contains("bea@example.com") && !beta.body.contains("pete@example.com"));
    assert!(
        beta.body.contains(&format!(r#"<option value="{}" selected>Beta</option>"#, org(BETA))),
        "the chosen organisation stays chosen"
    );
}

#[tokio::test]
async fn naming_an_organisation_out_of_reach_in_the_users_filter_is_not_found() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in(CORA).await;
    // The attack: name unrelated Gamma (or any id) in the filter to learn its name or
    // whether it exists. Gamma, an id that names nothing and text that is no id all
    // answer alike.
    let missing = uuid::Uuid::from_u128(999).to_string();
    for named in [org(GAMMA), missing, "gamma".to_owned()] {
        let page = cora.get(&format!("/users?organisation={named}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{named}");
        assert!(page.body.contains("Page not found"));
        assert!(!page.body.contains("Gamma") && !page.body.contains("cat@example.com"));
    }
    // A provider of Alpha sees Alpha's users, and Beta is out of her reach.
    let mut pete = Client::new(&site);
    pete.sign_in("pete@example.com").await;
    let page = pete.get(&format!("/users?organisation={}", org(BETA))).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains("Beta"));
    let page = pete.get(&format!("/users?organisation={}", org(ALPHA))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Users of Alpha") && !page.body.contains("bea@example.com"));

    // An administrator reaches every organisation's users by its id.
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let page = ada.get(&format!("/users?organisation={}", org(GAMMA))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Users of Gamma") && page.body.contains("cat@example.com"));
    assert!(!page.body.contains("pete@example.com"));
}
