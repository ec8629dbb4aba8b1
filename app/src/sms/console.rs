//! The development provider: messages go to the log and to the dev outbox (`GET /dev/sms`).
//! The server refuses to start it when the portal is served over HTTPS.

use super::{Accepted, SendFuture, Sms, SmsSender};
use crate::portal::{Clock, SystemClock};
use crate::store::{DevSms, Store};

pub struct ConsoleSms {
    store: Store,
}

impl ConsoleSms {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

impl SmsSender for ConsoleSms {
    fn name(&self) -> &'static str {
        "console"
    }

    fn send<'a>(&'a self, sms: &'a Sms) -> SendFuture<'a> {
        Box::pin(async move {
            tracing::info!(to = %sms.to, body = %sms.body, "text message (console provider: not really sent)");
            self.store
                .record_dev_sms(&DevSms {
                    to_number: sms.to.clone(),
                    body: sms.body.clone(),
                    sent_at: SystemClock.now(),
                })
                .await
                .map_err(|e| super::SendError::Transient(e.to_string()))?;
            Ok(Accepted {
                provider_ref: Some(format!("console-{}", sms.id)),
            })
        })
    }
}
