//! The patient's wing: their pages and the server functions behind them. Registration, the
//! password step, the 2FA page, the signed-in home and Personal Information, and choosing a
//! password after the practice's one-time one.

pub mod caregivers;
pub mod confirm;
pub mod existing_patients;
pub mod home;
pub mod login;
pub mod profile;
pub mod recovery;
pub mod registration;
pub mod secure_account;
pub mod security;
pub mod verification;

use leptos::prelude::*;

use crate::{account::Profile, error::PortalError};

#[server(prefix = "/api", endpoint = "me")]
pub async fn me() -> Result<Profile, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    Ok(Profile {
        recently_proved: crate::proof::recently_proved(&portal, &visit),
        nudge: portal_core::recovery::nudged(&portal, &visit).await?,
        email_confirmed: portal_core::email_confirmation::email_confirmed(&portal, &visit).await?,
        cares_for: !portal_core::caregivers::cared_for(&portal, &visit)
            .await?
            .is_empty(),
        ..Profile::of(&visit.patient, &portal.settings)
    })
}

/// The signed-in patient's profile, for the pages under the signed-in layout.
pub type ProfileResource = Resource<Result<Profile, PortalError>>;

/// "Verified" or "Not verified", in words and colour.
#[component]
pub fn MobileStatus(verified: bool) -> impl IntoView {
    if verified {
        view! { <span class="badge ok">"Verified"</span> }
    } else {
        view! { <span class="badge warn">"Not verified"</span> }
    }
}
