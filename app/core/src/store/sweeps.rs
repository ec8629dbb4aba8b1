//! Sweeps: what the portal keeps only for a while, and how long. Every table but the audit log
//! and the patients' and staff's own records stays this size however long the portal runs; the
//! audit log is kept for years, and swept with its chain (`Store::sweep_audit`).

use super::{Engine, Store, StoreError};
use crate::clock::{Millis, DAY};

/// How long each kind of row is kept once it has ended (docs/operations.md lists the same).
pub struct Retention {
    /// Limit events and runs of failed logins, after the day-long windows that count them.
    pub limits: Millis,
    /// One-time codes, after they expire: "that code has expired" for a while, then nothing.
    pub codes: Millis,
    /// Texts that were sent or given up on, with their delivery attempts: support reads them,
    /// and the practice checks its SMS bills against them.
    pub finished_texts: Millis,
    /// The console SMS provider's and mailer's copies, read by developers and the tests.
    pub dev_outboxes: Millis,
    /// Staff enrolment links, after they expire or are used.
    pub enrolment_links: Millis,
    /// Caregiver invitations, after their 7 days (the audit keeps what became of each).
    pub invitations: Millis,
}

pub const RETENTION: Retention = Retention {
    limits: DAY,
    codes: DAY,
    finished_texts: 90 * DAY,
    dev_outboxes: DAY,
    enrolment_links: 30 * DAY,
    invitations: 30 * DAY,
};

/// Rows deleted in one statement: a sweep never holds SQLite's one writer for long.
const BATCH: i64 = 5_000;

/// What one sweep removed, table by table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept(pub Vec<(&'static str, u64)>);

impl Swept {
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    pub fn of(&self, table: &str) -> u64 {
        self.0
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, n)| n)
            .sum()
    }
}

impl Store {
    /// Deletes every row whose time is up (see [`RETENTION`]), a batch at a time.
    pub async fn sweep(&self, now: Millis) -> Result<Swept, StoreError> {
        let r = &RETENTION;
        let failures = "delayed_until < $1 AND last_failed_at < $1";
        // (table, which rows have ended, the time they are compared with)
        let ended: [(&'static str, &str, Millis); 13] = [
            ("limit_events", "at < $1", now - r.limits),
            ("login_failures", failures, now - r.limits),
            ("login_failures_by_network", failures, now - r.limits),
            ("sessions", "expires_at < $1", now),
            ("staff_sessions", "expires_at < $1", now),
            ("remembered_devices", "expires_at < $1", now),
            ("passkey_ceremonies", "expires_at < $1", now),
            ("challenges", "expires_at < $1", now - r.codes),
            // "This wasn't me" links, once they no longer work.
            ("wasnt_me_links", "expires_at < $1", now),
            (
                "staff_enrolments",
                "expires_at < $1",
                now - r.enrolment_links,
            ),
            (
                "caregiver_invitations",
                "expires_at < $1",
                now - r.invitations,
            ),
            ("dev_sms", "sent_at < $1", now - r.dev_outboxes),
            ("dev_email", "sent_at < $1", now - r.dev_outboxes),
        ];
        let mut swept = Swept::default();
        for (table, condition, time) in ended {
            // Rows are picked by where they are stored, which each engine finds directly: on
            // SQLite the row number, or the key of a table stored in its key's order.
            let sql = match self.engine {
                Engine::Sqlite => {
                    let key = match table {
                        "sessions" => "id_hash",
                        "challenges" => "(session_id_hash, purpose)",
                        _ => "rowid",
                    };
                    let picked = key.trim_matches(['(', ')']);
                    format!(
                        "DELETE FROM {table} WHERE {key} IN \
                         (SELECT {picked} FROM {table} WHERE {condition} LIMIT {BATCH})"
                    )
                }
                Engine::Postgres => format!(
                    "DELETE FROM {table} WHERE ctid = ANY(ARRAY( \
                     SELECT ctid FROM {table} WHERE {condition} LIMIT {BATCH}))"
                ),
            };
            let mut removed = 0;
            loop {
                let done = sqlx::query(&sql)
                    .bind(time)
                    .execute(&self.writer)
                    .await?
                    .rows_affected();
                removed += done;
                if done < BATCH as u64 {
                    break;
                }
            }
            swept.0.push((table, removed));
        }
        swept.0.push((
            "sms_outbox",
            self.sweep_texts(now - r.finished_texts).await?,
        ));
        Ok(swept)
    }

    /// Finished texts created before `before`, with their delivery attempts.
    async fn sweep_texts(&self, before: Millis) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let mut tx = self.writer.begin().await?;
            let ids: Vec<i64> = sqlx::query_scalar(&format!(
                "SELECT id FROM sms_outbox WHERE created_at < $1 \
                 AND status IN ('sent', 'failed') LIMIT {BATCH}"
            ))
            .bind(before)
            .fetch_all(&mut *tx)
            .await?;
            if ids.is_empty() {
                break;
            }
            // Ids are integers from the database, so they are safe to write into the statement.
            let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            for sql in [
                format!("DELETE FROM sms_attempts WHERE sms_id IN ({list})"),
                format!("DELETE FROM sms_outbox WHERE id IN ({list})"),
            ] {
                sqlx::query(&sql).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            removed += ids.len() as u64;
            if (ids.len() as i64) < BATCH {
                break;
            }
        }
        Ok(removed)
    }
}
