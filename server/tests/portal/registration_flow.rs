//! Registration → Send Code → Verify, through the router, as DESIGN.md's API describes it.

use crate::common;

use axum::http::StatusCode;
use common::{registration, TestPortal, PASSWORD};

#[tokio::test]
async fn registering_starts_a_pending_session_that_cannot_read_patient_data() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    let reply = browser.register("margaret").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["mobile_ending"], "23");
    assert_eq!(reply.json()["signed_in"], false);

    let cookie = reply.session_cookie().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http gets no Secure flag: {cookie}"
    );
    let value = cookie.split(';').next().unwrap().split('=').nth(1).unwrap();
    // When the session began (12 hex digits), then 256 random bits in base64url.
    let (began, random) = value.split_once('.').unwrap();
    assert_eq!(began.len(), 12, "{value}");
    assert_eq!(random.len(), 43, "{value}");

    let me = browser.post("/api/me", &[]).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert!(me.json()["message"].is_string());
}

#[tokio::test]
async fn the_session_id_is_stored_only_hashed() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    let value = browser
        .cookie
        .clone()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .to_string();
    // The database knows the session by the ID's hash, never by the ID itself.
    let store = &portal.portal.store;
    let hash = app::session::hash_id(&value);
    assert_ne!(hash, value);
    assert!(store.session(&hash).await.unwrap().is_some());
    assert!(store.session(&value).await.unwrap().is_none());
}

#[tokio::test]
async fn the_full_registration_signs_in_with_the_texted_code() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    let pending_cookie = browser.cookie.clone().unwrap();

    let sent = browser.post("/api/send_code", &[]).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    assert_eq!(sent.json()["mobile_ending"], "23");

    // The dev outbox holds the message, addressed in E.164.
    let outbox = portal.get("/dev/sms", None).await;
    assert_eq!(outbox.status, StatusCode::OK);
    let messages = outbox.json();
    assert_eq!(messages[0]["to"], "+64215550123");
    let body = messages[0]["body"].as_str().unwrap();
    assert!(
        body.ends_with(&format!("@127.0.0.1 #{}", portal.last_code().await)),
        "{body}"
    );
    assert!(messages[0]["sent_at"].as_str().unwrap().contains('T'));

    let code = portal.last_code().await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = browser.post("/api/verify_code", &[("code", wrong)]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.field_error("code").contains("4 tries left"));

    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    let signed_in_cookie = browser.cookie.clone().unwrap();
    assert_ne!(
        signed_in_cookie, pending_cookie,
        "the session ID rotates at sign-in"
    );

    let me = browser.post("/api/me", &[]).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text());
    let me = me.json();
    assert_eq!(me["username"], "margaret");
    assert_eq!(me["given_name"], "Margaret");
    assert_eq!(me["family_name"], "Smith");
    assert_eq!(me["mobile"], "+64215550123");
    assert_eq!(me["mobile_verified"], true);

    // The pending cookie died with the step up.
    let old = portal.post_raw("/api/me", "", Some(&pending_cookie)).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn patient_data_is_never_cached() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    let me = browser.post("/api/me", &[]).await;
    assert_eq!(me.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn send_code_inside_the_cooldown_is_429_with_the_wait() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    assert_eq!(
        browser.post("/api/send_code", &[]).await.status,
        StatusCode::OK
    );
    portal.clock.advance_seconds(12);
    let again = browser.post("/api/send_code", &[]).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(again.json()["retry_after_seconds"], 18);
    assert_eq!(again.headers["retry-after"], "18");
    assert!(again.json()["message"]
        .as_str()
        .unwrap()
        .contains("18 seconds"));
    assert_eq!(portal.texts().await.len(), 1, "nothing was sent");

    portal.clock.advance_seconds(18);
    assert_eq!(
        browser.post("/api/send_code", &[]).await.status,
        StatusCode::OK
    );
    assert_eq!(portal.texts().await.len(), 2);
}

#[tokio::test]
async fn a_new_code_replaces_the_old_one() {
    let portal = TestPortal::with(|s| s.practice.resend_cooldown_seconds = 0).await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    let first = portal.last_code().await;
    // Two codes are the same one time in a million: send until they differ.
    let second = loop {
        browser.post("/api/send_code", &[]).await;
        let next = portal.last_code().await;
        if next != first {
            break next;
        }
    };
    let old = browser.post("/api/verify_code", &[("code", &first)]).await;
    assert_eq!(old.status, StatusCode::UNPROCESSABLE_ENTITY);
    let new = browser.post("/api/verify_code", &[("code", &second)]).await;
    assert_eq!(new.status, StatusCode::OK);
}

