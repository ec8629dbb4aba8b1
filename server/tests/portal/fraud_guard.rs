//! The text fraud guard, through the router and on both engines: a pumping burst on a foreign
//! prefix (blocked in Block, only counted in Watch), a burst at home (watched, not blocked), a
//! verified patient on a blocked prefix still signed in, and "Allow this prefix".

use crate::common;

use app::{portal::FraudGuard, staff::StaffRole};
use axum::http::StatusCode;
use common::TestPortal;
use phonenumber::country::Id;

async fn portal_guarding(mode: FraudGuard) -> TestPortal {
    TestPortal::with(|s| {
        s.allowed_regions = vec![Id::NZ, Id::AU];
        s.practice.text_fraud_guard = mode;
    })
    .await
}

/// Registers `username` with `mobile` from network `n`, and asks for the code.
async fn register_from<'p>(
    portal: &'p TestPortal,
    n: usize,
    username: &str,
    mobile: &str,
) -> (common::Browser<'p>, common::Reply) {
    let mut browser = portal.browser_at(&format!("198.51.{n}.7"));
    let registered = browser
        .post("/api/register", &common::registration(username, mobile))
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text());
    let sent = browser.post("/api/send_code", &[]).await;
    (browser, sent)
}

/// Ten codes to one prefix from ten networks, none verified.
async fn burst(portal: &TestPortal, first_digits: &str) {
    for n in 0..10 {
        let number = format!("{first_digits}{n:02}");
        let (_, sent) = register_from(portal, n + 1, &format!("pumped{n}"), &number).await;
        assert_eq!(sent.status, StatusCode::OK, "{number}: {}", sent.text());
    }
}

async fn audit_details(portal: &TestPortal, event: &str) -> Vec<String> {
    static AUDITORS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = AUDITORS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let mut admin = portal.staff(&format!("auditor{n}"), StaffRole::Admin).await;
    let log = admin
        .browser
        .post("/api/staff/audit_log", &[("event", event)])
        .await
        .json();
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["detail"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_pumping_burst_on_a_foreign_prefix_is_blocked_and_a_verified_patient_there_still_signs_in(
) {
    let portal = portal_guarding(FraudGuard::Block).await;
    // A real patient on that prefix, verified before the burst.
    let (mut real, _) = register_from(&portal, 200, "aroha", "+61412340099").await;
    let code = portal.last_code().await;
    let verified = real.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    real.post("/api/logout", &[]).await;

    burst(&portal, "+614123400").await;
    // Not judged before the codes could have been typed: the burst went.
    let (_, early) = register_from(&portal, 50, "early", "+61412340050").await;
    assert_eq!(early.status, StatusCode::OK, "{}", early.text());

    portal.clock.advance_seconds(181);
    let texts_before = portal.texts().await.len();
    let (_, refused) = register_from(&portal, 51, "late", "+61412340051").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert!(refused
        .text()
        .contains("We can't send a text to this number right now."));
    assert_eq!(portal.texts().await.len(), texts_before, "nothing sent");
    let blocked = audit_details(&portal, "texts_blocked").await;
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert!(
        blocked[0].starts_with(
            "prefix +6141234: blocked for 12 hours; 12 codes in the last hour, 1 verified, from"
        ),
        "{}",
        blocked[0]
    );
    // Another number on the prefix is refused too; a number elsewhere isn't.
    let (_, also) = register_from(&portal, 52, "another", "+61412340077").await;
    assert_eq!(also.status, StatusCode::FORBIDDEN);
    let (_, elsewhere) = register_from(&portal, 53, "elsewhere", "+61498760001").await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.text());

    // The verified patient's sign-in code is never blocked.
    let before = portal.texts().await.len();
    let login = real.log_in("aroha").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    assert_eq!(portal.texts().await.len(), before + 1);

    // The overview lists it; "Allow this prefix" needs a reason and "Confirm", admins only.
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let overview = admin.browser.post("/api/staff/overview", &[]).await.json();
    assert_eq!(overview["blocked"][0]["subject"], "+6141234", "{overview}");
    assert_eq!(overview["blocked"][0]["enforced"], true);
    // "Where texts go": the codes to new numbers by country, and how many were entered.
    let countries = overview["countries"].as_array().unwrap();
    let australia = countries.iter().find(|c| c["country"] == "AU").unwrap();
    assert_eq!(australia["codes"], 13, "{overview}");
    assert_eq!(australia["verified"], 1);
    let page = admin
        .browser
        .portal
        .get("/staff/overview", admin.browser.cookie.as_deref())
        .await
        .text();
    assert!(page.contains("Prefix +6141234…"), "{page}");
    assert!(page.contains("Where texts go"), "{page}");
    assert!(page.contains(">Allow this prefix</button>"), "{page}");
    let allow = |reason: &'static str, confirm: Option<&'static str>| {
        let mut fields = vec![
            ("kind", "prefix"),
            ("subject", "+6141234"),
            ("reason", reason),
        ];
        if let Some(c) = confirm {
            fields.push(("confirm", c));
        }
        fields
    };
    let mut support = portal.staff("sam", StaffRole::Support).await;
    let not_theirs = support
        .browser
        .post("/api/staff/allow_texts", &allow("ok", Some("on")))
        .await;
    assert_eq!(not_theirs.status, StatusCode::FORBIDDEN);
    let unconfirmed = admin
        .browser
        .post("/api/staff/allow_texts", &allow("Our Sydney clinic", None))
        .await;
    assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!unconfirmed.field_error("confirm").is_empty());
    let no_reason = admin
        .browser
        .post("/api/staff/allow_texts", &allow("", Some("on")))
        .await;
    assert!(!no_reason.field_error("reason").is_empty());
    let allowed = admin
        .browser
        .post(
            "/api/staff/allow_texts",
            &allow("Our Sydney clinic", Some("on")),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text());
    let (_, goes) = register_from(&portal, 54, "after", "+61412340054").await;
    assert_eq!(goes.status, StatusCode::OK, "{}", goes.text());
    assert!(audit_details(&portal, "texts_allowed").await[0]
        .contains("prefix +6141234 allowed for 30 days; reason: Our Sydney clinic"));
}

