//! Several portal instances on one PostgreSQL database: real `server` processes, driven over
//! HTTP, with their texts going to one stand-in gateway. These run when PORTAL_TEST_POSTGRES
//! names a server (`.ci/test`'s PostgreSQL run); SQLite is one instance by design, so there they
//! say so and stop.

use crate::common;

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{standin::StandIn, PASSWORD};
use futures::future::join_all;
use reqwest::StatusCode;

const SECRET: &str = "one shared secret key for every instance of the portal";

/// The PostgreSQL server under test, if any.
fn postgres() -> Option<String> {
    let server = std::env::var(app::store::testing::POSTGRES_VAR).ok()?;
    (!server.is_empty()).then_some(server)
}

/// A new, empty database on the server for one test.
async fn database(dir: &tempfile::TempDir) -> String {
    app::store::testing::scratch_database(dir.path()).await
}

struct Instance {
    child: Child,
    base: String,
}

impl Instance {
    /// Starts `server` on a free port against `database`, texting through `gateway`.
    async fn start(database: &str, gateway: &StandIn, site: &std::path::Path) -> Self {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LEPTOS_OUTPUT_NAME", "portal")
            .env("LEPTOS_SITE_ROOT", site)
            .env("LEPTOS_SITE_PKG_DIR", "pkg")
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_RELOAD_PORT", (port + 1).to_string())
            .env("PORTAL_DATABASE_URL", database)
            .env("PORTAL_SECRET_KEY", SECRET)
            .env("PORTAL_PUBLIC_URL", &base)
            .env("PORTAL_SMS_PROVIDER", "webhook")
            .env("PORTAL_SMS_WEBHOOK_URL", format!("{}/sms", gateway.url))
            .env("PORTAL_SMS_WEBHOOK_SECRET", "webhook-secret")
            // A message held by an instance that dies goes to another after this.
            .env("PORTAL_SMS_LEASE_SECONDS", "2")
            .env("PORTAL_LIMIT_SENDS_PER_IP_HOUR", "100000")
            .env("PORTAL_LIMIT_SENDS_PER_DAY", "100000")
            .env("PORTAL_LIMIT_REGISTRATIONS_PER_IP_HOUR", "100000")
            .env("PORTAL_LIMIT_LOGINS_PER_IP_HOUR", "100000")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server binary starts");
        let instance = Self { child, base };
        instance.wait_until_healthy().await;
        instance
    }

