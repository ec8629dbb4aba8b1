//! The metrics an operator scrapes: after a journey, each family has moved as it should. The
//! scrape is read with a Prometheus text parser, as Prometheus reads it.
//!
//! Metrics belong to the process, so this file holds one test: nothing else runs beside it.

mod common;

use app::{staff::StaffRole, store::NewSms};
use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use common::{TestPortal, PASSWORD};
use prometheus_parse::{Scrape, Value};
use tower::ServiceExt;

async fn scrape(metrics: &axum::Router) -> Scrape {
    let response = metrics
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(text.to_vec()).unwrap();
    Scrape::parse(text.lines().map(|line| Ok(line.to_string()))).unwrap()
}

/// The sum of every sample of `name` whose labels include `labels`; for a histogram, how many
/// it has recorded.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => panic!("{name} should be a histogram"),
        })
        .sum()
}

#[tokio::test]
async fn a_scrape_after_a_journey_shows_each_family_moving() {
    let portal = TestPortal::with(|settings| {
        settings.otp_ttl_seconds = 60;
        settings.limits.registrations_per_ip_hour = 3;
    })
    .await;
    server::metrics::recorder();
    let metrics = server::metrics::router(portal.portal.clone(), None);
    // Never on the public port.
    assert_eq!(
        portal.get("/metrics", None).await.status,
        StatusCode::NOT_FOUND
    );
    // Every family is there from the first scrape, at zero for the labels known in advance.
    let first = scrape(&metrics).await;
    for family in [
        "portal_http_requests_total",
        "portal_sign_ins_total",
        "portal_codes_total",
        "portal_sms_total",
        "portal_outbox_depth",
        "portal_password_queue_depth",
        "portal_sms_budget_used_ratio",
        "portal_sms_sent_total",
        "portal_codes_verified_total",
        "portal_limit_refusals_total",
        "portal_login_delays_total",
        "portal_build_info",
    ] {
        assert!(
            first.samples.iter().any(|s| s.metric == family),
            "{family} in the first scrape"
        );
    }
    assert_eq!(
        value(
            &first,
            "portal_limit_refusals_total",
            &[("limit", "sms_notice")]
        ),
        0.0
    );
    assert_eq!(
        value(
            &first,
            "portal_sms_total",
            &[("provider", "console"), ("status", "failed")]
        ),
        0.0
    );
    assert_eq!(value(&first, "portal_login_delays_total", &[]), 0.0);

    // With a token, only a scraper that gives it is answered.
    let token = "a token of thirty-two characters!".to_string();
    let guarded = server::metrics::router(portal.portal.clone(), Some(token.clone()));
    let ask = |authorization: Option<String>| {
        let guarded = guarded.clone();
        async move {
            let mut request = Request::get("/metrics");
            if let Some(authorization) = authorization {
                request = request.header("authorization", authorization);
            }
            guarded
                .oneshot(request.body(Body::empty()).unwrap())
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(ask(None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        ask(Some("Bearer not it".into())).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(ask(Some(format!("Bearer {token}"))).await, StatusCode::OK);

    // Its listener keeps the public one's deadlines: a scraper that never sends its headers
    // is closed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = server::config::HttpLimits {
        header_read_timeout: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    tokio::spawn(server::metrics::serve(
        listener,
        portal.portal.clone(),
        None,
        limits,
        std::future::pending(),
    ));
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut read = [0u8; 256];
        // Whatever it says first (a 408), the server ends the connection.
        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut silent, &mut read).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the silent connection was closed");

    // A patient registers and verifies their number, then signs in again with a code.
    let mut margaret = portal.browser();
    margaret.register_and_sign_in("margaret").await;
    margaret.post("/api/logout", &[]).await;
    assert_eq!(margaret.log_in("margaret").await.status, StatusCode::OK);
    margaret.post("/api/code_step", &[]).await;
    let wrong = margaret
        .post("/api/verify_code", &[("code", "000000")])
        .await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.text()
    );
    // The code runs out before it is typed.
    let code = portal.last_code().await;
    portal.clock.advance_seconds(61);
    margaret.post("/api/verify_code", &[("code", &code)]).await;

    // Five wrong passwords start a login delay.
    let mut guesser = portal.browser_at("198.51.100.9");
    for _ in 0..5 {
        guesser
            .post(
                "/api/login",
                &[("username", "margaret"), ("password", "not it at all")],
            )
            .await;
    }
    // A fourth registration from one address is over the limit.
    let mut signups = portal.browser_at("203.0.113.50");
    for n in 0..4 {
        signups.register(&format!("patient.{n}")).await;
    }
    // A staff member signs in with their authenticator app; five wrong tries of another's
    // start a staff member's login delay, which counts as a patient's does.
    portal.staff("rosa", StaffRole::Support).await;
    let mut staff_guesser = portal.browser_at("198.51.100.10");
    for _ in 0..5 {
        staff_guesser
            .post(
                "/api/staff/login",
                &[
                    ("username", "rosa"),
                    ("password", "not it at all"),
                    ("code", "000000"),
                ],
            )
            .await;
    }
    // An anonymous page, twice: rendered, then from memory. And a made-up path.
    portal.get("/login", None).await;
    portal.get("/login", None).await;
    portal.get("/staff/patients/123456/nothing", None).await;
    // A text waiting in the outbox, queued a while ago.
    let now = portal.clock_now();
    portal
        .portal
        .store
        .queue_sms(&NewSms {
            account_id: None,
            to: "+64215550199",
            sealed_body: &portal.portal.secret.seal("a notice"),
            now: now - 90_000,
            give_up_at: now + 600_000,
            purpose: "notice",
            after_provider: None,
        })
        .await
        .unwrap();

    let s = scrape(&metrics).await;
    let at_least = |name: &str, labels: &[(&str, &str)], n: f64| {
        let v = value(&s, name, labels);
        assert!(v >= n, "{name}{labels:?} is {v}, expected at least {n}");
    };

    // Requests, by route template and status.
    at_least(
        "portal_http_requests_total",
        &[("route", "/api/register"), ("status", "200")],
        1.0,
    );
    at_least(
        "portal_http_requests_total",
        &[("route", "/api/register"), ("status", "429")],
        1.0,
    );
    at_least(
        "portal_http_requests_total",
        &[("route", "/login"), ("status", "200")],
        2.0,
    );
    at_least(
        "portal_http_requests_total",
        &[("route", "unmatched"), ("status", "404")],
        1.0,
    );
    at_least(
        "portal_http_request_duration_seconds",
        &[("route", "/api/verify_code")],
        3.0,
    );
    // No label carries a path with an ID in it.
    for sample in &s.samples {
        for (_, label) in sample.labels.iter() {
            assert!(!label.contains("123456"), "{sample:?}");
        }
    }

    // Sign-ins, by who, outcome and factor.
    at_least(
        "portal_sign_ins_total",
        &[("who", "patient"), ("outcome", "ok"), ("factor", "sms")],
        1.0,
    );
    at_least(
        "portal_sign_ins_total",
        &[
            ("who", "patient"),
            ("outcome", "password_accepted"),
            ("factor", "password"),
        ],
        1.0,
    );
    at_least(
        "portal_sign_ins_total",
        &[
            ("who", "patient"),
            ("outcome", "wrong_password"),
            ("factor", "password"),
        ],
        5.0,
    );
    at_least(
        "portal_sign_ins_total",
        &[
            ("who", "staff"),
            ("outcome", "ok"),
            ("factor", "authenticator"),
        ],
        1.0,
    );

    // Codes: sent, verified, refused (the wrong one) and expired.
    at_least(
        "portal_codes_total",
        &[("purpose", "sign_in"), ("event", "sent")],
        2.0,
    );
    at_least(
        "portal_codes_total",
        &[("purpose", "sign_in"), ("event", "verified")],
        1.0,
    );
    at_least(
        "portal_codes_total",
        &[("purpose", "sign_in"), ("event", "refused")],
        1.0,
    );
    at_least(
        "portal_codes_total",
        &[("purpose", "sign_in"), ("event", "expired")],
        1.0,
    );

    // Texts, and how long each waited to be accepted.
    at_least(
        "portal_sms_total",
        &[("provider", "console"), ("status", "sent")],
        2.0,
    );
    at_least(
        "portal_sms_delivery_seconds",
        &[("provider", "console"), ("stage", "accepted")],
        2.0,
    );
    // By country, purpose and provider; and codes verified by country.
    at_least(
        "portal_sms_sent_total",
        &[
            ("country", "NZ"),
            ("purpose", "sign_in"),
            ("provider", "console"),
        ],
        2.0,
    );
    at_least("portal_codes_verified_total", &[("country", "NZ")], 1.0);
    assert_eq!(value(&s, "portal_outbox_depth", &[]), 1.0);
    at_least("portal_outbox_oldest_seconds", &[], 90.0);

    // Passwords: every check waited its turn, and none waits now.
    at_least("portal_password_wait_seconds", &[], 8.0);
    assert_eq!(value(&s, "portal_password_queue_depth", &[]), 0.0);

    // Limits and delays.
    at_least(
        "portal_limit_refusals_total",
        &[("limit", "registration_ip")],
        1.0,
    );
    // The patient's lockout and the staff member's.
    at_least("portal_login_delays_total", &[], 2.0);

    // The database's connections, and the page cache.
    at_least("portal_db_pool_connections", &[("state", "max")], 1.0);
    at_least("portal_db_pool_connections", &[("state", "idle")], 0.0);
    at_least("portal_page_cache_total", &[("result", "hit")], 1.0);
    at_least("portal_page_cache_total", &[("result", "miss")], 1.0);

    // What is running.
    let build = s
        .samples
        .iter()
        .find(|s| s.metric == "portal_build_info")
        .expect("portal_build_info");
    assert_eq!(build.labels.get("version"), Some(env!("CARGO_PKG_VERSION")));
    assert!(!build.labels.get("commit").unwrap_or_default().is_empty());

    // Every family is the portal's own, in base units.
    for sample in &s.samples {
        assert!(sample.metric.starts_with("portal_"), "{}", sample.metric);
    }
    let _ = PASSWORD;
}
