//! The patient's own details as they change them: the email address. (A new mobile number is
//! `one_time_code::new_number`'s: it needs a code.)

use crate::{
    account::Email,
    audit::{self, Entry, Event, Outcome},
    caller::Visit,
    error::{Error, OrInternal},
    portal::Portal,
};

/// Saves the patient's email address (an empty one removes it), after recent proof: notices go
/// to it, so whoever changes it could hide every later one. Returns the address as saved.
pub async fn change_email(
    portal: &Portal,
    visit: &Visit,
    typed: &str,
) -> Result<Option<String>, Error> {
    crate::proof::required(portal, visit)?;
    let email =
        Email::parse_optional(Some(typed)).map_err(|message| Error::field("email", message))?;
    let email = email.as_ref().map(|e| e.as_str().to_string());
    portal
        .store
        .update_email(visit.patient.id, email.as_deref())
        .await
        .or_internal("saving an email address")?;
    let entry = Entry::new(Event::EmailChanged, Outcome::Ok).account(visit.patient.id);
    audit::record(portal, &visit.caller, entry).await;
    Ok(email)
}
