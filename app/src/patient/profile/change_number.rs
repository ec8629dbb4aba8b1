//! Changing the mobile number, in two steps: the new number with "Save & Get Code", then its code.
//! The steps are a page of their own (`/profile/mobile`), which works without scripts, and the
//! Personal Information page shows the same steps in a dialog.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::ChangeMobile;
use crate::{
    account::Profile,
    one_time_code::{
        follow_sends, run_countdown, CodeEntry, CodeSent, ResendWait, SendCode, SendCodeForm,
        SendProblem, Verified,
    },
    patient::{
        confirm::{ConfirmFirst, ProofFor},
        profile::verified_notice,
    },
    ui::{field_error, use_hydrated, Field, StatusMessage, SubmitButton},
};

/// The page of its own.
pub const NUMBER_PAGE: &str = "/profile/mobile";
/// The number step, even while a new number waits for its code.
const DIFFERENT_NUMBER: &str = "/profile/mobile?new";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    EnterNumber,
    EnterCode,
}

/// Where a change stands: the step, the ending the last code went to, and the resend countdown.
#[derive(Clone, Copy)]
pub struct NumberChange {
    pub step: RwSignal<Step>,
    save: ServerAction<ChangeMobile>,
    resend: ServerAction<SendCode>,
    ending: RwSignal<Option<String>>,
    countdown: RwSignal<u64>,
}

impl NumberChange {
    /// `on_saved` runs each time a new number is saved and its code sent.
    pub fn new(step: Step, on_saved: impl Fn(CodeSent) + 'static) -> Self {
        let change = Self {
            step: RwSignal::new(step),
            save: ServerAction::new(),
            resend: ServerAction::new(),
            ending: RwSignal::new(None),
            countdown: RwSignal::new(0),
        };
        run_countdown(change.countdown);
        follow_sends(
            move || change.save.value().get(),
            change.countdown,
            move |sent| {
                change.ending.set(Some(sent.mobile_ending.clone()));
                change.step.set(Step::EnterCode);
                on_saved(sent);
            },
        );
        follow_sends(
            move || change.resend.value().get(),
            change.countdown,
            move |sent| change.ending.set(Some(sent.mobile_ending)),
        );
        change
    }

    /// Forgets what the last visit showed (a dialog opened again).
    pub fn clear(&self) {
        self.save.value().set(None);
        self.resend.value().set(None);
    }
}

/// The steps themselves, in the page or in the dialog.
#[component]
pub fn NumberChangeSteps(
    change: NumberChange,
    on_verified: Callback<Verified>,
    /// The session proved it's the patient recently: a new number may be saved.
    #[prop(into)]
    proved: Signal<bool>,
) -> impl IntoView {
    let sent_to = Signal::derive(move || {
        Some(match change.ending.get() {
            Some(ending) => format!(
                "We saved your new number and texted a code to it (ending {ending}). Enter the code to verify it."
            ),
            None => "Click Send Code to text a code to your new number, then enter it here.".into(),
        })
    });
    view! {
        <Show
            when=move || change.step.get() == Step::EnterCode
            fallback=move || view! { <NumberStep save=change.save countdown=change.countdown proved/> }
        >
            <StatusMessage message=sent_to/>
            <CodeEntry scope="new-" on_verified=on_verified/>
            <SendCodeForm
                send=change.resend
                label="Send Code"
                class="secondary"
                countdown=change.countdown
                wait_id="change-wait"
            />
            <a
                class="button link"
                href=DIFFERENT_NUMBER
                on:click=move |ev| {
                    ev.prevent_default();
                    change.step.set(Step::EnterNumber);
                }
            >
                "Use a different number"
            </a>
        </Show>
    }
}

/// Step one: the new number and "Save & Get Code".
#[component]
fn NumberStep(
    save: ServerAction<ChangeMobile>,
    countdown: RwSignal<u64>,
    proved: Signal<bool>,
) -> impl IntoView {
    let save_error = Signal::derive(move || save.value().get().and_then(Result::err));
    let hydrated = use_hydrated();
    // Not proved recently, or the proof ran out while the form was open.
    let confirm_first = move || {
        !proved.get()
            || save_error
                .get()
                .is_some_and(|e| e.error == crate::error::ErrorKind::Forbidden)
    };
    view! {
        <Show when=move || !confirm_first() fallback=|| view! { <ConfirmFirst purpose=ProofFor::Number/> }>
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
                disabled=Signal::derive(move || hydrated.get() && countdown.get() > 0)
            />
            <ResendWait id="change-wait" seconds=countdown/>
        </ActionForm>
        </Show>
    }
}

/// `/profile/mobile`: the steps as a page, where "here" leads without scripts.
#[component]
pub fn ChangeMobilePage() -> impl IntoView {
    // The signed-in layout has loaded the patient already.
    let patient = StoredValue::new(use_context::<crate::account::Profile>());
    view! {
        <Title text="Change your mobile number"/>
        <section class="card">
            <h1>"Change your mobile number"</h1>
            {move || patient.get_value().map(|patient| view! { <NumberChangeFor patient/> })}
            <p class="aside"><a href="/profile">"Back to Personal Information"</a></p>
        </section>
    }
}

#[component]
fn NumberChangeFor(patient: Profile) -> impl IntoView {
    let proved = patient.recently_proved;
    let query = use_query_map();
    let wants_new = query.read_untracked().get("new").is_some();
    // Without scripts the code's form lands here once the number is verified.
    let just_verified = query.read_untracked().get("verified").is_some()
        && patient.mobile_verified
        && patient.pending_mobile.is_none();
    let done = RwSignal::new(
        just_verified
            .then(|| verified_notice(patient.mobile_ending.as_deref().unwrap_or_default())),
    );
    let step = match patient.pending_mobile {
        Some(_) if !wants_new => Step::EnterCode,
        _ => Step::EnterNumber,
    };
    let change = NumberChange::new(step, |_| {});
    if let Some(ending) = patient
        .pending_mobile_ending
        .filter(|_| step == Step::EnterCode)
    {
        change.ending.set(Some(ending));
    }
    let on_verified = Callback::new(move |verified: Verified| {
        done.set(Some(verified_notice(&verified.mobile_ending)))
    });
    view! {
        <StatusMessage message=done/>
        <Show when=move || done.get().is_none()>
            <NumberChangeSteps change on_verified proved/>
        </Show>
    }
}
