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
    patient::MobileStatus,
    ui::{plain_forms::refused_error, CouldNotLoad, FormMessage, StatusMessage},
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

/// "Acting for": the caregiver themselves, and each person they care for.
#[component]
pub fn CaringPage() -> impl IntoView {
    let people = Resource::new(|| (), |_| people_cared_for());
    let query = use_query_map();
    let stopped = query.read_untracked().get("stopped").is_some();
    let notice = Signal::stored(
        stopped.then(|| "You no longer act for them. Your own account is as it was.".to_string()),
    );
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

/// "Caregivers" on "Sign-in and security": who may act for the patient, with "Remove".
#[component]
pub fn CaregiversSection(caregivers: Vec<Caregiver>) -> impl IntoView {
    let query = use_query_map();
    let removed = query.read_untracked().get("caregiver-removed").is_some();
    let notice = Signal::stored(
        removed.then(|| "The caregiver is removed. They can't act for you any more.".to_string()),
    );
    let error = refused_error(&["/api/remove_caregiver"]);
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
                    view! {
                        <li>
                            <span id=label.clone()>
                                <strong>{c.name}</strong>
                                {format!(" · {} · since {}{ends}", c.relationship, c.since)}
                                {paused}
                            </span>
                            <form method="post" action="/api/remove_caregiver" class="button-form" data-whole-page="">
                                <input type="hidden" name="grant" value=c.grant.to_string()/>
                                <button type="submit" class="button secondary" aria-describedby=label>"Remove"</button>
                            </form>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
