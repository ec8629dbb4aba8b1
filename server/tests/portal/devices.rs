//! Remembered devices and the patient's "Sign-in and security" page, through the real router:
//! a remembered browser skips the code and never the password, a token counts only for its own
//! account and only until it is forgotten, and a patient can see and end their other sessions.

use crate::common;

use app::{clock::DAY, staff::StaffRole};
use axum::http::StatusCode;
use common::{Browser, TestPortal, PASSWORD};

const DEVICE: &str = "portal_device";

/// Logs in and, with the texted code, asks for this browser to be remembered.
async fn log_in_remembering(portal: &TestPortal, browser: &mut Browser<'_>, username: &str) {
    let login = browser.log_in(username).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    assert_eq!(
        login.json()["signed_in"],
        false,
        "a code is asked for first"
    );
    let code = portal.last_code().await;
    let verified = browser
        .post(
            "/api/verify_code",
            &[("code", code.as_str()), ("remember_device", "on")],
        )
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
}

/// A patient signed in, who then asked for `browser` to be remembered, and logged out.
async fn remembered<'a>(portal: &'a TestPortal, username: &str) -> Browser<'a> {
    let mut browser = portal.browser();
    browser.register_and_sign_in(username).await;
    browser.post("/api/logout", &[]).await;
    log_in_remembering(portal, &mut browser, username).await;
    assert!(browser.cookie_value(DEVICE).is_some(), "the device cookie");
    browser.post("/api/logout", &[]).await;
    browser
}

/// Logs in with the password: `true` when that alone signed in, `false` when a code is asked.
async fn password_alone_signs_in(browser: &mut Browser<'_>, username: &str) -> bool {
    let texts_before = browser.portal.texts().await.len();
    let login = browser.log_in(username).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    let signed_in = login.json()["signed_in"].as_bool().unwrap();
    let me = browser.post("/api/me", &[]).await.status;
    assert_eq!(me == StatusCode::OK, signed_in, "/api/me agrees");
    if signed_in {
        assert_eq!(
            browser.portal.texts().await.len(),
            texts_before,
            "no code was texted"
        );
    }
    browser.post("/api/logout", &[]).await;
    signed_in
}

async fn details_of(portal: &TestPortal, username: &str, event: &str) -> Vec<String> {
    let account = portal.account(username).await;
    portal
        .portal
        .store
        .audit_events(account.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == event)
        .map(|e| e.detail.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_remembered_device_skips_the_code_but_never_the_password() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    browser.post("/api/logout", &[]).await;

    // Unticked, nothing is remembered.
    let login = browser.log_in("margaret").await;
    assert_eq!(login.json()["signed_in"], false);
    let code = portal.last_code().await;
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK);
    assert!(verified.set_cookie(DEVICE).is_none());
    browser.post("/api/logout", &[]).await;

    let login = browser.log_in("margaret").await;
    assert_eq!(login.json()["signed_in"], false);
    let code = portal.last_code().await;
    let verified = browser
        .post(
            "/api/verify_code",
            &[("code", code.as_str()), ("remember_device", "on")],
        )
        .await;
    let cookie = verified.set_cookie(DEVICE).expect("a device cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(cookie.contains(&format!("Max-Age={}", 30 * 24 * 3600)));
    browser.post("/api/logout", &[]).await;

    assert!(password_alone_signs_in(&mut browser, "margaret").await);
    // The password is still checked.
    let wrong = browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", "not the password")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let sign_ins = details_of(&portal, "margaret", "signed_in").await;
    assert_eq!(sign_ins[0], "factor: sms");
    assert!(
        sign_ins
            .last()
            .unwrap()
            .starts_with("factor: remembered_device"),
        "{sign_ins:?}"
    );
    // Only the token's hash is stored.
    let token = browser.cookie_value(DEVICE).unwrap();
    let account = portal.account("margaret").await;
    let stored = portal
        .portal
        .store
        .remembered_devices(account.id, portal.clock_now())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].token_hash, token);
    assert!(!stored[0].token_hash.contains(&token));
}

