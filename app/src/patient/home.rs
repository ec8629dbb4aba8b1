//! The signed-in part of the portal: its layout and navigation, the idle warning, the home page
//! and `/api/logout`. Everything under the layout needs a signed-in session.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::components::Outlet;

use crate::{
    account::Profile,
    error::{ErrorKind, PortalError},
    patient::{
        existing_patients::ChoosePasswordPage, me, profile::PendingNumber, Me, MobileStatus,
        ProfileResource,
    },
    practice::use_practice,
    ui::{CouldNotLoad, NavLink, StatusMessage},
};

/// Ends the session on the server. Harmless without one.
#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    if let Some(session) = &caller.session {
        portal_core::login::log_out(&portal, &caller, session).await?;
        crate::request::clear_session_cookie(&portal);
    }
    leptos_axum::redirect("/login");
    Ok(())
}

/// Loads the patient once for every signed-in page; sends anyone else to the login page.
#[component]
pub fn SignedInLayout() -> impl IntoView {
    let profile: ProfileResource = Resource::new_blocking(|| (), |_| me());
    provide_context(profile);
    let idle_seconds = use_practice().idle_timeout_seconds;
    view! {
        // Awaited in place (pages render on the server only): a <Suspense> here stalls a
        // share of responses, when the page inside loads data of its own.
        {move || Suspend::new(async move {
            match profile.await {
                // Signed in with the practice's one-time password: nothing else until the
                // patient has chosen their own.
                Err(e) if e.error == ErrorKind::MustChoosePassword => {
                    view! {
                        <IdleWatch idle_seconds/>
                        <ChoosePasswordPage/>
                    }
                        .into_any()
                }
                Ok(patient) => {
                    // The pages inside take the patient from here rather than read the
                    // resource again.
                    let cares_for = patient.cares_for;
                    provide_context(patient);
                    view! {
                        <IdleWatch idle_seconds/>
                        <SignedInNav cares_for/>
                        <Outlet/>
                    }
                        .into_any()
                }
                Err(error) => view! { <CouldNotLoad error sign_in="/login"/> }.into_any(),
            }
        })}
    }
}

/// Warns a minute before the server ends an idle session, offers to keep it, and at the end
/// takes the patient to the login page, so patient data doesn't stay on an unattended screen.
#[island]
fn IdleWatch(idle_seconds: u64) -> impl IntoView {
    crate::ui::enhance::awake("IdleWatch");
    let left = RwSignal::new(idle_seconds);
    // A deadline rather than a count of ticks: browsers slow timers in background tabs.
    let deadline = StoredValue::new(0.0_f64);
    let restart = move || {
        deadline.set_value(js_sys::Date::now() + idle_seconds as f64 * 1000.0);
        left.set(idle_seconds);
    };
    let watch = NodeRef::<leptos::html::Div>::new();
    // Stops for good: at the end, or once the page has moved on without this watch (logged out).
    let stopped = StoredValue::new(false);
    Effect::new(move |_| {
        restart();
        gloo_timers::callback::Interval::new(1_000, move || {
            if stopped.get_value() {
                return;
            }
            if watch.get_untracked().is_some_and(|el| !el.is_connected()) {
                stopped.set_value(true);
                return;
            }
            let ms = (deadline.get_value() - js_sys::Date::now()).max(0.0);
            left.set((ms / 1000.0).ceil() as u64);
        })
    });
    let keep_alive = ServerAction::<Me>::new();
    Effect::new(move |_| match keep_alive.value().get() {
        Some(Ok(_)) => restart(),
        Some(Err(e)) if e.error == ErrorKind::MustChoosePassword => restart(),
        Some(Err(_)) => left.set(0),
        None => {}
    });
    Effect::new(move |_| {
        if left.get() == 0 && !stopped.get_value() {
            stopped.set_value(true);
            crate::ui::enhance::go_to("/login?timeout=1");
        }
    });
    view! {
        <div class="idle-watch" node_ref=watch>
            <Show when=move || { left.get() <= 60 }>
                <div class="idle-warning" role="alert">
                    <p>
                        "For your security, you'll be signed out in "
                        <span aria-hidden="true">{move || left.get()}" seconds"</span>
                        <span class="visually-hidden">"under a minute"</span>
                        " because nothing has happened for a while."
                    </p>
                    <button
                        type="button"
                        class="button primary"
                        on:click=move |_| {
                            keep_alive.dispatch(Me {});
                        }
                    >
                        "Stay signed in"
                    </button>
                </div>
            </Show>
        </div>
    }
}

#[component]
fn SignedInNav(cares_for: bool) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    view! {
        <nav class="signed-in-nav" aria-label="Your account">
            <NavLink href="/" label="Home"/>
            <NavLink href="/profile" label="Personal Information"/>
            <NavLink href="/security" label="Sign-in and security" whole_page=true/>
            {cares_for.then(|| view! { <NavLink href="/caring" label="Acting for" whole_page=true/> })}
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
    let patient = StoredValue::new(use_context::<Profile>());
    let patient = move || patient.get_value();
    let query = leptos_router::hooks::use_query_map();
    let notice = Signal::derive(move || {
        patient().and_then(|p| crate::patient::profile::notice_for(&query.read(), &p))
    });
    view! {
        <Title text="Home"/>
        <section class="card">
            <h1>{move || patient().map(|p| format!("Welcome, {}", p.given_name))}</h1>
            <p class="lead">"You're signed in to your patient portal."</p>
            <StatusMessage message=notice/>
            {move || patient().map(|p| view! {
                <dl class="details">
                    <div class="mobile-status">
                        <dt>"Mobile number"</dt>
                        <dd>
                            {p.mobile_display.unwrap_or_else(|| "None on file".into())} " "
                            <MobileStatus verified=p.mobile_verified/>
                        </dd>
                    </div>
                </dl>
            })}
        </section>
        {move || patient().is_some_and(|p| p.nudge).then(|| view! {
            <crate::patient::recovery::MakeSigningInEasier/>
        })}
        // A new number saved but never verified: finish it, change it or cancel it.
        {move || patient().and_then(|p| p.pending_mobile_display).map(|pending| view! {
            <PendingNumber pending/>
        })}
    }
}
