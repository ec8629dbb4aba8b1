//! Limits on text messages, against SMS pumping (someone making the portal text numbers they
//! profit from) and plain abuse: per account, per number, per client network and per day. They
//! are checked, and the send counted, in the same transaction that queues the message
//! (`Store::issue_challenge`), before any provider call. The country allow-list is enforced
//! earlier, when the number is read.

use crate::{
    caller::Caller,
    clock::{DAY, HOUR},
    error::{OrInternal, PortalError},
    limits::{Limit, LimitKind},
    portal::Portal,
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

/// The limits on texting `number` for `account_id` on behalf of `caller`.
pub fn for_send(
    portal: &Portal,
    caller: &Caller,
    account_id: i64,
    number: &str,
    recipient: Recipient,
) -> Vec<Limit> {
    let limits = &portal.settings.limits;
    let now = portal.now();
    let number_subject = match recipient {
        Recipient::VerifiedSignIn => format!("{number} verified by {account_id}"),
        Recipient::Unproven => number.to_string(),
    };
    let mut all = vec![
        per_account(portal, account_id),
        Limit::new(
            LimitKind::SmsNumber,
            number_subject,
            DAY,
            limits.sends_per_number_day,
            now,
            |wait| {
                format!("This number has had as many codes as we can send it today. Please try again in {wait}, or contact the practice.")
            },
        ),
        per_network(portal, caller),
    ];
    match recipient {
        // Any number of accounts may share one verified number: its sign-in codes are counted
        // across them all, or each new account would bring a fresh allowance to farm.
        Recipient::VerifiedSignIn => all.push(Limit::new(
            LimitKind::SmsVerifiedNumber,
            number,
            DAY,
            limits.sign_in_codes_per_number_day,
            now,
            |wait| {
                format!("This number has had as many codes as we can send it today. Please try again in {wait}, or contact the practice.")
            },
        )),
        Recipient::Unproven => all.push(portal_wide(portal)),
    }
    all
}

fn per_account(portal: &Portal, account_id: i64) -> Limit {
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

/// The portal's daily budget: texts to numbers not yet verified, and notices.
fn portal_wide(portal: &Portal) -> Limit {
    crate::notify::budget(portal)
}

/// Refuses with 429 if a limit is already reached, without counting anything: for checks before
/// a change that should not happen when no code can follow it.
pub async fn precheck(portal: &Portal, limits: &[Limit]) -> Result<(), PortalError> {
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
