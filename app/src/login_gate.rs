//! The gate every password step passes, patients' and staff's alike: each attempt is counted as
//! a failure before the password is checked, a username's run of failures makes further
//! attempts wait, and failures from one network are limited.

use crate::{
    audit::Outcome,
    caller::Caller,
    clock::{whole_seconds, Millis, HOUR, SECOND},
    error::{OrInternal, PortalError},
    limits::{wait_text, Limit, LimitKind},
    portal::{Limits, Portal},
    store::{LoginGate, LoginRules},
};

/// A run of failed logins is forgotten after a day without one, so stray mistakes months
/// apart never add up to a delay.
const FAILURES_FORGOTTEN_AFTER: Millis = 24 * HOUR;

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
    pub delay_starts: bool,
}

/// The gate every password step passes, patients' and staff's alike: every attempt is
/// counted as a failure before the password is checked, so guesses sent in parallel are all
/// counted (a right password takes its count back); a username's run of failures makes each
/// further attempt wait; failures from one network are limited. Keyed by the typed username,
/// known or not, so the delay says nothing about who exists. A refusal says why, for the audit.
pub async fn gate(
    portal: &Portal,
    caller: &Caller,
    key: &str,
) -> Result<Result<Counted, (Outcome, PortalError)>, PortalError> {
    let limits = &portal.settings.limits;
    let now = portal.now();
    let rules = LoginRules {
        failures_from_ip: Limit::new(
            LimitKind::FailedLoginIp,
            caller.network(portal.settings.ipv6_prefix),
            HOUR,
            limits.failed_logins_per_ip_hour,
            now,
            |wait| {
                format!("There have been too many failed logins from your network. Please try again in {wait}.")
            },
        ),
        failures_forgotten_after: FAILURES_FORGOTTEN_AFTER,
        delay_for: &|failures| delay_after(limits, failures),
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
        } => Ok(Counted {
            ip_event,
            delay_starts,
        }),
        LoginGate::Delayed { until } => Err((
            Outcome::Delayed,
            PortalError::too_many_requests(
                format!(
                    "Too many failed attempts. For your security, please wait {} before trying again.",
                    wait_text(until - now)
                ),
                whole_seconds(until - now).max(1),
            ),
        )),
        LoginGate::AddressBlocked { oldest } => Err((
            Outcome::AddressBlocked,
            rules.failures_from_ip.refusal(Some(oldest), now),
        )),
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
