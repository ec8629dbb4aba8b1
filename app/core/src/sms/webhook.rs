//! A generic JSON webhook, for practices whose SMS gateway is their own:
//! `POST {url}` with `{"to", "body", "id"}`, signed `X-Portal-Signature: sha256=<hex HMAC of the
//! body>` under the shared secret. `Idempotency-Key` carries the message id, the same on every
//! attempt, so a gateway can drop repeats.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{
    twilio::{classify, http_client, transport_error},
    Accepted, SendFuture, Sms, SmsSender,
};

pub struct WebhookSms {
    url: String,
    secret: String,
    http: reqwest::Client,
}

/// The signature a gateway should compute over the raw request body.
pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl WebhookSms {
    pub fn new(url: String, secret: String, request_timeout: std::time::Duration) -> Self {
        Self {
            url,
            secret,
            http: http_client(request_timeout),
        }
    }
}

impl SmsSender for WebhookSms {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn send<'a>(&'a self, sms: &'a Sms) -> SendFuture<'a> {
        Box::pin(async move {
            let body = serde_json::to_vec(&serde_json::json!({
                "to": sms.to,
                "body": sms.body,
                "id": sms.id.to_string(),
            }))
            .map_err(|e| super::SendError::Permanent(e.to_string()))?;
            let reply = self
                .http
                .post(&self.url)
                .header("content-type", "application/json")
                .header("x-portal-signature", webhook_signature(&self.secret, &body))
                .header("idempotency-key", format!("sms-{}", sms.id))
                .body(body)
                .send()
                .await
                .map_err(transport_error)?;
            let status = reply.status();
            let text = reply.text().await.unwrap_or_default();
            if status.is_success() {
                let provider_ref = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_string));
                Ok(Accepted { provider_ref })
            } else {
                Err(classify(status, text.chars().take(200).collect()))
            }
        })
    }
}
