//! Forms posted without scripts (before the app has loaded, or with scripts off): refused ones
//! come back to their page with the error and what was typed, never a password, and never in
//! the address; the same-origin rule holds for them too.

use crate::common;

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use common::{form, registration, Reply, TestPortal, PASSWORD};

const OWN_ORIGIN: &str = "http://127.0.0.1:3000";

/// A form post as a browser without scripts sends it, from `page`.
async fn plain_post(
    portal: &TestPortal,
    page: &str,
    path: &str,
    pairs: &[(&str, &str)],
    cookie: Option<&str>,
) -> Reply {
    let mut request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .header(header::ORIGIN, OWN_ORIGIN)
        .header("sec-fetch-site", "same-origin")
        .header(header::REFERER, format!("{OWN_ORIGIN}{page}"));
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    portal
        .send(request.body(Body::from(form(pairs))).unwrap())
        .await
}

/// Posts a code that is refused, without scripts, and opens the code page it is sent back to.
async fn refused_code_page(portal: &TestPortal, session: &str, code: &str) -> String {
    let refused = plain_post(
        portal,
        "/verify",
        "/api/verify_code",
        &[("code", code)],
        Some(session),
    )
    .await;
    assert_eq!(location(&refused), "/verify");
    let kept = cookie(&refused, "portal_form").unwrap();
    portal
        .get("/verify", Some(&format!("{session}; {kept}")))
        .await
        .text()
}

fn location(reply: &Reply) -> &str {
    reply
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no redirect ({}): {}", reply.status, reply.text()))
}

/// The `name=value` of the cookie called `name` that the reply sets.
fn cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .set_cookie(name)
        .map(|line| line.split(';').next().unwrap().to_string())
}

fn set_cookie_header(reply: &Reply, name: &str) -> String {
    reply
        .set_cookie(name)
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

#[tokio::test]
async fn a_refused_registration_comes_back_with_its_errors_and_what_was_typed_but_no_password() {
    let portal = TestPortal::new().await;
    let mut typed = registration("margaret", "12");
    typed.retain(|(name, _)| !matches!(*name, "email" | "family_name"));
    typed.push(("email", "margaret@example.org"));
    typed.push(("family_name", "Smith\"><b>bold</b>"));
    let reply = plain_post(&portal, "/register", "/api/register", &typed, None).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    // Back to the page, with nothing of the error in the address.
    assert_eq!(location(&reply), "/register");
    let set = set_cookie_header(&reply, "portal_form");
    assert!(
        set.contains("HttpOnly") && set.contains("Max-Age=120"),
        "{set}"
    );
    let kept = cookie(&reply, "portal_form").unwrap();
    // The cookie is sealed: nothing typed can be read from it.
    assert!(!kept.contains("Margaret") && !kept.contains("margaret"));
    let stored = portal.portal.store.account_by_username("margaret").await;
    assert!(stored.unwrap().is_none());

    let page = portal.get("/register", Some(&kept)).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("Please check the highlighted details"),
        "{html}"
    );
    assert!(html.contains("aria-invalid=\"true\""));
    // Kept as text: what was typed can never break out of its field.
    assert!(!html.contains("Smith\"><b>"));
    assert!(html.contains("value=\"Smith&quot;"), "{html}");
    for value in ["Margaret", "1950-07-31", "margaret@example.org", "12"] {
        assert!(
            html.contains(&format!("value=\"{value}\"")),
            "{value} is kept"
        );
    }
    assert!(!html.contains(PASSWORD), "a password is never kept");
    // Shown once: the page takes the cookie away.
    assert!(set_cookie_header(&page, "portal_form").contains("Max-Age=0"));

    // Another page, another visitor, or a cookie not sealed by the portal shows nothing.
    let login = portal.get("/login", Some(&kept)).await.text();
    assert!(!login.contains("Margaret") && !login.contains("highlighted details"));
    let plain = portal.get("/register", None).await.text();
    assert!(!plain.contains("Margaret") && !plain.contains("highlighted details"));
    let forged = portal
        .get("/register", Some("portal_form=00112233445566778899"))
        .await;
    assert_eq!(forged.status, StatusCode::OK);
    assert!(!forged.text().contains("highlighted details"));
}

