//! Registration: the form, the `/api/register` server function, and the rules a new account must
//! meet. Every field is checked on the server and every problem is reported at once, beside its field.

// `register` takes the form's fields one by one: that is the API's shape.
#![allow(clippy::too_many_arguments)]

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    ui::{field_error, Field, FormMessage, NewPasswordFields, SubmitButton},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// True when the practice has switched two-factor authentication off.
    pub signed_in: bool,
    pub mobile_ending: String,
}

/// Creates the account. With two-factor authentication on, the session then waits for the
/// mobile number to be verified with a code.
#[server(prefix = "/api", endpoint = "register")]
pub async fn register(
    #[server(default)] username: String,
    #[server(default)] password: String,
    #[server(default)] confirm_password: Option<String>,
    #[server(default)] given_name: String,
    #[server(default)] family_name: String,
    #[server(default)] date_of_birth: String,
    #[server(default)] mobile: String,
    #[server(default)] email: Option<String>,
) -> Result<Registered, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    let form = portal_core::registration::RegistrationForm {
        username,
        password,
        confirm_password,
        given_name,
        family_name,
        date_of_birth,
        mobile,
        email,
    };
    let (registered, session) =
        portal_core::registration::register_patient(&portal, &caller, form).await?;
    crate::request::set_session_cookie(&portal, &session);
    leptos_axum::redirect(session.next_page());
    Ok(registered.into())
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let register = ServerAction::<Register>::new();
    let error = Signal::derive(move || register.value().get().and_then(Result::err));
    let field = move |name| field_error(error, name);

    view! {
        <Title text="Create your account"/>
        <section class="card">
            <h1>"Create your account"</h1>
            <p class="lead">
                "You'll need a mobile phone that can receive text messages. We text you a code to keep your records safe."
            </p>
            <ActionForm action=register attr:novalidate=true attr:class="form">
                <FormMessage error=error/>
                <Field name="given_name" label="Given name" autocomplete="given-name" error=field("given_name")/>
                <Field name="family_name" label="Family name" autocomplete="family-name" error=field("family_name")/>
                <Field
                    name="date_of_birth"
                    label="Date of birth"
                    kind="date"
                    autocomplete="bday"
                    error=field("date_of_birth")
                />
                <Field
                    name="email"
                    label="Email"
                    kind="email"
                    autocomplete="email"
                    hint="Optional."
                    error=field("email")
                />
                <Field
                    name="mobile"
                    label="Mobile number"
                    kind="tel"
                    autocomplete="tel"
                    hint="We'll text a code to this number."
                    error=field("mobile")
                />
                <Field name="username" label="Username" autocomplete="username" error=field("username")/>
                <NewPasswordFields error=error/>
                <SubmitButton label="Register" pending=register.pending()/>
            </ActionForm>
            <p class="aside">"Already registered? " <A href="/login">"Log in"</A></p>
        </section>
    }
}
