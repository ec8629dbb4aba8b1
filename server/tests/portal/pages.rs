//! Every page renders on the server for every kind of visitor, without a server error, and pages
//! that need a signed-in patient send everyone else to the login page.

use crate::common;

use axum::http::StatusCode;
use common::TestPortal;

/// Each page, and what each visitor gets: a page (200), a redirect (302) or "not found" (404).
const PAGES: [(&str, [u16; 3]); 14] = [
    // page             anonymous, pending, signed in
    ("/", [302, 302, 200]),
    ("/login", [200, 200, 200]),
    ("/register", [200, 200, 200]),
    ("/verify", [302, 200, 302]),
    // Only after a right password at login: a new account's number must be verified.
    ("/cant-get-a-code", [302, 302, 302]),
    // "This wasn't me": for anyone holding the link; a made-up one is simply not usable.
    ("/secure?t=made-up", [200, 200, 200]),
    ("/secure", [200, 200, 200]),
    ("/confirm-email?t=made-up", [200, 200, 200]),
    ("/profile", [302, 302, 200]),
    ("/no-such-page", [404, 404, 404]),
    // A patient is no staff member.
    ("/staff/login", [200, 200, 200]),
    ("/staff/enrol?token=nothing", [200, 200, 200]),
    ("/staff", [302, 302, 302]),
    ("/staff/settings", [302, 302, 302]),
];

#[tokio::test]
async fn every_page_renders_for_every_visitor() {
    let portal = TestPortal::new().await;
    let mut pending = portal.browser();
    pending.register("pending.patient").await;
    let mut signed_in = portal.browser();
    signed_in.register_and_sign_in("signed.in").await;

    let visitors = [
        ("anonymous", None),
        ("pending", pending.cookie.clone()),
        ("signed in", signed_in.cookie.clone()),
    ];
    for (page, expected) in PAGES {
        for ((who, cookie), status) in visitors.iter().zip(expected) {
            let reply = portal.get(page, cookie.as_deref()).await;
            assert_eq!(reply.status.as_u16(), status, "{page} for {who}");
            assert_eq!(
                reply.headers["cache-control"], "no-store",
                "{page} for {who}"
            );
        }
    }
    // Every page that renders is whole, with a fresh nonce for its script.
    for (page, expected) in PAGES {
        for ((who, cookie), _) in visitors
            .iter()
            .zip(expected)
            .filter(|(_, status)| *status != 302)
        {
            let reply = portal.get(page, cookie.as_deref()).await;
            assert!(
                reply.text().contains("</html>"),
                "{page} for {who} is complete"
            );
            let csp = reply.headers["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("'nonce-"), "{page} for {who}: {csp}");
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

/// The app's files travel compressed and are checked again on each use (a 304 when unchanged);
/// pages are never compressed, so nothing secret in them can leak through their compressed size.
#[tokio::test]
async fn static_files_are_compressed_and_pages_are_not() {
    use axum::{body::Body, extract::ConnectInfo, http::Request};
    use leptos::prelude::LeptosOptions;
    use std::net::SocketAddr;
    use tower::ServiceExt;

    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    let script = "export function hydrate() { return 'patient portal'; }\n".repeat(200);
    std::fs::write(site.path().join("pkg/portal.js"), &script).unwrap();
    let options = LeptosOptions::builder()
        .output_name("portal")
        .site_root(site.path().to_str().unwrap())
        .build();
    let portal = TestPortal::new().await;
    let router = server::router(portal.portal.clone(), options);
    let get = |path: &str, encoding: Option<&str>| {
        let mut request = Request::get(path).header("accept", "text/html,*/*");
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        let mut request = request.body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 50000))));
        router.clone().oneshot(request)
    };
    let size = |response: axum::response::Response| async {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .len()
    };

    for encoding in ["br", "gzip"] {
        let reply = get("/pkg/portal.js", Some(encoding)).await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(reply.headers()["content-encoding"], encoding);
        assert_eq!(reply.headers()["cache-control"], "no-cache");
        assert!(size(reply).await < script.len() / 10, "{encoding}");
    }
    let reply = get("/pkg/portal.js", None).await.unwrap();
    assert!(reply.headers().get("content-encoding").is_none());
    // Served from disk until compressed into memory, then from memory: each has its validator.
    let validator = match reply.headers().get("etag") {
        Some(tag) => ("if-none-match", tag.clone()),
        None => (
            "if-modified-since",
            reply.headers()["last-modified"].clone(),
        ),
    };
    assert_eq!(size(reply).await, script.len());

    // A browser that already has the file is told it is unchanged, without the file again.
    let mut again = Request::get("/pkg/portal.js")
        .header("accept-encoding", "br")
        .header(validator.0, validator.1)
        .body(Body::empty())
        .unwrap();
    again
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 50000))));
    let reply = router.clone().oneshot(again).await.unwrap();
    assert_eq!(reply.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(size(reply).await, 0);

    let page = get("/login", Some("br, gzip")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers().get("content-encoding").is_none());
    assert_eq!(page.headers()["cache-control"], "no-store");
}

