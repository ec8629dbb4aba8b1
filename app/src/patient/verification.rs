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
    /// After support's reset: the patient chooses their own password before a new number.
    pub choose_password_first: bool,
    /// A recovery session: a new phone to set up ("Save & Get Code").
    pub new_phone: bool,
    /// For how many days a patient may skip the code on this device (0: not offered).
    pub remember_days: i64,
    /// The patient has a passkey, which may take the code's place.
    pub has_passkey: bool,
    /// A recovery session may add a passkey in place of the new phone.
    pub may_add_passkey: bool,
    /// Every text provider is down: a code waits until one comes back.
    pub texts_delayed: bool,
    /// After a password, with a verified number: "Can't get a code?" leads to the other ways in.
    pub cant_get_a_code: bool,
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
    // A recovery code just used in a plain post: its replacement is shown first, once.
    let handed = StoredValue::new(crate::patient::recovery::handed_over());
    view! {
        // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
        {move || Suspend::new(async move {
            match (step.await, handed.get_value()) {
                (Ok(step), _) if step.support_needed => view! { <SupportNeeded/> }.into_any(),
                (Ok(step), Some(new_code)) if step.new_phone => {
                    view! {
                        <Title text="Save your new recovery code"/>
                        <section class="card">
                            <h1>"Save your new recovery code"</h1>
                            <p class="lead">"Your recovery code was right. It's now used up, so here is a new one in its place. Save it, then set up your new phone."</p>
                            <crate::patient::recovery::HandedOverCode new_code done_href="/verify".to_string() page=PageContext::here()/>
                        </section>
                    }
                        .into_any()
                }
                (Ok(step), _) if step.choose_password_first => {
                    view! { <crate::patient::existing_patients::ChoosePasswordPage/> }.into_any()
                }
                (Ok(step), _) => {
                    // The title stays outside the island: the head belongs to the page.
                    let title = step_title(&step);
                    view! {
                        <Title text=title/>
                        <TwoFactorStepView step page=PageContext::here()/>
                    }
                        .into_any()
                }
                (Err(error), _) => view! { <CouldNotLoad error sign_in="/login"/> }.into_any(),
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

fn step_title(step: &TwoFactorStep) -> &'static str {
    match (step.new_phone, step.needs_number) {
        (true, _) => "Set up your new phone",
        (false, true) => "Verify your mobile number",
        (false, false) => "Check your phone",
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
    let new_phone = step.new_phone;
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
        } else if new_phone {
            "Enter the number of your new mobile phone, then click Save & Get Code.".to_string()
        } else if needs_number {
            "Enter the mobile number we should text your code to, then click Get Code.".to_string()
        } else {
            format!("Click Send Code and we'll text a code to your mobile ending {ending}.")
        })
    });
    let title = step_title(&step);
    let number_on_file = step.number_on_file;

    view! {
        <section class="card">
            <h1>{title}</h1>
            <p class="lead">
                {if new_phone {
                    "Your recovery code was right. Now we text a 6-digit code to your new phone, to make sure it's yours. Until then, you can't do anything else here."
                } else {
                    "To keep your health records safe, we text a 6-digit code to your mobile each time you sign in."
                }}
            </p>
            {step.texts_delayed.then(|| view! {
                <div class="warning" role="note">
                    <strong>"Text messages are delayed right now."</strong>
                    " Your code will be sent as soon as they're working again, while it's still valid."
                    {match (step.has_passkey, step.cant_get_a_code) {
                        (true, _) => " You can use a passkey instead.",
                        (false, true) => " If you can't wait, see \"Can't get a code?\" below.",
                        (false, false) => "",
                    }}
                </div>
            })}
            <StatusMessage message=status/>
            <SendCodeForm
                send=send
                label=match (new_phone, needs_number) {
                    (true, _) => "Save & Get Code",
                    (false, true) => "Get Code",
                    (false, false) => "Send Code",
                }
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
            {step.may_add_passkey.then(|| view! {
                <div class="or-passkey">
                    <h2>"Or add a passkey instead"</h2>
                    <p class="hint">"A passkey signs you in with this device's fingerprint, face or screen lock, with no text message."</p>
                    <PasskeyButton action="recovery-add" label="Add a passkey"/>
                </div>
            })}
            {step.cant_get_a_code.then(|| view! {
                <p class="aside"><a href="/cant-get-a-code">"Can't get a code?"</a></p>
            })}
        </section>
    }
}
