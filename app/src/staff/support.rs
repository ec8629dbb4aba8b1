//! Support: find a patient (name, date of birth, username, or the last digits of a mobile),
//! see where they are stuck, and unstick them. Each action needs a typed reason, is audited
//! with the staff member, and is told to the patient by text and email. Patients are named in
//! requests by references bound to the staff session, so an ID can't be guessed.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    ui::{enhance::PageContext, field_error, Field, FormMessage, StatusMessage, SubmitButton},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientRow {
    /// Names this patient in later requests, for this staff session only.
    pub reference: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub username: String,
    /// Masked to the last three digits.
    pub mobile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub patients: Vec<PatientRow>,
    pub page: u32,
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextLine {
    pub at: String,
    pub to: String,
    /// pending, sending, sent or failed.
    pub status: String,
    pub attempts: i64,
    /// What the provider reported later (delivered, undelivered…), if anything.
    pub delivery: Option<String>,
    pub error: Option<String>,
    /// The provider that carried it, once one took it.
    pub provider: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditItem {
    pub at: String,
    pub event: String,
    pub outcome: String,
    pub ip: String,
    pub detail: Option<String>,
    pub patient: Option<String>,
    pub staff: Option<String>,
    /// The request that wrote it, as its log lines carry it.
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientFile {
    pub reference: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub username: String,
    pub mobile: Option<String>,
    pub mobile_verified: bool,
    pub pending_mobile: Option<String>,
    pub has_email: bool,
    /// A login delay running, and until when.
    pub delayed_until: Option<String>,
    pub must_change_password: bool,
    pub sign_ins: Vec<(String, String)>,
    /// Devices that skip the code: browser and platform, and when each was last used.
    pub remembered_devices: Vec<(String, String)>,
    /// Passkeys: name, and when each was added.
    pub passkeys: Vec<(String, String)>,
    /// When the patient's recovery code was made, if they saved one.
    pub recovery_code_made: Option<String>,
    /// When "Secure my account" held the account, if it is held.
    pub held_since: Option<String>,
    pub texts: Vec<TextLine>,
    pub audit: Vec<AuditItem>,
}

/// What support can do for a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportAction {
    /// Clear the login delays.
    Unlock,
    /// A lost phone: no verified number, and a one-time password read out on a call back.
    ResetMobile,
    EndSessions,
    /// For a forgotten password: read out by phone, replaced at the next sign-in.
    OneTimePassword,
    /// A lost or stolen phone or computer that had a passkey.
    RemovePasskeys,
    /// Opens an account "Secure my account" held, with a full recovery.
    LiftHold,
}

impl SupportAction {
    pub const ALL: [SupportAction; 6] = [
        SupportAction::Unlock,
        SupportAction::ResetMobile,
        SupportAction::EndSessions,
        SupportAction::OneTimePassword,
        SupportAction::RemovePasskeys,
        SupportAction::LiftHold,
    ];

    /// As a form sends it.
    pub fn as_str(self) -> &'static str {
        match self {
            SupportAction::Unlock => "unlock",
            SupportAction::ResetMobile => "reset_mobile",
            SupportAction::EndSessions => "end_sessions",
            SupportAction::OneTimePassword => "one_time_password",
            SupportAction::RemovePasskeys => "remove_passkeys",
            SupportAction::LiftHold => "lift_hold",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SupportAction::Unlock => "Unlock",
            SupportAction::ResetMobile => "Reset mobile number",
            SupportAction::EndSessions => "End all sessions",
            SupportAction::OneTimePassword => "Issue one-time password",
            SupportAction::RemovePasskeys => "Remove passkeys",
            SupportAction::LiftHold => "Lift the hold",
        }
    }

    fn explanation(self) -> &'static str {
        match self {
            SupportAction::Unlock => "Clears the login delays, so the patient can try their password again now.",
            SupportAction::ResetMobile => "For a lost phone. Removes the patient's mobile numbers and passkeys, forgets their remembered devices, signs them out everywhere, and replaces their password with a one-time password for you to read out on a call back. At their next login they need it, then choose their own password and give a new number.",
            SupportAction::EndSessions => "Signs the patient out everywhere, and forgets their remembered devices.",
            SupportAction::OneTimePassword => "Makes a new password to read out to the patient. It works for a limited time, and they choose their own at the next sign-in.",
            SupportAction::LiftHold => "The patient said \"This wasn't me\" and their account is held. Lifting the hold is a full recovery, as for a lost phone: the number is reset, passkeys are removed, they are signed out everywhere, and you read them a one-time password on a call back.",
            SupportAction::RemovePasskeys => "Removes every passkey on the patient's account, for a lost or stolen phone or computer, and signs them out everywhere. They sign in with their password and a code, and may add a passkey again.",
        }
    }

    /// Whether the form asks "How did you check it's the patient?".
    pub fn asks_how_identity_was_checked(self) -> bool {
        matches!(
            self,
            SupportAction::ResetMobile | SupportAction::OneTimePassword | SupportAction::LiftHold
        )
    }

    /// Whether the form offers "Also remove passkeys" (ticked).
    pub fn offers_passkey_removal(self) -> bool {
        matches!(
            self,
            SupportAction::EndSessions | SupportAction::OneTimePassword
        )
    }
}

