//! Every signed-in page finishes rendering, every time, with the other tests rendering pages
//! beside it in the same process: a router made while a page rendered once held that page back
//! for ever (`server::router_with` now lists the routes once, before any router answers).

use crate::common;

use axum::http::StatusCode;
use common::TestPortal;

/// Pages that load data of their own inside a layout that loads the visitor never finished for
/// a share of requests while they waited in nested `<Suspense>`s (`/profile/mobile` one in five,
/// `/staff/team` one in two); each page is asked for often enough to catch one that stalls.
#[tokio::test]
async fn every_signed_in_page_answers_every_time() {
    use std::time::Duration;
    let portal = TestPortal::new().await;
    let admin = portal
        .staff("steady.admin", app::staff::StaffRole::Admin)
        .await;
    let mut patient = portal.browser();
    patient.register_and_sign_in("steady.patient").await;
    let visits = [
        (
            ["/staff", "/staff/settings", "/staff/audit", "/staff/team"],
            admin.browser.cookie.clone(),
        ),
        (
            ["/", "/profile", "/profile/mobile", "/profile?verified"],
            patient.cookie.clone(),
        ),
    ];
    for (pages, cookie) in visits {
        for page in pages {
            for round in 0..30 {
                let reply = tokio::time::timeout(
                    Duration::from_secs(20),
                    portal.get(page, cookie.as_deref()),
                )
                .await
                .unwrap_or_else(|_| panic!("{page} never finished, on request {round}"));
                assert_eq!(reply.status, StatusCode::OK, "{page}");
            }
        }
    }
}
