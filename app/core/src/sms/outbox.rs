//! The durable outbox. A message is written in the same transaction as its code, tried at once,
//! and retried with backoff until its code expires; a restart picks up whatever was left. With
//! more than one provider (`PORTAL_SMS_PROVIDERS`), an attempt tries them in order, skipping any
//! whose circuit is open (`super::circuits`): a text that fails at one goes out through the next
//! with the same body, so the code is the same whichever arrives.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use rand::Rng;
use tokio::sync::{watch, Notify};

use super::{
    circuits::{Circuit, Circuits},
    mask_numbers_in, SendError, Sms, SmsSender,
};
use crate::{
    clock::{Clock, Millis, SECOND},
    metrics,
    mobile::masked,
    secret::ServerSecret,
    store::{Engine, OutboxRow, Store, StoreError},
};

/// Retries back off exponentially up to this gap.
const MAX_BACKOFF: Millis = 60 * SECOND;

/// With every provider's circuit open, how soon a waiting text looks again.
const WHILE_ALL_DOWN: Millis = 5 * SECOND;

/// What an attempt's last error was, when no provider took the text.
const ALL_SKIPPED: &str = "every text provider is down: the text waits for one to come back";

/// Where a text goes: its purpose (for the sent-texts metric), the provider to start after,
/// and how often a late report has moved it on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    pub purpose: String,
    pub after_provider: Option<String>,
    pub failovers: i64,
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// A temporary failure; the worker will try again.
    WillRetry(String),
    /// The provider refused it for good, or the code expired first.
    Failed(String),
    /// Someone else is handling it, or it has already gone.
    NotMine,
}

#[derive(Clone)]
pub struct SmsOutbox {
    store: Store,
    /// In the order they are tried: never empty.
    senders: Arc<[Arc<dyn SmsSender>]>,
    circuits: Arc<Circuits>,
    secret: ServerSecret,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    lease: Millis,
    /// Whether `run` is running, in this instance: readiness asks.
    working: Arc<AtomicBool>,
    /// Where this instance's sending is, as it stops (`stop`).
    phase: Arc<watch::Sender<Phase>>,
    /// Attempts under way in this instance.
    in_flight: Arc<AtomicUsize>,
    /// How long a sent text is kept for a report of failure that sends it through the next
    /// provider (with more than one).
    failover_wait: Millis,
}

/// How far a stop has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Sending,
    /// No new message is taken; attempts under way may finish.
    Draining,
    /// Attempts still waiting for the provider give their message back.
    Stopped,
}

/// One attempt under way, counted while it lasts.
struct Attempting(Arc<AtomicUsize>);

impl Attempting {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for Attempting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Marks the worker stopped however `run` ends, a panic included.
struct Working(Arc<AtomicBool>);

impl Drop for Working {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl SmsOutbox {
    /// How long one attempt may hold a message before another sender may take it over.
    pub const LEASE: Millis = 60 * SECOND;

    /// A shorter (or longer) lease than [`Self::LEASE`]: how soon another instance takes over
    /// the messages of one that died while sending them.
    pub fn with_lease(mut self, lease: Millis) -> Self {
        self.lease = lease;
        self
    }

    pub fn lease(&self) -> Millis {
        self.lease
    }

    /// An outbox that sends through `sender`, then (if it fails) each of `fallbacks` in turn.
    pub fn new(
        store: Store,
        sender: Arc<dyn SmsSender>,
        secret: ServerSecret,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            senders: Arc::from(vec![sender]),
            circuits: Arc::new(Circuits::default()),
            secret,
            clock,
            wake: Arc::new(Notify::new()),
            lease: Self::LEASE,
            working: Arc::new(AtomicBool::new(false)),
            phase: Arc::new(watch::Sender::new(Phase::Sending)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            failover_wait: 30 * SECOND,
        }
    }

    /// How long a sent text is kept for a late report of failure (30 s unless told).
    pub fn with_failover_wait(mut self, wait: Millis) -> Self {
        self.failover_wait = wait;
        self
    }

