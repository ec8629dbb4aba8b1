//! Support's caregivers card on a patient's page: who cares for them and whom they care for,
//! "Add a child", "Add a caregiver" (found through the search, as a parent or guardian or a
//! legal authority) and "Remove caregiver". Rendered on the server with plain forms, so it
//! works the same before the page's scripts wake, or without them. Each action needs a reason
//! and (to add) how support checked who they spoke to, and is audited.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::support::{IdentityCheck, IdentityQuestion};
use crate::{
    error::PortalError,
    ui::{plain_forms::refused_error, Field, FormMessage, StatusMessage},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareLine {
    pub grant: i64,
    pub reference: String,
    pub name: String,
    pub relationship: String,
    pub since: String,
    pub ends: Option<String>,
    pub usable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenCaregiver {
    pub reference: String,
    pub name: String,
    pub date_of_birth: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareRecord {
    pub reference: String,
    pub name: String,
    pub signs_in: bool,
    pub caregivers: Vec<CareLine>,
    pub cares_for: Vec<CareLine>,
    pub chosen: Option<ChosenCaregiver>,
    /// Invitations the patient said someone is pressuring them into: (invitation, when).
    pub waiting: Vec<(i64, String)>,
    pub caregiver_access: bool,
    pub children_sign_in_age: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareChanged {}

#[server(prefix = "/api/staff", endpoint = "care")]
pub async fn care_of_patient(
    #[server(default)] patient: String,
    #[server(default)] caregiver: Option<String>,
) -> Result<CareRecord, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    let record =
        portal_core::staff::caregivers::record(&portal, &visit, &patient, caregiver.as_deref());
    Ok(record.await?.into())
}

/// Back to the patient's page with a notice, for a form posted as a plain page.
#[cfg(feature = "ssr")]
fn back_to_patient(reference: &str, notice: &str) {
    if crate::request::is_plain_form_post() {
        let reference: String =
            url::form_urlencoded::byte_serialize(reference.as_bytes()).collect();
        leptos_axum::redirect(&format!("/staff/patients/{reference}?{notice}#care"));
    }
}

/// "Add a child": a record that can't sign in, and the patient's grant as its parent.
#[server(prefix = "/api/staff", endpoint = "add_child")]
pub async fn add_child(
    #[server(default)] patient: String,
    #[server(default)] given_name: String,
    #[server(default)] family_name: String,
    #[server(default)] date_of_birth: String,
    #[server(default)] identity_check: Option<IdentityCheck>,
    #[server(default)] reason: String,
) -> Result<CareChanged, PortalError> {
    use portal_core::staff::caregivers::{Justified, TypedChild};
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    let child = portal_core::staff::caregivers::add_child(
        &portal,
        &visit,
        &patient,
        TypedChild {
            given_name: &given_name,
            family_name: &family_name,
            date_of_birth: &date_of_birth,
        },
        Justified {
            reason: &reason,
            identity: identity_check.map(Into::into),
        },
    )
    .await?;
    back_to_patient(&child, "child-added");
    Ok(CareChanged {})
}

/// "Add a caregiver": the patient `caregiver` names, chosen in a search, for this patient.
#[server(prefix = "/api/staff", endpoint = "add_caregiver")]
pub async fn add_caregiver(
    #[server(default)] patient: String,
    #[server(default)] caregiver: String,
    #[server(default)] relationship: String,
    #[server(default)] document: String,
    #[server(default)] identity_check: Option<IdentityCheck>,
    #[server(default)] reason: String,
) -> Result<CareChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    portal_core::staff::caregivers::add_caregiver(
        &portal,
        &visit,
        &patient,
        &caregiver,
        &relationship,
        &document,
        portal_core::staff::caregivers::Justified {
            reason: &reason,
            identity: identity_check.map(Into::into),
        },
    )
    .await?;
    back_to_patient(&patient, "caregiver-added");
    Ok(CareChanged {})
}

/// "Remove caregiver", for safeguarding; `tell` unticked tells neither person.
#[server(prefix = "/api/staff", endpoint = "remove_caregiver")]
pub async fn remove_caregiver(
    #[server(default)] patient: String,
    #[server(default)] grant: String,
    #[server(default)] reason: String,
    /// Sent with "asked", so an unticked box is told apart from a request that never offered
    /// it, which tells (the usual way).
    #[server(default)]
    tell: Option<String>,
    #[server(default)] tell_choice: Option<String>,
) -> Result<CareChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    let grant = grant.trim().parse::<i64>().map_err(|_| {
        PortalError::new(
            crate::error::ErrorKind::NotFound,
            "That caregiver access has already ended.",
        )
    })?;
    let tell = tell.is_some() || tell_choice.is_none();
    portal_core::staff::caregivers::remove_caregiver(
        &portal, &visit, &patient, grant, &reason, tell,
    )
    .await?;
    back_to_patient(&patient, "caregiver-removed");
    Ok(CareChanged {})
}

/// "Close the invitation", after the practice has talked to the patient about the pressure.
#[server(prefix = "/api/staff", endpoint = "close_invitation")]
pub async fn close_invitation(
    #[server(default)] patient: String,
    #[server(default)] invitation: String,
    #[server(default)] reason: String,
) -> Result<CareChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    let invitation = invitation.trim().parse::<i64>().map_err(|_| {
        PortalError::new(
            crate::error::ErrorKind::NotFound,
            "That invitation has already ended.",
        )
    })?;
    portal_core::staff::caregivers::close_invitation(
        &portal, &visit, &patient, invitation, &reason,
    )
    .await?;
    back_to_patient(&patient, "invitation-closed");
    Ok(CareChanged {})
}

