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
    /// Distinct networks the last hour's codes were asked for from, up to `NETWORKS_COUNTED`.
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

/// A subject's block, if it has one, and what the guard counted of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardSubject {
    pub kind: String,
    pub subject: String,
    pub counts: GuardCounts,
    pub block: Option<GuardBlock>,
}

/// Networks are counted up to this many: the guard needs 3.
pub const NETWORKS_COUNTED: i64 = 10;

/// The guard counts by the minute.
pub const GUARD_MINUTE: Millis = 60_000;

fn minute_of(at: Millis) -> Millis {
    at - at.rem_euclid(GUARD_MINUTE)
}

impl Store {
    /// Counts a code: its own row (for its verification), its minute's counts for its prefix
    /// and country, and its network.
    pub async fn guard_note(&self, code: &GuardCode<'_>) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO guard_codes (prefix, country, number, network, sent_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code.prefix)
        .bind(code.country)
        .bind(code.number)
        .bind(code.network)
        .bind(code.sent_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO guard_counts (kind, subject, minute, sent, verified) \
             VALUES ('prefix', $1, $3, 1, 0), ('country', $2, $3, 1, 0) \
             ON CONFLICT (kind, subject, minute) DO UPDATE SET sent = guard_counts.sent + 1",
        )
        .bind(code.prefix)
        .bind(code.country)
        .bind(minute_of(code.sent_at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO guard_networks (kind, subject, network, last_seen) \
             VALUES ('prefix', $1, $3, $4), ('country', $2, $3, $4) \
             ON CONFLICT (kind, subject, network) DO UPDATE SET last_seen = \
             CASE WHEN excluded.last_seen > guard_networks.last_seen \
                  THEN excluded.last_seen ELSE guard_networks.last_seen END",
        )
        .bind(code.prefix)
        .bind(code.country)
        .bind(code.network)
        .bind(code.sent_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A code to `number` was verified: the latest of the last hour counts as verified, in
    /// the minute it was sent.
    pub async fn guard_verified(
        &self,
        number: &str,
        now: Millis,
        since: Millis,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let code: Option<(String, String, Millis)> = sqlx::query_as(
            "UPDATE guard_codes SET verified_at = $2 WHERE id = \
             (SELECT id FROM guard_codes WHERE number = $1 AND sent_at > $3 \
              AND verified_at IS NULL ORDER BY sent_at DESC LIMIT 1) \
             RETURNING prefix, country, sent_at",
        )
        .bind(number)
        .bind(now)
        .bind(since)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((prefix, country, sent_at)) = code {
            sqlx::query(
                "UPDATE guard_counts SET verified = verified + 1 WHERE minute = $3 \
                 AND ((kind = 'prefix' AND subject = $1) OR (kind = 'country' AND subject = $2))",
            )
            .bind(prefix)
            .bind(country)
            .bind(minute_of(sent_at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The number's `prefix` and `country`, each with its block and its counts of the minutes
    /// since `since`: every code of a minute that ended by `judged_by`, and only the verified
    /// ones of later minutes. One statement, whatever the codes.
    pub async fn guard_subjects(
        &self,
        prefix: &str,
        country: &str,
        since: Millis,
        judged_by: Millis,
    ) -> Result<Vec<GuardSubject>, StoreError> {
        type Row = (
            String,
            String,
            i64,
            i64,
            i64,
            Option<Millis>,
            Option<i64>,
            Option<String>,
            Option<Millis>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "WITH s (kind, subject) AS (VALUES ('prefix', $1), ('country', $2)) \
             SELECT s.kind, s.subject, \
               CAST(COALESCE((SELECT SUM(CASE WHEN c.minute + $5 <= $4 THEN c.sent \
                 ELSE c.verified END) FROM guard_counts c \
                 WHERE c.kind = s.kind AND c.subject = s.subject AND c.minute > $3), 0) AS BIGINT), \
               CAST(COALESCE((SELECT SUM(c.verified) FROM guard_counts c \
                 WHERE c.kind = s.kind AND c.subject = s.subject AND c.minute > $3), 0) AS BIGINT), \
               (SELECT COUNT(*) FROM (SELECT 1 FROM guard_networks n \
                 WHERE n.kind = s.kind AND n.subject = s.subject AND n.last_seen > $3 \
                 LIMIT $6) AS seen), \
               b.blocked_until, b.enforced, b.counts, b.allowed_until \
             FROM s LEFT JOIN guard_blocks b ON b.kind = s.kind AND b.subject = s.subject",
        )
        .bind(prefix)
        .bind(country)
        .bind(since - GUARD_MINUTE)
        .bind(judged_by)
        .bind(GUARD_MINUTE)
        .bind(NETWORKS_COUNTED)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(kind, subject, counted, verified, networks, until, enforced, counts, allowed)| {
                    let block = until.map(|blocked_until| GuardBlock {
                        kind: kind.clone(),
                        subject: subject.clone(),
                        blocked_until,
                        enforced: enforced.unwrap_or(0),
                        counts: counts.unwrap_or_default(),
                        allowed_until: allowed,
                    });
                    GuardSubject {
                        kind,
                        subject,
                        counts: GuardCounts {
                            counted,
                            verified,
                            networks,
                        },
                        block,
                    }
                },
            )
            .collect())
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

    /// Each country's codes counted since `since`, and how many were verified, the most first.
    pub async fn guard_countries(
        &self,
        since: Millis,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT subject, CAST(SUM(sent) AS BIGINT), CAST(SUM(verified) AS BIGINT) \
             FROM guard_counts WHERE kind = 'country' AND minute >= $1 \
             GROUP BY subject ORDER BY 2 DESC, subject LIMIT 50",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Forgets the codes' own rows and networks seen before `codes_before`, and the counts of
    /// minutes before `counts_before`.
    pub async fn guard_sweep(
        &self,
        codes_before: Millis,
        counts_before: Millis,
    ) -> Result<u64, StoreError> {
        let mut swept = 0;
        for (statement, before) in [
            ("DELETE FROM guard_codes WHERE sent_at < $1", codes_before),
            (
                "DELETE FROM guard_networks WHERE last_seen < $1",
                codes_before,
            ),
            ("DELETE FROM guard_counts WHERE minute < $1", counts_before),
        ] {
            swept += sqlx::query(statement)
                .bind(before)
                .execute(&self.writer)
                .await?
                .rows_affected();
        }
        Ok(swept)
    }
}
