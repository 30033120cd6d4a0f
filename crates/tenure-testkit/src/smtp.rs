//! A real SMTP server for tests: Debian's `python3-aiosmtpd`, started on a port the test
//! chose and stopped when dropped, storing every message it accepts in a maildir the test
//! reads. `.ci/run` installs it; elsewhere, tests that need it skip with a note (and fail
//! under `CI`).
#![allow(
    clippy::expect_used,
    reason = "a test helper fails the test that uses it, loudly, on the first surprise"
)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The interpreter that has Debian's packages (a `python3` earlier on the `PATH`, such
/// as pyenv's, may not).
const PYTHON: &str = "/usr/bin/python3";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Whether aiosmtpd is installed; says so when it is not, and fails under `CI`.
pub fn available() -> bool {
    let ok = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the real SMTP tests: install python3-aiosmtpd (.ci/run does)"
        );
        eprintln!("SKIPPED: the real SMTP tests need python3-aiosmtpd (apt-get install)");
    }
    ok
}

/// A port nothing listens on now (the test may start a server on it later).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// A running aiosmtpd; stopped when dropped (its maildir stays for the test to read).
#[derive(Debug)]
pub struct Server {
    child: Child,
    maildir: PathBuf,
    port: u16,
}

impl Server {
    /// Starts aiosmtpd on `port`, storing into a fresh maildir, and waits until it
    /// accepts connections.
    pub fn start(port: u16) -> Self {
        let maildir = std::env::temp_dir().join(format!(
            "tenure-smtp-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        Self::start_into(port, &maildir)
    }

    /// As [`Server::start`], storing into `maildir` (kept across a restart).
    pub fn start_into(port: u16, maildir: &Path) -> Self {
        let child = Command::new(PYTHON)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let mut server = Self { child, maildir: maildir.to_owned(), port };
        // A readiness poll, not a timed assertion: it waits for the server to listen.
        for _ in 0..500 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("aiosmtpd ended before it listened on {port}: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        server.stop();
        panic!("aiosmtpd did not listen on {port}");
    }

    /// Its URL for `SmtpMailer`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message it stored, as text, oldest first.
    pub fn messages(&self) -> Vec<String> {
        messages_in(&self.maildir)
    }

    /// Stops it (and waits until it has).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every message in a maildir, as text, by file name.
pub fn messages_in(maildir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files.iter().filter_map(|f| std::fs::read_to_string(f).ok()).collect()
}
