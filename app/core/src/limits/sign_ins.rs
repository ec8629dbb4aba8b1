//! Limits on signing in and registering: against password guessing, scripted sign-ups and
//! probing for usernames. The growing delays after wrong passwords are `crate::login_gate`'s;
//! these are the hourly ceilings beside them.

use super::{Limit, LimitKind};
use crate::{caller::Caller, clock::HOUR, portal::Portal, store::AccountId};

/// Right passwords in an hour: for the account, and from the caller's network.
pub fn sign_ins(portal: &Portal, caller: &Caller, account: AccountId) -> [Limit; 2] {
    let limits = &portal.settings.limits;
    let now = portal.now();
    [
        Limit::new(
            LimitKind::LoginAccount,
            account.to_string(),
            HOUR,
            limits.logins_per_account_hour,
            now,
            |wait| {
                format!("You've signed in many times in the last hour. For your security, please wait {wait}, or contact the practice.")
            },
        ),
        Limit::new(
            LimitKind::LoginIp,
            caller.network(portal.settings.ipv6_prefix),
            HOUR,
            limits.logins_per_ip_hour,
            now,
            |wait| {
                format!("There have been too many logins from your network. Please try again in {wait}.")
            },
        ),
    ]
}

/// Failed logins from the caller's network, per hour.
pub fn failed_logins_from(portal: &Portal, caller: &Caller) -> Limit {
    Limit::new(
        LimitKind::FailedLoginIp,
        caller.network(portal.settings.ipv6_prefix),
        HOUR,
        portal.settings.limits.failed_logins_per_ip_hour,
        portal.now(),
        |wait| {
            format!("There have been too many failed logins from your network. Please try again in {wait}.")
        },
    )
}

/// Registrations started from the caller's network, successful or not, per hour.
pub fn registrations_from(portal: &Portal, caller: &Caller) -> Limit {
    Limit::new(
        LimitKind::RegistrationIp,
        caller.network(portal.settings.ipv6_prefix),
        HOUR,
        portal.settings.limits.registrations_per_ip_hour,
        portal.now(),
        |wait| {
            format!("Too many accounts have been started from your network. Please try again in {wait}, or contact the practice.")
        },
    )
}

/// Passkey ceremonies begun from the caller's network, per hour: each keeps a row for its five
/// minutes, so a script can't fill the table.
pub fn passkey_requests_from(portal: &Portal, caller: &Caller) -> Limit {
    Limit::new(
        LimitKind::PasskeyIp,
        caller.network(portal.settings.ipv6_prefix),
        HOUR,
        portal.settings.limits.logins_per_ip_hour,
        portal.now(),
        |wait| {
            format!("There have been too many passkey requests from your network. Please try again in {wait}, or use a code sent by text.")
        },
    )
}
