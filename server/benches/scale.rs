//! A practice group's scale: support's search, the audit log, a patient's page, the CSV export,
//! a million-row import, and a patient's sign-in, on a million patients and thirty million audit
//! lines, against the budgets in docs/scale.md.
//!
//!     cargo bench -p server --bench scale
//!
//! `PORTAL_BENCH_SCALE=patients,audit_lines` changes the size (default `1000000,30000000`),
//! `PORTAL_BENCH_PARTS` picks parts (`search,audit,patient,sign-in,export,import`),
//! `PORTAL_BENCH_ENGINES` engines (`sqlite,postgres`), `PORTAL_BENCH_SIGN_INS` how many sign-ins
//! each database is timed for (1,000), and
//! with `PORTAL_BENCH_POSTGRES` set everything runs on PostgreSQL too, in the same run. The data
//! comes from `server generate-demo-data`'s code, once per engine and size, and is kept
//! (SQLite in `target/scale-bench/`, PostgreSQL as a database named after the size), since
//! making it takes many minutes; delete it to make it again. The import has a database of its
//! own, made and dropped each run.
//!
//! Everything goes over HTTP to the portal in this process, as a signed-in admin would ask,
//! one request at a time: each figure is the time from request to the whole answer.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

mod support;

use support::rss_kib;

use app::{
    clock::{Clock, SystemClock, DAY},
    demo_data::{self, Scale},
    portal::{Portal, Settings},
    secret::ServerSecret,
    sms::{SendFuture, Sms, SmsSender},
    staff::StaffRole,
    store::{NewAccountRow, Store},
};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";
const STAFF_PASSWORD: &str = "a staff password for the bench";
const RUNS: usize = 40;
/// Sign-ins measured on each database: the steps take a millisecond or two, and the machine's
/// moods swing a median of 300 by ±4 points of the ratio from run to run (of 1,000, by ±2).
fn sign_ins() -> usize {
    std::env::var("PORTAL_BENCH_SIGN_INS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000)
}

/// The peak resident memory while `work` runs, above what it was before, in MiB.
async fn peak_growth<T>(work: impl std::future::Future<Output = T>) -> (T, f64) {
    let before = rss_kib();
    let peak = Arc::new(AtomicU64::new(before));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let out = work.await;
    stop.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    let growth = peak.load(Ordering::Relaxed).saturating_sub(before);
    (out, growth as f64 / 1024.0)
}

/// (p50, p95) in milliseconds.
fn percentiles(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

fn report(what: &str, times: Vec<f64>, budget: f64) {
    let (p50, p95) = percentiles(times);
    let verdict = if p95 <= budget { "ok" } else { "OVER" };
    println!("  {what:<58} p50 {p50:>7.2} ms  p95 {p95:>7.2} ms  (≤ {budget} ms: {verdict})");
}

/// A browser of the bench's own: its cookies, from an address of its own.
struct Client {
    http: reqwest::Client,
    base: String,
    cookies: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl Client {
    fn new(base: &str, last_octet: u8) -> Self {
        let http = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last_octet]))
            .build()
            .unwrap();
        Self {
            http,
            base: base.to_string(),
            cookies: Default::default(),
        }
    }

    fn cookie_header(&self) -> String {
        let jar = self.cookies.lock().unwrap();
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&self, reply: &reqwest::Response) {
        let mut jar = self.cookies.lock().unwrap();
        for set in reply.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = set.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || text.contains("Max-Age=0") {
                    jar.remove(name);
                } else {
                    jar.insert(name.to_string(), value.to_string());
                }
            }
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let reply = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&reply);
        let status = reply.status();
        let body = reply.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    async fn timed_post(&self, path: &str, form: &[(&str, &str)]) -> (f64, Value) {
        let start = Instant::now();
        let value = self.post(path, form).await;
        (start.elapsed().as_secs_f64() * 1000.0, value)
    }

    async fn timed_get(&self, path: &str) -> f64 {
        let start = Instant::now();
        let reply = self.get(path).send().await.unwrap();
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        reply.bytes().await.unwrap();
        start.elapsed().as_secs_f64() * 1000.0
    }
}