fn nonce_of(reply: &common::Reply) -> String {
    let policy = reply.headers["content-security-policy"].to_str().unwrap();
    let start = policy.find("'nonce-").unwrap() + "'nonce-".len();
    let end = policy[start..].find('\'').unwrap() + start;
    policy[start..end].to_string()
}

#[tokio::test]
async fn anonymous_pages_come_from_memory_with_a_fresh_nonce_each_time() {
    let portal = TestPortal::new().await;
    for page in ["/login", "/register", "/login?timeout=1"] {
        let first = portal.get(page, None).await;
        let second = portal.get(page, None).await;
        assert_eq!(second.status, StatusCode::OK, "{page}");
        let (one, two) = (nonce_of(&first), nonce_of(&second));
        assert_ne!(one, two, "{page}: every response has its own nonce");
        assert!(
            second.text().contains(&format!("nonce=\"{two}\"")),
            "{page}"
        );
        assert!(
            !second.text().contains(&one),
            "{page}: nothing of the last nonce stays"
        );
        // Apart from the nonce, the page is the same page.
        assert_eq!(
            first.text().replace(&one, "N"),
            second.text().replace(&two, "N")
        );
        assert!(second.headers.get("set-cookie").is_none());
        assert_eq!(second.headers["cache-control"], "no-store");
        // The kept copy carries every header the rendered one had: the security headers too.
        let others = |reply: &common::Reply| {
            let mut headers: Vec<String> = reply
                .headers
                .iter()
                .filter(|(name, _)| {
                    !matches!(name.as_str(), "content-length" | "date" | "x-request-id")
                })
                .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
                .collect();
            headers.sort();
            headers
        };
        assert_eq!(
            others(&first)
                .iter()
                .map(|h| h.replace(&one, "N"))
                .collect::<Vec<_>>(),
            others(&second)
                .iter()
                .map(|h| h.replace(&two, "N"))
                .collect::<Vec<_>>(),
            "{page}"
        );
        assert_eq!(second.headers["x-frame-options"], "DENY");
    }
    let timeout = portal.get("/login?timeout=1", None).await.text();
    assert!(timeout.contains("signed out because you had been inactive"));
    assert!(!portal.get("/login", None).await.text().contains("inactive"));
}

#[tokio::test]
async fn a_change_to_the_practice_settings_shows_on_the_next_anonymous_page() {
    let portal = TestPortal::new().await;
    assert!(portal
        .get("/login", None)
        .await
        .text()
        .contains("Patient Portal"));
    let mut practice = (*portal.portal.practice()).clone();
    practice.practice_name = "Harbour Health".into();
    portal.save_practice(practice).await;
    let page = portal.get("/login", None).await.text();
    assert!(
        page.contains("Harbour Health"),
        "rendered again with the new name"
    );
}

#[tokio::test]
async fn a_page_fetched_by_the_islands_router_never_stands_in_for_a_first_visit() {
    use axum::{body::Body, http::Request};
    let portal = TestPortal::new().await;
    let by_router = |path: &str| {
        Request::get(path)
            .header("islands-router", "true")
            .body(Body::empty())
            .unwrap()
    };
    // The router's copy first, so that a shared key would hand it to the next visitor.
    for _ in 0..2 {
        let page = portal.send(by_router("/login")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("Log in"));
    }
    for _ in 0..2 {
        let first_visit = portal.get("/login", None).await.text();
        assert!(
            first_visit.contains("hydrateIslands"),
            "a first visit loads the app"
        );
    }
}

#[test]
fn a_pages_text_leaves_out_the_markers_hydration_reads_and_nothing_else() {
    let reply = common::Reply {
        status: StatusCode::OK,
        headers: Default::default(),
        body: b"<!--bo-TypeId(0x1)--><p>a<!--bc-TypeId(0x1)--><!--b--><!--bo-1--><!><!--bc-1--> b</p><!-- note -->".to_vec(),
    };
    assert_eq!(reply.text(), "<p>a<!--b--> b</p><!-- note -->");
}
