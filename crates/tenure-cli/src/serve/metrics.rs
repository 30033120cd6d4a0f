//! `tenure serve`'s Prometheus metrics, when `metrics_listen` is set: the recorder
//! (`metrics-exporter-prometheus`, without its own HTTP server: the web crate's
//! `metrics_router` answers `GET /metrics` on axum, on that address alone), and the
//! gauges read at each scrape: the database pool's connections and the mail queue
//! (`tenure_mail_queue`, messages waiting; `tenure_mail_abandoned`, given up on).
//!
//! What is recorded elsewhere, through the `metrics` facade: requests by method, matched
//! route and status with their latency and sign-in outcomes (`tenure-web`'s request
//! log) and the password hasher's queue and refusals (`tenure-hash-argon2`).

use std::sync::Arc;

use anyhow::{Context as _, Result};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tenure_store_seaorm::SeaOrmStore;

/// Latency buckets in seconds: a signed-in page takes a few milliseconds, a sign-in tens.
const LATENCY_BUCKETS: [f64; 12] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Installs the process's recorder and returns what renders a scrape.
///
/// # Errors
/// When a recorder is already installed or the buckets are refused.
pub(crate) fn install(
    store: Arc<SeaOrmStore>,
    courier: tenure_core::courier::Courier,
) -> Result<tenure_web::RenderMetrics> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
        .context("cannot set the latency buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    describe();
    Ok(Arc::new(move || {
        let (store, courier, handle) = (store.clone(), courier.clone(), handle.clone());
        Box::pin(async move {
            let pool = store.pool_use();
            metrics::gauge!("tenure_db_connections", "state" => "idle").set(f64::from(pool.idle));
            metrics::gauge!("tenure_db_connections", "state" => "in_use")
                .set(f64::from(pool.open.saturating_sub(pool.idle)));
            metrics::gauge!("tenure_db_connections_max").set(f64::from(pool.max));
            match courier.counts().await {
                Ok(counts) => {
                    let (queued, abandoned) = (counts.queued as f64, counts.abandoned as f64);
                    metrics::gauge!("tenure_mail_queue").set(queued);
                    metrics::gauge!("tenure_mail_abandoned").set(abandoned);
                }
                Err(e) => tracing::warn!(error = %e, "metrics: cannot count the mail queue"),
            }
            handle.run_upkeep();
            handle.render()
        })
    }))
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("tenure_http_requests_total", "Requests by method, route and status.");
    describe_histogram!(
        "tenure_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer, by method, route and status."
    );
    describe_counter!("tenure_sign_ins_total", "Sign-in attempts by outcome.");
    describe_gauge!("tenure_argon2_waiting", "Password checks waiting for a permit.");
    describe_gauge!("tenure_argon2_running", "Password checks running.");
    describe_counter!("tenure_argon2_refused_total", "Password checks refused: queue full.");
    describe_gauge!("tenure_db_connections", "Database pool connections by state.");
    describe_gauge!("tenure_db_connections_max", "The most connections the pool opens.");
    describe_gauge!("tenure_mail_queue", "Messages waiting in the mail queue.");
    describe_gauge!("tenure_mail_abandoned", "Messages the courier gave up on.");
}