#[tokio::test]
async fn an_error_put_in_a_link_is_never_shown_as_the_portals() {
    use base64::{engine::general_purpose::URL_SAFE, Engine};
    let portal = TestPortal::new().await;
    let forged = URL_SAFE.encode(
        serde_json::json!({
            "error": "unauthorized",
            "message": "Your account is locked. Call 0900 123 456 to unlock it.",
        })
        .to_string(),
    );
    let links = [
        ("/login?timeout&__path=/api/login&__err=", "/login?timeout"),
        ("/register?__path=/api/register&__err=", "/register"),
        // However the names are written.
        ("/login?%5F%5Fpath=/api/login&%5f_err=", "/login"),
    ];
    for (link, page) in links {
        let reply = portal.get(&format!("{link}{forged}"), None).await;
        assert!(reply.status.is_redirection(), "{link}: {}", reply.status);
        assert_eq!(location(&reply), page);
    }
    let page = portal.get("/login?timeout", None).await.text();
    assert!(!page.contains("0900 123 456"));
}

#[tokio::test]
async fn a_refused_form_is_not_shown_once_its_minutes_have_passed() {
    let portal = TestPortal::new().await;
    let reply = plain_post(
        &portal,
        "/login",
        "/api/login",
        &[("username", "nobody"), ("password", "wrong password")],
        None,
    )
    .await;
    assert_eq!(location(&reply), "/login");
    let kept = cookie(&reply, "portal_form").unwrap();
    let html = portal.get("/login", Some(&kept)).await.text();
    assert!(html.contains("don&#x27;t match") || html.contains("don't match"));
    assert!(html.contains("value=\"nobody\""));

    portal.clock.advance_seconds(3 * 60);
    let html = portal.get("/login", Some(&kept)).await.text();
    assert!(!html.contains("value=\"nobody\""));
}

#[tokio::test]
async fn without_scripts_a_patient_logs_in_with_a_code_after_a_wrong_one() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("olive").await;

    let reply = plain_post(
        &portal,
        "/login",
        "/api/login",
        &[("username", "olive"), ("password", PASSWORD)],
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(location(&reply), "/verify");
    let session = cookie(&reply, "portal_session").unwrap();

    let html = refused_code_page(&portal, &session, "000000").await;
    assert!(html.contains("That code isn"), "{html}");

    // What was typed goes to the island that wakes the code step, and stays text there too.
    let html = refused_code_page(&portal, &session, "1\"><b>x</b>").await;
    assert!(html.contains("<leptos-island"), "{html}");
    assert!(!html.contains("\"><b>"), "{html}");

    let code = portal.last_code().await;
    let right = plain_post(
        &portal,
        "/verify",
        "/api/verify_code",
        &[("code", &code)],
        Some(&session),
    )
    .await;
    assert_eq!(right.status, StatusCode::FOUND);
    assert_eq!(location(&right), "/");
    assert!(cookie(&right, "portal_session").is_some());
    assert!(cookie(&right, "portal_form").is_none());
}

#[tokio::test]
async fn without_scripts_a_patient_changes_their_number_on_a_page_of_its_own() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("nina").await;
    let session = browser.cookie.clone().unwrap();

    // "here" leads to the page, where the number step comes first.
    let profile = portal.get("/profile", Some(&session)).await.text();
    assert!(profile.contains("href=\"/profile/mobile\""));
    let page = portal.get("/profile/mobile", Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Save &amp; Get Code"));

    let saved = plain_post(
        &portal,
        "/profile/mobile",
        "/api/change_mobile",
        &[("mobile", "021 555 0188")],
        Some(&session),
    )
    .await;
    assert_eq!(location(&saved), "/profile/mobile");
    let page = portal.get("/profile/mobile", Some(&session)).await.text();
    assert!(page.contains("Verification code"), "{page}");
    assert!(page.contains("ending 88"));

    let code = portal.last_code().await;
    let verified = plain_post(
        &portal,
        "/profile/mobile",
        "/api/verify_code",
        &[("code", &code)],
        Some(&session),
    )
    .await;
    assert_eq!(location(&verified), "/profile/mobile?verified");
    let page = portal
        .get("/profile/mobile?verified", Some(&session))
        .await
        .text();
    assert!(page.contains("is verified"), "{page}");
    assert_eq!(
        portal.account("nina").await.mobile.as_deref(),
        Some("+64215550188")
    );
}