/// How support checked it's the patient, before an action that could hand the account over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityCheck {
    CalledBack,
    InPerson,
    VideoCall,
    Other,
}

impl IdentityCheck {
    pub const ALL: [IdentityCheck; 4] = [
        IdentityCheck::CalledBack,
        IdentityCheck::InPerson,
        IdentityCheck::VideoCall,
        IdentityCheck::Other,
    ];

    /// As a form sends it.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityCheck::CalledBack => "called_back",
            IdentityCheck::InPerson => "in_person",
            IdentityCheck::VideoCall => "video_call",
            IdentityCheck::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            IdentityCheck::CalledBack => "Called back a number on the practice's records",
            IdentityCheck::InPerson => "Met in person with photo ID",
            IdentityCheck::VideoCall => "Video call with photo ID",
            IdentityCheck::Other => "Other (say how in the reason)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionDone {
    pub message: String,
    /// Shown once to the staff member, to read out to the patient.
    pub one_time_password: Option<String>,
}

#[server(prefix = "/api/staff", endpoint = "search_patients")]
pub async fn search_patients(
    #[server(default)] query: String,
    #[server(default)] page: Option<u32>,
) -> Result<SearchResults, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    // A search is a GET of the page, and audited: another site must not make one in a staff
    // member's name by sending their browser a link.
    if crate::request::from_another_site() {
        return Err(PortalError::new(
            crate::error::ErrorKind::Forbidden,
            "This search came from a link on another site, so it was not made. Please search again here.",
        ));
    }
    let results = portal_core::staff::support::search(&portal, &visit, &query, page.unwrap_or(1));
    Ok(results.await?.into())
}

#[server(prefix = "/api/staff", endpoint = "patient")]
pub async fn patient_record(
    #[server(default)] patient: String,
) -> Result<PatientFile, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    Ok(
        portal_core::staff::support::record(&portal, &visit, &patient)
            .await?
            .into(),
    )
}

#[server(prefix = "/api/staff", endpoint = "support_action")]
pub async fn act_on_patient(
    #[server(default)] patient: String,
    action: SupportAction,
    #[server(default)] reason: String,
    /// "Also remove passkeys", for the actions that offer it: the form sends `asked` with it,
    /// so an unticked box is told apart from a request that never offered one, which removes
    /// them (the safe side).
    #[server(default)]
    also_remove_passkeys: Option<String>,
    #[server(default)] passkeys_choice: Option<String>,
    /// "How did you check it's the patient?", for the actions that ask.
    #[server(default)]
    identity_check: Option<IdentityCheck>,
) -> Result<ActionDone, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    let remove_passkeys = also_remove_passkeys.is_some() || passkeys_choice.is_none();
    let done = portal_core::staff::support::act(
        &portal,
        &visit,
        &patient,
        action.into(),
        &reason,
        remove_passkeys,
        identity_check.map(Into::into),
    );
    Ok(done.await?.into())
}

