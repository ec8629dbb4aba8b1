//! Saved recovery codes: one per account, only its slow hash.

use super::sessions::{store_session, StillSo};
use super::{AccountId, SessionRow, Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecoveryCodeRow {
    pub code_hash: String,
    pub made_at: Millis,
    /// When a recovery by code last began.
    pub recovered_at: Option<Millis>,
}

/// What beginning a recovery took away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryBegun {
    pub devices_forgotten: u64,
    pub sessions_ended: u64,
}

impl Store {
    pub async fn recovery_code(
        &self,
        account_id: AccountId,
    ) -> Result<Option<RecoveryCodeRow>, StoreError> {
        Ok(sqlx::query_as::<_, RecoveryCodeRow>(
            "SELECT code_hash, made_at, recovered_at FROM recovery_codes WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Saves a new recovery code in place of any other: `true` if it replaced one.
    pub async fn save_recovery_code(
        &self,
        account_id: AccountId,
        code_hash: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        // One statement: two saves at once can't both insert.
        let replaced: Option<i64> =
            sqlx::query_scalar("SELECT made_at FROM recovery_codes WHERE account_id = $1")
                .bind(account_id)
                .fetch_optional(&self.writer)
                .await?;
        sqlx::query(
            "INSERT INTO recovery_codes (account_id, code_hash, made_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET code_hash = excluded.code_hash, \
             made_at = excluded.made_at",
        )
        .bind(account_id)
        .bind(code_hash)
        .bind(now)
        .execute(&self.writer)
        .await?;
        let replaced = replaced.is_some();
        Ok(replaced)
    }

    /// Spends the code whose hash is `spent` and keeps `new` in its place, if `spent` is still
    /// the account's: of two uses of one code at once, one finds it gone (`false`).
    pub async fn replace_spent_recovery_code(
        &self,
        account_id: AccountId,
        spent: &str,
        new: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let replaced = sqlx::query(
            "UPDATE recovery_codes SET code_hash = $1, made_at = $2 \
             WHERE account_id = $3 AND code_hash = $4",
        )
        .bind(new)
        .bind(now)
        .bind(account_id)
        .bind(spent)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(replaced == 1)
    }

    /// A recovery by code, in one transaction: the spent code replaced by `new` (if `spent` is
    /// still the account's; else nothing happens and `None`), every remembered device
    /// forgotten, every session of the account ended, and the recovery session stored.
    pub async fn begin_recovery(
        &self,
        account_id: AccountId,
        spent: &str,
        new: &str,
        session: &SessionRow,
    ) -> Result<Option<RecoveryBegun>, StoreError> {
        let now = session.created_at;
        let mut tx = self.writer.begin().await?;
        let replaced = sqlx::query(
            "UPDATE recovery_codes SET code_hash = $1, made_at = $2, recovered_at = $2 \
             WHERE account_id = $3 AND code_hash = $4",
        )
        .bind(new)
        .bind(now)
        .bind(account_id)
        .bind(spent)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if replaced != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let devices_forgotten = sqlx::query("DELETE FROM remembered_devices WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let sessions_ended = sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        store_session(&mut tx, None, session, StillSo::Anything).await?;
        tx.commit().await?;
        Ok(Some(RecoveryBegun {
            devices_forgotten,
            sessions_ended,
        }))
    }

    /// Until when "Make signing in easier" is put off, if it was.
    pub async fn nudge_hidden_until(
        &self,
        account_id: AccountId,
    ) -> Result<Option<Millis>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT hidden_until FROM sign_in_nudges WHERE account_id = $1")
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// "Not now": the nudge is put off until `until`.
    pub async fn hide_nudge(&self, account_id: AccountId, until: Millis) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sign_in_nudges (account_id, hidden_until) VALUES ($1, $2) \
             ON CONFLICT (account_id) DO UPDATE SET hidden_until = excluded.hidden_until",
        )
        .bind(account_id)
        .bind(until)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