    /// The providers in the order a text tries them: after `after`, if it names one, the
    /// rest in turn and `after` itself last.
    fn in_turn(&self, after: Option<&str>) -> Vec<Arc<dyn SmsSender>> {
        let start = after
            .and_then(|name| self.senders.iter().position(|s| s.name() == name))
            .map_or(0, |i| i + 1);
        let n = self.senders.len();
        (0..n)
            .map(|i| self.senders[(start + i) % n].clone())
            .collect()
    }

    /// Whether this instance's worker is delivering (see `run`).
    pub fn is_working(&self) -> bool {
        self.working.load(Ordering::SeqCst)
    }

    /// Providers tried after the first when it fails, in order.
    pub fn with_fallbacks(mut self, fallbacks: Vec<Arc<dyn SmsSender>>) -> Self {
        let mut senders: Vec<_> = self.senders.iter().cloned().collect();
        senders.extend(fallbacks);
        self.senders = Arc::from(senders);
        self
    }

    /// The first provider.
    pub fn provider(&self) -> &'static str {
        self.senders[0].name()
    }

    /// Every provider, in the order they are tried.
    pub fn providers(&self) -> Vec<&'static str> {
        self.senders.iter().map(|s| s.name()).collect()
    }

    /// Each provider, and whether its circuit lets texts through, as this instance last saw.
    pub fn provider_health(&self) -> Vec<(&'static str, bool)> {
        let now = self.clock.now();
        self.senders
            .iter()
            .map(|s| {
                let up = !matches!(self.circuits.circuit(s.name(), now), Circuit::Open { .. });
                (s.name(), up)
            })
            .collect()
    }

    /// Each provider's circuit, read again from what every instance recorded.
    pub async fn circuits_now(&self) -> Vec<(&'static str, Circuit)> {
        let now = self.clock.now();
        let mut circuits = Vec::new();
        for sender in self.senders.iter() {
            self.circuits.look(&self.store, sender.name(), now).await;
            circuits.push((sender.name(), self.circuits.circuit(sender.name(), now)));
        }
        circuits
    }

    /// Whether every provider's circuit is open: texts wait until one comes back. Read again
    /// from what every instance recorded.
    pub async fn all_providers_down(&self) -> bool {
        let now = self.clock.now();
        let mut all_down = true;
        for sender in self.senders.iter() {
            // Reads the provider's attempts if this view is old; a half-open one counts as up.
            self.circuits.look(&self.store, sender.name(), now).await;
            all_down &= matches!(
                self.circuits.circuit(sender.name(), now),
                Circuit::Open { .. }
            );
        }
        all_down
    }

    /// Makes one attempt at message `id`, if it is due and free.
    pub async fn deliver(&self, id: i64) -> Result<Delivery, StoreError> {
        let now = self.clock.now();
        let Some(row) = self.store.claim_sms(id, now, now + self.lease).await? else {
            return Ok(Delivery::NotMine);
        };
        self.deliver_claimed(row).await
    }

    /// One attempt at a message this sender has claimed.
    async fn deliver_claimed(&self, row: OutboxRow) -> Result<Delivery, StoreError> {
        let id = row.id;
        let body = row.sealed_body.as_deref().and_then(|s| self.secret.open(s));
        let Some(body) = body else {
            let reason = "the message could not be unsealed (was the secret key changed?)";
            self.store
                .mark_sms_failed(id, reason, &masked(&row.to_number))
                .await?;
            metrics::text(self.provider(), "failed");
            return Ok(Delivery::Failed(reason.into()));
        };
        let sms = Sms {
            id,
            to: row.to_number,
            body,
        };
        let route = Route {
            purpose: row.purpose.unwrap_or_default(),
            after_provider: row.after_provider,
            failovers: row.failovers,
        };
        self.attempt(sms, &route, row.attempts, row.created_at, row.give_up_at)
            .await
    }

