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

pub mod ceremony;

use crate::{
    audit::{self, Entry, Event, Factor, Outcome},
    caller::{Caller, Visit},
    clock::{Millis, MINUTE},
    error::{Error, ErrorKind, OrFault, OrInternal},
    notify::{self, Change},
    portal::Portal,
    session::{self, NewSession, Stage},
    store::{AccountId, Holder, PasskeyRow, PasskeyStored},
};
use ceremony::Purpose;

/// How recently a staff member must have signed in to add or remove a passkey of their own.
pub const PROOF_LASTS: Millis = 10 * MINUTE;

/// The longest name a passkey may have.
const NAME_MOST: usize = 60;

/// The most passkeys a patient may have: each one added is texted to them, and each is one
/// more way in to look after.
pub const MOST_PASSKEYS: usize = 10;

/// Whether a name may hold this character: no control, format (bidi overrides, zero-width
/// joiners) or line and paragraph separators, which could make a name read other than it is.
fn fit_for_a_name(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    !matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

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

fn refused_while_unavailable(portal: &Portal) -> Result<(), Error> {
    match unavailable(portal) {
        Some(why) => Err(Error::new(ErrorKind::Forbidden, why)),
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

pub fn rp(portal: &Portal) -> Result<Webauthn, Error> {
    refused_while_unavailable(portal)?;
    relying_party(portal).ok_or_else(Error::internal)
}

fn confirm_first(portal: &Portal, visit: &Visit) -> Result<(), Error> {
    crate::proof::required(portal, visit)
}

pub fn credential_key(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn stored(row: &PasskeyRow) -> Result<Passkey, Error> {
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
) -> Result<(String, PasskeyRegistration), Error> {
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

/// A recovery session's password and recovery code are its proof, for its 30 minutes; any
/// other session needs a recent one.
fn proved_for_a_passkey(portal: &Portal, visit: &Visit) -> Result<(), Error> {
    match visit.session.stage {
        Stage::Recovery => Ok(()),
        _ => confirm_first(portal, visit),
    }
}

pub async fn start_registration(portal: &Portal, visit: &Visit) -> Result<(String, String), Error> {
    let webauthn = rp(portal)?;
    proved_for_a_passkey(portal, visit)?;
    let patient = &visit.patient;
    let display = format!("{} {}", patient.given_name, patient.family_name);
    let holder = Holder::Patient(patient.id);
    let held = portal
        .store
        .passkeys(holder)
        .await
        .or_internal("listing passkeys")?;
    if held.len() >= MOST_PASSKEYS {
        return Err(too_many_passkeys());
    }
    let (options, state) =
        registration_options(portal, &webauthn, holder, &patient.username, &display).await?;
    let token = ceremony::begin(
        portal,
        &visit.caller,
        Some(&visit.session.id_hash),
        Purpose::Register,
        Some(Holder::Patient(patient.id)),
        &state,
    )
    .await?;
    Ok((options, token))
}

pub fn name_of(typed: &str, caller: &Caller) -> Result<String, Error> {
    let name = typed.trim();
    if name.is_empty() {
        return Ok(default_name(caller));
    }
    if name.chars().count() > NAME_MOST {
        return Err(Error::field(
            "name",
            format!("Please give the passkey a name of up to {NAME_MOST} characters."),
        ));
    }
    if !name.chars().all(fit_for_a_name) {
        return Err(Error::field(
            "name",
            "Please use letters, numbers, spaces and punctuation only in the passkey's name.",
        ));
    }
    Ok(name.to_string())
}

pub fn unreadable_answer() -> Error {
    Error::new(
        ErrorKind::BadRequest,
        "The browser's answer could not be read. Please try again.",
    )
}

/// What became of a new passkey's answer.
pub enum NewPasskey {
    Stored,
    /// The answer doesn't check out: why, for the audit.
    Refused(String),
}

pub fn too_many_passkeys() -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!("You have {MOST_PASSKEYS} passkeys, as many as an account may have. Please remove one you no longer use first."),
    )
}

/// Checks a registration's answer against the ceremony's state and stores the passkey for
/// `holder`, who may have at most `MOST_PASSKEYS`.
pub async fn store_new_passkey(
    portal: &Portal,
    webauthn: &Webauthn,
    holder: Holder,
    state: &PasskeyRegistration,
    credential: &str,
    name: &str,
) -> Result<NewPasskey, Error> {
    let answer: RegisterPublicKeyCredential =
        serde_json::from_str(credential).map_err(|_| unreadable_answer())?;
    let passkey = match webauthn.finish_passkey_registration(&answer, state) {
        Ok(passkey) => passkey,
        Err(err) => return Ok(NewPasskey::Refused(err.to_string())),
    };
    let json = serde_json::to_string(&passkey).or_fault("storing a passkey")?;
    let stored = portal
        .store
        .add_passkey(
            holder,
            &credential_key(passkey.cred_id()),
            name,
            &json,
            MOST_PASSKEYS as i64,
            portal.now(),
        )
        .await
        .or_internal("storing a passkey")?;
    match stored {
        PasskeyStored::Added => Ok(NewPasskey::Stored),
        PasskeyStored::AddedAlready => Err(Error::new(
            ErrorKind::Conflict,
            "That passkey is added already.",
        )),
        PasskeyStored::TooMany => Err(too_many_passkeys()),
    }
}

pub const NOT_ADDED: &str =
    "The passkey could not be checked, so it wasn't added. Please try again.";

/// A passkey added: its name, and the signed-in session a recovery session became.
pub struct Added {
    pub name: String,
    pub signed_in: Option<NewSession>,
}

pub async fn finish_registration(
    portal: &Portal,
    visit: &Visit,
    typed_name: &str,
    credential: &str,
) -> Result<Added, Error> {
    let webauthn = rp(portal)?;
    let name = name_of(typed_name, &visit.caller)?;
    let taken =
        ceremony::take::<PasskeyRegistration>(portal, &visit.caller, Some(&visit.session.id_hash))
            .await?;
    if taken.purpose != Purpose::Register || taken.holder != Some(Holder::Patient(visit.patient.id))
    {
        return Err(Error::new(ErrorKind::BadRequest, ceremony::START_AGAIN));
    }
    // Checked again: the ceremony may have begun just before the 10 minutes ran out.
    proved_for_a_passkey(portal, visit)?;
    let holder = Holder::Patient(visit.patient.id);
    let stored =
        store_new_passkey(portal, &webauthn, holder, &taken.state, credential, &name).await?;
    if let NewPasskey::Refused(why) = stored {
        let entry = Entry::new(Event::PasskeyAdded, Outcome::Refused)
            .account(visit.patient.id)
            .detail(why);
        audit::record(portal, &visit.caller, entry).await;
        return Err(Error::new(ErrorKind::BadRequest, NOT_ADDED));
    }
    let recovering = visit.session.stage == Stage::Recovery;
    let mut lines = vec![Entry::new(Event::PasskeyAdded, Outcome::Ok)
        .account(visit.patient.id)
        .detail(match recovering {
            true => format!("{name}, in place of a new phone after a recovery code"),
            false => name.clone(),
        })];
    // A recovery's passkey stands in for its new phone: the session becomes an ordinary
    // signed-in one, as "Verify" would make it, proved by the passkey just made.
    let begun = match recovering {
        true => Some(
            session::begin_with_new_passkey(portal, visit.caller.browser(), visit.patient.id).await,
        ),
        false => None,
    };
    if let Some(Ok(Some(_))) = begun {
        lines.push(
            Entry::new(Event::SignedIn, Outcome::Ok)
                .account(visit.patient.id)
                .by(Factor::Passkey)
                .detail(format!(
                    "factor: {} ({name}), after a recovery code",
                    Factor::Passkey.as_str()
                )),
        );
    }
    // The passkey's line and the sign-in's go in together: one turn at the audit chain.
    audit::record_all(portal, &visit.caller, lines).await;
    let signed_in = match begun
        .transpose()
        .or_internal("starting a signed-in session")?
    {
        Some(None) => {
            return Err(Error::unauthorized(session::SESSION_ENDED));
        }
        begun => begun.flatten(),
    };
    notify::security_notice(portal, &visit.caller, &visit.patient, Change::PasskeyAdded).await;
    Ok(Added { name, signed_in })
}

/// What a sign-in ceremony keeps.
#[derive(Serialize, Deserialize)]
enum SignInState {
    Discoverable(DiscoverableAuthentication),
    ForAccount(PasskeyAuthentication),
}

pub async fn start_sign_in(portal: &Portal, caller: &Caller) -> Result<(String, String), Error> {
    let webauthn = rp(portal)?;
    // After a password, in place of the code; signed in, to confirm it's them.
    let for_account = caller.session.as_ref().and_then(|s| match s.stage {
        Stage::PasswordAccepted => Some((s, Purpose::Instead)),
        Stage::SignedIn => Some((s, Purpose::Confirm)),
        Stage::Registered | Stage::Recovery => None,
    });
    let (options, state, purpose, account) = match for_account {
        Some((session, purpose)) => {
            let passkeys = portal
                .store
                .passkeys(Holder::Patient(session.account_id))
                .await
                .or_internal("listing passkeys")?
                .iter()
                .map(stored)
                .collect::<Result<Vec<_>, _>>()?;
            if passkeys.is_empty() {
                return Err(Error::new(
                    ErrorKind::BadRequest,
                    "You haven't added a passkey yet. Please use the code we texted you.",
                ));
            }
            let (options, state) = webauthn
                .start_passkey_authentication(&passkeys)
                .or_fault("starting a passkey sign-in")?;
            let state = SignInState::ForAccount(state);
            (
                options,
                state,
                purpose,
                Some(Holder::Patient(session.account_id)),
            )
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
    // A sign-in from `/login` keeps nothing: every view of the page asks for one.
    let token = match purpose {
        Purpose::SignIn => ceremony::begin_carried(portal, bound_to, &state)?,
        _ => ceremony::begin(portal, caller, bound_to, purpose, account, &state).await?,
    };
    let options = serde_json::to_string(&options).or_fault("sending passkey options")?;
    Ok((options, token))
}

pub const NOT_SIGNED_IN: &str =
    "That passkey didn't sign you in. Please try again, or use your password and a code.";

fn not_signed_in() -> Error {
    Error::unauthorized(NOT_SIGNED_IN)
}

/// What a finished ceremony came to.
pub enum Finished {
    /// A new signed-in session.
    SignedIn(NewSession),
    /// The signed-in session confirmed it's them.
    Confirmed,
}

pub async fn finish_sign_in(
    portal: &Portal,
    caller: &Caller,
    credential: &str,
) -> Result<Finished, Error> {
    let webauthn = rp(portal)?;
    let bound_to = caller.session.as_ref().map(|s| s.id_hash.as_str());
    let taken = ceremony::take::<SignInState>(portal, caller, bound_to).await?;
    let answer: PublicKeyCredential =
        serde_json::from_str(credential).map_err(|_| unreadable_answer())?;
    // Whose sign-in: the account the ceremony was for (after a password), or the one the
    // answer's user handle names. The passkey answering must be that account's.
    let account = match (&taken.state, taken.purpose, taken.holder) {
        (
            SignInState::ForAccount(_),
            Purpose::Instead | Purpose::Confirm,
            Some(Holder::Patient(account)),
        ) => Some(account),
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
            check_assertion(portal, holder, &answer, |_| {
                webauthn.finish_passkey_authentication(&answer, state)
            })
            .await?
        }
        SignInState::Discoverable(state) => {
            check_assertion(portal, holder, &answer, |passkey| {
                webauthn.finish_discoverable_authentication_v2(&answer, state.clone(), passkey)
            })
            .await?
        }
    };
    let checked = match checked {
        Assertion::Checked(checked) => checked,
        Assertion::Refused(why) => {
            refused(portal, caller, Some(account), &why).await;
            return Err(not_signed_in());
        }
    };
    if taken.purpose == Purpose::Confirm {
        return confirmed(portal, caller, account, &checked).await;
    }
    // Right, but held: told so only now, after the passkey proved it's them.
    if let Some(patient) = crate::account::Patient::load(portal, account)
        .await
        .or_internal("loading the account")?
    {
        crate::hold::refuse_if_held(portal, caller, &patient).await?;
    }
    let new = session::begin_with_passkey(
        portal,
        caller.browser(),
        account,
        checked.id,
        &checked.passkey,
    )
    .await
    .or_internal("starting a session")?;
    let Some(new) = new else {
        refused(
            portal,
            caller,
            Some(account),
            "a passkey removed as it signed in",
        )
        .await;
        return Err(not_signed_in());
    };
    let entry = Entry::new(Event::SignedIn, Outcome::Ok)
        .account(account)
        .by(Factor::Passkey)
        .detail(format!(
            "factor: {} ({})",
            Factor::Passkey.as_str(),
            checked.name
        ));
    audit::record(portal, caller, entry).await;
    Ok(Finished::SignedIn(new))
}

/// A signed-in session's passkey confirmed it's them: the session is proved as of now, if the
/// passkey is still theirs.
async fn confirmed(
    portal: &Portal,
    caller: &Caller,
    account: AccountId,
    checked: &Checked,
) -> Result<Finished, Error> {
    let Some(session) = caller.session.as_ref().filter(|s| s.account_id == account) else {
        return Err(not_signed_in());
    };
    let holder = Holder::Patient(account);
    let now = portal.now();
    let still_theirs = portal
        .store
        .passkey_used(holder, checked.id, &checked.passkey, now)
        .await
        .or_internal("storing a passkey")?;
    if !still_theirs {
        refused(
            portal,
            caller,
            Some(account),
            "a passkey removed as it was used",
        )
        .await;
        return Err(not_signed_in());
    }
    portal
        .store
        .session_proved(&session.id_hash, Some(now))
        .await
        .or_internal("recording a proof")?;
    let entry = Entry::new(Event::SignedIn, Outcome::Ok)
        .account(account)
        .by(Factor::Passkey)
        .detail(format!(
            "confirming it's them; factor: {} ({})",
            Factor::Passkey.as_str(),
            checked.name
        ));
    audit::record(portal, caller, entry).await;
    Ok(Finished::Confirmed)
}

/// An answer that checked out against one of the holder's passkeys.
pub struct Checked {
    pub id: i64,
    pub name: String,
    /// The passkey's record as webauthn-rs updated it (counter, backup state), to store with
    /// its use.
    pub passkey: String,
}

/// What checking an answer found.
pub enum Assertion {
    Checked(Checked),
    /// Not the holder's passkey, or refused by webauthn-rs: why, for the audit.
    Refused(String),
}

/// Checks an assertion with `finish` against `holder`'s passkey that made it. Nothing is stored:
/// the caller keeps the updated record with its use.
pub async fn check_assertion(
    portal: &Portal,
    holder: Holder,
    answer: &PublicKeyCredential,
    finish: impl FnOnce(
        &Passkey,
    ) -> Result<
        webauthn_rs::prelude::AuthenticationResult,
        webauthn_rs::prelude::WebauthnError,
    >,
) -> Result<Assertion, Error> {
    let row = portal
        .store
        .passkey_by_credential(holder, &credential_key(answer.get_credential_id()))
        .await
        .or_internal("finding a passkey")?;
    let Some(row) = row else {
        return Ok(Assertion::Refused(
            "a passkey this account doesn't have".to_string(),
        ));
    };
    let mut passkey = stored(&row)?;
    let result = match finish(&passkey) {
        Ok(result) => result,
        Err(err) => return Ok(Assertion::Refused(err.to_string())),
    };
    passkey.update_credential(&result);
    Ok(Assertion::Checked(Checked {
        id: row.id,
        name: row.name,
        passkey: serde_json::to_string(&passkey).or_fault("storing a passkey")?,
    }))
}

async fn refused(portal: &Portal, caller: &Caller, account: Option<AccountId>, why: &str) {
    let mut entry = Entry::new(Event::SignedIn, Outcome::Refused)
        .by(Factor::Passkey)
        .detail(format!("factor: {}; {why}", Factor::Passkey.as_str()));
    if let Some(account) = account {
        entry = entry.account(account);
    }
    audit::record(portal, caller, entry).await;
}

fn passkey_id(typed: &str) -> Result<i64, Error> {
    typed.trim().parse().map_err(|_| no_such_passkey())
}

fn no_such_passkey() -> Error {
    Error::new(
        ErrorKind::NotFound,
        "That passkey isn't on your account any more. Please reload the page.",
    )
}

pub async fn rename(
    portal: &Portal,
    visit: &Visit,
    passkey: &str,
    typed_name: &str,
) -> Result<(), Error> {
    let id = passkey_id(passkey)?;
    if typed_name.trim().is_empty() {
        return Err(Error::field("name", "Please give the passkey a name."));
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

pub async fn remove(portal: &Portal, visit: &Visit, passkey: &str) -> Result<(), Error> {
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
    notify::security_notice(
        portal,
        &visit.caller,
        &visit.patient,
        Change::PasskeyRemoved,
    )
    .await;
    Ok(())
}

/// A passkey as the patient's page lists it.
pub struct Listed {
    pub id: i64,
    pub name: String,
    pub added: Millis,
    pub last_used: Option<Millis>,
}

pub async fn list(portal: &Portal, holder: Holder) -> Result<Vec<Listed>, Error> {
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
