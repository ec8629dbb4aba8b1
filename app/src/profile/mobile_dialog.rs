//! The "change your mobile number" dialog (a modal, see `ui::use_modal`). Step one saves the
//! number as pending and sends it a code; step two takes the code.

use leptos::{form::ActionForm, prelude::*};

use super::ChangeMobile;
use crate::{
    one_time_code::{
        follow_sends, run_countdown, CodeEntry, CodeSent, ResendWait, SendCode, SendCodeForm,
        SendProblem, Verified,
    },
    ui::{field_error, use_modal, Field, StatusMessage, SubmitButton},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogStep {
    EnterNumber,
    EnterCode,
}

#[component]
pub fn MobileDialog(
    open: RwSignal<bool>,
    step: RwSignal<DialogStep>,
    on_saved: Callback<CodeSent>,
    on_verified: Callback<Verified>,
) -> impl IntoView {
    let save = ServerAction::<ChangeMobile>::new();
    let resend = ServerAction::<SendCode>::new();
    let ending = RwSignal::new(None::<String>);
    let countdown = RwSignal::new(0u64);
    run_countdown(countdown);
    follow_sends(
        move || save.value().get(),
        countdown,
        move |sent| {
            ending.set(Some(sent.mobile_ending.clone()));
            step.set(DialogStep::EnterCode);
            on_saved.run(sent);
        },
    );
    follow_sends(
        move || resend.value().get(),
        countdown,
        move |sent| ending.set(Some(sent.mobile_ending)),
    );
    let modal = use_modal(open, move || {
        save.value().set(None);
        resend.value().set(None);
    });
    let sent_to = Signal::derive(move || {
        Some(match ending.get() {
            Some(ending) => format!(
                "We saved your new number and texted a code to it (ending {ending}). Enter the code to verify it."
            ),
            None => "Click Send Code to text a code to your new number, then enter it here.".into(),
        })
    });

    view! {
        <dialog
            node_ref=modal.node
            class="dialog"
            aria-labelledby="mobile-dialog-title"
            on:close=move |_| modal.closed()
            on:keydown=move |ev| modal.keep_focus_inside(ev)
        >
            <div class="dialog-header">
                <h2 id="mobile-dialog-title">"Change your mobile number"</h2>
                <button
                    type="button"
                    class="dialog-close"
                    aria-label="Close"
                    on:click=move |_| open.set(false)
                >
                    "×"
                </button>
            </div>
            <Show
                when=move || step.get() == DialogStep::EnterCode
                fallback=move || view! { <NumberStep save countdown/> }
            >
                <StatusMessage message=sent_to/>
                <CodeEntry scope="new-" on_verified=on_verified/>
                <SendCodeForm
                    send=resend
                    label="Send Code"
                    class="secondary"
                    countdown=countdown
                    wait_id="change-wait"
                />
                <button
                    type="button"
                    class="button link"
                    on:click=move |_| step.set(DialogStep::EnterNumber)
                >
                    "Use a different number"
                </button>
            </Show>
        </dialog>
    }
}

/// Step one: the new number and "Save & Get Code".
#[component]
fn NumberStep(save: ServerAction<ChangeMobile>, countdown: RwSignal<u64>) -> impl IntoView {
    let save_error = Signal::derive(move || save.value().get().and_then(Result::err));
    view! {
        <p>
            "We'll save the new number and text a code to it, to check it's yours. Until you enter the code, your sign-in codes still go to your verified number."
        </p>
        <ActionForm action=save attr:novalidate=true attr:class="form">
            <SendProblem error=save_error/>
            <Field
                name="mobile"
                scope="new-"
                label="Mobile number"
                kind="tel"
                autocomplete="tel"
                error=field_error(save_error, "mobile")
            />
            <SubmitButton
                label="Save & Get Code"
                pending=save.pending()
                disabled=Signal::derive(move || countdown.get() > 0)
            />
            <ResendWait id="change-wait" seconds=countdown/>
        </ActionForm>
    }
}
