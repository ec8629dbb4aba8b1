//! Texts through two providers, with two local stand-ins (`twilio` first, then `webhook`),
//! through the router and on both engines: a first provider that fails or times out, where the
//! patient gets the same code through the second, and one Twilio reports undelivered within the
//! wait; a second "Send Code" after the wait; each provider's circuit opening and closing,
//! shared by two instances of one database; and every provider down, then back.

use crate::common;

use std::time::Duration;

use app::staff::StaffRole;
use axum::http::StatusCode;
use common::{
    standin::{Answer, StandIn},
    TestPortal,
};

struct TwoProviders {
    portal: TestPortal,
    first: StandIn,
    second: StandIn,
}

async fn two_providers(first: Vec<Answer>, second: Vec<Answer>) -> TwoProviders {
    two_providers_timing_out_after(first, second, Duration::from_secs(5)).await
}

async fn two_providers_timing_out_after(
    first: Vec<Answer>,
    second: Vec<Answer>,
    timeout: Duration,
) -> TwoProviders {
    let (first, second) = (StandIn::start(first).await, StandIn::start(second).await);
    let providers = vec![first.twilio(timeout), second.webhook()];
    let portal = TestPortal::with_providers(|_| {}, move |_, _| providers).await;
    TwoProviders {
        portal,
        first,
        second,
    }
}

/// Two providers (Twilio first) whose delivery reports the portal takes.
async fn two_providers_reporting(first: Vec<Answer>) -> TwoProviders {
    let two = two_providers(first, vec![]).await;
    let callbacks = app::sms::StatusCallbacks {
        auth_token: common::standin::TOKEN.into(),
        url: common::standin::STATUS_URL.into(),
    };
    let portal = two
        .portal
        .restart_with(
            vec![
                two.first.twilio(Duration::from_secs(5)),
                two.second.webhook(),
            ],
            server::Wiring {
                twilio_callbacks: Some(callbacks),
                dev_outbox: true,
                ..Default::default()
            },
        )
        .await;
    TwoProviders { portal, ..two }
}

/// Twilio's id for the `n`th text the stand-in took.
fn sid(n: usize) -> String {
    format!("SM{n:032}")
}

/// Registers patient number `n` (from their own network), and asks for their code.
async fn register_and_send(portal: &TestPortal, n: usize) -> common::Reply {
    let mut browser = portal.browser_at(&format!("198.51.100.{}", 10 + n));
    let registered = browser
        .post(
            "/api/register",
            &common::registration(&format!("patient{n}"), &format!("021 555 {:04}", 2000 + n)),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text());
    browser.post("/api/send_code", &[]).await
}

/// Waits (in real time) until `standin` has had `n` requests.
async fn until_received(standin: &StandIn, n: usize) {
    for _ in 0..200 {
        if standin.received().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "the stand-in had {} requests, not {n}",
        standin.received().len()
    );
}

