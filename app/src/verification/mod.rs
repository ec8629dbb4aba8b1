//! The 2FA step: the `/verify` page and the `send_code`, `verify_code` and `code_step` server
//! functions. A session waiting here can send and check codes and nothing else.

#[cfg(feature = "ssr")]
pub mod challenge;
mod code_entry;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use serde::{Deserialize, Serialize};

pub use code_entry::{
    follow_sends, run_countdown, CodeEntry, ResendWait, SendCodeForm, SendProblem,
};

use crate::{
    error::{ErrorKind, PortalError},
    ui::{field_error, Field, StatusMessage},
};

/// Where the patient stands in the 2FA step, for the page to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorStep {
    /// The last digits of the number the code goes (or went) to.
    pub mobile_ending: Option<String>,
    /// The patient has no verified mobile yet and must give one (flow 2.2).
    pub needs_number: bool,
    /// The number on file, as the patient would write it, to pre-fill the field in flow 2.2.
    pub number_on_file: String,
    pub code_sent: bool,
    pub resend_in_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSent {
    pub mobile_ending: String,
    pub resend_in_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub mobile_ending: String,
}

#[server(prefix = "/api", endpoint = "code_step")]
pub async fn code_step() -> Result<TwoFactorStep, PortalError> {
    let portal = crate::request::portal()?;
    let (session, account) = crate::request::pending(&portal).await?;
    ssr::code_step(&portal, &session, &account).await
}

/// Sends a new code for the pending step. While signing in, `mobile` is the number to verify
/// for patients who have no verified number yet (without it the code goes to the number on
/// file). Once signed in, it resends the code for a new number saved with "Save & Get Code".
#[server(prefix = "/api", endpoint = "send_code")]
pub async fn send_code(#[server(default)] mobile: Option<String>) -> Result<CodeSent, PortalError> {
    let portal = crate::request::portal()?;
    let (session, account) = crate::request::any_session(&portal).await?;
    if session.stage.is_pending() {
        ssr::send_sign_in_code(&portal, &session, &account, mobile).await
    } else {
        crate::profile::ssr::resend_number_change(&portal, &account).await
    }
}

/// Checks the code for the pending step. While signing in, a match verifies the number and signs
/// the patient in; once signed in, it confirms the new number from "Save & Get Code".
#[server(prefix = "/api", endpoint = "verify_code")]
pub async fn verify_code(#[server(default)] code: String) -> Result<Verified, PortalError> {
    let portal = crate::request::portal()?;
    let (session, account) = crate::request::any_session(&portal).await?;
    if session.stage.is_pending() {
        let verified = ssr::verify_sign_in_code(&portal, &session, &account, &code).await?;
        leptos_axum::redirect("/");
        Ok(verified)
    } else {
        crate::profile::ssr::verify_number_change(&portal, &account, &code).await
    }
}

