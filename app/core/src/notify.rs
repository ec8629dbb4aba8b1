//! Security notices: the patient is told of every change to how their account signs in, by a
//! text to their verified number and by email, so that someone who got in by other means can't
//! change it unnoticed. Texts follow DESIGN's table of texts: notices have their own cap per
//! number per day, which codes can't use up, and are never refused for the codes' limits; past
//! the cap one last text says more changes were made, and email carries the rest. They count
//! towards the portal's daily budget without ever being refused by it. A text names nothing the
//! patient (or whoever has their session) typed: no passkey's name. Every notice's wording is
//! here, so the texts and emails a patient may get can be read in one place.

use std::time::Duration;

use crate::{
    account::Patient,
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    clock::{Millis, DAY},
    limits::{texts, LimitKind},
    mail::Email,
    mobile,
    portal::Portal,
    sms::Delivery,
    store::{AccountId, CappedNotice, NewSms, NoticeQueued},
};

/// How long a "This wasn't me" link works.
pub const WASNT_ME_LASTS: Millis = 7 * DAY;

/// How long the outbox keeps trying a notice.
pub const RETRIES_FOR: Millis = DAY;

/// How a text without a link of its own ends: the contact details go in the email.
const NOT_YOU: &str = "Not you? Please contact the practice.";

/// The text that goes in place of a notice once its number's cap is reached.
pub fn last_text(portal: &Portal) -> String {
    last_text_for(&portal.practice().text_name())
}

fn last_text_for(name: &str) -> String {
    format!("{name}: more changes were made to your account today. {NOT_YOU}")
}

/// A caregiver told their access ends on `on` (a date): it names nobody.
pub fn caregiver_access_ends(name: &str, on: &str) -> String {
    format!("{name}: your caregiver access to someone's record ends on {on}.")
}

/// A caregiver told, on the day, that their access ended at its date or the child's age.
pub fn caregiver_access_ended(name: &str) -> String {
    format!("{name}: your caregiver access to someone's record has ended today.")
}

/// A patient told a caregiver's access to their record ends on `on`: only they can renew it.
pub fn caregiver_renewal_due(name: &str, on: &str) -> String {
    format!("{name}: a caregiver's access to your record ends on {on}. You can renew it under Sign-in and security.")
}

/// A notice's text, as DESIGN's table of texts gives it: "{name}: {what happened}. Not you?
/// {link}", within one segment.
fn notice_text(name: &str, what: &str, link: Option<&str>) -> String {
    match link {
        Some(link) => format!("{name}: {what}. Not you? {link}"),
        None => format!("{name}: {what}. {NOT_YOU}"),
    }
}

/// A change the patient is told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    PasskeyAdded,
    PasskeyRemoved,
    /// A password of their own replaced the practice's one-time password.
    PasswordChosen,
    RecoveryCodeMade,
    /// A new recovery code in place of the one before.
    RecoveryCodeReplaced,
    /// A recovery code began a recovery (a lost phone); a new one replaced it.
    Recovered,
    /// A recovery code confirmed it's the patient; a new one replaced it.
    RecoveryCodeUsed,
    /// Someone may now act for the patient as their caregiver.
    CaregiverAdded,
    /// A caregiver's access ended.
    CaregiverRemoved,
    /// The patient renewed a caregiver's access.
    CaregiverRenewed,
    /// An invitation for a caregiver was voided by wrong dates of birth.
    InvitationVoided,
}

impl Change {
    pub const ALL: [Change; 11] = [
        Change::PasskeyAdded,
        Change::PasskeyRemoved,
        Change::PasswordChosen,
        Change::RecoveryCodeMade,
        Change::RecoveryCodeReplaced,
        Change::Recovered,
        Change::RecoveryCodeUsed,
        Change::CaregiverAdded,
        Change::CaregiverRemoved,
        Change::CaregiverRenewed,
        Change::InvitationVoided,
    ];

