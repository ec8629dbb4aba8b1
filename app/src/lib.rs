//! The patient portal: pages, server functions and the shared types between them. Everything
//! that only the server may run (database, codes, SMS, passwords, phone rules) sits behind the
//! `ssr` feature.

// Islands' view types nest deeply where components are not erased (test builds).
#![recursion_limit = "256"]

pub mod account;
pub mod error;
pub mod one_time_code;
pub mod passkeys;
pub mod patient;
pub mod practice;
pub mod staff;
pub mod ui;

// The rules the server alone runs, from the core crate, under the names `app` has always used.
#[cfg(feature = "ssr")]
pub use portal_core::{
    audit, caller, caregivers, clock, demo_data, devices, existing_patients, fraud_guard, gsm7,
    limits, login, login_gate, mail, metrics, mobile, notify, password, portal, proof,
    registration, secret, security, session, sign_in, sms, store, text_budget,
};

#[cfg(feature = "ssr")]
mod from_core;
#[cfg(feature = "ssr")]
pub mod page_policy;
#[cfg(feature = "ssr")]
pub mod request;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode,
};

use crate::{
    patient::{
        caregivers::{ActingForPage, CaringPage},
        confirm::ConfirmPage,
        home::{HomePage, SignedInLayout},
        login::LoginPage,
        profile::{confirm_email::ConfirmEmailPage, ChangeMobilePage, ProfilePage},
        recovery::CantGetCodePage,
        registration::RegisterPage,
        secure_account::SecureAccountPage,
        security::SecurityPage,
        verification::VerifyPage,
    },
    practice::{Footer, Header, Practice},
    staff::{
        audit_log::AuditLogPage,
        enrolment::EnrolPage,
        overview::OverviewPage,
        passkeys::StaffPasskeysPage,
        settings::SettingsPage,
        sign_in::StaffLoginPage,
        support::{PatientPage, SearchPage},
        team::TeamPage,
        StaffLayout,
    },
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    page_policy::for_this_page(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="description" content="Your patient portal: your health records, kept safe."/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                // With cargo-leptos's content-hashed names, the one this build made.
                <HashedStylesheet options=options.clone() id="portal"/>
                <HydrationScripts options islands=true islands_router=true/>
                <script nonce=leptos::nonce::use_nonce() inner_html=FORMS_THE_BROWSER_SENDS></script>
                // The browser's half of a passkey ceremony: a few lines, no wasm.
                <script src="/passkeys.js" defer></script>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Forms the browser sends itself, as without scripts, so that their answer loads as a page:
/// a form in an island that hasn't woken yet (its wasm still on its way, on a slow phone), and a
/// form marked `data-whole-page`. The islands router would post them and put the answer in place
/// around an island but never into it, so a search's results or a refused code's message would
/// not be shown; and it matches old and new nodes one by one, so a list that got shorter (a
/// session signed out) would keep lines it no longer has. Inline, so it holds from the first
/// paint, before any wasm.
const FORMS_THE_BROWSER_SENDS: &str = "addEventListener(\"submit\",function(e){var f=e.target,i=f.closest(\"leptos-island\");if(f.hasAttribute(\"data-whole-page\")||i&&!i.hasAttribute(\"data-awake\"))e.stopImmediatePropagation()},true)";

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    Practice::provide();
    ui::plain_forms::provide();

    view! {
        <Title formatter=move |page: String| format!("{page} · Patient Portal")/>
        <Router>
            <Header/>
            <main id="main">
                <Routes fallback=NotFound>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/register") view=RegisterPage/>
                    // These wait for the session check before sending anything, so that a
                    // visitor who may not see them gets a real redirect.
                    <Route path=path!("/verify") view=VerifyPage ssr=SsrMode::Async/>
                    <Route path=path!("/cant-get-a-code") view=CantGetCodePage ssr=SsrMode::Async/>
                    <Route path=path!("/secure") view=SecureAccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/confirm-email") view=ConfirmEmailPage ssr=SsrMode::Async/>
                    <ParentRoute path=path!("") view=SignedInLayout ssr=SsrMode::Async>
                        <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                        <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::Async/>
                        <Route path=path!("/profile/mobile") view=ChangeMobilePage ssr=SsrMode::Async/>
                        <Route path=path!("/security") view=SecurityPage ssr=SsrMode::Async/>
                        <Route path=path!("/confirm") view=ConfirmPage ssr=SsrMode::Async/>
                        <Route path=path!("/caring") view=CaringPage ssr=SsrMode::Async/>
                        <Route path=path!("/for/:grant") view=ActingForPage ssr=SsrMode::Async/>
                    </ParentRoute>
                    // The practice's side.
                    <Route path=path!("/staff/login") view=StaffLoginPage/>
                    <Route path=path!("/staff/enrol") view=EnrolPage ssr=SsrMode::Async/>
                    <ParentRoute path=path!("/staff") view=StaffLayout ssr=SsrMode::Async>
                        <Route path=path!("") view=SearchPage ssr=SsrMode::Async/>
                        <Route path=path!("patients/:patient") view=PatientPage ssr=SsrMode::Async/>
                        <Route path=path!("settings") view=SettingsPage ssr=SsrMode::Async/>
                        <Route path=path!("audit") view=AuditLogPage ssr=SsrMode::Async/>
                        <Route path=path!("overview") view=OverviewPage ssr=SsrMode::Async/>
                        <Route path=path!("team") view=TeamPage ssr=SsrMode::Async/>
                        <Route path=path!("passkeys") view=StaffPasskeysPage ssr=SsrMode::Async/>
                    </ParentRoute>
                </Routes>
            </main>
            <Footer/>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <section class="card">
            <h1>"Page not found"</h1>
            <p>"There's nothing at this address. " <a href="/">"Go to the portal's home page"</a>"."</p>
        </section>
    }
}
