//! What every benchmark needs: a portal on a temporary database, served on a loopback port.

#![allow(dead_code)]

use std::sync::Arc;

use app::{
    portal::{Portal, Settings, SystemClock},
    secret::ServerSecret,
    sms::{ConsoleSms, SmsSender},
    store::Store,
};
use axum::Router;
use leptos::prelude::LeptosOptions;

/// A portal with the real clock on a temporary SQLite database (kept while `TempDir` lives).
pub async fn portal(
    settings: Settings,
    sender: Option<Arc<dyn SmsSender>>,
) -> (Portal, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}/portal.db", dir.path().display()))
        .await
        .unwrap();
    let sender = sender.unwrap_or_else(|| Arc::new(ConsoleSms::new(store.clone())));
    let portal = Portal::new(
        settings,
        store,
        Arc::new(SystemClock),
        ServerSecret::random(),
        sender,
    );
    (portal, dir)
}

/// The portal's router, for adding to before serving.
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
    tokio::spawn(server::serve(
        listener,
        router,
        Default::default(),
        std::future::pending(),
    ));
    base
}
