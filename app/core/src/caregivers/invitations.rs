//! "Invite a caregiver": an adult for an adult, started by the patient. The patient, with a
//! recent proof, makes an "Invitation code" to hand over in person or by their own message; the
//! portal never looks anyone up and never shows one patient's name to another. The caregiver,
//! signed in as themselves, gives the code with the patient's date of birth: five wrong dates
//! void it, and the patient is told. An invitation lasts 7 days, and a patient has at most 3
//! open. "Someone is pressuring me to do this" leaves it waiting for the practice.

use crate::{
    account::{DateOfBirth, Patient},
    audit::{self, Entry, Event, Outcome},
    caller::Visit,
    clock::{Millis, DAY},
    error::{Error, ErrorKind, OrInternal},
    notify::{self, Change},
    portal::Portal,
    recovery::{self, HOLD_AFTER_RECOVERY},
    store::{GrantMade, InvitationAnswer, NewGrant},
};

use super::{day, proved_for_caring, recently_proved_for_caring, switched_on, Relationship};

/// How long an invitation may be used.
pub const LASTS: Millis = 7 * DAY;
/// Open invitations a patient may have at once.
pub const MOST_OPEN: i64 = 3;
/// Wrong dates of birth before an invitation is void.
pub const MOST_WRONG: i64 = 5;

pub const WRONG_CODE: &str = "That invitation code isn't right, or it has expired. Please check it with the person who gave it to you.";
pub const WAITING: &str = "This invitation is waiting for the practice.";

/// MACs and seals are keyed apart from every other use of the server key.
const CODE_CONTEXT: &str = "caregiver-invitation";
const SEALED_AS: &str = "caregiver invitation";

/// An invitation the patient has open, as their page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInvitation {
    pub id: i64,
    /// None once the session's proof is no longer recent: "Confirm it's you" shows it again.
    pub code: Option<String>,
    /// The last day it may be used.
    pub until: String,
    /// "Someone is pressuring me to do this" was chosen: it can't be used until the practice
    /// has talked to the patient.
    pub waiting_for_practice: bool,
}

/// What the caregiver chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Accept,
    Decline,
}

/// A months' span from `now`, in the practice's time zone (the 31st of a shorter month is its
/// last day).
pub fn months_from(portal: &Portal, now: Millis, months: i64) -> Millis {
    let later = jiff::Timestamp::from_millisecond(now).ok().and_then(|t| {
        t.to_zoned_datetime(portal.settings.time_zone.clone())
            .checked_add(jiff::Span::new().months(months))
            .ok()
    });
    later.map_or(now + months * 30 * DAY, |z| z.timestamp().as_millisecond())
}

/// "Invite a caregiver": a new code, shown on the patient's page while it is open.
pub async fn invite(portal: &Portal, visit: &Visit) -> Result<OpenInvitation, Error> {
    switched_on(portal)?;
    recently_proved_for_caring(portal, visit).await?;
    if recovery::held_until(portal, &visit.patient)
        .await?
        .is_some()
    {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "For 24 hours after a recovery code was used, no caregiver can be invited. Please try again tomorrow.",
        ));
    }
    let code = recovery::new_code();
    let now = portal.now();
    let expires_at = now + LASTS;
    let made = portal
        .store
        .make_invitation(
            visit.patient.id,
            &portal.secret.code_mac(CODE_CONTEXT, &code),
            &portal.secret.seal_as(SEALED_AS, &code),
            now,
            expires_at,
            MOST_OPEN,
        )
        .await
        .or_internal("making an invitation")?;
    let Some(id) = made else {
        return Err(Error::new(
            ErrorKind::Conflict,
            "You have 3 invitations open. Cancel one you don't need, or wait for one to be used or to expire.",
        ));
    };
    let until = day(portal, expires_at);
    let entry = Entry::new(Event::CaregiverInvited, Outcome::Ok)
        .account(visit.patient.id)
        .detail(format!("invitation {id}, until {until}"));
    audit::record(portal, &visit.caller, entry).await;
    Ok(OpenInvitation {
        id,
        code: Some(code),
        until,
        waiting_for_practice: false,
    })
}

