//! Caregivers, from both sides. A caregiver's "Acting for" (`/caring`) lists the people they
//! care for; acting for one (`/for/GRANT`) names the grant in its address, so two tabs can act
//! for two people, and every page there carries "You're acting for NAME" with "Switch back".
//! The patient's "Caregivers" on "Sign-in and security" lists who may act for them, with
//! "Remove". Every form is a plain one answered with its page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    patient::{
        confirm::{ConfirmFirst, ProofFor},
        MobileStatus,
    },
    ui::{plain_forms::refused_error, CouldNotLoad, Field, FormMessage, StatusMessage},
};

/// A person the caregiver may act for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaredFor {
    pub grant: i64,
    pub name: String,
    pub relationship: String,
    pub ends: Option<String>,
}

/// A caregiver, as the patient sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caregiver {
    pub grant: i64,
    pub name: String,
    pub relationship: String,
    pub since: String,
    pub ends: Option<String>,
    /// False while paused: an account on hold, or the practice's caregiver access off.
    pub usable: bool,
    /// An adult the patient invited: "Renew".
    pub renewable: bool,
}

/// An invitation the patient has open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInvitation {
    pub id: i64,
    /// Shown only while the session's proof is recent.
    pub code: Option<String>,
    pub until: String,
    pub waiting_for_practice: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answered {
    pub accepted: bool,
}

/// What a caregiver sees of the person they act for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActingFor {
    pub grant: i64,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub email: Option<String>,
    /// Masked to its last three digits.
    pub mobile: Option<String>,
    pub mobile_verified: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareChanged {}

/// A grant's number as a form or an address gives it: anything else names no grant.
#[cfg(feature = "ssr")]
fn grant_named(grant: &str) -> Result<i64, PortalError> {
    grant.trim().parse::<i64>().map_err(|_| {
        PortalError::new(
            crate::error::ErrorKind::NotFound,
            portal_core::caregivers::NOT_CARING,
        )
    })
}

/// The people the signed-in patient may act for now.
#[server(prefix = "/api", endpoint = "cared_for")]
pub async fn people_cared_for() -> Result<Vec<CaredFor>, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    let people = portal_core::caregivers::cared_for(&portal, &visit).await?;
    Ok(people.into_iter().map(Into::into).collect())
}

/// The person a grant lets the signed-in caregiver act for: only while it is theirs and live,
/// and only from a session proved by a code or a passkey. `/api/me` stays the caregiver's own.
#[server(prefix = "/api", endpoint = "acting_for")]
pub async fn act_for(#[server(default)] grant: String) -> Result<ActingFor, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    let grant = grant_named(&grant)?;
    Ok(portal_core::caregivers::act_for(&portal, &visit, grant)
        .await?
        .into())
}

/// "Stop caring for": the caregiver ends their own grant.
#[server(prefix = "/api", endpoint = "stop_caring")]
pub async fn stop_caring(#[server(default)] grant: String) -> Result<CareChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    portal_core::caregivers::stop_caring(&portal, &visit, grant_named(&grant)?).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/caring?stopped");
    }
    Ok(CareChanged {})
}

/// "Remove": the patient ends a caregiver's grant, at once.
#[server(prefix = "/api", endpoint = "remove_caregiver")]
pub async fn remove_caregiver(
    #[server(default)] grant: String,
) -> Result<CareChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    portal_core::caregivers::remove(&portal, &visit, grant_named(&grant)?).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/security?caregiver-removed#caregivers");
    }
    Ok(CareChanged {})
}

/// "Invite a caregiver": a new code, shown on the page while it is open. Needs a recent proof.
#[server(prefix = "/api", endpoint = "invite_caregiver")]
pub async fn invite_caregiver() -> Result<OpenInvitation, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    let made = portal_core::caregivers::invitations::invite(&portal, &visit).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/security?invited#caregivers");
    }
    Ok(made.into())
}

/// A number from a form that names an invitation or a grant: anything else names none.
#[cfg(feature = "ssr")]
fn number(given: &str, what: &str) -> Result<i64, PortalError> {
    given.trim().parse::<i64>().map_err(|_| {
        PortalError::new(
            crate::error::ErrorKind::NotFound,
            format!("That {what} has already ended. Please reload the page."),
        )
    })
}

#[server(prefix = "/api", endpoint = "cancel_invitation")]
pub async fn cancel_invitation(
    #[server(default)] invitation: String,
) -> Result<CareChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    let invitation = number(&invitation, "invitation")?;
    portal_core::caregivers::invitations::cancel(&portal, &visit, invitation).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/security?invitation-cancelled#caregivers");
    }
    Ok(CareChanged {})
}

