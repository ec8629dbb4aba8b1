//! The patient's profile as `/api/me` shows it. On the server the account and the types every
//! form shares come from the core (`portal_core::account`). Staff accounts are in `staff`.

pub mod staff;

use serde::{Deserialize, Serialize};

/// The signed-in patient, as `/api/me` returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub email: Option<String>,
    /// The verified number, or the one on file (E.164 when it is a real number).
    pub mobile: Option<String>,
    /// The number as the patient would write it.
    pub mobile_display: Option<String>,
    pub mobile_verified: bool,
    /// The last two digits of the number on file, all a page needs to name it ("ending 23").
    pub mobile_ending: Option<String>,
    /// A new number saved with "Save & Get Code" and not verified yet (E.164).
    pub pending_mobile: Option<String>,
    pub pending_mobile_display: Option<String>,
    pub pending_mobile_ending: Option<String>,
    /// A signed-in session ends after this long without a request.
    pub idle_timeout_seconds: u64,
    /// This session proved it's the patient recently enough to change their number or email.
    pub recently_proved: bool,
    /// "Make signing in easier": signed in by code, with no passkey and no recovery code, and
    /// not put off with "Not now".
    pub nudge: bool,
    /// The email address on file was confirmed by its link (true when there is none).
    pub email_confirmed: bool,
    /// They act for someone now: the navigation offers "Acting for".
    pub cares_for: bool,
}

#[cfg(feature = "ssr")]
pub use portal_core::account::*;

#[cfg(feature = "ssr")]
impl Profile {
    /// The patient as `/api/me` shows them, numbers written as they would write them.
    pub fn of(patient: &Patient, settings: &crate::portal::Settings) -> Self {
        let display = |n: &str| crate::mobile::for_display(n, settings.default_region);
        Profile {
            username: patient.username.clone(),
            given_name: patient.given_name.clone(),
            family_name: patient.family_name.clone(),
            date_of_birth: patient.date_of_birth.clone(),
            email: patient.email.clone(),
            mobile: patient.mobile.on_file().map(str::to_string),
            mobile_display: patient.mobile.on_file().map(display),
            mobile_verified: patient.mobile.verified().is_some(),
            mobile_ending: patient.mobile.on_file().map(crate::mobile::ending),
            pending_mobile: patient.pending_mobile.clone(),
            pending_mobile_display: patient.pending_mobile.as_deref().map(display),
            pending_mobile_ending: patient.pending_mobile.as_deref().map(crate::mobile::ending),
            idle_timeout_seconds: settings.session_idle_seconds as u64,
            recently_proved: false,
            nudge: false,
            email_confirmed: true,
            cares_for: false,
        }
    }
}