    /// One attempt at a message this sender holds, and the outcome recorded.
    async fn attempt(
        &self,
        sms: Sms,
        route: &Route,
        attempt: i64,
        queued_at: Millis,
        give_up_at: Millis,
    ) -> Result<Delivery, StoreError> {
        let id = sms.id;
        let to = masked(&sms.to);
        let now = self.clock.now();
        if now >= give_up_at {
            let reason = "the code expired before the message could be sent";
            self.store.mark_sms_failed(id, reason, &to).await?;
            metrics::text(self.provider(), "failed");
            return Ok(Delivery::Failed(reason.into()));
        }
        let _attempting = Attempting::new(&self.in_flight);
        let started = std::time::Instant::now();
        // Each provider in turn, skipping those whose circuit is open, until one takes it.
        let mut tried_any = false;
        let mut all_permanent = true;
        let mut last_error = ALL_SKIPPED.to_string();
        for sender in self.in_turn(route.after_provider.as_deref()) {
            let provider = sender.name();
            if !self.circuits.may_try(&self.store, provider, now).await {
                continue;
            }
            tried_any = true;
            let tried_at = self.clock.now();
            let began = std::time::Instant::now();
            let mut phase = self.phase.subscribe();
            let result = tokio::select! {
                result = sender.send(&sms) => result,
                _ = async {
                    if phase.wait_for(|phase| *phase == Phase::Stopped).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                } => {
                    return self.give_back(id, attempt, now, started).await;
                }
            };
            let took_ms = began.elapsed().as_millis() as i64;
            // Providers quote the number back in their errors.
            let (permanent, reason) = match result {
                Ok(accepted) => {
                    self.circuits.saw(provider, tried_at, true);
                    // Kept for a late report only while another provider could still take it.
                    let sent_at = self.clock.now();
                    let kept_until = (route.failovers + 1 < self.senders.len() as i64)
                        .then_some(sent_at + self.failover_wait);
                    self.store
                        .mark_sms_sent(
                            id,
                            sent_at,
                            provider,
                            accepted.provider_ref.as_deref(),
                            &to,
                            kept_until,
                        )
                        .await?;
                    metrics::text_sent(
                        &crate::mobile::country_of(&sms.to),
                        &route.purpose,
                        provider,
                    );
                    tracing::info!(sms_id = id, provider, took_ms, "text message sent");
                    let queued_for = (self.clock.now() - queued_at).max(0) as u64;
                    metrics::text_delivery(provider, "accepted", Duration::from_millis(queued_for));
                    metrics::text(provider, "sent");
                    self.store
                        .record_sms_attempt(
                            id,
                            attempt,
                            tried_at,
                            took_ms,
                            "sent",
                            accepted.provider_ref.as_deref(),
                            Some(provider),
                        )
                        .await?;
                    return Ok(Delivery::Sent);
                }
                Err(SendError::Permanent(reason)) => (true, mask_numbers_in(&reason)),
                Err(SendError::Transient(reason)) => (false, mask_numbers_in(&reason)),
            };
            self.circuits.saw(provider, tried_at, false);
            all_permanent &= permanent;
            let outcome = if permanent { "failed" } else { "retry" };
            tracing::warn!(sms_id = id, provider, %reason, attempt, "a text provider failed");
            metrics::text(provider, outcome);
            self.store
                .record_sms_attempt(
                    id,
                    attempt,
                    tried_at,
                    took_ms,
                    outcome,
                    Some(&reason),
                    Some(provider),
                )
                .await?;
            last_error = reason;
        }
        // No provider took it. Refused for good by every one tried: it won't go. Otherwise it
        // waits: a little while if every provider is down, with backoff if they failed.
        let took_ms = started.elapsed().as_millis() as i64;
        if tried_any && all_permanent {
            tracing::warn!(sms_id = id, reason = %last_error, "text message refused by the providers");
            self.store.mark_sms_failed(id, &last_error, &to).await?;
            return Ok(Delivery::Failed(last_error));
        }
        let next = self.clock.now()
            + match tried_any {
                true => backoff(attempt),
                false => WHILE_ALL_DOWN,
            };
        if next >= give_up_at {
            self.store.mark_sms_failed(id, &last_error, &to).await?;
            self.store
                .record_sms_attempt(id, attempt, now, took_ms, "failed", Some(&last_error), None)
                .await?;
            return Ok(Delivery::Failed(last_error));
        }
        tracing::warn!(sms_id = id, reason = %last_error, attempt, "text message will be retried");
        self.store.retry_sms_at(id, next, &last_error).await?;
        if !tried_any {
            self.store
                .record_sms_attempt(id, attempt, now, took_ms, "retry", Some(&last_error), None)
                .await?;
        }
        self.wake.notify_one();
        Ok(Delivery::WillRetry(last_error))
    }

