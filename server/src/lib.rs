//! The portal's server: configuration, start-up, the router and its middleware. Wiring only; what
//! the portal does lives in the `app` crate.

pub mod config;
mod middleware;

use std::sync::Arc;

use app::{
    portal::{Portal, SystemClock},
    secret::ServerSecret,
    sms::{ConsoleSms, SmsSender},
    store::Store,
};
use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use serde::Serialize;

use crate::config::{Config, SmsProvider};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Store(#[from] app::store::StoreError),
    #[error(transparent)]
    Secret(#[from] app::secret::SecretError),
}

/// Opens the database, loads the secret and chooses the SMS provider.
pub async fn start(config: &Config) -> Result<Portal, StartError> {
    let store = Store::open(&config.database_url).await?;
    let secret = match &config.secret_key {
        Some(key) => ServerSecret::from_passphrase(key)?,
        None => ServerSecret::load_or_create(&config.data_dir)?,
    };
    let sms: Arc<dyn SmsSender> = match config.sms_provider {
        SmsProvider::Console => Arc::new(ConsoleSms::new(store.clone())),
    };
    // The number metadata loads on first use; load it now rather than in a patient's request.
    let _ = app::mobile::Mobile::parse("021 555 0123", phonenumber::country::Id::NZ, &[]);
    Ok(Portal::new(
        config.settings.clone(),
        store,
        Arc::new(SystemClock),
        secret,
        sms,
    ))
}

/// Every few minutes, forgets limit counters nobody looks at any more and ended sessions.
pub async fn sweep_forever(portal: Portal) {
    const DAY: i64 = 24 * 3600 * 1000;
    let mut every = tokio::time::interval(std::time::Duration::from_secs(300));
    loop {
        every.tick().await;
        if let Err(err) = portal.store.sweep(portal.now(), DAY).await {
            tracing::warn!(%err, "sweeping old rows failed");
        }
    }
}

#[derive(Clone, axum::extract::FromRef)]
struct AppState {
    leptos_options: LeptosOptions,
    portal: Portal,
}

/// The whole HTTP surface: pages, `/api/*` server functions, health, the dev outbox and static files.
pub fn router(portal: Portal, leptos_options: LeptosOptions) -> Router {
    let routes = generate_route_list(app::App);
    let state = AppState {
        leptos_options: leptos_options.clone(),
        portal: portal.clone(),
    };
    let context_portal = portal.clone();
    let mut router = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_portal.clone()),
            {
                let options = leptos_options.clone();
                move || app::shell(options.clone())
            },
        )
        .route("/healthz", get(healthz));
    if portal.outbox.provider() == "console" {
        router = router.route("/dev/sms", get(dev_sms));
    }
    let router = router
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .with_state(state);
    middleware::around(router, &portal)
}

async fn healthz(State(portal): State<Portal>) -> impl IntoResponse {
    match portal.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(err) => {
            tracing::error!(%err, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

#[derive(Serialize)]
struct DevSmsJson {
    to: String,
    body: String,
    sent_at: String,
}

/// The console provider's outbox, oldest first. Only routed when the console provider is in use.
async fn dev_sms(State(portal): State<Portal>) -> Result<Json<Vec<DevSmsJson>>, StatusCode> {
    let messages = portal.store.dev_sms().await.map_err(|err| {
        tracing::error!(%err, "reading the dev outbox");
        StatusCode::INTERNAL_SERVER_ERROR
    })?;
    Ok(Json(
        messages
            .into_iter()
            .map(|m| DevSmsJson {
                to: m.to_number,
                body: m.body,
                sent_at: rfc3339(m.sent_at),
            })
            .collect(),
    ))
}

fn rfc3339(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
