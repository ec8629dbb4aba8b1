//! A lost phone without a phone call, through the router and on both engines: saving a recovery
//! code, "Can't get a code?", the recovery session that can only set up a new phone, the login's
//! delays on recovery-code tries, the 24 hours the email address stays put, "Confirm it's you"
//! with a recovery code, and the home page's "Make signing in easier".

use crate::common;

use axum::http::StatusCode;
use common::{Browser, TestPortal};

const NEW_PHONE: &str = "027 765 4321";
const NEW_PHONE_E164: &str = "+64277654321";

/// A signed-in patient's new recovery code (the sign-in just now is their recent proof).
async fn saved_code(browser: &mut Browser<'_>) -> String {
    let made = browser.post("/api/make_recovery_code", &[]).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    made.json()["code"].as_str().unwrap().to_string()
}

/// A patient named `username` with a recovery code, logged out: the code.
async fn patient_with_a_code(portal: &TestPortal, username: &str) -> String {
    let mut browser = portal.signed_in_patient(username).await;
    let code = saved_code(&mut browser).await;
    browser.post("/api/logout", &[]).await;
    code
}

async fn use_code(browser: &mut Browser<'_>, code: &str) -> common::Reply {
    browser
        .post("/api/use_recovery_code", &[("recovery_code", code)])
        .await
}

#[tokio::test]
async fn a_recovery_code_is_made_after_a_recent_proof_shown_once_and_kept_only_as_a_slow_hash() {
    let portal = TestPortal::new().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let texts_before = portal.texts().await.len();
    let code = saved_code(&mut browser).await;
    assert_eq!(code.len(), 19, "{code}");
    let account = portal.account("margaret").await;
    let stored = portal
        .portal
        .store
        .recovery_code(account.id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.code_hash.starts_with("$argon2id$"));
    assert!(!stored.code_hash.contains(&code));
    // The page says there is one, and when it was made, never the code.
    let page = browser.post("/api/security", &[]).await;
    assert!(page.json()["recovery_code_made"].is_string());
    assert!(!page.text().contains(&code));
    // Told by text and email, with nothing the patient typed.
    let texts = portal.texts().await;
    assert!(texts[texts_before..]
        .iter()
        .any(|(_, body)| body.contains("a recovery code was made")));

    // A new one replaces it, and only after a recent proof.
    let again = saved_code(&mut browser).await;
    assert_ne!(again, code);
    portal.clock.advance_seconds(11 * 60);
    let late = browser.post("/api/make_recovery_code", &[]).await;
    assert_eq!(late.status, StatusCode::FORBIDDEN, "{}", late.text());
    let events = portal.audit_of("margaret").await;
    assert_eq!(
        events
            .iter()
            .filter(|(event, _)| event == "recovery_code_saved")
            .count(),
        2
    );
}

#[tokio::test]
async fn cant_get_a_code_shows_only_what_the_account_has_and_nothing_before_a_right_password() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let mut stranger = portal.browser();
    assert_eq!(
        stranger.post("/api/recovery_ways", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut browser = portal.browser();
    browser.log_in("margaret").await;
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["cant_get_a_code"], true);
    let ways = browser.post("/api/recovery_ways", &[]).await.json();
    assert_eq!(ways["recovery_code"], false);
    assert_eq!(ways["passkey"], false);
    let refused = use_code(&mut browser, "ABCD-EFGH-JKLM-NPQR").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());

    patient_with_a_code(&portal, "rewi").await;
    let mut browser = portal.browser();
    browser.log_in("rewi").await;
    let ways = browser.post("/api/recovery_ways", &[]).await.json();
    assert_eq!(ways["recovery_code"], true);
}

