//! The patient's "Sign-in and security" page (`/security`): passkeys, the devices that skip the
//! code, where the patient is signed in, and what happened to the account lately. Every action is a
//! small plain form answered with the page, so it works the same before the page's scripts wake,
//! or without them.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    passkeys::PasskeyButton,
    patient::{
        confirm::{ConfirmFirst, ProofFor},
        recovery::{HandedOverCode, SaveRecoveryCode},
    },
    ui::{
        enhance::PageContext, plain_forms::refused_error, CouldNotLoad, FormMessage, StatusMessage,
    },
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyLine {
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: Option<String>,
}

/// The passkeys part of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeysPart {
    /// Why passkeys can't be used here, if they can't.
    pub unavailable: Option<String>,
    pub passkeys: Vec<PasskeyLine>,
    /// A recovery code was used in the last 24 hours: a passkey on the lost phone should go.
    pub after_a_recovery: bool,
    /// The patient proved it's them recently (the practice's minutes): they may add and remove.
    pub may_change: bool,
    /// The name a new passkey gets: the browser and platform.
    pub default_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLine {
    pub id: i64,
    /// Browser and platform: "Firefox on Windows 10".
    pub description: String,
    pub remembered: String,
    pub last_used: String,
    pub this_device: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLine {
    /// Names the session in a sign-out, for this account only; never its cookie or its hash.
    pub reference: String,
    pub description: String,
    pub last_active: String,
    pub this_device: bool,
    /// A password was given there, and the code not yet.
    pub waiting_for_code: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityLine {
    pub at: String,
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSecurity {
    pub passkeys: PasskeysPart,
    /// For how many days a device may skip the code (0: the practice doesn't offer it).
    pub remember_days: i64,
    pub devices: Vec<DeviceLine>,
    pub sessions: Vec<SessionLine>,
    pub activity: Vec<ActivityLine>,
    /// When the recovery code was made, if there is one.
    pub recovery_code_made: Option<String>,
    /// Who may act for the patient.
    pub caregivers: Vec<crate::patient::caregivers::Caregiver>,
    /// Their invitations for a caregiver still open.
    pub invitations: Vec<crate::patient::caregivers::OpenInvitation>,
}

/// What the page says after an action, named in its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    PasskeyAdded,
    PasskeyRenamed,
    PasskeyRemoved,
    Confirmed,
    DeviceForgotten,
    DevicesForgotten,
    SignedOut,
    SignedOutElsewhere,
}

impl Notice {
    const ALL: [Notice; 8] = [
        Notice::PasskeyAdded,
        Notice::PasskeyRenamed,
        Notice::PasskeyRemoved,
        Notice::Confirmed,
        Notice::DeviceForgotten,
        Notice::DevicesForgotten,
        Notice::SignedOut,
        Notice::SignedOutElsewhere,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Notice::PasskeyAdded => "passkey-added",
            Notice::PasskeyRenamed => "passkey-renamed",
            Notice::PasskeyRemoved => "passkey-removed",
            Notice::Confirmed => "confirmed",
            Notice::DeviceForgotten => "device-forgotten",
            Notice::DevicesForgotten => "devices-forgotten",
            Notice::SignedOut => "signed-out",
            Notice::SignedOutElsewhere => "signed-out-elsewhere",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Notice::PasskeyAdded => {
                "Your passkey is added. Next time, choose \"Sign in with a passkey\" on the login page."
            }
            Notice::PasskeyRenamed => "The passkey is renamed.",
            Notice::PasskeyRemoved => "The passkey is removed. It can't sign you in any more.",
            Notice::Confirmed => {
                "Thank you for confirming it's you. You can add and remove passkeys, and make a recovery code, now."
            }
            Notice::DeviceForgotten => {
                "The device is forgotten. Signing in there will ask for a code again."
            }
            Notice::DevicesForgotten => {
                "All devices are forgotten. Every sign-in will ask for a code again."
            }
            Notice::SignedOut => "That session is signed out.",
            Notice::SignedOutElsewhere => "You're signed out everywhere else.",
        }
    }

    /// Back to the page that says so, for a form posted as a plain page.
    #[cfg(feature = "ssr")]
    fn back_to_page(self) {
        if crate::request::is_plain_form_post() {
            leptos_axum::redirect(&format!("/security?{}", self.as_str()));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityChanged {}

#[server(prefix = "/api", endpoint = "security")]
pub async fn security_overview() -> Result<AccountSecurity, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    Ok(portal_core::security::overview(&portal, &visit)
        .await?
        .into())
}

/// "Forget this device" (no `device`), or one of the list by its ID.
#[server(prefix = "/api", endpoint = "forget_device")]
pub async fn forget_device(
    #[server(default)] device: String,
) -> Result<SecurityChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    if portal_core::security::forget_device(&portal, &visit, &device).await? {
        crate::request::clear_device_cookie(&portal);
    }
    Notice::DeviceForgotten.back_to_page();
    Ok(SecurityChanged {})
}

#[server(prefix = "/api", endpoint = "forget_all_devices")]
pub async fn forget_all_devices() -> Result<SecurityChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    portal_core::security::forget_all_devices(&portal, &visit).await?;
    crate::request::clear_device_cookie(&portal);
    Notice::DevicesForgotten.back_to_page();
    Ok(SecurityChanged {})
}

/// "Sign out" on another session of the account.
#[server(prefix = "/api", endpoint = "sign_out_session")]
pub async fn sign_out_session(
    #[server(default)] session: String,
) -> Result<SecurityChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    portal_core::security::sign_out_session(&portal, &visit, &session).await?;
    Notice::SignedOut.back_to_page();
    Ok(SecurityChanged {})
}