    /// What happened, as a text says it and an email's first line (no user-chosen text): short
    /// enough for a 30-character name and a link on a 40-character host in one text.
    fn what(self) -> &'static str {
        match self {
            Change::PasskeyAdded => "a passkey was added",
            Change::PasskeyRemoved => "a passkey was removed",
            Change::PasswordChosen => "a new password was chosen",
            Change::RecoveryCodeMade => "a recovery code was made",
            Change::RecoveryCodeReplaced => "your recovery code was replaced",
            Change::Recovered => "your recovery code was used",
            Change::RecoveryCodeUsed => "your recovery code confirmed it's you",
            Change::CaregiverAdded => "a caregiver was added",
            Change::CaregiverRemoved => "a caregiver was removed",
            Change::CaregiverRenewed => "a caregiver's access was renewed",
            Change::InvitationVoided => "a caregiver invitation was voided",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            Change::PasskeyAdded => "A passkey was added",
            Change::PasskeyRemoved => "A passkey was removed",
            Change::PasswordChosen => "Your password was changed",
            Change::RecoveryCodeMade => "A recovery code was made",
            Change::RecoveryCodeReplaced => "Your recovery code was replaced",
            Change::Recovered => "Your recovery code was used",
            Change::RecoveryCodeUsed => "Your recovery code was used",
            Change::CaregiverAdded => "A caregiver was added to your account",
            Change::CaregiverRemoved => "A caregiver was removed from your account",
            Change::CaregiverRenewed => "A caregiver's access was renewed",
            Change::InvitationVoided => "An invitation for a caregiver was voided",
        }
    }
}

/// A new "This wasn't me" link for a change to `patient`'s account made now. `None` if it
/// couldn't be kept (the notice still goes, without it).
pub async fn wasnt_me_link(portal: &Portal, patient: &Patient) -> Option<String> {
    let token = crate::session::new_short_token();
    let now = portal.now();
    let saved = portal
        .store
        .save_wasnt_me_link(
            &crate::session::hash_id(&token),
            patient.id,
            now,
            now + WASNT_ME_LASTS,
        )
        .await;
    if let Err(err) = saved {
        tracing::error!(%err, "keeping a \"This wasn't me\" link");
        return None;
    }
    Some(secure_link(portal.settings.public_url.clone(), &token))
}

/// "This wasn't me": `/secure` on the portal, with its token in the query (never the path, which
/// the request log keeps).
fn secure_link(mut url: url::Url, token: &str) -> String {
    url.set_path("/secure");
    url.set_query(Some(&format!("t={token}")));
    url.to_string()
}

/// Tells the patient of `change` by text to their verified number (under the notices' cap) and
/// by email, each with its own "This wasn't me" link.
pub async fn security_notice(portal: &Portal, caller: &Caller, patient: &Patient, change: Change) {
    let practice = portal.practice();
    let what = change.what();
    if let Some(number) = patient.mobile.verified() {
        let link = wasnt_me_link(portal, patient).await;
        let body = notice_text(&practice.text_name(), what, link.as_deref());
        text(portal, caller, patient.id, number, &body).await;
    }
    let link = wasnt_me_link(portal, patient).await;
    let body = format!(
        "Hello {},\n\nOn your {} patient portal account, {what}.\n\n{}\n",
        patient.given_name,
        practice.practice_name,
        not_you_by_email(portal, link),
    );
    email(portal, caller, patient, change.subject(), body).await;
}

/// An email's last words: the link, and the practice's contact.
fn not_you_by_email(portal: &Portal, link: Option<String>) -> String {
    let contact = contact_the_practice(portal);
    match link {
        Some(link) => format!(
            "If this wasn't you, secure your account now with this link (it works once, for 7 days, and asks for your password):\n{link}\n\nThen {contact}."
        ),
        None => format!("If this wasn't you, please {contact} now."),
    }
}

/// "Secure my account" held the account: emailed, with the way out.
pub async fn account_held(portal: &Portal, caller: &Caller, patient: &Patient) {
    let body = format!(
        "Hello {},\n\nYour {} patient portal account is secured and on hold: every session is signed out, and the changes made since are taken back. Nobody can sign in until the practice opens it again with you.\n\nPlease {} to have it opened.\n",
        patient.given_name,
        portal.practice().practice_name,
        contact_the_practice(portal),
    );
    email(
        portal,
        caller,
        patient,
        "Your account is secured and on hold",
        body,
    )
    .await;
}

/// The text the old (verified) number gets with the code to a new one: sent in the code's own
/// transaction, so once for each code issued.
pub fn new_number_added(portal: &Portal, new_ending: &str) -> String {
    new_number_added_for(&portal.practice().text_name(), new_ending)
}