#[tokio::test]
async fn a_lost_phone_is_recovered_with_the_password_and_the_recovery_code_and_nothing_else_until_a_new_phone(
) {
    let portal = TestPortal::new().await;
    let code = patient_with_a_code(&portal, "margaret").await;
    // Signed in elsewhere, and a device remembered: both go with the recovery.
    let mut elsewhere = portal.browser_at("198.51.100.7");
    elsewhere.log_in("margaret").await;
    let sign_in_code = portal.last_code().await;
    elsewhere
        .post(
            "/api/verify_code",
            &[("code", &sign_in_code), ("remember_device", "on")],
        )
        .await;
    assert_eq!(elsewhere.post("/api/me", &[]).await.status, StatusCode::OK);

    let mut browser = portal.browser();
    browser.log_in("margaret").await;
    let wrong = use_code(&mut browser, "ABCD-EFGH-JKLM-NPQR").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!wrong.field_error("recovery_code").is_empty());
    let begun = use_code(&mut browser, &code.to_lowercase().replace('-', " ")).await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.text());
    let new_code = begun.json()["code"].as_str().unwrap().to_string();
    assert_ne!(new_code, code);
    assert!(
        elsewhere.post("/api/me", &[]).await.status == StatusCode::UNAUTHORIZED,
        "every other session ended"
    );
    let account = portal.account("margaret").await;
    let devices = portal
        .portal
        .store
        .remembered_devices(account.id, portal.clock_now())
        .await
        .unwrap();
    assert!(devices.is_empty(), "every remembered device forgotten");

    // The spent code is replaced before any new phone: the old one is dead already, and the
    // new one works, even if the new phone's text never arrives.
    let mut other = portal.browser_at("198.51.100.8");
    other.log_in("margaret").await;
    assert_eq!(
        use_code(&mut other, &code).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // The recovery session sets up a new phone and does nothing else.
    for path in [
        "/api/me",
        "/api/security",
        "/api/make_recovery_code",
        "/api/confirm_ways",
    ] {
        let reply = browser.post(path, &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{path}: {}",
            reply.text()
        );
    }
    let again = use_code(&mut browser, &new_code).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{}", again.text());
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["new_phone"], true);
    assert_eq!(step["needs_number"], true);
    assert_eq!(step["number_on_file"], "");
    assert_eq!(step["has_passkey"], false);
    let no_number = browser.post("/api/send_code", &[]).await;
    assert_eq!(no_number.status, StatusCode::UNPROCESSABLE_ENTITY);
    let sent = browser
        .post("/api/send_code", &[("mobile", NEW_PHONE)])
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let phone_code = portal.last_code().await;
    let verified = browser
        .post("/api/verify_code", &[("code", &phone_code)])
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
    // "Sign-in and security" then asks for any passkey on the lost phone to be removed.
    let page = browser.post("/api/security", &[]).await.json();
    assert_eq!(page["passkeys"]["after_a_recovery"], true);
    let account = portal.account("margaret").await;
    assert_eq!(account.mobile.as_deref(), Some(NEW_PHONE_E164));
    assert!(account.mobile_verified_at.is_some());
    // The old number heard of the recovery and of the new number.
    let texts = portal.texts().await;
    assert!(texts
        .iter()
        .any(|(to, body)| to == "+64215550123" && body.contains("recovery code was used")));
    assert!(
        texts
            .iter()
            .any(|(to, body)| to == "+64215550123"
                && body.contains("codes now go to a number ending"))
    );
    let events = portal.audit_of("margaret").await;
    for expected in [
        ("recovery_code_used", "refused"),
        ("recovery_code_used", "ok"),
        ("recovered", "ok"),
    ] {
        assert!(
            events.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {events:?}"
        );
    }
}