#[server(prefix = "/api", endpoint = "sign_out_everywhere_else")]
pub async fn sign_out_everywhere_else() -> Result<SecurityChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    portal_core::security::sign_out_everywhere_else(&portal, &visit).await?;
    Notice::SignedOutElsewhere.back_to_page();
    Ok(SecurityChanged {})
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| security_overview());
    let query = use_query_map();
    let notice = Signal::derive(move || {
        let query = query.read();
        Notice::ALL
            .into_iter()
            .find(|n| query.get(n.as_str()).is_some())
            .map(|n| n.message().to_string())
    });
    view! {
        <Title text="Sign-in and security"/>
        <section class="card">
            <h1>"Sign-in and security"</h1>
            <p class="lead">"How you sign in, where you're signed in, and what happened to your account lately."</p>
            <StatusMessage message=notice/>
        </section>
        // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
        {move || Suspend::new(async move {
            match overview.await {
                Ok(overview) => view! { <Overview overview/> }.into_any(),
                Err(error) => view! { <CouldNotLoad error sign_in="/login"/> }.into_any(),
            }
        })}
    }
}

#[component]
fn Overview(overview: AccountSecurity) -> impl IntoView {
    let may_change = overview.passkeys.may_change;
    view! {
        <RecoveryCode made=overview.recovery_code_made may_change/>
        <Passkeys part=overview.passkeys/>
        <Devices days=overview.remember_days devices=overview.devices/>
        <Sessions sessions=overview.sessions/>
        <crate::patient::caregivers::CaregiversSection
            caregivers=overview.caregivers
            invitations=overview.invitations
            may_invite=may_change
        />
        <Activity lines=overview.activity/>
    }
}

/// "Recovery code": whether there is one and when it was made, and a new one after a recent
/// proof.
#[component]
fn RecoveryCode(made: Option<String>, may_change: bool) -> impl IntoView {
    let has_one = made.is_some();
    view! {
        <section class="card" id="recovery-code" aria-labelledby="recovery-code-title">
            <h2 id="recovery-code-title">"Recovery code"</h2>
            <p>{match made {
                Some(made) => format!("You saved a recovery code on {made}. With your password, it lets you sign in if you lose your phone."),
                None => "You haven't saved a recovery code. With your password, one lets you sign in if you lose your phone, without calling the practice.".to_string(),
            }}</p>
            {match (crate::patient::recovery::handed_over(), may_change) {
                (Some(new_code), _) => view! {
                    <HandedOverCode new_code done_href="/security#recovery-code".to_string() page=PageContext::here()/>
                }.into_any(),
                (None, true) => view! { <SaveRecoveryCode has_one page=PageContext::here()/> }.into_any(),
                (None, false) => view! { <ConfirmFirst purpose=ProofFor::RecoveryCode/> }.into_any(),
            }}
        </section>
    }
}

