//! Sliding-window limits against guessing and abuse (registrations, logins and text messages
//! all use this one `Limit` type; which limits there are is `crate::limits`'s), and the
//! counters behind them and the login delay. Every check that guards a write happens inside the
//! write's own transaction, on the single writer connection, so requests sent in parallel cannot
//! all pass a check that only one of them should.

use sqlx::AnyConnection;

use super::{limit_key, serialize, Store, StoreError};
use crate::{
    clock::{whole_seconds, Millis, MINUTE, SECOND},
    error::Error,
};

/// What a limit counts. Stored as text in `limit_events.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    FailedLoginIp,
    LoginAccount,
    LoginIp,
    RegistrationIp,
    SmsAccount,
    SmsNumber,
    /// Texts to one verified number across every account that shares it.
    SmsVerifiedNumber,
    SmsIp,
    SmsAll,
    /// Security notices to one number: their own cap, which codes can't use up.
    SmsNotice,
    /// Passkey ceremonies begun from one network: each one keeps a row for 5 minutes.
    PasskeyIp,
}

impl LimitKind {
    pub const ALL: [LimitKind; 11] = [
        LimitKind::FailedLoginIp,
        LimitKind::LoginAccount,
        LimitKind::LoginIp,
        LimitKind::RegistrationIp,
        LimitKind::SmsAccount,
        LimitKind::SmsNumber,
        LimitKind::SmsVerifiedNumber,
        LimitKind::SmsIp,
        LimitKind::SmsAll,
        LimitKind::SmsNotice,
        LimitKind::PasskeyIp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::FailedLoginIp => "failed_login_ip",
            LimitKind::LoginAccount => "login_account",
            LimitKind::LoginIp => "login_ip",
            LimitKind::RegistrationIp => "registration_ip",
            LimitKind::SmsAccount => "sms_account",
            LimitKind::SmsNumber => "sms_number",
            LimitKind::SmsVerifiedNumber => "sms_verified_number",
            LimitKind::SmsIp => "sms_ip",
            LimitKind::SmsAll => "sms_all",
            LimitKind::SmsNotice => "sms_notice",
            LimitKind::PasskeyIp => "passkey_ip",
        }
    }
}

/// At most `max` events of `kind` for `subject` in any `span`, with what to tell the person who
/// reaches it. The message is given the wait in words ("3 minutes").
#[derive(Debug, Clone)]
pub struct Limit {
    pub kind: LimitKind,
    pub subject: String,
    pub span: Millis,
    pub max: i64,
    /// The window's start: `span` before now.
    pub since: Millis,
    message: fn(wait: &str) -> String,
}

impl Limit {
    pub fn new(
        kind: LimitKind,
        subject: impl Into<String>,
        span: Millis,
        max: i64,
        now: Millis,
        message: fn(wait: &str) -> String,
    ) -> Self {
        Self {
            kind,
            subject: subject.into(),
            span,
            max,
            since: now - span,
            message,
        }
    }

    /// How long until the window has room again, given when its oldest counted event was.
    pub fn wait(&self, oldest: Option<Millis>, now: Millis) -> Millis {
        (oldest.unwrap_or(now) + self.span - now).max(SECOND)
    }

    /// The 429 for someone who has reached this limit.
    pub fn refusal(&self, oldest: Option<Millis>, now: Millis) -> Error {
        let wait = self.wait(oldest, now);
        crate::metrics::limit_refused(self.kind.as_str());
        Error::too_many_requests((self.message)(&wait_text(wait)), whole_seconds(wait))
    }
}

/// A wait as a person would say it: "40 seconds", "3 minutes", "2 hours".
pub fn wait_text(wait: Millis) -> String {
    let seconds = whole_seconds(wait);
    let minutes = (wait.max(0) + MINUTE - 1) / MINUTE;
    match seconds {
        0..=1 => "1 second".into(),
        2..=90 => format!("{seconds} seconds"),
        _ if minutes < 90 => format!("{minutes} minutes"),
        _ => format!("{} hours", (minutes + 59) / 60),
    }
}

/// A limit that is full: which one (its index in the list checked), and when its oldest
/// counted event was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitReached {
    pub index: usize,
    pub oldest: Option<Millis>,
}

