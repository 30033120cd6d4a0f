//! Settings: each layer wins over the one below, and a bad value names its setting,
//! where it came from and what is accepted.

use std::collections::HashMap;

use figment::value::{Dict, Value};

use crate::logging::LogFormat;
use crate::serve::settings::{SETTINGS, Settings};

/// A directory of its own for each test's file.
fn file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tenure-settings-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tenure.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn load(
    file: Option<&std::path::Path>,
    env: &[(&str, &str)],
    flags: &[(&str, Value)],
) -> anyhow::Result<Settings> {
    let env: HashMap<String, String> =
        env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let flags: Dict = flags.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    let layers = Settings::layers(file, |name| Ok(env.get(name).cloned()), flags)?;
    Settings::extract(&layers)
}

#[track_caller]
fn check_refused(result: anyhow::Result<Settings>, expected: &str) {
    match result {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => assert_eq!(format!("{e:#}"), expected),
    }
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let s = load(None, &[], &[]).unwrap();
    assert_eq!(s.database, "sqlite://tenure.db?mode=rwc");
    assert_eq!(s.listen, "127.0.0.1:3000");
    assert_eq!(s.base_url(), "http://127.0.0.1:3000");
    assert_eq!(s.outbox, std::path::PathBuf::from("outbox"));
    assert_eq!(s.smtp_url, None);
    assert_eq!(s.mail_from, "Tenure <no-reply@tenure.invalid>");
    assert_eq!(s.secure_cookies, None);
    let t = s.timings();
    assert_eq!(
        (
            t.lockout_attempts,
            t.lockout_minutes,
            t.reset_link_minutes,
            t.invitation_days,
            t.session_idle_minutes,
            t.session_absolute_hours
        ),
        (5, 60, 180, 3, 30, 12)
    );
    assert_eq!(s.trusted_proxies, tenure_web::TrustedProxies::default());
    assert_eq!(s.log_format, LogFormat::Human);
    assert_eq!(tenure_core::moment::zone_name(&s.time_zone), "Europe/London");
    assert_eq!(s.sign_in_heading, "Sign in to your account to submit CORE data");
}