/// The search is a plain GET form, answered with the page: the same whether the page's scripts
/// have woken or not (the islands router puts the answer in place; without it the browser
/// loads it), and the address names the search, so Back returns to it.
#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let typed = query.read_untracked().get("query").unwrap_or_default();
    let page = query
        .read_untracked()
        .get("page")
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or(1);
    // Finding a caregiver for the patient this names ("Add a caregiver").
    let caregiver_for = query.read_untracked().get("caregiver_for");
    let searched = typed.clone();
    let results = Resource::new(
        move || (searched.clone(), page),
        |(query, page)| async move {
            match query.trim().is_empty() {
                true => None,
                false => Some(search_patients(query, Some(page)).await),
            }
        },
    );
    view! {
        <Title text="Search patients"/>
        <section class="card">
            <h1>"Search patients"</h1>
            // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
            {caregiver_for.is_some().then(|| view! {
                <p class="hint">"Find the caregiver's own account, then choose \"Choose as caregiver\"."</p>
            })}
            {move || {
                let typed = typed.clone();
                let caregiver_for = caregiver_for.clone();
                Suspend::new(async move {
                    let answer = results.await;
                    let error = answer.clone().and_then(Result::err);
                    let problem = error.as_ref().and_then(|e| e.field_message("query"));
                    let message = error.filter(|e| e.fields.is_empty());
                    view! {
                        <form method="get" action="/staff" class="form" novalidate>
                            <FormMessage error=Signal::derive(move || message.clone())/>
                            {caregiver_for.clone().map(|patient| view! { <input type="hidden" name="caregiver_for" value=patient/> })}
                            <div class="field" class:invalid=problem.is_some()>
                                <label for="query">"Search patients"</label>
                                <p class="hint" id="query-hint">
                                    "A name, a username, a date of birth (YYYY-MM-DD), or the last 3 or 4 digits of a mobile number."
                                </p>
                                <input
                                    id="query"
                                    name="query"
                                    type="search"
                                    value=typed.clone()
                                    aria-invalid=problem.is_some().to_string()
                                    aria-describedby="query-hint query-error"
                                />
                                <p class="field-error" id="query-error" aria-live="polite">{problem.clone()}</p>
                            </div>
                            <SubmitButton label="Search" pending=false/>
                        </form>
                        {answer.and_then(Result::ok).map(|results| view! { <Results results query=typed caregiver_for/> })}
                    }
                })
            }}
        </section>
    }
}

/// One page of patients found, with the way to the page before and after.
#[component]
fn Results(
    results: SearchResults,
    query: String,
    /// Finding a caregiver for this patient: each row may be chosen as theirs.
    caregiver_for: Option<String>,
) -> impl IntoView {
    let page = results.page;
    let more = results.more;
    let empty = results.patients.is_empty();
    // Each page is a search of its own: a small GET form, so the query needs no encoding.
    let for_pages = caregiver_for.clone();
    let to_page = move |label: &'static str, number: u32| {
        view! {
            <form method="get" action="/staff" class="page-link">
                <input type="hidden" name="query" value=query.clone()/>
                {for_pages.clone().map(|patient| view! { <input type="hidden" name="caregiver_for" value=patient/> })}
                <input type="hidden" name="page" value=number.to_string()/>
                <button type="submit" class="button secondary">{label}</button>
            </form>
        }
    };
    view! {
        <h2 class="results-heading">{format!("Page {page}")}</h2>
        {empty.then(|| view! { <p role="status">"No patients match."</p> })}
        <ul class="patient-list">
            {results.patients.into_iter().map(|p| view! {
                <li>
                    <a href=format!("/staff/patients/{}", p.reference)>
                        {format!("{} {}", p.given_name, p.family_name)}
                    </a>
                    <span class="hint">
                        {format!(" · born {} · {} · mobile {}", p.date_of_birth, p.username, p.mobile.unwrap_or_else(|| "none".into()))}
                    </span>
                    {caregiver_for.clone().map(|patient| view! {
                        " "
                        <a class="button secondary" href=format!("/staff/patients/{patient}?caregiver={}#add-caregiver", p.reference)>
                            "Choose as caregiver"
                        </a>
                    })}
                </li>
            }).collect_view()}
        </ul>
        <div class="actions">
            {(page > 1).then(|| to_page("Previous page", page - 1))}
            {more.then(|| to_page("Next page", page + 1))}
        </div>
    }
}

