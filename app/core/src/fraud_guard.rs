//! The text fraud guard (SMS pumping): on top of the fixed limits, it learns from conversion,
//! the share of codes to numbers not yet verified that are then verified. For each prefix (the
//! number less its last 4 digits) and each country it counts the last hour's codes once each is
//! verified or 2 minutes old, so a burst of real sign-ups isn't judged before its codes could
//! be typed. Codes are counted by the minute (a minute's codes are judged once the last of them
//! is 2 minutes old), so the check reads at most an hour of minutes, however many codes. A prefix with 10 such codes or more, from 3 networks or more, under 20 % verified,
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
    store::{GuardCode, GuardCounts, GuardSubject},
};

/// A code counts once verified or this old.
pub const JUDGED_AFTER: Millis = 2 * MINUTE;
/// How long a block lasts from the last time the pattern was seen.
pub const BLOCKED_FOR: Millis = 12 * HOUR;
/// How long "Allow this prefix" lasts.
pub const ALLOWED_FOR: Millis = 30 * DAY;
/// How long the guard keeps its counts (a code's own row: an hour).
pub const KEPT_FOR: Millis = 30 * DAY;

/// The codes in an hour, under a fifth verified and from 3 networks or more, that block a
/// prefix, and a country.
pub const PREFIX_TRIPS_AT: i64 = 10;
pub const COUNTRY_TRIPS_AT: i64 = 50;

fn trips(counts: GuardCounts, at: i64) -> bool {
    counts.counted >= at && counts.networks >= 3 && counts.verified * 5 < counts.counted
}

fn described(counts: GuardCounts) -> String {
    let more = match counts.networks >= crate::store::NETWORKS_COUNTED {
        true => " or more",
        false => "",
    };
    format!(
        "{} codes in the last hour, {} verified, from {}{more} networks",
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
    let subjects = portal
        .store
        .guard_subjects(mobile.prefix(), &country, now - HOUR, now - JUDGED_AFTER)
        .await
        .or_internal("counting the guard's codes")?;
    let mut blocked = false;
    for subject in subjects {
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
    subject: GuardSubject,
    enforced: bool,
    now: Millis,
) -> Result<bool, Error> {
    let GuardSubject {
        kind,
        subject,
        counts,
        block,
    } = subject;
    if block
        .as_ref()
        .is_some_and(|b| b.allowed_until.is_some_and(|until| until > now))
    {
        return Ok(false);
    }
    let trips_at = match kind.as_str() {
        "country" => COUNTRY_TRIPS_AT,
        _ => PREFIX_TRIPS_AT,
    };
    if trips(counts, trips_at) {
        // Renewed at most once a minute: a pattern that goes on costs no write per send.
        let fresh = block.as_ref().is_some_and(|b| {
            (b.enforced != 0) == enforced && b.blocked_until > now + BLOCKED_FOR - MINUTE
        });
        if fresh {
            return Ok(enforced);
        }
        let new = portal
            .store
            .guard_set_block(
                &kind,
                &subject,
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
                kind,
                subject,
                counted = counts.counted,
                verified = counts.verified,
                networks = counts.networks,
                "text fraud guard: {what}"
            );
            let entry = Entry::new(Event::TextsBlocked, Outcome::Ok)
                .detail(format!("{kind} {subject}: {what}; {}", described(counts)));
            audit::record(portal, caller, entry).await;
            let body = format!(
                "The text fraud guard saw many codes sent to the {kind} {subject} and few entered ({}). It is {what}: codes to new numbers there {}. Sign-in codes to verified numbers still go.\n\nIf these are real patients, an admin can choose \"Allow this prefix\" on the overview: {}\n",
                described(counts),
                match enforced {
                    true => "aren't sent",
                    false => "still go, as the guard only watches here",
                },
                overview_link(portal),
            );
            let subject = match enforced {
                true => "texts to a number prefix blocked",
                false => "many unentered codes to a number prefix",
            };
            crate::admin_alerts::send(portal, subject, body).await;
        }
        return Ok(enforced);
    }
    Ok(block.is_some_and(|b| b.enforced != 0 && b.blocked_until > now))
}

fn overview_link(portal: &Portal) -> String {
    let mut link = portal.settings.public_url.clone();
    link.set_path("/staff/overview");
    link.to_string()
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
