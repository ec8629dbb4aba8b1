//! A staff member's own passkeys ("Your passkeys", `/staff/passkeys`): one signs them in with
//! their password, in place of the authenticator code. Kept apart from patients' passkeys, so
//! neither can stand in for the other. Adding or removing one needs a sign-in in the last 10
//! minutes: a staff sign-in always proves both factors.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    passkeys::{CeremonyOptions, PasskeyAdded, PasskeyButton, PasskeyChanged, SignedInWithPasskey},
    ui::{CouldNotLoad, StatusMessage},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnPasskeys {
    /// Why passkeys can't be used here, if they can't.
    pub unavailable: Option<String>,
    /// Name, when added, when last used.
    pub passkeys: Vec<(i64, String, String, Option<String>)>,
    /// Signed in within the last 10 minutes.
    pub may_change: bool,
    pub default_name: String,
}

#[server(prefix = "/api/staff", endpoint = "passkeys")]
pub async fn staff_passkeys() -> Result<OwnPasskeys, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    ssr::overview(&portal, &visit).await
}

#[server(prefix = "/api/staff", endpoint = "passkey_registration")]
pub async fn staff_passkey_registration() -> Result<CeremonyOptions, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    let (options, token) = ssr::start_registration(&portal, &visit).await?;
    crate::request::set_ceremony_cookie(&portal, &token);
    Ok(CeremonyOptions { options })
}

#[server(prefix = "/api/staff", endpoint = "add_passkey")]
pub async fn staff_add_passkey(
    #[server(default)] name: String,
    #[server(default)] credential: String,
) -> Result<PasskeyAdded, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    crate::request::clear_ceremony_cookie(&portal);
    ssr::finish_registration(&portal, &visit, &name, &credential).await
}

#[server(prefix = "/api/staff", endpoint = "remove_passkey")]
pub async fn staff_remove_passkey(
    #[server(default)] passkey: String,
) -> Result<PasskeyChanged, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Support).await?;
    ssr::remove(&portal, &visit, &passkey).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/staff/passkeys?removed");
    }
    Ok(PasskeyChanged {})
}

/// The password step of a sign-in with a passkey: a right password gets the options for the
/// staff member's own passkeys.
#[server(prefix = "/api/staff", endpoint = "passkey_challenge")]
pub async fn staff_passkey_challenge(
    #[server(default)] username: String,
    #[server(default)] password: String,
) -> Result<CeremonyOptions, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    let (options, token) = ssr::start_sign_in(&portal, &caller, &username, &password).await?;
    crate::request::set_ceremony_cookie(&portal, &token);
    Ok(CeremonyOptions { options })
}

#[server(prefix = "/api/staff", endpoint = "passkey_sign_in")]
pub async fn staff_passkey_sign_in(
    #[server(default)] credential: String,
) -> Result<SignedInWithPasskey, PortalError> {
    let portal = crate::request::portal()?;
    let caller = crate::request::caller(&portal).await?;
    let previous = crate::request::staff_session(&portal).await?;
    crate::request::clear_ceremony_cookie(&portal);
    let cookie = ssr::finish_sign_in(&portal, &caller, previous.as_ref(), &credential).await?;
    crate::request::set_staff_cookie(&portal, &cookie);
    Ok(SignedInWithPasskey {
        next: "/staff".to_string(),
    })
}

#[component]
pub fn StaffPasskeysPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| staff_passkeys());
    let query = use_query_map();
    let notice = Signal::derive(move || {
        let query = query.read();
        if query.get("added").is_some() {
            Some(
                "Your passkey is added. Next time, sign in with your password and the passkey."
                    .to_string(),
            )
        } else if query.get("removed").is_some() {
            Some("The passkey is removed.".to_string())
        } else {
            None
        }
    });
    view! {
        <Title text="Your passkeys"/>
        <section class="card">
            <h1>"Your passkeys"</h1>
            <p class="lead">"A passkey (your phone's or computer's screen lock) can take the place of the authenticator code when you sign in. Your password is still needed."</p>
            <StatusMessage message=notice/>
            // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => view! { <Passkeys overview/> }.into_any(),
                    Err(error) => view! { <CouldNotLoad error sign_in="/staff/login"/> }.into_any(),
                }
            })}
        </section>
    }
}

