//! Passkeys through the real router, answered by a software passkey that makes real
//! attestations and signatures: adding one (only soon after proving who you are), signing in with
//! it alone or in place of the code, and every way an answer must be refused.

use crate::common;

use app::{clock::MINUTE, staff::StaffRole};
use axum::http::StatusCode;
use common::{
    passkey::{Lie, SoftPasskey},
    Browser, Reply, TestPortal,
};
use serde_json::Value;

/// The portal's own origin: passkeys need a name, not an IP address.
const ORIGIN: &str = "http://localhost:3000";

async fn portal() -> TestPortal {
    TestPortal::with(|s| s.public_url = ORIGIN.parse().unwrap()).await
}

async fn options(browser: &mut Browser<'_>, path: &str) -> Value {
    let reply = browser.post(path, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
    reply.json()
}

/// Adds a passkey named `name` in `browser`, as the security page's button does.
async fn add_passkey(browser: &mut Browser<'_>, name: &str) -> SoftPasskey {
    let options = options(browser, "/api/passkey_registration").await;
    let (passkey, credential) = SoftPasskey::register(&options, ORIGIN);
    let added = browser
        .post(
            "/api/add_passkey",
            &[("name", name), ("credential", &credential)],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    passkey
}

async fn sign_in_with(browser: &mut Browser<'_>, passkey: &mut SoftPasskey) -> Reply {
    let options = options(browser, "/api/passkey_challenge").await;
    let answer = passkey.sign_in(&options, ORIGIN);
    browser
        .post("/api/passkey_sign_in", &[("credential", &answer)])
        .await
}

/// The password, then the code texted to the verified number.
async fn log_in_with_code(portal: &TestPortal, browser: &mut Browser<'_>, username: &str) {
    let login = browser.log_in(username).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    let code = portal.last_code().await;
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
}

async fn is_signed_in(browser: &mut Browser<'_>) -> bool {
    browser.post("/api/me", &[]).await.status == StatusCode::OK
}

async fn details(portal: &TestPortal, username: &str, event: &str) -> Vec<(String, String)> {
    let account = portal.account(username).await;
    portal
        .portal
        .store
        .audit_events(account.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == event)
        .map(|e| (e.outcome, e.detail.unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn a_passkey_is_added_and_then_signs_in_alone() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let texts_before = portal.texts().await.len();
    let mut passkey = add_passkey(&mut browser, "My phone").await;

    // Told by text, which names no passkey (its name is whatever was typed), and audited.
    let texts = portal.texts().await;
    assert_eq!(texts.len(), texts_before + 1);
    let told = &texts.last().unwrap().1;
    assert!(told.contains("a passkey was added"), "{told}");
    assert!(!told.contains("My phone"), "{told}");
    assert_eq!(
        details(&portal, "margaret", "passkey_added").await,
        [("ok".to_string(), "My phone".to_string())]
    );
    let page = browser.post("/api/security", &[]).await.json();
    assert_eq!(page["passkeys"]["passkeys"][0]["name"], "My phone");
    // Its rename field is labelled with its own name, not the add form's "Passkey name".
    let html = browser
        .portal
        .get("/security", browser.cookie.as_deref())
        .await
        .text();
    assert!(html.contains(">New name for My phone</label>"), "{html}");

    // A new browser: no password, no code.
    let mut elsewhere = portal.browser_at("198.51.100.9");
    let texts_before = portal.texts().await.len();
    let signed_in = sign_in_with(&mut elsewhere, &mut passkey).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());
    assert!(is_signed_in(&mut elsewhere).await);
    assert_eq!(
        portal.texts().await.len(),
        texts_before,
        "no code was texted"
    );
    let sign_ins = details(&portal, "margaret", "signed_in").await;
    assert_eq!(sign_ins.last().unwrap().1, "factor: passkey (My phone)");
    // The counter it signed with is kept, and its last use shown.
    let page = elsewhere.post("/api/security", &[]).await.json();
    assert!(page["passkeys"]["passkeys"][0]["last_used"].is_string());
}

#[tokio::test]
async fn use_a_passkey_instead_of_the_code_after_the_password() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let mut passkey = add_passkey(&mut browser, "Laptop").await;
    browser.post("/api/logout", &[]).await;

    let login = browser.log_in("margaret").await;
    assert_eq!(login.json()["signed_in"], false);
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["has_passkey"], true);
    let options = options(&mut browser, "/api/passkey_challenge").await;
    let allowed: Value = serde_json::from_str(options["options"].as_str().unwrap()).unwrap();
    assert_eq!(
        allowed["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "only this account's passkeys may answer"
    );
    let answer = passkey.sign_in(&options, ORIGIN);
    let signed_in = browser
        .post("/api/passkey_sign_in", &[("credential", &answer)])
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());
    assert!(is_signed_in(&mut browser).await);
}

#[tokio::test]
async fn another_accounts_passkey_is_refused() {
    let portal = portal().await;
    let mut margaret = portal.signed_in_patient("margaret").await;
    let mut hers = add_passkey(&mut margaret, "Hers").await;
    let mut arthur = portal.browser_at("198.51.100.9");
    arthur.register_and_sign_in("arthur").await;
    let his = add_passkey(&mut arthur, "His").await;
    arthur.post("/api/logout", &[]).await;

    // After arthur's password, margaret's passkey can't stand in for his code.
    arthur.log_in("arthur").await;
    let refused = sign_in_with(&mut arthur, &mut hers).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.text()
    );
    assert!(!is_signed_in(&mut arthur).await);

    // Her credential under his user handle is refused too.
    let mut forged = hers;
    forged.user_handle = his.user_handle.clone();
    let mut fresh = portal.browser_at("198.51.100.10");
    let refused = sign_in_with(&mut fresh, &mut forged).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(!is_signed_in(&mut fresh).await);
}