#[tokio::test]
async fn a_device_token_of_another_account_counts_for_nothing() {
    let portal = TestPortal::new().await;
    let margaret = remembered(&portal, "margaret").await;
    let token = margaret.cookie_value(DEVICE).unwrap();

    let mut other = portal.browser_at("198.51.100.9");
    other.register_and_sign_in("arthur").await;
    other.post("/api/logout", &[]).await;
    other.put_cookie(DEVICE, &token);
    assert!(!password_alone_signs_in(&mut other, "arthur").await);

    // The same browser, with margaret's device, asks arthur for a code too.
    let mut shared = portal.browser();
    shared.put_cookie(DEVICE, &token);
    assert!(!password_alone_signs_in(&mut shared, "arthur").await);
    // A made-up token is nobody's.
    shared.put_cookie(DEVICE, "made-up");
    assert!(!password_alone_signs_in(&mut shared, "margaret").await);
}

#[tokio::test]
async fn a_forgotten_device_asks_for_the_code_again_wherever_its_token_is() {
    let portal = TestPortal::new().await;
    let mut margaret = remembered(&portal, "margaret").await;
    let token = margaret.cookie_value(DEVICE).unwrap();
    assert!(password_alone_signs_in(&mut margaret, "margaret").await);

    // Signed in with a code from another browser, she forgets every device.
    let mut elsewhere = portal.browser_at("198.51.100.9");
    elsewhere.log_in("margaret").await;
    let code = portal.last_code().await;
    elsewhere.post("/api/verify_code", &[("code", &code)]).await;
    let forgot = elsewhere.post("/api/forget_all_devices", &[]).await;
    assert_eq!(forgot.status, StatusCode::OK, "{}", forgot.text());

    assert!(!password_alone_signs_in(&mut margaret, "margaret").await);
    let mut copy = portal.browser_at("198.51.100.10");
    copy.put_cookie(DEVICE, &token);
    assert!(!password_alone_signs_in(&mut copy, "margaret").await);
    let forgotten = details_of(&portal, "margaret", "devices_forgotten").await;
    assert_eq!(forgotten, ["1 forgotten: by the patient"]);
}

