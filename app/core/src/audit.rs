//! The audit trail: who did what, when, from where, and how it went. Never secrets: numbers are
//! masked to their last digits and codes and passwords never appear.

use crate::store::{AccountId, StaffId};
use crate::{
    caller::Caller,
    metrics,
    portal::{HeadsTo, Portal},
    store::{AuditRow, ChainHead},
};

/// What happened. Stored as text in `audit_events.event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Registered,
    /// A password step: accepted, refused, delayed…
    Login,
    /// A login delay started for the account (a lockout).
    LoginDelayStarted,
    SignedIn,
    LoggedOut,
    CodeSent,
    CodeVerified,
    /// A number was saved as pending, set at login, or verified in place of the old one.
    MobileChanged,
    MobileChangeCancelled,
    /// The old number was told of a change.
    MobileChangeNotice,
    /// The patient was emailed about a change to their sign-in number.
    MobileChangeEmail,
    EmailChanged,
    PasswordChosen,
    /// Other sessions of the account were ended by a change.
    SessionsEnded,
    /// A patient was told of something support did.
    SupportNotice,
    StaffAdded,
    StaffEnrolled,
    /// A staff sign-in: accepted or refused.
    StaffLogin,
    StaffLoggedOut,
    StaffDisabled,
    StaffEnabled,
    /// A staff member's login delays were cleared, by an admin or from the command line.
    StaffUnlocked,
    PatientSearched,
    PatientViewed,
    /// Support's actions on a patient's account, each with the reason typed.
    PatientUnlocked,
    MobileReset,
    AllSessionsEnded,
    OneTimePasswordIssued,
    SettingChanged,
    AuditExported,
    /// A patient asked not to be asked for a code on a browser.
    DeviceRemembered,
    /// Remembered devices were forgotten: the detail says how many and why.
    DevicesForgotten,
    PasskeyAdded,
    PasskeyRemoved,
    /// Support removed every passkey of a patient's.
    PasskeysRemovedByPractice,
    /// A recovery code was made, or made in place of another (the detail says which).
    RecoveryCodeSaved,
    /// A recovery code was typed: right (and replaced at once) or refused.
    RecoveryCodeUsed,
    /// A recovery by code began: the detail says what it took away.
    Recovered,
    /// "This wasn't me": the account secured and held; the detail says what it took away.
    AccountSecured,
    /// The practice lifted a hold, with a full recovery.
    HoldLifted,
    /// An email address was confirmed by its link.
    EmailConfirmed,
    /// The text fraud guard blocked a prefix or country (or, watching, would have); the detail
    /// has the counts that tripped it.
    TextsBlocked,
    /// An admin allowed a blocked prefix or country for 30 days.
    TextsAllowed,
    /// An admin gave, confirmed or removed their address for alerts.
    AlertEmailChanged,
    /// Support added a record for a child, who can't sign in, with a parent's grant.
    ChildAdded,
    /// A caregiver's grant was made; the detail names the caregiver and the relationship.
    CaregiverAdded,
    /// A caregiver's grant ended: the detail says who ended it, or why.
    CaregiverRemoved,
    /// A caregiver, acting for the patient, viewed their home and Personal Information.
    CaregiverViewed,
    /// A caregiver was told their access ends soon.
    CaregiverReminded,
    /// A patient made an invitation for a caregiver.
    CaregiverInvited,
    /// An invitation ended unused: declined, cancelled, voided by wrong tries, or closed by
    /// the practice; the detail says which.
    InvitationEnded,
    /// "Someone is pressuring me to do this": kept out of the patient's own activity.
    InvitationPressured,
    /// The patient renewed a caregiver's access.
    CaregiverRenewed,
    /// Support gave a child's record its own sign-in.
    SignInSetUp,
}

