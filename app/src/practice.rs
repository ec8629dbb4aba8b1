//! The practice that runs the portal: its name in the header, its support contact in the
//! footer, and how long a signed-in page may sit idle, all from the practice's settings.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Practice {
    pub name: String,
    pub support_phone: String,
    pub support_email: String,
    /// A signed-in session ends after this long without a request.
    pub idle_timeout_seconds: u64,
    /// Patients may sign in with passkeys here.
    pub passkeys: bool,
}

impl Practice {
    /// Read from the server's configuration while the page renders, for the header, the footer
    /// and the islands that name the support contact.
    pub fn provide() {
        // The route list is rendered once at start-up, outside any request: no portal then.
        #[cfg(feature = "ssr")]
        if let Some(portal) = use_context::<crate::portal::Portal>() {
            let practice = portal.practice();
            provide_context(Practice {
                name: practice.practice_name.clone(),
                support_phone: practice.support_phone.clone(),
                support_email: practice.support_email.clone(),
                idle_timeout_seconds: portal.settings.session_idle_seconds as u64,
                passkeys: practice.passkeys && portal.settings.passkey_site().is_some(),
            });
            return;
        }
        provide_context(Practice::default());
    }
}

pub fn use_practice() -> Practice {
    use_context::<Practice>().unwrap_or_default()
}

#[component]
pub fn Header() -> impl IntoView {
    let Practice { name, .. } = use_practice();
    view! {
        <header class="site-header">
            <a class="skip-link" href="#main">"Skip to content"</a>
            <a class="practice-name" href="/">
                {name}
            </a>
        </header>
    }
}

/// How to reach the practice, as far as it has said: a phone, an email, both, or neither (then
/// patients are told to contact the practice, and never shown a made-up contact).
#[component]
fn Contact(
    phone: String,
    email: String,
    /// It starts a sentence.
    #[prop(optional)]
    capital: bool,
) -> impl IntoView {
    let word = move |word: &'static str| match capital {
        true => word[..1].to_uppercase() + &word[1..],
        false => word.to_string(),
    };
    let email_word = if phone.is_empty() {
        word("email ")
    } else {
        "email ".into()
    };
    let phone = (!phone.is_empty()).then(|| {
        view! { {word("call ")} <span class="support-phone">{phone}</span> }
    });
    let email = (!email.is_empty()).then(|| {
        view! { {email_word} <span class="support-email">{email}</span> }
    });
    match (phone, email) {
        (Some(phone), Some(email)) => view! { {phone} " or " {email} }.into_any(),
        (Some(phone), None) => phone.into_any(),
        (None, Some(email)) => email.into_any(),
        (None, None) => word("contact the practice").into_any(),
    }
}

#[component]
pub fn Footer() -> impl IntoView {
    let Practice {
        support_phone,
        support_email,
        ..
    } = use_practice();
    view! {
        <footer class="site-footer">
            <p>"Need help? " <Contact phone=support_phone email=support_email capital=true/> "."</p>
        </footer>
    }
}

/// The support contact in one line, for messages that send a stuck patient to the practice.
#[component]
pub fn SupportContact() -> impl IntoView {
    let Practice {
        support_phone,
        support_email,
        ..
    } = use_practice();
    view! {
        <span class="support-contact"><Contact phone=support_phone email=support_email/></span>
    }
}
