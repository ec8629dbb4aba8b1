//! The portal's log, as its JSON lines: each line written while answering a request carries the
//! request's ID, and no line, at any level, carries a code, a password, a token or a whole
//! mobile number. (The `console` SMS provider, for development on loopback only, is the one
//! thing that writes codes to the log, by design; this journey texts through a gateway.)
//! The only test in its binary: it captures every log line of the process.

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use axum::http::StatusCode;
use common::{
    log_holds,
    standin::{Answer, StandIn},
    TestPortal, PASSWORD,
};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_whole_journey_logs_request_ids_and_never_a_secret() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    // The gateway turns the first text away for now, so that it waits in the outbox, sealed.
    let standin = StandIn::start(vec![Answer::Status(503, "busy")]).await;
    let sender = standin.webhook();
    let portal = TestPortal::with_sender(|_| {}, move |_, _| sender).await;
    let mut secrets = vec![PASSWORD.to_string(), "Not-The-Password-42".to_string()];
    let mut browser = portal.browser();
    let registered = browser.register("margaret").await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text());
    browser.post("/api/send_code", &[]).await;
    let code = standin.received().last().unwrap().code();
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&portal.database_url).await.unwrap();
    let sealed: Vec<String> =
        sqlx::query_scalar("SELECT sealed_body FROM sms_outbox WHERE sealed_body IS NOT NULL")
            .fetch_all(&db)
            .await
            .unwrap();
    db.close().await;
    assert_eq!(sealed.len(), 1, "the text waits, sealed");
    secrets.extend(sealed);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    browser.post("/api/verify_code", &[("code", wrong)]).await;
    let verified = browser
        .post(
            "/api/verify_code",
            &[("code", code.as_str()), ("remember_device", "on")],
        )
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    secrets.push(code);
    secrets.extend(browser.cookie_value("portal_session"));
    secrets.extend(browser.cookie_value("portal_device"));
    assert_eq!(
        portal
            .get("/profile", browser.cookie.as_deref())
            .await
            .status,
        StatusCode::OK
    );
    browser.post("/api/logout", &[]).await;

    let mut browser = portal.browser();
    let refused = browser
        .post(
            "/api/login",
            &[
                ("username", "margaret"),
                ("password", "Not-The-Password-42"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    browser.log_in("margaret").await;
    let code = standin.received().last().unwrap().code();
    let signed_in = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());
    secrets.push(code);
    secrets.extend(browser.cookie_value("portal_session"));

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(lines.len() > 20, "{text}");

    // The lines written while the last code step was answered name its request.
    let id = signed_in.headers["x-request-id"].to_str().unwrap();
    let of_that_request = lines.iter().filter(|line| line["span"]["id"] == id).count();
    assert!(of_that_request > 0, "no line names {id}: {text}");

    // The cookies' random parts, the codes and the passwords; the number however written.
    let mut never = secrets.clone();
    for secret in &secrets {
        if let Some((_, random)) = secret.split_once('.') {
            never.push(random.to_string());
        }
        // As a form sends it.
        never.push(secret.replace(' ', "+"));
    }
    never.extend(["+64215550123", "215550123", "021 555 0123", "021+555+0123"].map(String::from));
    for secret in never.iter().filter(|s| !s.is_empty()) {
        if let Some(line) = text.lines().find(|line| log_holds(line, secret)) {
            panic!("the log holds {secret:?}: {line}");
        }
    }
}
