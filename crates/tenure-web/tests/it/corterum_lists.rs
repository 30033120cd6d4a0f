//! Router tests for Corterum's lists that scale and user account changes (issue 15,
//! Corterum 6): entities, groups, roles and user accounts searched, filtered and paged
//! (20 a page, page links keeping the filters) by the store within the viewer's reach;
//! usernames and email addresses changed (the engine's email rule: an equal peer
//! cannot); deactivating, reactivating (every role comes back) and deleting (the entity
//! stays, audited). The attacks, as an administrator of the FCA only: the PSR's accounts
//! and entities are never listed, by search or by a crafted company filter, and their
//! URLs answer "not found" for every action.

use axum::http::StatusCode;
use tenure_core::{AuditName, AuditQuery, ChangeStore as _, Page, Write};
use tenure_domain::role::builtin::{CONDUCT_RULES_STAFF, CORTERUM_ADMINISTRATOR, SENIOR_MANAGER};
use tenure_domain::{
    Email, Entity, EntityId, EntityKind, Name, OrgId, RoleId, User, UserId, UserLinks,
};
use uuid::Uuid;

use crate::corterum::{FCA, accept, corterum_site, create_account};
use crate::{Client, Site};

const PSR: u128 = 2;

fn company(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}

/// Entities straight into the store: `count` of a kind named `prefix NN`, of a company.
async fn seed_entities(
    site: &Site,
    base: u128,
    prefix: &str,
    kind: EntityKind,
    count: u128,
    c: u128,
) {
    let writes = (0..count)
        .map(|i| {
            let mut e = Entity::new(
                EntityId::from_uuid(Uuid::from_u128(base + i)),
                kind,
                Name::parse(&format!("{prefix} {i:02}")).unwrap(),
            );
            e.set_companies(vec![company(c)]);
            Write::UpsertEntity(e)
        })
        .collect();
    site.store.apply(writes, Vec::new()).await.unwrap();
}

/// Accounts straight into the store: `count` users `prefix NN@example.com` holding
/// `role`, of a company (active, with no invitation pending).
async fn seed_accounts(
    site: &Site,
    base: u128,
    prefix: &str,
    role: RoleId,
    count: u128,
    c: u128,
) -> Vec<UserId> {
    let mut ids = Vec::new();
    let mut writes = Vec::new();
    for i in 0..count {
        let id = UserId::from_uuid(Uuid::from_u128(base + i));
        let email = format!("{prefix}{i:02}@example.com");
        writes.push(Write::InsertUser(User::new(
            id,
            Name::parse(&format!("{prefix} {i:02}")).unwrap(),
            Email::parse(&email).unwrap(),
            company(c),
            vec![role],
        )));
        writes.push(Write::SetUserLinks {
            user: id,
            links: UserLinks { entity: None, companies: vec![company(c)] },
            username: email,
        });
        ids.push(id);
    }
    site.store.apply(writes, Vec::new()).await.unwrap();
    ids
}

/// How many rows a list page's table has.
fn rows(body: &str) -> usize {
    body.matches("<tr class=\"govuk-table__row\">").count().saturating_sub(1)
}

/// The next page's link, unescaped.
fn next_link(body: &str) -> String {
    let at = body.find("rel=\"next\"").expect("a next link");
    let href = body[..at].rfind("href=\"").expect("href") + "href=\"".len();
    body[href..at].trim_end().trim_end_matches('"').replace("&amp;", "&").replace("&#38;", "&")
}

fn version_in(body: &str) -> String {
    let field = "name=\"version\" value=\"";
    let at = body.find(field).expect("a version field") + field.len();
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}

/// The root, and an FCA administrator (a Corterum Administrator of the FCA only,
/// signed in).
async fn fca_administrator(site: &Site) -> (Client<'_>, Client<'_>, String) {
    let mut root = Client::new(site);
    root.sign_in("root@example.com").await;
    let admin = create_account(&mut root, "fcaadmin", CORTERUM_ADMINISTRATOR, FCA).await;
    accept(site, "fcaadmin@example.com").await;
    let mut client = Client::new(site);
    client.sign_in("fcaadmin@example.com").await;
    (root, client, admin)
}