#[tokio::test]
async fn a_replayed_answer_is_refused() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let mut passkey = add_passkey(&mut browser, "Phone").await;

    let mut first = portal.browser_at("198.51.100.9");
    let options = options(&mut first, "/api/passkey_challenge").await;
    let answer = passkey.sign_in(&options, ORIGIN);
    let ceremony = first.cookie_value("portal_passkey").unwrap();
    let ok = first
        .post("/api/passkey_sign_in", &[("credential", &answer)])
        .await;
    assert_eq!(ok.status, StatusCode::OK);

    // The same answer again, with the same ceremony: it was used.
    let mut thief = portal.browser_at("198.51.100.10");
    thief.put_cookie("portal_passkey", &ceremony);
    let replayed = thief
        .post("/api/passkey_sign_in", &[("credential", &answer)])
        .await;
    assert_eq!(
        replayed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        replayed.text()
    );
    // With a ceremony of its own: the challenge isn't the one signed.
    options_for(&mut thief).await;
    let replayed = thief
        .post("/api/passkey_sign_in", &[("credential", &answer)])
        .await;
    assert_eq!(
        replayed.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        replayed.text()
    );
    assert!(!is_signed_in(&mut thief).await);
}

async fn options_for(browser: &mut Browser<'_>) -> Value {
    options(browser, "/api/passkey_challenge").await
}

#[tokio::test]
async fn a_wrong_origin_or_site_is_refused() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;

    // Registration answered for another origin, or another site, adds nothing.
    for lie in [
        Lie {
            origin: Some("http://evil.example"),
            ..Lie::default()
        },
        Lie {
            rp_id: Some("evil.example"),
            ..Lie::default()
        },
        Lie {
            no_user_verification: true,
            ..Lie::default()
        },
    ] {
        let options = options(&mut browser, "/api/passkey_registration").await;
        let (_, credential) = SoftPasskey::register_lying(&options, ORIGIN, lie);
        let refused = browser
            .post(
                "/api/add_passkey",
                &[("name", "x"), ("credential", &credential)],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{}",
            refused.text()
        );
    }
    let page = browser.post("/api/security", &[]).await.json();
    assert_eq!(page["passkeys"]["passkeys"].as_array().unwrap().len(), 0);

    let mut passkey = add_passkey(&mut browser, "Phone").await;
    for lie in [
        Lie {
            origin: Some("http://evil.example"),
            ..Lie::default()
        },
        Lie {
            rp_id: Some("evil.example"),
            ..Lie::default()
        },
        Lie {
            no_user_verification: true,
            ..Lie::default()
        },
    ] {
        let mut other = portal.browser_at("198.51.100.9");
        let options = options(&mut other, "/api/passkey_challenge").await;
        let answer = passkey.sign_in_lying(&options, ORIGIN, lie);
        let refused = other
            .post("/api/passkey_sign_in", &[("credential", &answer)])
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            refused.text()
        );
        assert!(!is_signed_in(&mut other).await);
    }
}

