//! `tenure serve`: the web application, configured by flags, environment and an optional
//! file (in that order of precedence, over the defaults; see `settings`), with `--demo`
//! to seed a small world to look around.

mod metrics;
pub(crate) mod settings;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use figment::value::{Dict, Value};
use tenure_core::audit::DemoSeed;
use tenure_core::{AccountStore, AuditDetail, AuditEvent, AuditName, ChangeStore, Outcome};
use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{
    Email, Log, LogId, Name, NewPassword, OrgId, Organisation, ProviderType, Relationship, RoleId,
    User, UserId, World,
};
use tenure_secrets_os::UuidV7;

use crate::app::{MailArgs, Services, StoreArgs};
use crate::logging::{self, LogFormat};
use crate::serve::settings::Settings;

/// Flags for `tenure serve`. Each setting may also come from the environment
/// (`TENURE_` and its name in capitals) or the file (its name as the key); a flag wins
/// over the environment, which wins over the file, which wins over the default.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Seed a small demo world (when the database has no users) and print how to sign in.
    #[arg(long)]
    demo: bool,
    /// A TOML file with any of the settings below, by name: database, listen, base_url,
    /// outbox, smtp_url, mail_from, secure_cookies, lockout_attempts, lockout_minutes,
    /// reset_link_minutes, invitation_days, session_idle_minutes, session_absolute_hours,
    /// trusted_proxies, log_format, time_zone, metrics_listen, shutdown_grace_seconds,
    /// limits, housekeeping_minutes, sign_in_heading.
    #[arg(long, env = "TENURE_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (`database`, TENURE_DATABASE_URL; default `sqlite://tenure.db?mode=rwc`).
    #[arg(long)]
    database: Option<String>,
    /// Address to listen on (`listen`, TENURE_LISTEN; default `127.0.0.1:3000`).
    #[arg(long)]
    listen: Option<String>,
    /// Public address for links in emails (`base_url`, TENURE_BASE_URL; default `http://`
    /// and the listen address).
    #[arg(long)]
    base_url: Option<String>,
    /// Outbox folder (`outbox`, TENURE_OUTBOX; default `outbox`).
    #[arg(long)]
    outbox: Option<PathBuf>,
    /// SMTP server URL, instead of the outbox (`smtp_url`, TENURE_SMTP_URL).
    #[arg(long)]
    smtp_url: Option<String>,
    /// Sender of emails (`mail_from`, TENURE_MAIL_FROM; default
    /// `Tenure <no-reply@tenure.invalid>`).
    #[arg(long)]
    mail_from: Option<String>,
    /// Mark cookies `Secure` (`secure_cookies`, TENURE_SECURE_COOKIES; default: yes unless
    /// the base URL is plain-HTTP localhost).
    #[arg(long)]
    secure_cookies: Option<bool>,
    /// Consecutive failed sign-ins that lock an account (`lockout_attempts`,
    /// TENURE_LOCKOUT_ATTEMPTS; default 5).
    #[arg(long)]
    lockout_attempts: Option<u32>,
    /// Minutes a lock lasts (`lockout_minutes`, TENURE_LOCKOUT_MINUTES; default 60).
    #[arg(long)]
    lockout_minutes: Option<i64>,
    /// Minutes a password reset link works (`reset_link_minutes`,
    /// TENURE_RESET_LINK_MINUTES; default 180).
    #[arg(long)]
    reset_link_minutes: Option<i64>,
    /// Days an invitation link works (`invitation_days`, TENURE_INVITATION_DAYS; default 3).
    #[arg(long)]
    invitation_days: Option<i64>,
    /// Minutes a session may sit unused (`session_idle_minutes`,
    /// TENURE_SESSION_IDLE_MINUTES; default 30).
    #[arg(long)]
    session_idle_minutes: Option<i64>,
    /// Hours a session lasts at most (`session_absolute_hours`,
    /// TENURE_SESSION_ABSOLUTE_HOURS; default 12).
    #[arg(long)]
    session_absolute_hours: Option<i64>,
    /// Reverse proxies whose `X-Forwarded-For` gives the client's address, as networks
    /// separated by commas (`10.0.0.0/8,fd00::/8`; `trusted_proxies`, a list in the file,
    /// TENURE_TRUSTED_PROXIES; default none: the peer's address counts).
    #[arg(long, value_delimiter = ',')]
    trusted_proxies: Option<Vec<String>>,
    /// How log lines are written on standard error: `human` or `json` (`log_format`,
    /// TENURE_LOG_FORMAT; default `human`). `RUST_LOG` filters them (default `info`).
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// The time zone times are read and shown in, by IANA name (`time_zone`,
    /// TENURE_TIME_ZONE; default `Europe/London`, the service's).
    #[arg(long)]
    time_zone: Option<String>,
    /// Rate limits shared by every instance, as KIND=RATE separated by commas, where a
    /// rate is a count per second, minute, hour or day, or `off`
    /// (`sign_in_address=20/minute,invitation_account=off`; `limits`, a table in the file,
    /// TENURE_LIMITS). The kinds and their defaults: sign_in_address 10/minute,
    /// reset_address 5/minute (per client address), reset_account 3/hour,
    /// invitation_account 50/hour (per account), second_factor_address 10/minute (security
    /// codes per client address), second_factor_account 10/hour (codes tried at sign-in
    /// per account). Kinds not named keep their defaults.
    #[arg(long, value_delimiter = ',')]
    limits: Option<Vec<String>>,
    /// Minutes between housekeeping runs, which prune expired sessions, used or expired
    /// links, passed limiter buckets and delivered mail (`housekeeping_minutes`,
    /// TENURE_HOUSEKEEPING_MINUTES; default 10).
    #[arg(long)]
    housekeeping_minutes: Option<i64>,
    /// The sign-in page's heading, naming what the service is for (`sign_in_heading`,
    /// TENURE_SIGN_IN_HEADING; default `Sign in to your account to submit CORE data`, the
    /// seed's caption). Text on one line, 1 to 120 characters.
    #[arg(long)]
    sign_in_heading: Option<String>,
    /// Serve Prometheus metrics at `/metrics` on this address, apart from the
    /// application (`metrics_listen`, TENURE_METRICS_LISTEN; default: no metrics). Keep it
    /// private: it is not authenticated.
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Seconds that requests in flight get to finish once asked to stop (SIGTERM or
    /// Ctrl+C) (`shutdown_grace_seconds`, TENURE_SHUTDOWN_GRACE_SECONDS; default 30).
    #[arg(long)]
    shutdown_grace_seconds: Option<i64>,
    /// File holding the service's secret key, 64 hexadecimal characters, which seals
    /// second-factor secrets and queued mail (`secret_key_file`, TENURE_SECRET_KEY_FILE;
    /// or the key itself in TENURE_SECRET_KEY). Never in the database. With none given:
    /// with `--demo`, `tenure-demo.key` beside the demo's outbox; on SQLite, a file made
    /// beside the database file (`tenure.db.key`); on PostgreSQL the service refuses to
    /// start (every instance must share one key).
    #[arg(long)]
    secret_key_file: Option<PathBuf>,
}