fn new_number_added_for(name: &str, new_ending: &str) -> String {
    format!(
        "{name}: a new number ending {new_ending} was added. Codes come here until it's \
         verified. {NOT_YOU}"
    )
}

/// What a text says of a new number verified: where codes go now.
fn codes_now_go_to(new: &str) -> String {
    format!("codes now go to a number ending {}", mobile::ending(new))
}

/// A new number verified in place of `old` (if there was one): the old number is texted that
/// codes no longer come to it, and the patient is emailed.
pub async fn number_changed(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
    old: Option<&str>,
    new: &str,
) {
    let practice = portal.practice();
    if let Some(old) = old {
        let link = wasnt_me_link(portal, patient).await;
        let body = notice_text(
            &practice.text_name(),
            &codes_now_go_to(new),
            link.as_deref(),
        );
        text(portal, caller, patient.id, old, &body).await;
    }
    let link = wasnt_me_link(portal, patient).await;
    let body = format!(
        "Hello {},\n\nYour {} patient portal now texts your sign-in codes to the mobile number \
         ending {}.\n\n{}\n",
        patient.given_name,
        practice.practice_name,
        mobile::ending(new),
        not_you_by_email(portal, link),
    );
    let subject = "Your sign-in mobile number was changed";
    email(portal, caller, patient, subject, body).await;
}

/// A first number given after the password at a login (flow 2.2) and verified: emailed, as
/// whoever has the password chose the second factor.
pub async fn number_set_at_login(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
    number: &str,
) {
    let link = wasnt_me_link(portal, patient).await;
    let body = format!(
        "Hello {},\n\nThe mobile number ending {} was just set as the number your {} patient \
         portal texts your sign-in codes to. It was given after your password at a login.\n\n\
         Someone may know your password. {}\n",
        patient.given_name,
        mobile::ending(number),
        portal.practice().practice_name,
        not_you_by_email(portal, link),
    );
    let subject = "Your sign-in mobile number was set";
    email(portal, caller, patient, subject, body).await;
}

/// Something the practice did to a patient's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PracticeNotice {
    LoginWaitsCleared,
    NumberReset,
    SignedOut,
    SignedOutAndPasskeysRemoved,
    OneTimePassword,
    OneTimePasswordAndPasskeysRemoved,
    HoldLifted,
    PasskeysRemoved,
}

impl PracticeNotice {
    pub const ALL: [PracticeNotice; 8] = [
        PracticeNotice::LoginWaitsCleared,
        PracticeNotice::NumberReset,
        PracticeNotice::SignedOut,
        PracticeNotice::SignedOutAndPasskeysRemoved,
        PracticeNotice::OneTimePassword,
        PracticeNotice::OneTimePasswordAndPasskeysRemoved,
        PracticeNotice::HoldLifted,
        PracticeNotice::PasskeysRemoved,
    ];

    /// As a text says it, within one segment.
    fn what(self) -> &'static str {
        match self {
            PracticeNotice::LoginWaitsCleared => "the practice cleared the waits on your logins",
            PracticeNotice::NumberReset => {
                "the practice reset your mobile number and gave you a one-time password"
            }
            PracticeNotice::SignedOut => "the practice signed you out everywhere",
            PracticeNotice::SignedOutAndPasskeysRemoved => {
                "the practice signed you out everywhere and removed your passkeys"
            }
            PracticeNotice::OneTimePassword => "the practice gave you a new one-time password",
            PracticeNotice::OneTimePasswordAndPasskeysRemoved => {
                "the practice gave you a new one-time password and removed your passkeys"
            }
            PracticeNotice::HoldLifted => {
                "the practice opened your account again and gave you a one-time password"
            }
            PracticeNotice::PasskeysRemoved => {
                "the practice removed your passkeys and signed you out everywhere"
            }
        }
    }

    /// What an email adds.
    fn more(self) -> &'static str {
        match self {
            PracticeNotice::NumberReset => " It also removed your passkeys, and your old password no longer works. At your next login you'll choose your own password, then give your new mobile number.",
            PracticeNotice::HoldLifted => " At your next login you'll choose your own password, then give your mobile number.",
            _ => "",
        }
    }
}

fn practice_acted_text(name: &str, notice: PracticeNotice) -> String {
    format!(
        "{name}: {}. Didn't ask for this? Please contact the practice.",
        notice.what()
    )
}

