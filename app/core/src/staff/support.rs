use crate::{
    account::{username_key, Patient},
    audit::{self, Entry, Event, Outcome},
    clock::DAY,
    devices::{self, Forgotten},
    error::{Error, OrInternal},
    mobile,
    notify::{self, PracticeNotice},
    portal::Portal,
    staff::StaffVisit,
    staff::{reason, when},
    store::kinds::TextStatus,
    store::AccountId,
    store::{AccessToTake, AuditLine, PatientSearch},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientRow {
    /// Names this patient in later requests, for this staff session only.
    pub reference: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub username: String,
    /// Masked to the last three digits.
    pub mobile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResults {
    pub patients: Vec<PatientRow>,
    pub page: u32,
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLine {
    pub at: String,
    pub to: String,
    /// pending, sending, sent or failed.
    pub status: String,
    pub attempts: i64,
    /// What the provider reported later (delivered, undelivered…), if anything.
    pub delivery: Option<String>,
    pub error: Option<String>,
    /// The provider that carried it, once one took it.
    pub provider: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditItem {
    pub at: String,
    pub event: String,
    pub outcome: String,
    pub ip: String,
    pub detail: Option<String>,
    pub patient: Option<String>,
    pub staff: Option<String>,
    /// The request that wrote it, as its log lines carry it.
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientFile {
    pub reference: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub username: String,
    pub mobile: Option<String>,
    pub mobile_verified: bool,
    pub pending_mobile: Option<String>,
    pub has_email: bool,
    /// A login delay running, and until when.
    pub delayed_until: Option<String>,
    pub must_change_password: bool,
    pub sign_ins: Vec<(String, String)>,
    /// Devices that skip the code: browser and platform, and when each was last used.
    pub remembered_devices: Vec<(String, String)>,
    /// Passkeys: name, and when each was added.
    pub passkeys: Vec<(String, String)>,
    /// When the patient's recovery code was made, if they saved one.
    pub recovery_code_made: Option<String>,
    /// When "Secure my account" held the account, if it is held.
    pub held_since: Option<String>,
    pub texts: Vec<TextLine>,
    pub audit: Vec<AuditItem>,
}

/// What support can do for a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportAction {
    /// Clear the login delays.
    Unlock,
    /// A lost phone: no verified number any more, and a one-time password in place of the
    /// old one, so that the next login needs what support read out on a call back; then the
    /// patient chooses a password and gives a new number (flow 2.2).
    ResetMobile,
    EndSessions,
    /// For a forgotten password: read out by phone, replaced at the next sign-in.
    OneTimePassword,
    /// A lost or stolen phone or computer that had a passkey.
    RemovePasskeys,
    /// Opens an account "Secure my account" held: a full recovery, as `ResetMobile`.
    LiftHold,
}

impl SupportAction {
    /// The actions that could hand the account to whoever is on the phone: support must say
    /// how they checked it's the patient.
    pub fn asks_how_identity_was_checked(self) -> bool {
        matches!(
            self,
            SupportAction::ResetMobile | SupportAction::OneTimePassword | SupportAction::LiftHold
        )
    }
}

/// How support checked that the caller is the patient ("How did you check it's the patient?").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityCheck {
    /// Called back a number on the practice's own records, never one given in the call.
    CalledBack,
    InPerson,
    VideoCall,
    /// Said in the reason.
    Other,
}

impl IdentityCheck {
    /// As the audit keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityCheck::CalledBack => "called back a number on the practice's records",
            IdentityCheck::InPerson => "met in person with photo ID",
            IdentityCheck::VideoCall => "video call with photo ID",
            IdentityCheck::Other => "other (said in the reason)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionDone {
    pub message: String,
    /// Shown once to the staff member, to read out to the patient.
    pub one_time_password: Option<String>,
}

const PAGE_SIZE: i64 = 20;
/// Paging stops here: no search walks the whole patient table.
const LAST_PAGE: u32 = 10;

/// A reference to patient `id` for this staff session: the id and its MAC.
pub fn reference(portal: &Portal, visit: &StaffVisit, id: AccountId) -> String {
    let mac = portal.secret.code_mac(
        &format!("patient-ref:{}", visit.session.id_hash),
        &id.to_string(),
    );
    format!("{id}.{}", &mac[..32])
}

/// The patient a reference names, if it was made for this staff session.
pub fn patient_id(portal: &Portal, visit: &StaffVisit, given: &str) -> Option<AccountId> {
    let (id, _) = given.split_once('.')?;
    let id = AccountId(id.parse().ok()?);
    let expected = reference(portal, visit, id);
    // Compared in constant time, like any MAC.
    let same = expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then_some(id)
}

fn unknown_patient() -> Error {
    Error::new(
        crate::error::ErrorKind::Forbidden,
        "That patient link isn't valid any more. Please search for the patient again.",
    )
}

/// Reads what support typed into a search.
pub fn parse_search(query: &str) -> Result<PatientSearch, Error> {
    let query = query.trim();
    let digits = query.chars().all(|c| c.is_ascii_digit());
    if digits && (3..=4).contains(&query.len()) {
        return Ok(PatientSearch::MobileEnding(query.to_string()));
    }
    if time::Date::parse(
        query,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .is_ok()
    {
        return Ok(PatientSearch::DateOfBirth(query.to_string()));
    }
    let words: Vec<String> = query
        .split_whitespace()
        .map(|w| w.chars().take(64).collect())
        .take(3)
        .collect();
    let letters: usize = words.iter().map(|w: &String| w.chars().count()).sum();
    if words.is_empty() || letters < 2 || digits {
        return Err(Error::field(
            "query",
            "Please type at least 2 letters of a name or username, a date of birth (YYYY-MM-DD), or the last 3 or 4 digits of a mobile number.",
        ));
    }
    Ok(PatientSearch::Words(words))
}

pub async fn search(
    portal: &Portal,
    visit: &StaffVisit,
    query: &str,
    page: u32,
) -> Result<SearchResults, Error> {
    let search = parse_search(query)?;
    let page = page.clamp(1, LAST_PAGE);
    let offset = i64::from(page - 1) * PAGE_SIZE;
    let mut found = portal
        .store
        .search_patients(&search, PAGE_SIZE + 1, offset)
        .await
        .or_internal("searching patients")?;
    let more = found.len() as i64 > PAGE_SIZE && page < LAST_PAGE;
    found.truncate(PAGE_SIZE as usize);
    let entry = Entry::new(Event::PatientSearched, Outcome::Ok)
        .staff(visit.member.id)
        .detail(format!("{} result(s)", found.len()));
    audit::record(portal, &visit.caller, entry).await;
    let patients = found
        .into_iter()
        .map(|p| PatientRow {
            reference: reference(portal, visit, p.id),
            given_name: p.given_name,
            family_name: p.family_name,
            date_of_birth: p.date_of_birth,
            username: crate::caregivers::shown_username(&p.username),
            mobile: p.mobile.as_deref().map(mobile::masked),
        })
        .collect();
    Ok(SearchResults {
        patients,
        page,
        more,
    })
}

/// The patient a reference made for this staff session names, or 403.
pub(crate) async fn patient(
    portal: &Portal,
    visit: &StaffVisit,
    reference: &str,
) -> Result<Patient, Error> {
    let id = patient_id(portal, visit, reference).ok_or_else(unknown_patient)?;
    portal
        .store
        .account(id)
        .await
        .or_internal("loading a patient")?
        .map(Patient::from)
        .ok_or_else(unknown_patient)
}

pub fn audit_item(line: AuditLine) -> AuditItem {
    AuditItem {
        at: when(line.at),
        event: line.event,
        outcome: line.outcome,
        ip: line.ip,
        detail: line.detail,
        patient: line.patient,
        staff: line.staff,
        request_id: line.request_id,
    }
}

pub async fn record(
    portal: &Portal,
    visit: &StaffVisit,
    reference: &str,
) -> Result<PatientFile, Error> {
    let patient = patient(portal, visit, reference).await?;
    let store = &portal.store;
    let delay = store
        .login_delay(&username_key(&patient.username))
        .await
        .or_internal("reading a login delay")?
        .filter(|until| *until > portal.now());
    // Recorded first, so the trail shown includes this look at it.
    let entry = Entry::new(Event::PatientViewed, Outcome::Ok)
        .account(patient.id)
        .staff(visit.member.id);
    audit::record(portal, &visit.caller, entry).await;
    let sign_ins = store
        .recent_sign_ins(patient.id, 10)
        .await
        .or_internal("reading sign-ins")?;
    let texts = store
        .recent_texts(patient.id, 10)
        .await
        .or_internal("reading texts")?;
    let remembered_devices = store
        .remembered_devices(patient.id, portal.now())
        .await
        .or_internal("reading remembered devices")?;
    let passkeys = crate::passkeys::list(portal, crate::store::Holder::Patient(patient.id)).await?;
    let audit_trail = store
        .audit_trail(patient.id, 100)
        .await
        .or_internal("reading the audit trail")?;

    let recovery_code_made = crate::recovery::made_at(portal, &patient).await?.map(when);
    let held_since = crate::hold::held_since(portal, &patient).await?.map(when);
    Ok(PatientFile {
        reference: reference.to_string(),
        recovery_code_made,
        held_since,
        mobile: patient.mobile.on_file().map(mobile::masked),
        mobile_verified: patient.mobile.verified().is_some(),
        pending_mobile: patient.pending_mobile.as_deref().map(mobile::masked),
        has_email: patient.email.is_some(),
        delayed_until: delay.map(when),
        must_change_password: patient.must_change_password,
        sign_ins: sign_ins
            .into_iter()
            .map(|(at, ip)| (when(at), ip))
            .collect(),
        remembered_devices: remembered_devices
            .into_iter()
            .map(|d| (d.description, when(d.last_used_at)))
            .collect(),
        passkeys: passkeys
            .into_iter()
            .map(|p| (p.name, when(p.added)))
            .collect(),
        texts: texts
            .into_iter()
            .map(|t| TextLine {
                at: when(t.created_at),
                to: mobile::masked(&t.to_number),
                // Waiting again after a failed attempt: being retried.
                status: match (t.status, t.attempts) {
                    (TextStatus::Pending, n) if n > 0 => "retrying".to_string(),
                    (status, _) => status.as_str().to_string(),
                },
                attempts: t.attempts,
                delivery: t.delivery_status,
                error: t.last_error,
                provider: t.provider,
            })
            .collect(),
        audit: audit_trail.into_iter().map(audit_item).collect(),
        given_name: patient.given_name,
        family_name: patient.family_name,
        date_of_birth: patient.date_of_birth,
        username: crate::caregivers::shown_username(&patient.username),
    })
}

/// A one-time password to read out by phone: three groups of four letters, easy to say.
fn new_one_time_password() -> String {
    use rand::Rng;
    const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyz";
    let mut rng = rand::rngs::OsRng;
    let groups: Vec<String> = (0..3)
        .map(|_| {
            (0..4)
                .map(|_| LETTERS[rng.gen_range(0..LETTERS.len())] as char)
                .collect()
        })
        .collect();
    groups.join("-")
}

/// The reason, and how the patient's identity was checked where the action asks: both
/// problems at once.
fn reason_and_identity(
    action: SupportAction,
    typed_reason: &str,
    identity: Option<IdentityCheck>,
) -> Result<(String, Option<IdentityCheck>), Error> {
    let asked = action.asks_how_identity_was_checked();
    let missing = asked && identity.is_none();
    match reason(typed_reason) {
        Ok(reason) if !missing => Ok((reason, identity.filter(|_| asked))),
        answer => {
            let mut problems = std::collections::BTreeMap::new();
            if let Err(refused) = answer {
                problems.extend(refused.fields);
            }
            if missing {
                problems.insert("identity_check".to_string(), IDENTITY_UNCHECKED.to_string());
            }
            Err(Error::fields(problems))
        }
    }
}

pub const IDENTITY_UNCHECKED: &str = "Please say how you checked it's the patient. If you couldn't, don't go on: call them back on a number on the practice's records.";

/// Replaces the patient's password with a one-time one to read out, and clears the login
/// delays so that it works at once. The old password stops working here.
async fn one_time_password_for(portal: &Portal, patient: &Patient) -> Result<String, Error> {
    let password = new_one_time_password();
    let hash = portal
        .passwords
        .hash_given(&password)
        .await
        .map_err(|e| e.refusal("hashing a one-time password"))?;
    let until = portal.now() + portal.settings.one_time_password_days * DAY;
    portal
        .store
        .set_password_hash(patient.id, &hash, Some(until))
        .await
        .or_internal("setting a one-time password")?;
    portal
        .store
        .unlock(&username_key(&patient.username))
        .await
        .or_internal("unlocking")?;
    Ok(password)
}

pub async fn act(
    portal: &Portal,
    visit: &StaffVisit,
    reference: &str,
    action: SupportAction,
    typed_reason: &str,
    also_remove_passkeys: bool,
    identity: Option<IdentityCheck>,
) -> Result<ActionDone, Error> {
    let patient = patient(portal, visit, reference).await?;
    let (reason, identity) = reason_and_identity(action, typed_reason, identity)?;
    let store = &portal.store;
    // What could still sign the patient in without their password and number goes with
    // each action that gives the account a new start, or the passkey on a stolen phone (or
    // a thief's remembered browser) would outlive it.
    let (event, message, password, take, notice) = match action {
        SupportAction::Unlock => {
            store
                .unlock(&username_key(&patient.username))
                .await
                .or_internal("unlocking")?;
            (
                Event::PatientUnlocked,
                "The login delays are cleared.",
                None,
                None,
                Some(PracticeNotice::LoginWaitsCleared),
            )
        }
        SupportAction::ResetMobile => {
            // Told before the reset, while there is a number to tell.
            notify::support_acted(portal, &visit.caller, &patient, PracticeNotice::NumberReset)
                .await;
            let password = one_time_password_for(portal, &patient).await?;
            store
                .reset_mobile(patient.id)
                .await
                .or_internal("resetting a number")?;
            let take = AccessToTake {
                passkeys: true,
                devices: true,
            };
            (Event::MobileReset, "The mobile number is reset, the passkeys are removed and the patient is signed out everywhere. Call the patient back on a number on the practice's records, never one given in this call, and read them the one-time password below: their old password no longer works. At their next login they choose their own password, then give a new number and verify it.", Some(password), Some((take, Forgotten::ByThePractice)), None)
        }
        SupportAction::EndSessions => {
            let take = AccessToTake {
                passkeys: also_remove_passkeys,
                devices: true,
            };
            let (message, notice) = match also_remove_passkeys {
                true => (
                    "The patient is signed out everywhere, and their passkeys are removed.",
                    PracticeNotice::SignedOutAndPasskeysRemoved,
                ),
                false => (
                    "The patient is signed out everywhere.",
                    PracticeNotice::SignedOut,
                ),
            };
            let take = Some((take, Forgotten::ByThePractice));
            (Event::AllSessionsEnded, message, None, take, Some(notice))
        }
        SupportAction::OneTimePassword => {
            let password = one_time_password_for(portal, &patient).await?;
            let take = AccessToTake {
                passkeys: also_remove_passkeys,
                devices: true,
            };
            let notice = match also_remove_passkeys {
                true => PracticeNotice::OneTimePasswordAndPasskeysRemoved,
                false => PracticeNotice::OneTimePassword,
            };
            let take = Some((take, Forgotten::PasswordChanged));
            (
                Event::OneTimePasswordIssued,
                "A one-time password is set. The patient chooses their own at the next sign-in.",
                Some(password),
                take,
                Some(notice),
            )
        }
        SupportAction::LiftHold => {
            if crate::hold::held_since(portal, &patient).await?.is_none() {
                return Err(Error::new(
                    crate::error::ErrorKind::Conflict,
                    "This account isn't on hold.",
                ));
            }
            // A full recovery, as for a lost phone: whoever held it may have had the phone.
            let password = one_time_password_for(portal, &patient).await?;
            store
                .reset_mobile(patient.id)
                .await
                .or_internal("resetting a number")?;
            store
                .lift_hold(patient.id)
                .await
                .or_internal("lifting a hold")?;
            let take = AccessToTake {
                passkeys: true,
                devices: true,
            };
            (
                Event::HoldLifted,
                "The hold is lifted, with a full recovery: the mobile number is reset, the passkeys are removed and the patient is signed out everywhere. Call the patient back on a number on the practice's records and read them the one-time password below. At their next login they choose their own password, then give a new number and verify it.",
                Some(password),
                Some((take, Forgotten::ByThePractice)),
                Some(PracticeNotice::HoldLifted),
            )
        }
        SupportAction::RemovePasskeys => {
            let take = AccessToTake {
                passkeys: true,
                devices: false,
            };
            (
                Event::PasskeysRemovedByPractice,
                "The patient's passkeys are removed, and they are signed out everywhere.",
                None,
                Some((take, Forgotten::ByThePractice)),
                Some(PracticeNotice::PasskeysRemoved),
            )
        }
    };
    let mut detail = format!("reason: {reason}");
    if let Some(identity) = identity {
        detail.push_str(&format!("; identity checked: {}", identity.as_str()));
    }
    if let Some((take, why)) = take {
        let taken = store
            .take_access(patient.id, take)
            .await
            .or_internal("signing a patient out everywhere")?;
        detail.push_str(&format!(
            "; {} passkey(s) removed, {} remembered device(s) forgotten, {} session(s) ended",
            taken.passkeys, taken.devices, taken.sessions
        ));
        devices::record_forgotten(portal, &visit.caller, patient.id, taken.devices, why).await;
    }
    let entry = Entry::new(event, Outcome::Ok)
        .account(patient.id)
        .staff(visit.member.id)
        .detail(detail);
    audit::record(portal, &visit.caller, entry).await;
    if let Some(notice) = notice {
        notify::support_acted(portal, &visit.caller, &patient, notice).await;
    }
    Ok(ActionDone {
        message: message.to_string(),
        one_time_password: password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_are_read_by_their_shape() {
        assert_eq!(
            parse_search("0123").unwrap(),
            PatientSearch::MobileEnding("0123".into())
        );
        assert_eq!(
            parse_search("123").unwrap(),
            PatientSearch::MobileEnding("123".into())
        );
        assert_eq!(
            parse_search("1950-07-31").unwrap(),
            PatientSearch::DateOfBirth("1950-07-31".into())
        );
        assert_eq!(
            parse_search(" Mere  Smith ").unwrap(),
            PatientSearch::Words(vec!["Mere".into(), "Smith".into()])
        );
        for refused in ["", " ", "a", "12", "12345", "%"] {
            assert!(parse_search(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn one_time_passwords_are_long_enough_and_easy_to_read_out() {
        let password = new_one_time_password();
        assert_eq!(password.len(), 14);
        assert!(crate::password::NewPassword::parse(&password, "someone").is_ok());
    }
}