fn portal_on(store: Store) -> Portal {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The sign-in measure signs many patients in from one address: far beyond the limits,
    // which are not what this measures.
    let mut settings = Settings::default();
    settings.limits.logins_per_account_hour = i64::MAX;
    settings.limits.logins_per_ip_hour = i64::MAX;
    settings.limits.sends_per_ip_hour = i64::MAX;
    settings.practice.daily_text_budget = i64::MAX;
    settings.limits.sends_per_account_hour = i64::MAX;
    settings.limits.sends_per_number_day = i64::MAX;
    settings.limits.sign_in_codes_per_number_day = i64::MAX;
    Portal::new(
        settings,
        store.clone(),
        clock.clone(),
        ServerSecret::random(),
        Arc::new(Overheard(support::console(store, clock))),
    )
}

/// The last text either portal sent, as the patient's phone shows it: the sign-in measure reads
/// its codes here. Reading them from the dev outbox meant reading the whole table just before
/// each code step, thousands of texts on a database benched many times against a few on the
/// empty one, and that difference was the bench timing itself.
static LAST_TEXT: Mutex<Option<String>> = Mutex::new(None);

/// The console provider, with each text it sends overheard.
struct Overheard(Arc<dyn SmsSender>);

impl SmsSender for Overheard {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn send<'a>(&'a self, sms: &'a Sms) -> SendFuture<'a> {
        Box::pin(async move {
            let accepted = self.0.send(sms).await?;
            *LAST_TEXT.lock().unwrap() = Some(sms.body.clone());
            Ok(accepted)
        })
    }
}

async fn serve(portal: &Portal) -> String {
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("portal")
        .build();
    let wiring = server::Wiring {
        dev_outbox: true,
        ..Default::default()
    };
    support::serve(server::router_with(portal.clone(), options, wiring)).await
}

/// An admin, added, enrolled and signed in as `server staff add` and the enrolment page do.
async fn admin(portal: &Portal, base: &str) -> Client {
    let name = format!("bench-admin-{}", SystemClock.now());
    let link = app::staff::accounts::add(portal, &name, StaffRole::Admin.into())
        .await
        .unwrap();
    let token = link.split("token=").nth(1).unwrap().to_string();
    let client = Client::new(base, 9);
    let started = client
        .post("/api/staff/enrolment", &[("token", &token)])
        .await;
    let secret: String = started["secret"]
        .as_str()
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = totp_rs::Secret::try_from_base32(secret)
        .unwrap()
        .as_bytes()
        .to_vec();
    let totp = app::staff::accounts::authenticator(bytes, "Patient Portal", "staff").unwrap();
    let step = |at: u64| totp.generate(at).to_string();
    let now = || SystemClock.now() as u64 / 1000;
    let code = step(now());
    client
        .post(
            "/api/staff/finish_enrolment",
            &[
                ("token", &token),
                ("password", STAFF_PASSWORD),
                ("confirm_password", STAFF_PASSWORD),
                ("code", &code),
            ],
        )
        .await;
    // The enrolment's code can't sign in: the next step's can.
    let next = (now() / 30 + 1) * 30;
    tokio::time::sleep(Duration::from_secs(next.saturating_sub(now()) + 1)).await;
    client
        .post(
            "/api/staff/login",
            &[
                ("username", &name),
                ("password", STAFF_PASSWORD),
                ("code", &step(now())),
            ],
        )
        .await;
    client
}