const DEMO_PASSWORD: &str = "kettle harbour violin 42";

impl ServeArgs {
    /// The flags given, as figment's top layer.
    fn flags(&self) -> Dict {
        let mut flags = Dict::new();
        let mut set = |key: &str, value: Option<Value>| {
            if let Some(v) = value {
                flags.insert(key.to_owned(), v);
            }
        };
        set("database", self.database.clone().map(Value::from));
        set("listen", self.listen.clone().map(Value::from));
        set("base_url", self.base_url.clone().map(Value::from));
        set("outbox", self.outbox.as_ref().map(|p| Value::from(p.display().to_string())));
        set("smtp_url", self.smtp_url.clone().map(Value::from));
        set("mail_from", self.mail_from.clone().map(Value::from));
        set("secure_cookies", self.secure_cookies.map(Value::from));
        set("lockout_attempts", self.lockout_attempts.map(Value::from));
        set("lockout_minutes", self.lockout_minutes.map(Value::from));
        set("reset_link_minutes", self.reset_link_minutes.map(Value::from));
        set("invitation_days", self.invitation_days.map(Value::from));
        set("session_idle_minutes", self.session_idle_minutes.map(Value::from));
        set("session_absolute_hours", self.session_absolute_hours.map(Value::from));
        set("trusted_proxies", self.trusted_proxies.clone().map(Value::from));
        set(
            "log_format",
            self.log_format.map(|f| {
                Value::from(match f {
                    LogFormat::Human => "human",
                    LogFormat::Json => "json",
                })
            }),
        );
        set("time_zone", self.time_zone.clone().map(Value::from));
        set("metrics_listen", self.metrics_listen.clone().map(Value::from));
        set("shutdown_grace_seconds", self.shutdown_grace_seconds.map(Value::from));
        set("limits", self.limits.clone().map(Value::from));
        set("housekeeping_minutes", self.housekeeping_minutes.map(Value::from));
        set("sign_in_heading", self.sign_in_heading.clone().map(Value::from));
        set(
            "secret_key_file",
            self.secret_key_file.as_ref().map(|p| Value::from(p.display().to_string())),
        );
        flags
    }
}

