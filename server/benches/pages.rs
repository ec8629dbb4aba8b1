//! How fast the anonymous pages are served, against a trivial endpoint in the same run, and
//! how long one static file takes for one client.
//!
//!     cargo bench -p server --bench pages
//!
//! Anonymous visitors get no session row and no cookie, and `/login` and `/register` come from
//! memory with a fresh nonce. The goal is at least 60 % of the trivial endpoint's rate, with the
//! same 32 concurrent keep-alive clients, in this process; and under 2 ms a request for a small
//! static file, one request at a time on one connection.
//!
//! A shared machine's speed drifts by a third within a minute, so the three are measured in turns
//! (one second each, several rounds) and each ratio is taken within its round.

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
/// One turn of one endpoint.
const TURN: Duration = Duration::from_secs(1);
const ROUNDS: usize = 7;

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
    tokio::time::sleep(TURN).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The average time of one request at a time, on one kept-alive connection.
async fn one_client_latency(url: &str, requests: u32) -> Duration {
    let http = reqwest::Client::new();
    let fetch = || async {
        let reply = http.get(url).send().await.unwrap();
        assert!(reply.status().is_success(), "{url}: {}", reply.status());
        reply.bytes().await.unwrap();
    };
    fetch().await;
    let start = Instant::now();
    for _ in 0..requests {
        fetch().await;
    }
    start.elapsed() / requests
}

/// From starting `server` on an existing database to `/healthz` answering 200: the median of a
/// few starts.
async fn cold_start(site: &std::path::Path) -> Duration {
    let data = tempfile::tempdir().unwrap();
    let start_once = || async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let started = Instant::now();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .env_clear()
            .env("LEPTOS_OUTPUT_NAME", "portal")
            .env("LEPTOS_SITE_ROOT", site)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_RELOAD_PORT", (port + 1).to_string())
            .env(
                "PORTAL_DATABASE_URL",
                format!("sqlite://{}/portal.db", data.path().display()),
            )
            .env("PORTAL_DATA_DIR", data.path())
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/healthz");
        loop {
            if let Ok(reply) = http.get(&url).send().await {
                if reply.status().is_success() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let took = started.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        took
    };
    // The first start creates and migrates the database; the rest find it there.
    start_once().await;
    let mut times = Vec::new();
    for _ in 0..7 {
        times.push(start_once().await);
    }
    times.sort();
    times[times.len() / 2]
}

#[tokio::main]
async fn main() {
    // A small static file, as the portal's stylesheet is.
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    std::fs::write(
        site.path().join("pkg/portal.css"),
        "body { color: #1c2530; }\n".repeat(200),
    )
    .unwrap();
    for deployment in support::deployments(Settings::default(), support::console).await {
        let bases = support::serve_all_with_site(&deployment, site.path(), |router| {
            router.route("/trivial", get(|| async { "ok" }))
        })
        .await;
        let at = |path: &str| {
            bases
                .iter()
                .map(|b| format!("{b}{path}"))
                .collect::<Vec<_>>()
        };
        // Warm up, then measure in turns.
        rate(at("/login")).await;
        rate(at("/trivial")).await;
        let (mut trivial, mut login, mut register) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            trivial.push(rate(at("/trivial")).await);
            login.push(rate(at("/login")).await);
            register.push(rate(at("/register")).await);
        }
        let css = one_client_latency(&format!("{}/pkg/portal.css", bases[0]), 500).await;
        println!(
            "pages ({CLIENTS} concurrent keep-alive clients, {ROUNDS} rounds of {} s each): {}",
            TURN.as_secs(),
            deployment.name
        );
        println!(
            "  trivial endpoint:  {:.0} req/s (median of the rounds)",
            median(&trivial)
        );
        for (page, rates) in [("/login", &login), ("/register", &register)] {
            let ratios: Vec<f64> = rates
                .iter()
                .zip(&trivial)
                .map(|(page, trivial)| 100.0 * page / trivial)
                .collect();
            println!(
                "  {page:<18} {:.0} req/s = {:.0} % of the trivial endpoint (median; rounds {:.0}–{:.0} %)",
                median(rates),
                median(&ratios),
                ratios.iter().cloned().fold(f64::INFINITY, f64::min),
                ratios.iter().cloned().fold(0.0, f64::max),
            );
        }
        println!(
            "  a static file, one client on one connection: {:.2} ms a request",
            css.as_secs_f64() * 1e3
        );
    }
    let cold = cold_start(site.path()).await;
    println!(
        "cold start on an existing SQLite database, to /healthz 200: {:.0} ms (median of 7)",
        cold.as_secs_f64() * 1e3
    );
}
