//! A store that fails on purpose, through the real router and security layer: a page whose
//! read fails answers 500 with the problem page and logs the cause under the request id it
//! shows, never a page with an empty list; a form whose catalogue cannot be read saves
//! nothing; a session that cannot be read is a 500, not a sign-out (the cookie stays and
//! works once the store answers again); a session that cannot be ended (signing out,
//! leaving a sign-in part-way, signing in over a session) is a 500 that leaves the
//! cookie, never "signed out" while the session still works; and a directory read that
//! fails behind the relationships page (the names a search offers, the names of the
//! organisations it lists) is a 500, not "no organisation by that name" or a short list.
//!
//! The store is the in-memory one behind wrappers that delegate every method and fail one
//! chosen method while a switch is on: `CorterumStore::datasets`,
//! `SessionStore::session_with_snapshot`, `SessionStore::end_session` and
//! `Directory::organisations`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tenure_core::Clock as _;
use tenure_core::{
    AccountItem, AccountQuery, AuditEvent, BackendError, CorterumStore, Directory, EntityQuery,
    GroupQuery, Listed, NamedLog, NamedUser, Names, OrganisationQuery, Page, Policies, Ports,
    Search, SessionRecord, SessionStore, Timestamp, UserQuery,
};
use tenure_domain::entity::LinkKind;
use tenure_domain::{
    Dataset, DatasetId, Entity, EntityId, EntityScope, Group, Log, OrgId, Organisation,
    Relationship, Resource, Role, RoleId, Scope, User, UserId, UserLinks, Version, World,
};
use tenure_store_memory::MemoryDirectory;
use tenure_testkit::fakes::{
    CountingHasher, FixedClock, MemoryMailer, SequentialIds, SequentialSecrets,
};
use tenure_web::Services;
use tower::ServiceExt as _;

use crate::logging::Captured;
use uuid::Uuid;

use crate::PASSWORD;
const ROOT: &str = "root@example.com";
/// The authenticator key of everyone whose role requires a second factor.
const SECRET: &[u8] = b"tenure-test-secret-1";
const PROBLEM: &str = "Sorry, there is a problem with the service";
/// What the broken reads fail with: the log must carry it.
const DATASETS_CAUSE: &str = "the dataset catalogue is unreadable on purpose";
const SESSIONS_CAUSE: &str = "the session table is unreadable on purpose";
const END_CAUSE: &str = "the session table refuses to end a session on purpose";
const DIRECTORY_CAUSE: &str = "the organisations table is unreadable on purpose";

/// The Corterum reads of the memory store, `datasets` failing while `broken` is on.
struct FaultyCorterum {
    inner: Arc<MemoryDirectory>,
    broken: Arc<AtomicBool>,
}

#[async_trait]
impl CorterumStore for FaultyCorterum {
    async fn entities(
        &self,
        scope: &EntityScope,
        query: &EntityQuery,
        page: Page,
    ) -> Result<Vec<Entity>, BackendError> {
        self.inner.entities(scope, query, page).await
    }

    async fn entity_count(
        &self,
        scope: &EntityScope,
        query: &EntityQuery,
    ) -> Result<u64, BackendError> {
        self.inner.entity_count(scope, query).await
    }

    async fn entity(&self, id: EntityId) -> Result<Option<Entity>, BackendError> {
        self.inner.entity(id).await
    }

    async fn linked_from(&self, id: EntityId) -> Result<Vec<(EntityId, LinkKind)>, BackendError> {
        self.inner.linked_from(id).await
    }

    async fn groups(&self) -> Result<Vec<Group>, BackendError> {
        CorterumStore::groups(&*self.inner).await
    }

    async fn group_list(
        &self,
        query: &GroupQuery,
        page: Page,
    ) -> Result<Listed<Group>, BackendError> {
        self.inner.group_list(query, page).await
    }

    async fn custom_role_list(
        &self,
        search: Option<&Search>,
        page: Page,
    ) -> Result<Listed<Role>, BackendError> {
        self.inner.custom_role_list(search, page).await
    }

