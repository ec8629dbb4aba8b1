//! What a server function knows about the request it serves: the portal, the client's address,
//! the session cookie, and the account behind it. The one place that reads Leptos's context.

use std::net::IpAddr;

use http::{header, request::Parts, HeaderValue};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use crate::{
    error::{OrInternal, PortalError},
    portal::Portal,
    session::{self, Session, Stage},
    store::{AccountRow, AuditEvent},
};

/// The client's address as the server worked it out (behind a trusted proxy, the forwarded one).
/// Put into each request's extensions by the server.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

pub fn portal() -> Result<Portal, PortalError> {
    use_context::<Portal>().ok_or_else(|| {
        tracing::error!("the Portal was not provided to the server function");
        PortalError::internal()
    })
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

pub fn client_ip() -> String {
    parts()
        .and_then(|p| p.extensions.get::<ClientIp>().copied())
        .map(|ip| ip.0.to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn append_header(name: header::HeaderName, value: &str) {
    if let (Some(options), Ok(value)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(value),
    ) {
        options.append_header(name, value);
    }
}

/// The session this request belongs to, if any.
pub async fn session(portal: &Portal) -> Result<Option<Session>, PortalError> {
    let cookie = parts().and_then(|p| {
        let header = p.headers.get(header::COOKIE)?.to_str().ok()?.to_string();
        session::from_cookie_header(&portal.settings, &header)
    });
    match cookie {
        Some(value) => session::load(portal, &value)
            .await
            .or_internal("loading the session"),
        None => Ok(None),
    }
}

/// Moves the browser to a new session at `stage`, retiring `previous`.
pub async fn step_up(
    portal: &Portal,
    account_id: i64,
    stage: Stage,
    previous: Option<&Session>,
) -> Result<(), PortalError> {
    let value = session::begin(portal, account_id, stage, previous)
        .await
        .or_internal("starting a session")?;
    append_header(
        header::SET_COOKIE,
        &session::set_cookie(&portal.settings, &value),
    );
    Ok(())
}

/// Ends the session on the server and in the browser.
pub async fn end_session(portal: &Portal, session: &Session) -> Result<(), PortalError> {
    session::end(portal, session)
        .await
        .or_internal("ending the session")?;
    append_header(header::SET_COOKIE, &session::clear_cookie(&portal.settings));
    Ok(())
}

pub const SIGN_IN_NEEDED: &str = "Please log in to continue.";

async fn account_for(portal: &Portal, session: &Session) -> Result<AccountRow, PortalError> {
    portal
        .store
        .account(session.account_id)
        .await
        .or_internal("loading the account")?
        .ok_or_else(|| PortalError::unauthorized(SIGN_IN_NEEDED))
}

/// The signed-in patient, or 401. Pending sessions are not signed in.
pub async fn signed_in(portal: &Portal) -> Result<(Session, AccountRow), PortalError> {
    match session(portal).await? {
        Some(session) if session.stage == Stage::SignedIn => {
            let account = account_for(portal, &session).await?;
            no_store();
            Ok((session, account))
        }
        _ => Err(PortalError::unauthorized(SIGN_IN_NEEDED)),
    }
}

/// Any session with its account, pending or signed in, or 401.
pub async fn any_session(portal: &Portal) -> Result<(Session, AccountRow), PortalError> {
    match session(portal).await? {
        Some(session) => {
            let account = account_for(portal, &session).await?;
            if !session.stage.is_pending() {
                no_store();
            }
            Ok((session, account))
        }
        None => Err(PortalError::unauthorized(SIGN_IN_NEEDED)),
    }
}

/// The session waiting for its code, or 401.
pub async fn pending(portal: &Portal) -> Result<(Session, AccountRow), PortalError> {
    match session(portal).await? {
        Some(session) if session.stage.is_pending() => {
            let account = account_for(portal, &session).await?;
            Ok((session, account))
        }
        _ => Err(PortalError::unauthorized(
            "Your sign-in has expired. Please log in again.",
        )),
    }
}

/// Patient data must never sit in a shared or browser cache.
pub fn no_store() {
    if let Some(options) = use_context::<ResponseOptions>() {
        options.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Records an event in the audit trail. A failure to record is logged, and does not undo what
/// the patient did.
pub async fn audit(
    portal: &Portal,
    account_id: Option<i64>,
    event: &str,
    outcome: &str,
    detail: Option<String>,
) {
    let row = AuditEvent {
        at: portal.now(),
        account_id,
        ip: client_ip(),
        event: event.to_string(),
        outcome: outcome.to_string(),
        detail,
    };
    if let Err(err) = portal.store.record_audit(&row).await {
        tracing::error!(%err, event, "could not write the audit trail");
    }
}
