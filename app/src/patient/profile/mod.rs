//! The Personal Information page (`/profile`): the patient's details, their email (editable), and
//! their mobile number with its status. A new number goes through the "Save & Get Code" dialog
//! (`/api/change_mobile`, then `/api/verify_code`) and stays pending, apart from the verified
//! one, until its code comes back; it can be cancelled (`/api/cancel_mobile_change`).

mod change_number;
pub mod confirm_email;
mod mobile_dialog;
mod pending_number;

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

pub use change_number::{ChangeMobilePage, NUMBER_PAGE};
pub use pending_number::PendingNumber;

use crate::{
    account::Profile,
    error::PortalError,
    one_time_code::{CodeSent, Verified},
    patient::{
        confirm::{ConfirmFirst, ProofFor},
        me, MobileStatus,
    },
    ui::{enhance::PageContext, field_error, Field, FormMessage, StatusMessage, SubmitButton},
};
use change_number::{NumberChange, Step};
use mobile_dialog::MobileDialog;

/// "Save & Get Code": saves the number as pending and texts a code to it. The verified number
/// stays the sign-in factor until then.
#[server(prefix = "/api", endpoint = "change_mobile")]
pub async fn change_mobile(#[server(default)] mobile: String) -> Result<CodeSent, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    // A password and a remembered device (or a stolen cookie) must not move the second factor.
    crate::proof::required(&portal, &visit)?;
    let sent = crate::one_time_code::new_number::save_and_send(
        &portal,
        &visit.caller,
        &visit.session,
        &visit.patient,
        &mobile,
    )
    .await?;
    // Without scripts, on to the code step, whichever step the form was on.
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect(NUMBER_PAGE);
    }
    Ok(sent.into())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCancelled {}

/// Drops the pending new number; the verified one was never touched.
#[server(prefix = "/api", endpoint = "cancel_mobile_change")]
pub async fn cancel_mobile_change() -> Result<ChangeCancelled, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    crate::one_time_code::new_number::cancel(&portal, &visit.caller, &visit.patient).await?;
    // Without scripts, to the page that says so.
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect(&format!("/profile?{}", Notice::Cancelled.as_str()));
    }
    Ok(ChangeCancelled {})
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailSaved {
    pub email: Option<String>,
}

/// "Send the link again": a new "Confirm your email address" link.
#[server(prefix = "/api", endpoint = "send_email_link")]
pub async fn send_email_link() -> Result<(), PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    portal_core::email_confirmation::send_email_link_again(&portal, &visit).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/profile?link-sent");
    }
    Ok(())
}

/// Saves the email address; an empty one removes it.
#[server(prefix = "/api", endpoint = "update_email")]
pub async fn update_email(#[server(default)] email: String) -> Result<EmailSaved, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    let email = portal_core::profile::change_email(&portal, &visit, &email).await?;
    Ok(EmailSaved { email })
}

/// A confirmation a signed-in page shows after a change, named in its address (`/?verified`),
/// so that a page reloaded in place after a change, or reached without scripts, says the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Verified,
    Cancelled,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Verified => "verified",
            Notice::Cancelled => "cancelled",
        }
    }
}

/// The notice the address names, if it is still true of the patient.
pub fn notice_for(query: &leptos_router::params::ParamsMap, patient: &Profile) -> Option<String> {
    let named = |notice: Notice| query.get(notice.as_str()).is_some();
    if named(Notice::Verified) && patient.mobile_verified && patient.pending_mobile.is_none() {
        return Some(verified_notice(
            patient.mobile_ending.as_deref().unwrap_or_default(),
        ));
    }
    (named(Notice::Cancelled) && patient.pending_mobile.is_none()).then(|| CANCELLED.to_string())
}

const CANCELLED: &str =
    "The change is cancelled. Your sign-in codes still go to your verified number.";

pub(crate) fn verified_notice(ending: &str) -> String {
    format!(
        "Your new mobile number ending {ending} is verified. We'll text your sign-in codes to it."
    )
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    let patient = StoredValue::new(use_context::<crate::account::Profile>());
    let query = leptos_router::hooks::use_query_map();
    view! {
        <Title text="Personal Information"/>
        {move || patient.get_value().map(|patient| {
            let notice = notice_for(&query.read(), &patient);
            view! { <PersonalInformation patient notice page=PageContext::here()/> }
        })}
    }
}

/// The page's content wakes in the browser: the help, the number dialog, the pending number and
/// the email form change it in place.
#[island(lazy)]
fn PersonalInformation(
    patient: Profile,
    notice: Option<String>,
    page: PageContext,
) -> impl IntoView {
    crate::ui::enhance::awake("PersonalInformation");
    page.provide();
    // The page's own copy of the patient, fetched again after each change without disturbing
    // the dialog.
    let patient = RwSignal::new(patient);
    let reload = move || {
        leptos::task::spawn_local(async move {
            if let Ok(fresh) = me().await {
                patient.set(fresh);
            }
        })
    };
    let notice = RwSignal::new(notice);
    let dialog_open = RwSignal::new(false);
    let change = NumberChange::new(Step::EnterNumber, move |_: CodeSent| reload());
    let help_open = RwSignal::new(false);

    let open_dialog = move |step: Step| {
        notice.set(None);
        change.step.set(step);
        dialog_open.set(true);
    };
    let number_verified = Callback::new(move |verified: Verified| {
        dialog_open.set(false);
        notice.set(Some(verified_notice(&verified.mobile_ending)));
        reload();
    });
    let change_cancelled = Callback::new(move |_: ()| {
        notice.set(Some(CANCELLED.into()));
        reload();
    });

    view! {
        <section class="card">
            <h1>"Personal Information"</h1>
            <StatusMessage message=notice/>
            {move || view! {
                <Details
                    patient=patient.get()
                    help_open=help_open
                    on_change=Callback::new(move |_| open_dialog(Step::EnterNumber))
                    on_verify=Callback::new(move |_| open_dialog(Step::EnterCode))
                    on_cancelled=change_cancelled
                />
            }}
        </section>
        <MobileDialog
            open=dialog_open
            change
            on_verified=number_verified
            proved=Signal::derive(move || patient.with(|p| p.recently_proved))
        />
    }
}