#[tokio::test]
async fn five_wrong_codes_kill_the_code_and_say_so() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    let code = portal.last_code().await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        browser.post("/api/verify_code", &[("code", wrong)]).await;
    }
    let fifth = browser.post("/api/verify_code", &[("code", wrong)]).await;
    assert_eq!(fifth.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(fifth.field_error("code").contains("too many times"));
    let right_too_late = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(right_too_late.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(right_too_late
        .field_error("code")
        .contains("ask for a new code"));
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let portal = TestPortal::with(|s| s.otp_ttl_seconds = 300).await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    let code = portal.last_code().await;
    // The code (5 minutes here) runs out while the pending step (10 minutes) is still open:
    // the refusal is the code's own.
    portal.clock.advance_seconds(299);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let alive = browser.post("/api/verify_code", &[("code", wrong)]).await;
    assert!(
        alive.field_error("code").contains("tries left"),
        "{}",
        alive.text()
    );
    portal.clock.advance_seconds(1);
    let reply = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    assert_eq!(
        reply.field_error("code"),
        "That code has expired. Please ask for a new code."
    );
}

#[tokio::test]
async fn a_landline_is_refused_at_registration_with_its_message() {
    let portal = TestPortal::new().await;
    let reply = portal
        .post_raw(
            "/api/register",
            &common::form(&registration("margaret", "04 471 1234")),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.field_error("mobile"),
        "Please enter a mobile number; landlines can't receive text messages"
    );
    assert!(reply.session_cookie().is_none());
}

#[tokio::test]
async fn every_problem_is_reported_beside_its_field_at_once() {
    let portal = TestPortal::new().await;
    let reply = portal
        .post_raw(
            "/api/register",
            &common::form(&[
                ("username", "margaret"),
                ("password", "qwerty123456"),
                ("confirm_password", "something else"),
                ("given_name", ""),
                ("family_name", "Smith"),
                ("date_of_birth", "2999-01-01"),
                ("mobile", "0800 123 456"),
                ("email", "not-an-email"),
            ]),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in [
        "password",
        "confirm_password",
        "given_name",
        "date_of_birth",
        "mobile",
        "email",
    ] {
        assert!(!reply.field_error(field).is_empty(), "{field}");
    }
    assert!(reply.field_error("password").contains("commonly used"));
}

#[tokio::test]
async fn usernames_are_unique_regardless_of_case() {
    let portal = TestPortal::new().await;
    assert_eq!(
        portal.browser().register("Margaret").await.status,
        StatusCode::OK
    );
    let again = portal.browser().register("mARGARET").await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.field_error("username").contains("already taken"));
}

#[tokio::test]
async fn a_password_containing_the_username_is_refused_with_the_reason() {
    let portal = TestPortal::new().await;
    let mut pairs = registration("margaret", "021 555 0123");
    pairs.retain(|(k, _)| !k.contains("password"));
    pairs.push(("password", "Margaret rules the world"));
    let reply = portal
        .post_raw("/api/register", &common::form(&pairs), None)
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.field_error("password").contains("username"));
}

#[tokio::test]
async fn an_unsigned_browser_gets_401_from_me_and_the_code_endpoints() {
    let portal = TestPortal::new().await;
    for path in ["/api/me", "/api/send_code", "/api/verify_code"] {
        let reply = portal.post_raw(path, "code=123456", None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(reply.json()["message"].is_string());
    }
}

#[tokio::test]
async fn logging_out_kills_the_session_on_the_server() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    let cookie = browser.cookie.clone().unwrap();
    let out = browser.post("/api/logout", &[]).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.session_cookie().unwrap().contains("Max-Age=0"));
    let replayed = portal.post_raw("/api/me", "", Some(&cookie)).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_requests_get_4xx_never_5xx() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    let cookie = browser.cookie.clone();
    let bodies = [
        "",
        "%%%",
        "code=%FF%FE",
        "username[]=a&username[]=b",
        "{\"username\": 1}",
        "mobile=\u{0}",
        &"x".repeat(100_000),
        "code=1&code=2",
        "date_of_birth=99999-99-99",
        &format!("mobile={}", "9".repeat(5000)),
    ];
    for path in [
        "/api/register",
        "/api/send_code",
        "/api/verify_code",
        "/api/me",
        "/api/logout",
    ] {
        for body in bodies {
            for cookie in [None, cookie.as_deref()] {
                let reply = portal.post_raw(path, body, cookie).await;
                assert!(
                    reply.status.is_client_error() || reply.status.is_success(),
                    "{path} with {:?} gave {}: {}",
                    &body[..body.len().min(40)],
                    reply.status,
                    reply.text()
                );
                // An answer of either kind is JSON: a refusal always says why.
                let answer = reply.json();
                assert!(
                    reply.status.is_success() || answer["message"].is_string(),
                    "{path}: {}",
                    reply.text()
                );
            }
        }
    }
}

