//! The 2FA step: the `/verify` page and its `code_step` server function. A session waiting here
//! can send and check codes (`one_time_code`) and nothing else.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::{
    error::{ErrorKind, PortalError},
    one_time_code::{follow_sends, run_countdown, CodeEntry, SendCode, SendCodeForm},
    passkeys::PasskeyButton,
    practice::SupportContact,
    ui::{enhance::PageContext, field_error, CouldNotLoad, Field, StatusMessage},
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
    /// Only the practice can set this patient's number up: the page shows its contact.
    pub support_needed: bool,
    /// For how many days a patient may skip the code on this device (0: not offered).
    pub remember_days: i64,
    /// The patient has a passkey, which may take the code's place.
    pub has_passkey: bool,
}

#[server(prefix = "/api", endpoint = "code_step")]
pub async fn code_step() -> Result<TwoFactorStep, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::pending(&portal).await?;
    let step = portal_core::login::code::code_step(&portal, &visit.session, &visit.patient);
    Ok(step.await?.into())
}

#[component]
pub fn VerifyPage() -> impl IntoView {
    let step = Resource::new_blocking(|| (), |_| code_step());
    view! {
        // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
        {move || Suspend::new(async move {
            match step.await {
                Ok(step) if step.support_needed => view! { <SupportNeeded/> }.into_any(),
                Ok(step) => {
                    // The title stays outside the island: the head belongs to the page.
                    let title = step_title(step.needs_number);
                    view! {
                        <Title text=title/>
                        <TwoFactorStepView step page=PageContext::here()/>
                    }
                        .into_any()
                }
                Err(error) => view! { <CouldNotLoad error sign_in="/login"/> }.into_any(),
            }
        })}
    }
}

/// For a patient whose number only the practice can set up: a lost phone after a number was
/// verified, or a practice that sets first numbers up itself.
#[component]
fn SupportNeeded() -> impl IntoView {
    view! {
        <Title text="Contact the practice"/>
        <section class="card">
            <h1>"Contact the practice"</h1>
            <p class="lead">
                "For your security, the practice needs to set up the mobile number we text your sign-in codes to. Please contact support, and they'll help you sign in."
            </p>
            <p class="support-line">"Support: " <SupportContact/></p>
            <p class="aside"><a href="/login">"Back to the login page"</a></p>
        </section>
    }
}

fn step_title(needs_number: bool) -> &'static str {
    if needs_number {
        "Verify your mobile number"
    } else {
        "Check your phone"
    }
}

/// The step itself wakes in the browser: the send form, the countdown and the code entry.
#[island(lazy)]
fn TwoFactorStepView(step: TwoFactorStep, page: PageContext) -> impl IntoView {
    crate::ui::enhance::awake("TwoFactorStepView");
    page.provide();
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
    let title = step_title(needs_number);
    let number_on_file = step.number_on_file;

    view! {
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
                <CodeEntry remember_days=step.remember_days/>
            </Show>
            {step.has_passkey.then(|| view! {
                <div class="or-passkey">
                    <PasskeyButton action="sign-in" label="Use a passkey instead"/>
                </div>
            })}
        </section>
    }
}