/// "Set up sign-in": a child's record gets its own username; "Issue one-time password" then
/// gives the young person a way in.
#[server(prefix = "/api/staff", endpoint = "set_up_sign_in")]
pub async fn set_up_sign_in(
    #[server(default)] patient: String,
    #[server(default)] username: String,
    #[server(default)] identity_check: Option<IdentityCheck>,
    #[server(default)] reason: String,
) -> Result<CareChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    portal_core::staff::caregivers::set_up_sign_in(
        &portal,
        &visit,
        &patient,
        &username,
        portal_core::staff::caregivers::Justified {
            reason: &reason,
            identity: identity_check.map(Into::into),
        },
    )
    .await?;
    back_to_patient(&patient, "sign-in-set-up");
    Ok(CareChanged {})
}

/// What the card says after an action, named in the page's address.
fn notice(query: &leptos_router::params::ParamsMap) -> Option<String> {
    [
        ("child-added", "The child's record is added, with this parent's access. The child can't sign in until the practice sets that up."),
        ("caregiver-added", "The caregiver is added. They sign in as themselves and choose \"Acting for\"."),
        ("caregiver-removed", "The caregiver is removed: they can't act for this patient any more."),
        ("invitation-closed", "The invitation is closed: nobody can use it."),
        ("sign-in-set-up", "Sign-in is set up. Now choose \"Issue one-time password\" above and read it to the young person: with it they choose their own password, then give their own mobile number."),
    ]
    .into_iter()
    .find(|(key, _)| query.get(key).is_some())
    .map(|(_, message)| message.to_string())
}

/// The error a refused plain post from `action` came back with, for its own form.
fn refused_from(action: &'static str) -> Signal<Option<PortalError>> {
    Signal::stored(refused_error(&[action]))
}

