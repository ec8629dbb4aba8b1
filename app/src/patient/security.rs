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
    patient::confirm::{ConfirmFirst, ProofFor},
    ui::{plain_forms::refused_error, CouldNotLoad, FormMessage, StatusMessage},
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
                "Thank you for confirming it's you. You can add and remove passkeys now."
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
    ssr::overview(&portal, &visit).await
}

/// "Forget this device" (no `device`), or one of the list by its ID.
#[server(prefix = "/api", endpoint = "forget_device")]
pub async fn forget_device(
    #[server(default)] device: String,
) -> Result<SecurityChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    ssr::forget_device(&portal, &visit, &device).await?;
    Notice::DeviceForgotten.back_to_page();
    Ok(SecurityChanged {})
}

#[server(prefix = "/api", endpoint = "forget_all_devices")]
pub async fn forget_all_devices() -> Result<SecurityChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    ssr::forget_all_devices(&portal, &visit).await?;
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
    ssr::sign_out_session(&portal, &visit, &session).await?;
    Notice::SignedOut.back_to_page();
    Ok(SecurityChanged {})
}

#[server(prefix = "/api", endpoint = "sign_out_everywhere_else")]
pub async fn sign_out_everywhere_else() -> Result<SecurityChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    ssr::sign_out_everywhere_else(&portal, &visit).await?;
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
    view! {
        <Passkeys part=overview.passkeys/>
        <Devices days=overview.remember_days devices=overview.devices/>
        <Sessions sessions=overview.sessions/>
        <Activity lines=overview.activity/>
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
            view! {
                <FormMessage error=Signal::derive(move || general.clone())/>
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

#[cfg(feature = "ssr")]
mod ssr {
    use super::{
        AccountSecurity, ActivityLine, DeviceLine, PasskeyLine, PasskeysPart, SessionLine,
    };
    use crate::{
        audit::{self, Entry, Event, Outcome},
        clock::for_people,
        devices::{self, Forgotten},
        error::{ErrorKind, OrInternal, PortalError},
        portal::Portal,
        request::Visit,
        session,
        store::AuditLine,
    };

    /// How many lines "Recent activity" shows.
    const ACTIVITY_LINES: usize = 20;
    /// How far back it reads to find them.
    const ACTIVITY_READ: i64 = 300;

    fn session_reference(portal: &Portal, id_hash: &str) -> String {
        portal.secret.code_mac("session-reference", id_hash)
    }

    pub async fn overview(portal: &Portal, visit: &Visit) -> Result<AccountSecurity, PortalError> {
        let now = portal.now();
        let account = visit.patient.id;
        let own_device = visit.caller.device_token.as_deref().map(session::hash_id);
        let devices = portal
            .store
            .remembered_devices(account, now)
            .await
            .or_internal("listing remembered devices")?
            .into_iter()
            .map(|d| DeviceLine {
                id: d.id,
                this_device: own_device.as_deref() == Some(d.token_hash.as_str()),
                description: d.description,
                remembered: for_people(d.created_at),
                last_used: for_people(d.last_used_at),
            })
            .collect();
        let sessions = portal
            .store
            .sessions_of(account, now)
            .await
            .or_internal("listing sessions")?
            .into_iter()
            .map(|s| SessionLine {
                reference: session_reference(portal, &s.id_hash),
                this_device: s.id_hash == visit.session.id_hash,
                waiting_for_code: s.stage != "signed_in",
                description: s.device.unwrap_or_else(|| session::describe(None)),
                last_active: for_people(s.last_seen_at),
            })
            .collect();
        let trail = portal
            .store
            .audit_trail(account, ACTIVITY_READ)
            .await
            .or_internal("reading recent activity")?;
        let unavailable = crate::passkeys::unavailable(portal).map(str::to_string);
        let passkeys = crate::passkeys::list(portal, crate::store::Holder::Patient(account))
            .await?
            .into_iter()
            .map(|p| PasskeyLine {
                id: p.id,
                name: p.name,
                added: for_people(p.added),
                last_used: p.last_used.map(for_people),
            })
            .collect();
        let passkeys = PasskeysPart {
            unavailable,
            passkeys,
            may_change: crate::proof::recently_proved(portal, visit),
            default_name: crate::passkeys::default_name(&visit.caller),
        };
        Ok(AccountSecurity {
            passkeys,
            remember_days: portal
                .practice()
                .remember_device_days
                .clamp(0, devices::MOST_DAYS),
            devices,
            sessions,
            activity: activity(&trail),
        })
    }

    /// A refused sign-in, as the activity counts them.
    fn refused_sign_in(line: &AuditLine) -> bool {
        matches!(
            (line.event.as_str(), line.outcome.as_str()),
            (
                "login",
                "wrong_password" | "delayed" | "limited" | "expired"
            ) | ("code_verified", "refused")
        )
    }

    /// A line of the audit in the patient's words, if it is one they need to see. What the
    /// practice did is the practice's, never a staff member's by name.
    fn described(line: &AuditLine) -> Option<String> {
        let detail = line.detail.as_deref().unwrap_or_default();
        let by_the_practice = line.staff.is_some();
        let text = match (line.event.as_str(), line.outcome.as_str()) {
            ("registered", _) => "You created your account.".to_string(),
            ("signed_in", "ok") => match detail.strip_prefix("factor: ") {
                Some(rest) if rest.starts_with("remembered_device") => {
                    let device = rest
                        .split_once(" (")
                        .map(|(_, d)| d.trim_end_matches(')'))
                        .unwrap_or("a remembered device");
                    format!("Signed in without a code on a remembered device ({device}).")
                }
                Some(rest) if rest.starts_with("passkey") => "Signed in with a passkey.".into(),
                Some(rest) if rest.starts_with("password only") => {
                    "Signed in with your password alone (the practice had codes switched off)."
                        .into()
                }
                _ => "Signed in with a code sent by text.".into(),
            },
            ("mobile_changed", "saved_pending") => {
                "A new mobile number was saved, waiting for its code.".into()
            }
            ("mobile_changed", "set_at_login") => {
                "Your sign-in mobile number was set at a login.".into()
            }
            ("mobile_changed", _) => "Your sign-in mobile number changed.".into(),
            ("mobile_change_cancelled", _) => "A new mobile number was cancelled.".into(),
            ("email_changed", _) => "Your email address changed.".into(),
            ("password_chosen", _) => "You chose a new password.".into(),
            ("sessions_ended", _) if !by_the_practice => {
                "Your other sessions were signed out.".into()
            }
            ("passkey_added", "ok") => format!("A passkey was added: {detail}."),
            ("passkey_removed", _) => format!("A passkey was removed: {detail}."),
            ("passkeys_removed", _) => "The practice removed your passkeys.".into(),
            ("device_remembered", _) => format!("A device was remembered: {detail}."),
            ("devices_forgotten", _) => match detail.split_once(": ") {
                Some((count, why)) => {
                    let devices = match count {
                        "1 forgotten" => "A remembered device was forgotten".to_string(),
                        other => format!(
                            "{} remembered devices were forgotten",
                            other.trim_end_matches(" forgotten")
                        ),
                    };
                    format!("{devices} ({why}).")
                }
                None => "Remembered devices were forgotten.".into(),
            },
            ("patient_unlocked", _) => "The practice cleared the waits on your logins.".into(),
            ("mobile_reset", _) => "The practice reset your sign-in mobile number.".into(),
            ("all_sessions_ended", _) => "The practice signed you out everywhere.".into(),
            ("one_time_password_issued", _) => "The practice gave you a one-time password.".into(),
            _ => return None,
        };
        Some(text)
    }

    /// The last lines worth telling, newest first. Refused sign-ins in a row are one line, with
    /// their count.
    pub fn activity(trail: &[AuditLine]) -> Vec<ActivityLine> {
        let mut lines: Vec<ActivityLine> = Vec::new();
        let mut refused: Option<(String, usize)> = None;
        let flush = |refused: &mut Option<(String, usize)>, lines: &mut Vec<ActivityLine>| {
            if let Some((at, count)) = refused.take() {
                let what = match count {
                    1 => "1 refused sign-in attempt.".to_string(),
                    n => format!("{n} refused sign-in attempts."),
                };
                lines.push(ActivityLine { at, what });
            }
        };
        for line in trail {
            if refused_sign_in(line) {
                let at = for_people(line.at);
                refused = Some(match refused.take() {
                    Some((newest, count)) => (newest, count + 1),
                    None => (at, 1),
                });
                continue;
            }
            let Some(what) = described(line) else {
                continue;
            };
            flush(&mut refused, &mut lines);
            lines.push(ActivityLine {
                at: for_people(line.at),
                what,
            });
            if lines.len() >= ACTIVITY_LINES {
                break;
            }
        }
        if lines.len() < ACTIVITY_LINES {
            flush(&mut refused, &mut lines);
        }
        lines.truncate(ACTIVITY_LINES);
        lines
    }

    pub async fn forget_device(
        portal: &Portal,
        visit: &Visit,
        device: &str,
    ) -> Result<(), PortalError> {
        let id = match device.trim() {
            "" => None,
            id => Some(id.parse::<i64>().map_err(|_| not_found("device"))?),
        };
        let forgotten = devices::forget_one(portal, &visit.caller, visit.patient.id, id)
            .await
            .or_internal("forgetting a device")?;
        if !forgotten {
            return Err(not_found("device"));
        }
        if id.is_none() {
            crate::request::clear_device_cookie(portal);
        }
        Ok(())
    }

    pub async fn forget_all_devices(portal: &Portal, visit: &Visit) -> Result<(), PortalError> {
        devices::forget_all(
            portal,
            &visit.caller,
            visit.patient.id,
            Forgotten::ByThePatient,
        )
        .await
        .or_internal("forgetting devices")?;
        crate::request::clear_device_cookie(portal);
        Ok(())
    }

    fn not_found(what: &str) -> PortalError {
        let message = match what {
            "device" => "That device isn't remembered any more. Please reload the page.",
            _ => "That session has already ended. Please reload the page.",
        };
        PortalError::new(ErrorKind::NotFound, message)
    }

    pub async fn sign_out_session(
        portal: &Portal,
        visit: &Visit,
        reference: &str,
    ) -> Result<(), PortalError> {
        let account = visit.patient.id;
        let sessions = portal
            .store
            .sessions_of(account, portal.now())
            .await
            .or_internal("listing sessions")?;
        let Some(target) = sessions.into_iter().find(|s| {
            s.id_hash != visit.session.id_hash
                && portal
                    .secret
                    .code_matches("session-reference", &s.id_hash, reference.trim())
        }) else {
            return Err(not_found("session"));
        };
        let ended = portal
            .store
            .delete_session_of(account, &target.id_hash)
            .await
            .or_internal("ending a session")?;
        if ended {
            let entry = Entry::new(Event::SessionsEnded, Outcome::Ok)
                .account(account)
                .detail(format!(
                    "1 other session ended by the patient ({})",
                    target.device.unwrap_or_default()
                ));
            audit::record(portal, &visit.caller, entry).await;
        }
        Ok(())
    }

    pub async fn sign_out_everywhere_else(
        portal: &Portal,
        visit: &Visit,
    ) -> Result<(), PortalError> {
        let ended = session::end_others(portal, visit.patient.id, Some(&visit.session))
            .await
            .or_internal("ending other sessions")?;
        let entry = Entry::new(Event::SessionsEnded, Outcome::Ok)
            .account(visit.patient.id)
            .detail(format!("{ended} other session(s) ended by the patient"));
        audit::record(portal, &visit.caller, entry).await;
        Ok(())
    }
}
