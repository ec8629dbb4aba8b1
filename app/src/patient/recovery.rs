//! Saved recovery codes (a lost phone without a phone call): "Can't get a code?" after the
//! password (`/cant-get-a-code`), where a recovery code begins a recovery session that can only
//! set up a new phone; the "Recovery code" section of "Sign-in and security"; and the panel that
//! shows a new code once, with "Copy", "Download" and "Print". The rules are the core's
//! `recovery` module.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    passkeys::PasskeyButton,
    practice::{use_practice, SupportContact},
    ui::{enhance::PageContext, field_error, CouldNotLoad, Field, FormMessage, SubmitButton},
};

/// What a patient who can't get a code may do instead: only what this account has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherWaysIn {
    pub passkey: bool,
    pub recovery_code: bool,
}

/// A new recovery code, to be shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRecoveryCode {
    pub code: String,
    /// When it was made, as people read it: for the downloaded file.
    pub made: String,
}

/// The ways this account has, once its password was right (a pending session): nothing before.
#[server(prefix = "/api", endpoint = "recovery_ways")]
pub async fn recovery_ways() -> Result<OtherWaysIn, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::pending(&portal).await?;
    let ways = portal_core::recovery::other_ways_in(&portal, &visit);
    Ok(ways.await?.into())
}

/// A new code for the patient's eyes only: in the answer to the page's script, or, for a plain
/// post (scripts off, or not awake yet), handed to the page `next` in a sealed cookie read once.
#[cfg(feature = "ssr")]
fn shown_once(portal: &portal_core::portal::Portal, code: String, next: &str) -> NewRecoveryCode {
    let new_code = NewRecoveryCode {
        code,
        made: portal_core::clock::for_people(portal.now()),
    };
    if crate::request::is_plain_form_post() {
        handover::give(portal, &new_code);
        leptos_axum::redirect(next);
    }
    new_code
}

/// The new code handed to this page by a plain post, if any: shown once, as the cookie is
/// removed as it is read.
pub fn handed_over() -> Option<NewRecoveryCode> {
    #[cfg(feature = "ssr")]
    {
        handover::take()
    }
    #[cfg(not(feature = "ssr"))]
    None
}

/// A new code crossing a plain post's redirect: sealed under the server key, `HttpOnly`, two
/// minutes, read once. It is never kept on the server, where only the code's hash is.
#[cfg(feature = "ssr")]
mod handover {
    use axum::http::{header, request::Parts};
    use leptos::prelude::use_context;
    use portal_core::{clock::MINUTE, portal::Portal, session::cookie::CookieKind};

    use super::NewRecoveryCode;

    const KEPT_FOR: i64 = 2 * MINUTE;
    const SEALED_AS: &str = "portal new recovery code v1";
    const NEW_CODE: CookieKind =
        CookieKind::new("portal_new_code", "__Host-portal_new_code").kept_for(KEPT_FOR);

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Sealed {
        code: String,
        made: String,
        at: i64,
    }

    pub fn give(portal: &Portal, new_code: &NewRecoveryCode) {
        let sealed = Sealed {
            code: new_code.code.clone(),
            made: new_code.made.clone(),
            at: portal.now(),
        };
        let Ok(json) = serde_json::to_string(&sealed) else {
            return;
        };
        let cookie = NEW_CODE.set(&portal.settings, &portal.secret.seal_as(SEALED_AS, &json));
        if let (Some(response), Ok(value)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            header::HeaderValue::from_str(&cookie),
        ) {
            response.append_header(header::SET_COOKIE, value);
        }
    }

    pub fn take() -> Option<NewRecoveryCode> {
        let portal = use_context::<Portal>()?;
        let parts = use_context::<Parts>()?;
        let cookies = parts.headers.get(header::COOKIE)?.to_str().ok()?;
        let sealed = NEW_CODE.from_header(&portal.settings, cookies)?;
        if let (Some(response), Ok(removal)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            header::HeaderValue::from_str(&NEW_CODE.clear(&portal.settings)),
        ) {
            response.append_header(header::SET_COOKIE, removal);
        }
        let json = portal.secret.open_as(SEALED_AS, &sealed)?;
        let opened: Sealed = serde_json::from_str(&json).ok()?;
        (portal.now() - opened.at <= KEPT_FOR).then_some(NewRecoveryCode {
            code: opened.code,
            made: opened.made,
        })
    }
}