#[component]
pub fn CareCard(record: CareRecord) -> impl IntoView {
    let query = use_query_map();
    let notice = Signal::stored(notice(&query.read_untracked()));
    let removing = refused_from("/api/staff/remove_caregiver");
    let reference = record.reference.clone();
    let off = (!record.caregiver_access).then(|| view! {
        <p class="warning" role="note">"Caregiver access is off in the practice settings: no caregiver can act for anyone, and none can be added."</p>
    });
    view! {
        <section class="card" id="care" aria-labelledby="care-title">
            <h2 id="care-title">"Caregivers"</h2>
            <StatusMessage message=notice/>
            {off}
            <WaitingInvitations waiting=record.waiting patient=reference.clone()/>
            {(!record.signs_in).then(|| view! {
                <p>"This is a child's record: it can't sign in. A parent or guardian acts for the child."</p>
                <SetUpSignInForm patient=reference.clone()/>
            })}
            <h3>"Caregivers of this patient"</h3>
            {record.caregivers.is_empty().then(|| view! { <p>"None."</p> })}
            <ul class="caregivers">
                {record.caregivers.into_iter().map(|line| view! {
                    <CaregiverLine line patient=reference.clone() error=removing/>
                }).collect_view()}
            </ul>
            <h3>"Cares for"</h3>
            {record.cares_for.is_empty().then(|| view! { <p>"Nobody."</p> })}
            <ul class="cares-for">
                {record.cares_for.into_iter().map(|line| view! {
                    <li>
                        <a href=format!("/staff/patients/{}#care", line.reference)>{line.name}</a>
                        {format!(" · {}", line.relationship)}
                        {line.ends.map(|day| format!(", until {day}"))}
                    </li>
                }).collect_view()}
            </ul>
            <AddCaregiverForm patient=reference.clone() chosen=record.chosen/>
            {record.signs_in.then(|| view! { <AddChildForm patient=reference.clone() age=record.children_sign_in_age/> })}
        </section>
    }
}

#[component]
fn CaregiverLine(
    line: CareLine,
    patient: String,
    error: Signal<Option<PortalError>>,
) -> impl IntoView {
    // The refused form was this one only if it named this grant.
    let refused_here = crate::ui::plain_forms::typed_value("grant") == Some(line.grant.to_string());
    let error = Signal::stored(error.get_untracked().filter(|_| refused_here));
    let reason_problem = crate::ui::field_error(error, "reason");
    let general = Signal::stored(error.get_untracked().filter(|e| e.fields.is_empty()));
    let scope = format!("remove-{}-", line.grant);
    let ends = line
        .ends
        .map(|day| format!(", until {day}"))
        .unwrap_or_default();
    let paused = (!line.usable).then_some(" (paused)");
    let tell_id = format!("tell-{}", line.grant);
    view! {
        <li>
            <a href=format!("/staff/patients/{}#care", line.reference)>{line.name.clone()}</a>
            {format!(" · {} · since {}{ends}", line.relationship, line.since)}
            {paused}
            <details class="remove-caregiver" open=refused_here>
                <summary>{format!("Remove caregiver {}", line.name)}</summary>
                <form method="post" action="/api/staff/remove_caregiver" class="form" data-whole-page="" novalidate>
                    <FormMessage error=general/>
                    <input type="hidden" name="patient" value=patient/>
                    <input type="hidden" name="grant" value=line.grant.to_string()/>
                    <div class="field" class:invalid=move || reason_problem.get().is_some()>
                        <label for=format!("{scope}reason")>"Reason"</label>
                        <p class="hint" id=format!("{scope}reason-hint")>"Why, in a few words: it goes into the audit log."</p>
                        <input
                            id=format!("{scope}reason")
                            name="reason"
                            type="text"
                            aria-invalid=move || reason_problem.get().is_some().to_string()
                            aria-describedby=format!("{scope}reason-hint {scope}reason-error")
                        />
                        <p class="field-error" id=format!("{scope}reason-error") aria-live="polite">{move || reason_problem.get()}</p>
                    </div>
                    <input type="hidden" name="tell_choice" value="asked"/>
                    <div class="field checkbox">
                        <input type="checkbox" id=tell_id.clone() name="tell" value="on" checked=true/>
                        <label for=tell_id>"Tell the patient and the caregiver"</label>
                    </div>
                    <button type="submit" class="button">"Confirm"</button>
                </form>
            </details>
        </li>
    }
}

