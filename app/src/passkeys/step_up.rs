//! "Confirm it's you": a signed-in patient whose last code or passkey was more than 10 minutes
//! ago gets a code texted to their verified number before adding or removing a passkey. Plain
//! forms, answered with the security page.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{error::PortalError, ui::FormMessage};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmed {}

/// Texts a code to the verified number, to confirm it's the patient.
#[server(prefix = "/api", endpoint = "confirm_send_code")]
pub async fn send_confirm_code() -> Result<Confirmed, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    ssr::send(&portal, &visit).await?;
    super::back_to_security("confirm-code-sent");
    Ok(Confirmed {})
}

/// Checks the code: a match proves the session for the next 10 minutes.
#[server(prefix = "/api", endpoint = "confirm_code")]
pub async fn confirm_code(#[server(default)] code: String) -> Result<Confirmed, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    ssr::verify(&portal, &visit, &code).await?;
    super::back_to_security("confirmed");
    Ok(Confirmed {})
}

/// The two small forms: "Send Code", then "Verification code" and "Verify".
#[component]
pub fn ConfirmItsYou(
    /// The verified number's last digits.
    mobile_ending: String,
    /// A code was sent and is waiting.
    code_sent: bool,
) -> impl IntoView {
    let error =
        crate::ui::plain_forms::refused_error(&["/api/confirm_send_code", "/api/confirm_code"]);
    let code_error = error.as_ref().and_then(|e| e.field_message("code"));
    let general = error.filter(|e| e.fields.is_empty());
    view! {
        <div class="confirm-its-you">
            <p>
                {format!("To add or remove a passkey, first confirm it's you with a code we text to your mobile ending {mobile_ending}.")}
            </p>
            <FormMessage error=Signal::derive(move || general.clone())/>
            <form method="post" action="/api/confirm_send_code" class="button-form" data-whole-page="">
                <button type="submit" class=if code_sent { "button secondary" } else { "button primary" }>"Send Code"</button>
            </form>
            {code_sent.then(|| view! {
                <form method="post" action="/api/confirm_code" class="form" data-whole-page="" novalidate>
                    <div class="field" class:invalid=code_error.is_some()>
                        <label for="confirm-code">"Verification code"</label>
                        <p class="hint" id="confirm-code-hint">"The 6-digit code from the text message."</p>
                        <input
                            id="confirm-code"
                            name="code"
                            autocomplete="one-time-code"
                            inputmode="numeric"
                            aria-invalid=code_error.is_some().to_string()
                            aria-describedby="confirm-code-hint confirm-code-error"
                        />
                        <p class="field-error" id="confirm-code-error">{code_error.clone()}</p>
                    </div>
                    <button type="submit" class="button primary">"Verify"</button>
                </form>
            })}
        </div>
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::{
        audit::{self, Entry, Event, Outcome},
        error::{OrInternal, PortalError},
        mobile::Mobile,
        one_time_code::{
            challenge::{self, Purpose},
            limits::Recipient,
            sending::send_code_to,
        },
        portal::Portal,
        request::Visit,
    };

    fn verified_number(portal: &Portal, visit: &Visit) -> Result<Mobile, PortalError> {
        let settings = &portal.settings;
        visit
            .patient
            .mobile
            .verified()
            .and_then(|m| Mobile::parse(m, settings.default_region, &settings.allowed_regions).ok())
            .ok_or_else(|| {
                PortalError::new(
                    crate::error::ErrorKind::Forbidden,
                    "Your account has no verified mobile number to text a code to. Please contact the practice.",
                )
            })
    }

    pub async fn send(portal: &Portal, visit: &Visit) -> Result<(), PortalError> {
        let mobile = verified_number(portal, visit)?;
        send_code_to(
            portal,
            &visit.caller,
            &visit.session,
            Purpose::StepUp,
            &mobile,
            Recipient::VerifiedSignIn,
        )
        .await?;
        Ok(())
    }

    pub async fn verify(portal: &Portal, visit: &Visit, code: &str) -> Result<(), PortalError> {
        verified_number(portal, visit)?;
        let outcome = challenge::verify(portal, &visit.session, Purpose::StepUp, code).await;
        let entry = Entry::new(
            Event::CodeVerified,
            if outcome.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Refused
            },
        )
        .account(visit.patient.id)
        .detail("confirming it's them");
        audit::record(portal, &visit.caller, entry).await;
        outcome.map(|_| ()).map_err(PortalError::from)
    }

    /// Whether a code to confirm it's the patient is waiting in this session.
    pub async fn code_waiting(portal: &Portal, visit: &Visit) -> Result<bool, PortalError> {
        Ok(challenge::live(portal, &visit.session, Purpose::StepUp)
            .await
            .or_internal("reading the code step")?
            .is_some())
    }
}