/// "Someone is pressuring me to do this": the invitation waits for the practice.
#[server(prefix = "/api", endpoint = "invitation_pressure")]
pub async fn invitation_pressure(
    #[server(default)] invitation: String,
) -> Result<CareChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    let invitation = number(&invitation, "invitation")?;
    portal_core::caregivers::invitations::pressured(&portal, &visit, invitation).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/security?invitation-waiting#caregivers");
    }
    Ok(CareChanged {})
}

/// "Accept an invitation": the code and the patient's date of birth, then "Accept" or
/// "Decline".
#[server(prefix = "/api", endpoint = "accept_invitation")]
pub async fn accept_invitation(
    #[server(default)] invitation_code: String,
    #[server(default)] date_of_birth: String,
    #[server(default)] choice: String,
) -> Result<Answered, PortalError> {
    use portal_core::caregivers::invitations::{answer, Choice};
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    let choice = match choice.as_str() {
        "decline" => Choice::Decline,
        "accept" => Choice::Accept,
        _ => {
            return Err(PortalError::new(
                crate::error::ErrorKind::Invalid,
                "Please choose Accept or Decline.",
            ))
        }
    };
    let answered = answer(&portal, &visit, &invitation_code, &date_of_birth, choice).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect(match answered.accepted {
            true => "/caring?accepted",
            false => "/caring?declined",
        });
    }
    Ok(answered.into())
}

/// "Renew": the patient gives an adult caregiver the practice's months again.
#[server(prefix = "/api", endpoint = "renew_caregiver")]
pub async fn renew_caregiver(#[server(default)] grant: String) -> Result<CareChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::signed_in(&portal).await?;
    let grant = number(&grant, "caregiver's access")?;
    portal_core::caregivers::invitations::renew(&portal, &visit, grant).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/security?caregiver-renewed#caregivers");
    }
    Ok(CareChanged {})
}

/// "Acting for": the caregiver themselves, and each person they care for.
#[component]
pub fn CaringPage() -> impl IntoView {
    let people = Resource::new(|| (), |_| people_cared_for());
    let query = use_query_map();
    let said = [
        (
            "stopped",
            "You no longer act for them. Your own account is as it was.",
        ),
        (
            "accepted",
            "The invitation is accepted. Choose the person below to act for them.",
        ),
        ("declined", "The invitation is declined."),
    ]
    .into_iter()
    .find(|(key, _)| query.read_untracked().get(key).is_some())
    .map(|(_, message)| message.to_string());
    let notice = Signal::stored(said);
    let error = refused_error(&["/api/stop_caring"]);
    view! {
        <Title text="Acting for"/>
        <section class="card" aria-labelledby="caring-title">
            <h1 id="caring-title">"Acting for"</h1>
            <p class="lead">"Choose whose account to look at. You always sign in as yourself."</p>
            <StatusMessage message=notice/>
            <FormMessage error=Signal::stored(error)/>
            // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
            {move || Suspend::new(async move {
                match people.await {
                    Ok(people) => view! { <People people/> }.into_any(),
                    Err(error) => view! { <CouldNotLoad error sign_in="/login"/> }.into_any(),
                }
            })}
        </section>
        <AcceptInvitation/>
    }
}

/// "Accept an invitation": a plain form, so it works before the page's scripts wake. What was
/// typed isn't kept after a refusal: the code and the date of birth are the invitation's
/// secrets.
#[component]
fn AcceptInvitation() -> impl IntoView {
    let error = refused_error(&["/api/accept_invitation"]);
    let code_error = Signal::stored(
        error
            .as_ref()
            .and_then(|e| e.field_message("invitation_code")),
    );
    let born_error = Signal::stored(
        error
            .as_ref()
            .and_then(|e| e.field_message("date_of_birth")),
    );
    let general = Signal::stored(error.filter(|e| e.fields.is_empty()));
    view! {
        <section class="card" id="accept" aria-labelledby="accept-title">
            <h2 id="accept-title">"Accept an invitation"</h2>
            <p class="hint">"Someone you help can invite you from their own account. Type the code they gave you, and their date of birth."</p>
            <form method="post" action="/api/accept_invitation" class="form" data-whole-page="" novalidate>
                <FormMessage error=general/>
                <Field
                    name="invitation_code"
                    label="Invitation code"
                    autocomplete="off"
                    hint="Four groups of four letters and numbers, as they gave it to you."
                    error=code_error
                />
                <Field
                    name="date_of_birth"
                    label="Date of birth"
                    autocomplete="off"
                    hint="Theirs, not yours: YYYY-MM-DD, for example 1950-07-31."
                    error=born_error
                />
                <div class="actions">
                    <button type="submit" class="button primary" name="choice" value="accept">"Accept"</button>
                    <button type="submit" class="button secondary" name="choice" value="decline">"Decline"</button>
                </div>
            </form>
        </section>
    }
}