#[tokio::test]
async fn a_recovery_session_lasts_30_minutes() {
    let portal = TestPortal::new().await;
    let code = patient_with_a_code(&portal, "margaret").await;
    let mut browser = portal.browser();
    browser.log_in("margaret").await;
    assert_eq!(use_code(&mut browser, &code).await.status, StatusCode::OK);
    portal.clock.advance_seconds(29 * 60);
    assert_eq!(
        browser.post("/api/code_step", &[]).await.status,
        StatusCode::OK
    );
    portal.clock.advance_seconds(2 * 60);
    assert_eq!(
        browser.post("/api/code_step", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn recovery_code_tries_meet_the_logins_delays_and_a_right_password_buys_no_fresh_guesses() {
    let portal = TestPortal::new().await;
    let mut owner = portal.signed_in_patient("margaret").await;
    let code = saved_code(&mut owner).await;
    for _ in 0..5 {
        let mut thief = portal.browser_at("198.51.100.9");
        let login = thief.log_in("margaret").await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text());
        let wrong = use_code(&mut thief, "ABCD-EFGH-JKLM-NPQR").await;
        assert_eq!(
            wrong.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            wrong.text()
        );
    }
    // Even the right code now waits, on that network…
    let mut thief = portal.browser_at("198.51.100.9");
    thief.log_in("margaret").await;
    let held = use_code(&mut thief, &code).await;
    assert_eq!(
        held.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        held.text()
    );
    // …and a new code made meanwhile doesn't reset the count.
    let fresh = saved_code(&mut owner).await;
    let mut thief = portal.browser_at("198.51.100.9");
    thief.log_in("margaret").await;
    assert_eq!(
        use_code(&mut thief, &fresh).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The patient's own network is not held back.
    let mut browser = portal.browser();
    browser.log_in("margaret").await;
    assert_eq!(use_code(&mut browser, &fresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_email_address_stays_put_for_24_hours_after_a_recovery_by_code() {
    let portal = TestPortal::new().await;
    let code = patient_with_a_code(&portal, "margaret").await;
    let mut browser = portal.browser();
    browser.log_in("margaret").await;
    use_code(&mut browser, &code).await;
    browser
        .post("/api/send_code", &[("mobile", NEW_PHONE)])
        .await;
    let phone_code = portal.last_code().await;
    browser
        .post("/api/verify_code", &[("code", &phone_code)])
        .await;
    let held = browser
        .post("/api/update_email", &[("email", "thief@example.org")])
        .await;
    assert_eq!(held.status, StatusCode::FORBIDDEN, "{}", held.text());
    assert!(held.text().contains("24 hours"), "{}", held.text());
    assert_eq!(
        portal.account("margaret").await.email.as_deref(),
        Some("margaret@example.org")
    );
    portal.clock.advance_seconds(24 * 3600 + 60);
    let mut browser = portal.signed_in_patient_again("margaret").await;
    let changed = browser
        .post("/api/update_email", &[("email", "margaret@example.net")])
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
}

#[tokio::test]
async fn confirm_its_you_takes_a_recovery_code_and_replaces_it() {
    let portal = TestPortal::new().await;
    let code = patient_with_a_code(&portal, "margaret").await;
    let mut browser = portal.signed_in_patient_again("margaret").await;
    portal.clock.advance_seconds(11 * 60);
    let ways = browser.post("/api/confirm_ways", &[]).await.json();
    assert_eq!(ways["proved"], false);
    assert_eq!(ways["recovery_code"], true);
    let wrong = browser
        .post(
            "/api/confirm_recovery_code",
            &[("recovery_code", "ABCD-EFGH-JKLM-NPQR")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let confirmed = browser
        .post("/api/confirm_recovery_code", &[("recovery_code", &code)])
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    let new_code = confirmed.json()["code"].as_str().unwrap().to_string();
    assert_ne!(new_code, code);
    assert_eq!(
        browser.post("/api/confirm_ways", &[]).await.json()["proved"],
        true
    );
    // Spent: it confirms nothing twice.
    let twice = browser
        .post("/api/confirm_recovery_code", &[("recovery_code", &code)])
        .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn make_signing_in_easier_shows_after_a_sign_in_by_code_until_a_recovery_code_or_not_now() {
    let portal = TestPortal::new().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    assert_eq!(browser.post("/api/me", &[]).await.json()["nudge"], true);
    saved_code(&mut browser).await;
    assert_eq!(browser.post("/api/me", &[]).await.json()["nudge"], false);

    let mut browser = portal.signed_in_patient("rewi").await;
    let put_off = browser.post("/api/not_now", &[]).await;
    assert!(put_off.status.is_success() || put_off.status.is_redirection());
    assert_eq!(browser.post("/api/me", &[]).await.json()["nudge"], false);
    portal.clock.advance_seconds(31 * 24 * 3600);
    let mut browser = portal.signed_in_patient_again("rewi").await;
    assert_eq!(browser.post("/api/me", &[]).await.json()["nudge"], true);
}

/// The token of the newest "This wasn't me" link texted to `number`.
async fn wasnt_me_token(portal: &TestPortal, number: &str) -> String {
    let texts = portal.texts().await;
    let body = texts
        .iter()
        .rev()
        .find(|(to, body)| to == number && body.contains("Not you? "))
        .map(|(_, body)| body.clone())
        .unwrap_or_else(|| panic!("a notice with a link to {number} in {texts:?}"));
    let link = body.split("Not you? ").nth(1).unwrap().trim();
    assert!(link.contains("/secure?t="), "{link}");
    link.split("t=").nth(1).unwrap().to_string()
}

async fn secure(browser: &mut Browser<'_>, token: &str, password: &str) -> common::Reply {
    browser
        .post(
            "/api/secure_account",
            &[("token", token), ("password", password)],
        )
        .await
}

async fn is_held(portal: &TestPortal, username: &str) -> bool {
    let account = portal.account(username).await;
    portal
        .portal
        .store
        .held_since(account.id)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn this_wasnt_me_acts_only_with_the_password_once_and_within_7_days() {
    let portal = TestPortal::new().await;
    let mut patient = portal.signed_in_patient("margaret").await;
    saved_code(&mut patient).await;
    let token = wasnt_me_token(&portal, "+64215550123").await;

    // Opening the link (a mail scanner, a thief with the old phone) changes nothing.
    let page = portal.get(&format!("/secure?t={token}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Secure my account"), "{}", page.text());
    let mut stranger = portal.browser_at("198.51.100.9");
    let state = stranger
        .post("/api/wasnt_me_link", &[("token", &token)])
        .await
        .json();
    assert_eq!(state["usable"], true);
    assert_eq!(patient.post("/api/me", &[]).await.status, StatusCode::OK);
    assert!(!is_held(&portal, "margaret").await);

    // Without the password, or with a wrong one, nothing either.
    let bare = secure(&mut stranger, &token, "").await;
    assert_eq!(
        bare.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bare.text()
    );
    let wrong = secure(&mut stranger, &token, "not her password at all").await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.text()
    );
    assert!(!wrong.field_error("password").is_empty());
    assert_eq!(patient.post("/api/me", &[]).await.status, StatusCode::OK);
    assert!(!is_held(&portal, "margaret").await);

    let done = secure(&mut stranger, &token, common::PASSWORD).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert!(is_held(&portal, "margaret").await);
    assert_eq!(
        patient.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED,
        "every session ended"
    );
    let account = portal.account("margaret").await;
    assert!(portal
        .portal
        .store
        .recovery_code(account.id)
        .await
        .unwrap()
        .is_none());
    // Twice: the link is spent.
    let twice = secure(&mut stranger, &token, common::PASSWORD).await;
    assert_eq!(twice.status, StatusCode::FORBIDDEN, "{}", twice.text());
    let events = portal.audit_of("margaret").await;
    assert!(events.contains(&("account_secured".into(), "ok".into())));

    // A link past its 7 days works no more.
    let portal = TestPortal::new().await;
    let mut patient = portal.signed_in_patient("rewi").await;
    saved_code(&mut patient).await;
    let token = wasnt_me_token(&portal, "+64215550123").await;
    portal.clock.advance_seconds(7 * 24 * 3600 + 60);
    let late = secure(&mut portal.browser(), &token, common::PASSWORD).await;
    assert_eq!(late.status, StatusCode::FORBIDDEN, "{}", late.text());
    assert!(!is_held(&portal, "rewi").await);
}

#[tokio::test]
async fn securing_takes_back_the_number_added_since_the_change_and_the_held_account_is_told_only_after_a_right_password(
) {
    let portal = TestPortal::new().await;
    let mut patient = portal.signed_in_patient("margaret").await;
    // Someone with her session (a code just sent, so a recent proof) moves the number.
    let saved = patient
        .post("/api/change_mobile", &[("mobile", NEW_PHONE)])
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    let code = portal.last_code().await;
    let verified = patient.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    // The old number is told, with its link.
    let token = wasnt_me_token(&portal, "+64215550123").await;
    let done = secure(&mut portal.browser(), &token, common::PASSWORD).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let account = portal.account("margaret").await;
    assert_eq!(account.mobile, None, "the number added since is gone");

    // Held: a wrong password is as wrong as ever; a right one is told to call the practice.
    let wrong = portal
        .browser()
        .post(
            "/api/login",
            &[
                ("username", "margaret"),
                ("password", "not her password at all"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(!wrong.text().contains("hold"));
    let right = portal.browser().log_in("margaret").await;
    assert_eq!(right.status, StatusCode::FORBIDDEN, "{}", right.text());
    assert!(right.text().contains("on hold"), "{}", right.text());
}

#[tokio::test]
async fn a_remembered_device_doesnt_get_a_held_account_in() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    browser.post("/api/logout", &[]).await;
    browser.log_in("margaret").await;
    let code = portal.last_code().await;
    browser
        .post(
            "/api/verify_code",
            &[("code", &code), ("remember_device", "on")],
        )
        .await;
    let device = browser.cookie_value("portal_device").expect("remembered");
    saved_code(&mut browser).await;
    let token = wasnt_me_token(&portal, "+64215550123").await;
    secure(&mut portal.browser(), &token, common::PASSWORD).await;
    // Even were the device still remembered, the hold is checked after the password.
    let mut again = portal.browser();
    again.put_cookie("portal_device", &device);
    let refused = again.log_in("margaret").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
}

#[tokio::test]
async fn support_lifts_a_hold_with_a_full_recovery_and_the_identity_question() {
    let portal = TestPortal::new().await;
    let mut patient = portal.signed_in_patient("margaret").await;
    saved_code(&mut patient).await;
    let token = wasnt_me_token(&portal, "+64215550123").await;
    let mut staff = portal.staff("sam", app::staff::StaffRole::Support).await;
    let reference = staff.find("margaret").await;
    let fields = [
        ("patient", reference.as_str()),
        ("action", "lift_hold"),
        ("reason", "she called about a text she didn't expect"),
        ("identity_check", "called_back"),
    ];
    let pairs = fields.to_vec();
    // Not held: nothing to lift.
    let nothing = staff
        .browser
        .post("/api/staff/support_action", &pairs)
        .await;
    assert_eq!(nothing.status, StatusCode::CONFLICT, "{}", nothing.text());

    secure(&mut portal.browser(), &token, common::PASSWORD).await;
    let record = staff
        .browser
        .post("/api/staff/patient", &[("patient", &reference)])
        .await
        .json();
    assert!(record["held_since"].is_string(), "{record}");
    let unasked: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(k, _)| *k != "identity_check")
        .collect();
    let refused = staff
        .browser
        .post("/api/staff/support_action", &unasked)
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(is_held(&portal, "margaret").await);
    let lifted = staff
        .browser
        .post("/api/staff/support_action", &pairs)
        .await;
    assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.text());
    assert!(!is_held(&portal, "margaret").await);
    let one_time = lifted.json()["one_time_password"]
        .as_str()
        .unwrap()
        .to_string();
    // A full recovery: the old password no longer works; the one-time one does, then the
    // patient's own password, then a new number.
    assert_eq!(
        portal.browser().log_in("margaret").await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut browser = portal.browser();
    let login = browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", &one_time)],
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["choose_password_first"], true);
    let events = portal.audit_of("margaret").await;
    assert!(events.contains(&("hold_lifted".into(), "ok".into())));
}

#[tokio::test]
async fn forty_saves_of_a_recovery_code_at_once_leave_one_code_and_no_fault() {
    let portal = TestPortal::new().await;
    let browser = portal.signed_in_patient("margaret").await;
    let cookie = browser.cookie.clone();
    let saves = (0..40).map(|_| portal.post_raw("/api/make_recovery_code", "", cookie.as_deref()));
    let replies = futures::future::join_all(saves).await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    // The one kept is the last saved: exactly one of the codes shown works.
    let account = portal.account("margaret").await;
    assert!(portal
        .portal
        .store
        .recovery_code(account.id)
        .await
        .unwrap()
        .is_some());
}
