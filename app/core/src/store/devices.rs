//! Remembered devices: browsers where a patient's next sign-in needs the password only. Kept by
//! the hash of the token in their cookie.

use super::AccountId;
use super::{Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeviceRow {
    pub id: i64,
    pub account_id: AccountId,
    pub token_hash: String,
    pub description: String,
    pub created_at: Millis,
    pub last_used_at: Millis,
    pub expires_at: Millis,
}

const COLUMNS: &str =
    "id, account_id, token_hash, description, created_at, last_used_at, expires_at";

impl Store {
    pub async fn remember_device(
        &self,
        account_id: AccountId,
        token_hash: &str,
        description: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO remembered_devices (account_id, token_hash, description, created_at, \
             last_used_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(account_id)
        .bind(token_hash)
        .bind(description)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The account's device with this token, if it is still remembered at `now`. A token of
    /// another account is nobody's here.
    pub async fn remembered_device(
        &self,
        account_id: AccountId,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<DeviceRow>, StoreError> {
        Ok(sqlx::query_as::<_, DeviceRow>(&format!(
            "SELECT {COLUMNS} FROM remembered_devices \
             WHERE token_hash = $1 AND account_id = $2 AND expires_at > $3"
        ))
        .bind(token_hash)
        .bind(account_id)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// A remembered device used: its token is replaced by `new_token_hash`, if it is still
    /// `old_token_hash`. `false` when another request used the same token first, so of two
    /// browsers holding one token (the patient's and a copy), only one goes on.
    pub async fn device_used(
        &self,
        id: i64,
        old_token_hash: &str,
        new_token_hash: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE remembered_devices SET last_used_at = $1, token_hash = $2 \
             WHERE id = $3 AND token_hash = $4",
        )
        .bind(now)
        .bind(new_token_hash)
        .bind(id)
        .bind(old_token_hash)
        .execute(&self.writer)
        .await?
        .rows_affected()
            == 1)
    }

    /// The account's remembered devices, most recently used first.
    pub async fn remembered_devices(
        &self,
        account_id: AccountId,
        now: Millis,
    ) -> Result<Vec<DeviceRow>, StoreError> {
        Ok(sqlx::query_as::<_, DeviceRow>(&format!(
            "SELECT {COLUMNS} FROM remembered_devices WHERE account_id = $1 AND expires_at > $2 \
             ORDER BY last_used_at DESC, id DESC"
        ))
        .bind(account_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Forgets one device of the account: the one with this token, or this ID. Returns how many
    /// were forgotten (0 or 1).
    pub async fn forget_device(
        &self,
        account_id: AccountId,
        token_hash: Option<&str>,
        id: Option<i64>,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM remembered_devices WHERE account_id = $1 \
             AND (token_hash = $2 OR id = $3)",
        )
        .bind(account_id)
        .bind(token_hash.unwrap_or_default())
        .bind(id.unwrap_or(-1))
        .execute(&self.writer)
        .await?
        .rows_affected())
    }

    /// Forgets every device of the account. Returns how many were forgotten.
    pub async fn forget_devices(&self, account_id: AccountId) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM remembered_devices WHERE account_id = $1")
                .bind(account_id)
                .execute(&self.writer)
                .await?
                .rows_affected(),
        )
    }
}
