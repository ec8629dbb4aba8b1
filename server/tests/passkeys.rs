//! Passkeys through the real router, answered by a software passkey that makes real
//! attestations and signatures: adding one (only soon after proving who you are), signing in with
//! it alone or in place of the code, and every way an answer must be refused.

mod common;

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

async fn patient<'a>(portal: &'a TestPortal, username: &str) -> Browser<'a> {
    let mut browser = portal.browser();
    browser.register_and_sign_in(username).await;
    browser
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
    let mut browser = patient(&portal, "margaret").await;
    let texts_before = portal.texts().await.len();
    let mut passkey = add_passkey(&mut browser, "My phone").await;

    // Told by text and audited.
    let texts = portal.texts().await;
    assert_eq!(texts.len(), texts_before + 1);
    assert!(texts
        .last()
        .unwrap()
        .1
        .contains("passkey (\"My phone\") was added"));
    assert_eq!(
        details(&portal, "margaret", "passkey_added").await,
        [("ok".to_string(), "My phone".to_string())]
    );
    let page = browser.post("/api/security", &[]).await.json();
    assert_eq!(page["passkeys"]["passkeys"][0]["name"], "My phone");

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
    let mut browser = patient(&portal, "margaret").await;
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
    let mut margaret = patient(&portal, "margaret").await;
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
    let mut browser = patient(&portal, "margaret").await;
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
    let mut browser = patient(&portal, "margaret").await;

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
    let mut browser = patient(&portal, "margaret").await;
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
    let mut browser = patient(&portal, "margaret").await;
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
    let mut browser = patient(&portal, "margaret").await;
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
    assert!(page["passkeys"]["confirm_with"].is_string());

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
    let mut browser = patient(&portal, "margaret").await;
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
    let mut browser = patient(&portal, "margaret").await;
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
    assert!(texts
        .last()
        .unwrap()
        .1
        .contains("passkey (\"Lost phone\") was removed"));
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
    let mut browser = patient(&portal, "margaret").await;
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
    let mut browser = patient(&portal, "margaret").await;
    let mut passkey = add_passkey(&mut browser, "Phone").await;
    let mut support = portal.staff("sam", StaffRole::Support).await;
    let found = support
        .browser
        .post("/api/staff/search_patients", &[("query", "margaret")])
        .await
        .json();
    let reference = found["patients"][0]["reference"]
        .as_str()
        .unwrap()
        .to_string();
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
    assert_eq!(
        details(&portal, "margaret", "passkeys_removed").await,
        [("ok".to_string(), "reason: phone stolen".to_string())]
    );
    // The patient's page names the practice, never the staff member.
    let page = browser.post("/api/security", &[]).await.json();
    let activity = page["activity"].to_string();
    assert!(activity.contains("The practice removed your passkeys."));
    assert!(!activity.contains("sam"));
}

#[tokio::test]
async fn with_passkeys_off_they_can_be_neither_added_nor_used() {
    let portal = portal().await;
    let mut browser = patient(&portal, "margaret").await;
    let mut passkey = add_passkey(&mut browser, "Phone").await;
    let mut practice = (*portal.portal.practice()).clone();
    practice.passkeys = false;
    portal
        .portal
        .save_practice(practice)
        .await
        .unwrap()
        .unwrap();

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

    let mut by_text = patient(&portal, "always_text").await;
    by_text.post("/api/logout", &[]).await;
    let mut remembering = patient(&portal, "remembers").await;
    remembering.post("/api/logout", &[]).await;
    let mut with_passkey = patient(&portal, "passkey_user").await;
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

    // A wrong password gets no options at all, and the same answer as any wrong detail.
    let mut other = portal.browser_at("198.51.100.10");
    let refused = staff_sign_in_with(&mut other, "kim", "not it", &mut passkey).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(other.cookie_value("portal_passkey").is_none());
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
    let mut margaret = patient(&portal, "margaret").await;
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
async fn staff_without_a_passkey_or_a_recent_sign_in_are_told_what_to_do() {
    let portal = portal().await;
    let mut kim = portal.staff("kim", StaffRole::Support).await;
    let mut browser = portal.browser_at("198.51.100.9");
    let none = browser
        .post(
            "/api/staff/passkey_challenge",
            &[("username", "kim"), ("password", common::STAFF_PASSWORD)],
        )
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    assert!(none.text().contains("authenticator code"));

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
async fn a_script_cant_fill_the_table_with_passkey_requests() {
    let portal = TestPortal::with(|s| {
        s.public_url = ORIGIN.parse().unwrap();
        s.limits.logins_per_ip_hour = 5;
    })
    .await;
    let mut browser = portal.browser();
    for _ in 0..5 {
        let asked = browser.post("/api/passkey_challenge", &[]).await;
        assert_eq!(asked.status, StatusCode::OK);
    }
    let refused = browser.post("/api/passkey_challenge", &[]).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
    assert!(refused.headers.contains_key("retry-after"));
    // Another network is not held to it.
    let mut other = portal.browser_at("198.51.100.9");
    assert_eq!(
        other.post("/api/passkey_challenge", &[]).await.status,
        StatusCode::OK
    );
}