#[component]
fn Passkeys(overview: OwnPasskeys) -> impl IntoView {
    if let Some(why) = overview.unavailable {
        return view! { <p>{why}</p> }.into_any();
    }
    let may_change = overview.may_change;
    view! {
        {overview.passkeys.is_empty().then(|| view! { <p class="empty">"You haven't added a passkey."</p> })}
        <ul class="security-list">
            {overview.passkeys.into_iter().map(|(id, name, added, used)| {
                let line_id = format!("staff-passkey-{id}");
                let used = used.map_or("never used yet".to_string(), |u| format!("last used {u}"));
                view! {
                    <li>
                        <div id=line_id.clone()>
                            <strong>{name}</strong>
                            <p class="hint">{format!("Added {added} · {used}")}</p>
                        </div>
                        {may_change.then(|| view! {
                            <form method="post" action="/api/staff/remove_passkey" class="button-form" data-whole-page="">
                                <input type="hidden" name="passkey" value=id.to_string()/>
                                <button type="submit" class="button secondary" aria-describedby=line_id>"Remove"</button>
                            </form>
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
        {match may_change {
            true => view! {
                <PasskeyButton action="staff-add" label="Add a passkey" class="button primary">
                    <div class="field">
                        <label for="passkey-name">"Passkey name"</label>
                        <input id="passkey-name" name="passkey_name" value=overview.default_name maxlength="60"/>
                    </div>
                </PasskeyButton>
            }.into_any(),
            false => view! {
                <p>"To add or remove a passkey, please log out and sign in again: it needs a sign-in in the last 10 minutes."</p>
            }.into_any(),
        }}
    }
    .into_any()
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::OwnPasskeys;
    use crate::{
        audit::{self, Entry, Event, Factor, Outcome},
        caller::Caller,
        error::{ErrorKind, OrInternal, PortalError},
        passkeys::{
            self,
            ceremony::{self, Purpose},
            PasskeyAdded, PROOF_LASTS,
        },
        portal::Portal,
        request::StaffVisit,
        session::staff::StaffSession,
        staff::{sign_in, when},
        store::Holder,
    };
    use webauthn_rs::prelude::{
        DiscoverableAuthentication, PasskeyRegistration, PublicKeyCredential,
    };

    fn recently_signed_in(portal: &Portal, visit: &StaffVisit) -> bool {
        portal.now() - visit.session.created_at <= PROOF_LASTS
    }

    fn sign_in_again() -> PortalError {
        PortalError::new(
            ErrorKind::Forbidden,
            "For your security, please log out and sign in again first: adding or removing a passkey needs a sign-in in the last 10 minutes.",
        )
    }

    pub async fn overview(portal: &Portal, visit: &StaffVisit) -> Result<OwnPasskeys, PortalError> {
        let passkeys = passkeys::list(portal, Holder::Staff(visit.member.id))
            .await?
            .into_iter()
            .map(|p| (p.id, p.name, when(p.added), p.last_used.map(when)))
            .collect();
        Ok(OwnPasskeys {
            unavailable: passkeys::unavailable(portal).map(str::to_string),
            passkeys,
            may_change: recently_signed_in(portal, visit),
            default_name: passkeys::default_name(&visit.caller),
        })
    }

    pub async fn start_registration(
        portal: &Portal,
        visit: &StaffVisit,
    ) -> Result<(String, String), PortalError> {
        let webauthn = passkeys::rp(portal)?;
        if !recently_signed_in(portal, visit) {
            return Err(sign_in_again());
        }
        let member = &visit.member;
        let holder = Holder::Staff(member.id);
        let (options, state) = passkeys::registration_options(
            portal,
            &webauthn,
            holder,
            &member.username,
            &member.username,
        )
        .await?;
        let token = ceremony::begin(
            portal,
            &visit.caller,
            Some(&visit.session.id_hash),
            Purpose::StaffRegister,
            Some(member.id),
            &state,
        )
        .await?;
        Ok((options, token))
    }

    pub async fn finish_registration(
        portal: &Portal,
        visit: &StaffVisit,
        typed_name: &str,
        credential: &str,
    ) -> Result<PasskeyAdded, PortalError> {
        let webauthn = passkeys::rp(portal)?;
        let name = passkeys::name_of(typed_name, &visit.caller)?;
        // The staff visit's caller carries the browser's cookies, the ceremony's among them.
        let caller = crate::request::caller(portal).await?;
        let taken =
            ceremony::take::<PasskeyRegistration>(portal, &caller, Some(&visit.session.id_hash))
                .await?;
        if taken.purpose != Purpose::StaffRegister || taken.account_id != Some(visit.member.id) {
            return Err(PortalError::new(
                ErrorKind::BadRequest,
                ceremony::START_AGAIN,
            ));
        }
        if !recently_signed_in(portal, visit) {
            return Err(sign_in_again());
        }
        let holder = Holder::Staff(visit.member.id);
        let stored =
            passkeys::store_new_passkey(portal, &webauthn, holder, &taken.state, credential, &name)
                .await?;
        if let passkeys::NewPasskey::Refused(why) = stored {
            let entry = Entry::new(Event::PasskeyAdded, Outcome::Refused)
                .staff(visit.member.id)
                .detail(why);
            audit::record(portal, &visit.caller, entry).await;
            return Err(PortalError::new(ErrorKind::BadRequest, passkeys::NOT_ADDED));
        }
        let entry = Entry::new(Event::PasskeyAdded, Outcome::Ok)
            .staff(visit.member.id)
            .detail(name.clone());
        audit::record(portal, &visit.caller, entry).await;
        Ok(PasskeyAdded { name })
    }

    pub async fn remove(
        portal: &Portal,
        visit: &StaffVisit,
        passkey: &str,
    ) -> Result<(), PortalError> {
        if !recently_signed_in(portal, visit) {
            return Err(sign_in_again());
        }
        let id: i64 = passkey.trim().parse().map_err(|_| gone())?;
        let holder = Holder::Staff(visit.member.id);
        let removed = portal
            .store
            .remove_passkeys(holder, Some(id))
            .await
            .or_internal("removing a passkey")?;
        if removed == 0 {
            return Err(gone());
        }
        let entry = Entry::new(Event::PasskeyRemoved, Outcome::Ok).staff(visit.member.id);
        audit::record(portal, &visit.caller, entry).await;
        Ok(())
    }

    fn gone() -> PortalError {
        PortalError::new(
            ErrorKind::NotFound,
            "That passkey isn't on your account any more. Please reload the page.",
        )
    }

    /// The options for a staff sign-in with a passkey, after the password. Every answer looks
    /// the same, whether the name is nobody's, the password wrong, or the staff member has no
    /// passkey: the options ask for any passkey of the portal's (a discoverable one, as every
    /// passkey here is made), so they name no credential and depend on nothing typed. Only a
    /// right password binds the ceremony to the staff member; anything else fails when the
    /// passkey comes back, with the one answer for every wrong detail.
    pub async fn start_sign_in(
        portal: &Portal,
        caller: &Caller,
        username: &str,
        password: &str,
    ) -> Result<(String, String), PortalError> {
        let webauthn = passkeys::rp(portal)?;
        let member = sign_in::ssr::password_first(portal, caller, username, password).await?;
        if let Some(member) = &member {
            let has_passkeys = !portal
                .store
                .passkeys(Holder::Staff(member.id))
                .await
                .or_internal("listing passkeys")?
                .is_empty();
            let detail = match has_passkeys {
                true => "password right: a passkey sign-in begins",
                false => "password right, but no passkey added: the sign-in will be refused",
            };
            let entry = Entry::new(Event::StaffLogin, Outcome::PasswordAccepted)
                .staff(member.id)
                .by(Factor::Passkey)
                .detail(detail);
            audit::record(portal, caller, entry).await;
        }
        let (mut options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| PortalError::logged_internal("starting a passkey sign-in", e))?;
        // A button press: the browser asks at once.
        options.mediation = None;
        let token = ceremony::begin(
            portal,
            caller,
            None,
            Purpose::StaffSignIn,
            member.map(|m| m.id),
            &state,
        )
        .await?;
        let options = serde_json::to_string(&options)
            .map_err(|e| PortalError::logged_internal("sending passkey options", e))?;
        Ok((options, token))
    }

    pub async fn finish_sign_in(
        portal: &Portal,
        caller: &Caller,
        previous: Option<&StaffSession>,
        credential: &str,
    ) -> Result<String, PortalError> {
        let webauthn = passkeys::rp(portal)?;
        let taken = ceremony::take::<DiscoverableAuthentication>(portal, caller, None).await?;
        if taken.purpose != Purpose::StaffSignIn {
            return Err(PortalError::new(
                ErrorKind::BadRequest,
                ceremony::START_AGAIN,
            ));
        }
        let answer: PublicKeyCredential =
            serde_json::from_str(credential).map_err(|_| passkeys::unreadable_answer())?;
        let refused = || PortalError::unauthorized(sign_in::ssr::WRONG_DETAILS);
        // No staff member: the password was wrong (already audited).
        let Some(staff_id) = taken.account_id else {
            return Err(refused());
        };
        let member = portal
            .store
            .staff_member(staff_id)
            .await
            .or_internal("looking up a staff member")?
            .and_then(crate::staff::StaffMember::from_row)
            .filter(crate::staff::StaffMember::active)
            .ok_or_else(refused)?;
        let holder = Holder::Staff(staff_id);
        let checked = passkeys::check_assertion(portal, holder, &answer, |passkey| {
            webauthn.finish_discoverable_authentication_v2(&answer, taken.state.clone(), passkey)
        })
        .await?;
        let refuse = |why: String| async move {
            let entry = Entry::new(Event::StaffLogin, Outcome::Refused)
                .staff(staff_id)
                .by(Factor::Passkey)
                .detail(format!("factor: passkey; {why}"));
            audit::record(portal, caller, entry).await;
            refused()
        };
        let checked = match checked {
            passkeys::Assertion::Checked(checked) => checked,
            passkeys::Assertion::Refused(why) => return Err(refuse(why).await),
        };
        let still_there = portal
            .store
            .passkey_used(holder, checked.id, &checked.passkey, portal.now())
            .await
            .or_internal("storing a passkey")?;
        if !still_there {
            return Err(refuse("a passkey removed as it signed in".to_string()).await);
        }
        let name = checked.name;
        let (_, cookie) =
            sign_in::ssr::admit(portal, caller, previous, member, Some(&name)).await?;
        Ok(cookie)
    }
}
