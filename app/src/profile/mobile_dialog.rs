//! The "change your mobile number" dialog: a real modal (`<dialog>` opened with `showModal`, so
//! the page behind is inert), focus moved in and kept in, Esc or "Close" to leave, focus back
//! where it was. Step one saves the number and sends a code; step two takes the code.

use leptos::{form::ActionForm, html, prelude::*};
use wasm_bindgen::JsCast;

use super::ChangeMobile;
use crate::{
    ui::{field_error, Field, StatusMessage, SubmitButton},
    verification::{
        follow_sends, run_countdown, CodeEntry, CodeSent, ResendWait, SendCode, SendCodeForm,
        SendProblem, Verified,
    },
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogStep {
    EnterNumber,
    EnterCode,
}

const FOCUSABLE: &str =
    "a[href], button:not([disabled]), input:not([disabled]), [tabindex]:not([tabindex='-1'])";

fn focusable_in(dialog: &web_sys::HtmlDialogElement) -> Vec<web_sys::HtmlElement> {
    let Ok(list) = dialog.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|node| node.dyn_into::<web_sys::HtmlElement>().ok())
        .filter(|el| el.offset_parent().is_some())
        .collect()
}

#[component]
pub fn MobileDialog(
    open: RwSignal<bool>,
    step: RwSignal<DialogStep>,
    on_saved: Callback<CodeSent>,
    on_verified: Callback<Verified>,
) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    // The id of whatever opened the dialog (an element can't be kept: it isn't `Send`).
    let return_focus = StoredValue::new(None::<String>);
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
        move |sent| {
            ending.set(Some(sent.mobile_ending));
        },
    );

    Effect::new(move |_| {
        let Some(el) = dialog.get() else { return };
        if open.get() && !el.open() {
            save.value().set(None);
            resend.value().set(None);
            return_focus.set_value(
                document()
                    .active_element()
                    .map(|e| e.id())
                    .filter(|id| !id.is_empty()),
            );
            let _ = el.show_modal();
            if let Some(first_input) = el
                .query_selector("input")
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = first_input.focus();
            }
        } else if !open.get() && el.open() {
            el.close();
        }
    });
    // Esc closes a modal dialog by itself; either way, focus goes back where it came from.
    let closed = move |_| {
        open.set(false);
        let opener = return_focus
            .get_value()
            .and_then(|id| document().get_element_by_id(&id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(opener) = opener {
            let _ = opener.focus();
        }
    };
    let keep_focus_inside = move |ev: web_sys::KeyboardEvent| {
        let Some(el) = dialog.get() else { return };
        if ev.key() != "Tab" {
            return;
        }
        let items = focusable_in(&el);
        let (Some(first), Some(last)) = (items.first(), items.last()) else {
            return;
        };
        let active = document().active_element();
        let at = |item: &web_sys::HtmlElement| active.as_ref() == Some(item.unchecked_ref());
        if ev.shift_key() && at(first) {
            ev.prevent_default();
            let _ = last.focus();
        } else if !ev.shift_key() && at(last) {
            ev.prevent_default();
            let _ = first.focus();
        }
    };

    let save_error = Signal::derive(move || save.value().get().and_then(Result::err));
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
            node_ref=dialog
            class="dialog"
            aria-labelledby="mobile-dialog-title"
            on:close=closed
            on:keydown=keep_focus_inside
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
                fallback=move || view! {
                    <p>"We'll save the new number and text a code to it, to check it's yours."</p>
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