/// "Use a recovery code" after the password: a right one begins a recovery session, and the new
/// code that replaced it comes back to be shown once.
#[server(prefix = "/api", endpoint = "use_recovery_code")]
pub async fn use_recovery_code(
    #[server(default)] recovery_code: String,
) -> Result<NewRecoveryCode, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::pending(&portal).await?;
    let recovery = portal_core::recovery::recover(
        &portal,
        &visit.caller,
        &visit.session,
        &visit.patient,
        &recovery_code,
    )
    .await?;
    crate::request::set_session_cookie(&portal, &recovery.session);
    Ok(shown_once(&portal, recovery.new_code, "/verify"))
}

/// "Save a recovery code" or "Make a new recovery code": needs a recent proof.
#[server(prefix = "/api", endpoint = "make_recovery_code")]
pub async fn make_recovery_code() -> Result<NewRecoveryCode, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    let code = portal_core::recovery::make(&portal, &visit).await?;
    Ok(shown_once(&portal, code, "/security#recovery-code"))
}

/// "Use a recovery code" on "Confirm it's you": proves the session, and a new code replaces the
/// spent one.
#[server(prefix = "/api", endpoint = "confirm_recovery_code")]
pub async fn confirm_recovery_code(
    #[server(default)] recovery_code: String,
    #[server(default)] then: String,
) -> Result<NewRecoveryCode, PortalError> {
    use crate::patient::confirm::ProofFor;
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    let code = portal_core::recovery::confirm(&portal, &visit, &recovery_code).await?;
    Ok(shown_once(&portal, code, &ProofFor::parse(&then).page()))
}

/// "Not now" on "Make signing in easier": put off for 30 days.
#[server(prefix = "/api", endpoint = "not_now")]
pub async fn not_now() -> Result<(), PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    portal_core::recovery::put_off_nudge(&portal, &visit).await?;
    leptos_axum::redirect("/");
    Ok(())
}

/// The home page's card after a sign-in by code, for a patient with no passkey and no recovery
/// code.
#[component]
pub fn MakeSigningInEasier() -> impl IntoView {
    let passkeys = use_practice().passkeys;
    view! {
        <section class="card nudge" aria-labelledby="nudge-title">
            <h2 id="nudge-title">"Make signing in easier"</h2>
            <p>
                {passkeys.then_some("A passkey signs you in with your fingerprint, face or screen lock, without waiting for a text. ")}
                "A recovery code lets you sign in if you ever lose your phone, without calling the practice."
            </p>
            <div class="actions">
                {passkeys.then(|| view! {
                    <a class="button secondary" href="/security#passkeys-title" rel="external">"Add a passkey"</a>
                })}
                <a class="button secondary" href="/security#recovery-code" rel="external">"Save a recovery code"</a>
                <form method="post" action="/api/not_now" class="button-form" data-whole-page="">
                    <button type="submit" class="button link">"Not now"</button>
                </form>
            </div>
        </section>
    }
}

/// "Can't get a code?": what this account has, in a fixed order, and always the practice.
#[component]
pub fn CantGetCodePage() -> impl IntoView {
    let ways = Resource::new_blocking(|| (), |_| recovery_ways());
    view! {
        <Title text="Can't get a code?"/>
        <section class="card">
            <h1>"Can't get a code?"</h1>
            // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
            {move || Suspend::new(async move {
                match ways.await {
                    Ok(ways) => view! { <OtherWays ways/> }.into_any(),
                    Err(error) => view! { <CouldNotLoad error sign_in="/login"/> }.into_any(),
                }
            })}
        </section>
    }
}

