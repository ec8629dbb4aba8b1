//! An email address is confirmed by a link ("Confirm your email address", 24 hours, only its
//! hash kept) before notices go to it: an address someone else typed gets nothing. Opening the
//! link changes nothing; "Confirm" does.

use crate::{
    audit::{self, Entry, Event, Outcome},
    caller::{Caller, Visit},
    clock::{Millis, DAY},
    error::{Error, ErrorKind, OrInternal},
    portal::Portal,
    store::AccountId,
};

/// How long a "Confirm your email address" link works.
pub const CONFIRM_LINK_LASTS: Millis = DAY;
/// "Send the link again" waits this long after the last link.
pub const RESEND_AFTER: Millis = crate::clock::MINUTE;

/// Sends "Confirm your email address" to `email`, just given for account `account_id`. Until its
/// link is followed, no notice goes there.
pub async fn ask_to_confirm(
    portal: &Portal,
    caller: &Caller,
    account_id: AccountId,
    given_name: &str,
    email: &str,
) {
    let token = crate::session::new_short_token();
    let expires = portal.now() + CONFIRM_LINK_LASTS;
    let kept = portal
        .store
        .await_email_confirmation(account_id, email, &crate::session::hash_id(&token), expires)
        .await;
    if let Err(err) = kept {
        tracing::error!(%err, "keeping an email confirmation link");
        return;
    }
    let mut link = portal.settings.public_url.clone();
    link.set_path("/confirm-email");
    link.set_query(Some(&format!("t={token}")));
    crate::notify::confirm_your_email(portal, caller, account_id, given_name, email, link.as_str())
        .await;
}

pub const EMAIL_LINK_SPENT: &str =
    "This link has expired or was already used, or the address has changed since. You can ask for a new one on your Personal Information page.";

/// Whether a "Confirm your email address" link still works. Reading it changes nothing.
pub async fn email_link_waits(portal: &Portal, token: &str) -> Result<bool, Error> {
    portal
        .store
        .email_link_waits(&crate::session::hash_id(token.trim()), portal.now())
        .await
        .or_internal("reading an email link")
}

/// "Confirm": the address the link was sent to is confirmed, and notices go to it from now on.
pub async fn confirm_email(portal: &Portal, caller: &Caller, token: &str) -> Result<(), Error> {
    let confirmed = portal
        .store
        .confirm_email(&crate::session::hash_id(token.trim()), portal.now())
        .await
        .or_internal("confirming an email address")?
        .ok_or_else(|| Error::new(ErrorKind::Forbidden, EMAIL_LINK_SPENT))?;
    let entry = Entry::new(Event::EmailConfirmed, Outcome::Ok).account(confirmed);
    audit::record(portal, caller, entry).await;
    Ok(())
}

/// "Send the link again", for an address not confirmed yet.
pub async fn send_email_link_again(portal: &Portal, visit: &Visit) -> Result<(), Error> {
    let patient = &visit.patient;
    let Some(email) = patient.email.as_deref() else {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "There is no email address to confirm.",
        ));
    };
    if portal
        .store
        .email_confirmed(patient.id, email)
        .await
        .or_internal("reading an email confirmation")?
    {
        return Err(Error::new(
            ErrorKind::Conflict,
            "Your email address is confirmed already.",
        ));
    }
    // At most one a minute: a stolen cookie can't fill the patient's inbox.
    let sent = portal
        .store
        .email_link_expires(patient.id)
        .await
        .or_internal("reading an email link")?
        .map(|expires| expires - CONFIRM_LINK_LASTS);
    if let Some(wait) = sent
        .map(|at| at + RESEND_AFTER - portal.now())
        .filter(|w| *w > 0)
    {
        let mut refusal = Error::new(
            ErrorKind::TooManyRequests,
            "We've just sent you a link. Please wait a minute before asking for another.",
        );
        refusal.retry_after_seconds = Some(crate::clock::whole_seconds(wait));
        return Err(refusal);
    }
    ask_to_confirm(
        portal,
        &visit.caller,
        patient.id,
        &patient.given_name,
        email,
    )
    .await;
    Ok(())
}

/// Whether the patient's address is confirmed (no address: nothing to confirm).
pub async fn email_confirmed(portal: &Portal, visit: &Visit) -> Result<bool, Error> {
    match visit.patient.email.as_deref() {
        Some(email) => portal
            .store
            .email_confirmed(visit.patient.id, email)
            .await
            .or_internal("reading an email confirmation"),
        None => Ok(true),
    }
}