#[component]
fn People(people: Vec<CaredFor>) -> impl IntoView {
    let none = people.is_empty();
    view! {
        <ul class="acting-for">
            <li><a href="/">"Yourself"</a></li>
            {people.into_iter().map(|person| {
                let label = format!("person-{}", person.grant);
                let ends = person.ends.map(|day| format!(", until {day}")).unwrap_or_default();
                view! {
                    <li>
                        <a href=format!("/for/{}", person.grant) id=label.clone()>{person.name.clone()}</a>
                        <span class="hint">{format!(" · {}{ends}", person.relationship)}</span>
                        <form method="post" action="/api/stop_caring" class="button-form" data-whole-page="">
                            <input type="hidden" name="grant" value=person.grant.to_string()/>
                            <button type="submit" class="button link" aria-describedby=label>
                                {format!("Stop caring for {}", person.name)}
                            </button>
                        </form>
                    </li>
                }
            }).collect_view()}
        </ul>
        {none.then(|| view! { <p class="hint">"You don't act for anyone yet."</p> })}
    }
}

/// Acting for someone: their home and Personal Information, under the banner.
#[component]
pub fn ActingForPage() -> impl IntoView {
    let params = use_params_map();
    let grant = params.read_untracked().get("grant").unwrap_or_default();
    let person = Resource::new(move || grant.clone(), act_for);
    view! {
        {move || Suspend::new(async move {
            match person.await {
                Ok(person) => view! { <ActingForPerson person/> }.into_any(),
                Err(error) => view! { <CantActFor error/> }.into_any(),
            }
        })}
    }
}

/// "You're acting for NAME", with "Switch back" to the caregiver's own home.
#[component]
pub fn ActingBanner(name: String) -> impl IntoView {
    view! {
        <div class="acting-banner" role="note">
            <p>"You're acting for " <strong>{name}</strong></p>
            <a class="button secondary" href="/">"Switch back"</a>
        </div>
    }
}

#[component]
fn ActingForPerson(person: ActingFor) -> impl IntoView {
    let name = format!("{} {}", person.given_name, person.family_name);
    view! {
        <Title text=format!("Acting for {name}")/>
        <ActingBanner name=name.clone()/>
        <section class="card" aria-labelledby="their-home">
            <h1 id="their-home">{format!("{}'s home", person.given_name)}</h1>
            <p class="lead">"What you can see for them: their Personal Information."</p>
        </section>
        <section class="card" aria-labelledby="their-details">
            <h2 id="their-details">"Personal Information"</h2>
            <dl class="details">
                <div><dt>"Name"</dt><dd>{name}</dd></div>
                <div><dt>"Date of birth"</dt><dd>{person.date_of_birth}</dd></div>
                <div><dt>"Email"</dt><dd>{person.email.unwrap_or_else(|| "None on file".into())}</dd></div>
                <div class="mobile-status">
                    <dt>"Mobile number"</dt>
                    <dd>
                        {match person.mobile {
                            Some(masked) => view! { {masked} " " <MobileStatus verified=person.mobile_verified/> }.into_any(),
                            None => "None on file".into_any(),
                        }}
                    </dd>
                </div>
            </dl>
        </section>
    }
}

#[component]
fn CantActFor(error: PortalError) -> impl IntoView {
    // 403: this session must prove it's them first; 404: no live grant of theirs.
    let prove = error.error == crate::error::ErrorKind::Forbidden;
    view! {
        <Title text="Acting for"/>
        <section class="card">
            <h1>"Acting for"</h1>
            <p role="alert">{error.message.clone()}</p>
            {match prove {
                true => view! { <p><a class="button primary" href="/confirm?for=caring">"Confirm it's you"</a></p> }.into_any(),
                false => view! { <p><a href="/caring">"Back to Acting for"</a></p> }.into_any(),
            }}
        </section>
    }
}