/// How often the courier looks for due mail (each change's own mail goes at once).
const COURIER_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    let env = |name: &str| match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("the environment variable `{name}` is not valid Unicode")
        }
    };
    let layers = Settings::layers(args.config.as_deref(), env, args.flags()).inspect_err(|_| {
        // The file's error is logged in the format the flag asked for.
        logging::init(args.log_format.unwrap_or_default(), logging::LevelFilter::INFO);
    })?;
    let settings = Settings::extract(&layers).inspect_err(|_| {
        // Other settings' errors are logged in the format the layers ask for, if they can.
        let format = layers.extract_inner::<LogFormat>("log_format").unwrap_or_default();
        logging::init(format, logging::LevelFilter::INFO);
    })?;
    logging::init(settings.log_format, logging::LevelFilter::INFO);
    let listen = settings.listen.clone();
    // The demo makes a key file in the database file's folder when no key is configured.
    let no_key = std::env::var(crate::keys::KEY_VARIABLE).is_err();
    let secret_key_file = match &settings.secret_key_file {
        None if args.demo && no_key => {
            Some(crate::second_factor::demo_key_file(&settings.database)?)
        }
        other => other.clone(),
    };
    let store = StoreArgs { database: settings.database.clone(), secret_key_file };
    let mail = MailArgs {
        outbox: settings.outbox.clone(),
        smtp_url: settings.smtp_url.clone(),
        mail_from: settings.mail_from.clone(),
        base_url: settings.base_url(),
    };
    let services = Services::open_with(&store, &mail, settings.timings(), settings.limits).await?;
    if args.demo {
        seed_demo(&services).await?;
        crate::second_factor::enrol_demo(&services).await?;
    }
    let mut config = tenure_web::WebConfig::new(&mail.base_url);
    if let Some(secure) = settings.secure_cookies {
        config.secure_cookies = secure;
    }
    config.trusted_proxies = settings.trusted_proxies.clone();
    // The in-process filter in front of the shared limits never refuses what they admit.
    config.rate_limits = tenure_web::RateLimits::covering(
        settings.limits.rate(tenure_core::limits::LimitKind::SignInAddress),
        settings.limits.rate(tenure_core::limits::LimitKind::ResetAddress),
    );
    config.request_ids = tenure_web::RequestIds::from_ids(std::sync::Arc::new(UuidV7));
    // Pages show and read times in this zone, and say which it is.
    config.time_zone = settings.time_zone.clone();
    config.sign_in_heading = settings.sign_in_heading.clone();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on `{listen}`"))?;
    let mail_to = match &mail.smtp_url {
        Some(_) => "sent by SMTP".to_owned(),
        None => format!("written to the folder `{}`", mail.outbox.display()),
    };
    // Readiness (`/readyz`): the database answers and its schema is current.
    config.health = Some(tenure_core::health::Health::new(services.store.clone()));
    // One stop signal for the server and every background task.
    let shutdown = tenure_core::health::Shutdown::new();
    if let Some(address) = &settings.metrics_listen {
        let render = metrics::install(services.store.clone(), services.core.courier.clone())?;
        let metrics_listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on `{address}` for metrics"))?;
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let router = tenure_web::metrics_router(render);
            let served = tenure_web::serve_until(metrics_listener, router, stop.stopped()).await;
            if let Err(e) = served {
                tracing::error!("the metrics server failed: {e}");
            }
        });
        println!("Metrics are at http://{address}/metrics.");
    }
    println!(
        "Tenure is running at {} (emails are {mail_to}). Press Ctrl+C to stop.",
        mail.base_url
    );
    let courier = crate::courier::spawn(services.core.courier.clone(), COURIER_EVERY);
    let every = Duration::from_secs(settings.housekeeping_minutes.unsigned_abs() * 60);
    let housekeeping =
        crate::housekeeping::spawn(crate::housekeeping::service(&services, &settings), every);
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let router = tenure_web::router(services.web(), config);
    let server = tenure_web::serve_until(listener, router, shutdown.stopped());
    let grace = Duration::from_secs(settings.shutdown_grace_seconds.unsigned_abs());
    tokio::pin!(server);
    let served = tokio::select! {
        served = &mut server => served,
        () = shutdown.stopped() => {
            tracing::info!(grace_seconds = grace.as_secs(), "stopping: no new connections, finishing requests in flight");
            match tokio::time::timeout(grace, server).await {
                Ok(served) => served,
                Err(_) => {
                    tracing::warn!("stopped with requests still in flight: the grace period ran out");
                    Ok(())
                }
            }
        }
    };
    // Then the background tasks: the courier finishes the message in hand.
    housekeeping.stop().await;
    courier.stop().await;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Fires `shutdown` on SIGTERM (what service managers and orchestrators send) or Ctrl+C.
