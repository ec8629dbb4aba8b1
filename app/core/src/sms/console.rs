//! The development provider: messages go to the log and to the dev outbox (`GET /dev/sms`).
//! The server refuses to start it when the portal is served over HTTPS.

use std::sync::Arc;

use super::{Accepted, SendFuture, Sms, SmsSender};
use crate::{
    clock::Clock,
    store::{DevSms, Store},
};

pub struct ConsoleSms {
    store: Store,
    /// The portal's clock, so the dev outbox's times agree with the rest of its records.
    clock: Arc<dyn Clock>,
}

impl ConsoleSms {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
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
                    sent_at: self.clock.now(),
                })
                .await
                .map_err(|e| super::SendError::Transient(e.to_string()))?;
            Ok(Accepted {
                provider_ref: Some(format!("console-{}", sms.id)),
            })
        })
    }
}