#[tokio::test]
async fn cross_site_changes_are_refused() {
    let portal = TestPortal::new().await;
    let request = axum::http::Request::post("/api/register")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(axum::body::Body::from(common::form(&registration(
            "m",
            "021 555 0123",
        ))))
        .unwrap();
    assert_eq!(portal.send(request).await.status, StatusCode::FORBIDDEN);

    let request = axum::http::Request::post("/api/logout")
        .header("sec-fetch-site", "cross-site")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(portal.send(request).await.status, StatusCode::FORBIDDEN);

    // A browser (or a script) that says "same-origin" but names another origin is refused:
    // the Origin is compared with PORTAL_PUBLIC_URL.
    let request = axum::http::Request::post("/api/logout")
        .header("sec-fetch-site", "same-origin")
        .header("origin", "http://portal.evil.example")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(portal.send(request).await.status, StatusCode::FORBIDDEN);

    let request = axum::http::Request::post("/api/logout")
        .header("sec-fetch-site", "same-origin")
        .header("origin", "http://127.0.0.1:3000")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(portal.send(request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn health_answers_while_the_process_does() {
    let portal = TestPortal::new().await;
    let reply = portal.get("/healthz", None).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn responses_carry_the_security_headers() {
    let portal = TestPortal::new().await;
    let reply = portal.get("/healthz", None).await;
    let csp = reply.headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert_eq!(reply.headers["x-content-type-options"], "nosniff");
    assert!(reply.headers.contains_key("referrer-policy"));
    assert_eq!(reply.headers["cross-origin-opener-policy"], "same-origin");
    let permissions = reply.headers["permissions-policy"].to_str().unwrap();
    for feature in ["camera=()", "microphone=()", "geolocation=()"] {
        assert!(permissions.contains(feature), "{permissions}");
    }
    // Served over plain http (a developer's machine), no HSTS: it would pin localhost.
    assert!(!reply.headers.contains_key("strict-transport-security"));
}

#[tokio::test]
async fn over_https_browsers_are_told_to_stay_on_https() {
    let portal = TestPortal::with(|s| {
        s.public_url = "https://portal.example.org".parse().unwrap();
    })
    .await;
    for path in ["/healthz", "/login"] {
        let reply = portal.get(path, None).await;
        let hsts = reply.headers["strict-transport-security"].to_str().unwrap();
        assert!(hsts.starts_with("max-age=63072000"), "{path}: {hsts}");
    }
}

#[tokio::test]
async fn the_dev_outbox_exists_only_where_the_configuration_allows_it() {
    let portal = TestPortal::new().await;
    assert_eq!(portal.get("/dev/sms", None).await.status, StatusCode::OK);
    assert_eq!(portal.get("/dev/email", None).await.status, StatusCode::OK);
    let sender = std::sync::Arc::new(app::sms::ConsoleSms::new(
        portal.portal.store.clone(),
        portal.portal.clock.clone(),
    ));
    let closed = portal.restart(sender, server::Wiring::default()).await;
    for path in ["/dev/sms", "/dev/email"] {
        assert_eq!(
            closed.get(path, None).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_with_the_host_prefix() {
    let portal = TestPortal::with(|s| {
        s.public_url = "https://portal.example.org".parse().unwrap();
    })
    .await;
    let reply = portal.browser().register("margaret").await;
    let cookie = reply.session_cookie().unwrap();
    assert!(cookie.starts_with("__Host-portal_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
}

#[tokio::test]
async fn registration_with_two_factor_off_signs_in_at_once() {
    let portal = TestPortal::with(|s| s.practice.two_factor = false).await;
    let mut browser = portal.browser();
    let reply = browser.register("margaret").await;
    assert_eq!(reply.json()["signed_in"], true);
    assert_eq!(browser.post("/api/me", &[]).await.status, StatusCode::OK);
    assert!(portal.texts().await.is_empty());
    let _ = PASSWORD;
}

#[tokio::test]
async fn while_the_database_is_down_patients_get_503s_never_500s() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    portal.portal.store.close().await;

    // Alive, but not ready: a load balancer sends patients elsewhere.
    assert_eq!(portal.get("/healthz", None).await.status, StatusCode::OK);
    assert_eq!(
        portal.get("/readyz", None).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let login = portal
        .browser()
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", common::PASSWORD)],
        )
        .await;
    assert_eq!(
        login.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        login.text()
    );
    assert!(login.headers.contains_key("retry-after"));
    assert!(login.json()["message"]
        .as_str()
        .unwrap()
        .contains("can't reach its records"));
    let page = portal.get("/profile", browser.cookie.as_deref()).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.text().contains("can&#x27;t reach its records")
            || page.text().contains("can't reach its records")
    );
}

#[tokio::test]
async fn a_database_that_is_down_at_start_up_is_waited_for_then_named() {
    let config = server::config::Config::from_vars(server::config::Vars(|name: &str| {
        match name {
            // Nothing listens on port 9 of this machine.
            "PORTAL_DATABASE_URL" => Some("postgres://portal@127.0.0.1:9/portal".to_string()),
            "PORTAL_SECRET_KEY" => Some("a shared secret key for every instance".to_string()),
            "PORTAL_DATABASE_CONNECT_TIMEOUT_SECONDS" => Some("1".to_string()),
            _ => None,
        }
    }))
    .unwrap();
    let err = server::open_store(&config, 3, std::time::Duration::from_millis(10))
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    assert!(err.to_string().contains("database"), "{err}");
}
