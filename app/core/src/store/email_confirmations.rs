//! Email addresses confirmed by a link, and the links waiting.

use super::{AccountId, Store, StoreError};
use crate::clock::Millis;

impl Store {
    /// Whether `email` is the address account `account_id` confirmed.
    pub async fn email_confirmed(
        &self,
        account_id: AccountId,
        email: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT account_id FROM email_confirmations \
             WHERE account_id = $1 AND email = $2 AND confirmed_at IS NOT NULL",
        )
        .bind(account_id)
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// A new address waits for its link: any confirmation of another address is gone.
    pub async fn await_email_confirmation(
        &self,
        account_id: AccountId,
        email: &str,
        token_hash: &str,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO email_confirmations (account_id, email, token_hash, expires_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE SET \
             email = excluded.email, token_hash = excluded.token_hash, \
             expires_at = excluded.expires_at, confirmed_at = NULL",
        )
        .bind(account_id)
        .bind(email)
        .bind(token_hash)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// When the link waiting for an unconfirmed address runs out, if one waits.
    pub async fn email_link_expires(
        &self,
        account_id: AccountId,
    ) -> Result<Option<Millis>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT expires_at FROM email_confirmations \
             WHERE account_id = $1 AND confirmed_at IS NULL AND expires_at IS NOT NULL",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Whether a link still waits: unused, in time, for the address the account still has.
    pub async fn email_link_waits(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT account_id FROM email_confirmations WHERE {WAITING}"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// The link confirms its address: the account's id, or `None` if it no longer waits.
    pub async fn confirm_email(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<AccountId>, StoreError> {
        Ok(sqlx::query_scalar(&format!(
            "UPDATE email_confirmations SET confirmed_at = $2, token_hash = NULL \
             WHERE {WAITING} RETURNING account_id"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?)
    }
}

/// A link waiting (`$1` its hash, `$2` now) for the address its account still has.
const WAITING: &str = "token_hash = $1 AND expires_at > $2 AND confirmed_at IS NULL \
     AND email = (SELECT email FROM accounts WHERE accounts.id = email_confirmations.account_id)";
