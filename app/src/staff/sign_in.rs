//! Staff sign-in (`/staff/login`): username, password and authenticator code (or a recovery
//! code) in one step. Wrong answers all look alike and get the same growing delays as
//! patients'; an authenticator code works once.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;

use super::SignedInStaff;
use crate::{
    error::PortalError,
    passkeys::PasskeyButton,
    practice::use_practice,
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
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    Ok(SignedInStaff {
        username: visit.member.username,
        role: visit.member.role.into(),
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
                {use_practice().passkeys.then(|| view! {
                    <div class="or-passkey">
                        <p class="aside">"Added a passkey? Type your username and password, then:"</p>
                        <PasskeyButton action="staff-sign-in" label="Use a passkey instead of the code"/>
                    </div>
                })}
            </ActionForm>
        </section>
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::SignedInStaff;
    use crate::{
        audit::{self, Entry, Event, Factor, Outcome},
        caller::Caller,
        error::{OrInternal, PortalError},
        login_gate::{could_be_a_username, gate, gate_unnamed, Counted, Passage},
        portal::Portal,
        session::staff::{self as staff_session, StaffSession},
        staff::accounts,
        staff::StaffMember,
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
        let counted = pass_the_gate(portal, caller, &key, username).await?;
        let member = accounts::named(portal, username)
            .await
            .or_internal("looking up a staff member")?;
        let right = details_match(portal, member.as_ref(), password, code).await?;
        let member = right_or_refused(portal, caller, member, right, username, &counted).await?;
        let network = caller.network(portal.settings.ipv6_prefix);
        portal
            .store
            .accept_login(&key, &network, counted.ip_event, &[], portal.now())
            .await
            .or_internal("clearing login failures")?;
        admit(portal, caller, previous, member, None).await
    }

    /// The staff member, if the details were right; otherwise the refusal, audited, with the
    /// login delay it starts (a lockout, counted as a patient's is).
    async fn right_or_refused(
        portal: &Portal,
        caller: &Caller,
        member: Option<StaffMember>,
        right: bool,
        username: &str,
        counted: &Counted,
    ) -> Result<StaffMember, PortalError> {
        if let Some(member) = member.filter(|_| right) {
            return Ok(member);
        }
        let named = accounts::named(portal, username).await.ok().flatten();
        let mut entry = Entry::new(Event::StaffLogin, Outcome::Refused).typed_username(username);
        if let Some(member) = &named {
            entry = entry.staff(member.id);
        }
        let mut entries = vec![entry];
        let delay = if counted.waits_everywhere {
            Some("wrong details from many networks: every attempt must wait")
        } else if counted.delay_starts {
            Some("repeated wrong details: further attempts from this network must wait")
        } else {
            None
        };
        if let (Some(member), Some(detail)) = (&named, delay) {
            entries.push(
                Entry::new(Event::LoginDelayStarted, Outcome::Limited)
                    .staff(member.id)
                    .detail(detail),
            );
        }
        audit::record_all(portal, caller, entries).await;
        Err(PortalError::unauthorized(WRONG_DETAILS))
    }

    /// A new staff session for `member`, whose second factor was the authenticator code or
    /// (`passkey`, named) a passkey.
    pub async fn admit(
        portal: &Portal,
        caller: &Caller,
        previous: Option<&StaffSession>,
        member: StaffMember,
        passkey: Option<&str>,
    ) -> Result<(SignedInStaff, String), PortalError> {
        let cookie = staff_session::begin(portal, member.id, previous)
            .await
            .or_internal("starting a staff session")?;
        let mut entry = Entry::new(Event::StaffLogin, Outcome::Ok).staff(member.id);
        entry = match passkey {
            Some(name) => entry
                .by(Factor::Passkey)
                .detail(format!("factor: passkey ({name})")),
            None => entry.by(Factor::Authenticator),
        };
        audit::record(portal, caller, entry).await;
        let me = SignedInStaff {
            username: member.username,
            role: member.role.into(),
        };
        Ok((me, cookie))
    }

    /// The password step of a sign-in with a passkey in place of the authenticator code: the
    /// same gate. Returns the staff member if the password was right; a wrong one (or a name
    /// nobody has) is audited here and answered `None`, so the caller can answer every case
    /// alike and refuse only when the passkey comes back.
    pub async fn password_first(
        portal: &Portal,
        caller: &Caller,
        username: &str,
        password: &str,
    ) -> Result<Option<StaffMember>, PortalError> {
        if !could_be_a_username(username) {
            return match nobodys_username(portal, caller, username, password, "").await {
                Err(err) if err.error == crate::error::ErrorKind::Unauthorized => Ok(None),
                Err(err) => Err(err),
                Ok(_) => Ok(None),
            };
        }
        let key = accounts::login_key(username);
        let counted = pass_the_gate(portal, caller, &key, username).await?;
        let member = accounts::named(portal, username)
            .await
            .or_internal("looking up a staff member")?;
        let right = password_matches(portal, member.as_ref(), password).await?;
        let Ok(member) = right_or_refused(portal, caller, member, right, username, &counted).await
        else {
            return Ok(None);
        };
        // A right password is no guess: the failures counted against the name are cleared.
        let network = caller.network(portal.settings.ipv6_prefix);
        portal
            .store
            .accept_login(&key, &network, counted.ip_event, &[], portal.now())
            .await
            .or_internal("clearing login failures")?;
        Ok(Some(member))
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
        if let Passage::Refused {
            outcome,
            error: refusal,
        } = gate_unnamed(portal, caller).await?
        {
            let entry = Entry::new(Event::StaffLogin, outcome).typed_username(typed);
            audit::record(portal, caller, entry).await;
            return Err(refusal.into());
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
    ) -> Result<Counted, PortalError> {
        match gate(portal, caller, key).await? {
            Passage::Through(counted) => Ok(counted),
            Passage::Refused {
                outcome,
                error: refusal,
            } => {
                let entry = Entry::new(Event::StaffLogin, outcome).typed_username(typed);
                audit::record(portal, caller, entry).await;
                Err(refusal.into())
            }
        }
    }

    /// The password and then the second factor.
    async fn details_match(
        portal: &Portal,
        member: Option<&StaffMember>,
        password: &str,
        code: &str,
    ) -> Result<bool, PortalError> {
        if !password_matches(portal, member, password).await? {
            return Ok(false);
        }
        let Some(member) = member else {
            return Ok(false);
        };
        accounts::second_factor_matches(portal, member, code)
            .await
            .or_internal("checking an authenticator code")
    }

    /// The password of an active, enrolled staff member; an unknown or unenrolled name is
    /// checked against the dummy hash, so it takes as long.
    async fn password_matches(
        portal: &Portal,
        member: Option<&StaffMember>,
        password: &str,
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
        Ok(member.is_some_and(|m| password_right && m.active()))
    }
}
