//! The practice's side through the router: staff enrolment and sign-in (password and
//! authenticator code), the role matrix for every staff function, support's search and
//! actions, practice settings, the audit log and the staff list.

use crate::common;

use app::staff::StaffRole;
use axum::http::StatusCode;
use common::{authenticator_code, registration, Staff, TestPortal, PASSWORD, STAFF_PASSWORD};

async fn act(staff: &mut Staff<'_>, reference: &str, action: &str, reason: &str) -> common::Reply {
    staff
        .browser
        .post(
            "/api/staff/support_action",
            &[
                ("patient", reference),
                ("action", action),
                ("reason", reason),
                ("identity_check", "called_back"),
            ],
        )
        .await
}

async fn staff_login(portal: &TestPortal, name: &str, password: &str, code: &str) -> common::Reply {
    portal
        .browser()
        .post(
            "/api/staff/login",
            &[("username", name), ("password", password), ("code", code)],
        )
        .await
}

#[tokio::test]
async fn enrolment_needs_the_right_first_code_and_works_once() {
    let portal = TestPortal::new().await;
    let token = portal.add_staff("kim", StaffRole::Support).await;
    let mut browser = portal.browser();
    let start = browser
        .post("/api/staff/enrolment", &[("token", &token)])
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text());
    let secret = start.json()["secret"].as_str().unwrap().to_string();
    assert!(start.json()["qr_code"]
        .as_str()
        .unwrap()
        .starts_with("data:image/svg+xml;base64,"));
    // The same link shows the same secret again.
    let again = browser
        .post("/api/staff/enrolment", &[("token", &token)])
        .await;
    assert_eq!(again.json()["secret"], secret.as_str());

    let finish = |code: String, password: &'static str| {
        let token = token.clone();
        let portal = &portal;
        async move {
            portal
                .browser()
                .post(
                    "/api/staff/finish_enrolment",
                    &[
                        ("token", &token),
                        ("password", password),
                        ("confirm_password", password),
                        ("code", &code),
                    ],
                )
                .await
        }
    };
    let wrong = finish("000000".into(), STAFF_PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!wrong.field_error("code").is_empty());
    let weak = finish(
        authenticator_code(&portal, &secret, portal.clock_now()),
        "short",
    )
    .await;
    assert!(!weak.field_error("password").is_empty());

    let right = finish(
        authenticator_code(&portal, &secret, portal.clock_now()),
        STAFF_PASSWORD,
    )
    .await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text());
    assert_eq!(right.json()["recovery_codes"].as_array().unwrap().len(), 10);
    let reused = finish(
        authenticator_code(&portal, &secret, portal.clock_now()),
        STAFF_PASSWORD,
    )
    .await;
    assert_eq!(reused.status, StatusCode::FORBIDDEN);

    // A link left unused for a day stops working.
    let late = portal.add_staff("lee", StaffRole::Support).await;
    portal.clock.advance_seconds(24 * 3600);
    let expired = portal
        .browser()
        .post("/api/staff/enrolment", &[("token", &late)])
        .await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn staff_sign_in_needs_password_and_a_fresh_authenticator_or_recovery_code() {
    let portal = TestPortal::new().await;
    let staff = portal.staff("kim", StaffRole::Support).await;
    let now = portal.clock_now();
    let code = authenticator_code(&portal, &staff.secret, now);

    // The code just used to sign in works once.
    let reused = staff_login(&portal, "kim", STAFF_PASSWORD, &code).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    // The next step's code (a fast clock on the phone) works.
    let next = authenticator_code(&portal, &staff.secret, now + 30_000);
    assert_eq!(
        staff_login(&portal, "kim", STAFF_PASSWORD, &next)
            .await
            .status,
        StatusCode::OK
    );
    // A wrong password with a right code, and an unknown name, get the same answer.
    portal.clock.advance_seconds(60);
    let code = authenticator_code(&portal, &staff.secret, portal.clock_now());
    let wrong_password = staff_login(&portal, "kim", "not the password!", &code).await;
    let unknown = staff_login(&portal, "nobody", STAFF_PASSWORD, &code).await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password.body, unknown.body);
    // A recovery code works in place of the authenticator code, once.
    let recovery = &staff.recovery_codes[0];
    assert_eq!(
        staff_login(&portal, "kim", STAFF_PASSWORD, recovery)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        staff_login(&portal, "kim", STAFF_PASSWORD, recovery)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn failed_staff_logins_get_growing_delays() {
    let portal = TestPortal::new().await;
    let staff = portal.staff("kim", StaffRole::Support).await;
    for _ in 0..5 {
        staff_login(&portal, "kim", "not the password!", "000000").await;
    }
    let code = authenticator_code(&portal, &staff.secret, portal.clock_now());
    let delayed = staff_login(&portal, "kim", STAFF_PASSWORD, &code).await;
    assert_eq!(delayed.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(delayed.headers.contains_key("retry-after"));
}

/// Who calls: nobody, a patient waiting for their code, a signed-in patient, support, an admin.
async fn visitors(portal: &TestPortal) -> Vec<(&'static str, Option<String>)> {
    let mut pending = portal.browser();
    pending.register("pending.patient").await;
    let mut signed_in = portal.browser();
    signed_in.register_and_sign_in("signed.in").await;
    let support = portal.staff("sam", StaffRole::Support).await;
    let admin = portal.staff("ada", StaffRole::Admin).await;
    vec![
        ("anonymous", None),
        ("pending patient", pending.cookie),
        ("signed-in patient", signed_in.cookie),
        ("support", support.browser.cookie),
        ("admin", admin.browser.cookie),
    ]
}

#[tokio::test]
async fn every_staff_function_answers_each_role_as_the_matrix_says() {
    let portal = TestPortal::new().await;
    let visitors = visitors(&portal).await;
    // (endpoint, body, the status for: anonymous, pending, patient, support, admin)
    let matrix: [(&str, &str, [u16; 5]); 24] = [
        ("/api/staff/me", "", [401, 401, 401, 200, 200]),
        ("/api/staff/search_patients", "query=smith", [401, 401, 401, 200, 200]),
        // Well-formed but not shown to this session: known to be refused after the role check.
        ("/api/staff/patient", "patient=1.00", [401, 401, 401, 403, 403]),
        ("/api/staff/support_action", "patient=1.00&action=unlock&reason=x", [401, 401, 401, 403, 403]),
        ("/api/staff/settings", "", [401, 401, 401, 403, 200]),
        ("/api/staff/save_settings", "two_factor=on&practice_name=P&support_phone=0800+1&support_email=a%40b.org&first_number_at_login=allow&resend_cooldown_seconds=30", [401, 401, 401, 403, 200]),
        ("/api/staff/audit_log", "", [401, 401, 401, 403, 200]),
        ("/api/staff/overview", "", [401, 401, 401, 403, 200]),
        // Nothing blocked: the admin is told so.
        ("/api/staff/allow_texts", "kind=prefix&subject=%2B6141234&reason=x&confirm=on", [401, 401, 401, 403, 404]),
        // An admin's own address for alerts; a link not theirs is refused.
        ("/api/staff/alert_email", "email=", [401, 401, 401, 403, 200]),
        ("/api/staff/confirm_alert_email", "token=x", [401, 401, 401, 403, 403]),
        ("/api/staff/staff_list", "", [401, 401, 401, 403, 200]),
        ("/api/staff/set_staff_enabled", "username=nobody&enabled=true", [401, 401, 401, 403, 422]),
        ("/api/staff/unlock_staff", "username=nobody", [401, 401, 401, 403, 422]),
        // Their own passkeys: every staff member's (this portal is on an IP address, where
        // passkeys can't be added: 403).
        ("/api/staff/passkeys", "", [401, 401, 401, 200, 200]),
        ("/api/staff/passkey_registration", "", [401, 401, 401, 403, 403]),
        ("/api/staff/add_passkey", "credential=x", [401, 401, 401, 403, 403]),
        ("/api/staff/remove_passkey", "passkey=1", [401, 401, 401, 404, 404]),
        // Caregivers: support's and admins', for patients shown to this session only.
        ("/api/staff/care", "patient=1.00", [401, 401, 401, 403, 403]),
        ("/api/staff/add_child", "patient=1.00&given_name=A&family_name=B&date_of_birth=2020-01-01&identity_check=in_person&reason=x", [401, 401, 401, 403, 403]),
        ("/api/staff/add_caregiver", "patient=1.00&caregiver=2.00&relationship=parent&identity_check=in_person&reason=x", [401, 401, 401, 403, 403]),
        ("/api/staff/remove_caregiver", "patient=1.00&grant=1&reason=x", [401, 401, 401, 403, 403]),
        ("/api/staff/close_invitation", "patient=1.00&invitation=1&reason=x", [401, 401, 401, 403, 403]),
        ("/api/staff/set_up_sign_in", "patient=1.00&username=young.one&identity_check=in_person&reason=x", [401, 401, 401, 403, 403]),
    ];
    for (endpoint, body, expected) in matrix {
        for ((who, cookie), status) in visitors.iter().zip(expected) {
            let reply = portal.post_raw(endpoint, body, cookie.as_deref()).await;
            assert_eq!(
                reply.status.as_u16(),
                status,
                "{endpoint} as {who}: {}",
                reply.text()
            );
        }
    }
    // The CSV export too, a plain GET.
    for ((who, cookie), status) in visitors.iter().zip([401, 401, 401, 403, 200]) {
        let reply = portal.get("/staff/audit.csv", cookie.as_deref()).await;
        assert_eq!(reply.status.as_u16(), status, "audit.csv as {who}");
    }
}

#[tokio::test]
async fn a_staff_session_is_not_a_patient_and_cross_site_requests_are_refused() {
    let portal = TestPortal::new().await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    assert_eq!(
        staff.browser.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let request = axum::http::Request::post("/api/staff/search_patients")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", staff.browser.cookie.clone().unwrap())
        .header("origin", "https://evil.example")
        .body(axum::body::Body::from("query=smith"))
        .unwrap();
    assert_eq!(portal.send(request).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn support_finds_patients_by_name_birth_date_username_or_mobile_ending() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let mut other = portal.browser();
    let mut form = registration("mere", "022 123 4567");
    form[3] = ("given_name", "Mere");
    form[4] = ("family_name", "Parata");
    form[5] = ("date_of_birth", "1961-02-03");
    other.post("/api/register", &form).await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    for (query, expected) in [
        ("smith", "margaret"),
        ("Marg", "margaret"),
        ("mere par", "mere"),
        ("1961-02-03", "mere"),
        ("4567", "mere"),
        ("0123", "margaret"),
        ("margaret", "margaret"),
    ] {
        let found = staff
            .browser
            .post("/api/staff/search_patients", &[("query", query)])
            .await
            .json();
        let names: Vec<&str> = found["patients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, [expected], "{query}");
        // Numbers are masked.
        assert!(!found.to_string().contains("5550123"), "{found}");
    }
    let too_short = staff
        .browser
        .post("/api/staff/search_patients", &[("query", "m")])
        .await;
    assert_eq!(too_short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let nothing = staff
        .browser
        .post("/api/staff/search_patients", &[("query", "")])
        .await;
    assert_eq!(nothing.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn support_cant_open_a_patient_by_guessing_an_id() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let mut sam = portal.staff("sam", StaffRole::Support).await;
    let mut kim = portal.staff("kim", StaffRole::Support).await;
    let reference = sam.find("margaret").await;
    let record = sam
        .browser
        .post("/api/staff/patient", &[("patient", &reference)])
        .await;
    assert_eq!(record.status, StatusCode::OK, "{}", record.text());
    assert_eq!(record.json()["username"], "margaret");

    let id = reference.split('.').next().unwrap();
    for guess in [
        id.to_string(),
        format!("{id}.{}", "0".repeat(32)),
        format!("{id}."),
    ] {
        let refused = sam
            .browser
            .post("/api/staff/patient", &[("patient", &guess)])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{guess}");
    }
    // A reference shown to one staff session doesn't work in another.
    let elsewhere = kim
        .browser
        .post("/api/staff/patient", &[("patient", &reference)])
        .await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
    let action = act(&mut kim, &reference, "end_sessions", "guessing").await;
    assert_eq!(action.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_patient_page_shows_state_texts_and_audit_trail() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    for _ in 0..5 {
        portal
            .browser()
            .post(
                "/api/login",
                &[("username", "margaret"), ("password", "wrong password!!")],
            )
            .await;
    }
    let reference = staff.find("margaret").await;
    let record = staff
        .browser
        .post("/api/staff/patient", &[("patient", &reference)])
        .await
        .json();
    assert_eq!(record["mobile"], "***123");
    assert_eq!(record["mobile_verified"], true);
    assert!(record["delayed_until"].is_string(), "{record}");
    assert_eq!(record["sign_ins"].as_array().unwrap().len(), 1);
    let text = &record["texts"][0];
    assert_eq!(text["status"], "sent");
    assert_eq!(text["to"], "***123");
    let events: Vec<&str> = record["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect();
    assert_eq!(events[0], "patient_viewed", "newest first: {events:?}");
    assert!(events.contains(&"login_delay_started"));
}

#[tokio::test]
async fn support_unlocks_a_locked_out_patient_who_then_signs_in() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    for _ in 0..6 {
        portal
            .browser()
            .post(
                "/api/login",
                &[("username", "margaret"), ("password", "wrong password!!")],
            )
            .await;
    }
    let mut locked = portal.browser();
    assert_eq!(
        locked.log_in("margaret").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let reference = staff.find("margaret").await;
    let no_reason = act(&mut staff, &reference, "unlock", "  ").await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!no_reason.field_error("reason").is_empty());
    let texts_before = portal.texts().await.len();
    let done = act(
        &mut staff,
        &reference,
        "unlock",
        "called from home, verified DOB",
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());

    assert_eq!(locked.log_in("margaret").await.status, StatusCode::OK);
    // Told by text, and recorded with who did it and why.
    let texts = portal.texts().await;
    assert!(texts[texts_before..]
        .iter()
        .any(|(to, body)| to == "+64215550123" && body.contains("cleared")));
    let account = portal.account("margaret").await;
    let events = portal.portal.store.audit_events(account.id).await.unwrap();
    let unlocked = events
        .iter()
        .find(|e| e.event == "patient_unlocked")
        .unwrap();
    assert!(unlocked.staff_id.is_some());
    assert_eq!(
        unlocked.detail.as_deref(),
        Some("reason: called from home, verified DOB")
    );
}

#[tokio::test]
async fn a_reset_number_needs_supports_one_time_password_then_a_password_of_ones_own_then_a_new_number(
) {
    // Even where the practice sends first numbers to support: support's reset is the way.
    let portal = TestPortal::with(|s| {
        s.practice.first_number_at_login = app::portal::FirstNumberAtLogin::Support;
    })
    .await;
    portal.verified_patient("margaret").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let reference = staff.find("margaret").await;
    let done = act(
        &mut staff,
        &reference,
        "reset_mobile",
        "lost phone, ID checked",
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let one_time = done.json()["one_time_password"]
        .as_str()
        .expect("support reads a one-time password out")
        .to_string();
    let account = portal.account("margaret").await;
    assert_eq!(account.mobile, None);
    assert_eq!(account.mobile_verified_at, None);

    // A phished password and one convincing call are not enough: the old password is gone.
    let old = portal.browser().log_in("margaret").await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{}", old.text());

    let mut browser = portal.browser();
    let login = browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", &one_time)],
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    assert_eq!(login.json()["code_sent"], false);
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["choose_password_first"], true);
    assert_eq!(step["needs_number"], false);
    // No number before a password of the patient's own.
    let early = browser
        .post("/api/send_code", &[("mobile", "027 765 4321")])
        .await;
    assert_eq!(early.status, StatusCode::FORBIDDEN, "{}", early.text());
    assert_eq!(early.json()["error"], "must_choose_password");
    assert!(!portal
        .texts()
        .await
        .iter()
        .any(|(to, _)| to == "+64277654321"));
    // Nor anything a signed-in patient may do.
    assert_eq!(
        browser.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );

    let wrong = browser
        .post(
            "/api/choose_password",
            &[
                ("one_time_password", "not-the-one-given"),
                ("password", "a fresh long passphrase"),
                ("confirm_password", "a fresh long passphrase"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let chosen = browser
        .post(
            "/api/choose_password",
            &[
                ("one_time_password", &one_time),
                ("password", "a fresh long passphrase"),
                ("confirm_password", "a fresh long passphrase"),
            ],
        )
        .await;
    assert!(chosen.status.is_success(), "{}", chosen.text());

    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["choose_password_first"], false);
    assert_eq!(step["needs_number"], true);
    assert_eq!(step["support_needed"], false);
    let sent = browser
        .post("/api/send_code", &[("mobile", "027 765 4321")])
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let code = portal.last_code().await;
    assert_eq!(
        browser
            .post("/api/verify_code", &[("code", &code)])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
    let account = portal.account("margaret").await;
    assert_eq!(account.mobile.as_deref(), Some("+64277654321"));
    assert!(account.mobile_verified_at.is_some());
    // The audit keeps how support checked it was the patient, beside the reason.
    let events = portal.portal.store.audit_events(account.id).await.unwrap();
    let reset = events.iter().find(|e| e.event == "mobile_reset").unwrap();
    assert!(
        reset.detail.as_deref().is_some_and(|d| d.starts_with(
            "reason: lost phone, ID checked; identity checked: called back a number on the practice's records"
        )),
        "{:?}",
        reset.detail
    );
}

#[tokio::test]
async fn a_pending_session_with_a_verified_number_cant_choose_a_password_before_its_code() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let reference = staff.find("margaret").await;
    let done = act(&mut staff, &reference, "one_time_password", "forgot it").await;
    let one_time = done.json()["one_time_password"]
        .as_str()
        .unwrap()
        .to_string();
    let mut browser = portal.browser();
    browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", &one_time)],
        )
        .await;
    // Whoever has only the one-time password can't change the password without the phone.
    let early = browser
        .post(
            "/api/choose_password",
            &[
                ("one_time_password", &one_time),
                ("password", "a fresh long passphrase"),
                ("confirm_password", "a fresh long passphrase"),
            ],
        )
        .await;
    assert_eq!(early.status, StatusCode::FORBIDDEN, "{}", early.text());
    let account = portal.account("margaret").await;
    assert!(account.must_change_password);
}

#[tokio::test]
async fn the_actions_that_could_hand_an_account_over_ask_how_support_checked_its_the_patient() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let reference = staff.find("margaret").await;
    for action in ["reset_mobile", "one_time_password"] {
        let unasked = staff
            .browser
            .post(
                "/api/staff/support_action",
                &[
                    ("patient", reference.as_str()),
                    ("action", action),
                    ("reason", ""),
                ],
            )
            .await;
        assert_eq!(unasked.status, StatusCode::UNPROCESSABLE_ENTITY, "{action}");
        // Both problems at once.
        assert!(
            !unasked.field_error("identity_check").is_empty(),
            "{action}"
        );
        assert!(!unasked.field_error("reason").is_empty(), "{action}");
        let unknown = staff
            .browser
            .post(
                "/api/staff/support_action",
                &[
                    ("patient", reference.as_str()),
                    ("action", action),
                    ("reason", "lost phone"),
                    ("identity_check", "they_sounded_nice"),
                ],
            )
            .await;
        assert!(
            unknown.status.is_client_error(),
            "{action}: {}",
            unknown.status
        );
    }
    // Nothing changed: the number and the password stand.
    let account = portal.account("margaret").await;
    assert!(account.mobile_verified_at.is_some());
    assert!(!account.must_change_password);
    assert_eq!(
        portal.browser().log_in("margaret").await.status,
        StatusCode::OK
    );
    // The actions that can't hand the account over don't ask.
    let unlocked = staff
        .browser
        .post(
            "/api/staff/support_action",
            &[
                ("patient", reference.as_str()),
                ("action", "unlock"),
                ("reason", "called from home"),
            ],
        )
        .await;
    assert_eq!(unlocked.status, StatusCode::OK, "{}", unlocked.text());
}

#[tokio::test]
async fn support_ends_a_patients_sessions() {
    let portal = TestPortal::new().await;
    let mut margaret = portal.browser();
    margaret.register_and_sign_in("margaret").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let reference = staff.find("margaret").await;
    let done = act(&mut staff, &reference, "end_sessions", "patient asked").await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(
        margaret.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_one_time_password_from_support_signs_in_once_and_must_be_replaced() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let reference = staff.find("margaret").await;
    let done = act(
        &mut staff,
        &reference,
        "one_time_password",
        "forgot password",
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let password = done.json()["one_time_password"]
        .as_str()
        .unwrap()
        .to_string();
    // Shown once: the record never shows it again.
    let record = staff
        .browser
        .post("/api/staff/patient", &[("patient", &reference)])
        .await;
    assert!(!record.text().contains(&password));

    let old = portal
        .browser()
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let mut browser = portal.browser();
    let login = browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", &password)],
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    let code = portal.last_code().await;
    browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(
        browser.post("/api/me", &[]).await.json()["error"],
        "must_choose_password"
    );
}

#[tokio::test]
async fn an_admin_switches_two_factor_off_and_on_at_once_and_it_is_audited() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let settings = admin.browser.post("/api/staff/settings", &[]).await.json();
    assert_eq!(settings["two_factor"], true);
    let save = |two_factor: Option<&'static str>| {
        let mut fields = vec![
            ("practice_name", "Harbour Health"),
            ("support_phone", "0800 427 287"),
            ("support_email", "help@harbourhealth.example"),
            ("first_number_at_login", "allow"),
            ("resend_cooldown_seconds", "30"),
        ];
        if let Some(on) = two_factor {
            fields.push(("two_factor", on));
        }
        fields
    };
    let off = admin
        .browser
        .post("/api/staff/save_settings", &save(None))
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text());
    let changed = off.json()["changed"].to_string();
    assert!(
        changed.contains("two-factor authentication: on → off"),
        "{changed}"
    );

    let mut browser = portal.browser();
    let login = browser.log_in("margaret").await;
    assert_eq!(login.json()["signed_in"], true, "{}", login.text());
    assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
    // The practice's name and contact changed everywhere at once.
    let page = portal.get("/login", None).await.text();
    assert!(page.contains("Harbour Health") && page.contains("0800 427 287"));

    let on = admin
        .browser
        .post("/api/staff/save_settings", &save(Some("on")))
        .await;
    assert_eq!(on.status, StatusCode::OK);
    let login = portal.browser().log_in("margaret").await;
    assert_eq!(login.json()["signed_in"], false);

    let log = admin
        .browser
        .post("/api/staff/audit_log", &[("event", "setting_changed")])
        .await
        .json();
    let details: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["detail"].as_str().unwrap())
        .collect();
    assert!(
        details.contains(&"two-factor authentication: off → on"),
        "{details:?}"
    );
    assert!(
        details.contains(&"two-factor authentication: on → off"),
        "{details:?}"
    );
    assert!(log["items"][0]["staff"] == "ada");
}

#[tokio::test]
async fn bad_settings_are_refused_field_by_field_and_nothing_changes() {
    let portal = TestPortal::new().await;
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let refused = admin
        .browser
        .post(
            "/api/staff/save_settings",
            &[
                ("practice_name", ""),
                ("support_phone", "0800"),
                ("support_email", "not an email"),
                ("first_number_at_login", "sometimes"),
                ("resend_cooldown_seconds", "-1"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in [
        "practice_name",
        "support_email",
        "first_number_at_login",
        "resend_cooldown_seconds",
    ] {
        assert!(!refused.field_error(field).is_empty(), "{field}");
    }
    assert!(portal.portal.practice().two_factor, "nothing changed");
    assert_eq!(portal.portal.practice().practice_name, "Patient Portal");
}

#[tokio::test]
async fn the_audit_log_filters_and_exports_the_same_lines_as_csv() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    portal.verified_patient("arthur").await;
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let log = admin
        .browser
        .post(
            "/api/staff/audit_log",
            &[("patient", "margaret"), ("event", "signed_in")],
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text());
    let items = log.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["patient"], "margaret");
    // The request that wrote it, to find its log lines.
    let request_id = items[0]["request_id"].as_str().unwrap().to_string();
    assert!(!request_id.is_empty());
    let bad = admin
        .browser
        .post(
            "/api/staff/audit_log",
            &[("from", "yesterday"), ("event", "no_such_event")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let csv = portal
        .get(
            "/staff/audit.csv?patient=margaret&event=signed_in",
            admin.browser.cookie.as_deref(),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "time,event,outcome,patient,staff,ip,detail,request_id"
    );
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].contains("signed_in") && lines[1].contains("margaret"));
    assert!(
        lines[1].ends_with(&format!(",{request_id}")),
        "{}",
        lines[1]
    );
    // Dates bound it: nothing before today.
    let future = portal
        .get(
            "/staff/audit.csv?from=2099-01-01",
            admin.browser.cookie.as_deref(),
        )
        .await;
    assert_eq!(future.text().lines().count(), 1);
}

#[tokio::test]
async fn an_admin_disables_a_staff_member_who_is_signed_out_and_cant_sign_in() {
    let portal = TestPortal::new().await;
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let mut sam = portal.staff("sam", StaffRole::Support).await;
    let list = admin
        .browser
        .post("/api/staff/staff_list", &[])
        .await
        .json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ada", "sam"]);

    let disabled = admin
        .browser
        .post(
            "/api/staff/set_staff_enabled",
            &[("username", "sam"), ("enabled", "false")],
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
    assert_eq!(
        sam.browser.post("/api/staff/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    portal.clock.advance_seconds(30);
    let code = authenticator_code(&portal, &sam.secret, portal.clock_now());
    assert_eq!(
        staff_login(&portal, "sam", STAFF_PASSWORD, &code)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let myself = admin
        .browser
        .post(
            "/api/staff/set_staff_enabled",
            &[("username", "ada"), ("enabled", "false")],
        )
        .await;
    assert_eq!(myself.status, StatusCode::FORBIDDEN);

    admin
        .browser
        .post(
            "/api/staff/set_staff_enabled",
            &[("username", "sam"), ("enabled", "true")],
        )
        .await;
    portal.clock.advance_seconds(30);
    let code = authenticator_code(&portal, &sam.secret, portal.clock_now());
    assert_eq!(
        staff_login(&portal, "sam", STAFF_PASSWORD, &code)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_staff_session_ends_after_ten_idle_minutes() {
    let portal = TestPortal::new().await;
    let mut sam = portal.staff("sam", StaffRole::Support).await;
    portal.clock.advance_seconds(9 * 60);
    assert_eq!(
        sam.browser.post("/api/staff/me", &[]).await.status,
        StatusCode::OK
    );
    portal.clock.advance_seconds(10 * 60);
    assert_eq!(
        sam.browser.post("/api/staff/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bad_input_to_staff_functions_gets_a_clear_4xx_and_changes_nothing() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let reference = admin.find("margaret").await;
    for (endpoint, body) in [
        (
            "/api/staff/support_action",
            format!("patient={reference}&action=explode&reason=x"),
        ),
        (
            "/api/staff/support_action",
            format!("patient={reference}&reason=x"),
        ),
        (
            "/api/staff/set_staff_enabled",
            "username=ada&enabled=maybe".to_string(),
        ),
        ("/api/staff/audit_log", "before=first".to_string()),
        (
            "/api/staff/search_patients",
            "query=smith&page=-1".to_string(),
        ),
        ("/api/staff/login", "username=%FF".to_string()),
    ] {
        let reply = portal
            .post_raw(endpoint, &body, admin.browser.cookie.as_deref())
            .await;
        assert!(
            reply.status.is_client_error(),
            "{endpoint} {body}: {}",
            reply.status
        );
        assert!(
            reply.json()["message"].is_string(),
            "{endpoint}: {}",
            reply.text()
        );
    }
    let long_reason = "x".repeat(501);
    let refused = act(&mut admin, &reference, "end_sessions", &long_reason).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let account = portal.account("margaret").await;
    let events = portal.portal.store.audit_events(account.id).await.unwrap();
    assert!(events.iter().all(|e| e.event != "all_sessions_ended"));
}

/// The export as CSV records, header first.
async fn exported(portal: &TestPortal, admin: &Staff<'_>, query: &str) -> Vec<Vec<String>> {
    let reply = portal
        .get(
            &format!("/staff/audit.csv{query}"),
            admin.browser.cookie.as_deref(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let text = reply.text();
    let mut rows = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    // RFC 4180 as the csv crate writes it: quotes around fields with commas, quotes or breaks.
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            ('\n', false) => {
                fields.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut fields));
            }
            (c, _) => field.push(c),
        }
    }
    rows
}

#[tokio::test]
async fn a_typed_username_that_would_be_a_formula_stays_text_in_the_export() {
    let portal = TestPortal::new().await;
    let admin = portal.staff("ada", StaffRole::Admin).await;
    let typed = [
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "+1+1",
        "-2+3",
        "@SUM(1+1)",
    ];
    for username in typed {
        let reply = portal
            .browser()
            .post(
                "/api/login",
                &[("username", username), ("password", "whatever it is")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let rows = exported(&portal, &admin, "").await;
    let patients: Vec<&str> = rows.iter().map(|row| row[3].as_str()).collect();
    for username in typed {
        assert!(
            patients.iter().any(|cell| *cell == format!("'{username}")),
            "{username:?} should start with a quote in {patients:?}"
        );
    }
    assert!(
        rows.iter()
            .flatten()
            .all(|cell| !cell.starts_with(['=', '+', '-', '@', '\t', '\r'])),
        "no cell may start a formula"
    );
}

#[tokio::test]
async fn the_export_sends_every_matching_line_however_many() {
    let portal = TestPortal::new().await;
    let admin = portal.staff("ada", StaffRole::Admin).await;
    // More lines than the export ever held in memory before.
    let lines = 100_123;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&portal.database_url).await.unwrap();
    sqlx::query(&format!(
        "INSERT INTO audit_events (at, account_id, username, staff_id, ip, event, outcome, detail) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {lines}) \
         SELECT 1800000000000 + i, NULL, 'bulk', NULL, '203.0.113.9', 'login', 'unknown_user', \
         'line ' || i FROM n"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let rows = exported(&portal, &admin, "?patient=bulk").await;
    assert_eq!(rows[0][0], "time");
    let details: std::collections::HashSet<&str> =
        rows[1..].iter().map(|row| row[6].as_str()).collect();
    assert_eq!(rows.len() - 1, lines, "every line, once");
    assert_eq!(details.len(), lines, "no line twice");
    assert!(details.contains("line 1") && details.contains(format!("line {lines}").as_str()));
    // Newest first, across batches.
    assert_eq!(rows[1][6], format!("line {lines}"));
    assert_eq!(rows[lines][6], "line 1");
    // The export itself is audited once it has ended, with its size.
    let log = portal
        .portal
        .store
        .audit_log(&Default::default(), app::store::LinesFrom::Newest, 5)
        .await
        .unwrap();
    let export = log
        .iter()
        .find(|line| line.event == "audit_exported")
        .unwrap();
    assert_eq!(
        export.detail.as_deref(),
        Some(format!("{lines} line(s)").as_str())
    );
}

#[tokio::test]
async fn an_export_of_every_line_reads_stretches_of_ids_at_once_and_misses_none() {
    let portal = TestPortal::new().await;
    let admin = portal.staff("ada", StaffRole::Admin).await;
    let lines = 10_123;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&portal.database_url).await.unwrap();
    // From 2027-01-15 08:00 UTC, a millisecond apart.
    sqlx::query(&format!(
        "INSERT INTO audit_events (at, account_id, username, staff_id, ip, event, outcome, detail) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {lines}) \
         SELECT 1800000000000 + i, NULL, 'bulk', NULL, '203.0.113.9', 'login', 'unknown_user', \
         'line ' || i FROM n"
    ))
    .execute(&pool)
    .await
    .unwrap();
    // Ids with gaps, as a PostgreSQL sequence leaves where a transaction rolled back.
    sqlx::query(
        "DELETE FROM audit_events WHERE username = 'bulk' \
         AND CAST(substr(detail, 6) AS INTEGER) % 7 = 0",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (query, since) in [
        ("", 0),
        ("?from=2027-01-15", 1_800_000_000_000i64 - 8 * 3_600_000),
    ] {
        let expected: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE at >= $1")
            .bind(since)
            .fetch_one(&pool)
            .await
            .unwrap();
        let rows = exported(&portal, &admin, query).await;
        assert_eq!(rows.len() as i64 - 1, expected, "{query}: every line");
        let numbers: Vec<i64> = rows[1..]
            .iter()
            .filter_map(|row| row[6].strip_prefix("line ")?.parse().ok())
            .collect();
        assert!(
            numbers.len() > lines * 6 / 7 - 1,
            "{query}: {}",
            numbers.len()
        );
        // Newest first, each once, across stretches.
        assert!(
            numbers.windows(2).all(|pair| pair[0] > pair[1]),
            "{query}: in order, none twice"
        );
        assert_eq!(numbers.first(), Some(&(lines as i64)), "{query}");
    }
}

/// A page's HTML without the comments that hydration puts between the parts of a sentence.
fn without_markers(page: &str) -> String {
    let mut text = page.replace("<!>", "");
    while let Some(start) = text.find("<!--") {
        let end = text[start..]
            .find("-->")
            .map_or(text.len(), |e| start + e + 3);
        text.replace_range(start..end, "");
    }
    text
}

/// The settings form's fields, as an admin would send them back.
fn settings_form(settings: &serde_json::Value) -> Vec<(&'static str, String)> {
    let text = |name: &str| settings[name].as_str().unwrap_or_default().to_string();
    let mut fields = vec![
        ("practice_name", text("practice_name")),
        ("support_phone", text("support_phone")),
        ("support_email", text("support_email")),
        ("first_number_at_login", text("first_number_at_login")),
        (
            "resend_cooldown_seconds",
            settings["resend_cooldown_seconds"].to_string(),
        ),
        ("version", settings["version"].to_string()),
    ];
    if settings["two_factor"] == true {
        fields.push(("two_factor", "on".into()));
    }
    fields
}

async fn save_settings(admin: &mut Staff<'_>, fields: &[(&'static str, String)]) -> common::Reply {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    admin.browser.post("/api/staff/save_settings", &pairs).await
}

#[tokio::test]
async fn a_fresh_install_saves_its_settings_and_shows_patients_no_made_up_contact() {
    let portal = TestPortal::new().await;
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let settings = admin.browser.post("/api/staff/settings", &[]).await.json();
    assert_eq!(
        (
            settings["support_phone"].as_str(),
            settings["support_email"].as_str()
        ),
        (Some(""), Some(""))
    );
    // Only switching two-factor authentication off, contact fields left empty.
    let mut form = settings_form(&settings);
    form.retain(|(name, _)| *name != "two_factor");
    let saved = save_settings(&mut admin, &form).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert!(!portal.portal.practice().two_factor);
    let page = without_markers(&portal.get("/login", None).await.text());
    assert!(page.contains("Need help? Contact the practice."), "{page}");
    assert!(!page.contains("PORTAL_") && !page.contains("example.org"));
    // A contact given is checked; a phone alone is enough.
    let mut form = settings_form(&saved.json()["settings"]);
    form.retain(|(name, _)| !name.starts_with("support_"));
    form.push(("support_phone", "09 555 0134".into()));
    form.push(("support_email", "not an email".into()));
    let refused = save_settings(&mut admin, &form).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!refused.field_error("support_email").is_empty());
    form.retain(|(name, _)| *name != "support_email");
    assert_eq!(
        save_settings(&mut admin, &form).await.status,
        StatusCode::OK
    );
    let page = portal.get("/login", None).await.text();
    assert!(
        page.contains("Call <span class=\"support-phone\">09 555 0134</span>"),
        "{page}"
    );
}

#[tokio::test]
async fn a_contact_stored_by_an_older_portal_saves_unchanged() {
    let portal = TestPortal::new().await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&portal.database_url).await.unwrap();
    sqlx::query("UPDATE practice_settings SET support_email = 'reception at the front desk'")
        .execute(&pool)
        .await
        .unwrap();
    portal.portal.load_practice().await.unwrap();
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let settings = admin.browser.post("/api/staff/settings", &[]).await.json();
    let mut form = settings_form(&settings);
    form.retain(|(name, _)| *name != "two_factor");
    let saved = save_settings(&mut admin, &form).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert!(!portal.portal.practice().two_factor);
}

#[tokio::test]
async fn a_stale_settings_form_is_told_and_undoes_nothing_and_the_audit_compares_what_it_replaced()
{
    let first = TestPortal::new().await;
    let mut ada = first.staff("ada", StaffRole::Admin).await;
    let stale = ada.browser.post("/api/staff/settings", &[]).await.json();
    // Another instance, whose copy of the settings is its own.
    let second = first
        .restart(
            std::sync::Arc::new(app::sms::ConsoleSms::new(
                first.portal.store.clone(),
                first.portal.clock.clone(),
            )),
            server::Wiring {
                dev_outbox: true,
                ..Default::default()
            },
        )
        .await;
    let mut bea = second.staff("bea", StaffRole::Admin).await;
    let mut renamed = settings_form(&bea.browser.post("/api/staff/settings", &[]).await.json());
    renamed.retain(|(name, _)| *name != "practice_name");
    renamed.push(("practice_name", "Renamed Practice".into()));
    assert_eq!(
        save_settings(&mut bea, &renamed).await.status,
        StatusCode::OK
    );

    // Ada's form was filled before that save: it is refused, and the name stays.
    let mut phone = settings_form(&stale);
    phone.retain(|(name, _)| *name != "support_phone");
    phone.push(("support_phone", "09 555 0134".into()));
    let refused = save_settings(&mut ada, &phone).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert_eq!(
        refused.json()["message"],
        portal_core::staff::settings::CHANGED_MEANWHILE
    );
    assert_eq!(first.portal.practice().practice_name, "Renamed Practice");
    assert_eq!(first.portal.practice().support_phone, "");

    // Filled again, it saves, and the audit tells only what this save changed.
    let current = ada.browser.post("/api/staff/settings", &[]).await.json();
    assert_eq!(current["practice_name"], "Renamed Practice");
    let mut phone = settings_form(&current);
    phone.retain(|(name, _)| *name != "support_phone");
    phone.push(("support_phone", "09 555 0134".into()));
    let saved = save_settings(&mut ada, &phone).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(
        saved.json()["changed"],
        serde_json::json!(["support phone: (none) → 09 555 0134"])
    );
    let log = ada
        .browser
        .post("/api/staff/audit_log", &[("event", "setting_changed")])
        .await
        .json();
    let details: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            "support phone: (none) → 09 555 0134",
            "practice name: Patient Portal → Renamed Practice"
        ]
    );
}

#[tokio::test]
async fn switching_two_factor_back_on_ends_the_sessions_a_password_alone_began() {
    let portal = TestPortal::new().await;
    portal.verified_patient("arthur").await;
    let mut with_code = portal.browser();
    with_code.register_and_sign_in("margaret").await;
    portal.clock.advance_seconds(60);
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let mut form = settings_form(&admin.browser.post("/api/staff/settings", &[]).await.json());
    form.retain(|(name, _)| *name != "two_factor");
    let off = save_settings(&mut admin, &form).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text());

    portal.clock.advance_seconds(60);
    let mut password_only = portal.browser();
    let login = password_only.log_in("arthur").await;
    assert_eq!(login.json()["signed_in"], true, "{}", login.text());
    assert_eq!(
        password_only.post("/api/me", &[]).await.status,
        StatusCode::OK
    );

    portal.clock.advance_seconds(60);
    let mut form = settings_form(&off.json()["settings"]);
    form.push(("two_factor", "on".into()));
    let on = save_settings(&mut admin, &form).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text());
    assert_eq!(
        password_only.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED,
        "a password alone no longer signs anyone in"
    );
    assert_eq!(
        with_code.post("/api/me", &[]).await.status,
        StatusCode::OK,
        "a session that passed the code step stays"
    );
}

#[tokio::test]
async fn an_instance_that_has_not_yet_heard_two_factor_is_back_on_still_asks_for_the_code() {
    let first = TestPortal::new().await;
    first.verified_patient("arthur").await;
    let mut admin = first.staff("ada", StaffRole::Admin).await;
    let mut form = settings_form(&admin.browser.post("/api/staff/settings", &[]).await.json());
    form.retain(|(name, _)| *name != "two_factor");
    let off = save_settings(&mut admin, &form).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text());
    // Another instance, started while it was off.
    let second = first
        .restart(
            std::sync::Arc::new(app::sms::ConsoleSms::new(
                first.portal.store.clone(),
                first.portal.clock.clone(),
            )),
            server::Wiring::default(),
        )
        .await;
    second.portal.load_practice().await.unwrap();
    assert!(!second.portal.practice().two_factor);
    let mut form = settings_form(&off.json()["settings"]);
    form.push(("two_factor", "on".into()));
    assert_eq!(
        save_settings(&mut admin, &form).await.status,
        StatusCode::OK
    );
    // The second instance's copy still says off; the login must not believe it.
    assert!(!second.portal.practice().two_factor);
    let login = second.browser().log_in("arthur").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    assert_eq!(login.json()["signed_in"], false, "{}", login.text());
    // Nor is a new patient signed in there without a code.
    let mut newcomer = second.browser();
    let registered = newcomer.register("beatrice").await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text());
    assert_eq!(
        registered.json()["signed_in"],
        false,
        "{}",
        registered.text()
    );
    assert_eq!(
        newcomer.post("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// The authenticator key the enrolment page shows, and the cookie naming its browser.
async fn enrol_page(
    portal: &TestPortal,
    token: &str,
    cookie: Option<&str>,
) -> (String, Option<String>) {
    let page = portal
        .get(&format!("/staff/enrol?token={token}"), cookie)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    let key = html
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no key in {html}"))
        .to_string();
    let browser = page
        .set_cookie("portal_enrol")
        .map(|line| line.split(';').next().unwrap().to_string());
    (key, browser)
}

async fn finish_enrolment(portal: &TestPortal, token: &str, code: &str) -> common::Reply {
    portal
        .browser()
        .post(
            "/api/staff/finish_enrolment",
            &[
                ("token", token),
                ("password", STAFF_PASSWORD),
                ("confirm_password", STAFF_PASSWORD),
                ("code", code),
            ],
        )
        .await
}

#[tokio::test]
async fn an_enrolment_key_seen_by_a_link_preview_stops_working_once_the_staff_member_opens_the_link(
) {
    let portal = TestPortal::new().await;
    let token = portal.add_staff("kim", StaffRole::Support).await;
    // A chat app fetches the link to preview it, then the staff member opens it.
    let (previewed, _) = enrol_page(&portal, &token, None).await;
    let (shown, browser) = enrol_page(&portal, &token, None).await;
    assert_ne!(previewed, shown);
    // Their own browser is shown the same key again (a reload, a refused plain form).
    let browser = browser.expect("the browser is named");
    let (again, _) = enrol_page(&portal, &token, Some(&browser)).await;
    assert_eq!(again, shown);

    let now = portal.clock_now();
    let preview = finish_enrolment(
        &portal,
        &token,
        &authenticator_code(&portal, &previewed, now),
    )
    .await;
    assert_eq!(
        preview.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        preview.text()
    );
    assert!(!preview.field_error("code").is_empty());
    let own = finish_enrolment(&portal, &token, &authenticator_code(&portal, &shown, now)).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
}

/// Kim's stored authenticator secret.
async fn stored_secret(portal: &TestPortal, name: &str) -> (app::store::StaffId, String) {
    let row = portal
        .portal
        .store
        .staff_by_username(name)
        .await
        .unwrap()
        .unwrap();
    (row.id, row.totp_secret.unwrap())
}

#[tokio::test]
async fn a_staff_authenticator_secret_copied_into_a_text_message_is_never_sent() {
    let portal = TestPortal::new().await;
    let staff = portal.staff("kim", StaffRole::Support).await;
    let (_, sealed) = stored_secret(&portal, "kim").await;
    let compact: String = staff.secret.split_whitespace().collect();
    for copied in [sealed.as_str(), sealed.trim_start_matches("v2:")] {
        let now = portal.clock_now();
        let id = portal
            .portal
            .store
            .queue_sms(&app::store::NewSms {
                account_id: None,
                to: "+64215550123",
                sealed_body: copied,
                now,
                give_up_at: now + 60_000,
                purpose: "notice",
                after_provider: None,
            })
            .await
            .unwrap();
        let delivery = portal.portal.outbox.deliver(id).await.unwrap();
        assert!(
            matches!(delivery, app::sms::Delivery::Failed(_)),
            "{delivery:?}"
        );
    }
    let texts = portal.texts().await;
    assert!(
        texts.iter().all(|(_, body)| !body.contains(&compact)),
        "{texts:?}"
    );
}

#[tokio::test]
async fn a_staff_authenticator_secret_copied_to_another_staff_member_doesnt_sign_them_in() {
    let portal = TestPortal::new().await;
    let kim = portal.staff("kim", StaffRole::Support).await;
    portal.staff("lee", StaffRole::Admin).await;
    let (_, kims) = stored_secret(&portal, "kim").await;
    let (lee_id, lees) = stored_secret(&portal, "lee").await;
    let copied = portal
        .portal
        .store
        .replace_staff_secret(lee_id, &lees, &kims)
        .await
        .unwrap();
    assert!(copied);
    portal.clock.advance_seconds(30);
    let code = authenticator_code(&portal, &kim.secret, portal.clock_now());
    let refused = staff_login(&portal, "lee", STAFF_PASSWORD, &code).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.text()
    );
}

#[tokio::test]
async fn an_authenticator_secret_sealed_the_old_way_is_sealed_again_at_start_and_still_signs_in() {
    let portal = TestPortal::new().await;
    let kim = portal.staff("kim", StaffRole::Support).await;
    let (id, current) = stored_secret(&portal, "kim").await;
    // As releases before this one stored it: sealed like an outbox text.
    let compact: String = kim.secret.split_whitespace().collect();
    let old = portal.secret.seal(&compact);
    assert!(portal
        .portal
        .store
        .replace_staff_secret(id, &current, &old)
        .await
        .unwrap());

    let resealed = app::staff::accounts::reseal_old_secrets(&portal.portal)
        .await
        .unwrap();
    assert_eq!(resealed, 1);
    let (_, now_stored) = stored_secret(&portal, "kim").await;
    assert!(now_stored.starts_with("v2:"), "{now_stored}");
    assert_eq!(
        portal.secret.open(now_stored.trim_start_matches("v2:")),
        None
    );
    // Nothing left to do the second time.
    assert_eq!(
        app::staff::accounts::reseal_old_secrets(&portal.portal)
            .await
            .unwrap(),
        0
    );

    portal.clock.advance_seconds(30);
    let code = authenticator_code(&portal, &kim.secret, portal.clock_now());
    let signed_in = staff_login(&portal, "kim", STAFF_PASSWORD, &code).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());
}

#[tokio::test]
async fn a_search_is_answered_with_the_page_itself_scripts_or_none() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    portal.verified_patient("arthur").await;
    let admin = portal.staff("ada", StaffRole::Support).await;
    let cookie = admin.browser.cookie.as_deref();
    let page = portal.get("/staff?query=arthur", cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = without_markers(&page.text());
    assert!(html.contains("· arthur ·"), "{html}");
    assert!(
        !html.contains("· margaret ·"),
        "only the patients searched for"
    );
    assert!(
        html.contains(r#"value="arthur""#),
        "the search stays in its field"
    );
    // A search that can't be read is told beside its field, in the page.
    let short = without_markers(&portal.get("/staff?query=x", cookie).await.text());
    assert!(short.contains(r#"aria-invalid="true""#), "{short}");
    // A link on another site can't make a search in the staff member's name.
    let request = axum::http::Request::get("/staff?query=arthur")
        .header("cookie", cookie.unwrap())
        .header("sec-fetch-site", "cross-site")
        .body(axum::body::Body::empty())
        .unwrap();
    let forged = without_markers(&portal.send(request).await.text());
    assert!(!forged.contains("· arthur ·"), "{forged}");
    assert!(forged.contains("came from a link on another site"));
    // Signed out, the page sends the browser to sign in, as every staff page does.
    let signed_out = portal.get("/staff?query=margaret", None).await;
    assert!(signed_out.status.is_redirection() || !signed_out.text().contains("Margaret Smith"));
}

#[tokio::test]
async fn the_audit_log_finds_a_patient_or_staff_member_by_name_and_a_name_nobody_has() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let mut browser = portal.browser();
    for (username, password) in [("margaret", "a wrong guess"), ("ghost", "anything at all")] {
        browser
            .post(
                "/api/login",
                &[("username", username), ("password", password)],
            )
            .await;
    }
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let search = |patient: &'static str, staff: &'static str| {
        let mut fields = vec![];
        if !patient.is_empty() {
            fields.push(("patient", patient));
        }
        if !staff.is_empty() {
            fields.push(("staff", staff));
        }
        fields
    };
    let items = |reply: common::Reply| reply.json()["items"].as_array().unwrap().clone();

    // A patient's every line, refused logins included, whatever the name's case.
    let lines = items(
        admin
            .browser
            .post("/api/staff/audit_log", &search("Margaret", ""))
            .await,
    );
    assert!(
        lines.iter().all(|l| l["patient"] == "margaret"),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l["outcome"] == "wrong_password"));
    assert!(lines.iter().any(|l| l["event"] == "registered"));
    // A name no account has: the logins that typed it.
    let lines = items(
        admin
            .browser
            .post("/api/staff/audit_log", &search("ghost", ""))
            .await,
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["outcome"], "unknown_user");
    // A staff member's lines, and none for a name no staff member has.
    let lines = items(
        admin
            .browser
            .post("/api/staff/audit_log", &search("", "ada"))
            .await,
    );
    assert!(!lines.is_empty() && lines.iter().all(|l| l["staff"] == "ada"));
    let lines = items(
        admin
            .browser
            .post("/api/staff/audit_log", &search("", "nobody"))
            .await,
    );
    assert!(lines.is_empty());
}
