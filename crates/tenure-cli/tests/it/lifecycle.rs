//! The process's lifecycle through the real binary: `tenure serve` stops on SIGTERM
//! without cutting a request in flight, answers `/healthz` and `/readyz`, serves metrics
//! only where asked; `tenure backup` copies a database and never overwrites.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tenure-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `tenure serve --demo` on a port of its own, its database in `dir`.
fn serve(dir: &std::path::Path, port: u16, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--database")
        .arg(format!("sqlite://{}?mode=rwc", dir.join("t.db").display()))
        .arg("--outbox")
        .arg(dir.join("mail"))
        .args(extra)
        .env("TENURE_INSECURE_FAST_HASHING", "1")
        .env_remove("TENURE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// One request, its whole answer (the connection closes after it).
fn request(port: u16, text: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.write_all(text.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn get(port: u16, path: &str) -> Option<String> {
    request(port, &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
}

/// Polls until the server answers (it seeds the demo first).
fn wait_until_up(port: u16, child: &mut Child) -> String {
    for _ in 0..600 {
        if let Some(page) = get(port, "/healthz") {
            return page;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("tenure serve exited with {status}: {err}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("tenure serve never answered on {port}");
}

fn cookie_and_token(page: &str) -> (String, String) {
    let cookie = page
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("an anonymous CSRF cookie")
        .to_owned();
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let token = page[at..at + page[at..].find('"').unwrap()].to_owned();
    (cookie, token)
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_then_exits_0() {
    let dir = temp_dir("shutdown");
    let port = free_port();
    let mut child = serve(&dir, port, &["--shutdown-grace-seconds", "600"]);
    let health = wait_until_up(port, &mut child);
    assert!(health.starts_with("HTTP/1.1 200") && health.ends_with("ok\n"), "{health}");
    let ready = get(port, "/readyz").unwrap();
    assert!(ready.starts_with("HTTP/1.1 200") && ready.ends_with("ready\n"), "{ready}");

    // A sign-in whose form is still to be uploaded when the signal comes. With
    // `Expect: 100-continue` the server says `100 Continue` when the handler's side starts
    // reading the body: from then on the request is certainly in flight.
    let form = get(port, "/account/sign-in").unwrap();
    let (cookie, token) = cookie_and_token(&form);
    let body = format!("csrf={token}&email=coordinator%40example.com&password=wrong+password");
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        slow,
        "POST /account/sign-in HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    slow.flush().unwrap();
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        slow.read_exact(&mut byte).unwrap();
        interim.push(byte[0]);
    }
    assert!(interim.starts_with(b"HTTP/1.1 100"), "{}", String::from_utf8_lossy(&interim));

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    // The server stops accepting: new connections are refused (polled, not timed).
    let mut refused = false;
    for _ in 0..600 {
        if TcpStream::connect(("127.0.0.1", port)).is_err() {
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(refused, "the listener closed after SIGTERM");
    assert!(child.try_wait().unwrap().is_none(), "still running: a request is in flight");

    // The form arrives; the request finishes with its page.
    slow.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Enter a correct email address and password"), "{answer}");

    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(stderr.contains("stopping") && stderr.contains("stopped"), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn metrics_are_served_only_on_their_own_address() {
    let dir = temp_dir("metrics");
    let (port, metrics) = (free_port(), free_port());
    let mut child = serve(&dir, port, &["--metrics-listen", &format!("127.0.0.1:{metrics}")]);
    wait_until_up(port, &mut child);
    assert!(get(port, "/users").is_some());
    let form = get(port, "/account/sign-in").unwrap();
    let (cookie, token) = cookie_and_token(&form);
    let body = format!("csrf={token}&email=nobody%40example.com&password=wrong+password");
    let refused = request(
        port,
        &format!(
            "POST /account/sign-in HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .unwrap();
    assert!(refused.starts_with("HTTP/1.1 200"), "{refused}");
    let app_metrics = get(port, "/metrics").unwrap();
    assert!(app_metrics.starts_with("HTTP/1.1 404"), "not on the application's address");
    let scraped = get(metrics, "/metrics").unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    for expected in [
        "tenure_http_requests_total{method=\"GET\",route=\"/account/sign-in\",status=\"200\"}",
        "tenure_http_request_duration_seconds_bucket{",
        "route=\"/users\"",
        "tenure_sign_ins_total{outcome=\"refused\"} 1",
        "tenure_db_connections{state=\"idle\"}",
        "tenure_argon2_running",
        "tenure_mail_queue 0",
    ] {
        assert!(scraped.contains(expected), "`{expected}` in {scraped}");
    }
    assert!(!scraped.contains("/healthz"), "probes are not counted as pages");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn backup_copies_the_database_and_never_overwrites() {
    let dir = temp_dir("backup");
    let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
    let tenure = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tenure"))
            .args(args)
            .env("TENURE_DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    assert!(tenure(&["migrate"]).status.success());
    let copy = dir.join("copy.db");
    let out = tenure(&["backup", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Backed up"));
    // The copy is a Tenure database: migrating it finds nothing to do, and it opens.
    let copied = format!("sqlite://{}?mode=rw", copy.display());
    let out = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["migrate", "--database", &copied])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let again = tenure(&["backup", copy.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // A database that is not there is not created by backing it up.
    let missing = dir.join("missing.db");
    let out = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["backup", dir.join("x.db").to_str().unwrap(), "--database"])
        .arg(format!("sqlite://{}?mode=rwc", missing.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!missing.exists() && !dir.join("x.db").exists());

    // PostgreSQL is pg_dump's job.
    let out = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["backup", "never.sql", "--database", "postgres://nobody@127.0.0.1:1/none"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
    std::fs::remove_dir_all(dir).ok();
}
