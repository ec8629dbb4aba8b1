//! Alerts by email to the practice's admins: the text fraud guard's blocks and the daily text
//! budget at 80 %. Each goes only to an address its admin confirmed by a link (`staff::alerts`),
//! so an address someone else typed gets nothing. The log and the metrics have each alert too.

use std::time::Duration;

use crate::{mail::Email, portal::Portal};

/// Emails every admin with a confirmed address. A slow mail server holds the caller up for two
/// seconds at most; the sending carries on behind it.
pub async fn send(portal: &Portal, subject: &str, body: String) {
    let portal = portal.clone();
    let subject = format!("{}: {subject}", portal.practice().practice_name);
    let sending = tokio::spawn(async move {
        let to = match portal.store.admin_alert_emails().await {
            Ok(to) => to,
            Err(err) => {
                tracing::warn!(%err, "reading the admins' addresses for alerts");
                return;
            }
        };
        for to in to {
            let email = Email {
                to,
                subject: subject.clone(),
                body: body.clone(),
            };
            if let Err(err) = portal.mailer.send(&email).await {
                tracing::warn!(%err, "an alert to an admin could not be sent");
            }
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(2), sending).await;
}
