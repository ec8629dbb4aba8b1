//! Sending a code, and the notices that go with number changes: the first delivery attempt is
//! made before the patient gets an answer, so they hear at once if the text cannot go.

use std::time::Duration;

use super::{
    challenge::{self, Notice, Purpose},
    CodeSent,
};
use crate::{
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    error::{Error, ErrorKind, OrInternal},
    limits::texts::{self as limits, Recipient},
    mobile::{self, Mobile},
    portal::Portal,
    session::Session,
    sms::Delivery,
};

pub use crate::notify::contact_the_practice;

/// How long "Send Code" waits for the provider before answering anyway.
const SEND_PATIENCE: Duration = Duration::from_secs(4);

pub const SEND_FAILED: &str =
    "We couldn't send the text right now — try again in a moment, or contact support";

/// Texts a new code for `purpose` to `mobile`, unless the cooldown or a limit forbids it (both
/// checked, and the send counted, before anything is sent).
pub async fn send_code_to(
    portal: &Portal,
    caller: &Caller,
    session: &Session,
    purpose: Purpose,
    mobile: &Mobile,
    recipient: Recipient,
) -> Result<CodeSent, Error> {
    send_code_with_notice(portal, caller, session, purpose, mobile, recipient, None).await
}

/// As `send_code_to`, with a `notice` that is queued and counted with the code, so it goes
/// exactly once for each code issued, and never when the code is refused.
pub async fn send_code_with_notice(
    portal: &Portal,
    caller: &Caller,
    session: &Session,
    purpose: Purpose,
    mobile: &Mobile,
    recipient: Recipient,
    notice: Option<&Notice>,
) -> Result<CodeSent, Error> {
    let account_id = session.account_id;
    // The guard first: a blocked send is neither sent nor counted against the limits.
    if recipient == Recipient::Unproven {
        if let Err(refused) = crate::fraud_guard::check(portal, caller, mobile).await {
            let entry = Entry::new(Event::CodeSent, Outcome::Limited)
                .account(account_id)
                .detail(format!(
                    "to {}: the text fraud guard blocks its prefix or country",
                    mobile::masked(mobile.e164())
                ));
            audit::record(portal, caller, entry).await;
            return Err(refused);
        }
    }
    let limits = limits::for_send(portal, caller, account_id, mobile.e164(), recipient);
    let issued = match challenge::create_with_notice(
        portal, session, purpose, mobile, &limits, notice,
    )
    .await
    {
        Ok(issued) => issued,
        Err(err) => {
            if matches!(err, challenge::ChallengeError::Limited(_)) {
                let entry = Entry::new(Event::CodeSent, Outcome::Limited)
                    .account(account_id)
                    .detail(err.to_string());
                audit::record(portal, caller, entry).await;
            }
            return Err(err.into());
        }
    };
    if recipient == Recipient::Unproven {
        crate::fraud_guard::note_sent(portal, caller, mobile).await;
    }
    let resend_in_seconds = issued.resend_in_seconds;
    let code_mac = issued.code_mac;
    // The notice first, as the old number's holder should hear of a change before any code
    // for it can arrive.
    if let Some((notice, queued)) = notice.zip(issued.notice) {
        crate::notify::deliver(portal, caller, notice.account_id, &notice.to, queued).await;
    }
    let delivery = portal
        .outbox
        .send_now(issued.sms, issued.route, issued.give_up_at, SEND_PATIENCE)
        .await;
    let outcome = match &delivery {
        Delivery::Sent | Delivery::NotMine => Outcome::Ok,
        Delivery::WillRetry(_) => Outcome::Retrying,
        Delivery::Failed(_) => Outcome::Failed,
    };
    let entry = Entry::new(Event::CodeSent, outcome)
        .account(account_id)
        .detail(format!("to {}", mobile::masked(mobile.e164())));
    audit::record(portal, caller, entry).await;
    match delivery {
        Delivery::Sent | Delivery::NotMine => Ok(CodeSent {
            mobile_ending: mobile.ending(),
            resend_in_seconds,
        }),
        // It may still arrive: the code stands, and so does the cooldown.
        Delivery::WillRetry(_) => Err(Error::too_many_requests(SEND_FAILED, resend_in_seconds)
            .with_kind(ErrorKind::Unavailable)),
        // It never will: withdraw the code so the patient can ask again at once.
        Delivery::Failed(_) => {
            portal
                .store
                .withdraw_challenge(&session.id_hash, purpose, &code_mac)
                .await
                .or_internal("withdrawing an unsent code")?;
            Err(Error::new(ErrorKind::Unavailable, SEND_FAILED))
        }
    }
}
