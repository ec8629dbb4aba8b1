//! "Sign-in and security" (`/security`): the passkeys, the devices that skip the code, where the
//! patient is signed in, and what happened to the account lately; forgetting devices and
//! signing other sessions out.

use crate::{
    audit::{self, Entry, Event, Outcome},
    caller::Visit,
    clock::for_people,
    devices::{self, Forgotten},
    error::{Error, ErrorKind, OrInternal},
    portal::Portal,
    session,
    store::{AccountId, AuditLine},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyLine {
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: Option<String>,
}

/// The passkeys part of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeysPart {
    /// Why passkeys can't be used here, if they can't.
    pub unavailable: Option<String>,
    pub passkeys: Vec<PasskeyLine>,
    /// A recovery code was used in the last 24 hours: a passkey on the lost phone should go.
    pub after_a_recovery: bool,
    /// The patient proved it's them recently (the practice's minutes): they may add and remove.
    pub may_change: bool,
    /// The name a new passkey gets: the browser and platform.
    pub default_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceLine {
    pub id: i64,
    /// Browser and platform: "Firefox on Windows 10".
    pub description: String,
    pub remembered: String,
    pub last_used: String,
    pub this_device: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLine {
    /// Names the session in a sign-out, for this account only; never its cookie or its hash.
    pub reference: String,
    pub description: String,
    pub last_active: String,
    pub this_device: bool,
    /// A password was given there, and the code not yet.
    pub waiting_for_code: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityLine {
    pub at: String,
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSecurity {
    pub passkeys: PasskeysPart,
    /// For how many days a device may skip the code (0: the practice doesn't offer it).
    pub remember_days: i64,
    pub devices: Vec<DeviceLine>,
    pub sessions: Vec<SessionLine>,
    pub activity: Vec<ActivityLine>,
    /// When the recovery code was made, if there is one.
    pub recovery_code_made: Option<String>,
    /// Who may act for the patient, with "Remove".
    pub caregivers: Vec<crate::caregivers::Caregiver>,
    /// Their invitations for a caregiver still open.
    pub invitations: Vec<crate::caregivers::invitations::OpenInvitation>,
}

/// How many lines "Recent activity" shows.
const ACTIVITY_LINES: usize = 20;
/// How far back it reads to find them.
const ACTIVITY_READ: i64 = 300;

fn session_reference(portal: &Portal, id_hash: &str) -> String {
    portal.secret.code_mac("session-reference", id_hash)
}

pub async fn overview(portal: &Portal, visit: &Visit) -> Result<AccountSecurity, Error> {
    let now = portal.now();
    let account = visit.patient.id;
    let own_device = visit.caller.device_token.as_deref().map(session::hash_id);
    let devices = portal
        .store
        .remembered_devices(account, now)
        .await
        .or_internal("listing remembered devices")?
        .into_iter()
        .map(|d| DeviceLine {
            id: d.id,
            this_device: own_device.as_deref() == Some(d.token_hash.as_str()),
            description: d.description,
            remembered: for_people(d.created_at),
            last_used: for_people(d.last_used_at),
        })
        .collect();
    let sessions = portal
        .store
        .sessions_of(account, now)
        .await
        .or_internal("listing sessions")?
        .into_iter()
        .map(|s| SessionLine {
            reference: session_reference(portal, &s.id_hash),
            this_device: s.id_hash == visit.session.id_hash,
            waiting_for_code: s.stage.is_pending(),
            description: s.device.unwrap_or_else(|| session::describe(None)),
            last_active: for_people(s.last_seen_at),
        })
        .collect();
    let trail = portal
        .store
        .audit_trail(account, ACTIVITY_READ)
        .await
        .or_internal("reading recent activity")?;
    let unavailable = crate::passkeys::unavailable(portal).map(str::to_string);
    let passkeys = crate::passkeys::list(portal, crate::store::Holder::Patient(account))
        .await?
        .into_iter()
        .map(|p| PasskeyLine {
            id: p.id,
            name: p.name,
            added: for_people(p.added),
            last_used: p.last_used.map(for_people),
        })
        .collect();
    let passkeys = PasskeysPart {
        unavailable,
        passkeys,
        after_a_recovery: crate::recovery::held_until(portal, &visit.patient)
            .await?
            .is_some(),
        may_change: crate::proof::recently_proved(portal, visit),
        default_name: crate::passkeys::default_name(&visit.caller),
    };
    let recovery_code_made = crate::recovery::made_at(portal, &visit.patient)
        .await?
        .map(for_people);
    let caregivers = crate::caregivers::caregivers_of(portal, account).await?;
    let names: Vec<(AccountId, String)> = caregivers
        .iter()
        .map(|c| (c.account, c.name.clone()))
        .collect();
    Ok(AccountSecurity {
        recovery_code_made,
        passkeys,
        remember_days: portal
            .practice()
            .remember_device_days
            .clamp(0, devices::MOST_DAYS),
        devices,
        sessions,
        activity: activity(&trail, &names),
        caregivers,
        invitations: crate::caregivers::invitations::open(portal, visit).await?,
    })
}

/// A refused sign-in, as the activity counts them.
fn refused_sign_in(line: &AuditLine) -> bool {
    matches!(
        (line.event.as_str(), line.outcome.as_str()),
        (
            "login",
            "wrong_password" | "delayed" | "limited" | "expired"
        ) | ("code_verified" | "recovery_code_used", "refused")
    )
}

/// A line of the audit in the patient's words, if it is one they need to see. What the
/// practice did is the practice's, never a staff member's by name.
fn described(line: &AuditLine, caregivers: &[(AccountId, String)]) -> Option<String> {
    let detail = line.detail.as_deref().unwrap_or_default();
    // A caregiver is named where the patient still has them; one since removed is not.
    let caregiver = crate::caregivers::caregiver_in(detail)
        .and_then(|id| caregivers.iter().find(|(known, _)| *known == id))
        .map_or_else(String::new, |(_, name)| format!(" {name}"));
    let by_the_practice = line.staff.is_some();
    let text = match (line.event.as_str(), line.outcome.as_str()) {
        ("registered", _) => "You created your account.".to_string(),
        ("signed_in", "ok") => match detail.strip_prefix("factor: ") {
            Some(rest) if rest.starts_with("remembered_device") => {
                let device = rest
                    .split_once(" (")
                    .map(|(_, d)| d.trim_end_matches(')'))
                    .unwrap_or("a remembered device");
                format!("Signed in without a code on a remembered device ({device}).")
            }
            Some(rest) if rest.starts_with("passkey") => "Signed in with a passkey.".into(),
            Some(rest) if rest.starts_with("password only") => {
                "Signed in with your password alone (the practice had codes switched off).".into()
            }
            _ => "Signed in with a code sent by text.".into(),
        },
        ("mobile_changed", "saved_pending") => {
            "A new mobile number was saved, waiting for its code.".into()
        }
        ("mobile_changed", "set_at_login") => {
            "Your sign-in mobile number was set at a login.".into()
        }
        ("mobile_changed", _) => "Your sign-in mobile number changed.".into(),
        ("mobile_change_cancelled", _) => "A new mobile number was cancelled.".into(),
        ("email_changed", _) => "Your email address changed.".into(),
        ("password_chosen", _) => "You chose a new password.".into(),
        ("sessions_ended", _) if !by_the_practice => "Your other sessions were signed out.".into(),
        ("passkey_added", "ok") => format!("A passkey was added: {detail}."),
        ("passkey_removed", _) => format!("A passkey was removed: {detail}."),
        ("passkeys_removed", _) => "The practice removed your passkeys.".into(),
        ("device_remembered", _) => format!("A device was remembered: {detail}."),
        ("devices_forgotten", _) => match detail.split_once(": ") {
            Some((count, why)) => {
                let devices = match count {
                    "1 forgotten" => "A remembered device was forgotten".to_string(),
                    other => format!(
                        "{} remembered devices were forgotten",
                        other.trim_end_matches(" forgotten")
                    ),
                };
                format!("{devices} ({why}).")
            }
            None => "Remembered devices were forgotten.".into(),
        },
        ("patient_unlocked", _) => "The practice cleared the waits on your logins.".into(),
        ("mobile_reset", _) => "The practice reset your sign-in mobile number.".into(),
        ("all_sessions_ended", _) => "The practice signed you out everywhere.".into(),
        ("one_time_password_issued", _) => "The practice gave you a one-time password.".into(),
        ("recovery_code_saved", _) => "A new recovery code was made.".into(),
        ("account_secured", _) => {
            "You secured your account with \"This wasn't me\", and it was put on hold.".into()
        }
        ("hold_lifted", _) => "The practice opened your account again.".into(),
        ("caregiver_viewed", "ok") => {
            format!("Your caregiver{caregiver} viewed your Personal Information.")
        }
        ("caregiver_added", _) => format!("A caregiver{caregiver} was added."),
        // Support may remove a caregiver for safeguarding without telling anyone.
        ("caregiver_removed", _) if detail.contains("neither told") => return None,
        ("caregiver_removed", _) => "A caregiver's access ended.".into(),
        ("caregiver_renewed", _) => format!("You renewed a caregiver's access{caregiver}."),
        ("caregiver_invited", _) => "You made an invitation for a caregiver.".into(),
        // "Closed by the practice" (after "Someone is pressuring me") is not told here.
        ("invitation_ended", "ok") if detail.contains("cancelled") => {
            "You cancelled an invitation for a caregiver.".into()
        }
        ("invitation_ended", "ok") if detail.contains("declined") => {
            "An invitation for a caregiver was declined.".into()
        }
        ("invitation_ended", "refused") if detail.ends_with("; void") => {
            "An invitation for a caregiver was voided after wrong dates of birth.".into()
        }
        ("recovered", _) => {
            "A recovery code was used to set up a new phone, and you were signed out everywhere."
                .into()
        }
        _ => return None,
    };
    Some(text)
}

/// The last lines worth telling, newest first. Refused sign-ins in a row are one line, with
/// their count.
pub fn activity(trail: &[AuditLine], caregivers: &[(AccountId, String)]) -> Vec<ActivityLine> {
    let mut lines: Vec<ActivityLine> = Vec::new();
    let mut refused: Option<(String, usize)> = None;
    let flush = |refused: &mut Option<(String, usize)>, lines: &mut Vec<ActivityLine>| {
        if let Some((at, count)) = refused.take() {
            let what = match count {
                1 => "1 refused sign-in attempt.".to_string(),
                n => format!("{n} refused sign-in attempts."),
            };
            lines.push(ActivityLine { at, what });
        }
    };
    for line in trail {
        if refused_sign_in(line) {
            let at = for_people(line.at);
            refused = Some(match refused.take() {
                Some((newest, count)) => (newest, count + 1),
                None => (at, 1),
            });
            continue;
        }
        let Some(what) = described(line, caregivers) else {
            continue;
        };
        // A caregiver looking again and again is one line, with how many times: their views
        // never push the rest of the account's activity off the list.
        if line.event == "caregiver_viewed" && refused.is_none() {
            let base = what.trim_end_matches('.');
            if let Some(last) = lines.last_mut().filter(|l| l.what.starts_with(base)) {
                let seen = last.what[base.len()..]
                    .trim_start_matches(" (")
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(1);
                last.what = format!("{base} ({} times).", seen + 1);
                continue;
            }
        }
        flush(&mut refused, &mut lines);
        lines.push(ActivityLine {
            at: for_people(line.at),
            what,
        });
        if lines.len() >= ACTIVITY_LINES {
            break;
        }
    }
    if lines.len() < ACTIVITY_LINES {
        flush(&mut refused, &mut lines);
    }
    lines.truncate(ACTIVITY_LINES);
    lines
}

/// "Forget this device" (an empty `device`), or one of the list by its ID. True when it was
/// this browser, whose cookie then goes too.
pub async fn forget_device(portal: &Portal, visit: &Visit, device: &str) -> Result<bool, Error> {
    let id = match device.trim() {
        "" => None,
        id => Some(id.parse::<i64>().map_err(|_| not_found("device"))?),
    };
    let forgotten = devices::forget_one(portal, &visit.caller, visit.patient.id, id)
        .await
        .or_internal("forgetting a device")?;
    if !forgotten {
        return Err(not_found("device"));
    }
    Ok(id.is_none())
}

pub async fn forget_all_devices(portal: &Portal, visit: &Visit) -> Result<(), Error> {
    devices::forget_all(
        portal,
        &visit.caller,
        visit.patient.id,
        Forgotten::ByThePatient,
    )
    .await
    .or_internal("forgetting devices")?;
    Ok(())
}

fn not_found(what: &str) -> Error {
    let message = match what {
        "device" => "That device isn't remembered any more. Please reload the page.",
        _ => "That session has already ended. Please reload the page.",
    };
    Error::new(ErrorKind::NotFound, message)
}

pub async fn sign_out_session(
    portal: &Portal,
    visit: &Visit,
    reference: &str,
) -> Result<(), Error> {
    let account = visit.patient.id;
    let sessions = portal
        .store
        .sessions_of(account, portal.now())
        .await
        .or_internal("listing sessions")?;
    let Some(target) = sessions.into_iter().find(|s| {
        s.id_hash != visit.session.id_hash
            && portal
                .secret
                .code_matches("session-reference", &s.id_hash, reference.trim())
    }) else {
        return Err(not_found("session"));
    };
    let ended = portal
        .store
        .delete_session_of(account, &target.id_hash)
        .await
        .or_internal("ending a session")?;
    if ended {
        let entry = Entry::new(Event::SessionsEnded, Outcome::Ok)
            .account(account)
            .detail(format!(
                "1 other session ended by the patient ({})",
                target.device.unwrap_or_default()
            ));
        audit::record(portal, &visit.caller, entry).await;
    }
    Ok(())
}

pub async fn sign_out_everywhere_else(portal: &Portal, visit: &Visit) -> Result<(), Error> {
    let ended = session::end_others(portal, visit.patient.id, Some(&visit.session))
        .await
        .or_internal("ending other sessions")?;
    let entry = Entry::new(Event::SessionsEnded, Outcome::Ok)
        .account(visit.patient.id)
        .detail(format!("{ended} other session(s) ended by the patient"));
    audit::record(portal, &visit.caller, entry).await;
    Ok(())
}
