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
    /// The stored version the form was filled from.
    pub version: i64,
}

/// What an admin is told when another save came first.
pub const CHANGED_MEANWHILE: &str =
    "The settings were changed meanwhile. The form now shows the current settings: please make your change again.";

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
    Ok(ssr::form(&portal.practice()))
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
        version,
    } = posted;
    let ticked = |v: &Option<String>| v.as_ref().is_some_and(|v| !v.is_empty() && v != "off");
    let form = ssr::Typed {
        two_factor: ticked(&two_factor),
        passkeys: passkeys_shown.is_some().then(|| ticked(&passkeys)),
        practice_name,
        support_phone,
        support_email,
        first_number_at_login,
        resend_cooldown_seconds,
        remember_device_days,
        recent_proof_minutes,
        version,
    };
    let saved = ssr::save(&portal, &visit, form).await?;
    // Sent before the page's scripts woke (or without them): back to the page, which says so.
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/staff/settings?saved");
    }
    Ok(saved)
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
            <StatusMessage message=saved/>
            <SubmitButton label="Save settings" pending=save.pending()/>
        </ActionForm>
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use std::collections::BTreeMap;

    use super::{PracticeSettingsForm, SettingsSaved};
    use crate::{
        account::Email,
        audit::{self, Entry, Event, Outcome},
        error::{ErrorKind, OrInternal, PortalError},
        portal::{FirstNumberAtLogin, Portal, PracticeSettings},
        request::StaffVisit,
        store::PracticeSave,
    };

    pub fn form(settings: &PracticeSettings) -> PracticeSettingsForm {
        PracticeSettingsForm {
            two_factor: settings.two_factor,
            practice_name: settings.practice_name.clone(),
            support_phone: settings.support_phone.clone(),
            support_email: settings.support_email.clone(),
            first_number_at_login: match settings.first_number_at_login {
                FirstNumberAtLogin::Allow => "allow".into(),
                FirstNumberAtLogin::Support => "support".into(),
            },
            resend_cooldown_seconds: settings.resend_cooldown_seconds,
            remember_device_days: settings.remember_device_days,
            passkeys: settings.passkeys,
            recent_proof_minutes: settings.recent_proof_minutes,
            version: settings.version,
        }
    }

    /// The form as typed.
    pub struct Typed {
        pub two_factor: bool,
        pub practice_name: String,
        pub support_phone: String,
        pub support_email: String,
        pub first_number_at_login: String,
        pub resend_cooldown_seconds: String,
        pub remember_device_days: Option<String>,
        /// `None`: the form didn't show the checkbox.
        pub passkeys: Option<bool>,
        pub recent_proof_minutes: Option<String>,
        pub version: String,
    }

    fn text(
        value: &str,
        field: &str,
        max: usize,
        problems: &mut BTreeMap<String, String>,
    ) -> String {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
            problems.insert(field.into(), format!("Please enter 1 to {max} characters."));
        }
        value.to_string()
    }

    /// The support contact is optional: empty, or what is stored already (whatever an older
    /// portal stored there), always saves, so an admin who only switches something else is
    /// never stopped by it.
    fn contact(
        typed: &str,
        stored: &str,
        field: &str,
        problems: &mut BTreeMap<String, String>,
        check: impl Fn(&str) -> Result<String, String>,
    ) -> String {
        let typed = typed.trim();
        if typed.is_empty() || typed == stored {
            return typed.to_string();
        }
        check(typed).unwrap_or_else(|problem| {
            problems.insert(field.into(), problem);
            String::new()
        })
    }

    fn check(typed: Typed, stored: &PracticeSettings) -> Result<PracticeSettings, PortalError> {
        let mut problems = BTreeMap::new();
        let practice_name = text(&typed.practice_name, "practice_name", 100, &mut problems);
        let support_phone = contact(
            &typed.support_phone,
            &stored.support_phone,
            "support_phone",
            &mut problems,
            |phone| {
                let fits = phone.chars().count() <= 40 && !phone.chars().any(char::is_control);
                fits.then(|| phone.to_string())
                    .ok_or_else(|| "Please enter up to 40 characters, or leave it empty.".into())
            },
        );
        let support_email = contact(
            &typed.support_email,
            &stored.support_email,
            "support_email",
            &mut problems,
            |email| match Email::parse_optional(Some(email)) {
                Ok(Some(email)) => Ok(email.as_str().to_string()),
                _ => Err(
                    "Please enter an email address like help@example.org, or leave it empty."
                        .into(),
                ),
            },
        );
        let first_number_at_login = match typed.first_number_at_login.as_str() {
            "support" => FirstNumberAtLogin::Support,
            "allow" => FirstNumberAtLogin::Allow,
            _ => {
                problems.insert(
                    "first_number_at_login".into(),
                    "Please choose one of the two.".into(),
                );
                FirstNumberAtLogin::Allow
            }
        };
        let resend_cooldown_seconds = typed
            .resend_cooldown_seconds
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| (0..=600).contains(s))
            .unwrap_or_else(|| {
                problems.insert(
                    "resend_cooldown_seconds".into(),
                    "Please enter a whole number of seconds from 0 to 600.".into(),
                );
                0
            });
        let most_days = crate::devices::MOST_DAYS;
        let remember_device_days = typed
            .remember_device_days
            .map_or(Some(stored.remember_device_days), |days| {
                days.trim().parse::<i64>().ok()
            })
            .filter(|d| (0..=most_days).contains(d))
            .unwrap_or_else(|| {
                problems.insert(
                    "remember_device_days".into(),
                    format!("Please enter a whole number of days from 0 to {most_days}."),
                );
                0
            });
        let most_minutes = crate::portal::MOST_RECENT_PROOF_MINUTES;
        let recent_proof_minutes = typed
            .recent_proof_minutes
            .map_or(Some(stored.recent_proof_minutes), |minutes| {
                minutes.trim().parse::<i64>().ok()
            })
            .filter(|m| (1..=most_minutes).contains(m))
            .unwrap_or_else(|| {
                problems.insert(
                    "recent_proof_minutes".into(),
                    format!("Please enter a whole number of minutes from 1 to {most_minutes}."),
                );
                0
            });
        // A form without a version (an old page) is taken as filled from what is stored now.
        let version = match typed.version.trim() {
            "" => stored.version,
            text => text.parse::<i64>().map_err(|_| {
                PortalError::new(
                    crate::error::ErrorKind::BadRequest,
                    "The form could not be read. Please reload the page and try again.",
                )
            })?,
        };
        if !problems.is_empty() {
            return Err(PortalError::fields(problems));
        }
        Ok(PracticeSettings {
            two_factor: typed.two_factor,
            practice_name,
            support_phone,
            support_email,
            first_number_at_login,
            resend_cooldown_seconds,
            remember_device_days,
            passkeys: typed.passkeys.unwrap_or(stored.passkeys),
            recent_proof_minutes,
            version,
        })
    }

    /// What changed, as "field: old → new".
    fn changes(old: &PracticeSettingsForm, new: &PracticeSettingsForm) -> Vec<String> {
        let on_off = |b: bool| if b { "on" } else { "off" }.to_string();
        [
            (
                "two-factor authentication",
                on_off(old.two_factor),
                on_off(new.two_factor),
            ),
            (
                "practice name",
                old.practice_name.clone(),
                new.practice_name.clone(),
            ),
            (
                "support phone",
                old.support_phone.clone(),
                new.support_phone.clone(),
            ),
            (
                "support email",
                old.support_email.clone(),
                new.support_email.clone(),
            ),
            (
                "first number at login",
                old.first_number_at_login.clone(),
                new.first_number_at_login.clone(),
            ),
            (
                "resend cooldown",
                old.resend_cooldown_seconds.to_string(),
                new.resend_cooldown_seconds.to_string(),
            ),
            ("passkeys", on_off(old.passkeys), on_off(new.passkeys)),
            (
                "remember devices (days)",
                old.remember_device_days.to_string(),
                new.remember_device_days.to_string(),
            ),
            (
                "recent proof (minutes)",
                old.recent_proof_minutes.to_string(),
                new.recent_proof_minutes.to_string(),
            ),
        ]
        .into_iter()
        .filter(|(_, old, new)| old != new)
        .map(|(what, old, new)| {
            let shown = |value: String| {
                if value.is_empty() {
                    "(none)".into()
                } else {
                    value
                }
            };
            format!("{what}: {} → {}", shown(old), shown(new))
        })
        .collect()
    }

    pub async fn save(
        portal: &Portal,
        visit: &StaffVisit,
        typed: Typed,
    ) -> Result<SettingsSaved, PortalError> {
        let stored = portal.practice();
        let new = check(typed, &stored)?;
        if new.version != stored.version {
            // This instance may be a few seconds behind; the store has the last word below.
            portal
                .load_practice()
                .await
                .or_internal("reading the practice settings")?;
        }
        if changes(&form(&portal.practice()), &form(&new)).is_empty()
            && new.version == portal.practice().version
        {
            return Ok(SettingsSaved {
                changed: vec![],
                settings: form(&portal.practice()),
            });
        }
        let saved = portal
            .save_practice(new.clone())
            .await
            .or_internal("saving the practice settings")?;
        let PracticeSave::Saved { replaced } = saved else {
            return Err(PortalError::new(
                ErrorKind::Conflict,
                super::CHANGED_MEANWHILE,
            ));
        };
        // Told against the row the save replaced, not this instance's copy of it.
        let changed = changes(&form(&replaced), &form(&new));
        for change in &changed {
            let entry = Entry::new(Event::SettingChanged, Outcome::Ok)
                .staff(visit.member.id)
                .detail(change.clone());
            audit::record(portal, &visit.caller, entry).await;
        }
        Ok(SettingsSaved {
            changed,
            settings: form(&portal.practice()),
        })
    }
}