#[tokio::test]
async fn a_plain_form_post_from_another_site_is_refused() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("pat").await;
    let session = browser.cookie.clone().unwrap();
    for (origin, fetch_site) in [
        ("https://evil.example", "cross-site"),
        ("null", "cross-site"),
        ("https://evil.example", "same-origin"),
    ] {
        let request = Request::post("/api/change_mobile")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .header(header::ORIGIN, origin)
            .header("sec-fetch-site", fetch_site)
            .header(header::REFERER, "https://evil.example/")
            .header(header::COOKIE, &session)
            .body(Body::from(form(&[("mobile", "021 555 0199")])))
            .unwrap();
        let reply = portal.send(request).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{origin}");
        assert!(reply.headers.get(header::LOCATION).is_none());
    }
    assert_eq!(portal.account("pat").await.pending_mobile, None);
}

/// What the refused-form cookie `kept` holds, opened with the server's key as the page would.
fn opened(portal: &TestPortal, page: &str, kept: &str) -> app::ui::plain_forms::Refused {
    let request = Request::get(page)
        .header(header::COOKIE, kept)
        .body(())
        .unwrap();
    app::ui::plain_forms::ssr::refused_for(&portal.portal, &request.into_parts().0)
        .expect("a refused form for this page")
}

#[tokio::test]
async fn a_refused_staff_login_keeps_the_username_but_never_the_code() {
    let portal = TestPortal::new().await;
    let recovery_code = "k7qm2-x9fpt";
    let reply = plain_post(
        &portal,
        "/staff/login",
        "/api/staff/login",
        &[
            ("username", "kim"),
            ("password", "wrong password"),
            ("code", recovery_code),
        ],
        None,
    )
    .await;
    assert_eq!(location(&reply), "/staff/login");
    let kept = cookie(&reply, "portal_form").unwrap();
    let refused = opened(&portal, "/staff/login", &kept);
    assert_eq!(refused.typed, vec![("username".into(), "kim".into())]);

    let html = portal.get("/staff/login", Some(&kept)).await.text();
    assert!(html.contains("value=\"kim\""), "{html}");
    assert!(!html.contains(recovery_code), "{html}");
}

#[tokio::test]
async fn a_refused_code_step_keeps_nothing_of_the_code() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("rua").await;
    browser.post("/api/logout", &[]).await;
    let mut browser = portal.browser();
    browser.log_in("rua").await;
    let session = browser.cookie.clone().unwrap();

    let refused = plain_post(
        &portal,
        "/verify",
        "/api/verify_code",
        &[("code", "987654")],
        Some(&session),
    )
    .await;
    let kept = cookie(&refused, "portal_form").unwrap();
    let opened = opened(&portal, "/verify", &kept);
    assert!(opened.typed.is_empty(), "{:?}", opened.typed);
    let html = portal
        .get("/verify", Some(&format!("{session}; {kept}")))
        .await
        .text();
    assert!(html.contains("That code isn"), "{html}");
    assert!(!html.contains("987654"), "{html}");
}

#[tokio::test]
async fn an_error_put_in_the_referer_is_never_shown_as_the_portals() {
    use base64::{engine::general_purpose::URL_SAFE, Engine};
    let portal = TestPortal::new().await;
    let forged = URL_SAFE.encode(
        serde_json::json!({
            "error": "unauthorized",
            "message": "Your account is locked. Call 0900 123 456 to unlock it.",
        })
        .to_string(),
    );
    let page = format!("/login?__path=/api/login&__err={forged}");
    let reply = plain_post(
        &portal,
        &page,
        "/api/login",
        &[("username", "nobody"), ("password", "wrong password")],
        None,
    )
    .await;
    assert_eq!(location(&reply), "/login");
    let kept = cookie(&reply, "portal_form").unwrap();
    let html = portal.get("/login", Some(&kept)).await.text();
    assert!(!html.contains("0900 123 456"), "{html}");
    assert!(
        html.contains("don&#x27;t match") || html.contains("don't match"),
        "{html}"
    );
}