/// The generated database for `scale` on `engine`, made if it isn't there yet.
async fn generated(engine: &str, scale: Scale) -> Store {
    let name = format!("portal_scale_{}_{}", scale.patients, scale.audit_lines);
    let url = match engine {
        "sqlite" => {
            let dir =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scale-bench");
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}/{name}.db", dir.display())
        }
        _ => {
            let server = std::env::var("PORTAL_BENCH_POSTGRES").unwrap();
            let server = server.trim_end_matches('/').to_string();
            use sqlx::{Connection, Executor};
            sqlx::any::install_default_drivers();
            let mut admin = sqlx::AnyConnection::connect(&format!("{server}/postgres"))
                .await
                .unwrap();
            let exists: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                    .bind(&name)
                    .fetch_optional(&mut admin)
                    .await
                    .unwrap();
            if exists.is_none() {
                admin
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap();
            }
            format!("{server}/{name}")
        }
    };
    let store = Store::open(&url).await.unwrap();
    let state = store.demo_state().await.unwrap();
    if state.generated_patients as u64 >= scale.patients {
        println!("  the data from an earlier run: {url}");
        // What an earlier run wrote is checkpointed before anything is measured.
        store.settle().await.unwrap();
        return store;
    }
    assert!(
        state.somebodys().is_none() && state.patients == 0,
        "{url} holds data that isn't this size's: delete it"
    );
    let portal = portal_on(store.clone());
    let started = Instant::now();
    let (made, growth) = peak_growth(demo_data::generate(&portal, scale, |done| {
        println!("  {:>7.1} s  {done}", started.elapsed().as_secs_f64());
    }))
    .await;
    let made = made.unwrap();
    println!(
        "  generated {} patients and {} audit lines in {:.0} s (memory +{growth:.0} MiB)",
        made.patients,
        made.audit_lines,
        started.elapsed().as_secs_f64()
    );
    store
}

/// Whether `PORTAL_BENCH_PARTS` (for example `search,export`) asks for this part; all without it.
fn wanted(part: &str) -> bool {
    std::env::var("PORTAL_BENCH_PARTS")
        .map_or(true, |parts| parts.split(',').any(|p| p.trim() == part))
}

