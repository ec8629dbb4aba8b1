//! Code entry, shared by the 2FA page and the mobile number dialog: the "Verification code" field
//! with "Verify", and the resend countdown.

use leptos::{form::ActionForm, prelude::*};

use super::{Verified, VerifyCode};
use crate::{
    error::PortalError,
    ui::{Field, SubmitButton},
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
            <SubmitButton label="Verify" pending=verify.pending()/>
        </ActionForm>
    }
}
