//! The practice that runs the portal: its name in the header and its support contact in the
//! footer, both from the server's configuration.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::PortalError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Practice {
    pub name: String,
    pub support_phone: String,
    pub support_email: String,
}

#[server(prefix = "/api", endpoint = "practice")]
pub async fn practice_info() -> Result<Practice, PortalError> {
    let portal = crate::request::portal()?;
    let settings = &portal.settings;
    Ok(Practice {
        name: settings.practice_name.clone(),
        support_phone: settings.support_phone.clone(),
        support_email: settings.support_email.clone(),
    })
}

/// Loaded once per page load and shared; rendered into the page on the server, so the browser
/// never asks for it again.
#[derive(Clone, Copy)]
pub struct PracticeResource(OnceResource<Result<Practice, PortalError>>);

impl PracticeResource {
    pub fn load() -> Self {
        Self(OnceResource::new_blocking(practice_info()))
    }
}

fn use_practice<T: Send + Sync + 'static>(
    pick: impl Fn(&Practice) -> T + Send + Sync + Copy + 'static,
) -> impl Fn() -> Option<T> + Send + Sync + Copy + 'static {
    let practice = expect_context::<PracticeResource>().0;
    move || practice.get().and_then(|p| p.ok()).map(|p| pick(&p))
}

#[component]
pub fn Header() -> impl IntoView {
    let name = use_practice(|p| p.name.clone());
    view! {
        <header class="site-header">
            <a class="skip-link" href="#main">"Skip to content"</a>
            <a class="practice-name" href="/">
                <Suspense>{move || name()}</Suspense>
            </a>
        </header>
    }
}

#[component]
pub fn Footer() -> impl IntoView {
    let phone = use_practice(|p| p.support_phone.clone());
    let email = use_practice(|p| p.support_email.clone());
    view! {
        <footer class="site-footer">
            <Suspense>
                <p>
                    "Need help? Call " <span class="support-phone">{move || phone()}</span>
                    " or email " <span class="support-email">{move || email()}</span> "."
                </p>
            </Suspense>
        </footer>
    }
}

/// The support contact in one line, for messages that send a stuck patient to the practice.
#[component]
pub fn SupportContact() -> impl IntoView {
    let phone = use_practice(|p| p.support_phone.clone());
    let email = use_practice(|p| p.support_email.clone());
    view! {
        <Suspense>
            <span class="support-contact">
                {move || phone()} " · " {move || email()}
            </span>
        </Suspense>
    }
}