/// What the login gate decided before the password is even looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginGate {
    /// Go ahead; the attempt is already counted as a failure, and `accept_login` takes
    /// it back if the password is right. `delay_starts`: if it is a failure, it is the one that
    /// starts the username's delay on this network; `waits_everywhere`: the one that reaches
    /// the ceiling across every network.
    Counted {
        ip_event: i64,
        delay_starts: bool,
        waits_everywhere: bool,
    },
    /// This username must wait on this network until then.
    Delayed { until: Millis },
    /// This username's failures across every network reached the ceiling: it waits everywhere
    /// until then (the run is forgotten), or until the practice unlocks it.
    DelayedEverywhere { until: Millis },
    /// Too many failures from this address; the oldest counted was then.
    AddressBlocked { oldest: Millis },
}

/// How the login gate counts: failures in a row before a delay, how long after a failure the
/// count still stands, and the delay for a given count. Delays are kept per username and
/// network (the subject of `failures_from_ip`), and the run across every network is capped.
pub struct LoginRules<'a> {
    pub failures_from_ip: Limit,
    pub failures_forgotten_after: Millis,
    pub delay_for: &'a (dyn Fn(i64) -> Millis + Sync),
    /// Failures in a run, from any network, after which the username waits everywhere.
    pub failures_any_network: i64,
}

/// A username's run of failures (none: no run) on every network and on the caller's, and the
/// caller's network's recent failures, as the gate reads them in one query.
#[derive(sqlx::FromRow)]
struct GateRead {
    everywhere_failures: Option<i64>,
    everywhere_last: Option<Millis>,
    everywhere_until: Option<Millis>,
    here_failures: Option<i64>,
    here_last: Option<Millis>,
    here_until: Option<Millis>,
    network_failures: i64,
    network_oldest: Option<Millis>,
}

/// The run after one more failure at `now`: a run is forgotten after a quiet spell.
fn one_more(
    failures: Option<i64>,
    last: Option<Millis>,
    now: Millis,
    forgotten_after: Millis,
) -> i64 {
    match (failures, last) {
        (Some(failures), Some(last)) if now - last < forgotten_after => failures + 1,
        _ => 1,
    }
}