#[tokio::test]
async fn entity_lists_search_filter_and_page_within_the_companies() {
    let site = corterum_site().await;
    seed_entities(&site, 0x1000, "Person", EntityKind::Person, 25, FCA).await;
    seed_entities(&site, 0x2000, "Firm", EntityKind::Business, 12, FCA).await;
    seed_entities(&site, 0x3000, "Hidden", EntityKind::Person, 8, PSR).await;
    let (mut root, mut admin, _) = fca_administrator(&site).await;

    let first = admin.get("/administration/entities").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(rows(&first.body), 20, "20 a page");
    assert!(first.body.contains("Showing 1 to 20 of 37 entities"), "{}", first.body);
    assert!(first.body.contains("Financial Conduct Authority"), "the companies column");
    assert!(!first.body.contains("Hidden"));

    // Search and a type filter; page 2 keeps both.
    let people = admin.get("/administration/entities?q=person&type=person").await;
    assert!(people.body.contains("Showing 1 to 20 of 25 entities"), "{}", people.body);
    let next = next_link(&people.body);
    assert!(next.contains("q=person") && next.contains("type=person") && next.contains("page=2"));
    let second = admin.get(&next).await;
    assert!(second.body.contains("Showing 21 to 25 of 25 entities"), "{}", second.body);
    assert_eq!(rows(&second.body), 5);
    assert!(second.body.contains("Person 24") && !second.body.contains("Firm"));
    assert!(!second.body.contains("rel=\"next\""), "no page 3");
    let firms = admin.get("/administration/entities?type=business").await;
    assert!(firms.body.contains("of 12 entities") && !firms.body.contains("Person 0"));

    // Attack: the PSR by search, by a crafted company filter, by id.
    let psr = company(PSR).to_string();
    assert!(
        admin.get("/administration/entities?q=hidden").await.body.contains("No entities match")
    );
    let crafted = admin.get(&format!("/administration/entities?company={psr}")).await;
    assert!(crafted.body.contains("No entities match"), "{}", crafted.body);
    assert!(!crafted.body.contains("Hidden"));
    let hidden = EntityId::from_uuid(Uuid::from_u128(0x3000));
    let by_id = admin.get(&format!("/administration/entities/{hidden}")).await;
    assert_eq!(by_id.status, StatusCode::NOT_FOUND);

    // The root reaches every company, and filters by one.
    let all = root.get("/administration/entities").await;
    assert!(all.body.contains("of 45 entities"), "{}", all.body);
    let of_psr = root.get(&format!("/administration/entities?company={psr}")).await;
    assert!(of_psr.body.contains("Showing 1 to 8 of 8 entities"), "{}", of_psr.body);
}

