//! The gate every password step passes, patients' and staff's alike: each attempt is counted as
//! a failure before the password is checked, a username's run of failures on one network makes
//! further attempts from there wait (and a long run from anywhere, every attempt), and failures
//! from one network are limited.

use crate::{
    audit::Outcome,
    caller::Caller,
    clock::{whole_seconds, Millis, HOUR, SECOND},
    error::{Error, OrInternal},
    limits::wait_text,
    portal::{Limits, Portal},
    store::{LoginGate, LoginRules},
};

/// A run of failed logins is forgotten after a day without one, so stray mistakes months
/// apart never add up to a delay.
const FAILURES_FORGOTTEN_AFTER: Millis = 24 * HOUR;

/// The longest username the rules allow (`account::Username`). Anything longer is nobody's, and
/// is refused without being kept: typed text must not grow the database or its index keys.
pub const LONGEST_USERNAME: usize = 64;

/// Whether `typed` could be someone's username: by the rule every account's was made with
/// (`account::Username`), its length and its characters. Anything else is nobody's, and keys
/// nothing: a patient typing `staff:admin` must not reach a staff member's failure count.
pub fn could_be_a_username(typed: &str) -> bool {
    typed.trim().chars().count() <= LONGEST_USERNAME
        && crate::account::Username::parse(typed).is_ok()
}

/// How long the next attempt must wait after `failures` consecutive failures.
pub fn delay_after(limits: &Limits, failures: i64) -> Millis {
    let over = failures - limits.login_failures_before_delay;
    if over < 0 {
        return 0;
    }
    let doubled = limits.login_delay_seconds.saturating_mul(1 << over.min(20));
    doubled.min(limits.login_delay_max_seconds) * SECOND
}

/// A login attempt that the gate let through, counted as a failure until proven otherwise.
pub struct Counted {
    pub ip_event: i64,
    /// This attempt, if a failure, starts the username's delay on the caller's network…
    pub delay_starts: bool,
    /// …or reaches the ceiling after which the username waits on every network.
    pub waits_everywhere: bool,
}

/// What the gate decided about one attempt.
pub enum Passage<T> {
    /// Let through, and counted.
    Through(T),
    /// Held back: why, for the audit, and what the caller is told.
    Refused { outcome: Outcome, error: Error },
}

/// The gate every password step passes, patients' and staff's alike: every attempt is
/// counted as a failure before the password is checked, so guesses sent in parallel are all
/// counted (a right password takes its count back); a username's run of failures makes each
/// further attempt from the same network wait, and a run of `login_failures_any_network` from
/// anywhere makes every attempt wait; failures from one network are limited. Keyed by the
/// typed username, known or not, so the delay says nothing about who exists; delays are per
/// network so that a stranger's guesses never hold back the account's owner on theirs. A
/// refusal says why, for the audit. `key` must be one that `could_be_a_username`.
pub async fn gate(portal: &Portal, caller: &Caller, key: &str) -> Result<Passage<Counted>, Error> {
    let limits = &portal.settings.limits;
    let now = portal.now();
    let rules = LoginRules {
        failures_from_ip: crate::limits::sign_ins::failed_logins_from(portal, caller),
        failures_forgotten_after: FAILURES_FORGOTTEN_AFTER,
        delay_for: &|failures| delay_after(limits, failures),
        failures_any_network: limits.login_failures_any_network,
    };
    let gate = portal
        .store
        .login_gate(key, &rules, now)
        .await
        .or_internal("counting a login attempt")?;
    Ok(match gate {
        LoginGate::Counted {
            ip_event,
            delay_starts,
            waits_everywhere,
        } => Passage::Through(Counted {
            ip_event,
            delay_starts,
            waits_everywhere,
        }),
        LoginGate::Delayed { until } => Passage::Refused {
            outcome: Outcome::Delayed,
            error: Error::too_many_requests(
                format!(
                    "Too many failed attempts. For your security, please wait {} before trying again.",
                    wait_text(until - now)
                ),
                whole_seconds(until - now).max(1),
            ),
        },
        LoginGate::DelayedEverywhere { until } => Passage::Refused {
            outcome: Outcome::Delayed,
            error: Error::too_many_requests(
                format!(
                    "There have been too many failed attempts to sign in to this account. For your security, please wait {} or ask the practice to unlock it.",
                    wait_text(until - now)
                ),
                whole_seconds(until - now).max(1),
            ),
        },
        LoginGate::AddressBlocked { oldest } => Passage::Refused {
            outcome: Outcome::AddressBlocked,
            error: rules.failures_from_ip.refusal(Some(oldest), now),
        },
    })
}

/// The gate for a typed username that could be nobody's (see `could_be_a_username`): only the
/// network's failures are checked and counted, and nothing is kept under the typed text.
pub async fn gate_unnamed(portal: &Portal, caller: &Caller) -> Result<Passage<()>, Error> {
    let now = portal.now();
    let failures = [crate::limits::sign_ins::failed_logins_from(portal, caller)];
    let full = portal
        .store
        .count_if_under(&failures, now)
        .await
        .or_internal("counting a login attempt")?;
    Ok(match full {
        None => Passage::Through(()),
        Some(full) => Passage::Refused {
            outcome: Outcome::AddressBlocked,
            error: failures[0].refusal(full.oldest, now),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_starts_after_five_failures_doubles_and_is_capped() {
        let limits = Limits::default();
        assert_eq!(delay_after(&limits, 4), 0);
        assert_eq!(delay_after(&limits, 5), 30 * SECOND);
        assert_eq!(delay_after(&limits, 6), 60 * SECOND);
        assert_eq!(delay_after(&limits, 7), 120 * SECOND);
        assert_eq!(delay_after(&limits, 10), 900 * SECOND);
        assert_eq!(delay_after(&limits, 1000), 900 * SECOND);
    }
}
