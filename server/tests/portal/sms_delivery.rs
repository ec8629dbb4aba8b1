//! Real delivery: the `twilio` and `webhook` providers against local stand-ins, the outbox's
//! retries and restarts, Twilio's status callbacks, the anti-pumping limits, and logs free of codes.

use crate::common;

use std::{sync::Arc, time::Duration};

use app::sms::{twilio::twilio_signature, webhook::webhook_signature, SmsSender, StatusCallbacks};
use axum::http::StatusCode;
use base64::{engine::general_purpose::STANDARD, Engine};
use common::{
    standin::{Answer, StandIn},
    TestPortal,
};

use common::standin::{SID, TOKEN};
const SEND_FAILED: &str =
    "We couldn't send the text right now — try again in a moment, or contact support";

fn twilio(standin: &StandIn, timeout: Duration) -> Arc<dyn SmsSender> {
    standin.twilio(timeout)
}

fn webhook(standin: &StandIn) -> Arc<dyn SmsSender> {
    standin.webhook()
}

async fn portal_via(sender: Arc<dyn SmsSender>) -> TestPortal {
    TestPortal::with_sender(|_| {}, move |_, _| sender).await
}

#[tokio::test]
async fn twilio_gets_the_messages_api_request_and_the_code_verifies() {
    let standin = StandIn::start(vec![]).await;
    let portal = portal_via(twilio(&standin, Duration::from_secs(5))).await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    let sent = browser.post("/api/send_code", &[]).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());

    let received = standin.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{SID}/Messages.json")
    );
    let expected_auth = format!("Basic {}", STANDARD.encode(format!("{SID}:{TOKEN}")));
    assert_eq!(request.headers["authorization"], expected_auth.as_str());
    assert_eq!(request.field("To").as_deref(), Some("+64215550123"));
    assert_eq!(request.field("From").as_deref(), Some("+6498765432"));
    assert_eq!(
        request.field("StatusCallback").as_deref(),
        Some("http://127.0.0.1:3000/sms/status")
    );
    let body = request.field("Body").unwrap();
    let code = request.code();
    assert_eq!(
        body,
        format!(
            "{code} is your Patient Portal code. It expires in 10 minutes. Don't share it.\
             \n\n@127.0.0.1 #{code}"
        )
    );
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK);
}

#[tokio::test]
async fn the_webhook_gets_signed_json_with_a_stable_idempotency_key() {
    let standin = StandIn::start(vec![Answer::Status(503, "busy")]).await;
    let portal = portal_via(webhook(&standin)).await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    portal.clock.advance_seconds(5);
    portal.portal.outbox.deliver_due().await.unwrap();

    let received = standin.received();
    assert_eq!(received.len(), 2, "one failure, one retry");
    for request in &received {
        assert_eq!(request.path, "/sms");
        let json = request.json();
        assert_eq!(json["to"], "+64215550123");
        assert!(json["body"]
            .as_str()
            .unwrap()
            .contains("is your Patient Portal code"));
        assert_eq!(
            request.headers["x-portal-signature"],
            webhook_signature("webhook-secret", &request.body).as_str()
        );
        assert_eq!(
            request.headers["idempotency-key"],
            format!("sms-{}", json["id"].as_str().unwrap()).as_str()
        );
    }
    assert_eq!(
        received[0].headers["idempotency-key"],
        received[1].headers["idempotency-key"]
    );
}

#[tokio::test]
async fn two_server_errors_then_success_delivers_a_code_that_verifies() {
    let standin = StandIn::start(vec![
        Answer::Status(500, "oops"),
        Answer::Status(500, "oops again"),
    ])
    .await;
    let portal = portal_via(twilio(&standin, Duration::from_secs(5))).await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    let first = browser.post("/api/send_code", &[]).await;
    // The patient hears at once that the text didn't go (and when they may ask again).
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(first.json()["message"], SEND_FAILED);
    assert_eq!(first.json()["retry_after_seconds"], 30);

    // Backoff: 1 s, then 2 s (±25 %).
    portal.clock.advance_seconds(2);
    portal.portal.outbox.deliver_due().await.unwrap();
    portal.clock.advance_seconds(3);
    portal.portal.outbox.deliver_due().await.unwrap();
    let received = standin.received();
    assert_eq!(received.len(), 3);
    let code = received[2].code();
    assert_eq!(
        received[0].code(),
        code,
        "every attempt carries the same code"
    );

    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
}

