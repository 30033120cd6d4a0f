//! `/healthz` and `/readyz` over real HTTP on the real router, over SQLite: ready only
//! when the database answers and every migration is applied; plain, cookie-free answers
//! that say nothing about the software. And the metrics router renders what it is given.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use tenure_core::health::Health;
use tenure_store_seaorm::SeaOrmStore;
use tenure_web::WebConfig;

/// The app (the router tests' site) on a port of its own, with readiness over `probed`.
async fn serve(probed: SeaOrmStore) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = WebConfig::new(&base);
    config.health = Some(Health::new(Arc::new(probed)));
    let app = crate::site_with(tenure_testkit::contract::manage::world(), config).await.router;
    tokio::spawn(async move { tenure_web::serve(listener, app).await });
    base
}

async fn get(url: &str) -> (StatusCode, String, axum::http::HeaderMap) {
    let http = HttpClient::builder(TokioExecutor::new()).build_http::<Body>();
    let response = http.request(Request::get(url).body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(Body::new(response.into_body()), 1 << 20).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap(), headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_ready_only_with_a_current_schema_and_healthz_always_answers() {
    let dir = std::env::temp_dir().join(format!("tenure-web-health-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("tenure.db").display());
    // The schema is behind: a database with nothing migrated yet.
    let probed = SeaOrmStore::connect(&url).await.unwrap();
    let base = serve(probed.clone()).await;
    let (status, body, headers) = get(&format!("{base}/healthz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    assert!(headers.get(header::SET_COOKIE).is_none(), "no cookie: {headers:?}");
    assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let (status, body, _) = get(&format!("{base}/readyz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "not ready\n"));

    // `tenure migrate` ran: ready.
    probed.migrate().await.unwrap();
    let (status, body, headers) = get(&format!("{base}/readyz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ready\n"));
    assert!(headers.get(header::SET_COOKIE).is_none());
    assert!(headers.get(header::SERVER).is_none(), "no software named: {headers:?}");
    assert_eq!(get(&format!("{base}/healthz")).await.0, StatusCode::OK);
    // The pages are still the application's, behind its layers.
    let (status, _, headers) = get(&format!("{base}/account/sign-in")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::SET_COOKIE).is_some(), "pages keep their layers");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_router_serves_what_it_renders_and_nothing_else() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let render: tenure_web::RenderMetrics =
        Arc::new(|| Box::pin(async { "tenure_up 1\n".to_owned() }));
    let app = tenure_web::metrics_router(render);
    tokio::spawn(async move { tenure_web::serve(listener, app).await });
    let (status, body, headers) = get(&format!("{base}/metrics")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "tenure_up 1\n"));
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(get(&format!("{base}/")).await.0, StatusCode::NOT_FOUND);
}
