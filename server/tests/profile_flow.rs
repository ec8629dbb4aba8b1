//! The Personal Information page's API: "Save & Get Code", verifying the new number, the notice
//! to the old one, the abandoned change finished at the next login, and the email address.

mod common;

use axum::http::StatusCode;
use common::{TestPortal, PASSWORD};

async fn me(browser: &mut common::Browser<'_>) -> serde_json::Value {
    let reply = browser.post("/api/me", &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

#[tokio::test]
async fn a_new_number_is_saved_unverified_then_verified_by_its_code() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;

    let saved = browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(saved.json()["mobile_ending"], "67");
    let now = me(&mut browser).await;
    assert_eq!(now["mobile"], "+64221234567");
    assert_eq!(now["mobile_verified"], false);

    let texts = portal.texts().await;
    let (to, _) = texts.last().unwrap();
    assert_eq!(to, "+64221234567");
    let code = portal.last_code().await;
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    assert_eq!(verified.json()["mobile_ending"], "67");
    let after = me(&mut browser).await;
    assert_eq!(after["mobile"], "+64221234567");
    assert_eq!(after["mobile_verified"], true);
}

#[tokio::test]
async fn the_old_number_is_told_of_the_change() {
    let portal = TestPortal::with(|s| {
        s.support_phone = "0800 427 287".into();
    })
    .await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    let texts = portal.texts().await;
    let notice = texts
        .iter()
        .find(|(to, body)| to == "+64215550123" && body.contains("changed"))
        .expect("a notice to the old number");
    assert!(notice.1.contains("ending 67"), "{}", notice.1);
    assert!(notice.1.contains("0800 427 287"), "{}", notice.1);
}

#[tokio::test]
async fn a_landline_is_refused_and_nothing_changes() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    let refused = browser
        .post("/api/change_mobile", &[("mobile", "04 471 1234")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused.field_error("mobile"),
        "Please enter a mobile number; landlines can't receive text messages"
    );
    let now = me(&mut browser).await;
    assert_eq!(now["mobile"], "+64215550123");
    assert_eq!(now["mobile_verified"], true);
}

#[tokio::test]
async fn an_abandoned_change_is_finished_at_the_next_login() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    // The dialog is closed without a code; the patient logs out.
    browser.post("/api/logout", &[]).await;
    portal.clock.advance_seconds(60);
    let texts_before = portal.texts().await.len();

    let mut browser = portal.browser();
    let reply = browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["code_sent"], false);
    assert_eq!(
        portal.texts().await.len(),
        texts_before,
        "no code until Get Code"
    );
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["needs_number"], true);
    assert_eq!(step["number_on_file"], "022 123 4567");

    // The patient verifies another number instead.
    let sent = browser
        .post("/api/send_code", &[("mobile", "027 765 4321")])
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let code = portal.last_code().await;
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK);
    let after = me(&mut browser).await;
    assert_eq!(after["mobile"], "+64277654321");
    assert_eq!(after["mobile_verified"], true);
}

#[tokio::test]
async fn a_saved_number_can_be_sent_a_code_again_and_wrong_codes_count() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    portal.clock.advance_seconds(60);
    browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    let again = browser.post("/api/send_code", &[]).await;
    assert_eq!(
        again.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the cooldown applies"
    );
    portal.clock.advance_seconds(30);
    let again = browser.post("/api/send_code", &[]).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    let code = portal.last_code().await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = browser.post("/api/verify_code", &[("code", wrong)]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.field_error("code").contains("4 tries left"));
    let ok = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(ok.status, StatusCode::OK);
    // Nothing is waiting any more.
    portal.clock.advance_seconds(30);
    let nothing = browser.post("/api/send_code", &[]).await;
    assert_eq!(nothing.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn changing_the_number_needs_a_signed_in_session() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    let pending = browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    assert_eq!(pending.status, StatusCode::UNAUTHORIZED);
    let nobody = portal
        .post_raw("/api/change_mobile", "mobile=022+123+4567", None)
        .await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_change_is_audited_with_masked_numbers() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    let code = portal.last_code().await;
    browser.post("/api/verify_code", &[("code", &code)]).await;
    let account = portal.account("margaret").await;
    let events = portal.portal.store.audit_events(account.id).await.unwrap();
    let changed = events
        .iter()
        .find(|e| e.event == "mobile_changed")
        .expect("the change is recorded");
    assert_eq!(changed.outcome, "saved_unverified");
    assert_eq!(changed.ip, "203.0.113.7");
    assert_eq!(
        changed.detail.as_deref(),
        Some("from ending 23 to ending 67")
    );
    for event in ["mobile_change_notice", "mobile_verified"] {
        assert!(
            events.iter().any(|e| e.event == event && e.outcome == "ok"),
            "{event} in {events:?}"
        );
    }
    let everything = format!("{events:?}");
    assert!(!everything.contains("1234567") && !everything.contains("5550123"));
}

#[tokio::test]
async fn the_email_can_be_changed_and_removed_with_validation() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    let bad = browser
        .post("/api/update_email", &[("email", "not an email")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!bad.field_error("email").is_empty());
    let good = browser
        .post("/api/update_email", &[("email", "new@example.org")])
        .await;
    assert_eq!(good.status, StatusCode::OK);
    assert_eq!(me(&mut browser).await["email"], "new@example.org");
    browser.post("/api/update_email", &[("email", "")]).await;
    assert!(me(&mut browser).await["email"].is_null());
}