#[tokio::test]
async fn forget_this_device_forgets_only_this_one() {
    let portal = TestPortal::new().await;
    let mut first = remembered(&portal, "margaret").await;
    let mut second = portal.browser_at("198.51.100.9");
    log_in_remembering(&portal, &mut second, "margaret").await;

    let page = second.post("/api/security", &[]).await.json();
    assert_eq!(page["devices"].as_array().unwrap().len(), 2);
    let mine: Vec<bool> = page["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["this_device"].as_bool().unwrap())
        .collect();
    assert_eq!(mine.iter().filter(|m| **m).count(), 1);

    let forgot = second.post("/api/forget_device", &[]).await;
    assert_eq!(forgot.status, StatusCode::OK, "{}", forgot.text());
    assert!(
        second.cookie_value(DEVICE).is_none(),
        "the cookie is cleared"
    );
    second.post("/api/logout", &[]).await;
    assert!(!password_alone_signs_in(&mut second, "margaret").await);
    assert!(password_alone_signs_in(&mut first, "margaret").await);

    // Another patient can't forget margaret's device by its number.
    let mut arthur = portal.browser_at("198.51.100.20");
    arthur.register_and_sign_in("arthur").await;
    let account = portal.account("margaret").await;
    let id = portal
        .portal
        .store
        .remembered_devices(account.id, portal.clock_now())
        .await
        .unwrap()[0]
        .id;
    let refused = arthur
        .post("/api/forget_device", &[("device", &id.to_string())])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert!(password_alone_signs_in(&mut first, "margaret").await);
}

#[tokio::test]
async fn a_device_is_remembered_for_the_practices_days_and_no_longer() {
    let portal = TestPortal::new().await;
    let mut browser = remembered(&portal, "margaret").await;
    portal.clock.advance_seconds(29 * DAY / 1000);
    assert!(password_alone_signs_in(&mut browser, "margaret").await);
    portal.clock.advance_seconds(DAY / 1000 + 1);
    assert!(!password_alone_signs_in(&mut browser, "margaret").await);
}

/// The practice's "Remember devices (days)", saved as an admin's save does.
async fn set_days(portal: &TestPortal, days: i64) {
    let mut practice = (*portal.portal.practice()).clone();
    practice.remember_device_days = days;
    portal.save_practice(practice).await;
}

#[tokio::test]
async fn fewer_days_or_none_from_the_practice_apply_to_devices_remembered_before() {
    let portal = TestPortal::with(|s| s.practice.remember_device_days = 10).await;
    let mut browser = remembered(&portal, "margaret").await;
    set_days(&portal, 2).await;
    portal.clock.advance_seconds(3 * DAY / 1000);
    assert!(!password_alone_signs_in(&mut browser, "margaret").await);

    let mut browser = portal.browser_at("198.51.100.9");
    log_in_remembering(&portal, &mut browser, "margaret").await;
    browser.post("/api/logout", &[]).await;
    set_days(&portal, 0).await;
    assert!(!password_alone_signs_in(&mut browser, "margaret").await);
    // Off, the code step doesn't offer it, and a tick is ignored.
    browser.log_in("margaret").await;
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["remember_days"], 0);
    let code = portal.last_code().await;
    let verified = browser
        .post(
            "/api/verify_code",
            &[("code", code.as_str()), ("remember_device", "on")],
        )
        .await;
    assert_eq!(verified.status, StatusCode::OK);
    assert!(verified.set_cookie(DEVICE).is_none());
}

#[tokio::test]
async fn a_new_verified_number_forgets_every_device() {
    let portal = TestPortal::new().await;
    let mut remembered = remembered(&portal, "margaret").await;
    let mut browser = portal.browser_at("198.51.100.9");
    browser.log_in("margaret").await;
    let code = portal.last_code().await;
    browser.post("/api/verify_code", &[("code", &code)]).await;
    let saved = browser
        .post("/api/change_mobile", &[("mobile", "021 555 0999")])
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    // Saved but not yet verified, nothing changes.
    assert!(password_alone_signs_in(&mut remembered, "margaret").await);

    let code = portal.last_code().await;
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    assert!(!password_alone_signs_in(&mut remembered, "margaret").await);
    let forgotten = details_of(&portal, "margaret", "devices_forgotten").await;
    assert_eq!(forgotten, ["1 forgotten: the verified number changed"]);
}

