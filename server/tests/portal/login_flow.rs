//! Login with two-factor authentication: verified and unverified mobiles, the practice's switch,
//! the delay after failures, and the session lifecycle.

use crate::common;

use axum::http::StatusCode;
use common::{TestPortal, PASSWORD};

const IMPORT_HEADER: &str =
    "username,given_name,family_name,date_of_birth,phone,password_hash,one_time_password\n";

/// A patient from before 2FA: a landline on file, nothing verified.
async fn import_patient_with_landline(portal: &TestPortal, username: &str) {
    let csv =
        format!("{IMPORT_HEADER}{username},Arthur,Jones,1942-03-04,04 471 1234,,{PASSWORD}\n");
    let report = app::existing_patients::import_patients(&portal.portal, csv.as_bytes())
        .await
        .unwrap();
    assert_eq!(report.imported, 1, "{:?}", report.skipped);
}

async fn login(portal: &TestPortal, username: &str, password: &str) -> common::Reply {
    portal
        .browser()
        .post(
            "/api/login",
            &[("username", username), ("password", password)],
        )
        .await
}

fn comparable(reply: &common::Reply) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        // Each answer has its own date and request ID; nothing else may differ.
        .filter(|(name, _)| !matches!(name.as_str(), "date" | "x-request-id"))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    headers.sort();
    (reply.status, headers, reply.body.clone())
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_answer_byte_identically() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let unknown = login(&portal, "nobody", PASSWORD).await;
    let wrong = login(&portal, "margaret", "wrong password!!").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(comparable(&unknown), comparable(&wrong));
    assert!(unknown.session_cookie().is_none());
}

