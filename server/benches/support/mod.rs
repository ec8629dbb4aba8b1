//! What every benchmark needs: the portal on a temporary database, served on loopback ports.
//! With `PORTAL_BENCH_POSTGRES` naming a PostgreSQL server, each benchmark also runs on it with
//! two instances sharing one database, side by side with SQLite's one, in the same run.

#![allow(dead_code)]

use std::sync::Arc;

use app::{
    clock::{Clock, SystemClock},
    portal::{Portal, Settings},
    secret::ServerSecret,
    sms::{ConsoleSms, SmsSender},
    store::Store,
};
use axum::Router;
use leptos::prelude::LeptosOptions;

/// One way of running the portal: its instances (sharing one database) and their addresses.
pub struct Deployment {
    pub name: String,
    pub portals: Vec<Portal>,
    _dir: tempfile::TempDir,
}

impl Deployment {
    /// The first instance, for setting up data (the database is shared).
    pub fn portal(&self) -> &Portal {
        &self.portals[0]
    }
}

/// SQLite with one instance, and, with `PORTAL_BENCH_POSTGRES` set, PostgreSQL with two.
pub async fn deployments(
    settings: Settings,
    sender: impl Fn(Store, Arc<dyn Clock>) -> Arc<dyn SmsSender>,
) -> Vec<Deployment> {
    let mut all = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/portal.db", dir.path().display());
    all.push(deployment("SQLite, one instance", &url, 1, &settings, &sender, dir).await);
    if let Ok(server) = std::env::var("PORTAL_BENCH_POSTGRES") {
        std::env::set_var(app::store::testing::POSTGRES_VAR, &server);
        let dir = tempfile::tempdir().unwrap();
        let url = app::store::testing::scratch_database(dir.path()).await;
        all.push(
            deployment(
                "PostgreSQL, two instances",
                &url,
                2,
                &settings,
                &sender,
                dir,
            )
            .await,
        );
    }
    all
}

async fn deployment(
    name: &str,
    url: &str,
    instances: usize,
    settings: &Settings,
    sender: &impl Fn(Store, Arc<dyn Clock>) -> Arc<dyn SmsSender>,
    dir: tempfile::TempDir,
) -> Deployment {
    let secret = ServerSecret::random();
    let mut portals = Vec::new();
    for _ in 0..instances {
        let store = Store::open(url).await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        portals.push(Portal::new(
            settings.clone(),
            store.clone(),
            clock.clone(),
            secret.clone(),
            sender(store, clock),
        ));
    }
    Deployment {
        name: name.to_string(),
        portals,
        _dir: dir,
    }
}

/// This process's resident memory, in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The console provider (its outbox is in the database).
pub fn console(store: Store, clock: Arc<dyn Clock>) -> Arc<dyn SmsSender> {
    Arc::new(ConsoleSms::new(store, clock))
}

/// An instance's router, for adding to before serving.
pub fn router(portal: &Portal) -> Router {
    server::router(
        portal.clone(),
        LeptosOptions::builder().output_name("portal").build(),
    )
}

/// Serves `router` on a loopback port as the portal does; returns its base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // Every client of a bench comes from 127.0.0.1, and a round's new clients may connect
    // before the last round's connections have closed: the cap per client is not what a bench
    // measures.
    let limits = server::config::HttpLimits {
        max_connections_per_client: 1024,
        ..Default::default()
    };
    tokio::spawn(server::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    base
}

/// Serves every instance of a deployment, with its static files from `site`.
pub async fn serve_all_with_site(
    deployment: &Deployment,
    site: &std::path::Path,
    adjust: impl Fn(Router) -> Router,
) -> Vec<String> {
    let mut bases = Vec::new();
    for portal in &deployment.portals {
        let options = LeptosOptions::builder()
            .output_name("portal")
            .site_root(site.display().to_string())
            .build();
        bases.push(serve(adjust(server::router(portal.clone(), options))).await);
    }
    bases
}

/// Serves every instance of a deployment; returns their base URLs.
pub async fn serve_all(deployment: &Deployment, adjust: impl Fn(Router) -> Router) -> Vec<String> {
    let mut bases = Vec::new();
    for portal in &deployment.portals {
        bases.push(serve(adjust(router(portal))).await);
    }
    bases
}
