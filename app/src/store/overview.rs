//! What the practice's overview counts: audited events by day, and the texts of recent days.

use super::{Store, StoreError};
use crate::clock::{Millis, DAY};

/// How many of one audited event (with its outcome, and for a sign-in its factor) a day saw.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventsOnDay {
    /// Days since 1970-01-01, UTC.
    pub day: i64,
    pub event: String,
    pub outcome: String,
    /// For a patient's sign-in: `sms`, `passkey`, `remembered_device` or `password`; else empty.
    pub factor: String,
    pub count: i64,
}

/// One text, as the overview needs it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TextOnDay {
    pub created_at: Millis,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: String,
    /// What the provider last reported, where it reports.
    pub delivery_status: Option<String>,
    pub sent_at: Option<Millis>,
    pub delivery_updated_at: Option<Millis>,
}

impl Store {
    /// Counts of `events` on each day from `since`, by day, event, outcome and factor.
    pub async fn events_by_day(
        &self,
        since: Millis,
        events: &[&str],
    ) -> Result<Vec<EventsOnDay>, StoreError> {
        let wanted = (2..events.len() + 2)
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        // The factor is the start of a sign-in's detail ("factor: passkey (Phone)").
        let sql = format!(
            "SELECT at / {DAY} AS day, event, outcome, \
               CASE WHEN event <> 'signed_in' THEN '' \
                    WHEN detail LIKE 'factor: sms%' THEN 'sms' \
                    WHEN detail LIKE 'factor: passkey%' THEN 'passkey' \
                    WHEN detail LIKE 'factor: remembered_device%' THEN 'remembered_device' \
                    ELSE 'password' END AS factor, \
               COUNT(*) AS count \
             FROM audit_events WHERE at >= $1 AND event IN ({wanted}) \
             GROUP BY 1, 2, 3, 4"
        );
        let mut query = sqlx::query_as::<_, EventsOnDay>(&sql).bind(since);
        for event in events {
            query = query.bind(*event);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// Every text queued from `since`.
    pub async fn texts_since(&self, since: Millis) -> Result<Vec<TextOnDay>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT created_at, status, delivery_status, sent_at, delivery_updated_at \
             FROM sms_outbox WHERE created_at >= $1",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }
}
