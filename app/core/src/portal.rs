//! The running portal as the server functions see it: the practice's settings, the database, the
//! SMS outbox, the clock and the server's secret, handed to every request through context.

use std::sync::Arc;

use phonenumber::country;

use crate::{
    clock::{Clock, Millis, SECOND},
    mail::{ConsoleMailer, Mailer},
    password::PasswordHasher,
    secret::ServerSecret,
    sms::{SmsOutbox, SmsSender},
    store::{PracticeSave, Store, StoreError},
};

pub use crate::store::{
    FirstNumberAtLogin, FraudGuard, PracticeSettings, MOST_DAILY_TEXT_BUDGET, NAME_IN_TEXTS_MOST,
};

/// The longest a practice may let a proof (a code or a passkey) stand for changes to a
/// patient's number, email or passkeys.
pub const MOST_RECENT_PROOF_MINUTES: i64 = 60;

/// How the portal runs. Every field has a working default for a local run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The first practice settings; after the first start, the database's.
    pub practice: PracticeSettings,
    /// The portal's own origin, e.g. `https://portal.example.org`.
    pub public_url: url::Url,
    /// Region for numbers typed without a leading `+`.
    pub default_region: country::Id,
    /// Countries whose numbers are accepted; everything else is refused before any SMS is sent.
    pub allowed_regions: Vec<country::Id>,
    pub otp_ttl_seconds: i64,
    /// How long a password-accepted (or just-registered) session may wait for its code.
    pub pending_seconds: i64,
    pub session_idle_seconds: i64,
    pub session_absolute_seconds: i64,
    /// A staff session ends after this long without a request.
    pub staff_idle_seconds: i64,
    /// How long a one-time password from the practice (an import, or support) works.
    pub one_time_password_days: i64,
    /// How long audit lines are kept: six years, as HIPAA asks of a practice's records.
    pub audit_retention_days: i64,
    /// Where the audit chain's head is noted besides the log (`PORTAL_AUDIT_HEADS_TO`).
    pub audit_heads_to: Option<HeadsTo>,
    /// Per-IP limits count an IPv6 client by this prefix: one home or office network gets a
    /// whole /64 and could otherwise rotate addresses within it.
    pub ipv6_prefix: u8,
    /// Password checks that may wait for a hashing thread; beyond them the portal answers 503.
    pub password_queue: usize,
    /// How long one attempt may hold a text message before another sender (another instance,
    /// if this one died) may take it over.
    pub sms_lease_seconds: i64,
    /// With more than one provider: how long a sent text waits for a report of failure that
    /// sends it through the next, and after which a second "Send Code" starts at the next.
    pub sms_failover_wait_seconds: i64,
    /// The practice's time zone (`PORTAL_TIME_ZONE`): a child's birthday begins at its midnight.
    pub time_zone: jiff::tz::TimeZone,
    pub limits: Limits,
}

/// The practice's time zone unless `PORTAL_TIME_ZONE` names another: the default region's.
pub const DEFAULT_TIME_ZONE: &str = "Pacific/Auckland";

/// Somewhere off the database's machine to note the audit chain's head: a file (on another disk
/// or a mount elsewhere), or an HTTPS endpoint that receives each head as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadsTo {
    File(std::path::PathBuf),
    Endpoint(url::Url),
}

/// Limits against guessing and abuse. Each is configurable (`PORTAL_LIMIT_*`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Consecutive failed logins for one username before each further attempt must wait.
    pub login_failures_before_delay: i64,
    /// The first wait; it doubles with every further failure…
    pub login_delay_seconds: i64,
    /// …up to this. Delays are kept per username and network…
    pub login_delay_max_seconds: i64,
    /// …and after this many failures in a run from any network, the username waits everywhere
    /// (NIST SP 800-63B-4 allows at most 100).
    pub login_failures_any_network: i64,
    pub failed_logins_per_ip_hour: i64,
    /// Text messages (codes and notices) per account per hour…
    pub sends_per_account_hour: i64,
    /// …per number per day…
    pub sends_per_number_day: i64,
    /// …per client IP per hour…
    pub sends_per_ip_hour: i64,
    /// Sign-in codes and notices to one verified number per day, whichever accounts share it:
    /// they never fall to the practice's "Daily text budget", so this is their ceiling.
    pub sign_in_codes_per_number_day: i64,
    /// Security notices (a new number, a passkey added…) texted to one number per day: their
    /// own cap, which codes can't use up. Past it, one last text says more changes were made,
    /// and email carries the rest.
    pub notices_per_number_day: i64,
    /// Registration attempts from one client IP per hour, against scripted sign-ups and
    /// probing for usernames.
    pub registrations_per_ip_hour: i64,
    /// Right passwords per account per hour: each one texts a code and costs a hash.
    pub logins_per_account_hour: i64,
    /// Right passwords from one client IP per hour.
    pub logins_per_ip_hour: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            login_failures_before_delay: 5,
            login_delay_seconds: 30,
            login_delay_max_seconds: 15 * 60,
            login_failures_any_network: 100,
            failed_logins_per_ip_hour: 100,
            sends_per_account_hour: 5,
            sends_per_number_day: 10,
            sends_per_ip_hour: 20,
            sign_in_codes_per_number_day: 20,
            notices_per_number_day: 10,
            registrations_per_ip_hour: 20,
            logins_per_account_hour: 20,
            logins_per_ip_hour: 300,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            practice: PracticeSettings::default(),
            public_url: url::Url::parse("http://127.0.0.1:3000").expect("a valid default URL"),
            default_region: country::Id::NZ,
            allowed_regions: vec![country::Id::NZ],
            otp_ttl_seconds: 600,
            pending_seconds: 600,
            session_idle_seconds: 900,
            session_absolute_seconds: 12 * 3600,
            staff_idle_seconds: 600,
            one_time_password_days: 14,
            audit_retention_days: 2190,
            audit_heads_to: None,
            ipv6_prefix: 64,
            password_queue: 64,
            sms_lease_seconds: 60,
            sms_failover_wait_seconds: 30,
            time_zone: jiff::tz::TimeZone::get(DEFAULT_TIME_ZONE)
                .expect("the built-in time zones include the default"),
            limits: Limits::default(),
        }
    }
}

