//! "Email for alerts" on the overview: an admin gives an address, which is confirmed by a link
//! (24 hours, only its hash kept) before any alert goes there (`crate::admin_alerts`). Opening
//! the link changes nothing; "Confirm", signed in as that admin, does.

use super::StaffVisit;
use crate::{
    account::Email,
    audit::{self, Entry, Event, Outcome},
    clock::{Millis, DAY, MINUTE},
    error::{Error, ErrorKind, OrInternal},
    portal::Portal,
};

/// How long a link to confirm an address for alerts works.
pub const CONFIRM_LINK_LASTS: Millis = DAY;
/// A new link waits this long after the last one still waiting.
pub const RESEND_AFTER: Millis = MINUTE;

/// Where this admin's alerts go, if anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertEmail {
    pub email: Option<String>,
    /// Alerts go there only once confirmed.
    pub confirmed: bool,
}

pub async fn alert_email(portal: &Portal, visit: &StaffVisit) -> Result<AlertEmail, Error> {
    let row = portal
        .store
        .alert_email(visit.member.id)
        .await
        .or_internal("reading an address for alerts")?;
    Ok(AlertEmail {
        confirmed: row.as_ref().is_some_and(|r| r.confirmed_at.is_some()),
        email: row.map(|r| r.email),
    })
}

/// A new address (emailed a link to confirm it), or none (no alerts by email).
pub async fn set_alert_email(
    portal: &Portal,
    visit: &StaffVisit,
    typed: &str,
) -> Result<AlertEmail, Error> {
    let email = Email::parse_optional(Some(typed)).map_err(|e| Error::field("email", e))?;
    let id = visit.member.id;
    let Some(email) = email else {
        portal
            .store
            .remove_alert_email(id)
            .await
            .or_internal("removing an address for alerts")?;
        record(portal, visit, "no alerts by email".into()).await;
        return Ok(AlertEmail::default());
    };
    let token = crate::session::new_short_token();
    let now = portal.now();
    let expires = now + CONFIRM_LINK_LASTS;
    let hash = crate::session::hash_id(&token);
    // At most one link a minute: a stolen cookie can't fill someone's inbox.
    let kept = portal
        .store
        .set_alert_email(id, email.as_str(), &hash, expires, expires - RESEND_AFTER)
        .await
        .or_internal("keeping an address for alerts")?;
    if !kept {
        return Err(Error::too_many_requests(
            "We've just sent a link. Please wait a minute before asking for another.",
            crate::clock::whole_seconds(RESEND_AFTER),
        ));
    }
    record(
        portal,
        visit,
        format!("alerts to {}, once confirmed", email.as_str()),
    )
    .await;
    let mut link = portal.settings.public_url.clone();
    link.set_path("/staff/overview");
    link.set_query(Some(&format!("confirm_alerts={token}")));
    let body = format!(
        "Hello {},\n\nPlease confirm this address for alerts from the {} patient portal: the text fraud guard's blocks, and the daily text budget at 80 %. Open this link within 24 hours, signed in as {}, and choose \"Confirm\":\n{link}\n\nIf you didn't ask for this, you can ignore this email.\n",
        visit.member.username,
        portal.practice().practice_name,
        visit.member.username,
    );
    let confirm = crate::mail::Email {
        to: email.as_str().to_string(),
        subject: "Confirm your address for alerts".into(),
        body,
    };
    if let Err(err) = portal.mailer.send(&confirm).await {
        tracing::warn!(%err, "a link to confirm an address for alerts could not be sent");
    }
    Ok(AlertEmail {
        email: Some(email.as_str().to_string()),
        confirmed: false,
    })
}

pub const ALERT_LINK_SPENT: &str = "This link has expired or was already used, or it is another admin's. Please give your address again under \"Email for alerts\".";

/// "Confirm": the link's address gets alerts from now on, if the link is this admin's.
pub async fn confirm_alert_email(
    portal: &Portal,
    visit: &StaffVisit,
    token: &str,
) -> Result<(), Error> {
    let hash = crate::session::hash_id(token.trim());
    let email = portal
        .store
        .confirm_alert_email(visit.member.id, &hash, portal.now())
        .await
        .or_internal("confirming an address for alerts")?
        .ok_or_else(|| Error::new(ErrorKind::Forbidden, ALERT_LINK_SPENT))?;
    record(portal, visit, format!("alerts to {email}, confirmed")).await;
    Ok(())
}

async fn record(portal: &Portal, visit: &StaffVisit, detail: String) {
    let entry = Entry::new(Event::AlertEmailChanged, Outcome::Ok)
        .staff(visit.member.id)
        .detail(detail);
    audit::record(portal, &visit.caller, entry).await;
}
