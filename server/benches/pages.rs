//! How fast the login page is served, against a trivial endpoint in the same run.
//!
//!     cargo bench -p server --bench pages
//!
//! Anonymous visitors get no session row and no cookie, so `/login` costs only its rendering.
//! The goal is at least 40 % of the trivial endpoint's rate. Both are measured with the same
//! 32 concurrent keep-alive clients, in this process, for a few seconds each.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use app::{
    portal::{Portal, Settings, SystemClock},
    secret::ServerSecret,
    sms::ConsoleSms,
    store::Store,
};
use axum::routing::get;
use leptos::prelude::LeptosOptions;

const CLIENTS: usize = 32;
const RUN: Duration = Duration::from_secs(5);

async fn rate(url: String) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (done, stop, url) = (done.clone(), stop.clone(), url.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while !stop.load(Ordering::Relaxed) {
                    let reply = http
                        .get(&url)
                        .header("accept", "text/html")
                        .send()
                        .await
                        .unwrap();
                    assert!(reply.status().is_success(), "{}", reply.status());
                    assert!(reply.headers().get("set-cookie").is_none());
                    reply.bytes().await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}/portal.db", dir.path().display()))
        .await
        .unwrap();
    let portal = Portal::new(
        Settings::default(),
        store.clone(),
        Arc::new(SystemClock),
        ServerSecret::random(),
        Arc::new(ConsoleSms::new(store)),
    );
    let router = server::router(
        portal,
        LeptosOptions::builder().output_name("portal").build(),
    )
    .route("/trivial", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });

    // Warm up both, then measure.
    rate(format!("{base}/login")).await;
    let trivial = rate(format!("{base}/trivial")).await;
    let login = rate(format!("{base}/login")).await;
    println!(
        "pages ({CLIENTS} concurrent keep-alive clients, {} s each)",
        RUN.as_secs()
    );
    println!("  trivial endpoint:  {trivial:.0} req/s");
    println!(
        "  /login:            {login:.0} req/s = {:.0} % of the trivial endpoint",
        100.0 * login / trivial
    );
}
