//! The signed-in part of the portal: its layout and navigation, the home page, `/api/me` and
//! `/api/logout`. Everything under the layout needs a signed-in session.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::components::{Outlet, Redirect, A};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, PortalError};

/// The signed-in patient, as `/api/me` returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub email: Option<String>,
    /// E.164.
    pub mobile: Option<String>,
    pub mobile_verified: bool,
}

#[server(prefix = "/api", endpoint = "me")]
pub async fn me() -> Result<Profile, PortalError> {
    let portal = crate::request::portal()?;
    let (_, account) = crate::request::signed_in(&portal).await?;
    Ok(Profile {
        username: account.username,
        given_name: account.given_name,
        family_name: account.family_name,
        date_of_birth: account.date_of_birth,
        email: account.email,
        mobile: account.mobile,
        mobile_verified: account.mobile_verified_at.is_some(),
    })
}

/// Ends the session on the server. Harmless without one.
#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), PortalError> {
    let portal = crate::request::portal()?;
    if let Some(session) = crate::request::session(&portal).await? {
        crate::request::end_session(&portal, &session).await?;
        crate::request::audit(&portal, Some(session.account_id), "logged_out", "ok", None).await;
    }
    leptos_axum::redirect("/login");
    Ok(())
}

/// The signed-in patient's profile, for the pages under [`SignedInLayout`].
pub type ProfileResource = Resource<Result<Profile, PortalError>>;

/// Loads the patient once for every signed-in page; sends anyone else to the login page.
#[component]
pub fn SignedInLayout() -> impl IntoView {
    let profile: ProfileResource = Resource::new_blocking(|| (), |_| me());
    provide_context(profile);
    view! {
        <Suspense fallback=|| view! { <p class="card">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match profile.await {
                    Ok(_) => view! { <SignedInNav/> <Outlet/> }.into_any(),
                    Err(e) if e.error == ErrorKind::Unauthorized => {
                        view! { <Redirect path="/login"/> }.into_any()
                    }
                    Err(e) => view! { <p class="card" role="alert">{e.message}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SignedInNav() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    view! {
        <nav class="signed-in-nav" aria-label="Your account">
            <A href="/">"Home"</A>
            <ActionForm action=logout attr:class="logout">
                <button type="submit" class="button link" aria-busy=move || logout.pending().get().to_string()>
                    "Log out"
                </button>
            </ActionForm>
        </nav>
    }
}

#[component]
pub fn HomePage() -> impl IntoView {
    let profile = expect_context::<ProfileResource>();
    let greeting = move || {
        profile
            .get()
            .and_then(Result::ok)
            .map(|p| format!("Welcome, {}", p.given_name))
            .unwrap_or_default()
    };
    view! {
        <Title text="Home"/>
        <section class="card">
            <h1>{greeting}</h1>
            <p class="lead">"You're signed in to your patient portal."</p>
        </section>
    }
}