#[tokio::test]
async fn in_watch_mode_the_same_burst_is_only_counted() {
    let portal = portal_guarding(FraudGuard::Watch).await;
    burst(&portal, "+614123400").await;
    portal.clock.advance_seconds(181);
    let (_, sent) = register_from(&portal, 51, "late", "+61412340051").await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let watched = audit_details(&portal, "texts_blocked").await;
    assert!(
        watched[0].contains("watched: it would be blocked"),
        "{watched:?}"
    );
}

#[tokio::test]
async fn a_burst_at_home_is_watched_but_not_blocked_unless_the_practice_says_so() {
    let portal = portal_guarding(FraudGuard::Block).await;
    burst(&portal, "+642155512").await;
    portal.clock.advance_seconds(181);
    let (_, sent) = register_from(&portal, 51, "late", "+64215551251").await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let watched = audit_details(&portal, "texts_blocked").await;
    assert!(
        watched[0].starts_with("prefix +6421555: watched"),
        "{watched:?}"
    );

    // "Block at home too".
    let home = TestPortal::with(|s| {
        s.practice.text_fraud_guard = FraudGuard::Block;
        s.practice.block_at_home = true;
    })
    .await;
    burst(&home, "+642155512").await;
    home.clock.advance_seconds(181);
    let (_, refused) = register_from(&home, 51, "late", "+64215551251").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
}

/// The token of the newest link to confirm an address for alerts, emailed to `to`.
async fn alerts_link(portal: &TestPortal, to: &str) -> String {
    let emails = portal.portal.store.dev_email().await.unwrap();
    let body = emails
        .iter()
        .rev()
        .find(|e| e.to_address == to && e.subject == "Confirm your address for alerts")
        .map(|e| e.body.clone())
        .expect("a link to confirm the address");
    let link = body
        .lines()
        .find(|line| line.contains("confirm_alerts="))
        .expect("its link");
    link.split("confirm_alerts=")
        .nth(1)
        .unwrap()
        .trim()
        .to_string()
}

