//! Every page renders on the server for every kind of visitor, without a server error, and pages
//! that need a signed-in patient send everyone else to the login page.

mod common;

use axum::http::StatusCode;
use common::TestPortal;

const PAGES: [&str; 6] = [
    "/",
    "/login",
    "/register",
    "/verify",
    "/profile",
    "/no-such-page",
];

#[tokio::test]
async fn every_page_renders_for_every_visitor() {
    let portal = TestPortal::new().await;
    let mut pending = portal.browser();
    pending.register("pending.patient").await;
    let mut signed_in = portal.browser();
    signed_in.register_and_sign_in("signed.in").await;

    for (who, cookie) in [
        ("anonymous", None),
        ("pending", pending.cookie.clone()),
        ("signed in", signed_in.cookie.clone()),
    ] {
        for page in PAGES {
            let reply = portal.get(page, cookie.as_deref()).await;
            assert!(
                !reply.status.is_server_error(),
                "{page} for {who}: {}",
                reply.status
            );
            if reply.status == StatusCode::OK {
                assert!(
                    reply.text().contains("</html>"),
                    "{page} for {who} is complete"
                );
                assert_eq!(reply.headers["cache-control"], "no-store");
                let csp = reply.headers["content-security-policy"].to_str().unwrap();
                assert!(csp.contains("'nonce-"), "{page}: {csp}");
            }
        }
    }
}

#[tokio::test]
async fn signed_in_pages_send_others_to_login() {
    let portal = TestPortal::new().await;
    for page in ["/", "/profile"] {
        let reply = portal.get(page, None).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{page}");
        assert_eq!(reply.headers["location"], "/login", "{page}");
    }
    let reply = portal.get("/no-such-page", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn anonymous_visitors_get_no_session_and_no_cookie() {
    let portal = TestPortal::new().await;
    for page in ["/login", "/register"] {
        let reply = portal.get(page, None).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.headers.get("set-cookie").is_none(), "{page}");
    }
}
