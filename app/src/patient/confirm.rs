//! "Confirm it's you" (`/confirm`): recent proof before a change to how the account signs in or
//! hears from the practice (the mobile number, the email address, passkeys). A session proves it
//! with a code to the verified number or a passkey, within the practice's "Recent proof
//! (minutes)". A session begun by a remembered device, or by a password while two-factor
//! authentication is off, has proved nothing yet. An account with neither a verified number nor
//! a passkey has nothing else to prove it with, so its password typed again stands for its first
//! factor; the change that follows is audited and told like any other. Plain forms, answered
//! with a page, so it works the same with scripts off.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    passkeys::PasskeyButton,
    patient::recovery::ConfirmWithRecoveryCode,
    ui::{
        enhance::PageContext, plain_forms::refused_error, CouldNotLoad, FormMessage, StatusMessage,
    },
};

/// What a proof is for, and where the patient goes once it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofFor {
    /// A new mobile number.
    Number,
    Email,
    /// Passkeys, on "Sign-in and security".
    Security,
    /// A new recovery code, on "Sign-in and security".
    RecoveryCode,
    /// Acting for someone the patient cares for.
    Caring,
    /// "Invite a caregiver", on "Sign-in and security".
    Caregivers,
}

impl ProofFor {
    pub fn parse(text: &str) -> Self {
        match text {
            "number" => ProofFor::Number,
            "email" => ProofFor::Email,
            "recovery_code" => ProofFor::RecoveryCode,
            "caring" => ProofFor::Caring,
            "caregivers" => ProofFor::Caregivers,
            _ => ProofFor::Security,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProofFor::Number => "number",
            ProofFor::Email => "email",
            ProofFor::Security => "security",
            ProofFor::RecoveryCode => "recovery_code",
            ProofFor::Caring => "caring",
            ProofFor::Caregivers => "caregivers",
        }
    }

    /// The page the patient goes on to.
    pub fn then(self) -> &'static str {
        match self {
            ProofFor::Number => "/profile/mobile?new",
            ProofFor::Email => "/profile?confirmed",
            ProofFor::Security => "/security?confirmed",
            ProofFor::RecoveryCode => "/security?confirmed#recovery-code",
            ProofFor::Caring => "/caring",
            ProofFor::Caregivers => "/security?confirmed#caregivers",
        }
    }

    /// This page, for this purpose.
    pub fn page(self) -> String {
        format!("/confirm?for={}", self.as_str())
    }

    fn what(self) -> &'static str {
        match self {
            ProofFor::Number => "change your mobile number",
            ProofFor::Email => "change your email address",
            ProofFor::Security => "add or remove a passkey",
            ProofFor::RecoveryCode => "make a recovery code",
            ProofFor::Caring => "act for someone you care for",
            ProofFor::Caregivers => "invite a caregiver",
        }
    }
}

/// What this account can prove it's them with, now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofWays {
    /// Proved recently enough already.
    pub proved: bool,
    /// The verified number's last digits, for a code.
    pub mobile_ending: Option<String>,
    /// A code to confirm it's them is waiting.
    pub code_sent: bool,
    /// A passkey of theirs can be used here.
    pub passkey: bool,
    /// Neither a verified number nor a passkey: the password stands in.
    pub password: bool,
    /// A saved recovery code can be used here (and is replaced once used).
    pub recovery_code: bool,
    pub minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmed {}

#[server(prefix = "/api", endpoint = "confirm_ways")]
pub async fn confirm_ways() -> Result<ProofWays, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    Ok(portal_core::confirm::ways(&portal, &visit).await?.into())
}

/// Texts a code to the verified number, to confirm it's the patient.
#[server(prefix = "/api", endpoint = "confirm_send_code")]
pub async fn send_confirm_code(#[server(default)] then: String) -> Result<Confirmed, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    portal_core::confirm::send(&portal, &visit).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect(&format!("{}&sent", ProofFor::parse(&then).page()));
    }
    Ok(Confirmed {})
}

/// Checks the code: a match proves the session for the practice's minutes.
#[server(prefix = "/api", endpoint = "confirm_code")]
pub async fn confirm_code(
    #[server(default)] code: String,
    #[server(default)] then: String,
) -> Result<Confirmed, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    portal_core::confirm::verify(&portal, &visit, &code).await?;
    onward(&then);
    Ok(Confirmed {})
}

/// The password again, for an account with no verified number and no passkey.
#[server(prefix = "/api", endpoint = "confirm_password")]
pub async fn confirm_password(
    #[server(default)] password: String,
    #[server(default)] then: String,
) -> Result<Confirmed, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    portal_core::confirm::password(&portal, &visit, &password).await?;
    onward(&then);
    Ok(Confirmed {})
}

