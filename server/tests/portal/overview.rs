//! The practice's overview: what admins see of the last 30 days, counted from the audit trail
//! and the outbox, drawn as SVG with a table beside each chart.

use crate::common;

use app::staff::StaffRole;
use axum::http::StatusCode;
use common::TestPortal;
use serde_json::Value;

/// The chart whose title starts with `title`: each series' name and its total.
fn totals(overview: &Value, title: &str) -> Vec<(String, i64)> {
    let chart = overview["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"].as_str().unwrap().starts_with(title))
        .unwrap_or_else(|| panic!("a chart {title:?} in {overview}"));
    chart["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let values = s["values"].as_array().unwrap();
            assert_eq!(values.len(), 30, "a value for each of 30 days");
            (
                s["name"].as_str().unwrap().to_string(),
                values.iter().map(|v| v.as_i64().unwrap()).sum(),
            )
        })
        .collect()
}

fn total(overview: &Value, title: &str, series: &str) -> i64 {
    totals(overview, title)
        .into_iter()
        .find(|(name, _)| name == series)
        .unwrap_or_else(|| panic!("{series:?} in {title:?}"))
        .1
}

#[tokio::test]
async fn the_overview_counts_the_last_thirty_days() {
    let portal = TestPortal::new().await;
    // Two patients sign in with a code; one also types a wrong code.
    for name in ["margaret", "mere"] {
        let mut patient = portal.browser();
        patient.register_and_sign_in(name).await;
        patient.post("/api/logout", &[]).await;
    }
    // Five wrong passwords: a lockout. Then support unlocks the account.
    let mut guesser = portal.browser_at("198.51.100.9");
    for _ in 0..5 {
        guesser
            .post(
                "/api/login",
                &[("username", "margaret"), ("password", "not the password")],
            )
            .await;
    }
    let mut support = portal.staff("sam", StaffRole::Support).await;
    let reference = support.find("margaret").await;
    let unlocked = support
        .browser
        .post(
            "/api/staff/support_action",
            &[
                ("patient", reference.as_str()),
                ("action", "unlock"),
                ("reason", "She called from her home phone"),
            ],
        )
        .await;
    assert_eq!(unlocked.status, StatusCode::OK, "{}", unlocked.text());

    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let reply = admin.browser.post("/api/staff/overview", &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let overview = reply.json();
    let days = overview["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(
        total(&overview, "Patients' sign-ins", "Text message code"),
        2
    );
    assert_eq!(total(&overview, "Patients' sign-ins", "Passkey"), 0);
    assert_eq!(total(&overview, "Codes sent", "Codes sent"), 2);
    assert_eq!(total(&overview, "Codes sent", "Codes verified"), 2);
    assert_eq!(total(&overview, "Lockouts", "Lockouts"), 1);
    assert_eq!(total(&overview, "Lockouts", "Support actions"), 1);
    // Two codes, and the notice telling Margaret what support did.
    assert_eq!(
        total(&overview, "Text messages", "Accepted by the provider"),
        3
    );
    let figures = &overview["figures"];
    assert_eq!(figures["texts_accepted"], 3);
    assert_eq!(figures["texts_settled"], 3);
    assert_eq!(figures["codes_sent"], 2);
    assert_eq!(figures["codes_verified"], 2);
    // All of it today: the newest day's column.
    let sign_ins_today: i64 = overview["charts"][0]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["values"][29].as_i64().unwrap())
        .sum();
    assert_eq!(sign_ins_today, 2);

    // The page: a chart drawn on the server, and the same numbers in a table.
    let page = admin
        .browser
        .portal
        .get("/staff/overview", admin.browser.cookie.as_deref())
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("<svg"), "{html}");
    assert!(html.contains("role=\"img\""));
    assert!(html.contains("<caption>Patients&#x27;") || html.contains("<caption>Patients'"));
    assert!(html.contains("Codes sent that were verified"));
    // Support sees that the page is not theirs.
    let page = support
        .browser
        .portal
        .get("/staff/overview", support.browser.cookie.as_deref())
        .await;
    assert!(
        page.text()
            .contains("Only the practice&#x27;s administrators")
            || page.text().contains("Only the practice's administrators")
    );

    // A month on, those days have left the overview.
    portal.clock.advance_seconds(31 * 24 * 3600);
    let mut admin = portal.staff("bea", StaffRole::Admin).await;
    let overview = admin.browser.post("/api/staff/overview", &[]).await.json();
    assert_eq!(
        total(&overview, "Patients' sign-ins", "Text message code"),
        0
    );
    assert_eq!(total(&overview, "Codes sent", "Codes sent"), 0);
    assert_eq!(overview["figures"]["texts_settled"], 0);
}

