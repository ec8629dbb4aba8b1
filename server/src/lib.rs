//! The portal's server: configuration, start-up, the router and its middleware. Wiring only; what
//! the portal does lives in the `app` crate.

// The app's view types nest deeply where components are not erased (test builds).
#![recursion_limit = "256"]

mod audit_export;
pub mod config;
mod listener;
pub mod metrics;
pub(crate) mod middleware;
mod page_cache;
mod static_files;

pub use listener::{serve, serve_behind};

/// Rendering a page makes many small allocations, from many threads; mimalloc serves them
/// markedly faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use app::{
    clock::{Clock, SystemClock},
    mail::{ConsoleMailer, Mailer, SmtpMailer},
    portal::Portal,
    secret::ServerSecret,
    sms::{ConsoleSms, SmsSender, StatusCallbacks, TwilioSms, WebhookSms},
    store::{ChainHead, ChainRules, Store},
};
use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
    Form, Json, Router,
};
use ipnet::IpNet;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use serde::Serialize;
use tower_http::services::ServeDir;

use crate::config::{Config, HttpLimits, MailProvider, SmsProvider};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Store(#[from] app::store::StoreError),
    #[error(transparent)]
    Secret(#[from] app::secret::SecretError),
    #[error(transparent)]
    Mail(#[from] app::mail::MailError),
}

/// What the router needs beyond the portal itself.
#[derive(Clone, Default)]
pub struct Wiring {
    /// Set with the Twilio provider: checks its delivery callbacks at `/sms/status`.
    pub twilio_callbacks: Option<StatusCallbacks>,
    pub trusted_proxies: Vec<IpNet>,
    /// `/dev/sms` (with the console provider among the providers) and `/dev/email` (with the console mailer).
    pub dev_outbox: bool,
    pub http: HttpLimits,
}

/// Opens the database, waiting for it if it isn't up yet: `tries` times, twice as long between
/// each (from 1 s, about a minute in all, at start-up), and says why when it gives up.
pub async fn open_store(
    config: &Config,
    tries: u32,
    first_pause: std::time::Duration,
) -> Result<Store, app::store::StoreError> {
    let mut pause = first_pause;
    let mut tried = 1;
    loop {
        match Store::open_with(&config.database_url, config.database).await {
            Ok(store) => return Ok(store),
            Err(err) if err.is_unreachable() && tried < tries => {
                tracing::warn!(%err, "the database isn't answering yet; trying again in {} s", pause.as_secs());
                tokio::time::sleep(pause).await;
                pause *= 2;
                tried += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Opens the database, loads the secret and chooses the SMS provider.
pub async fn start(config: &Config) -> Result<(Portal, Wiring), StartError> {
    let store = open_store(config, 7, std::time::Duration::from_secs(1)).await?;
    let secret = match &config.secret_key {
        Some(key) => ServerSecret::from_passphrase(key)?,
        None => ServerSecret::load_or_create(&config.data_dir)?,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut wiring = Wiring {
        twilio_callbacks: None,
        trusted_proxies: config.trusted_proxies.clone(),
        dev_outbox: config.dev_outbox,
        http: config.http,
    };
    let providers: Vec<Arc<dyn SmsSender>> = config
        .sms_providers
        .iter()
        .map(|provider| -> Arc<dyn SmsSender> {
            match provider {
                SmsProvider::Console => Arc::new(ConsoleSms::new(store.clone(), clock.clone())),
                SmsProvider::Twilio(twilio) => {
                    wiring.twilio_callbacks =
                        twilio.status_callback.clone().map(|url| StatusCallbacks {
                            auth_token: twilio.auth_token.clone(),
                            url,
                        });
                    Arc::new(TwilioSms::new(twilio.clone()))
                }
                SmsProvider::Webhook { url, secret } => Arc::new(WebhookSms::new(
                    url.clone(),
                    secret.clone(),
                    app::sms::twilio::REQUEST_TIMEOUT,
                )),
            }
        })
        .collect();
    // The number metadata loads on first use; load it now rather than in a patient's request.
    let _ = app::mobile::Mobile::parse("021 555 0123", phonenumber::country::Id::NZ, &[]);
    let mailer: Arc<dyn Mailer> = match &config.mail {
        MailProvider::Console => Arc::new(ConsoleMailer::new(store.clone(), clock.clone())),
        MailProvider::Smtp { url, from } => Arc::new(SmtpMailer::new(url, from)?),
    };
    let portal = Portal::with_mailer(
        config.settings.clone(),
        store,
        clock,
        secret,
        providers,
        mailer,
    );
    portal.load_practice().await?;
    let resealed = app::staff::accounts::reseal_old_secrets(&portal).await?;
    if resealed > 0 {
        tracing::info!(resealed, "staff authenticator secrets sealed the new way");
    }
    // The planner's statistics where tables have none, or have changed much since.
    if let Err(err) = portal.store.optimize().await {
        tracing::warn!(%err, "counting the tables for the planner");
    }
    let keyed = portal
        .store
        .key_audit_chain(&portal.secret.audit_key(), portal.now())
        .await?;
    if let Some(head) = keyed {
        tracing::info!(
            line = head.line,
            "the audit chain is sealed with the server's key from this line on"
        );
        app::audit::note_head(&portal, &head).await;
    }
    Ok((portal, wiring))
}

/// A head as `--expect` gives it: `LINE:HASH`.
pub fn parse_head(noted: &str) -> Result<ChainHead, String> {
    noted
        .split_once(':')
        .and_then(|(line, hash)| {
            let line = line.trim().parse().ok()?;
            let hash = hash.trim();
            (!hash.is_empty()).then(|| ChainHead {
                line,
                hash: hash.to_string(),
            })
        })
        .ok_or_else(|| format!("{noted:?} is not a head: expected LINE:HASH, as the log notes it"))
}

/// `server audit verify`: walks the audit chain with the server's key, the retention and any
/// heads noted elsewhere, and says how it stands; `Err` names where it breaks.
pub async fn verify_audit_chain(
    config: &Config,
    expect: Vec<ChainHead>,
) -> Result<String, Box<dyn std::error::Error>> {
    let secret = match &config.secret_key {
        Some(key) => ServerSecret::from_passphrase(key)?,
        None => ServerSecret::load(&config.data_dir)?,
    };
    let store = open_store(config, 1, std::time::Duration::ZERO).await?;
    let now = SystemClock.now();
    let rules = ChainRules {
        key: secret.audit_key(),
        kept_from: now - config.settings.audit_retention_days * app::clock::DAY,
        expect,
    };
    let check = store.verify_audit_chain(&rules).await;
    store.close().await;
    let check = check?;
    let mut said = Vec::new();
    if check.before_chain > 0 {
        said.push(format!(
            "{} line(s) from before the chain began are not in it",
            check.before_chain
        ));
    }
    if let Some(problem) = check.problem {
        return Err(format!(
            "{}{} line(s) checked whole before the break; {problem}",
            said.iter().map(|s| format!("{s}; ")).collect::<String>(),
            check.chained
        )
        .into());
    }
    said.push(match check.newest {
        Some((line, hash)) => format!(
            "the audit chain is whole: {} line(s), the newest line {line} with hash {hash} \
             (compare it with the last \"audit chain's newest line\" noted elsewhere, or give \
             it as --expect {line}:{hash})",
            check.chained
        ),
        None => "no line is in the audit chain yet".to_string(),
    });
    Ok(said.join("\n"))
}

/// Serves `router` until `stop` completes (SIGTERM), then stops in order: no new connections;
/// requests in flight get the grace period (`PORTAL_SHUTDOWN_GRACE_SECONDS`), as do texts being
/// sent, and a text whose provider still hasn't answered goes back to the outbox for another
/// instance; then the database's connections close.
pub async fn serve_until_stopped(
    listener: tokio::net::TcpListener,
    router: Router,
    portal: &Portal,
    limits: HttpLimits,
    proxies: Vec<IpNet>,
    stop: impl std::future::Future<Output = ()>,
) {
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        stop.await;
        tracing::info!(
            grace_seconds = limits.shutdown_grace.as_secs(),
            "stopping: finishing the requests and texts under way"
        );
        let _ = stopping.send(());
    };
    let outbox = portal.outbox.clone();
    let texts = async move {
        if stopped.await.is_ok() {
            outbox.stop(limits.shutdown_grace).await;
        }
    };
    tokio::join!(
        serve_behind(listener, router, limits, proxies, signal),
        texts
    );
    portal.store.close().await;
    tracing::info!("stopped");
}

/// Reads the practice settings every few seconds, so a change an admin made through another
/// instance applies here too (a change made here applies at once).
pub async fn follow_practice_settings(portal: Portal) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        every.tick().await;
        if let Err(err) = portal.load_practice().await {
            tracing::warn!(%err, "reading the practice settings failed");
        }
    }
}

/// Every minute, looks at the day's texts against the practice's budget: the metric, and a
/// warning in the log at 80 %.
pub async fn watch_the_text_budget(portal: Portal) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        if let Err(err) = app::text_budget::watch(&portal).await {
            tracing::warn!(%err, "looking at the daily text budget failed");
        }
    }
}

/// Every few minutes, deletes what the portal keeps only for a while: ended sessions and
/// codes, limit counters nobody looks at any more, old texts (`app::store::RETENTION`).
/// A sweep of at least `SWEPT_ENOUGH_TO_COUNT_AGAIN` rows has the tables counted again.
pub async fn sweep_forever(portal: Portal) {
    const SWEPT_ENOUGH_TO_COUNT_AGAIN: u64 = 10_000;
    let mut every = tokio::time::interval(std::time::Duration::from_secs(300));
    loop {
        every.tick().await;
        if let Err(err) = portal
            .store
            .guard_sweep(
                portal.now() - app::clock::HOUR,
                portal.now() - app::fraud_guard::KEPT_FOR,
            )
            .await
        {
            tracing::warn!(%err, "sweeping the text fraud guard's old codes failed");
        }
        // Caregivers' grants at their end date or the child's age end here, and caregivers
        // are told ahead; a grant past its date is refused on every request meanwhile.
        if let Err(err) = app::caregivers::sweep(&portal).await {
            tracing::warn!(%err, "ending or reminding of caregivers' grants failed");
        }
        let mut swept_rows = match portal.store.sweep(portal.now()).await {
            Ok(swept) => {
                tracing::debug!(rows = swept.total(), "swept ended rows");
                swept.total()
            }
            Err(err) => {
                tracing::warn!(%err, "sweeping old rows failed");
                0
            }
        };
        let kept_from = portal.now() - portal.settings.audit_retention_days * app::clock::DAY;
        match portal
            .store
            .sweep_audit(&portal.secret.audit_key(), kept_from)
            .await
        {
            Ok(0) => {}
            Ok(lines) => {
                tracing::info!(lines, "swept audit lines older than their retention");
                swept_rows += lines;
            }
            Err(err) => tracing::warn!(%err, "sweeping old audit lines failed"),
        }
        // A large sweep changes what the planner should expect of the tables.
        if swept_rows >= SWEPT_ENOUGH_TO_COUNT_AGAIN {
            if let Err(err) = portal.store.optimize().await {
                tracing::warn!(%err, "counting the tables for the planner after a sweep");
            }
        }
        // The audit chain's newest line, noted outside the database every few minutes: a
        // chain cut or rewritten after it no longer reaches it (`audit verify --expect`).
        if let Ok(Some(head)) = portal.store.audit_chain_head().await {
            app::audit::note_head(&portal, &head).await;
        }
    }
}

#[derive(Clone, axum::extract::FromRef)]
struct AppState {
    leptos_options: LeptosOptions,
    portal: Portal,
    twilio_callbacks: Option<StatusCallbacks>,
}

/// The whole HTTP surface: pages, `/api/*` server functions, health, the dev outbox and static files.
pub fn router(portal: Portal, leptos_options: LeptosOptions) -> Router {
    router_with(portal, leptos_options, Wiring::default())
}

pub fn router_with(portal: Portal, leptos_options: LeptosOptions, wiring: Wiring) -> Router {
    // Listing the routes renders the app with every resource held back, and Leptos holds
    // them back with one flag for the whole process: a page rendered meanwhile (another
    // router's, in tests) would wait for ever. So the list is made once, before any router
    // can answer, and shared.
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| generate_route_list(app::App)).clone();
    let state = AppState {
        leptos_options: leptos_options.clone(),
        portal: portal.clone(),
        twilio_callbacks: wiring.twilio_callbacks.clone(),
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
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/staff/audit.csv", get(audit_export::export_csv));
    // Codes in the clear: only where the configuration allowed the dev outbox.
    if wiring.dev_outbox && portal.outbox.providers().contains(&"console") {
        router = router.route("/dev/sms", get(dev_sms));
    }
    if wiring.dev_outbox && portal.mailer.name() == "console" {
        router = router.route("/dev/email", get(dev_email));
    }
    if wiring.twilio_callbacks.is_some() {
        router = router.route("/sms/status", post(twilio_status));
    }
    // The app's script, wasm and styles, served so that a browser's "has it changed?" gets a
    // 304 instead of the whole file again. Everything else falls back to Leptos's handler.
    let pkg = format!("/{}", leptos_options.site_pkg_dir);
    let pkg_dir =
        std::path::Path::new(&*leptos_options.site_root).join(&*leptos_options.site_pkg_dir);
    // From memory once compressed; from disk until then.
    let files = static_files::StaticFiles::prepare_in_background(
        pkg_dir.clone(),
        leptos_options.hash_files,
    );
    let from_disk = tower::ServiceExt::<axum::extract::Request>::map_response(
        ServeDir::new(pkg_dir),
        |r: http::Response<_>| r.map(Body::new),
    );
    let router = router
        .nest_service(
            &pkg,
            static_files::StaticService {
                files,
                inner: from_disk,
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .with_state(state);
    let reload = app::page_policy::reload_source(&leptos_options);
    middleware::around(router, &portal, wiring.trusted_proxies, wiring.http, reload)
}

/// Liveness: the process answers. It asks nothing of the database, so that a database outage
/// takes instances out of a load balancer (`/readyz`) rather than having them restarted.
async fn healthz() -> &'static str {
    "ok"
}

/// What readiness found, each part by name, for whoever runs the portal.
#[derive(Serialize)]
struct Readiness {
    ready: bool,
    database: &'static str,
    migrations: &'static str,
    text_worker: &'static str,
}

/// Readiness: the database answers, every migration this build knows is applied, and this
/// instance's text message worker is running. 503 otherwise, saying which.
async fn readyz(State(portal): State<Portal>) -> impl IntoResponse {
    let (database, migrations) = match portal.store.migrations_done().await {
        Ok(true) => ("ok", "ok"),
        Ok(false) => ("ok", "waiting"),
        Err(err) => {
            tracing::warn!(%err, "readiness: the database isn't answering");
            ("unreachable", "unknown")
        }
    };
    let text_worker = if portal.outbox.is_working() {
        "ok"
    } else {
        "stopped"
    };
    let ready = database == "ok" && migrations == "ok" && text_worker == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let readiness = Readiness {
        ready,
        database,
        migrations,
        text_worker,
    };
    (status, Json(readiness))
}

/// Twilio's delivery reports. Anything not signed with the auth token is refused.
async fn twilio_status(
    State(portal): State<Portal>,
    State(callbacks): State<Option<StatusCallbacks>>,
    headers: HeaderMap,
    Form(params): Form<Vec<(String, String)>>,
) -> StatusCode {
    let Some(callbacks) = callbacks else {
        return StatusCode::NOT_FOUND;
    };
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !callbacks.is_genuine(signature, &params) {
        tracing::warn!("refused an SMS status callback with a bad signature");
        return StatusCode::FORBIDDEN;
    }
    let field = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(sid), Some(status)) = (field("MessageSid"), field("MessageStatus")) else {
        return StatusCode::BAD_REQUEST;
    };
    match portal.outbox.record_delivery_report(sid, status).await {
        Ok(_) => StatusCode::NO_CONTENT,
        Err(err) => {
            tracing::error!(%err, "recording an SMS delivery status");
            StatusCode::SERVICE_UNAVAILABLE
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

#[derive(Serialize)]
struct DevEmailJson {
    to: String,
    subject: String,
    body: String,
    sent_at: String,
}

/// The console mailer's outbox, oldest first. Only routed with the dev outbox.
async fn dev_email(State(portal): State<Portal>) -> Result<Json<Vec<DevEmailJson>>, StatusCode> {
    let emails = portal.store.dev_email().await.map_err(|err| {
        tracing::error!(%err, "reading the dev email outbox");
        StatusCode::INTERNAL_SERVER_ERROR
    })?;
    Ok(Json(
        emails
            .into_iter()
            .map(|m| DevEmailJson {
                to: m.to_address,
                subject: m.subject,
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
