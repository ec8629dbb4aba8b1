//! Enrolment (`/staff/enrol?token=…`): a new staff member follows the one-time link that
//! `server staff add` printed, chooses a password, adds the portal to an authenticator app (QR
//! code, or the secret typed in), proves it with a first code, and is shown ten recovery codes
//! once.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    ui::{enhance::PageContext, field_error, Field, FormMessage, NewPasswordFields, SubmitButton},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentDetails {
    pub username: String,
    /// The authenticator secret in base32, grouped in fours for typing.
    pub secret: String,
    /// The `otpauth://` link as a QR code: an SVG data URL.
    pub qr_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    pub recovery_codes: Vec<String>,
}

#[server(prefix = "/api/staff", endpoint = "enrolment")]
pub async fn enrolment_start(
    #[server(default)] token: String,
) -> Result<EnrolmentDetails, PortalError> {
    let portal = crate::request::portal()?;
    let browser = crate::request::enrolment_browser(&portal);
    let (details, new_browser) =
        portal_core::staff::enrolment::start(&portal, &token, browser.as_deref()).await?;
    if let Some(browser) = new_browser {
        crate::request::set_enrolment_browser(&portal, &browser);
    }
    Ok(details.into())
}

#[server(prefix = "/api/staff", endpoint = "finish_enrolment")]
pub async fn finish_enrolment(
    #[server(default)] token: String,
    #[server(default)] password: String,
    #[server(default)] confirm_password: Option<String>,
    #[server(default)] code: String,
) -> Result<Enrolled, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    let enrolled = portal_core::staff::enrolment::finish(
        &portal,
        &caller,
        &token,
        &password,
        confirm_password.as_deref(),
        &code,
    )
    .await?;
    Ok(enrolled.into())
}

#[component]
pub fn EnrolPage() -> impl IntoView {
    let query = use_query_map();
    let token = query.read_untracked().get("token").unwrap_or_default();
    let start = Resource::new_blocking(
        {
            let token = token.clone();
            move || token.clone()
        },
        enrolment_start,
    );
    view! {
        <Title text="Set up your staff account"/>
        <section class="card">
            <h1>"Set up your staff account"</h1>
            // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
            {move || {
                let token = token.clone();
                Suspend::new(async move {
                    match start.await {
                        Ok(start) => view! { <Enrolment start token page=PageContext::here()/> }.into_any(),
                        Err(e) => view! { <p role="alert">{e.message}</p> }.into_any(),
                    }
                })
            }}
        </section>
    }
}

/// The form wakes in the browser, and gives way to the recovery codes once enrolled.
#[island(lazy)]
fn Enrolment(start: EnrolmentDetails, token: String, page: PageContext) -> impl IntoView {
    crate::ui::enhance::awake("Enrolment");
    page.provide();
    let finish = ServerAction::<FinishEnrolment>::new();
    let start = StoredValue::new(start);
    let token = StoredValue::new(token);
    // A refusal keeps the form (and what was typed); only success replaces it.
    let enrolled = Memo::new(move |_| finish.value().get().and_then(Result::ok));
    move || match enrolled.get() {
        Some(enrolled) => view! { <RecoveryCodes enrolled/> }.into_any(),
        None => {
            view! { <EnrolForm start=start.get_value() token=token.get_value() finish/> }.into_any()
        }
    }
}

#[component]
fn EnrolForm(
    start: EnrolmentDetails,
    token: String,
    finish: ServerAction<FinishEnrolment>,
) -> impl IntoView {
    let error = Signal::derive(move || finish.value().get().and_then(Result::err));
    view! {
        <p class="lead">"Welcome, " <strong>{start.username}</strong> ". Three steps and you're in."</p>
        <ActionForm action=finish attr:novalidate=true attr:class="form">
            <FormMessage error=error/>
            <input type="hidden" name="token" value=token/>
            <h2>"1. Choose a password"</h2>
            <NewPasswordFields error=error/>
            <h2>"2. Add the portal to your authenticator app"</h2>
            <p>"Scan this code with your authenticator app, or type in the key below it."</p>
            <img class="qr-code" src=start.qr_code alt="QR code for your authenticator app" width="200" height="200"/>
            <p>"Key: " <code class="secret">{start.secret}</code></p>
            <h2>"3. Enter the code it shows"</h2>
            <Field
                name="code"
                label="Authenticator code"
                autocomplete="one-time-code"
                inputmode="numeric"
                hint="The 6 digits your app shows for this portal."
                error=field_error(error, "code")
            />
            <SubmitButton label="Finish enrolment" pending=finish.pending()/>
        </ActionForm>
    }
}

#[component]
fn RecoveryCodes(enrolled: Enrolled) -> impl IntoView {
    view! {
        <div role="status" class="status-message"><p>"You're enrolled."</p></div>
        <h2>"Your recovery codes"</h2>
        <p>
            "Keep these somewhere safe. Each one signs you in once in place of an authenticator code, if you lose your phone. They won't be shown again."
        </p>
        <ul class="recovery-codes">
            {enrolled.recovery_codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
        </ul>
        <p><a class="button primary" href="/staff/login">"Go to staff sign-in"</a></p>
    }
}