#[component]
pub fn PatientPage() -> impl IntoView {
    let params = use_params_map();
    let reference = params.read_untracked().get("patient").unwrap_or_default();
    // A caregiver chosen in a search, to add to this patient ("Add a caregiver").
    let caregiver = use_query_map().read_untracked().get("caregiver");
    let care = Resource::new(
        {
            let reference = reference.clone();
            move || (reference.clone(), caregiver.clone())
        },
        |(patient, caregiver)| super::caregivers::care_of_patient(patient, caregiver),
    );
    let record = Resource::new(move || reference.clone(), patient_record);
    view! {
        <Title text="Patient"/>
        // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
        {move || Suspend::new(async move {
            match record.await {
                Ok(record) => {
                    let care = care.await.ok();
                    view! {
                        <PatientRecord record page=PageContext::here()/>
                        {care.map(|record| view! { <super::caregivers::CareCard record/> })}
                    }.into_any()
                }
                Err(e) => view! {
                    <section class="card">
                        <p role="alert">{e.message}</p>
                        <p><A href="/staff">"Search patients"</A></p>
                    </section>
                }.into_any(),
            }
        })}
    }
}

/// The record wakes in the browser: an action is chosen, confirmed and shown in place, and the
/// record is read again after each one.
#[island(lazy)]
fn PatientRecord(record: PatientFile, page: PageContext) -> impl IntoView {
    crate::ui::enhance::awake("PatientRecord");
    page.provide();
    let act = ServerAction::<ActOnPatient>::new();
    let current = RwSignal::new(record);
    Effect::new(move |_| {
        if let Some(Ok(_)) = act.value().get() {
            let reference = current.with_untracked(|r| r.reference.clone());
            leptos::task::spawn_local(async move {
                if let Ok(fresh) = patient_record(reference).await {
                    current.set(fresh);
                }
            });
        }
    });
    move || view! { <Record record=current.get() act/> }
}

