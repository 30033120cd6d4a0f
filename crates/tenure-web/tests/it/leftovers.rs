//! Leftovers of issue 11 through the router: a user of a deactivated organisation is shown
//! as deactivated with only the actions the engine allows; a Corterum account's
//! invitation can be resent; the invitation form exists only for someone who may give one
//! of its roles into some organisation.

use axum::http::StatusCode;
use tenure_domain::role::builtin::{CONDUCT_RULES_STAFF, CORTERUM_ADMINISTRATOR};

use crate::corterum::{FCA, PSR, accept, corterum_site, create_account};
use crate::{ADA, CAT, CORA, Client, id, org, site};

fn version_in(body: &str) -> String {
    let field = "name=\"version\" value=\"";
    let at = body.find(field).expect("a version field") + field.len();
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}

/// Ada deactivates Gamma. Cat, its data provider, is shown as deactivated (on her page,
/// in the list and in the download), and no Deactivate button is offered: the engine
/// refuses it until Gamma is reactivated, which shows her as active again.
#[tokio::test]
async fn a_user_of_a_deactivated_organisation_is_shown_deactivated() {
    let site = site().await;
    let mut ada = Client::new(&site);
    ada.sign_in(ADA).await;
    let (gamma, cat) = (org(3), id(6));
    let before = ada.get(&format!("/users/{cat}")).await;
    assert!(before.body.contains("Deactivate user"), "{}", before.body);

    let confirm = ada.get(&format!("/organisations/{gamma}/deactivate")).await;
    let version = version_in(&confirm.body);
    let done =
        ada.post(&format!("/organisations/{gamma}/deactivate"), &[("version", &version)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    let page = ada.get(&format!("/users/{cat}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Deactivated"), "{}", page.body);
    assert!(!page.body.contains(">Active<"), "{}", page.body);
    assert!(!page.body.contains("Deactivate user"), "{}", page.body);
    assert!(!page.body.contains(&format!("/users/{cat}/deactivate")), "{}", page.body);
    assert!(!page.body.contains("Reactivate user"), "the organisation restores her, not this");
    let list = ada.get(&format!("/users?organisation={gamma}")).await;
    assert!(list.body.contains("Deactivated"), "{}", list.body);
    let csv = ada.get("/users/download").await;
    let line = csv.body.lines().find(|l| l.contains(CAT)).expect("Cat's line");
    assert!(line.contains(",Deactivated,"), "{line}");
    // Posting it anyway is refused.
    let refused = ada.post(&format!("/users/{cat}/deactivate"), &[("version", "1")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    let confirm = ada.get(&format!("/organisations/{gamma}/reactivate")).await;
    let version = version_in(&confirm.body);
    ada.post(&format!("/organisations/{gamma}/reactivate"), &[("version", &version)]).await;
    let page = ada.get(&format!("/users/{cat}")).await;
    assert!(page.body.contains("Deactivate user"), "{}", page.body);
}

/// Resending a Corterum account's invitation works on its page in Corterum's
/// administration (CORE's `/users/{id}/resend-invitation` is the housing side's: "not
/// found" for a company's account), and only the new link opens the account. A user
/// administrator covering the account's company may resend it; one of another company
/// gets "not found", the same page as for an id naming nothing, and nothing is sent.
#[tokio::test]
async fn a_corterum_invitation_can_be_resent() {
    let site = corterum_site().await;
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    create_account(&mut root, "second", CORTERUM_ADMINISTRATOR, FCA).await;
    create_account(&mut root, "other", CORTERUM_ADMINISTRATOR, PSR).await;
    accept(&site, "second@example.com").await;
    accept(&site, "other@example.com").await;
    let staff = create_account(&mut root, "staff", CONDUCT_RULES_STAFF, FCA).await;
    let first = site.mailer.last_token_for("staff@example.com").expect("an invitation");
    let path = format!("/administration/users/{staff}");
    let page = root.get(&path).await;
    assert!(page.body.contains(">Invited</strong>"), "{}", page.body);
    assert!(page.body.contains("Resend invitation"), "{}", page.body);
    let core = root.get(&format!("/users/{staff}/resend-invitation")).await;
    assert_eq!(core.status, StatusCode::NOT_FOUND, "{}", core.body);

    // The PSR's administrator: not found, as for nobody; nothing sent.
    let mut other = Client::new(&site);
    other.sign_in("other@example.com").await;
    let nobody = uuid::Uuid::from_u128(0xdead);
    let sent = site.mailer.sent().len();
    for step in ["resend-invitation", "withdraw-invitation"] {
        let refused = other.post(&format!("{path}/{step}"), &[]).await;
        let none = other.post(&format!("/administration/users/{nobody}/{step}"), &[]).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{step}: {}", refused.body);
        assert_eq!(refused.body, none.body, "{step}");
    }
    assert_eq!(site.mailer.sent().len(), sent, "nothing was sent");
    assert_eq!(site.mailer.last_token_for("staff@example.com").as_deref(), Some(first.as_str()));

    // The FCA's second administrator resends it: a new link, the old one dead.
    let mut second = Client::new(&site);
    second.sign_in("second@example.com").await;
    second.get(&path).await;
    let resent = second.post(&format!("{path}/resend-invitation"), &[]).await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER, "{}", resent.body);
    assert_eq!(resent.location(), format!("{path}?done=resent"));
    let page = second.get(resent.location()).await;
    assert!(page.body.contains("Invitation sent again"), "{}", page.body);
    let fresh = site.mailer.last_token_for("staff@example.com").expect("a new invitation");
    assert_ne!(first, fresh);
    let mut old = Client::new(&site);
    assert_eq!(
        old.get(&format!("/account/create?token={first}")).await.location(),
        "/account/link-expired"
    );
    accept(&site, "staff@example.com").await;
    let page = root.get(&path).await;
    assert!(page.body.contains(">Active</strong>"), "{}", page.body);
    assert!(!page.body.contains("Resend invitation"), "{}", page.body);
    // Accepted: nothing to send again.
    let again = root.post(&format!("{path}/resend-invitation"), &[]).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{}", again.body);
    assert!(again.body.contains("already accepted their invitation"), "{}", again.body);
}

/// A Corterum administrator may invite into their companies, but with no role of the
/// invitation form (CORE's): the form is not found for them. A data coordinator still
/// has it.
#[tokio::test]
async fn the_invite_form_needs_a_role_it_offers() {
    let site = corterum_site().await;
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    create_account(&mut root, "second", CORTERUM_ADMINISTRATOR, FCA).await;
    accept(&site, "second@example.com").await;
    let mut second = Client::new(&site);
    second.sign_in("second@example.com").await;
    assert_eq!(second.get("/administration/users/new").await.status, StatusCode::OK);
    let page = second.get("/users/invite").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
    let page =
        second.post("/users/invite", &[("name", "Nina"), ("email", "nina@example.com")]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);

    let core = crate::site().await;
    let mut cora = Client::new(&core);
    cora.sign_in(CORA).await;
    assert_eq!(cora.get("/users/invite").await.status, StatusCode::OK);
}
