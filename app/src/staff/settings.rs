//! Practice settings (`/staff/settings`, admins): the 2FA switch, the practice's name and
//! support contact, what happens to a first number at login, the resend cooldown, and how long a
//! remembered device skips the code. They live
//! in the database, apply at once, and every change is audited, old value to new.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::layout::AdminsOnly;
use crate::{
    error::PortalError,
    ui::{enhance::PageContext, field_error, Field, FormMessage, StatusMessage, SubmitButton},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PracticeSettingsForm {
    pub two_factor: bool,
    pub practice_name: String,
    pub support_phone: String,
    pub support_email: String,
    /// `allow` or `support`.
    pub first_number_at_login: String,
    pub resend_cooldown_seconds: i64,
    pub remember_device_days: i64,
    pub passkeys: bool,
    pub recent_proof_minutes: i64,
    /// As stored: empty, the practice name fitted to a text.
    pub name_in_texts: String,
    /// What texts begin with now.
    pub name_in_texts_now: String,
    pub daily_text_budget: i64,
    /// `off`, `watch` or `block`.
    pub text_fraud_guard: String,
    pub block_at_home: bool,
    pub caregiver_access: bool,
    pub children_sign_in_age: i64,
    pub adult_caregiver_months: i64,
    /// The stored version the form was filled from.
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsSaved {
    /// What changed, in words.
    pub changed: Vec<String>,
    /// The settings as they are now, with their new version, for the next save.
    pub settings: PracticeSettingsForm,
}

#[server(prefix = "/api/staff", endpoint = "settings")]
pub async fn practice_settings() -> Result<PracticeSettingsForm, PortalError> {
    let portal = crate::request::portal()?;
    crate::request::staff(&portal, super::Role::Admin).await?;
    Ok(portal_core::staff::settings::form(&portal.practice()).into())
}

/// The settings form as posted: one field each, by the same names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostedSettings {
    /// A checkbox: present ("on") when ticked.
    pub two_factor: Option<String>,
    pub practice_name: String,
    pub support_phone: String,
    pub support_email: String,
    pub first_number_at_login: String,
    pub resend_cooldown_seconds: String,
    /// Missing from a page older than the setting: it stays as it is.
    pub remember_device_days: Option<String>,
    /// A checkbox: present ("on") when ticked.
    pub passkeys: Option<String>,
    /// Sent by every form that shows the "Passkeys" checkbox, so that a page older than it
    /// leaves passkeys as they are rather than switching them off.
    pub passkeys_shown: Option<String>,
    /// Missing from a page older than the setting: it stays as it is.
    pub recent_proof_minutes: Option<String>,
    /// Missing from a page older than the setting: it stays as it is.
    pub name_in_texts: Option<String>,
    /// Missing from a page older than the setting: it stays as it is.
    pub daily_text_budget: Option<String>,
    /// Missing from a page older than the setting: it stays as it is.
    pub text_fraud_guard: Option<String>,
    /// A checkbox: present ("on") when ticked; only read with `block_at_home_shown`.
    pub block_at_home: Option<String>,
    pub block_at_home_shown: Option<String>,
    /// A checkbox: present ("on") when ticked; only read with `caregiver_access_shown`.
    pub caregiver_access: Option<String>,
    pub caregiver_access_shown: Option<String>,
    /// Missing from a page older than the setting: it stays as it is.
    pub children_sign_in_age: Option<String>,
    /// Missing from a page older than the setting: it stays as it is.
    pub adult_caregiver_months: Option<String>,
    pub version: String,
}

#[server(prefix = "/api/staff", endpoint = "save_settings")]
pub async fn save_practice_settings(
    #[server(flatten)] posted: PostedSettings,
) -> Result<SettingsSaved, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Admin).await?;
    let PostedSettings {
        two_factor,
        practice_name,
        support_phone,
        support_email,
        first_number_at_login,
        resend_cooldown_seconds,
        remember_device_days,
        passkeys,
        passkeys_shown,
        recent_proof_minutes,
        name_in_texts,
        daily_text_budget,
        text_fraud_guard,
        block_at_home,
        block_at_home_shown,
        caregiver_access,
        caregiver_access_shown,
        children_sign_in_age,
        adult_caregiver_months,
        version,
    } = posted;
    let ticked = |v: &Option<String>| v.as_ref().is_some_and(|v| !v.is_empty() && v != "off");
    let form = portal_core::staff::settings::Typed {
        two_factor: ticked(&two_factor),
        passkeys: passkeys_shown.is_some().then(|| ticked(&passkeys)),
        practice_name,
        support_phone,
        support_email,
        first_number_at_login,
        resend_cooldown_seconds,
        remember_device_days,
        recent_proof_minutes,
        name_in_texts,
        daily_text_budget,
        text_fraud_guard,
        block_at_home: block_at_home_shown
            .is_some()
            .then(|| ticked(&block_at_home)),
        caregiver_access: caregiver_access_shown
            .is_some()
            .then(|| ticked(&caregiver_access)),
        children_sign_in_age,
        adult_caregiver_months,
        version,
    };
    let saved = portal_core::staff::settings::save(&portal, &visit, form).await?;
    // Sent before the page's scripts woke (or without them): back to the page, which says so.
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/staff/settings?saved");
    }
    Ok(saved.into())
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let current = Resource::new(|| (), |_| practice_settings());
    let just_saved = leptos_router::hooks::use_query_map()
        .read_untracked()
        .get("saved")
        .is_some();
    view! {
        <Title text="Practice settings"/>
        <AdminsOnly>
            <section class="card">
                <h1>"Practice settings"</h1>
                // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
                {move || Suspend::new(async move {
                    current.await.map(|settings| view! { <SettingsForm settings just_saved page=PageContext::here()/> })
                })}
            </section>
        </AdminsOnly>
    }
}

