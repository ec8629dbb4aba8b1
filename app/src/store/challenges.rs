//! One-time-code challenges, and the writes that must happen together with them.

use super::{limits::LimitReached, LimitWindow, Store, StoreError};
use crate::portal::Millis;

/// Why a code was not issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueRefused {
    /// The previous code is too recent; another may go then.
    Cooldown {
        ready_at: Millis,
    },
    Limit(LimitReached),
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRow {
    pub account_id: i64,
    pub purpose: String,
    pub mobile: String,
    pub code_mac: String,
    pub sent_at: Millis,
    pub expires_at: Millis,
    pub failed_attempts: i64,
    pub sms_id: Option<i64>,
}

impl Store {
    pub async fn challenge(
        &self,
        account_id: i64,
        purpose: &str,
    ) -> Result<Option<ChallengeRow>, StoreError> {
        Ok(sqlx::query_as::<_, ChallengeRow>(
            "SELECT account_id, purpose, mobile, code_mac, sent_at, expires_at, failed_attempts, \
             sms_id FROM challenges WHERE account_id = $1 AND purpose = $2",
        )
        .bind(account_id)
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Replaces any earlier code for the same account and purpose, queues the text that carries
    /// the new one (already claimed by this sender, to go at once), and counts the send against
    /// the limits, all in one transaction: a code is never live without its message. The
    /// cooldown (`cooldown` after the previous code) and the limits are checked in the same
    /// transaction, so parallel requests can't all slip through. Returns the message's id.
    pub async fn issue_challenge(
        &self,
        challenge: &ChallengeRow,
        sealed_body: &str,
        cooldown: Millis,
        limits: &[LimitWindow],
        lease_until: Millis,
    ) -> Result<Result<i64, IssueRefused>, StoreError> {
        let now = challenge.sent_at;
        let mut tx = self.writer.begin().await?;
        let previous: Option<Millis> = sqlx::query_scalar(
            "SELECT sent_at FROM challenges WHERE account_id = $1 AND purpose = $2",
        )
        .bind(challenge.account_id)
        .bind(&challenge.purpose)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(ready_at) = previous.map(|sent| sent + cooldown).filter(|r| *r > now) {
            return Ok(Err(IssueRefused::Cooldown { ready_at }));
        }
        if let Some(full) = super::limits::first_reached(&mut tx, limits).await? {
            return Ok(Err(IssueRefused::Limit(full)));
        }
        super::limits::insert_events(&mut tx, limits, now).await?;
        let sms_id = super::outbox::insert_claimed_sms(
            &mut tx,
            &challenge.mobile,
            sealed_body,
            now,
            challenge.expires_at,
            lease_until,
        )
        .await?;
        sqlx::query(
            "INSERT INTO challenges (account_id, purpose, mobile, code_mac, sent_at, expires_at, \
             failed_attempts, sms_id) VALUES ($1, $2, $3, $4, $5, $6, 0, $7) \
             ON CONFLICT (account_id, purpose) DO UPDATE SET mobile = excluded.mobile, \
               code_mac = excluded.code_mac, sent_at = excluded.sent_at, \
               expires_at = excluded.expires_at, failed_attempts = 0, sms_id = excluded.sms_id",
        )
        .bind(challenge.account_id)
        .bind(&challenge.purpose)
        .bind(&challenge.mobile)
        .bind(&challenge.code_mac)
        .bind(now)
        .bind(challenge.expires_at)
        .bind(sms_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(sms_id))
    }

    /// Uses up one of the live challenge's tries, atomically, and returns it to be checked. `None`
    /// if there is no live challenge with tries left. Every try counts, right or wrong (a right
    /// one ends the challenge anyway), so guesses sent in parallel get no more than `max_tries`.
    pub async fn take_a_try(
        &self,
        account_id: i64,
        purpose: &str,
        max_tries: i64,
        now: Millis,
    ) -> Result<Option<ChallengeRow>, StoreError> {
        Ok(sqlx::query_as::<_, ChallengeRow>(
            "UPDATE challenges SET failed_attempts = failed_attempts + 1 \
             WHERE account_id = $1 AND purpose = $2 AND failed_attempts < $3 AND expires_at > $4 \
             RETURNING account_id, purpose, mobile, code_mac, sent_at, expires_at, \
               failed_attempts, sms_id",
        )
        .bind(account_id)
        .bind(purpose)
        .bind(max_tries)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// Uses up the challenge and records its number as the account's verified mobile, in one
    /// transaction. `false` if the challenge was already used (a double submit): codes work once.
    pub async fn consume_challenge_and_verify_mobile(
        &self,
        challenge: &ChallengeRow,
        verified_at: Millis,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let consumed = sqlx::query(
            "DELETE FROM challenges WHERE account_id = $1 AND purpose = $2 AND code_mac = $3",
        )
        .bind(challenge.account_id)
        .bind(&challenge.purpose)
        .bind(&challenge.code_mac)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if consumed != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE accounts SET mobile = $1, mobile_verified_at = $2 WHERE id = $3")
            .bind(&challenge.mobile)
            .bind(verified_at)
            .bind(challenge.account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Withdraws a code whose text could not be sent, so the patient can ask again at once.
    pub async fn withdraw_challenge(
        &self,
        account_id: i64,
        purpose: &str,
        code_mac: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM challenges WHERE account_id = $1 AND purpose = $2 AND code_mac = $3",
        )
        .bind(account_id)
        .bind(purpose)
        .bind(code_mac)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
