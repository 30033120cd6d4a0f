//! Project automation, run as `cargo xtask <task>`.
//!
//! Tasks: `ci` (everything CI checks), `deps` (the layer rules), `tidy` (file headers, lint
//! settings, and no built-in role id compared outside the engine), `policy` (the example
//! policy files), `fuzz [CASES]` (the parser and route fuzzing of issue 16, run long:
//! 20,000 cases per parser property by default, and a fortieth of that, at least 16, for
//! the route fuzzing), `bench engine | store | web | batch` (the benchmarks), `screenshots` (a PNG of
//! every screen into `docs/screenshots/`) and
//! `assets` (rebuild the committed GOV.UK Frontend stylesheet and the vendored axe-core
//! from npm; the only task that needs Node).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use xshell::{Shell, cmd};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sh = Shell::new()?;
    // The workspace is compiled in, so an xtask built by another clone sharing this
    // target directory would check that clone's code: refuse instead.
    let here = std::env::current_dir()?;
    let (here_real, root_real) = (here.canonicalize()?, root().canonicalize()?);
    ensure!(
        here_real.starts_with(&root_real),
        "this xtask was built for the workspace at {} but runs in {}: build it here \
         (`touch xtask/src/main.rs`, or give this clone its own target directory)",
        root().display(),
        here.display()
    );
    sh.change_dir(root());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    match args.first().map(String::as_str) {
        Some("ci") => ci(&sh, &cargo),
        Some("deps") => deps(&sh, &cargo),
        Some("tidy") => tidy(&root()),
        Some("policy") => policy(&sh, &cargo),
        Some("fuzz") => {
            let cases = match args.get(1) {
                Some(n) => n.parse().ok().filter(|n| *n > 0).with_context(|| {
                    format!("usage: cargo xtask fuzz [CASES]: `{n}` is not a positive number")
                })?,
                None => FUZZ_CASES,
            };
            fuzz(&sh, &cargo, cases)
        }
        Some("screenshots") => screenshots(&sh, &cargo),
        Some("assets") => assets(&sh),
        Some("postgres") => {
            // Runs the rest of the line with TENURE_TEST_POSTGRES_URL set to a throwaway
            // cluster, e.g. `cargo xtask postgres cargo test -p tenure-store-seaorm`.
            let rest = &args[1..];
            let (program, rest) =
                rest.split_first().context("usage: cargo xtask postgres COMMAND...")?;
            with_postgres(&sh, |url| {
                cmd!(sh, "{program} {rest...}")
                    .env("TENURE_TEST_POSTGRES_URL", url)
                    .run()
                    .map_err(Into::into)
            })
        }
        Some("bench") => {
            let rest = &args[1..];
            match rest.first().map(String::as_str) {
                Some("engine") => {
                    cmd!(sh, "{cargo} run --release --quiet -p tenure-bench -- {rest...}").run()?;
                }
                Some("store") => {
                    cmd!(sh, "{cargo} build --release --quiet -p tenure-bench").run()?;
                    with_postgres(&sh, |url| {
                        cmd!(sh, "{cargo} run --release --quiet -p tenure-bench -- {rest...}")
                            .env("TENURE_TEST_POSTGRES_URL", url)
                            .run()
                            .map_err(Into::into)
                    })?;
                }
                Some("web") => {
                    if cmd!(sh, "which wrk").quiet().ignore_stderr().read().is_err() {
                        ensure!(
                            cmd!(sh, "id -u").read()?.trim() == "0",
                            "the web benchmark needs wrk: run `sudo apt-get install -y wrk`"
                        );
                        cmd!(sh, "apt-get install -y -qq wrk")
                            .env("DEBIAN_FRONTEND", "noninteractive")
                            .run()?;
                    }
                    // The same pages on SQLite and on a throwaway PostgreSQL cluster (one
                    // instance, then two); CARGO_TARGET_DIR keeps it off the debug build.
                    cmd!(sh, "{cargo} build --release --quiet -p tenure-cli -p tenure-bench")
                        .run()?;
                    let target = std::env::var_os("CARGO_TARGET_DIR")
                        .map_or_else(|| root().join("target"), PathBuf::from);
                    let bin = target.join("release/tenure");
                    // The bench binary just built, run as it is: `cargo run -p
                    // tenure-bench` alone would unify features differently and build
                    // every shared dependency a second time.
                    let bench = target.join("release/tenure-bench");
                    with_postgres(&sh, |url| {
                        cmd!(sh, "{bench} {rest...}")
                            .env("TENURE_TEST_POSTGRES_URL", url)
                            .env("TENURE_BIN", &bin)
                            .run()
                            .map_err(Into::into)
                    })?;
                }
                Some("batch") => {
                    // The batch jobs through the release binary, on SQLite and a throwaway
                    // PostgreSQL cluster; CARGO_TARGET_DIR keeps it off the debug build.
                    cmd!(sh, "{cargo} build --release --quiet -p tenure-cli -p tenure-bench")
                        .run()?;
                    let target = std::env::var_os("CARGO_TARGET_DIR")
                        .map_or_else(|| root().join("target"), PathBuf::from);
                    let bin = target.join("release/tenure");
                    // The bench binary just built, as `bench web` runs it: `cargo run -p
                    // tenure-bench` alone unifies features differently and built every
                    // shared dependency a second time.
                    let bench = target.join("release/tenure-bench");
                    with_postgres(&sh, |url| {
                        cmd!(sh, "{bench} {rest...}")
                            .env("TENURE_TEST_POSTGRES_URL", url)
                            .env("TENURE_BIN", &bin)
                            .run()
                            .map_err(Into::into)
                    })?;
                }
                _ => bail!("usage: cargo xtask bench <engine | store | web | batch> [--scale F]"),
            }
            Ok(())
        }
        _ => bail!(
            "usage: cargo xtask <ci | deps | tidy | policy | fuzz [CASES] | screenshots | assets | postgres COMMAND... | bench <engine | store | web | batch> [--scale F]>"
        ),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Everything CI checks, in order, stopping at the first failure.
fn ci(sh: &Shell, cargo: &str) -> anyhow::Result<()> {
    cmd!(sh, "{cargo} fmt --all -- --check").run().context("formatting: run `cargo fmt --all`")?;
    ensure_browser(sh)?;
    cmd!(sh, "{cargo} clippy --workspace --all-targets --locked -- -D warnings").run()?;
    with_postgres(sh, |url| {
        cmd!(sh, "{cargo} test --workspace --locked")
            .env("TENURE_TEST_POSTGRES_URL", url)
            .run()
            .map_err(Into::into)
    })?;
    cmd!(sh, "{cargo} doc --workspace --no-deps --locked")
        .env("RUSTDOCFLAGS", "-D warnings")
        .run()?;
    deps(sh, cargo)?;
    tidy(&root())?;
    policy(sh, cargo)
}

/// The cases each parser property runs in a long fuzz run (CI runs 128 to 256).
const FUZZ_CASES: u32 = 20_000;
/// How many times fewer cases the route fuzzing runs than the parsers: each of its cases
/// is one hostile input set sent to every route as every role (about 600 requests).
const ROUTE_CASE_DIVISOR: u32 = 40;

/// The fuzzing of issue 16, run long: the parser properties of the domain (email, name,
/// telephone, password, keys), the policy files and the core (search terms, pages,
/// moments) with `PROPTEST_CASES=cases`, then the route fuzzing of the web app (every
/// route, every demo role, hostile queries, paths and forms) with `cases / 40` (at least
/// 16), since each of its cases sends hundreds of requests.
fn fuzz(sh: &Shell, cargo: &str, cases: u32) -> anyhow::Result<()> {
    let parsers = cases.to_string();
    for krate in ["tenure-domain", "tenure-policy", "tenure-core"] {
        cmd!(sh, "{cargo} test -p {krate} --test it fuzz::")
            .env("PROPTEST_CASES", &parsers)
            .run()?;
    }
    let routes = (cases / ROUTE_CASE_DIVISOR).max(16).to_string();
    cmd!(sh, "{cargo} test -p tenure-web --test it fuzz::").env("PROPTEST_CASES", &routes).run()?;
    Ok(())
}

/// Starts a throwaway PostgreSQL cluster (initdb and pg_ctl from Debian's `postgresql`
/// package) in a temp folder, listening on loopback only, runs `f` with its URL, and
/// stops it whatever `f` returned.
fn with_postgres(sh: &Shell, f: impl FnOnce(&str) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let as_root = cmd!(sh, "id -u").read()?.trim() == "0";
    if postgres_bin().is_none() && as_root {
        // The README's test command sets up what it needs: Debian's server package.
        eprintln!("PostgreSQL's server is missing; installing Debian's `postgresql` package");
        cmd!(sh, "apt-get update -qq").env("DEBIAN_FRONTEND", "noninteractive").run()?;
        cmd!(sh, "apt-get install -y -qq postgresql")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .run()?;
    }
    let bin = postgres_bin().context(
        "PostgreSQL's server is not installed and this is not root: run `sudo apt-get install -y postgresql`",
    )?;
    let initdb = bin.join("initdb");
    let pg_ctl = bin.join("pg_ctl");
    let dir = std::env::temp_dir().join(format!("tenure-pg-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir)?;
    // initdb refuses to run as root; the Debian package's `postgres` user runs it then.
    if as_root {
        cmd!(sh, "chown -R postgres {dir}").run()?;
    }
    let run = |args: Vec<String>| -> anyhow::Result<()> {
        let (program, rest) = args.split_first().context("a command to run")?;
        if as_root {
            cmd!(sh, "runuser -u postgres -- {program} {rest...}").quiet().run()?;
        } else {
            cmd!(sh, "{program} {rest...}").quiet().run()?;
        }
        Ok(())
    };
    let port = free_port()?;
    let s = |p: &Path| p.display().to_string();
    run(vec![
        s(&initdb),
        "-D".into(),
        s(&data),
        "-A".into(),
        "trust".into(),
        "-U".into(),
        "postgres".into(),
        "--no-sync".into(),
        "-E".into(),
        "UTF8".into(),
    ])?;
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        s(&dir)
    );
    run(vec![
        s(&pg_ctl),
        "-D".into(),
        s(&data),
        "-l".into(),
        s(&dir.join("server.log")),
        "-o".into(),
        options,
        "-w".into(),
        "start".into(),
    ])?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let result = f(&url);
    let stopped = run(vec![
        s(&pg_ctl),
        "-D".into(),
        s(&data),
        "-m".into(),
        "fast".into(),
        "-w".into(),
        "stop".into(),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    result.and(stopped)
}

/// The newest PostgreSQL server's binaries.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// A loopback port nobody is listening on.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The example policy files, through the real command line.
fn policy(sh: &Shell, cargo: &str) -> anyhow::Result<()> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("docs/policies"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    cmd!(sh, "{cargo} run --quiet --locked -p tenure-cli -- policy test {files...}").run()?;
    Ok(())
}

/// Installs Debian's Chromium and ChromeDriver for the browser tests when missing (as
/// root; otherwise says what to run).
fn ensure_browser(sh: &Shell) -> anyhow::Result<()> {
    if Path::new("/usr/bin/chromedriver").exists() {
        return Ok(());
    }
    ensure!(
        cmd!(sh, "id -u").read()?.trim() == "0",
        "the browser tests need Chromium: run `sudo apt-get install -y chromium chromium-driver`"
    );
    eprintln!("Chromium is missing; installing Debian's `chromium` and `chromium-driver`");
    cmd!(sh, "apt-get update -qq").env("DEBIAN_FRONTEND", "noninteractive").run()?;
    cmd!(sh, "apt-get install -y -qq chromium chromium-driver")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()?;
    Ok(())
}

/// A PNG of every screen, in the order of the seed's list, from the browser journeys.
fn screenshots(sh: &Shell, cargo: &str) -> anyhow::Result<()> {
    ensure_browser(sh)?;
    let dir = root().join("docs/screenshots");
    std::fs::create_dir_all(&dir)?;
    cmd!(sh, "{cargo} test --locked -p tenure-web --test it browser::")
        .env("TENURE_SCREENSHOTS", &dir)
        .run()?;
    eprintln!("screenshots written to {}", dir.display());
    Ok(())
}

/// The GOV.UK Frontend components the templates use; the stylesheet holds only these
/// (with the base, core, objects, utilities and overrides). A template using another
/// component's classes fails `stylesheet_styles_every_component_the_templates_use` in
/// tenure-web's tests until it is added here and the assets rebuilt.
const GOVUK_COMPONENTS: &[&str] = &[
    "back-link",
    "button",
    "checkboxes",
    "date-input",
    "details",
    "error-message",
    "error-summary",
    "fieldset",
    "footer",
    "generic-header",
    "hint",
    "input",
    "inset-text",
    "label",
    "notification-banner",
    "pagination",
    "radios",
    "select",
    "service-navigation",
    "skip-link",
    "summary-list",
    "table",
    "tag",
    "warning-text",
];

/// Rebuilds the committed front-end files from npm, pinned: GOV.UK Frontend compiled with
/// Arial and without font files (GDS Transport and the crown are for GOV.UK services
/// only), only the components the pages use, accessible-autocomplete for the pickers, and axe-core
/// for the accessibility checks.
fn assets(sh: &Shell) -> anyhow::Result<()> {
    const GOVUK: &str = "govuk-frontend@6.6.0";
    const SASS: &str = "sass@1.108.2";
    const AXE: &str = "axe-core@4.14.1";
    const AUTOCOMPLETE: &str = "accessible-autocomplete@3.0.1";
    const DIST: &str = "node_modules/govuk-frontend/dist/govuk";
    let build = std::env::temp_dir().join("tenure-assets");
    let _ = std::fs::remove_dir_all(&build);
    std::fs::create_dir_all(&build)?;
    let scss = build.join("tenure.scss");
    let mut text = format!(
        "@use \"{DIST}/base\" with (\n  \
           $govuk-font-family: (arial, sans-serif),\n  \
           $govuk-include-default-font-face: false,\n  \
           $govuk-assets-path: \"/assets/\"\n);\n\
         @use \"{DIST}/core\";\n\
         @use \"{DIST}/objects\";\n"
    );
    for component in GOVUK_COMPONENTS {
        text.push_str(&format!("@use \"{DIST}/components/{component}\";\n"));
    }
    text.push_str(&format!("@use \"{DIST}/utilities\";\n@use \"{DIST}/overrides\";\n"));
    std::fs::write(&scss, text)?;
    let web = root().join("crates/tenure-web");
    let css = web.join("assets/govuk-frontend.min.css");
    let _dir = sh.push_dir(&build);
    cmd!(sh, "npm install --silent --no-audit --no-fund {GOVUK} {SASS} {AXE} {AUTOCOMPLETE}")
        .run()?;
    cmd!(sh, "npx sass --no-source-map --style=compressed --quiet-deps tenure.scss {css}").run()?;
    std::fs::copy(
        build.join("node_modules/axe-core/axe.min.js"),
        web.join("tests/vendor/axe.min.js"),
    )?;
    std::fs::copy(
        build.join("node_modules/axe-core/LICENSE"),
        web.join("tests/vendor/axe-LICENSE"),
    )?;
    // The GOV.UK autocomplete pattern's component, for the pickers (served from /assets).
    let aa = build.join("node_modules/accessible-autocomplete");
    for (from, to) in [
        ("dist/accessible-autocomplete.min.js", "accessible-autocomplete.min.js"),
        ("dist/accessible-autocomplete.min.css", "accessible-autocomplete.min.css"),
        ("LICENSE.txt", "accessible-autocomplete-LICENSE.txt"),
    ] {
        std::fs::copy(aa.join(from), web.join("assets").join(to))?;
    }
    let text = std::fs::read_to_string(&css)?;
    ensure!(!text.contains("GDS Transport"), "the stylesheet must not name GDS Transport");
    eprintln!("assets rebuilt: {}", css.display());
    Ok(())
}

/// The layer rules: the domain and core never reach a runtime, a database, HTTP or anyhow.
fn deps(sh: &Shell, cargo: &str) -> anyhow::Result<()> {
    // The web app knows services, not storage or mail technology.
    let tree = cmd!(sh, "{cargo} tree -e normal -p tenure-web --prefix none --locked").read()?;
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    for bad in ["sea-orm", "sqlx", "lettre"] {
        ensure!(
            !names.contains(&bad),
            "tenure-web must not depend on {bad}, but its tree holds it"
        );
    }
    const FORBIDDEN: &[&str] =
        &["tokio", "sea-orm", "sqlx", "axum", "hyper", "anyhow", "cedar-policy"];
    for krate in ["tenure-domain", "tenure-core"] {
        let tree = cmd!(sh, "{cargo} tree -e normal -p {krate} --prefix none --locked").read()?;
        let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
        for bad in FORBIDDEN {
            ensure!(
                !names.contains(bad),
                "{krate} must not depend on {bad}, but its tree holds it"
            );
        }
    }
    Ok(())
}

/// Every Rust file starts with a `//!` doc, every crate takes the workspace lints, and no
/// built-in role id is compared outside the engine.
fn tidy(root: &Path) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let mut manifests = vec![root.join("xtask/Cargo.toml")];
    for entry in std::fs::read_dir(root.join("crates"))? {
        manifests.push(entry?.path().join("Cargo.toml"));
    }
    for manifest in &manifests {
        let text =
            std::fs::read_to_string(manifest).with_context(|| manifest.display().to_string())?;
        if !text.contains("[lints]\nworkspace = true") {
            problems.push(format!("{}: add `[lints] workspace = true`", manifest.display()));
        }
        let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
        for file in rust_files(&dir)? {
            let text = std::fs::read_to_string(&file)?;
            let first = text.lines().next().unwrap_or("");
            if !first.starts_with("//!") {
                problems.push(format!(
                    "{}: start the file with a `//!` doc saying what it is for",
                    file.display()
                ));
            }
            if file.file_name().is_some_and(|n| n == "mod.rs") {
                problems
                    .push(format!("{}: use `foo.rs` with `foo/`, not `mod.rs`", file.display()));
            }
        }
    }
    problems.extend(role_comparisons(root)?);
    ensure!(problems.is_empty(), "tidy found problems:\n{}", problems.join("\n"));
    Ok(())
}

/// The built-in role ids. Comparing a user's roles with one of them puts a permission rule
/// in a service, handler or adapter; the engine (`decide`, `scope`) must decide instead.
const BUILTIN_ROLES: &[&str] = &[
    "ROOT_ADMINISTRATOR",
    "ADMINISTRATOR",
    "DATA_COORDINATOR",
    "DATA_PROVIDER",
    "CORTERUM_ADMINISTRATOR",
    "CORE_ROLES",
    "CORTERUM_ROLES",
    "SENIOR_MANAGER",
    "CERTIFICATION_EMPLOYEE",
    "CONDUCT_RULES_STAFF",
];

/// Crates where role ids may be compared: the engine itself, and the benchmark, test kit
/// and policy files, which build worlds and check expectations about them.
const ROLE_CRATES_EXEMPT: &[&str] =
    &["tenure-domain", "tenure-bench", "tenure-testkit", "tenure-policy"];

/// Every comparison of a built-in role id outside the engine, as `file:line: text`.
/// Tests (`tests/` folders, `tests.rs`) and demo seeding (`demo.rs`, `demo/`, and the
/// `seed_*` functions of `tenure serve`) are exempt.
fn role_comparisons(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root.join("crates"))? {
        let dir = entry?.path();
        if dir.file_name().is_some_and(|n| ROLE_CRATES_EXEMPT.iter().any(|c| n == *c)) {
            continue;
        }
        let mut files = rust_files(&dir)?;
        files.sort();
        for file in files {
            let relative = file.strip_prefix(root).unwrap_or(&file);
            let exempt = relative.components().any(|c| {
                let c = c.as_os_str();
                c == "tests" || c == "tests.rs" || c == "demo" || c == "demo.rs"
            });
            if exempt {
                continue;
            }
            let text = std::fs::read_to_string(&file)?;
            for (line, found) in role_comparisons_in(&text) {
                out.push(format!(
                    "{}:{line}: a built-in role id is compared outside the engine (ask `decide` or `scope` instead): {found}",
                    relative.display()
                ));
            }
        }
    }
    Ok(out)
}

/// The lines of a Rust source that compare a built-in role id (`==`, `!=`, `.contains(`,
/// `.iter()` over a list of them, or a `match` arm), with their 1-based numbers. Comments,
/// an inline `#[cfg(test)]` module and demo seeding functions (`fn seed_*`, `fn *demo*`)
/// are skipped.
fn role_comparisons_in(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut skip_until_close: Option<usize> = None;
    let mut after_cfg_test = false;
    for (i, raw) in text.lines().enumerate() {
        let code = raw.split("//").next().unwrap_or("");
        let trimmed = code.trim();
        let indent = code.len() - code.trim_start().len();
        if let Some(depth) = skip_until_close {
            if trimmed == "}" && indent == depth {
                skip_until_close = None;
            }
            continue;
        }
        if after_cfg_test && trimmed.starts_with("mod ") && trimmed.ends_with('{') {
            skip_until_close = Some(indent);
            continue;
        }
        after_cfg_test = trimmed == "#[cfg(test)]";
        if let Some(name) = fn_name(trimmed) {
            if (name.starts_with("seed") || name.contains("demo")) && trimmed.ends_with('{') {
                skip_until_close = Some(indent);
                continue;
            }
        }
        if compares_role(code) {
            found.push((i + 1, raw.trim().to_owned()));
        }
    }
    found
}

/// The name of the function a line declares, if it declares one.
fn fn_name(line: &str) -> Option<&str> {
    let at = line.find("fn ")?;
    let before = &line[..at];
    if !(before.is_empty() || before.ends_with(' ')) {
        return None;
    }
    let rest = &line[at + 3..];
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Whether a line of code compares a built-in role id.
fn compares_role(code: &str) -> bool {
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let arm = code.find("=>");
    for role in BUILTIN_ROLES {
        let mut from = 0;
        while let Some(at) = code[from..].find(role).map(|i| i + from) {
            from = at + role.len();
            let end = at + role.len();
            if (at > 0 && is_ident(bytes[at - 1])) || bytes.get(end).is_some_and(|b| is_ident(*b)) {
                continue;
            }
            // The path in front of the name (`builtin::`, `tenure_domain::role::builtin::`)
            // and any `&` or `*` go with it.
            let mut start = at;
            while start >= 2 && &code[start - 2..start] == "::" {
                start -= 2;
                while start > 0 && is_ident(bytes[start - 1]) {
                    start -= 1;
                }
            }
            let before = code[..start].trim_end_matches(['&', '*']).trim_end();
            let after = code[end..].trim_start();
            if before.ends_with("==")
                || before.ends_with("!=")
                || before.ends_with("contains(")
                || after.starts_with("==")
                || after.starts_with("!=")
                || after.starts_with(".contains(")
                || after.starts_with(".iter(")
                || arm.is_some_and(|a| at < a)
            {
                return true;
            }
        }
    }
    false
}

fn rust_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tidy() {
        crate::tidy(&crate::root()).unwrap();
    }

    #[track_caller]
    fn check(source: &str, expected: &[usize]) {
        let lines: Vec<usize> =
            crate::role_comparisons_in(source).into_iter().map(|(n, _)| n).collect();
        assert_eq!(lines, expected, "{source}");
    }

    #[test]
    fn role_comparisons_are_found() {
        check("if role == ADMINISTRATOR {", &[1]);
        check("if *r != builtin::DATA_PROVIDER {", &[1]);
        check("if DATA_COORDINATOR == role {", &[1]);
        check("u.roles.contains(&tenure_domain::role::builtin::ROOT_ADMINISTRATOR)", &[1]);
        check("roles.iter().all(|r| CORE_ROLES.contains(r))", &[1]);
        check("CORTERUM_ROLES.iter().any(|r| *r == id)", &[1]);
        check(
            "match role {\n    ADMINISTRATOR => 3,\n    r if r == SENIOR_MANAGER => 2,\n}",
            &[2, 3],
        );
        check(
            "match role {\n    builtin::DATA_PROVIDER | builtin::DATA_COORDINATOR => 1,\n}",
            &[2],
        );
    }

    #[test]
    fn other_uses_of_role_ids_are_not_comparisons() {
        check("store.anyone_holds(ADMINISTRATOR).await?", &[]);
        check("let people = [(\"Ada\", ADMINISTRATOR), (\"Cora\", DATA_COORDINATOR)];", &[]);
        check("vec![tenure_domain::role::builtin::ROOT_ADMINISTRATOR],", &[]);
        // Another name that merely contains a role's.
        check("if x == MY_ADMINISTRATOR_COUNT {", &[]);
        check("Some(x) => handle(ADMINISTRATOR),", &[]);
        check("// if role == ADMINISTRATOR, say so", &[]);
    }

    #[test]
    fn tests_and_demo_seeding_are_exempt() {
        check(
            "async fn seed_demo(s: &S) {\n    if r == ADMINISTRATOR {}\n}\nfn f() {\n    r == ADMINISTRATOR\n}",
            &[5],
        );
        check("#[cfg(test)]\nmod tests {\n    fn t() { assert!(r == ADMINISTRATOR); }\n}", &[]);
    }
}
