//! Bulk writes for `server generate-demo-data`: many rows to a statement and many statements to
//! a transaction, which is what makes millions of rows take minutes rather than hours.

use super::{Engine, Store, StoreError};
use crate::clock::Millis;

/// One value of a generated row.
#[derive(Debug, Clone)]
pub enum Cell {
    Number(i64),
    Text(String),
    NoNumber,
    NoText,
}

/// How `generate_audit_lines` spreads lines: numbers only, written into its statement.
#[derive(Debug, Clone, Copy)]
pub struct AuditPlan {
    /// The first line's time, and the time between lines.
    pub start: Millis,
    pub step: Millis,
    /// Patients' ids are `first_patient..first_patient + patients`.
    pub first_patient: i64,
    pub patients: i64,
    /// Shuffles which patients are busiest: coprime with `patients`.
    pub stride: i64,
    /// Staff ids are `first_staff..first_staff + staff`.
    pub first_staff: i64,
    pub staff: i64,
}

/// What a database holds, to say whether the generator may fill it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoState {
    pub patients: i64,
    /// Patients the generator made, by its own record.
    pub generated_patients: i64,
    /// Whether the generator has filled this database before.
    pub filled_before: bool,
    pub staff: i64,
    pub audit_lines: i64,
    /// The practice settings' version: above the first, someone saved them.
    pub settings_version: i64,
}

impl DemoState {
    /// What makes this database somebody's practice, if anything: a patient the generator
    /// didn't make; or, where it never ran, a staff member, an audit line, or settings someone
    /// saved (a practice on its first day has no patients yet).
    pub fn somebodys(&self) -> Option<String> {
        if self.patients != self.generated_patients {
            return Some(format!(
                "{} patient(s) that the generator did not make",
                self.patients - self.generated_patients
            ));
        }
        if self.filled_before {
            return None;
        }
        match (self.staff, self.audit_lines, self.settings_version) {
            (staff, _, _) if staff > 0 => Some(format!("{staff} staff member(s)")),
            (_, lines, _) if lines > 0 => Some(format!("{lines} audit line(s)")),
            (_, _, version) if version > 0 => {
                Some("practice settings that someone saved".to_string())
            }
            _ => None,
        }
    }
}

/// Values bound to one statement, below both engines' limits (SQLite 32,766, PostgreSQL 65,535).
const BINDS_PER_STATEMENT: usize = 8_000;