    /// The portal is stopping and the provider has not answered within the grace period: the
    /// message goes back to the outbox, due now, so another instance sends it at once rather
    /// than when the lease runs out.
    async fn give_back(
        &self,
        id: i64,
        attempt: i64,
        at: Millis,
        started: std::time::Instant,
    ) -> Result<Delivery, StoreError> {
        let reason = "the portal stopped before the provider answered";
        self.store.release_sms(id, self.clock.now()).await?;
        let took_ms = started.elapsed().as_millis() as i64;
        self.store
            .record_sms_attempt(id, attempt, at, took_ms, "retry", Some(reason), None)
            .await?;
        metrics::text(self.provider(), "released");
        tracing::warn!(
            sms_id = id,
            "{reason}: the text is left for another instance"
        );
        Ok(Delivery::WillRetry(reason.into()))
    }

    /// Stops this instance's sending: no new message is taken, attempts under way get `grace`
    /// to finish, and any still waiting for the provider then give their message back.
    pub async fn stop(&self, grace: Duration) {
        self.phase.send_replace(Phase::Draining);
        self.wake.notify_one();
        let under_way = || self.in_flight.load(Ordering::SeqCst) > 0;
        let deadline = tokio::time::Instant::now() + grace;
        while under_way() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.phase.send_replace(Phase::Stopped);
        // Giving back is a write or two each.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while under_way() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn is_stopping(&self) -> bool {
        *self.phase.borrow() != Phase::Sending
    }

    /// Records a provider's delivery report for the message it knows as `provider_ref`.
    /// `false` if no message has that reference.
    pub async fn record_delivery_report(
        &self,
        provider_ref: &str,
        status: &str,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let Some((queued_at, carried_by)) = self
            .store
            .record_delivery_status(provider_ref, status, now)
            .await?
        else {
            return Ok(false);
        };
        let provider = self
            .senders
            .iter()
            .map(|s| s.name())
            .find(|name| carried_by.as_deref() == Some(*name))
            .unwrap_or_else(|| self.provider());
        // Only the final word is counted; "queued", "sent" and the like are on the way there.
        match status {
            "delivered" | "read" => {
                metrics::text(provider, "delivered");
                let took = Duration::from_millis((now - queued_at).max(0) as u64);
                metrics::text_delivery(provider, "delivered", took);
            }
            "undelivered" | "failed" => {
                metrics::text(provider, "undelivered");
                self.fail_over_late(provider_ref, provider, now).await?;
            }
            _ => {}
        }
        Ok(true)
    }

    /// A report of failure within the wait: the text goes again through the next provider,
    /// with the same body, and the failure counts against the provider's circuit.
    async fn fail_over_late(
        &self,
        provider_ref: &str,
        provider: &'static str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let Some((id, attempts)) = self
            .store
            .fail_over_late(provider_ref, provider, now)
            .await?
        else {
            return Ok(());
        };
        self.circuits.saw(provider, now, false);
        let detail = "reported undelivered: sent again through the next provider";
        self.store
            .record_sms_attempt(
                id,
                attempts,
                now,
                0,
                "undelivered",
                Some(detail),
                Some(provider),
            )
            .await?;
        tracing::warn!(sms_id = id, provider, "a text was {detail}");
        self.wake.notify_one();
        Ok(())
    }

    /// Drops the bodies and numbers of sent texts whose wait for a late report has passed.
    pub async fn forget_kept_texts(&self) -> Result<usize, StoreError> {
        self.store.forget_kept_texts(self.clock.now(), masked).await
    }

    /// Sends a message this sender has just queued and holds (see `Store::issue_challenge`),
    /// waiting at most `patience` for the outcome. The attempt carries on if the wait runs out.
    pub async fn send_now(
        &self,
        sms: Sms,
        route: Route,
        give_up_at: Millis,
        patience: Duration,
    ) -> Delivery {
        let outbox = self.clone();
        let id = sms.id;
        let queued_at = self.clock.now();
        self.wait_for(id, patience, async move {
            outbox.attempt(sms, &route, 1, queued_at, give_up_at).await
        })
        .await
    }

