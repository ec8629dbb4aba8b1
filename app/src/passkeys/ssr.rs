//! The server's half of passkeys: the relying party, adding, signing in, renaming, removing.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::{
    AuthenticatorSelectionCriteria, ResidentKeyRequirement, UserVerificationPolicy,
};

use super::{
    ceremony::{self, Purpose},
    PasskeyAdded,
};
use crate::{
    account::Patient,
    audit::{self, Entry, Event, Factor, Outcome},
    caller::Caller,
    clock::{Millis, MINUTE},
    error::{ErrorKind, OrFault, OrInternal, PortalError},
    mobile,
    one_time_code::sending::{contact_the_practice, email_notice, text_notice},
    portal::Portal,
    request::Visit,
    session::{self, NewSession, Stage},
    store::{Holder, PasskeyRow},
};

/// How recently a patient must have proved who they are (a code or a passkey) to add or remove
/// a passkey.
pub const PROOF_LASTS: Millis = 10 * MINUTE;

/// The longest name a passkey may have.
const NAME_MOST: usize = 60;

pub const PASSKEYS_OFF: &str =
    "The practice doesn't use passkeys. Please sign in with your password and a code.";

/// Why passkeys can't work here, if they can't: the practice switched them off, or the portal's
/// address is an IP address, which browsers refuse as a passkey's site.
pub fn unavailable(portal: &Portal) -> Option<&'static str> {
    if !portal.practice().passkeys {
        return Some(PASSKEYS_OFF);
    }
    if relying_party(portal).is_none() {
        return Some("Passkeys need the portal to be reached by its name (like localhost), not by an IP address.");
    }
    None
}

fn refused_while_unavailable(portal: &Portal) -> Result<(), PortalError> {
    match unavailable(portal) {
        Some(why) => Err(PortalError::new(ErrorKind::Forbidden, why)),
        None => Ok(()),
    }
}

/// The relying party: the portal's own host (`PORTAL_PUBLIC_URL`) and origin, which every
/// answer's origin and RP ID hash are checked against. `None` for an IP address.
pub fn relying_party(portal: &Portal) -> Option<Webauthn> {
    let url = &portal.settings.public_url;
    let host = portal.settings.passkey_site()?;
    WebauthnBuilder::new(&host, url)
        .ok()?
        .rp_name(&portal.practice().practice_name)
        .build()
        .ok()
}

pub fn rp(portal: &Portal) -> Result<Webauthn, PortalError> {
    refused_while_unavailable(portal)?;
    relying_party(portal).ok_or_else(PortalError::internal)
}

/// Whether the session's patient proved who they are recently enough to add or remove one.
pub fn recently_proved(portal: &Portal, visit: &Visit) -> bool {
    visit
        .session
        .proved_at
        .is_some_and(|at| portal.now() - at <= PROOF_LASTS)
}

pub const CONFIRM_FIRST: &str =
    "For your security, please confirm it's you with a code first. It's been more than 10 minutes since you signed in.";

fn confirm_first(portal: &Portal, visit: &Visit) -> Result<(), PortalError> {
    match recently_proved(portal, visit) {
        true => Ok(()),
        false => Err(PortalError::new(ErrorKind::Forbidden, CONFIRM_FIRST)),
    }
}