    async fn datasets(&self) -> Result<Vec<Dataset>, BackendError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(BackendError::new(DATASETS_CAUSE));
        }
        CorterumStore::datasets(&*self.inner).await
    }

    async fn custom_roles(&self) -> Result<Vec<Role>, BackendError> {
        self.inner.custom_roles().await
    }

    async fn user_links(&self, user: UserId) -> Result<Option<(String, UserLinks)>, BackendError> {
        self.inner.user_links(user).await
    }

    async fn accounts(
        &self,
        scope: &Scope,
        page: Page,
    ) -> Result<Vec<(String, User)>, BackendError> {
        self.inner.accounts(scope, page).await
    }

    async fn account_list(
        &self,
        scope: &Scope,
        query: &AccountQuery,
        page: Page,
    ) -> Result<Listed<AccountItem>, BackendError> {
        self.inner.account_list(scope, query, page).await
    }

    async fn history(
        &self,
        dataset: DatasetId,
        entity: EntityId,
    ) -> Result<Vec<Version>, BackendError> {
        self.inner.history(dataset, entity).await
    }
}

/// The sessions of the memory store, `session_with_snapshot` failing while `broken` is
/// on, `end_session` while `ending_broken` is.
struct FaultySessions {
    inner: Arc<MemoryDirectory>,
    broken: Arc<AtomicBool>,
    ending_broken: Arc<AtomicBool>,
}

#[async_trait]
impl SessionStore for FaultySessions {
    async fn create_session(
        &self,
        digest: &str,
        record: SessionRecord,
        audit: AuditEvent,
    ) -> Result<(), BackendError> {
        self.inner.create_session(digest, record, audit).await
    }

    async fn session(&self, digest: &str) -> Result<Option<SessionRecord>, BackendError> {
        self.inner.session(digest).await
    }

    async fn session_with_snapshot(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, World)>, BackendError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(BackendError::new(SESSIONS_CAUSE));
        }
        self.inner.session_with_snapshot(digest).await
    }

    async fn touch_session(&self, digest: &str, now: Timestamp) -> Result<(), BackendError> {
        self.inner.touch_session(digest, now).await
    }

    async fn end_session(&self, digest: &str) -> Result<(), BackendError> {
        if self.ending_broken.load(Ordering::SeqCst) {
            return Err(BackendError::new(END_CAUSE));
        }
        self.inner.end_session(digest).await
    }

    async fn end_sessions(
        &self,
        user: UserId,
        except: Option<&str>,
        audit: AuditEvent,
    ) -> Result<u64, BackendError> {
        self.inner.end_sessions(user, except, audit).await
    }
}

/// The directory reads of the memory store, `organisations` failing while `broken` is on.
struct FaultyDirectory {
    inner: Arc<MemoryDirectory>,
    broken: Arc<AtomicBool>,
}

#[async_trait]
impl Directory for FaultyDirectory {
    async fn snapshot(&self, actor: UserId, resource: Resource) -> Result<World, BackendError> {
        self.inner.snapshot(actor, resource).await
    }

    async fn users(
        &self,
        scope: &Scope,
        query: &UserQuery,
        page: Page,
    ) -> Result<Vec<User>, BackendError> {
        self.inner.users(scope, query, page).await
    }

    async fn users_named(
        &self,
        scope: &Scope,
        query: &UserQuery,
        page: Page,
    ) -> Result<Vec<NamedUser>, BackendError> {
        self.inner.users_named(scope, query, page).await
    }

    async fn organisations(
        &self,
        scope: &Scope,
        query: &OrganisationQuery,
        page: Page,
    ) -> Result<Vec<Organisation>, BackendError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(BackendError::new(DIRECTORY_CAUSE));
        }
        self.inner.organisations(scope, query, page).await
    }

    async fn names(
        &self,
        users: &[UserId],
        organisations: &[OrgId],
    ) -> Result<Names, BackendError> {
        self.inner.names(users, organisations).await
    }

    async fn logs(&self, scope: &Scope, page: Page) -> Result<Vec<Log>, BackendError> {
        self.inner.logs(scope, page).await
    }

    async fn logs_named(&self, scope: &Scope, page: Page) -> Result<Vec<NamedLog>, BackendError> {
        self.inner.logs_named(scope, page).await
    }

    async fn relationships_of(
        &self,
        organisations: &[OrgId],
    ) -> Result<Vec<Relationship>, BackendError> {
        self.inner.relationships_of(organisations).await
    }

    async fn invitation_roles(
        &self,
        users: &[UserId],
    ) -> Result<Vec<(UserId, Option<RoleId>)>, BackendError> {
        self.inner.invitation_roles(users).await
    }
}

/// The service over a test world, with the switches.
struct Site {
    router: Router,
    clock: Arc<FixedClock>,
    datasets_broken: Arc<AtomicBool>,
    sessions_broken: Arc<AtomicBool>,
    ending_broken: Arc<AtomicBool>,
    directory_broken: Arc<AtomicBool>,
}

