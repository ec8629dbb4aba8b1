//! Limits on text messages, against SMS pumping (someone making the portal text numbers they
//! profit from) and plain abuse: per account, per number, per client network and per day. They
//! are checked, and the send counted, in the same transaction that queues the message
//! (`Store::issue_challenge`), before any provider call. The country allow-list is enforced
//! earlier, when the number is read. Security notices have their own cap per number, and
//! count towards the daily budget without being refused by it (`crate::notify`).

use super::{Limit, LimitKind};
use crate::{
    caller::Caller,
    clock::{DAY, HOUR},
    error::{Error, OrInternal},
    portal::Portal,
    store::AccountId,
};

/// Which number a code goes to, for the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// The account's own verified number, for signing in. Counted for this account, and for the
    /// number across every account that shares it (its own daily ceiling), but never against the
    /// portal-wide daily cap: nobody else can use up what a patient needs to sign in.
    VerifiedSignIn,
    /// A number not yet proven (registration, a first number, a new number): the capped pool.
    Unproven,
}

/// The limits on texting `number` for `account_id` on behalf of `caller`, as DESIGN's table of
/// texts gives them for each kind: a sign-in code to a verified number passes the account's
/// hour and the number's own daily ceiling (never the network's, which a clinic's or a
/// carrier's shared address would use up, nor the daily budget); a code to a number not yet
/// verified passes the account's, the number's and the network's, and the daily budget.
pub fn for_send(
    portal: &Portal,
    caller: &Caller,
    account_id: AccountId,
    number: &str,
    recipient: Recipient,
) -> Vec<Limit> {
    let limits = &portal.settings.limits;
    let now = portal.now();
    let full = |wait: &str| {
        format!("This number has had as many codes as we can send it today. Please try again in {wait}, or contact the practice.")
    };
    match recipient {
        // Any number of accounts may share one verified number: its sign-in codes are counted
        // across them all, or each new account would bring a fresh allowance to farm.
        Recipient::VerifiedSignIn => vec![
            per_account(portal, account_id),
            Limit::new(
                LimitKind::SmsVerifiedNumber,
                number,
                DAY,
                limits.sign_in_codes_per_number_day,
                now,
                full,
            ),
        ],
        Recipient::Unproven => vec![
            per_account(portal, account_id),
            Limit::new(
                LimitKind::SmsNumber,
                number,
                DAY,
                limits.sends_per_number_day,
                now,
                full,
            ),
            per_network(portal, caller),
            budget(portal),
        ],
    }
}

fn per_account(portal: &Portal, account_id: AccountId) -> Limit {
    Limit::new(
        LimitKind::SmsAccount,
        account_id.to_string(),
        HOUR,
        portal.settings.limits.sends_per_account_hour,
        portal.now(),
        |wait| {
            format!("You've asked for a lot of codes. For your security, please wait {wait} before asking again, or contact the practice.")
        },
    )
}

fn per_network(portal: &Portal, caller: &Caller) -> Limit {
    Limit::new(
        LimitKind::SmsIp,
        caller.network(portal.settings.ipv6_prefix),
        HOUR,
        portal.settings.limits.sends_per_ip_hour,
        portal.now(),
        |wait| {
            format!(
                "Too many codes have been asked for from your network. Please try again in {wait}."
            )
        },
    )
}

/// A number's notices per day: their own cap, which codes can't use up.
pub fn notices_to(portal: &Portal, to: &str) -> Limit {
    Limit::new(
        LimitKind::SmsNotice,
        to,
        DAY,
        portal.settings.limits.notices_per_number_day,
        portal.now(),
        |_| String::new(),
    )
}

/// The practice's "Daily text budget": codes to numbers not yet verified are refused by it; a
/// notice joins it, and is never refused by it.
pub fn budget(portal: &Portal) -> Limit {
    Limit::new(
        LimitKind::SmsAll,
        "portal",
        DAY,
        portal.practice().daily_text_budget,
        portal.now(),
        |wait| {
            format!("The portal has sent all the text messages it can today. Please try again in {wait}, or contact the practice.")
        },
    )
}

/// Refuses with 429 if a limit is already reached, without counting anything: for checks before
/// a change that should not happen when no code can follow it.
pub async fn precheck(portal: &Portal, limits: &[Limit]) -> Result<(), Error> {
    let full = portal
        .store
        .limit_reached(limits)
        .await
        .or_internal("counting text messages")?;
    match full {
        None => Ok(()),
        Some(full) => Err(limits[full.index].refusal(full.oldest, portal.now())),
    }
}
