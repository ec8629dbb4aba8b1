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

/// What became of the texts of one day: how many of each fate.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TextsOnDay {
    /// Days since 1970-01-01, UTC.
    pub day: i64,
    /// `accepted` by the provider, `delivered` to the phone, `failed`, or `waiting` to be sent.
    pub fate: String,
    pub count: i64,
}

/// How many texts took about this long (from queued to the provider, or to the phone).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Took {
    /// The start of the span: 100 ms wide up to 10 s, a second wide up to a minute, then a
    /// minute wide.
    pub from_ms: i64,
    pub count: i64,
}

/// The texts of recent days as the overview counts them: by day and fate, and how long they
/// took, in spans narrow enough for a median to a tenth of a second.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextCounts {
    pub by_day: Vec<TextsOnDay>,
    pub to_provider: Vec<Took>,
    pub to_phone: Vec<Took>,
}

/// A text's fate, as SQL.
const FATE: &str = "CASE WHEN delivery_status IN ('undelivered', 'failed') OR status = 'failed' \
       THEN 'failed' \
     WHEN status = 'sent' AND delivery_status IN ('delivered', 'read') THEN 'delivered' \
     WHEN status = 'sent' THEN 'accepted' ELSE 'waiting' END";

/// The span a time `ms` falls in, as SQL.
fn span(ms: &str) -> String {
    // `ms` is an expression (`sent_at - created_at`): bracketed, or `/` binds first.
    format!(
        "CASE WHEN ({ms}) < 10000 THEN (({ms}) / 100) * 100 \
         WHEN ({ms}) < 60000 THEN (({ms}) / 1000) * 1000 ELSE (({ms}) / 60000) * 60000 END"
    )
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

    /// The texts queued from `since`, counted: a few rows a day, whatever the texts number.
    pub async fn text_counts(&self, since: Millis) -> Result<TextCounts, StoreError> {
        let by_day = sqlx::query_as(&format!(
            "SELECT created_at / {DAY} AS day, {FATE} AS fate, COUNT(*) AS count \
             FROM sms_outbox WHERE created_at >= $1 GROUP BY 1, 2"
        ))
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let took = |took: &str, only: &str| {
            format!(
                "SELECT {} AS from_ms, COUNT(*) AS count FROM sms_outbox \
                 WHERE created_at >= $1 AND {only} GROUP BY 1",
                span(took)
            )
        };
        let to_provider = sqlx::query_as(&took("sent_at - created_at", "sent_at IS NOT NULL"))
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        let to_phone = sqlx::query_as(&took(
            "delivery_updated_at - created_at",
            &format!("delivery_updated_at IS NOT NULL AND {FATE} = 'delivered'"),
        ))
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(TextCounts {
            by_day,
            to_provider,
            to_phone,
        })
    }
}
