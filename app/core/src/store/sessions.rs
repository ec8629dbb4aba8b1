//! Browser sessions, keyed by the hash of their cookie.

use super::AccountId;
use super::{practice::PRACTICE_SETTINGS_LOCK, Store, StoreError};
use crate::{clock::Millis, sign_in::Stage};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    pub account_id: AccountId,
    #[sqlx(try_from = "String")]
    pub stage: Stage,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub expires_at: Millis,
    /// Browser and platform, for the patient's list of where they are signed in.
    pub device: Option<String>,
    /// When the patient last proved who they are with a code or a passkey in this session.
    pub proved_at: Option<Millis>,
}

/// What must still be so when a session is stored, checked by the statement that stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StillSo {
    Anything,
    /// The session it replaces is still there: a step up from a session that something ended
    /// meanwhile ("Secure my account", the practice, a logout) begins nothing.
    Replacing,
    /// The account's remembered device with this ID is still remembered.
    Remembered(i64),
    /// The account's passkey with this ID is still there (its row was just updated).
    Passkey(i64),
}

/// Stores `new` in the caller's transaction, dropping the session it replaces, if `still`
/// holds: `false` (nothing stored, and the transaction left to be rolled back) when it doesn't.
pub(super) async fn store_session(
    tx: &mut sqlx::AnyConnection,
    old_id_hash: Option<&str>,
    new: &SessionRow,
    still: StillSo,
) -> Result<bool, StoreError> {
    let replaced = match old_id_hash {
        Some(old) => sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(old)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        None => 0,
    };
    if still == StillSo::Replacing && replaced != 1 {
        return Ok(false);
    }
    let (condition, id) = match still {
        StillSo::Anything | StillSo::Replacing => ("", None),
        StillSo::Remembered(device) => (
            " WHERE EXISTS (SELECT 1 FROM remembered_devices WHERE id = $9 AND account_id = $2 \
             AND expires_at > $4)",
            Some(device),
        ),
        StillSo::Passkey(passkey) => (
            " WHERE EXISTS (SELECT 1 FROM passkeys WHERE id = $9 AND account_id = $2)",
            Some(passkey),
        ),
    };
    let sql = format!(
        "INSERT INTO sessions (id_hash, account_id, stage, created_at, last_seen_at, \
         expires_at, device, proved_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8{condition}"
    );
    let mut insert = sqlx::query(&sql)
        .bind(&new.id_hash)
        .bind(new.account_id)
        .bind(new.stage.as_str())
        .bind(new.created_at)
        .bind(new.last_seen_at)
        .bind(new.expires_at)
        .bind(&new.device)
        .bind(new.proved_at);
    if let Some(id) = id {
        insert = insert.bind(id);
    }
    let inserted = insert.execute(&mut *tx).await?.rows_affected();
    Ok(inserted == 1)
}

impl Store {
    /// Stores a new session and, in the same transaction, drops the one it replaces: each step up
    /// gets a fresh ID and the old cookie stops working.
    pub async fn replace_session(
        &self,
        old_id_hash: Option<&str>,
        new: &SessionRow,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        store_session(&mut tx, old_id_hash, new, StillSo::Anything).await?;
        tx.commit().await?;
        Ok(())
    }

    /// As `replace_session`, only while the session it replaces is still there: `false`
    /// (nothing stored) when something ended it since the request read it.
    pub async fn replace_live_session(
        &self,
        old_id_hash: &str,
        new: &SessionRow,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        if !store_session(&mut tx, Some(old_id_hash), new, StillSo::Replacing).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// As `replace_session`, only while the practice's two-factor switch is stored as off:
    /// `false` (nothing stored) when it is on. The practice settings' lock is taken first, as a
    /// save of them takes it, so a save switching it on either sees this session (and ends it)
    /// or is seen here.
    pub async fn replace_session_while_two_factor_off(
        &self,
        old_id_hash: Option<&str>,
        new: &SessionRow,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        super::serialize(&mut tx, self.engine, vec![PRACTICE_SETTINGS_LOCK.into()]).await?;
        let two_factor: Option<i64> =
            sqlx::query_scalar("SELECT two_factor FROM practice_settings WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await?;
        // Before the first start has stored the settings, the instance's own switch said off.
        if two_factor.is_some_and(|on| on != 0) {
            tx.rollback().await?;
            return Ok(false);
        }
        store_session(&mut tx, old_id_hash, new, StillSo::Anything).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// As `replace_session`, only while remembered device `device_id` of the account is: the
    /// check and the insert are one statement, so a device forgotten at the same moment can't
    /// let a session through. `false` (nothing stored) when it is forgotten or past its days.
    pub async fn replace_session_while_remembered(
        &self,
        old_id_hash: Option<&str>,
        new: &SessionRow,
        device_id: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        if !store_session(&mut tx, old_id_hash, new, StillSo::Remembered(device_id)).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A passkey sign-in's session: the passkey's row takes what webauthn-rs updated (counter,
    /// backup state) and when it was used, and the session is stored in the statement that finds
    /// the passkey still there, in one transaction. Updating the row first holds it, so a removal
    /// at the same moment either waits and then ends this session with the others, or went first
    /// and leaves nothing to update: `false`, and no session.
    pub async fn begin_session_with_passkey(
        &self,
        old_id_hash: Option<&str>,
        new: &SessionRow,
        passkey_id: i64,
        passkey: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let used = sqlx::query(
            "UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3 AND account_id = $4",
        )
        .bind(passkey)
        .bind(new.created_at)
        .bind(passkey_id)
        .bind(new.account_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if used != 1
            || !store_session(&mut tx, old_id_hash, new, StillSo::Passkey(passkey_id)).await?
        {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        Ok(sqlx::query_as::<_, SessionRow>(
            "SELECT id_hash, account_id, stage, created_at, last_seen_at, expires_at, device, \
             proved_at FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn touch_session(&self, id_hash: &str, at: Millis) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(at)
            .bind(id_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Ends every session of the account but `keep` (the one making the change). Returns how
    /// many ended.
    pub async fn delete_other_sessions(
        &self,
        account_id: AccountId,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id_hash <> $2")
                .bind(account_id)
                .bind(keep.unwrap_or_default())
                .execute(&self.writer)
                .await?
                .rows_affected(),
        )
    }

    /// The account's sessions that have not ended by `now`, most recently active first.
    pub async fn sessions_of(
        &self,
        account_id: AccountId,
        now: Millis,
    ) -> Result<Vec<SessionRow>, StoreError> {
        Ok(sqlx::query_as::<_, SessionRow>(
            "SELECT id_hash, account_id, stage, created_at, last_seen_at, expires_at, device, \
             proved_at FROM sessions WHERE account_id = $1 AND expires_at > $2 \
             ORDER BY last_seen_at DESC, created_at DESC",
        )
        .bind(account_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends one session of the account. `false` if the account has no such session.
    pub async fn delete_session_of(
        &self,
        account_id: AccountId,
        id_hash: &str,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id_hash = $2")
                .bind(account_id)
                .bind(id_hash)
                .execute(&self.writer)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Records that the session's patient proved who they are at `at` (a code or a passkey).
    pub async fn session_proved(
        &self,
        id_hash: &str,
        at: Option<Millis>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET proved_at = $1 WHERE id_hash = $2")
            .bind(at)
            .bind(id_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