    /// Sends message `id` now and waits at most `patience` for the first attempt's outcome.
    /// The attempt itself carries on if the wait runs out, so nothing is sent twice.
    pub async fn deliver_now(&self, id: i64, patience: Duration) -> Delivery {
        let outbox = self.clone();
        self.wait_for(id, patience, async move { outbox.deliver(id).await })
            .await
    }

    async fn wait_for(
        &self,
        id: i64,
        patience: Duration,
        attempt: impl std::future::Future<Output = Result<Delivery, StoreError>> + Send + 'static,
    ) -> Delivery {
        match tokio::time::timeout(patience, tokio::spawn(attempt)).await {
            Ok(Ok(Ok(delivery))) => delivery,
            Ok(Ok(Err(err))) => {
                tracing::error!(%err, sms_id = id, "outbox update failed");
                self.wake.notify_one();
                Delivery::WillRetry(err.to_string())
            }
            Ok(Err(join)) => Delivery::WillRetry(join.to_string()),
            Err(_) => Delivery::WillRetry("the provider is slow to answer".into()),
        }
    }

    /// One attempt at every message that is due now (after a restart: everything left
    /// pending). Returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let mut attempted = 0;
        // Bounded, so a flood of due messages can't keep the worker from sleeping on its timer.
        while attempted < 64 && !self.is_stopping() {
            let now = self.clock.now();
            let Some(row) = self.store.claim_next_due(now, now + self.lease).await? else {
                break;
            };
            let id = row.id;
            if let Err(err) = self.deliver_claimed(row).await {
                tracing::error!(%err, sms_id = id, "outbox delivery failed");
            }
            attempted += 1;
        }
        Ok(attempted)
    }

    /// On PostgreSQL, wakes this instance's worker whenever any instance queues a message.
    /// Reconnects after a failure, a little later each time.
    async fn follow_notifications(store: Store, wake: Arc<Notify>) {
        let mut pause = Duration::from_millis(500);
        loop {
            match store.outbox_listener().await {
                Ok(mut listener) => {
                    pause = Duration::from_millis(500);
                    while listener.recv().await.is_ok() {
                        wake.notify_one();
                    }
                }
                Err(err) => tracing::warn!(%err, "listening for new text messages failed"),
            }
            // Anything missed meanwhile is found by the worker's own timer.
            wake.notify_one();
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(30));
        }
    }

    /// The background worker: delivers whatever is due, then sleeps until the next message is
    /// due or it is woken.
    pub async fn run(self) {
        self.working.store(true, Ordering::SeqCst);
        let _working = Working(self.working.clone());
        if self.store.engine() == Engine::Postgres {
            tokio::spawn(Self::follow_notifications(
                self.store.clone(),
                self.wake.clone(),
            ));
        }
        while !self.is_stopping() {
            if let Err(err) = self.deliver_due().await {
                tracing::error!(%err, "could not read the SMS outbox");
            }
            if let Err(err) = self.forget_kept_texts().await {
                tracing::warn!(%err, "dropping sent texts' bodies failed");
            }
            let next_due = self.store.next_sms_due_at().await.ok().flatten();
            let wait = next_due
                .map(|due| (due - self.clock.now()).clamp(0, MAX_BACKOFF))
                .unwrap_or(MAX_BACKOFF);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait.max(10) as u64)) => {}
            }
        }
    }
}

/// 1 s, 2 s, 4 s … up to a minute, with ±25 % jitter so that retries don't arrive in step.
fn backoff(attempts: i64) -> Millis {
    let exponent = attempts.clamp(1, 7) - 1;
    let base = (SECOND << exponent).min(MAX_BACKOFF);
    let jitter = rand::thread_rng().gen_range(-(base / 4)..=base / 4);
    base + jitter
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!((750..=1250).contains(&backoff(1)));
        assert!((1500..=2500).contains(&backoff(2)));
        assert!(backoff(20) <= 75_000);
    }
}
