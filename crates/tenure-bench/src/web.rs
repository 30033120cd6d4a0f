//! `tenure-bench web`: the real `tenure serve` binary over the full synthetic world,
//! loaded over loopback by `wrk` at 50 connections: requests per second and p99 for the
//! signed-in users and logs pages, on a SQLite file (one instance) and on PostgreSQL (one
//! instance, then two processes sharing the database with the 50 connections split
//! between them, as a load balancer would), side by side. PostgreSQL runs when
//! `TENURE_TEST_POSTGRES_URL` names a server (`cargo xtask bench web` starts a throwaway
//! cluster). Then the password hasher under a burst of sign-ins: its concurrency is
//! bounded, and past its queue it refuses at once.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sea_orm::{ConnectionTrait as _, Database};
use tenure_core::{
    AccountStore, AuditDetail, AuditEvent, AuditName, Outcome, PasswordHasher, Timestamp, Verified,
};
use tenure_domain::{NewPassword, UserId};
use tenure_hash_argon2::Argon2id;
use tenure_store_seaorm::SeaOrmStore;

use crate::synth::{self, Size};

const PASSWORD: &str = "bench marking lantern river";

/// Kills the server when the benchmark ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 exchange on a fresh connection: the status line, headers and body.
fn http(port: u16, request: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn cookie(response: &str, name: &str) -> Option<String> {
    response.lines().find_map(|l| {
        let rest = l.strip_prefix("set-cookie: ")?;
        let pair = rest.split(';').next()?;
        let (n, v) = pair.split_once('=')?;
        (n == name).then(|| v.to_owned())
    })
}

/// Signs in through the real form and returns the session cookie.
fn sign_in(port: u16, email: &str) -> anyhow::Result<String> {
    let page =
        http(port, "GET /account/sign-in HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")?;
    let csrf_cookie = cookie(&page, "tenure_csrf").context("a CSRF cookie")?;
    let at = page.find("name=\"csrf\" value=\"").context("a CSRF field")? + 19;
    let csrf = &page[at..at + page[at..].find('"').context("end of the CSRF field")?];
    let body = format!(
        "csrf={csrf}&email={}&password={}",
        email.replace('@', "%40"),
        PASSWORD.replace(' ', "+")
    );
    let response = http(
        port,
        &format!(
            "POST /account/sign-in HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\
             Cookie: tenure_csrf={csrf_cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )?;
    cookie(&response, "tenure_session").with_context(|| format!("{email} did not sign in"))
}

/// The connections every measurement keeps busy, split evenly across the instances.
const CONNECTIONS: usize = 50;

/// Requests per second and p99 in milliseconds over `ports` at once: one `wrk` per
/// instance, each with its share of the connections and of the two threads, run
/// together; their requests per second summed, and the worst of their p99s (a
/// conservative reading of the p99 of all the requests together).
fn wrk(ports: &[u16], path: &str, session: &str) -> anyhow::Result<(f64, f64)> {
    let each = CONNECTIONS / ports.len().max(1);
    let threads = (2 / ports.len()).max(1);
    let children = ports
        .iter()
        .map(|port| {
            Command::new("wrk")
                .args([format!("-t{threads}"), format!("-c{each}"), "-d10s".to_owned()])
                .args(["--latency", "-H"])
                .arg(format!("Cookie: tenure_session={session}"))
                .arg(format!("http://127.0.0.1:{port}{path}"))
                .stdout(Stdio::piped())
                .spawn()
                .context("run wrk (cargo xtask bench web installs it)")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (mut rps, mut p99) = (0.0, 0.0_f64);
    for child in children {
        let out = child.wait_with_output()?;
        let (r, p) = read_wrk(&String::from_utf8_lossy(&out.stdout), path)?;
        rps += r;
        p99 = p99.max(p);
    }
    Ok((rps, p99))
}

/// Requests per second and p99 in milliseconds from one `wrk --latency` report.
fn read_wrk(text: &str, path: &str) -> anyhow::Result<(f64, f64)> {
    anyhow::ensure!(!text.contains("Non-2xx"), "wrk saw errors on {path}:\n{text}");
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(str::trim)
        .with_context(|| format!("no 99% line in wrk's output:\n{text}"))?;
    let ms = if let Some(v) = p99.strip_suffix("ms") {
        v.parse::<f64>()?
    } else if let Some(v) = p99.strip_suffix("us") {
        v.parse::<f64>()? / 1000.0
    } else if let Some(v) = p99.strip_suffix('s') {
        v.parse::<f64>()? * 1000.0
    } else {
        bail!("cannot read wrk's p99 `{p99}`")
    };
    Ok((rps, ms))
}

/// One figure: a page as one actor, on one set-up.
#[derive(Clone, Copy)]
struct Figure {
    rps: f64,
    p99: f64,
}

const PAGES: [(&str, &str, bool); 4] = [
    ("users page, coordinator", "/users", false),
    ("logs page, coordinator", "/logs", false),
    ("users page, administrator", "/users", true),
    ("logs page, administrator", "/logs", true),
];

/// Writes the world into the database at `url`, and the bench password for `users`.
async fn prepare(
    url: &str,
    s: &synth::Synth,
    hasher: &Argon2id,
    users: [UserId; 2],
) -> anyhow::Result<()> {
    let store = SeaOrmStore::open(url).await?;
    store.import(&s.world).await?;
    let hash = hasher.hash(&NewPassword::verified(PASSWORD)).await?;
    for (i, user) in users.into_iter().enumerate() {
        let event = AuditEvent {
            id: uuid::Uuid::from_u128(0xBE00 + i as u128),
            at: Timestamp(0),
            actor: None,
            name: AuditName::PasswordChange,
            outcome: Outcome::Success,
            target_user: Some(user),
            organisation: None,
            detail: AuditDetail::Empty,
            origin: None,
        };
        store.set_password(user, hash.clone(), event).await?;
    }
    Ok(())
}

/// Starts `tenure serve` on `url` and waits until it accepts connections.
fn start(bin: &str, url: &str, outbox: &std::path::Path) -> anyhow::Result<(Server, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut server = Server(
        Command::new(bin)
            .args(["serve", "--database", url, "--listen", &format!("127.0.0.1:{port}")])
            .arg("--outbox")
            .arg(outbox)
            // Instances on one PostgreSQL database share a secret key.
            .env("TENURE_SECRET_KEY", "5e".repeat(32))
            .env_remove("TENURE_SECRET_KEY_FILE")
            .env_remove("TENURE_CONFIG")
            .stdout(Stdio::null())
            // Its log (a line a request) into a file, as a service manager keeps it, not
            // over the figures.
            .stderr(std::fs::File::create(outbox.with_extension("log"))?)
            .spawn()
            .with_context(|| format!("start `{bin} serve`"))?,
    );
    for _ in 0..1200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((server, port));
        }
        if let Some(status) = server.0.try_wait()? {
            let log = std::fs::read_to_string(outbox.with_extension("log")).unwrap_or_default();
            bail!("`{bin} serve` on {url} exited with {status}: {log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("the server on {url} did not start")
}

/// Every page of [`PAGES`] loaded over `instances` servers on `url` at once.
#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn measure(
    bin: &str,
    dir: &std::path::Path,
    label: &str,
    url: &str,
    instances: usize,
    emails: [&str; 2],
) -> anyhow::Result<Vec<Option<Figure>>> {
    let mut servers = Vec::new();
    for n in 0..instances {
        servers.push(start(bin, url, &dir.join(format!("outbox-{n}")))?);
    }
    let ports: Vec<u16> = servers.iter().map(|(_, p)| *p).collect();
    let coordinator = sign_in(ports[0], emails[0])?;
    // `None` when the administrator's password alone does not reach the pages (a role
    // that requires a second factor).
    let admin = sign_in(ports[0], emails[1]).ok().filter(|session| {
        let page = http(
            ports[0],
            &format!(
                "GET /users HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\
                 Cookie: tenure_session={session}\r\n\r\n"
            ),
        );
        page.is_ok_and(|p| p.starts_with("HTTP/1.1 200"))
    });
    if admin.is_none() {
        println!(
            "{label}: the administrator's pages skipped (a password alone does not reach them)"
        );
    }
    let mut figures = Vec::new();
    for (page, path, as_admin) in PAGES {
        let session = if as_admin { admin.as_ref() } else { Some(&coordinator) };
        let Some(session) = session else {
            figures.push(None);
            continue;
        };
        let (rps, p99) = wrk(&ports, path, session)?;
        println!(
            "{label}, {page}: {rps:.0} requests/s, p99 {p99:.2} ms ({CONNECTIONS} connections, 10 s)"
        );
        figures.push(Some(Figure { rps, p99 }));
    }
    drop(servers);
    Ok(figures)
}

fn cell(figure: Option<&Option<Figure>>) -> String {
    match figure {
        Some(Some(f)) => format!("{:.0} req/s, p99 {:.2} ms", f.rps, f.p99),
        _ => "skipped".to_owned(),
    }
}

/// The closing line's figures for the coordinator's two pages.
fn pair(figures: &[Option<Figure>]) -> String {
    let f = |i: usize| figures.get(i).copied().flatten().unwrap_or(Figure { rps: 0.0, p99: 0.0 });
    format!(
        "users-page {:.0} req/s p99 {:.2} ms, logs-page {:.0} req/s p99 {:.2} ms",
        f(0).rps,
        f(0).p99,
        f(1).rps,
        f(1).p99
    )
}

#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) fn run(size: Size) -> anyhow::Result<()> {
    let bin = std::env::var("TENURE_BIN")
        .context("TENURE_BIN names the tenure binary (cargo xtask bench web sets it)")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!(
        "world: {} organisations, {} users, {} logs",
        size.organisations, size.users, size.logs
    );
    let s = synth::build(size, 7)?;
    let (coordinator, admin) = crate::store::actors(&s)?;
    let email = |id: UserId| s.world.user(id).map(|u| u.email.to_string()).unwrap_or_default();
    let (coordinator_email, admin_email) = (email(coordinator), email(admin));
    let emails = [coordinator_email.as_str(), admin_email.as_str()];
    let dir = std::env::temp_dir().join(format!("tenure-bench-web-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let hasher = Arc::new(Argon2id::owasp()?);

    let url = format!("sqlite://{}?mode=rwc", dir.join("web.db").display());
    let t = Instant::now();
    runtime.block_on(prepare(&url, &s, &hasher, [coordinator, admin]))?;
    println!("sqlite: imported in {:.1} s", t.elapsed().as_secs_f64());
    let sqlite = measure(&bin, &dir, "sqlite", &url, 1, emails)?;

    let postgres = match std::env::var("TENURE_TEST_POSTGRES_URL") {
        Ok(server) => {
            let name = format!("tenure_bench_web_{}", std::process::id());
            let (base, _) =
                server.rsplit_once('/').context("the PostgreSQL URL names a database")?;
            let url = format!("{base}/{name}");
            let t = Instant::now();
            runtime.block_on(async {
                let cluster = Database::connect(&server).await?;
                cluster.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
                prepare(&url, &s, &hasher, [coordinator, admin]).await
            })?;
            println!("postgres: imported in {:.1} s", t.elapsed().as_secs_f64());
            let one = measure(&bin, &dir, "postgres, 1 instance", &url, 1, emails)?;
            let two = measure(&bin, &dir, "postgres, 2 instances", &url, 2, emails)?;
            Some((one, two))
        }
        Err(_) => {
            println!(
                "postgres: skipped (run through `cargo xtask bench web`, which starts a server)"
            );
            None
        }
    };
    let _ = std::fs::remove_dir_all(&dir);

    println!();
    println!("| page | sqlite, 1 instance | postgres, 1 instance | postgres, 2 instances |");
    println!("| --- | --- | --- | --- |");
    for (i, (page, _, _)) in PAGES.iter().enumerate() {
        let (one, two) = postgres.as_ref().map_or((None, None), |(o, t)| (o.get(i), t.get(i)));
        println!("| {page} | {} | {} | {} |", cell(sqlite.get(i)), cell(one), cell(two));
    }
    println!();

    // The hasher under a burst of 200 sign-ins at once.
    let (checked, refused, elapsed) = runtime.block_on(async {
        let stored = hasher.hash(&NewPassword::verified(PASSWORD)).await?;
        let start = Instant::now();
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let (hasher, stored) = (hasher.clone(), stored.clone());
                tokio::spawn(async move { hasher.verify(PASSWORD, &stored).await })
            })
            .collect();
        let (mut checked, mut refused) = (0, 0);
        for task in tasks {
            match task.await? {
                Verified::Unavailable => refused += 1,
                _ => checked += 1,
            }
        }
        anyhow::Ok((checked, refused, start.elapsed()))
    })?;
    let per_second = checked as f64 / elapsed.as_secs_f64();
    println!(
        "sign-in burst: 200 at once, {checked} checked in {:.2} s ({per_second:.0} checks/s on {} permits), {refused} refused at once as busy",
        elapsed.as_secs_f64(),
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
    );
    println!(
        "web: {} (coordinator); sign-in {per_second:.0} checks/s, {refused}/200 refused past the queue",
        pair(&sqlite)
    );
    match &postgres {
        Some((one, two)) => {
            println!("web-postgres: {} (1 instance); {} (2 instances)", pair(one), pair(two))
        }
        None => println!("web-postgres: skipped"),
    }
    Ok(())
}
