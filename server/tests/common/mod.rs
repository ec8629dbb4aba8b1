//! A portal on a temporary database with a hand-moved clock, driven through the real router.

#![allow(dead_code)]

pub mod passkey;
pub mod standin;

use std::{net::SocketAddr, sync::Arc};

use app::{
    clock::{Clock, ManualClock},
    portal::{Portal, Settings},
    secret::ServerSecret,
    sms::{ConsoleSms, SmsSender},
    store::{AccountRow, Store},
};
use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{header, HeaderMap, Request, StatusCode},
    Router,
};
use leptos::prelude::LeptosOptions;
use serde_json::Value;
use tower::ServiceExt;

pub struct TestPortal {
    pub router: Router,
    pub portal: Portal,
    pub clock: Arc<ManualClock>,
    pub settings: Settings,
    pub secret: ServerSecret,
    /// The test's own database: SQLite in `_dir`, or one on the PostgreSQL server under test.
    pub database_url: String,
    _dir: Arc<tempfile::TempDir>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text, without the markers hydration reads, so that what a test looks for
    /// reads as a person would see it: a build with erased components (as `cargo leptos` builds,
    /// and CI tests) leaves an empty `<!>` where a view's text may change, and a debug one marks
    /// where each view begins and ends (`<!--bo-…-->`, `<!--bc-…-->`).
    pub fn text(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let text = body.replace("<!>", "");
        let mut kept = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find("<!--b") {
            let marker = &rest[at..];
            let is_marker = marker.starts_with("<!--bo-") || marker.starts_with("<!--bc-");
            match (is_marker, marker.find("-->")) {
                (true, Some(end)) => {
                    kept.push_str(&rest[..at]);
                    rest = &marker[end + "-->".len()..];
                }
                _ => {
                    kept.push_str(&rest[..at + "<!--b".len()]);
                    rest = &marker["<!--b".len()..];
                }
            }
        }
        kept.push_str(rest);
        kept
    }

    /// The session cookie this reply sets, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.contains("portal_session="))
            .map(str::to_string)
    }

    /// The whole `Set-Cookie` line for cookie `name`, if this reply sets it.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }

    pub fn field_error(&self, field: &str) -> String {
        self.json()["fields"][field]
            .as_str()
            .unwrap_or_else(|| panic!("no error for {field}: {}", self.text()))
            .to_string()
    }
}