#[component]
fn OtherWays(ways: OtherWaysIn) -> impl IntoView {
    view! {
        <p class="lead">
            "If your phone is lost, broken or out of reach, you can still sign in another way."
        </p>
        {ways.passkey.then(|| view! {
            <h2>"Use a passkey instead"</h2>
            <p>"If this computer or phone has your passkey, use it in place of the code."</p>
            <div class="or-passkey">
                <PasskeyButton action="sign-in" label="Use a passkey instead"/>
            </div>
        })}
        {ways.recovery_code.then(|| view! {
            <h2>"Use a recovery code"</h2>
            <RecoveryCodeForm page=PageContext::here()/>
        })}
        <h2>"Contact the practice"</h2>
        <p class="support-line">
            "The practice can help you set up a new phone. They'll call you back on a number they have on file. Support: "
            <SupportContact/>
        </p>
        <p class="aside"><a href="/verify">"Back to the code"</a></p>
    }
}

/// "Recovery code" and "Continue"; then the new code, shown once, and on to the new phone.
#[island]
fn RecoveryCodeForm(page: PageContext) -> impl IntoView {
    crate::ui::enhance::awake("RecoveryCodeForm");
    page.provide();
    let use_code = ServerAction::<UseRecoveryCode>::new();
    let error = Signal::derive(move || use_code.value().get().and_then(Result::err));
    view! {
        {move || match use_code.value().get() {
            Some(Ok(new_code)) => view! {
                <p>"Your recovery code is right. It's now used up, so here is a new one in its place. Save it before you go on: then set up your new phone."</p>
                <RecoveryCodeShown new_code done_href="/verify"/>
            }.into_any(),
            _ => view! {
                <p>"Type the recovery code you saved (on paper, or in a file) when you set up your account."</p>
                <ActionForm action=use_code attr:novalidate=true attr:class="form">
                    <FormMessage error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
                    <Field
                        name="recovery_code"
                        label="Recovery code"
                        hint="16 letters and digits, like ABCD-EFGH-JKLM-NPQR. Capitals and dashes don't matter."
                        autocomplete="off"
                        error=field_error(error, "recovery_code")
                    />
                    <SubmitButton label="Continue" pending=use_code.pending()/>
                </ActionForm>
            }.into_any(),
        }}
    }
}

/// "Use a recovery code" on "Confirm it's you": then the new code, shown once, and on to `then`.
#[island]
pub fn ConfirmWithRecoveryCode(
    purpose: crate::patient::confirm::ProofFor,
    page: PageContext,
) -> impl IntoView {
    crate::ui::enhance::awake("ConfirmWithRecoveryCode");
    page.provide();
    let confirm = ServerAction::<ConfirmRecoveryCode>::new();
    let error = Signal::derive(move || confirm.value().get().and_then(Result::err));
    view! {
        {move || match confirm.value().get() {
            Some(Ok(new_code)) => view! {
                <p>"Thank you: that's you. Your recovery code is now used up, so here is a new one in its place."</p>
                <RecoveryCodeShown new_code done_href=purpose.then()/>
            }.into_any(),
            _ => view! {
                <ActionForm action=confirm attr:novalidate=true attr:class="form">
                    <input type="hidden" name="then" value=purpose.as_str()/>
                    <FormMessage error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
                    <Field
                        name="recovery_code"
                        label="Recovery code"
                        hint="Using it makes a new one, which you'll need to save."
                        autocomplete="off"
                        error=field_error(error, "recovery_code")
                    />
                    <SubmitButton label="Continue" pending=confirm.pending()/>
                </ActionForm>
            }.into_any(),
        }}
    }
}

/// The "Recovery code" section of "Sign-in and security": whether there is one, and "Save a
/// recovery code" (or "Make a new recovery code") once the patient has confirmed it's them.
#[island]
pub fn SaveRecoveryCode(has_one: bool, page: PageContext) -> impl IntoView {
    crate::ui::enhance::awake("SaveRecoveryCode");
    page.provide();
    let make = ServerAction::<MakeRecoveryCode>::new();
    let error = Signal::derive(move || make.value().get().and_then(Result::err));
    let label = match has_one {
        true => "Make a new recovery code",
        false => "Save a recovery code",
    };
    view! {
        {move || match make.value().get() {
            Some(Ok(new_code)) => view! {
                <RecoveryCodeShown new_code done_href="/security"/>
            }.into_any(),
            _ => view! {
                <ActionForm action=make attr:class="button-form">
                    <FormMessage error=error/>
                    <SubmitButton label=label pending=make.pending()/>
                </ActionForm>
            }.into_any(),
        }}
    }
}

