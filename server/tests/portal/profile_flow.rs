//! The Personal Information page's API and the rule behind it: a new number is kept pending,
//! apart from the verified one, until its own code comes back, so that a password alone can
//! never move the second factor. Also the notices, the audit trail, and the email address.

use crate::common;

use std::sync::Arc;

use app::sms::{SendError, SendFuture, Sms, SmsSender};
use axum::http::StatusCode;
use common::{TestPortal, PASSWORD};

async fn me(browser: &mut common::Browser<'_>) -> serde_json::Value {
    let reply = browser.post("/api/me", &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

const OLD: &str = "+64215550123";
const NEW: &str = "+64221234567";
const ATTACKER: &str = "+64277654321";

#[tokio::test]
async fn a_new_number_is_kept_pending_until_its_code_comes_back() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;

    let saved = browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(saved.json()["mobile_ending"], "67");
    let now = me(&mut browser).await;
    assert_eq!(now["mobile"], OLD, "the verified number stays");
    assert_eq!(now["mobile_verified"], true);
    assert_eq!(now["pending_mobile"], NEW);
    // The pages name each number by its last two digits, worked out on the server.
    assert_eq!(now["mobile_ending"], "23");
    assert_eq!(now["pending_mobile_ending"], "67");

    let texts = portal.texts().await;
    assert_eq!(texts.last().unwrap().0, NEW);
    let code = portal.last_code().await;
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    assert_eq!(verified.json()["mobile_ending"], "67");
    let after = me(&mut browser).await;
    assert_eq!(after["mobile"], NEW);
    assert_eq!(after["mobile_verified"], true);
    assert!(after["pending_mobile"].is_null());
    assert_eq!(after["mobile_ending"], "67");
    assert!(after["pending_mobile_ending"].is_null());
}

/// The security review's attack: with only the password, after the patient saved a new number
/// and never verified it, make your own phone the patient's second factor.
#[tokio::test]
async fn a_password_alone_cannot_move_the_second_factor() {
    let portal = TestPortal::new().await;
    let mut patient = portal.browser();
    patient.register_and_sign_in("margaret").await;
    // 1. The patient saves a new number and never verifies it.
    patient
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    portal.clock.advance_seconds(60);

    // 2. Someone with the password logs in from a fresh session.
    let mut attacker = portal.browser();
    let login = attacker
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    // The code went to the verified number at once; no number is asked for.
    assert_eq!(login.json()["code_sent"], true);
    assert_eq!(login.json()["mobile_ending"], "23");
    assert_eq!(portal.texts().await.last().unwrap().0, OLD);
    let step = attacker.post("/api/code_step", &[]).await.json();
    assert_eq!(step["needs_number"], false);
    assert_eq!(step["number_on_file"], "");

    // 3. Their own number is refused, and never texted.
    let swap = attacker
        .post("/api/send_code", &[("mobile", "027 765 4321")])
        .await;
    assert_eq!(swap.status, StatusCode::UNPROCESSABLE_ENTITY);
    let swap_pending = attacker
        .post("/api/send_code", &[("mobile", "022 123 4567")])
        .await;
    assert_eq!(swap_pending.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(portal.texts().await.iter().all(|(to, _)| to != ATTACKER));
    // Guessing burns only this session's code.
    for _ in 0..5 {
        attacker
            .post("/api/verify_code", &[("code", "000000")])
            .await;
    }
    // 4. Nothing moved.
    let account = portal.account("margaret").await;
    assert_eq!(account.mobile.as_deref(), Some(OLD));
    assert!(account.mobile_verified_at.is_some());
    assert_eq!(account.pending_mobile.as_deref(), Some(NEW));
    assert_eq!(
        attacker.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn after_signing_in_with_the_old_number_the_pending_one_can_be_verified() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    browser.post("/api/logout", &[]).await;
    portal.clock.advance_seconds(60);

    let mut browser = portal.browser();
    browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(portal.texts().await.last().unwrap().0, OLD);
    let code = portal.last_code().await;
    let signed_in = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());
    assert_eq!(me(&mut browser).await["pending_mobile"], NEW);

    // Signed in, the patient finishes the change.
    let sent = browser.post("/api/send_code", &[]).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    assert_eq!(portal.texts().await.last().unwrap().0, NEW);
    let code = portal.last_code().await;
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    let after = me(&mut browser).await;
    assert_eq!(after["mobile"], NEW);
    assert!(after["pending_mobile"].is_null());
}

#[tokio::test]
async fn a_pending_number_can_be_cancelled() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    let code = portal.last_code().await;
    let cancelled = browser.post("/api/cancel_mobile_change", &[]).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text());
    let now = me(&mut browser).await;
    assert!(now["pending_mobile"].is_null());
    assert_eq!(now["mobile"], OLD);
    // Its code went with it.
    let late = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(late.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(me(&mut browser).await["mobile"], OLD);
    let again = browser.post("/api/cancel_mobile_change", &[]).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_old_number_is_told_when_a_new_one_is_saved_and_when_it_is_verified() {
    let portal = TestPortal::with(|s| {
        s.practice.support_phone = "0800 427 287".into();
    })
    .await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    let code = portal.last_code().await;
    let to_old = |texts: Vec<(String, String)>| -> Vec<String> {
        texts
            .into_iter()
            .filter(|(to, body)| to == OLD && !body.contains(" code. It expires"))
            .map(|(_, body)| body)
            .collect()
    };
    let notices = to_old(portal.texts().await);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("ending 67"), "{}", notices[0]);
    assert!(
        notices[0].contains("Codes come here until it's verified."),
        "{}",
        notices[0]
    );
    // The contact details go in the email: a text stays one segment.
    assert!(
        notices[0].ends_with("Not you? Please contact the practice."),
        "{}",
        notices[0]
    );

    browser.post("/api/verify_code", &[("code", &code)]).await;
    let notices = to_old(portal.texts().await);
    assert_eq!(notices.len(), 2, "{notices:?}");
    // In DESIGN's template, with its own "This wasn't me" link.
    assert!(
        notices[1].contains("now go to a number ending 67. Not you? http"),
        "{}",
        notices[1]
    );
    // And the patient's email says so too.
    let emails = portal.portal.store.dev_email().await.unwrap();
    let email = emails.last().expect("an email to the patient");
    assert_eq!(email.to_address, "margaret@example.org");
    assert!(email.body.contains("ending 67"), "{}", email.body);
}

#[tokio::test]
async fn verifying_a_new_number_ends_the_accounts_other_sessions() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    portal.clock.advance_seconds(60);
    let mut elsewhere = portal.browser();
    elsewhere
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    let code = portal.last_code().await;
    elsewhere.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(elsewhere.post("/api/me", &[]).await.status, StatusCode::OK);

    browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    let code = portal.last_code().await;
    browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
    assert_eq!(
        elsewhere.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let account = portal.account("margaret").await;
    let events = portal.portal.store.audit_events(account.id).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.event == "sessions_ended" && e.outcome == "ok"),
        "{events:?}"
    );
}

