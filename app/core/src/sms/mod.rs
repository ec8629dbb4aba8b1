//! Text messages: the provider trait, the providers, and the durable outbox that feeds them.

pub mod circuits;
mod console;
mod outbox;
pub mod twilio;
pub mod webhook;

use std::{future::Future, pin::Pin};

pub use console::ConsoleSms;
pub use outbox::{Delivery, Route, SmsOutbox};
pub use twilio::{StatusCallbacks, TwilioConfig, TwilioSender, TwilioSms};
pub use webhook::WebhookSms;

/// One message on its way to a provider. `id` is the outbox row: providers use it to make
/// repeated attempts of the same message recognisable.
pub struct Sms {
    pub id: i64,
    pub to: String,
    pub body: String,
}

/// The provider took the message; `provider_ref` is its own id for it, if it gave one.
#[derive(Debug, Default)]
pub struct Accepted {
    pub provider_ref: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again: timeouts, connection failures, 5xx.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Trying again will not help: an invalid number, bad credentials.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Accepted, SendError>> + Send + 'a>>;

/// A way of getting a text message to a phone. The server picks one from configuration.
pub trait SmsSender: Send + Sync + 'static {
    /// `console`, `twilio` or `webhook`.
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, sms: &'a Sms) -> SendFuture<'a>;
}

/// The text of a code message: the code first, where a phone's notification shows it, and last
/// the line that binds it to the portal's host, so browsers offer it for autofill on that site
/// only. `name` is the practice's "Name in texts".
pub fn code_message(name: &str, code: &str, ttl_seconds: i64, host: &str) -> String {
    let minutes = (ttl_seconds + 59) / 60;
    let lifetime = if minutes == 1 {
        "1 minute".to_string()
    } else {
        format!("{minutes} minutes")
    };
    format!(
        "{code} is your {name} code. It expires in {lifetime}. Don't share it.\n\n@{host} #{code}"
    )
}

/// Provider error text with every phone number in it masked to its last three digits, so
/// numbers don't linger in the outbox's records or the log.
pub fn mask_numbers_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 6 {
            out.push_str("***");
            out.push_str(&digits[digits.len() - 3..]);
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_provider_errors_are_masked() {
        assert_eq!(
            mask_numbers_in("400: The 'To' number +64215550123 is not a valid phone number"),
            "400: The 'To' number +***123 is not a valid phone number"
        );
        assert_eq!(mask_numbers_in("503: try in 30 s"), "503: try in 30 s");
    }

    #[test]
    fn the_code_message_ends_with_the_origin_bound_line() {
        let text = code_message("Harbour Health", "123456", 600, "portal.example.org");
        assert!(text.starts_with("123456 is your Harbour Health code. It expires in 10 minutes."));
        assert!(text.contains("Don't share it."));
        assert!(text.ends_with("\n@portal.example.org #123456"));
    }
}
