//! The SMS outbox: messages wait here until a provider has accepted them.

use super::AccountId;
use super::{Engine, Store, StoreError};

/// The channel that tells every instance's outbox worker a message is waiting (PostgreSQL).
pub const OUTBOX_CHANNEL: &str = "portal_outbox";
use super::kinds::TextStatus;
use crate::clock::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub to_number: String,
    pub sealed_body: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: TextStatus,
    pub attempts: i64,
    pub give_up_at: Millis,
    /// When it was queued.
    pub created_at: Millis,
    /// A code's purpose, or "notice".
    pub purpose: Option<String>,
    /// Tried first through the provider after this one.
    pub after_provider: Option<String>,
    /// How often a failure reported after sending moved it on.
    pub failovers: i64,
}

/// The columns an `OutboxRow` reads.
const OUTBOX_COLUMNS: &str = "id, to_number, sealed_body, status, attempts, give_up_at, \
     created_at, purpose, after_provider, failovers";

/// An email as the console mailer keeps it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DevEmail {
    pub to_address: String,
    pub subject: String,
    pub body: String,
    pub sent_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DevSms {
    pub to_number: String,
    pub body: String,
    pub sent_at: Millis,
}

/// A message to put in the outbox.
pub struct NewSms<'a> {
    /// The patient it is for, if any: support sees a patient's texts.
    pub account_id: Option<AccountId>,
    pub to: &'a str,
    pub sealed_body: &'a str,
    pub now: Millis,
    /// Retries stop here.
    pub give_up_at: Millis,
    /// A code's purpose, or "notice".
    pub purpose: &'a str,
    /// Tried first through the provider after this one (the one that carried the step's last
    /// text, undelivered).
    pub after_provider: Option<&'a str>,
}

