//! "This wasn't me" links, and the hold that "Secure my account" puts on an account.

use super::{AccountId, Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WasntMeRow {
    pub account_id: AccountId,
    /// When the change it tells of was made.
    pub made_at: Millis,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

/// What "Secure my account" took away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Secured {
    pub sessions: u64,
    pub devices: u64,
    pub passkeys: u64,
    /// The verified number was set after the change, and is gone.
    pub number: bool,
    pub recovery_code: bool,
    /// Caregivers' grants made since the change, ended.
    pub caregivers: u64,
}

impl Store {
    pub async fn save_wasnt_me_link(
        &self,
        token_hash: &str,
        account_id: AccountId,
        made_at: Millis,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wasnt_me_links (token_hash, account_id, made_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(account_id)
        .bind(made_at)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn wasnt_me_link(&self, token_hash: &str) -> Result<Option<WasntMeRow>, StoreError> {
        Ok(sqlx::query_as::<_, WasntMeRow>(
            "SELECT account_id, made_at, expires_at, used_at FROM wasnt_me_links \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// "Secure my account", in one transaction, if the link is still unused (`None` otherwise):
    /// the link spent, every session ended, every remembered device forgotten, the passkeys
    /// and the verified number added since `since` removed, the recovery code spent, and the
    /// account held.
    pub async fn secure_account(
        &self,
        token_hash: &str,
        account_id: AccountId,
        since: Millis,
        now: Millis,
    ) -> Result<Option<Secured>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let spent = sqlx::query(
            "UPDATE wasnt_me_links SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if spent != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let mut secured = Secured::default();
        let a = account_id;
        secured.sessions = change(
            &mut tx,
            "DELETE FROM sessions WHERE account_id = $1",
            a,
            None,
        )
        .await?;
        secured.devices = change(
            &mut tx,
            "DELETE FROM remembered_devices WHERE account_id = $1",
            a,
            None,
        )
        .await?;
        secured.passkeys = change(
            &mut tx,
            "DELETE FROM passkeys WHERE account_id = $1 AND created_at >= $2",
            a,
            Some(since),
        )
        .await?;
        secured.recovery_code = change(
            &mut tx,
            "DELETE FROM recovery_codes WHERE account_id = $1",
            a,
            None,
        )
        .await?
            > 0;
        secured.number = change(
            &mut tx,
            "UPDATE accounts SET mobile = NULL, mobile_verified_at = NULL, pending_mobile = NULL, \
             first_number_at_login = 0 WHERE id = $1 AND mobile_verified_at >= $2",
            a,
            Some(since),
        )
        .await?
            > 0;
        change(
            &mut tx,
            "DELETE FROM challenges WHERE account_id = $1",
            a,
            None,
        )
        .await?;
        // A caregiver added since the change goes with it; the invitations still open go too.
        secured.caregivers = sqlx::query(
            "UPDATE caregiver_grants SET ended_at = $3, ended_by = 'patient' \
             WHERE patient_id = $1 AND began_at >= $2 AND ended_at IS NULL",
        )
        .bind(account_id)
        .bind(since)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE caregiver_invitations SET ended_at = $2, ended_as = 'cancelled' \
             WHERE patient_id = $1 AND ended_at IS NULL",
        )
        .bind(account_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // Two links used at once hold it once.
        sqlx::query(
            "INSERT INTO account_holds (account_id, held_at) VALUES ($1, $2) \
             ON CONFLICT (account_id) DO NOTHING",
        )
        .bind(account_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(secured))
    }

    /// When the account was held, if it is.
    pub async fn held_since(&self, account_id: AccountId) -> Result<Option<Millis>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT held_at FROM account_holds WHERE account_id = $1")
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The practice lifts a hold: `false` if there was none.
    pub async fn lift_hold(&self, account_id: AccountId) -> Result<bool, StoreError> {
        let lifted = sqlx::query("DELETE FROM account_holds WHERE account_id = $1")
            .bind(account_id)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(lifted == 1)
    }
}

/// One statement about account `account` (`$1`), and `since` (`$2`) if given: the rows changed.
async fn change(
    tx: &mut sqlx::AnyConnection,
    sql: &str,
    account: AccountId,
    since: Option<Millis>,
) -> Result<u64, StoreError> {
    let mut query = sqlx::query(sql).bind(account);
    if let Some(since) = since {
        query = query.bind(since);
    }
    Ok(query.execute(&mut *tx).await?.rows_affected())
}
