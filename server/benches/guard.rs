//! What the text fraud guard adds to "Send Code": its check (the block, then the last hour's
//! counts for the number's prefix and country) timed against the fixed limits' own check, on
//! 30 days of codes, for a prefix with no codes, an ordinary one, and one with 20,000.
//!
//!     cargo bench -p server --bench guard
//!     PORTAL_BENCH_POSTGRES=postgres://… cargo bench -p server --bench guard  # and on PostgreSQL
//!
//! The goal is p99 under 1 ms for the guard's check.

use std::time::{Duration, Instant};

mod support;

use app::{
    caller::Caller,
    clock::{DAY, HOUR, MINUTE},
    limits::texts::{self, Recipient},
    mobile::Mobile,
    portal::{Portal, Settings},
    store::GuardCode,
};
use phonenumber::country::Id;

/// Days of codes kept, and codes a day across the practice's ordinary prefixes.
const DAYS: i64 = 30;
const A_DAY: i64 = 2_000;
/// The codes to one prefix that gets far more than the rest, most in the last hour.
const HOT: i64 = 20_000;
const SAMPLES: usize = 2_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn fill(portal: &Portal) {
    let now = portal.now();
    let spread = DAYS * DAY / (DAYS * A_DAY);
    for i in 0..DAYS * A_DAY {
        let number = format!("+6421{:07}", (i * 7919) % 10_000_000);
        let code = GuardCode {
            prefix: &number[..number.len() - 4],
            country: "NZ",
            number: &number,
            network: &format!("10.0.{}.{}", i % 200, i % 250),
            sent_at: now - i * spread,
        };
        portal.store.guard_note(&code).await.unwrap();
    }
    for i in 0..HOT {
        let number = format!("+6141234{:04}", i % 10_000);
        let code = GuardCode {
            prefix: "+6141234",
            country: "AU",
            number: &number,
            network: &format!("10.1.{}.1", i % 200),
            // Three quarters in the last hour (verified often enough not to be blocked).
            sent_at: now - (i % 4 + 1) * (HOUR / 5) + i % 1000,
        };
        portal.store.guard_note(&code).await.unwrap();
        if i % 3 == 0 {
            portal
                .store
                .guard_verified(&number, now - MINUTE, now - HOUR)
                .await
                .unwrap();
        }
    }
}

async fn time(mut once: impl AsyncFnMut()) -> (Duration, Duration) {
    for _ in 0..50 {
        once().await;
    }
    let mut took = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        once().await;
        took.push(started.elapsed());
    }
    took.sort();
    (percentile(&took, 50.0), percentile(&took, 99.0))
}

#[tokio::main]
async fn main() {
    let settings = Settings {
        allowed_regions: vec![Id::NZ, Id::AU],
        ..Settings::default()
    };
    for deployment in support::deployments(settings, support::console).await {
        let portal = deployment.portal();
        let started = Instant::now();
        fill(portal).await;
        println!(
            "{}: {} codes over {DAYS} days stored in {:.1} s",
            deployment.name,
            DAYS * A_DAY + HOT,
            started.elapsed().as_secs_f64()
        );
        let caller = Caller::new("198.51.100.7".parse().unwrap(), None);
        let read = |n: &str| Mobile::parse(n, Id::NZ, &[Id::NZ, Id::AU]).unwrap();
        let limits = texts::for_send(
            portal,
            &caller,
            app::store::AccountId(1),
            "+64211234567",
            Recipient::Unproven,
        );
        let (base50, base99) = time(async || {
            texts::precheck(portal, &limits).await.unwrap();
        })
        .await;
        println!(
            "  the fixed limits' check (baseline): p50 {:.3} ms, p99 {:.3} ms",
            base50.as_secs_f64() * 1e3,
            base99.as_secs_f64() * 1e3
        );
        for (shape, number) in [
            ("a prefix with no codes", "+64279990001"),
            ("an ordinary prefix", "+64210007919"),
            ("a prefix with 20,000 codes", "+61412345678"),
        ] {
            let mobile = read(number);
            let (p50, p99) = time(async || {
                let _ = app::fraud_guard::check(portal, &caller, &mobile).await;
            })
            .await;
            println!(
                "  the guard's check, {shape}: p50 {:.3} ms, p99 {:.3} ms ({:.1}× the baseline's p99){}",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                p99.as_secs_f64() / base99.as_secs_f64().max(1e-9),
                if p99 < Duration::from_millis(1) { "" } else { "  ← over 1 ms" }
            );
        }
    }
}