async fn stop_on_signal(shutdown: tenure_core::health::Shutdown) {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl+C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    shutdown.stop();
}

/// A demo world: an administrator; Northbridge Homes (a stock owner) with its managing
/// agent Riverside Lettings; Eastfield Council, unrelated; coordinators, providers and
/// logs. Seeded once, into an empty database.
async fn seed_demo(services: &Services) -> Result<()> {
    let admin = Email::parse("admin@example.com")?;
    if services.store.user_by_email(&admin).await?.is_some() {
        println!("Demo data is already there.");
        print_demo();
        return Ok(());
    }
    if services.store.anyone_holds(ADMINISTRATOR).await? {
        anyhow::bail!("--demo seeds only an empty database; this one already has users");
    }
    let ids = UuidV7;
    let id = || tenure_core::IdGen::next_id(&ids);
    let mut world = World::with_roles(tenure_domain::RoleCatalogue::with_corterum());
    let org = |name: &str, kind: ProviderType, stock: bool| -> Result<Organisation> {
        let mut o = Organisation::new(OrgId::from_uuid(id()), Name::parse(name)?);
        o.provider_type = kind;
        o.holds_stock = stock;
        o.address = Some(format!("1 High Street, {}", name.split(' ').next().unwrap_or(name)));
        Ok(o)
    };
    let support = org("Tenure support", ProviderType::PrivateRegisteredProvider, false)?;
    let north = org("Northbridge Homes", ProviderType::PrivateRegisteredProvider, true)?;
    let river = org("Riverside Lettings", ProviderType::PrivateRegisteredProvider, false)?;
    let east = org("Eastfield Council", ProviderType::LocalAuthority, true)?;
    for o in [&support, &north, &river, &east] {
        world.insert_organisation(o.clone())?;
    }
    world.add_relationship(Relationship { stock_owner: north.id, managing_agent: river.id })?;
    let people: [(&str, &str, OrgId, RoleId); 7] = [
        ("Ada Administrator", "admin@example.com", support.id, ADMINISTRATOR),
        ("Cora Coordinator", "coordinator@example.com", north.id, DATA_COORDINATOR),
        ("Pete Provider", "provider@example.com", north.id, DATA_PROVIDER),
        ("Rita Riverside", "rita@example.com", river.id, DATA_COORDINATOR),
        ("Ravi Riverside", "ravi@example.com", river.id, DATA_PROVIDER),
        ("Eve Eastfield", "eve@example.com", east.id, DATA_COORDINATOR),
        ("Ed Eastfield", "ed@example.com", east.id, DATA_PROVIDER),
    ];
    let mut with_password = Vec::new();
    for (name, email, o, role) in people {
        let user = User::new(
            UserId::from_uuid(id()),
            Name::parse(name)?,
            Email::parse(email)?,
            o,
            vec![role],
        );
        with_password.push(user.id);
        world.upsert_user(user)?;
    }
    let first = ["Alex", "Sam", "Jo", "Priya", "Tom", "Mina", "Leon", "Grace", "Omar", "Zoe"];
    let last = ["Brown", "Khan", "Evans", "Patel", "Wright", "Hughes"];
    let mut n = 0;
    for f in first {
        for l in last.iter().take(3) {
            n += 1;
            let user = User::new(
                UserId::from_uuid(id()),
                Name::parse(&format!("{f} {l}"))?,
                Email::parse(&format!(
                    "{}.{}{n}@northbridge.example",
                    f.to_lowercase(),
                    l.to_lowercase()
                ))?,
                north.id,
                vec![DATA_PROVIDER],
            );
            world.upsert_user(user)?;
        }
    }
    let pete = with_password[2];
    let ravi = with_password[4];
    for i in 0..45 {
        let (owner, manager, assignee) = match i % 3 {
            0 => (north.id, north.id, Some(pete)),
            1 => (north.id, river.id, Some(ravi)),
            _ => (east.id, east.id, None),
        };
        world.upsert_log(Log {
            id: LogId::from_uuid(id()),
            owning_organisation: owner,
            managing_organisation: manager,
            assigned_to: assignee,
            created_by: assignee,
        })?;
    }
    // Corterum: two companies (Corterum's side, apart from CORE's housing organisations)
    // and the root administrator created with the account.
    let company = |name: &str| -> Result<Organisation> {
        let o = org(name, ProviderType::PrivateRegisteredProvider, false)?;
        Ok(Organisation { kind: tenure_domain::OrganisationKind::Company, ..o })
    };
    let fca = company("Financial Conduct Authority")?;
    let psr = company("Payment Systems Regulator")?;
    world.insert_organisation(fca.clone())?;
    world.insert_organisation(psr.clone())?;
    let root = User::new(
        UserId::from_uuid(id()),
        Name::parse("Rowan Root")?,
        Email::parse("root@example.com")?,
        fca.id,
        vec![tenure_domain::role::builtin::ROOT_ADMINISTRATOR],
    );
    with_password.push(root.id);
    world.upsert_user(root.clone())?;
    services.store.import(&world).await?;
    let corterum_people = seed_corterum(services, root.id, fca.id, psr.id).await?;
    with_password.extend(corterum_people);
    let hash =
        tenure_core::PasswordHasher::hash(&*services.hasher, &NewPassword::verified(DEMO_PASSWORD))
            .await?;
    for user in with_password {
        let event = AuditEvent {
            id: id(),
            at: tenure_core::Clock::now(&tenure_secrets_os::SystemClock),
            actor: None,
            name: AuditName::PasswordChange,
            outcome: Outcome::Success,
            target_user: Some(user),
            organisation: None,
            detail: AuditDetail::DemoSeed(DemoSeed { demo: true }),
            origin: None,
        };
        services.store.set_password(user, hash.clone(), event).await?;
    }
    println!("Seeded the demo world.");
    print_demo();
    Ok(())
}

