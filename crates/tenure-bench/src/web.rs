//! `tenure-bench web`: the real `tenure serve` binary over a SQLite file holding the full
//! synthetic world, loaded over loopback by `wrk` at 50 connections: requests per second
//! and p99 for the signed-in users and logs pages. Then the password hasher under a burst
//! of sign-ins: its concurrency is bounded, and past its queue it refuses at once.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
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

/// Requests per second and p99 in milliseconds, from `wrk --latency`.
fn wrk(port: u16, path: &str, session: &str) -> anyhow::Result<(f64, f64)> {
    let out = Command::new("wrk")
        .args(["-t2", "-c50", "-d10s", "--latency", "-H"])
        .arg(format!("Cookie: tenure_session={session}"))
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .context("run wrk (cargo xtask bench web installs it)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
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
    let dir = std::env::temp_dir().join(format!("tenure-bench-web-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("web.db").display());
    let hasher = Arc::new(Argon2id::owasp()?);
    runtime.block_on(async {
        let t = Instant::now();
        let store = SeaOrmStore::open(&url).await?;
        store.import(&s.world).await?;
        let hash = hasher.hash(&NewPassword::verified(PASSWORD)).await?;
        for (i, user) in [coordinator, admin].into_iter().enumerate() {
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
        println!("sqlite: imported in {:.1} s", t.elapsed().as_secs_f64());
        anyhow::Ok(())
    })?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let server = Server(
        Command::new(&bin)
            .args(["serve", "--database", &url, "--listen", &format!("127.0.0.1:{port}")])
            .arg("--outbox")
            .arg(dir.join("outbox"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("start `{bin} serve`"))?,
    );
    let mut up = false;
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::ensure!(up, "the server did not start");
    let email = |id: UserId| s.world.user(id).map(|u| u.email.to_string()).unwrap_or_default();
    let coordinator_session = sign_in(port, &email(coordinator))?;
    let admin_session = sign_in(port, &email(admin))?;
    let mut rows = Vec::new();
    for (label, path, session) in [
        ("users page, coordinator", "/users", &coordinator_session),
        ("logs page, coordinator", "/logs", &coordinator_session),
        ("users page, administrator", "/users", &admin_session),
        ("logs page, administrator", "/logs", &admin_session),
    ] {
        let (rps, p99) = wrk(port, path, session)?;
        println!("{label}: {rps:.0} requests/s, p99 {p99:.2} ms (50 connections, 10 s)");
        rows.push((rps, p99));
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);

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
        "web: users-page {:.0} req/s p99 {:.2} ms, logs-page {:.0} req/s p99 {:.2} ms (coordinator); sign-in {per_second:.0} checks/s, {refused}/200 refused past the queue",
        rows[0].0, rows[0].1, rows[1].0, rows[1].1
    );
    Ok(())
}
