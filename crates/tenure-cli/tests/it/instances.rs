//! Two `tenure serve` processes on one PostgreSQL database, driven over real HTTP as a
//! load balancer would spread a browser's requests (issue 13): started at once on an
//! empty database they migrate it once; a session from one works on the other; a
//! deactivation through one ends the person's session on the other at its next request;
//! failed sign-ins lock an account and the per-address sign-in limit counts across both;
//! of 20 concurrent uses of one reset link spread across both exactly one wins; and an
//! invitation made while the SMTP server (aiosmtpd) is down is delivered once it is back,
//! exactly once, with both instances' couriers running.
//!
//! Both instances trust `127.0.0.1` as a proxy, so each request names its client's
//! address in `X-Forwarded-For`, as a load balancer does: the per-address limits then
//! count the address the test chose. The database is a fresh one on the server
//! `TENURE_TEST_POSTGRES_URL` names (`cargo xtask ci` and `cargo xtask postgres` start
//! one); without it the tests say they skipped, and fail under `CI`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use tenure_core::health::HealthProbe as _;
use tenure_core::{
    AccountStore, AuditDetail, AuditEvent, AuditName, Outcome, PasswordHasher, Timestamp,
};
use tenure_domain::role::builtin::{DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{Email, Name, NewPassword, OrgId, Organisation, User, UserId, World};
use tenure_store_seaorm::SeaOrmStore;
use uuid::Uuid;

const PASSWORD: &str = "quiet lantern over the river";
const ORG: u128 = 1;
const CORA: u128 = 10;
const PETE: u128 = 11;
const LOU: u128 = 12;
const RITA: u128 = 13;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty PostgreSQL database's URL, or `None` (said aloud) without a server:
/// the same rule as the store's PostgreSQL tests.
async fn temp_postgres() -> Option<String> {
    let Ok(server) = std::env::var("TENURE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the PostgreSQL tests: set TENURE_TEST_POSTGRES_URL (cargo xtask ci does)"
        );
        eprintln!(
            "SKIPPED: PostgreSQL tests need TENURE_TEST_POSTGRES_URL (cargo xtask ci sets it)"
        );
        return None;
    };
    let name =
        format!("tenure_instances_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin = Database::connect(&server).await.expect("connect to the PostgreSQL server");
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let (base, _) = server.rsplit_once('/').expect("the URL names a database");
    Some(format!("{base}/{name}"))
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tenure-instances-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One running `tenure serve`, killed when dropped.
struct Instance {
    child: Child,
    port: u16,
    outbox: PathBuf,
    /// Its standard error: the log lines.
    log: PathBuf,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tenure serve` on `database` without waiting for it (so two start at once).
fn spawn(database: &str, dir: &Path, name: &str, smtp: Option<&str>) -> Instance {
    let port = tenure_testkit::smtp::free_port();
    let outbox = dir.join(format!("outbox-{name}"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenure"));
    command
        .args(["serve", "--database", database, "--listen", &format!("127.0.0.1:{port}")])
        .arg("--outbox")
        .arg(&outbox)
        .env("TENURE_INSECURE_FAST_HASHING", "1")
        .env("TENURE_TRUSTED_PROXIES", "127.0.0.1/32")
        // A per-address sign-in limit low enough to reach, over an hour so no token
        // comes back while the test runs.
        .env("TENURE_LIMITS", "sign_in_address=4/hour")
        // Every instance uses the same key, as on any shared database.
        .env("TENURE_SECRET_KEY", "5e".repeat(32))
        .env_remove("TENURE_SECRET_KEY_FILE")
        .env_remove("TENURE_CONFIG")
        .env_remove("TENURE_DATABASE_URL")
        .env_remove("TENURE_SMTP_URL")
        .stdout(Stdio::null())
        // Into a file: a pipe nobody reads would stall the server once full.
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap());
    if let Some(url) = smtp {
        command.args(["--smtp-url", url]);
    }
    let log = dir.join(format!("{name}.log"));
    Instance { child: command.spawn().unwrap(), port, outbox, log }
}

/// Polls `/readyz` until the instance answers that it is ready (readiness, not timing).
fn wait_until_ready(instance: &mut Instance) {
    for _ in 0..1200 {
        if let Ok(r) = exchange(instance.port, "GET", "/readyz", &[], None) {
            if r.status == 200 {
                assert!(r.body.ends_with("ready\n"), "{}", r.body);
                return;
            }
        }
        if let Some(status) = instance.child.try_wait().unwrap() {
            let log = std::fs::read_to_string(&instance.log).unwrap_or_default();
            panic!("tenure serve exited with {status}: {log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("tenure serve on {} never became ready", instance.port);
}

/// An HTTP answer: status, head (status line and headers) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}: ");
        self.head.lines().find_map(|l| l.strip_prefix(prefix.as_str()))
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.head.lines().filter_map(|l| l.strip_prefix("set-cookie: ")).find_map(|c| {
            let (n, v) = c.split(';').next()?.split_once('=')?;
            (n == name && !v.is_empty()).then(|| v.to_owned())
        })
    }

    /// The value of the form field `name` in the page.
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let at = self.body.find(&marker).unwrap_or_else(|| panic!("a {name} field")) + marker.len();
        self.body[at..at + self.body[at..].find('"').unwrap()].to_owned()
    }

    fn csrf_field(&self) -> String {
        self.field("csrf")
    }
}

/// One request on a fresh connection, closed after it.
fn exchange(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    form: Option<&str>,
) -> std::io::Result<Answer> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = form {
        request.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("Connection: close\r\n\r\n");
    request.push_str(form.unwrap_or_default());
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok(Answer { status, head: head.to_owned(), body: body.to_owned() })
}

/// Form encoding for the few characters these forms hold.
fn encode(value: &str) -> String {
    value.replace('%', "%25").replace('@', "%40").replace(' ', "+").replace('&', "%26")
}

/// A client address the test makes up, different for each call unless reused.
fn address() -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("203.0.113.{}", n % 250 + 1)
}

/// A signed-out form post from `from`, with the double-submit CSRF cookie of a fresh
/// sign-in page.
fn post_signed_out(port: u16, path: &str, fields: &[(&str, &str)], from: &str) -> Answer {
    let page = exchange(port, "GET", "/account/sign-in", &[], None).unwrap();
    let cookie = format!("tenure_csrf={}", page.cookie("tenure_csrf").expect("a CSRF cookie"));
    let mut body = format!("csrf={}", page.csrf_field());
    for (k, v) in fields {
        body.push_str(&format!("&{k}={}", encode(v)));
    }
    exchange(port, "POST", path, &[("Cookie", &cookie), ("X-Forwarded-For", from)], Some(&body))
        .unwrap()
}

fn sign_in_from(port: u16, email: &str, password: &str, from: &str) -> Answer {
    post_signed_out(port, "/account/sign-in", &[("email", email), ("password", password)], from)
}

/// Signs in and returns the session cookie's value.
fn sign_in(port: u16, email: &str) -> String {
    let answer = sign_in_from(port, email, PASSWORD, &address());
    answer.cookie("tenure_session").unwrap_or_else(|| panic!("{email} signs in: {answer:?}"))
}

fn get_as(port: u16, path: &str, session: &str) -> Answer {
    let cookie = format!("tenure_session={session}");
    exchange(port, "GET", path, &[("Cookie", &cookie)], None).unwrap()
}

/// A signed-in form post: the CSRF token is the session's, read from `page`.
fn post_as(port: u16, path: &str, session: &str, page: &Answer, fields: &[(&str, &str)]) -> Answer {
    let cookie = format!("tenure_session={session}");
    let mut body = format!("csrf={}", page.csrf_field());
    for (k, v) in fields {
        body.push_str(&format!("&{k}={}", encode(v)));
    }
    exchange(
        port,
        "POST",
        path,
        &[("Cookie", &cookie), ("X-Forwarded-For", &address())],
        Some(&body),
    )
    .unwrap()
}

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

/// Northbridge Homes with Cora (its coordinator) and three providers, Pete, Lou and
/// Rita, each with [`PASSWORD`]: written straight into the store both instances serve.
async fn seed(url: &str) {
    let store = SeaOrmStore::connect(url).await.unwrap();
    let mut world = World::new();
    let org = OrgId::from_uuid(Uuid::from_u128(ORG));
    world
        .insert_organisation(Organisation::new(org, Name::parse("Northbridge Homes").unwrap()))
        .unwrap();
    for (n, name, email, role) in [
        (CORA, "Cora Coordinator", "cora@example.com", DATA_COORDINATOR),
        (PETE, "Pete Provider", "pete@example.com", DATA_PROVIDER),
        (LOU, "Lou Locked", "lou@example.com", DATA_PROVIDER),
        (RITA, "Rita Reset", "rita@example.com", DATA_PROVIDER),
    ] {
        let person = User::new(
            user(n),
            Name::parse(name).unwrap(),
            Email::parse(email).unwrap(),
            org,
            vec![role],
        );
        world.upsert_user(person).unwrap();
    }
    store.import(&world).await.unwrap();
    let hasher = tenure_hash_argon2::Argon2id::cheap_for_tests().unwrap();
    let hash = hasher.hash(&NewPassword::verified(PASSWORD)).await.unwrap();
    for n in [CORA, PETE, LOU, RITA] {
        let event = AuditEvent {
            id: Uuid::from_u128(0xA000 + n),
            at: Timestamp(0),
            actor: None,
            name: AuditName::PasswordChange,
            outcome: Outcome::Success,
            target_user: Some(user(n)),
            organisation: None,
            detail: AuditDetail::Empty,
            origin: None,
        };
        store.set_password(user(n), hash.clone(), event).await.unwrap();
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .unwrap()
        .expect("a row");
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Both instances started at once on the empty database, each ready; asserts the
/// schema was migrated once.
async fn two_instances(url: &str, dir: &Path, smtp: Option<&str>) -> (Instance, Instance) {
    let (mut a, mut b) = (spawn(url, dir, "a", smtp), spawn(url, dir, "b", smtp));
    wait_until_ready(&mut a);
    wait_until_ready(&mut b);
    let db = Database::connect(url).await.unwrap();
    let applied = count(&db, "SELECT COUNT(*) FROM seaql_migrations").await;
    let distinct = count(&db, "SELECT COUNT(DISTINCT version) FROM seaql_migrations").await;
    assert!(applied > 10, "the schema is there: {applied} migrations");
    assert_eq!(applied, distinct, "each migration applied once");
    let store = SeaOrmStore::connect(url).await.unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), 0, "none left to apply");
    (a, b)
}

/// The reset token in the newest message to `email` in either outbox, once one is there.
fn reset_token(outboxes: &[&Path], email: &str) -> String {
    for _ in 0..600 {
        for dir in outboxes {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.to_string_lossy().ends_with(&format!("-{email}.eml")) {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let at = text.find("token=").expect("a link") + "token=".len();
                    return text[at..].chars().take_while(char::is_ascii_hexdigit).collect();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no reset email to {email} arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_share_sessions_lockouts_limits_and_links() {
    let Some(url) = temp_postgres().await else { return };
    let dir = workdir("shared");
    let (a, b) = two_instances(&url, &dir, None).await;
    seed(&url).await;
    let (pa, pb) = (a.port, b.port);

    // A session from A works on B.
    let cora = sign_in(pa, "cora@example.com");
    let users = get_as(pb, "/users", &cora);
    assert_eq!(users.status, 200, "{users:?}");
    assert!(users.body.contains("Pete Provider"), "B lists Cora's users");

    // A deactivation through A ends Pete's session on B at its next request.
    let pete = sign_in(pb, "pete@example.com");
    assert_eq!(get_as(pb, "/account", &pete).status, 200);
    let path = format!("/users/{}/deactivate", user(PETE));
    let confirm = get_as(pa, &path, &cora);
    assert_eq!(confirm.status, 200, "{confirm:?}");
    let version = confirm.field("version");
    let done = post_as(pa, &path, &cora, &confirm, &[("version", &version)]);
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(
        done.header("location"),
        Some(format!("/users/{}?done=deactivated", user(PETE)).as_str())
    );
    let after = get_as(pb, "/account", &pete);
    assert_eq!(after.status, 303, "Pete's session ended on B: {after:?}");
    assert_eq!(after.header("location"), Some("/account/sign-in"));

    // Five failed sign-ins, three on A and two on B, each from its own address, lock
    // Lou's account: the right password is refused after them, on either instance.
    for (i, port) in [pa, pb, pa, pb, pa].into_iter().enumerate() {
        let refused = sign_in_from(port, "lou@example.com", "not the password", &address());
        assert_eq!(refused.status, 200, "attempt {i}: {refused:?}");
        assert!(refused.body.contains("Enter a correct email address and password"));
    }
    for port in [pb, pa] {
        let locked = sign_in_from(port, "lou@example.com", PASSWORD, &address());
        assert_eq!(locked.status, 200, "{locked:?}");
        assert!(locked.cookie("tenure_session").is_none(), "locked: no session");
        assert!(locked.body.contains("Enter a correct email address and password"));
    }

    // The per-address sign-in limit (4 an hour here) counts across both: each instance
    // alone would have admitted 4 (its in-process filter's allowance).
    let one = "198.51.100.7";
    for (i, port) in [pa, pb, pa, pb].into_iter().enumerate() {
        let answer = sign_in_from(port, "nobody@example.com", "wrong password", one);
        assert_eq!(answer.status, 200, "attempt {i} is admitted: {answer:?}");
    }
    for port in [pa, pb] {
        let answer = sign_in_from(port, "nobody@example.com", "wrong password", one);
        assert_eq!(answer.status, 429, "the fifth from one address, on either: {answer:?}");
        assert!(answer.header("retry-after").is_some(), "{answer:?}");
    }
    assert_eq!(sign_in_from(pb, "nobody@example.com", "wrong password", &address()).status, 200);

    // Of 20 concurrent uses of one reset link, 10 through each instance, exactly one wins.
    let asked = post_signed_out(
        pa,
        "/account/reset-password",
        &[("email", "rita@example.com")],
        &address(),
    );
    assert_eq!(asked.header("location"), Some("/account/check-email"), "{asked:?}");
    let token = reset_token(&[&a.outbox, &b.outbox], "rita@example.com");
    // Each use comes with its own CSRF pair and address, fetched before the start.
    let uses: Vec<(u16, String, String, String)> = (0..20)
        .map(|i| {
            let port = if i % 2 == 0 { pa } else { pb };
            let page = exchange(port, "GET", "/account/sign-in", &[], None).unwrap();
            let cookie = format!("tenure_csrf={}", page.cookie("tenure_csrf").unwrap());
            let password = format!("lantern river number {i} quietly");
            let body = format!(
                "csrf={}&token={token}&password={p}&confirm={p}",
                page.csrf_field(),
                p = encode(&password)
            );
            (port, cookie, body, password)
        })
        .collect();
    let start = Arc::new(Barrier::new(uses.len()));
    let answers: Vec<(Answer, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = uses
            .iter()
            .map(|(port, cookie, body, password)| {
                let start = start.clone();
                s.spawn(move || {
                    let from = address();
                    start.wait();
                    let headers = [("Cookie", cookie.as_str()), ("X-Forwarded-For", from.as_str())];
                    let answer = exchange(
                        *port,
                        "POST",
                        "/account/reset-password/new",
                        &headers,
                        Some(body),
                    )
                    .unwrap();
                    (answer, password.clone())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<&String> = answers
        .iter()
        .filter(|(a, _)| a.header("location") == Some("/account/sign-in?done=reset"))
        .map(|(_, p)| p)
        .collect();
    let spent = answers
        .iter()
        .filter(|(a, _)| a.header("location") == Some("/account/link-expired"))
        .count();
    assert_eq!(winners.len(), 1, "exactly one use wins: {answers:?}");
    assert_eq!(spent, 19, "the others find the link spent: {answers:?}");
    // The winner's password is Rita's now, on both instances; the old one is not.
    assert!(
        sign_in_from(pb, "rita@example.com", winners[0], &address())
            .cookie("tenure_session")
            .is_some()
    );
    assert!(
        sign_in_from(pa, "rita@example.com", PASSWORD, &address())
            .cookie("tenure_session")
            .is_none()
    );

    drop((a, b));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_made_while_smtp_is_down_arrive_once_it_is_back_exactly_once() {
    if !tenure_testkit::smtp::available() {
        return;
    }
    let Some(url) = temp_postgres().await else { return };
    let dir = workdir("courier");
    let smtp_port = tenure_testkit::smtp::free_port();
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let (a, b) = two_instances(&url, &dir, Some(&smtp)).await;
    seed(&url).await;

    // Cora invites three people, through A and B in turn, while nothing listens for mail.
    let cora = sign_in(a.port, "cora@example.com");
    let invited = ["ann@example.com", "bo@example.com", "cy@example.com"];
    for (i, email) in invited.iter().enumerate() {
        let port = if i % 2 == 0 { a.port } else { b.port };
        let form = get_as(port, "/users/invite", &cora);
        assert_eq!(form.status, 200, "{form:?}");
        let name = format!("Invitee {}", ["Ann", "Bo", "Cy"][i]);
        let answer = post_as(
            port,
            "/users/invite/role",
            &cora,
            &form,
            &[
                ("name", &name),
                ("email", email),
                ("telephone", ""),
                ("organisation", &Uuid::from_u128(ORG).to_string()),
                ("role", "data_provider"),
            ],
        );
        assert_eq!(answer.status, 303, "{answer:?}");
        assert!(answer.header("location").is_some_and(|l| l.ends_with("?done=invited")));
    }
    let db = Database::connect(&url).await.unwrap();
    let waiting = "SELECT COUNT(*) FROM mail_queue WHERE status = 'queued' AND attempts >= 1 \
                   AND last_error IS NOT NULL";
    assert_eq!(count(&db, waiting).await, 3, "each tried at once, failed, and waits");

    // The server comes back; the couriers' next attempts deliver each message once.
    let server = tenure_testkit::smtp::Server::start(smtp_port);
    let mut messages = Vec::new();
    for _ in 0..1800 {
        messages = server.messages();
        if messages.len() >= invited.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(messages.len(), invited.len(), "every invitation arrived");
    for email in invited {
        let to_them = messages.iter().filter(|m| m.contains(&format!("To: {email}"))).count();
        assert_eq!(to_them, 1, "one message to {email}: {messages:?}");
    }
    // The queue agrees: sent, bodies erased, nothing waiting. A courier marks a message
    // sent just after the SMTP server takes it, so the rows may trail the arrivals by a
    // moment: wait (bounded) for the marks, then check.
    let sent = "SELECT COUNT(*) FROM mail_queue WHERE status = 'sent' AND body IS NULL";
    for _ in 0..100 {
        if count(&db, sent).await >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count(&db, sent).await, 3);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM mail_queue WHERE status <> 'sent'").await, 0);

    // A later invitation goes at once; by the time it is in, the couriers have passed
    // the delivered messages again and sent none twice.
    let form = get_as(b.port, "/users/invite", &cora);
    let answer = post_as(
        b.port,
        "/users/invite/role",
        &cora,
        &form,
        &[
            ("name", "Invitee Di"),
            ("email", "di@example.com"),
            ("telephone", ""),
            ("organisation", &Uuid::from_u128(ORG).to_string()),
            ("role", "data_provider"),
        ],
    );
    assert_eq!(answer.status, 303, "{answer:?}");
    for _ in 0..600 {
        if server.messages().len() > invited.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let all = server.messages();
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(all.iter().filter(|m| m.contains("To: di@example.com")).count(), 1);

    drop((a, b));
    let _ = std::fs::remove_dir_all(&dir);
}