#[tokio::test]
async fn an_expired_or_used_ceremony_is_refused() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let mut passkey = add_passkey(&mut browser, "Phone").await;

    let mut late = portal.browser_at("198.51.100.9");
    let asked = options(&mut late, "/api/passkey_challenge").await;
    portal.clock.advance_seconds(5 * MINUTE / 1000 + 1);
    let answer = passkey.sign_in(&asked, ORIGIN);
    let refused = late
        .post("/api/passkey_sign_in", &[("credential", &answer)])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(!is_signed_in(&mut late).await);

    // A registration's ceremony works once: the same answer can't add a second passkey.
    let mut browser = portal.browser_at("198.51.100.10");
    browser.log_in("margaret").await;
    let code = portal.last_code().await;
    browser.post("/api/verify_code", &[("code", &code)]).await;
    let asked = options(&mut browser, "/api/passkey_registration").await;
    let (_, credential) = SoftPasskey::register(&asked, ORIGIN);
    let ceremony = browser.cookie_value("portal_passkey").unwrap();
    let added = browser
        .post(
            "/api/add_passkey",
            &[("name", "Second"), ("credential", &credential)],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK);
    browser.put_cookie("portal_passkey", &ceremony);
    let again = browser
        .post(
            "/api/add_passkey",
            &[("name", "Third"), ("credential", &credential)],
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_ceremony_is_bound_to_the_session_it_began_in() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let options = options(&mut browser, "/api/passkey_registration").await;
    let ceremony = browser.cookie_value("portal_passkey").unwrap();
    let (_, credential) = SoftPasskey::register(&options, ORIGIN);
    // Another signed-in session of the same account, with the ceremony's cookie.
    let mut other = portal.browser_at("198.51.100.9");
    other.log_in("margaret").await;
    let code = portal.last_code().await;
    other.post("/api/verify_code", &[("code", &code)]).await;
    other.put_cookie("portal_passkey", &ceremony);
    let refused = other
        .post(
            "/api/add_passkey",
            &[("name", "x"), ("credential", &credential)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn adding_and_removing_need_a_code_or_passkey_in_the_last_10_minutes() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let passkey = add_passkey(&mut browser, "Phone").await;
    let _ = passkey;
    let page = browser.post("/api/security", &[]).await.json();
    let id = page["passkeys"]["passkeys"][0]["id"].to_string();

    portal.clock.advance_seconds(10 * MINUTE / 1000 + 1);
    let refused = browser.post("/api/passkey_registration", &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let refused = browser
        .post("/api/remove_passkey", &[("passkey", &id)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let page = browser.post("/api/security", &[]).await.json();
    assert_eq!(page["passkeys"]["may_change"], false);
    let ways = browser.post("/api/confirm_ways", &[]).await.json();
    assert_eq!(ways["proved"], false);
    assert_eq!(ways["mobile_ending"], "23");
    assert_eq!(ways["passkey"], true);
    assert_eq!(ways["password"], false);

    // A wrong code proves nothing; the right one does.
    let sent = browser.post("/api/confirm_send_code", &[]).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let wrong = browser
        .post("/api/confirm_code", &[("code", "000000")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        browser.post("/api/passkey_registration", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let code = portal.last_code().await;
    let confirmed = browser.post("/api/confirm_code", &[("code", &code)]).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    let removed = browser
        .post("/api/remove_passkey", &[("passkey", &id)])
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    assert_eq!(
        browser.post("/api/passkey_registration", &[]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_remembered_device_is_not_proof_enough_to_add_a_passkey() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    browser.post("/api/logout", &[]).await;
    browser.log_in("margaret").await;
    let code = portal.last_code().await;
    browser
        .post(
            "/api/verify_code",
            &[("code", code.as_str()), ("remember_device", "on")],
        )
        .await;
    browser.post("/api/logout", &[]).await;
    let login = browser.log_in("margaret").await;
    assert_eq!(login.json()["signed_in"], true);
    let refused = browser.post("/api/passkey_registration", &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_removed_passkey_no_longer_signs_in_and_the_patient_is_told() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let mut passkey = add_passkey(&mut browser, "Old phone").await;
    let page = browser.post("/api/security", &[]).await.json();
    let id = page["passkeys"]["passkeys"][0]["id"].to_string();

    // Another patient can't remove or rename it.
    let mut arthur = portal.browser_at("198.51.100.20");
    arthur.register_and_sign_in("arthur").await;
    let refused = arthur
        .post("/api/remove_passkey", &[("passkey", &id)])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let refused = arthur
        .post("/api/rename_passkey", &[("passkey", &id), ("name", "mine")])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);

    let renamed = browser
        .post(
            "/api/rename_passkey",
            &[("passkey", &id), ("name", "Lost phone")],
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    let removed = browser
        .post("/api/remove_passkey", &[("passkey", &id)])
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    let texts = portal.texts().await;
    let told = &texts.last().unwrap().1;
    assert!(told.contains("a passkey was removed"), "{told}");
    assert!(!told.contains("Lost phone"), "{told}");
    assert_eq!(
        details(&portal, "margaret", "passkey_removed").await,
        [("ok".to_string(), "Lost phone".to_string())]
    );

    let mut thief = portal.browser_at("198.51.100.9");
    let refused = sign_in_with(&mut thief, &mut passkey).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(!is_signed_in(&mut thief).await);
}

#[tokio::test]
async fn a_passkey_cant_be_added_twice() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let passkey = add_passkey(&mut browser, "Phone").await;
    let options = options(&mut browser, "/api/passkey_registration").await;
    let excluded: Value = serde_json::from_str(options["options"].as_str().unwrap()).unwrap();
    assert_eq!(
        excluded["publicKey"]["excludeCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let credential = passkey.register_again(&options, ORIGIN);
    let refused = browser
        .post(
            "/api/add_passkey",
            &[("name", "Again"), ("credential", &credential)],
        )
        .await;
    assert!(refused.status.is_client_error(), "{}", refused.status);
    let page = browser.post("/api/security", &[]).await.json();
    assert_eq!(page["passkeys"]["passkeys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn support_removes_a_patients_passkeys() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let mut passkey = add_passkey(&mut browser, "Phone").await;
    let mut support = portal.staff("sam", StaffRole::Support).await;
    let reference = support.find("margaret").await;
    let record = support
        .browser
        .post("/api/staff/patient", &[("patient", &reference)])
        .await
        .json();
    assert_eq!(record["passkeys"][0][0], "Phone");
    let done = support
        .browser
        .post(
            "/api/staff/support_action",
            &[
                ("patient", &reference),
                ("action", "remove_passkeys"),
                ("reason", "phone stolen"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let mut thief = portal.browser_at("198.51.100.9");
    assert_eq!(
        sign_in_with(&mut thief, &mut passkey).await.status,
        StatusCode::UNAUTHORIZED
    );
    let removed = details(&portal, "margaret", "passkeys_removed").await;
    assert_eq!(removed.len(), 1);
    assert_eq!(
        removed[0].1,
        "reason: phone stolen; 1 passkey(s) removed, 0 remembered device(s) forgotten, 1 session(s) ended"
    );
    // Every session ended with them, the one the patient was using too.
    assert!(!is_signed_in(&mut browser).await);
    log_in_with_code(&portal, &mut browser, "margaret").await;
    // The patient's page names the practice, never the staff member.
    let page = browser.post("/api/security", &[]).await.json();
    let activity = page["activity"].to_string();
    assert!(activity.contains("The practice removed your passkeys."));
    assert!(!activity.contains("sam"));
}

#[tokio::test]
async fn with_passkeys_off_they_can_be_neither_added_nor_used() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let mut passkey = add_passkey(&mut browser, "Phone").await;
    let mut practice = (*portal.portal.practice()).clone();
    practice.passkeys = false;
    portal.save_practice(practice).await;

    assert_eq!(
        browser.post("/api/passkey_registration", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let mut other = portal.browser_at("198.51.100.9");
    assert_eq!(
        other.post("/api/passkey_challenge", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let _ = &mut passkey;
    let login = portal.get("/login", None).await.text();
    assert!(!login.contains("Sign in with a passkey"));
}

#[tokio::test]
async fn on_an_ip_address_passkeys_are_unavailable_and_say_why() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    let refused = browser.post("/api/passkey_registration", &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let page = browser.post("/api/security", &[]).await.json();
    assert!(page["passkeys"]["unavailable"]
        .as_str()
        .unwrap()
        .contains("not by an IP address"));
}

#[tokio::test]
async fn the_login_page_offers_a_passkey_and_says_it_needs_scripts() {
    let portal = portal().await;
    let login = portal.get("/login", None).await.text();
    assert!(login.contains("Sign in with a passkey"));
    assert!(login.contains("Passkeys need JavaScript"));
    assert!(login.contains("/passkeys.js"));
}

#[tokio::test]
async fn an_admin_switches_passkeys_off_and_the_change_is_audited() {
    let portal = portal().await;
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let settings = admin.browser.post("/api/staff/settings", &[]).await.json();
    assert_eq!(settings["passkeys"], true);
    let mut fields = vec![
        ("two_factor", "on"),
        ("practice_name", "Patient Portal"),
        ("first_number_at_login", "allow"),
        ("resend_cooldown_seconds", "30"),
        ("remember_device_days", "30"),
    ];
    // A page from before the checkbox leaves passkeys on.
    let older = admin
        .browser
        .post("/api/staff/save_settings", &fields)
        .await;
    assert_eq!(older.status, StatusCode::OK, "{}", older.text());
    assert!(portal.portal.practice().passkeys);
    // Unticked on today's page, they go off.
    fields.push(("passkeys_shown", "on"));
    let off = admin
        .browser
        .post("/api/staff/save_settings", &fields)
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text());
    assert!(!portal.portal.practice().passkeys);
    let log = admin
        .browser
        .post("/api/staff/audit_log", &[("event", "setting_changed")])
        .await
        .json();
    assert_eq!(log["items"][0]["detail"], "passkeys: on → off", "{log}");
    fields.push(("passkeys", "on"));
    admin
        .browser
        .post("/api/staff/save_settings", &fields)
        .await;
    assert!(portal.portal.practice().passkeys);
}

/// A month and a half of a patient signing in every third day, three ways: a code every time, a
/// remembered device, and a passkey. Prints how many sign-ins needed no text (the README's
/// figure) and holds the ratios.
#[tokio::test]
async fn the_share_of_sign_ins_that_need_no_text() {
    const SIGN_INS: usize = 15;
    let portal = portal().await;

    let mut by_text = portal.signed_in_patient("always_text").await;
    by_text.post("/api/logout", &[]).await;
    let mut remembering = portal.signed_in_patient("remembers").await;
    remembering.post("/api/logout", &[]).await;
    let mut with_passkey = portal.signed_in_patient("passkey_user").await;
    let mut passkey = add_passkey(&mut with_passkey, "Phone").await;
    with_passkey.post("/api/logout", &[]).await;

    let mut texted = [0usize; 3];
    for _ in 0..SIGN_INS {
        portal.clock.advance_seconds(3 * 24 * 3600);
        for (n, (browser, username)) in [
            (&mut by_text, "always_text"),
            (&mut remembering, "remembers"),
        ]
        .into_iter()
        .enumerate()
        {
            let before = portal.texts().await.len();
            let login = browser.log_in(username).await;
            if login.json()["signed_in"] == false {
                let code = portal.last_code().await;
                // Only the second patient ticks "Don't ask for a code on this device".
                let tick = if n == 1 { "on" } else { "" };
                let verified = browser
                    .post(
                        "/api/verify_code",
                        &[("code", code.as_str()), ("remember_device", tick)],
                    )
                    .await;
                assert_eq!(verified.status, StatusCode::OK);
            }
            texted[n] += usize::from(portal.texts().await.len() > before);
            browser.post("/api/logout", &[]).await;
        }
        let before = portal.texts().await.len();
        let signed_in = sign_in_with(&mut with_passkey, &mut passkey).await;
        assert_eq!(signed_in.status, StatusCode::OK);
        texted[2] += usize::from(portal.texts().await.len() > before);
        with_passkey.post("/api/logout", &[]).await;
    }
    let no_text = |texts: usize| 100 * (SIGN_INS - texts) / SIGN_INS;
    println!(
        "sign-ins that needed no text, of {SIGN_INS} over 45 days: a code every time {}%, a remembered device {}%, a passkey {}%",
        no_text(texted[0]),
        no_text(texted[1]),
        no_text(texted[2]),
    );
    assert_eq!(texted[0], SIGN_INS);
    // The first sign-in and one after the 30 days ran out.
    assert_eq!(texted[1], 2);
    assert_eq!(texted[2], 0);
}

const WRONG_STAFF_DETAILS: &str =
    "Those details don't match. Please check your username, password and authenticator code.";

/// What the staff passkey challenge answers, with the parts that differ every time (the
/// challenge, the ceremony's handle) taken out.
async fn staff_challenge(portal: &TestPortal, username: &str, password: &str) -> (u16, Value) {
    let mut browser = portal.browser_at("198.51.100.30");
    let reply = browser
        .post(
            "/api/staff/passkey_challenge",
            &[("username", username), ("password", password)],
        )
        .await;
    let mut options: Value =
        serde_json::from_str(reply.json()["options"].as_str().unwrap_or("null")).unwrap();
    if let Some(public_key) = options.get_mut("publicKey") {
        public_key["challenge"] = Value::Null;
    }
    assert!(browser.cookie_value("portal_passkey").is_some());
    (reply.status.as_u16(), options)
}

#[tokio::test]
async fn every_answer_of_the_staff_passkey_challenge_looks_the_same() {
    let portal = portal().await;
    portal.staff("kim", StaffRole::Support).await;
    let mut ada = portal.staff("ada", StaffRole::Admin).await;
    let mut adas = add_staff_passkey(&mut ada.browser, "Ada's").await;

    // Nobody's name, a wrong password, a right one without a passkey, and a right one with
    // one: the same status and the same options, which name no credential.
    let answers = [
        staff_challenge(&portal, "nobody", common::STAFF_PASSWORD).await,
        staff_challenge(&portal, "kim", "not kim's password").await,
        staff_challenge(&portal, "kim", common::STAFF_PASSWORD).await,
        staff_challenge(&portal, "ada", common::STAFF_PASSWORD).await,
    ];
    for answer in &answers {
        assert_eq!(answer, &answers[0]);
    }
    assert_eq!(answers[0].0, 200);
    assert!(answers[0].1["publicKey"]
        .get("allowCredentials")
        .is_none_or(|c| c.as_array().is_some_and(Vec::is_empty)));
    // The right passwords are audited as accepted; the wrong one (and nobody's name) as
    // refused.
    let filter = app::store::AuditFilter {
        event: Some("staff_login".to_string()),
        ..Default::default()
    };
    let lines = portal
        .portal
        .store
        .audit_log(&filter, app::store::LinesFrom::Newest, 100)
        .await
        .unwrap();
    let outcomes: Vec<(String, String)> = lines
        .iter()
        .rev()
        .skip(2)
        .map(|l| {
            (
                l.patient.clone().or(l.staff.clone()).unwrap_or_default(),
                l.outcome.clone(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("nobody".to_string(), "refused".to_string()),
            ("kim".to_string(), "refused".to_string()),
            ("kim".to_string(), "password_accepted".to_string()),
            ("ada".to_string(), "password_accepted".to_string()),
        ]
    );

    // They fail only when the passkey comes back, alike.
    for (username, password) in [
        ("nobody", common::STAFF_PASSWORD),
        ("kim", "not kim's password"),
        ("kim", common::STAFF_PASSWORD),
        ("ada", "not ada's password"),
    ] {
        let mut browser = portal.browser_at("198.51.100.31");
        let refused = staff_sign_in_with(&mut browser, username, password, &mut adas).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{username}");
        assert_eq!(refused.json()["message"], WRONG_STAFF_DETAILS);
    }
    let mut browser = portal.browser_at("198.51.100.31");
    let signed_in =
        staff_sign_in_with(&mut browser, "ada", common::STAFF_PASSWORD, &mut adas).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());
}

/// A staff member's own passkey, added on "Your passkeys".
async fn add_staff_passkey(browser: &mut Browser<'_>, name: &str) -> SoftPasskey {
    let options = options(browser, "/api/staff/passkey_registration").await;
    let (passkey, credential) = SoftPasskey::register(&options, ORIGIN);
    let added = browser
        .post(
            "/api/staff/add_passkey",
            &[("name", name), ("credential", &credential)],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    passkey
}

async fn staff_sign_in_with(
    browser: &mut Browser<'_>,
    username: &str,
    password: &str,
    passkey: &mut SoftPasskey,
) -> Reply {
    let challenge = browser
        .post(
            "/api/staff/passkey_challenge",
            &[("username", username), ("password", password)],
        )
        .await;
    if challenge.status != StatusCode::OK {
        return challenge;
    }
    let answer = passkey.sign_in(&challenge.json(), ORIGIN);
    browser
        .post("/api/staff/passkey_sign_in", &[("credential", &answer)])
        .await
}

#[tokio::test]
async fn staff_sign_in_with_their_password_and_a_passkey_in_place_of_the_code() {
    let portal = portal().await;
    let mut kim = portal.staff("kim", StaffRole::Support).await;
    let mut passkey = add_staff_passkey(&mut kim.browser, "Work laptop").await;
    let page = kim.browser.post("/api/staff/passkeys", &[]).await.json();
    assert_eq!(page["passkeys"][0][1], "Work laptop");

    let mut browser = portal.browser_at("198.51.100.9");
    let signed_in =
        staff_sign_in_with(&mut browser, "kim", common::STAFF_PASSWORD, &mut passkey).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());
    assert_eq!(signed_in.json()["next"], "/staff");
    assert_eq!(
        browser.post("/api/staff/me", &[]).await.status,
        StatusCode::OK
    );

    // A wrong password gets options like any other, and the same answer as any wrong detail
    // once the passkey comes back: the passkey can't stand in for the password.
    let mut other = portal.browser_at("198.51.100.10");
    let refused = staff_sign_in_with(&mut other, "kim", "not it", &mut passkey).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["message"], WRONG_STAFF_DETAILS);
    assert_eq!(
        other.post("/api/staff/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_patients_or_another_staff_members_passkey_cant_sign_staff_in() {
    let portal = portal().await;
    let mut kim = portal.staff("kim", StaffRole::Support).await;
    add_staff_passkey(&mut kim.browser, "Kim's").await;
    let mut ada = portal.staff("ada", StaffRole::Admin).await;
    let mut adas = add_staff_passkey(&mut ada.browser, "Ada's").await;
    let mut margaret = portal.signed_in_patient("margaret").await;
    let mut patients = add_passkey(&mut margaret, "Phone").await;

    for passkey in [&mut adas, &mut patients] {
        let mut browser = portal.browser_at("198.51.100.9");
        let refused =
            staff_sign_in_with(&mut browser, "kim", common::STAFF_PASSWORD, passkey).await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            refused.text()
        );
        assert_eq!(
            browser.post("/api/staff/me", &[]).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Nor does a staff passkey sign a patient in.
    let mut browser = portal.browser_at("198.51.100.11");
    let refused = sign_in_with(&mut browser, &mut adas).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn staff_without_a_recent_sign_in_are_told_what_to_do() {
    let portal = portal().await;
    let mut kim = portal.staff("kim", StaffRole::Support).await;
    portal.clock.advance_seconds(9 * 60);
    kim.browser.post("/api/staff/me", &[]).await;
    portal.clock.advance_seconds(2 * 60);
    let refused = kim
        .browser
        .post("/api/staff/passkey_registration", &[])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    // Patients' passkey endpoints are not staff's.
    assert_eq!(
        kim.browser
            .post("/api/passkey_registration", &[])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_login_pages_passkey_request_writes_nothing_and_only_sign_ins_count() {
    let portal = TestPortal::with(|s| {
        s.public_url = ORIGIN.parse().unwrap();
        s.limits.logins_per_ip_hour = 3;
    })
    .await;
    let mut margaret = portal.signed_in_patient("margaret").await;
    let mut passkey = add_passkey(&mut margaret, "Phone").await;
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&portal.database_url).await.unwrap();
    let rows = |table: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}"))
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let (ceremonies, events) = (rows("passkey_ceremonies").await, rows("limit_events").await);
    // Every view of `/login` asks for one (the username field's autofill): from a clinic's
    // shared address, many more than the network's sign-ins.
    let mut clinic = portal.browser_at("198.51.100.9");
    for _ in 0..20 {
        let asked = clinic.post("/api/passkey_challenge", &[]).await;
        assert_eq!(asked.status, StatusCode::OK, "{}", asked.text());
    }
    assert_eq!(
        rows("passkey_ceremonies").await,
        ceremonies,
        "no row written"
    );
    assert_eq!(rows("limit_events").await, events, "nothing counted");
    // Finished sign-ins count, three from the network an hour.
    for _ in 0..3 {
        let mut browser = portal.browser_at("198.51.100.9");
        assert_eq!(
            sign_in_with(&mut browser, &mut passkey).await.status,
            StatusCode::OK
        );
    }
    let mut browser = portal.browser_at("198.51.100.9");
    let refused = sign_in_with(&mut browser, &mut passkey).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
    assert!(refused.headers.contains_key("retry-after"));
    // Another network is not held to it.
    let mut other = portal.browser_at("198.51.100.20");
    assert_eq!(
        sign_in_with(&mut other, &mut passkey).await.status,
        StatusCode::OK
    );
    db.close().await;
}

/// Support's action on `username`, as the patient's page posts it (`extra` fields besides).
async fn support_acts(
    support: &mut common::Staff<'_>,
    username: &str,
    action: &str,
    extra: &[(&str, &str)],
) -> Value {
    let reference = support.find(username).await;
    let mut fields = vec![
        ("patient", reference.as_str()),
        ("action", action),
        ("reason", "the patient called"),
        ("identity_check", "called_back"),
    ];
    fields.extend_from_slice(extra);
    let done = support
        .browser
        .post("/api/staff/support_action", &fields)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{action}: {}", done.text());
    done.json()
}

#[tokio::test]
async fn every_recovery_support_can_do_takes_a_planted_passkey_away() {
    for (action, extra) in [
        ("reset_mobile", &[][..]),
        (
            "end_sessions",
            &[("passkeys_choice", "asked"), ("also_remove_passkeys", "on")][..],
        ),
        // A script that never saw the box removes them: the safe side.
        ("end_sessions", &[][..]),
        (
            "one_time_password",
            &[("passkeys_choice", "asked"), ("also_remove_passkeys", "on")][..],
        ),
        ("remove_passkeys", &[][..]),
    ] {
        let portal = portal().await;
        let mut browser = portal.signed_in_patient("margaret").await;
        // Planted: a passkey on a phone a thief now has, and a session it began.
        let mut planted = add_passkey(&mut browser, "Phone").await;
        let mut thief = portal.browser_at("198.51.100.9");
        assert_eq!(
            sign_in_with(&mut thief, &mut planted).await.status,
            StatusCode::OK
        );
        let texts_before = portal.texts().await.len();

        let mut support = portal.staff("sam", StaffRole::Support).await;
        support_acts(&mut support, "margaret", action, extra).await;

        assert!(
            !is_signed_in(&mut thief).await,
            "{action}: the thief's session ended"
        );
        assert!(
            !is_signed_in(&mut browser).await,
            "{action}: every session ended"
        );
        let mut again = portal.browser_at("198.51.100.10");
        let refused = sign_in_with(&mut again, &mut planted).await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "{action}: the passkey is gone"
        );
        assert!(!is_signed_in(&mut again).await, "{action}");
        // Told by text (to the number as it was) and by email.
        assert!(
            portal.texts().await.len() > texts_before,
            "{action}: texted"
        );
        let emails = portal.portal.store.dev_email().await.unwrap();
        assert!(
            emails.iter().any(|e| e.body.contains("the practice")),
            "{action}: emailed"
        );
        let account = portal.account("margaret").await;
        assert!(
            portal
                .portal
                .store
                .passkeys(app::store::Holder::Patient(account.id))
                .await
                .unwrap()
                .is_empty(),
            "{action}"
        );
    }
}

#[tokio::test]
async fn support_may_keep_the_passkeys_when_it_signs_a_patient_out() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let mut passkey = add_passkey(&mut browser, "Phone").await;
    let mut support = portal.staff("sam", StaffRole::Support).await;
    // "Also remove passkeys" unticked.
    support_acts(
        &mut support,
        "margaret",
        "end_sessions",
        &[("passkeys_choice", "asked")],
    )
    .await;
    assert!(!is_signed_in(&mut browser).await);
    let mut again = portal.browser_at("198.51.100.10");
    assert_eq!(
        sign_in_with(&mut again, &mut passkey).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_support_page_offers_also_remove_passkeys_ticked() {
    let portal = portal().await;
    portal.signed_in_patient("margaret").await;
    let mut support = portal.staff("sam", StaffRole::Support).await;
    let reference = support.find("margaret").await;
    let reference = reference.as_str();
    let page = support
        .browser
        .portal
        .get(
            &format!("/staff/patients/{reference}"),
            support.browser.cookie.as_deref(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    // The island's props carry the actions; the form itself is drawn when one is chosen.
    let offered = app::staff::support::SupportAction::ALL
        .into_iter()
        .filter(|a| a.offers_passkey_removal())
        .map(|a| a.label())
        .collect::<Vec<_>>();
    assert_eq!(offered, ["End all sessions", "Issue one-time password"]);
}

#[tokio::test]
async fn a_password_of_ones_own_needs_the_one_time_password_even_after_a_passkey() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let mut passkey = add_passkey(&mut browser, "Phone").await;
    let mut support = portal.staff("sam", StaffRole::Support).await;
    // The practice keeps the passkey (the box unticked) and gives a one-time password.
    let done = support_acts(
        &mut support,
        "margaret",
        "one_time_password",
        &[("passkeys_choice", "asked")],
    )
    .await;
    let one_time = done["one_time_password"].as_str().unwrap().to_string();

    // The passkey signs in, and the portal asks for a password of their own...
    let mut holder = portal.browser_at("198.51.100.9");
    assert_eq!(
        sign_in_with(&mut holder, &mut passkey).await.status,
        StatusCode::OK
    );
    let mine = "a phrase that is all mine";
    let choose = |one_time: &str| {
        vec![
            ("one_time_password", one_time.to_string()),
            ("password", mine.to_string()),
            ("confirm_password", mine.to_string()),
        ]
    };
    // ...which needs the one the practice gave: without it, or with a wrong one, nothing changes.
    for wrong in ["", "aaaa-bbbb-cccc"] {
        let fields = choose(wrong);
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = holder.post("/api/choose_password", &pairs).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text()
        );
        assert!(refused.json()["fields"]["one_time_password"].is_string());
    }
    // Wrong tries meet the login's delays.
    for _ in 0..5 {
        let fields = choose("wxyz-wxyz-wxyz");
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        holder.post("/api/choose_password", &pairs).await;
    }
    let fields = choose(&one_time);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let waits = holder.post("/api/choose_password", &pairs).await;
    assert_eq!(
        waits.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        waits.text()
    );
    portal.clock.advance_seconds(31);
    let texts_before = portal.texts().await.len();
    let chosen = holder.post("/api/choose_password", &pairs).await;
    assert!(
        chosen.status.is_success() || chosen.status.is_redirection(),
        "{}",
        chosen.text()
    );
    assert!(is_signed_in(&mut holder).await);
    // Told, never the password itself.
    let texts = portal.texts().await;
    assert_eq!(texts.len(), texts_before + 1);
    assert!(texts
        .last()
        .unwrap()
        .1
        .contains("a new password was chosen"));
    assert!(!texts.last().unwrap().1.contains(mine));
    let emails = portal.portal.store.dev_email().await.unwrap();
    let told = emails.last().unwrap();
    assert_eq!(told.subject, "Your password was changed");
    assert!(!told.body.contains(mine));
}

#[tokio::test]
async fn a_passkey_removed_between_its_look_up_and_the_session_begins_none() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    add_passkey(&mut browser, "Phone").await;
    let account = portal.account("margaret").await;
    let holder = app::store::Holder::Patient(account.id);
    let store = &portal.portal.store;
    // The sign-in found its passkey and checked the answer...
    let found = store.passkeys(holder).await.unwrap().remove(0);
    // ...and the practice removed it before the session was stored.
    store
        .take_access(
            account.id,
            app::store::AccessToTake {
                passkeys: true,
                devices: true,
            },
        )
        .await
        .unwrap();
    let begun = app::session::begin_with_passkey(
        &portal.portal,
        app::session::Browser::default(),
        account.id,
        found.id,
        &found.passkey,
    )
    .await
    .unwrap();
    assert!(begun.is_none(), "no session for a removed passkey");
    let now = portal.clock_now();
    assert!(store.sessions_of(account.id, now).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_passkey_name_holds_no_format_or_bidi_characters_and_a_patient_has_ten_at_most() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    for name in [
        "Phone\u{202E}enohp",
        "My\u{200B}phone",
        "Phone\u{2028}Call 0800",
        "Phone\u{2029}Call 0800",
        "Tab\there",
    ] {
        let options = options(&mut browser, "/api/passkey_registration").await;
        let (_, credential) = SoftPasskey::register(&options, ORIGIN);
        let refused = browser
            .post(
                "/api/add_passkey",
                &[("name", name), ("credential", &credential)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert!(refused.json()["fields"]["name"].is_string());
    }
    for n in 0..10 {
        add_passkey(&mut browser, &format!("Key {n}")).await;
    }
    let refused = browser.post("/api/passkey_registration", &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
}

#[tokio::test]
async fn a_burst_of_notices_keeps_to_its_own_cap_and_never_to_the_codes_limits() {
    // The portal's daily budget is nearly spent: notices count towards it, but are never
    // refused by it.
    let portal = TestPortal::with(|s| {
        s.public_url = ORIGIN.parse().unwrap();
        s.practice.daily_text_budget = 3;
    })
    .await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let mut support = portal.staff("sam", StaffRole::Support).await;
    let verified = "+64215550123";
    let to_verified = |texts: &[(String, String)]| {
        texts
            .iter()
            .filter(|(to, _)| to == verified)
            .map(|(_, body)| body.clone())
            .collect::<Vec<_>>()
    };
    let before = to_verified(&portal.texts().await).len();
    // Twelve notices of three kinds: passkeys added and removed, and the practice's unlock.
    for round in 0..5 {
        add_passkey(&mut browser, &format!("Key {round}")).await;
        let page = browser.post("/api/security", &[]).await.json();
        let id = page["passkeys"]["passkeys"][0]["id"].to_string();
        let removed = browser
            .post("/api/remove_passkey", &[("passkey", &id)])
            .await;
        assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    }
    support_acts(&mut support, "margaret", "unlock", &[]).await;
    support_acts(&mut support, "margaret", "unlock", &[]).await;

    let notices = to_verified(&portal.texts().await)[before..].to_vec();
    assert_eq!(
        notices.len(),
        11,
        "ten notices and the day's last: {notices:#?}"
    );
    assert!(notices[..10].iter().all(|n| !n.contains("more changes")));
    assert!(
        notices[10].contains("more changes were made"),
        "{}",
        notices[10]
    );
    // Email carries every one of them.
    let emails = portal.portal.store.dev_email().await.unwrap();
    assert_eq!(
        emails
            .iter()
            .filter(|e| e.subject.starts_with("A passkey was"))
            .count(),
        10
    );
    assert_eq!(
        emails
            .iter()
            .filter(|e| e.body.contains("cleared the waits"))
            .count(),
        2
    );
    // Each fits one text message.
    for notice in &notices {
        assert!(
            notice.chars().count() <= 160,
            "{} characters: {notice}",
            notice.chars().count()
        );
    }

    // The notices used none of the codes' limits: a sign-in code still goes to the number...
    browser.post("/api/logout", &[]).await;
    let login = browser.log_in("margaret").await;
    assert_eq!(login.json()["code_sent"], true, "{}", login.text());
    // ...while they filled the day's budget, which a code to a new number does pass.
    let code = portal.last_code().await;
    browser.post("/api/verify_code", &[("code", &code)]).await;
    let refused = browser
        .post("/api/change_mobile", &[("mobile", "021 555 0999")])
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
}

#[tokio::test]
async fn a_held_account_is_told_so_after_its_passkey_and_is_not_signed_in() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let mut passkey = add_passkey(&mut browser, "Phone").await;
    // A later change, and its "This wasn't me": the older passkey stays, the account is held.
    portal.clock.advance_seconds(3 * 60);
    let made = browser.post("/api/make_recovery_code", &[]).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let texts = portal.texts().await;
    let notice = texts
        .iter()
        .rev()
        .find(|(_, body)| body.contains("a recovery code was made"))
        .map(|(_, body)| body.clone())
        .unwrap();
    let token = notice.split("t=").nth(1).unwrap().trim().to_string();
    let secured = portal
        .browser()
        .post(
            "/api/secure_account",
            &[("token", token.as_str()), ("password", common::PASSWORD)],
        )
        .await;
    assert_eq!(secured.status, StatusCode::OK, "{}", secured.text());
    let mut again = portal.browser_at("198.51.100.10");
    let refused = sign_in_with(&mut again, &mut passkey).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert!(refused.text().contains("on hold"), "{}", refused.text());
    assert!(!is_signed_in(&mut again).await);
}

/// A lost phone: the password and a saved recovery code, then a new passkey in place of a new
/// phone. The passkey is all the recovery session may add, and it signs the patient in.
#[tokio::test]
async fn a_recovery_session_may_add_a_passkey_in_place_of_a_new_phone() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let made = browser.post("/api/make_recovery_code", &[]).await;
    let code = made.json()["code"].as_str().unwrap().to_string();
    browser.post("/api/logout", &[]).await;

    // After the password alone, a passkey can't be added: that is no proof of the patient.
    browser.log_in("margaret").await;
    let refused = browser.post("/api/passkey_registration", &[]).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.text()
    );
    let begun = browser
        .post("/api/use_recovery_code", &[("recovery_code", &code)])
        .await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.text());
    let step = browser.post("/api/code_step", &[]).await.json();
    assert_eq!(step["new_phone"], true);
    assert_eq!(step["may_add_passkey"], true);
    assert!(!is_signed_in(&mut browser).await);

    let mut passkey = add_passkey(&mut browser, "New phone").await;
    // The recovery session became an ordinary signed-in one, proved by the passkey.
    assert!(is_signed_in(&mut browser).await);
    let page = browser.post("/api/security", &[]).await.json();
    assert_eq!(page["passkeys"]["after_a_recovery"], true);
    assert_eq!(page["passkeys"]["passkeys"][0]["name"], "New phone");
    // The number on file stays as it was: only a verified new phone replaces it.
    let account = portal.account("margaret").await;
    assert_eq!(account.mobile.as_deref(), Some("+64215550123"));
    let added = details(&portal, "margaret", "passkey_added").await;
    assert_eq!(
        added,
        [(
            "ok".to_string(),
            "New phone, in place of a new phone after a recovery code".to_string()
        )]
    );
    let sign_ins = details(&portal, "margaret", "signed_in").await;
    assert_eq!(
        sign_ins.last().unwrap().1,
        "factor: passkey (New phone), after a recovery code"
    );

    // And it signs in on its own next time.
    let mut later = portal.browser_at("198.51.100.9");
    let signed_in = sign_in_with(&mut later, &mut passkey).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());
    assert!(is_signed_in(&mut later).await);
}

/// A recovery session that ran out adds nothing: its 30 minutes bound the ceremony too.
#[tokio::test]
async fn an_expired_recovery_session_cant_finish_adding_a_passkey() {
    let portal = portal().await;
    let mut browser = portal.signed_in_patient("margaret").await;
    let made = browser.post("/api/make_recovery_code", &[]).await;
    let code = made.json()["code"].as_str().unwrap().to_string();
    browser.post("/api/logout", &[]).await;
    browser.log_in("margaret").await;
    browser
        .post("/api/use_recovery_code", &[("recovery_code", &code)])
        .await;
    let options = options(&mut browser, "/api/passkey_registration").await;
    let (_, credential) = SoftPasskey::register(&options, ORIGIN);
    portal.clock.advance_seconds(31 * 60);
    let late = browser
        .post("/api/add_passkey", &[("credential", &credential)])
        .await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED, "{}", late.text());
    assert!(portal
        .portal
        .store
        .passkeys(app::store::Holder::Patient(
            portal.account("margaret").await.id
        ))
        .await
        .unwrap()
        .is_empty());
}