impl Store {
    pub async fn demo_state(&self) -> Result<DemoState, StoreError> {
        let patients: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&self.pool)
            .await?;
        let (runs, generated): (i64, Option<i64>) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(SUM(patients) AS BIGINT) FROM demo_data",
        )
        .fetch_one(&self.pool)
        .await?;
        let count = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&self.pool)
                .await
        };
        // Counted no further than one: one is enough to be somebody's.
        let staff =
            count("SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 FROM staff LIMIT 1) AS one")
                .await?;
        let audit_lines = count(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 FROM audit_events LIMIT 1) AS one",
        )
        .await?;
        let settings_version =
            count("SELECT COALESCE(MAX(version), 0) FROM practice_settings").await?;
        Ok(DemoState {
            patients,
            generated_patients: generated.unwrap_or(0),
            filled_before: runs > 0,
            staff,
            audit_lines,
            settings_version,
        })
    }

    /// Writes `rows` into `table` in one transaction. Table and column names are the
    /// generator's own, never typed by anyone.
    pub async fn insert_generated(
        &self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<Cell>],
    ) -> Result<(), StoreError> {
        let per_statement = (BINDS_PER_STATEMENT / columns.len()).max(1);
        let mut tx = self.writer.begin().await?;
        for chunk in rows.chunks(per_statement) {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
            let mut n = 0;
            for (i, _) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let row: Vec<String> = columns
                    .iter()
                    .map(|_| {
                        n += 1;
                        format!("${n}")
                    })
                    .collect();
                sql.push('(');
                sql.push_str(&row.join(", "));
                sql.push(')');
            }
            let mut query = sqlx::query(&sql);
            for row in chunk {
                for cell in row {
                    query = match cell {
                        Cell::Number(v) => query.bind(*v),
                        Cell::Text(v) => query.bind(v.as_str()),
                        Cell::NoNumber => query.bind(None::<i64>),
                        Cell::NoText => query.bind(None::<&str>),
                    };
                }
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The ids in `table` after `after`, in order: the rows just generated.
    pub async fn ids_after(&self, table: &str, after: i64) -> Result<Vec<i64>, StoreError> {
        Ok(
            sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE id > $1 ORDER BY id"))
                .bind(after)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The highest id in `table` (0 when it is empty).
    pub async fn last_id(&self, table: &str) -> Result<i64, StoreError> {
        let last: Option<i64> =
            sqlx::query_scalar(&format!("SELECT CAST(MAX(id) AS BIGINT) FROM {table}"))
                .fetch_one(&self.pool)
                .await?;
        Ok(last.unwrap_or(0))
    }

    /// Drops `table`'s secondary indexes and gives back the statements that make them again:
    /// building an index once over millions of rows is many times faster than keeping it up
    /// to date row by row.
    pub async fn drop_indexes(&self, table: &str) -> Result<Vec<(String, String)>, StoreError> {
        let found: Vec<(String, String)> = match self.engine {
            Engine::Sqlite => sqlx::query_as(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 \
                 AND sql IS NOT NULL",
            ),
            Engine::Postgres => sqlx::query_as(
                "SELECT indexname::TEXT, indexdef FROM pg_indexes WHERE tablename = $1 \
                 AND indexname NOT IN (SELECT conname::TEXT FROM pg_constraint)",
            ),
        }
        .bind(table)
        .fetch_all(&self.pool)
        .await?;
        for (name, _) in &found {
            sqlx::query(&format!("DROP INDEX {name}"))
                .execute(&self.writer)
                .await?;
        }
        Ok(found)
    }

    /// Makes the indexes `drop_indexes` dropped again.
    pub async fn create_indexes(&self, indexes: &[(String, String)]) -> Result<(), StoreError> {
        for (_, sql) in indexes {
            sqlx::query(sql).execute(&self.writer).await?;
        }
        Ok(())
    }

    /// Writes audit lines `first..=last` of `lines` inside the database, from arithmetic on
    /// each line's number (the same on both engines), rather than sending each line over: six
    /// years of a practice group's audit in minutes.
    pub async fn generate_audit_lines(
        &self,
        plan: &AuditPlan,
        first: i64,
        last: i64,
    ) -> Result<(), StoreError> {
        let AuditPlan {
            start,
            step,
            first_patient,
            patients,
            stride,
            first_staff,
            staff,
        } = *plan;
        // Three draws from each line's number, each in 0..1,000,000 (primes keep them apart).
        let u1 = "((i * 7919 + 104729) % 1000003 % 1000000)";
        let u2 = "((i * 15485863 + 32452843) % 1000033 % 1000000)";
        let u3 = "((i * 49979687 + 86028121) % 999983 % 1000000)";
        // The patient: skewed by the square of the first draw, then shuffled by the stride.
        let patient = format!(
            "({first_patient} + ({u1} * {u1} / 1000000 * {patients} / 1000000 * {stride}) \
             % {patients})"
        );
        let roll = format!("({u2} % 1000)");
        let member = format!("({first_staff} + {u3} % {staff})");
        let select = format!(
            "SELECT {start} + i * {step}, \
             CASE WHEN {roll} BETWEEN 300 AND 319 OR {roll} BETWEEN 980 AND 994 THEN NULL \
                  ELSE {patient} END, \
             CASE WHEN {roll} BETWEEN 300 AND 319 THEN 'guest' || ({u3} % 100) \
                  WHEN {roll} BETWEEN 980 AND 994 THEN NULL \
                  ELSE (SELECT username FROM accounts WHERE id = {patient}) END, \
             CASE WHEN {roll} BETWEEN 960 AND 994 THEN {member} END, \
             CASE {u3} % 3 WHEN 0 THEN '203.0.113.' WHEN 1 THEN '198.51.100.' \
                  ELSE '192.0.2.' END || ({u3} % 254 + 1), \
             CASE WHEN {roll} < 320 THEN 'login' \
                  WHEN {roll} < 540 THEN 'code_sent' \
                  WHEN {roll} < 740 THEN 'code_verified' \
                  WHEN {roll} < 920 THEN 'signed_in' \
                  WHEN {roll} < 960 THEN 'logged_out' \
                  WHEN {roll} < 980 THEN 'patient_viewed' \
                  WHEN {roll} < 995 THEN 'patient_searched' \
                  ELSE 'mobile_changed' END, \
             CASE WHEN {roll} BETWEEN 300 AND 319 THEN 'unknown_user' \
                  WHEN {roll} < 300 AND {u3} % 10 < 7 THEN 'password_accepted' \
                  WHEN {roll} < 300 AND {u3} % 10 < 9 THEN 'wrong_password' \
                  WHEN {roll} < 300 THEN 'delayed' \
                  ELSE 'ok' END, \
             CASE WHEN {roll} BETWEEN 740 AND 919 THEN 'factor: sms' \
                  WHEN {roll} BETWEEN 980 AND 994 THEN ({u1} % 25) || ' result(s)' END"
        );
        let columns =
            "audit_events (at, account_id, username, staff_id, ip, event, outcome, detail)";
        let sql = match self.engine {
            Engine::Sqlite => format!(
                "WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n \
                 WHERE i < {last}) INSERT INTO {columns} {select} FROM n"
            ),
            Engine::Postgres => format!(
                "INSERT INTO {columns} {select} FROM generate_series({first}::BIGINT, \
                 {last}::BIGINT) AS n(i)"
            ),
        };
        sqlx::query(&sql).execute(&self.writer).await?;
        Ok(())
    }

    pub async fn record_demo_data(
        &self,
        at: Millis,
        patients: i64,
        audit_lines: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO demo_data (generated_at, patients, audit_lines) VALUES ($1, $2, $3)",
        )
        .bind(at)
        .bind(patients)
        .bind(audit_lines)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// After a bulk load, fresh statistics, so each engine's planner picks the indexes the
    /// searches and the audit log were built for.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        sqlx::query("ANALYZE").execute(&self.writer).await?;
        self.settle().await
    }

    /// SQLite: moves what the write-ahead log holds into the database file and empties it, so
    /// that the first writes after a bulk load don't pay for copying gigabytes back.
    pub async fn settle(&self) -> Result<(), StoreError> {
        if self.engine == Engine::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.writer)
                .await?;
        }
        Ok(())
    }
}