/// For each window: how many events there have been since its start (counting no further than
/// its limit, so a busy window costs no more to check than a quiet one), and the oldest of them.
async fn count_windows(
    conn: &mut AnyConnection,
    windows: &[Limit],
) -> Result<Vec<(i64, Option<Millis>)>, StoreError> {
    if windows.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<String> = (0..windows.len())
        .map(|i| {
            format!(
                "SELECT CAST({i} AS BIGINT) AS n, COUNT(*), MIN(at) FROM \
                 (SELECT at FROM limit_events WHERE kind = ${} AND subject = ${} AND at > ${} \
                  ORDER BY at LIMIT ${}) AS window{i}",
                4 * i + 1,
                4 * i + 2,
                4 * i + 3,
                4 * i + 4
            )
        })
        .collect();
    let sql = format!("{} ORDER BY n", parts.join(" UNION ALL "));
    let mut query = sqlx::query_as::<_, (i64, i64, Option<Millis>)>(&sql);
    for window in windows {
        query = query
            .bind(window.kind.as_str())
            .bind(window.subject.as_str())
            .bind(window.since)
            .bind(window.max);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    Ok(rows
        .into_iter()
        .map(|(_, count, oldest)| (count, oldest))
        .collect())
}

/// The first full window, if any.
fn reached(windows: &[Limit], counts: Vec<(i64, Option<Millis>)>) -> Option<LimitReached> {
    windows
        .iter()
        .zip(counts)
        .enumerate()
        .find(|(_, (window, (count, _)))| *count >= window.max)
        .map(|(index, (_, (_, oldest)))| LimitReached { index, oldest })
}

/// Checks the windows inside the caller's transaction.
pub(super) async fn first_reached(
    conn: &mut AnyConnection,
    windows: &[Limit],
) -> Result<Option<LimitReached>, StoreError> {
    let counts = count_windows(conn, windows).await?;
    Ok(reached(windows, counts))
}

/// How many events a window holds (up to its limit), inside the caller's transaction.
pub(super) async fn count_in(conn: &mut AnyConnection, window: &Limit) -> Result<i64, StoreError> {
    let counts = count_windows(conn, std::slice::from_ref(window)).await?;
    Ok(counts.first().map_or(0, |(count, _)| *count))
}

/// Counts one event in each window, inside the caller's transaction.
pub(super) async fn insert_events(
    conn: &mut AnyConnection,
    windows: &[Limit],
    at: Millis,
) -> Result<(), StoreError> {
    if windows.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..windows.len())
        .map(|i| format!("(${}, ${}, $1)", 2 * i + 2, 2 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO limit_events (kind, subject, at) VALUES {}",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(at);
    for window in windows {
        query = query
            .bind(window.kind.as_str())
            .bind(window.subject.as_str());
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

impl Store {
    /// How many events a window holds, up to its limit.
    pub async fn limit_count(&self, window: &Limit) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        count_in(&mut conn, window).await
    }

    /// Notes a warning that the texts reached 80 % of the budget, unless one was noted after
    /// `since`: whether this is the first, so only one instance warns.
    pub async fn claim_text_budget_warning(
        &self,
        now: Millis,
        since: Millis,
    ) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "INSERT INTO text_budget_warnings (id, warned_at) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET warned_at = $1 \
             WHERE text_budget_warnings.warned_at <= $2",
        )
        .bind(now)
        .bind(since)
        .execute(&self.writer)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// The first full window (and when its oldest event was), without counting anything.
    pub async fn limit_reached(
        &self,
        windows: &[Limit],
    ) -> Result<Option<LimitReached>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        first_reached(&mut conn, windows).await
    }

    /// Checks `windows` and, if none is full, counts one event in each: atomically.
    pub async fn count_if_under(
        &self,
        windows: &[Limit],
        at: Millis,
    ) -> Result<Option<LimitReached>, StoreError> {
        let mut tx = self.writer.begin().await?;
        serialize(
            &mut tx,
            self.engine,
            windows.iter().map(limit_key).collect(),
        )
        .await?;
        if let Some(full) = first_reached(&mut tx, windows).await? {
            return Ok(Some(full));
        }
        insert_events(&mut tx, windows, at).await?;
        tx.commit().await?;
        Ok(None)
    }

    /// Decides whether a login attempt may go ahead, and counts it as a failure before the
    /// password is checked, so that parallel guesses are counted as they arrive. Keyed by the
    /// typed username (known or not, at most a username's length) and the caller's network.
    pub async fn login_gate(
        &self,
        username_key: &str,
        rules: &LoginRules<'_>,
        now: Millis,
    ) -> Result<LoginGate, StoreError> {
        let network = rules.failures_from_ip.subject.as_str();
        let mut tx = self.writer.begin().await?;
        let keys = vec![
            format!("login:{username_key}"),
            limit_key(&rules.failures_from_ip),
        ];
        serialize(&mut tx, self.engine, keys).await?;
        // The username's run everywhere and on this network, and the address's recent
        // failures, in one query.
        let read: GateRead = sqlx::query_as(
            "SELECT (SELECT failures FROM login_failures WHERE username_key = $1) \
                      AS everywhere_failures, \
                    (SELECT last_failed_at FROM login_failures WHERE username_key = $1) \
                      AS everywhere_last, \
                    (SELECT delayed_until FROM login_failures WHERE username_key = $1) \
                      AS everywhere_until, \
                    (SELECT failures FROM login_failures_by_network \
                      WHERE username_key = $1 AND network = $3) AS here_failures, \
                    (SELECT last_failed_at FROM login_failures_by_network \
                      WHERE username_key = $1 AND network = $3) AS here_last, \
                    (SELECT delayed_until FROM login_failures_by_network \
                      WHERE username_key = $1 AND network = $3) AS here_until, \
                    COUNT(*) AS network_failures, MIN(at) AS network_oldest \
             FROM limit_events WHERE kind = $2 AND subject = $3 AND at > $4",
        )
        .bind(username_key)
        .bind(rules.failures_from_ip.kind.as_str())
        .bind(network)
        .bind(rules.failures_from_ip.since)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(until) = read.everywhere_until.filter(|until| now < *until) {
            return Ok(LoginGate::DelayedEverywhere { until });
        }
        if let Some(until) = read.here_until.filter(|until| now < *until) {
            return Ok(LoginGate::Delayed { until });
        }
        if read.network_failures >= rules.failures_from_ip.max {
            return Ok(LoginGate::AddressBlocked {
                oldest: read.network_oldest.unwrap_or(now),
            });
        }
        let forgotten_after = rules.failures_forgotten_after;
        let everywhere = one_more(
            read.everywhere_failures,
            read.everywhere_last,
            now,
            forgotten_after,
        );
        let here = one_more(read.here_failures, read.here_last, now, forgotten_after);
        // At the ceiling the username waits everywhere until its run would be forgotten.
        let waits_everywhere = everywhere >= rules.failures_any_network;
        let everywhere_until = if waits_everywhere {
            now + forgotten_after
        } else {
            0
        };
        sqlx::query(
            "INSERT INTO login_failures (username_key, failures, last_failed_at, delayed_until) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (username_key) DO UPDATE SET failures = excluded.failures, \
               last_failed_at = excluded.last_failed_at, delayed_until = excluded.delayed_until",
        )
        .bind(username_key)
        .bind(everywhere)
        .bind(now)
        .bind(everywhere_until)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO login_failures_by_network \
               (username_key, network, failures, last_failed_at, delayed_until) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (username_key, network) DO UPDATE SET failures = excluded.failures, \
               last_failed_at = excluded.last_failed_at, delayed_until = excluded.delayed_until",
        )
        .bind(username_key)
        .bind(network)
        .bind(here)
        .bind(now)
        .bind(now + (rules.delay_for)(here))
        .execute(&mut *tx)
        .await?;
        let delay_starts = (rules.delay_for)(here) > 0 && (rules.delay_for)(here - 1) == 0;
        let ip_event: i64 = sqlx::query_scalar(
            "INSERT INTO limit_events (kind, subject, at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(rules.failures_from_ip.kind.as_str())
        .bind(network)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(LoginGate::Counted {
            ip_event,
            delay_starts,
            waits_everywhere: waits_everywhere && everywhere == rules.failures_any_network,
        })
    }

    /// The password was right: the attempt was not a failure after all. It is taken back (the
    /// run everywhere and on the caller's network ends; other networks' delays stand), and
    /// counted against `sign_ins` unless one of them is full (then the full one is returned),
    /// in one transaction: the busiest path of a login.
    pub async fn accept_login(
        &self,
        username_key: &str,
        network: &str,
        ip_event: i64,
        sign_ins: &[Limit],
        now: Millis,
    ) -> Result<Option<LimitReached>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut keys: Vec<String> = sign_ins.iter().map(limit_key).collect();
        keys.push(format!("login:{username_key}"));
        serialize(&mut tx, self.engine, keys).await?;
        sqlx::query("DELETE FROM login_failures WHERE username_key = $1")
            .bind(username_key)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM login_failures_by_network WHERE username_key = $1 AND network = $2",
        )
        .bind(username_key)
        .bind(network)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM limit_events WHERE id = $1")
            .bind(ip_event)
            .execute(&mut *tx)
            .await?;
        let full = first_reached(&mut tx, sign_ins).await?;
        if full.is_none() {
            insert_events(&mut tx, sign_ins, now).await?;
        }
        tx.commit().await?;
        Ok(full)
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;
    use crate::clock::HOUR;

    #[test]
    fn waits_read_as_a_person_would_say_them() {
        assert_eq!(wait_text(1), "1 second");
        assert_eq!(wait_text(40 * SECOND), "40 seconds");
        assert_eq!(wait_text(90 * SECOND + 1), "2 minutes");
        assert_eq!(wait_text(59 * MINUTE), "59 minutes");
        assert_eq!(wait_text(3 * HOUR - MINUTE), "3 hours");
    }

    #[test]
    fn a_refusal_says_how_long_to_wait_until_the_oldest_event_leaves_the_window() {
        let now = 10 * HOUR;
        let limit = Limit::new(LimitKind::SmsIp, "203.0.113.7", HOUR, 3, now, |wait| {
            format!("wait {wait}")
        });
        let refusal = limit.refusal(Some(now - HOUR + 2 * MINUTE), now);
        assert_eq!(refusal.message, "wait 2 minutes");
        assert_eq!(refusal.retry_after_seconds, Some(120));
        assert_eq!(limit.since, now - HOUR);
    }
}
