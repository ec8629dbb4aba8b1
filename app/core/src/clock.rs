//! Time as the portal counts it: milliseconds since the Unix epoch, the units they come in, and
//! the clock that tells "now" (the system's, or a manual one that tests move).

use std::sync::{
    atomic::{AtomicI64, Ordering},
    Arc,
};

/// Milliseconds since the Unix epoch. Every stored time is one of these, so SQL stays portable.
pub type Millis = i64;

pub const SECOND: Millis = 1000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

/// A span in whole seconds, rounded up, so that a wait still running is never "0 seconds".
pub fn whole_seconds(span: Millis) -> u64 {
    ((span.max(0) + SECOND - 1) / SECOND) as u64
}

/// A moment as a patient reads it: "30 Nov 2026, 14:05 UTC".
pub fn for_people(at: Millis) -> String {
    time::OffsetDateTime::from_unix_timestamp(at / SECOND)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// The source of "now", injectable so that tests can move time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Millis;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as Millis)
            .unwrap_or_default()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Millis) -> Self {
        Self(AtomicI64::new(start))
    }

    pub fn advance_seconds(&self, seconds: i64) {
        self.0.fetch_add(seconds * SECOND, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

impl<C: Clock> Clock for Arc<C> {
    fn now(&self) -> Millis {
        (**self).now()
    }
}
