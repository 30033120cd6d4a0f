//! `tenure-bench`: benchmarks that print figures, run by `cargo xtask bench ...`.
//!
//! Role in the workspace: measurement only. `engine` compares Tenure's permission engine
//! with the `cedar-policy` crate on the same synthetic CORE world, and then on a
//! Corterum-shaped world of customer-built roles, after asserting that both give
//! identical answers; `store` times first pages through the SQL stack on SQLite
//! and PostgreSQL against load-and-filter; `web` loads the real server with `wrk`; `batch`
//! runs the batch imports and exports through the real binary. Figures are recorded in
//! `docs/performance.md`.

mod batch;
mod cedar;
mod corterum;
mod store;
mod synth;
mod web;

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tenure_domain::{Action, Relationship, Request, Resource, UserId};

use crate::cedar::CedarWorld;
use crate::synth::{Size, Synth};

const FULL: Size = Size { organisations: 10_000, users: 100_000, logs: 1_000_000 };

#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale = match args.iter().position(|a| a == "--scale") {
        Some(i) => args
            .get(i + 1)
            .context("--scale needs a number, such as 0.1")?
            .parse::<f64>()
            .context("--scale takes a number, such as 0.1")?,
        None => 1.0,
    };
    anyhow::ensure!(
        scale > 0.0 && scale <= 1.0,
        "--scale takes a number above 0 and at most 1, not {scale}"
    );
    match args.first().map(String::as_str) {
        Some("engine") => {
            engine(scale_size(scale))?;
            corterum::run(corterum::scaled(scale))
        }
        Some("store") => store::run(scale_size(scale)),
        Some("web") => web::run(scale_size(scale)),
        Some("batch") => batch::run(scale_size(scale)),
        _ => {
            println!("usage: tenure-bench <engine | store | web | batch> [--scale F]");
            anyhow::bail!(
                "unknown or missing benchmark; expected `engine`, `store`, `web` or `batch`"
            )
        }
    }
}

fn scale_size(scale: f64) -> Size {
    let s = |n: usize| ((n as f64 * scale) as usize).max(10);
    Size { organisations: s(FULL.organisations), users: s(FULL.users), logs: s(FULL.logs) }
}

/// Resident memory in bytes, from /proc (Linux), or 0 where unavailable.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

struct Timing {
    mean_ns: f64,
    p50_ns: u64,
    p99_ns: u64,
}

/// Passes of the batch loop; the mean reported is their median, so one pass disturbed
/// by the machine (a scheduler hiccup, another process) does not move the figure.
const PASSES: usize = 9;

