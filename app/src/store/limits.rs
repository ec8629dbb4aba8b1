//! Counters behind the login delay and the sliding-window limits.

use super::{Store, StoreError};
use crate::portal::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginFailures {
    pub failures: i64,
    pub delayed_until: Millis,
}

/// Counts events against the limits, inside the caller's transaction.
pub(super) async fn insert_limit_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    events: &[(&str, &str)],
    at: Millis,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..events.len())
        .map(|i| format!("(${}, ${}, $1)", 2 * i + 2, 2 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO limit_events (kind, subject, at) VALUES {}",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(at);
    for (kind, subject) in events {
        query = query.bind(*kind).bind(*subject);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

impl Store {
    /// For each (kind, subject, since): how many events there have been since then, and when the
    /// oldest of them was. One query for all of them.
    pub async fn count_limit_windows(
        &self,
        windows: &[(&str, &str, Millis)],
    ) -> Result<Vec<(i64, Option<Millis>)>, StoreError> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let parts: Vec<String> = (0..windows.len())
            .map(|i| {
                format!(
                    "SELECT {i} AS n, COUNT(*), MIN(at) FROM limit_events \
                     WHERE kind = ${} AND subject = ${} AND at > ${}",
                    3 * i + 1,
                    3 * i + 2,
                    3 * i + 3
                )
            })
            .collect();
        let sql = format!("{} ORDER BY n", parts.join(" UNION ALL "));
        let mut query = sqlx::query_as::<_, (i64, i64, Option<Millis>)>(&sql);
        for (kind, subject, since) in windows {
            query = query.bind(*kind).bind(*subject).bind(*since);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(_, count, oldest)| (count, oldest))
            .collect())
    }

    pub async fn login_failures(
        &self,
        username_key: &str,
    ) -> Result<Option<LoginFailures>, StoreError> {
        Ok(sqlx::query_as::<_, LoginFailures>(
            "SELECT failures, delayed_until FROM login_failures WHERE username_key = $1",
        )
        .bind(username_key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Counts one more failure and returns the new count. `delay_for` turns the count into the
    /// time the next attempt must wait until.
    pub async fn record_login_failure(
        &self,
        username_key: &str,
        at: Millis,
        delay_for: impl Fn(i64) -> Millis,
    ) -> Result<i64, StoreError> {
        let failures: i64 = sqlx::query_scalar(
            "INSERT INTO login_failures (username_key, failures, last_failed_at, delayed_until) \
             VALUES ($1, 1, $2, 0) \
             ON CONFLICT (username_key) DO UPDATE SET failures = login_failures.failures + 1, \
               last_failed_at = $2 \
             RETURNING failures",
        )
        .bind(username_key)
        .bind(at)
        .fetch_one(&self.writer)
        .await?;
        let until = at + delay_for(failures);
        sqlx::query("UPDATE login_failures SET delayed_until = $2 WHERE username_key = $1")
            .bind(username_key)
            .bind(until)
            .execute(&self.writer)
            .await?;
        Ok(failures)
    }

    pub async fn clear_login_failures(&self, username_key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE username_key = $1")
            .bind(username_key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn record_limit_event(
        &self,
        kind: &str,
        subject: &str,
        at: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO limit_events (kind, subject, at) VALUES ($1, $2, $3)")
            .bind(kind)
            .bind(subject)
            .bind(at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// How many `kind` events `subject` has had since `since`, and when the oldest of them was.
    pub async fn count_limit_events(
        &self,
        kind: &str,
        subject: &str,
        since: Millis,
    ) -> Result<(i64, Option<Millis>), StoreError> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM limit_events WHERE kind = $1 AND subject = $2 AND at > $3",
        )
        .bind(kind)
        .bind(subject)
        .bind(since)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Forgets what no limit looks at any more, and sessions that have ended.
    pub async fn sweep(&self, now: Millis, keep_events_for: Millis) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM limit_events WHERE at < $1")
            .bind(now - keep_events_for)
            .execute(&self.writer)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
