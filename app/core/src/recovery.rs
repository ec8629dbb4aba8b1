//! Saved recovery codes: a lost phone without a phone call. Recovery stays at the account's own
//! level (NIST SP 800-63B-4 §4.2): the password plus a saved code of 80 random bits, kept only as
//! a slow hash, spent and replaced at each use. A code is made on "Sign-in and security" after a
//! recent proof; after the password it begins a recovery session ("Can't get a code?"), which
//! can only set up a new phone; signed in, it confirms it's the patient.

use rand::Rng;

use crate::{
    account::Patient,
    audit::{self, Entry, Event, Outcome},
    caller::{Caller, Visit},
    clock::{Millis, DAY},
    devices::{self, Forgotten},
    error::{Error, ErrorKind, OrInternal},
    login::password::at_the_gate,
    notify::{self, Change},
    portal::Portal,
    session::{self, NewSession, Session},
    sign_in::Step,
};

/// 32 symbols, none of them 0, O, 1 or I, so that nothing read off paper is mistaken: 5 bits
/// each.
const SYMBOLS: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// 16 symbols: 80 bits.
const LENGTH: usize = 16;
/// After a recovery by code, the email address can't change for this long: a thief who got in
/// with a stolen code can't take the address the notices go to.
pub const HOLD_AFTER_RECOVERY: Millis = DAY;

pub const WRONG_CODE: &str =
    "That recovery code isn't right. Please check it and try again, or contact the practice.";

/// A new code, as it is shown: four groups of four.
pub fn new_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let symbols: String = (0..LENGTH)
        .map(|_| SYMBOLS[rng.gen_range(0..SYMBOLS.len())] as char)
        .collect();
    grouped(&symbols)
}

fn grouped(symbols: &str) -> String {
    symbols
        .as_bytes()
        .chunks(4)
        .map(|group| String::from_utf8_lossy(group).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// What was typed, as a code is written (upper case, in its groups), if it could be one:
/// spaces and dashes, and the case, don't matter.
pub fn normalise(typed: &str) -> Option<String> {
    let symbols: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid = symbols.len() == LENGTH && symbols.bytes().all(|b| SYMBOLS.contains(&b));
    valid.then(|| grouped(&symbols))
}

/// What a patient who can't get a code may do instead ("Can't get a code?"): only what this
/// account has. Only after a right password, so nothing is told to anyone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherWaysIn {
    pub passkey: bool,
    pub recovery_code: bool,
}

pub async fn other_ways_in(portal: &Portal, visit: &Visit) -> Result<OtherWaysIn, Error> {
    if !visit.session.stage.allows(Step::RecoveryCode) {
        return Err(Error::unauthorized(
            "Please log in with your password first.",
        ));
    }
    let passkey = crate::passkeys::unavailable(portal).is_none()
        && !crate::passkeys::list(portal, crate::store::Holder::Patient(visit.patient.id))
            .await?
            .is_empty();
    Ok(OtherWaysIn {
        passkey,
        recovery_code: made_at(portal, &visit.patient).await?.is_some(),
    })
}

/// When the patient's recovery code was made, if they have one.
pub async fn made_at(portal: &Portal, patient: &Patient) -> Result<Option<Millis>, Error> {
    Ok(portal
        .store
        .recovery_code(patient.id)
        .await
        .or_internal("reading a recovery code")?
        .map(|row| row.made_at))
}

/// Until when the email address is held after a recovery by code, if it still is.
pub async fn held_until(portal: &Portal, patient: &Patient) -> Result<Option<Millis>, Error> {
    let recovered = portal
        .store
        .recovery_code(patient.id)
        .await
        .or_internal("reading a recovery code")?
        .and_then(|row| row.recovered_at);
    Ok(recovered
        .map(|at| at + HOLD_AFTER_RECOVERY)
        .filter(|until| *until > portal.now()))
}

async fn hash(portal: &Portal, code: &str) -> Result<String, Error> {
    portal
        .passwords
        .hash_given(code)
        .await
        .map_err(|e| e.refusal("hashing a recovery code"))
}

/// "Save a recovery code" (or "Make a new recovery code"): needs a recent proof. Returns the
/// code, to be shown once; only its hash is kept.
pub async fn make(portal: &Portal, visit: &Visit) -> Result<String, Error> {
    crate::proof::required(portal, visit)?;
    let code = new_code();
    let hashed = hash(portal, &code).await?;
    let replaced = portal
        .store
        .save_recovery_code(visit.patient.id, &hashed, portal.now())
        .await
        .or_internal("saving a recovery code")?;
    let (detail, change) = match replaced {
        true => (
            "a new one in place of the old",
            Change::RecoveryCodeReplaced,
        ),
        false => ("the first", Change::RecoveryCodeMade),
    };
    let entry = Entry::new(Event::RecoveryCodeSaved, Outcome::Ok)
        .account(visit.patient.id)
        .detail(detail);
    audit::record(portal, &visit.caller, entry).await;
    notify::security_notice(portal, &visit.caller, &visit.patient, change).await;
    Ok(code)
}

/// Checks a typed code against the patient's at the login's gate (its delays per username and
/// network, and its ceiling across networks). Right: the hash it matched, to be replaced.
async fn check(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
    typed: &str,
) -> Result<String, Error> {
    if typed.trim().is_empty() {
        return Err(Error::field(
            "recovery_code",
            "Please type your recovery code.",
        ));
    }
    let stored = portal
        .store
        .recovery_code(patient.id)
        .await
        .or_internal("reading a recovery code")?
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Forbidden,
                "Your account has no recovery code. Please contact the practice.",
            )
        })?;
    let typed = normalise(typed);
    let matches = async {
        match &typed {
            Some(code) => portal
                .passwords
                .verify(code, &stored.code_hash)
                .await
                .map_err(|e| e.refusal("checking a recovery code")),
            None => Ok(false),
        }
    };
    let right = at_the_gate(
        portal,
        caller,
        patient,
        "recovery code",
        matches,
        Event::RecoveryCodeUsed,
    );
    match right.await? {
        true => Ok(stored.code_hash),
        false => Err(Error::field("recovery_code", WRONG_CODE)),
    }
}