#[component]
fn Details(
    patient: Profile,
    help_open: RwSignal<bool>,
    on_change: Callback<()>,
    on_verify: Callback<()>,
    on_cancelled: Callback<()>,
) -> impl IntoView {
    let verified = patient.mobile_verified;
    let has_number = patient.mobile.is_some();
    view! {
        <dl class="details">
            <div>
                <dt>"Given name"</dt>
                <dd>{patient.given_name}</dd>
            </div>
            <div>
                <dt>"Family name"</dt>
                <dd>{patient.family_name}</dd>
            </div>
            <div>
                <dt>"Date of birth"</dt>
                <dd>{patient.date_of_birth}</dd>
            </div>
            <div class="mobile-status">
                <dt>
                    "Mobile"
                    <button
                        id="mobile-help-toggle"
                        type="button"
                        class="help-toggle"
                        aria-label="About your mobile number"
                        aria-expanded=move || help_open.get().to_string()
                        aria-controls="mobile-help"
                        on:click=move |_| help_open.update(|open| *open = !*open)
                    >
                        "?"
                    </button>
                </dt>
                <dd>
                    {patient.mobile_display.unwrap_or_else(|| "None on file".into())} " "
                    {has_number.then(|| view! { <MobileStatus verified=verified/> })}
                <div id="mobile-help" class="help" hidden=move || !help_open.get()>
                    <p>
                        "We text a code to this number each time you sign in, to keep your records safe. To change it, click "
                        // The page of its own without scripts; the dialog with them.
                        <a
                            id="change-mobile-link"
                            href=NUMBER_PAGE
                            on:click=move |ev| {
                                ev.prevent_default();
                                on_change.run(());
                            }
                        >
                            "here"
                        </a>
                        "."
                    </p>
                </div>
                </dd>
            </div>
            {patient.pending_mobile_display.map(|pending| view! {
                <PendingRow pending on_verify on_cancelled/>
            })}
        </dl>
        {(patient.email.is_some() && !patient.email_confirmed).then(|| view! {
            <div class="email-unconfirmed">
                <p class="hint">
                    "Your email address isn't confirmed yet. We emailed it a link: once you follow it, we tell you there of changes to how you sign in."
                </p>
                <form method="post" action="/api/send_email_link" class="button-form">
                    <button type="submit" class="button secondary">"Send the link again"</button>
                </form>
            </div>
        })}
        {match patient.recently_proved {
            true => view! { <EmailForm email=patient.email.unwrap_or_default()/> }.into_any(),
            false => view! {
                <div class="email-on-file">
                    <p><strong>"Email"</strong></p>
                    <p>{patient.email.unwrap_or_else(|| "None on file".into())}</p>
                    <ConfirmFirst purpose=ProofFor::Email/>
                </div>
            }.into_any(),
        }}
    }
}

/// A new number saved and not verified yet, with what can be done about it.
#[component]
fn PendingRow(
    pending: String,
    on_verify: Callback<()>,
    on_cancelled: Callback<()>,
) -> impl IntoView {
    let cancel = ServerAction::<CancelMobileChange>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = cancel.value().get() {
            on_cancelled.run(());
        }
    });
    let error = Signal::derive(move || cancel.value().get().and_then(Result::err));
    view! {
        <div class="pending-mobile">
            <dt>"New mobile"</dt>
            <dd>
                {pending} " " <MobileStatus verified=false/>
                <p class="hint">
                    "Until this number is verified, we keep texting your sign-in codes to your verified number."
                </p>
                <div class="actions">
                    <a
                        id="verify-number-button"
                        href=NUMBER_PAGE
                        class="button secondary"
                        on:click=move |ev| {
                            ev.prevent_default();
                            on_verify.run(());
                        }
                    >
                        "Verify this number"
                    </a>
                    <ActionForm action=cancel attr:class="inline-form">
                        <SubmitButton label="Cancel this change" class="secondary" pending=cancel.pending()/>
                    </ActionForm>
                </div>
                <FormMessage error/>
            </dd>
        </div>
    }
}

#[component]
fn EmailForm(email: String) -> impl IntoView {
    let save = ServerAction::<UpdateEmail>::new();
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let saved = Signal::derive(move || match save.value().get() {
        Some(Ok(EmailSaved { email: Some(_) })) => Some(
            "Your email address is saved. We emailed it a link: follow it to confirm the address."
                .to_string(),
        ),
        Some(Ok(EmailSaved { email: None })) => Some("Your email address is removed.".to_string()),
        _ => None,
    });
    view! {
        <ActionForm action=save attr:novalidate=true attr:class="form email-form">
            <FormMessage error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
            <Field
                name="email"
                label="Email"
                kind="email"
                autocomplete="email"
                hint="Optional. The practice may use it to contact you."
                value=email
                error=field_error(error, "email")
            />
            <StatusMessage message=saved/>
            <SubmitButton label="Save email" class="secondary" pending=save.pending()/>
        </ActionForm>
    }
}