/// The patient's invitations still open (and those waiting for the practice). Their codes show
/// only to a session that proved it's them recently, as making one needs: a stolen cookie of
/// a session idle since reads none.
pub async fn open(portal: &Portal, visit: &Visit) -> Result<Vec<OpenInvitation>, Error> {
    let shown = crate::proof::recently_proved(portal, visit);
    let rows = portal
        .store
        .invitations_of(visit.patient.id, portal.now())
        .await
        .or_internal("reading invitations")?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let code = portal.secret.open_as(SEALED_AS, &row.sealed_code)?;
            Some(OpenInvitation {
                id: row.id,
                code: shown.then_some(code),
                until: day(portal, row.expires_at),
                waiting_for_practice: row.pressured_at.is_some(),
            })
        })
        .collect())
}

fn no_invitation() -> Error {
    Error::new(
        ErrorKind::NotFound,
        "That invitation has already ended. Please reload the page.",
    )
}

/// "Cancel": the patient ends one of their invitations.
pub async fn cancel(portal: &Portal, visit: &Visit, invitation: i64) -> Result<(), Error> {
    let ended = portal
        .store
        .end_invitation(invitation, visit.patient.id, "cancelled", portal.now())
        .await
        .or_internal("cancelling an invitation")?;
    if !ended {
        return Err(no_invitation());
    }
    let entry = Entry::new(Event::InvitationEnded, Outcome::Ok)
        .account(visit.patient.id)
        .detail(format!("invitation {invitation}: cancelled by the patient"));
    audit::record(portal, &visit.caller, entry).await;
    Ok(())
}

/// "Someone is pressuring me to do this": the invitation waits for the practice, which sees it
/// on the patient's page. The line is kept out of the patient's own "Recent activity", which
/// whoever is pressuring them may be reading.
pub async fn pressured(portal: &Portal, visit: &Visit, invitation: i64) -> Result<(), Error> {
    let marked = portal
        .store
        .invitation_pressured(invitation, visit.patient.id, portal.now())
        .await
        .or_internal("marking an invitation")?;
    if !marked {
        return Err(no_invitation());
    }
    let entry = Entry::new(Event::InvitationPressured, Outcome::Ok)
        .account(visit.patient.id)
        .detail(format!(
            "invitation {invitation}: the patient says someone is pressuring them; waiting for the practice"
        ));
    audit::record(portal, &visit.caller, entry).await;
    Ok(())
}

/// What became of a caregiver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub accepted: bool,
}

/// "Accept an invitation": the caregiver gives the code and the patient's date of birth, and
/// accepts or declines. A right date of birth and "Accept" make the grant, with the practice's
/// "Adult caregiver access (months)".
pub async fn answer(
    portal: &Portal,
    visit: &Visit,
    typed_code: &str,
    typed_date_of_birth: &str,
    choice: Choice,
) -> Result<Answered, Error> {
    switched_on(portal)?;
    proved_for_caring(portal, visit).await?;
    let caregiver = &visit.patient;
    let wrong_code = || Error::field("invitation_code", WRONG_CODE);
    let code = recovery::normalise(typed_code).ok_or_else(wrong_code)?;
    let now = portal.now();
    let invitation = portal
        .store
        .invitation(&portal.secret.code_mac(CODE_CONTEXT, &code))
        .await
        .or_internal("finding an invitation")?
        .filter(|i| i.ended_at.is_none() && i.expires_at > now)
        .ok_or_else(wrong_code)?;
    if invitation.patient_id == caregiver.id {
        return Err(Error::field(
            "invitation_code",
            "This is your own invitation: give it to the person who will help you.",
        ));
    }
    if invitation.pressured_at.is_some() {
        return Err(Error::new(ErrorKind::Forbidden, WAITING));
    }
    if choice == Choice::Decline {
        if !portal
            .store
            .decline_invitation(invitation.id, caregiver.id, now)
            .await
            .or_internal("declining an invitation")?
        {
            return Err(wrong_code());
        }
        let entry = Entry::new(Event::InvitationEnded, Outcome::Ok)
            .account(invitation.patient_id)
            .detail(format!(
                "invitation {}: declined by caregiver account {}",
                invitation.id, caregiver.id
            ));
        audit::record(portal, &visit.caller, entry).await;
        return Ok(Answered { accepted: false });
    }
    let Some(patient) = Patient::load(portal, invitation.patient_id)
        .await
        .or_internal("loading an invitation's patient")?
    else {
        return Err(wrong_code());
    };
    let given = DateOfBirth::parse(typed_date_of_birth, crate::account::today(portal))
        .map_err(|problem| Error::field("date_of_birth", problem))?;
    if given.to_string() != patient.date_of_birth.trim() {
        return wrong_date_of_birth(portal, visit, &patient, invitation.id).await;
    }
    let months = portal.practice().adult_caregiver_months;
    let answer = portal
        .store
        .accept_invitation(
            invitation.id,
            &NewGrant {
                caregiver_id: caregiver.id,
                patient_id: patient.id,
                relationship: Relationship::Adult,
                ends_at: Some(months_from(portal, now, months)),
                document: None,
                made_by_staff: None,
                now,
                recovered_since: now - HOLD_AFTER_RECOVERY,
            },
        )
        .await
        .or_internal("accepting an invitation")?;
    let grant = match answer {
        InvitationAnswer::Accepted(grant) => grant,
        InvitationAnswer::NotOpen => return Err(wrong_code()),
        InvitationAnswer::Refused(GrantMade::AlreadyLive) => {
            return Err(Error::new(
                ErrorKind::Conflict,
                "You already care for this person.",
            ))
        }
        InvitationAnswer::Refused(_) => {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "This invitation can't be accepted now. Please contact the practice.",
            ))
        }
    };
    let entry = Entry::new(Event::CaregiverAdded, Outcome::Ok)
        .account(patient.id)
        .detail(format!(
            "caregiver account {}, grant {grant}, adult; by invitation {}",
            caregiver.id, invitation.id
        ));
    audit::record(portal, &visit.caller, entry).await;
    notify::security_notice(portal, &visit.caller, &patient, Change::CaregiverAdded).await;
    Ok(Answered { accepted: true })
}