impl TestPortal {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::with_sender(adjust, |store, clock| {
            Arc::new(ConsoleSms::new(store, clock))
        })
        .await
    }

    /// A portal whose texts go through `sender` (given the store, for the console provider).
    pub async fn with_sender(
        adjust: impl FnOnce(&mut Settings),
        sender: impl FnOnce(Store, Arc<dyn Clock>) -> Arc<dyn SmsSender>,
    ) -> Self {
        Self::with_providers(adjust, |store, clock| vec![sender(store, clock)]).await
    }

    /// A portal whose texts try `providers` in order.
    pub async fn with_providers(
        adjust: impl FnOnce(&mut Settings),
        providers: impl FnOnce(Store, Arc<dyn Clock>) -> Vec<Arc<dyn SmsSender>>,
    ) -> Self {
        // Warnings (a slow statement, a failed write) are printed with a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let mut settings = Settings::default();
        adjust(&mut settings);
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let url = app::store::testing::scratch_database(dir.path()).await;
        Self::open(
            dir,
            url,
            settings,
            clock,
            ServerSecret::random(),
            providers,
            server::Wiring {
                dev_outbox: true,
                ..Default::default()
            },
        )
        .await
    }

    async fn open(
        dir: Arc<tempfile::TempDir>,
        url: String,
        settings: Settings,
        clock: Arc<ManualClock>,
        secret: ServerSecret,
        providers: impl FnOnce(Store, Arc<dyn Clock>) -> Vec<Arc<dyn SmsSender>>,
        wiring: server::Wiring,
    ) -> Self {
        let store = Store::open(&url).await.unwrap();
        let portal = Portal::with_providers(
            settings.clone(),
            store.clone(),
            clock.clone(),
            secret.clone(),
            providers(store, clock.clone() as Arc<dyn Clock>),
        );
        let options = LeptosOptions::builder().output_name("portal").build();
        let router = server::router_with(portal.clone(), options, wiring);
        Self {
            router,
            portal,
            clock,
            settings,
            secret,
            database_url: url,
            _dir: dir,
        }
    }

    /// Another instance on the same database, secret and clock, whose texts try `providers`.
    pub async fn another_instance(&self, providers: Vec<Arc<dyn SmsSender>>) -> Self {
        Self::open(
            self._dir.clone(),
            self.database_url.clone(),
            self.settings.clone(),
            self.clock.clone(),
            self.secret.clone(),
            |_, _| providers,
            server::Wiring {
                dev_outbox: true,
                ..Default::default()
            },
        )
        .await
    }

    /// The same database, secret and clock in a new portal: a server restart.
    pub async fn restart(&self, sender: Arc<dyn SmsSender>, wiring: server::Wiring) -> Self {
        self.restart_with(vec![sender], wiring).await
    }

    /// A restart whose texts try `providers` in order.
    pub async fn restart_with(
        &self,
        providers: Vec<Arc<dyn SmsSender>>,
        wiring: server::Wiring,
    ) -> Self {
        Self::open(
            self._dir.clone(),
            self.database_url.clone(),
            self.settings.clone(),
            self.clock.clone(),
            self.secret.clone(),
            |_, _| providers,
            wiring,
        )
        .await
    }

    /// A delivery report from Twilio (signed as Twilio signs it) for the text it knows as `sid`.
    pub async fn twilio_report(&self, sid: &str, status: &str) -> Reply {
        let params = [
            ("MessageSid", sid),
            ("MessageStatus", status),
            ("AccountSid", standin::SID),
        ];
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let signature =
            app::sms::twilio::twilio_signature(standin::TOKEN, standin::STATUS_URL, &owned);
        let request = Request::post("/sms/status")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(Body::from(form(&params)))
            .unwrap();
        self.send(request).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        self.send_from(CLIENT.parse().unwrap(), request).await
    }

    /// A request from the client at `ip`.
    pub async fn send_from(&self, ip: std::net::IpAddr, request: Request<Body>) -> Reply {
        let mut request = request;
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 50000)));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post_raw(&self, path: &str, body: &str, cookie: Option<&str>) -> Reply {
        self.post_raw_from(CLIENT.parse().unwrap(), path, body, cookie)
            .await
    }

    pub async fn post_raw_from(
        &self,
        ip: std::net::IpAddr,
        path: &str,
        body: &str,
        cookie: Option<&str>,
    ) -> Reply {
        let mut request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send_from(ip, request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// A GET as a browser sends it (asking for HTML).
    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut request = Request::get(path).header(header::ACCEPT, "text/html,*/*");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// The codes texted so far, newest last.
    pub async fn texts(&self) -> Vec<(String, String)> {
        self.portal
            .store
            .dev_sms()
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.to_number, m.body))
            .collect()
    }

    /// The token of the newest "Confirm your email address" link emailed.
    pub async fn email_link(&self) -> String {
        let emails = self.portal.store.dev_email().await.unwrap();
        let body = emails
            .iter()
            .rev()
            .find(|e| e.subject == "Confirm your email address")
            .map(|e| e.body.clone())
            .expect("a \"Confirm your email address\" email");
        let link = body
            .lines()
            .find(|line| line.contains("/confirm-email?t="))
            .expect("its link");
        link.split("t=").nth(1).unwrap().trim().to_string()
    }

    pub async fn last_code(&self) -> String {
        let (_, body) = self.texts().await.pop().expect("a text was sent");
        body.rsplit('#').next().unwrap().to_string()
    }

    /// The stored account of a patient the test has registered.
    pub async fn account(&self, username: &str) -> AccountRow {
        self.portal
            .store
            .account_by_username(username)
            .await
            .unwrap()
            .expect("the patient is registered")
    }

    pub fn browser(&self) -> Browser<'_> {
        self.browser_at(CLIENT)
    }

    /// A browser on another network.
    pub fn browser_at(&self, ip: &str) -> Browser<'_> {
        Browser {
            portal: self,
            cookie: None,
            cookies: Vec::new(),
            ip: ip.parse().unwrap(),
        }
    }

    /// The patient's audit trail, as (event, outcome) pairs.
    pub async fn audit_of(&self, username: &str) -> Vec<(String, String)> {
        let account = self.account(username).await;
        self.portal
            .store
            .audit_events(account.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.event, e.outcome))
            .collect()
    }
}