/// Every event, for the audit log's filter.
pub const ALL_EVENTS: [Event; 54] = [
    Event::Registered,
    Event::Login,
    Event::LoginDelayStarted,
    Event::SignedIn,
    Event::LoggedOut,
    Event::CodeSent,
    Event::CodeVerified,
    Event::MobileChanged,
    Event::MobileChangeCancelled,
    Event::MobileChangeNotice,
    Event::MobileChangeEmail,
    Event::EmailChanged,
    Event::PasswordChosen,
    Event::SessionsEnded,
    Event::SupportNotice,
    Event::StaffAdded,
    Event::StaffEnrolled,
    Event::StaffLogin,
    Event::StaffLoggedOut,
    Event::StaffDisabled,
    Event::StaffEnabled,
    Event::StaffUnlocked,
    Event::PatientSearched,
    Event::PatientViewed,
    Event::PatientUnlocked,
    Event::MobileReset,
    Event::AllSessionsEnded,
    Event::OneTimePasswordIssued,
    Event::SettingChanged,
    Event::AuditExported,
    Event::DeviceRemembered,
    Event::DevicesForgotten,
    Event::PasskeyAdded,
    Event::PasskeyRemoved,
    Event::PasskeysRemovedByPractice,
    Event::RecoveryCodeSaved,
    Event::RecoveryCodeUsed,
    Event::Recovered,
    Event::AccountSecured,
    Event::HoldLifted,
    Event::EmailConfirmed,
    Event::TextsBlocked,
    Event::TextsAllowed,
    Event::AlertEmailChanged,
    Event::ChildAdded,
    Event::CaregiverAdded,
    Event::CaregiverRemoved,
    Event::CaregiverViewed,
    Event::CaregiverReminded,
    Event::CaregiverInvited,
    Event::InvitationEnded,
    Event::InvitationPressured,
    Event::CaregiverRenewed,
    Event::SignInSetUp,
];

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Registered => "registered",
            Event::Login => "login",
            Event::LoginDelayStarted => "login_delay_started",
            Event::SignedIn => "signed_in",
            Event::LoggedOut => "logged_out",
            Event::CodeSent => "code_sent",
            Event::CodeVerified => "code_verified",
            Event::MobileChanged => "mobile_changed",
            Event::MobileChangeCancelled => "mobile_change_cancelled",
            Event::MobileChangeNotice => "mobile_change_notice",
            Event::MobileChangeEmail => "mobile_change_email",
            Event::EmailChanged => "email_changed",
            Event::PasswordChosen => "password_chosen",
            Event::SessionsEnded => "sessions_ended",
            Event::SupportNotice => "support_notice",
            Event::StaffAdded => "staff_added",
            Event::StaffEnrolled => "staff_enrolled",
            Event::StaffLogin => "staff_login",
            Event::StaffLoggedOut => "staff_logged_out",
            Event::StaffDisabled => "staff_disabled",
            Event::StaffEnabled => "staff_enabled",
            Event::StaffUnlocked => "staff_unlocked",
            Event::PatientSearched => "patient_searched",
            Event::PatientViewed => "patient_viewed",
            Event::PatientUnlocked => "patient_unlocked",
            Event::MobileReset => "mobile_reset",
            Event::AllSessionsEnded => "all_sessions_ended",
            Event::OneTimePasswordIssued => "one_time_password_issued",
            Event::SettingChanged => "setting_changed",
            Event::AuditExported => "audit_exported",
            Event::DeviceRemembered => "device_remembered",
            Event::DevicesForgotten => "devices_forgotten",
            Event::PasskeyAdded => "passkey_added",
            Event::PasskeyRemoved => "passkey_removed",
            Event::PasskeysRemovedByPractice => "passkeys_removed",
            Event::RecoveryCodeSaved => "recovery_code_saved",
            Event::RecoveryCodeUsed => "recovery_code_used",
            Event::Recovered => "recovered",
            Event::AccountSecured => "account_secured",
            Event::HoldLifted => "hold_lifted",
            Event::EmailConfirmed => "email_confirmed",
            Event::TextsBlocked => "texts_blocked",
            Event::TextsAllowed => "texts_allowed",
            Event::AlertEmailChanged => "alert_email_changed",
            Event::ChildAdded => "child_added",
            Event::CaregiverAdded => "caregiver_added",
            Event::CaregiverRemoved => "caregiver_removed",
            Event::CaregiverViewed => "caregiver_viewed",
            Event::CaregiverReminded => "caregiver_reminded",
            Event::CaregiverInvited => "caregiver_invited",
            Event::InvitationEnded => "invitation_ended",
            Event::InvitationPressured => "invitation_pressured",
            Event::CaregiverRenewed => "caregiver_renewed",
            Event::SignInSetUp => "sign_in_set_up",
        }
    }
}

/// How it went. Stored as text in `audit_events.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Refused,
    /// A limit or delay was in force.
    Limited,
    Delayed,
    AddressBlocked,
    WrongPassword,
    UnknownUser,
    /// A one-time password past its date.
    Expired,
    PasswordAccepted,
    /// A new number was kept apart until its code comes back.
    SavedPending,
    /// A number given after the password, by an account that never had one verified (flow 2.2).
    SetAtLogin,
    Retrying,
    Failed,
    /// The portal was too busy to check the password.
    Busy,
    /// Refused for want of the right role.
    Forbidden,
    /// A way in that was right, to an account on hold.
    Held,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Limited => "limited",
            Outcome::Delayed => "delayed",
            Outcome::AddressBlocked => "address_blocked",
            Outcome::WrongPassword => "wrong_password",
            Outcome::UnknownUser => "unknown_user",
            Outcome::Expired => "expired",
            Outcome::PasswordAccepted => "password_accepted",
            Outcome::SavedPending => "saved_pending",
            Outcome::SetAtLogin => "set_at_login",
            Outcome::Retrying => "retrying",
            Outcome::Failed => "failed",
            Outcome::Busy => "busy",
            Outcome::Forbidden => "forbidden",
            Outcome::Held => "held",
        }
    }
}

/// What proved a sign-in besides the password, as the audit records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Sms,
    Passkey,
    RememberedDevice,
    /// A staff member's authenticator app code.
    Authenticator,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Sms => "sms",
            Factor::Passkey => "passkey",
            Factor::RememberedDevice => "remembered_device",
            Factor::Authenticator => "authenticator",
        }
    }
}

