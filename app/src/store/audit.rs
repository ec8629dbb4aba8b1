//! The audit trail: sign-ins, failures, codes sent and verified, number changes.

use super::{Store, StoreError};
use crate::portal::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEvent {
    pub at: Millis,
    pub account_id: Option<i64>,
    pub ip: String,
    pub event: String,
    pub outcome: String,
    pub detail: Option<String>,
}

impl Store {
    pub async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_events (at, account_id, ip, event, outcome, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event.at)
        .bind(event.account_id)
        .bind(&event.ip)
        .bind(&event.event)
        .bind(&event.outcome)
        .bind(&event.detail)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn audit_events(&self, account_id: i64) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(sqlx::query_as::<_, AuditEvent>(
            "SELECT at, account_id, ip, event, outcome, detail FROM audit_events \
             WHERE account_id = $1 ORDER BY id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
