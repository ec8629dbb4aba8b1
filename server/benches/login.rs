//! Password-step logins per second at 16 concurrent clients, against the bound argon2 sets.
//!
//!     cargo bench -p server --bench login
//!
//! The portal runs in this process on a loopback port with a temporary SQLite database. Each
//! client logs in over HTTP as its own patient again and again. The bound is the number of cores
//! divided by one hash's time, measured in the same run. Peak memory is sampled while 16 and
//! then 64 clients log in: hashing is bounded by the cores, so it should not grow with clients.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

mod support;

use support::rss_kib;

use app::{
    portal::{Portal, Settings},
    store::NewAccountRow,
};

const PASSWORD: &str = "correct horse battery staple";
const RUN: Duration = Duration::from_secs(10);

async fn patients(portal: &Portal, count: usize) {
    let hash = portal.passwords.hash_given(PASSWORD).await.unwrap();
    for i in 0..count {
        let name = format!("patient{i}");
        portal
            .store
            .insert_account(NewAccountRow {
                username: &name,
                username_key: &name,
                password_hash: &hash,
                given_name: "Bench",
                family_name: "Patient",
                date_of_birth: "1950-01-01",
                email: None,
                mobile: None,
                mobile_verified_at: None,
                must_change_password: false,
                password_expires_at: None,
                created_at: 0,
            })
            .await
            .unwrap();
    }
}

/// Logs in with `clients` concurrent clients for `RUN`; returns (logins per second, peak RSS KiB).
async fn load(bases: &[String], clients: usize) -> (f64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(rss_kib()));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let (done, stop) = (done.clone(), stop.clone());
        // Clients spread over the instances.
        let url = format!("{}/api/login", bases[i % bases.len()]);
        tasks.push(tokio::spawn(async move {
            // Each client from an address of its own, as patients are.
            let address = std::net::IpAddr::from([127, 0, 0, 2 + (i % 200) as u8]);
            let http = reqwest::Client::builder()
                .local_address(address)
                .build()
                .unwrap();
            let form = [
                ("username", format!("patient{i}")),
                ("password", PASSWORD.into()),
            ];
            while !stop.load(Ordering::Relaxed) {
                let reply = http.post(&url).form(&form).send().await.unwrap();
                assert!(reply.status().is_success(), "{}", reply.status());
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    sampler.await.unwrap();
    (
        done.load(Ordering::Relaxed) as f64 / elapsed,
        peak.load(Ordering::Relaxed),
    )
}

/// The median time of one verification, one at a time.
async fn one_hash_seconds(portal: &Portal, hash: &str) -> f64 {
    let mut times = Vec::new();
    for _ in 0..41 {
        let start = Instant::now();
        assert!(portal.passwords.verify(PASSWORD, hash).await.unwrap());
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

#[tokio::main]
async fn main() {
    // Each client signs in as its own patient again and again: far beyond the limits on
    // sign-ins, which are not what this measures.
    let mut settings = Settings::default();
    settings.limits.logins_per_account_hour = i64::MAX;
    settings.limits.logins_per_ip_hour = i64::MAX;
    for deployment in support::deployments(settings, support::console).await {
        measure(&deployment).await;
    }
}

async fn measure(deployment: &support::Deployment) {
    let portal = deployment.portal();
    patients(portal, 64).await;

    // The bound: one core hashes one password at a time. This machine is noisy, so one hash's
    // time is the median of many, taken before and after the load.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hash = portal.passwords.hash_given(PASSWORD).await.unwrap();
    let before = one_hash_seconds(portal, &hash).await;

    let bases = support::serve_all(deployment, |router| router).await;

    let idle_rss = rss_kib();
    let (rate16, peak16) = load(&bases, 16).await;
    let (rate64, peak64) = load(&bases, 64).await;
    let after = one_hash_seconds(portal, &hash).await;
    let one_hash = (before + after) / 2.0;
    let bound = cores as f64 / one_hash;

    println!(
        "password-step logins (POST /api/login, argon2id m=19456 KiB t=2 p=1): {}",
        deployment.name
    );
    println!(
        "  one hash (median):       {:.1} ms (before the load {:.1} ms, after {:.1} ms)",
        one_hash * 1000.0,
        before * 1000.0,
        after * 1000.0
    );
    println!("  argon2 bound:            {bound:.1} logins/s ({cores} cores / one hash)");
    println!(
        "  16 clients:              {rate16:.1} logins/s = {:.0} % of the bound",
        100.0 * rate16 / bound
    );
    println!(
        "  64 clients:              {rate64:.1} logins/s = {:.0} % of the bound",
        100.0 * rate64 / bound
    );
    println!("  RSS idle:                {} MiB", idle_rss / 1024);
    println!("  peak RSS, 16 clients:    {} MiB", peak16 / 1024);
    println!("  peak RSS, 64 clients:    {} MiB", peak64 / 1024);
}