pub fn credential_key(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn stored(row: &PasskeyRow) -> Result<Passkey, PortalError> {
    serde_json::from_str(&row.passkey).or_fault("reading a stored passkey")
}

/// The name a new passkey gets when the patient gives none: the browser and platform it was
/// added on.
pub fn default_name(caller: &Caller) -> String {
    session::describe(caller.user_agent.as_deref())
}

/// Registration options for a new passkey of `holder`'s, excluding the ones they have: the
/// options as JSON for the browser, and the state the ceremony keeps.
pub async fn registration_options(
    portal: &Portal,
    webauthn: &Webauthn,
    holder: Holder,
    user_name: &str,
    display_name: &str,
) -> Result<(String, PasskeyRegistration), PortalError> {
    let user_id = portal
        .store
        .passkey_user_id(holder, &Uuid::new_v4().to_string())
        .await
        .or_internal("giving a passkey user ID")?;
    let user_id = Uuid::parse_str(&user_id).or_fault("reading a passkey user ID")?;
    let existing = portal
        .store
        .passkeys(holder)
        .await
        .or_internal("listing passkeys")?
        .iter()
        .map(|row| stored(row).map(|p| p.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut options, state) = webauthn
        .start_passkey_registration(user_id, user_name, display_name, Some(existing))
        .or_fault("starting a passkey")?;
    // Discoverable, so that "Sign in with a passkey" finds it without a username; and always
    // verifying its user, as webauthn-rs checks.
    options.public_key.authenticator_selection = Some(AuthenticatorSelectionCriteria {
        authenticator_attachment: None,
        resident_key: Some(ResidentKeyRequirement::Required),
        require_resident_key: true,
        user_verification: UserVerificationPolicy::Required,
    });
    let options = serde_json::to_string(&options).or_fault("sending passkey options")?;
    Ok((options, state))
}

pub async fn start_registration(
    portal: &Portal,
    visit: &Visit,
) -> Result<(String, String), PortalError> {
    let webauthn = rp(portal)?;
    confirm_first(portal, visit)?;
    let patient = &visit.patient;
    let display = format!("{} {}", patient.given_name, patient.family_name);
    let holder = Holder::Patient(patient.id);
    let (options, state) =
        registration_options(portal, &webauthn, holder, &patient.username, &display).await?;
    let token = ceremony::begin(
        portal,
        &visit.caller,
        Some(&visit.session.id_hash),
        Purpose::Register,
        Some(patient.id),
        &state,
    )
    .await?;
    Ok((options, token))
}

pub fn name_of(typed: &str, caller: &Caller) -> Result<String, PortalError> {
    let name = typed.trim();
    if name.is_empty() {
        return Ok(default_name(caller));
    }
    if name.chars().count() > NAME_MOST || name.chars().any(char::is_control) {
        return Err(PortalError::field(
            "name",
            format!("Please give the passkey a name of up to {NAME_MOST} characters."),
        ));
    }
    Ok(name.to_string())
}

pub fn unreadable_answer() -> PortalError {
    PortalError::new(
        ErrorKind::BadRequest,
        "The browser's answer could not be read. Please try again.",
    )
}

/// Checks a registration's answer against the ceremony's state and stores the passkey for
/// `holder`. `Err(Ok(why))` when the answer doesn't check out (for the audit), `Err(Err(_))`
/// for any other refusal.
pub async fn store_new_passkey(
    portal: &Portal,
    webauthn: &Webauthn,
    holder: Holder,
    state: &PasskeyRegistration,
    credential: &str,
    name: &str,
) -> Result<(), Result<String, PortalError>> {
    let answer: RegisterPublicKeyCredential =
        serde_json::from_str(credential).map_err(|_| Err(unreadable_answer()))?;
    let passkey = webauthn
        .finish_passkey_registration(&answer, state)
        .map_err(|err| Ok(err.to_string()))?;
    let json = serde_json::to_string(&passkey)
        .or_fault("storing a passkey")
        .map_err(Err)?;
    let added = portal
        .store
        .add_passkey(
            holder,
            &credential_key(passkey.cred_id()),
            name,
            &json,
            portal.now(),
        )
        .await
        .or_internal("storing a passkey")
        .map_err(Err)?;
    if !added {
        return Err(Err(PortalError::new(
            ErrorKind::Conflict,
            "That passkey is added already.",
        )));
    }
    Ok(())
}

pub const NOT_ADDED: &str =
    "The passkey could not be checked, so it wasn't added. Please try again.";

pub async fn finish_registration(
    portal: &Portal,
    visit: &Visit,
    typed_name: &str,
    credential: &str,
) -> Result<PasskeyAdded, PortalError> {
    let webauthn = rp(portal)?;
    let name = name_of(typed_name, &visit.caller)?;
    let taken =
        ceremony::take::<PasskeyRegistration>(portal, &visit.caller, Some(&visit.session.id_hash))
            .await?;
    if taken.purpose != Purpose::Register || taken.account_id != Some(visit.patient.id) {
        return Err(PortalError::new(
            ErrorKind::BadRequest,
            ceremony::START_AGAIN,
        ));
    }
    // Checked again: the ceremony may have begun just before the 10 minutes ran out.
    confirm_first(portal, visit)?;
    let holder = Holder::Patient(visit.patient.id);
    match store_new_passkey(portal, &webauthn, holder, &taken.state, credential, &name).await {
        Ok(()) => {}
        Err(Ok(why)) => {
            let entry = Entry::new(Event::PasskeyAdded, Outcome::Refused)
                .account(visit.patient.id)
                .detail(why);
            audit::record(portal, &visit.caller, entry).await;
            return Err(PortalError::new(ErrorKind::BadRequest, NOT_ADDED));
        }
        Err(Err(refusal)) => return Err(refusal),
    }
    let entry = Entry::new(Event::PasskeyAdded, Outcome::Ok)
        .account(visit.patient.id)
        .detail(name.clone());
    audit::record(portal, &visit.caller, entry).await;
    tell(
        portal,
        &visit.caller,
        &visit.patient,
        "A passkey was added",
        &format!("a passkey (\"{name}\") was added to your account"),
    )
    .await;
    Ok(PasskeyAdded { name })
}

/// Tells the patient of a change to their passkeys, by text to the verified number and by
/// email: someone who got in by other means can't add or remove one unnoticed.
async fn tell(portal: &Portal, caller: &Caller, patient: &Patient, subject: &str, what: &str) {
    let practice = portal.practice();
    if let Some(number) = patient.mobile.verified() {
        let body = format!(
            "{}: {what}. If this wasn't you, please {}.",
            practice.practice_name,
            contact_the_practice(portal)
        );
        text_notice(portal, caller, patient.id, number, &body).await;
    }
    let body = format!(
        "Hello {},\n\nOn your {} patient portal, {what}.\n\nIf this wasn't you, please {} now.\n",
        patient.given_name,
        practice.practice_name,
        contact_the_practice(portal),
    );
    email_notice(portal, caller, patient, subject, body).await;
}

/// What a sign-in ceremony keeps.
#[derive(Serialize, Deserialize)]
enum SignInState {
    Discoverable(DiscoverableAuthentication),
    ForAccount(PasskeyAuthentication),
}

pub async fn start_sign_in(
    portal: &Portal,
    caller: &Caller,
) -> Result<(String, String), PortalError> {
    let webauthn = rp(portal)?;
    let after_password = caller
        .session
        .as_ref()
        .filter(|s| s.stage == Stage::PasswordAccepted);
    let (options, state, purpose, account) = match after_password {
        Some(session) => {
            let passkeys = portal
                .store
                .passkeys(Holder::Patient(session.account_id))
                .await
                .or_internal("listing passkeys")?
                .iter()
                .map(stored)
                .collect::<Result<Vec<_>, _>>()?;
            if passkeys.is_empty() {
                return Err(PortalError::new(
                    ErrorKind::BadRequest,
                    "You haven't added a passkey yet. Please use the code we texted you.",
                ));
            }
            let (options, state) = webauthn
                .start_passkey_authentication(&passkeys)
                .or_fault("starting a passkey sign-in")?;
            let state = SignInState::ForAccount(state);
            (options, state, Purpose::Instead, Some(session.account_id))
        }
        None => {
            let (mut options, state) = webauthn
                .start_discoverable_authentication()
                .or_fault("starting a passkey sign-in")?;
            // A button press, not the username field's autofill: the browser asks at once.
            options.mediation = None;
            let state = SignInState::Discoverable(state);
            (options, state, Purpose::SignIn, None)
        }
    };
    let bound_to = caller.session.as_ref().map(|s| s.id_hash.as_str());
    let token = ceremony::begin(portal, caller, bound_to, purpose, account, &state).await?;
    let options = serde_json::to_string(&options).or_fault("sending passkey options")?;
    Ok((options, token))
}

pub const NOT_SIGNED_IN: &str =
    "That passkey didn't sign you in. Please try again, or use your password and a code.";

fn not_signed_in() -> PortalError {
    PortalError::unauthorized(NOT_SIGNED_IN)
}

pub async fn finish_sign_in(
    portal: &Portal,
    caller: &Caller,
    credential: &str,
) -> Result<NewSession, PortalError> {
    let webauthn = rp(portal)?;
    let bound_to = caller.session.as_ref().map(|s| s.id_hash.as_str());
    let taken = ceremony::take::<SignInState>(portal, caller, bound_to).await?;
    let answer: PublicKeyCredential =
        serde_json::from_str(credential).map_err(|_| unreadable_answer())?;
    // Whose sign-in: the account the ceremony was for (after a password), or the one the
    // answer's user handle names. The passkey answering must be that account's.
    let account = match (&taken.state, taken.purpose, taken.account_id) {
        (SignInState::ForAccount(_), Purpose::Instead, Some(account)) => Some(account),
        (SignInState::Discoverable(_), Purpose::SignIn, _) => {
            let named = webauthn
                .identify_discoverable_authentication(&answer)
                .ok()
                .map(|(user, _)| user.to_string());
            match named {
                Some(user) => portal
                    .store
                    .account_of_passkey_user(&user)
                    .await
                    .or_internal("finding a passkey's account")?,
                None => None,
            }
        }
        _ => None,
    };
    let Some(account) = account else {
        refused(portal, caller, None, "a passkey no account has").await;
        return Err(not_signed_in());
    };
    let holder = Holder::Patient(account);
    let checked = match &taken.state {
        SignInState::ForAccount(state) => {
            check_assertion(portal, &webauthn, holder, &answer, |passkey| {
                let _ = passkey;
                webauthn.finish_passkey_authentication(&answer, state)
            })
            .await?
        }
        SignInState::Discoverable(state) => {
            check_assertion(portal, &webauthn, holder, &answer, |passkey| {
                webauthn.finish_discoverable_authentication_v2(&answer, state.clone(), passkey)
            })
            .await?
        }
    };
    let name = match checked {
        Ok(name) => name,
        Err(why) => {
            refused(portal, caller, Some(account), &why).await;
            return Err(not_signed_in());
        }
    };
    let new = session::begin(portal, caller.browser(), account, Stage::SignedIn)
        .await
        .or_internal("starting a session")?;
    let entry = Entry::new(Event::SignedIn, Outcome::Ok)
        .account(account)
        .by(Factor::Passkey)
        .detail(format!("factor: {} ({name})", Factor::Passkey.as_str()));
    audit::record(portal, caller, entry).await;
    Ok(new)
}

/// Checks an assertion with `finish` against `holder`'s passkey that made it, and keeps what
/// webauthn-rs updates (counter, backup state) and when it was used. `Ok(Ok(name))` for the
/// passkey's name; `Ok(Err(why))` when it doesn't check out: not the holder's, or refused.
pub async fn check_assertion(
    portal: &Portal,
    webauthn: &Webauthn,
    holder: Holder,
    answer: &PublicKeyCredential,
    finish: impl FnOnce(
        &Passkey,
    ) -> Result<
        webauthn_rs::prelude::AuthenticationResult,
        webauthn_rs::prelude::WebauthnError,
    >,
) -> Result<Result<String, String>, PortalError> {
    let _ = webauthn;
    let row = portal
        .store
        .passkey_by_credential(holder, &credential_key(answer.get_credential_id()))
        .await
        .or_internal("finding a passkey")?;
    let Some(row) = row else {
        return Ok(Err("a passkey this account doesn't have".to_string()));
    };
    let mut passkey = stored(&row)?;
    let result = match finish(&passkey) {
        Ok(result) => result,
        Err(err) => return Ok(Err(err.to_string())),
    };
    passkey.update_credential(&result);
    let json = serde_json::to_string(&passkey).or_fault("storing a passkey")?;
    portal
        .store
        .passkey_used(holder, row.id, &json, portal.now())
        .await
        .or_internal("storing a passkey")?;
    Ok(Ok(row.name))
}

async fn refused(portal: &Portal, caller: &Caller, account: Option<i64>, why: &str) {
    let mut entry = Entry::new(Event::SignedIn, Outcome::Refused)
        .by(Factor::Passkey)
        .detail(format!("factor: {}; {why}", Factor::Passkey.as_str()));
    if let Some(account) = account {
        entry = entry.account(account);
    }
    audit::record(portal, caller, entry).await;
}

fn passkey_id(typed: &str) -> Result<i64, PortalError> {
    typed.trim().parse().map_err(|_| no_such_passkey())
}

fn no_such_passkey() -> PortalError {
    PortalError::new(
        ErrorKind::NotFound,
        "That passkey isn't on your account any more. Please reload the page.",
    )
}

pub async fn rename(
    portal: &Portal,
    visit: &Visit,
    passkey: &str,
    typed_name: &str,
) -> Result<(), PortalError> {
    let id = passkey_id(passkey)?;
    if typed_name.trim().is_empty() {
        return Err(PortalError::field(
            "name",
            "Please give the passkey a name.",
        ));
    }
    let name = name_of(typed_name, &visit.caller)?;
    let renamed = portal
        .store
        .rename_passkey(Holder::Patient(visit.patient.id), id, &name)
        .await
        .or_internal("renaming a passkey")?;
    if !renamed {
        return Err(no_such_passkey());
    }
    Ok(())
}

pub async fn remove(portal: &Portal, visit: &Visit, passkey: &str) -> Result<(), PortalError> {
    let id = passkey_id(passkey)?;
    confirm_first(portal, visit)?;
    let holder = Holder::Patient(visit.patient.id);
    let rows = portal
        .store
        .passkeys(holder)
        .await
        .or_internal("listing passkeys")?;
    let Some(row) = rows.into_iter().find(|row| row.id == id) else {
        return Err(no_such_passkey());
    };
    portal
        .store
        .remove_passkeys(holder, Some(id))
        .await
        .or_internal("removing a passkey")?;
    let entry = Entry::new(Event::PasskeyRemoved, Outcome::Ok)
        .account(visit.patient.id)
        .detail(row.name.clone());
    audit::record(portal, &visit.caller, entry).await;
    tell(
        portal,
        &visit.caller,
        &visit.patient,
        "A passkey was removed",
        &format!("a passkey (\"{}\") was removed from your account", row.name),
    )
    .await;
    Ok(())
}

/// Support's "Remove passkeys": every passkey of the account goes. Returns how many.
pub async fn remove_all_by_the_practice(
    portal: &Portal,
    patient: &Patient,
) -> Result<u64, PortalError> {
    portal
        .store
        .remove_passkeys(Holder::Patient(patient.id), None)
        .await
        .or_internal("removing passkeys")
}

/// A passkey as the patient's page lists it.
pub struct Listed {
    pub id: i64,
    pub name: String,
    pub added: Millis,
    pub last_used: Option<Millis>,
}

pub async fn list(portal: &Portal, holder: Holder) -> Result<Vec<Listed>, PortalError> {
    Ok(portal
        .store
        .passkeys(holder)
        .await
        .or_internal("listing passkeys")?
        .into_iter()
        .map(|row| Listed {
            id: row.id,
            name: row.name,
            added: row.created_at,
            last_used: row.last_used_at,
        })
        .collect())
}

/// The verified number's last digits, for "we'll text a code to your mobile ending 23".
pub fn mobile_ending(patient: &Patient) -> Option<String> {
    patient.mobile.verified().map(mobile::ending)
}