/// Something the practice did to the account: texted to the verified number and emailed.
pub async fn support_acted(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
    notice: PracticeNotice,
) {
    let practice = portal.practice();
    if let Some(number) = patient.mobile.verified() {
        let body = practice_acted_text(&practice.text_name(), notice);
        text(portal, caller, patient.id, number, &body).await;
    }
    let email_body = format!(
        "Hello {},\n\nOn your {} patient portal account, {}.{}\n\nIf you didn't ask for this, please {}.\n",
        patient.given_name,
        practice.practice_name,
        notice.what(),
        notice.more(),
        contact_the_practice(portal),
    );
    let subject = "A change to your patient portal account";
    email(portal, caller, patient, subject, email_body).await;
}

/// Texts a notice (no code) to `to`, under the notices' cap, and records how the first attempt
/// went. A notice that can't go now is retried by the outbox worker for a day.
pub async fn text(portal: &Portal, caller: &Caller, account_id: AccountId, to: &str, body: &str) {
    let now = portal.now();
    let (cap, budget) = (texts::notices_to(portal, to), texts::budget(portal));
    let sealed = portal.secret.seal(body);
    let sealed_last = portal.secret.seal(&last_text(portal));
    let queued = portal
        .store
        .queue_notice(&CappedNotice {
            sms: NewSms {
                account_id: Some(account_id),
                to,
                sealed_body: &sealed,
                now,
                give_up_at: now + RETRIES_FOR,
                purpose: "notice",
                after_provider: None,
            },
            last_sealed_body: &sealed_last,
            cap: &cap,
            budget: &budget,
        })
        .await;
    match queued {
        Ok(queued) => deliver(portal, caller, account_id, to, queued).await,
        Err(err) => {
            tracing::error!(%err, "queueing a text notice");
            let entry = Entry::new(Event::MobileChangeNotice, Outcome::Failed)
                .account(account_id)
                .detail(format!("to {}", mobile::masked(to)));
            audit::record(portal, caller, entry).await;
        }
    }
}

/// Makes the first attempt at a queued notice and records how it went.
pub async fn deliver(
    portal: &Portal,
    caller: &Caller,
    account_id: AccountId,
    to: &str,
    queued: NoticeQueued,
) {
    let (id, last) = match queued {
        NoticeQueued::Queued(id) => (id, false),
        NoticeQueued::Last(id) => (id, true),
        NoticeQueued::OverCap => {
            crate::metrics::limit_refused(LimitKind::SmsNotice.as_str());
            let entry = Entry::new(Event::MobileChangeNotice, Outcome::Limited)
                .account(account_id)
                .detail(format!(
                    "to {}: past the number's notices for the day; told by email only",
                    mobile::masked(to)
                ));
            audit::record(portal, caller, entry).await;
            return;
        }
    };
    let outcome = match portal.outbox.deliver_now(id, Duration::from_secs(2)).await {
        Delivery::Sent | Delivery::NotMine => Outcome::Ok,
        Delivery::WillRetry(_) => Outcome::Retrying,
        Delivery::Failed(_) => Outcome::Failed,
    };
    let detail = match last {
        false => format!("to {}", mobile::masked(to)),
        true => format!(
            "to {}: the day's last notice to this number, saying more changes were made",
            mobile::masked(to)
        ),
    };
    let entry = Entry::new(Event::MobileChangeNotice, outcome)
        .account(account_id)
        .detail(detail);
    audit::record(portal, caller, entry).await;
}

/// Emails the patient, if they gave an address. A slow mail server holds the request up for two
/// seconds at most; the attempt carries on behind it, and is audited.
pub async fn email(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
    subject: &str,
    body: String,
) {
    let Some(to) = patient.email.clone() else {
        return;
    };
    // Only to an address its owner confirmed: an address someone else typed gets nothing.
    match portal.store.email_confirmed(patient.id, &to).await {
        Ok(true) => email_to(portal, caller, patient.id, to, subject, body).await,
        Ok(false) => {}
        Err(err) => tracing::error!(%err, "reading an email confirmation"),
    }
}

