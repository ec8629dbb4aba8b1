//! Twilio's Messages API (`POST {base}/2010-04-01/Accounts/{sid}/Messages.json`), and the
//! delivery-status callbacks it sends back, checked against `X-Twilio-Signature`.

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{Accepted, SendError, SendFuture, Sms, SmsSender};

/// Who the message comes from: a number, or a messaging service that picks one.
#[derive(Debug, Clone)]
pub enum TwilioSender {
    From(String),
    MessagingService(String),
}

#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// `https://api.twilio.com` in production; tests point it at a local stand-in.
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: String,
    pub sender: TwilioSender,
    /// Where Twilio reports delivery (`{PORTAL_PUBLIC_URL}/sms/status`).
    pub status_callback: Option<String>,
    /// The longest one attempt may take; a slower answer counts as a temporary failure.
    pub request_timeout: Duration,
}

pub struct TwilioSms {
    config: TwilioConfig,
    http: reqwest::Client,
}

/// The longest a provider may take to accept a connection, and to answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub fn http_client(request_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(request_timeout))
        .timeout(request_timeout)
        .build()
        .expect("an HTTP client with timeouts")
}

/// How an HTTP failure should be treated: worth retrying or not.
pub(super) fn classify(status: reqwest::StatusCode, detail: String) -> SendError {
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        SendError::Transient(format!("{status}: {detail}"))
    } else {
        SendError::Permanent(format!("{status}: {detail}"))
    }
}

pub(super) fn transport_error(err: reqwest::Error) -> SendError {
    // Timeouts and refused connections pass; the request itself never reached a decision.
    SendError::Transient(format!("could not reach the provider: {err}"))
}

impl TwilioSms {
    pub fn new(config: TwilioConfig) -> Self {
        Self {
            http: http_client(config.request_timeout),
            config,
        }
    }

    fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.base_url.trim_end_matches('/'),
            self.config.account_sid
        )
    }
}

impl SmsSender for TwilioSms {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn send<'a>(&'a self, sms: &'a Sms) -> SendFuture<'a> {
        Box::pin(async move {
            let mut form = vec![("To", sms.to.as_str()), ("Body", sms.body.as_str())];
            match &self.config.sender {
                TwilioSender::From(number) => form.push(("From", number)),
                TwilioSender::MessagingService(sid) => form.push(("MessagingServiceSid", sid)),
            }
            if let Some(callback) = &self.config.status_callback {
                form.push(("StatusCallback", callback));
            }
            let reply = self
                .http
                .post(self.messages_url())
                .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
                .form(&form)
                .send()
                .await
                .map_err(transport_error)?;
            let status = reply.status();
            let body: serde_json::Value = reply.json().await.unwrap_or_default();
            if status.is_success() {
                Ok(Accepted {
                    provider_ref: body["sid"].as_str().map(str::to_string),
                })
            } else {
                let detail = body["message"].as_str().unwrap_or("no detail").to_string();
                Err(classify(status, detail))
            }
        })
    }
}

/// `X-Twilio-Signature`: base64 of HMAC-SHA1, keyed by the auth token, over the callback URL
/// followed by every POST parameter's name and value, sorted by name.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks Twilio's delivery callbacks; only Twilio, holding the auth token, can sign them.
#[derive(Debug, Clone)]
pub struct StatusCallbacks {
    pub auth_token: String,
    /// The URL Twilio calls, exactly as given to it in `StatusCallback`.
    pub url: String,
}

impl StatusCallbacks {
    pub fn is_genuine(&self, signature: &str, params: &[(String, String)]) -> bool {
        let expected = twilio_signature(&self.auth_token, &self.url, params);
        let Ok(given) = STANDARD.decode(signature) else {
            return false;
        };
        let Ok(expected) = STANDARD.decode(expected) else {
            return false;
        };
        // Constant time, like every other secret comparison here.
        given.len() == expected.len()
            && given
                .iter()
                .zip(&expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_twilios_published_example() {
        // From Twilio's "Validating requests" documentation.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let signature = twilio_signature(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
        );
        assert_eq!(signature, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        let callbacks = StatusCallbacks {
            auth_token: "12345".into(),
            url: "https://mycompany.com/myapp.php?foo=1&bar=2".into(),
        };
        assert!(callbacks.is_genuine(&signature, &params));
        assert!(!callbacks.is_genuine("0/KCTR6DLpKmkAf8muzZqo1nDgR=", &params));
        assert!(!callbacks.is_genuine("not base64!", &params));
    }
}
