//! The card a signed-in patient sees while a new number waits to be verified (after signing in
//! with the old one): send it a code and verify it, change it, or cancel it.

use leptos::{form::ActionForm, prelude::*};

use super::{CancelMobileChange, Notice};
use crate::{
    one_time_code::{follow_sends, run_countdown, CodeEntry, SendCode, SendCodeForm, Verified},
    ui::{enhance::go_to, FormMessage, StatusMessage, SubmitButton},
};

/// Wakes in the browser: sends and checks codes in place, then reloads the home page with its
/// notice once the number is verified or the change cancelled.
#[island(lazy)]
pub fn PendingNumber(
    /// The pending number as the patient would write it.
    pending: String,
) -> impl IntoView {
    crate::ui::enhance::awake("PendingNumber");
    let send = ServerAction::<SendCode>::new();
    let cancel = ServerAction::<CancelMobileChange>::new();
    let countdown = RwSignal::new(0u64);
    let sent_to = RwSignal::new(None::<String>);
    run_countdown(countdown);
    follow_sends(
        move || send.value().get(),
        countdown,
        move |sent| sent_to.set(Some(sent.mobile_ending)),
    );
    Effect::new(move |_| {
        if let Some(Ok(_)) = cancel.value().get() {
            go_to(&format!("/?{}", Notice::Cancelled.as_str()));
        }
    });
    let verified =
        Callback::new(move |_: Verified| go_to(&format!("/?{}", Notice::Verified.as_str())));
    let status = Signal::derive(move || {
        sent_to.get().map(|ending| {
            format!("We texted a code to your new number ending {ending}. Enter it below.")
        })
    });
    let cancel_error = Signal::derive(move || cancel.value().get().and_then(Result::err));
    view! {
        <section class="card pending-number" aria-labelledby="pending-number-title">
            <h2 id="pending-number-title">"Finish changing your mobile number"</h2>
            <p>
                "You saved a new mobile number, " <strong>{pending}</strong>
                ", but it isn't verified yet. Until it is, we text your sign-in codes to your verified number."
            </p>
            <StatusMessage message=status/>
            <SendCodeForm send=send label="Send Code" countdown=countdown wait_id="pending-wait"/>
            <CodeEntry scope="pending-" on_verified=verified/>
            <div class="actions">
                <a href="/profile/mobile?new" class="button link">"Use a different number"</a>
                <ActionForm action=cancel attr:class="inline-form">
                    <SubmitButton label="Cancel this change" class="secondary" pending=cancel.pending()/>
                </ActionForm>
            </div>
            <FormMessage error=cancel_error/>
        </section>
    }
}