/// Times `f` over every item: [`PASSES`] batch loops, the median of their means, then
/// per-call timings for the percentiles (which include the ~20 ns cost of reading the
/// clock).
fn time_each<T>(items: &[T], mut f: impl FnMut(&T) -> bool) -> Timing {
    let mut means: Vec<f64> = (0..PASSES)
        .map(|_| {
            let start = Instant::now();
            for item in items {
                black_box(f(black_box(item)));
            }
            start.elapsed().as_nanos() as f64 / items.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let mean_ns = means[PASSES / 2];
    let mut each: Vec<u64> = items
        .iter()
        .map(|item| {
            let t = Instant::now();
            black_box(f(black_box(item)));
            t.elapsed().as_nanos() as u64
        })
        .collect();
    each.sort_unstable();
    let at = |q: f64| each[((each.len() as f64 * q) as usize).min(each.len() - 1)];
    Timing { mean_ns, p50_ns: at(0.50), p99_ns: at(0.99) }
}

#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn engine(size: Size) -> anyhow::Result<()> {
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                .split(':')
                .nth(1)
                .unwrap_or("")
                .trim()
                .to_owned()))
            .unwrap_or_default()
    );
    println!(
        "world: {} organisations, {} users, {} logs",
        size.organisations, size.users, size.logs
    );

    let before = rss();
    let t = Instant::now();
    let synth = synth::build(size, 7)?;
    let ours_build = t.elapsed();
    let ours_mem = rss().saturating_sub(before);
    println!(
        "ours:  world built in {:.2} s, {} relationships, memory {:.0} MiB",
        ours_build.as_secs_f64(),
        synth.edges.len(),
        mib(ours_mem)
    );

    let before = rss();
    let t = Instant::now();
    let mut cedar = CedarWorld::build(&synth.world)?;
    let cedar_build = t.elapsed();
    let cedar_mem = rss().saturating_sub(before);
    println!(
        "cedar: entities built in {:.2} s, memory {:.0} MiB",
        cedar_build.as_secs_f64(),
        mib(cedar_mem)
    );

    // Same answers first, on every request that will be timed.
    let requests = synth::requests(&synth, 100_000, 11);
    let cedar_requests: Vec<_> =
        requests.iter().map(|r| cedar.request(r)).collect::<anyhow::Result<_>>()?;
    let mut allowed = 0;
    for (ours, theirs) in requests.iter().zip(&cedar_requests) {
        let a = synth.world.decide(ours).is_allowed();
        anyhow::ensure!(a == cedar.is_allowed(theirs), "engines disagree on {ours:?}");
        allowed += usize::from(a);
    }
    println!(
        "agreement: {} requests, identical answers ({} allowed, {} denied)",
        requests.len(),
        allowed,
        requests.len() - allowed
    );

    let ours = time_each(&requests, |r| synth.world.decide(r).is_allowed());
    let theirs = time_each(&cedar_requests, |r| cedar.is_allowed(r));
    println!(
        "decide: ours mean {:.0} ns p50 {} ns p99 {} ns ({:.1} M checks/s on one core); cedar mean {:.0} ns p50 {} ns p99 {} ns",
        ours.mean_ns,
        ours.p50_ns,
        ours.p99_ns,
        1e3 / ours.mean_ns,
        theirs.mean_ns,
        theirs.p50_ns,
        theirs.p99_ns
    );

    for (action, _) in synth::MIX {
        let (ours_group, cedar_group): (Vec<_>, Vec<_>) =
            requests.iter().zip(&cedar_requests).filter(|(r, _)| r.action == *action).unzip();
        let o = time_each(&ours_group, |r| synth.world.decide(r).is_allowed());
        let c = time_each(&cedar_group, |r| cedar.is_allowed(r));
        println!(
            "  {:<18} ours mean {:>4.0} ns p99 {:>5} ns; cedar mean {:>6.0} ns ({:.0}x)",
            action.as_str(),
            o.mean_ns,
            o.p99_ns,
            c.mean_ns,
            c.mean_ns / o.mean_ns
        );
    }

    // One relationship change, then the next decision.
    let mut world = synth.world.clone();
    let rounds = 200.min(synth.edges.len());
    let t = Instant::now();
    for rel in synth.edges.iter().take(rounds) {
        world.remove_relationship(*rel)?;
        black_box(world.decide(&requests[0]));
        world.add_relationship(*rel)?;
        black_box(world.decide(&requests[0]));
    }
    let ours_change = t.elapsed() / (rounds as u32 * 2);
    let cedar_rounds = 3.min(synth.edges.len());
    let t = Instant::now();
    for rel in synth.edges.iter().take(cedar_rounds) {
        let Relationship { stock_owner, managing_agent } = *rel;
        world.remove_relationship(*rel)?;
        cedar = cedar.apply_change(&world, &[stock_owner, managing_agent])?;
        black_box(cedar.is_allowed(&cedar_requests[0]));
        world.add_relationship(*rel)?;
        cedar = cedar.apply_change(&world, &[stock_owner, managing_agent])?;
        black_box(cedar.is_allowed(&cedar_requests[0]));
    }
    let cedar_change = t.elapsed() / (cedar_rounds as u32 * 2);
    println!(
        "relationship change + next decision: ours {:.2} us, cedar upsert {:.1} ms, cedar full rebuild {:.2} s ({:.0}x)",
        ours_change.as_secs_f64() * 1e6,
        cedar_change.as_secs_f64() * 1e3,
        cedar_build.as_secs_f64(),
        cedar_change.as_secs_f64() / ours_change.as_secs_f64().max(1e-9)
    );

    lists(&synth, &cedar)?;

    let ratio = theirs.mean_ns / ours.mean_ns;
    println!(
        "engine: ours {:.0} ns/check p99 {} ns, cedar {:.0} ns/check, ratio {:.0}x",
        ours.mean_ns, ours.p99_ns, theirs.mean_ns, ratio
    );
    Ok(())
}

