//! Form pieces every page shares: labelled fields with their error beside them, the busy submit
//! button, and the form-level message. Errors are announced to screen readers.

pub mod enhance;
mod modal;
pub mod plain_forms;

use leptos::prelude::*;

pub use modal::{use_modal, Modal};
pub use plain_forms::use_hydrated;

use crate::error::PortalError;

/// A labelled input. Its hint and error are tied to it with `aria-describedby`.
#[component]
pub fn Field(
    /// The request field's name; also the basis of the element IDs.
    name: &'static str,
    label: &'static str,
    #[prop(optional, into)] error: Signal<Option<String>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional, into)] hint: String,
    #[prop(optional)] inputmode: &'static str,
    /// The initial value, e.g. the number on file. What the patient typed into a refused plain
    /// post comes back instead (never into a password field).
    #[prop(optional, into)]
    value: String,
    /// An ID prefix, where the same field appears twice in one page.
    #[prop(default = "")]
    scope: &'static str,
) -> impl IntoView {
    let id = format!("{scope}{name}");
    let value = match kind {
        "password" => String::new(),
        _ => plain_forms::typed_value(name).unwrap_or(value),
    };
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = if hint.is_empty() {
        error_id.clone()
    } else {
        format!("{hint_id} {error_id}")
    };
    let invalid = move || error.get().is_some();
    view! {
        <div class="field" class:invalid=invalid>
            <label for=id.clone()>{label}</label>
            {(!hint.is_empty()).then(move || view! { <p class="hint" id=hint_id>{hint}</p> })}
            <input
                id=id
                name=name
                type=kind
                value=value
                autocomplete=(!autocomplete.is_empty()).then_some(autocomplete)
                inputmode=(!inputmode.is_empty()).then_some(inputmode)
                aria-invalid=move || invalid().to_string()
                aria-describedby=described_by
            />
            <p class="field-error" id=error_id aria-live="polite">
                {move || error.get()}
            </p>
        </div>
    }
}

/// The message for one field out of a form's error, for [`Field`]'s `error`.
pub fn field_error(
    error: Signal<Option<PortalError>>,
    name: &'static str,
) -> Signal<Option<String>> {
    Signal::derive(move || error.get().and_then(|e| e.field_message(name)))
}

/// "Password" and "Confirm password" for choosing a new password, with the rules as a hint.
#[component]
pub fn NewPasswordFields(#[prop(into)] error: Signal<Option<PortalError>>) -> impl IntoView {
    view! {
        <Field
            name="password"
            label="Password"
            kind="password"
            autocomplete="new-password"
            hint="At least 12 characters. A few words strung together are easy to remember and hard to guess."
            error=field_error(error, "password")
        />
        <Field
            name="confirm_password"
            label="Confirm password"
            kind="password"
            autocomplete="new-password"
            error=field_error(error, "confirm_password")
        />
    }
}

/// A submit button that shows it is working and cannot be pressed twice.
#[component]
pub fn SubmitButton(
    label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional, into)] disabled: Signal<bool>,
    #[prop(default = "primary")] class: &'static str,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            class=format!("button {class}")
            disabled=move || pending.get() || disabled.get()
            aria-busy=move || pending.get().to_string()
        >
            {label}
        </button>
    }
}

/// The form-level message: what went wrong overall ("Please check the highlighted details.").
#[component]
pub fn FormMessage(#[prop(into)] error: Signal<Option<PortalError>>) -> impl IntoView {
    view! {
        <div class="form-message" role="alert">
            {move || {
                error
                    .get()
                    .map(|e| {
                        view! {
                            <p>{e.message}</p>
                            <Reference reference=e.reference/>
                        }
                    })
            }}
        </div>
    }
}

/// What a page shows when what it needs couldn't be loaded: the way to sign in when the
/// session has ended, otherwise the error, with its status.
#[component]
pub fn CouldNotLoad(
    error: PortalError,
    /// Where a visitor without a session signs in.
    sign_in: &'static str,
) -> impl IntoView {
    if error.error == crate::error::ErrorKind::Unauthorized {
        return view! { <leptos_router::components::Redirect path=sign_in/> }.into_any();
    }
    answer_with_status(&error);
    // A fault of ours, met while rendering on the server: this request's ID is its reference.
    #[cfg(feature = "ssr")]
    let reference = error.reference.clone().or_else(|| {
        (error.status() >= 500)
            .then(crate::request::request_id)
            .flatten()
    });
    #[cfg(not(feature = "ssr"))]
    let reference = error.reference.clone();
    view! {
        <div class="card" role="alert">
            <p>{error.message}</p>
            <Reference reference/>
        </div>
    }
    .into_any()
}

/// A fault's reference, for the patient to quote when they call the practice.
#[component]
fn Reference(reference: Option<String>) -> impl IntoView {
    reference.map(|reference| {
        view! {
            <p class="reference">
                "If you call the practice about this, give them this reference: "
                <strong>{reference}</strong>
            </p>
        }
    })
}

/// Gives a page rendered on the server the status of the error it shows (a 503 while the
/// database is unreachable, say), so the answer is honest about it.
pub fn answer_with_status(error: &PortalError) {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(error.status()),
    ) {
        response.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = error;
}

/// A calm confirmation, announced politely.
#[component]
pub fn StatusMessage(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <div class="status-message" role="status">
            {move || message.get().map(|m| view! { <p>{m}</p> })}
        </div>
    }
}

/// A link in a navigation bar, marked as the current page where it is one. The mark is always
/// written ("page" or "false"): the islands router updates the attributes a page has, and never
/// takes one away.
#[component]
pub fn NavLink(
    href: &'static str,
    label: &'static str,
    /// Loaded as a whole page, not put in place by the islands router: for a page rendered
    /// only on the server whose lists vary in length, which the router's node-by-node matching
    /// can leave half old.
    #[prop(optional)]
    whole_page: bool,
) -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let current = move || {
        if location.pathname.get() == href {
            "page"
        } else {
            "false"
        }
    };
    let rel = whole_page.then_some("external");
    view! { <a href=href aria-current=current rel=rel>{label}</a> }
}