/// `GET /staff/audit.csv` as an admin's browser sends it, its answer left unread (so a long
/// export stays running), with `Sec-Fetch-Site` as given.
async fn start_export(
    portal: &TestPortal,
    admin: &common::Staff<'_>,
    site: &str,
) -> axum::http::Response<axum::body::Body> {
    use tower::ServiceExt;
    let mut request = axum::http::Request::get("/staff/audit.csv")
        .header("cookie", admin.browser.cookie.clone().unwrap())
        .header("sec-fetch-site", site)
        .body(axum::body::Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
            common::CLIENT.parse().unwrap(),
            50000,
        )));
    portal.router.clone().oneshot(request).await.unwrap()
}

#[tokio::test]
async fn exports_are_one_per_admin_and_two_at_once_and_never_from_another_site() {
    let portal = TestPortal::new().await;
    let key = portal.secret.audit_key();
    // More lines than an export can send before it waits for its download.
    let lines: Vec<app::store::AuditRow> = (0..10_000)
        .map(|n| app::store::AuditRow {
            at: portal.clock_now() - n,
            ip: "192.0.2.1".into(),
            event: "patient_viewed".into(),
            outcome: "ok".into(),
            ..Default::default()
        })
        .collect();
    for batch in lines.chunks(2_000) {
        portal
            .portal
            .store
            .record_audits(&key, batch)
            .await
            .unwrap();
    }
    let ada = portal.staff("ada", StaffRole::Admin).await;
    let bea = portal.staff("bea", StaffRole::Admin).await;
    let cal = portal.staff("cal", StaffRole::Admin).await;

    // A link on another site starts nothing.
    let refused = start_export(&portal, &ada, "cross-site").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    drop(refused);

    let first = start_export(&portal, &ada, "same-origin").await;
    assert_eq!(first.status(), StatusCode::OK);
    let again = start_export(&portal, &ada, "same-origin").await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(again.headers().contains_key("retry-after"));
    drop(again);
    let second = start_export(&portal, &bea, "none").await;
    assert_eq!(second.status(), StatusCode::OK);
    let third = start_export(&portal, &cal, "same-origin").await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    drop(third);

    // A finished download gives its place back.
    let body = axum::body::to_bytes(first.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(body.len() > 10_000);
    let mut started = None;
    for _ in 0..200 {
        let reply = start_export(&portal, &cal, "same-origin").await;
        if reply.status() == StatusCode::OK {
            started = Some(reply);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(started.is_some(), "a place came free");
    drop(second);
}

#[tokio::test]
async fn the_overview_reads_texts_as_counts_and_takes_their_median() {
    let portal = TestPortal::new().await;
    for name in ["margaret", "mere", "arthur"] {
        portal.browser().register_and_sign_in(name).await;
    }
    let counts = portal
        .portal
        .store
        .text_counts(portal.clock_now() - 30 * app::clock::DAY)
        .await
        .unwrap();
    // A row for each day and fate, however many texts.
    assert_eq!(counts.by_day.len(), 1, "{counts:?}");
    assert_eq!(counts.by_day[0].count, 3);
    assert_eq!(counts.by_day[0].fate, "accepted");
    assert!(counts.to_provider.iter().map(|t| t.count).sum::<i64>() == 3);
    // The clock stood still: each took under a tenth of a second, and so did the median.
    assert!(
        counts.to_provider.iter().all(|t| t.from_ms == 0),
        "{:?}",
        counts.to_provider
    );
    let mut admin = portal.staff("ada", app::staff::StaffRole::Admin).await;
    let overview = admin.browser.post("/api/staff/overview", &[]).await.json();
    assert_eq!(
        overview["figures"]["median_to_provider_ms"], 50,
        "{overview}"
    );
}