#[test]
fn the_sign_in_heading_comes_from_the_file_or_the_environment_and_must_be_one_line() {
    let path = file("heading", "sign_in_heading = \"  Sign in to submit lettings data \"\n");
    let s = load(Some(&path), &[], &[]).unwrap();
    assert_eq!(s.sign_in_heading, "Sign in to submit lettings data", "trimmed");
    let env = [("TENURE_SIGN_IN_HEADING", "2024")];
    assert_eq!(load(Some(&path), &env, &[]).unwrap().sign_in_heading, "2024", "text, not a number");
    check_refused(
        load(None, &[("TENURE_SIGN_IN_HEADING", "   ")], &[]),
        "setting `sign_in_heading` (from the environment variable `TENURE_SIGN_IN_HEADING`): \
         a heading of 0 characters is not accepted: expected text on one line, 1 to 120 \
         characters",
    );
    let e = load(None, &[("TENURE_SIGN_IN_HEADING", "Sign in\nnow")], &[]).unwrap_err();
    assert!(format!("{e:#}").contains("with a line break or control character"), "{e:#}");
    let long = "x".repeat(121);
    let e = load(None, &[("TENURE_SIGN_IN_HEADING", long.as_str())], &[]).unwrap_err();
    assert!(format!("{e:#}").contains("a heading of 121 characters"), "{e:#}");
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_file() {
    let path = file(
        "layers",
        "listen = \"0.0.0.0:8080\"\nlockout_attempts = 7\nsession_idle_minutes = 10\n\
         trusted_proxies = [\"10.0.0.0/8\"]\nlog_format = \"json\"\ntime_zone = \"UTC\"\n",
    );
    let s = load(
        Some(&path),
        &[
            ("TENURE_LISTEN", "127.0.0.1:9000"),
            ("TENURE_LOCKOUT_ATTEMPTS", "8"),
            ("TENURE_DATABASE_URL", "sqlite://env.db"),
            ("TENURE_TRUSTED_PROXIES", "192.168.1.7,fd00::/8"),
            ("TENURE_SMTP_URL", "smtp://user:1234@mail"),
        ],
        &[("lockout_attempts", Value::from(9_u32)), ("secure_cookies", Value::from(false))],
    )
    .unwrap();
    assert_eq!(s.listen, "127.0.0.1:9000", "the environment over the file");
    assert_eq!(s.lockout_attempts, 9, "the flag over the environment");
    assert_eq!(s.session_idle_minutes, 10, "the file over the default");
    assert_eq!(s.database, "sqlite://env.db", "TENURE_DATABASE_URL names `database`");
    assert_eq!(s.smtp_url.as_deref(), Some("smtp://user:1234@mail"));
    assert_eq!(s.secure_cookies, Some(false));
    assert_eq!(s.log_format, LogFormat::Json);
    assert_eq!(tenure_core::moment::zone_name(&s.time_zone), "UTC");
    assert_eq!(
        s.trusted_proxies,
        tenure_web::TrustedProxies::parse(["192.168.1.7", "fd00::/8"]).unwrap()
    );
}

#[test]
fn a_bad_value_names_its_setting_where_it_came_from_and_what_is_accepted() {
    check_refused(
        load(None, &[("TENURE_LOCKOUT_ATTEMPTS", "0")], &[]),
        "setting `lockout_attempts` (from the environment variable `TENURE_LOCKOUT_ATTEMPTS`): \
         invalid value unsigned int `0`, expected a whole number of at least 1",
    );
    check_refused(
        load(None, &[("TENURE_SESSION_IDLE_MINUTES", "soon")], &[]),
        "setting `session_idle_minutes` (from the environment variable \
         `TENURE_SESSION_IDLE_MINUTES`): invalid type: found string \"soon\", expected a whole \
         number of at least 1",
    );
    check_refused(
        load(None, &[("TENURE_TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.0/33")], &[]),
        "setting `trusted_proxies` (from the environment variable `TENURE_TRUSTED_PROXIES`): \
         trusted proxy `10.0.0.0/33` is not a network: expected an IPv4 or IPv6 address with an \
         optional prefix length, such as `10.0.0.0/8`, `192.168.1.7` or `fd00::/8`",
    );
    let path = file("zone", "time_zone = \"Mars/Olympus\"\n");
    check_refused(
        load(Some(&path), &[], &[]),
        &format!(
            "setting `time_zone` (from `time_zone` in the configuration file `{}`): \
             `Mars/Olympus` is not a time zone; use an IANA name such as Europe/London or UTC",
            path.display()
        ),
    );
    check_refused(
        load(None, &[("TENURE_LOG_FORMAT", "xml")], &[]),
        "setting `log_format` (from the environment variable `TENURE_LOG_FORMAT`): `xml` is not \
         a log format; use `human` or `json`",
    );
    check_refused(
        load(None, &[], &[("invitation_days", Value::from(-1_i64))]),
        "setting `invitation_days` (from the flag `--invitation-days`): invalid value signed int \
         `-1`, expected a whole number of at least 1",
    );
}

#[test]
fn a_file_that_is_not_settings_is_refused_whole() {
    let path = file("unknown", "listen = \"127.0.0.1:1\"\nlisten_on = 3\n");
    let e = format!("{:#}", load(Some(&path), &[], &[]).unwrap_err());
    assert!(
        e.starts_with(&format!("`{}` is not a valid configuration file: unknown setting `listen_on`; the settings are database, listen,", path.display())),
        "{e}"
    );
    let path = file("syntax", "listen = \n");
    let e = format!("{:#}", load(Some(&path), &[], &[]).unwrap_err());
    assert!(e.contains("is not a valid configuration file") && e.contains("line 1"), "{e}");
}

#[test]
fn every_setting_has_a_flag_an_environment_variable_and_a_file_key() {
    use clap::CommandFactory as _;
    let command = crate::Cli::command();
    let serve = command.find_subcommand("serve").unwrap();
    for (key, env) in SETTINGS {
        let flag = key.replace('_', "-");
        let arg = serve.get_arguments().find(|a| a.get_long() == Some(flag.as_str()));
        let help = arg.and_then(|a| a.get_help()).map(ToString::to_string).unwrap_or_default();
        assert!(help.contains(env) && help.contains(&format!("`{key}`")), "--{flag}: {help}");
        // The file takes it (a default's value, so only the key is checked).
        let path = file(&format!("key-{key}"), "");
        std::fs::write(&path, format!("{key} = {}\n", sample(key))).unwrap();
        load(Some(&path), &[], &[]).unwrap_or_else(|e| panic!("{key}: {e:#}"));
    }
}

#[test]
fn limits_come_from_the_file_the_environment_or_flags_over_the_defaults() {
    use tenure_core::limits::{LimitKind, LimitPolicy, Rate};
    let minute = |n| Some(Rate::per(n, 60_000));
    let path = file("limits", "[limits]\nsign_in_address = \"20/minute\"\n");
    let s = load(Some(&path), &[], &[]).unwrap();
    assert_eq!(s.limits, LimitPolicy::default().with(LimitKind::SignInAddress, minute(20)));
    assert_eq!(s.housekeeping_minutes, 10);
    let env = [("TENURE_LIMITS", "invitation_account=off, reset_account=1/hour")];
    let s = load(Some(&path), &env, &[]).unwrap();
    let expected = LimitPolicy::default()
        .with(LimitKind::InvitationAccount, None)
        .with(LimitKind::ResetAccount, Some(Rate::per(1, 3_600_000)));
    assert_eq!(s.limits, expected, "the environment's list replaces the file's");
    let flag = Value::from(vec!["reset_address=7/minute".to_owned()]);
    let s = load(Some(&path), &env, &[("limits", flag)]).unwrap();
    assert_eq!(s.limits, LimitPolicy::default().with(LimitKind::ResetAddress, minute(7)));
    let e = load(None, &[("TENURE_LIMITS", "sign_in=10/minute")], &[]).unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains("setting `limits` (from the environment variable `TENURE_LIMITS`)")
            && e.contains("`sign_in` is not a kind of limit; the kinds are sign_in_address, "),
        "{e}"
    );
    let e = load(None, &[("TENURE_LIMITS", "sign_in_address=ten a minute")], &[]).unwrap_err();
    assert!(format!("{e:#}").contains("is not a rate: expected a count"), "{e:#}");
    let e = load(None, &[("TENURE_LIMITS", "sign_in_address")], &[]).unwrap_err();
    assert!(format!("{e:#}").contains("expected KIND=RATE"), "{e:#}");
}

/// A value each setting accepts, in TOML.
fn sample(key: &str) -> &'static str {
    match key {
        "secure_cookies" => "true",
        "trusted_proxies" => "[\"10.0.0.0/8\"]",
        "log_format" => "\"json\"",
        "time_zone" => "\"Europe/Paris\"",
        "limits" => "{ sign_in_address = \"20/minute\" }",
        k if k.ends_with("_minutes")
            || k.ends_with("_hours")
            || k.ends_with("_days")
            || k.ends_with("_attempts")
            || k.ends_with("_seconds") =>
        {
            "2"
        }
        _ => "\"x\"",
    }
}