/// Where test requests come from, unless a test says otherwise.
pub const CLIENT: &str = "203.0.113.7";

/// One browser: remembers its session cookie between requests.
pub struct Browser<'a> {
    pub portal: &'a TestPortal,
    /// The `Cookie` header this browser sends.
    pub cookie: Option<String>,
    cookies: Vec<String>,
    pub ip: std::net::IpAddr,
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub const PASSWORD: &str = "correct horse battery";

pub fn registration<'a>(username: &'a str, mobile: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("username", username),
        ("password", PASSWORD),
        ("confirm_password", PASSWORD),
        ("given_name", "Margaret"),
        ("family_name", "Smith"),
        ("date_of_birth", "1950-07-31"),
        ("mobile", mobile),
        ("email", "margaret@example.org"),
    ]
}

impl Browser<'_> {
    /// The session this browser's cookie names.
    pub async fn session(&self) -> app::session::Session {
        let cookie = self
            .cookies
            .iter()
            .find(|c| c.starts_with("portal_session="))
            .expect("a session cookie");
        let value = cookie.split_once('=').unwrap().1;
        app::session::load(&self.portal.portal, value)
            .await
            .unwrap()
            .expect("a live session")
    }

    /// The value of this browser's cookie `name`, if it has one.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")).map(str::to_string))
    }

    /// Gives this browser cookie `name` (a copy of another browser's, say).
    pub fn put_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
        self.cookies.push(format!("{name}={value}"));
        self.cookie = Some(self.cookies.join("; "));
    }

    pub async fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Reply {
        let reply = self
            .portal
            .post_raw_from(self.ip, path, &form(pairs), self.cookie.as_deref())
            .await;
        for set in reply.headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap().to_string();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            if !value.is_empty() {
                self.cookies.push(pair.clone());
            }
        }
        self.cookie = (!self.cookies.is_empty()).then(|| self.cookies.join("; "));
        reply
    }

    pub async fn register(&mut self, username: &str) -> Reply {
        self.post("/api/register", &registration(username, "021 555 0123"))
            .await
    }

    pub async fn log_in(&mut self, username: &str) -> Reply {
        self.post(
            "/api/login",
            &[("username", username), ("password", PASSWORD)],
        )
        .await
    }

    /// Registers and verifies the number: a signed-in patient.
    pub async fn register_and_sign_in(&mut self, username: &str) {
        assert_eq!(self.register(username).await.status, StatusCode::OK);
        assert_eq!(
            self.post("/api/send_code", &[]).await.status,
            StatusCode::OK
        );
        let code = self.portal.last_code().await;
        let reply = self.post("/api/verify_code", &[("code", &code)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        // And the email address confirmed, as its owner would, so notices go to it.
        let token = self.portal.email_link().await;
        let confirmed = self.post("/api/confirm_email", &[("token", &token)]).await;
        assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    }
}

/// The authenticator code an app would show now for `secret` (base32, as the enrolment page
/// shows it).
pub fn authenticator_code(portal: &TestPortal, secret: &str, at_millis: i64) -> String {
    let compact: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = totp_rs::Secret::try_from_base32(compact)
        .unwrap()
        .as_bytes()
        .to_vec();
    let totp = app::staff::accounts::authenticator(bytes, "Patient Portal", "staff").unwrap();
    let _ = portal;
    totp.generate((at_millis / 1000) as u64).to_string()
}

/// A staff member, enrolled and signed in, in a browser of their own.
pub struct Staff<'a> {
    pub browser: Browser<'a>,
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

impl TestPortal {
    /// Adds a staff member as `server staff add` does; returns the enrolment token.
    pub async fn add_staff(&self, name: &str, role: app::staff::StaffRole) -> String {
        let link = app::staff::accounts::add(&self.portal, name, role.into())
            .await
            .unwrap();
        link.split("token=").nth(1).unwrap().to_string()
    }

    /// A staff member added, enrolled through the API and signed in.
    pub async fn staff(&self, name: &str, role: app::staff::StaffRole) -> Staff<'_> {
        let token = self.add_staff(name, role).await;
        let mut browser = self.browser();
        let start = browser
            .post("/api/staff/enrolment", &[("token", &token)])
            .await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.text());
        let secret = start.json()["secret"].as_str().unwrap().to_string();
        let code = authenticator_code(self, &secret, self.clock_now());
        let finished = browser
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
        assert_eq!(finished.status, StatusCode::OK, "{}", finished.text());
        let recovery_codes = finished.json()["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        // The enrolment's code can't sign in: wait for the next step.
        self.clock.advance_seconds(30);
        let code = authenticator_code(self, &secret, self.clock_now());
        let login = browser
            .post(
                "/api/staff/login",
                &[
                    ("username", name),
                    ("password", STAFF_PASSWORD),
                    ("code", &code),
                ],
            )
            .await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text());
        Staff {
            browser,
            secret,
            recovery_codes,
        }
    }

    pub fn clock_now(&self) -> i64 {
        use app::clock::Clock;
        self.clock.now()
    }

    /// Saves practice settings, as an admin's form does, and sees them saved.
    pub async fn save_practice(&self, settings: app::portal::PracticeSettings) {
        let saved = self.portal.save_practice(settings).await.unwrap();
        assert!(
            matches!(saved, app::store::PracticeSave::Saved { .. }),
            "{saved:?}"
        );
    }

    /// A patient registered with a verified number, signed in, in a browser of their own.
    pub async fn signed_in_patient(&self, username: &str) -> Browser<'_> {
        let mut browser = self.browser();
        browser.register_and_sign_in(username).await;
        browser
    }

    /// A registered patient signed in again, with their password and a code, in a new browser.
    pub async fn signed_in_patient_again(&self, username: &str) -> Browser<'_> {
        let mut browser = self.browser();
        let login = browser.log_in(username).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text());
        let code = self.last_code().await;
        let reply = browser.post("/api/verify_code", &[("code", &code)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        browser
    }

    /// A patient with a verified number who has signed in once and logged out.
    pub async fn verified_patient(&self, username: &str) {
        let mut browser = self.signed_in_patient(username).await;
        browser.post("/api/logout", &[]).await;
    }
}

impl Staff<'_> {
    /// The reference support gets for the patient named `username`, by searching for it.
    pub async fn find(&mut self, username: &str) -> String {
        let found = self
            .browser
            .post("/api/staff/search_patients", &[("query", username)])
            .await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.text());
        found.json()["patients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["username"] == username)
            .unwrap_or_else(|| panic!("{username} in {}", found.text()))["reference"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

pub const STAFF_PASSWORD: &str = "staff password for tests";

/// Whether the log text `line` holds `secret`. A code is digits alone, so it counts only where no digit or
/// decimal point touches it: the log's timings ("elapsed_secs":0.000108833) hold any six
/// digits by chance.
pub fn log_holds(line: &str, secret: &str) -> bool {
    if !secret.bytes().all(|b| b.is_ascii_digit()) {
        return line.contains(secret);
    }
    line.match_indices(secret).any(|(at, _)| {
        let before = line[..at].bytes().next_back();
        let after = line[at + secret.len()..].bytes().next();
        let touches = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit() || b == b'.');
        !touches(before) && !touches(after)
    })
}
