//! The text fraud guard's memory: codes to numbers not yet verified, by prefix, country and
//! network, and the blocks it made (`crate::fraud_guard` decides).

use super::{Store, StoreError};
use crate::clock::Millis;

/// A code to a number not yet verified, for the guard.
pub struct GuardCode<'a> {
    pub prefix: &'a str,
    pub country: &'a str,
    pub number: &'a str,
    pub network: &'a str,
    pub sent_at: Millis,
}

/// What the guard counted of one prefix or country over the last hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuardCounts {
    /// Codes verified, or old enough to have been.
    pub counted: i64,
    pub verified: i64,
    /// Distinct networks the counted codes were asked for from.
    pub networks: i64,
}

/// A block the guard made (or, watching, would have).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GuardBlock {
    pub kind: String,
    pub subject: String,
    pub blocked_until: Millis,
    pub enforced: i64,
    pub counts: String,
    pub allowed_until: Option<Millis>,
}

/// The guard's two subjects.
fn column(kind: &str) -> &'static str {
    match kind {
        "country" => "country",
        _ => "prefix",
    }
}

impl Store {
    pub async fn guard_note(&self, code: &GuardCode<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO guard_codes (prefix, country, number, network, sent_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code.prefix)
        .bind(code.country)
        .bind(code.number)
        .bind(code.network)
        .bind(code.sent_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A code to `number` was verified: the latest of the last hour counts as verified.
    pub async fn guard_verified(
        &self,
        number: &str,
        now: Millis,
        since: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE guard_codes SET verified_at = $2 WHERE id = \
             (SELECT id FROM guard_codes WHERE number = $1 AND sent_at > $3 \
              AND verified_at IS NULL ORDER BY sent_at DESC LIMIT 1)",
        )
        .bind(number)
        .bind(now)
        .bind(since)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// `kind` (`prefix` or `country`) `subject`'s codes sent after `since`, counting those
    /// verified or sent before `judged_before`.
    pub async fn guard_counts(
        &self,
        kind: &str,
        subject: &str,
        since: Millis,
        judged_before: Millis,
    ) -> Result<GuardCounts, StoreError> {
        let column = column(kind);
        let (counted, verified, networks): (i64, Option<i64>, i64) = sqlx::query_as(&format!(
            "SELECT COUNT(*), SUM(CASE WHEN verified_at IS NULL THEN 0 ELSE 1 END), \
             COUNT(DISTINCT network) FROM guard_codes \
             WHERE {column} = $1 AND sent_at > $2 \
               AND (verified_at IS NOT NULL OR sent_at <= $3)"
        ))
        .bind(subject)
        .bind(since)
        .bind(judged_before)
        .fetch_one(&self.pool)
        .await?;
        Ok(GuardCounts {
            counted,
            verified: verified.unwrap_or(0),
            networks,
        })
    }

    pub async fn guard_block(
        &self,
        kind: &str,
        subject: &str,
    ) -> Result<Option<GuardBlock>, StoreError> {
        Ok(sqlx::query_as::<_, GuardBlock>(
            "SELECT kind, subject, blocked_until, enforced, counts, allowed_until \
             FROM guard_blocks WHERE kind = $1 AND subject = $2",
        )
        .bind(kind)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Blocks (or renews the block of) `subject` until `until`: whether it was newly blocked
    /// (not blocked at `now` before).
    pub async fn guard_set_block(
        &self,
        kind: &str,
        subject: &str,
        until: Millis,
        enforced: bool,
        counts: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let before = self.guard_block(kind, subject).await?;
        sqlx::query(
            "INSERT INTO guard_blocks (kind, subject, blocked_until, enforced, counts) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind, subject) DO UPDATE SET blocked_until = $3, enforced = $4, \
             counts = $5",
        )
        .bind(kind)
        .bind(subject)
        .bind(until)
        .bind(i64::from(enforced))
        .bind(counts)
        .execute(&self.writer)
        .await?;
        Ok(before.is_none_or(|b| b.blocked_until <= now || (b.enforced != 0) != enforced))
    }

    /// "Allow this prefix": not blocked again until `until`.
    pub async fn guard_allow(
        &self,
        kind: &str,
        subject: &str,
        until: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE guard_blocks SET allowed_until = $3, blocked_until = 0 \
             WHERE kind = $1 AND subject = $2",
        )
        .bind(kind)
        .bind(subject)
        .bind(until)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The blocks in force (or watched) at `now`, newest first.
    pub async fn guard_blocks(&self, now: Millis) -> Result<Vec<GuardBlock>, StoreError> {
        Ok(sqlx::query_as::<_, GuardBlock>(
            "SELECT kind, subject, blocked_until, enforced, counts, allowed_until \
             FROM guard_blocks WHERE blocked_until > $1 ORDER BY blocked_until DESC LIMIT 100",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Forgets the guard's codes sent before `before`.
    pub async fn guard_sweep(&self, before: Millis) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM guard_codes WHERE sent_at < $1")
            .bind(before)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }
}
