//! One-time-code challenges, and the writes that must happen together with them. A challenge
//! belongs to the session that asked for it.

use super::kinds::CodePurpose;
use super::AccountId;
use super::Limit;
use super::{
    limit_key,
    limits::LimitReached,
    outbox::{CappedNotice, NoticeQueued},
    serialize, Store, StoreError,
};
use crate::clock::Millis;

/// What became of a code asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// Issued, with the messages queued for it.
    Issued(IssuedSms),
    /// Not issued: the previous code is too recent; another may go then.
    Cooldown { ready_at: Millis },
    /// Not issued: one of the code's limits is full.
    Limited(LimitReached),
}

/// The messages queued for an issued code: the code's, claimed to be sent at once, and the
/// notice's, if any, for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedSms {
    pub code: i64,
    pub notice: Option<NoticeQueued>,
    /// The code's text goes first through the provider after this one.
    pub after_provider: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRow {
    pub session_id_hash: String,
    #[sqlx(try_from = "String")]
    pub purpose: CodePurpose,
    pub account_id: AccountId,
    pub mobile: String,
    pub code_mac: String,
    pub sent_at: Millis,
    pub expires_at: Millis,
    pub failed_attempts: i64,
    pub sms_id: Option<i64>,
}

const CHALLENGE_COLUMNS: &str = "session_id_hash, purpose, account_id, mobile, code_mac, \
     sent_at, expires_at, failed_attempts, sms_id";

/// An account whose verified number is already `$1`, with nothing pending for it.
const UNCHANGED: &str = "(mobile_verified_at IS NOT NULL AND mobile = $1 \
     AND first_number_at_login = 0 AND pending_mobile IS DISTINCT FROM $1)";