/// Corterum's worked examples, set up by the root administrator through the services:
/// entities, a group, the roles of the examples, Jane (compliance administrator), Lena
/// (line manager) and Charlie
/// (standard user), and a few versions to travel through. Returns the users to give
/// the demo password.
async fn seed_corterum(
    services: &Services,
    root: UserId,
    fca: OrgId,
    psr: OrgId,
) -> Result<Vec<UserId>> {
    use tenure_core::{EntityInput, GroupInput, Write};
    use tenure_domain::dataset::catalogue_id_of;
    use tenure_domain::{
        Content, DatasetPermissions, EntityKind, Feature, FeatureSet, RoleForm, UserLinks,
    };

    let c = &services.core.corterum;
    let ids = UuidV7;
    let id = || tenure_core::IdGen::next_id(&ids);
    services
        .store
        .apply(
            vec![Write::SetUserLinks {
                user: root,
                links: UserLinks { entity: None, companies: vec![fca, psr] },
                username: "root@example.com".to_owned(),
            }],
            Vec::new(),
        )
        .await?;
    let entity = |kind, name: &str, companies: Vec<OrgId>, fields: Vec<(&str, &str)>| EntityInput {
        kind: Some(kind),
        name: name.to_owned(),
        fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        companies,
        links: None,
    };
    let jane = c
        .create_entity(
            root,
            &entity(
                EntityKind::Person,
                "Jane Smith",
                vec![fca],
                vec![("job_title", "Head of Compliance")],
            ),
        )
        .await?;
    let joe = c
        .create_entity(
            root,
            &entity(EntityKind::Person, "Joe Bloggs", vec![fca], vec![("job_title", "Analyst")]),
        )
        .await?;
    let charlie = c
        .create_entity(root, &entity(EntityKind::Person, "Charlie Chaplin", vec![fca], vec![]))
        .await?;
    let lena = c
        .create_entity(
            root,
            &entity(EntityKind::Person, "Lena Line", vec![fca], vec![("job_title", "Team Leader")]),
        )
        .await?;
    c.create_entity(root, &entity(EntityKind::Person, "Pat Jones", vec![psr], vec![])).await?;
    let acme = c
        .create_entity(
            root,
            &entity(
                EntityKind::Business,
                "Acme Bank",
                vec![fca],
                vec![("address", "1 Threadneedle Street")],
            ),
        )
        .await?;
    // Joe's previous employer, as in the seed's example of linked entities.
    let mut joe_input =
        entity(EntityKind::Person, "Joe Bloggs", vec![fca], vec![("job_title", "Analyst")]);
    joe_input.links = Some(vec![tenure_domain::entity::EntityLink {
        kind: tenure_domain::entity::LinkKind::PreviousEmployer,
        to: acme,
    }]);
    c.update_entity(root, joe, &joe_input).await?;
    c.create_entity(
        root,
        &entity(
            EntityKind::Regulator,
            "Prudential Regulation Authority",
            vec![fca, psr],
            vec![("abbreviation", "PRA")],
        ),
    )
    .await?;
    let reports = c
        .save_group(
            root,
            None,
            &GroupInput {
                name: "Lena's reports".to_owned(),
                description: "The people Lena Line manages".to_owned(),
                kind: Some(EntityKind::Person),
                members: vec![joe],
            },
        )
        .await?;
    let key = |k: &str| {
        catalogue_id_of(k).unwrap_or_else(|| tenure_domain::DatasetId::from_uuid(uuid::Uuid::nil()))
    };
    let line_manager = c
        .save_role(
            root,
            None,
            RoleForm {
                name: "Line manager".to_owned(),
                description:
                    "Sees the training record of the people they manage, not their criminal record"
                        .to_owned(),
                groups: vec![reports],
                features: FeatureSet::of(&[Feature::ReportFitAndProperCertificate]),
                datasets: [key("training_record"), key("training_courses")]
                    .into_iter()
                    .map(|d| (d, DatasetPermissions::READ))
                    .collect(),
                requires_second_factor: false,
            },
        )
        .await?;
    let removed = tenure_domain::dataset::NOT_FOR_STANDARD_USERS;
    let standard = c
        .save_role(root, None, RoleForm {
            name: "Standard User".to_owned(),
            description: "Reads their own datasets only, read only, without the thirteen a standard user does not need".to_owned(),
            groups: Vec::new(),
            features: FeatureSet::of(&[Feature::ReportFitAndProperCertificate, Feature::ReportStatementOfResponsibility]),
            datasets: tenure_domain::dataset::catalogue()
                .into_iter()
                .filter(|d| !removed.contains(&d.key.as_str()))
                .map(|d| (d.id, DatasetPermissions::READ))
                .collect(),
            requires_second_factor: false,
        })
        .await?;
    // Worked example 01: Jane Smith, the administration user, holds "Compliance
    // Administrator": every person, the administration areas and the reports, and every
    // dataset.
    let compliance = c
        .save_role(
            root,
            None,
            RoleForm {
                name: "Compliance Administrator".to_owned(),
                description: "Administers the account and keeps everyone's records".to_owned(),
                groups: vec![tenure_domain::ALL_PEOPLE],
                features: FeatureSet::of(&[
                    Feature::EntityAdministration,
                    Feature::GroupAdministration,
                    Feature::UserAdministration,
                    Feature::ReportFcaDirectory,
                    Feature::ReportFitAndProperCertificate,
                    Feature::ReportRegulatoryReference,
                    Feature::ReportStatementOfResponsibility,
                ]),
                datasets: tenure_domain::dataset::catalogue()
                    .into_iter()
                    .map(|d| (d.id, DatasetPermissions { read: true, edit: true, create: true }))
                    .collect(),
                ..RoleForm::default()
            },
        )
        .await?;
    let mut people = Vec::new();
    for (name, email, entity, role) in [
        ("Jane Smith", "jane@example.com", jane, compliance),
        ("Lena Line", "lena@example.com", lena, line_manager),
        ("Charlie Chaplin", "charlie@example.com", charlie, standard),
    ] {
        let user = User::new(
            UserId::from_uuid(id()),
            Name::parse(name)?,
            Email::parse(email)?,
            fca,
            vec![role],
        );
        services
            .store
            .apply(
                vec![
                    Write::InsertUser(user.clone()),
                    Write::SetUserLinks {
                        user: user.id,
                        links: UserLinks { entity: Some(entity), companies: vec![fca] },
                        username: email.to_owned(),
                    },
                ],
                Vec::new(),
            )
            .await?;
        people.push(user.id);
    }
    let form = |pairs: &[(&str, &str)]| {
        Content::Form(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    };
    c.save_instance(root, key("training_record"), joe, 0, form(&[("hours_this_year", "4")]))
        .await?;
    c.save_instance(
        root,
        key("training_record"),
        joe,
        1,
        form(&[("hours_this_year", "12"), ("completed", "yes")]),
    )
    .await?;
    c.save_instance(
        root,
        key("criminal_record_check"),
        joe,
        0,
        form(&[("checked_on", "2026-01-15"), ("result", "clear")]),
    )
    .await?;
    c.save_instance(
        root,
        key("personal_details"),
        charlie,
        0,
        form(&[("start_date", "2026-11-02")]),
    )
    .await?;
    // Charlie is assessed fit and proper, so his certificate report opens; he is not a
    // senior manager, so his Statement of Responsibilities says it is not available.
    c.save_instance(
        root,
        key("fitness_and_propriety_assessment_record"),
        charlie,
        0,
        form(&[
            ("assessed_on", "2026-11-20"),
            ("assessor", "Jane Smith"),
            ("outcome", "Fit and proper"),
        ]),
    )
    .await?;
    c.save_instance(
        root,
        key("fit_and_proper_certificate"),
        charlie,
        0,
        form(&[
            ("certified_on", "2026-11-21"),
            ("expires_on", "2027-11-20"),
            ("functions", "Customer dealing"),
        ]),
    )
    .await?;
    Ok(people)
}

fn print_demo() {
    println!(
        "Sign in with any of these, password \"{DEMO_PASSWORD}\":\n  \
         admin@example.com        administrator\n  \
         coordinator@example.com  data coordinator, Northbridge Homes (stock owner of Riverside Lettings)\n  \
         provider@example.com     data provider, Northbridge Homes\n  \
         rita@example.com         data coordinator, Riverside Lettings\n  \
         eve@example.com          data coordinator, Eastfield Council (unrelated)\n\
         Corterum (configurable roles):\n  \
         root@example.com         root administrator (Financial Conduct Authority and Payment Systems Regulator)\n  \
         jane@example.com         compliance administrator (worked example 01): administration, reports, every record\n  \
         lena@example.com         line manager: reads Joe Bloggs' training record, not his criminal record\n  \
         charlie@example.com      standard user: reads his own datasets and his Fit and Proper Certificate"
    );
}
