//! The code that finishes signing in (or registering), and the 2FA page's view of it. It goes
//! to the verified number, always; only an account that has never had a verified number may
//! give one after its password (flow 2.2), and the practice may send those patients to support
//! instead.

use crate::one_time_code::{
    challenge::{self, Purpose},
    sending::{contact_the_practice, send_code_to},
    CodeSent, Verified,
};
use crate::{
    account::{FirstNumber, Patient},
    audit::{self, Entry, Event, Factor, Outcome},
    caller::Caller,
    clock::whole_seconds,
    error::{Error, ErrorKind, OrInternal},
    limits::texts::Recipient,
    mobile::{self, Mobile},
    portal::{FirstNumberAtLogin, Portal},
    session::{self, NewSession, Session, Stage},
    sign_in::Step,
};

/// Where a pending session's code goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeGoesTo {
    /// The verified number (flows 1 and 2.1): nothing else, whatever is typed.
    Verified(String),
    /// No verified number yet, and the patient may give one (registration, flow 2.2).
    FirstNumber,
    /// Support reset the number and gave a one-time password: the patient chooses their own
    /// password before giving a new number.
    OwnPasswordFirst,
    /// A recovery session: a new phone in place of a lost one, whatever is on file.
    NewPhone,
    /// No verified number, and only support can set one: the account had a number verified
    /// before, or the practice sends first numbers at login to support.
    Support,
}

pub fn code_goes_to(portal: &Portal, session: &Session, patient: &Patient) -> CodeGoesTo {
    if session.stage == Stage::Recovery {
        return CodeGoesTo::NewPhone;
    }
    if let Some(number) = patient.mobile.verified() {
        return CodeGoesTo::Verified(number.to_string());
    }
    let practice_allows = session.stage == Stage::Registered
        || portal.practice().first_number_at_login == FirstNumberAtLogin::Allow;
    match patient.first_number {
        FirstNumber::ResetBySupport if patient.must_change_password => CodeGoesTo::OwnPasswordFirst,
        FirstNumber::ResetBySupport => CodeGoesTo::FirstNumber,
        FirstNumber::NeverVerified if practice_allows => CodeGoesTo::FirstNumber,
        _ => CodeGoesTo::Support,
    }
}

/// What a patient who can't go on is told.
pub fn support_needed(portal: &Portal) -> Error {
    Error::new(
        ErrorKind::Forbidden,
        format!(
            "For your security, the practice needs to set up your mobile number with you. Please {}.",
            contact_the_practice(portal)
        ),
    )
}

/// "Send Code" (or "Get Code") while signing in. `typed` is the number a patient without a
/// verified one gives; without it the code goes to the number on file.
pub async fn send(
    portal: &Portal,
    caller: &Caller,
    session: &Session,
    patient: &Patient,
    typed: Option<String>,
) -> Result<CodeSent, Error> {
    let settings = &portal.settings;
    let typed = typed.filter(|t| !t.trim().is_empty());
    let read = |number: &str| {
        Mobile::parse(number, settings.default_region, &settings.allowed_regions)
            .map_err(|problem| Error::field("mobile", problem.to_string()))
    };
    match code_goes_to(portal, session, patient) {
        CodeGoesTo::Verified(_) if typed.is_some() => Err(Error::field(
            "mobile",
            "For your security, codes go to the mobile number you verified before.",
        )),
        CodeGoesTo::Verified(number) => {
            let mobile = read(&number)?;
            send_code_to(
                portal,
                caller,
                session,
                Purpose::SignIn,
                &mobile,
                Recipient::VerifiedSignIn,
            )
            .await
        }
        CodeGoesTo::FirstNumber => {
            let on_file = patient.mobile.on_file().unwrap_or_default();
            let mobile = read(typed.as_deref().unwrap_or(on_file))?;
            send_code_to(
                portal,
                caller,
                session,
                Purpose::SignIn,
                &mobile,
                Recipient::Unproven,
            )
            .await
        }
        CodeGoesTo::NewPhone => {
            let typed = typed.ok_or_else(|| {
                Error::field("mobile", "Please type the number of your new mobile phone.")
            })?;
            send_code_to(
                portal,
                caller,
                session,
                Purpose::NewPhone,
                &read(&typed)?,
                Recipient::Unproven,
            )
            .await
        }
        CodeGoesTo::Support => Err(support_needed(portal)),
        CodeGoesTo::OwnPasswordFirst => Err(own_password_first()),
    }
}