#[tokio::test]
async fn the_practices_actions_forget_every_device() {
    for (action, why) in [
        ("end_sessions", "by the practice"),
        ("reset_mobile", "by the practice"),
        ("one_time_password", "the password changed"),
    ] {
        let portal = TestPortal::new().await;
        let mut browser = remembered(&portal, "margaret").await;
        let mut support = portal.staff("sam", StaffRole::Support).await;
        let reference = support.find("margaret").await;
        let done = support
            .browser
            .post(
                "/api/staff/support_action",
                &[
                    ("patient", &reference),
                    ("action", action),
                    ("reason", "patient asked"),
                    ("identity_check", "called_back"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{action}: {}", done.text());
        let login = match done.json()["one_time_password"].as_str() {
            Some(password) => {
                browser
                    .post(
                        "/api/login",
                        &[("username", "margaret"), ("password", password)],
                    )
                    .await
            }
            None => browser.log_in("margaret").await,
        };
        assert_eq!(login.status, StatusCode::OK, "{action}: {}", login.text());
        assert_eq!(login.json()["signed_in"], false, "{action}: a code again");
        let forgotten = details_of(&portal, "margaret", "devices_forgotten").await;
        assert_eq!(forgotten, [format!("1 forgotten: {why}")], "{action}");
    }
}

#[tokio::test]
async fn choosing_a_new_password_forgets_every_device() {
    let portal = TestPortal::new().await;
    let mut browser = remembered(&portal, "margaret").await;
    let mut other = portal.browser_at("198.51.100.9");
    log_in_remembering(&portal, &mut other, "margaret").await;
    let account = portal.account("margaret").await;
    // A password the practice gave, then the patient's own.
    let mut support = portal.staff("sam", StaffRole::Support).await;
    let reference = support.find("margaret").await;
    let done = support
        .browser
        .post(
            "/api/staff/support_action",
            &[
                ("patient", &reference),
                ("action", "one_time_password"),
                ("reason", "forgot it"),
                ("identity_check", "in_person"),
            ],
        )
        .await;
    let given = done.json()["one_time_password"]
        .as_str()
        .unwrap()
        .to_string();
    browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", &given)],
        )
        .await;
    let code = portal.last_code().await;
    browser
        .post(
            "/api/verify_code",
            &[("code", code.as_str()), ("remember_device", "on")],
        )
        .await;
    let chosen = browser
        .post(
            "/api/choose_password",
            &[
                ("one_time_password", &given),
                ("password", PASSWORD),
                ("confirm_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.text());
    let left = portal
        .portal
        .store
        .remembered_devices(account.id, portal.clock_now())
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    browser.post("/api/logout", &[]).await;
    assert!(!password_alone_signs_in(&mut browser, "margaret").await);
}

#[tokio::test]
async fn a_patient_sees_their_sessions_and_signs_out_the_others() {
    let portal = TestPortal::new().await;
    let mut here = portal.browser();
    here.register_and_sign_in("margaret").await;
    let mut phone = portal.browser_at("198.51.100.9");
    phone.log_in("margaret").await;
    let code = portal.last_code().await;
    phone.post("/api/verify_code", &[("code", &code)]).await;
    let mut laptop = portal.browser_at("198.51.100.10");
    laptop.log_in("margaret").await;
    let code = portal.last_code().await;
    laptop.post("/api/verify_code", &[("code", &code)]).await;

    let page = here.post("/api/security", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let sessions = page.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3);
    let others: Vec<String> = sessions
        .iter()
        .filter(|s| s["this_device"] == false)
        .map(|s| s["reference"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(others.len(), 2);
    // A reference is no cookie and no hash of one.
    let phone_session = phone.session().await;
    assert!(others.iter().all(|r| *r != phone_session.id_hash));

    // Another patient can't end them.
    let mut arthur = portal.browser_at("198.51.100.20");
    arthur.register_and_sign_in("arthur").await;
    for reference in &others {
        let refused = arthur
            .post("/api/sign_out_session", &[("session", reference)])
            .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(phone.post("/api/me", &[]).await.status, StatusCode::OK);

    // One by one: each of the two others ends, and this one stays.
    let ended = here
        .post("/api/sign_out_session", &[("session", &others[0])])
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text());
    let alive = |status: StatusCode| status == StatusCode::OK;
    let phone_alive = alive(phone.post("/api/me", &[]).await.status);
    let laptop_alive = alive(laptop.post("/api/me", &[]).await.status);
    assert!(phone_alive ^ laptop_alive, "exactly one of the two ended");

    let everywhere = here.post("/api/sign_out_everywhere_else", &[]).await;
    assert_eq!(everywhere.status, StatusCode::OK);
    assert_eq!(
        phone.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        laptop.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(here.post("/api/me", &[]).await.status, StatusCode::OK);
    // Its own session can't be signed out from the list: "Log out" does that.
    let page = here.post("/api/security", &[]).await.json();
    assert_eq!(page["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_plain_form_comes_back_to_the_page_that_says_so() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    let request = axum::http::Request::post("/api/sign_out_everywhere_else")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .header("cookie", browser.cookie.clone().unwrap())
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = portal.send(request).await;
    assert!(reply.status.is_redirection(), "{}", reply.status);
    assert_eq!(reply.headers["location"], "/security?signed-out-elsewhere");
    let page = portal
        .get("/security?signed-out-elsewhere", browser.cookie.as_deref())
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    for text in [
        "Sign-in and security",
        "You&#x27;re signed out everywhere else.",
        "Remembered devices",
        "Where you&#x27;re signed in",
        "Recent activity",
    ] {
        assert!(
            html.contains(text) || html.contains(&text.replace("&#x27;", "'")),
            "{text}"
        );
    }
}

#[tokio::test]
async fn recent_activity_names_the_practice_and_counts_refused_sign_ins() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    browser.post("/api/logout", &[]).await;
    for _ in 0..3 {
        browser
            .post(
                "/api/login",
                &[("username", "margaret"), ("password", "wrong guess")],
            )
            .await;
    }
    let mut support = portal.staff("samantha", StaffRole::Support).await;
    let reference = support.find("margaret").await;
    support
        .browser
        .post(
            "/api/staff/support_action",
            &[
                ("patient", &reference),
                ("action", "unlock"),
                ("reason", "called us"),
            ],
        )
        .await;
    browser.log_in("margaret").await;
    let code = portal.last_code().await;
    browser.post("/api/verify_code", &[("code", &code)]).await;

    let page = browser.post("/api/security", &[]).await.json();
    let lines: Vec<String> = page["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["what"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        lines[..3],
        [
            "Signed in with a code sent by text.",
            "The practice cleared the waits on your logins.",
            "3 refused sign-in attempts.",
        ],
        "{lines:?}"
    );
    assert!(lines.contains(&"You created your account.".to_string()));
    assert!(lines.iter().all(|l| !l.contains("samantha")));
    assert!(lines.len() <= 20);
}

#[tokio::test]
async fn the_security_page_is_for_a_signed_in_patient_only() {
    let portal = TestPortal::new().await;
    let mut pending = portal.browser();
    pending.register("margaret").await;
    for path in [
        "/api/security",
        "/api/forget_device",
        "/api/forget_all_devices",
        "/api/sign_out_session",
        "/api/sign_out_everywhere_else",
    ] {
        let anonymous = portal.browser().post(path, &[]).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
        let waiting = pending.post(path, &[]).await;
        assert_eq!(waiting.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn an_admin_sets_the_days_within_bounds_and_the_change_is_audited() {
    let portal = TestPortal::new().await;
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let settings = admin.browser.post("/api/staff/settings", &[]).await.json();
    assert_eq!(settings["remember_device_days"], 30);
    let save = |days: Option<&'static str>| {
        let mut fields = vec![
            ("two_factor", "on"),
            ("practice_name", "Patient Portal"),
            ("first_number_at_login", "allow"),
            ("resend_cooldown_seconds", "30"),
        ];
        fields.extend(days.map(|d| ("remember_device_days", d)));
        fields
    };
    for refused in ["91", "-1", "", "a week"] {
        let reply = admin
            .browser
            .post("/api/staff/save_settings", &save(Some(refused)))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(
            reply.field_error("remember_device_days"),
            "Please enter a whole number of days from 0 to 90."
        );
    }
    let saved = admin
        .browser
        .post("/api/staff/save_settings", &save(Some("7")))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(portal.portal.practice().remember_device_days, 7);
    // A page from before the setting leaves it as it is.
    let older = admin
        .browser
        .post("/api/staff/save_settings", &save(None))
        .await;
    assert_eq!(older.status, StatusCode::OK, "{}", older.text());
    assert_eq!(portal.portal.practice().remember_device_days, 7);

    let log = admin
        .browser
        .post("/api/staff/audit_log", &[("event", "setting_changed")])
        .await
        .json();
    assert_eq!(
        log["items"][0]["detail"], "remember devices (days): 30 → 7",
        "{log}"
    );
    // And the code step offers the new number of days.
    let mut browser = portal.browser();
    browser.register("margaret").await;
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["remember_days"], 7);
}

#[tokio::test]
async fn the_support_record_shows_remembered_devices() {
    let portal = TestPortal::new().await;
    remembered(&portal, "margaret").await;
    let mut support = portal.staff("sam", StaffRole::Support).await;
    let reference = support.find("margaret").await;
    let record = support
        .browser
        .post("/api/staff/patient", &[("patient", &reference)])
        .await
        .json();
    let devices = record["remembered_devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{record}");
    assert_eq!(devices[0][0], "A web browser");
}

#[tokio::test]
async fn a_device_forgotten_while_its_login_is_on_the_way_begins_no_session() {
    let portal = TestPortal::new().await;
    remembered(&portal, "margaret").await;
    let account = portal.account("margaret").await;
    let now = portal.clock_now();
    let device = portal
        .portal
        .store
        .remembered_devices(account.id, now)
        .await
        .unwrap()
        .remove(0);
    // The login found the device remembered; then the practice ended every session, which
    // forgets it, before the login stored its session.
    portal
        .portal
        .store
        .forget_devices(account.id)
        .await
        .unwrap();
    let begun = app::session::begin_on_remembered_device(
        &portal.portal,
        app::session::Browser::default(),
        account.id,
        device.id,
    )
    .await
    .unwrap();
    assert!(begun.is_none());
    let sessions = portal
        .portal
        .store
        .sessions_of(account.id, now)
        .await
        .unwrap();
    assert!(sessions.is_empty(), "{sessions:?}");
}

/// Signs in on a remembered device: the password alone.
async fn signed_in_by_device<'a>(portal: &'a TestPortal, username: &str) -> Browser<'a> {
    let mut browser = remembered(portal, username).await;
    let login = browser.log_in(username).await;
    assert_eq!(login.json()["signed_in"], true, "{}", login.text());
    browser
}

#[tokio::test]
async fn a_remembered_device_must_confirm_its_you_before_moving_the_number_or_the_email() {
    let portal = TestPortal::new().await;
    let mut browser = signed_in_by_device(&portal, "margaret").await;
    let texts_before = portal.texts().await.len();

    // "Save & Get Code" to a number of the caller's own: refused, nothing saved or texted.
    let refused = browser
        .post("/api/change_mobile", &[("mobile", "021 555 0999")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert!(portal.account("margaret").await.pending_mobile.is_none());
    assert_eq!(portal.texts().await.len(), texts_before);
    let refused = browser
        .post("/api/update_email", &[("email", "someone@example.org")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        portal.account("margaret").await.email.as_deref(),
        Some("margaret@example.org")
    );
    assert_eq!(
        browser.post("/api/me", &[]).await.json()["recently_proved"],
        false
    );

    // "Confirm it's you" texts the verified number; its code proves the session.
    let ways = browser.post("/api/confirm_ways", &[]).await.json();
    assert_eq!(ways["mobile_ending"], "23");
    assert_eq!(ways["password"], false);
    let page = browser
        .portal
        .get("/confirm?for=number", browser.cookie.as_deref())
        .await;
    assert!(
        page.text().contains("Confirm it&#x27;s you") || page.text().contains("Confirm it's you")
    );
    assert_eq!(
        browser.post("/api/confirm_send_code", &[]).await.status,
        StatusCode::OK
    );
    let (to, _) = portal.texts().await.pop().unwrap();
    assert_eq!(to, "+64215550123", "the code goes to the verified number");
    // The password is no proof while there is a factor to prove it with.
    let refused = browser
        .post("/api/confirm_password", &[("password", PASSWORD)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let code = portal.last_code().await;
    let confirmed = browser.post("/api/confirm_code", &[("code", &code)]).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    assert_eq!(
        browser.post("/api/me", &[]).await.json()["recently_proved"],
        true
    );
    let saved = browser
        .post("/api/change_mobile", &[("mobile", "021 555 0999")])
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
}

#[tokio::test]
async fn a_proof_lasts_the_practices_minutes() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    // A code a moment ago: the change goes straight ahead, as it always has.
    portal.clock.advance_seconds(9 * 60);
    let email = |e: &'static str| [("email", e)];
    assert_eq!(
        browser
            .post("/api/update_email", &email("m1@example.org"))
            .await
            .status,
        StatusCode::OK
    );
    portal.clock.advance_seconds(2 * 60);
    assert_eq!(
        browser
            .post("/api/update_email", &email("m2@example.org"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let mut practice = (*portal.portal.practice()).clone();
    practice.recent_proof_minutes = 30;
    portal.save_practice(practice).await;
    assert_eq!(
        browser
            .post("/api/update_email", &email("m2@example.org"))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_sets_the_recent_proof_within_bounds() {
    let portal = TestPortal::new().await;
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let settings = admin.browser.post("/api/staff/settings", &[]).await.json();
    assert_eq!(settings["recent_proof_minutes"], 10);
    let save = |minutes: &'static str| {
        vec![
            ("two_factor", "on"),
            ("practice_name", "Patient Portal"),
            ("first_number_at_login", "allow"),
            ("resend_cooldown_seconds", "30"),
            ("recent_proof_minutes", minutes),
        ]
    };
    for refused in ["0", "61", "", "an hour"] {
        let reply = admin
            .browser
            .post("/api/staff/save_settings", &save(refused))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(
            reply.field_error("recent_proof_minutes"),
            "Please enter a whole number of minutes from 1 to 60."
        );
    }
    let saved = admin
        .browser
        .post("/api/staff/save_settings", &save("60"))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(portal.portal.practice().recent_proof_minutes, 60);
    let log = admin
        .browser
        .post("/api/staff/audit_log", &[("event", "setting_changed")])
        .await
        .json();
    assert_eq!(
        log["items"][0]["detail"], "recent proof (minutes): 10 → 60",
        "{log}"
    );
}

#[tokio::test]
async fn with_no_factor_yet_the_password_again_proves_it_for_the_first_one() {
    let portal = TestPortal::with(|s| s.practice.two_factor = false).await;
    let mut browser = portal.browser();
    let registered = browser.register("margaret").await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text());
    assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
    // A password alone began this session: it has proved nothing.
    let refused = browser
        .post("/api/change_mobile", &[("mobile", "021 555 0999")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let ways = browser.post("/api/confirm_ways", &[]).await.json();
    assert_eq!(ways["password"], true);
    assert!(ways["mobile_ending"].is_null());
    assert_eq!(
        browser.post("/api/confirm_send_code", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let wrong = browser
        .post(
            "/api/confirm_password",
            &[("password", "not my password at all")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.json()["fields"]["password"].is_string());
    let right = browser
        .post("/api/confirm_password", &[("password", PASSWORD)])
        .await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text());
    let saved = browser
        .post("/api/change_mobile", &[("mobile", "021 555 0999")])
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    // Audited as the password standing in for a factor.
    let lines = details_of(&portal, "margaret", "login").await;
    assert!(
        lines.iter().any(|l| l.contains("password typed again")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_remembered_devices_token_is_replaced_each_time_it_is_used() {
    let portal = TestPortal::new().await;
    let mut browser = remembered(&portal, "margaret").await;
    let first = browser.cookie_value(DEVICE).unwrap();
    // A copy of the cookie, taken before the device was used again.
    let mut copy = portal.browser_at("198.51.100.9");
    copy.put_cookie(DEVICE, &first);
    assert!(password_alone_signs_in(&mut browser, "margaret").await);
    let second = browser.cookie_value(DEVICE).unwrap();
    assert_ne!(first, second);
    assert!(!password_alone_signs_in(&mut copy, "margaret").await);
    assert!(password_alone_signs_in(&mut browser, "margaret").await);
}
