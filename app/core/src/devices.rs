//! Remembered devices. After a code, a patient may ask not to be asked for one on this browser
//! for the practice's number of days. The browser keeps 256 random bits in a cookie of its own;
//! the database keeps only their SHA-256, with the account. A remembered device skips the code,
//! never the password. It is forgotten when the password or the verified number changes, when
//! the practice ends the patient's sessions or resets their number, when the patient says so, and
//! when its days are up.

use crate::{
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    clock::{Millis, DAY},
    portal::Portal,
    session::{self, describe},
    store::AccountId,
    store::{DeviceRow, StoreError},
};

/// The most days a practice may let a device skip the code.
pub const MOST_DAYS: i64 = 90;

/// A device just remembered: the browser must be given `token`, kept for `kept_for`.
pub struct Remembered {
    pub token: String,
    pub kept_for: Millis,
}

/// How long the practice lets a device skip the code now; `None` when it doesn't.
fn kept_for(portal: &Portal) -> Option<Millis> {
    let days = portal.practice().remember_device_days.clamp(0, MOST_DAYS);
    (days > 0).then_some(days * DAY)
}

/// Remembers the caller's browser for the account, if the practice offers it. A token this
/// browser held for the same account before is forgotten, so the list shows the browser once.
pub async fn remember(
    portal: &Portal,
    caller: &Caller,
    account_id: AccountId,
) -> Result<Option<Remembered>, StoreError> {
    let Some(kept_for) = kept_for(portal) else {
        return Ok(None);
    };
    if let Some(old) = &caller.device_token {
        let old = session::hash_id(old);
        portal
            .store
            .forget_device(account_id, Some(&old), None)
            .await?;
    }
    let token = session::new_id();
    let now = portal.now();
    let description = describe(caller.user_agent.as_deref());
    portal
        .store
        .remember_device(
            account_id,
            &session::hash_id(&token),
            &description,
            now,
            now + kept_for,
        )
        .await?;
    let entry = Entry::new(Event::DeviceRemembered, Outcome::Ok)
        .account(account_id)
        .detail(description);
    audit::record(portal, caller, entry).await;
    Ok(Some(Remembered { token, kept_for }))
}

/// A remembered device the caller's cookie named, and the token that replaces the one it held.
pub struct Recognised {
    pub device: DeviceRow,
    /// The browser must be given this in place of its old token, kept for `kept_for`.
    pub renewed: Remembered,
}

/// The account's device the caller's cookie names, if it is still remembered: then the code is
/// skipped, the device's last use is now, and its token is replaced, so a copy of the cookie
/// taken earlier stops working once the device is used. A token of another account, a
/// forgotten one, or one older than the practice's number of days (as it is now) counts for
/// nothing, and so does one another request has just used.
pub async fn recognised(
    portal: &Portal,
    caller: &Caller,
    account_id: AccountId,
) -> Result<Option<Recognised>, StoreError> {
    let (Some(kept_for), Some(token)) = (kept_for(portal), &caller.device_token) else {
        return Ok(None);
    };
    let now = portal.now();
    let old = session::hash_id(token);
    let device = portal
        .store
        .remembered_device(account_id, &old, now)
        .await?
        .filter(|device| device.created_at + kept_for > now);
    let Some(device) = device else {
        return Ok(None);
    };
    let new_token = session::new_id();
    if !portal
        .store
        .device_used(device.id, &old, &session::hash_id(&new_token), now)
        .await?
    {
        return Ok(None);
    }
    let renewed = Remembered {
        token: new_token,
        kept_for: device.created_at + kept_for - now,
    };
    Ok(Some(Recognised { device, renewed }))
}

/// Why every device of an account is forgotten, for the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgotten {
    PasswordChanged,
    NumberChanged,
    /// The practice ended the patient's sessions or reset their number.
    ByThePractice,
    /// "Forget all devices".
    ByThePatient,
    /// A recovery code began a recovery (a lost phone).
    Recovery,
}

impl Forgotten {
    fn as_str(self) -> &'static str {
        match self {
            Forgotten::PasswordChanged => "the password changed",
            Forgotten::NumberChanged => "the verified number changed",
            Forgotten::ByThePractice => "by the practice",
            Forgotten::ByThePatient => "by the patient",
            Forgotten::Recovery => "a recovery code was used",
        }
    }
}

/// Forgets every remembered device of the account, audited when there were any. Returns how
/// many were forgotten.
pub async fn forget_all(
    portal: &Portal,
    caller: &Caller,
    account_id: AccountId,
    why: Forgotten,
) -> Result<u64, StoreError> {
    let forgotten = portal.store.forget_devices(account_id).await?;
    record_forgotten(portal, caller, account_id, forgotten, why).await;
    Ok(forgotten)
}

/// Audits that `forgotten` devices of the account were forgotten, if any were.
pub async fn record_forgotten(
    portal: &Portal,
    caller: &Caller,
    account_id: AccountId,
    forgotten: u64,
    why: Forgotten,
) {
    if forgotten > 0 {
        let entry = Entry::new(Event::DevicesForgotten, Outcome::Ok)
            .account(account_id)
            .detail(format!("{forgotten} forgotten: {}", why.as_str()));
        audit::record(portal, caller, entry).await;
    }
}

/// Forgets one device of the account: the caller's own (`None`), or the one with this ID.
/// Returns whether there was one to forget.
pub async fn forget_one(
    portal: &Portal,
    caller: &Caller,
    account_id: AccountId,
    id: Option<i64>,
) -> Result<bool, StoreError> {
    let own = match id {
        Some(_) => None,
        None => caller.device_token.as_deref().map(session::hash_id),
    };
    if id.is_none() && own.is_none() {
        return Ok(false);
    }
    let forgotten = portal
        .store
        .forget_device(account_id, own.as_deref(), id)
        .await?
        > 0;
    if forgotten {
        let entry = Entry::new(Event::DevicesForgotten, Outcome::Ok)
            .account(account_id)
            .detail("1 forgotten: by the patient");
        audit::record(portal, caller, entry).await;
    }
    Ok(forgotten)
}