/// A form of one button, posted to `action`, with hidden fields.
#[component]
fn ButtonForm(
    action: &'static str,
    label: &'static str,
    #[prop(default = "button secondary")] class: &'static str,
    #[prop(optional)] field: Option<(&'static str, String)>,
    /// Says which line the button is for, to a screen reader.
    #[prop(optional)]
    described_by: Option<String>,
) -> impl IntoView {
    view! {
        // Answered with the whole page: its lists change length (see `FORMS_THE_BROWSER_SENDS`).
        <form method="post" action=action class="button-form" data-whole-page="">
            {field.map(|(name, value)| view! { <input type="hidden" name=name value=value/> })}
            <button type="submit" class=class aria-describedby=described_by>{label}</button>
        </form>
    }
}

#[component]
fn Passkeys(part: PasskeysPart) -> impl IntoView {
    let error = refused_error(&["/api/rename_passkey", "/api/remove_passkey"]);
    let name_error = error.as_ref().and_then(|e| e.field_message("name"));
    let general = error.filter(|e| e.fields.is_empty());
    let body = match part.unavailable {
        Some(why) => view! { <p>{why}</p> }.into_any(),
        None => {
            let may_change = part.may_change;
            let has_passkeys = !part.passkeys.is_empty();
            let lines = part.passkeys.into_iter().map(|p| {
                let line_id = format!("passkey-{}", p.id);
                let used = p.last_used.map_or("never used yet".to_string(), |u| format!("last used {u}"));
                view! {
                    <li>
                        <div id=line_id.clone()>
                            <strong>{p.name.clone()}</strong>
                            <p class="hint">{format!("Added {} · {used}", p.added)}</p>
                        </div>
                        <details class="rename">
                            <summary class="button secondary">"Rename"</summary>
                            <form method="post" action="/api/rename_passkey" class="form" data-whole-page="" novalidate>
                                <input type="hidden" name="passkey" value=p.id.to_string()/>
                                <div class="field">
                                    <label for=format!("passkey-name-{}", p.id)>{format!("New name for {}", p.name)}</label>
                                    <input id=format!("passkey-name-{}", p.id) name="name" value=p.name maxlength="60"/>
                                </div>
                                <button type="submit" class="button primary">"Rename"</button>
                            </form>
                        </details>
                        {may_change.then(|| view! {
                            <ButtonForm action="/api/remove_passkey" label="Remove" field=("passkey", p.id.to_string()) described_by=line_id/>
                        })}
                    </li>
                }
            }).collect_view();
            let add = match may_change {
                true => view! {
                    <PasskeyButton action="add" label="Add a passkey" class="button primary">
                        <div class="field" class:invalid=name_error.is_some()>
                            <label for="passkey-name">"Passkey name"</label>
                            <p class="hint" id="passkey-name-hint">"So you can tell your passkeys apart, like \"My phone\"."</p>
                            <input id="passkey-name" name="passkey_name" value=part.default_name maxlength="60" aria-describedby="passkey-name-hint"/>
                        </div>
                    </PasskeyButton>
                }.into_any(),
                false => view! { <ConfirmFirst purpose=ProofFor::Security/> }.into_any(),
            };
            let lost_phone = (part.after_a_recovery && has_passkeys).then(|| view! {
                <p class="warning" role="note">
                    "You used your recovery code in the last day. If one of these passkeys is on the phone you lost, remove it now, so that nobody who finds the phone can sign in with it."
                </p>
            });
            view! {
                <FormMessage error=Signal::derive(move || general.clone())/>
                {lost_phone}
                <ul class="security-list">{lines}</ul>
                {add}
            }
            .into_any()
        }
    };
    view! {
        <section class="card" aria-labelledby="passkeys-title">
            <h2 id="passkeys-title">"Passkeys"</h2>
            <p>"A passkey signs you in with your phone's or computer's screen lock (your fingerprint, face or PIN), with no password and no code. It only works on this portal, so nobody can trick you into using it elsewhere."</p>
            {body}
        </section>
    }
}

