//! `tenure-bench store`: first pages of "users I can see" and "logs I can see" through the
//! real stack (snapshot, scope, SQL), on SQLite and PostgreSQL, against loading the rows
//! and filtering them in memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use tenure_core::{Authorizer, Page, Search, UserQuery};
use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR};
use tenure_domain::{Action, UserId};
use tenure_store_seaorm::SeaOrmStore;

use crate::synth::{self, Size, Synth};

const ROUNDS: usize = 30;

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort_unstable();
    d[d.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// An active coordinator whose organisation has managing agents, and an active
/// administrator, both in active organisations.
pub(crate) fn actors(s: &Synth) -> anyhow::Result<(UserId, UserId)> {
    let usable = |role| {
        s.world.users().find(|u| {
            u.active
                && u.roles.first() == Some(&role)
                && s.world.organisation(u.organisation).is_some_and(|o| o.active)
                && (role == ADMINISTRATOR || s.world.managing_agents(u.organisation).len() >= 2)
        })
    };
    let coordinator = usable(DATA_COORDINATOR).context("no coordinator with managing agents")?.id;
    let admin = usable(ADMINISTRATOR).context("no administrator")?.id;
    Ok((coordinator, admin))
}

struct Figures {
    users_page: Duration,
    logs_page: Duration,
    worst_page: Duration,
    baseline: Duration,
}

#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
async fn measure(label: &str, url: &str, s: &Synth) -> anyhow::Result<Figures> {
    let t = Instant::now();
    let store = SeaOrmStore::open(url).await?;
    store.import(&s.world).await?;
    println!("{label}: imported in {:.1} s", t.elapsed().as_secs_f64());
    let auth = Authorizer::new(Arc::new(store));
    let (coordinator, admin) = actors(s)?;
    let first = Page::numbered(1, Page::SCREEN);
    let rare = UserQuery { search: Search::parse("user 99"), ..UserQuery::default() };
    let all = UserQuery::default();

    let mut cases: Vec<(&str, Duration)> = Vec::new();
    for (name, actor, query) in [
        ("users, coordinator", coordinator, &all),
        ("users, coordinator, search", coordinator, &rare),
        ("users, administrator", admin, &all),
        ("users, administrator, search", admin, &rare),
    ] {
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let page = auth.find_users(actor, query, first).await?;
            times.push(t.elapsed());
            std::hint::black_box(page);
        }
        cases.push((name, median(times)));
    }
    for (name, actor) in [("logs, coordinator", coordinator), ("logs, administrator", admin)] {
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let page = auth.visible_logs(actor, first).await?;
            times.push(t.elapsed());
            std::hint::black_box(page);
        }
        cases.push((name, median(times)));
    }
    for (name, d) in &cases {
        println!("{label}: first page of {name}: {:.2} ms median", ms(*d));
    }

    // Load-and-filter: every user row, then the scope, sort and first page in memory.
    let raw = Database::connect(url).await?;
    let scope = s.world.scope(coordinator, Action::UserView);
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let page = load_and_filter(&raw, &scope).await?;
        times.push(t.elapsed());
        std::hint::black_box(page);
    }
    let baseline = median(times);
    println!("{label}: load-and-filter users for the coordinator: {:.1} ms median", ms(baseline));

    let users_page = cases
        .iter()
        .filter(|(n, _)| n.starts_with("users") && !n.contains("search"))
        .map(|(_, d)| *d)
        .max()
        .unwrap_or_default();
    let logs_page = cases
        .iter()
        .filter(|(n, _)| n.starts_with("logs"))
        .map(|(_, d)| *d)
        .max()
        .unwrap_or_default();
    let worst_page = cases.iter().map(|(_, d)| *d).max().unwrap_or_default();
    Ok(Figures { users_page, logs_page, worst_page, baseline })
}

async fn load_and_filter(
    db: &DatabaseConnection,
    scope: &tenure_domain::Scope,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id, organisation_id, sort_name FROM users",
        ))
        .await?;
    let mut kept: Vec<(String, Vec<u8>)> = Vec::new();
    for row in rows {
        let id: uuid::Uuid = row.try_get("", "id")?;
        let org: uuid::Uuid = row.try_get("", "organisation_id")?;
        let name: String = row.try_get("", "sort_name")?;
        let org = tenure_domain::OrgId::from_uuid(org);
        if scope.everything
            || scope.organisations.binary_search(&org).is_ok()
            || (scope.own && *scope.actor.as_uuid() == id)
        {
            kept.push((name, id.as_bytes().to_vec()));
        }
    }
    kept.sort_unstable();
    kept.truncate(Page::SCREEN);
    Ok(kept)
}

#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) fn run(size: Size) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        println!("world: {} organisations, {} users, {} logs", size.organisations, size.users, size.logs);
        let s = synth::build(size, 7)?;
        let dir = std::env::temp_dir().join(format!("tenure-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let sqlite = measure("sqlite", &format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()), &s).await;
        let _ = std::fs::remove_dir_all(&dir);
        let sqlite = sqlite?;
        let postgres = match std::env::var("TENURE_TEST_POSTGRES_URL") {
            Ok(server) => {
                let admin = Database::connect(&server).await?;
                let name = format!("tenure_bench_{}", std::process::id());
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
                let (base, _) = server.rsplit_once('/').context("the PostgreSQL URL names a database")?;
                Some(measure("postgres", &format!("{base}/{name}"), &s).await?)
            }
            Err(_) => {
                println!("postgres: skipped (run through `cargo xtask bench store`, which starts a server)");
                None
            }
        };
        let ratio = |f: &Figures| f.baseline.as_secs_f64() / f.users_page.as_secs_f64().max(1e-9);
        println!(
            "slowest first page: sqlite {:.2} ms{}",
            ms(sqlite.worst_page),
            postgres.as_ref().map_or_else(String::new, |p| format!(", postgres {:.2} ms", ms(p.worst_page)))
        );
        match &postgres {
            Some(p) => println!(
                "store: sqlite users-page {:.2} ms, logs-page {:.2} ms, postgres users-page {:.2} ms, logs-page {:.2} ms, vs load-and-filter {:.0}x",
                ms(sqlite.users_page),
                ms(sqlite.logs_page),
                ms(p.users_page),
                ms(p.logs_page),
                ratio(&sqlite).min(ratio(p))
            ),
            None => println!(
                "store: sqlite users-page {:.2} ms, logs-page {:.2} ms, postgres skipped, vs load-and-filter {:.0}x",
                ms(sqlite.users_page),
                ms(sqlite.logs_page),
                ratio(&sqlite)
            ),
        }
        Ok(())
    })
}
