//! Logging in: the `/login` page and `/api/login`. A right password moves the session to the 2FA
//! step (sending the code at once to a verified mobile); wrong answers all look alike, and
//! repeated failures make each further attempt wait.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    ui::{Field, FormMessage, StatusMessage, SubmitButton},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedIn {
    /// Signed in already: two-factor authentication is off.
    pub signed_in: bool,
    /// A code went to the verified mobile (flow 2.1); otherwise the patient must give a number (2.2).
    pub code_sent: bool,
    pub mobile_ending: Option<String>,
}

#[server(prefix = "/api", endpoint = "login")]
pub async fn login(
    #[server(default)] username: String,
    #[server(default)] password: String,
) -> Result<LoggedIn, PortalError> {
    let portal = crate::request::portal()?;
    let logged_in = ssr::log_in(&portal, &username, &password).await?;
    leptos_axum::redirect(if logged_in.signed_in { "/" } else { "/verify" });
    Ok(logged_in)
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = Signal::derive(move || login.value().get().and_then(Result::err));
    let query = use_query_map();
    let notice = Signal::derive(move || {
        query.read().get("timeout").map(|_| {
            "You were signed out because you had been inactive for a while. Please log in again."
                .to_string()
        })
    });
    view! {
        <Title text="Log in"/>
        <section class="card">
            <h1>"Log in"</h1>
            <StatusMessage message=notice/>
            <ActionForm action=login attr:novalidate=true attr:class="form">
                <FormMessage error=error/>
                <Field name="username" label="Username" autocomplete="username"/>
                <Field
                    name="password"
                    label="Password"
                    kind="password"
                    autocomplete="current-password"
                />
                <SubmitButton label="Log in" pending=login.pending()/>
            </ActionForm>
            <p class="aside">"New to the portal? " <A href="/register">"Create an account"</A></p>
        </section>
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::LoggedIn;
    use crate::{
        error::{ErrorKind, OrInternal, PortalError},
        mobile::{self, Mobile},
        password::PasswordHasher,
        portal::{Limits, Millis, Portal, HOUR, SECOND},
        registration::ssr::username_key,
        request,
        session::Stage,
        store::{LimitWindow, LoginGate, LoginRules},
        verification::{
            challenge::{cooldown_left, Purpose},
            ssr::send_code_to,
        },
    };

    /// The one answer for an unknown username and a wrong password alike.
    pub const WRONG_DETAILS: &str =
        "That username and password don't match. Please check them and try again.";

    const FAILED_LOGIN_FROM_IP: &str = "failed_login_ip";

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

    fn wait_text(wait: Millis) -> String {
        let seconds = (wait + SECOND - 1) / SECOND;
        if seconds > 90 {
            format!("{} minutes", (seconds + 59) / 60)
        } else {
            format!("{seconds} seconds")
        }
    }

    fn retry_after(wait: Millis) -> u64 {
        ((wait + SECOND - 1) / SECOND).max(1) as u64
    }

    pub async fn log_in(
        portal: &Portal,
        username: &str,
        password: &str,
    ) -> Result<LoggedIn, PortalError> {
        let store = &portal.store;
        let limits = &portal.settings.limits;
        let now = portal.now();
        let ip = request::client_ip();
        let key = username_key(username);

        // Every attempt is counted as a failure before the password is checked, so guesses
        // sent in parallel are all counted; a right password takes its count back. Keyed by the
        // typed username, known or not, so the delay says nothing about who exists.
        let rules = LoginRules {
            ip_window: LimitWindow {
                kind: FAILED_LOGIN_FROM_IP,
                subject: ip,
                since: now - HOUR,
                limit: limits.failed_logins_per_ip_hour,
            },
            failures_forgotten_after: FAILURES_FORGOTTEN_AFTER,
            delay_for: &|failures| delay_after(limits, failures),
        };
        let ip_event = match store
            .login_gate(&key, &rules, now)
            .await
            .or_internal("counting a login attempt")?
        {
            LoginGate::Counted { ip_event } => ip_event,
            LoginGate::Delayed { until } => {
                let wait = until - now;
                request::audit(portal, None, "login", "delayed", None).await;
                return Err(PortalError::too_many_requests(
                    format!(
                        "Too many failed attempts. For your security, please wait {} before trying again.",
                        wait_text(wait)
                    ),
                    retry_after(wait),
                ));
            }
            LoginGate::AddressBlocked { oldest } => {
                let wait = oldest + HOUR - now;
                request::audit(portal, None, "login", "address_blocked", None).await;
                return Err(PortalError::too_many_requests(
                    format!(
                        "There have been too many failed logins from your network. Please try again in {}.",
                        wait_text(wait)
                    ),
                    retry_after(wait),
                ));
            }
        };

        let account = store
            .account_by_username(&key)
            .await
            .or_internal("looking up an account")?;
        // An unknown username is checked against a dummy hash, so it takes as long as a wrong password.
        let hash = match &account {
            Some(account) => account.password_hash.clone(),
            None => portal
                .passwords
                .dummy_hash()
                .await
                .or_internal("preparing the dummy hash")?,
        };
        let matches = portal
            .passwords
            .verify(password, &hash)
            .await
            .or_internal("verifying a password")?;
        let account = match account {
            Some(account) if matches => account,
            other => {
                let outcome = if other.is_some() {
                    "wrong_password"
                } else {
                    "unknown_user"
                };
                request::audit(portal, other.map(|a| a.id), "login", outcome, None).await;
                return Err(PortalError::unauthorized(WRONG_DETAILS));
            }
        };
        store
            .forget_login_failures(&key, ip_event)
            .await
            .or_internal("clearing login failures")?;
        if PasswordHasher::needs_rehash(&account.password_hash) {
            let rehashed = portal
                .passwords
                .hash_given(password)
                .await
                .or_internal("rehashing a password")?;
            store
                .set_password_hash(account.id, &rehashed, account.must_change_password != 0)
                .await
                .or_internal("storing a rehashed password")?;
        }

        let previous = request::session(portal).await?;
        if !portal.settings.two_factor {
            request::step_up(portal, account.id, Stage::SignedIn, previous.as_ref()).await?;
            request::audit(
                portal,
                Some(account.id),
                "signed_in",
                "ok",
                Some("password only: two-factor is off".into()),
            )
            .await;
            return Ok(LoggedIn {
                signed_in: true,
                code_sent: false,
                mobile_ending: None,
            });
        }
        request::step_up(
            portal,
            account.id,
            Stage::PasswordAccepted,
            previous.as_ref(),
        )
        .await?;
        request::audit(portal, Some(account.id), "login", "password_accepted", None).await;

        let settings = &portal.settings;
        let verified = account
            .mobile_verified_at
            .and(account.mobile.as_deref())
            .and_then(|m| {
                Mobile::from_stored(m, settings.default_region, &settings.allowed_regions).ok()
            });
        let Some(mobile) = verified else {
            return Ok(LoggedIn {
                signed_in: false,
                code_sent: false,
                mobile_ending: account.mobile.as_deref().map(mobile::ending),
            });
        };
        // Flow 2.1: the code goes at once, unless one sent moments ago still stands. If it
        // can't go, the 2FA page offers "Send Code" and says what went wrong.
        let waiting = cooldown_left(portal, account.id, Purpose::SignIn)
            .await
            .or_internal("reading the cooldown")?;
        let code_sent = waiting > 0
            || match send_code_to(portal, account.id, Purpose::SignIn, &mobile, true).await {
                Ok(_) => true,
                // The text is being retried: the code may well arrive.
                Err(err) => {
                    err.error == ErrorKind::Unavailable && err.retry_after_seconds.is_some()
                }
            };
        Ok(LoggedIn {
            signed_in: false,
            code_sent,
            mobile_ending: Some(mobile.ending()),
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
}
