//! End to end in real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven from Rust over WebDriver: the whole stack (SQLite file, file outbox, Argon2id)
//! with a clock the test moves. Every page visited is checked with axe-core (vendored
//! from npm) for WCAG 2.2 AA violations.
//!
//! With `TENURE_SCREENSHOTS=DIR` it also saves a PNG of every screen, named in the order
//! of the seed's list (`cargo xtask screenshots` does this into `docs/screenshots/`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use tenure_core::{
    AccountStore, AuditDetail, AuditEvent, AuditName, Outcome, PasswordHasher as _, Policies,
    Ports, Timestamp,
};
use tenure_domain::NewPassword;
use tenure_mail_outbox::Outbox;
use tenure_store_seaorm::SeaOrmStore;
use tenure_testkit::fakes::{FixedClock, SequentialIds};
use tenure_web::{Services, WebConfig};
use uuid::Uuid;

use crate::{PASSWORD, user};

const AXE: &str = include_str!("../vendor/axe.min.js");

/// The running stack.
pub(crate) struct Stack {
    pub(crate) base: String,
    pub(crate) outbox: PathBuf,
    pub(crate) clock: Arc<FixedClock>,
    pub(crate) dir: PathBuf,
}

/// Each running stack's clock and keys, by its address: what [`Browser::sign_in`] needs
/// to pass the code step (the key each person's authenticator app holds, and the last
/// 30-second step whose code they used).
pub(crate) struct Codes {
    pub(crate) clock: Arc<FixedClock>,
    pub(crate) keys: std::collections::HashMap<String, Vec<u8>>,
    pub(crate) used: std::collections::HashMap<String, i64>,
}

pub(crate) static CODES: std::sync::Mutex<Vec<(String, Codes)>> = std::sync::Mutex::new(Vec::new());

/// A code for `who` on the stack at `base` not used before (the clock moves on a step if
/// need be); their key is the one they set up in the browser, else [`crate::TEST_SECRET`].
pub(crate) fn fresh_code(base: &str, who: &str) -> String {
    let mut all = CODES.lock().unwrap();
    let codes = &mut all.iter_mut().find(|(b, _)| b == base).expect("a stack").1;
    let key = codes.keys.get(who).cloned().unwrap_or_else(|| crate::TEST_SECRET.to_vec());
    crate::fresh_code(&codes.clock, &mut codes.used, who, &key)
}

async fn stack() -> Stack {
    stack_with("core", crate::browser_core::named_world()).await
}

/// A stack whose administrators have their authenticator app set up already (with
/// [`crate::TEST_SECRET`]).
pub(crate) async fn stack_with(name: &str, world: tenure_domain::World) -> Stack {
    stack_enrolled(name, world, true).await
}