#[tokio::test]
async fn every_attempt_is_recorded() {
    let standin = StandIn::start(vec![Answer::Status(502, "bad gateway")]).await;
    let portal = portal_via(twilio(&standin, Duration::from_secs(5))).await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    portal.clock.advance_seconds(2);
    portal.portal.outbox.deliver_due().await.unwrap();
    let id = portal.portal.store.latest_sms_id().await.unwrap().unwrap();
    let attempts = portal.portal.store.sms_attempts(id).await.unwrap();
    assert_eq!(
        attempts,
        vec![(1, "retry".to_string()), (2, "sent".to_string())]
    );
    assert_eq!(
        portal
            .portal
            .store
            .sms_status(id)
            .await
            .unwrap()
            .map(|s| s.as_str()),
        Some("sent")
    );
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let standin = StandIn::start(vec![Answer::Stall(Duration::from_secs(3))]).await;
    let portal = portal_via(twilio(&standin, Duration::from_millis(300))).await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    let started = std::time::Instant::now();
    let first = browser.post("/api/send_code", &[]).await;
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the patient isn't kept waiting"
    );
    portal.clock.advance_seconds(2);
    portal.portal.outbox.deliver_due().await.unwrap();
    let received = standin.received();
    assert_eq!(received.len(), 2);
    let code = received[1].code();
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK);
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_the_patient_can_ask_again_at_once() {
    let standin = StandIn::start(vec![Answer::Status(
        400,
        "The 'To' number +64215550123 is not a valid phone number.",
    )])
    .await;
    let portal = portal_via(twilio(&standin, Duration::from_secs(5))).await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    let refused = browser.post("/api/send_code", &[]).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.json()["message"], SEND_FAILED);
    assert!(refused.json()["retry_after_seconds"].is_null());

    portal.clock.advance_seconds(120);
    portal.portal.outbox.deliver_due().await.unwrap();
    assert_eq!(standin.received().len(), 1, "a 400 is never retried");

    // No cooldown holds the patient back: the code was withdrawn.
    let again = browser.post("/api/send_code", &[]).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
}

#[tokio::test]
async fn a_finished_message_keeps_no_phone_number_not_even_in_the_providers_error() {
    let standin = StandIn::start(vec![
        Answer::Status(
            400,
            "The 'To' number +64215550123 is not a valid phone number.",
        ),
        Answer::Accept,
    ])
    .await;
    let portal = portal_via(twilio(&standin, Duration::from_secs(5))).await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    browser.post("/api/send_code", &[]).await;
    let store = &portal.portal.store;
    let latest = store.latest_sms_id().await.unwrap().unwrap();
    let (failed_to, failed_status, error) = store.sms_row(latest - 1).await.unwrap().unwrap();
    assert_eq!(failed_status, "failed");
    assert_eq!(failed_to, "***123");
    let error = error.unwrap();
    assert!(
        error.contains("***123") && !error.contains("5550123"),
        "{error}"
    );
    let (sent_to, sent_status, _) = store.sms_row(latest).await.unwrap().unwrap();
    assert_eq!(sent_status, "sent");
    assert_eq!(sent_to, "***123");
}

#[tokio::test]
async fn a_message_pending_at_shutdown_is_delivered_once_after_restart() {
    let down = StandIn::start(vec![Answer::Status(503, "down for maintenance")]).await;
    let before = portal_via(webhook(&down)).await;
    let mut browser = before.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    let cookie = browser.cookie.clone();
    assert_eq!(down.received().len(), 1);

    // The server stops; it starts again with the gateway back up.
    let up = StandIn::start(vec![]).await;
    let after = before.restart(webhook(&up), Default::default()).await;
    drop(before);
    after.clock.advance_seconds(5);
    assert_eq!(after.portal.outbox.deliver_due().await.unwrap(), 1);
    after.clock.advance_seconds(60);
    assert_eq!(after.portal.outbox.deliver_due().await.unwrap(), 0);
    let received = up.received();
    assert_eq!(received.len(), 1, "delivered exactly once");
    assert_eq!(received[0].json()["id"], down.received()[0].json()["id"]);

    let code = received[0].code();
    let verified = after
        .post_raw(
            "/api/verify_code",
            &format!("code={code}"),
            cookie.as_deref(),
        )
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
}

#[tokio::test]
async fn status_callbacks_must_carry_twilios_signature() {
    let standin = StandIn::start(vec![]).await;
    let sender = twilio(&standin, Duration::from_secs(5));
    let first = portal_via(sender.clone()).await;
    let callbacks = StatusCallbacks {
        auth_token: TOKEN.into(),
        url: "http://127.0.0.1:3000/sms/status".into(),
    };
    let portal = first
        .restart(
            sender,
            server::Wiring {
                twilio_callbacks: Some(callbacks),
                ..Default::default()
            },
        )
        .await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    let sid = format!("SM{:032}", 1);
    let params = vec![
        ("MessageSid".to_string(), sid.clone()),
        ("MessageStatus".to_string(), "delivered".to_string()),
        ("AccountSid".to_string(), SID.to_string()),
    ];
    let body = common::form(
        &params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    );
    let post = |signature: String| {
        axum::http::Request::post("/sms/status")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(axum::body::Body::from(body.clone()))
            .unwrap()
    };
    let forged = portal
        .send(post(twilio_signature(
            "not the token",
            "http://127.0.0.1:3000/sms/status",
            &params,
        )))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let id = portal.portal.store.latest_sms_id().await.unwrap().unwrap();
    assert_eq!(portal.portal.store.delivery_status(id).await.unwrap(), None);

    let genuine = portal
        .send(post(twilio_signature(
            TOKEN,
            "http://127.0.0.1:3000/sms/status",
            &params,
        )))
        .await;
    assert_eq!(genuine.status, StatusCode::NO_CONTENT);
    assert_eq!(
        portal
            .portal
            .store
            .delivery_status(id)
            .await
            .unwrap()
            .as_deref(),
        Some("delivered")
    );
}