async fn emails_to(portal: &TestPortal, to: &str) -> Vec<String> {
    let emails = portal.portal.store.dev_email().await.unwrap();
    emails
        .into_iter()
        .filter(|e| e.to_address == to)
        .map(|e| e.subject)
        .collect()
}

#[tokio::test]
async fn admins_with_a_confirmed_address_are_emailed_when_a_block_trips() {
    let portal = portal_guarding(FraudGuard::Block).await;
    let mut ada = portal.staff("ada", StaffRole::Admin).await;
    let mut bob = portal.staff("bob", StaffRole::Admin).await;
    let bad = ada
        .browser
        .post("/api/staff/alert_email", &[("email", "not an address")])
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad.text()
    );
    for (admin, to) in [
        (&mut ada, "ada@harbour.example"),
        (&mut bob, "bob@harbour.example"),
    ] {
        let saved = admin
            .browser
            .post("/api/staff/alert_email", &[("email", to)])
            .await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    }
    // Only its own admin can follow a link, and only once.
    let token = alerts_link(&portal, "ada@harbour.example").await;
    let not_bobs = bob
        .browser
        .post("/api/staff/confirm_alert_email", &[("token", &token)])
        .await;
    assert_eq!(not_bobs.status, StatusCode::FORBIDDEN);
    let confirmed = ada
        .browser
        .post("/api/staff/confirm_alert_email", &[("token", &token)])
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    let again = ada
        .browser
        .post("/api/staff/confirm_alert_email", &[("token", &token)])
        .await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    let overview = ada.browser.post("/api/staff/overview", &[]).await.json();
    assert_eq!(overview["alert_email"], "ada@harbour.example");
    assert_eq!(overview["alert_email_confirmed"], true);
    let theirs = bob.browser.post("/api/staff/overview", &[]).await.json();
    assert_eq!(theirs["alert_email_confirmed"], false);

    burst(&portal, "+614123400").await;
    portal.clock.advance_seconds(181);
    let (_, refused) = register_from(&portal, 51, "late", "+61412340051").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let ada_got = emails_to(&portal, "ada@harbour.example").await;
    assert_eq!(
        ada_got,
        [
            "Confirm your address for alerts",
            "Patient Portal: texts to a number prefix blocked"
        ],
        "{ada_got:?}"
    );
    // An address not confirmed gets nothing but its link.
    assert_eq!(
        emails_to(&portal, "bob@harbour.example").await,
        ["Confirm your address for alerts"]
    );
    // The block renewing isn't a new alert.
    let (_, also) = register_from(&portal, 52, "another", "+61412340077").await;
    assert_eq!(also.status, StatusCode::FORBIDDEN);
    assert_eq!(emails_to(&portal, "ada@harbour.example").await.len(), 2);
    // Every change of address is audited.
    let changes = audit_details(&portal, "alert_email_changed").await;
    assert_eq!(changes.len(), 3, "{changes:?}");
}

#[tokio::test]
async fn forty_requests_at_once_send_one_link_for_alerts_and_the_next_waits_a_minute() {
    let portal = portal_guarding(FraudGuard::Block).await;
    let ada = portal.staff("ada", StaffRole::Admin).await;
    let cookie = ada.browser.cookie.clone();
    let replies = futures::future::join_all((0..40).map(|_| {
        portal.post_raw(
            "/api/staff/alert_email",
            "email=someone%40example.org",
            cookie.as_deref(),
        )
    }))
    .await;
    let sent = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let waited = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((sent, waited), (1, 39));
    assert_eq!(emails_to(&portal, "someone@example.org").await.len(), 1);
    assert!(replies.iter().any(|r| r
        .text()
        .contains("Please wait a minute before asking for another.")));

    portal.clock.advance_seconds(61);
    let again = portal
        .post_raw(
            "/api/staff/alert_email",
            "email=someone%40example.org",
            cookie.as_deref(),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(emails_to(&portal, "someone@example.org").await.len(), 2);
}
