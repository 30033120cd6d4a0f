//! Corterum's Companies screen through the router, on a world with both sides: Corterum
//! companies (the FCA, the PSR) and CORE housing organisations (Alpha Homes, Beta
//! Lettings). The root administrator lists, adds and edits companies and sees each one's
//! entities and users; a stale edit is 409. Attacks, each kept as a test: an
//! administrator of the PSR asks for the FCA, a CORE organisation and its users; the root
//! administrator asks for CORE's organisations and users; CORE's administrator and
//! coordinator look for companies in their lists and pickers.

use axum::http::StatusCode;
use tenure_core::{AccountStore, AuditName, ChangeStore, Invite, ManageError, PersonInput};
use tenure_domain::role::builtin::{
    ADMINISTRATOR, CORTERUM_ADMINISTRATOR, DATA_COORDINATOR, ROOT_ADMINISTRATOR,
};
use tenure_domain::{
    Email, Entity, EntityId, EntityKind, Feature, FeatureSet, Group, GroupId, Name, OrgId,
    Organisation, Relationship, RoleCatalogue, RoleForm, RoleId, User, UserId, UserLinks, World,
};
use uuid::Uuid;

use crate::{Client, Site, site_with};

const FCA: u128 = 0xc1;
const PSR: u128 = 0xc2;
const ALPHA: u128 = 0xa1;
const BETA: u128 = 0xa2;

fn org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}

fn person(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0x1000 + n))
}

fn add_user(w: &mut World, n: u128, name: &str, email: &str, at: u128, role: RoleId) {
    w.upsert_user(User::new(
        person(n),
        Name::parse(name).unwrap(),
        Email::parse(email).unwrap(),
        org(at),
        vec![role],
    ))
    .unwrap();
}

/// Two companies with an entity each and their administrators; two housing
/// organisations, related, with CORE's administrator, a coordinator and a provider.
fn world() -> World {
    let mut w = World::with_roles(RoleCatalogue::with_corterum());
    for (n, name) in [(FCA, "Financial Conduct Authority"), (PSR, "Payment Systems Regulator")] {
        w.insert_organisation(Organisation::company(org(n), Name::parse(name).unwrap())).unwrap();
    }
    for (n, name) in [(ALPHA, "Alpha Homes"), (BETA, "Beta Lettings")] {
        w.insert_organisation(Organisation::new(org(n), Name::parse(name).unwrap())).unwrap();
    }
    w.add_relationship(Relationship { stock_owner: org(ALPHA), managing_agent: org(BETA) })
        .unwrap();
    add_user(&mut w, 1, "Root", "root@example.com", FCA, ROOT_ADMINISTRATOR);
    add_user(&mut w, 2, "Pam Admin", "pam@example.com", PSR, CORTERUM_ADMINISTRATOR);
    w.set_user_links(person(2), UserLinks { entity: None, companies: vec![org(PSR)] }).unwrap();
    add_user(&mut w, 3, "Ada Admin", "ada@example.com", ALPHA, ADMINISTRATOR);
    add_user(&mut w, 4, "Cora Coordinator", "cora@example.com", ALPHA, DATA_COORDINATOR);
    add_user(&mut w, 5, "Bea Provider", "bea@example.com", BETA, DATA_COORDINATOR);
    for (n, name, company) in [(1, "Joe Bloggs", FCA), (2, "Pat Jones", PSR)] {
        let mut e = Entity::new(
            EntityId::from_uuid(Uuid::from_u128(0x2000 + n)),
            EntityKind::Person,
            Name::parse(name).unwrap(),
        );
        e.companies = vec![org(company)];
        w.upsert_entity(e).unwrap();
    }
    w
}

async fn site() -> Site {
    site_with(world(), tenure_web::WebConfig::new("http://127.0.0.1:3000")).await
}

fn company(n: u128) -> String {
    format!("/administration/companies/{}", Uuid::from_u128(n))
}

