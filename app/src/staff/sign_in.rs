//! Staff sign-in (`/staff/login`): username, password and authenticator code (or a recovery
//! code) in one step. Wrong answers all look alike and get the same growing delays as
//! patients'; an authenticator code works once.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;

use super::SignedInStaff;
use crate::{
    error::PortalError,
    ui::{Field, FormMessage, SubmitButton},
};

#[server(prefix = "/api/staff", endpoint = "login")]
pub async fn staff_login(
    #[server(default)] username: String,
    #[server(default)] password: String,
    #[server(default)] code: String,
) -> Result<SignedInStaff, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    let previous = crate::request::staff_session(&portal).await?;
    let (me, cookie) = ssr::log_in(
        &portal,
        &caller,
        previous.as_ref(),
        &username,
        &password,
        &code,
    )
    .await?;
    crate::request::set_staff_cookie(&portal, &cookie);
    leptos_axum::redirect("/staff");
    Ok(me)
}

/// Ends the staff session on the server. Harmless without one.
#[server(prefix = "/api/staff", endpoint = "logout")]
pub async fn staff_logout() -> Result<(), PortalError> {
    use crate::{
        audit::{self, Entry, Event, Outcome},
        error::OrInternal,
    };
    let portal = crate::request::portal()?;
    if let Some(session) = crate::request::staff_session(&portal).await? {
        crate::session::staff::end(&portal, &session)
            .await
            .or_internal("ending a staff session")?;
        let caller = crate::request::caller(&portal).await?;
        let entry = Entry::new(Event::StaffLoggedOut, Outcome::Ok).staff(session.staff_id);
        audit::record(&portal, &caller, entry).await;
    }
    crate::request::clear_staff_cookie(&portal);
    leptos_axum::redirect("/staff/login");
    Ok(())
}

/// Who is signed in as staff, or 401.
#[server(prefix = "/api/staff", endpoint = "me")]
pub async fn staff_me() -> Result<SignedInStaff, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::StaffRole::Support).await?;
    Ok(SignedInStaff {
        username: visit.member.username,
        role: visit.member.role,
    })
}

#[component]
pub fn StaffLoginPage() -> impl IntoView {
    let login = ServerAction::<StaffLogin>::new();
    let error = Signal::derive(move || login.value().get().and_then(Result::err));
    view! {
        <Title text="Staff sign-in"/>
        <section class="card">
            <h1>"Staff sign-in"</h1>
            <p class="lead">"For the practice's support staff and administrators."</p>
            <ActionForm action=login attr:novalidate=true attr:class="form">
                <FormMessage error=error/>
                <Field name="username" label="Username" autocomplete="username"/>
                <Field name="password" label="Password" kind="password" autocomplete="current-password"/>
                <Field
                    name="code"
                    label="Authenticator code"
                    autocomplete="one-time-code"
                    hint="The 6 digits your authenticator app shows now, or one of your recovery codes."
                />
                <SubmitButton label="Log in" pending=login.pending()/>
            </ActionForm>
        </section>
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::SignedInStaff;
    use crate::{
        account::staff::StaffMember,
        audit::{self, Entry, Event, Outcome},
        caller::Caller,
        error::{OrInternal, PortalError},
        login_gate::{could_be_a_username, gate, gate_unnamed},
        portal::Portal,
        session::staff::{self as staff_session, StaffSession},
        staff::accounts,
    };

    /// The one answer for every wrong detail: username, password or code.
    pub const WRONG_DETAILS: &str =
        "Those details don't match. Please check your username, password and authenticator code.";

    /// Signs a staff member in; returns who, and the staff session cookie's value.
    pub async fn log_in(
        portal: &Portal,
        caller: &Caller,
        previous: Option<&StaffSession>,
        username: &str,
        password: &str,
        code: &str,
    ) -> Result<(SignedInStaff, String), PortalError> {
        if !could_be_a_username(username) {
            return nobodys_username(portal, caller, username, password, code).await;
        }
        let key = accounts::login_key(username);
        let ip_event = pass_the_gate(portal, caller, &key, username).await?;
        let member = accounts::named(portal, username)
            .await
            .or_internal("looking up a staff member")?;
        let right = details_match(portal, member.as_ref(), password, code).await?;
        let Some(member) = member.filter(|_| right) else {
            let mut entry =
                Entry::new(Event::StaffLogin, Outcome::Refused).typed_username(username);
            if let Some(member) = accounts::named(portal, username).await.ok().flatten() {
                entry = entry.staff(member.id);
            }
            audit::record(portal, caller, entry).await;
            return Err(PortalError::unauthorized(WRONG_DETAILS));
        };
        let network = caller.network(portal.settings.ipv6_prefix);
        portal
            .store
            .accept_login(&key, &network, ip_event, &[], portal.now())
            .await
            .or_internal("clearing login failures")?;
        let cookie = staff_session::begin(portal, member.id, previous)
            .await
            .or_internal("starting a staff session")?;
        audit::record(
            portal,
            caller,
            Entry::new(Event::StaffLogin, Outcome::Ok).staff(member.id),
        )
        .await;
        let me = SignedInStaff {
            username: member.username,
            role: member.role,
        };
        Ok((me, cookie))
    }

    /// A username too long to be anyone's: refused as wrong details, after as long as a check
    /// would take, and counted only against the network.
    async fn nobodys_username(
        portal: &Portal,
        caller: &Caller,
        typed: &str,
        password: &str,
        code: &str,
    ) -> Result<(SignedInStaff, String), PortalError> {
        if let Err((outcome, refusal)) = gate_unnamed(portal, caller).await? {
            let entry = Entry::new(Event::StaffLogin, outcome).typed_username(typed);
            audit::record(portal, caller, entry).await;
            return Err(refusal);
        }
        details_match(portal, None, password, code).await?;
        let entry = Entry::new(Event::StaffLogin, Outcome::Refused)
            .typed_username(typed)
            .detail("not a username any staff member could have");
        audit::record(portal, caller, entry).await;
        Err(PortalError::unauthorized(WRONG_DETAILS))
    }

    /// The same gate as patients' logins.
    async fn pass_the_gate(
        portal: &Portal,
        caller: &Caller,
        key: &str,
        typed: &str,
    ) -> Result<i64, PortalError> {
        match gate(portal, caller, key).await? {
            Ok(counted) => Ok(counted.ip_event),
            Err((outcome, refusal)) => {
                let entry = Entry::new(Event::StaffLogin, outcome).typed_username(typed);
                audit::record(portal, caller, entry).await;
                Err(refusal)
            }
        }
    }

    /// The password and then the second factor; an unknown or unenrolled name is checked
    /// against the dummy hash, so it takes as long.
    async fn details_match(
        portal: &Portal,
        member: Option<&StaffMember>,
        password: &str,
        code: &str,
    ) -> Result<bool, PortalError> {
        let hash = match member
            .filter(|m| m.active())
            .and_then(StaffMember::password_hash)
        {
            Some(hash) => hash.to_string(),
            None => portal
                .passwords
                .dummy_hash()
                .await
                .map_err(|e| e.refusal("preparing the dummy hash"))?,
        };
        let password_right = portal
            .passwords
            .verify(password, &hash)
            .await
            .map_err(|e| e.refusal("verifying a staff password"))?;
        let Some(member) = member.filter(|m| password_right && m.active()) else {
            return Ok(false);
        };
        accounts::second_factor_matches(portal, member, code)
            .await
            .or_internal("checking an authenticator code")
    }
}
