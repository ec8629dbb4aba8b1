//! Practice staff: their accounts, enrolment links, recovery codes and sessions.

use super::kinds::Role;
use super::StaffId;
use super::{is_unique_violation, Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffRow {
    pub id: StaffId,
    pub username: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub password_hash: Option<String>,
    /// The authenticator secret, sealed under the server key.
    pub totp_secret: Option<String>,
    /// The last authenticator step accepted: a code works once.
    pub last_totp_step: i64,
    pub enrolled_at: Option<Millis>,
    pub disabled_at: Option<Millis>,
    pub last_sign_in_at: Option<Millis>,
    pub created_at: Millis,
}

const STAFF_COLUMNS: &str = "id, username, role, password_hash, totp_secret, last_totp_step, \
     enrolled_at, disabled_at, last_sign_in_at, created_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnrolmentRow {
    pub staff_id: StaffId,
    pub expires_at: Millis,
    /// The secret shown on the enrolment page, sealed, until the first code proves it.
    pub pending_secret: Option<String>,
    pub used_at: Option<Millis>,
}

/// What an enrolment sets, once its first authenticator code is right.
pub struct FinishedEnrolment<'a> {
    pub token_hash: &'a str,
    pub staff_id: StaffId,
    pub password_hash: &'a str,
    /// The pending secret the first code proved, as stored: the link is used up only if it is
    /// still the one pending (another browser may have opened the link since).
    pub pending_secret: &'a str,
    /// The secret as the staff member's own, sealed to them.
    pub sealed_secret: &'a str,
    /// The step of the code that proved the secret: it can't be used again to sign in.
    pub first_step: i64,
    pub recovery_code_macs: &'a [String],
    pub now: Millis,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffSessionRow {
    pub id_hash: String,
    pub staff_id: StaffId,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub expires_at: Millis,
}

