//! `GET /staff/audit.csv`: the audit log's CSV export, for admins. A plain route rather than a
//! server function, so a link can download it; what it sends is the core's
//! (`staff::audit_log::start_export`).

use app::{
    error::{ErrorKind, PortalError},
    portal::Portal,
    staff::{audit_log::AuditQuery, Role},
};
use axum::{
    extract::{Query, State},
    http::{header, request::Parts, StatusCode},
    response::{IntoResponse, Response},
};
use portal_core::staff::audit_log;

pub async fn export_csv(
    State(portal): State<Portal>,
    parts: Parts,
    Query(query): Query<AuditQuery>,
) -> Response {
    let visit = match app::request::staff_of(&portal, Some(&parts), Role::Admin).await {
        Ok(visit) => visit,
        Err(err) => return answer(err),
    };
    // A GET that reads the whole log: another site must not start one in an admin's name by
    // sending their browser a link, as a search can't be.
    if app::request::from_another_site_in(&parts) {
        return answer(PortalError::new(
            ErrorKind::Forbidden,
            "This export came from a link on another site, so it was not started. Please use Export CSV on the audit log page.",
        ));
    }
    let query = audit_log::AuditQuery::from(query);
    let download = match audit_log::start_export(&portal, visit, &query).await {
        Ok(download) => download,
        Err(err) => return answer(err.into()),
    };
    let chunks = futures_util::stream::unfold(download, |mut download| async move {
        download.recv().await.map(|chunk| (chunk, download))
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        axum::body::Body::from_stream(chunks),
    )
        .into_response()
}

/// A refusal or a fault as JSON, with its status, as server functions answer them.
fn answer(err: PortalError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let wait = err.retry_after_seconds;
    let mut response = (status, axum::Json(err)).into_response();
    if let Some(seconds) = wait {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    response
}