#[cfg(feature = "ssr")]
fn onward(then: &str) {
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect(ProofFor::parse(then).then());
    }
}

#[component]
pub fn ConfirmPage() -> impl IntoView {
    let ways = Resource::new(|| (), |_| confirm_ways());
    let query = use_query_map();
    let purpose = ProofFor::parse(&query.read_untracked().get("for").unwrap_or_default());
    let sent = query.read_untracked().get("sent").is_some();
    // A recovery code just used in a plain post: its replacement, shown once, then onward.
    let handed = StoredValue::new(crate::patient::recovery::handed_over());
    view! {
        <Title text="Confirm it's you"/>
        <section class="card">
            <h1>"Confirm it's you"</h1>
            // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
            {move || Suspend::new(async move {
                match (ways.await, handed.get_value()) {
                    (Ok(_), Some(new_code)) => {
                        view! {
                            <p>"Thank you: that's you. Your recovery code is now used up, so here is a new one in its place."</p>
                            <crate::patient::recovery::HandedOverCode new_code done_href=purpose.then().to_string() page=PageContext::here()/>
                        }
                            .into_any()
                    }
                    (Ok(ways), None) => view! { <Ways ways purpose sent/> }.into_any(),
                    (Err(error), _) => view! { <CouldNotLoad error sign_in="/login"/> }.into_any(),
                }
            })}
        </section>
    }
}

#[component]
fn Ways(ways: ProofWays, purpose: ProofFor, sent: bool) -> impl IntoView {
    let error = refused_error(&[
        "/api/confirm_send_code",
        "/api/confirm_code",
        "/api/confirm_password",
    ]);
    let code_error = error.as_ref().and_then(|e| e.field_message("code"));
    let password_error = error.as_ref().and_then(|e| e.field_message("password"));
    let general = error.filter(|e| e.fields.is_empty());
    let sent_notice = (sent && general.is_none())
        .then(|| "We texted you a code. It can take a few seconds to arrive.".to_string());
    if ways.proved {
        return view! {
            <p>{format!("You've confirmed it's you. For the next {} minutes you can {}.", ways.minutes, purpose.what())}</p>
            <p><a class="button primary" href=purpose.then()>"Continue"</a></p>
        }
        .into_any();
    }
    let then = purpose.as_str();
    let code = ways.mobile_ending.map(|ending| {
        let code_sent = ways.code_sent;
        view! {
            <div class="confirm-its-you">
            <p>{format!("To {}, first confirm it's you with a code we text to your mobile ending {ending}.", purpose.what())}</p>
            <form method="post" action="/api/confirm_send_code" class="button-form" data-whole-page="">
                <input type="hidden" name="then" value=then/>
                <button type="submit" class=if code_sent { "button secondary" } else { "button primary" }>"Send Code"</button>
            </form>
            {code_sent.then(|| view! {
                <form method="post" action="/api/confirm_code" class="form" data-whole-page="" novalidate>
                    <input type="hidden" name="then" value=then/>
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
    });
    let passkey = ways.passkey.then(|| {
        view! {
            <div class="or-passkey" data-then=purpose.then()>
                <PasskeyButton action="confirm" label="Use a passkey instead"/>
            </div>
        }
    });
    let password = ways.password.then(|| {
        view! {
            <p>{format!("To {}, first type your password again.", purpose.what())}</p>
            <form method="post" action="/api/confirm_password" class="form" data-whole-page="" novalidate>
                <input type="hidden" name="then" value=then/>
                <div class="field" class:invalid=password_error.is_some()>
                    <label for="confirm-password">"Password"</label>
                    <input
                        id="confirm-password"
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        aria-invalid=password_error.is_some().to_string()
                        aria-describedby="confirm-password-error"
                    />
                    <p class="field-error" id="confirm-password-error">{password_error.clone()}</p>
                </div>
                <button type="submit" class="button primary">"Confirm"</button>
            </form>
        }
    });
    let recovery_code = ways.recovery_code.then(|| {
        view! {
            <h2>"Use a recovery code"</h2>
            <ConfirmWithRecoveryCode purpose page=PageContext::here()/>
        }
    });
    view! {
        <FormMessage error=Signal::derive(move || general.clone())/>
        <StatusMessage message=Signal::derive(move || sent_notice.clone())/>
        {code}
        {passkey}
        {password}
        {recovery_code}
        <p class="aside"><a href="/">"Not now"</a></p>
    }
    .into_any()
}

/// Where a change that needs recent proof sends a patient who hasn't given it.
#[component]
pub fn ConfirmFirst(purpose: ProofFor) -> impl IntoView {
    view! {
        <div class="confirm-first">
            <p>{format!("For your security, please confirm it's you before you {}.", purpose.what())}</p>
            <a class="button primary" href=purpose.page()>"Confirm it's you"</a>
        </div>
    }
}