/// What a pending session's codes are for: a recovery's new phone, or signing in.
fn purpose(session: &Session) -> Purpose {
    match session.stage {
        Stage::Recovery => Purpose::NewPhone,
        _ => Purpose::SignIn,
    }
}

/// What a patient who must choose a password before a new number is told.
pub fn own_password_first() -> Error {
    Error::new(
        ErrorKind::MustChoosePassword,
        "Please choose your own password first, then give your new mobile number.",
    )
}

/// "Verify" while signing in: a match signs the patient in, in a new session.
pub async fn verify(
    portal: &Portal,
    caller: &Caller,
    session: &Session,
    patient: &Patient,
    code: &str,
) -> Result<(Verified, NewSession), Error> {
    let number = match challenge::verify(portal, session, purpose(session), code).await {
        Ok(number) => number,
        Err(err) => {
            let entry = Entry::new(Event::CodeVerified, Outcome::Refused)
                .account(patient.id)
                .detail(err.to_string());
            audit::record(portal, caller, entry).await;
            return Err(err.into());
        }
    };
    let mut lines = vec![Entry::new(Event::CodeVerified, Outcome::Ok).account(patient.id)];
    if session.stage == Stage::PasswordAccepted && patient.mobile.verified().is_none() {
        audit::record_all(portal, caller, std::mem::take(&mut lines)).await;
        first_number_set_at_login(portal, caller, session, patient, &number).await?;
    }
    if session.stage == Stage::Recovery {
        audit::record_all(portal, caller, std::mem::take(&mut lines)).await;
        new_phone_set(portal, caller, patient, &number).await;
    }
    let begun = session::step_up(portal, caller.browser(), patient.id).await;
    if let Ok(Some(_)) = begun {
        lines.push(
            Entry::new(Event::SignedIn, Outcome::Ok)
                .account(patient.id)
                .by(Factor::Sms)
                .detail(format!("factor: {}", Factor::Sms.as_str())),
        );
    }
    // The code's line and the sign-in's go in together: one turn at the audit chain.
    audit::record_all(portal, caller, lines).await;
    let signed_in = begun
        .or_internal("starting a signed-in session")?
        .ok_or_else(|| Error::unauthorized(session::SESSION_ENDED))?;
    let verified = Verified {
        mobile_ending: mobile::ending(&number),
    };
    Ok((verified, signed_in))
}

/// The session a code or passkey was finishing was ended meanwhile.
pub const SESSION_ENDED: &str = "This sign-in was ended before it finished. Please log in again.";

/// Flow 2.2 chose the second factor with a password alone: it is a number change like any
/// other. It is audited with the masked numbers, the patient is emailed, and any other session
/// of the account ends.
async fn first_number_set_at_login(
    portal: &Portal,
    caller: &Caller,
    session: &Session,
    patient: &Patient,
    number: &str,
) -> Result<(), Error> {
    let from = patient
        .mobile
        .on_file()
        .map_or("none".to_string(), mobile::masked);
    let entry = Entry::new(Event::MobileChanged, Outcome::SetAtLogin)
        .account(patient.id)
        .detail(format!("from {from} to {}", mobile::masked(number)));
    audit::record(portal, caller, entry).await;
    crate::one_time_code::new_number::end_other_sessions(
        portal,
        caller,
        patient.id,
        Some(session),
        crate::devices::Forgotten::NumberChanged,
    )
    .await?;
    crate::notify::number_set_at_login(portal, caller, patient, number).await;
    Ok(())
}

