//! Dispatch latency: from "Send Code" arriving at the server to the SMS provider's API receiving
//! the message, at 32 concurrent sends, against a local stand-in for Twilio.
//!
//!     cargo bench -p server --bench dispatch
//!     PORTAL_BENCH_POSTGRES=postgres://… cargo bench -p server --bench dispatch  # and on PostgreSQL
//!
//! The portal (with the real `twilio` provider) and the stand-in run in this process on loopback
//! ports. A layer in front of the router notes when each request arrives; the stand-in notes when
//! each message reaches it. The goal is p99 under 50 ms: the patient's text should be on its way
//! within milliseconds of the click.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

mod support;

use app::{
    portal::Settings,
    session::{self, Stage},
    sms::{TwilioConfig, TwilioSender, TwilioSms},
    store::NewAccountRow,
};
use axum::{body::Bytes, extract::Request, middleware::Next, routing::post, Router};

const CONCURRENT: usize = 32;
/// The first round warms connections and caches and is not counted.
const ROUNDS: usize = 21;

type Stamps = Arc<Mutex<HashMap<String, Instant>>>;

/// The stand-in provider: notes when each message (by its `To`) arrives, and accepts it.
async fn stand_in(received: Stamps) -> String {
    let app = Router::new().route(
        "/{*path}",
        post(move |body: Bytes| {
            let received = received.clone();
            async move {
                let at = Instant::now();
                let to = url::form_urlencoded::parse(&body)
                    .find(|(k, _)| k == "To")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                received.lock().unwrap().insert(to, at);
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(serde_json::json!({ "sid": "SM0" })),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let received: Stamps = Arc::default();
    let provider_url = stand_in(received.clone()).await;

    let mut settings = Settings::default();
    settings.limits.sends_per_ip_hour = 1_000_000;
    settings.practice.daily_text_budget = 1_000_000;
    settings.limits.sends_per_number_day = 1_000_000;
    let sender = move |_, _| -> Arc<dyn app::sms::SmsSender> {
        Arc::new(TwilioSms::new(TwilioConfig {
            base_url: provider_url.clone(),
            account_sid: "AC0".into(),
            auth_token: "token".into(),
            sender: TwilioSender::From("+6498765432".into()),
            status_callback: None,
            request_timeout: Duration::from_secs(10),
        }))
    };
    for (n, deployment) in support::deployments(settings, sender)
        .await
        .iter()
        .enumerate()
    {
        measure(deployment, &received, n).await;
    }
}

/// Patients waiting at the 2FA step, each with their own number: (cookie, number).
async fn waiting_patients(portal: &app::portal::Portal, run: usize) -> Vec<(String, String)> {
    let mut patients = Vec::new();
    for i in 0..CONCURRENT * ROUNDS {
        let name = format!("patient{i}");
        let number = format!("+6421{run}{:06}", 100_000 + i);
        let id = portal
            .store
            .insert_account(NewAccountRow {
                username: &name,
                username_key: &name,
                password_hash: "unused",
                given_name: "Bench",
                family_name: "Patient",
                date_of_birth: "1950-01-01",
                email: None,
                mobile: Some(&number),
                mobile_verified_at: None,
                must_change_password: false,
                password_expires_at: None,
                created_at: 0,
            })
            .await
            .unwrap()
            .unwrap();
        let cookie = session::begin(portal, session::Browser::default(), id, Stage::Registered)
            .await
            .unwrap()
            .cookie;
        patients.push((format!("portal_session={cookie}"), number));
    }
    patients
}

async fn measure(deployment: &support::Deployment, received: &Stamps, run: usize) {
    for portal in &deployment.portals {
        tokio::spawn(portal.outbox.clone().run());
    }
    let patients = waiting_patients(deployment.portal(), run).await;
    let arrivals: Stamps = Arc::default();
    let cookie_to_number: Arc<HashMap<String, String>> =
        Arc::new(patients.iter().cloned().collect());
    // A layer in front of each instance notes when each request arrives.
    let bases = support::serve_all(deployment, |router| {
        let arrivals = arrivals.clone();
        let cookie_to_number = cookie_to_number.clone();
        router.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let at = Instant::now();
                let number = request
                    .headers()
                    .get("cookie")
                    .and_then(|c| c.to_str().ok())
                    .and_then(|c| cookie_to_number.get(c).cloned());
                if let Some(number) = number {
                    arrivals.lock().unwrap().insert(number, at);
                }
                next.run(request)
            },
        ))
    })
    .await;

    let http = reqwest::Client::new();
    let mut answers = Vec::new();
    for round in patients.chunks(CONCURRENT) {
        let sends = round.iter().enumerate().map(|(i, (cookie, _))| {
            let (http, url, cookie) = (
                http.clone(),
                format!("{}/api/send_code", bases[i % bases.len()]),
                cookie.clone(),
            );
            tokio::spawn(async move {
                let started = Instant::now();
                let reply = http
                    .post(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap();
                assert!(reply.status().is_success(), "{}", reply.status());
                started.elapsed()
            })
        });
        for send in futures_join(sends.collect()).await {
            answers.push(send);
        }
    }

    let arrivals = arrivals.lock().unwrap();
    let received = received.lock().unwrap();
    let mut latencies: Vec<Duration> = patients
        .iter()
        .skip(CONCURRENT)
        .map(|(_, number)| received[number].duration_since(arrivals[number]))
        .collect();
    let mut answers: Vec<Duration> = answers.split_off(CONCURRENT);
    latencies.sort();
    answers.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "dispatch latency: \"Send Code\" arriving → the provider receiving the message \
         ({CONCURRENT} concurrent, {} sends after a warm-up round, real twilio provider against a \
         loopback stand-in): {}",
        latencies.len(),
        deployment.name
    );
    println!("  p50:  {:.1} ms", ms(percentile(&latencies, 50.0)));
    println!("  p90:  {:.1} ms", ms(percentile(&latencies, 90.0)));
    println!("  p99:  {:.1} ms", ms(percentile(&latencies, 99.0)));
    println!("  max:  {:.1} ms", ms(*latencies.last().unwrap()));
    println!(
        "  whole request as the browser sees it: p50 {:.1} ms, p99 {:.1} ms",
        ms(percentile(&answers, 50.0)),
        ms(percentile(&answers, 99.0))
    );
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}