/// A stack; with `enrol`, everyone whose role requires a second factor has one.
pub(crate) async fn stack_enrolled(name: &str, world: tenure_domain::World, enrol: bool) -> Stack {
    let dir = std::env::temp_dir().join(format!("tenure-browser-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("tenure.db").display());
    let store = Arc::new(SeaOrmStore::open(&url).await.unwrap());
    store.import(&world).await.unwrap();
    let hasher = Arc::new(tenure_hash_argon2::Argon2id::cheap_for_tests().unwrap());
    let hash = hasher.hash(&NewPassword::verified(PASSWORD)).await.unwrap();
    for (i, u) in world.users().enumerate() {
        let event = AuditEvent {
            id: Uuid::from_u128(0xB000 + i as u128),
            at: Timestamp(0),
            actor: None,
            name: AuditName::PasswordChange,
            outcome: Outcome::Success,
            target_user: Some(u.id),
            organisation: None,
            detail: AuditDetail::Empty,
            origin: None,
        };
        store.set_password(u.id, hash.clone(), event).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let outbox = dir.join("outbox");
    let mailer = Arc::new(Outbox::new(&outbox));
    let clock = Arc::new(FixedClock::at(1_800_000_000_000));
    let ids = Arc::new(SequentialIds::default());
    let secrets = Arc::new(tenure_secrets_os::OsSecrets);
    let ports = Ports {
        directory: store.clone(),
        changes: store.clone(),
        accounts: store.clone(),
        sessions: store.clone(),
        limits: store.clone(),
        second_factors: store.clone(),
        vault: Arc::new(tenure_secrets_os::KeyVault::from_key(&[7; 32])),
        corterum: store.clone(),
        hasher,
        secrets,
        mail_queue: store.clone(),
        mailer,
        clock: clock.clone(),
        ids,
    };
    let services = Services::wire(ports, Policies::at(&base)).await.unwrap();
    if enrol {
        crate::enrol_those_required(&services, &world).await;
    }
    let codes = Codes { clock: clock.clone(), keys: Default::default(), used: Default::default() };
    CODES.lock().unwrap().push((base.clone(), codes));
    let router = tenure_web::router(services, WebConfig::new(&base));
    tokio::spawn(async move { tenure_web::serve(listener, router).await });
    Stack { base, outbox, clock, dir }
}

/// A browser session with helpers; checks accessibility on every page it lands on.
pub(crate) struct Browser {
    pub(crate) client: Client,
    pub(crate) base: String,
    shots: Option<PathBuf>,
    pub(crate) visited: usize,
}

impl Browser {
    pub(crate) async fn landed(&mut self) -> String {
        let url = self.client.current_url().await.unwrap().to_string();
        let script = format!(
            "const done = arguments[arguments.length - 1];\n\
             if (typeof axe === 'undefined') {{ {AXE} }}\n\
             axe.run(document, {{ runOnly: {{ type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] }} }})\n\
               .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))\n\
               .catch(e => done(['axe failed: ' + e]));"
        );
        let result = self.client.execute_async(&script, vec![]).await.unwrap();
        let violations: Vec<String> = serde_json::from_value(result).unwrap();
        assert!(
            violations.is_empty(),
            "WCAG 2.2 AA violations on {url}:\n{}",
            violations.join("\n")
        );
        self.visited += 1;
        url
    }

    pub(crate) async fn go(&mut self, path: &str) -> String {
        let url = if path.starts_with("http") || path.starts_with("file:") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.client.goto(&url).await.unwrap();
        self.landed().await;
        self.source().await
    }

    pub(crate) async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub(crate) async fn click(&mut self, css: &str) -> String {
        self.client.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
        self.landed().await;
        self.source().await
    }

    pub(crate) async fn click_link(&mut self, text: &str) -> String {
        self.client.find(Locator::LinkText(text)).await.unwrap().click().await.unwrap();
        self.landed().await;
        self.source().await
    }

    /// Saves a screenshot when asked to.
    pub(crate) async fn shot(&self, name: &str) {
        if let Some(dir) = &self.shots {
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        }
    }

    /// Signs in; when the code step follows, passes it with a fresh code.
    pub(crate) async fn sign_in(&mut self, email: &str, password: &str) -> String {
        let page = self.password_only(email, password).await;
        if !self.client.current_url().await.unwrap().path().ends_with("/account/sign-in/code") {
            return page;
        }
        let code = fresh_code(&self.base, email);
        self.fill("#code", &code).await;
        self.click("form[action='/account/sign-in/code'] button.govuk-button").await
    }

    /// The sign-in form alone: the password step.
    pub(crate) async fn password_only(&mut self, email: &str, password: &str) -> String {
        self.go("/account/sign-in").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("button.govuk-button").await
    }

    pub(crate) async fn sign_out(&mut self) {
        self.click("form[action='/account/sign-out'] button").await;
    }
}

/// The newest message in the outbox to this address, and the link in it.
fn last_mail(outbox: &Path, to: &str) -> (PathBuf, String) {
    let mut files: Vec<_> = std::fs::read_dir(outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().ends_with(&format!("-{to}.eml")))
        .collect();
    files.sort();
    // The last mail with a link: notices (a password or address changed) hold none.
    let (file, text) = files
        .into_iter()
        .rev()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f, text)
        })
        .find(|(_, text)| text.contains("http://"))
        .unwrap_or_else(|| panic!("no mail with a link to {to}"));
    let start = text.find("http://").unwrap();
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    (file, link)
}