#[tokio::test]
async fn group_and_role_lists_search_and_page() {
    let site = corterum_site().await;
    seed_entities(&site, 0x1000, "Person", EntityKind::Person, 3, FCA).await;
    seed_entities(&site, 0x3000, "Hidden", EntityKind::Person, 2, PSR).await;
    let (mut root, mut admin, _) = fca_administrator(&site).await;
    // 22 groups holding an FCA and a PSR person, and 23 roles, through the forms.
    let fca_person = EntityId::from_uuid(Uuid::from_u128(0x1000)).to_string();
    let psr_person = EntityId::from_uuid(Uuid::from_u128(0x3000)).to_string();
    for i in 0..22 {
        root.get("/administration/groups/new?type=person").await;
        let name = format!("Team {i:02}");
        let saved = root
            .post(
                "/administration/groups/new",
                &[
                    ("type", "person"),
                    ("name", &name),
                    ("description", "A team"),
                    ("members", &fca_person),
                    ("members", &psr_person),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    }
    for i in 0..23 {
        root.get("/administration/roles/new").await;
        let name = format!("Custom {i:02}");
        let saved = root
            .post("/administration/roles/new", &[("name", &name), ("description", "Made here")])
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    }

    let groups = admin.get("/administration/groups").await;
    assert_eq!(groups.status, StatusCode::OK);
    assert_eq!(rows(&groups.body), 20);
    assert!(groups.body.contains("Showing 1 to 20 of 23 groups"), "{}", groups.body);
    assert!(groups.body.contains("All People") && groups.body.contains("Every person (3)"));
    let teams = admin.get("/administration/groups?q=team&type=person").await;
    assert!(teams.body.contains("of 22 groups") && !teams.body.contains("All People"));
    let next = next_link(&teams.body);
    assert!(next.contains("q=team") && next.contains("type=person") && next.contains("page=2"));
    let second = admin.get(&next).await;
    assert_eq!(rows(&second.body), 2);
    // The administrator counts the FCA member only; the root both.
    assert!(second.body.contains("<td class=\"govuk-table__cell\">1</td>"), "{}", second.body);
    let for_root = root.get("/administration/groups?q=team%2021").await;
    assert!(for_root.body.contains("<td class=\"govuk-table__cell\">2</td>"), "{}", for_root.body);
    assert!(
        admin.get("/administration/groups?type=business").await.body.contains("No groups match")
    );

    let roles = admin.get("/administration/roles").await;
    assert!(roles.body.contains("Showing 1 to 20 of 27 roles"), "{}", roles.body);
    assert!(roles.body.contains("Out of the box") && roles.body.contains("Custom 00"));
    let custom = admin.get("/administration/roles?q=custom").await;
    assert!(custom.body.contains("of 23 roles") && !custom.body.contains("Out of the box"));
    let page2 = admin.get(&next_link(&custom.body)).await;
    assert_eq!(rows(&page2.body), 3);
    assert!(page2.body.contains("Custom 22"));
    let senior = admin.get("/administration/roles?q=senior").await;
    assert!(senior.body.contains("Showing 1 to 1 of 1 roles"), "{}", senior.body);
}

#[tokio::test]
async fn account_lists_search_filter_and_page_and_never_show_another_company() {
    let site = corterum_site().await;
    let staff = seed_accounts(&site, 0x5000, "staff", CONDUCT_RULES_STAFF, 22, FCA).await;
    let psr = seed_accounts(&site, 0x6000, "pat", CONDUCT_RULES_STAFF, 3, PSR).await;
    let (mut root, mut admin, admin_id) = fca_administrator(&site).await;

    let first = admin.get("/administration/users").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(rows(&first.body), 20);
    // 22 staff, the root and the administrator.
    assert!(first.body.contains("Showing 1 to 20 of 24 user accounts"), "{}", first.body);
    assert!(
        first.body.contains("Conduct Rules Staff")
            && first.body.contains("Financial Conduct Authority")
    );
    assert!(!first.body.contains("pat0"));

    // Filters: role, status (after a deactivation), search; page 2 keeps them.
    let admins = admin.get(&format!("/administration/users?role={CORTERUM_ADMINISTRATOR}")).await;
    assert!(admins.body.contains("Showing 1 to 1 of 1 user accounts"), "{}", admins.body);
    assert!(admins.body.contains(&admin_id));
    let page = admin.get(&format!("/administration/users/{}", staff[0])).await;
    let off = admin
        .post(
            &format!("/administration/users/{}/deactivate", staff[0]),
            &[("version", &version_in(&page.body))],
        )
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    let deactivated = admin.get("/administration/users?status=deactivated").await;
    assert!(
        deactivated.body.contains("of 1 user accounts") && deactivated.body.contains("staff00")
    );
    let active = admin.get("/administration/users?q=STAFF&status=active").await;
    assert!(active.body.contains("Showing 1 to 20 of 21 user accounts"), "{}", active.body);
    let next = next_link(&active.body);
    assert!(next.contains("q=STAFF") && next.contains("status=active") && next.contains("page=2"));
    let second = admin.get(&next).await;
    assert_eq!(rows(&second.body), 1);
    assert!(second.body.contains("staff21@example.com"));
    assert!(
        admin
            .get("/administration/users?q=example.com&status=deactivated")
            .await
            .body
            .contains("staff00")
    );

    // Attack: the PSR's accounts by search, a crafted company filter, and every URL.
    assert!(admin.get("/administration/users?q=pat").await.body.contains("No user accounts match"));
    let crafted = admin.get(&format!("/administration/users?company={}", company(PSR))).await;
    assert!(crafted.body.contains("No user accounts match"), "{}", crafted.body);
    let pat = psr[0];
    for path in ["", "/email", "/delete"] {
        let got = admin.get(&format!("/administration/users/{pat}{path}")).await;
        assert_eq!(got.status, StatusCode::NOT_FOUND, "GET {path}");
    }
    admin.get("/administration/users").await;
    for (path, fields) in [
        ("/deactivate", vec![("version", "1")]),
        ("/reactivate", vec![("version", "1")]),
        ("/delete", vec![("version", "1")]),
        ("/email", vec![("version", "1"), ("email", "mine@example.com"), ("current_password", "")]),
        (
            "",
            vec![
                ("version", "1"),
                ("username", "mine"),
                ("roles", &*CONDUCT_RULES_STAFF.to_string()),
                ("companies", &*company(FCA).to_string()),
            ],
        ),
    ] {
        let got = admin.post(&format!("/administration/users/{pat}{path}"), &fields).await;
        assert_eq!(got.status, StatusCode::NOT_FOUND, "POST {path}: {}", got.body);
    }
    let untouched = site.store.user(pat).await.unwrap().unwrap();
    assert!(untouched.value.active && untouched.version == 1, "nothing changed");
    assert!(site.mailer.last_token_for("mine@example.com").is_none());

    // The root sees every company's accounts and filters by one (the PSR's three, and
    // the root, linked to both companies).
    let of_psr = root.get(&format!("/administration/users?company={}", company(PSR))).await;
    assert!(of_psr.body.contains("Showing 1 to 4 of 4 user accounts"), "{}", of_psr.body);
    assert!(of_psr.body.contains("pat02@example.com") && !of_psr.body.contains("staff"));
}

#[tokio::test]
async fn usernames_and_email_addresses_change_by_the_engines_rule() {
    let site = corterum_site().await;
    let staff = seed_accounts(&site, 0x5000, "staff", CONDUCT_RULES_STAFF, 2, FCA).await;
    let (mut root, mut admin, _) = fca_administrator(&site).await;
    let peer = create_account(&mut root, "peer", CORTERUM_ADMINISTRATOR, FCA).await;
    let fca = company(FCA).to_string();
    let role = CONDUCT_RULES_STAFF.to_string();

    // A new username, saved with the rest of the form; one taken is refused.
    let page = admin.get(&format!("/administration/users/{}", staff[0])).await;
    let renamed = admin
        .post(
            &format!("/administration/users/{}", staff[0]),
            &[
                ("version", &version_in(&page.body)),
                ("username", "s.zero"),
                ("roles", &role),
                ("companies", &fca),
            ],
        )
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
    assert!(admin.get("/administration/users?q=s.zero").await.body.contains(">s.zero</a>"));
    let page = admin.get(&format!("/administration/users/{}", staff[1])).await;
    let taken = admin
        .post(
            &format!("/administration/users/{}", staff[1]),
            &[
                ("version", &version_in(&page.body)),
                ("username", "S.ZERO"),
                ("roles", &role),
                ("companies", &fca),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::OK);
    assert!(taken.body.contains("govuk-error-summary"), "{}", taken.body);

    // An equal peer (both Administrators) cannot change another's email address.
    let page = admin.get(&format!("/administration/users/{peer}/email")).await;
    assert_eq!(page.status, StatusCode::OK);
    let refused = admin
        .post(
            &format!("/administration/users/{peer}/email"),
            &[
                ("version", &version_in(&page.body)),
                ("email", "peer2@example.com"),
                ("current_password", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(site.mailer.last_token_for("peer2@example.com").is_none());

    // The root outranks them: a link goes to the new address, and the address changes
    // when it is used.
    let page = root.get(&format!("/administration/users/{}/email", staff[1])).await;
    let sent = root
        .post(
            &format!("/administration/users/{}/email", staff[1]),
            &[
                ("version", &version_in(&page.body)),
                ("email", "new01@example.com"),
                ("current_password", ""),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let shown = root.get(sent.location()).await;
    assert!(shown.body.contains("We have sent a link to the new email address"));
    assert!(shown.body.contains("staff01@example.com"), "unchanged until confirmed");
    let token = site.mailer.last_token_for("new01@example.com").expect("a confirmation link");
    let mut browser = Client::new(&site);
    browser.get(&format!("/account/confirm-email?token={token}")).await;
    let confirmed = browser.post("/account/confirm-email", &[("token", &token)]).await;
    assert!(
        confirmed.status.is_success() || confirmed.status.is_redirection(),
        "{}",
        confirmed.body
    );
    let now = site.store.user(staff[1]).await.unwrap().unwrap();
    assert_eq!(now.value.email.as_str(), "new01@example.com");
}

#[tokio::test]
async fn reactivating_gives_back_every_role_and_deleting_keeps_the_entity() {
    let site = corterum_site().await;
    let (mut root, _admin, _) = fca_administrator(&site).await;
    let fca = company(FCA).to_string();

    // An account with two roles, accepted, deactivated, reactivated.
    root.get("/administration/users/new").await;
    let made = root
        .post(
            "/administration/users/new",
            &[
                ("username", "multi@example.com"),
                ("email", "multi@example.com"),
                ("roles", &SENIOR_MANAGER.to_string()),
                ("roles", &CONDUCT_RULES_STAFF.to_string()),
                ("companies", &fca),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    accept(&site, "multi@example.com").await;
    let list = root.get("/administration/users?q=multi").await;
    let at = list.body.find(">multi@example.com</a>").unwrap();
    let href = list.body[..at].rfind("/administration/users/").unwrap();
    let multi = list.body[href + "/administration/users/".len()..at - 1].to_owned();
    let multi_id = UserId::from_uuid(Uuid::parse_str(&multi).unwrap());
    let both = vec![SENIOR_MANAGER, CONDUCT_RULES_STAFF];
    let held = |u: &User| {
        let mut r = u.roles.clone();
        r.sort_unstable();
        r
    };
    let mut expected = both.clone();
    expected.sort_unstable();

    let page = root.get(&format!("/administration/users/{multi}")).await;
    let off = root
        .post(
            &format!("/administration/users/{multi}/deactivate"),
            &[("version", &version_in(&page.body))],
        )
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    let page = root.get(off.location()).await;
    assert!(page.body.contains("Reactivate account") && page.body.contains("Delete account"));
    let on = root
        .post(
            &format!("/administration/users/{multi}/reactivate"),
            &[("version", &version_in(&page.body))],
        )
        .await;
    assert_eq!(on.status, StatusCode::SEE_OTHER, "{}", on.body);
    accept(&site, "multi@example.com").await;
    let after = site.store.user(multi_id).await.unwrap().unwrap().value;
    assert!(after.active);
    assert_eq!(held(&after), expected, "every role comes back, not only the first");
    let mut back = Client::new(&site);
    back.sign_in("multi@example.com").await;
    assert_eq!(back.get("/reports").await.status, StatusCode::OK, "the Senior Manager's reports");

    // Deleting: an entity linked, the account deactivated, a confirmation page, then the
    // account is gone and the entity stays; the deletion is audited.
    let entity = crate::corterum::entity(&mut root, "Dee Leted", &fca).await;
    root.get("/administration/users/new").await;
    let made = root
        .post(
            "/administration/users/new",
            &[
                ("username", "dee@example.com"),
                ("email", "dee@example.com"),
                ("entity", &entity),
                ("roles", &CONDUCT_RULES_STAFF.to_string()),
                ("companies", &fca),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let list = root.get("/administration/users?q=dee").await;
    assert!(list.body.contains("Dee Leted"), "the linked entity column");
    let at = list.body.find(">dee@example.com</a>").unwrap();
    let href = list.body[..at].rfind("/administration/users/").unwrap();
    let dee = list.body[href + "/administration/users/".len()..at - 1].to_owned();
    let page = root.get(&format!("/administration/users/{dee}")).await;
    let early = root
        .post(
            &format!("/administration/users/{dee}/delete"),
            &[("version", &version_in(&page.body))],
        )
        .await;
    assert_eq!(early.status, StatusCode::FORBIDDEN, "only a deactivated account is deleted");
    let page = root.get(&format!("/administration/users/{dee}")).await;
    root.post(
        &format!("/administration/users/{dee}/deactivate"),
        &[("version", &version_in(&page.body))],
    )
    .await;
    let confirm = root.get(&format!("/administration/users/{dee}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Are you sure you want to delete dee@example.com?"));
    assert!(confirm.body.contains("The linked entity, Dee Leted, is kept"), "{}", confirm.body);
    let deleted = root
        .post(
            &format!("/administration/users/{dee}/delete"),
            &[("version", &version_in(&confirm.body))],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert!(
        root.get(deleted.location())
            .await
            .body
            .contains("User account deleted; their entity is kept")
    );
    assert_eq!(
        root.get(&format!("/administration/users/{dee}")).await.status,
        StatusCode::NOT_FOUND
    );
    let kept = root.get(&format!("/administration/entities/{entity}")).await;
    assert_eq!(kept.status, StatusCode::OK);
    assert!(kept.body.contains("Dee Leted"));
    let query = AuditQuery { name: Some(AuditName::UserDelete), ..AuditQuery::default() };
    let audited = site.store.audit(&query, Page::numbered(1, 20)).await.unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].target_user.map(|u| u.to_string()), Some(dee));
}