#[component]
fn Devices(days: i64, devices: Vec<DeviceLine>) -> impl IntoView {
    let any = !devices.is_empty();
    let intro = match days {
        0 => "The practice doesn't offer remembered devices: every sign-in asks for a code.".to_string(),
        days => format!("When you tick \"Don't ask for a code on this device\" after a code, that device skips the code for {days} days. Your password is always needed."),
    };
    view! {
        <section class="card" aria-labelledby="devices-title">
            <h2 id="devices-title">"Remembered devices"</h2>
            <p>{intro}</p>
            {(!any).then(|| view! { <p class="empty">"No devices are remembered."</p> })}
            <ul class="security-list">
                {devices.into_iter().map(|d| {
                    let line_id = format!("device-{}", d.id);
                    let button = if d.this_device {
                        view! { <ButtonForm action="/api/forget_device" label="Forget this device" described_by=line_id.clone()/> }.into_any()
                    } else {
                        view! { <ButtonForm action="/api/forget_device" label="Forget" field=("device", d.id.to_string()) described_by=line_id.clone()/> }.into_any()
                    };
                    view! {
                        <li>
                            <div id=line_id>
                                <strong>{d.description}</strong>
                                {d.this_device.then(|| view! { <span class="badge">"This device"</span> })}
                                <p class="hint">{format!("Remembered {} · last used {}", d.remembered, d.last_used)}</p>
                            </div>
                            {button}
                        </li>
                    }
                }).collect_view()}
            </ul>
            {any.then(|| view! { <ButtonForm action="/api/forget_all_devices" label="Forget all devices"/> })}
        </section>
    }
}

#[component]
fn Sessions(sessions: Vec<SessionLine>) -> impl IntoView {
    let others = sessions.iter().filter(|s| !s.this_device).count();
    view! {
        <section class="card" aria-labelledby="sessions-title">
            <h2 id="sessions-title">"Where you're signed in"</h2>
            <ul class="security-list">
                {sessions.into_iter().enumerate().map(|(n, s)| {
                    let line_id = format!("session-{n}");
                    let state = match (s.this_device, s.waiting_for_code) {
                        (true, _) => Some("This device"),
                        (false, true) => Some("Waiting for a code"),
                        (false, false) => None,
                    };
                    view! {
                        <li>
                            <div id=line_id.clone()>
                                <strong>{s.description}</strong>
                                {state.map(|state| view! { <span class="badge">{state}</span> })}
                                <p class="hint">{format!("Last active {}", s.last_active)}</p>
                            </div>
                            {(!s.this_device).then(|| view! {
                                <ButtonForm action="/api/sign_out_session" label="Sign out" field=("session", s.reference) described_by=line_id/>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            {match others {
                0 => view! { <p class="empty">"You aren't signed in anywhere else."</p> }.into_any(),
                _ => view! { <ButtonForm action="/api/sign_out_everywhere_else" label="Sign out everywhere else"/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Activity(lines: Vec<ActivityLine>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="activity-title">
            <h2 id="activity-title">"Recent activity"</h2>
            <p class="hint">"If you don't recognise something here, please contact the practice."</p>
            {lines.is_empty().then(|| view! { <p class="empty">"Nothing yet."</p> })}
            <ul class="activity">
                {lines.into_iter().map(|line| view! {
                    <li><span class="when">{line.at}</span> " " {line.what}</li>
                }).collect_view()}
            </ul>
        </section>
    }
}