/// Starts chromedriver and a headless Chromium session, or `None` (said aloud) when they
/// are not installed outside CI.
pub(crate) async fn browser(base: &str) -> Option<(Browser, tokio::process::Child)> {
    let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(driver) = driver else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the browser tests: install chromium and chromium-driver (.ci/run does)"
        );
        eprintln!("SKIPPED: browser tests need chromium and chromium-driver");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = tokio::process::Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,1000"]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    client.set_ua("tenure-e2e").await.ok();
    let shots = std::env::var_os("TENURE_SCREENSHOTS").map(PathBuf::from);
    if let Some(dir) = &shots {
        std::fs::create_dir_all(dir).unwrap();
    }
    Some((Browser { client, base: base.to_owned(), shots, visited: 0 }, child))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journeys_in_a_real_browser_with_no_accessibility_violations() {
    let stack = stack().await;
    let Some((mut b, _driver)) = browser(&stack.base).await else { return };
    let pete = user(4).to_string();

    // A coordinator invites a user in three steps.
    b.go("/account/sign-in").await;
    b.shot("02-account-sign-in").await;
    let page = b.sign_in("cora@example.com", "wrong password here").await;
    assert!(
        page.contains("Enter a correct email address and password"),
        "error summary on a failed sign-in"
    );
    let page = b.sign_in("cora@example.com", PASSWORD).await;
    assert!(page.contains("<h1 class=\"govuk-heading-l\">Logs</h1>"));
    b.shot("12-coordinator-header").await;
    let page = b.click_link("Your organisation").await;
    assert!(page.contains("Alpha"));
    b.shot("13-coordinator-your-organisation").await;
    let page = b.click_link("View users").await;
    assert!(page.contains("Users of Alpha"));
    b.shot("14-coordinator-your-organisation-users").await;
    b.go("/users").await;
    let page = b.click_link("Invite a user").await;
    assert!(page.contains("Personal details"));
    b.fill("#email", "not an email").await;
    let page = b.click("button.govuk-button").await;
    assert!(page.contains("There is a problem"), "errors on bad input");
    // The screenshot shows the form as filled in, without the errors of the bad try.
    b.go("/users/invite").await;
    b.fill("#name", "Nina Newcomer").await;
    b.fill("#email", "nina@example.com").await;
    b.shot("15-coordinator-invite-personal-details").await;
    let page = b.click("button.govuk-button").await;
    assert!(page.contains("Which organisation does the user belong to?"));
    b.shot("16-coordinator-invite-organisation").await;
    b.client
        .find(Locator::Css(&format!("input[value='{}']", Uuid::from_u128(2))))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let page = b.click("button.govuk-button").await;
    assert!(page.contains("What role will Nina Newcomer have?"));
    assert!(!page.contains("value=\"administrator\""));
    b.shot("17-coordinator-invite-role").await;
    b.client
        .find(Locator::Css("input[value='data_provider']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let page = b.click("button.govuk-button").await;
    assert!(page.contains("The invitation has been sent."));
    b.sign_out().await;

    // The invitation email in the outbox -> create the account -> sign in.
    let (_, link) = last_mail(&stack.outbox, "nina@example.com");
    let page = b.go(&link).await;
    assert!(page.contains("Create your account"));
    b.shot("01-account-create").await;
    b.fill("#password", "violet anchor meadow 8").await;
    b.fill("#confirm", "violet anchor meadow 8").await;
    let page = b.click("button.govuk-button").await;
    assert!(page.contains("Your account has been created"));
    let page = b.sign_in("nina@example.com", "violet anchor meadow 8").await;
    assert!(page.contains(">Logs</h1>"));
    b.shot("08-account-header").await;
    let page = b.click_link("Your account").await;
    assert!(page.contains("Nina Newcomer"));
    b.shot("09-account-your-profile").await;
    b.go("/account/details").await;
    b.shot("10-account-change-your-personal-details").await;
    b.go("/account/password").await;
    b.shot("11-account-change-your-password").await;
    b.sign_out().await;

    // Reset, including an expired link.
    b.go("/account/reset-password").await;
    b.shot("03-account-reset-password").await;
    b.fill("#email", "nina@example.com").await;
    let page = b.click("button.govuk-button").await;
    assert!(page.contains("Check your email"));
    b.shot("04-account-check-your-email").await;
    let mut mail = None;
    for _ in 0..50 {
        if std::fs::read_dir(&stack.outbox).unwrap().count() >= 2 {
            mail = Some(last_mail(&stack.outbox, "nina@example.com"));
            if mail.as_ref().is_some_and(|(_, l)| l.contains("reset-password")) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (file, link) = mail.unwrap();
    assert!(link.contains("/account/reset-password?token="));
    if b.shots.is_some() {
        let text = std::fs::read_to_string(&file).unwrap();
        let html = &text[text.find("<!DOCTYPE html>").unwrap()..text.rfind("</html>").unwrap() + 7];
        let page = stack.dir.join("reset-email.html");
        std::fs::write(&page, html).unwrap();
        b.client.goto(&format!("file://{}", page.display())).await.unwrap();
        b.shot("05-account-reset-password-email").await;
    }
    let page = b.go(&link).await;
    assert!(page.contains("Reset your password"));
    b.shot("06-account-reset-your-password").await;
    b.fill("#password", "copper lantern willow 5").await;
    b.fill("#confirm", "copper lantern willow 5").await;
    let page = b.click("button.govuk-button").await;
    assert!(page.contains("Your password has been reset"));
    b.shot("07-account-sign-in-after-reset").await;
    let page = b.sign_in("nina@example.com", "copper lantern willow 5").await;
    assert!(page.contains(">Logs</h1>"));
    b.sign_out().await;
    b.go("/account/reset-password").await;
    b.fill("#email", "nina@example.com").await;
    b.click("button.govuk-button").await;
    let mut expired = String::new();
    for _ in 0..50 {
        let (_, l) = last_mail(&stack.outbox, "nina@example.com");
        if l != link {
            expired = l;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!expired.is_empty(), "a second reset email");
    stack.clock.advance(3 * 60 * 60 * 1000);
    let page = b.go(&expired).await;
    assert!(page.contains("This link has expired or has already been used"));

    // A coordinator deactivates, reactivates and deletes a user.
    b.sign_in("cora@example.com", PASSWORD).await;
    b.go(&format!("/users/{pete}")).await;
    let page = b.click_link("Deactivate user").await;
    assert!(page.contains("Are you sure you want to deactivate Pete Provider?"));
    b.shot("18-coordinator-deactivate-user").await;
    let page = b.click("button.govuk-button--warning").await;
    assert!(page.contains("The user has been deactivated."));
    b.shot("19-coordinator-deactivated-user").await;
    let page = b.click_link("Reactivate user").await;
    assert!(page.contains("Reactivate Pete Provider?"));
    b.shot("20-coordinator-reactivate-user").await;
    let page = b.click("button.govuk-button").await;
    assert!(page.contains("has been reactivated"));
    b.click_link("Deactivate user").await;
    b.click("button.govuk-button--warning").await;
    let page = b.click_link("Delete user").await;
    assert!(page.contains("Are you sure you want to delete Pete Provider?"));
    b.shot("21-coordinator-delete-user").await;
    let page = b.click("button.govuk-button--warning").await;
    assert!(page.contains("The user has been deleted."));
    b.sign_out().await;

    // An administrator edits and deactivates an organisation.
    b.sign_in("ada@example.com", PASSWORD).await;
    b.shot("22-administrator-header").await;
    // The widest header (Logs, Users, Organisations, Audit trail and, with an own
    // organisation, Your organisation): at
    // 1280 by 800 on one row, "Your account" and "Sign out" above it.
    let [width, items, rows, above] = b.header_layout().await;
    assert!(width >= 1270 && items >= 4, "{width} px wide, {items} items");
    assert_eq!((rows, above), (1, 1), "one row of {items} items, the account links above");
    let page = b.click_link("Organisations").await;
    assert!(page.contains("Gamma"));
    b.shot("23-administrator-organisations").await;
    let page = b.click_link("Gamma").await;
    b.shot("24-administrator-organisation").await;
    assert!(page.contains("Deactivate organisation"));
    b.click_link("Change details").await;
    b.fill("#name", "Gamma Housing").await;
    b.fill("#address", "2 Low Road").await;
    let page = b.click("button.govuk-button").await;
    assert!(
        page.contains("The organisation's details have been updated.")
            || page.contains("The organisation&#39;s details have been updated.")
    );
    b.click_link("Deactivate organisation").await;
    let page = b.click("button.govuk-button--warning").await;
    assert!(page.contains("have been deactivated"));
    let page = b.click_link("Users").await;
    assert!(page.contains("Users"));
    b.shot("25-administrator-users").await;
    b.go(&format!("/users/{}", user(6))).await;
    b.shot("26-administrator-user").await;
    b.go("/audit").await;
    b.go("/logs").await;
    b.go("/nowhere").await;
    b.sign_out().await;
    let _ = std::fs::remove_dir_all(&stack.dir);

    corterum_journeys(&mut b).await;
    assert!(b.visited > 80, "axe ran on {} pages", b.visited);
    b.client.close().await.unwrap();
}

impl Browser {
    async fn tick(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    }

    /// Chooses the option with this value in a `<select>`.
    pub(crate) async fn choose(&self, css: &str, value: &str) {
        let select = self.client.find(Locator::Css(css)).await.unwrap();
        select.select_by_value(value).await.unwrap();
    }

    /// The id in the current address: `/administration/THING/ID?...`.
    /// The header at 1280 by 800, on the current page (the window is put back after):
    /// the window's width, the number of navigation items, the number of rows they take,
    /// and 1 if the account links sit above them.
    pub(crate) async fn header_layout(&mut self) -> [u64; 4] {
        let (w, h) = self.client.get_window_size().await.unwrap();
        self.client.set_window_size(1280, 800).await.unwrap();
        let layout = self
            .client
            .execute(
                "const items = [...document.querySelectorAll('.govuk-service-navigation__item')];\n\
                 const account = document.querySelector('.tenure-header__account').getBoundingClientRect();\n\
                 const menu = document.querySelector('.govuk-service-navigation').getBoundingClientRect();\n\
                 return [window.innerWidth, items.length,\n\
                   new Set(items.map(i => Math.round(i.getBoundingClientRect().top))).size,\n\
                   account.bottom <= menu.top ? 1 : 0];",
                vec![],
            )
            .await
            .unwrap();
        self.client
            .set_window_size(u32::try_from(w).unwrap(), u32::try_from(h).unwrap())
            .await
            .unwrap();
        serde_json::from_value(layout).unwrap()
    }

    pub(crate) async fn current_id(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        url.path().rsplit('/').next().unwrap().to_owned()
    }
}

/// The seed's worked examples in the browser, on a Corterum account: the root
/// administrator sets up entities, a group, roles and users from the Administration
/// area (Jane Smith as an administration user, Charlie Chaplin as a standard user, Lena
/// as Joe's line manager); then each of them sees exactly what their role allows, and
/// an entity of another company stays out of sight.
async fn corterum_journeys(b: &mut Browser) {
    use tenure_domain::dataset::catalogue_id_of;
    let stack = stack_with("corterum", tenure_testkit::contract::corterum::world()).await;
    b.base.clone_from(&stack.base);
    let fca = Uuid::from_u128(1).to_string();
    let psr = Uuid::from_u128(2).to_string();

    let page = b.sign_in("root@example.com", PASSWORD).await;
    assert!(page.contains(">Administration</a>"));
    let page = b.click_link("Administration").await;
    b.shot("40-corterum-administration").await;
    assert!(page.contains("User accounts"));

    // Entities: "+", the type, the static data, the companies.
    let fca_id = fca.clone();
    let entity = async |b: &mut Browser, kind: &str, name: &str, company: &str| {
        b.go("/administration/entities").await;
        b.click_link("+ Add an entity").await;
        b.tick(&format!("input[name='type'][value='{kind}']")).await;
        let page = b.click("button.govuk-button").await;
        assert!(page.contains("Link to companies"));
        b.fill("#name", name).await;
        // The form starts with the administrator's own company (the FCA) ticked.
        if company != fca_id {
            b.tick(&format!("input[name='companies'][value='{fca_id}']")).await;
            b.tick(&format!("input[name='companies'][value='{company}']")).await;
        }
        let page = b.click("button.govuk-button").await;
        assert!(page.contains("Entity saved"), "{page}");
        b.current_id().await
    };
    b.go("/administration/entities/new?type=person").await;
    b.shot("42-corterum-entity-form").await;
    let page = b.click("button.govuk-button").await;
    assert!(
        page.contains("There is a problem") && page.contains("Enter a name"),
        "the name is mandatory"
    );
    let jane = entity(b, "person", "Jane Smith", &fca).await;
    let joe = entity(b, "person", "Joe Bloggs", &fca).await;
    let charlie = entity(b, "person", "Charlie Chaplin", &fca).await;
    let _lena = entity(b, "person", "Lena Line", &fca).await;
    let pat = entity(b, "person", "Pat Jones", &psr).await;
    b.go("/administration/entities").await;
    b.shot("41-corterum-entities").await;

    // A group for the line manager.
    b.go("/administration/groups").await;
    b.shot("43-corterum-groups").await;
    b.click_link("+ Add a group").await;
    b.tick("input[name='type'][value='person']").await;
    b.click("button.govuk-button").await;
    b.fill("#name", "Jane's reports").await;
    b.fill("#description", "The people Lena manages").await;
    b.tick(&format!("input[name='members'][value='{joe}']")).await;
    b.shot("44-corterum-group-form").await;
    let page = b.click("button.govuk-button").await;
    assert!(page.contains("Group saved"));
    let reports = b.current_id().await;

    // Roles: Standard User ("Select all", then the thirteen removed), Compliance
    // Administrator, Line manager.
    b.go("/administration/roles").await;
    b.shot("45-corterum-roles").await;
    let role = async |b: &mut Browser,
                      name: &str,
                      description: &str,
                      select_all: bool,
                      untick: &[&str],
                      tick: &[String]| {
        b.go("/administration/roles/new").await;
        b.fill("#name", name).await;
        b.fill("#description", description).await;
        if select_all {
            let page = b.click("button[name='select_all']").await;
            assert_eq!(page.matches("value=\"1\" checked").count(), 22, "every dataset ticked");
        }
        for key in untick {
            b.tick(&format!("#read_{}", catalogue_id_of(key).unwrap())).await;
        }
        for css in tick {
            b.tick(css).await;
        }
        if name == "Standard User" {
            b.shot("46-corterum-role-form").await;
        }
        let page = b
            .click("form[action='/administration/roles/new'] button.govuk-button:not([name])")
            .await;
        assert!(page.contains("Role saved"), "{page}");
        b.current_id().await
    };
    let thirteen = tenure_domain::dataset::NOT_FOR_STANDARD_USERS;
    let features = |names: &[&str]| {
        names.iter().map(|f| format!("input[name='features'][value='{f}']")).collect::<Vec<_>>()
    };
    let standard = role(
        b,
        "Standard User",
        "Reads their own datasets only, read only",
        true,
        &thirteen,
        &features(&["report_fit_and_proper_certificate", "report_statement_of_responsibility"]),
    )
    .await;
    let mut admin_ticks =
        features(&["entity_administration", "group_administration", "user_administration"]);
    admin_ticks.push(format!("input[name='groups'][value='{}']", tenure_domain::ALL_PEOPLE));
    let compliance = role(
        b,
        "Compliance Administrator",
        "Administers the account and reads everyone's records",
        true,
        &[],
        &admin_ticks,
    )
    .await;
    let mut lm_ticks = vec![
        format!("input[name='groups'][value='{reports}']"),
        format!("#read_{}", catalogue_id_of("training_record").unwrap()),
        format!("#read_{}", catalogue_id_of("training_courses").unwrap()),
    ];
    lm_ticks.extend(features(&["report_fit_and_proper_certificate"]));
    let line_manager = role(
        b,
        "Line manager",
        "Sees the training of the people they manage",
        false,
        &[],
        &lm_ticks,
    )
    .await;

    // User accounts, linked to their entities and the FCA.
    let account = async |b: &mut Browser, username: &str, email: &str, entity: &str, role: &str| {
        b.go("/administration/users").await;
        b.click_link("+ Add a user").await;
        b.fill("#username", username).await;
        b.fill("#email", email).await;
        b.tick(&format!("input[name='entity'][value='{entity}']")).await;
        b.tick(&format!("input[name='roles'][value='{role}']")).await;
        if username == "Charlie Chaplin" {
            b.shot("48-corterum-user-form").await;
        }
        let page = b.click("button.govuk-button").await;
        assert!(page.contains("User account saved"), "{page}");
    };
    account(b, "jane.smith@example.com", "jane@example.com", &jane, &compliance).await;
    account(b, "Charlie Chaplin", "charlie@example.com", &charlie, &standard).await;
    account(b, "lena@example.com", "lena@example.com", &_lena, &line_manager).await;
    b.shot("47-corterum-user-accounts").await;

    // Records: Joe's training record, twice; his criminal record check.
    b.go(&format!("/records/{joe}/training_record")).await;
    b.fill("#field_hours_this_year", "4").await;
    b.click("form[method='post'] button.govuk-button").await;
    stack.clock.advance(10 * 60 * 1000);
    b.go(&format!("/records/{joe}/training_record")).await;
    b.fill("#field_hours_this_year", "6").await;
    let page = b.click("form[method='post'] button.govuk-button").await;
    assert!(page.contains("New version saved") && page.contains("Current version (2 of 2)"));
    b.go(&format!("/records/{joe}/criminal_record_check")).await;
    b.fill("#field_result", "clear").await;
    b.click("form[method='post'] button.govuk-button").await;
    b.sign_out().await;

    // Each accepts the invitation in the outbox and signs in.
    for email in ["jane@example.com", "charlie@example.com", "lena@example.com"] {
        let (_, link) = last_mail(&stack.outbox, email);
        b.go(&link).await;
        b.fill("#password", PASSWORD).await;
        b.fill("#confirm", PASSWORD).await;
        let page = b.click("button.govuk-button").await;
        assert!(page.contains("Sign in"), "{email}: {page}");
    }

    // Charlie: his own datasets only, read only.
    let page = b.sign_in("charlie@example.com", PASSWORD).await;
    assert!(!page.contains(">Administration</a>"));
    let page = b.click_link("Records").await;
    assert!(page.contains("Charlie Chaplin") && !page.contains("Joe Bloggs"), "{page}");
    let page = b.click_link("Charlie Chaplin").await;
    b.shot("49-corterum-record").await;
    assert!(
        page.contains("Training record")
            && !page.contains("Fitness and Propriety Assessment Record")
    );
    let page = b.click_link("Training record").await;
    assert!(page.contains("Nothing has been recorded yet") && !page.contains("Save a new version"));
    let page = b.go(&format!("/records/{charlie}/fitness_and_propriety_assessment_record")).await;
    assert!(page.contains("Page not found"));
    let page = b.go("/administration").await;
    assert!(page.contains("Page not found"));
    b.sign_out().await;

    // Lena, the line manager: Joe's training record, as it is and as it was; not his
    // criminal record.
    b.sign_in("lena@example.com", PASSWORD).await;
    let page = b.go(&format!("/records/{joe}/training_record")).await;
    assert!(page.contains("Current version (2 of 2)") && page.contains(">6</dd>"));
    let page = b.click("a[href$='training_record?version=1']").await;
    assert!(page.contains("Version 1 of 2") && page.contains(">4</dd>"));
    b.shot("50-corterum-instance-history").await;
    let page = b.go(&format!("/records/{joe}/criminal_record_check")).await;
    assert!(page.contains("Page not found"));
    b.sign_out().await;

    // Jane, the administration user: the Administration area, everyone in the FCA, and
    // nothing of the PSR's Pat Jones.
    let page = b.sign_in("jane@example.com", PASSWORD).await;
    assert!(page.contains(">Administration</a>"));
    let page = b.go("/administration/entities").await;
    assert!(page.contains("Joe Bloggs") && !page.contains("Pat Jones"));
    let page = b.go(&format!("/records/{pat}")).await;
    assert!(page.contains("Page not found"));
    let page = b.go("/administration/roles").await;
    assert!(page.contains("Page not found"), "no roles administration for Jane");
    b.sign_out().await;
    let _ = std::fs::remove_dir_all(&stack.dir);
}