/// The service over Corterum's test world.
async fn site() -> Site {
    site_over(tenure_testkit::contract::corterum::world()).await
}

async fn site_over(world: World) -> Site {
    let store = Arc::new(MemoryDirectory::new(world));
    let clock = Arc::new(FixedClock::at(1_800_000_000_000));
    let hasher = Arc::new(CountingHasher::with_cost(1));
    let datasets_broken = Arc::new(AtomicBool::new(false));
    let sessions_broken = Arc::new(AtomicBool::new(false));
    let ending_broken = Arc::new(AtomicBool::new(false));
    let directory_broken = Arc::new(AtomicBool::new(false));
    let users: Vec<UserId> = store.update(|w| w.users().map(|u| u.id).collect()).unwrap();
    crate::give_everyone_the_password(&*store, &users, &hasher).await;
    let ports = Ports {
        directory: Arc::new(FaultyDirectory {
            inner: store.clone(),
            broken: directory_broken.clone(),
        }),
        changes: store.clone(),
        accounts: store.clone(),
        sessions: Arc::new(FaultySessions {
            inner: store.clone(),
            broken: sessions_broken.clone(),
            ending_broken: ending_broken.clone(),
        }),
        limits: store.clone(),
        second_factors: store.clone(),
        vault: Arc::new(tenure_secrets_os::KeyVault::from_key(&[7; 32])),
        corterum: Arc::new(FaultyCorterum {
            inner: store.clone(),
            broken: datasets_broken.clone(),
        }),
        hasher,
        secrets: Arc::new(SequentialSecrets::default()),
        mail_queue: store.clone(),
        mailer: Arc::new(MemoryMailer::default()),
        clock: clock.clone(),
        ids: Arc::new(SequentialIds::default()),
    };
    let config = tenure_web::WebConfig::new("http://127.0.0.1:3000");
    let services = Services::wire(ports, Policies::at(&config.base_url)).await.unwrap();
    for id in users {
        let status = services.second_factors.status(id).await.unwrap();
        if status.demand.is_required() && !status.set_up {
            services.second_factors.enrol_with_secret(id, SECRET).await.unwrap();
        }
    }
    let router = tenure_web::router(services, config);
    Site { router, clock, datasets_broken, sessions_broken, ending_broken, directory_broken }
}

/// A response, read whole.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    fn request_id(&self) -> String {
        self.headers.get("x-request-id").expect("a request id").to_str().unwrap().to_owned()
    }

    /// The `Set-Cookie` headers.
    fn cookies_set(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

/// A browser: keeps cookies and the last form's CSRF token.
struct Client<'a> {
    site: &'a Site,
    cookies: HashMap<String, String>,
    csrf: String,
}

impl<'a> Client<'a> {
    fn new(site: &'a Site) -> Self {
        Self { site, cookies: HashMap::new(), csrf: String::new() }
    }

    async fn send(&mut self, request: Request<Body>) -> Answer {
        let response = self.site.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = axum::body::to_bytes(response.into_body(), 10_000_000).await.unwrap();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        if let Some(at) = body.find("name=\"csrf\" value=\"") {
            let rest = &body[at + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_owned();
        }
        Answer { status, headers, body }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn get(&mut self, path: &str) -> Answer {
        let request =
            Request::get(path).header(header::COOKIE, self.cookie_header()).body(Body::empty());
        self.send(request.unwrap()).await
    }

    /// Posts a form with the current CSRF token added.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let csrf = self.csrf.clone();
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &csrf)
            .extend_pairs(fields)
            .finish();
        let request = Request::post(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body));
        self.send(request.unwrap()).await
    }

    /// Signs in with the password, then the code step if the role asks for one.
    async fn sign_in(&mut self, email: &str) {
        self.get("/account/sign-in").await;
        let page = self.post("/account/sign-in", &[("email", email), ("password", PASSWORD)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{email} signs in: {}", page.body);
        if page.location() == "/account/sign-in/code" {
            self.get("/account/sign-in/code").await;
            let totp =
                totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, SECRET.to_vec()).unwrap();
            let at = u64::try_from(self.site.clock.now().0 / 1000).unwrap();
            let code = totp.generate(at);
            let page = self.post("/account/sign-in/code", &[("code", &code)]).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{email} passes the code step");
        }
        assert!(self.cookies.contains_key("tenure_session"), "{email} has a session");
    }
}

