//! `tenure serve`: configured from a file, it starts, serves the sign-in page and the demo
//! world's users can sign in; a bad file is refused with the reason, and so is a bad value
//! from the environment, named with its setting and variable.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn serve_reads_its_configuration_file_and_seeds_the_demo() {
    let dir = std::env::temp_dir().join(format!("tenure-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.join("tenure.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndatabase = \"sqlite://{}?mode=rwc\"\noutbox = \"{}\"\nsession_idle_minutes = 10\nsign_in_heading = \"Sign in to submit <lettings> data\"\n",
            dir.join("t.db").display(),
            dir.join("mail").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["serve", "--demo", "--config"])
        .arg(&config)
        .env("TENURE_INSECURE_FAST_HASHING", "1")
        .env_remove("TENURE_LISTEN")
        .env_remove("TENURE_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut page = None;
    for _ in 0..300 {
        page = get(port, "/account/sign-in");
        if page.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let page = page
        .unwrap_or_else(|| panic!("no answer on {port}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    // The operator's heading from the file, escaped.
    assert!(page.contains("Sign in to submit &#60;lettings&#62; data</h1>"), "{page}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("coordinator@example.com") && stdout.contains(&format!("127.0.0.1:{port}")),
        "{stdout}"
    );
    assert!(dir.join("t.db").exists(), "the database named in the file");
    // The demo's key is in the database's folder, and `demo code` finds it from the same
    // --database alone (no --outbox), making no key of its own.
    assert!(dir.join("tenure-demo.key").exists(), "the demo's key beside its database");
    let database = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["demo", "code", "admin@example.com", "--database", &database])
        .env_remove("TENURE_SECRET_KEY")
        .env_remove("TENURE_SECRET_KEY_FILE")
        .env_remove("TENURE_OUTBOX")
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && code.trim().len() == 6
            && code.trim().bytes().all(|b| b.is_ascii_digit()),
        "{code} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.join("t.db.key").exists(), "`demo code` made no key");

    std::fs::write(&config, "listen = \"127.0.0.1:1\"\nlisten_on = 3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a valid configuration file") && stderr.contains("listen_on"),
        "{stderr}"
    );

    // A bad value from the environment names its setting, its variable and what is accepted,
    // and a flag wins over it.
    std::fs::write(&config, "lockout_attempts = 3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("TENURE_LOCKOUT_ATTEMPTS", "0")
        .env("TENURE_TRUSTED_PROXIES", "10.0.0.0/8,not-a-network")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "setting `lockout_attempts` (from the environment variable `TENURE_LOCKOUT_ATTEMPTS`): \
             invalid value unsigned int `0`, expected a whole number of at least 1"
        ),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["serve", "--lockout-attempts", "4", "--config"])
        .arg(&config)
        .env("TENURE_LOCKOUT_ATTEMPTS", "0")
        .env("TENURE_TRUSTED_PROXIES", "10.0.0.0/8,not-a-network")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("setting `trusted_proxies` (from the environment variable `TENURE_TRUSTED_PROXIES`): trusted proxy `not-a-network` is not a network")
            && !stderr.contains("lockout_attempts"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `demo code` only reads secrets: with no key to be found it fails saying so, and makes
/// no key file (one made now would open nothing).
#[test]
fn demo_code_without_a_key_makes_none() {
    let dir = std::env::temp_dir().join(format!("tenure-demo-code-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_tenure"))
        .args(["demo", "code", "admin@example.com", "--database", &database])
        .env_remove("TENURE_SECRET_KEY")
        .env_remove("TENURE_SECRET_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no secret key found") && stderr.contains("--secret-key-file"),
        "{stderr}"
    );
    assert!(!dir.join("t.db.key").exists() && !dir.join("tenure-demo.key").exists(), "no key made");
    std::fs::remove_dir_all(&dir).unwrap();
}
