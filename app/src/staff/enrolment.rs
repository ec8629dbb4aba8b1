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
    let (details, new_browser) = ssr::start(&portal, &token, browser.as_deref()).await?;
    if let Some(browser) = new_browser {
        crate::request::set_enrolment_browser(&portal, &browser);
    }
    Ok(details)
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
    ssr::finish(
        &portal,
        &caller,
        &token,
        &password,
        confirm_password.as_deref(),
        &code,
    )
    .await
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

#[cfg(feature = "ssr")]
mod ssr {
    use std::collections::BTreeMap;

    use base64::{engine::general_purpose::STANDARD, Engine};

    use super::{Enrolled, EnrolmentDetails};
    use crate::{
        audit::{self, Entry, Event, Outcome},
        caller::Caller,
        error::{ErrorKind, OrInternal, PortalError},
        password::NewPassword,
        portal::Portal,
        session::hash_id,
        staff::accounts,
        staff::StaffMember,
        store::{EnrolmentRow, FinishedEnrolment},
    };

    fn link_refused() -> PortalError {
        PortalError::new(
            ErrorKind::Forbidden,
            "This enrolment link has expired or has been used. Please ask an administrator for a new one.",
        )
    }

    async fn live_enrolment(
        portal: &Portal,
        token: &str,
    ) -> Result<(EnrolmentRow, StaffMember), PortalError> {
        let enrolment = portal
            .store
            .enrolment(&hash_id(token))
            .await
            .or_internal("reading an enrolment")?
            .filter(|e| e.used_at.is_none() && e.expires_at > portal.now())
            .ok_or_else(link_refused)?;
        let member = portal
            .store
            .staff_member(enrolment.staff_id)
            .await
            .or_internal("reading a staff member")?
            .and_then(StaffMember::from_row)
            .filter(|m| !m.disabled)
            .ok_or_else(link_refused)?;
        Ok((enrolment, member))
    }

    /// The secret for this link and its QR code. The browser that opened the link last
    /// (`browser`, named by its cookie) sees the same secret again; any other visit (a chat
    /// app's link preview, then the staff member) gets a fresh one, and the one shown before
    /// stops working. The second value names a new browser, for its cookie.
    pub async fn start(
        portal: &Portal,
        token: &str,
        browser: Option<&str>,
    ) -> Result<(EnrolmentDetails, Option<String>), PortalError> {
        let (enrolment, member) = live_enrolment(portal, token).await?;
        let token_hash = hash_id(token);
        let shown_here = browser.and_then(|browser| {
            let (shown_to, secret) =
                accounts::open_pending(portal, &token_hash, enrolment.pending_secret.as_deref()?)?;
            (shown_to == hash_id(browser)).then_some(secret)
        });
        let (secret, new_browser) = match shown_here {
            Some(secret) => (secret, None),
            None => {
                let browser = accounts::new_token();
                let secret = accounts::new_secret();
                let pending =
                    accounts::seal_pending(portal, &token_hash, &hash_id(&browser), &secret);
                let kept = portal
                    .store
                    .replace_enrolment_secret(&token_hash, &pending)
                    .await
                    .or_internal("keeping an enrolment secret")?;
                if !kept {
                    return Err(link_refused());
                }
                (secret, Some(browser))
            }
        };
        let practice = portal.practice().practice_name.clone();
        let totp = accounts::authenticator(secret, &practice, &member.username)
            .ok_or_else(PortalError::internal)?;
        let url = totp
            .to_url()
            .map_err(|e| PortalError::logged_internal("making the authenticator link", e))?;
        let svg = qrcode::QrCode::new(url.as_bytes())
            .map_err(|e| PortalError::logged_internal("drawing the QR code", e))?
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build();
        let text = accounts::secret_text(&totp);
        let grouped: Vec<String> = text
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let details = EnrolmentDetails {
            username: member.username,
            secret: grouped.join(" "),
            qr_code: format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg)),
        };
        Ok((details, new_browser))
    }

    /// Checks the password and the first code, then makes them count and hands out the
    /// recovery codes.
    pub async fn finish(
        portal: &Portal,
        caller: &Caller,
        token: &str,
        password: &str,
        confirm: Option<&str>,
        code: &str,
    ) -> Result<Enrolled, PortalError> {
        let (enrolment, member) = live_enrolment(portal, token).await?;
        let token_hash = hash_id(token);
        let pending = enrolment.pending_secret.ok_or_else(link_refused)?;
        let (_, secret) =
            accounts::open_pending(portal, &token_hash, &pending).ok_or_else(link_refused)?;
        let sealed = accounts::seal_secret(portal, member.id, &secret);
        let practice = portal.practice().practice_name.clone();
        let totp = accounts::authenticator(secret, &practice, &member.username)
            .ok_or_else(PortalError::internal)?;
        let mut problems = BTreeMap::new();
        let new_password = NewPassword::parse(password, &member.username)
            .map_err(|p| problems.insert("password".to_string(), p.to_string()))
            .ok();
        if confirm.is_some_and(|c| c != password) {
            problems.insert(
                "confirm_password".into(),
                "The two passwords don't match.".into(),
            );
        }
        let step = accounts::code_step(&totp, code, portal.now());
        if step.is_none() {
            problems.insert(
                "code".into(),
                "That code doesn't match. Check the app shows this portal, and type the 6 digits it shows now.".into(),
            );
        }
        let (Some(new_password), Some(step), true) = (new_password, step, problems.is_empty())
        else {
            return Err(PortalError::fields(problems));
        };
        let password_hash = portal
            .passwords
            .hash(new_password)
            .await
            .map_err(|e| e.refusal("hashing a staff password"))?;
        let codes = accounts::new_recovery_codes();
        let macs: Vec<String> = codes
            .iter()
            .map(|c| accounts::recovery_code_mac(portal, member.id, c))
            .collect();
        let done = portal
            .store
            .finish_enrolment(&FinishedEnrolment {
                token_hash: &token_hash,
                staff_id: member.id,
                password_hash: &password_hash,
                pending_secret: &pending,
                sealed_secret: &sealed,
                first_step: step,
                recovery_code_macs: &macs,
                now: portal.now(),
            })
            .await
            .or_internal("finishing an enrolment")?;
        if !done {
            return Err(link_refused());
        }
        let entry = Entry::new(Event::StaffEnrolled, Outcome::Ok).staff(member.id);
        audit::record(portal, caller, entry).await;
        Ok(Enrolled {
            recovery_codes: codes,
        })
    }
}
