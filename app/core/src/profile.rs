//! The patient's own details as they change them: the email address. (A new mobile number is
//! `one_time_code::new_number`'s: it needs a code.) A new address is confirmed by a link
//! (`email_confirmation`) before notices go to it, and a change tells the old address.

use crate::{
    account::Email,
    audit::{self, Entry, Event, Outcome},
    caller::Visit,
    email_confirmation::ask_to_confirm,
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
    // The address the notices go to stays put for a day after a recovery by code: whoever used
    // a stolen code can't silence them.
    if let Some(until) = crate::recovery::held_until(portal, &visit.patient).await? {
        return Err(Error::new(
            crate::error::ErrorKind::Forbidden,
            format!(
                "For your security, your email address can't change until {}: a recovery code was used on your account less than 24 hours ago.",
                crate::clock::for_people(until)
            ),
        ));
    }
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
    let old = visit.patient.email.as_deref();
    if let Some(old) = old.filter(|old| Some(*old) != email.as_deref()) {
        crate::notify::email_address_changed(portal, &visit.caller, &visit.patient, old).await;
    }
    if let Some(new) = email.as_deref().filter(|new| Some(*new) != old) {
        let patient = &visit.patient;
        ask_to_confirm(portal, &visit.caller, patient.id, &patient.given_name, new).await;
    }
    Ok(email)
}
