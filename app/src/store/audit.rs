//! The audit trail: sign-ins, failures, codes sent and verified, number changes.

use super::{Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub at: Millis,
    pub account_id: Option<i64>,
    /// The username as typed, where no account is known.
    pub username: Option<String>,
    /// The staff member who acted, if one did.
    pub staff_id: Option<i64>,
    pub ip: String,
    pub event: String,
    pub outcome: String,
    pub detail: Option<String>,
    /// The ID of the request that wrote it, as its log lines carry it.
    pub request_id: Option<String>,
}

impl Store {
    /// Writes a line. A line about a patient carries their username as it is now (see
    /// migration 0015), so that it reads whole without the patients' table.
    pub async fn record_audit(&self, event: &AuditRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_events (at, account_id, username, staff_id, ip, event, outcome, \
             detail, request_id) VALUES ($1, $2, \
             COALESCE((SELECT username FROM accounts WHERE id = $2), $3), $4, $5, $6, $7, $8, $9)",
        )
        .bind(event.at)
        .bind(event.account_id)
        .bind(&event.username)
        .bind(event.staff_id)
        .bind(&event.ip)
        .bind(&event.event)
        .bind(&event.outcome)
        .bind(&event.detail)
        .bind(&event.request_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn audit_events(&self, account_id: i64) -> Result<Vec<AuditRow>, StoreError> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT at, account_id, username, staff_id, ip, event, outcome, detail, request_id \
             FROM audit_events WHERE account_id = $1 ORDER BY id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Events recorded against a username that no account has (refused logins).
    pub async fn audit_events_for_username(
        &self,
        username: &str,
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT at, account_id, username, staff_id, ip, event, outcome, detail, request_id \
             FROM audit_events WHERE username = $1 AND account_id IS NULL ORDER BY id",
        )
        .bind(username)
        .fetch_all(&self.pool)
        .await?)
    }
}
