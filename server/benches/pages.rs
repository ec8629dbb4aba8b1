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

mod support;

use app::portal::Settings;
use axum::routing::get;

const CLIENTS: usize = 32;
const RUN: Duration = Duration::from_secs(5);

/// Requests per second over `urls` (clients spread over them).
async fn rate(urls: Vec<String>) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (done, stop, url) = (done.clone(), stop.clone(), urls[i % urls.len()].clone());
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
    for deployment in support::deployments(Settings::default(), support::console).await {
        let bases = support::serve_all(&deployment, |router| {
            router.route("/trivial", get(|| async { "ok" }))
        })
        .await;
        let at = |path: &str| {
            bases
                .iter()
                .map(|b| format!("{b}{path}"))
                .collect::<Vec<_>>()
        };
        // Warm up both, then measure.
        rate(at("/login")).await;
        let trivial = rate(at("/trivial")).await;
        let login = rate(at("/login")).await;
        println!(
            "pages ({CLIENTS} concurrent keep-alive clients, {} s each): {}",
            RUN.as_secs(),
            deployment.name
        );
        println!("  trivial endpoint:  {trivial:.0} req/s");
        println!(
            "  /login:            {login:.0} req/s = {:.0} % of the trivial endpoint",
            100.0 * login / trivial
        );
    }
}