impl Settings {
    /// Cookies are `Secure` (with the `__Host-` prefix) exactly when the portal is served over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The passkeys' site (the WebAuthn relying party ID): the portal's host, if it is a name.
    /// Browsers refuse an IP address as one, so there passkeys can't be offered.
    pub fn passkey_site(&self) -> Option<String> {
        match self.public_url.host()? {
            url::Host::Domain(name) => Some(name.to_string()),
            _ => None,
        }
    }

    /// The host that the SMS autofill line binds codes to.
    pub fn public_host(&self) -> String {
        self.public_url
            .host_str()
            .unwrap_or("localhost")
            .to_string()
    }
}

#[derive(Clone)]
pub struct Portal(Arc<PortalParts>);

pub struct PortalParts {
    pub settings: Settings,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub secret: ServerSecret,
    pub passwords: PasswordHasher,
    pub outbox: SmsOutbox,
    pub mailer: Arc<dyn Mailer>,
    /// The practice settings as last read or written.
    practice: std::sync::RwLock<Arc<PracticeSettings>>,
}

impl std::ops::Deref for Portal {
    type Target = PortalParts;
    fn deref(&self) -> &PortalParts {
        &self.0
    }
}

impl Portal {
    /// A portal whose emails go to the log and the dev outbox.
    pub fn new(
        settings: Settings,
        store: Store,
        clock: Arc<dyn Clock>,
        secret: ServerSecret,
        sms: Arc<dyn SmsSender>,
    ) -> Self {
        Self::with_providers(settings, store, clock, secret, vec![sms])
    }

    /// A portal whose texts try `providers` in order (at least one).
    pub fn with_providers(
        settings: Settings,
        store: Store,
        clock: Arc<dyn Clock>,
        secret: ServerSecret,
        providers: Vec<Arc<dyn SmsSender>>,
    ) -> Self {
        let mailer = Arc::new(ConsoleMailer::new(store.clone(), clock.clone()));
        Self::with_mailer(settings, store, clock, secret, providers, mailer)
    }

    pub fn with_mailer(
        settings: Settings,
        store: Store,
        clock: Arc<dyn Clock>,
        secret: ServerSecret,
        providers: Vec<Arc<dyn SmsSender>>,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        let mut providers = providers.into_iter();
        let first = providers.next().expect("at least one text provider");
        let outbox = SmsOutbox::new(store.clone(), first, secret.clone(), clock.clone())
            .with_fallbacks(providers.collect())
            .with_lease(settings.sms_lease_seconds * SECOND)
            .with_failover_wait(settings.sms_failover_wait_seconds * SECOND);
        let passwords = PasswordHasher::bounded_by_cores(settings.password_queue);
        let practice = std::sync::RwLock::new(Arc::new(settings.practice.clone()));
        Self(Arc::new(PortalParts {
            practice,
            settings,
            store,
            clock,
            secret,
            passwords,
            outbox,
            mailer,
        }))
    }

    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// The practice settings in force now.
    pub fn practice(&self) -> Arc<PracticeSettings> {
        match self.practice.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Takes `settings` unless this instance already holds a later version: a slow save or a
    /// reload that overlaps a save must not put older settings back.
    fn set_practice(&self, settings: PracticeSettings) {
        let settings = Arc::new(settings);
        let mut current = match self.practice.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        if settings.version >= current.version {
            *current = settings;
        }
    }

    /// Reads the practice settings from the database (storing the first values if there are
    /// none yet). Run at start-up and every few seconds, so a change made through another
    /// instance applies here too.
    pub async fn load_practice(&self) -> Result<(), StoreError> {
        let stored = self
            .store
            .practice_settings(&self.settings.practice, self.now())
            .await?;
        self.set_practice(stored);
        Ok(())
    }

    /// Stores new practice settings if the stored ones are still at `settings.version`. Either
    /// way, what is stored applies at once: the new settings, or the ones saved meanwhile.
    pub async fn save_practice(
        &self,
        settings: PracticeSettings,
    ) -> Result<PracticeSave, StoreError> {
        // The first values are stored first, if nothing is yet, so there is a row to replace.
        self.store
            .practice_settings(&self.settings.practice, self.now())
            .await?;
        let saved = self
            .store
            .save_practice_settings(&settings, self.now())
            .await?;
        match &saved {
            PracticeSave::Saved { replaced } => self.set_practice(PracticeSettings {
                version: replaced.version + 1,
                ..settings
            }),
            PracticeSave::ChangedMeanwhile { current } => self.set_practice(current.clone()),
        }
        Ok(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::PracticeSettings;

    #[test]
    fn patients_are_told_to_contact_the_practice_with_what_it_has_given() {
        let none = PracticeSettings::default();
        assert_eq!(none.contact_the_practice(), "contact the practice");
        let phone = PracticeSettings {
            support_phone: "09 555 0134".into(),
            ..none.clone()
        };
        assert_eq!(
            phone.contact_the_practice(),
            "contact the practice on 09 555 0134"
        );
        let both = PracticeSettings {
            support_email: "help@example.org".into(),
            ..phone
        };
        assert_eq!(
            both.contact_the_practice(),
            "contact the practice on 09 555 0134 or at help@example.org"
        );
    }
}