/// A provider that refuses every text to one number for good, as for a number it can't reach.
struct RefusesNumber(Arc<dyn SmsSender>, &'static str);

impl SmsSender for RefusesNumber {
    fn name(&self) -> &'static str {
        "console"
    }

    fn send<'a>(&'a self, sms: &'a Sms) -> SendFuture<'a> {
        if sms.to == self.1 {
            let reason = format!("400: The 'To' number {} is not reachable", sms.to);
            return Box::pin(async move { Err(SendError::Permanent(reason)) });
        }
        self.0.send(sms)
    }
}

#[tokio::test]
async fn a_number_the_provider_refuses_stays_pending_and_the_verified_one_signs_in() {
    let portal = TestPortal::with_sender(
        |_| {},
        |store, clock| {
            let console = Arc::new(app::sms::ConsoleSms::new(store, clock));
            Arc::new(RefusesNumber(console, NEW))
        },
    )
    .await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    let refused = browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Your new number is saved, but"));
    let account = portal.account("margaret").await;
    assert_eq!(account.mobile.as_deref(), Some(OLD));
    assert!(account.mobile_verified_at.is_some());
    assert_eq!(account.pending_mobile.as_deref(), Some(NEW));

    // The next login texts the verified number, as always.
    browser.post("/api/logout", &[]).await;
    portal.clock.advance_seconds(60);
    let login = browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.json()["code_sent"], true);
    assert_eq!(portal.texts().await.last().unwrap().0, OLD);
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
    assert_eq!(now["mobile"], OLD);
    assert_eq!(now["mobile_verified"], true);
    assert!(now["pending_mobile"].is_null());
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
    for path in ["/api/change_mobile", "/api/cancel_mobile_change"] {
        let pending = browser.post(path, &[("mobile", "022 123 4567")]).await;
        assert_eq!(pending.status, StatusCode::UNAUTHORIZED, "{path}");
        let nobody = portal.post_raw(path, "mobile=022+123+4567", None).await;
        assert_eq!(nobody.status, StatusCode::UNAUTHORIZED, "{path}");
    }
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
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e.event == "mobile_changed")
        .collect();
    assert_eq!(changes.len(), 2, "{events:?}");
    assert_eq!(changes[0].outcome, "saved_pending");
    assert_eq!(changes[0].ip, "203.0.113.7");
    assert_eq!(
        changes[0].detail.as_deref(),
        Some("new number ***567 waiting to be verified; sign-in number stays ***123")
    );
    assert_eq!(changes[1].outcome, "ok");
    assert_eq!(
        changes[1].detail.as_deref(),
        Some("verified ***567, replacing ***123")
    );
    assert!(
        events
            .iter()
            .any(|e| e.event == "mobile_change_notice" && e.outcome == "ok"),
        "{events:?}"
    );
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