/// The answer is the problem page (500, the request id to quote, nothing of the page
/// asked for), and its cause is logged as an error under the same request id.
#[track_caller]
fn check_failed(page: &Answer, log: &Captured, cause: &str, absent: &str, what: &str) {
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR, "{what}: {}", page.body);
    assert!(page.body.contains(PROBLEM), "{what}: the problem page: {}", page.body);
    let id = page.request_id();
    assert!(page.body.contains(&id), "{what}: the page shows the reference {id}");
    assert!(!page.body.contains(cause), "{what}: the cause is not shown");
    assert!(!page.body.contains(absent), "{what}: nothing of the page asked for");
    let errors = log.errors_of(&id);
    assert!(
        errors.iter().any(|l| l.contains("backend failure") && l.contains(cause)),
        "{what}: the cause is logged under {id}: {errors:?}"
    );
}

#[tokio::test]
async fn a_corterum_page_whose_read_fails_answers_500_and_logs_the_cause() {
    let site = site().await;
    let fca = Uuid::from_u128(1).to_string();
    let mut root = Client::new(&site);
    root.sign_in(ROOT).await;
    root.get("/administration/entities/new?type=person").await;
    let saved = root
        .post(
            "/administration/entities/new",
            &[("type", "person"), ("name", "Jane Smith"), ("companies", &fca)],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let jane = saved.location().split('/').nth(3).unwrap().split('?').next().unwrap().to_owned();
    let record = format!("/records/{jane}/training_record");
    let compare = format!("{record}/compare");

    // While the store answers, the pages show the catalogue.
    let form = root.get("/administration/roles/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(form.body.matches("name=\"read_").count(), 22, "every dataset is offered");
    let page = root.get(&record).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Jane Smith"));

    // The catalogue cannot be read: each page that needs it fails, and says so.
    site.datasets_broken.store(true, Ordering::SeqCst);
    let log = Captured::start();
    let page = root.get("/administration/roles/new").await;
    check_failed(&page, &log, DATASETS_CAUSE, "name=\"read_", "the role form");
    for path in [&record, &compare] {
        let page = root.get(path).await;
        check_failed(&page, &log, DATASETS_CAUSE, "Jane Smith", path);
    }

    // Saving a role cannot go on without the catalogue: no role without its datasets.
    let read =
        format!("read_{}", tenure_domain::dataset::catalogue_id_of("training_record").unwrap());
    let page = root
        .post(
            "/administration/roles/new",
            &[("name", "Trainers"), ("description", "Read training"), (&read, "1")],
        )
        .await;
    check_failed(&page, &log, DATASETS_CAUSE, "Trainers", "saving a role");
    drop(log);

    site.datasets_broken.store(false, Ordering::SeqCst);
    let roles = root.get("/administration/roles").await;
    assert_eq!(roles.status, StatusCode::OK);
    assert!(!roles.body.contains("Trainers"), "nothing was saved");
    assert_eq!(root.get(&record).await.status, StatusCode::OK, "the store answers again");
}

#[tokio::test]
async fn a_session_that_cannot_be_read_is_a_500_not_a_sign_out() {
    let site = site().await;
    let mut root = Client::new(&site);
    root.sign_in(ROOT).await;
    let cookie = root.cookies["tenure_session"].clone();
    assert_eq!(root.get("/administration").await.status, StatusCode::OK);

    site.sessions_broken.store(true, Ordering::SeqCst);
    let log = Captured::start();
    let page = root.get("/administration").await;
    check_failed(&page, &log, SESSIONS_CAUSE, "User accounts", "a signed-in page");
    assert!(page.headers.contains_key(header::CONTENT_SECURITY_POLICY), "the security headers");
    let removed = page.cookies_set().into_iter().filter(|c| c.starts_with("tenure_session="));
    assert_eq!(removed.count(), 0, "the session cookie is left alone");
    assert_eq!(root.cookies.get("tenure_session"), Some(&cookie));
    drop(log);

    // The store answers again: the same session still works.
    site.sessions_broken.store(false, Ordering::SeqCst);
    let page = root.get("/administration").await;
    assert_eq!(page.status, StatusCode::OK, "still signed in: {}", page.body);
    assert!(page.body.contains("User accounts"));
}

/// The cookies' session: still the same one, not removed by the answer.
#[track_caller]
fn kept(page: &Answer, client: &Client<'_>, cookie: &str, what: &str) {
    let removed = page.cookies_set().into_iter().filter(|c| c.starts_with("tenure_session="));
    assert_eq!(removed.count(), 0, "{what}: the session cookie is left alone");
    assert_eq!(client.cookies.get("tenure_session").map(String::as_str), Some(cookie), "{what}");
}

