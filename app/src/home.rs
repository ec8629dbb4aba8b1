//! The signed-in part of the portal: its layout and navigation, the home page, `/api/me` and
//! `/api/logout`. Everything under the layout needs a signed-in session.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::components::{Outlet, Redirect, A};
use serde::{Deserialize, Serialize};

use crate::{
    error::{ErrorKind, PortalError},
    existing_patients::ChoosePasswordPage,
};

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
    /// The number as the patient would write it.
    pub mobile_display: Option<String>,
    pub mobile_verified: bool,
    /// A signed-in session ends after this long without a request.
    pub idle_timeout_seconds: u64,
    /// Signed in with a one-time password from the practice: must choose their own first.
    pub must_change_password: bool,
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
        mobile_display: account
            .mobile
            .as_deref()
            .map(|m| crate::mobile::for_display(m, portal.settings.default_region)),
        mobile: account.mobile,
        mobile_verified: account.mobile_verified_at.is_some(),
        idle_timeout_seconds: portal.settings.session_idle_seconds as u64,
        must_change_password: account.must_change_password != 0,
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
                    Ok(profile) if profile.must_change_password => {
                        view! {
                            <IdleWatch idle_seconds=profile.idle_timeout_seconds/>
                            <ChoosePasswordPage/>
                        }
                            .into_any()
                    }
                    Ok(profile) => {
                        view! {
                            <IdleWatch idle_seconds=profile.idle_timeout_seconds/>
                            <SignedInNav/>
                            <Outlet/>
                        }
                            .into_any()
                    }
                    Err(e) if e.error == ErrorKind::Unauthorized => {
                        view! { <Redirect path="/login"/> }.into_any()
                    }
                    Err(e) => view! { <p class="card" role="alert">{e.message}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Restarts the idle countdown; pages call it when they have talked to the server.
#[derive(Clone, Copy)]
pub struct IdleTimer(Callback<()>);

impl IdleTimer {
    pub fn restart(&self) {
        self.0.run(());
    }
}

/// Warns a minute before the server ends an idle session, offers to keep it, and at the end
/// takes the patient to the login page, so patient data doesn't stay on an unattended screen.
#[component]
fn IdleWatch(idle_seconds: u64) -> impl IntoView {
    let left = RwSignal::new(idle_seconds);
    // A deadline rather than a count of ticks: browsers slow timers in background tabs.
    let deadline = StoredValue::new(0.0_f64);
    let restart = Callback::new(move |_: ()| {
        deadline.set_value(js_sys::Date::now() + idle_seconds as f64 * 1000.0);
        left.set(idle_seconds);
    });
    provide_context(IdleTimer(restart));
    Effect::new(move |_| {
        restart.run(());
        gloo_timers::callback::Interval::new(1_000, move || {
            let ms = (deadline.get_value() - js_sys::Date::now()).max(0.0);
            left.set((ms / 1000.0).ceil() as u64);
        })
    });
    let keep_alive = ServerAction::<Me>::new();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| match keep_alive.value().get() {
        Some(Ok(_)) => restart.run(()),
        Some(Err(_)) => left.set(0),
        None => {}
    });
    Effect::new(move |_| {
        if left.get() == 0 {
            navigate("/login?timeout=1", Default::default());
        }
    });
    view! {
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
    }
}

#[component]
fn SignedInNav() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    view! {
        <nav class="signed-in-nav" aria-label="Your account">
            <A href="/">"Home"</A>
            <A href="/profile">"Personal Information"</A>
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
    let patient = move || profile.get().and_then(Result::ok);
    view! {
        <Title text="Home"/>
        <section class="card">
            <h1>{move || patient().map(|p| format!("Welcome, {}", p.given_name))}</h1>
            <p class="lead">"You're signed in to your patient portal."</p>
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
    }
}

/// "Verified" or "Not verified", in words and colour.
#[component]
pub fn MobileStatus(verified: bool) -> impl IntoView {
    if verified {
        view! { <span class="badge ok">"Verified"</span> }
    } else {
        view! { <span class="badge warn">"Not verified"</span> }
    }
}
