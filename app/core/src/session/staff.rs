//! Staff sessions, apart from patients': their own cookie, a shorter idle timeout, and no
//! pending stage (staff sign in with password and authenticator code in one step).

use super::{hash_id, new_id};
use crate::store::StaffId;
use crate::{
    clock::{Millis, HOUR, SECOND},
    portal::Portal,
    store::{StaffSessionRow, StoreError},
};

/// A staff session ends after this long, however active.
const ABSOLUTE: Millis = 10 * HOUR;
/// Activity is written back at most this often.
const TOUCH_EVERY: Millis = 15 * SECOND;

#[derive(Debug, Clone)]
pub struct StaffSession {
    pub id_hash: String,
    pub staff_id: StaffId,
    /// When the staff member signed in: with their password and a second factor.
    pub created_at: Millis,
}

/// The staff session a cookie value stands for, if it exists and has not timed out.
pub async fn load(portal: &Portal, cookie: &str) -> Result<Option<StaffSession>, StoreError> {
    let id_hash = hash_id(cookie);
    let Some(row) = portal.store.staff_session(&id_hash).await? else {
        return Ok(None);
    };
    let now = portal.now();
    let idle = portal.settings.staff_idle_seconds * SECOND;
    if now >= row.expires_at || now - row.last_seen_at >= idle {
        portal.store.delete_staff_session(&id_hash).await?;
        return Ok(None);
    }
    if now - row.last_seen_at >= TOUCH_EVERY {
        portal.store.touch_staff_session(&id_hash, now).await?;
    }
    Ok(Some(StaffSession {
        id_hash,
        staff_id: row.staff_id,
        created_at: row.created_at,
    }))
}

/// Starts a staff session (replacing `previous`); returns the cookie's value.
pub async fn begin(
    portal: &Portal,
    staff_id: StaffId,
    previous: Option<&StaffSession>,
) -> Result<String, StoreError> {
    let value = new_id();
    let now = portal.now();
    let row = StaffSessionRow {
        id_hash: hash_id(&value),
        staff_id,
        created_at: now,
        last_seen_at: now,
        expires_at: now + ABSOLUTE,
    };
    portal
        .store
        .begin_staff_session(previous.map(|s| s.id_hash.as_str()), &row)
        .await?;
    Ok(value)
}

pub async fn end(portal: &Portal, session: &StaffSession) -> Result<(), StoreError> {
    portal.store.delete_staff_session(&session.id_hash).await
}