mod limits {
    use super::*;

    async fn limited(adjust: impl FnOnce(&mut app::portal::Settings)) -> (StandIn, TestPortal) {
        let standin = StandIn::start(vec![]).await;
        let sender = twilio(&standin, Duration::from_secs(5));
        let portal = TestPortal::with_sender(adjust, move |_, _| sender).await;
        (standin, portal)
    }

    #[tokio::test]
    async fn sends_per_account_per_hour() {
        let (standin, portal) = limited(|s| s.limits.sends_per_account_hour = 2).await;
        let mut browser = portal.browser();
        browser.register("margaret").await;
        for _ in 0..2 {
            assert_eq!(
                browser.post("/api/send_code", &[]).await.status,
                StatusCode::OK
            );
            portal.clock.advance_seconds(30);
        }
        let third = browser.post("/api/send_code", &[]).await;
        assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(third.json()["message"]
            .as_str()
            .unwrap()
            .contains("a lot of codes"));
        assert_eq!(
            standin.received().len(),
            2,
            "refused before the provider was called"
        );
    }

    #[tokio::test]
    async fn sends_per_number_per_day() {
        let (standin, portal) = limited(|s| s.limits.sends_per_number_day = 1).await;
        let mut first = portal.browser();
        first.register("margaret").await;
        assert_eq!(
            first.post("/api/send_code", &[]).await.status,
            StatusCode::OK
        );
        // Someone else registers with the same number.
        let mut second = portal.browser();
        second.register("pumper").await;
        let refused = second.post("/api/send_code", &[]).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(standin.received().len(), 1);
    }

    #[tokio::test]
    async fn sends_per_ip_per_hour() {
        let (standin, portal) = limited(|s| s.limits.sends_per_ip_hour = 1).await;
        let mut first = portal.browser();
        first.register("margaret").await;
        assert_eq!(
            first.post("/api/send_code", &[]).await.status,
            StatusCode::OK
        );
        let mut second = portal.browser();
        second
            .post(
                "/api/register",
                &common::registration("someone", "022 123 4567"),
            )
            .await;
        let refused = second.post("/api/send_code", &[]).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("network"));
        assert_eq!(standin.received().len(), 1);
        // An hour later the network may ask again.
        portal.clock.advance_seconds(3600);
        let mut third = portal.browser();
        third
            .post(
                "/api/register",
                &common::registration("later", "027 765 4321"),
            )
            .await;
        assert_eq!(
            third.post("/api/send_code", &[]).await.status,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn sends_per_day_for_the_whole_portal() {
        let (standin, portal) = limited(|s| s.practice.daily_text_budget = 1).await;
        let mut first = portal.browser();
        first.register("margaret").await;
        assert_eq!(
            first.post("/api/send_code", &[]).await.status,
            StatusCode::OK
        );
        let mut second = portal.browser();
        second
            .post(
                "/api/register",
                &common::registration("someone", "022 123 4567"),
            )
            .await;
        let refused = second.post("/api/send_code", &[]).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(standin.received().len(), 1);
    }

    #[tokio::test]
    async fn numbers_outside_the_allowed_countries() {
        let (standin, portal) = limited(|_| {}).await;
        let mut browser = portal.browser();
        browser.register("margaret").await;
        let refused = browser
            .post("/api/send_code", &[("mobile", "+61 412 345 678")])
            .await;
        assert!(refused.status.is_client_error());
        assert!(standin.received().is_empty());
        let reply = portal
            .browser()
            .post(
                "/api/register",
                &common::registration("aussie", "+61 412 345 678"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.field_error("mobile").contains("New Zealand"));
        assert!(standin.received().is_empty());
    }
}

#[tokio::test]
async fn a_message_queued_just_before_a_crash_is_sent_once_its_lease_runs_out() {
    use app::{
        mobile::Mobile,
        one_time_code::challenge::{create, Purpose},
    };
    use phonenumber::country::Id::NZ;

    let standin = StandIn::start(vec![]).await;
    let before = portal_via(webhook(&standin)).await;
    let mut browser = before.browser();
    browser.register("margaret").await;
    let session = browser.session().await;
    // The code and its message are committed, claimed for sending at once… and the server dies.
    let mobile = Mobile::parse("021 555 0123", NZ, &[NZ]).unwrap();
    let issued = create(&before.portal, &session, Purpose::SignIn, &mobile, &[])
        .await
        .unwrap();
    drop(issued);

    let after = before.restart(webhook(&standin), Default::default()).await;
    assert_eq!(
        after.portal.outbox.deliver_due().await.unwrap(),
        0,
        "still leased"
    );
    after.clock.advance_seconds(61);
    assert_eq!(after.portal.outbox.deliver_due().await.unwrap(), 1);
    after.clock.advance_seconds(61);
    assert_eq!(after.portal.outbox.deliver_due().await.unwrap(), 0);
    assert_eq!(standin.received().len(), 1, "sent exactly once");
}
