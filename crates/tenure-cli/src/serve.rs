//! `tenure serve`: the web application, configured by flags, environment and an optional
//! file (in that order of precedence), with `--demo` to seed a small world to look around.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::Deserialize;
use tenure_core::audit::DemoSeed;
use tenure_core::{AccountStore, AuditDetail, AuditEvent, AuditName, ChangeStore, Outcome};
use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{
    Email, Log, LogId, Name, NewPassword, OrgId, Organisation, ProviderType, Relationship, RoleId,
    User, UserId, World,
};
use tenure_secrets_os::UuidV7;

use crate::app::{MailArgs, Services, StoreArgs, Timings};
use crate::logging::{self, LogFormat};

/// Flags for `tenure serve`; each may also come from the environment or the file.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Seed a small demo world (when the database has no users) and print how to sign in.
    #[arg(long)]
    demo: bool,
    /// Address to listen on.
    #[arg(long, env = "TENURE_LISTEN")]
    listen: Option<String>,
    /// A TOML file with any of: database, listen, base_url, outbox, smtp_url, mail_from,
    /// secure_cookies, lockout_attempts, lockout_minutes, reset_link_minutes,
    /// invitation_days, session_idle_minutes, session_absolute_hours, trusted_proxies,
    /// log_format.
    #[arg(long, env = "TENURE_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (default `sqlite://tenure.db?mode=rwc`).
    #[arg(long, env = "TENURE_DATABASE_URL")]
    database: Option<String>,
    /// Outbox folder (default `outbox`).
    #[arg(long, env = "TENURE_OUTBOX")]
    outbox: Option<PathBuf>,
    /// SMTP server URL, instead of the outbox.
    #[arg(long, env = "TENURE_SMTP_URL")]
    smtp_url: Option<String>,
    /// Sender of emails.
    #[arg(long, env = "TENURE_MAIL_FROM")]
    mail_from: Option<String>,
    /// Public address for links in emails (default `http://` + the listen address).
    #[arg(long, env = "TENURE_BASE_URL")]
    base_url: Option<String>,
    /// Mark cookies `Secure` (default: yes unless the base URL is plain-HTTP localhost).
    #[arg(long, env = "TENURE_SECURE_COOKIES")]
    secure_cookies: Option<bool>,
    /// Consecutive failed sign-ins that lock an account (default 5).
    #[arg(long, env = "TENURE_LOCKOUT_ATTEMPTS")]
    lockout_attempts: Option<u32>,
    /// Minutes a lock lasts (default 60).
    #[arg(long, env = "TENURE_LOCKOUT_MINUTES")]
    lockout_minutes: Option<i64>,
    /// Minutes a password reset link works (default 180).
    #[arg(long, env = "TENURE_RESET_LINK_MINUTES")]
    reset_link_minutes: Option<i64>,
    /// Days an invitation link works (default 3).
    #[arg(long, env = "TENURE_INVITATION_DAYS")]
    invitation_days: Option<i64>,
    /// Minutes a session may sit unused (default 30).
    #[arg(long, env = "TENURE_SESSION_IDLE_MINUTES")]
    session_idle_minutes: Option<i64>,
    /// Hours a session lasts at most (default 12).
    #[arg(long, env = "TENURE_SESSION_ABSOLUTE_HOURS")]
    session_absolute_hours: Option<i64>,
    /// Reverse proxies whose `X-Forwarded-For` gives the client's address, as networks
    /// separated by commas (`10.0.0.0/8,fd00::/8`; default none: the peer's address counts).
    #[arg(long, env = "TENURE_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Option<Vec<String>>,
    /// How log lines are written on standard error: `human` (the default) or `json`.
    /// `RUST_LOG` filters them (default `info`).
    #[arg(long, env = "TENURE_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
}

/// The optional configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database: Option<String>,
    listen: Option<String>,
    base_url: Option<String>,
    outbox: Option<PathBuf>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    secure_cookies: Option<bool>,
    lockout_attempts: Option<u32>,
    lockout_minutes: Option<i64>,
    reset_link_minutes: Option<i64>,
    invitation_days: Option<i64>,
    session_idle_minutes: Option<i64>,
    session_absolute_hours: Option<i64>,
    trusted_proxies: Option<Vec<String>>,
    log_format: Option<LogFormat>,
}

const DEMO_PASSWORD: &str = "kettle harbour violin 42";

pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    let file = match &args.config {
        Some(path) => read_config(path).inspect_err(|_| {
            // The file's error is logged in the format the flag or environment asked for.
            logging::init(args.log_format.unwrap_or_default(), logging::LevelFilter::INFO);
        })?,
        None => FileConfig::default(),
    };
    logging::init(
        args.log_format.or(file.log_format).unwrap_or_default(),
        logging::LevelFilter::INFO,
    );
    let listen = args.listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let store = StoreArgs {
        database: args
            .database
            .or(file.database)
            .unwrap_or_else(|| "sqlite://tenure.db?mode=rwc".to_owned()),
    };
    let mail = MailArgs {
        outbox: args.outbox.or(file.outbox).unwrap_or_else(|| PathBuf::from("outbox")),
        smtp_url: args.smtp_url.or(file.smtp_url),
        mail_from: args
            .mail_from
            .or(file.mail_from)
            .unwrap_or_else(|| "Tenure <no-reply@tenure.invalid>".to_owned()),
        base_url: args.base_url.or(file.base_url).unwrap_or_else(|| format!("http://{listen}")),
    };
    let d = Timings::default();
    let timings = Timings {
        lockout_attempts: args
            .lockout_attempts
            .or(file.lockout_attempts)
            .unwrap_or(d.lockout_attempts),
        lockout_minutes: args.lockout_minutes.or(file.lockout_minutes).unwrap_or(d.lockout_minutes),
        reset_link_minutes: args
            .reset_link_minutes
            .or(file.reset_link_minutes)
            .unwrap_or(d.reset_link_minutes),
        invitation_days: args.invitation_days.or(file.invitation_days).unwrap_or(d.invitation_days),
        session_idle_minutes: args
            .session_idle_minutes
            .or(file.session_idle_minutes)
            .unwrap_or(d.session_idle_minutes),
        session_absolute_hours: args
            .session_absolute_hours
            .or(file.session_absolute_hours)
            .unwrap_or(d.session_absolute_hours),
    };
    anyhow::ensure!(
        timings.lockout_attempts >= 1
            && [
                timings.lockout_minutes,
                timings.reset_link_minutes,
                timings.invitation_days,
                timings.session_idle_minutes,
                timings.session_absolute_hours
            ]
            .iter()
            .all(|t| *t >= 1),
        "lockout attempts and every time must be at least 1"
    );
    let trusted_proxies = tenure_web::TrustedProxies::parse(
        args.trusted_proxies.or(file.trusted_proxies).unwrap_or_default(),
    )
    .context("--trusted-proxies (or TENURE_TRUSTED_PROXIES, or `trusted_proxies` in the file)")?;
    let services = Services::open_with(&store, &mail, timings).await?;
    if args.demo {
        seed_demo(&services).await?;
    }
    let mut config = tenure_web::WebConfig::new(&mail.base_url);
    if let Some(secure) = args.secure_cookies.or(file.secure_cookies) {
        config.secure_cookies = secure;
    }
    config.trusted_proxies = trusted_proxies;
    config.request_ids = tenure_web::RequestIds::from_ids(std::sync::Arc::new(UuidV7));
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on `{listen}`"))?;
    let mail_to = match &mail.smtp_url {
        Some(_) => "sent by SMTP".to_owned(),
        None => format!("written to the folder `{}`", mail.outbox.display()),
    };
    println!(
        "Tenure is running at {} (emails are {mail_to}). Press Ctrl+C to stop.",
        mail.base_url
    );
    tenure_web::serve(listener, tenure_web::router(services.web(), config)).await?;
    Ok(())
}

fn read_config(path: &std::path::Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    toml::from_str::<FileConfig>(&text)
        .with_context(|| format!("`{}` is not a valid configuration file", path.display()))
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
    // Corterum: two companies and the root administrator created with the account.
    let fca = org("Financial Conduct Authority", ProviderType::PrivateRegisteredProvider, false)?;
    let psr = org("Payment Systems Regulator", ProviderType::PrivateRegisteredProvider, false)?;
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
/// entities, a group, the roles of the examples, Jane (line manager) and Charlie
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

    let c = &services.corterum;
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
                name: "Jane's reports".to_owned(),
                description: "The people Jane Smith manages".to_owned(),
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
        })
        .await?;
    let mut people = Vec::new();
    for (name, email, entity, role) in [
        ("Jane Smith", "jane@example.com", jane, line_manager),
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
         jane@example.com         line manager: reads Joe Bloggs' training record, not his criminal record\n  \
         charlie@example.com      standard user: reads his own datasets only"
    );
}
