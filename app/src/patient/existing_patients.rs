//! Bringing a practice's existing patients into the portal: the CSV import (run by the server's
//! `import-patients` command), and the first sign-in of a patient who was given a one-time
//! password, who must choose their own before seeing anything else.
//!
//! Imported patients have no verified mobile, so their first login asks for one (flow 2.2).

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    ui::{field_error, Field, FormMessage, NewPasswordFields, SubmitButton},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChosen {}

/// Replaces a one-time password with the patient's own.
#[server(prefix = "/api", endpoint = "choose_password")]
pub async fn choose_password(
    #[server(default)] one_time_password: String,
    #[server(default)] password: String,
    #[server(default)] confirm_password: Option<String>,
) -> Result<PasswordChosen, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::choosing_password(&portal).await?;
    portal_core::existing_patients::choose_password(
        &portal,
        &visit,
        &one_time_password,
        &password,
        confirm_password.as_deref(),
    )
    .await?;
    // Signed in: the portal itself; after support's reset: the new number.
    leptos_axum::redirect(visit.session.stage.page());
    Ok(PasswordChosen {})
}

#[component]
pub fn ChoosePasswordPage() -> impl IntoView {
    let choose = ServerAction::<ChoosePassword>::new();
    let error = Signal::derive(move || choose.value().get().and_then(Result::err));
    // Once chosen, the signed-in pages reload the patient and show the portal itself.
    let profile = use_context::<crate::patient::ProfileResource>();
    Effect::new(move |_| {
        if let (Some(Ok(_)), Some(profile)) = (choose.value().get(), profile) {
            profile.refetch();
        }
    });
    view! {
        <Title text="Choose your password"/>
        <section class="card">
            <h1>"Choose your password"</h1>
            <p class="lead">
                "You signed in with a password from the practice. Please choose your own now; nobody else will know it."
            </p>
            <ActionForm action=choose attr:novalidate=true attr:class="form">
                <FormMessage error=error/>
                <Field
                    name="one_time_password"
                    label="One-time password from the practice"
                    kind="password"
                    autocomplete="current-password"
                    error=field_error(error, "one_time_password")
                />
                <NewPasswordFields error=error/>
                <SubmitButton label="Save password" pending=choose.pending()/>
            </ActionForm>
        </section>
    }
}
