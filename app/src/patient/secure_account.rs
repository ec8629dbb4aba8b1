//! "Secure your account" (`/secure?t=…`), where a security notice's "This wasn't me" link leads.
//! Opening it changes nothing; "Secure my account" acts only with the account's password. The
//! rules are the core's `secure_account` module.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    practice::SupportContact,
    ui::{enhance::PageContext, field_error, CouldNotLoad, Field, FormMessage, SubmitButton},
};

/// Whether a link still works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    pub usable: bool,
    pub contact: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSecured {}

/// Reads a link: it changes nothing.
#[server(prefix = "/api", endpoint = "wasnt_me_link")]
pub async fn wasnt_me_link(#[server(default)] token: String) -> Result<LinkState, PortalError> {
    let portal = crate::request::portal()?;
    crate::request::no_store();
    Ok(portal_core::secure_account::link_state(&portal, &token)
        .await?
        .into())
}

/// "Secure my account": the link and the account's password.
#[server(prefix = "/api", endpoint = "secure_account")]
pub async fn secure_account(
    #[server(default)] token: String,
    #[server(default)] password: String,
) -> Result<AccountSecured, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    portal_core::secure_account::secure(&portal, &caller, &token, &password).await?;
    // Every session ended, this browser's too.
    crate::request::clear_session_cookie(&portal);
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/secure?secured");
    }
    Ok(AccountSecured {})
}

#[component]
pub fn SecureAccountPage() -> impl IntoView {
    let query = use_query_map();
    let token = query.read_untracked().get("t").unwrap_or_default();
    let secured = query.read_untracked().get("secured").is_some();
    let state = Resource::new_blocking(move || token.clone(), wasnt_me_link);
    view! {
        <Title text="Secure your account"/>
        <section class="card">
            <h1>"Secure your account"</h1>
            {move || Suspend::new(async move {
                if secured {
                    return view! { <Secured/> }.into_any();
                }
                match state.await {
                    Ok(state) if state.usable => {
                        let token = query.read_untracked().get("t").unwrap_or_default();
                        view! { <SecureForm token page=PageContext::here()/> }.into_any()
                    }
                    Ok(_) => view! {
                        <p role="alert">"This link has expired or was already used."</p>
                        <p class="support-line">"If something is wrong with your account, please contact the practice: " <SupportContact/></p>
                    }.into_any(),
                    Err(error) => view! { <CouldNotLoad error sign_in="/login"/> }.into_any(),
                }
            })}
        </section>
    }
}

#[component]
fn Secured() -> impl IntoView {
    view! {
        <p role="status">
            "Your account is secured and on hold. Every session is signed out, and the changes made since are taken back. Nobody can sign in until the practice opens it again with you."
        </p>
        <p class="support-line">"Please contact the practice: " <SupportContact/></p>
    }
}

/// The password, then "Secure my account"; the answer in place once the page's scripts wake.
#[island]
fn SecureForm(token: String, page: PageContext) -> impl IntoView {
    crate::ui::enhance::awake("SecureForm");
    page.provide();
    let secure = ServerAction::<SecureAccount>::new();
    let error = Signal::derive(move || secure.value().get().and_then(Result::err));
    view! {
        {move || match secure.value().get() {
            Some(Ok(_)) => view! { <Secured/> }.into_any(),
            _ => {
                let token = token.clone();
                view! {
                <p class="lead">
                    "If you didn't make the change we told you about, someone else may have your password or your phone. Securing your account signs it out everywhere, takes back the passkeys and the mobile number added since, and holds it until the practice opens it again with you."
                </p>
                <ActionForm action=secure attr:novalidate=true attr:class="form">
                    <FormMessage error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
                    <input type="hidden" name="token" value=token/>
                    <Field
                        name="password"
                        label="Password"
                        kind="password"
                        autocomplete="current-password"
                        hint="Your portal password: so that only you can do this."
                        error=field_error(error, "password")
                    />
                    <SubmitButton label="Secure my account" pending=secure.pending()/>
                </ActionForm>
            }.into_any()
            }
        }}
    }
}