/// A wrong date of birth: counted; the fifth voids the invitation and tells the patient.
async fn wrong_date_of_birth(
    portal: &Portal,
    visit: &Visit,
    patient: &Patient,
    invitation: i64,
) -> Result<Answered, Error> {
    let counted = portal
        .store
        .invitation_wrong_try(invitation, visit.patient.id, portal.now(), MOST_WRONG)
        .await
        .or_internal("counting a wrong date of birth")?;
    let Some((tries, void)) = counted else {
        return Err(Error::field("invitation_code", WRONG_CODE));
    };
    let entry = Entry::new(Event::InvitationEnded, Outcome::Refused)
        .account(patient.id)
        .detail(format!(
            "invitation {invitation}: wrong date of birth from caregiver account {} ({tries} of {MOST_WRONG}){}",
            visit.patient.id,
            if void { "; void" } else { "" }
        ));
    audit::record(portal, &visit.caller, entry).await;
    if void {
        notify::security_notice(portal, &visit.caller, patient, Change::InvitationVoided).await;
        return Err(Error::new(
            ErrorKind::Forbidden,
            "That invitation can't be used any more. Please ask for a new one.",
        ));
    }
    let left = MOST_WRONG - tries;
    Err(Error::field(
        "date_of_birth",
        format!(
            "That date of birth doesn't match the invitation. {left} {} left.",
            if left == 1 { "try" } else { "tries" }
        ),
    ))
}

/// "Renew": the patient gives an adult caregiver the practice's months again, from today.
pub async fn renew(portal: &Portal, visit: &Visit, grant: i64) -> Result<(), Error> {
    switched_on(portal)?;
    recently_proved_for_caring(portal, visit).await?;
    let now = portal.now();
    let ends_at = months_from(portal, now, portal.practice().adult_caregiver_months);
    let renewed = portal
        .store
        .renew_grant(grant, visit.patient.id, ends_at, now)
        .await
        .or_internal("renewing a caregiver's access")?
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                "That caregiver's access can't be renewed: it has ended, or it isn't one you invited.",
            )
        })?;
    let until = day(portal, ends_at);
    let entry = Entry::new(Event::CaregiverRenewed, Outcome::Ok)
        .account(visit.patient.id)
        .detail(format!(
            "caregiver account {}, grant {grant}: until {until}",
            renewed.caregiver_id
        ));
    audit::record(portal, &visit.caller, entry).await;
    notify::security_notice(
        portal,
        &visit.caller,
        &visit.patient,
        Change::CaregiverRenewed,
    )
    .await;
    Ok(())
}
