//! Prometheus metrics on a listener of their own (`PORTAL_METRICS_ADDR`), never on the public
//! port: what the portal counts as it goes (`app::metrics`, and the requests counted here), and
//! what is read at each scrape (the outbox, the database connections).

use std::{sync::OnceLock, time::Duration};

use app::portal::Portal;
use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};
use metrics::gauge;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Bucket bounds for every `_seconds` histogram: from a page from memory (1 ms) to a text that
/// waited out a slow provider (a minute).
const SECONDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0,
];

/// The process's recorder, installed on first use. Metrics are process-wide, as a scrape is.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
            .and_then(PrometheusBuilder::install_recorder)
            .expect("the metrics recorder, installed once");
        gauge!(
            "portal_build_info",
            "version" => env!("CARGO_PKG_VERSION"),
            "commit" => env!("PORTAL_COMMIT"),
        )
        .set(1.0);
        handle
    })
}

/// `/metrics`, for the metrics listener only; with a `token`, only for a scraper that gives it
/// (`Authorization: Bearer …`).
pub fn router(portal: Portal, token: Option<String>) -> Router {
    let handle = recorder();
    let limits = app::limits::LimitKind::ALL.map(|kind| kind.as_str());
    let countries: Vec<String> = (portal.settings.allowed_regions.iter())
        .map(|id| format!("{id:?}"))
        .collect();
    app::metrics::start_at_zero(&portal.outbox.providers(), &limits, &countries);
    // Histograms are kept in blocks that upkeep folds together; without it they only grow.
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
    let router = Router::new()
        .route("/metrics", get(scrape))
        .with_state(portal);
    match token {
        Some(token) => router.layer(axum::middleware::from_fn(move |request, next| {
            let token = token.clone();
            async move { with_token(&token, request, next).await }
        })),
        None => router,
    }
}

/// Answers only a request that names the token, compared in constant time.
async fn with_token(
    token: &str,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let same = given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is needed\n",
        )
            .into_response();
    }
    next.run(request).await
}

/// Serves `/metrics` on `listener` until `stop` completes, held to the public listener's
/// timeouts and connection caps: a scraper is a client like any other.
pub async fn serve(
    listener: tokio::net::TcpListener,
    portal: Portal,
    token: Option<String>,
    limits: crate::config::HttpLimits,
    stop: impl std::future::Future<Output = ()>,
) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("metrics for Prometheus at http://{addr}/metrics");
    }
    let router = router(portal, token).layer(tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        limits.request_timeout,
    ));
    crate::listener::serve(listener, router, limits, stop).await;
}

async fn scrape(State(portal): State<Portal>) -> impl IntoResponse {
    match portal.store.outbox_backlog().await {
        Ok((depth, oldest)) => {
            gauge!("portal_outbox_depth").set(depth as f64);
            let waited = oldest.map_or(0, |queued| (portal.now() - queued).max(0));
            gauge!("portal_outbox_oldest_seconds").set(waited as f64 / 1000.0);
        }
        Err(err) => tracing::warn!(%err, "metrics: reading the outbox failed"),
    }
    // Whether each provider's circuit lets texts through, as every instance's attempts say.
    let _ = portal.outbox.all_providers_down().await;
    for (provider, up) in portal.outbox.provider_health() {
        gauge!("portal_sms_provider_up", "provider" => provider).set(if up { 1.0 } else { 0.0 });
    }
    let pool = portal.store.connections();
    gauge!("portal_db_pool_connections", "state" => "in_use").set(pool.in_use as f64);
    gauge!("portal_db_pool_connections", "state" => "idle").set(pool.idle as f64);
    gauge!("portal_db_pool_connections", "state" => "max").set(pool.max as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        recorder().render(),
    )
}