/// Puts a message in the outbox already claimed by the caller (`lease_until`), who sends it
/// straight away, or (`None`) for the worker to send; inside the caller's transaction.
async fn insert_sms(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sms: &NewSms<'_>,
    lease_until: Option<Millis>,
) -> Result<i64, StoreError> {
    let (status, attempts) = match lease_until {
        Some(_) => (TextStatus::Sending, 1),
        None => (TextStatus::Pending, 0),
    };
    Ok(sqlx::query_scalar(
        "INSERT INTO sms_outbox (account_id, to_number, sealed_body, status, attempts, \
         created_at, next_attempt_at, give_up_at, lease_until, purpose, after_provider) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(sms.account_id)
    .bind(sms.to)
    .bind(sms.sealed_body)
    .bind(status.as_str())
    .bind(attempts)
    .bind(sms.now)
    .bind(sms.give_up_at)
    .bind(lease_until)
    .bind(sms.purpose)
    .bind(sms.after_provider)
    .fetch_one(&mut **tx)
    .await?)
}

pub(super) async fn insert_claimed_sms(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sms: &NewSms<'_>,
    lease_until: Millis,
) -> Result<i64, StoreError> {
    insert_sms(tx, sms, Some(lease_until)).await
}

/// Puts a message in the outbox for the worker (or `deliver_now`), inside the caller's
/// transaction.
impl Store {
    /// Queues a message that carries no code (a notice), returning its id.
    pub async fn queue_sms(&self, sms: &NewSms<'_>) -> Result<i64, StoreError> {
        let mut tx = self.writer.begin().await?;
        let id = insert_sms(&mut tx, sms, None).await?;
        self.notify_outbox(&mut tx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A connection listening for new messages from any instance (PostgreSQL only).
    pub async fn outbox_listener(&self) -> Result<sqlx::postgres::PgListener, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen(OUTBOX_CHANNEL).await?;
        Ok(listener)
    }

    /// Wakes every instance's outbox worker when the transaction commits (PostgreSQL); on
    /// SQLite there is one instance, and its worker is woken in process. Sent for messages a
    /// sender holds too: if that sender dies, the others must know when its lease runs out.
    pub(super) async fn notify_outbox(
        &self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<(), StoreError> {
        if self.engine == Engine::Postgres {
            sqlx::query(&format!("NOTIFY {OUTBOX_CHANNEL}"))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Takes the oldest message that is due and that no other worker holds, for one delivery
    /// attempt under a lease. On PostgreSQL, workers of several instances skip each other's rows.
    pub async fn claim_next_due(
        &self,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<OutboxRow>, StoreError> {
        let skip_locked = match self.engine {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        Ok(sqlx::query_as::<_, OutboxRow>(&format!(
            "UPDATE sms_outbox SET status = 'sending', attempts = attempts + 1, lease_until = $2 \
             WHERE id = (SELECT id FROM sms_outbox WHERE next_attempt_at <= $1 \
                 AND (status = 'pending' OR (status = 'sending' AND lease_until < $1)) \
                 ORDER BY id LIMIT 1{skip_locked}) \
               AND next_attempt_at <= $1 \
               AND (status = 'pending' OR (status = 'sending' AND lease_until < $1)) \
             RETURNING {OUTBOX_COLUMNS}"
        ))
        .bind(now)
        .bind(lease_until)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// Takes the message for one delivery attempt, if it is due and nobody else holds it. A
    /// lease (rather than a lock) means a crashed sender's message is picked up again later.
    pub async fn claim_sms(
        &self,
        id: i64,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<OutboxRow>, StoreError> {
        Ok(sqlx::query_as::<_, OutboxRow>(&format!(
            "UPDATE sms_outbox SET status = 'sending', attempts = attempts + 1, lease_until = $3 \
             WHERE id = $1 AND next_attempt_at <= $2 \
               AND (status = 'pending' OR (status = 'sending' AND lease_until < $2)) \
             RETURNING {OUTBOX_COLUMNS}"
        ))
        .bind(id)
        .bind(now)
        .bind(lease_until)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// Gives back a message whose attempt was cut short (the portal stopping), due at `now`.
    pub async fn release_sms(&self, id: i64, now: Millis) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sms_outbox SET status = 'pending', lease_until = NULL, next_attempt_at = $2 \
             WHERE id = $1 AND status = 'sending'",
        )
        .bind(id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// When the next message falls due, so the worker can sleep until then.
    pub async fn next_sms_due_at(&self) -> Result<Option<Millis>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(due) FROM ( \
               SELECT MIN(CASE WHEN status = 'sending' THEN lease_until ELSE next_attempt_at END) \
                 AS due FROM sms_outbox WHERE status IN ('pending', 'sending') \
               UNION ALL SELECT MIN(kept_until) FROM sms_outbox WHERE kept_until IS NOT NULL \
             ) AS next",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// The provider accepted it: the body is dropped and the number masked; only the facts
    /// remain. With `kept_until`, both are kept until then, for a late report of failure
    /// (`fail_over_late`), and then dropped (`forget_kept_texts`).
    pub async fn mark_sms_sent(
        &self,
        id: i64,
        at: Millis,
        provider: &str,
        provider_ref: Option<&str>,
        masked_number: &str,
        kept_until: Option<Millis>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sms_outbox SET status = 'sent', sent_at = $2, provider_ref = $3, \
             lease_until = NULL, last_error = NULL, provider = $5, delivery_status = NULL, \
             kept_until = $6, \
             sealed_body = CASE WHEN $6 IS NULL THEN NULL ELSE sealed_body END, \
             to_number = CASE WHEN $6 IS NULL THEN $4 ELSE to_number END \
             WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .bind(provider_ref)
        .bind(masked_number)
        .bind(provider)
        .bind(kept_until)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A provider reported the text it knows as `provider_ref` failed or undelivered while its
    /// body is still kept: it goes again, now, through the provider after `provider`. Returns
    /// its id, and its attempts so far.
    pub async fn fail_over_late(
        &self,
        provider_ref: &str,
        provider: &str,
        now: Millis,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let moved: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE sms_outbox SET status = 'pending', next_attempt_at = $3, kept_until = NULL, \
             after_provider = $2, failovers = failovers + 1, provider_ref = NULL \
             WHERE provider_ref = $1 AND status = 'sent' AND kept_until > $3 \
               AND sealed_body IS NOT NULL AND give_up_at > $3 \
             RETURNING id, attempts",
        )
        .bind(provider_ref)
        .bind(provider)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if moved.is_some() {
            self.notify_outbox(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// Sent texts kept past `now` for a late report: their bodies dropped and numbers masked
    /// (by `mask`). Returns how many.
    pub async fn forget_kept_texts(
        &self,
        now: Millis,
        mask: impl Fn(&str) -> String,
    ) -> Result<usize, StoreError> {
        let kept: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, to_number FROM sms_outbox WHERE kept_until <= $1 LIMIT 500")
                .bind(now)
                .fetch_all(&self.writer)
                .await?;
        for (id, number) in &kept {
            sqlx::query(
                "UPDATE sms_outbox SET sealed_body = NULL, to_number = $2, kept_until = NULL \
                 WHERE id = $1 AND kept_until <= $3",
            )
            .bind(id)
            .bind(mask(number))
            .bind(now)
            .execute(&self.writer)
            .await?;
        }
        Ok(kept.len())
    }

    pub async fn retry_sms_at(
        &self,
        id: i64,
        next_attempt_at: Millis,
        error: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE sms_outbox SET status = 'pending', next_attempt_at = $2, lease_until = NULL, \
             last_error = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(next_attempt_at)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        self.notify_outbox(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// No more attempts: a permanent refusal, or the code expired before it could go. The body
    /// is dropped and the number masked.
    pub async fn mark_sms_failed(
        &self,
        id: i64,
        error: &str,
        masked_number: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sms_outbox SET status = 'failed', sealed_body = NULL, lease_until = NULL, \
             last_error = $2, to_number = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(masked_number)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// How many attempts `provider` took, and how many failed, since `since`: its day.
    pub async fn provider_day(
        &self,
        provider: &str,
        since: Millis,
    ) -> Result<(i64, i64), StoreError> {
        let (taken, failed): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT CAST(SUM(CASE WHEN outcome = 'sent' THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN outcome = 'sent' THEN 0 ELSE 1 END) AS BIGINT) \
             FROM sms_attempts WHERE provider = $1 AND at >= $2",
        )
        .bind(provider)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok((taken.unwrap_or(0), failed.unwrap_or(0)))
    }

    /// Whether a text's body is still kept (sealed), waiting to be sent or for a late report.
    pub async fn sms_body_kept(&self, id: i64) -> Result<bool, StoreError> {
        let kept: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM sms_outbox WHERE id = $1 AND sealed_body IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(kept.is_some())
    }

    /// The newest message's id.
    pub async fn latest_sms_id(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT MAX(id) FROM sms_outbox")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn sms_status(&self, id: i64) -> Result<Option<TextStatus>, StoreError> {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM sms_outbox WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(status.map(TextStatus::try_from).transpose()?)
    }

    /// One attempt at message `sms_id`; `provider` is the one it tried (none when no provider
    /// was tried: every one skipped, or the portal stopping).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_sms_attempt(
        &self,
        sms_id: i64,
        attempt: i64,
        at: Millis,
        took_ms: i64,
        outcome: &str,
        detail: Option<&str>,
        provider: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sms_attempts (sms_id, attempt, at, took_ms, outcome, detail, provider) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(sms_id)
        .bind(attempt)
        .bind(at)
        .bind(took_ms)
        .bind(outcome)
        .bind(detail)
        .bind(provider)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// `provider`'s latest `limit` attempts from every instance, newest first: when, and
    /// whether it took the text. Its circuit's memory (`sms::circuits`).
    pub async fn provider_attempts(
        &self,
        provider: &str,
        limit: i64,
    ) -> Result<Vec<(Millis, bool)>, StoreError> {
        let rows: Vec<(Millis, String)> = sqlx::query_as(
            "SELECT at, outcome FROM sms_attempts WHERE provider = $1 \
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(provider)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(at, outcome)| (at, outcome == "sent"))
            .collect())
    }

    /// Which provider carried message `id`, once one took it.
    pub async fn sms_provider(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT provider FROM sms_outbox WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }

    /// (attempt, outcome) for each attempt at message `sms_id`, in order.
    pub async fn sms_attempts(&self, sms_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT attempt, outcome FROM sms_attempts WHERE sms_id = $1 ORDER BY id",
        )
        .bind(sms_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records what the provider reports about a message it accepted, and says when that
    /// message was queued and which provider took it. `None` if no message has that provider id.
    pub async fn record_delivery_status(
        &self,
        provider_ref: &str,
        status: &str,
        at: Millis,
    ) -> Result<Option<(Millis, Option<String>)>, StoreError> {
        Ok(sqlx::query_as(
            "UPDATE sms_outbox SET delivery_status = $2, delivery_updated_at = $3 \
             WHERE provider_ref = $1 RETURNING created_at, provider",
        )
        .bind(provider_ref)
        .bind(status)
        .bind(at)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// How many texts wait to be sent (queued, or being tried), and when the oldest of them
    /// was queued.
    pub async fn outbox_backlog(&self) -> Result<(i64, Option<Millis>), StoreError> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM sms_outbox \
             WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn delivery_status(&self, sms_id: i64) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT delivery_status FROM sms_outbox WHERE id = $1")
                .bind(sms_id)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }

    pub async fn record_dev_sms(&self, sms: &DevSms) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO dev_sms (to_number, body, sent_at) VALUES ($1, $2, $3)")
            .bind(&sms.to_number)
            .bind(&sms.body)
            .bind(sms.sent_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn dev_sms(&self) -> Result<Vec<DevSms>, StoreError> {
        Ok(
            sqlx::query_as::<_, DevSms>("SELECT to_number, body, sent_at FROM dev_sms ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// (number as stored, status, last error) of message `id`: for tests and support.
    pub async fn sms_row(
        &self,
        id: i64,
    ) -> Result<Option<(String, String, Option<String>)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT to_number, status, last_error FROM sms_outbox WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn record_dev_email(&self, email: &DevEmail) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dev_email (to_address, subject, body, sent_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&email.to_address)
        .bind(&email.subject)
        .bind(&email.body)
        .bind(email.sent_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn dev_email(&self) -> Result<Vec<DevEmail>, StoreError> {
        Ok(sqlx::query_as::<_, DevEmail>(
            "SELECT to_address, subject, body, sent_at FROM dev_email ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A security notice for the outbox, under its own cap per number (see DESIGN's table of
/// texts): `last_body` is what goes instead once the cap is reached, `cap` counts the number's
/// notices and `budget` is the portal's daily count, which a notice joins but is never refused by.
pub struct CappedNotice<'a> {
    pub sms: NewSms<'a>,
    pub last_sealed_body: &'a str,
    pub cap: &'a super::Limit,
    pub budget: &'a super::Limit,
}

/// What became of a capped notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeQueued {
    /// Queued as written.
    Queued(i64),
    /// The cap was reached with it: the last text, saying more changes were made, is queued.
    Last(i64),
    /// Past the cap: no text (email carries it).
    OverCap,
}

/// Queues a capped notice inside the caller's transaction, which must hold the turns of
/// `limit_key(cap)` and `limit_key(budget)`.
pub(super) async fn insert_capped_notice(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    notice: &CappedNotice<'_>,
) -> Result<NoticeQueued, StoreError> {
    // Counted one past the cap, so the last text is told apart from those after it.
    let mut window = notice.cap.clone();
    window.max += 1;
    let sent = super::limits::count_in(tx, &window).await?;
    let body = match sent {
        n if n < notice.cap.max => notice.sms.sealed_body,
        n if n == notice.cap.max => notice.last_sealed_body,
        _ => return Ok(NoticeQueued::OverCap),
    };
    super::limits::insert_events(
        tx,
        &[notice.cap.clone(), notice.budget.clone()],
        notice.sms.now,
    )
    .await?;
    let id = insert_sms(
        tx,
        &NewSms {
            sealed_body: body,
            ..notice.sms
        },
        None,
    )
    .await?;
    Ok(match sent < notice.cap.max {
        true => NoticeQueued::Queued(id),
        false => NoticeQueued::Last(id),
    })
}

impl Store {
    /// Queues a security notice under its cap (`insert_capped_notice`), in a transaction of
    /// its own.
    pub async fn queue_notice(
        &self,
        notice: &CappedNotice<'_>,
    ) -> Result<NoticeQueued, StoreError> {
        let mut tx = self.writer.begin().await?;
        super::serialize(
            &mut tx,
            self.engine,
            vec![
                super::limit_key(notice.cap),
                super::limit_key(notice.budget),
            ],
        )
        .await?;
        let queued = insert_capped_notice(&mut tx, notice).await?;
        if queued != NoticeQueued::OverCap {
            self.notify_outbox(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(queued)
    }
}
