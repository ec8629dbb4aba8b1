//! Code entry, shared by the 2FA page and the mobile number dialog: the "Verification code" field
//! with "Verify", and the resend countdown.

use leptos::{form::ActionForm, prelude::*};

use super::{CodeSent, SendCode, Verified, VerifyCode};
use crate::{
    error::{ErrorKind, PortalError},
    practice::SupportContact,
    ui::{use_hydrated, Field, FormMessage, SubmitButton},
};

/// Counts `seconds` down to zero, one second at a time, in the browser.
pub fn run_countdown(seconds: RwSignal<u64>) {
    Effect::new(
        move |previous: Option<Option<gloo_timers::callback::Timeout>>| {
            // Replacing the pending tick (when the count is reset) cancels it.
            drop(previous);
            (seconds.get() > 0).then(|| {
                gloo_timers::callback::Timeout::new(1_000, move || {
                    seconds.update(|s| *s = s.saturating_sub(1));
                })
            })
        },
    );
}

/// "You can ask for a new code in 25 seconds", while the cooldown runs.
#[component]
pub fn ResendWait(id: &'static str, seconds: RwSignal<u64>) -> impl IntoView {
    view! {
        <p class="hint countdown" id=id>
            {move || match seconds.get() {
                0 => String::new(),
                1 => "You can ask for a new code in 1 second.".to_string(),
                s => format!("You can ask for a new code in {s} seconds."),
            }}
        </p>
    }
}

/// The "Verification code" field and "Verify" button. `on_verified` runs once the code matches.
#[component]
pub fn CodeEntry(
    /// Runs once the code matches (the 2FA page instead follows the server's redirect).
    #[prop(optional, into)]
    on_verified: Option<Callback<Verified>>,
    /// ID prefix, so the field's IDs stay unique if two entries ever share a page.
    #[prop(default = "")]
    scope: &'static str,
    /// While signing in: for how many days the patient may ask not to be asked for a code on
    /// this device (0: the practice doesn't offer it).
    #[prop(default = 0)]
    remember_days: i64,
) -> impl IntoView {
    let verify = ServerAction::<VerifyCode>::new();
    let error = Signal::derive(move || verify.value().get().and_then(Result::err));
    let code_error = Signal::derive(move || {
        error
            .get()
            .map(|e: PortalError| e.field_message("code").unwrap_or(e.message))
    });
    Effect::new(move |_| {
        if let (Some(Ok(verified)), Some(on_verified)) = (verify.value().get(), on_verified) {
            on_verified.run(verified);
        }
    });
    Effect::new(move |_| fill_from_sms(format!("{scope}code")));
    view! {
        <ActionForm action=verify attr:novalidate=true attr:class="form code-entry">
            <Field
                name="code"
                scope=scope
                label="Verification code"
                autocomplete="one-time-code"
                inputmode="numeric"
                hint="The 6-digit code from the text message."
                error=code_error
            />
            {(remember_days > 0).then(|| view! { <RememberDevice days=remember_days/> })}
            <SubmitButton label="Verify" pending=verify.pending()/>
        </ActionForm>
    }
}

/// "Don't ask for a code on this device for 30 days": a checkbox, unticked until the patient
/// chooses it, as a shared computer must never be remembered by accident.
#[component]
fn RememberDevice(days: i64) -> impl IntoView {
    let label = match days {
        1 => "Don't ask for a code on this device for 1 day".to_string(),
        days => format!("Don't ask for a code on this device for {days} days"),
    };
    view! {
        <div class="field checkbox">
            <input id="remember_device" name="remember_device" type="checkbox" value="on" aria-describedby="remember_device-hint"/>
            <label for="remember_device">{label}</label>
            <p class="hint" id="remember_device-hint">
                "Your password is still needed. Only tick this on your own phone or computer."
            </p>
        </div>
    }
}

/// Keeps `countdown` in step with a sending action: the cooldown after a send, or the wait a
/// refusal names. `on_sent` runs after each successful send.
pub fn follow_sends(
    value: impl Fn() -> Option<Result<CodeSent, PortalError>> + 'static,
    countdown: RwSignal<u64>,
    on_sent: impl Fn(CodeSent) + 'static,
) {
    Effect::new(move |_| match value() {
        Some(Ok(sent)) => {
            countdown.set(sent.resend_in_seconds);
            on_sent(sent);
        }
        Some(Err(PortalError {
            retry_after_seconds: Some(wait),
            ..
        })) => countdown.set(wait),
        _ => {}
    });
}

/// What went wrong with a send, beside the button; when the text could not go, with the
/// practice's support contact.
#[component]
pub fn SendProblem(#[prop(into)] error: Signal<Option<PortalError>>) -> impl IntoView {
    let general = Signal::derive(move || error.get().filter(|e| e.fields.is_empty()));
    let unavailable = move || {
        general
            .get()
            .is_some_and(|e| e.error == ErrorKind::Unavailable)
    };
    view! {
        <FormMessage error=general/>
        <Show when=unavailable>
            <p class="support-line">"Support: " <SupportContact/></p>
        </Show>
    }
}

/// "Send Code" (or "Get Code") with its cooldown countdown. Fields inside (the number to
/// verify) are sent along.
#[component]
pub fn SendCodeForm(
    send: ServerAction<SendCode>,
    label: &'static str,
    countdown: RwSignal<u64>,
    #[prop(default = "primary")] class: &'static str,
    #[prop(default = "resend-wait")] wait_id: &'static str,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let error = Signal::derive(move || send.value().get().and_then(Result::err));
    // In the plain page nothing would count down and enable it again: the server says when.
    let hydrated = use_hydrated();
    view! {
        <ActionForm action=send attr:novalidate=true attr:class="form send-code">
            <SendProblem error=error/>
            {children.map(|fields| fields())}
            <SubmitButton
                label=label
                class=class
                pending=send.pending()
                disabled=Signal::derive(move || hydrated.get() && countdown.get() > 0)
            />
            <ResendWait id=wait_id seconds=countdown/>
        </ActionForm>
    }
}

/// Where the browser supports the WebOTP API (Chrome on Android), the code fills itself in from
/// the text message: the message's last line (`@host #123456`) binds it to this portal.
fn fill_from_sms(input_id: String) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::{JsCast, JsValue};
        use web_sys::js_sys::{Array, Object, Reflect};

        let Some(window) = web_sys::window() else {
            return;
        };
        if !Reflect::has(&window, &JsValue::from_str("OTPCredential")).unwrap_or(false) {
            return;
        }
        let Ok(controller) = web_sys::AbortController::new() else {
            return;
        };
        let options = web_sys::CredentialRequestOptions::new();
        options.set_signal(&controller.signal());
        let otp = Object::new();
        let _ = Reflect::set(&otp, &"transport".into(), &Array::of1(&"sms".into()));
        let _ = Reflect::set(&options, &"otp".into(), &otp);
        let Ok(request) = window.navigator().credentials().get_with_options(&options) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let Ok(credential) = wasm_bindgen_futures::JsFuture::from(request).await else {
                return;
            };
            let code = Reflect::get(&credential, &"code".into())
                .ok()
                .and_then(|c| c.as_string());
            let input = document()
                .get_element_by_id(&input_id)
                .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok());
            if let (Some(code), Some(input)) = (code, input) {
                input.set_value(&code);
            }
        });
        // Stop listening when the code entry goes away.
        let controller = send_wrapper::SendWrapper::new(controller);
        on_cleanup(move || controller.abort());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = input_id;
}
