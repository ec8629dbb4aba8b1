//! Limits against SMS pumping (someone making the portal text numbers they profit from) and
//! plain abuse: per account, per number, per client IP and per day, checked before anything is
//! sent. The country allow-list is enforced earlier, when the number is read.

use crate::{
    error::{OrInternal, PortalError},
    portal::{Millis, Portal, HOUR, SECOND},
    request,
};

const DAY: Millis = 24 * HOUR;

struct Window {
    kind: &'static str,
    subject: String,
    span: Millis,
    limit: i64,
    message: fn(wait: &str) -> String,
}

fn wait_text(wait: Millis) -> String {
    let minutes = (wait + 59 * SECOND) / (60 * SECOND);
    match minutes {
        0 | 1 => "a minute".into(),
        m if m < 90 => format!("{m} minutes"),
        m => format!("{} hours", (m + 59) / 60),
    }
}

fn windows(portal: &Portal, account_id: i64, number: &str) -> [Window; 4] {
    let limits = &portal.settings.limits;
    [
        Window {
            kind: "sms_account",
            subject: account_id.to_string(),
            span: HOUR,
            limit: limits.sends_per_account_hour,
            message: |wait| {
                format!("You've asked for a lot of codes. For your security, please wait {wait} before asking again, or contact the practice.")
            },
        },
        Window {
            kind: "sms_number",
            subject: number.to_string(),
            span: DAY,
            limit: limits.sends_per_number_day,
            message: |wait| {
                format!("This number has had as many codes as we can send it today. Please try again in {wait}, or contact the practice.")
            },
        },
        Window {
            kind: "sms_ip",
            subject: request::client_ip(),
            span: HOUR,
            limit: limits.sends_per_ip_hour,
            message: |wait| {
                format!("Too many codes have been asked for from your network. Please try again in {wait}.")
            },
        },
        Window {
            kind: "sms_all",
            subject: "portal".into(),
            span: DAY,
            limit: limits.sends_per_day,
            message: |wait| {
                format!("The portal has sent all the text messages it can today. Please try again in {wait}, or contact the practice.")
            },
        },
    ]
}

/// What a send counts against: (kind, subject) for each limit.
pub type Counted = Vec<(&'static str, String)>;

/// Refuses with 429 if any limit is reached. Otherwise returns what this send counts against;
/// it is counted in the same transaction that queues the message.
pub async fn check(portal: &Portal, account_id: i64, number: &str) -> Result<Counted, PortalError> {
    let now = portal.now();
    let windows = windows(portal, account_id, number);
    let asked: Vec<(&str, &str, Millis)> = windows
        .iter()
        .map(|w| (w.kind, w.subject.as_str(), now - w.span))
        .collect();
    let counts = portal
        .store
        .count_limit_windows(&asked)
        .await
        .or_internal("counting text messages")?;
    for (window, (count, oldest)) in windows.iter().zip(counts) {
        if count >= window.limit {
            let wait = (oldest.unwrap_or(now) + window.span - now).max(SECOND);
            request::audit(
                portal,
                Some(account_id),
                "code_sent",
                "limited",
                Some(window.kind.into()),
            )
            .await;
            return Err(PortalError::too_many_requests(
                (window.message)(&wait_text(wait)),
                ((wait + SECOND - 1) / SECOND) as u64,
            ));
        }
    }
    Ok(windows.into_iter().map(|w| (w.kind, w.subject)).collect())
}
