//! The text fraud guard (SMS pumping): on top of the fixed limits, it learns from conversion,
//! the share of codes to numbers not yet verified that are then verified. For each prefix (the
//! number less its last 4 digits) and each country it counts the last hour's codes once each is
//! verified or 2 minutes old, so a burst of real sign-ups isn't judged before its codes could
//! be typed. A prefix with 10 such codes or more, from 3 networks or more, under 20 % verified,
//! is blocked for 12 hours (a country at 50), and the block renews while the pattern goes on.
//! Outside the practice's region it blocks in "Block"; at home it only watches, unless an admin
//! ticks "Block at home too". Only codes to numbers not yet verified pass it (DESIGN's table of
//! texts): sign-in codes to verified numbers and notices are never blocked.

use crate::{
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    clock::{Millis, DAY, HOUR, MINUTE},
    error::{Error, ErrorKind, OrInternal},
    mobile::Mobile,
    portal::{FraudGuard, Portal},
    store::{GuardCode, GuardCounts},
};

/// A code counts once verified or this old.
pub const JUDGED_AFTER: Millis = 2 * MINUTE;
/// How long a block lasts from the last time the pattern was seen.
pub const BLOCKED_FOR: Millis = 12 * HOUR;
/// How long "Allow this prefix" lasts.
pub const ALLOWED_FOR: Millis = 30 * DAY;
/// How long the guard keeps its codes.
pub const KEPT_FOR: Millis = 30 * DAY;

/// A subject the guard judges, with the codes that trip it.
#[derive(Debug, Clone, Copy)]
struct Subject<'a> {
    kind: &'static str,
    value: &'a str,
    trips_at: i64,
}

fn trips(counts: GuardCounts, at: i64) -> bool {
    counts.counted >= at && counts.networks >= 3 && counts.verified * 5 < counts.counted
}

fn described(counts: GuardCounts) -> String {
    format!(
        "{} codes in the last hour, {} verified, from {} networks",
        counts.counted, counts.verified, counts.networks
    )
}

pub const CANT_SEND: &str = "We can't send a text to this number right now.";

fn refusal(portal: &Portal) -> Error {
    Error::new(
        ErrorKind::Forbidden,
        format!(
            "{CANT_SEND} Please {}.",
            crate::notify::contact_the_practice(portal)
        ),
    )
}

/// Before a code to a number not yet verified: refuses (403) if the guard blocks its prefix or
/// country, judging them again first. A refused send is neither sent nor counted.
pub async fn check(portal: &Portal, caller: &Caller, mobile: &Mobile) -> Result<(), Error> {
    let practice = portal.practice();
    if practice.text_fraud_guard == FraudGuard::Off {
        return Ok(());
    }
    let country = mobile.country();
    let at_home = country == format!("{:?}", portal.settings.default_region);
    let enforced =
        practice.text_fraud_guard == FraudGuard::Block && (!at_home || practice.block_at_home);
    let now = portal.now();
    let mut blocked = false;
    for subject in [
        Subject {
            kind: "prefix",
            value: mobile.prefix(),
            trips_at: 10,
        },
        Subject {
            kind: "country",
            value: &country,
            trips_at: 50,
        },
    ] {
        blocked |= judge(portal, caller, subject, enforced, now).await?;
    }
    match blocked {
        true => {
            crate::metrics::text_blocked("fraud_guard");
            Err(refusal(portal))
        }
        false => Ok(()),
    }
}

/// Judges one subject now: whether it is blocked (and the block enforced).
async fn judge(
    portal: &Portal,
    caller: &Caller,
    subject: Subject<'_>,
    enforced: bool,
    now: Millis,
) -> Result<bool, Error> {
    let store = &portal.store;
    let block = store
        .guard_block(subject.kind, subject.value)
        .await
        .or_internal("reading the guard's blocks")?;
    if block
        .as_ref()
        .is_some_and(|b| b.allowed_until.is_some_and(|until| until > now))
    {
        return Ok(false);
    }
    let counts = store
        .guard_counts(subject.kind, subject.value, now - HOUR, now - JUDGED_AFTER)
        .await
        .or_internal("counting the guard's codes")?;
    if trips(counts, subject.trips_at) {
        let new = store
            .guard_set_block(
                subject.kind,
                subject.value,
                now + BLOCKED_FOR,
                enforced,
                &described(counts),
                now,
            )
            .await
            .or_internal("noting a block")?;
        if new {
            let what = match enforced {
                true => "blocked for 12 hours",
                false => "watched: it would be blocked",
            };
            tracing::warn!(
                kind = subject.kind,
                subject = subject.value,
                counted = counts.counted,
                verified = counts.verified,
                networks = counts.networks,
                "text fraud guard: {what}"
            );
            let entry = Entry::new(Event::TextsBlocked, Outcome::Ok).detail(format!(
                "{} {}: {what}; {}",
                subject.kind,
                subject.value,
                described(counts)
            ));
            audit::record(portal, caller, entry).await;
        }
        return Ok(enforced);
    }
    Ok(block.is_some_and(|b| b.enforced != 0 && b.blocked_until > now))
}

/// After a code to a number not yet verified was issued: counted for the guard.
pub async fn note_sent(portal: &Portal, caller: &Caller, mobile: &Mobile) {
    let network = caller.network(portal.settings.ipv6_prefix);
    let noted = portal
        .store
        .guard_note(&GuardCode {
            prefix: mobile.prefix(),
            country: &mobile.country(),
            number: mobile.e164(),
            network: &network,
            sent_at: portal.now(),
        })
        .await;
    if let Err(err) = noted {
        tracing::warn!(%err, "noting a code for the text fraud guard");
    }
}

/// A code to `number` was verified.
pub async fn note_verified(portal: &Portal, number: &str) {
    let now = portal.now();
    if let Err(err) = portal.store.guard_verified(number, now, now - HOUR).await {
        tracing::warn!(%err, "noting a verified code for the text fraud guard");
    }
}