#[tokio::test]
async fn the_root_administrator_lists_creates_and_edits_companies() {
    let site = site().await;
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let index = root.get("/administration").await;
    assert!(index.body.contains("href=\"/administration/companies\""), "{}", index.body);

    let list = root.get("/administration/companies").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Financial Conduct Authority"));
    assert!(list.body.contains("Payment Systems Regulator"));
    assert!(list.body.contains("Add a company"), "the root administrator may add one");
    assert!(!list.body.contains("Alpha Homes") && !list.body.contains("Beta Lettings"));

    // "+": a blank name says what is wrong; a good one lands on the new company's page.
    assert_eq!(root.get("/administration/companies/new").await.status, StatusCode::OK);
    let blank = root.post("/administration/companies/new", &[("name", " ")]).await;
    assert_eq!(blank.status, StatusCode::OK);
    assert!(blank.body.contains("There is a problem"), "{}", blank.body);
    let taken = root.post("/administration/companies/new", &[("name", "Alpha Homes")]).await;
    assert!(taken.body.contains("already has this name"), "{}", taken.body);
    let made = root
        .post(
            "/administration/companies/new",
            &[("name", "Prudential Regulation Authority"), ("registration_number", "PRA1")],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let page = root.get(made.location()).await;
    assert!(page.body.contains("Company saved") && page.body.contains("PRA1"), "{}", page.body);
    let list = root.get("/administration/companies").await;
    assert!(list.body.contains("Prudential Regulation Authority"));

    // Each company's page: its entities and users.
    let fca = root.get(&company(FCA)).await;
    assert_eq!(fca.status, StatusCode::OK);
    assert!(fca.body.contains("Joe Bloggs") && !fca.body.contains("Pat Jones"), "{}", fca.body);

    // Edit against the version shown; a second edit from the same form is stale: 409.
    let form = root.get(&format!("{}/edit", company(PSR))).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"version\" value=\"1\""), "{}", form.body);
    let fields = [
        ("name", "Payment Systems Regulator"),
        ("address", "12 Endeavour Square, London"),
        ("version", "1"),
    ];
    let saved = root.post(&format!("{}/edit", company(PSR)), &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let psr = root.get(&company(PSR)).await;
    assert!(psr.body.contains("12 Endeavour Square"));
    let stale = root.post(&format!("{}/edit", company(PSR)), &fields).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
}