#[tokio::main]
async fn main() {
    let scale = match std::env::var("PORTAL_BENCH_SCALE") {
        Ok(text) => {
            let numbers: Vec<u64> = text
                .split(',')
                .map(|n| n.trim().replace('_', "").parse().unwrap())
                .collect();
            Scale {
                patients: numbers[0],
                audit_lines: numbers[1],
            }
        }
        Err(_) => Scale::PRACTICE_GROUP,
    };
    let mut engines = vec!["sqlite"];
    if std::env::var("PORTAL_BENCH_POSTGRES").is_ok() {
        engines.push("postgres");
    }
    // `PORTAL_BENCH_ENGINES=postgres` measures one engine only.
    if let Ok(only) = std::env::var("PORTAL_BENCH_ENGINES") {
        engines.retain(|e| only.split(',').any(|o| o.trim() == *e));
    }
    for engine in engines {
        println!(
            "\n{engine}: {} patients, {} audit lines",
            scale.patients, scale.audit_lines
        );
        let store = generated(engine, scale).await;
        // What start-up adds for the planner's statistics, on a database this size.
        let started = Instant::now();
        store.optimize().await.unwrap();
        println!(
            "  the planner's statistics at start-up (optimize): {:.0} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        let portal = portal_on(store);
        let base = serve(&portal).await;
        let admin = admin(&portal, &base).await;
        let who = Who::find(&portal).await;
        let shaped = Shaped::make(&portal).await;
        if wanted("search") {
            search(&admin, &who).await;
        }
        if wanted("audit") {
            audit_pages(&admin, &who).await;
            audit_pairs(&portal, &admin, &shaped).await;
        }
        if wanted("patient") {
            patient_page(&admin, &who).await;
        }
        if wanted("sign-in") {
            sign_in_against_empty(engine, &portal, &base).await;
        }
        if wanted("export") {
            export(&admin).await;
        }
        if wanted("import") {
            import(engine, scale.patients).await;
        }
    }
}

/// Patients shaped unlike the generator's, kept with the data once made: one with ten lines and
/// no login among them, and one with 20,000 lines (a login in every tenth).
struct Shaped {
    quiet: String,
    crowded: String,
    staff: String,
}

impl Shaped {
    async fn make(portal: &Portal) -> Self {
        let store = &portal.store;
        let key = portal.secret.audit_key();
        let mut made = Vec::new();
        for (name, lines) in [("bench-quiet", 10), ("bench-crowded", 20_000)] {
            let id = match store.account_by_username(name).await.unwrap() {
                Some(account) => account.id,
                None => {
                    let id = store
                        .insert_account(NewAccountRow {
                            username: name,
                            username_key: name,
                            password_hash: "not a hash",
                            given_name: "Shaped",
                            family_name: "Unlike",
                            date_of_birth: "1950-01-01",
                            email: None,
                            mobile: None,
                            mobile_verified_at: None,
                            must_change_password: false,
                            password_expires_at: None,
                            created_at: 0,
                        })
                        .await
                        .unwrap()
                        .unwrap();
                    let rows: Vec<app::store::AuditRow> = (0..lines)
                        .map(|n| app::store::AuditRow {
                            at: SystemClock.now() - (lines - n) * 60_000,
                            account_id: Some(id),
                            ip: "192.0.2.1".into(),
                            event: match (lines, n % 10) {
                                (20_000, 0) => "login",
                                _ => "patient_viewed",
                            }
                            .into(),
                            outcome: "ok".into(),
                            ..Default::default()
                        })
                        .collect();
                    for batch in rows.chunks(2_000) {
                        store.record_audits(&key, batch).await.unwrap();
                    }
                    id
                }
            };
            made.push((name.to_string(), id));
        }
        let staff: String = {
            sqlx::any::install_default_drivers();
            let db = sqlx::AnyPool::connect(store.url()).await.unwrap();
            sqlx::query_scalar(
                "SELECT username FROM staff WHERE username LIKE 'demo-support-%' ORDER BY id LIMIT 1",
            )
            .fetch_one(&db)
            .await
            .unwrap()
        };
        Shaped {
            quiet: made[0].0.clone(),
            crowded: made[1].0.clone(),
            staff,
        }
    }
}

/// Each audit filter alone and in pairs, for a patient with none of the event and one with
/// 20,000 lines: its plan (which index it reads), and its time.
async fn audit_pairs(portal: &Portal, admin: &Client, shaped: &Shaped) {
    println!(" audit filters alone and in pairs, patients shaped unlike the generator's");
    let (from, to) = (day(30), day(0));
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("event login", vec![("event", "login".into())]),
        (
            "event mobile_reset (rare)",
            vec![("event", "mobile_reset".into())],
        ),
        (
            "patient, no logins",
            vec![("patient", shaped.quiet.clone())],
        ),
        (
            "patient, 20,000 lines",
            vec![("patient", shaped.crowded.clone())],
        ),
        (
            "patient with no logins, event login",
            vec![("patient", shaped.quiet.clone()), ("event", "login".into())],
        ),
        (
            "patient with 20,000 lines, event login",
            vec![
                ("patient", shaped.crowded.clone()),
                ("event", "login".into()),
            ],
        ),
        (
            "patient with 20,000 lines, event mobile_reset",
            vec![
                ("patient", shaped.crowded.clone()),
                ("event", "mobile_reset".into()),
            ],
        ),
        (
            "staff member, event login",
            vec![("staff", shaped.staff.clone()), ("event", "login".into())],
        ),
        (
            "staff member, patient",
            vec![
                ("staff", shaped.staff.clone()),
                ("patient", shaped.crowded.clone()),
            ],
        ),
        (
            "date range (30 days), event login",
            vec![
                ("from", from.clone()),
                ("to", to.clone()),
                ("event", "login".into()),
            ],
        ),
        (
            "date range (30 days), patient with 20,000 lines",
            vec![
                ("from", from),
                ("to", to),
                ("patient", shaped.crowded.clone()),
            ],
        ),
    ];
    for (what, filter) in cases {
        let query = app::staff::audit_log::AuditQuery {
            from: filter
                .iter()
                .find(|(k, _)| *k == "from")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            to: filter
                .iter()
                .find(|(k, _)| *k == "to")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            event: filter
                .iter()
                .find(|(k, _)| *k == "event")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            patient: filter
                .iter()
                .find(|(k, _)| *k == "patient")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            staff: filter
                .iter()
                .find(|(k, _)| *k == "staff")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
        };
        let parsed = portal_core::staff::audit_log::filter(&query.into()).unwrap();
        let plan = portal.store.audit_log_plan(&parsed, 50).await.unwrap();
        let pairs: Vec<(&str, &str)> = filter.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut times = Vec::new();
        for run in 0..RUNS + 3 {
            let (ms, _) = admin.timed_post("/api/staff/audit_log", &pairs).await;
            if run >= 3 {
                times.push(ms);
            }
        }
        report(what, times, 50.0);
        for step in plan.lines().filter(|l| {
            l.contains("INDEX") || l.contains("SCAN") || l.contains("Index") || l.contains("Scan")
        }) {
            println!("      {}", step.trim());
        }
    }
}