#[component]
fn AddCaregiverForm(patient: String, chosen: Option<ChosenCaregiver>) -> impl IntoView {
    let error = refused_from("/api/staff/add_caregiver");
    let general = Signal::stored(error.get_untracked().filter(|e| e.fields.is_empty()));
    let open = chosen.is_some();
    let body = match chosen {
        None => view! {
            <p class="hint">"First find the caregiver's own account: they register themselves, with their own mobile number."</p>
            <form method="get" action="/staff" class="form">
                <input type="hidden" name="caregiver_for" value=patient/>
                <div class="field">
                    <label for="caregiver-query">"Find the caregiver"</label>
                    <p class="hint" id="caregiver-query-hint">"A name, a username, a date of birth (YYYY-MM-DD), or the last 3 or 4 digits of a mobile number."</p>
                    <input id="caregiver-query" name="query" type="search" aria-describedby="caregiver-query-hint"/>
                </div>
                <button type="submit" class="button secondary">"Search"</button>
            </form>
        }
        .into_any(),
        Some(chosen) => view! {
            <p>{format!("Caregiver: {} (born {})", chosen.name, chosen.date_of_birth)}</p>
            <form method="post" action="/api/staff/add_caregiver" class="form" data-whole-page="" novalidate>
                <FormMessage error=general/>
                <input type="hidden" name="patient" value=patient/>
                <input type="hidden" name="caregiver" value=chosen.reference/>
                <RelationshipChoice error/>
                <Field
                    name="document"
                    label="Document"
                    hint="For a legal authority: the enduring power of attorney or guardianship order you saw."
                    error=crate::ui::field_error(error, "document")
                />
                <IdentityQuestion error scope="caregiver-"/>
                <Field
                    name="reason"
                    label="Reason"
                    scope="caregiver-"
                    hint="Why, in a few words: it goes into the audit log."
                    error=crate::ui::field_error(error, "reason")
                />
                <p class="field-error" role="alert">{move || crate::ui::field_error(error, "caregiver").get()}</p>
                <button type="submit" class="button">"Confirm"</button>
            </form>
        }
        .into_any(),
    };
    view! {
        <details id="add-caregiver" open=open>
            <summary>"Add a caregiver"</summary>
            {body}
        </details>
    }
}

#[component]
fn RelationshipChoice(error: Signal<Option<PortalError>>) -> impl IntoView {
    let problem = crate::ui::field_error(error, "relationship");
    view! {
        <fieldset class="field choices" aria-describedby="relationship-error">
            <legend>"Relationship"</legend>
            <div class="choice">
                <input type="radio" id="relationship-parent" name="relationship" value="parent"/>
                <label for="relationship-parent">"Parent or guardian"</label>
            </div>
            <div class="choice">
                <input type="radio" id="relationship-legal" name="relationship" value="legal_authority"/>
                <label for="relationship-legal">"Legal authority"</label>
            </div>
            <p class="field-error" id="relationship-error" aria-live="polite">{move || problem.get()}</p>
        </fieldset>
    }
}