impl Store {
    /// The new staff member's id, or `None` when the username is taken.
    pub async fn insert_staff(
        &self,
        username: &str,
        username_key: &str,
        role: Role,
        now: Millis,
    ) -> Result<Option<StaffId>, StoreError> {
        let inserted = sqlx::query_scalar::<_, StaffId>(
            "INSERT INTO staff (username, username_key, role, last_totp_step, created_at) \
             VALUES ($1, $2, $3, 0, $4) RETURNING id",
        )
        .bind(username)
        .bind(username_key)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(&self.writer)
        .await;
        match inserted {
            Ok(id) => Ok(Some(id)),
            Err(err) if is_unique_violation(&err) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn staff_by_username(
        &self,
        username_key: &str,
    ) -> Result<Option<StaffRow>, StoreError> {
        Ok(sqlx::query_as::<_, StaffRow>(&format!(
            "SELECT {STAFF_COLUMNS} FROM staff WHERE username_key = $1"
        ))
        .bind(username_key)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn staff_member(&self, id: StaffId) -> Result<Option<StaffRow>, StoreError> {
        Ok(sqlx::query_as::<_, StaffRow>(&format!(
            "SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn all_staff(&self) -> Result<Vec<StaffRow>, StoreError> {
        Ok(sqlx::query_as::<_, StaffRow>(&format!(
            "SELECT {STAFF_COLUMNS} FROM staff ORDER BY username_key"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Disables (`Some(now)`) or enables (`None`) a staff member; a disabled one's sessions end.
    pub async fn set_staff_disabled(
        &self,
        id: StaffId,
        disabled_at: Option<Millis>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let changed = sqlx::query("UPDATE staff SET disabled_at = $1 WHERE id = $2")
            .bind(disabled_at)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if disabled_at.is_some() {
            sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// A new enrolment link for the staff member; earlier unused links stop working.
    pub async fn insert_enrolment(
        &self,
        staff_id: StaffId,
        token_hash: &str,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM staff_enrolments WHERE staff_id = $1 AND used_at IS NULL")
            .bind(staff_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO staff_enrolments (token_hash, staff_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(staff_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn enrolment(&self, token_hash: &str) -> Result<Option<EnrolmentRow>, StoreError> {
        Ok(sqlx::query_as::<_, EnrolmentRow>(
            "SELECT staff_id, expires_at, pending_secret, used_at FROM staff_enrolments \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Gives the link a new pending secret (shown to the browser that just opened it), in place
    /// of any earlier one. `false` if the link was used meanwhile.
    pub async fn replace_enrolment_secret(
        &self,
        token_hash: &str,
        pending_secret: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE staff_enrolments SET pending_secret = $1 \
             WHERE token_hash = $2 AND used_at IS NULL",
        )
        .bind(pending_secret)
        .bind(token_hash)
        .execute(&self.writer)
        .await?
        .rows_affected()
            == 1)
    }

    /// Every staff member's sealed authenticator secret, by staff ID.
    pub async fn staff_totp_secrets(&self) -> Result<Vec<(StaffId, String)>, StoreError> {
        Ok(sqlx::query_as::<_, (StaffId, String)>(
            "SELECT id, totp_secret FROM staff WHERE totp_secret IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces a staff member's sealed authenticator secret, if it is still `old`.
    pub async fn replace_staff_secret(
        &self,
        staff_id: StaffId,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("UPDATE staff SET totp_secret = $1 WHERE id = $2 AND totp_secret = $3")
                .bind(new)
                .bind(staff_id)
                .bind(old)
                .execute(&self.writer)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Finishes an enrolment in one transaction: the link is used up, the password and
    /// authenticator secret take effect, and the recovery codes replace any earlier ones.
    /// `false` if the link was used, or opened by another browser, meanwhile.
    pub async fn finish_enrolment(&self, done: &FinishedEnrolment<'_>) -> Result<bool, StoreError> {
        let FinishedEnrolment {
            token_hash,
            staff_id,
            password_hash,
            pending_secret,
            sealed_secret,
            first_step,
            recovery_code_macs,
            now,
        } = *done;
        let mut tx = self.writer.begin().await?;
        let used = sqlx::query(
            "UPDATE staff_enrolments SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             AND pending_secret = $3",
        )
        .bind(now)
        .bind(token_hash)
        .bind(pending_secret)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if used != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE staff SET password_hash = $1, totp_secret = $2, last_totp_step = $3, \
             enrolled_at = $4 WHERE id = $5",
        )
        .bind(password_hash)
        .bind(sealed_secret)
        .bind(first_step)
        .bind(now)
        .bind(staff_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM staff_recovery_codes WHERE staff_id = $1")
            .bind(staff_id)
            .execute(&mut *tx)
            .await?;
        for mac in recovery_code_macs {
            sqlx::query("INSERT INTO staff_recovery_codes (staff_id, code_mac) VALUES ($1, $2)")
                .bind(staff_id)
                .bind(mac)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1")
            .bind(staff_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Accepts an authenticator step once: `false` if it (or a later one) was used already.
    pub async fn use_totp_step(&self, staff_id: StaffId, step: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE staff SET last_totp_step = $1 WHERE id = $2 AND last_totp_step < $1",
        )
        .bind(step)
        .bind(staff_id)
        .execute(&self.writer)
        .await?
        .rows_affected()
            == 1)
    }

    /// Uses up a recovery code: `false` if it isn't one of theirs, or was used.
    pub async fn use_recovery_code(
        &self,
        staff_id: StaffId,
        code_mac: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE staff_recovery_codes SET used_at = $1 \
             WHERE staff_id = $2 AND code_mac = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(staff_id)
        .bind(code_mac)
        .execute(&self.writer)
        .await?
        .rows_affected()
            == 1)
    }

    pub async fn recovery_codes_left(&self, staff_id: StaffId) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM staff_recovery_codes WHERE staff_id = $1 AND used_at IS NULL",
        )
        .bind(staff_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Stores a staff session, replacing `old` if given, and records the sign-in.
    pub async fn begin_staff_session(
        &self,
        old_id_hash: Option<&str>,
        new: &StaffSessionRow,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        if let Some(old) = old_id_hash {
            sqlx::query("DELETE FROM staff_sessions WHERE id_hash = $1")
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO staff_sessions (id_hash, staff_id, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&new.id_hash)
        .bind(new.staff_id)
        .bind(new.created_at)
        .bind(new.last_seen_at)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE staff SET last_sign_in_at = $1 WHERE id = $2")
            .bind(new.created_at)
            .bind(new.staff_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn staff_session(
        &self,
        id_hash: &str,
    ) -> Result<Option<StaffSessionRow>, StoreError> {
        Ok(sqlx::query_as::<_, StaffSessionRow>(
            "SELECT id_hash, staff_id, created_at, last_seen_at, expires_at FROM staff_sessions \
             WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn touch_staff_session(&self, id_hash: &str, at: Millis) -> Result<(), StoreError> {
        sqlx::query("UPDATE staff_sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(at)
            .bind(id_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn delete_staff_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM staff_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

/// An admin's address for alerts, and whether its link was followed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertEmailRow {
    pub email: String,
    pub confirmed_at: Option<Millis>,
}

impl Store {
    pub async fn alert_email(
        &self,
        staff_id: StaffId,
    ) -> Result<Option<AlertEmailRow>, StoreError> {
        Ok(sqlx::query_as::<_, AlertEmailRow>(
            "SELECT email, confirmed_at FROM staff_alert_emails WHERE staff_id = $1",
        )
        .bind(staff_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A new address, waiting for the link hashed as `token_hash` until `expires_at`, unless
    /// the last link still waiting expires after `last_link_before` (it was sent too lately):
    /// `false`, and nothing changed. The check is the upsert's own, so requests at once can't
    /// all pass it.
    pub async fn set_alert_email(
        &self,
        staff_id: StaffId,
        email: &str,
        token_hash: &str,
        expires_at: Millis,
        last_link_before: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO staff_alert_emails (staff_id, email, token_hash, expires_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (staff_id) DO UPDATE SET \
             email = excluded.email, token_hash = excluded.token_hash, \
             expires_at = excluded.expires_at, confirmed_at = NULL \
             WHERE staff_alert_emails.expires_at IS NULL \
                OR staff_alert_emails.expires_at <= $5",
        )
        .bind(staff_id)
        .bind(email)
        .bind(token_hash)
        .bind(expires_at)
        .bind(last_link_before)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// No alerts by email for `staff_id`.
    pub async fn remove_alert_email(&self, staff_id: StaffId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM staff_alert_emails WHERE staff_id = $1")
            .bind(staff_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Follows the link hashed as `token_hash`, if it is `staff_id`'s and still works: the
    /// address it was sent to, now confirmed.
    pub async fn confirm_alert_email(
        &self,
        staff_id: StaffId,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "UPDATE staff_alert_emails SET confirmed_at = $3, token_hash = NULL, \
             expires_at = NULL WHERE staff_id = $1 AND token_hash = $2 AND expires_at > $3 \
             RETURNING email",
        )
        .bind(staff_id)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// The confirmed addresses of admins whose accounts are enabled.
    pub async fn admin_alert_emails(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT e.email FROM staff_alert_emails e JOIN staff s ON s.id = e.staff_id \
             WHERE e.confirmed_at IS NOT NULL AND s.role = 'admin' AND s.disabled_at IS NULL \
             ORDER BY e.staff_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