    async fn wait_until_healthy(&self) {
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(reply) = http.get(format!("{}/healthz", self.base)).send().await {
                if reply.status() == StatusCode::OK {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{} never became healthy", self.base);
    }

    /// Ends the process at once, as a crash would.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One patient's browser, which may talk to either instance.
#[derive(Clone, Default)]
struct Browser {
    cookie: Option<String>,
}

struct Answer {
    status: StatusCode,
    json: serde_json::Value,
}

impl Browser {
    async fn post(&mut self, at: &Instance, path: &str, form: &[(&str, &str)]) -> Answer {
        let answer = self.try_post(at, path, form).await;
        answer.expect("the instance answers")
    }

    async fn try_post(
        &mut self,
        at: &Instance,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Result<Answer> {
        let http = reqwest::Client::new();
        let mut request = http.post(format!("{}{path}", at.base)).form(form);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let reply = request.send().await?;
        for set in reply.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
            self.cookie = (!pair.ends_with('=')).then_some(pair);
        }
        let status = reply.status();
        let json = reply.json().await.unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, json })
    }
}

/// The code in the last text the gateway received for `number` (E.164).
fn last_code(gateway: &StandIn, number: &str) -> String {
    gateway
        .received()
        .iter()
        .rev()
        .find(|r| r.json()["to"] == number)
        .map(|r| r.code())
        .unwrap_or_else(|| panic!("a text to {number}"))
}

fn registration(username: &str, mobile: &str) -> Vec<(String, String)> {
    common::registration(username, mobile)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn borrowed(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Two instances on a new database, with one gateway.
struct Pair {
    a: Instance,
    b: Instance,
    gateway: StandIn,
    database: String,
    _dir: tempfile::TempDir,
}

async fn two_instances() -> Option<Pair> {
    if postgres().is_none() {
        eprintln!("skipped: several instances need PostgreSQL (set PORTAL_TEST_POSTGRES)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let database = database(&dir).await;
    let gateway = StandIn::start(vec![]).await;
    let a = Instance::start(&database, &gateway, dir.path()).await;
    let b = Instance::start(&database, &gateway, dir.path()).await;
    Some(Pair {
        a,
        b,
        gateway,
        database,
        _dir: dir,
    })
}

#[tokio::test]
async fn a_patient_moves_between_instances_at_every_step() {
    let Some(Pair { a, b, gateway, .. }) = two_instances().await else {
        return;
    };
    let mut patient = Browser::default();
    let form = registration("margaret", "021 555 0123");
    assert_eq!(
        patient
            .post(&a, "/api/register", &borrowed(&form))
            .await
            .status,
        StatusCode::OK
    );
    // The code is sent by B, and checked by A.
    assert_eq!(
        patient.post(&b, "/api/send_code", &[]).await.status,
        StatusCode::OK
    );
    let code = last_code(&gateway, "+64215550123");
    let verified = patient
        .post(&a, "/api/verify_code", &[("code", &code)])
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.json);
    assert_eq!(
        patient.post(&b, "/api/me", &[]).await.json["username"],
        "margaret"
    );
    patient.post(&a, "/api/logout", &[]).await;

    // Logged in on B, finished on A.
    let login = patient
        .post(
            &b,
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.json["code_sent"], true, "{}", login.json);
    let code = last_code(&gateway, "+64215550123");
    let signed_in = patient
        .post(&a, "/api/verify_code", &[("code", &code)])
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.json);
    assert_eq!(
        patient.post(&b, "/api/me", &[]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn limits_hold_exactly_when_requests_are_spread_over_instances() {
    let Some(Pair { a, b, gateway, .. }) = two_instances().await else {
        return;
    };
    let instances = [&a, &b];

    // Tries: 20 guesses at once, half to each instance; no more than 5 are compared.
    let mut patient = Browser::default();
    let form = registration("margaret", "021 555 0123");
    patient.post(&a, "/api/register", &borrowed(&form)).await;
    patient.post(&b, "/api/send_code", &[]).await;
    let code: u32 = last_code(&gateway, "+64215550123").parse().unwrap();
    let guesses: Vec<String> = (1..=20)
        .map(|n| format!("{:06}", (code + n) % 1_000_000))
        .collect();
    let replies = join_all(guesses.iter().enumerate().map(|(n, guess)| {
        let mut browser = patient.clone();
        let at = instances[n % 2];
        async move {
            browser
                .post(at, "/api/verify_code", &[("code", guess)])
                .await
        }
    }))
    .await;
    let compared = replies
        .iter()
        .filter(|r| r.json.to_string().contains("tries left"))
        .count();
    assert!(compared <= 4, "{compared} wrong guesses were compared");
    let right = patient
        .post(&a, "/api/verify_code", &[("code", &format!("{code:06}"))])
        .await;
    assert_ne!(right.status, StatusCode::OK, "the code died after 5 tries");

    // Cooldown: 10 sends at once for one session; one goes.
    let mut other = Browser::default();
    let form = registration("mere", "022 123 4567");
    other.post(&b, "/api/register", &borrowed(&form)).await;
    let replies = join_all((0..10).map(|n| {
        let mut browser = other.clone();
        let at = instances[n % 2];
        async move { browser.post(at, "/api/send_code", &[]).await }
    }))
    .await;
    let sent = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(sent, 1);

    // Send limits: 15 new accounts text one number at once; its daily allowance is 10.
    let mut browsers = Vec::new();
    for n in 0..15 {
        let mut browser = Browser::default();
        let form = registration(&format!("shared{n}"), "027 765 4321");
        browser
            .post(instances[n % 2], "/api/register", &borrowed(&form))
            .await;
        browsers.push(browser);
    }
    let replies = join_all(browsers.iter().enumerate().map(|(n, browser)| {
        let mut browser = browser.clone();
        let at = instances[n % 2];
        async move { browser.post(at, "/api/send_code", &[]).await }
    }))
    .await;
    let sent = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(sent, 10, "the number's daily allowance, exactly");

    // Login delays: 10 wrong passwords at once; at most 5 are checked before the delay.
    let replies = join_all((0..10).map(|n| {
        let at = instances[n % 2];
        async move {
            Browser::default()
                .post(
                    at,
                    "/api/login",
                    &[("username", "margaret"), ("password", "wrong password!!")],
                )
                .await
        }
    }))
    .await;
    let checked = replies
        .iter()
        .filter(|r| r.status != StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(checked <= 5, "{checked} passwords were checked");
}

#[tokio::test]
async fn two_hundred_codes_are_each_delivered_once_though_an_instance_dies_halfway() {
    let Some(Pair {
        mut a,
        b,
        gateway,
        database,
        ..
    }) = two_instances().await
    else {
        return;
    };
    // 200 patients, registered on either instance.
    let mut patients = Vec::new();
    for n in 0..200 {
        let mut browser = Browser::default();
        let number = format!("021 {:03} {:04}", 200 + n / 100, n % 10_000);
        let form = registration(&format!("patient{n}"), &number);
        let at = if n % 2 == 0 { &a } else { &b };
        let reply = browser.post(at, "/api/register", &borrowed(&form)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        patients.push(browser);
    }
    // They ask for codes in waves, alternating instances; A dies halfway. Whoever A didn't
    // answer asks B, as a patient would by trying again.
    let mut asked = 0;
    let a_pid = a.child.id().to_string();
    for wave in patients.chunks_mut(20) {
        if asked == 100 {
            // Killed while this wave's requests are in flight: some messages are queued and
            // held by A, and must be taken over once A's lease runs out.
            let pid = a_pid.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(15)).await;
                let _ = Command::new("kill").args(["-9", &pid]).status();
            });
        }
        let replies = join_all(wave.iter_mut().enumerate().map(|(n, browser)| {
            let (first, second) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
            async move {
                match browser.try_post(first, "/api/send_code", &[]).await {
                    Ok(answer) if answer.status.is_success() || answer.status.is_client_error() => {
                        answer.status
                    }
                    _ => match browser.try_post(second, "/api/send_code", &[]).await {
                        Ok(answer) => answer.status,
                        Err(_) => StatusCode::BAD_GATEWAY,
                    },
                }
            }
        }))
        .await;
        for status in replies {
            // A code, or one already on its way (A took the request and died).
            assert!(
                status == StatusCode::OK || status == StatusCode::TOO_MANY_REQUESTS,
                "{status}"
            );
        }
        asked += 20;
    }
    a.kill();

    // Every message that reached the outbox is delivered, each once.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&database).await.unwrap();
    let mut outcome = (0, 0);
    for _ in 0..100 {
        outcome = sqlx::query_as::<_, (i64, i64)>(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0) \
             FROM sms_outbox",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if outcome.0 == outcome.1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (queued, sent) = outcome;
    assert_eq!(queued, 200, "one code for every patient");
    assert_eq!(sent, queued, "none lost");
    // The gateway takes each message once: repeats carry the same idempotency key.
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for received in gateway.received() {
        let key = received.headers["idempotency-key"]
            .to_str()
            .unwrap()
            .to_string();
        *by_key.entry(key).or_default() += 1;
    }
    assert_eq!(by_key.len(), 200, "each message reached the gateway");
    let repeats: usize = by_key.values().map(|n| n - 1).sum();
    eprintln!("{repeats} repeated attempt(s) after the crash, each with its message's key");
}