async fn providers_of_texts(portal: &TestPortal, username: &str) -> Vec<serde_json::Value> {
    let mut support = portal.staff("sam", StaffRole::Support).await;
    let reference = support.find(username).await;
    let record = support
        .browser
        .post("/api/staff/patient", &[("patient", &reference)])
        .await
        .json();
    record["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["provider"].clone())
        .collect()
}

#[tokio::test]
async fn a_text_the_first_provider_refuses_goes_through_the_second_with_the_same_code() {
    let two = two_providers(vec![Answer::Status(500, "down")], vec![]).await;
    let mut browser = two.portal.browser();
    browser.register("margaret").await;
    let sent = browser.post("/api/send_code", &[]).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    assert_eq!(two.first.received().len(), 1);
    assert_eq!(two.second.received().len(), 1);
    // The same body: the code the first was given is the one the second carried.
    let code = two.second.received()[0].code();
    assert_eq!(two.first.received()[0].code(), code);
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    // Support sees which provider carried it.
    assert_eq!(
        providers_of_texts(&two.portal, "margaret").await,
        [serde_json::json!("webhook")]
    );
}

#[tokio::test]
async fn a_first_provider_that_times_out_is_followed_by_the_second() {
    let two = two_providers_timing_out_after(
        vec![Answer::Stall(Duration::from_secs(3))],
        vec![],
        Duration::from_millis(500),
    )
    .await;
    let mut browser = two.portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    until_received(&two.second, 1).await;
    let code = two.second.received()[0].code();
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
}

#[tokio::test]
async fn after_five_failures_in_a_row_a_provider_is_skipped_for_60_seconds_then_tried_again() {
    let two = two_providers(vec![Answer::Status(503, "down"); 5], vec![]).await;
    for n in 0..5 {
        let sent = register_and_send(&two.portal, n).await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    }
    assert_eq!(two.first.received().len(), 5);
    assert_eq!(two.second.received().len(), 5);
    // Open: the next text goes straight to the second.
    register_and_send(&two.portal, 5).await;
    assert_eq!(two.first.received().len(), 5, "skipped while open");
    assert_eq!(two.second.received().len(), 6);
    // Another instance of the same database skips it too, from the attempts this one recorded.
    let other_first = StandIn::start(vec![]).await;
    let other_second = StandIn::start(vec![]).await;
    let other = two
        .portal
        .another_instance(vec![
            other_first.twilio(Duration::from_secs(5)),
            other_second.webhook(),
        ])
        .await;
    register_and_send(&other, 6).await;
    assert_eq!(
        other_first.received().len(),
        0,
        "the other instance skips it too"
    );
    assert_eq!(other_second.received().len(), 1);
    // The overview shows it down, with its failures.
    let mut admin = two.portal.staff("ada", StaffRole::Admin).await;
    let overview = admin.browser.post("/api/staff/overview", &[]).await.json();
    let providers = &overview["providers"];
    assert_eq!(providers[0]["name"], "twilio", "{overview}");
    assert_eq!(providers[0]["up"], false);
    assert_eq!(providers[0]["failed"], 5);
    assert!(providers[0]["state"]
        .as_str()
        .unwrap()
        .starts_with("Down: skipped until"));
    assert_eq!(providers[1]["up"], true);
    assert_eq!(providers[1]["taken"], 7);

    // 60 s after its last failure one text tries it, and going through closes the circuit.
    two.portal.clock.advance_seconds(61);
    register_and_send(&two.portal, 7).await;
    assert_eq!(two.first.received().len(), 6);
    assert_eq!(two.second.received().len(), 6);
    register_and_send(&two.portal, 8).await;
    assert_eq!(two.first.received().len(), 7, "closed again");
}

#[tokio::test]
async fn with_every_provider_down_the_code_step_says_so_and_the_waiting_text_goes_once_they_return()
{
    let two = two_providers(
        vec![Answer::Status(503, "down"); 5],
        vec![Answer::Status(503, "down too"); 5],
    )
    .await;
    for n in 0..5 {
        register_and_send(&two.portal, n).await;
    }
    let worker = tokio::spawn(two.portal.portal.outbox.clone().run());
    let mut browser = two.portal.browser();
    browser.register("margaret").await;
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["texts_delayed"], true, "{step}");
    let page = two
        .portal
        .get("/verify", browser.cookie.as_deref())
        .await
        .text();
    assert!(
        page.contains("Text messages are delayed right now."),
        "{page}"
    );
    // The code is issued and waits: neither provider is tried.
    let (first_before, second_before) = (two.first.received().len(), two.second.received().len());
    let sent = browser.post("/api/send_code", &[]).await;
    assert!(sent.status.is_success() || sent.status == StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(two.first.received().len(), first_before);
    assert_eq!(two.second.received().len(), second_before);
    // The portal stays ready: signing in with a passkey or a remembered device still works.
    for _ in 0..100 {
        if two.portal.portal.outbox.is_working() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(two.portal.get("/readyz", None).await.status, StatusCode::OK);

    // Back: 60 s on, the waiting text goes, once.
    two.portal.clock.advance_seconds(61);
    two.portal.portal.outbox.deliver_due().await.unwrap();
    let all: Vec<_> = two
        .first
        .received()
        .into_iter()
        .chain(two.second.received())
        .filter(|r| r.to_number() == "+64215550123")
        .collect();
    assert_eq!(all.len(), 1, "the waiting text went once");
    let code = all[0].code();
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    let step = browser.post("/api/me", &[]).await;
    assert_eq!(step.status, StatusCode::OK);
    worker.abort();
}

#[tokio::test]
async fn a_text_twilio_reports_undelivered_within_the_wait_goes_through_the_second_with_the_same_code(
) {
    let two = two_providers_reporting(vec![]).await;
    let worker = tokio::spawn(two.portal.portal.outbox.clone().run());
    let mut browser = two.portal.browser();
    browser.register("margaret").await;
    let sent = browser.post("/api/send_code", &[]).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    assert_eq!(two.first.received().len(), 1);
    assert!(two.second.received().is_empty());

    two.portal.clock.advance_seconds(20);
    let reported = two.portal.twilio_report(&sid(1), "undelivered").await;
    assert_eq!(reported.status, StatusCode::NO_CONTENT);
    until_received(&two.second, 1).await;
    let code = two.second.received()[0].code();
    assert_eq!(two.first.received()[0].code(), code, "the same body");
    assert_eq!(
        two.first.received().len(),
        1,
        "not sent again through the first"
    );
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    assert_eq!(
        providers_of_texts(&two.portal, "margaret").await,
        [serde_json::json!("webhook")]
    );
    // Reported again (or late): nothing more goes.
    two.portal.twilio_report(&sid(1), "failed").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(two.second.received().len(), 1);
    worker.abort();
}

#[tokio::test]
async fn a_report_after_the_wait_sends_nothing_more_and_the_kept_body_is_dropped() {
    let two = two_providers_reporting(vec![]).await;
    let mut browser = two.portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    let store = &two.portal.portal.store;
    let id = store.latest_sms_id().await.unwrap().unwrap();
    assert!(store.sms_body_kept(id).await.unwrap(), "kept for the wait");

    two.portal.clock.advance_seconds(31);
    let reported = two.portal.twilio_report(&sid(1), "undelivered").await;
    assert_eq!(reported.status, StatusCode::NO_CONTENT);
    assert_eq!(two.portal.portal.outbox.deliver_due().await.unwrap(), 0);
    assert!(two.second.received().is_empty());
    assert_eq!(
        two.portal.portal.outbox.forget_kept_texts().await.unwrap(),
        1
    );
    assert!(
        !store.sms_body_kept(id).await.unwrap(),
        "dropped after the wait"
    );
    // Support still sees the text, its number masked.
    let texts = providers_of_texts(&two.portal, "margaret").await;
    assert_eq!(texts, [serde_json::json!("twilio")]);
}

#[tokio::test]
async fn a_second_send_code_after_the_wait_goes_through_the_next_provider() {
    let two = two_providers_reporting(vec![]).await;
    let mut browser = two.portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    assert_eq!(two.first.received().len(), 1);

    // Not reported delivered after the wait: the next.
    two.portal.clock.advance_seconds(31);
    let again = browser.post("/api/send_code", &[]).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(two.first.received().len(), 1);
    assert_eq!(two.second.received().len(), 1);
    let code = two.second.received()[0].code();
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());

    // Reported delivered: a later "Send Code" starts at the first again.
    let mut other = two.portal.browser();
    other.register("wiremu").await;
    other.post("/api/send_code", &[]).await;
    assert_eq!(two.first.received().len(), 2);
    two.portal.twilio_report(&sid(2), "delivered").await;
    two.portal.clock.advance_seconds(31);
    other.post("/api/send_code", &[]).await;
    assert_eq!(two.first.received().len(), 3);
    assert_eq!(two.second.received().len(), 1);
}
