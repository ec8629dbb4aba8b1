//! A new number, from "Save & Get Code": saved as pending and kept apart, while the verified
//! number stays the sign-in factor, until its own code comes back. The old number is told, and
//! once the new one is proven every other session of the account ends.

use super::{
    challenge::{self, ChallengeError, Notice, Purpose},
    sending::{send_code_with_notice, SEND_FAILED},
    CodeSent, Verified,
};
use crate::store::AccountId;
use crate::{
    account::Patient,
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    devices::{self, Forgotten},
    error::{Error, ErrorKind, OrInternal},
    limits::texts::{self as limits, Recipient},
    mobile::{self, Mobile},
    portal::Portal,
    session::{self, Session},
};

/// "Save & Get Code": keeps the number as pending and texts a code to it. Refused before
/// anything is saved when no code could follow (the cooldown, a limit).
pub async fn save_and_send(
    portal: &Portal,
    caller: &Caller,
    session: &Session,
    patient: &Patient,
    typed: &str,
) -> Result<CodeSent, Error> {
    let settings = &portal.settings;
    let mobile = Mobile::parse(typed, settings.default_region, &settings.allowed_regions)
        .map_err(|problem| Error::field("mobile", problem.to_string()))?;
    if patient.mobile.verified() == Some(mobile.e164()) {
        return Err(Error::field(
            "mobile",
            "This is already your verified mobile number.",
        ));
    }
    let wait = challenge::cooldown_left(portal, session, Purpose::NewNumber)
        .await
        .or_internal("reading the cooldown")?;
    if wait > 0 {
        return Err(ChallengeError::Cooldown(wait).into());
    }
    // The old number is told with the code, in the code's own transaction: once for each code
    // issued, never for a request the cooldown or a limit refuses.
    let notice = patient.mobile.verified().map(|old| Notice {
        account_id: patient.id,
        to: old.to_string(),
        body: crate::notify::new_number_added(portal, &mobile.ending()),
    });
    let limits = limits::for_send(
        portal,
        caller,
        patient.id,
        mobile.e164(),
        Recipient::Unproven,
    );
    limits::precheck(portal, &limits).await?;
    crate::fraud_guard::check(portal, caller, &mobile).await?;
    portal
        .store
        .save_pending_mobile(patient.id, mobile.e164())
        .await
        .or_internal("saving a new mobile number")?;
    let entry = Entry::new(Event::MobileChanged, Outcome::SavedPending)
        .account(patient.id)
        .detail(format!(
            "new number {} waiting to be verified; sign-in number stays {}",
            mobile::masked(mobile.e164()),
            patient
                .mobile
                .verified()
                .map_or("none".into(), mobile::masked)
        ));
    audit::record(portal, caller, entry).await;
    send_code(portal, caller, session, &mobile, notice.as_ref()).await
}

async fn send_code(
    portal: &Portal,
    caller: &Caller,
    session: &Session,
    mobile: &Mobile,
    notice: Option<&Notice>,
) -> Result<CodeSent, Error> {
    send_code_with_notice(
        portal,
        caller,
        session,
        Purpose::NewNumber,
        mobile,
        Recipient::Unproven,
        notice,
    )
    .await
    .map_err(|err| match err.kind {
        ErrorKind::Unavailable => Error {
            message: format!(
                "Your new number is saved, but {}",
                lowercase_first(SEND_FAILED)
            ),
            ..err
        },
        _ => err,
    })
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

fn no_pending_number() -> Error {
    Error::field("mobile", "There is no new number waiting to be verified.")
}

/// "Send Code" again for the pending number.
pub async fn resend(
    portal: &Portal,
    caller: &Caller,
    session: &Session,
    patient: &Patient,
) -> Result<CodeSent, Error> {
    let settings = &portal.settings;
    let pending = patient
        .pending_mobile
        .as_deref()
        .ok_or_else(no_pending_number)?;
    let mobile = Mobile::parse(pending, settings.default_region, &settings.allowed_regions)
        .map_err(|problem| Error::field("mobile", problem.to_string()))?;
    send_code(portal, caller, session, &mobile, None).await
}

/// "Verify" for the pending number: it becomes the verified one, the old number and the patient
/// are told, and every other session of the account ends.
pub async fn verify(
    portal: &Portal,
    caller: &Caller,
    session: &Session,
    patient: &Patient,
    code: &str,
) -> Result<Verified, Error> {
    if patient.pending_mobile.is_none() {
        return Err(no_pending_number());
    }
    let number = match challenge::verify(portal, session, Purpose::NewNumber, code).await {
        Ok(number) => number,
        Err(err) => {
            let entry = Entry::new(Event::CodeVerified, Outcome::Refused)
                .account(patient.id)
                .detail(format!("new number: {err}"));
            audit::record(portal, caller, entry).await;
            return Err(err.into());
        }
    };
    let old = patient.mobile.verified();
    let entry = Entry::new(Event::MobileChanged, Outcome::Ok)
        .account(patient.id)
        .detail(format!(
            "verified {}, replacing {}",
            mobile::masked(&number),
            old.map_or("none".into(), mobile::masked)
        ));
    audit::record(portal, caller, entry).await;
    end_other_sessions(
        portal,
        caller,
        patient.id,
        Some(session),
        Forgotten::NumberChanged,
    )
    .await?;
    crate::notify::number_changed(portal, caller, patient, old, &number).await;
    Ok(Verified {
        mobile_ending: mobile::ending(&number),
    })
}

/// Drops the pending number; the verified one was never touched.
pub async fn cancel(portal: &Portal, caller: &Caller, patient: &Patient) -> Result<(), Error> {
    let cancelled = portal
        .store
        .cancel_pending_mobile(patient.id)
        .await
        .or_internal("cancelling a new number")?;
    if !cancelled {
        return Err(no_pending_number());
    }
    let entry = Entry::new(Event::MobileChangeCancelled, Outcome::Ok)
        .account(patient.id)
        .detail(
            patient
                .pending_mobile
                .as_deref()
                .map_or("none".into(), mobile::masked),
        );
    audit::record(portal, caller, entry).await;
    Ok(())
}

/// Ends the account's other sessions after a change of its sign-in number or password, and
/// records how many ended. Every remembered device is forgotten too, this browser's as well.
pub async fn end_other_sessions(
    portal: &Portal,
    caller: &Caller,
    account_id: AccountId,
    keep: Option<&Session>,
    why: Forgotten,
) -> Result<(), Error> {
    devices::forget_all(portal, caller, account_id, why)
        .await
        .or_internal("forgetting remembered devices")?;
    let ended = session::end_others(portal, account_id, keep)
        .await
        .or_internal("ending other sessions")?;
    if ended > 0 {
        let entry = Entry::new(Event::SessionsEnded, Outcome::Ok)
            .account(account_id)
            .detail(format!("{ended} other session(s) ended by a change"));
        audit::record(portal, caller, entry).await;
    }
    Ok(())
}