/// A recovery's new phone, verified in place of the lost one: audited with the masked
/// numbers; the old number is texted that codes no longer come to it, and the patient is
/// emailed. Every other session ended when the recovery began.
async fn new_phone_set(portal: &Portal, caller: &Caller, patient: &Patient, number: &str) {
    let old = patient.mobile.verified();
    let entry = Entry::new(Event::MobileChanged, Outcome::Ok)
        .account(patient.id)
        .detail(format!(
            "from {} to {}, after a recovery code",
            old.map_or("none".to_string(), mobile::masked),
            mobile::masked(number)
        ));
    audit::record(portal, caller, entry).await;
    crate::notify::number_changed(portal, caller, patient, old, number).await;
}

/// Where the patient stands in the 2FA step, for the page to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorStep {
    /// The last digits of the number the code goes (or went) to.
    pub mobile_ending: Option<String>,
    /// The patient has no verified mobile yet and must give one (flow 2.2).
    pub needs_number: bool,
    /// The number on file, as the patient would write it, to pre-fill the field in flow 2.2.
    pub number_on_file: String,
    pub code_sent: bool,
    pub resend_in_seconds: u64,
    /// Only the practice can set this patient's number up: the page shows its contact.
    pub support_needed: bool,
    /// After support's reset: the patient chooses their own password before a new number.
    pub choose_password_first: bool,
    /// A recovery session: a new phone to set up ("Save & Get Code").
    pub new_phone: bool,
    /// For how many days a patient may skip the code on this device (0: not offered).
    pub remember_days: i64,
    /// The patient has a passkey, which may take the code's place.
    pub has_passkey: bool,
    /// A recovery session may add a passkey in place of the new phone.
    pub may_add_passkey: bool,
    /// Every text provider is down: a code waits in the outbox until one comes back.
    pub texts_delayed: bool,
    /// After a password, with a verified number: "Can't get a code?" leads to the other ways in.
    pub cant_get_a_code: bool,
}

pub async fn code_step(
    portal: &Portal,
    session: &Session,
    patient: &Patient,
) -> Result<TwoFactorStep, Error> {
    let live = challenge::live(portal, session, purpose(session))
        .await
        .or_internal("reading the code step")?;
    let wait = challenge::cooldown_left(portal, session, purpose(session))
        .await
        .or_internal("reading the cooldown")?;
    let goes_to = code_goes_to(portal, session, patient);
    let on_file = patient.mobile.on_file().unwrap_or_default();
    let ending_of = match (&live, &goes_to) {
        (Some(c), _) => c.mobile.as_str(),
        (None, CodeGoesTo::Verified(number)) => number.as_str(),
        (None, CodeGoesTo::NewPhone) => "",
        (None, _) => on_file,
    };
    // The whole number only where the patient gives one, and only after the password
    // (flow 2.2): a verified number shows only its ending.
    let new_phone = goes_to == CodeGoesTo::NewPhone;
    let needs_number =
        new_phone || goes_to == CodeGoesTo::FirstNumber && session.stage.allows(Step::FirstNumber);
    Ok(TwoFactorStep {
        mobile_ending: (!ending_of.is_empty()).then(|| mobile::ending(ending_of)),
        needs_number,
        number_on_file: if needs_number && !new_phone {
            mobile::for_display(on_file, portal.settings.default_region)
        } else {
            String::new()
        },
        code_sent: live.is_some(),
        resend_in_seconds: whole_seconds(wait),
        support_needed: goes_to == CodeGoesTo::Support,
        choose_password_first: goes_to == CodeGoesTo::OwnPasswordFirst,
        new_phone,
        remember_days: portal
            .practice()
            .remember_device_days
            .clamp(0, crate::devices::MOST_DAYS),
        cant_get_a_code: session.stage.allows(Step::RecoveryCode)
            && matches!(goes_to, CodeGoesTo::Verified(_)),
        texts_delayed: portal.outbox.all_providers_down().await,
        may_add_passkey: new_phone
            && session.stage.allows(Step::AddPasskey)
            && crate::passkeys::unavailable(portal).is_none(),
        has_passkey: session.stage.allows(Step::PasskeyInstead)
            && crate::passkeys::unavailable(portal).is_none()
            && !crate::passkeys::list(portal, crate::store::Holder::Patient(patient.id))
                .await?
                .is_empty(),
    })
}