#[component]
fn Record(record: PatientFile, act: ServerAction<ActOnPatient>) -> impl IntoView {
    let name = format!("{} {}", record.given_name, record.family_name);
    let mobile = match (&record.mobile, record.mobile_verified) {
        (Some(m), true) => format!("{m} (verified)"),
        (Some(m), false) => format!("{m} (not verified)"),
        (None, _) => "none".into(),
    };
    let held = record.held_since.clone();
    let state = match &record.delayed_until {
        Some(until) => format!("Login delay running until {until}"),
        None => "No login delay".into(),
    };
    view! {
        <section class="card">
            <h1>{name}</h1>
            <dl class="details">
                <div><dt>"Date of birth"</dt><dd>{record.date_of_birth.clone()}</dd></div>
                <div><dt>"Username"</dt><dd>{record.username.clone()}</dd></div>
                <div><dt>"Mobile"</dt><dd>{mobile}</dd></div>
                <div><dt>"New mobile waiting to be verified"</dt><dd>{record.pending_mobile.clone().unwrap_or_else(|| "none".into())}</dd></div>
                <div><dt>"Email"</dt><dd>{if record.has_email { "on file" } else { "none" }}</dd></div>
                <div><dt>"Recovery code"</dt><dd>{match record.recovery_code_made.clone() {
                    Some(made) => format!("saved, made {made}"),
                    None => "none".to_string(),
                }}</dd></div>
                <div><dt>"Caregivers"</dt><dd><a href="#care">"Caregivers and children"</a></dd></div>
                <div><dt>"Sign-in state"</dt><dd class="sign-in-state">{state}
                    {record.must_change_password.then_some(" · must choose a new password")}
                    {held.clone().map(|since| format!(" · on hold since {since} (\"This wasn't me\")"))}</dd></div>
            </dl>
        </section>
        <Actions reference=record.reference.clone() held=held.is_some() act/>
        <section class="card">
            <h2>"Last sign-ins"</h2>
            {record.sign_ins.is_empty().then(|| view! { <p>"None yet."</p> })}
            <ul>
                {record.sign_ins.into_iter().map(|(at, ip)| view! { <li>{format!("{at} from {ip}")}</li> }).collect_view()}
            </ul>
        </section>
        <section class="card">
            <h2>"Passkeys"</h2>
            {record.passkeys.is_empty().then(|| view! { <p>"None."</p> })}
            <ul class="passkeys">
                {record.passkeys.into_iter().map(|(name, added)| view! { <li>{format!("{name}, added {added}")}</li> }).collect_view()}
            </ul>
        </section>
        <section class="card">
            <h2>"Remembered devices"</h2>
            <p class="hint">"Devices where the patient's password alone signs them in, without a code."</p>
            {record.remembered_devices.is_empty().then(|| view! { <p>"None."</p> })}
            <ul class="remembered-devices">
                {record.remembered_devices.into_iter().map(|(device, used)| view! { <li>{format!("{device}, last used {used}")}</li> }).collect_view()}
            </ul>
        </section>
        <section class="card">
            <h2>"Text messages"</h2>
            {record.texts.is_empty().then(|| view! { <p>"None yet."</p> })}
            <div class="table-scroll" tabindex="0" role="region" aria-label="Text messages">
                <table class="texts">
                    <thead><tr><th>"When"</th><th>"To"</th><th>"Status"</th><th>"Provider"</th><th>"Provider's report"</th></tr></thead>
                    <tbody>
                        {record.texts.into_iter().map(|t| view! {
                            <tr>
                                <td data-label="When">{t.at}</td>
                                <td data-label="To">{t.to}</td>
                                <td data-label="Status">{format!("{} ({} attempt{})", t.status, t.attempts, if t.attempts == 1 { "" } else { "s" })}</td>
                                <td data-label="Provider">{t.provider.unwrap_or_default()}</td>
                                <td data-label="Provider's report">{t.delivery.or(t.error).unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <section class="card">
            <h2>"Audit trail"</h2>
            <AuditTable items=record.audit/>
        </section>
    }
}

/// Audit lines as a table, newest first.
#[component]
pub fn AuditTable(items: Vec<AuditItem>) -> impl IntoView {
    view! {
        <div class="table-scroll" tabindex="0" role="region" aria-label="Audit trail">
            <table class="audit">
                <thead><tr><th>"When"</th><th>"Event"</th><th>"Outcome"</th><th>"Patient"</th><th>"Staff"</th><th>"IP"</th><th>"Detail"</th><th>"Request"</th></tr></thead>
                <tbody>
                    {items.into_iter().map(|a| view! {
                        <tr>
                            <td data-label="When">{a.at}</td>
                            <td data-label="Event">{a.event}</td>
                            <td data-label="Outcome">{a.outcome}</td>
                            <td data-label="Patient">{a.patient.unwrap_or_default()}</td>
                            <td data-label="Staff">{a.staff.unwrap_or_default()}</td>
                            <td data-label="IP">{a.ip}</td>
                            <td data-label="Detail">{a.detail.unwrap_or_default()}</td>
                            <td data-label="Request">{a.request_id.unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn Actions(reference: String, held: bool, act: ServerAction<ActOnPatient>) -> impl IntoView {
    // Rendered afresh after an action is done, so the form starts closed again.
    let chosen = RwSignal::new(None::<SupportAction>);
    let error = Signal::derive(move || act.value().get().and_then(Result::err));
    let done = Signal::derive(move || act.value().get().and_then(Result::ok));
    view! {
        <section class="card support-actions" aria-labelledby="actions-title">
            <h2 id="actions-title">"Help this patient"</h2>
            <StatusMessage message=Signal::derive(move || done.get().map(|d| d.message))/>
            {move || done.get().and_then(|d| d.one_time_password).map(|password| view! {
                <p class="one-time-password">
                    "Read this password to the patient: " <code>{password}</code>
                    " It won't be shown again."
                </p>
            })}
            <div class="actions">
                // "Lift the hold" only where there is one.
                {SupportAction::ALL.into_iter().filter(|a| held || *a != SupportAction::LiftHold).map(|action| view! {
                    <button
                        type="button"
                        class="button secondary"
                        aria-expanded=move || (chosen.get() == Some(action)).to_string()
                        on:click=move |_| {
                            act.value().set(None);
                            chosen.set(Some(action));
                        }
                    >
                        {action.label()}
                    </button>
                }).collect_view()}
            </div>
            {move || chosen.get().map(|action| {
                let reference = reference.clone();
                view! {
                    <ActionForm action=act attr:novalidate=true attr:class="form confirm-action">
                        <h3>{action.label()}</h3>
                        <p>{action.explanation()}</p>
                        <FormMessage error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
                        <input type="hidden" name="patient" value=reference/>
                        <input type="hidden" name="action" value=action.as_str()/>
                        {action.asks_how_identity_was_checked().then(|| view! { <IdentityQuestion error/> })}
                        <Field name="reason" label="Reason" hint="Why, in a few words: it goes into the audit log." error=field_error(error, "reason")/>
                        {action.offers_passkey_removal().then(|| view! {
                            <input type="hidden" name="passkeys_choice" value="asked"/>
                            <div class="field checkbox">
                                <input type="checkbox" id="also-remove-passkeys" name="also_remove_passkeys" value="on" checked=true/>
                                <label for="also-remove-passkeys">"Also remove passkeys"</label>
                            </div>
                        })}
                        <div class="actions">
                            <SubmitButton label="Confirm" pending=act.pending()/>
                            <button type="button" class="button link" on:click=move |_| chosen.set(None)>"Cancel"</button>
                        </div>
                    </ActionForm>
                }
            })}
        </section>
    }
}

/// "How did you check it's the patient?": one choice, kept in the audit beside the reason.
/// `scope` prefixes its IDs where two forms on a page ask it.
#[component]
pub(super) fn IdentityQuestion(
    error: Signal<Option<PortalError>>,
    #[prop(default = "")] scope: &'static str,
) -> impl IntoView {
    let problem = field_error(error, "identity_check");
    let (hint, message) = (
        format!("{scope}identity_check-hint"),
        format!("{scope}identity_check-error"),
    );
    let described_by = format!("{hint} {message}");
    view! {
        <fieldset
            class="field choices"
            class:invalid=move || problem.get().is_some()
            aria-describedby=described_by
        >
            <legend>"How did you check it's the patient?"</legend>
            <p class="hint" id=hint>
                "Never a number or email address given during the call: call back one on the practice's records."
            </p>
            {IdentityCheck::ALL.into_iter().map(|check| {
                let id = format!("{scope}identity-{}", check.as_str());
                view! {
                    <div class="choice">
                        <input type="radio" id=id.clone() name="identity_check" value=check.as_str()/>
                        <label for=id>{check.label()}</label>
                    </div>
                }
            }).collect_view()}
            <p class="field-error" id=message aria-live="polite">{move || problem.get()}</p>
        </fieldset>
    }
}
