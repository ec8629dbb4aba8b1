//! The "change your mobile number" dialog (a modal, see `ui::use_modal`) on the Personal
//! Information page: the steps of `change_number` without leaving the page.

use leptos::prelude::*;

use super::change_number::{NumberChange, NumberChangeSteps};
use crate::{one_time_code::Verified, ui::use_modal};

#[component]
pub fn MobileDialog(
    open: RwSignal<bool>,
    change: NumberChange,
    on_verified: Callback<Verified>,
    #[prop(into)] proved: Signal<bool>,
) -> impl IntoView {
    let modal = use_modal(open, move || change.clear());
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
            <NumberChangeSteps change on_verified proved/>
        </dialog>
    }
}
