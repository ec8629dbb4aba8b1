use std::collections::BTreeMap;

use crate::{
    account::Email,
    audit::{self, Entry, Event, Outcome},
    error::{Error, ErrorKind, OrInternal},
    portal::{FirstNumberAtLogin, Portal, PracticeSettings},
    staff::StaffVisit,
    store::PracticeSave,
};

/// What an admin is told when another save came first.
pub const CHANGED_MEANWHILE: &str =
    "The settings were changed meanwhile. The form now shows the current settings: please make your change again.";

#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// What texts begin with now: the name above, or the practice name fitted.
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsSaved {
    /// What changed, in words.
    pub changed: Vec<String>,
    /// The settings as they are now, with their new version, for the next save.
    pub settings: PracticeSettingsForm,
}

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
        name_in_texts: settings.name_in_texts.clone(),
        name_in_texts_now: settings.text_name(),
        daily_text_budget: settings.daily_text_budget,
        text_fraud_guard: settings.text_fraud_guard.as_str().into(),
        block_at_home: settings.block_at_home,
        caregiver_access: settings.caregiver_access,
        children_sign_in_age: settings.children_sign_in_age,
        adult_caregiver_months: settings.adult_caregiver_months,
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
    /// `None` (as the two below): the form didn't show the field, which stays as it is.
    pub name_in_texts: Option<String>,
    pub daily_text_budget: Option<String>,
    /// `None` (as the one below): the form didn't show it, which stays as it is.
    pub text_fraud_guard: Option<String>,
    pub block_at_home: Option<bool>,
    /// `None` (as the two below): the form didn't show it, which stays as it is.
    pub caregiver_access: Option<bool>,
    pub children_sign_in_age: Option<String>,
    pub adult_caregiver_months: Option<String>,
    pub version: String,
}

fn text(value: &str, field: &str, max: usize, problems: &mut BTreeMap<String, String>) -> String {
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

fn check(typed: Typed, stored: &PracticeSettings) -> Result<PracticeSettings, Error> {
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
                "Please enter an email address like help@example.org, or leave it empty.".into(),
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
    let name_in_texts = match &typed.name_in_texts {
        None => stored.name_in_texts.clone(),
        Some(typed) => {
            let name = typed.split_whitespace().collect::<Vec<_>>().join(" ");
            let most = crate::portal::NAME_IN_TEXTS_MOST;
            if name.chars().count() > most || !name.chars().all(crate::gsm7::fit_for_a_name) {
                problems.insert(
                    "name_in_texts".into(),
                    format!("Please use up to {most} letters, digits, spaces and simple punctuation, without accents or macrons, so that every text stays one text."),
                );
            }
            name
        }
    };
    let most_texts = crate::portal::MOST_DAILY_TEXT_BUDGET;
    let daily_text_budget = typed
        .daily_text_budget
        .map_or(Some(stored.daily_text_budget), |texts| {
            texts.trim().replace([',', ' '], "").parse::<i64>().ok()
        })
        .filter(|n| (1..=most_texts).contains(n))
        .unwrap_or_else(|| {
            problems.insert(
                "daily_text_budget".into(),
                "Please enter a whole number of texts from 1 to 1,000,000.".into(),
            );
            0
        });
    let text_fraud_guard = match &typed.text_fraud_guard {
        None => stored.text_fraud_guard,
        Some(word) => crate::portal::FraudGuard::parse(word.trim()).unwrap_or_else(|| {
            problems.insert(
                "text_fraud_guard".into(),
                "Please choose Off, Watch or Block.".into(),
            );
            stored.text_fraud_guard
        }),
    };
    let whole = |typed: &Option<String>, stored: i64, range: std::ops::RangeInclusive<i64>| {
        typed
            .as_deref()
            .map_or(Some(stored), |n| n.trim().parse::<i64>().ok())
            .filter(|n| range.contains(n))
    };
    let (youngest, oldest) = (
        crate::caregivers::YOUNGEST_SIGN_IN_AGE,
        crate::caregivers::OLDEST_SIGN_IN_AGE,
    );
    let children_sign_in_age = whole(
        &typed.children_sign_in_age,
        stored.children_sign_in_age,
        youngest..=oldest,
    )
    .unwrap_or_else(|| {
        problems.insert(
            "children_sign_in_age".into(),
            format!("Please enter an age from {youngest} to {oldest}."),
        );
        0
    });
    let most_months = crate::caregivers::MOST_ADULT_MONTHS;
    let adult_caregiver_months = whole(
        &typed.adult_caregiver_months,
        stored.adult_caregiver_months,
        1..=most_months,
    )
    .unwrap_or_else(|| {
        problems.insert(
            "adult_caregiver_months".into(),
            format!("Please enter a whole number of months from 1 to {most_months}."),
        );
        0
    });
    // A form without a version (an old page) is taken as filled from what is stored now.
    let version = match typed.version.trim() {
        "" => stored.version,
        text => text.parse::<i64>().map_err(|_| {
            Error::new(
                crate::error::ErrorKind::BadRequest,
                "The form could not be read. Please reload the page and try again.",
            )
        })?,
    };
    if !problems.is_empty() {
        return Err(Error::fields(problems));
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
        name_in_texts,
        daily_text_budget,
        text_fraud_guard,
        block_at_home: typed.block_at_home.unwrap_or(stored.block_at_home),
        caregiver_access: typed.caregiver_access.unwrap_or(stored.caregiver_access),
        children_sign_in_age,
        adult_caregiver_months,
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
        (
            "name in texts",
            old.name_in_texts.clone(),
            new.name_in_texts.clone(),
        ),
        (
            "daily text budget",
            old.daily_text_budget.to_string(),
            new.daily_text_budget.to_string(),
        ),
        (
            "text fraud guard",
            old.text_fraud_guard.clone(),
            new.text_fraud_guard.clone(),
        ),
        (
            "block at home too",
            on_off(old.block_at_home),
            on_off(new.block_at_home),
        ),
        (
            "caregiver access",
            on_off(old.caregiver_access),
            on_off(new.caregiver_access),
        ),
        (
            "children sign in for themselves from age",
            old.children_sign_in_age.to_string(),
            new.children_sign_in_age.to_string(),
        ),
        (
            "adult caregiver access (months)",
            old.adult_caregiver_months.to_string(),
            new.adult_caregiver_months.to_string(),
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
) -> Result<SettingsSaved, Error> {
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
        return Err(Error::new(ErrorKind::Conflict, CHANGED_MEANWHILE));
    };
    // Told against the row the save replaced, not this instance's copy of it.
    let changed = changes(&form(&replaced), &form(&new));
    for change in &changed {
        let entry = Entry::new(Event::SettingChanged, Outcome::Ok)
            .staff(visit.member.id)
            .detail(change.clone());
        audit::record(portal, &visit.caller, entry).await;
    }
    if replaced.children_sign_in_age != new.children_sign_in_age {
        crate::caregivers::set_children_end_dates(portal).await?;
    }
    Ok(SettingsSaved {
        changed,
        settings: form(&portal.practice()),
    })
}