/// "Confirm your email address", to the address just given.
pub async fn confirm_your_email(
    portal: &Portal,
    caller: &Caller,
    account_id: AccountId,
    given_name: &str,
    to: &str,
    link: &str,
) {
    let body = format!(
        "Hello {given_name},\n\nPlease confirm this is your email address for your {} patient portal, so that we can tell you of changes to how you sign in. Open this link within 24 hours, and choose \"Confirm\":\n{link}\n\nIf you didn't give this address, you can ignore this email.\n",
        portal.practice().practice_name,
    );
    let subject = "Confirm your email address";
    email_to(portal, caller, account_id, to.to_string(), subject, body).await;
}

/// A new address replaced `old`: the old one is told, whether or not it was confirmed.
pub async fn email_address_changed(portal: &Portal, caller: &Caller, patient: &Patient, old: &str) {
    let body = format!(
        "Hello {},\n\nThe email address on your {} patient portal account was changed, and this address will no longer hear from it.\n\nIf this wasn't you, please {} now.\n",
        patient.given_name,
        portal.practice().practice_name,
        contact_the_practice(portal),
    );
    let subject = "Your email address was changed";
    email_to(portal, caller, patient.id, old.to_string(), subject, body).await;
}

/// Sends an email to `to`, audited, waiting at most 2 seconds for the mailer.
async fn email_to(
    portal: &Portal,
    caller: &Caller,
    account_id: AccountId,
    to: String,
    subject: &str,
    body: String,
) {
    let (portal, caller) = (portal.clone(), caller.clone());
    let email = Email {
        to,
        subject: subject.to_string(),
        body,
    };
    let sending = tokio::spawn(async move {
        let outcome = match portal.mailer.send(&email).await {
            Ok(()) => Outcome::Ok,
            Err(err) => {
                tracing::warn!(%err, "an email notice could not be sent");
                Outcome::Failed
            }
        };
        let entry = Entry::new(Event::MobileChangeEmail, outcome)
            .account(account_id)
            .detail(email.subject);
        audit::record(&portal, &caller, entry).await;
    });
    let _ = tokio::time::timeout(Duration::from_secs(2), sending).await;
}

/// "contact the practice" and how, to end every message that sends a patient to support.
pub fn contact_the_practice(portal: &Portal) -> String {
    portal.practice().contact_the_practice()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsm7;

    /// The longest a practice's name in texts and its host may be.
    const NAME: &str = "Harbour Health Family Practice";
    const HOST: &str = "patients.harbourhealthfamilypractice.org";

    fn link() -> String {
        let url = format!("https://{HOST}/").parse().unwrap();
        secure_link(url, &crate::session::new_short_token())
    }

    /// Every text the portal sends, as long as it can be.
    fn every_text() -> Vec<String> {
        let mut texts = vec![
            crate::sms::code_message(NAME, "268981", 600, HOST),
            last_text_for(NAME),
            new_number_added_for(NAME, "4321"),
            notice_text(NAME, &codes_now_go_to("+64277654321"), Some(&link())),
            notice_text(NAME, &codes_now_go_to("+64277654321"), None),
            caregiver_access_ends(NAME, "2027-03-01"),
            caregiver_renewal_due(NAME, "2027-03-01"),
            caregiver_access_ended(NAME),
        ];
        for change in Change::ALL {
            texts.push(notice_text(NAME, change.what(), Some(&link())));
            texts.push(notice_text(NAME, change.what(), None));
        }
        for notice in PracticeNotice::ALL {
            texts.push(practice_acted_text(NAME, notice));
        }
        texts
    }

    #[test]
    fn every_text_is_one_gsm7_segment_with_the_longest_name_and_host() {
        assert_eq!(NAME.len(), crate::portal::NAME_IN_TEXTS_MOST);
        assert_eq!(HOST.len(), 40);
        for text in every_text() {
            let septets = gsm7::septets(&text);
            assert!(septets.is_some(), "outside GSM-7: {text}");
            assert!(
                septets.unwrap() <= gsm7::SEGMENT,
                "{} septets: {text}",
                septets.unwrap()
            );
            assert_eq!(gsm7::segments(&text), 1, "{text}");
            assert!(
                text.starts_with(NAME) || text.starts_with("268981 is your"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_code_text_starts_with_the_code_and_ends_with_its_origin_line() {
        let text = crate::sms::code_message(NAME, "268981", 600, HOST);
        assert_eq!(
            text,
            format!("268981 is your {NAME} code. It expires in 10 minutes. Don't share it.\n\n@{HOST} #268981")
        );
    }
}