/// A recovery begun: the code that replaced the spent one, to be shown first, and the
/// recovery session.
pub struct Recovery {
    pub new_code: String,
    pub session: NewSession,
}

/// "Use a recovery code" after the password ("Can't get a code?"). A right code begins a
/// recovery session of 30 minutes that can only set up a new phone. In one step the spent code
/// is replaced by a new one (so that a text that never arrives leaves nobody with a spent code
/// and nothing else), every remembered device is forgotten and every session ends.
pub async fn recover(
    portal: &Portal,
    caller: &Caller,
    session: &Session,
    patient: &Patient,
    typed: &str,
) -> Result<Recovery, Error> {
    if !session.stage.allows(Step::RecoveryCode) {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "Please log in with your password first.",
        ));
    }
    let spent = check(portal, caller, patient, typed).await?;
    let new_code = new_code();
    let hashed = hash(portal, &new_code).await?;
    let begun = session::begin_recovery(portal, caller.browser(), patient.id, &spent, &hashed)
        .await
        .or_internal("beginning a recovery")?;
    // Spent by another try meanwhile: as wrong as any other.
    let Some((new, taken)) = begun else {
        return Err(Error::field("recovery_code", WRONG_CODE));
    };
    let lines = vec![
        Entry::new(Event::RecoveryCodeUsed, Outcome::Ok)
            .account(patient.id)
            .detail("a lost phone; a new code made in its place"),
        Entry::new(Event::Recovered, Outcome::Ok)
            .account(patient.id)
            .detail(format!(
                "{} session(s) ended, {} remembered device(s) forgotten; a new phone to set up",
                taken.sessions_ended, taken.devices_forgotten
            )),
    ];
    audit::record_all(portal, caller, lines).await;
    devices::record_forgotten(
        portal,
        caller,
        patient.id,
        taken.devices_forgotten,
        Forgotten::Recovery,
    )
    .await;
    notify::security_notice(portal, caller, patient, Change::Recovered).await;
    Ok(Recovery {
        new_code,
        session: new,
    })
}

