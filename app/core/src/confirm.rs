//! "Confirm it's you" (`/confirm`): the ways this account can prove it's the patient now, a code
//! to the verified number, or the password for an account with no other factor yet. What the
//! proof allows, and for how long, is `crate::proof`'s.

use crate::{
    audit::{self, Entry, Event, Outcome},
    caller::Visit,
    error::{Error, ErrorKind, OrInternal},
    limits::texts::Recipient,
    mobile::Mobile,
    one_time_code::{
        challenge::{self, Purpose},
        sending::send_code_to,
    },
    portal::Portal,
    proof::recently_proved,
    store::Holder,
};

/// What this account can prove it's them with, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofWays {
    /// Proved recently enough already.
    pub proved: bool,
    /// The verified number's last digits, for a code.
    pub mobile_ending: Option<String>,
    /// A code to confirm it's them is waiting.
    pub code_sent: bool,
    /// A passkey of theirs can be used here.
    pub passkey: bool,
    /// Neither a verified number nor a passkey: the password stands in.
    pub password: bool,
    /// A saved recovery code can be used here (and is replaced once used).
    pub recovery_code: bool,
    pub minutes: i64,
}

fn verified_number(portal: &Portal, visit: &Visit) -> Option<Mobile> {
    let settings = &portal.settings;
    visit
        .patient
        .mobile
        .verified()
        .and_then(|m| Mobile::parse(m, settings.default_region, &settings.allowed_regions).ok())
}

async fn has_passkeys(portal: &Portal, visit: &Visit) -> Result<bool, Error> {
    Ok(!portal
        .store
        .passkeys(Holder::Patient(visit.patient.id))
        .await
        .or_internal("listing passkeys")?
        .is_empty())
}

pub async fn ways(portal: &Portal, visit: &Visit) -> Result<ProofWays, Error> {
    let passkeys = has_passkeys(portal, visit).await?;
    let number = verified_number(portal, visit);
    let code_sent = challenge::live(portal, &visit.session, Purpose::StepUp)
        .await
        .or_internal("reading the code step")?
        .is_some();
    Ok(ProofWays {
        proved: recently_proved(portal, visit),
        mobile_ending: number.as_ref().map(Mobile::ending),
        code_sent,
        passkey: passkeys && crate::passkeys::unavailable(portal).is_none(),
        password: number.is_none() && !passkeys,
        recovery_code: portal
            .store
            .recovery_code(visit.patient.id)
            .await
            .or_internal("reading a recovery code")?
            .is_some(),
        minutes: portal.practice().recent_proof_minutes,
    })
}

pub async fn send(portal: &Portal, visit: &Visit) -> Result<(), Error> {
    let mobile = verified_number(portal, visit).ok_or_else(|| {
        Error::new(
            ErrorKind::Forbidden,
            "Your account has no verified mobile number to text a code to.",
        )
    })?;
    send_code_to(
        portal,
        &visit.caller,
        &visit.session,
        Purpose::StepUp,
        &mobile,
        Recipient::VerifiedSignIn,
    )
    .await?;
    Ok(())
}

/// A right code proves the session (`challenge::verify` records when).
pub async fn verify(portal: &Portal, visit: &Visit, code: &str) -> Result<(), Error> {
    let outcome = challenge::verify(portal, &visit.session, Purpose::StepUp, code).await;
    let entry = Entry::new(
        Event::CodeVerified,
        if outcome.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Refused
        },
    )
    .account(visit.patient.id)
    .detail("confirming it's them");
    audit::record(portal, &visit.caller, entry).await;
    outcome.map(|_| ()).map_err(Error::from)
}

/// The password again, only for an account with no verified number and no passkey: with
/// either, only the factor itself proves it's them. It passes the login's gate.
pub async fn password(portal: &Portal, visit: &Visit, typed: &str) -> Result<(), Error> {
    if verified_number(portal, visit).is_some() || has_passkeys(portal, visit).await? {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "Please confirm it's you with a code or a passkey.",
        ));
    }
    crate::login::password::password_again(
        portal,
        &visit.caller,
        &visit.patient,
        typed,
        "password",
        "That isn't your password. Please check it and try again.",
    )
    .await?;
    portal
        .store
        .session_proved(&visit.session.id_hash, Some(portal.now()))
        .await
        .or_internal("recording a proof")?;
    let entry = Entry::new(Event::Login, Outcome::PasswordAccepted)
        .account(visit.patient.id)
        .detail("password typed again to confirm it's them: the account has no other factor yet");
    audit::record(portal, &visit.caller, entry).await;
    Ok(())
}
