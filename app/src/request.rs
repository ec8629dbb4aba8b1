//! What a server function knows about the request it serves: the portal, the caller (address
//! and session) and the patient behind it. The one place that reads Leptos's request context,
//! and the one that writes the session cookie.

use std::net::IpAddr;

use http::{header, request::Parts, HeaderValue};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use crate::{
    account::Patient,
    caller::Caller,
    error::{ErrorKind, PortalError},
    portal::Portal,
    session::{
        self,
        cookie::{
            ENROLMENT_BROWSER, PASSKEY_CEREMONY, PATIENT_SESSION, REMEMBERED_DEVICE, STAFF_SESSION,
        },
        staff::{self as staff_session, StaffSession},
        NewSession, Session,
    },
    sign_in::Step,
};
use portal_core::error::OrInternal;
// The core's staff rules, not the staff pages (`crate::staff`), which themselves ask `request`.
use portal_core::staff::Role;

/// The client's address as the server worked it out (behind a trusted proxy, the forwarded one).
/// Put into each request's extensions by the server.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// The portal, which the server provides to every request. Pages rendered outside a request
/// (the route list built at start-up) have none, and render without it.
pub fn portal() -> Result<Portal, PortalError> {
    use_context::<Portal>().ok_or_else(|| {
        tracing::error!("the Portal was not provided to the server function");
        PortalError::internal()
    })
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// Whether this is a form posted without scripts: the browser wants a page back, and is sent
/// to one.
pub fn is_plain_form_post() -> bool {
    parts()
        .and_then(|p| {
            p.headers
                .get(header::ACCEPT)?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Whether the browser says another site started this request (`Sec-Fetch-Site`). State-changing
/// posts from elsewhere are refused before they arrive; this is for GETs that do something.
pub fn from_another_site() -> bool {
    parts().is_some_and(|p| from_another_site_in(&p))
}

/// As [`from_another_site`], for a plain route's request.
pub fn from_another_site_in(parts: &Parts) -> bool {
    parts
        .headers
        .get("sec-fetch-site")
        .and_then(|site| site.to_str().ok())
        .is_some_and(|site| site == "cross-site")
}

fn append_header(name: header::HeaderName, value: &str) {
    if let (Some(options), Ok(value)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(value),
    ) {
        options.append_header(name, value);
    }
}

/// The ID the server gave this request (`X-Request-Id`): on its log lines, its audit lines,
/// and shown with an error of ours as the reference to quote.
pub fn request_id() -> Option<String> {
    request_id_in(parts().as_ref())
}

fn request_id_in(parts: Option<&Parts>) -> Option<String> {
    parts.and_then(|p| {
        p.headers
            .get("x-request-id")?
            .to_str()
            .ok()
            .map(str::to_owned)
    })
}

fn client_ip(parts: Option<&Parts>) -> Option<IpAddr> {
    parts
        .and_then(|p| p.extensions.get::<ClientIp>().copied())
        .map(|ip| ip.0)
}

/// The caller: their address and their session, if the cookie names a live one.
pub async fn caller(portal: &Portal) -> Result<Caller, PortalError> {
    let parts = parts();
    let ip = client_ip(parts.as_ref());
    let header = |name: header::HeaderName| {
        parts
            .as_ref()
            .and_then(|p| p.headers.get(name)?.to_str().ok().map(str::to_owned))
    };
    let cookies = header(header::COOKIE).unwrap_or_default();
    let session = match PATIENT_SESSION.from_header(&portal.settings, &cookies) {
        Some(value) => session::load(portal, &value)
            .await
            .or_internal("loading the session")?,
        None => None,
    };
    Ok(Caller {
        ip,
        session,
        user_agent: header(header::USER_AGENT),
        device_token: REMEMBERED_DEVICE.from_header(&portal.settings, &cookies),
        ceremony_token: PASSKEY_CEREMONY.from_header(&portal.settings, &cookies),
        request_id: request_id_in(parts.as_ref()),
    })
}

/// Gives the browser the cookie of a session just started.
pub fn set_session_cookie(portal: &Portal, new: &NewSession) {
    append_header(
        header::SET_COOKIE,
        &PATIENT_SESSION.set(&portal.settings, &new.cookie),
    );
}

/// Gives the browser the cookie of a remembered device, kept for `span`.
pub fn set_device_cookie(portal: &Portal, token: &str, span: crate::clock::Millis) {
    append_header(
        header::SET_COOKIE,
        &REMEMBERED_DEVICE
            .kept_for(span)
            .set(&portal.settings, token),
    );
}

/// Gives the browser the handle of the passkey ceremony it just began.
pub fn set_ceremony_cookie(portal: &Portal, token: &str) {
    append_header(
        header::SET_COOKIE,
        &PASSKEY_CEREMONY.set(&portal.settings, token),
    );
}

/// Removes the passkey ceremony's handle: the ceremony is over, whichever way it went.
pub fn clear_ceremony_cookie(portal: &Portal) {
    append_header(
        header::SET_COOKIE,
        &PASSKEY_CEREMONY.clear(&portal.settings),
    );
}

/// Removes the remembered-device cookie from the browser.
pub fn clear_device_cookie(portal: &Portal) {
    append_header(
        header::SET_COOKIE,
        &REMEMBERED_DEVICE.clear(&portal.settings),
    );
}

/// Removes the session cookie from the browser.
pub fn clear_session_cookie(portal: &Portal) {
    append_header(header::SET_COOKIE, &PATIENT_SESSION.clear(&portal.settings));
}

pub const SIGN_IN_NEEDED: &str = "Please log in to continue.";
pub const CHOOSE_PASSWORD_FIRST: &str = "Please choose your own password before using the portal.";

pub use crate::caller::Visit;
pub use portal_core::staff::StaffVisit;

async fn visit(
    portal: &Portal,
    accept: impl Fn(&Session) -> bool,
    refusal: &str,
) -> Result<Visit, PortalError> {
    let caller = caller(portal).await?;
    let Some(session) = caller.session.clone().filter(|s| accept(s)) else {
        return Err(PortalError::unauthorized(refusal));
    };
    let patient = Patient::load(portal, session.account_id)
        .await
        .or_internal("loading the account")?
        .ok_or_else(|| PortalError::unauthorized(refusal))?;
    if session.stage.allows(Step::SignedInPages) {
        no_store();
    }
    Ok(Visit {
        caller,
        session,
        patient,
    })
}

/// Refuses a signed-in patient who still has the practice's one-time password.
fn own_password_first(visit: Visit) -> Result<Visit, PortalError> {
    if visit.session.stage.allows(Step::SignedInPages) && visit.patient.must_change_password {
        return Err(PortalError::new(
            ErrorKind::MustChoosePassword,
            CHOOSE_PASSWORD_FIRST,
        ));
    }
    Ok(visit)
}

/// The signed-in patient, or 401; 403 until a one-time password is replaced. Pending sessions
/// are not signed in.
pub async fn signed_in(portal: &Portal) -> Result<Visit, PortalError> {
    own_password_first(signed_in_with_any_password(portal).await?)
}

/// The signed-in patient even with a one-time password: for choosing their own.
async fn signed_in_with_any_password(portal: &Portal) -> Result<Visit, PortalError> {
    visit(
        portal,
        |s| s.stage.allows(Step::SignedInPages),
        SIGN_IN_NEEDED,
    )
    .await
}

/// A session that may replace a one-time password: signed in, or waiting for its code (the
/// core says when a pending one may).
pub async fn choosing_password(portal: &Portal) -> Result<Visit, PortalError> {
    visit(
        portal,
        |s| s.stage.allows(Step::ChoosePassword),
        SIGN_IN_NEEDED,
    )
    .await
}

/// A session that may add a passkey: signed in, or a recovery session in place of a new phone.
pub async fn adding_passkey(portal: &Portal) -> Result<Visit, PortalError> {
    own_password_first(visit(portal, |s| s.stage.allows(Step::AddPasskey), SIGN_IN_NEEDED).await?)
}

/// Any session with its patient, pending or signed in, or 401 (403 for a signed-in patient who
/// must choose a password first).
pub async fn any_session(portal: &Portal) -> Result<Visit, PortalError> {
    own_password_first(visit(portal, |_| true, SIGN_IN_NEEDED).await?)
}

/// The session waiting for its code, or 401.
pub async fn pending(portal: &Portal) -> Result<Visit, PortalError> {
    visit(
        portal,
        |s| s.stage.allows(Step::CodeStep),
        "Your sign-in has expired. Please log in again.",
    )
    .await
}

/// Patient data must never sit in a shared or browser cache.
pub fn no_store() {
    if let Some(options) = use_context::<ResponseOptions>() {
        options.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

pub const STAFF_SIGN_IN_NEEDED: &str = "Please sign in as practice staff to continue.";

/// The staff session the staff cookie names, if it is live.
pub async fn staff_session(portal: &Portal) -> Result<Option<StaffSession>, PortalError> {
    staff_session_of(portal, parts().as_ref()).await
}

async fn staff_session_of(
    portal: &Portal,
    parts: Option<&Parts>,
) -> Result<Option<StaffSession>, PortalError> {
    let cookie = parts.and_then(|p| {
        let header = p.headers.get(header::COOKIE)?.to_str().ok()?;
        STAFF_SESSION.from_header(&portal.settings, header)
    });
    match cookie {
        Some(value) => Ok(staff_session::load(portal, &value)
            .await
            .or_internal("loading a staff session")?),
        None => Ok(None),
    }
}

/// The signed-in staff member, if their role allows `needed`: 401 without a staff session (a
/// patient's session is not one), 403 for a role that doesn't allow it.
pub async fn staff(portal: &Portal, needed: Role) -> Result<StaffVisit, PortalError> {
    staff_of(portal, parts().as_ref(), needed).await
}

/// The same check for a plain route, which is handed the request rather than served inside
/// Leptos's context.
pub async fn staff_of(
    portal: &Portal,
    parts: Option<&Parts>,
    needed: Role,
) -> Result<StaffVisit, PortalError> {
    let unauthorized = || PortalError::unauthorized(STAFF_SIGN_IN_NEEDED);
    let session = staff_session_of(portal, parts)
        .await?
        .ok_or_else(unauthorized)?;
    let member = portal_core::staff::accounts::active(portal, session.staff_id)
        .await
        .or_internal("loading a staff member")?
        .ok_or_else(unauthorized)?;
    if !member.role.allows(needed) {
        return Err(PortalError::new(
            ErrorKind::Forbidden,
            "Only the practice's administrators can do this.",
        ));
    }
    no_store();
    let caller = Caller {
        ip: client_ip(parts),
        request_id: request_id_in(parts),
        ..Caller::default()
    };
    Ok(StaffVisit {
        caller,
        session,
        member,
    })
}

pub fn set_staff_cookie(portal: &Portal, value: &str) {
    append_header(
        header::SET_COOKIE,
        &STAFF_SESSION.set(&portal.settings, value),
    );
}

pub fn clear_staff_cookie(portal: &Portal) {
    append_header(header::SET_COOKIE, &STAFF_SESSION.clear(&portal.settings));
}

/// The browser this request comes from, as the enrolment cookie names it, if it has one.
pub fn enrolment_browser(portal: &Portal) -> Option<String> {
    let parts = parts()?;
    let header = parts.headers.get(header::COOKIE)?.to_str().ok()?;
    ENROLMENT_BROWSER.from_header(&portal.settings, header)
}

/// Names this browser for the enrolment it has just opened.
pub fn set_enrolment_browser(portal: &Portal, value: &str) {
    append_header(
        header::SET_COOKIE,
        &ENROLMENT_BROWSER.set(&portal.settings, value),
    );
}
