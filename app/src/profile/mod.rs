//! The Personal Information page (`/profile`): the patient's details, their email (editable), and
//! their mobile number with its status, changed through the "Save & Get Code" dialog
//! (`/api/change_mobile`, then `/api/verify_code`).

mod mobile_dialog;

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    home::{me, MobileStatus, Profile},
    ui::{field_error, Field, FormMessage, StatusMessage, SubmitButton},
    verification::{CodeSent, Verified},
};
use mobile_dialog::{DialogStep, MobileDialog};

/// "Save & Get Code": saves the number at once, unverified, and texts a code to it.
#[server(prefix = "/api", endpoint = "change_mobile")]
pub async fn change_mobile(#[server(default)] mobile: String) -> Result<CodeSent, PortalError> {
    let portal = crate::request::portal()?;
    let (_, account) = crate::request::signed_in(&portal).await?;
    ssr::change_mobile(&portal, &account, &mobile).await
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailSaved {
    pub email: Option<String>,
}

/// Saves the email address; an empty one removes it.
#[server(prefix = "/api", endpoint = "update_email")]
pub async fn update_email(#[server(default)] email: String) -> Result<EmailSaved, PortalError> {
    let portal = crate::request::portal()?;
    let (_, account) = crate::request::signed_in(&portal).await?;
    ssr::update_email(&portal, &account, &email).await
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    // The page's own copy of the patient, reloaded after each change without disturbing the dialog.
    let reload = RwSignal::new(0u32);
    let patient = Resource::new(move || reload.get(), |_| me());
    let notice = RwSignal::new(None::<String>);
    let dialog_open = RwSignal::new(false);
    let dialog_step = RwSignal::new(DialogStep::EnterNumber);
    let help_open = RwSignal::new(false);

    let open_dialog = move |step: DialogStep| {
        notice.set(None);
        dialog_step.set(step);
        dialog_open.set(true);
    };
    let number_saved = Callback::new(move |_: CodeSent| reload.update(|n| *n += 1));
    let number_verified = Callback::new(move |verified: Verified| {
        dialog_open.set(false);
        notice.set(Some(format!(
            "Your new mobile number ending {} is verified. We'll text your sign-in codes to it.",
            verified.mobile_ending
        )));
        reload.update(|n| *n += 1);
    });

    view! {
        <Title text="Personal Information"/>
        <section class="card">
            <h1>"Personal Information"</h1>
            <StatusMessage message=notice/>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    patient.await.map(|p| view! {
                        <Details
                            patient=p
                            help_open=help_open
                            on_change=Callback::new(move |_| open_dialog(DialogStep::EnterNumber))
                            on_verify=Callback::new(move |_| open_dialog(DialogStep::EnterCode))
                        />
                    })
                })}
            </Transition>
        </section>
        <MobileDialog
            open=dialog_open
            step=dialog_step
            on_saved=number_saved
            on_verified=number_verified
        />
    }
}

#[component]
fn Details(
    patient: Profile,
    help_open: RwSignal<bool>,
    on_change: Callback<()>,
    on_verify: Callback<()>,
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
                        <a
                            id="change-mobile-link"
                            href="#change-mobile"
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
                {(has_number && !verified).then(|| view! {
                    <div class="unverified">
                        <p>
                            "This number isn't verified yet. Until it is, you'll be asked to verify a number each time you log in."
                        </p>
                        <button
                            id="verify-number-button"
                            type="button"
                            class="button secondary"
                            on:click=move |_| on_verify.run(())
                        >
                            "Verify this number"
                        </button>
                    </div>
                })}
                </dd>
            </div>
        </dl>
        <EmailForm email=patient.email.unwrap_or_default()/>
    }
}