/// "Which users may this coordinator manage" and "which logs may this user see": ours
/// from a scope and the world's indexes, Cedar asked record by record.
#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn lists(synth: &Synth, cedar: &CedarWorld) -> anyhow::Result<()> {
    let coordinator = |i: usize| -> Option<UserId> {
        let u = synth.world.user(synth.users[i])?;
        let org_active = synth.world.organisation(u.organisation)?.active;
        (u.active
            && org_active
            && u.roles.first() == Some(&tenure_domain::role::builtin::DATA_COORDINATOR)
            && !synth.world.managing_agents(u.organisation).is_empty())
        .then_some(u.id)
    };
    let actors: Vec<UserId> = (0..synth.users.len()).filter_map(coordinator).take(3).collect();
    anyhow::ensure!(!actors.is_empty(), "the world has no active coordinator with managing agents");

    let mut ours_users = Duration::ZERO;
    let mut cedar_users = Duration::ZERO;
    let mut found = 0;
    for actor in &actors {
        let t = Instant::now();
        let scope = synth.world.scope(*actor, Action::UserDeactivate);
        let mut ours: Vec<UserId> = synth
            .world
            .users_in(&scope)
            .filter(|u| {
                synth
                    .world
                    .decide(&Request::new(*actor, Action::UserDeactivate, Resource::User(u.id)))
                    .is_allowed()
            })
            .map(|u| u.id)
            .collect();
        ours_users += t.elapsed();
        let requests: Vec<_> = synth
            .users
            .iter()
            .map(|u| {
                cedar.request(&Request::new(*actor, Action::UserDeactivate, Resource::User(*u)))
            })
            .collect::<anyhow::Result<_>>()?;
        let t = Instant::now();
        let mut theirs: Vec<UserId> = synth
            .users
            .iter()
            .zip(&requests)
            .filter(|(_, r)| cedar.is_allowed(r))
            .map(|(u, _)| *u)
            .collect();
        cedar_users += t.elapsed();
        ours.sort();
        theirs.sort();
        anyhow::ensure!(ours == theirs, "the engines list different users for {actor}");
        found += ours.len();
    }
    let n = actors.len() as u32;
    println!(
        "list users a coordinator may manage ({} found): ours {:.1} us, cedar {:.1} ms ({:.0}x)",
        found / actors.len(),
        (ours_users / n).as_secs_f64() * 1e6,
        (cedar_users / n).as_secs_f64() * 1e3,
        cedar_users.as_secs_f64() / ours_users.as_secs_f64().max(1e-9)
    );

    let actor = actors[0];
    let t = Instant::now();
    let scope = synth.world.scope(actor, Action::LogView);
    let mut ours: Vec<_> = synth.world.logs_in(&scope).map(|l| l.id).collect();
    let ours_logs = t.elapsed();
    let requests: Vec<_> = synth
        .logs
        .iter()
        .map(|l| cedar.request(&Request::new(actor, Action::LogView, Resource::Log(*l))))
        .collect::<anyhow::Result<_>>()?;
    let t = Instant::now();
    let mut theirs: Vec<_> = synth
        .logs
        .iter()
        .zip(&requests)
        .filter(|(_, r)| cedar.is_allowed(r))
        .map(|(l, _)| *l)
        .collect();
    let cedar_logs = t.elapsed();
    ours.sort();
    theirs.sort();
    anyhow::ensure!(ours == theirs, "the engines list different logs");
    println!(
        "list logs a user may see ({} of {}): ours {:.1} us, cedar {:.1} ms ({:.0}x)",
        ours.len(),
        synth.logs.len(),
        ours_logs.as_secs_f64() * 1e6,
        cedar_logs.as_secs_f64() * 1e3,
        cedar_logs.as_secs_f64() / ours_logs.as_secs_f64().max(1e-9)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cedar::CedarWorld;
    use crate::synth::{self, Size};

    /// The Cedar encoding and the engine agree on a small world, so the benchmark compares
    /// like with like. (The benchmark repeats this on its own world before timing.)
    #[test]
    fn cedar_and_tenure_agree() {
        let s = synth::build(Size { organisations: 120, users: 1_500, logs: 3_000 }, 3).unwrap();
        let cedar = CedarWorld::build(&s.world).unwrap();
        let requests = synth::requests(&s, 20_000, 5);
        let mut allowed = 0;
        for r in &requests {
            let ours = s.world.decide(r).is_allowed();
            assert_eq!(
                ours,
                cedar.is_allowed(&cedar.request(r).unwrap()),
                "{r:?}: {}",
                s.world.decide(r).explain(&s.world)
            );
            allowed += usize::from(ours);
        }
        assert!(
            allowed > 2_000 && allowed < 18_000,
            "the mix exercises both answers: {allowed} allowed"
        );
    }
}