#[tokio::test]
async fn an_administrator_of_one_company_reaches_no_other_and_nothing_of_cores() {
    let site = site().await;
    let mut pam = Client::new(&site);
    pam.sign_in("pam@example.com").await;
    let list = pam.get("/administration/companies").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Payment Systems Regulator"));
    assert!(!list.body.contains("Financial Conduct Authority"), "{}", list.body);
    assert!(!list.body.contains("Add a company"), "only the root administrator adds companies");
    assert_eq!(pam.get("/administration/companies/new").await.status, StatusCode::NOT_FOUND);
    let made = pam.post("/administration/companies/new", &[("name", "Mine")]).await;
    assert!(made.status != StatusCode::SEE_OTHER, "{}", made.body);
    // Her own company opens; the FCA, a CORE organisation and an unknown id do not.
    assert_eq!(pam.get(&company(PSR)).await.status, StatusCode::OK);
    for n in [FCA, ALPHA, BETA, 0xdead] {
        assert_eq!(pam.get(&company(n)).await.status, StatusCode::NOT_FOUND, "{n:x}");
        assert_eq!(pam.get(&format!("{}/edit", company(n))).await.status, StatusCode::NOT_FOUND);
        let post = pam
            .post(&format!("{}/edit", company(n)), &[("name", "Taken over"), ("version", "1")])
            .await;
        assert_eq!(post.status, StatusCode::NOT_FOUND, "{n:x}: {}", post.body);
    }
    // CORE's organisation and user pages conceal theirs too.
    let alpha = Uuid::from_u128(ALPHA);
    assert_eq!(pam.get(&format!("/organisations/{alpha}")).await.status, StatusCode::NOT_FOUND);
    let cora = person(4);
    assert_eq!(pam.get(&format!("/users/{cora}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        pam.get(&format!("/administration/users/{cora}")).await.status,
        StatusCode::NOT_FOUND
    );
    // Linking an entity to a CORE organisation by its id is refused.
    let linked = pam
        .post(
            "/administration/entities/new",
            &[("type", "person"), ("name", "Sneaky"), ("companies", &alpha.to_string())],
        )
        .await;
    assert!(linked.status != StatusCode::SEE_OTHER, "{}", linked.body);
}

#[tokio::test]
async fn the_root_administrators_all_areas_stay_on_corterums_side() {
    let site = site().await;
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    for n in [ALPHA, BETA] {
        assert_eq!(root.get(&company(n)).await.status, StatusCode::NOT_FOUND);
        let path = format!("/organisations/{}", Uuid::from_u128(n));
        let page = root.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
    }
    for n in [3, 4, 5] {
        let path = format!("/users/{}", person(n));
        let page = root.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
    }
    // Linking an entity to a CORE organisation by its id is refused, even to the root.
    let alpha = Uuid::from_u128(ALPHA).to_string();
    let linked = root
        .post(
            "/administration/entities/new",
            &[("type", "person"), ("name", "Sneaky"), ("companies", &alpha)],
        )
        .await;
    assert!(linked.status != StatusCode::SEE_OTHER, "{}", linked.body);
    assert!(linked.body.contains("Choose companies from the list"), "{}", linked.body);
    // The entity form offers companies only.
    let form = root.get("/administration/entities/new?type=person").await;
    assert!(form.body.contains("Financial Conduct Authority"));
    assert!(!form.body.contains("Alpha Homes"), "{}", form.body);
    // CORE's service-wide lists are not the root administrator's.
    let orgs = root.get("/organisations").await;
    assert!(!orgs.body.contains("Alpha Homes"), "{}", orgs.body);
    let users = root.get("/users").await;
    assert!(!users.body.contains("Ada Admin") && !users.body.contains("Cora"), "{}", users.body);
}

#[tokio::test]
async fn core_never_sees_companies_in_its_lists_and_pickers() {
    let site = site().await;
    for email in ["ada@example.com", "cora@example.com"] {
        let mut c = Client::new(&site);
        c.sign_in(email).await;
        let orgs = c.get("/organisations").await;
        assert!(!orgs.body.contains("Financial Conduct Authority"), "{email}: {}", orgs.body);
        let users = c.get("/users").await;
        assert!(!users.body.contains("Root") && !users.body.contains("Pam"), "{email}");
        for n in [FCA, PSR] {
            let path = format!("/organisations/{}", Uuid::from_u128(n));
            assert_eq!(c.get(&path).await.status, StatusCode::NOT_FOUND, "{email} {path}");
            assert_eq!(c.get(&company(n)).await.status, StatusCode::NOT_FOUND, "{email}");
        }
        for n in [1, 2] {
            let path = format!("/users/{}", person(n));
            assert_eq!(c.get(&path).await.status, StatusCode::NOT_FOUND, "{email} {path}");
        }
        // The relationship picker's search (organisation names are public in CORE, but
        // companies are not CORE's).
        let alpha = Uuid::from_u128(ALPHA);
        let control = c.get(&format!("/organisations/{alpha}/relationships?search=Lettings")).await;
        assert!(control.body.contains("Beta Lettings"), "{email}: {}", control.body);
        let picker = c.get(&format!("/organisations/{alpha}/relationships?search=Regulator")).await;
        assert!(!picker.body.contains("Payment Systems Regulator"), "{email}: {}", picker.body);
    }
}

/// The shared world with Jane, an administrator of the FCA.
async fn site_with_jane() -> Site {
    let mut w = world();
    add_user(&mut w, 6, "Jane Admin", "jane@example.com", FCA, CORTERUM_ADMINISTRATOR);
    w.set_user_links(person(6), UserLinks { entity: None, companies: vec![org(FCA)] }).unwrap();
    site_with(w, tenure_web::WebConfig::new("http://127.0.0.1:3000")).await
}

/// A page as it reads with `from` written as `to` (a path or a name the page echoes).
fn echoing(body: &str, from: &str, to: &str) -> String {
    body.replace(from, to)
}

/// Asserts two pages are the same bytes, showing where they first differ.
fn same(what: &str, left: &str, right: &str) {
    if left != right {
        let at = left.bytes().zip(right.bytes()).take_while(|(a, b)| a == b).count();
        let from = at.saturating_sub(200);
        let show = |s: &str| s.get(from..(at + 200).min(s.len())).unwrap_or_default().to_owned();
        panic!("{what}: differ at {at}:\n{}\n----\n{}", show(left), show(right));
    }
}

#[tokio::test]
async fn cores_pages_answer_a_company_and_its_users_as_nothing() {
    let site = site_with_jane().await;
    let nobody = Uuid::from_u128(0xdead);
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    // CORE's lists never show a company or its users.
    let orgs = root.get("/organisations").await;
    assert!(!orgs.body.contains("Financial Conduct Authority"), "{}", orgs.body);
    assert!(!orgs.body.contains("Payment Systems Regulator"), "{}", orgs.body);
    let users = root.get("/users").await;
    assert!(!users.body.contains("jane@example.com"), "{}", users.body);
    // Nor does the header offer CORE's screens to the company side: no "Your
    // organisation" (a company's page on CORE is "not found") and no CORE "Users".
    let home = root.get("/administration").await;
    assert!(!home.body.contains("Your organisation"), "{}", home.body);
    assert!(!home.body.contains("href=\"/users\""), "{}", home.body);
    assert!(!users.body.contains("pam@example.com"), "{}", users.body);
    // A company, or a company's user, named on a CORE page: the same bytes as nothing.
    let missing = root.get(&format!("/organisations/{nobody}/edit")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let psr = Uuid::from_u128(PSR);
    for path in [format!("/organisations/{psr}/edit"), format!("/organisations/{psr}")] {
        let page = root.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
        same(&path, &page.body, &missing.body);
    }
    // Root's own company too: the header no longer links it, so nothing marks it current.
    let fca_path = format!("/organisations/{}/edit", Uuid::from_u128(FCA));
    let fca = root.get(&fca_path).await;
    assert_eq!(fca.status, StatusCode::NOT_FOUND, "{}", fca.body);
    same(&fca_path, &fca.body, &missing.body);
    let jane = person(6).to_string();
    for step in ["edit", "move", "deactivate"] {
        let page = root.get(&format!("/users/{jane}/{step}")).await;
        let none = root.get(&format!("/users/{nobody}/{step}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{step}: {}", page.body);
        same(step, &page.body, &none.body);
    }
    let renamed =
        root.post(&format!("/users/{jane}/edit"), &[("name", "Renamed"), ("version", "1")]).await;
    assert_eq!(renamed.status, StatusCode::NOT_FOUND, "{}", renamed.body);

    // Jane, an FCA administrator, asks for the root administrator on CORE's pages.
    let mut j = Client::new(&site);
    j.sign_in("jane@example.com").await;
    let root_id = person(1).to_string();
    for step in ["edit", "move", "deactivate"] {
        let page = j.get(&format!("/users/{root_id}/{step}")).await;
        let none = j.get(&format!("/users/{nobody}/{step}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{step}: {}", page.body);
        same(step, &page.body, &none.body);
    }
    let profile = j.get(&format!("/users/{root_id}")).await;
    assert_eq!(profile.status, StatusCode::NOT_FOUND, "{}", profile.body);
}

#[tokio::test]
async fn cores_audit_trail_leaves_out_corterums_side() {
    let site = site_with_jane().await;
    // The Corterum side leaves entries: sign-ins, a company's change.
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let mut j = Client::new(&site);
    j.sign_in("jane@example.com").await;
    let edit = format!("{}/edit", company(FCA));
    root.get(&edit).await;
    let fields = [
        ("name", "Financial Conduct Authority"),
        ("address", "12 Endeavour Square, London"),
        ("version", "1"),
    ];
    let saved = root.post(&edit, &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);

    let mut ada = Client::new(&site);
    ada.sign_in("ada@example.com").await;
    let trail = ada.get("/audit").await;
    assert_eq!(trail.status, StatusCode::OK);
    assert!(trail.body.contains("ada@example.com"), "CORE's own entries: {}", trail.body);
    for other in ["root@example.com", "jane@example.com", "Financial Conduct Authority"] {
        assert!(!trail.body.contains(other), "{other}: {}", trail.body);
    }
    let csv = ada.get("/audit/download").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.contains("Ada Admin"), "{}", csv.body);
    for other in ["Root", "Jane Admin", "Financial Conduct Authority"] {
        assert!(!csv.body.contains(other), "{other}: {}", csv.body);
    }
    // A filter naming the other side matches nothing, as one naming nothing that exists.
    let by_org = ada.get("/audit?organisation=Financial+Conduct+Authority").await;
    let no_org = ada.get("/audit?organisation=Nowhere+At+All").await;
    same(
        "organisation filter",
        &echoing(&by_org.body, "Financial Conduct Authority", "X"),
        &echoing(&no_org.body, "Nowhere At All", "X"),
    );
    let by_user = ada.get("/audit?user=jane%40example.com").await;
    let no_user = ada.get("/audit?user=nobody%40example.com").await;
    same(
        "user filter",
        &echoing(&by_user.body, "jane@example.com", "X"),
        &echoing(&no_user.body, "nobody@example.com", "X"),
    );
    let root_trail = ada.get("/audit?user=root%40example.com").await;
    assert!(!root_trail.body.contains("by Root"), "{}", root_trail.body);
}

#[tokio::test]
async fn a_relationship_add_naming_a_company_answers_as_for_nothing() {
    let site = site().await;
    let mut cora = Client::new(&site);
    cora.sign_in("cora@example.com").await;
    let alpha = Uuid::from_u128(ALPHA);
    let path = format!("/organisations/{alpha}/relationships");
    cora.get(&path).await;
    let add = |other: &'static str| [("change", "add-managing-agent"), ("other", other)];
    let by_name = cora.post(&path, &add("Financial Conduct Authority")).await;
    let made_up = cora.post(&path, &add("Made Up Housing")).await;
    assert!(!by_name.body.contains("Corterum"), "{}", by_name.body);
    assert_eq!(by_name.status, made_up.status);
    same(
        "by name",
        &echoing(&by_name.body, "Financial Conduct Authority", "X"),
        &echoing(&made_up.body, "Made Up Housing", "X"),
    );
    let fca = Uuid::from_u128(FCA).to_string();
    let nobody = Uuid::from_u128(0xdead).to_string();
    let by_id = cora.post(&path, &[("change", "add-managing-agent"), ("other", &fca)]).await;
    let no_id = cora.post(&path, &[("change", "add-managing-agent"), ("other", &nobody)]).await;
    assert!(!by_id.body.contains("Corterum"), "{}", by_id.body);
    assert_eq!(by_id.status, no_id.status);
    same("by id", &echoing(&by_id.body, &fca, "X"), &echoing(&no_id.body, &nobody, "X"));
    // The relationship was not made.
    let page = cora.get(&path).await;
    assert!(!page.body.contains("Financial Conduct Authority"), "{}", page.body);
}

/// CORE's move is the housing side's, decided as one (the engine's `decide_move`): CORE's
/// administrator moving an invited Alpha user (no role until she accepts, so no
/// invitation into the destination was ever asked) into the FCA, and the root
/// administrator moving the FCA's Jane into the PSR, are each answered as an organisation
/// that does not exist, the refusal audited, and nobody moves. Both moved before.
#[tokio::test]
async fn cores_move_never_crosses_the_sides() {
    let site = site_with_jane().await;
    let manage = &site.services.manage;
    let (ada, root, jane) = (person(3), person(1), person(6));
    let invite = Invite {
        person: PersonInput {
            name: "Ivy Invited".to_owned(),
            email: "ivy@example.com".to_owned(),
            telephone: String::new(),
        },
        organisation: org(ALPHA),
        role: DATA_COORDINATOR,
    };
    let ivy = manage.invite(ada, &invite).await.unwrap();
    let nowhere = org(0xdead);
    let store = &*site.store;
    let version = |id| async move { ChangeStore::user(store, id).await.unwrap().unwrap() };
    let refusals = |id| async move {
        AccountStore::audit_for_user(store, id)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.name == AuditName::AuthzFail && e.actor != Some(id))
            .count()
    };

    // The service: a company as the destination, or a company's user, is "not found",
    // as an organisation that does not exist is; each refusal is an audit entry.
    for (actor, user, to) in [(ada, ivy, org(FCA)), (root, jane, org(PSR)), (root, jane, org(FCA))]
    {
        let before = version(user).await;
        let refused_before = refusals(user).await;
        let moved = manage.move_user(actor, user, before.version, to).await;
        assert!(matches!(moved, Err(ManageError::NotFound)), "{user} into {to}: {moved:?}");
        let after = version(user).await;
        assert_eq!(after.value.organisation, before.value.organisation, "{user} moved");
        assert_eq!(after.version, before.version, "{user} was written");
        assert_eq!(refusals(user).await, refused_before + 1, "{user} into {to}: not audited");
    }
    let missing = manage.move_user(ada, ivy, version(ivy).await.version, nowhere).await;
    assert!(matches!(missing, Err(ManageError::NotFound)), "{missing:?}");
    // Between housing organisations the move is as before.
    manage.move_user(ada, ivy, version(ivy).await.version, org(BETA)).await.unwrap();
    assert_eq!(version(ivy).await.value.organisation, org(BETA));
    manage.move_user(ada, ivy, version(ivy).await.version, org(ALPHA)).await.unwrap();

    // On the web: Ada's move into the FCA by id answers as one into an id that names
    // nothing, and Ivy stays in Alpha.
    let mut a = Client::new(&site);
    a.sign_in("ada@example.com").await;
    let path = format!("/users/{ivy}/move");
    let form = a.get(&path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(!form.body.contains("Financial Conduct Authority"), "{}", form.body);
    let v = version(ivy).await.version.to_string();
    let (fca, nobody) = (org(FCA).to_string(), nowhere.to_string());
    let into_fca = a.post(&path, &[("version", &v), ("organisation", &fca)]).await;
    let into_nothing = a.post(&path, &[("version", &v), ("organisation", &nobody)]).await;
    assert_eq!(into_fca.status, into_nothing.status, "{}", into_fca.body);
    assert!(into_fca.body.contains("an organisation you can move users into"), "{}", into_fca.body);
    same("move", &echoing(&into_fca.body, &fca, "X"), &echoing(&into_nothing.body, &nobody, "X"));
    assert_eq!(version(ivy).await.value.organisation, org(ALPHA));
    // The root administrator's move of Jane on CORE's screen is "Page not found", and
    // Jane stays at the FCA.
    let mut r = Client::new(&site);
    r.sign_in("root@example.com").await;
    let v = version(jane).await.version.to_string();
    let psr = org(PSR).to_string();
    let moved =
        r.post(&format!("/users/{jane}/move"), &[("version", &v), ("organisation", &psr)]).await;
    assert_eq!(moved.status, StatusCode::NOT_FOUND, "{}", moved.body);
    assert_eq!(version(jane).await.value.organisation, org(FCA));
}

/// The shared world with Jane at the FCA holding the customer's "Compliance
/// Administrator" role, and a group of the FCA's people (Joe).
fn world_with_fca_role_and_group() -> (World, RoleId, GroupId) {
    let mut w = world();
    let role = RoleId::from_uuid(Uuid::from_u128(0x3001));
    let form = RoleForm {
        name: "Compliance Administrator".to_owned(),
        description: "Administers the FCA's users".to_owned(),
        features: FeatureSet::of(&[Feature::UserAdministration]),
        ..RoleForm::default()
    };
    w.upsert_role(form.into_role(role, "compliance-administrator".to_owned()).unwrap()).unwrap();
    add_user(&mut w, 6, "Jane Smith", "jane@example.com", FCA, role);
    w.set_user_links(person(6), UserLinks { entity: None, companies: vec![org(FCA)] }).unwrap();
    let group = GroupId::from_uuid(Uuid::from_u128(0x4001));
    w.upsert_group(Group {
        id: group,
        name: Name::parse("FCA people").unwrap(),
        description: String::new(),
        kind: EntityKind::Person,
        members: vec![EntityId::from_uuid(Uuid::from_u128(0x2001))],
    })
    .unwrap();
    (w, role, group)
}

/// Attack F1: the PSR's administrator posts the FCA's "Compliance Administrator" role
/// with no features (stripping Jane of her administration) and renames the FCA's group:
/// both are "not found", and nothing changes. The root administrator's "every company"
/// covers them.
#[tokio::test]
async fn a_company_administrator_cannot_change_another_companys_role_or_group() {
    let (w, role, group) = world_with_fca_role_and_group();
    let site = site_with(w, tenure_web::WebConfig::new("http://127.0.0.1:3000")).await;
    let role_path = format!("/administration/roles/{role}");
    let group_path = format!("/administration/groups/{group}");
    let mut pam = Client::new(&site);
    pam.sign_in("pam@example.com").await;
    pam.get("/administration/roles/new").await;
    let strip =
        pam.post(&role_path, &[("name", "Compliance Administrator"), ("description", "x")]).await;
    assert_eq!(strip.status, StatusCode::NOT_FOUND, "{:?}", strip.headers);
    let rename = pam
        .post(&group_path, &[("type", "person"), ("name", "Renamed"), ("description", "")])
        .await;
    assert_eq!(rename.status, StatusCode::NOT_FOUND, "{:?}", rename.headers);

    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let roles = root.get("/administration/roles").await;
    assert!(roles.body.contains("Compliance Administrator"), "{}", roles.body);
    let groups = root.get("/administration/groups").await;
    assert!(groups.body.contains("FCA people"), "nothing renamed: {}", groups.body);
    let form = root.get(&role_path).await;
    assert!(form.body.contains("user_administration\" checked"), "kept: {}", form.body);
    let renamed = root
        .post(
            &group_path,
            &[
                ("type", "person"),
                ("name", "FCA team"),
                ("description", ""),
                ("members", &Uuid::from_u128(0x2001).to_string()),
            ],
        )
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
}

/// Attack F2: nobody deactivates a company through CORE's pages, not even the root
/// administrator (whose own company it is), and CORE's administrator does not deactivate
/// their own organisation.
#[tokio::test]
async fn nobody_deactivates_a_company_or_their_own_organisation() {
    let site = site().await;
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let fca = Uuid::from_u128(FCA);
    for path in [format!("/organisations/{fca}/deactivate")] {
        let page = root.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
        let posted = root.post(&path, &[("version", "1")]).await;
        assert_eq!(posted.status, StatusCode::NOT_FOUND, "{path}: {}", posted.body);
    }
    let page = root.get(&company(FCA)).await;
    assert_eq!(page.status, StatusCode::OK, "the FCA is still there");
    let mut ada = Client::new(&site);
    ada.sign_in("ada@example.com").await;
    let alpha = Uuid::from_u128(ALPHA);
    let own = ada.post(&format!("/organisations/{alpha}/deactivate"), &[("version", "1")]).await;
    assert_ne!(own.status, StatusCode::SEE_OTHER, "{}", own.body);
    assert_eq!(ada.get(&format!("/organisations/{alpha}")).await.status, StatusCode::OK);
}