impl Store {
    pub async fn challenge(
        &self,
        session_id_hash: &str,
        purpose: CodePurpose,
    ) -> Result<Option<ChallengeRow>, StoreError> {
        Ok(sqlx::query_as::<_, ChallengeRow>(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM challenges \
             WHERE session_id_hash = $1 AND purpose = $2"
        ))
        .bind(session_id_hash)
        .bind(purpose.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Replaces any earlier code for the same session and purpose, queues the text that carries
    /// the new one (already claimed by this sender, to go at once), and counts the send against
    /// the limits, all in one transaction: a code is never live without its message. The
    /// cooldown (`cooldown` after the previous code) and the limits are checked in the same
    /// transaction, so parallel requests can't all slip through. A `notice` is queued in the
    /// same transaction under its own cap: it goes once for each code, never without one, and
    /// never holds the code back. When the step's last text went through a provider more than
    /// `failover_wait` ago and wasn't reported delivered, the new one starts at the next.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_challenge(
        &self,
        challenge: &ChallengeRow,
        sealed_body: &str,
        cooldown: Millis,
        failover_wait: Millis,
        limits: &[Limit],
        notice: Option<&CappedNotice<'_>>,
        lease_until: Millis,
    ) -> Result<Issue, StoreError> {
        let now = challenge.sent_at;
        let mut tx = self.writer.begin().await?;
        let mut keys: Vec<String> = limits.iter().map(limit_key).collect();
        if let Some(notice) = notice {
            keys.extend([limit_key(notice.cap), limit_key(notice.budget)]);
        }
        keys.push(format!(
            "challenge:{}:{}",
            challenge.session_id_hash,
            challenge.purpose.as_str()
        ));
        serialize(&mut tx, self.engine, keys).await?;
        type Previous = (Millis, Option<String>, Option<Millis>, Option<String>);
        let previous: Option<Previous> = sqlx::query_as(
            "SELECT c.sent_at, o.provider, o.sent_at, o.delivery_status FROM challenges c \
             LEFT JOIN sms_outbox o ON o.id = c.sms_id \
             WHERE c.session_id_hash = $1 AND c.purpose = $2",
        )
        .bind(&challenge.session_id_hash)
        .bind(challenge.purpose.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(ready_at) = previous
            .as_ref()
            .map(|p| p.0 + cooldown)
            .filter(|r| *r > now)
        {
            return Ok(Issue::Cooldown { ready_at });
        }
        let after_provider = previous.and_then(|(_, provider, sent_at, delivery)| {
            let delivered = matches!(delivery.as_deref(), Some("delivered" | "read"));
            let waited = sent_at.is_some_and(|at| at + failover_wait <= now);
            provider.filter(|_| waited && !delivered)
        });
        if let Some(full) = super::limits::first_reached(&mut tx, limits).await? {
            return Ok(Issue::Limited(full));
        }
        super::limits::insert_events(&mut tx, limits, now).await?;
        let notice_id = match notice {
            Some(notice) => Some(super::outbox::insert_capped_notice(&mut tx, notice).await?),
            None => None,
        };
        let sms_id = super::outbox::insert_claimed_sms(
            &mut tx,
            &super::outbox::NewSms {
                account_id: Some(challenge.account_id),
                to: &challenge.mobile,
                sealed_body,
                now,
                give_up_at: challenge.expires_at,
                purpose: challenge.purpose.as_str(),
                after_provider: after_provider.as_deref(),
            },
            lease_until,
        )
        .await?;
        sqlx::query(
            "INSERT INTO challenges (session_id_hash, purpose, account_id, mobile, code_mac, \
             sent_at, expires_at, failed_attempts, sms_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) \
             ON CONFLICT (session_id_hash, purpose) DO UPDATE SET mobile = excluded.mobile, \
               code_mac = excluded.code_mac, sent_at = excluded.sent_at, \
               expires_at = excluded.expires_at, failed_attempts = 0, sms_id = excluded.sms_id",
        )
        .bind(&challenge.session_id_hash)
        .bind(challenge.purpose.as_str())
        .bind(challenge.account_id)
        .bind(&challenge.mobile)
        .bind(&challenge.code_mac)
        .bind(now)
        .bind(challenge.expires_at)
        .bind(sms_id)
        .execute(&mut *tx)
        .await?;
        self.notify_outbox(&mut tx).await?;
        tx.commit().await?;
        Ok(Issue::Issued(IssuedSms {
            code: sms_id,
            notice: notice_id,
            after_provider,
        }))
    }

    /// Uses up one of the live challenge's tries, atomically, and returns it to be checked. `None`
    /// if there is no live challenge with tries left. Every try counts, right or wrong (a right
    /// one ends the challenge anyway), so guesses sent in parallel get no more than `max_tries`.
    pub async fn take_a_try(
        &self,
        session_id_hash: &str,
        purpose: CodePurpose,
        max_tries: i64,
        now: Millis,
    ) -> Result<Option<ChallengeRow>, StoreError> {
        Ok(sqlx::query_as::<_, ChallengeRow>(&format!(
            "UPDATE challenges SET failed_attempts = failed_attempts + 1 \
             WHERE session_id_hash = $1 AND purpose = $2 AND failed_attempts < $3 \
               AND expires_at > $4 \
             RETURNING {CHALLENGE_COLUMNS}"
        ))
        .bind(session_id_hash)
        .bind(purpose.as_str())
        .bind(max_tries)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// A sign-in code matched: it is used up, and its number becomes (or stays) the account's
    /// verified mobile, in one transaction. The number may only be the verified one, or, for an
    /// account that may still give its first number, any. `false` if the code was already used
    /// (a double submit) or the account no longer allows it.
    pub async fn consume_sign_in_code(
        &self,
        challenge: &ChallengeRow,
        verified_at: Millis,
    ) -> Result<bool, StoreError> {
        self.consume_code(
            challenge,
            verified_at,
            "(mobile_verified_at IS NOT NULL AND mobile = $1) \
             OR (mobile_verified_at IS NULL AND first_number_at_login >= 1)",
        )
        .await
    }

    /// A code for a pending number matched: the pending number becomes the verified one.
    pub async fn consume_new_number_code(
        &self,
        challenge: &ChallengeRow,
        verified_at: Millis,
    ) -> Result<bool, StoreError> {
        self.consume_code(challenge, verified_at, "pending_mobile = $1")
            .await
    }

    /// A recovery session's new phone answered its code: it becomes the verified number in
    /// place of the lost one, for an account a recovery by code has begun on.
    pub async fn consume_new_phone_code(
        &self,
        challenge: &ChallengeRow,
        verified_at: Millis,
    ) -> Result<bool, StoreError> {
        self.consume_code(
            challenge,
            verified_at,
            "EXISTS (SELECT 1 FROM recovery_codes WHERE recovery_codes.account_id = accounts.id \
             AND recovery_codes.recovered_at IS NOT NULL)",
        )
        .await
    }

    /// A code confirming it's the patient matched, still to their verified number: the session
    /// is proved as of `at`.
    pub async fn consume_step_up_code(
        &self,
        challenge: &ChallengeRow,
        at: Millis,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let consumed = sqlx::query(
            "DELETE FROM challenges WHERE session_id_hash = $1 AND purpose = $2 AND code_mac = $3",
        )
        .bind(&challenge.session_id_hash)
        .bind(challenge.purpose.as_str())
        .bind(&challenge.code_mac)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let still_verified: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM accounts WHERE id = $1 AND mobile = $2 \
             AND mobile_verified_at IS NOT NULL",
        )
        .bind(challenge.account_id)
        .bind(&challenge.mobile)
        .fetch_optional(&mut *tx)
        .await?;
        if consumed != 1 || still_verified.is_none() {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE sessions SET proved_at = $1 WHERE id_hash = $2")
            .bind(at)
            .bind(&challenge.session_id_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn consume_code(
        &self,
        challenge: &ChallengeRow,
        verified_at: Millis,
        allowed_when: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let consumed = sqlx::query(
            "DELETE FROM challenges WHERE session_id_hash = $1 AND purpose = $2 AND code_mac = $3",
        )
        .bind(&challenge.session_id_hash)
        .bind(challenge.purpose.as_str())
        .bind(&challenge.code_mac)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if consumed != 1 {
            return Ok(false);
        }
        // A number that is already the verified one is left as it is: rewriting a row costs
        // a write to each of the accounts' indexes, and a sign-in is the common case.
        let changed = sqlx::query(&format!(
            "UPDATE accounts SET \
               mobile_verified_at = CASE WHEN mobile_verified_at IS NOT NULL AND mobile = $1 \
                                         THEN mobile_verified_at ELSE $2 END, \
               mobile = $1, first_number_at_login = 0, \
               pending_mobile = CASE WHEN pending_mobile = $1 THEN NULL ELSE pending_mobile END \
             WHERE id = $3 AND ({allowed_when}) AND NOT ({UNCHANGED})"
        ))
        .bind(&challenge.mobile)
        .bind(verified_at)
        .bind(challenge.account_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            let unchanged: Option<i64> = sqlx::query_scalar(&format!(
                "SELECT id FROM accounts WHERE id = $2 AND ({allowed_when}) AND {UNCHANGED}"
            ))
            .bind(&challenge.mobile)
            .bind(challenge.account_id)
            .fetch_optional(&mut *tx)
            .await?;
            if unchanged.is_none() {
                return Ok(false);
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Withdraws a code whose text could not be sent, so the patient can ask again at once.
    pub async fn withdraw_challenge(
        &self,
        session_id_hash: &str,
        purpose: CodePurpose,
        code_mac: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM challenges WHERE session_id_hash = $1 AND purpose = $2 AND code_mac = $3",
        )
        .bind(session_id_hash)
        .bind(purpose.as_str())
        .bind(code_mac)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
