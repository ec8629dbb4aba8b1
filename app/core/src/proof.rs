//! Recent proof: before a change to how an account signs in or hears from the practice (the
//! mobile number, the email address, passkeys), the session must have proved it's the patient
//! within the practice's "Recent proof (minutes)": a code to the verified number, a passkey, or,
//! for an account with neither yet, the password typed again. A session begun by a remembered
//! device, or by a password while two-factor authentication is off, has proved nothing.
//! "Confirm it's you" (`crate::confirm`) is where a session gives it.

use crate::{
    caller::Visit,
    clock::MINUTE,
    error::{Error, ErrorKind},
    portal::Portal,
};

pub const CONFIRM_FIRST: &str =
    "For your security, please confirm it's you first: it's been a while since you signed in with a code or a passkey.";

/// Whether the session's patient proved it's them within the practice's minutes.
pub fn recently_proved(portal: &Portal, visit: &Visit) -> bool {
    let lasts = portal.practice().recent_proof_minutes * MINUTE;
    visit
        .session
        .proved_at
        .is_some_and(|at| portal.now() - at <= lasts)
}

/// Refuses (403) a change that needs recent proof, if the session hasn't given it.
pub fn required(portal: &Portal, visit: &Visit) -> Result<(), Error> {
    match recently_proved(portal, visit) {
        true => Ok(()),
        false => Err(Error::new(ErrorKind::Forbidden, CONFIRM_FIRST)),
    }
}