#[tokio::test]
async fn a_session_that_cannot_be_ended_is_a_500_not_a_sign_out() {
    let site = site().await;
    let mut root = Client::new(&site);
    root.sign_in(ROOT).await;
    let cookie = root.cookies["tenure_session"].clone();
    root.get("/administration").await;

    site.ending_broken.store(true, Ordering::SeqCst);
    let log = Captured::start();
    // Signing out: the session is still live, so the person is not told they left.
    let page = root.post("/account/sign-out", &[]).await;
    check_failed(&page, &log, END_CAUSE, "signed-out", "signing out");
    kept(&page, &root, &cookie, "signing out");
    // Signing in again over the session: the old one cannot end, so nothing goes on.
    root.get("/account/sign-in").await;
    let page = root.post("/account/sign-in", &[("email", ROOT), ("password", PASSWORD)]).await;
    check_failed(&page, &log, END_CAUSE, "/account/sign-in/code", "signing in over a session");
    kept(&page, &root, &cookie, "signing in over a session");
    // Leaving a sign-in part-way (root's role asks for a code): the part-way session is
    // still live.
    let mut half = Client::new(&site);
    half.get("/account/sign-in").await;
    let page = half.post("/account/sign-in", &[("email", ROOT), ("password", PASSWORD)]).await;
    assert_eq!(page.location(), "/account/sign-in/code", "{}", page.body);
    let pending = half.cookies["tenure_session"].clone();
    half.get("/account/sign-in/code").await;
    let page = half.post("/account/sign-in/cancel", &[]).await;
    check_failed(&page, &log, END_CAUSE, "signed-out", "leaving a sign-in part-way");
    kept(&page, &half, &pending, "leaving a sign-in part-way");
    drop(log);

    // The store answers again: both sessions still work, and now end.
    site.ending_broken.store(false, Ordering::SeqCst);
    let page = root.get("/administration").await;
    assert_eq!(page.status, StatusCode::OK, "still signed in: {}", page.body);
    let page = root.post("/account/sign-out", &[]).await;
    assert_eq!(page.location(), "/account/sign-in?done=signed-out");
    assert!(!root.cookies.contains_key("tenure_session"));
    assert_eq!(root.get("/administration").await.location(), "/account/sign-in");
    assert_eq!(half.get("/account/sign-in/code").await.status, StatusCode::OK);
    let page = half.post("/account/sign-in/cancel", &[]).await;
    assert_eq!(page.location(), "/account/sign-in?done=signed-out");
}

#[tokio::test]
async fn a_directory_read_that_fails_behind_the_relationships_page_is_a_500() {
    let site = site_over(tenure_testkit::contract::manage::world()).await;
    let alpha = Uuid::from_u128(1);
    let path = format!("/organisations/{alpha}/relationships");
    let add = [("change", "add-managing-agent"), ("other", "Gam")];
    let mut cora = Client::new(&site);
    cora.sign_in("cora@example.com").await;
    // While the store answers, a name that is no organisation's lists those containing it.
    cora.get(&path).await;
    let page = cora.post(&path, &add).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Names containing what you typed: Gamma"), "{}", page.body);

    // The organisations cannot be read: a 500, not "Enter the name of an existing
    // organisation" as if there were none.
    site.directory_broken.store(true, Ordering::SeqCst);
    let log = Captured::start();
    let page = cora.post(&path, &add).await;
    check_failed(&page, &log, DIRECTORY_CAUSE, "existing organisation", "naming no organisation");
    drop(log);
    site.directory_broken.store(false, Ordering::SeqCst);
    let page = cora.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.body.contains("Gamma"), "nothing was added or asked: {}", page.body);

    // Cora asks Gamma (she manages only Alpha's end): a request the page lists with
    // Gamma's name, which her snapshot does not hold and the page reads.
    let page = cora.post(&path, &[("change", "add-managing-agent"), ("other", "Gamma")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = cora.get(&path).await;
    assert!(page.body.contains("Gamma as a managing agent of Alpha"), "{}", page.body);
    site.directory_broken.store(true, Ordering::SeqCst);
    let log = Captured::start();
    let page = cora.get(&path).await;
    check_failed(&page, &log, DIRECTORY_CAUSE, "Gamma", "the requests' names");
    drop(log);
    site.directory_broken.store(false, Ordering::SeqCst);
}
