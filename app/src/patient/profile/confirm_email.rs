//! "Confirm your email address" (`/confirm-email?t=…`), where the link emailed to a new address
//! leads. Opening it changes nothing; "Confirm" does, so that the address is the patient's own
//! choice and not a mail scanner's. The rules are the core's `profile` module.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    ui::{enhance::PageContext, CouldNotLoad, FormMessage, SubmitButton},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailConfirmed {}

/// Whether a link still waits. It changes nothing.
#[server(prefix = "/api", endpoint = "email_link")]
pub async fn email_link(#[server(default)] token: String) -> Result<bool, PortalError> {
    let portal = crate::request::portal()?;
    crate::request::no_store();
    Ok(portal_core::email_confirmation::email_link_waits(&portal, &token).await?)
}

/// "Confirm": the address the link went to is confirmed.
#[server(prefix = "/api", endpoint = "confirm_email")]
pub async fn confirm_email(
    #[server(default)] token: String,
) -> Result<EmailConfirmed, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    portal_core::email_confirmation::confirm_email(&portal, &caller, &token).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/confirm-email?confirmed");
    }
    Ok(EmailConfirmed {})
}

#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let query = use_query_map();
    let token = query.read_untracked().get("t").unwrap_or_default();
    let confirmed = query.read_untracked().get("confirmed").is_some();
    let waits = Resource::new_blocking(move || token.clone(), email_link);
    view! {
        <Title text="Confirm your email address"/>
        <section class="card">
            <h1>"Confirm your email address"</h1>
            {move || Suspend::new(async move {
                if confirmed {
                    return view! { <Confirmed/> }.into_any();
                }
                match waits.await {
                    Ok(true) => {
                        let token = query.read_untracked().get("t").unwrap_or_default();
                        view! { <ConfirmForm token page=PageContext::here()/> }.into_any()
                    }
                    Ok(false) => view! {
                        <p role="alert">
                            "This link has expired or was already used. You can ask for a new one on your Personal Information page."
                        </p>
                    }.into_any(),
                    Err(error) => view! { <CouldNotLoad error sign_in="/login"/> }.into_any(),
                }
            })}
        </section>
    }
}

#[component]
fn Confirmed() -> impl IntoView {
    view! {
        <p role="status">
            "Thank you: your email address is confirmed. We'll tell you there of changes to how you sign in."
        </p>
        <p><a href="/">"Go to your patient portal"</a></p>
    }
}

#[island]
fn ConfirmForm(token: String, page: PageContext) -> impl IntoView {
    crate::ui::enhance::awake("ConfirmForm");
    page.provide();
    let confirm = ServerAction::<ConfirmEmail>::new();
    let error = Signal::derive(move || confirm.value().get().and_then(Result::err));
    view! {
        {move || match confirm.value().get() {
            Some(Ok(_)) => view! { <Confirmed/> }.into_any(),
            _ => {
                let token = token.clone();
                view! {
                    <p class="lead">"Choose Confirm if you gave this address to your patient portal. We'll use it to tell you of changes to how you sign in."</p>
                    <ActionForm action=confirm attr:class="form">
                        <FormMessage error/>
                        <input type="hidden" name="token" value=token/>
                        <SubmitButton label="Confirm" pending=confirm.pending()/>
                    </ActionForm>
                }.into_any()
            }
        }}
    }
}
