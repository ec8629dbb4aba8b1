//! Limits against SMS pumping (someone making the portal text numbers they profit from) and
//! plain abuse: per account, per number, per client IP and per day. They are checked, and the
//! send counted, in the same transaction that queues the message (`Store::issue_challenge`),
//! before any provider call. The country allow-list is enforced earlier, when the number is read.

use crate::{
    error::{OrInternal, PortalError},
    portal::{Millis, Portal, HOUR, SECOND},
    request,
    store::LimitWindow,
};

const DAY: Millis = 24 * HOUR;

/// One limit on sending, with what to tell the patient when it is reached.
pub struct SendLimit {
    pub window: LimitWindow,
    span: Millis,
    message: fn(wait: &str) -> String,
}

impl SendLimit {
    /// The patient's message and the seconds until the window has room again.
    pub fn refusal(&self, oldest: Option<Millis>, now: Millis) -> (String, u64) {
        let wait = (oldest.unwrap_or(now) + self.span - now).max(SECOND);
        (
            (self.message)(&wait_text(wait)),
            ((wait + SECOND - 1) / SECOND) as u64,
        )
    }
}

fn wait_text(wait: Millis) -> String {
    let minutes = (wait + 59 * SECOND) / (60 * SECOND);
    match minutes {
        0 | 1 => "a minute".into(),
        m if m < 90 => format!("{m} minutes"),
        m => format!("{} hours", (m + 59) / 60),
    }
}

/// The limits on texting `number` for `account_id`. A number verified on this account is
/// counted for this account alone, so that nobody else can use up its daily allowance and keep
/// the patient from signing in.
pub fn for_send(
    portal: &Portal,
    account_id: i64,
    number: &str,
    verified_here: bool,
) -> Vec<SendLimit> {
    let limits = &portal.settings.limits;
    let now = portal.now();
    let number_subject = if verified_here {
        format!("{number} verified by {account_id}")
    } else {
        number.to_string()
    };
    let limit = |kind, subject: String, span, limit, message| SendLimit {
        window: LimitWindow {
            kind,
            subject,
            since: now - span,
            limit,
        },
        span,
        message,
    };
    vec![
        limit(
            "sms_account",
            account_id.to_string(),
            HOUR,
            limits.sends_per_account_hour,
            |wait| {
                format!("You've asked for a lot of codes. For your security, please wait {wait} before asking again, or contact the practice.")
            },
        ),
        limit(
            "sms_number",
            number_subject,
            DAY,
            limits.sends_per_number_day,
            |wait| {
                format!("This number has had as many codes as we can send it today. Please try again in {wait}, or contact the practice.")
            },
        ),
        limit(
            "sms_ip",
            request::client_ip(),
            HOUR,
            limits.sends_per_ip_hour,
            |wait| {
                format!("Too many codes have been asked for from your network. Please try again in {wait}.")
            },
        ),
        limit(
            "sms_all",
            "portal".into(),
            DAY,
            limits.sends_per_day,
            |wait| {
                format!("The portal has sent all the text messages it can today. Please try again in {wait}, or contact the practice.")
            },
        ),
    ]
}

/// Refuses with 429 if a limit is already reached, without counting anything: for checks before
/// a change that should not happen when no code can follow it.
pub async fn precheck(portal: &Portal, limits: &[SendLimit]) -> Result<(), PortalError> {
    let windows: Vec<LimitWindow> = limits.iter().map(|l| l.window.clone()).collect();
    let full = portal
        .store
        .limit_reached(&windows)
        .await
        .or_internal("counting text messages")?;
    match full {
        None => Ok(()),
        Some(full) => {
            let (message, wait) = limits[full.window].refusal(full.oldest, portal.now());
            Err(PortalError::too_many_requests(message, wait))
        }
    }
}
