//! "This wasn't me": every security notice carries a one-time link (valid 7 days, only its hash
//! kept) to "Secure your account". A GET of it changes nothing: it acts only on a POST with the
//! account's password (through the login's delays), so that a thief holding the old phone, or a
//! mail scanner following links, can't use it. "Secure my account" ends every session, forgets
//! every device, removes the passkeys and the number added since the change, spends the
//! recovery code and holds the account until the practice lifts the hold (support's full
//! recovery). A held account is told to contact the practice, only after a right password, on
//! every way in.

use crate::{
    account::Patient,
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    error::{Error, ErrorKind, OrInternal},
    one_time_code::sending::contact_the_practice,
    portal::Portal,
    session,
};

/// A notice goes out just after the change it tells of, in the same request: what was added
/// this long before its link was made counts as that change.
pub const CHANGE_BEFORE_NOTICE: crate::clock::Millis = crate::clock::MINUTE;

pub const LINK_SPENT: &str = "This link has expired or was already used.";
pub const WRONG_PASSWORD: &str = "That isn't your password. Please check it and try again.";

/// What "Secure your account" shows for a link: whether it still works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    pub usable: bool,
    /// The practice's contact, for a link that no longer works.
    pub contact: String,
}

async fn live_link(
    portal: &Portal,
    token: &str,
) -> Result<Option<crate::store::WasntMeRow>, Error> {
    let row = portal
        .store
        .wasnt_me_link(&session::hash_id(token.trim()))
        .await
        .or_internal("reading a link")?;
    Ok(row.filter(|row| row.used_at.is_none() && row.expires_at > portal.now()))
}

/// The page for a link. Reading it changes nothing.
pub async fn link_state(portal: &Portal, token: &str) -> Result<LinkState, Error> {
    Ok(LinkState {
        usable: live_link(portal, token).await?.is_some(),
        contact: contact_the_practice(portal),
    })
}

/// "Secure my account": with the account's password, through the login's delays.
pub async fn secure(
    portal: &Portal,
    caller: &Caller,
    token: &str,
    password: &str,
) -> Result<(), Error> {
    let spent = || {
        Error::new(
            ErrorKind::Forbidden,
            format!(
                "{LINK_SPENT} If something is wrong with your account, please {}.",
                contact_the_practice(portal)
            ),
        )
    };
    let link = live_link(portal, token).await?.ok_or_else(spent)?;
    let patient = Patient::load(portal, link.account_id)
        .await
        .or_internal("loading the account")?
        .ok_or_else(spent)?;
    if password.is_empty() {
        return Err(Error::field("password", "Please type your password."));
    }
    crate::login::password::password_again(
        portal,
        caller,
        &patient,
        password,
        "password",
        WRONG_PASSWORD,
    )
    .await?;
    let secured = portal
        .store
        .secure_account(
            &session::hash_id(token.trim()),
            patient.id,
            link.made_at - CHANGE_BEFORE_NOTICE,
            portal.now(),
        )
        .await
        .or_internal("securing an account")?
        .ok_or_else(spent)?;
    let entry = Entry::new(Event::AccountSecured, Outcome::Ok)
        .account(patient.id)
        .detail(format!(
            "\"This wasn't me\": {} session(s) ended, {} remembered device(s) forgotten, {} passkey(s) added since removed, {} caregiver(s) added since removed, {}, {}; the account is held",
            secured.sessions,
            secured.devices,
            secured.passkeys,
            secured.caregivers,
            if secured.number { "the number verified since removed" } else { "the number kept" },
            if secured.recovery_code { "the recovery code spent" } else { "no recovery code" },
        ));
    audit::record(portal, caller, entry).await;
    crate::notify::account_held(portal, caller, &patient).await;
    Ok(())
}
