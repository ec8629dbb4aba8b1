//! The practice's settings: one row, written by admins, read by every page.

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
}

#[derive(sqlx::FromRow)]
struct Row {
    two_factor: i64,
    practice_name: String,
    support_phone: String,
    support_email: String,
    first_number_at_login: String,
    resend_cooldown_seconds: i64,
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
        }
    }
}

impl Store {
    /// The stored settings; `first` are stored if there are none yet (the first start).
    pub async fn practice_settings(
        &self,
        first: &PracticeRow,
        now: Millis,
    ) -> Result<PracticeRow, StoreError> {
        let stored = sqlx::query_as::<_, Row>(
            "SELECT two_factor, practice_name, support_phone, support_email, \
             first_number_at_login, resend_cooldown_seconds FROM practice_settings WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = stored {
            return Ok(row.into());
        }
        sqlx::query(
            "INSERT INTO practice_settings (id, two_factor, practice_name, support_phone, \
             support_email, first_number_at_login, resend_cooldown_seconds, updated_at) \
             VALUES (1, $1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(i64::from(first.two_factor))
        .bind(&first.practice_name)
        .bind(&first.support_phone)
        .bind(&first.support_email)
        .bind(&first.first_number_at_login)
        .bind(first.resend_cooldown_seconds)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(first.clone())
    }

    pub async fn save_practice_settings(
        &self,
        settings: &PracticeRow,
        now: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO practice_settings (id, two_factor, practice_name, support_phone, \
             support_email, first_number_at_login, resend_cooldown_seconds, updated_at) \
             VALUES (1, $1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET two_factor = excluded.two_factor, \
               practice_name = excluded.practice_name, support_phone = excluded.support_phone, \
               support_email = excluded.support_email, \
               first_number_at_login = excluded.first_number_at_login, \
               resend_cooldown_seconds = excluded.resend_cooldown_seconds, \
               updated_at = excluded.updated_at",
        )
        .bind(i64::from(settings.two_factor))
        .bind(&settings.practice_name)
        .bind(&settings.support_phone)
        .bind(&settings.support_email)
        .bind(&settings.first_number_at_login)
        .bind(settings.resend_cooldown_seconds)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