/// Whom the measures look up: the busiest patient, someone's date of birth and mobile, a staff
/// member with many lines.
struct Who {
    busiest: String,
    born: String,
    mobile_end: String,
    staff: String,
}

impl Who {
    async fn find(portal: &Portal) -> Self {
        let url = portal.store.url().to_string();
        sqlx::any::install_default_drivers();
        let db = sqlx::AnyPool::connect(&url).await.unwrap();
        // The patient with most lines among a sample (a full count reads every line).
        let busiest: String = sqlx::query_scalar(
            "SELECT p.username FROM accounts p JOIN (SELECT account_id, COUNT(*) AS n \
             FROM (SELECT account_id FROM audit_events ORDER BY id DESC LIMIT 200000) AS recent \
             WHERE account_id IS NOT NULL GROUP BY account_id ORDER BY n DESC LIMIT 1) AS top \
             ON p.id = top.account_id",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        let (born, mobile): (String, String) = sqlx::query_as(
            "SELECT date_of_birth, mobile FROM accounts WHERE id = (SELECT MIN(id) + 4321 FROM accounts)",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        let staff: String = sqlx::query_scalar(
            "SELECT username FROM staff WHERE username LIKE 'demo-support-%' ORDER BY id LIMIT 1",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        Who {
            busiest,
            born,
            mobile_end: mobile[mobile.len() - 4..].to_string(),
            staff,
        }
    }
}

async fn search(admin: &Client, who: &Who) {
    println!(" staff search (POST /api/staff/search_patients, first page of 25)");
    let family_word = "smi".to_string();
    let queries = [
        ("a name prefix: smi", family_word.clone()),
        ("a name prefix: pem", "pem".into()),
        ("a name prefix: mar (given and family names)", "mar".into()),
        ("two name prefixes: mar smi", "mar smi".into()),
        ("a username", who.busiest.clone()),
        ("a date of birth", who.born.clone()),
        ("the last 4 digits of a mobile", who.mobile_end.clone()),
        (
            "the last 3 digits of a mobile",
            who.mobile_end[1..].to_string(),
        ),
    ];
    for (what, query) in queries {
        let mut times = Vec::new();
        let mut found = 0;
        for run in 0..RUNS + 3 {
            let (ms, reply) = admin
                .timed_post("/api/staff/search_patients", &[("query", &query)])
                .await;
            found = reply["patients"].as_array().map_or(0, Vec::len);
            if run >= 3 {
                times.push(ms);
            }
        }
        report(&format!("{what} ({found} shown)"), times, 50.0);
    }
}

/// The date `days_ago`, as the audit log's form takes it.
fn day(days_ago: i64) -> String {
    let at = SystemClock.now() - days_ago * DAY;
    time::OffsetDateTime::from_unix_timestamp(at / 1000)
        .unwrap()
        .date()
        .to_string()
}

async fn audit_pages(admin: &Client, who: &Who) {
    println!(" audit log (POST /api/staff/audit_log, 50 lines a page)");
    let (from, to) = (day(3 * 365), day(3 * 365 - 90));
    let filters: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no filter", vec![]),
        (
            "patient (the busiest)",
            vec![("patient", who.busiest.clone())],
        ),
        ("staff member", vec![("staff", who.staff.clone())]),
        ("event (signed_in)", vec![("event", "signed_in".into())]),
        (
            "date range (90 days, 3 years ago)",
            vec![("from", from.clone()), ("to", to.clone())],
        ),
        (
            "patient and event",
            vec![
                ("patient", who.busiest.clone()),
                ("event", "signed_in".into()),
            ],
        ),
        (
            "staff member and date range",
            vec![("staff", who.staff.clone()), ("from", from), ("to", to)],
        ),
    ];
    for (what, filter) in filters {
        let form = |key: Option<i64>| {
            let mut pairs: Vec<(String, String)> = filter
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            if let Some(key) = key {
                pairs.push(("before".into(), key.to_string()));
            }
            pairs
        };
        let ask = |key: Option<i64>| {
            let pairs = form(key);
            async move {
                let borrowed: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                admin.timed_post("/api/staff/audit_log", &borrowed).await
            }
        };
        // Page 500's key, by following "Older lines" as an admin would.
        let mut key = None;
        let mut page = 1;
        while page < 500 {
            let (_, reply) = ask(key).await;
            match reply["older"].as_i64() {
                Some(older) => {
                    key = Some(older);
                    page += 1;
                }
                None => break,
            }
        }
        for (label, key) in [("page 1", None), ("", key)] {
            let label = if label.is_empty() {
                format!("page {page}{}", if page < 500 { " (the last)" } else { "" })
            } else {
                label.to_string()
            };
            let mut times = Vec::new();
            for run in 0..RUNS + 3 {
                let (ms, _) = ask(key).await;
                if run >= 3 {
                    times.push(ms);
                }
            }
            report(&format!("{what}, {label}"), times, 50.0);
        }
    }
}

async fn patient_page(admin: &Client, who: &Who) {
    println!(" support's patient page (POST /api/staff/patient: numbers, delays, sign-ins, texts, audit)");
    let found = admin
        .post("/api/staff/search_patients", &[("query", &who.busiest)])
        .await;
    let reference = found["patients"][0]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let mut times = Vec::new();
    for run in 0..RUNS + 3 {
        let (ms, _) = admin
            .timed_post("/api/staff/patient", &[("patient", &reference)])
            .await;
        if run >= 3 {
            times.push(ms);
        }
    }
    report("the busiest patient", times, 20.0);
}

/// A patient's password step, code step and signed-in page, here and on an empty database of
/// the same engine, in turns.
async fn sign_in_against_empty(engine: &str, full: &Portal, full_base: &str) {
    let sign_ins = sign_ins();
    println!(
        " a patient's sign-in, against the same on an empty database (medians, {sign_ins} each)"
    );
    let dir = tempfile::tempdir().unwrap();
    let empty_url = match engine {
        "sqlite" => format!("sqlite://{}/empty.db", dir.path().display()),
        _ => {
            std::env::set_var(
                app::store::testing::POSTGRES_VAR,
                std::env::var("PORTAL_BENCH_POSTGRES").unwrap(),
            );
            app::store::testing::scratch_database(dir.path()).await
        }
    };
    let empty = portal_on(Store::open(&empty_url).await.unwrap());
    let empty_base = serve(&empty).await;
    let mut steps = [
        [Vec::new(), Vec::new(), Vec::new()],
        [Vec::new(), Vec::new(), Vec::new()],
    ];
    let run_name = SystemClock.now();
    for portal in [full, &empty] {
        held_in_memory(portal.store.url()).await;
        let hash = portal.passwords.hash_given(PASSWORD).await.unwrap();
        for n in 0..sign_ins {
            let name = format!("bench{run_name}p{n}");
            // A number of each patient's own, as patients have: the limits count the day's texts
            // to a number, and one number for all would have each sign-in count every text sent
            // before it, on the kept database those of earlier runs too.
            let mobile = format!("+64215{n:06}");
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
                    mobile: Some(&mobile),
                    mobile_verified_at: Some(0),
                    must_change_password: false,
                    password_expires_at: None,
                    created_at: 0,
                })
                .await
                .unwrap();
        }
    }
    for n in 0..sign_ins {
        // In turns, each going first every other time, so that the machine's moods (and
        // whatever the previous sign-in left running) fall on both alike.
        let mut sides = [(0, full_base), (1, empty_base.as_str())];
        if n % 2 == 1 {
            sides.reverse();
        }
        for (side, base) in sides {
            let name = format!("bench{run_name}p{n}");
            let patient = Client::new(base, 10 + (n % 200) as u8);
            LAST_TEXT.lock().unwrap().take();
            let (ms, login) = patient
                .timed_post("/api/login", &[("username", &name), ("password", PASSWORD)])
                .await;
            steps[side][0].push(ms);
            // The password step texts the code to the verified number itself.
            if login["code_sent"] != Value::Bool(true) {
                patient.post("/api/send_code", &[]).await;
            }
            let code = loop {
                if let Some(text) = LAST_TEXT.lock().unwrap().take() {
                    break text.rsplit('#').next().unwrap().to_string();
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            };
            let (ms, _) = patient
                .timed_post("/api/verify_code", &[("code", &code)])
                .await;
            steps[side][1].push(ms);
            steps[side][2].push(patient.timed_get("/profile").await);
        }
    }
    for (i, what) in [
        "password step (POST /api/login)",
        "code step (POST /api/verify_code)",
        "signed-in page (GET /profile)",
    ]
    .into_iter()
    .enumerate()
    {
        let (full_p50, _) = percentiles(steps[0][i].clone());
        let (empty_p50, _) = percentiles(steps[1][i].clone());
        let ratio = full_p50 / empty_p50;
        let verdict = if ratio <= 1.10 { "ok" } else { "OVER" };
        println!(
            "  {what:<40} full {full_p50:>6.2} ms, empty {empty_p50:>6.2} ms: {:>+5.1} % (≤ +10 %: {verdict})",
            (ratio - 1.0) * 100.0
        );
    }
    empty.store.close().await;
}

/// Brings the database into memory as a server that has been answering sign-ins holds it:
/// each sign-in writes a session at a random place in an index of a million, and a page that
/// isn't in memory is a read from disk (a fifth of a millisecond here), which a freshly
/// restarted machine pays and a running one doesn't. SQLite's file is read once through the
/// system's cache; PostgreSQL reads the patients' and sessions' tables and indexes into its
/// shared buffers (`pg_prewarm`; it needs `shared_buffers` of about 1 GB, see docs/scale.md).
async fn held_in_memory(url: &str) {
    if let Some(path) = url.strip_prefix("sqlite://") {
        use std::io::Read;
        let mut file = std::fs::File::open(path.split('?').next().unwrap()).unwrap();
        let mut chunk = vec![0u8; 1 << 20];
        while file.read(&mut chunk).unwrap() > 0 {}
        return;
    }
    use sqlx::Connection;
    let mut db = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query(
        "SELECT CAST(SUM(pg_prewarm(c.oid)) AS BIGINT) FROM pg_class c \
         LEFT JOIN pg_index i ON i.indexrelid = c.oid \
         WHERE c.relname IN ('accounts', 'sessions') \
            OR i.indrelid IN ('accounts'::regclass, 'sessions'::regclass)",
    )
    .execute(&mut db)
    .await
    .unwrap();
}

async fn export(admin: &Client) {
    println!(" CSV export of every line (GET /staff/audit.csv)");
    let work = async {
        let start = Instant::now();
        let mut reply = admin.get("/staff/audit.csv").send().await.unwrap();
        assert!(reply.status().is_success());
        let mut first = None;
        let mut lines = 0u64;
        while let Some(chunk) = reply.chunk().await.unwrap() {
            if first.is_none() && chunk.contains(&b'\n') {
                first = Some(start.elapsed().as_secs_f64());
            }
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        }
        (
            first.unwrap_or(0.0),
            lines.saturating_sub(1),
            start.elapsed().as_secs_f64(),
        )
    };
    let ((first, lines, total), growth) = peak_growth(work).await;
    let rate = lines as f64 / total;
    println!(
        "  {lines} lines in {total:.1} s: first line after {:.0} ms (≤ 1,000: {}), {:.0} lines/s (≥ 200,000: {}), memory +{growth:.1} MiB (≤ 32: {})",
        first * 1000.0,
        if first <= 1.0 { "ok" } else { "OVER" },
        rate,
        if rate >= 200_000.0 { "ok" } else { "OVER" },
        if growth <= 32.0 { "ok" } else { "OVER" },
    );
}

/// `import-patients` of as many rows as there are generated patients (a million), into a
/// database of its own, with one bad row in every 10,000. Each row carries its old system's
/// password hash, as a practice's export does.
async fn import(engine: &str, rows: u64) {
    println!(" import-patients of {rows} rows (one in 10,000 bad)");
    let dir = tempfile::tempdir().unwrap();
    let url = match engine {
        "sqlite" => format!("sqlite://{}/import.db", dir.path().display()),
        _ => app::store::testing::scratch_database(dir.path()).await,
    };
    let portal = portal_on(Store::open(&url).await.unwrap());
    let hash = portal.passwords.hash_given(PASSWORD).await.unwrap();
    let file = dir.path().join("patients.csv");
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        writeln!(
            out,
            "username,given_name,family_name,date_of_birth,phone,password_hash"
        )
        .unwrap();
        for n in 0..rows {
            let born = if n % 10_000 == 5_000 {
                "not a date"
            } else {
                "1961-04-12"
            };
            writeln!(
                out,
                "imported{n},Ada,Lovelace{},{born},07700 900{:03},\"{hash}\"",
                n % 977,
                n % 1000
            )
            .unwrap();
        }
    }
    let started = Instant::now();
    // SQLite's write-ahead log, watched all along: it must stay smaller than the database.
    let wal = dir.path().join("import.db-wal");
    let wal_peak = Arc::new(AtomicU64::new(0));
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (wal, wal_peak, watching) = (wal.clone(), wal_peak.clone(), watching.clone());
        tokio::spawn(async move {
            while watching.load(Ordering::Relaxed) {
                let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
                wal_peak.fetch_max(size, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let (report, growth) = peak_growth(async {
        let csv = std::fs::File::open(&file).unwrap();
        app::existing_patients::import_patients(&portal, csv)
            .await
            .unwrap()
    })
    .await;
    let took = started.elapsed().as_secs_f64();
    watching.store(false, Ordering::Relaxed);
    watcher.await.unwrap();
    println!(
        "  imported {} and reported {} bad rows in {took:.0} s (≤ 300: {}), memory +{growth:.0} MiB (≤ 128: {})",
        report.imported,
        report.skipped.len(),
        if took <= 300.0 { "ok" } else { "OVER" },
        if growth <= 128.0 { "ok" } else { "OVER" },
    );
    if engine == "sqlite" {
        let database = std::fs::metadata(dir.path().join("import.db")).map_or(0, |m| m.len());
        let peak = wal_peak.load(Ordering::Relaxed);
        println!(
            "  the write-ahead log's peak during the import: {:.0} MiB, the database {:.0} MiB (≤ the database: {})",
            peak as f64 / 1048576.0,
            database as f64 / 1048576.0,
            if peak <= database { "ok" } else { "OVER" },
        );
    }
    portal.store.close().await;
}
