//! Staff sign-in (`/staff/login`): username, password and authenticator code (or a recovery
//! code) in one step. Wrong answers all look alike and get the same growing delays as
//! patients'; an authenticator code works once.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;

use super::SignedInStaff;
use crate::{
    error::PortalError,
    passkeys::PasskeyButton,
    practice::use_practice,
    ui::{Field, FormMessage, SubmitButton},
};

#[server(prefix = "/api/staff", endpoint = "login")]
pub async fn staff_login(
    #[server(default)] username: String,
    #[server(default)] password: String,
    #[server(default)] code: String,
) -> Result<SignedInStaff, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    let previous = crate::request::staff_session(&portal).await?;
    let (me, cookie) = portal_core::staff::sign_in::log_in(
        &portal,
        &caller,
        previous.as_ref(),
        &username,
        &password,
        &code,
    )
    .await?;
    crate::request::set_staff_cookie(&portal, &cookie);
    leptos_axum::redirect("/staff");
    Ok(me.into())
}

/// Ends the staff session on the server. Harmless without one.
#[server(prefix = "/api/staff", endpoint = "logout")]
pub async fn staff_logout() -> Result<(), PortalError> {
    let portal = crate::request::portal()?;
    if let Some(session) = crate::request::staff_session(&portal).await? {
        let caller = crate::request::caller(&portal).await?;
        portal_core::staff::sign_in::log_out(&portal, &caller, &session).await?;
    }
    crate::request::clear_staff_cookie(&portal);
    leptos_axum::redirect("/staff/login");
    Ok(())
}

/// Who is signed in as staff, or 401.
#[server(prefix = "/api/staff", endpoint = "me")]
pub async fn staff_me() -> Result<SignedInStaff, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    Ok(SignedInStaff {
        username: visit.member.username,
        role: visit.member.role.into(),
    })
}

#[component]
pub fn StaffLoginPage() -> impl IntoView {
    let login = ServerAction::<StaffLogin>::new();
    let error = Signal::derive(move || login.value().get().and_then(Result::err));
    view! {
        <Title text="Staff sign-in"/>
        <section class="card">
            <h1>"Staff sign-in"</h1>
            <p class="lead">"For the practice's support staff and administrators."</p>
            <ActionForm action=login attr:novalidate=true attr:class="form">
                <FormMessage error=error/>
                <Field name="username" label="Username" autocomplete="username"/>
                <Field name="password" label="Password" kind="password" autocomplete="current-password"/>
                <Field
                    name="code"
                    label="Authenticator code"
                    autocomplete="one-time-code"
                    hint="The 6 digits your authenticator app shows now, or one of your recovery codes."
                />
                <SubmitButton label="Log in" pending=login.pending()/>
                {use_practice().passkeys.then(|| view! {
                    <div class="or-passkey">
                        <p class="aside">"Added a passkey? Type your username and password, then:"</p>
                        <PasskeyButton action="staff-sign-in" label="Use a passkey instead of the code"/>
                    </div>
                })}
            </ActionForm>
        </section>
    }
}
