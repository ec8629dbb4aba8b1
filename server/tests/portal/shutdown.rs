//! Stopping an instance (SIGTERM): requests under way are answered, and a text it was still
//! sending is left for the next instance, which sends it once.

use crate::common;

use std::{sync::Arc, time::Duration};

use app::{
    sms::{SmsSender, TwilioConfig, TwilioSender, TwilioSms},
    store::NewSms,
};
use axum::http::StatusCode;
use common::{
    form, registration,
    standin::{Answer, StandIn, SID, TOKEN},
    TestPortal,
};

/// The Twilio provider pointed at `url`, giving up on an answer after `timeout`.
fn twilio_at(url: String, timeout: Duration) -> Arc<dyn SmsSender> {
    Arc::new(TwilioSms::new(TwilioConfig {
        base_url: url,
        account_sid: SID.into(),
        auth_token: TOKEN.into(),
        sender: TwilioSender::From("+6498765432".into()),
        status_callback: None,
        request_timeout: timeout,
    }))
}

#[tokio::test]
async fn a_request_under_way_at_shutdown_is_answered_and_no_new_one_is_taken() {
    // The provider takes a second and a half to accept the code's text, so the registration
    // is still under way when the stop comes.
    let provider = StandIn::start(vec![Answer::Stall(Duration::from_millis(1500))]).await;
    let sender = provider.twilio(Duration::from_secs(10));
    let portal = TestPortal::with_sender(|_| {}, |_, _| sender).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = server::config::HttpLimits {
        shutdown_grace: Duration::from_secs(10),
        ..Default::default()
    };
    let serving = {
        let (router, instance) = (portal.router.clone(), portal.portal.clone());
        tokio::spawn(async move {
            server::serve_until_stopped(listener, router, &instance, limits, Vec::new(), async {
                let _ = stopped.await;
            })
            .await
        })
    };

    let client = reqwest::Client::new();
    let registered = client
        .post(format!("http://{addr}/api/register"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&registration("margaret", "021 555 0123")))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::OK);
    let cookie = registered
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    // Asking for the code: the request waits for the provider.
    let asking = client
        .post(format!("http://{addr}/api/send_code"))
        .header("cookie", cookie)
        .send();
    let asking = tokio::spawn(asking);
    // The stop comes once the provider has the text and before it answers.
    for _ in 0..1000 {
        if !provider.received().is_empty() || asking.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if asking.is_finished() {
        let answer = asking.await.unwrap().unwrap();
        panic!(
            "answered before its text was sent: {}",
            answer.text().await.unwrap()
        );
    }
    assert_eq!(
        provider.received().len(),
        1,
        "the registration never sent its code"
    );
    stop.send(()).unwrap();

    let answer = asking
        .await
        .unwrap()
        .expect("an answer, not a cut connection");
    assert_eq!(answer.status(), StatusCode::OK);
    serving.await.unwrap();
    // Stopped: no new connection is taken, and the database's connections are closed.
    assert!(client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .is_err());
    assert!(portal.portal.store.migrations_done().await.is_err());
}

#[tokio::test]
async fn a_text_being_sent_at_shutdown_is_sent_once_by_the_next_instance() {
    // A provider that never answers: it takes the connection and reads nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let portal = TestPortal::with_sender(
        |_| {},
        |_, _| twilio_at(silent_url, Duration::from_secs(120)),
    )
    .await;
    let now = portal.clock_now();
    let id = portal
        .portal
        .store
        .queue_sms(&NewSms {
            account_id: None,
            to: "+64215550123",
            sealed_body: &portal.portal.secret.seal("Your number was changed"),
            now,
            give_up_at: now + 3_600_000,
            purpose: "notice",
            after_provider: None,
        })
        .await
        .unwrap();
    let worker = tokio::spawn(portal.portal.outbox.clone().run());
    for _ in 0..500 {
        if portal
            .portal
            .store
            .sms_status(id)
            .await
            .unwrap()
            .map(|s| s.as_str())
            == Some("sending")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        portal
            .portal
            .store
            .sms_status(id)
            .await
            .unwrap()
            .map(|s| s.as_str()),
        Some("sending")
    );

    // The stop: the provider has a moment to answer, doesn't, and the text is given back.
    portal.portal.outbox.stop(Duration::from_millis(200)).await;
    tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .expect("the worker stops")
        .unwrap();
    assert_eq!(
        portal
            .portal
            .store
            .sms_status(id)
            .await
            .unwrap()
            .map(|s| s.as_str()),
        Some("pending")
    );

    // The next instance sends it at once (its clock has not moved: the lease would still
    // hold it), and only once.
    let provider = StandIn::start(vec![Answer::Accept]).await;
    let next = portal
        .restart(provider.twilio(Duration::from_secs(5)), Default::default())
        .await;
    assert_eq!(next.portal.outbox.deliver_due().await.unwrap(), 1);
    assert_eq!(next.portal.outbox.deliver_due().await.unwrap(), 0);
    assert_eq!(provider.received().len(), 1);
    assert_eq!(
        next.portal
            .store
            .sms_status(id)
            .await
            .unwrap()
            .map(|s| s.as_str()),
        Some("sent")
    );
    drop(silent);
}