#[tokio::test]
async fn notices_go_only_to_an_email_address_confirmed_by_its_link_and_a_change_tells_the_old_one()
{
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    assert_eq!(browser.register("margaret").await.status, StatusCode::OK);
    browser.post("/api/send_code", &[]).await;
    let code = portal.last_code().await;
    browser.post("/api/verify_code", &[("code", &code)]).await;
    // Not confirmed yet: a notice goes by text, not to the address.
    let me = browser.post("/api/me", &[]).await.json();
    assert_eq!(me["email_confirmed"], false);
    let page = portal
        .get("/profile", browser.cookie.as_deref())
        .await
        .text();
    assert!(page.contains("isn't confirmed yet"), "{page}");
    assert!(page.contains("Send the link again"));
    // At most one link a minute: a stolen cookie can't fill the inbox.
    let at_once = browser.post("/api/send_email_link", &[]).await;
    assert_eq!(
        at_once.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        at_once.text()
    );
    portal.clock.advance_seconds(61);
    let again = browser.post("/api/send_email_link", &[]).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    let notices_to = |emails: &[app::store::DevEmail], to: &str| {
        emails
            .iter()
            .filter(|e| e.to_address == to && e.subject != "Confirm your email address")
            .count()
    };
    browser.post("/api/make_recovery_code", &[]).await;
    let emails = portal.portal.store.dev_email().await.unwrap();
    assert_eq!(notices_to(&emails, "margaret@example.org"), 0);

    // Opening the link changes nothing; "Confirm" does, once, within 24 hours.
    let token = portal.email_link().await;
    let page = portal.get(&format!("/confirm-email?t={token}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        browser.post("/api/me", &[]).await.json()["email_confirmed"],
        false
    );
    let mut phone = portal.browser_at("198.51.100.9");
    let confirmed = phone.post("/api/confirm_email", &[("token", &token)]).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    let twice = phone.post("/api/confirm_email", &[("token", &token)]).await;
    assert_eq!(twice.status, StatusCode::FORBIDDEN);
    assert_eq!(
        browser.post("/api/me", &[]).await.json()["email_confirmed"],
        true
    );
    browser.post("/api/make_recovery_code", &[]).await;
    let emails = portal.portal.store.dev_email().await.unwrap();
    assert_eq!(notices_to(&emails, "margaret@example.org"), 1);

    // A new address: the old one is told, and the new one hears nothing until confirmed.
    let changed = browser
        .post("/api/update_email", &[("email", "margaret@example.net")])
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let emails = portal.portal.store.dev_email().await.unwrap();
    assert!(emails
        .iter()
        .any(|e| e.to_address == "margaret@example.org"
            && e.subject == "Your email address was changed"));
    assert_eq!(
        browser.post("/api/me", &[]).await.json()["email_confirmed"],
        false
    );
    browser.post("/api/make_recovery_code", &[]).await;
    let emails = portal.portal.store.dev_email().await.unwrap();
    assert_eq!(notices_to(&emails, "margaret@example.net"), 0);
    // A link past its 24 hours confirms nothing.
    let token = portal.email_link().await;
    portal.clock.advance_seconds(24 * 3600 + 60);
    let late = phone.post("/api/confirm_email", &[("token", &token)]).await;
    assert_eq!(late.status, StatusCode::FORBIDDEN);
}