#[component]
fn EmailForm(email: String) -> impl IntoView {
    let save = ServerAction::<UpdateEmail>::new();
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let saved = Signal::derive(move || match save.value().get() {
        Some(Ok(EmailSaved { email: Some(_) })) => Some("Your email address is saved.".to_string()),
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

#[cfg(feature = "ssr")]
pub mod ssr {
    use std::time::Duration;

    use crate::{
        error::{ErrorKind, OrInternal, PortalError},
        mobile::{self, Mobile},
        portal::{Portal, HOUR},
        registration::ssr::check_email,
        request,
        sms::{limits, Delivery},
        store::AccountRow,
        verification::{
            challenge::{self, Purpose},
            ssr::{send_code_to, SEND_FAILED},
            CodeSent, Verified,
        },
    };

    use super::EmailSaved;

    pub async fn change_mobile(
        portal: &Portal,
        account: &AccountRow,
        typed: &str,
    ) -> Result<CodeSent, PortalError> {
        let settings = &portal.settings;
        let mobile = Mobile::parse(typed, settings.default_region, &settings.allowed_regions)
            .map_err(|problem| PortalError::field("mobile", problem.to_string()))?;
        let verified_now = account.mobile_verified_at.and(account.mobile.clone());
        if verified_now.as_deref() == Some(mobile.e164()) {
            return Err(PortalError::field(
                "mobile",
                "This is already your verified mobile number.",
            ));
        }
        // Checked before saving, so a request refused for them changes nothing (and checked
        // again, atomically, when the code is issued).
        let wait = challenge::cooldown_left(portal, account.id, Purpose::ChangeMobile)
            .await
            .or_internal("reading the cooldown")?;
        if wait > 0 {
            return Err(challenge::ChallengeError::Cooldown(wait).into());
        }
        limits::precheck(
            portal,
            &limits::for_send(portal, account.id, mobile.e164(), false),
        )
        .await?;
        portal
            .store
            .save_unverified_mobile(account.id, mobile.e164())
            .await
            .or_internal("saving a new mobile number")?;
        let from = account.mobile.as_deref().map_or("none".to_string(), |m| {
            format!("ending {}", mobile::ending(m))
        });
        request::audit(
            portal,
            Some(account.id),
            "mobile_changed",
            "saved_unverified",
            Some(format!("from {from} to ending {}", mobile.ending())),
        )
        .await;
        if let Some(old) = verified_now {
            tell_old_number(portal, account.id, &old, &mobile).await;
        }
        send_code_to(portal, account.id, Purpose::ChangeMobile, &mobile, false)
            .await
            .map_err(|err| match err.error {
                ErrorKind::Unavailable => PortalError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "Your new number is saved, but {}",
                        lowercase_first(SEND_FAILED)
                    ),
                ),
                _ => err,
            })
    }

    fn lowercase_first(text: &str) -> String {
        let mut chars = text.chars();
        chars
            .next()
            .map(|c| c.to_lowercase().chain(chars).collect())
            .unwrap_or_default()
    }

    /// The number that was verified until now hears that it no longer is, with the practice's
    /// contact: if the patient didn't do this, someone else has their password.
    async fn tell_old_number(portal: &Portal, account_id: i64, old: &str, new: &Mobile) {
        let settings = &portal.settings;
        let body = format!(
            "Your {} patient portal mobile number was changed to a number ending {}. \
             If you didn't do this, please contact the practice: {} or {}.",
            settings.practice_name,
            new.ending(),
            settings.support_phone,
            settings.support_email
        );
        let now = portal.now();
        let queued = portal
            .store
            .queue_sms(old, &portal.secret.seal(&body), now, now + 24 * HOUR)
            .await;
        let outcome = match queued {
            Ok(id) => match portal.outbox.deliver_now(id, Duration::from_secs(2)).await {
                Delivery::Sent | Delivery::NotMine => "ok",
                Delivery::WillRetry(_) => "retrying",
                Delivery::Failed(_) => "failed",
            },
            Err(err) => {
                tracing::error!(%err, "queueing the number-change notice");
                "failed"
            }
        };
        request::audit(
            portal,
            Some(account_id),
            "mobile_change_notice",
            outcome,
            Some(format!("to the old number ending {}", mobile::ending(old))),
        )
        .await;
    }

    /// "Send Code" again for a saved but unverified number.
    pub async fn resend_number_change(
        portal: &Portal,
        account: &AccountRow,
    ) -> Result<CodeSent, PortalError> {
        let settings = &portal.settings;
        let waiting = account
            .mobile
            .as_deref()
            .filter(|_| account.mobile_verified_at.is_none());
        let Some(waiting) = waiting else {
            return Err(PortalError::field(
                "mobile",
                "There is no new number waiting to be verified.",
            ));
        };
        let mobile =
            Mobile::from_stored(waiting, settings.default_region, &settings.allowed_regions)
                .map_err(|problem| PortalError::field("mobile", problem.to_string()))?;
        send_code_to(portal, account.id, Purpose::ChangeMobile, &mobile, false).await
    }

    pub async fn verify_number_change(
        portal: &Portal,
        account: &AccountRow,
        code: &str,
    ) -> Result<Verified, PortalError> {
        match challenge::verify(portal, account.id, Purpose::ChangeMobile, code).await {
            Ok(number) => {
                request::audit(
                    portal,
                    Some(account.id),
                    "mobile_verified",
                    "ok",
                    Some(format!("ending {}", mobile::ending(&number))),
                )
                .await;
                Ok(Verified {
                    mobile_ending: mobile::ending(&number),
                })
            }
            Err(err) => {
                request::audit(
                    portal,
                    Some(account.id),
                    "mobile_verified",
                    "refused",
                    Some(err.to_string()),
                )
                .await;
                Err(err.into())
            }
        }
    }

    pub async fn update_email(
        portal: &Portal,
        account: &AccountRow,
        typed: &str,
    ) -> Result<EmailSaved, PortalError> {
        let email =
            check_email(Some(typed)).map_err(|message| PortalError::field("email", message))?;
        portal
            .store
            .update_email(account.id, email.as_deref())
            .await
            .or_internal("saving an email address")?;
        request::audit(portal, Some(account.id), "email_changed", "ok", None).await;
        Ok(EmailSaved { email })
    }
}