#[tokio::test]
async fn a_verified_mobile_gets_its_code_at_once_and_the_code_signs_in() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    portal.clock.advance_seconds(60);
    let texts_before = portal.texts().await.len();

    let mut browser = portal.browser();
    let reply = browser
        .post(
            "/api/login",
            &[("username", "MARGARET"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["code_sent"], true);
    assert_eq!(reply.json()["mobile_ending"], "23");
    assert_eq!(
        portal.texts().await.len(),
        texts_before + 1,
        "sent without a click"
    );
    let pending = browser.cookie.clone().unwrap();

    assert_eq!(
        browser.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["code_sent"], true);
    assert_eq!(step["needs_number"], false);

    let code = portal.last_code().await;
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    let signed_in = browser.cookie.clone().unwrap();
    assert_ne!(pending, signed_in);
    assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_session_id_changes_at_the_password_step_and_again_at_sign_in() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let mut browser = portal.browser();
    // Start from an existing session (a stale one from before), to see it replaced.
    browser.register("someone.else").await;
    let before = browser.cookie.clone().unwrap();
    browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    let pending = browser.cookie.clone().unwrap();
    let code = portal.last_code().await;
    browser.post("/api/verify_code", &[("code", &code)]).await;
    let signed_in = browser.cookie.clone().unwrap();
    assert_ne!(before, pending);
    assert_ne!(pending, signed_in);
    // The replaced sessions are gone on the server.
    for old in [&before, &pending] {
        let reply = portal.post_raw("/api/code_step", "", Some(old)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn an_unverified_mobile_is_asked_for_and_verified_at_login() {
    let portal = TestPortal::new().await;
    import_patient_with_landline(&portal, "arthur").await;
    let mut browser = portal.browser();
    let reply = browser
        .post(
            "/api/login",
            &[("username", "arthur"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["code_sent"], false);
    assert!(
        portal.texts().await.is_empty(),
        "nothing is sent before Get Code"
    );

    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["needs_number"], true);
    assert_eq!(step["number_on_file"], "04 471 1234");

    // The landline on file is refused, with the registration message.
    let landline = browser.post("/api/send_code", &[]).await;
    assert_eq!(landline.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        landline.field_error("mobile"),
        "Please enter a mobile number; landlines can't receive text messages"
    );
    let typed_landline = browser
        .post("/api/send_code", &[("mobile", "04 471 1234")])
        .await;
    assert_eq!(typed_landline.status, StatusCode::UNPROCESSABLE_ENTITY);

    let sent = browser
        .post("/api/send_code", &[("mobile", "022 123 4567")])
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let (to, _) = portal.texts().await.pop().unwrap();
    assert_eq!(to, "+64221234567");
    let code = portal.last_code().await;
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());

    let account = portal.account("arthur").await;
    assert_eq!(account.mobile.as_deref(), Some("+64221234567"));
    assert!(account.mobile_verified_at.is_some());
    assert_eq!(account.first_number_at_login, 0);
    // Signed in, but with the practice's one-time password: that comes first.
    let me = browser.post("/api/me", &[]).await;
    assert_eq!(me.status, StatusCode::FORBIDDEN);
    assert_eq!(me.json()["error"], "must_choose_password");
}

#[tokio::test]
async fn a_verified_number_cannot_be_swapped_at_login() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    portal.clock.advance_seconds(60);
    let mut browser = portal.browser();
    browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    portal.clock.advance_seconds(60);
    let swap = browser
        .post("/api/send_code", &[("mobile", "022 123 4567")])
        .await;
    assert_eq!(swap.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(portal
        .texts()
        .await
        .iter()
        .all(|(to, _)| to != "+64221234567"));
}

#[tokio::test]
async fn repeated_failures_delay_further_attempts_even_with_the_right_password() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let attempt = |password| login(&portal, "margaret", password);
    for _ in 0..4 {
        assert_eq!(
            attempt("wrong password!!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // The fifth failure starts the delay.
    assert_eq!(
        attempt("wrong password!!").await.status,
        StatusCode::UNAUTHORIZED
    );
    let right = attempt(PASSWORD).await;
    let wrong = attempt("wrong password!!").await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        comparable(&right),
        comparable(&wrong),
        "the delay hides whether the password was right"
    );
    assert_eq!(right.json()["retry_after_seconds"], 30);

    // The delay lifts after the wait.
    portal.clock.advance_seconds(30);
    assert_eq!(attempt(PASSWORD).await.status, StatusCode::OK);
    // Success reset the count: four more failures do not delay.
    for _ in 0..4 {
        assert_eq!(
            attempt("wrong password!!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(attempt(PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_delay_doubles_with_each_further_failure() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let attempt = |password| login(&portal, "margaret", password);
    for _ in 0..5 {
        attempt("wrong password!!").await;
    }
    portal.clock.advance_seconds(30);
    assert_eq!(
        attempt("wrong password!!").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(attempt(PASSWORD).await.json()["retry_after_seconds"], 60);
}

#[tokio::test]
async fn unknown_usernames_are_delayed_exactly_like_known_ones() {
    let portal = TestPortal::new().await;
    for _ in 0..5 {
        login(&portal, "nobody", "wrong password!!").await;
    }
    let reply = login(&portal, "nobody", "wrong password!!").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn failed_logins_are_limited_per_ip() {
    let portal = TestPortal::with(|s| s.limits.failed_logins_per_ip_hour = 3).await;
    portal.verified_patient("margaret").await;
    for name in ["a1b", "b2c", "c3d"] {
        let reply = login(&portal, name, "wrong password!!").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = login(&portal, "margaret", PASSWORD).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.json()["message"]
        .as_str()
        .unwrap()
        .contains("network"));
    portal.clock.advance_seconds(3601);
    let later = login(&portal, "margaret", PASSWORD).await;
    assert_eq!(later.status, StatusCode::OK);
}

#[tokio::test]
async fn the_pending_step_expires_after_ten_minutes() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    portal.clock.advance_seconds(60);
    let mut browser = portal.browser();
    browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    let code = portal.last_code().await;
    portal.clock.advance_seconds(600);
    let late = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_idle_session_expires_and_activity_keeps_it() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    portal.clock.advance_seconds(899);
    assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
    portal.clock.advance_seconds(899);
    assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
    portal.clock.advance_seconds(900);
    assert_eq!(
        browser.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_session_ends_after_twelve_hours_however_active() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    for _ in 0..(12 * 6 - 1) {
        portal.clock.advance_seconds(600);
        assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
    }
    portal.clock.advance_seconds(600);
    assert_eq!(
        browser.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn with_two_factor_off_the_password_alone_signs_in() {
    let portal = TestPortal::with(|s| s.practice.two_factor = false).await;
    import_patient_with_landline(&portal, "arthur").await;
    let mut browser = portal.browser();
    let reply = browser
        .post(
            "/api/login",
            &[("username", "arthur"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["signed_in"], true);
    assert!(portal.texts().await.is_empty());
    // Signed in with the password alone (the one-time one, so it must be replaced first).
    assert_eq!(
        browser.post("/api/me", &[]).await.json()["error"],
        "must_choose_password"
    );
    choose_password(&mut browser).await;
    assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
}

async fn choose_password(browser: &mut common::Browser<'_>) {
    let chosen = browser
        .post(
            "/api/choose_password",
            &[
                ("one_time_password", PASSWORD),
                ("password", "a brand new phrase"),
                ("confirm_password", "a brand new phrase"),
            ],
        )
        .await;
    assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.text());
}

#[tokio::test]
async fn a_one_time_password_must_be_replaced_before_anything_else() {
    let portal = TestPortal::with(|s| s.practice.two_factor = false).await;
    import_patient_with_landline(&portal, "arthur").await;
    let mut browser = portal.browser();
    browser
        .post(
            "/api/login",
            &[("username", "arthur"), ("password", PASSWORD)],
        )
        .await;
    // Every signed-in function refuses until the password is chosen: on the server, not just
    // in the page.
    for (path, fields) in [
        ("/api/me", vec![]),
        ("/api/update_email", vec![("email", "arthur@example.org")]),
        ("/api/change_mobile", vec![("mobile", "022 123 4567")]),
        ("/api/cancel_mobile_change", vec![]),
        ("/api/send_code", vec![]),
        ("/api/verify_code", vec![("code", "123456")]),
    ] {
        let refused = browser.post(path, &fields).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            refused.text()
        );
        assert_eq!(refused.json()["error"], "must_choose_password", "{path}");
    }
    let account = portal.account("arthur").await;
    assert_eq!(account.email, None);
    assert_eq!(account.pending_mobile, None);
    assert!(portal.texts().await.is_empty());

    let weak = browser
        .post(
            "/api/choose_password",
            &[
                ("one_time_password", PASSWORD),
                ("password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    choose_password(&mut browser).await;
    assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
    let account = portal.account("arthur").await;
    assert!(!account.must_change_password);
    assert_eq!(account.password_expires_at, None);
    browser.post("/api/logout", &[]).await;
    let old = login(&portal, "arthur", PASSWORD).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_one_time_password_expires_after_its_days() {
    let portal = TestPortal::with(|s| s.one_time_password_days = 14).await;
    import_patient_with_landline(&portal, "arthur").await;
    portal.clock.advance_seconds(13 * 86_400);
    assert_eq!(
        login(&portal, "arthur", PASSWORD).await.status,
        StatusCode::OK
    );
    portal.clock.advance_seconds(86_400);
    let expired = login(&portal, "arthur", PASSWORD).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(
        expired.json()["message"]
            .as_str()
            .unwrap()
            .contains("has expired"),
        "{}",
        expired.text()
    );
    // A wrong password still gets the same answer as ever: the expiry says nothing to a guesser.
    let wrong = login(&portal, "arthur", "not the password at all").await;
    assert_eq!(wrong.json()["message"], app::login::password::WRONG_DETAILS);
}

#[tokio::test]
async fn choosing_a_password_ends_the_accounts_other_sessions() {
    let portal = TestPortal::with(|s| s.practice.two_factor = false).await;
    import_patient_with_landline(&portal, "arthur").await;
    let mut elsewhere = portal.browser();
    elsewhere
        .post(
            "/api/login",
            &[("username", "arthur"), ("password", PASSWORD)],
        )
        .await;
    let mut here = portal.browser();
    here.post(
        "/api/login",
        &[("username", "arthur"), ("password", PASSWORD)],
    )
    .await;
    choose_password(&mut here).await;
    assert_eq!(here.post("/api/me", &[]).await.status, StatusCode::OK);
    assert_eq!(
        elsewhere.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_csv_import_reports_bad_rows_and_keeps_the_good_ones() {
    let portal = TestPortal::new().await;
    let csv = format!(
        "{IMPORT_HEADER}\
         ok.one,Ann,Lee,1960-01-02,021 555 0199,,first one-time pw\n\
         ok.two,Bob,Ng,1970-05-06,,\"$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A\",\n\
         bad date,Cat,Wu,1970-13-45,,,x pw here please\n\
         bad.hash,Dan,Oh,1970-01-01,,md5-of-something,\n\
         both,Eve,Ma,1970-01-01,,\"$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaA\",pw too\n\
         unquoted,Hal,Ko,1970-01-01,,$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaA,\n\
         OK.ONE,Fay,Li,1970-01-01,,,another one-time pw\n"
    );
    let report = app::existing_patients::import_patients(&portal.portal, csv.as_bytes())
        .await
        .unwrap();
    assert_eq!(report.imported, 2, "{:?}", report.skipped);
    let lines: Vec<u64> = report.skipped.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, vec![4, 5, 6, 7, 8]);
    assert!(report.skipped[3].1.contains("quote"));
    assert!(report.skipped[4].1.contains("already taken"));
    let missing_columns = app::existing_patients::import_patients(
        &portal.portal,
        "username,given_name\nx,y\n".as_bytes(),
    )
    .await;
    assert!(missing_columns.is_err());
    let no_password_column = app::existing_patients::import_patients(
        &portal.portal,
        "username,given_name,family_name,date_of_birth,phone
x.y,X,Y,1950-01-01,
"
        .as_bytes(),
    )
    .await;
    assert!(no_password_column.is_err());
}

#[tokio::test]
async fn an_import_needs_only_one_of_the_password_columns_and_no_phone() {
    let portal = TestPortal::with(|s| s.practice.two_factor = false).await;
    let csv = "username,given_name,family_name,date_of_birth,one_time_password
               only.otp,Ora,Tee,1950-01-01,temporary-pass-1234
";
    let report = app::existing_patients::import_patients(&portal.portal, csv.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        (report.imported, report.skipped.len()),
        (1, 0),
        "{report:?}"
    );
    let reply = login(&portal, "only.otp", "temporary-pass-1234").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn an_imported_hash_is_upgraded_at_the_first_right_password() {
    let portal = TestPortal::with(|s| s.practice.two_factor = false).await;
    // argon2i, m=4096, t=3, p=1 of "password" with salt "somesalt" (the argon2 reference vector).
    let csv = format!(
        "{IMPORT_HEADER}old.timer,Gus,Po,1950-01-01,,\"$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A\",\n"
    );
    app::existing_patients::import_patients(&portal.portal, csv.as_bytes())
        .await
        .unwrap();
    let reply = login(&portal, "old.timer", "password").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let account = portal.account("old.timer").await;
    assert!(account
        .password_hash
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
}

#[tokio::test]
async fn sign_ins_and_failures_are_audited_without_secrets() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    login(&portal, "margaret", "wrong password!!").await;
    let account = portal.account("margaret").await;
    let events = portal.portal.store.audit_events(account.id).await.unwrap();
    let kinds: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.event.clone(), e.outcome.clone()))
        .collect();
    for expected in [
        ("registered", "ok"),
        ("code_sent", "ok"),
        ("code_verified", "ok"),
        ("signed_in", "ok"),
        ("logged_out", "ok"),
        ("login", "wrong_password"),
    ] {
        assert!(
            kinds.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} in {kinds:?}"
        );
    }
    assert!(events.iter().all(|e| e.ip == "203.0.113.7"));
    let everything = format!("{events:?}");
    assert!(!everything.contains(PASSWORD));
}

/// An account that had a number verified under the old rules and lost it (or, later, one that
/// support has not reset): no verified number, but not a first one either.
async fn account_that_had_a_verified_number(portal: &TestPortal, username: &str) {
    portal.verified_patient(username).await;
    let account = portal.account(username).await;
    sqlx_update(
        portal,
        "UPDATE accounts SET mobile_verified_at = NULL WHERE id = $1",
        account.id.0,
    )
    .await;
}

async fn sqlx_update(portal: &TestPortal, sql: &str, id: i64) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&portal.database_url).await.unwrap();
    sqlx::query(sql).bind(id).execute(&pool).await.unwrap();
}

#[tokio::test]
async fn an_account_that_ever_had_a_verified_number_never_gives_one_at_login() {
    let portal = TestPortal::with(|s| s.practice.support_phone = "0800 427 287".into()).await;
    account_that_had_a_verified_number(&portal, "margaret").await;
    let mut browser = portal.browser();
    let login = browser.log_in("margaret").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.json()["code_sent"], false);
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["support_needed"], true);
    assert_eq!(step["needs_number"], false);
    let typed = browser
        .post("/api/send_code", &[("mobile", "027 765 4321")])
        .await;
    assert_eq!(typed.status, StatusCode::FORBIDDEN);
    assert!(typed.json()["message"]
        .as_str()
        .unwrap()
        .contains("0800 427 287"));
    let on_file = browser.post("/api/send_code", &[]).await;
    assert_eq!(on_file.status, StatusCode::FORBIDDEN);
    assert!(portal
        .texts()
        .await
        .iter()
        .all(|(to, _)| to != "+64277654321"));
}

#[tokio::test]
async fn a_practice_can_send_first_numbers_at_login_to_support() {
    let portal = TestPortal::with(|s| {
        s.practice.first_number_at_login = app::portal::FirstNumberAtLogin::Support;
    })
    .await;
    import_patient_with_landline(&portal, "arthur").await;
    let mut browser = portal.browser();
    browser.log_in("arthur").await;
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["support_needed"], true);
    let typed = browser
        .post("/api/send_code", &[("mobile", "022 123 4567")])
        .await;
    assert_eq!(typed.status, StatusCode::FORBIDDEN);
    assert!(portal.texts().await.is_empty());
    // Registration is not a login: a new patient still verifies the number they registered.
    portal.browser().register_and_sign_in("margaret").await;
}

#[tokio::test]
async fn a_first_number_given_at_login_is_audited_and_emailed() {
    let portal = TestPortal::new().await;
    import_patient_with_landline(&portal, "arthur").await;
    let account = portal.account("arthur").await;
    portal
        .portal
        .store
        .update_email(account.id, Some("arthur@example.org"))
        .await
        .unwrap();
    // An address its owner confirmed, as notices go only to those.
    let store = &portal.portal.store;
    let now = portal.clock_now();
    store
        .await_email_confirmation(account.id, "arthur@example.org", "link", now + 60_000)
        .await
        .unwrap();
    assert!(store.confirm_email("link", now).await.unwrap().is_some());
    let mut elsewhere = portal.browser_at("198.51.100.9");
    elsewhere.log_in("arthur").await;

    let mut browser = portal.browser();
    browser.log_in("arthur").await;
    browser
        .post("/api/send_code", &[("mobile", "022 123 4567")])
        .await;
    let code = portal.last_code().await;
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());

    let events = portal.portal.store.audit_events(account.id).await.unwrap();
    let change = events
        .iter()
        .find(|e| e.event == "mobile_changed")
        .expect("a number set at login is a number change");
    assert_eq!(change.outcome, "set_at_login");
    assert_eq!(change.detail.as_deref(), Some("from ***234 to ***567"));
    assert!(events
        .iter()
        .any(|e| e.event == "mobile_change_email" && e.outcome == "ok"));
    assert!(events.iter().any(|e| e.event == "sessions_ended"));
    let emails = portal.portal.store.dev_email().await.unwrap();
    let email = emails.last().expect("the patient is emailed");
    assert_eq!(email.to_address, "arthur@example.org");
    assert!(email.body.contains("ending 67"), "{}", email.body);
    assert!(email.body.contains("Someone may know your password"));
    // The other pending session of the account is gone.
    assert_eq!(
        elsewhere.post("/api/code_step", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn refused_logins_are_audited_against_the_account_or_the_typed_name() {
    let portal = TestPortal::with(|s| s.limits.login_failures_before_delay = 2).await;
    portal.verified_patient("margaret").await;
    for _ in 0..2 {
        login(&portal, "margaret", "wrong password!!").await;
    }
    let delayed = login(&portal, "margaret", "wrong password!!").await;
    assert_eq!(delayed.status, StatusCode::TOO_MANY_REQUESTS);
    let audit = portal.audit_of("margaret").await;
    for expected in [
        ("login", "wrong_password"),
        ("login_delay_started", "limited"),
        ("login", "delayed"),
    ] {
        assert!(
            audit.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {audit:?}"
        );
    }
    assert_eq!(
        audit
            .iter()
            .filter(|(event, _)| event == "login_delay_started")
            .count(),
        1,
        "the lockout is one event"
    );

    login(&portal, "Nobody.Here", "wrong password!!").await;
    let unknown = portal
        .portal
        .store
        .audit_events_for_username("Nobody.Here")
        .await
        .unwrap();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].outcome, "unknown_user");
    assert_eq!(unknown[0].account_id, None);
}
