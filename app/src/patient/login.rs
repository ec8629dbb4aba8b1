//! Logging in: the `/login` page and `/api/login`. A right password moves the session to the 2FA
//! step (sending the code at once to a verified mobile); wrong answers all look alike, and
//! repeated failures make each further attempt wait.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    passkeys::PasskeyButton,
    practice::use_practice,
    ui::{Field, FormMessage, StatusMessage, SubmitButton},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedIn {
    /// Signed in already: two-factor authentication is off.
    pub signed_in: bool,
    /// A code went to the verified mobile (flow 2.1); otherwise the patient must give a number (2.2).
    pub code_sent: bool,
    pub mobile_ending: Option<String>,
}

#[server(prefix = "/api", endpoint = "login")]
pub async fn login(
    #[server(default)] username: String,
    #[server(default)] password: String,
) -> Result<LoggedIn, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    let step = portal_core::login::password::log_in(&portal, &caller, &username, &password).await?;
    crate::request::set_session_cookie(&portal, &step.session);
    if let Some(device) = &step.device {
        crate::request::set_device_cookie(&portal, &device.token, device.kept_for);
    }
    leptos_axum::redirect(step.session.next_page());
    Ok(step.logged_in.into())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = Signal::derive(move || login.value().get().and_then(Result::err));
    let query = use_query_map();
    let notice = Signal::derive(move || {
        query.read().get("timeout").map(|_| {
            "You were signed out because you had been inactive for a while. Please log in again."
                .to_string()
        })
    });
    view! {
        <Title text="Log in"/>
        <section class="card">
            <h1>"Log in"</h1>
            <StatusMessage message=notice/>
            <ActionForm action=login attr:novalidate=true attr:class="form">
                <FormMessage error=error/>
                // Where passkeys work, the field's autofill offers them too.
                <Field
                    name="username"
                    label="Username"
                    autocomplete=if use_practice().passkeys { "username webauthn" } else { "username" }
                />
                <Field
                    name="password"
                    label="Password"
                    kind="password"
                    autocomplete="current-password"
                />
                <SubmitButton label="Log in" pending=login.pending()/>
            </ActionForm>
            {use_practice().passkeys.then(|| view! {
                <div class="or-passkey">
                    <p class="aside">"Or, if you've added a passkey:"</p>
                    <PasskeyButton action="sign-in" label="Sign in with a passkey"/>
                </div>
            })}
            <p class="aside">"New to the portal? " <A href="/register">"Create an account"</A></p>
        </section>
    }
}
