//! A staff member's own passkeys ("Your passkeys", `/staff/passkeys`): one signs them in with
//! their password, in place of the authenticator code. Kept apart from patients' passkeys, so
//! neither can stand in for the other. Adding or removing one needs a sign-in in the last 10
//! minutes: a staff sign-in always proves both factors.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    passkeys::{CeremonyOptions, PasskeyAdded, PasskeyButton, PasskeyChanged, SignedInWithPasskey},
    ui::{CouldNotLoad, StatusMessage},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnPasskeys {
    /// Why passkeys can't be used here, if they can't.
    pub unavailable: Option<String>,
    /// Name, when added, when last used.
    pub passkeys: Vec<(i64, String, String, Option<String>)>,
    /// Signed in within the last 10 minutes.
    pub may_change: bool,
    pub default_name: String,
}

#[server(prefix = "/api/staff", endpoint = "passkeys")]
pub async fn staff_passkeys() -> Result<OwnPasskeys, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    Ok(portal_core::staff::passkeys::overview(&portal, &visit)
        .await?
        .into())
}

#[server(prefix = "/api/staff", endpoint = "passkey_registration")]
pub async fn staff_passkey_registration() -> Result<CeremonyOptions, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    let (options, token) =
        portal_core::staff::passkeys::start_registration(&portal, &visit).await?;
    crate::request::set_ceremony_cookie(&portal, &token);
    Ok(CeremonyOptions { options })
}

#[server(prefix = "/api/staff", endpoint = "add_passkey")]
pub async fn staff_add_passkey(
    #[server(default)] name: String,
    #[server(default)] credential: String,
) -> Result<PasskeyAdded, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    crate::request::clear_ceremony_cookie(&portal);
    let caller = crate::request::caller(&portal).await?;
    let added = portal_core::staff::passkeys::finish_registration(
        &portal,
        &visit,
        &caller,
        &name,
        &credential,
    );
    Ok(PasskeyAdded { name: added.await? })
}

#[server(prefix = "/api/staff", endpoint = "remove_passkey")]
pub async fn staff_remove_passkey(
    #[server(default)] passkey: String,
) -> Result<PasskeyChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    portal_core::staff::passkeys::remove(&portal, &visit, &passkey).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/staff/passkeys?removed");
    }
    Ok(PasskeyChanged {})
}

/// The password step of a sign-in with a passkey: a right password gets the options for the
/// staff member's own passkeys.
#[server(prefix = "/api/staff", endpoint = "passkey_challenge")]
pub async fn staff_passkey_challenge(
    #[server(default)] username: String,
    #[server(default)] password: String,
) -> Result<CeremonyOptions, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    let (options, token) =
        portal_core::staff::passkeys::start_sign_in(&portal, &caller, &username, &password).await?;
    crate::request::set_ceremony_cookie(&portal, &token);
    Ok(CeremonyOptions { options })
}

#[server(prefix = "/api/staff", endpoint = "passkey_sign_in")]
pub async fn staff_passkey_sign_in(
    #[server(default)] credential: String,
) -> Result<SignedInWithPasskey, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    let previous = crate::request::staff_session(&portal).await?;
    crate::request::clear_ceremony_cookie(&portal);
    let cookie = portal_core::staff::passkeys::finish_sign_in(
        &portal,
        &caller,
        previous.as_ref(),
        &credential,
    )
    .await?;
    crate::request::set_staff_cookie(&portal, &cookie);
    Ok(SignedInWithPasskey {
        next: "/staff".to_string(),
    })
}

#[component]
pub fn StaffPasskeysPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| staff_passkeys());
    let query = use_query_map();
    let notice = Signal::derive(move || {
        let query = query.read();
        if query.get("added").is_some() {
            Some(
                "Your passkey is added. Next time, sign in with your password and the passkey."
                    .to_string(),
            )
        } else if query.get("removed").is_some() {
            Some("The passkey is removed.".to_string())
        } else {
            None
        }
    });
    view! {
        <Title text="Your passkeys"/>
        <section class="card">
            <h1>"Your passkeys"</h1>
            <p class="lead">"A passkey (your phone's or computer's screen lock) can take the place of the authenticator code when you sign in. Your password is still needed."</p>
            <StatusMessage message=notice/>
            // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => view! { <Passkeys overview/> }.into_any(),
                    Err(error) => view! { <CouldNotLoad error sign_in="/staff/login"/> }.into_any(),
                }
            })}
        </section>
    }
}

#[component]
fn Passkeys(overview: OwnPasskeys) -> impl IntoView {
    if let Some(why) = overview.unavailable {
        return view! { <p>{why}</p> }.into_any();
    }
    let may_change = overview.may_change;
    view! {
        {overview.passkeys.is_empty().then(|| view! { <p class="empty">"You haven't added a passkey."</p> })}
        <ul class="security-list">
            {overview.passkeys.into_iter().map(|(id, name, added, used)| {
                let line_id = format!("staff-passkey-{id}");
                let used = used.map_or("never used yet".to_string(), |u| format!("last used {u}"));
                view! {
                    <li>
                        <div id=line_id.clone()>
                            <strong>{name}</strong>
                            <p class="hint">{format!("Added {added} · {used}")}</p>
                        </div>
                        {may_change.then(|| view! {
                            <form method="post" action="/api/staff/remove_passkey" class="button-form" data-whole-page="">
                                <input type="hidden" name="passkey" value=id.to_string()/>
                                <button type="submit" class="button secondary" aria-describedby=line_id>"Remove"</button>
                            </form>
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
        {match may_change {
            true => view! {
                <PasskeyButton action="staff-add" label="Add a passkey" class="button primary">
                    <div class="field">
                        <label for="passkey-name">"Passkey name"</label>
                        <input id="passkey-name" name="passkey_name" value=overview.default_name maxlength="60"/>
                    </div>
                </PasskeyButton>
            }.into_any(),
            false => view! {
                <p>"To add or remove a passkey, please log out and sign in again: it needs a sign-in in the last 10 minutes."</p>
            }.into_any(),
        }}
    }
    .into_any()
}
