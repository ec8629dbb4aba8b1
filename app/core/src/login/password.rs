//! The password step of signing in (`/api/login`). A right password moves the session to the
//! code step (sending the code at once to a verified mobile); wrong answers all look alike, and
//! repeated failures make each further attempt wait.

use crate::{
    account::{username_key, Patient},
    audit::Factor,
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    devices,
    error::{Error, OrInternal},
    limits::texts::Recipient,
    login_gate::{could_be_a_username, gate, gate_unnamed, Counted, Passage},
    mobile::{self, Mobile},
    one_time_code::{
        challenge::Purpose,
        sending::{contact_the_practice, send_code_to},
    },
    password::PasswordHasher,
    portal::Portal,
    session::{self, NewSession, Stage},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedIn {
    /// Signed in already: two-factor authentication is off.
    pub signed_in: bool,
    /// A code went to the verified mobile (flow 2.1); otherwise the patient must give a number (2.2).
    pub code_sent: bool,
    pub mobile_ending: Option<String>,
}

/// The one answer for an unknown username and a wrong password alike.
pub const WRONG_DETAILS: &str =
    "That username and password don't match. Please check them and try again.";

/// Who a login attempt is about: the account if the username has one, else the typed name.
fn about(entry: Entry, patient: Option<&Patient>, typed: &str) -> Entry {
    match patient {
        Some(patient) => entry.account(patient.id),
        None => entry.typed_username(typed),
    }
}

/// What a right password led to: the new session, and the remembered device's new token
/// when a device skipped the code (each use replaces it).
pub struct PasswordStep {
    pub logged_in: LoggedIn,
    pub session: NewSession,
    pub device: Option<devices::Remembered>,
}

/// The password step. A right password starts a session waiting for its code (sent at once
/// to a verified mobile), or, with two-factor authentication off, a signed-in one.
pub async fn log_in(
    portal: &Portal,
    caller: &Caller,
    username: &str,
    password: &str,
) -> Result<PasswordStep, Error> {
    if !could_be_a_username(username) {
        return nobodys_username(portal, caller, username, password).await;
    }
    let key = username_key(username);
    let counted = pass_the_gate(portal, caller, &key, username).await?;
    // A record that can't sign in (a child's) answers as nobody's, whatever was typed.
    let patient = patient_named(portal, &key).await?.filter(|p| p.signs_in);
    let matches = check_password(portal, caller, patient.as_ref(), username, password).await?;
    let patient = match patient {
        Some(patient) if matches => patient,
        other => {
            refused(portal, caller, other.as_ref(), username, &counted).await;
            return Err(Error::unauthorized(WRONG_DETAILS));
        }
    };
    password_accepted(portal, caller, &patient, &key, counted.ip_event, password).await?;
    // A held account is told so only after a right password, whatever would follow it (a
    // code, a passkey, a remembered device).
    crate::hold::refuse_if_held(portal, caller, &patient).await?;
    step_in(portal, caller, &patient).await
}

/// A signed-in patient's password typed again, to prove it's them before a change: it
/// passes the login's gate, so wrong tries meet the login's growing delays, and a wrong one
/// is audited as a login's would be. `field` and `wrong` say where and what to answer.
pub async fn password_again(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
    typed: &str,
    field: &str,
    wrong: &str,
) -> Result<(), Error> {
    let key = username_key(&patient.username);
    let counted = pass_the_gate(portal, caller, &key, &patient.username).await?;
    if !check_password(portal, caller, Some(patient), &patient.username, typed).await? {
        refused(portal, caller, Some(patient), &patient.username, &counted).await;
        // 422 rather than 401: the session stands; only this field is wrong.
        return Err(Error::field(field, wrong));
    }
    let network = caller.network(portal.settings.ipv6_prefix);
    portal
        .store
        .accept_login(&key, &network, counted.ip_event, &[], portal.now())
        .await
        .or_internal("clearing login failures")?;
    Ok(())
}

/// Something only the patient should have, checked after their password (a recovery code). Its
/// tries pass the login's gate under a key of their own, `scope` before the username: the
/// login's delays per username and network and its ceiling across networks, as wrong passwords
/// meet, but a run that a right password never ends and a new code never resets. Every try
/// counts, right or wrong, so a thief who knows the password gets no fresh guesses. `check`
/// runs only once the gate lets the try through; a refused or wrong one is audited as `event`.
pub async fn at_the_gate(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
    scope: &str,
    check: impl std::future::Future<Output = Result<bool, Error>>,
    event: Event,
) -> Result<bool, Error> {
    let key = format!("{scope}:{}", username_key(&patient.username));
    let counted = match gate(portal, caller, &key).await? {
        Passage::Through(counted) => counted,
        Passage::Refused { outcome, error } => {
            let entry = Entry::new(event, outcome).account(patient.id);
            audit::record(portal, caller, entry).await;
            return Err(error);
        }
    };
    if check.await? {
        return Ok(true);
    }
    let entry = Entry::new(event, Outcome::Refused).account(patient.id);
    audit::record(portal, caller, entry).await;
    delay_started(portal, caller, patient, &counted).await;
    Ok(false)
}

/// A username no account could have (too long, or with characters the rule refuses): refused as wrong details, after a password check
/// against the dummy hash so that it takes as long, and counted only against the network.
async fn nobodys_username(
    portal: &Portal,
    caller: &Caller,
    typed: &str,
    password: &str,
) -> Result<PasswordStep, Error> {
    if let Passage::Refused {
        outcome,
        error: refusal,
    } = gate_unnamed(portal, caller).await?
    {
        let entry = Entry::new(Event::Login, outcome).typed_username(typed);
        audit::record(portal, caller, entry).await;
        return Err(refusal);
    }
    check_password(portal, caller, None, typed, password).await?;
    let entry = Entry::new(Event::Login, Outcome::UnknownUser)
        .typed_username(typed)
        .detail("not a username any account could have");
    audit::record(portal, caller, entry).await;
    Err(Error::unauthorized(WRONG_DETAILS))
}

async fn patient_named(portal: &Portal, key: &str) -> Result<Option<Patient>, Error> {
    Ok(portal
        .store
        .account_by_username(key)
        .await
        .or_internal("looking up an account")?
        .map(Patient::from))
}

async fn pass_the_gate(
    portal: &Portal,
    caller: &Caller,
    key: &str,
    typed: &str,
) -> Result<Counted, Error> {
    let (outcome, refusal) = match gate(portal, caller, key).await? {
        Passage::Through(counted) => return Ok(counted),
        Passage::Refused { outcome, error } => (outcome, error),
    };
    // Looked up only now: the gate must see attempts in the order they came.
    let patient = patient_named(portal, key).await?;
    let entry = about(Entry::new(Event::Login, outcome), patient.as_ref(), typed);
    audit::record(portal, caller, entry).await;
    Err(refusal)
}

/// Checks the password; an unknown username is checked against a dummy hash, so it takes as
/// long as a wrong password. When the hashing queue is full the answer is 503.
async fn check_password(
    portal: &Portal,
    caller: &Caller,
    patient: Option<&Patient>,
    typed: &str,
    password: &str,
) -> Result<bool, Error> {
    let hash = match patient {
        Some(patient) => patient.password_hash().to_string(),
        None => portal
            .passwords
            .dummy_hash()
            .await
            .map_err(|e| e.refusal("preparing the dummy hash"))?,
    };
    match portal.passwords.verify(password, &hash).await {
        Ok(matches) => Ok(matches),
        Err(err) => {
            let entry = about(Entry::new(Event::Login, Outcome::Busy), patient, typed);
            audit::record(portal, caller, entry).await;
            Err(err.refusal("verifying a password"))
        }
    }
}

async fn refused(
    portal: &Portal,
    caller: &Caller,
    patient: Option<&Patient>,
    typed: &str,
    counted: &Counted,
) {
    let outcome = match patient {
        Some(_) => Outcome::WrongPassword,
        None => Outcome::UnknownUser,
    };
    let entry = about(Entry::new(Event::Login, outcome), patient, typed);
    audit::record(portal, caller, entry).await;
    if let Some(patient) = patient {
        delay_started(portal, caller, patient, counted).await;
    }
}

/// A wrong answer that started a delay says so in the audit.
async fn delay_started(portal: &Portal, caller: &Caller, patient: &Patient, counted: &Counted) {
    let detail = if counted.waits_everywhere {
        "wrong passwords from many networks: every attempt must wait"
    } else if counted.delay_starts {
        "repeated wrong passwords: further attempts from this network must wait"
    } else {
        return;
    };
    let entry = Entry::new(Event::LoginDelayStarted, Outcome::Limited)
        .account(patient.id)
        .detail(detail);
    audit::record(portal, caller, entry).await;
}

/// After a right password: its failure count taken back, the limits on sign-ins, a
/// one-time password's date, and an old hash upgraded to today's parameters.
async fn password_accepted(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
    key: &str,
    ip_event: i64,
    password: &str,
) -> Result<(), Error> {
    let now = portal.now();
    let sign_ins = crate::limits::sign_ins::sign_ins(portal, caller, patient.id);
    let network = caller.network(portal.settings.ipv6_prefix);
    let full = portal
        .store
        .accept_login(key, &network, ip_event, &sign_ins, now)
        .await
        .or_internal("counting sign-ins")?;
    if let Some(full) = full {
        let entry = Entry::new(Event::Login, Outcome::Limited).account(patient.id);
        audit::record(portal, caller, entry).await;
        return Err(sign_ins[full.index].refusal(full.oldest, now));
    }
    if patient.password_expired(now) {
        let entry = Entry::new(Event::Login, Outcome::Expired)
            .account(patient.id)
            .detail("one-time password past its date");
        audit::record(portal, caller, entry).await;
        return Err(Error::unauthorized(format!(
            "The password the practice gave you has expired. Please {} for a new one.",
            contact_the_practice(portal)
        )));
    }
    if PasswordHasher::needs_rehash(patient.password_hash()) {
        let rehashed = portal
            .passwords
            .hash_given(password)
            .await
            .map_err(|e| e.refusal("rehashing a password"))?;
        portal
            .store
            .set_password_hash(patient.id, &rehashed, patient.password_expires_at)
            .await
            .or_internal("storing a rehashed password")?;
    }
    Ok(())
}

/// The new session after a right password: signed in with two-factor authentication off,
/// or on a device the patient asked to be remembered; otherwise waiting for its code, which
/// goes at once to a verified number (flow 2.1).
async fn step_in(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
) -> Result<PasswordStep, Error> {
    let signed_in = LoggedIn {
        signed_in: true,
        code_sent: false,
        mobile_ending: None,
    };
    let step = |logged_in, session, device| PasswordStep {
        logged_in,
        session,
        device,
    };
    // While this instance believes it off; the store has the last word, as another
    // instance may have just switched it back on.
    let password_only = match portal.practice().two_factor {
        true => None,
        false => session::begin_without_code(portal, caller.browser(), patient.id)
            .await
            .or_internal("starting a session")?,
    };
    if let Some(new) = password_only {
        let entry = Entry::new(Event::SignedIn, Outcome::Ok)
            .account(patient.id)
            .detail("factor: password only, as two-factor is off");
        audit::record(portal, caller, entry).await;
        return Ok(step(signed_in, new, None));
    }
    if let Some((new, renewed)) = on_a_remembered_device(portal, caller, patient).await? {
        return Ok(step(signed_in, new, Some(renewed)));
    }
    let new = session::begin(
        portal,
        caller.browser(),
        patient.id,
        Stage::PasswordAccepted,
    )
    .await
    .or_internal("starting a session")?;
    let entry = Entry::new(Event::Login, Outcome::PasswordAccepted).account(patient.id);
    audit::record(portal, caller, entry).await;
    let settings = &portal.settings;
    let verified = patient
        .mobile
        .verified()
        .and_then(|m| Mobile::parse(m, settings.default_region, &settings.allowed_regions).ok());
    let Some(mobile) = verified else {
        let logged_in = LoggedIn {
            signed_in: false,
            code_sent: false,
            mobile_ending: patient.mobile.on_file().map(mobile::ending),
        };
        return Ok(step(logged_in, new, None));
    };
    // If the text can't go, the 2FA page offers "Send Code" and says what went wrong.
    let sent = send_code_to(
        portal,
        caller,
        &new.session,
        Purpose::SignIn,
        &mobile,
        Recipient::VerifiedSignIn,
    )
    .await;
    // A text being retried may well arrive.
    let code_sent = match sent {
        Ok(_) => true,
        Err(err) => {
            err.retry_after_seconds.is_some() && err.kind == crate::error::ErrorKind::Unavailable
        }
    };
    let logged_in = LoggedIn {
        signed_in: false,
        code_sent,
        mobile_ending: Some(mobile.ending()),
    };
    Ok(step(logged_in, new, None))
}

/// A signed-in session without a code, when this browser is one the patient asked to be
/// remembered and it still is. Only for a patient with a verified number: the device was
/// remembered after a code to it. Returns the device's new token with the session.
async fn on_a_remembered_device(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
) -> Result<Option<(NewSession, devices::Remembered)>, Error> {
    if patient.mobile.verified().is_none() {
        return Ok(None);
    }
    let Some(devices::Recognised { device, renewed }) =
        devices::recognised(portal, caller, patient.id)
            .await
            .or_internal("checking a remembered device")?
    else {
        return Ok(None);
    };
    let Some(new) =
        session::begin_on_remembered_device(portal, caller.browser(), patient.id, device.id)
            .await
            .or_internal("starting a session")?
    else {
        // Forgotten while this login was on its way: the code is asked for.
        return Ok(None);
    };
    let entry = Entry::new(Event::SignedIn, Outcome::Ok)
        .account(patient.id)
        .by(Factor::RememberedDevice)
        .detail(format!(
            "factor: {} ({})",
            Factor::RememberedDevice.as_str(),
            device.description
        ));
    audit::record(portal, caller, entry).await;
    Ok(Some((new, renewed)))
}
