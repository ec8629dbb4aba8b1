//! One-time codes: the `send_code` and `verify_code` server functions that serve sign-in and a
//! new number alike, and the code entry and send form that the 2FA page and the mobile number
//! dialog share. The rules, the limits on texts, sending, and what a code does while signing in
//! and for a new number are the core's (`portal_core::one_time_code`).

mod entry;

#[cfg(feature = "ssr")]
pub use portal_core::one_time_code::{challenge, new_number, sending};

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use entry::{follow_sends, run_countdown, CodeEntry, ResendWait, SendCodeForm, SendProblem};

use crate::error::PortalError;

/// Where a form posted without scripts lands once a new number is verified: the number's own
/// page, which says so.
pub const NUMBER_VERIFIED_PAGE: &str = "/profile/mobile?verified";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSent {
    pub mobile_ending: String,
    pub resend_in_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub mobile_ending: String,
}

/// Sends a new code. While signing in it goes to the verified number; `mobile` is the number a
/// patient without one gives (flow 2.2). Once signed in, it goes to the pending new number.
#[server(prefix = "/api", endpoint = "send_code")]
pub async fn send_code(#[server(default)] mobile: Option<String>) -> Result<CodeSent, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::any_session(&portal).await?;
    let (caller, session, patient) = (&visit.caller, &visit.session, &visit.patient);
    if session.stage.allows(portal_core::sign_in::Step::CodeStep) {
        Ok(
            portal_core::login::code::send(&portal, caller, session, patient, mobile)
                .await?
                .into(),
        )
    } else {
        Ok(new_number::resend(&portal, caller, session, patient)
            .await?
            .into())
    }
}

/// Checks a code. While signing in, a match signs the patient in, and `remember_device` (a
/// checkbox) asks not to be asked for a code on this browser for the practice's number of days;
/// once signed in, a code proves the pending new number.
#[server(prefix = "/api", endpoint = "verify_code")]
pub async fn verify_code(
    #[server(default)] code: String,
    #[server(default)] remember_device: Option<String>,
) -> Result<Verified, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::any_session(&portal).await?;
    let (caller, session, patient) = (&visit.caller, &visit.session, &visit.patient);
    if session.stage.allows(portal_core::sign_in::Step::CodeStep) {
        let (verified, signed_in) =
            portal_core::login::code::verify(&portal, caller, session, patient, &code).await?;
        crate::request::set_session_cookie(&portal, &signed_in);
        if remember_device.is_some_and(|ticked| !ticked.is_empty() && ticked != "off") {
            use portal_core::error::OrInternal;
            let remembered = crate::devices::remember(&portal, caller, patient.id)
                .await
                .or_internal("remembering a device")?;
            if let Some(remembered) = remembered {
                crate::request::set_device_cookie(&portal, &remembered.token, remembered.kept_for);
            }
        }
        leptos_axum::redirect("/");
        Ok(verified.into())
    } else {
        let verified = new_number::verify(&portal, caller, session, patient, &code).await?;
        // Without scripts, the number page says it is done.
        if crate::request::is_plain_form_post() {
            leptos_axum::redirect(NUMBER_VERIFIED_PAGE);
        }
        Ok(verified.into())
    }
}
