//! The practice's settings: one row, written by admins, read by every page. A save replaces the
//! row only if it is still the version the admin's form was filled from.

use super::{Store, StoreError};
use crate::clock::Millis;

/// The settings as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeRow {
    pub two_factor: bool,
    pub practice_name: String,
    pub support_phone: String,
    pub support_email: String,
    /// `allow` or `support`.
    pub first_number_at_login: String,
    pub resend_cooldown_seconds: i64,
    pub remember_device_days: i64,
    pub passkeys: bool,
    pub recent_proof_minutes: i64,
    /// Counts saves: a form carries the version it was filled from.
    pub version: i64,
    /// When two-factor authentication was switched off, while it is off (0: it started off).
    pub two_factor_off_since: Option<Millis>,
}

/// What became of a save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PracticeSave {
    /// Saved; `replaced` is the row it replaced, for the audit's "old → new".
    Saved { replaced: PracticeRow },
    /// Someone saved first: nothing changed, and this is what is stored now.
    ChangedMeanwhile { current: PracticeRow },
}

#[derive(sqlx::FromRow)]
struct Row {
    two_factor: i64,
    practice_name: String,
    support_phone: String,
    support_email: String,
    first_number_at_login: String,
    resend_cooldown_seconds: i64,
    remember_device_days: i64,
    passkeys: i64,
    recent_proof_minutes: i64,
    version: i64,
    two_factor_off_since: Option<i64>,
}

impl From<Row> for PracticeRow {
    fn from(row: Row) -> Self {
        Self {
            two_factor: row.two_factor != 0,
            practice_name: row.practice_name,
            support_phone: row.support_phone,
            support_email: row.support_email,
            first_number_at_login: row.first_number_at_login,
            resend_cooldown_seconds: row.resend_cooldown_seconds,
            remember_device_days: row.remember_device_days,
            passkeys: row.passkeys != 0,
            recent_proof_minutes: row.recent_proof_minutes,
            version: row.version,
            two_factor_off_since: row.two_factor_off_since,
        }
    }
}

/// Taken by a save of the settings and by a sign-in that relies on two-factor being off.
pub(super) const PRACTICE_SETTINGS_LOCK: &str = "practice settings";

const SELECT: &str = "SELECT two_factor, practice_name, support_phone, support_email, \
     first_number_at_login, resend_cooldown_seconds, remember_device_days, passkeys, \
     recent_proof_minutes, version, two_factor_off_since FROM practice_settings WHERE id = 1";

impl Store {
    /// The stored settings; `first` are stored if there are none yet (the first start).
    pub async fn practice_settings(
        &self,
        first: &PracticeRow,
        now: Millis,
    ) -> Result<PracticeRow, StoreError> {
        if let Some(row) = self.stored_practice_settings().await? {
            return Ok(row);
        }
        let off_since = (!first.two_factor).then_some(0);
        sqlx::query(
            "INSERT INTO practice_settings (id, two_factor, practice_name, support_phone, \
             support_email, first_number_at_login, resend_cooldown_seconds, updated_at, version, \
             two_factor_off_since, remember_device_days, passkeys, recent_proof_minutes) \
             VALUES (1, $1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(i64::from(first.two_factor))
        .bind(&first.practice_name)
        .bind(&first.support_phone)
        .bind(&first.support_email)
        .bind(&first.first_number_at_login)
        .bind(first.resend_cooldown_seconds)
        .bind(now)
        .bind(off_since)
        .bind(first.remember_device_days)
        .bind(i64::from(first.passkeys))
        .bind(first.recent_proof_minutes)
        .execute(&self.writer)
        .await?;
        // Another instance may have stored its own first values at the same moment.
        Ok(self
            .stored_practice_settings()
            .await?
            .unwrap_or_else(|| first.clone()))
    }

    async fn stored_practice_settings(&self) -> Result<Option<PracticeRow>, StoreError> {
        Ok(sqlx::query_as::<_, Row>(SELECT)
            .fetch_optional(&self.writer)
            .await?
            .map(PracticeRow::from))
    }

    /// Saves `settings` if the stored row is still at `settings.version`, in one step with what
    /// the save implies: when two-factor authentication is switched back on, the sessions begun
    /// while it was off (a password alone signed them in) end.
    pub async fn save_practice_settings(
        &self,
        settings: &PracticeRow,
        now: Millis,
    ) -> Result<PracticeSave, StoreError> {
        let changed_meanwhile = |current: Option<PracticeRow>| PracticeSave::ChangedMeanwhile {
            current: current.unwrap_or_else(|| settings.clone()),
        };
        let Some(replaced) = self.stored_practice_settings().await? else {
            return Ok(changed_meanwhile(None));
        };
        if replaced.version != settings.version {
            return Ok(changed_meanwhile(Some(replaced)));
        }
        let off_since = match (replaced.two_factor, settings.two_factor) {
            (_, true) => None,
            (true, false) => Some(now),
            (false, false) => replaced.two_factor_off_since,
        };
        let mut tx = self.writer.begin().await?;
        super::serialize(&mut tx, self.engine, vec![PRACTICE_SETTINGS_LOCK.into()]).await?;
        let updated = sqlx::query(
            "UPDATE practice_settings SET two_factor = $1, practice_name = $2, \
             support_phone = $3, support_email = $4, first_number_at_login = $5, \
             resend_cooldown_seconds = $6, updated_at = $7, two_factor_off_since = $8, \
             remember_device_days = $10, passkeys = $11, recent_proof_minutes = $12, \
             version = version + 1 \
             WHERE id = 1 AND version = $9",
        )
        .bind(i64::from(settings.two_factor))
        .bind(&settings.practice_name)
        .bind(&settings.support_phone)
        .bind(&settings.support_email)
        .bind(&settings.first_number_at_login)
        .bind(settings.resend_cooldown_seconds)
        .bind(now)
        .bind(off_since)
        .bind(settings.version)
        .bind(settings.remember_device_days)
        .bind(i64::from(settings.passkeys))
        .bind(settings.recent_proof_minutes)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(changed_meanwhile(self.stored_practice_settings().await?));
        }
        if settings.two_factor && !replaced.two_factor {
            sqlx::query("DELETE FROM sessions WHERE created_at >= $1")
                .bind(replaced.two_factor_off_since.unwrap_or(0))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(PracticeSave::Saved { replaced })
    }
}