/// One line of the trail, before it is written.
#[derive(Debug, Clone)]
pub struct Entry {
    pub event: Event,
    pub outcome: Outcome,
    pub account_id: Option<AccountId>,
    /// The username as typed, where no account is known.
    pub username: Option<String>,
    /// The staff member who acted.
    pub staff_id: Option<StaffId>,
    pub detail: Option<String>,
    /// For a sign-in: what was checked besides the password. Counted, not stored.
    pub factor: Option<Factor>,
}

impl Entry {
    pub fn new(event: Event, outcome: Outcome) -> Self {
        Self {
            event,
            outcome,
            account_id: None,
            username: None,
            staff_id: None,
            detail: None,
            factor: None,
        }
    }

    /// A sign-in by `factor`, which the detail names.
    pub fn by(mut self, factor: Factor) -> Self {
        self.factor = Some(factor);
        self
    }

    pub fn staff(mut self, staff_id: StaffId) -> Self {
        self.staff_id = Some(staff_id);
        self
    }

    pub fn account(mut self, account_id: AccountId) -> Self {
        self.account_id = Some(account_id);
        self
    }

    pub fn typed_username(mut self, username: &str) -> Self {
        self.username = Some(username.trim().chars().take(64).collect());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Records an event. A failure to record is logged, and does not undo what the patient did.
pub async fn record(portal: &Portal, caller: &Caller, entry: Entry) {
    record_all(portal, caller, vec![entry]).await;
}

/// Records events that happened together, in their order, in one turn at the audit chain.
pub async fn record_all(portal: &Portal, caller: &Caller, entries: Vec<Entry>) {
    let now = portal.now();
    let events: Vec<&'static str> = entries.iter().map(|e| e.event.as_str()).collect();
    entries.iter().for_each(count);
    let rows: Vec<AuditRow> = entries
        .into_iter()
        .map(|entry| AuditRow {
            at: now,
            account_id: entry.account_id,
            username: entry.username,
            staff_id: entry.staff_id,
            ip: caller.ip_text(),
            event: entry.event.as_str().to_string(),
            outcome: entry.outcome.as_str().to_string(),
            detail: entry.detail,
            request_id: caller.request_id.clone(),
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let written = rows.len() as i64;
    match portal
        .store
        .record_audits(&portal.secret.audit_key(), &rows)
        .await
    {
        // Every thousandth line, the head is noted outside the database.
        Ok(head) if (head.line - written) / HEAD_EVERY != head.line / HEAD_EVERY => {
            note_head(portal, &head).await;
        }
        Ok(_) => {}
        Err(err) => tracing::error!(%err, events = ?events, "could not write the audit trail"),
    }
}

/// Lines between two heads noted outside the database (besides one every few minutes).
pub const HEAD_EVERY: i64 = 1_000;

/// Notes the chain's head in the log and, where the practice keeps them elsewhere too
/// (`PORTAL_AUDIT_HEADS_TO`), there: `server audit verify --expect LINE:HASH` then shows that
/// nothing after it was cut or rewritten, even by someone holding the database and the key.
pub async fn note_head(portal: &Portal, head: &ChainHead) {
    tracing::info!(line = head.line, hash = %head.hash, "the audit chain's newest line");
    let Some(to) = portal.settings.audit_heads_to.clone() else {
        return;
    };
    let noted = format!("{}:{}", head.line, head.hash);
    let at = portal.now();
    // Off the request's path: a slow disk or endpoint never holds a patient up.
    tokio::spawn(async move {
        let kept = match &to {
            HeadsTo::File(path) => append(path, &format!("{at} {noted}\n"))
                .await
                .map_err(|e| e.to_string()),
            HeadsTo::Endpoint(url) => post(url, at, &noted).await.map_err(|e| e.to_string()),
        };
        if let Err(err) = kept {
            tracing::warn!(%err, "could not note the audit chain's head at {to:?}");
        }
    });
}

async fn append(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await?;
    file.write_all(line.as_bytes()).await?;
    file.sync_data().await
}

async fn post(url: &url::Url, at: i64, noted: &str) -> Result<(), reqwest::Error> {
    let body = serde_json::json!({ "at": at, "head": noted });
    reqwest::Client::new()
        .post(url.clone())
        .timeout(std::time::Duration::from_secs(10))
        .json(&body)
        .send()
        .await?
        .error_for_status()
        .map(|_| ())
}

/// What the people who run the portal count of an audited event (`crate::metrics`).
fn count(entry: &Entry) {
    let outcome = entry.outcome.as_str();
    let factor = entry.factor.map(Factor::as_str);
    match entry.event {
        Event::Login => metrics::sign_in("patient", outcome, "password"),
        // A sign-in with no second factor is a password-only one (two-factor off).
        Event::SignedIn => metrics::sign_in("patient", outcome, factor.unwrap_or("password")),
        // Staff give their password and authenticator code together, or use a passkey.
        Event::StaffLogin => metrics::sign_in("staff", outcome, factor.unwrap_or("authenticator")),
        Event::LoginDelayStarted => metrics::login_delay_started(),
        _ => {}
    }
}
