use crate::{
    audit::{self, Entry, Event, Factor, Outcome},
    caller::Caller,
    error::{Error, ErrorKind, OrInternal},
    passkeys::{
        self,
        ceremony::{self, Purpose},
        PROOF_LASTS,
    },
    portal::Portal,
    session::staff::StaffSession,
    staff::StaffVisit,
    staff::{sign_in, when},
    store::Holder,
};
use webauthn_rs::prelude::{DiscoverableAuthentication, PasskeyRegistration, PublicKeyCredential};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnPasskeys {
    /// Why passkeys can't be used here, if they can't.
    pub unavailable: Option<String>,
    /// Name, when added, when last used.
    pub passkeys: Vec<(i64, String, String, Option<String>)>,
    /// Signed in within the last 10 minutes.
    pub may_change: bool,
    pub default_name: String,
}

fn recently_signed_in(portal: &Portal, visit: &StaffVisit) -> bool {
    portal.now() - visit.session.created_at <= PROOF_LASTS
}

fn sign_in_again() -> Error {
    Error::new(
        ErrorKind::Forbidden,
        "For your security, please log out and sign in again first: adding or removing a passkey needs a sign-in in the last 10 minutes.",
    )
}

pub async fn overview(portal: &Portal, visit: &StaffVisit) -> Result<OwnPasskeys, Error> {
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
) -> Result<(String, String), Error> {
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
        Some(Holder::Staff(member.id)),
        &state,
    )
    .await?;
    Ok((options, token))
}

pub async fn finish_registration(
    portal: &Portal,
    visit: &StaffVisit,
    caller: &Caller,
    typed_name: &str,
    credential: &str,
) -> Result<String, Error> {
    let webauthn = passkeys::rp(portal)?;
    let name = passkeys::name_of(typed_name, &visit.caller)?;
    // `caller` carries the browser's cookies, the ceremony's among them; the staff visit's
    // doesn't.
    let taken =
        ceremony::take::<PasskeyRegistration>(portal, caller, Some(&visit.session.id_hash)).await?;
    if taken.purpose != Purpose::StaffRegister
        || taken.holder != Some(Holder::Staff(visit.member.id))
    {
        return Err(Error::new(ErrorKind::BadRequest, ceremony::START_AGAIN));
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
        return Err(Error::new(ErrorKind::BadRequest, passkeys::NOT_ADDED));
    }
    let entry = Entry::new(Event::PasskeyAdded, Outcome::Ok)
        .staff(visit.member.id)
        .detail(name.clone());
    audit::record(portal, &visit.caller, entry).await;
    Ok(name)
}

pub async fn remove(portal: &Portal, visit: &StaffVisit, passkey: &str) -> Result<(), Error> {
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

fn gone() -> Error {
    Error::new(
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
) -> Result<(String, String), Error> {
    let webauthn = passkeys::rp(portal)?;
    let member = sign_in::password_first(portal, caller, username, password).await?;
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
        .map_err(|e| Error::logged_internal("starting a passkey sign-in", e))?;
    // A button press: the browser asks at once.
    options.mediation = None;
    let token = ceremony::begin(
        portal,
        caller,
        None,
        Purpose::StaffSignIn,
        member.map(|m| Holder::Staff(m.id)),
        &state,
    )
    .await?;
    let options = serde_json::to_string(&options)
        .map_err(|e| Error::logged_internal("sending passkey options", e))?;
    Ok((options, token))
}

pub async fn finish_sign_in(
    portal: &Portal,
    caller: &Caller,
    previous: Option<&StaffSession>,
    credential: &str,
) -> Result<String, Error> {
    let webauthn = passkeys::rp(portal)?;
    let taken = ceremony::take::<DiscoverableAuthentication>(portal, caller, None).await?;
    if taken.purpose != Purpose::StaffSignIn {
        return Err(Error::new(ErrorKind::BadRequest, ceremony::START_AGAIN));
    }
    let answer: PublicKeyCredential =
        serde_json::from_str(credential).map_err(|_| passkeys::unreadable_answer())?;
    let refused = || Error::unauthorized(sign_in::WRONG_DETAILS);
    // No staff member: the password was wrong (already audited).
    let Some(Holder::Staff(staff_id)) = taken.holder else {
        return Err(refused());
    };
    let member = portal
        .store
        .staff_member(staff_id)
        .await
        .or_internal("looking up a staff member")?
        .map(crate::staff::StaffMember::from_row)
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
    let (_, cookie) = sign_in::admit(portal, caller, previous, member, Some(&name)).await?;
    Ok(cookie)
}