#[component]
fn AddChildForm(patient: String, age: i64) -> impl IntoView {
    let error = refused_from("/api/staff/add_child");
    let general = Signal::stored(error.get_untracked().filter(|e| e.fields.is_empty()));
    let open = error.get_untracked().is_some();
    view! {
        <details id="add-child" open=open>
            <summary>"Add a child"</summary>
            <p class="hint">{format!("A record for this patient's child, under {age}: it can't sign in and needs no mobile number. This patient becomes its parent or guardian, until the child is {age}.")}</p>
            <form method="post" action="/api/staff/add_child" class="form" data-whole-page="" novalidate>
                <FormMessage error=general/>
                <input type="hidden" name="patient" value=patient/>
                <Field name="given_name" label="Child's given name" autocomplete="off" error=crate::ui::field_error(error, "given_name")/>
                <Field name="family_name" label="Child's family name" autocomplete="off" error=crate::ui::field_error(error, "family_name")/>
                <Field name="date_of_birth" label="Child's date of birth" hint="YYYY-MM-DD, for example 2019-07-31." error=crate::ui::field_error(error, "date_of_birth")/>
                <IdentityQuestion error scope="child-"/>
                <Field
                    name="reason"
                    label="Reason"
                    scope="child-"
                    hint="Why, in a few words: it goes into the audit log."
                    error=crate::ui::field_error(error, "reason")
                />
                <button type="submit" class="button">"Confirm"</button>
            </form>
        </details>
    }
}

/// Invitations the patient said someone is pressuring them into: support talks to the patient
/// (privately) and closes the invitation.
#[component]
fn WaitingInvitations(waiting: Vec<(i64, String)>, patient: String) -> impl IntoView {
    let error = refused_from("/api/staff/close_invitation");
    let reason_problem = crate::ui::field_error(error, "reason");
    (!waiting.is_empty()).then(|| view! {
        <div class="warning" role="note">
            <strong>"Someone may be pressuring this patient to add a caregiver."</strong>
            " They said so when they made the invitation below, which can't be used. Talk to the patient on their own, then close it."
        </div>
        <ul class="waiting-invitations">
            {waiting.into_iter().map(|(invitation, reported)| {
                let scope = format!("close-{invitation}-");
                view! {
                    <li>
                        {format!("Invitation reported {reported}")}
                        <form method="post" action="/api/staff/close_invitation" class="form" data-whole-page="" novalidate>
                            <input type="hidden" name="patient" value=patient.clone()/>
                            <input type="hidden" name="invitation" value=invitation.to_string()/>
                            <div class="field" class:invalid=move || reason_problem.get().is_some()>
                                <label for=format!("{scope}reason")>"Reason"</label>
                                <input
                                    id=format!("{scope}reason")
                                    name="reason"
                                    type="text"
                                    aria-invalid=move || reason_problem.get().is_some().to_string()
                                    aria-describedby=format!("{scope}reason-error")
                                />
                                <p class="field-error" id=format!("{scope}reason-error") aria-live="polite">{move || reason_problem.get()}</p>
                            </div>
                            <button type="submit" class="button">"Close the invitation"</button>
                        </form>
                    </li>
                }
            }).collect_view()}
        </ul>
    })
}

/// "Set up sign-in", for a child's record: when the young person is ready to sign in for
/// themselves (at the practice's age, or before it with the practice's agreement).
#[component]
fn SetUpSignInForm(patient: String) -> impl IntoView {
    let error = refused_from("/api/staff/set_up_sign_in");
    let general = Signal::stored(error.get_untracked().filter(|e| e.fields.is_empty()));
    let open = error.get_untracked().is_some();
    view! {
        <details id="set-up-sign-in" open=open>
            <summary>"Set up sign-in"</summary>
            <p class="hint">"Gives this record its own username, for the young person to sign in for themselves."</p>
            <form method="post" action="/api/staff/set_up_sign_in" class="form" data-whole-page="" novalidate>
                <FormMessage error=general/>
                <input type="hidden" name="patient" value=patient/>
                <Field name="username" label="Username" autocomplete="off" scope="sign-in-" error=crate::ui::field_error(error, "username")/>
                <IdentityQuestion error scope="sign-in-"/>
                <Field
                    name="reason"
                    label="Reason"
                    scope="sign-in-"
                    hint="Why, in a few words: it goes into the audit log."
                    error=crate::ui::field_error(error, "reason")
                />
                <button type="submit" class="button">"Confirm"</button>
            </form>
        </details>
    }
}