/// "Caregivers" on "Sign-in and security": who may act for the patient, with "Remove" (and
/// "Renew" for those they invited), and "Invite a caregiver" with the invitations open.
#[component]
pub fn CaregiversSection(
    caregivers: Vec<Caregiver>,
    invitations: Vec<OpenInvitation>,
    /// A recent proof: an invitation may be made now.
    may_invite: bool,
) -> impl IntoView {
    let query = use_query_map();
    let said = [
        ("caregiver-removed", "The caregiver is removed. They can't act for you any more."),
        ("caregiver-renewed", "The caregiver's access is renewed."),
        ("invited", "Here is your invitation code. Give it to the person you trust, in person or by your own message."),
        ("invitation-cancelled", "The invitation is cancelled. Nobody can use it."),
        ("invitation-waiting", "The invitation is paused: nobody can use it. The practice will be in touch."),
    ]
    .into_iter()
    .find(|(key, _)| query.read_untracked().get(key).is_some())
    .map(|(_, message)| message.to_string());
    let notice = Signal::stored(said);
    let error = refused_error(&[
        "/api/remove_caregiver",
        "/api/renew_caregiver",
        "/api/invite_caregiver",
        "/api/cancel_invitation",
        "/api/invitation_pressure",
    ]);
    let none = caregivers.is_empty();
    view! {
        <section class="card" id="caregivers" aria-labelledby="caregivers-title">
            <h2 id="caregivers-title">"Caregivers"</h2>
            <p class="hint">"People who sign in as themselves and see your home and Personal Information. They never see your password, passkeys or full mobile number."</p>
            <StatusMessage message=notice/>
            <FormMessage error=Signal::stored(error)/>
            {none.then(|| view! { <p class="empty">"Nobody acts for you."</p> })}
            <ul class="caregivers">
                {caregivers.into_iter().map(|c| {
                    let label = format!("caregiver-{}", c.grant);
                    let ends = c.ends.map(|day| format!(", until {day}")).unwrap_or_default();
                    let paused = (!c.usable).then_some(" (paused)");
                    let grant = c.grant.to_string();
                    view! {
                        <li>
                            <span id=label.clone()>
                                <strong>{c.name}</strong>
                                {format!(" · {} · since {}{ends}", c.relationship, c.since)}
                                {paused}
                            </span>
                            <div class="actions">
                                {c.renewable.then(|| view! {
                                    <form method="post" action="/api/renew_caregiver" class="button-form" data-whole-page="">
                                        <input type="hidden" name="grant" value=grant.clone()/>
                                        <button type="submit" class="button secondary" aria-describedby=label.clone()>"Renew"</button>
                                    </form>
                                })}
                                <form method="post" action="/api/remove_caregiver" class="button-form" data-whole-page="">
                                    <input type="hidden" name="grant" value=grant/>
                                    <button type="submit" class="button secondary" aria-describedby=label>"Remove"</button>
                                </form>
                            </div>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <h3>"Invite a caregiver"</h3>
            <p class="hint">"Someone you trust signs in as themselves to help you. Give them the code in person or by your own message: it works for 7 days, with your date of birth."</p>
            <ul class="invitations">
                {invitations.into_iter().map(|i| view! { <Invitation invitation=i/> }).collect_view()}
            </ul>
            {match may_invite {
                true => view! {
                    <form method="post" action="/api/invite_caregiver" class="button-form" data-whole-page="">
                        <button type="submit" class="button primary">"Invite a caregiver"</button>
                    </form>
                }.into_any(),
                false => view! { <ConfirmFirst purpose=ProofFor::Caregivers/> }.into_any(),
            }}
            <p class="hint">"Has someone given you an invitation code? " <a href="/caring#accept">"Accept an invitation"</a></p>
        </section>
    }
}

/// An open invitation: its code, until when, "Cancel", and the quiet way to say the patient is
/// being pressured.
#[component]
fn Invitation(invitation: OpenInvitation) -> impl IntoView {
    let id = invitation.id.to_string();
    let label = format!("invitation-{}", invitation.id);
    view! {
        <li>
            <p id=label.clone()>
                {match invitation.code {
                    Some(code) => view! { "Invitation code " <code class="invitation-code">{code}</code> }.into_any(),
                    None => "An invitation (confirm it's you to see its code)".into_any(),
                }}
                {format!(" · until {}", invitation.until)}
            </p>
            {match invitation.waiting_for_practice {
                true => view! { <p class="hint">"Waiting for the practice"</p> }.into_any(),
                false => view! {
                    <div class="actions">
                        <form method="post" action="/api/cancel_invitation" class="button-form" data-whole-page="">
                            <input type="hidden" name="invitation" value=id.clone()/>
                            <button type="submit" class="button secondary" aria-describedby=label.clone()>"Cancel"</button>
                        </form>
                        <form method="post" action="/api/invitation_pressure" class="button-form quiet" data-whole-page="">
                            <input type="hidden" name="invitation" value=id/>
                            <button type="submit" class="button link" aria-describedby=label>"Someone is pressuring me to do this"</button>
                        </form>
                    </div>
                }.into_any(),
            }}
        </li>
    }
}