#[test]
fn the_fields_a_refused_form_keeps_are_listed_by_real_server_functions() {
    use app::passkeys::RenamePasskey;
    use app::{
        one_time_code::SendCode,
        patient::{
            login::Login,
            profile::{ChangeMobile, UpdateEmail},
            registration::Register,
        },
        staff::{
            audit_log::AuditLog,
            caregivers::{AddCaregiver, AddChild, CloseInvitation, RemoveCaregiver, SetUpSignIn},
            overview::SaveAlertEmail,
            settings::SavePracticeSettings,
            sign_in::StaffLogin,
            support::{ActOnPatient, SearchPatients},
        },
    };
    use leptos::server_fn::ServerFn;
    let paths = [
        <Register as ServerFn>::PATH,
        <Login as ServerFn>::PATH,
        <StaffLogin as ServerFn>::PATH,
        <SendCode as ServerFn>::PATH,
        <ChangeMobile as ServerFn>::PATH,
        <UpdateEmail as ServerFn>::PATH,
        <SavePracticeSettings as ServerFn>::PATH,
        <AuditLog as ServerFn>::PATH,
        <SearchPatients as ServerFn>::PATH,
        <SaveAlertEmail as ServerFn>::PATH,
        <ActOnPatient as ServerFn>::PATH,
        <AddChild as ServerFn>::PATH,
        <AddCaregiver as ServerFn>::PATH,
        <RemoveCaregiver as ServerFn>::PATH,
        <CloseInvitation as ServerFn>::PATH,
        <SetUpSignIn as ServerFn>::PATH,
        <RenamePasskey as ServerFn>::PATH,
    ];
    let listed: Vec<&str> = app::ui::plain_forms::ssr::KEPT_FIELDS
        .iter()
        .map(|(path, _)| *path)
        .collect();
    assert_eq!(listed, paths);
}

/// The origin a browser on the portal would go to when sent to `location`.
fn resolved_origin(location: &str) -> String {
    url::Url::parse(OWN_ORIGIN)
        .unwrap()
        .join(location)
        .unwrap_or_else(|err| panic!("{location:?} doesn't resolve: {err}"))
        .origin()
        .ascii_serialization()
}

#[tokio::test]
async fn a_link_never_sends_a_patient_to_another_site() {
    let portal = TestPortal::new().await;
    // Each would be a phishing link on the portal's own domain if echoed back as the address.
    let links = [
        "//evil.example/login?__err=1",
        "///evil.example/login?__err=1",
        "/\\evil.example/login?__err=1",
        "/\\/evil.example/login?__err=1",
        "//\\evil.example/login?__err=1",
        "/%2F/evil.example/login?__err=1",
        "/%2F%2Fevil.example/login?__err=1",
        "/%5C%5Cevil.example/login?__err=1",
        "//evil.example?timeout&__path=/api/login&__err=1",
    ];
    for link in links {
        let reply = portal.get(link, None).await;
        assert!(reply.status.is_redirection(), "{link}: {}", reply.status);
        let location = location(&reply);
        assert_eq!(resolved_origin(location), OWN_ORIGIN, "{link} → {location}");
    }
    // The ordinary case still goes back to its page.
    let reply = portal.get("/login?__err=1", None).await;
    assert_eq!(location(&reply), "/login");
}

#[tokio::test]
async fn a_refused_plain_post_goes_back_to_the_portal_whatever_page_it_names() {
    let portal = TestPortal::new().await;
    for page in [
        "//evil.example/register",
        "/\\evil.example/register",
        "///evil.example/register",
    ] {
        let reply = plain_post(
            &portal,
            page,
            "/api/register",
            &registration("", "021 555 0123"),
            None,
        )
        .await;
        assert!(reply.status.is_redirection(), "{page}: {}", reply.status);
        let location = location(&reply);
        assert_eq!(resolved_origin(location), OWN_ORIGIN, "{page} → {location}");
    }
}

#[tokio::test]
async fn a_refused_link_for_alerts_comes_back_to_the_overview_with_its_error() {
    let portal = TestPortal::new().await;
    let admin = portal.staff("ada", app::staff::StaffRole::Admin).await;
    let session = admin.browser.cookie.clone().unwrap();
    let page = "/staff/overview?confirm_alerts=not-a-link-we-sent";
    let reply = plain_post(
        &portal,
        page,
        "/api/staff/confirm_alert_email",
        &[("token", "not-a-link-we-sent")],
        Some(&session),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text());
    assert_eq!(location(&reply), page);
    let kept = cookie(&reply, "portal_form").unwrap();
    let html = portal
        .get(page, Some(&format!("{session}; {kept}")))
        .await
        .text();
    assert!(
        html.contains("This link has expired or was already used"),
        "{html}"
    );
}