#[component]
pub fn VerifyPage() -> impl IntoView {
    let step = Resource::new_blocking(|| (), |_| code_step());
    view! {
        <Suspense fallback=|| view! { <p class="card">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match step.await {
                    Ok(step) => view! { <TwoFactorStepView step/> }.into_any(),
                    Err(e) if e.error == ErrorKind::Unauthorized => {
                        view! { <Redirect path="/login"/> }.into_any()
                    }
                    Err(e) => view! { <p class="card" role="alert">{e.message}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TwoFactorStepView(step: TwoFactorStep) -> impl IntoView {
    let send = ServerAction::<SendCode>::new();
    let mobile_ending = RwSignal::new(step.mobile_ending.clone());
    let code_sent = RwSignal::new(step.code_sent);
    let countdown = RwSignal::new(step.resend_in_seconds);
    run_countdown(countdown);
    follow_sends(
        move || send.value().get(),
        countdown,
        move |sent| {
            mobile_ending.set(Some(sent.mobile_ending));
            code_sent.set(true);
        },
    );

    let send_error = Signal::derive(move || send.value().get().and_then(Result::err));
    let needs_number = step.needs_number;
    // A send that failed but is being retried may still arrive.
    let still_trying = Signal::derive(move || {
        send_error
            .get()
            .is_some_and(|e| e.error == ErrorKind::Unavailable && e.retry_after_seconds.is_some())
    });
    let status = Signal::derive(move || {
        let ending = mobile_ending.get().unwrap_or_default();
        Some(if still_trying.get() {
            format!("We're still trying to text a code to your mobile ending {ending}. If it arrives, enter it below.")
        } else if code_sent.get() {
            format!("We sent a code to your mobile ending {ending}. It can take a few seconds to arrive.")
        } else if needs_number {
            "Enter the mobile number we should text your code to, then click Get Code.".to_string()
        } else {
            format!("Click Send Code and we'll text a code to your mobile ending {ending}.")
        })
    });
    let title = if needs_number {
        "Verify your mobile number"
    } else {
        "Check your phone"
    };
    let number_on_file = step.number_on_file;

    view! {
        <Title text=title/>
        <section class="card">
            <h1>{title}</h1>
            <p class="lead">
                "To keep your health records safe, we text a 6-digit code to your mobile each time you sign in."
            </p>
            <StatusMessage message=status/>
            <SendCodeForm
                send=send
                label=if needs_number { "Get Code" } else { "Send Code" }
                class=if step.code_sent { "secondary" } else { "primary" }
                countdown=countdown
            >
                {needs_number.then(|| view! {
                    <Field
                        name="mobile"
                        label="Mobile number"
                        kind="tel"
                        autocomplete="tel"
                        value=number_on_file.clone()
                        error=field_error(send_error, "mobile")
                    />
                })}
            </SendCodeForm>
            <Show when=move || code_sent.get() || still_trying.get() || !needs_number>
                <CodeEntry/>
            </Show>
        </section>
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use std::time::Duration;

    use super::{
        challenge::{self, Purpose},
        CodeSent, TwoFactorStep, Verified,
    };
    use crate::{
        error::{ErrorKind, OrInternal, PortalError},
        mobile::{self, Mobile},
        portal::Portal,
        request,
        session::{Session, Stage},
        sms::{limits, Delivery},
        store::AccountRow,
    };

    /// How long "Send Code" waits for the provider before answering anyway.
    const SEND_PATIENCE: Duration = Duration::from_secs(4);

    pub const SEND_FAILED: &str =
        "We couldn't send the text right now — try again in a moment, or contact support";

    /// The patient must (re)verify a number: none is verified yet.
    fn needs_number(session: &Session, account: &AccountRow) -> bool {
        session.stage == Stage::PasswordAccepted && account.mobile_verified_at.is_none()
    }

    pub async fn code_step(
        portal: &Portal,
        session: &Session,
        account: &AccountRow,
    ) -> Result<TwoFactorStep, PortalError> {
        let challenge = portal
            .store
            .challenge(account.id, "sign_in")
            .await
            .or_internal("reading the code step")?
            .filter(|c| c.expires_at > portal.now());
        let resend_in = challenge::cooldown_left(portal, account.id, Purpose::SignIn)
            .await
            .or_internal("reading the cooldown")?;
        let on_file = account.mobile.clone().unwrap_or_default();
        let ending_of = challenge
            .as_ref()
            .map(|c| c.mobile.as_str())
            .unwrap_or(&on_file);
        Ok(TwoFactorStep {
            mobile_ending: (!ending_of.is_empty()).then(|| mobile::ending(ending_of)),
            needs_number: needs_number(session, account),
            // The whole number only for a patient who must check it; otherwise just its ending.
            number_on_file: if needs_number(session, account) {
                mobile::for_display(&on_file, portal.settings.default_region)
            } else {
                String::new()
            },
            code_sent: challenge.is_some(),
            resend_in_seconds: resend_in as u64,
        })
    }

    /// Sends a code and makes the first delivery attempt before answering, so the patient hears
    /// at once if the text cannot go. The cooldown and the limits are checked before anything is
    /// sent. `verified_here`: the number is this account's verified mobile.
    pub async fn send_code_to(
        portal: &Portal,
        account_id: i64,
        purpose: Purpose,
        mobile: &Mobile,
        verified_here: bool,
    ) -> Result<CodeSent, PortalError> {
        let limits = limits::for_send(portal, account_id, mobile.e164(), verified_here);
        let issued = match challenge::create(portal, account_id, purpose, mobile, &limits).await {
            Ok(issued) => issued,
            Err(err) => {
                if matches!(err, challenge::ChallengeError::Limited { .. }) {
                    request::audit(
                        portal,
                        Some(account_id),
                        "code_sent",
                        "limited",
                        Some(err.to_string()),
                    )
                    .await;
                }
                return Err(err.into());
            }
        };
        let resend_in_seconds = issued.resend_in_seconds as u64;
        let code_mac = issued.code_mac;
        let delivery = portal
            .outbox
            .send_now(issued.sms, issued.give_up_at, SEND_PATIENCE)
            .await;
        let outcome = match &delivery {
            Delivery::Sent | Delivery::NotMine => "ok",
            Delivery::WillRetry(_) => "retrying",
            Delivery::Failed(_) => "failed",
        };
        request::audit(
            portal,
            Some(account_id),
            "code_sent",
            outcome,
            Some(format!("to mobile ending {}", mobile.ending())),
        )
        .await;
        match delivery {
            Delivery::Sent | Delivery::NotMine => Ok(CodeSent {
                mobile_ending: mobile.ending(),
                resend_in_seconds,
            }),
            // It may still arrive: the code stands, and so does the cooldown.
            Delivery::WillRetry(_) => Err(PortalError::too_many_requests(
                SEND_FAILED,
                resend_in_seconds,
            )
            .with_kind(ErrorKind::Unavailable)),
            // It never will: withdraw the code so the patient can ask again at once.
            Delivery::Failed(_) => {
                portal
                    .store
                    .withdraw_challenge(account_id, purpose.as_str(), &code_mac)
                    .await
                    .or_internal("withdrawing an unsent code")?;
                Err(PortalError::new(ErrorKind::Unavailable, SEND_FAILED))
            }
        }
    }

    pub async fn send_sign_in_code(
        portal: &Portal,
        session: &Session,
        account: &AccountRow,
        typed: Option<String>,
    ) -> Result<CodeSent, PortalError> {
        let settings = &portal.settings;
        let typed = typed.filter(|t| !t.trim().is_empty());
        let mobile = match typed {
            // A verified number can only be replaced from the Personal Information page, once
            // signed in: the password alone must never be enough to redirect the codes.
            Some(_) if !needs_number(session, account) && session.stage != Stage::Registered => {
                return Err(PortalError::field(
                    "mobile",
                    "For your security, codes go to the mobile number you verified before.",
                ))
            }
            Some(typed) => {
                Mobile::parse(&typed, settings.default_region, &settings.allowed_regions)
            }
            None => Mobile::from_stored(
                account.mobile.as_deref().unwrap_or_default(),
                settings.default_region,
                &settings.allowed_regions,
            ),
        }
        .map_err(|problem| PortalError::field("mobile", problem.to_string()))?;
        let verified_here = account.mobile_verified_at.is_some()
            && account.mobile.as_deref() == Some(mobile.e164());
        send_code_to(portal, account.id, Purpose::SignIn, &mobile, verified_here).await
    }

    pub async fn verify_sign_in_code(
        portal: &Portal,
        session: &Session,
        account: &AccountRow,
        code: &str,
    ) -> Result<Verified, PortalError> {
        match challenge::verify(portal, account.id, Purpose::SignIn, code).await {
            Ok(number) => {
                request::step_up(portal, account.id, Stage::SignedIn, Some(session)).await?;
                request::audit(portal, Some(account.id), "code_verified", "ok", None).await;
                request::audit(portal, Some(account.id), "signed_in", "ok", None).await;
                Ok(Verified {
                    mobile_ending: mobile::ending(&number),
                })
            }
            Err(err) => {
                request::audit(
                    portal,
                    Some(account.id),
                    "code_verified",
                    "refused",
                    Some(err.to_string()),
                )
                .await;
                Err(err.into())
            }
        }
    }
}
