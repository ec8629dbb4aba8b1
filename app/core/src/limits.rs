//! Sliding-window limits against guessing and abuse: registrations, logins and text messages all
//! use this one type. The store checks a limit and counts the event in the same transaction as
//! the write it guards, so parallel requests can't all slip past it.

use crate::{
    clock::{whole_seconds, Millis, MINUTE, SECOND},
    error::Error,
};

/// What a limit counts. Stored as text in `limit_events.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    FailedLoginIp,
    LoginAccount,
    LoginIp,
    RegistrationIp,
    SmsAccount,
    SmsNumber,
    /// Texts to one verified number across every account that shares it.
    SmsVerifiedNumber,
    SmsIp,
    SmsAll,
    /// Security notices to one number: their own cap, which codes can't use up.
    SmsNotice,
    /// Passkey ceremonies begun from one network: each one keeps a row for 5 minutes.
    PasskeyIp,
}

impl LimitKind {
    pub const ALL: [LimitKind; 11] = [
        LimitKind::FailedLoginIp,
        LimitKind::LoginAccount,
        LimitKind::LoginIp,
        LimitKind::RegistrationIp,
        LimitKind::SmsAccount,
        LimitKind::SmsNumber,
        LimitKind::SmsVerifiedNumber,
        LimitKind::SmsIp,
        LimitKind::SmsAll,
        LimitKind::SmsNotice,
        LimitKind::PasskeyIp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::FailedLoginIp => "failed_login_ip",
            LimitKind::LoginAccount => "login_account",
            LimitKind::LoginIp => "login_ip",
            LimitKind::RegistrationIp => "registration_ip",
            LimitKind::SmsAccount => "sms_account",
            LimitKind::SmsNumber => "sms_number",
            LimitKind::SmsVerifiedNumber => "sms_verified_number",
            LimitKind::SmsIp => "sms_ip",
            LimitKind::SmsAll => "sms_all",
            LimitKind::SmsNotice => "sms_notice",
            LimitKind::PasskeyIp => "passkey_ip",
        }
    }
}

/// At most `max` events of `kind` for `subject` in any `span`, with what to tell the person who
/// reaches it. The message is given the wait in words ("3 minutes").
#[derive(Debug, Clone)]
pub struct Limit {
    pub kind: LimitKind,
    pub subject: String,
    pub span: Millis,
    pub max: i64,
    /// The window's start: `span` before now.
    pub since: Millis,
    message: fn(wait: &str) -> String,
}

impl Limit {
    pub fn new(
        kind: LimitKind,
        subject: impl Into<String>,
        span: Millis,
        max: i64,
        now: Millis,
        message: fn(wait: &str) -> String,
    ) -> Self {
        Self {
            kind,
            subject: subject.into(),
            span,
            max,
            since: now - span,
            message,
        }
    }

    /// How long until the window has room again, given when its oldest counted event was.
    pub fn wait(&self, oldest: Option<Millis>, now: Millis) -> Millis {
        (oldest.unwrap_or(now) + self.span - now).max(SECOND)
    }

    /// The 429 for someone who has reached this limit.
    pub fn refusal(&self, oldest: Option<Millis>, now: Millis) -> Error {
        let wait = self.wait(oldest, now);
        crate::metrics::limit_refused(self.kind.as_str());
        Error::too_many_requests((self.message)(&wait_text(wait)), whole_seconds(wait))
    }
}

/// A wait as a person would say it: "40 seconds", "3 minutes", "2 hours".
pub fn wait_text(wait: Millis) -> String {
    let seconds = whole_seconds(wait);
    let minutes = (wait.max(0) + MINUTE - 1) / MINUTE;
    match seconds {
        0..=1 => "1 second".into(),
        2..=90 => format!("{seconds} seconds"),
        _ if minutes < 90 => format!("{minutes} minutes"),
        _ => format!("{} hours", (minutes + 59) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::HOUR;

    #[test]
    fn waits_read_as_a_person_would_say_them() {
        assert_eq!(wait_text(1), "1 second");
        assert_eq!(wait_text(40 * SECOND), "40 seconds");
        assert_eq!(wait_text(90 * SECOND + 1), "2 minutes");
        assert_eq!(wait_text(59 * MINUTE), "59 minutes");
        assert_eq!(wait_text(3 * HOUR - MINUTE), "3 hours");
    }

    #[test]
    fn a_refusal_says_how_long_to_wait_until_the_oldest_event_leaves_the_window() {
        let now = 10 * HOUR;
        let limit = Limit::new(LimitKind::SmsIp, "203.0.113.7", HOUR, 3, now, |wait| {
            format!("wait {wait}")
        });
        let refusal = limit.refusal(Some(now - HOUR + 2 * MINUTE), now);
        assert_eq!(refusal.message, "wait 2 minutes");
        assert_eq!(refusal.retry_after_seconds, Some(120));
        assert_eq!(limit.since, now - HOUR);
    }
}
