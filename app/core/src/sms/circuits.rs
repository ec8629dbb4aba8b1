//! Each provider's circuit: after 5 failures in a row, or half of its last 20 attempts failed,
//! a provider is skipped for 60 s, then tried with one text at a time until one goes through.
//! What a provider did is read from its recorded attempts (`sms_attempts`), which every instance
//! writes, so a provider failing on one instance is skipped by the others within `FRESH_FOR`.

use std::{collections::HashMap, sync::Mutex};

use crate::{
    clock::{Millis, SECOND},
    store::{Store, StoreError},
};

/// How many of a provider's latest attempts its circuit looks at.
pub const LOOKS_AT: i64 = 20;
/// Failures in a row that open it…
const IN_A_ROW: usize = 5;
/// …or failures among the last `LOOKS_AT`.
const OF_THE_LAST: usize = 10;
/// How long an open circuit skips its provider after its last failure.
pub const SKIPPED_FOR: Millis = 60 * SECOND;
/// How long this instance trusts what it last read of the other instances' attempts.
const FRESH_FOR: Millis = 2 * SECOND;
/// While half open, one text at a time: the next may go this long after the last try.
const ONE_TRY_EACH: Millis = 10 * SECOND;

/// Where a provider's circuit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    Closed,
    /// Skipped until the time given.
    Open {
        until: Millis,
    },
    /// Skipped no longer: one text may try it.
    HalfOpen,
}

/// A provider's latest attempts, newest first: when, and whether it took the text.
#[derive(Debug, Clone, Default)]
struct Seen {
    read_at: Millis,
    attempts: Vec<(Millis, bool)>,
    /// While half open: when this instance last let a text try it.
    tried_at: Option<Millis>,
}

impl Seen {
    fn circuit(&self, now: Millis) -> Circuit {
        let Some(&(newest_at, newest_ok)) = self.attempts.first() else {
            return Circuit::Closed;
        };
        if newest_ok {
            return Circuit::Closed;
        }
        let in_a_row = self.attempts.iter().take_while(|(_, ok)| !ok).count();
        let failed = self.attempts.iter().filter(|(_, ok)| !ok).count();
        if in_a_row < IN_A_ROW && failed < OF_THE_LAST {
            return Circuit::Closed;
        }
        match newest_at + SKIPPED_FOR {
            until if now < until => Circuit::Open { until },
            _ => Circuit::HalfOpen,
        }
    }
}

/// This instance's view of every provider's circuit.
#[derive(Default)]
pub struct Circuits {
    seen: Mutex<HashMap<&'static str, Seen>>,
}

impl Circuits {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<&'static str, Seen>) -> T) -> T {
        let mut seen = match self.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut seen)
    }

    /// Reads again what every instance recorded of `provider`, if this view is old.
    async fn refresh(
        &self,
        store: &Store,
        provider: &'static str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let fresh = self.with(|seen| {
            seen.get(provider)
                .is_some_and(|s| now - s.read_at < FRESH_FOR)
        });
        if fresh {
            return Ok(());
        }
        let attempts = store.provider_attempts(provider, LOOKS_AT).await?;
        self.with(|seen| {
            let entry = seen.entry(provider).or_default();
            entry.read_at = now;
            entry.attempts = attempts;
        });
        Ok(())
    }

    /// Reads again what every instance recorded of `provider`, if this view is old.
    pub async fn look(&self, store: &Store, provider: &'static str, now: Millis) {
        if let Err(err) = self.refresh(store, provider, now).await {
            tracing::warn!(%err, provider, "reading a text provider's attempts");
        }
    }

    /// Whether a text may try `provider` now: its circuit is closed, or half open and no other
    /// text of this instance is trying it. A provider whose attempts can't be read is tried.
    pub async fn may_try(&self, store: &Store, provider: &'static str, now: Millis) -> bool {
        self.look(store, provider, now).await;
        self.with(|seen| {
            let entry = seen.entry(provider).or_default();
            match entry.circuit(now) {
                Circuit::Closed => true,
                Circuit::Open { .. } => false,
                Circuit::HalfOpen => {
                    let free = entry.tried_at.is_none_or(|at| now - at >= ONE_TRY_EACH);
                    if free {
                        entry.tried_at = Some(now);
                    }
                    free
                }
            }
        })
    }

    /// What an attempt at `provider` came to, for this instance's view at once (the others read
    /// it from the store).
    pub fn saw(&self, provider: &'static str, at: Millis, took_it: bool) {
        self.with(|seen| {
            let entry = seen.entry(provider).or_default();
            entry.attempts.insert(0, (at, took_it));
            entry.attempts.truncate(LOOKS_AT as usize);
            if took_it {
                entry.tried_at = None;
            }
        });
    }

    /// Where `provider`'s circuit stands, as this instance last saw it.
    pub fn circuit(&self, provider: &'static str, now: Millis) -> Circuit {
        self.with(|seen| {
            seen.get(provider)
                .map_or(Circuit::Closed, |s| s.circuit(now))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(outcomes: &[bool], newest_at: Millis) -> Seen {
        Seen {
            read_at: 0,
            attempts: outcomes
                .iter()
                .enumerate()
                .map(|(i, ok)| (newest_at - i as Millis, *ok))
                .collect(),
            tried_at: None,
        }
    }

    #[test]
    fn five_failures_in_a_row_or_half_of_the_last_20_open_the_circuit_for_60_seconds() {
        let now = 1_000_000;
        assert_eq!(seen(&[false; 4], now).circuit(now), Circuit::Closed);
        assert_eq!(
            seen(&[false; 5], now).circuit(now),
            Circuit::Open {
                until: now + SKIPPED_FOR
            }
        );
        let half: Vec<bool> = (0..20).map(|i| i % 2 == 1).collect();
        assert!(matches!(
            seen(&half, now).circuit(now),
            Circuit::Open { .. }
        ));
        let fewer: Vec<bool> = (0..20).map(|i| i % 3 != 0).collect();
        assert_eq!(seen(&fewer, now).circuit(now), Circuit::Closed);
        // 60 s after the last failure, one text may try it.
        assert_eq!(
            seen(&[false; 5], now).circuit(now + SKIPPED_FOR),
            Circuit::HalfOpen
        );
        // A text that went through closes it.
        let mut back = vec![true];
        back.extend([false; 12]);
        assert_eq!(seen(&back, now).circuit(now), Circuit::Closed);
        assert_eq!(seen(&[], now).circuit(now), Circuit::Closed);
    }
}