/// "Use a recovery code" on "Confirm it's you": a right code proves the session, and a new
/// code replaces the spent one. Returns the new code, to be shown once.
pub async fn confirm(portal: &Portal, visit: &Visit, typed: &str) -> Result<String, Error> {
    let patient = &visit.patient;
    let spent = check(portal, &visit.caller, patient, typed).await?;
    let new_code = new_code();
    let hashed = hash(portal, &new_code).await?;
    let now = portal.now();
    let replaced = portal
        .store
        .replace_spent_recovery_code(patient.id, &spent, &hashed, now)
        .await
        .or_internal("replacing a recovery code")?;
    if !replaced {
        return Err(Error::field("recovery_code", WRONG_CODE));
    }
    portal
        .store
        .session_proved(&visit.session.id_hash, Some(now))
        .await
        .or_internal("recording a proof")?;
    let entry = Entry::new(Event::RecoveryCodeUsed, Outcome::Ok)
        .account(patient.id)
        .detail("confirming it's them; a new code made in its place");
    audit::record(portal, &visit.caller, entry).await;
    notify::security_notice(portal, &visit.caller, patient, Change::RecoveryCodeUsed).await;
    Ok(new_code)
}

/// How long "Not now" puts off "Make signing in easier".
pub const NUDGE_PUT_OFF: Millis = 30 * DAY;

/// Whether the home page shows "Make signing in easier": after a sign-in by code (a session
/// that proved it's the patient), to a patient with no passkey and no recovery code, unless
/// put off with "Not now". Every text a passkey saves is one the practice doesn't pay for.
pub async fn nudged(portal: &Portal, visit: &Visit) -> Result<bool, Error> {
    if visit.session.proved_at.is_none() || made_at(portal, &visit.patient).await?.is_some() {
        return Ok(false);
    }
    let store = &portal.store;
    let passkeys = store
        .passkeys(crate::store::Holder::Patient(visit.patient.id))
        .await
        .or_internal("listing passkeys")?;
    let hidden = store
        .nudge_hidden_until(visit.patient.id)
        .await
        .or_internal("reading the nudge")?
        .is_some_and(|until| until > portal.now());
    Ok(passkeys.is_empty() && !hidden)
}

/// "Not now": "Make signing in easier" is put off for 30 days.
pub async fn put_off_nudge(portal: &Portal, visit: &Visit) -> Result<(), Error> {
    portal
        .store
        .hide_nudge(visit.patient.id, portal.now() + NUDGE_PUT_OFF)
        .await
        .or_internal("putting off the nudge")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_has_80_bits_in_four_groups_without_look_alike_symbols() {
        let code = new_code();
        assert_eq!(code.len(), 19);
        assert_eq!(code.split('-').count(), 4);
        assert!(!code.contains(['0', 'O', '1', 'I', 'l']), "{code}");
        // 32 symbols, 5 bits each.
        assert_eq!(SYMBOLS.len(), 32);
        assert_eq!(LENGTH * 5, 80);
        assert_ne!(new_code(), code);
    }

    #[test]
    fn a_typed_code_is_read_whatever_its_case_and_spacing() {
        let code = new_code();
        let sloppy = code.to_lowercase().replace('-', " ");
        assert_eq!(normalise(&sloppy), Some(code.clone()));
        assert_eq!(normalise(&code.replace('-', "")), Some(code));
        for refused in [
            "",
            "ABCD-EFGH-JKLM",
            "ABCD-EFGH-JKLM-NPQ0",
            "ABCD-EFGH-JKLM-NPQRS",
        ] {
            assert_eq!(normalise(refused), None, "{refused}");
        }
    }
}