/// A new code handed over by a plain post, shown by the page around it: an island of its own,
/// so that "Copy" and "Print" work once the page's scripts wake.
#[island]
pub fn HandedOverCode(
    new_code: NewRecoveryCode,
    done_href: String,
    page: PageContext,
) -> impl IntoView {
    crate::ui::enhance::awake("HandedOverCode");
    page.provide();
    view! { <RecoveryCodeShown new_code done_href/> }
}

/// A new recovery code, shown once: in a `<code>`, with "Copy", "Download" and "Print", and
/// "I've saved my recovery code" to tick before "Done". "Done" is a plain form the browser
/// itself won't send unticked, so the same holds with scripts off.
#[component]
pub fn RecoveryCodeShown(
    new_code: NewRecoveryCode,
    #[prop(into)] done_href: String,
) -> impl IntoView {
    let practice = use_practice().name;
    let copied = RwSignal::new(false);
    let code = new_code.code.clone();
    let file = format!(
        "{practice} patient portal\r\nYour recovery code: {code}\r\nMade {}\r\n\r\nKeep it somewhere safe, apart from your phone. With your password, it lets you sign in if you lose your phone. It works once; a new one replaces it.\r\n",
        new_code.made
    );
    let download = format!("data:text/plain;charset=utf-8,{}", percent_encoded(&file));
    let copy_code = code.clone();
    // A fragment stays out of the form's address: the browser keeps it in `action`.
    let target = done_href.clone();
    let (path, fragment) = match done_href.split_once('#') {
        Some((path, fragment)) => (path.to_string(), format!("#{fragment}")),
        None => (done_href.clone(), String::new()),
    };
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path.to_string(), query.to_string()),
        None => (path, String::new()),
    };
    let hidden: Vec<(String, String)> = url_pairs(&query);
    view! {
        <div class="recovery-code-panel">
            <h2>"Your recovery code"</h2>
            <p>"It's shown only this once. Write it down, print it or download it, and keep it apart from your phone."</p>
            <p class="recovery-code"><code>{code.clone()}</code></p>
            <div class="actions no-print">
                <button type="button" class="button secondary needs-scripts" on:click=move |_| {
                    copy_to_clipboard(&copy_code);
                    copied.set(true);
                }>"Copy"</button>
                <a class="button secondary" href=download download="recovery-code.txt">"Download"</a>
                <button type="button" class="button secondary needs-scripts" on:click=move |_| print_page()>"Print"</button>
            </div>
            <p role="status" class="hint">{move || copied.get().then_some("Copied.")}</p>
            <form
                method="get"
                action=format!("{path}{fragment}")
                class="form no-print"
                // A whole page load, not the islands router's: the page after a new code is
                // the server's to draw again (a new phone, or the section without the code).
                on:submit=move |ev| {
                    ev.prevent_default();
                    go_to(&target);
                }
            >
                {hidden.into_iter().map(|(name, value)| view! {
                    <input type="hidden" name=name value=value/>
                }).collect_view()}
                <div class="field checkbox">
                    <input type="checkbox" id="recovery-code-saved" required=true/>
                    <label for="recovery-code-saved">"I've saved my recovery code"</label>
                </div>
                <button type="submit" class="button primary">"Done"</button>
            </form>
        </div>
    }
}

/// The pairs of a query, for a GET form to send again.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => (pair.to_string(), String::new()),
        })
        .collect()
}

/// Text for a `data:` address: everything but unreserved characters percent-encoded.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        // The promise is left to settle: "Copied." is said at once.
        let _ = window.navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

fn print_page() {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.print();
    }
}

/// A whole page load of `href`.
fn go_to(href: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(href);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = href;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_downloaded_code_keeps_its_text() {
        assert_eq!(percent_encoded("A b-2\r\n"), "A%20b-2%0D%0A");
    }
}
