//! A hold on an account: "Secure my account" puts one on, and only the practice's full
//! recovery lifts it. A held account is told to contact the practice, only after a right
//! password, passkey or remembered device, on every way in.

use crate::{
    account::Patient,
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    clock::Millis,
    error::{Error, ErrorKind, OrInternal},
    one_time_code::sending::contact_the_practice,
    portal::Portal,
};

/// When the account was held, if it is.
pub async fn held_since(portal: &Portal, patient: &Patient) -> Result<Option<Millis>, Error> {
    portal
        .store
        .held_since(patient.id)
        .await
        .or_internal("reading a hold")
}

/// Refuses a way in to a held account (after its password, passkey or device was right).
pub async fn refuse_if_held(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
) -> Result<(), Error> {
    if held_since(portal, patient).await?.is_none() {
        return Ok(());
    }
    let entry = Entry::new(Event::Login, Outcome::Held).account(patient.id);
    audit::record(portal, caller, entry).await;
    Err(Error::new(
        ErrorKind::Forbidden,
        format!(
            "For your security, your account is on hold. Please {} to have it opened again.",
            contact_the_practice(portal)
        ),
    ))
}
