//! Passkeys (WebAuthn, with webauthn-rs): added on the patient's "Sign-in and security" page,
//! used at `/login` ("Sign in with a passkey", a discoverable credential) or after the password in
//! place of the code ("Use a passkey instead"). A passkey verifies its user itself (a fingerprint,
//! a face, the device's PIN), so it signs the patient in fully, with no password and no code.
//!
//! The browser's half of a ceremony is `public/passkeys.js`: a few lines of script that hand the
//! server's options to `navigator.credentials` and post the answer back. The buttons here are
//! shown only where it runs; without scripts the page says passkeys need JavaScript, and a text
//! message still works.

// The relying party, the ceremonies and what passkeys may do are the core's.
#[cfg(feature = "ssr")]
pub use portal_core::passkeys::*;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::PortalError;

/// The options a ceremony starts with, as WebAuthn's JSON, for the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CeremonyOptions {
    pub options: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyAdded {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInWithPasskey {
    /// Where the browser goes next.
    pub next: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyChanged {}

/// Starts adding a passkey: the signed-in patient, soon after proving it's them, or a recovery
/// session in place of a new phone.
#[server(prefix = "/api", endpoint = "passkey_registration")]
pub async fn passkey_registration() -> Result<CeremonyOptions, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::adding_passkey(&portal).await?;
    let (options, token) = start_registration(&portal, &visit).await?;
    crate::request::set_ceremony_cookie(&portal, &token);
    Ok(CeremonyOptions { options })
}

/// Finishes adding a passkey: `credential` is the browser's answer, as WebAuthn's JSON.
#[server(prefix = "/api", endpoint = "add_passkey")]
pub async fn add_passkey(
    #[server(default)] name: String,
    #[server(default)] credential: String,
) -> Result<PasskeyAdded, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::adding_passkey(&portal).await?;
    crate::request::clear_ceremony_cookie(&portal);
    let added = finish_registration(&portal, &visit, &name, &credential).await?;
    if let Some(signed_in) = &added.signed_in {
        crate::request::set_session_cookie(&portal, signed_in);
    }
    Ok(PasskeyAdded { name: added.name })
}

/// Starts a sign-in with a passkey: after a password, with one of that account's passkeys (in
/// place of the code); signed in, with one of theirs to confirm it's them; otherwise with any
/// discoverable passkey.
#[server(prefix = "/api", endpoint = "passkey_challenge")]
pub async fn passkey_challenge() -> Result<CeremonyOptions, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    let (options, token) = start_sign_in(&portal, &caller).await?;
    crate::request::set_ceremony_cookie(&portal, &token);
    Ok(CeremonyOptions { options })
}

/// Finishes a sign-in with a passkey: a match signs the patient in, in a new session, or (signed
/// in already) proves it's them.
#[server(prefix = "/api", endpoint = "passkey_sign_in")]
pub async fn passkey_sign_in(
    #[server(default)] credential: String,
) -> Result<SignedInWithPasskey, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    crate::request::clear_ceremony_cookie(&portal);
    match finish_sign_in(&portal, &caller, &credential).await? {
        Finished::SignedIn(new) => {
            crate::request::set_session_cookie(&portal, &new);
            Ok(SignedInWithPasskey {
                next: "/".to_string(),
            })
        }
        Finished::Confirmed => Ok(SignedInWithPasskey {
            next: "/security?confirmed".to_string(),
        }),
    }
}

/// "Rename" on one of the patient's passkeys.
#[server(prefix = "/api", endpoint = "rename_passkey")]
pub async fn rename_passkey(
    #[server(default)] passkey: String,
    #[server(default)] name: String,
) -> Result<PasskeyChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    rename(&portal, &visit, &passkey, &name).await?;
    back_to_security("passkey-renamed");
    Ok(PasskeyChanged {})
}

/// "Remove" on one of the patient's passkeys: soon after proving it's them.
#[server(prefix = "/api", endpoint = "remove_passkey")]
pub async fn remove_passkey(
    #[server(default)] passkey: String,
) -> Result<PasskeyChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    remove(&portal, &visit, &passkey).await?;
    back_to_security("passkey-removed");
    Ok(PasskeyChanged {})
}

/// A form posted as a plain page goes back to the security page, which says what happened.
#[cfg(feature = "ssr")]
pub fn back_to_security(notice: &str) {
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect(&format!("/security?{notice}"));
    }
}

/// A passkey button: the script wakes it, and it stays hidden where passkeys can't work
/// (scripts off, or a browser without them), where a note says so instead.
#[component]
pub fn PasskeyButton(
    /// `add` or `sign-in`.
    action: &'static str,
    label: &'static str,
    #[prop(default = "button secondary")] class: &'static str,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="passkey-box" data-passkey-box="">
            {children.map(|fields| fields())}
            <button type="button" class=format!("{class} passkey-only") data-passkey=action>{label}</button>
            <p class="passkey-message" data-passkey-message="" role="alert"></p>
            <p class="hint passkey-unavailable">
                "Passkeys need JavaScript and a browser that supports them. A code by text message still works."
            </p>
        </div>
    }
}