/// The form wakes in the browser, to say in place what was saved. When another save came first,
/// it shows the settings as they are now, for the admin to make their change again.
#[island(lazy)]
fn SettingsForm(
    settings: PracticeSettingsForm,
    /// Back from a save posted as a plain form.
    just_saved: bool,
    page: PageContext,
) -> impl IntoView {
    crate::ui::enhance::awake("SettingsForm");
    page.provide();
    let save = ServerAction::<SavePracticeSettings>::new();
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let changed_meanwhile = move || {
        error
            .get()
            .is_some_and(|e| e.error == crate::error::ErrorKind::Conflict)
    };
    if changed_meanwhile() {
        // Back from a plain post that came too late: the current settings, not what was typed.
        provide_context(crate::ui::plain_forms::Typed::default());
    }
    let current = RwSignal::new(settings);
    Effect::new(move |_| match save.value().get() {
        Some(Ok(saved)) => current.set(saved.settings),
        Some(Err(_)) if changed_meanwhile() => leptos::task::spawn_local(async move {
            if let Ok(now) = practice_settings().await {
                current.set(now);
            }
        }),
        _ => {}
    });
    view! { {move || view! { <SettingsFields settings=current.get() save error just_saved/> }} }
}

#[component]
fn SettingsFields(
    settings: PracticeSettingsForm,
    save: ServerAction<SavePracticeSettings>,
    error: Signal<Option<PortalError>>,
    just_saved: bool,
) -> impl IntoView {
    let saved = Signal::derive(move || match save.value().get() {
        Some(Ok(s)) if s.changed.is_empty() => Some("Nothing changed.".to_string()),
        Some(Ok(s)) => Some(format!("Saved: {}.", s.changed.join("; "))),
        Some(Err(_)) => None,
        None => just_saved.then(|| "The settings are saved.".to_string()),
    });
    let support = settings.first_number_at_login == "support";
    view! {
        <ActionForm action=save attr:novalidate=true attr:class="form settings-form">
            <FormMessage error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
            <div class="field checkbox">
                <input id="two_factor" name="two_factor" type="checkbox" checked=settings.two_factor aria-describedby="two_factor-hint"/>
                <label for="two_factor">"Two-factor authentication"</label>
                <p class="hint" id="two_factor-hint">
                    "While on, every patient needs a code texted to their verified mobile to sign in. Off, a password alone signs in."
                </p>
            </div>
            <Field name="practice_name" label="Practice name" value=settings.practice_name error=field_error(error, "practice_name")/>
            <Field
                name="name_in_texts"
                label="Name in texts"
                value=settings.name_in_texts
                hint=format!("Every text message starts with this, so it must fit: at most 30 letters, digits and spaces, without accents or macrons. Leave it empty to use the practice name (now \"{}\").", settings.name_in_texts_now)
                error=field_error(error, "name_in_texts")
            />
            <input type="hidden" name="version" value=settings.version.to_string()/>
            <Field name="support_phone" label="Support phone" kind="tel" value=settings.support_phone hint="Shown to patients who need help. Leave empty if patients should simply contact the practice." error=field_error(error, "support_phone")/>
            <Field name="support_email" label="Support email" kind="email" value=settings.support_email error=field_error(error, "support_email")/>
            <div class="field">
                <label for="first_number_at_login">"A first mobile number at login"</label>
                <p class="hint" id="first_number_at_login-hint">
                    "For patients who never had a verified number (imported, or from before two-factor authentication)."
                </p>
                <select id="first_number_at_login" name="first_number_at_login" aria-describedby="first_number_at_login-hint">
                    <option value="allow" selected=!support>"They give it after their password (audited, emailed)"</option>
                    <option value="support" selected=support>"They contact support"</option>
                </select>
            </div>
            <Field
                name="resend_cooldown_seconds"
                label="Resend cooldown (seconds)"
                inputmode="numeric"
                value=settings.resend_cooldown_seconds.to_string()
                hint="How long a patient waits before another code can be sent."
                error=field_error(error, "resend_cooldown_seconds")
            />
            <div class="field checkbox">
                <input id="passkeys" name="passkeys" type="checkbox" checked=settings.passkeys aria-describedby="passkeys-hint"/>
                <input type="hidden" name="passkeys_shown" value="on"/>
                <label for="passkeys">"Passkeys"</label>
                <p class="hint" id="passkeys-hint">
                    "Patients may add a passkey (their phone's or computer's screen lock) and sign in with it, with no password or code. Off, passkeys can't be added or used; a text message still works."
                </p>
            </div>
            <Field
                name="remember_device_days"
                label="Remember devices (days)"
                inputmode="numeric"
                value=settings.remember_device_days.to_string()
                hint="After a code, patients may skip the code on that device for this many days (their password is still needed). 0 turns it off; at most 90."
                error=field_error(error, "remember_device_days")
            />
            <Field
                name="recent_proof_minutes"
                label="Recent proof (minutes)"
                inputmode="numeric"
                value=settings.recent_proof_minutes.to_string()
                hint="To change their mobile number, email or passkeys, patients confirm it's them with a code or a passkey if their last one was longer ago than this. From 1 to 60."
                error=field_error(error, "recent_proof_minutes")
            />
            <Field
                name="daily_text_budget"
                label="Daily text budget"
                inputmode="numeric"
                value=settings.daily_text_budget.to_string()
                hint="Texts to numbers not yet verified, and security notices, over the last 24 hours. At 80% admins are warned; at 100% codes to new numbers stop. Sign-in codes to verified numbers never count."
                error=field_error(error, "daily_text_budget")
            />
            <div class="field">
                <label for="text_fraud_guard">"Text fraud guard"</label>
                <p class="hint" id="text_fraud_guard-hint">
                    "Watches how many codes to new numbers are verified. Outside the practice's own country, a number prefix with many codes and few verified is blocked for 12 hours. Sign-in codes to verified numbers are never blocked."
                </p>
                <select id="text_fraud_guard" name="text_fraud_guard" aria-describedby="text_fraud_guard-hint">
                    <option value="off" selected=settings.text_fraud_guard == "off">"Off"</option>
                    <option value="watch" selected=settings.text_fraud_guard == "watch">"Watch (log and audit only)"</option>
                    <option value="block" selected=settings.text_fraud_guard == "block">"Block"</option>
                </select>
            </div>
            <div class="field checkbox">
                <input id="block_at_home" name="block_at_home" type="checkbox" checked=settings.block_at_home aria-describedby="block_at_home-hint"/>
                <input type="hidden" name="block_at_home_shown" value="on"/>
                <label for="block_at_home">"Block at home too"</label>
                <p class="hint" id="block_at_home-hint">
                    "Off, the guard only watches and alerts in the practice's own country, so that nobody with throwaway numbers can stop the practice's patients from registering."
                </p>
            </div>
            <div class="field checkbox">
                <input id="caregiver_access" name="caregiver_access" type="checkbox" checked=settings.caregiver_access aria-describedby="caregiver_access-hint"/>
                <input type="hidden" name="caregiver_access_shown" value="on"/>
                <label for="caregiver_access">"Caregiver access"</label>
                <p class="hint" id="caregiver_access-hint">
                    "A parent or caregiver signs in as themselves and acts for the person they care for. Off, no caregiver can act for anyone and none can be added; existing caregivers are kept, and their end dates keep running."
                </p>
            </div>
            <Field
                name="children_sign_in_age"
                label="Children sign in for themselves from age"
                inputmode="numeric"
                value=settings.children_sign_in_age.to_string()
                hint="A parent's access ends on the child's birthday at this age, in the practice's time zone. Parents are told 30 days before. From 10 to 18."
                error=field_error(error, "children_sign_in_age")
            />
            <Field
                name="adult_caregiver_months"
                label="Adult caregiver access (months)"
                inputmode="numeric"
                value=settings.adult_caregiver_months.to_string()
                hint="How long a caregiver a patient invited keeps access; only the patient can renew it. From 1 to 36."
                error=field_error(error, "adult_caregiver_months")
            />
            <StatusMessage message=saved/>
            <SubmitButton label="Save settings" pending=save.pending()/>
        </ActionForm>
    }
}
