use crate::{
    audit::{self, Entry, Event, Factor, Outcome},
    caller::Caller,
    error::{Error, OrInternal},
    login_gate::{could_be_a_username, gate, gate_unnamed, Counted, Passage},
    portal::Portal,
    session::staff::{self as staff_session, StaffSession},
    staff::accounts,
    staff::{Role, StaffMember},
};

/// The signed-in staff member, as the pages see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInStaff {
    pub username: String,
    pub role: Role,
}

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
) -> Result<(SignedInStaff, String), Error> {
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
) -> Result<StaffMember, Error> {
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
    Err(Error::unauthorized(WRONG_DETAILS))
}

/// A new staff session for `member`, whose second factor was the authenticator code or
/// (`passkey`, named) a passkey.
pub async fn admit(
    portal: &Portal,
    caller: &Caller,
    previous: Option<&StaffSession>,
    member: StaffMember,
    passkey: Option<&str>,
) -> Result<(SignedInStaff, String), Error> {
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
        role: member.role,
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
) -> Result<Option<StaffMember>, Error> {
    if !could_be_a_username(username) {
        return match nobodys_username(portal, caller, username, password, "").await {
            Err(err) if err.kind == crate::error::ErrorKind::Unauthorized => Ok(None),
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
) -> Result<(SignedInStaff, String), Error> {
    if let Passage::Refused {
        outcome,
        error: refusal,
    } = gate_unnamed(portal, caller).await?
    {
        let entry = Entry::new(Event::StaffLogin, outcome).typed_username(typed);
        audit::record(portal, caller, entry).await;
        return Err(refusal);
    }
    details_match(portal, None, password, code).await?;
    let entry = Entry::new(Event::StaffLogin, Outcome::Refused)
        .typed_username(typed)
        .detail("not a username any staff member could have");
    audit::record(portal, caller, entry).await;
    Err(Error::unauthorized(WRONG_DETAILS))
}

/// The same gate as patients' logins.
async fn pass_the_gate(
    portal: &Portal,
    caller: &Caller,
    key: &str,
    typed: &str,
) -> Result<Counted, Error> {
    match gate(portal, caller, key).await? {
        Passage::Through(counted) => Ok(counted),
        Passage::Refused {
            outcome,
            error: refusal,
        } => {
            let entry = Entry::new(Event::StaffLogin, outcome).typed_username(typed);
            audit::record(portal, caller, entry).await;
            Err(refusal)
        }
    }
}

/// The password and then the second factor.
async fn details_match(
    portal: &Portal,
    member: Option<&StaffMember>,
    password: &str,
    code: &str,
) -> Result<bool, Error> {
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
) -> Result<bool, Error> {
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

/// Ends a staff session on the server.
pub async fn log_out(
    portal: &Portal,
    caller: &Caller,
    session: &StaffSession,
) -> Result<(), Error> {
    staff_session::end(portal, session)
        .await
        .or_internal("ending a staff session")?;
    let entry = Entry::new(Event::StaffLoggedOut, Outcome::Ok).staff(session.staff_id);
    audit::record(portal, caller, entry).await;
    Ok(())
}
