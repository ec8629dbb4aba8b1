//! What the portal counts for the people who run it, as Prometheus metrics (`docs/operations.md`
//! lists them). Each call is a no-op until the server installs a recorder, which it does only
//! when `PORTAL_METRICS_ADDR` is set. Labels take a handful of fixed values each, never a
//! patient, a number or a path with an ID in it.
//!
//! A leaf: it names nothing else in the crate, so any module may count through it.

use std::time::Duration;

use metrics::{counter, gauge, histogram};

/// A step of a sign-in: `who` is "patient" or "staff"; `factor` what the step checked
/// ("password", "sms", "passkey", "remembered_device", "authenticator"); `outcome` the audit's.
pub fn sign_in(who: &'static str, outcome: &'static str, factor: &'static str) {
    sign_in_count(who, outcome, factor, 1);
}

/// A one-time code for `purpose` was "sent", "verified", found "expired", or "refused" (a
/// wrong code, too many tries, or a send the limits turned away).
pub fn code(purpose: &'static str, event: &'static str) {
    counter!("portal_codes_total", "purpose" => purpose, "event" => event).increment(1);
}

/// A limit turned a request away.
pub fn limit_refused(limit: &'static str) {
    counter!("portal_limit_refusals_total", "limit" => limit).increment(1);
}

/// An account's login delay began (a lockout).
pub fn login_delay_started() {
    counter!("portal_login_delays_total").increment(1);
}

/// What became of a text: "sent" (the provider accepted it), "retry", "failed", or what the
/// provider's delivery report said ("delivered", "undelivered"…).
pub fn text(provider: &'static str, status: &'static str) {
    counter!("portal_sms_total", "provider" => provider, "status" => status).increment(1);
}

/// From a text being queued to its `stage`: "accepted" by the provider, or "delivered" to the
/// phone where the provider reports it.
pub fn text_delivery(provider: &'static str, stage: &'static str, took: Duration) {
    histogram!("portal_sms_delivery_seconds", "provider" => provider, "stage" => stage)
        .record(took.as_secs_f64());
}

/// Registers every family with zero for each label known in advance (texts for each of
/// `providers` and `countries`, refusals for each of `limits`), so that the first scrape shows
/// every family and an alert on a rate has something to start from.
pub fn start_at_zero(providers: &[&'static str], limits: &[&'static str], countries: &[String]) {
    for outcome in ["ok", "refused"] {
        for factor in ["password", "sms", "passkey", "remembered_device"] {
            sign_in_count("patient", outcome, factor, 0);
        }
        for factor in ["authenticator", "passkey"] {
            sign_in_count("staff", outcome, factor, 0);
        }
    }
    for purpose in ["sign_in", "new_number", "step_up"] {
        for event in ["sent", "verified", "expired", "refused"] {
            counter!("portal_codes_total", "purpose" => purpose, "event" => event).increment(0);
        }
    }
    for limit in limits {
        counter!("portal_limit_refusals_total", "limit" => *limit).increment(0);
    }
    counter!("portal_login_delays_total").increment(0);
    for provider in providers {
        for status in [
            "sent",
            "retry",
            "failed",
            "released",
            "delivered",
            "undelivered",
        ] {
            counter!("portal_sms_total", "provider" => *provider, "status" => status).increment(0);
        }
        for stage in ["accepted", "delivered"] {
            let _ = histogram!("portal_sms_delivery_seconds", "provider" => *provider, "stage" => stage);
        }
        for country in countries {
            for purpose in ["sign_in", "new_number", "notice"] {
                counter!("portal_sms_sent_total", "country" => country.clone(),
                    "purpose" => purpose, "provider" => *provider)
                .increment(0);
            }
        }
    }
    for country in countries {
        counter!("portal_codes_verified_total", "country" => country.clone()).increment(0);
    }
    gauge!("portal_password_queue_depth").increment(0.0);
    gauge!("portal_sms_budget_used_ratio").set(0.0);
    counter!("portal_sms_blocked_total", "reason" => "fraud_guard").increment(0);
    let _ = histogram!("portal_password_wait_seconds");
    for route in ["/healthz", "/readyz"] {
        counter!("portal_http_requests_total", "route" => route, "status" => "200").increment(0);
    }
}

fn sign_in_count(who: &'static str, outcome: &'static str, factor: &'static str, by: u64) {
    counter!("portal_sign_ins_total", "who" => who, "outcome" => outcome, "factor" => factor)
        .increment(by);
}

/// A text a provider took: to which country (the numbers the practice allows), for what (a
/// code's purpose, or "notice"), through which provider.
pub fn text_sent(country: &str, purpose: &str, provider: &'static str) {
    let purpose = match purpose {
        "sign_in" | "new_number" | "step_up" | "new_phone" | "notice" => purpose.to_string(),
        _ => "other".to_string(),
    };
    counter!("portal_sms_sent_total", "country" => country.to_string(), "purpose" => purpose,
        "provider" => provider)
    .increment(1);
}

/// A code to a number in `country` was verified.
pub fn code_verified(country: &str) {
    counter!("portal_codes_verified_total", "country" => country.to_string()).increment(1);
}

/// A text the portal refused to send, and why (`fraud_guard`).
pub fn text_blocked(reason: &'static str) {
    counter!("portal_sms_blocked_total", "reason" => reason).increment(1);
}

/// The share of the practice's daily text budget the last 24 hours used.
pub fn text_budget_used(ratio: f64) {
    gauge!("portal_sms_budget_used_ratio").set(ratio);
}

/// A password check or hash joined the queue for the hashing threads.
pub fn password_queued() {
    gauge!("portal_password_queue_depth").increment(1.0);
}

/// A job counted by `password_queued` was turned away: the queue was full.
pub fn password_not_queued() {
    gauge!("portal_password_queue_depth").decrement(1.0);
}

/// A hashing thread took a job that waited `waited` in the queue.
pub fn password_started(waited: Duration) {
    gauge!("portal_password_queue_depth").decrement(1.0);
    histogram!("portal_password_wait_seconds").record(waited.as_secs_f64());
}
