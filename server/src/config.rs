//! Configuration from the environment (and `.env`). Every setting has a default that runs the
//! portal locally; a bad value stops the server at start-up with a message naming the variable.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use app::{
    portal::{FirstNumberAtLogin, Limits, PracticeSettings, Settings},
    sms::{TwilioConfig, TwilioSender},
};
use ipnet::IpNet;
use phonenumber::country;

#[derive(Debug, Clone)]
pub enum SmsProvider {
    Console,
    Twilio(TwilioConfig),
    Webhook { url: String, secret: String },
}

impl SmsProvider {
    pub fn name(&self) -> &'static str {
        match self {
            SmsProvider::Console => "console",
            SmsProvider::Twilio(_) => "twilio",
            SmsProvider::Webhook { .. } => "webhook",
        }
    }
}

/// Where emails to patients go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailProvider {
    /// The log (and, with the dev outbox, `/dev/email`).
    Console,
    Smtp {
        url: String,
        from: String,
    },
}

/// How the listener treats connections: slow or idle clients can't hold it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A client must send its request's headers within this.
    pub header_read_timeout: Duration,
    /// A whole request, body and answer included, within this.
    pub request_timeout: Duration,
    /// Connections open at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// Connections open at once from one client (an IPv6 one by its network); one more is
    /// closed at once, so that no client can hold every connection.
    pub max_connections_per_client: usize,
    /// How IPv6 clients are counted, as the per-IP limits count them.
    pub ipv6_prefix: u8,
    /// A connection whose answer makes no progress for this long (a client that stopped
    /// reading) is closed.
    pub write_timeout: Duration,
    /// At shutdown, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            // A browser opens up to 6 connections to a site; 64 serves a practice of a dozen
            // busy browsers behind one NAT, while one client holds at most 1/16 of the total.
            max_connections_per_client: 64,
            ipv6_prefix: Settings::default().ipv6_prefix,
            write_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub database_url: String,
    pub database: app::store::StoreOptions,
    pub data_dir: PathBuf,
    pub secret_key: Option<String>,
    /// In the order texts try them: never empty.
    pub sms_providers: Vec<SmsProvider>,
    pub mail: MailProvider,
    /// `/dev/sms` and `/dev/email` exist: only on a loopback portal, or when asked for.
    pub dev_outbox: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub http: HttpLimits,
    /// Where Prometheus scrapes `/metrics`: a listener of its own, never the public port.
    /// Off unless set.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// A bearer token Prometheus must give to scrape (`PORTAL_METRICS_TOKEN`).
    pub metrics_token: Option<String>,
    /// The practice variables set in the environment. They give the settings' first values
    /// only: after the first start, the database's apply.
    pub practice_variables: Vec<&'static str>,
}

/// The variables that give the practice settings their first values.
const PRACTICE_VARIABLES: [&str; 11] = [
    "PORTAL_TWO_FACTOR",
    "PORTAL_PRACTICE_NAME",
    "PORTAL_SUPPORT_PHONE",
    "PORTAL_SUPPORT_EMAIL",
    "PORTAL_FIRST_NUMBER_AT_LOGIN",
    "PORTAL_RESEND_COOLDOWN_SECONDS",
    "PORTAL_REMEMBER_DEVICE_DAYS",
    "PORTAL_PASSKEYS",
    "PORTAL_RECENT_PROOF_MINUTES",
    "PORTAL_NAME_IN_TEXTS",
    "PORTAL_LIMIT_SENDS_PER_DAY",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}={value:?} is not valid: expected {expected}")]
    Invalid {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(
        "the console SMS provider shows codes in the log and at /dev/sms, so it cannot run on an \
         https PORTAL_PUBLIC_URL; set PORTAL_SMS_PROVIDER to a real provider"
    )]
    ConsoleOverHttps,
    #[error(
        "the console SMS provider shows codes in the log and at /dev/sms, so it runs only on a \
         loopback PORTAL_PUBLIC_URL (such as http://127.0.0.1:3000), not on {0}; set \
         PORTAL_SMS_PROVIDER to a real provider, or PORTAL_DEV_OUTBOX=on for a test machine \
         nobody else can reach"
    )]
    ConsoleNotLoopback(String),
    #[error(
        "PORTAL_SECRET_KEY must be set when the database is PostgreSQL: every instance sharing \
         the database must use the same key, so none may make up its own key file"
    )]
    SharedSecretNeeded,
    #[error("PORTAL_SMS_PROVIDER={provider} needs {needs}")]
    Missing {
        provider: &'static str,
        needs: &'static str,
    },
}

/// Reads settings through `var`, so tests can hand in their own environment.
pub struct Vars<F: Fn(&str) -> Option<String>>(pub F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn text(&self, var: &str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn parsed<T>(
        &self,
        var: &'static str,
        default: T,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, ConfigError> {
        match self.text(var) {
            None => Ok(default),
            Some(value) => parse(&value).ok_or(ConfigError::Invalid {
                var,
                value,
                expected,
            }),
        }
    }

    fn seconds(&self, var: &'static str, default: i64) -> Result<i64, ConfigError> {
        self.parsed(var, default, "a whole number of seconds, at least 1", |v| {
            v.parse::<i64>().ok().filter(|s| *s >= 1)
        })
    }

    fn count(&self, var: &'static str, default: i64) -> Result<i64, ConfigError> {
        self.parsed(var, default, "a whole number, at least 1", |v| {
            v.parse::<i64>().ok().filter(|n| *n >= 1)
        })
    }

    fn switch(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        self.parsed(var, default, "on or off", |v| {
            match v.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => Some(true),
                "off" | "false" | "0" | "no" => Some(false),
                _ => None,
            }
        })
    }

    fn url(&self, var: &'static str, default: url::Url) -> Result<url::Url, ConfigError> {
        self.parsed(
            var,
            default,
            "an http:// or https:// URL such as https://portal.example.org",
            |v| {
                url::Url::parse(v)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            },
        )
    }
}

fn twilio<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
    settings: &Settings,
) -> Result<SmsProvider, ConfigError> {
    let missing = ConfigError::Missing {
        provider: "twilio",
        needs: "PORTAL_TWILIO_ACCOUNT_SID, PORTAL_TWILIO_AUTH_TOKEN and \
                PORTAL_TWILIO_FROM or PORTAL_TWILIO_MESSAGING_SERVICE_SID",
    };
    let sender = match (
        vars.text("PORTAL_TWILIO_FROM"),
        vars.text("PORTAL_TWILIO_MESSAGING_SERVICE_SID"),
    ) {
        (_, Some(service)) => TwilioSender::MessagingService(service),
        (Some(from), None) => TwilioSender::From(from),
        (None, None) => return Err(missing),
    };
    let (Some(account_sid), Some(auth_token)) = (
        vars.text("PORTAL_TWILIO_ACCOUNT_SID"),
        vars.text("PORTAL_TWILIO_AUTH_TOKEN"),
    ) else {
        return Err(missing);
    };
    let base_url = vars.parsed(
        "PORTAL_TWILIO_BASE_URL",
        "https://api.twilio.com".to_string(),
        "an http:// or https:// URL",
        |v| {
            url::Url::parse(v)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|_| v.trim_end_matches('/').to_string())
        },
    )?;
    Ok(SmsProvider::Twilio(TwilioConfig {
        base_url,
        account_sid,
        auth_token,
        sender,
        status_callback: Some(status_callback_url(settings)),
        request_timeout: app::sms::twilio::REQUEST_TIMEOUT,
    }))
}

fn webhook<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<SmsProvider, ConfigError> {
    let (Some(url), Some(secret)) = (
        vars.text("PORTAL_SMS_WEBHOOK_URL"),
        vars.text("PORTAL_SMS_WEBHOOK_SECRET"),
    ) else {
        return Err(ConfigError::Missing {
            provider: "webhook",
            needs: "PORTAL_SMS_WEBHOOK_URL and PORTAL_SMS_WEBHOOK_SECRET",
        });
    };
    if url::Url::parse(&url).is_err() {
        return Err(ConfigError::Invalid {
            var: "PORTAL_SMS_WEBHOOK_URL",
            value: url,
            expected: "an http:// or https:// URL",
        });
    }
    Ok(SmsProvider::Webhook { url, secret })
}

/// The providers texts go through, in order (`PORTAL_SMS_PROVIDERS=twilio,webhook`), or the one
/// `PORTAL_SMS_PROVIDER` names. Each keeps its own variables.
fn sms_providers<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
    settings: &Settings,
    dev_outbox: bool,
) -> Result<Vec<SmsProvider>, ConfigError> {
    const NAMES: [&str; 3] = ["console", "twilio", "webhook"];
    let one = vars.parsed(
        "PORTAL_SMS_PROVIDER",
        None,
        "console, twilio or webhook",
        |v| NAMES.into_iter().find(|p| *p == v).map(Some),
    )?;
    let list = vars.parsed(
        "PORTAL_SMS_PROVIDERS",
        None,
        "console, twilio or webhook, comma-separated in the order to try them, each once",
        |v| {
            let names: Vec<&'static str> = v
                .split(',')
                .map(|name| NAMES.into_iter().find(|p| *p == name.trim()))
                .collect::<Option<_>>()?;
            let unique = names
                .iter()
                .enumerate()
                .all(|(i, n)| !names[..i].contains(n));
            (unique && !names.is_empty()).then_some(Some(names))
        },
    )?;
    let names = match (list, one) {
        (Some(list), Some(one)) if list[0] != one => {
            return Err(ConfigError::Invalid {
                var: "PORTAL_SMS_PROVIDER",
                value: one.to_string(),
                expected: "the first of PORTAL_SMS_PROVIDERS, or unset",
            })
        }
        (Some(list), _) => list,
        (None, one) => vec![one.unwrap_or("console")],
    };
    names
        .into_iter()
        .map(|name| sms_provider(name, vars, settings, dev_outbox))
        .collect()
}

fn sms_provider<F: Fn(&str) -> Option<String>>(
    name: &str,
    vars: &Vars<F>,
    settings: &Settings,
    dev_outbox: bool,
) -> Result<SmsProvider, ConfigError> {
    match name {
        "twilio" => twilio(vars, settings),
        "webhook" => webhook(vars),
        _ if settings.secure_cookies() => Err(ConfigError::ConsoleOverHttps),
        _ if !dev_outbox => Err(ConfigError::ConsoleNotLoopback(
            settings.public_url.to_string(),
        )),
        _ => Ok(SmsProvider::Console),
    }
}

/// Where Twilio reports delivery: the portal's own `/sms/status`.
pub fn status_callback_url(settings: &Settings) -> String {
    format!(
        "{}/sms/status",
        settings.public_url.as_str().trim_end_matches('/')
    )
}

fn mail_provider<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<MailProvider, ConfigError> {
    let Some(url) = vars.text("PORTAL_SMTP_URL") else {
        return Ok(MailProvider::Console);
    };
    let from = vars.text("PORTAL_SMTP_FROM").ok_or(ConfigError::Missing {
        provider: "PORTAL_SMTP_URL",
        needs: "PORTAL_SMTP_FROM (the address emails come from)",
    })?;
    if !url.starts_with("smtp://") && !url.starts_with("smtps://") {
        return Err(ConfigError::Invalid {
            var: "PORTAL_SMTP_URL",
            value: url,
            expected: "smtp://host:port or smtps://user:password@host:port",
        });
    }
    Ok(MailProvider::Smtp { url, from })
}

fn limits<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Limits, ConfigError> {
    let defaults = Limits::default();
    Ok(Limits {
        login_failures_before_delay: vars.count(
            "PORTAL_LIMIT_LOGIN_FAILURES_BEFORE_DELAY",
            defaults.login_failures_before_delay,
        )?,
        login_delay_seconds: vars.seconds(
            "PORTAL_LIMIT_LOGIN_DELAY_SECONDS",
            defaults.login_delay_seconds,
        )?,
        login_delay_max_seconds: vars.seconds(
            "PORTAL_LIMIT_LOGIN_DELAY_MAX_SECONDS",
            defaults.login_delay_max_seconds,
        )?,
        // NIST SP 800-63B-4 allows no more than 100 failures before an account waits.
        login_failures_any_network: vars.parsed(
            "PORTAL_LIMIT_LOGIN_FAILURES_ANY_NETWORK",
            defaults.login_failures_any_network,
            "a whole number from 1 to 100",
            |v| v.parse::<i64>().ok().filter(|n| (1..=100).contains(n)),
        )?,
        failed_logins_per_ip_hour: vars.count(
            "PORTAL_LIMIT_FAILED_LOGINS_PER_IP_HOUR",
            defaults.failed_logins_per_ip_hour,
        )?,
        sends_per_account_hour: vars.count(
            "PORTAL_LIMIT_SENDS_PER_ACCOUNT_HOUR",
            defaults.sends_per_account_hour,
        )?,
        sends_per_number_day: vars.count(
            "PORTAL_LIMIT_SENDS_PER_NUMBER_DAY",
            defaults.sends_per_number_day,
        )?,
        sends_per_ip_hour: vars
            .count("PORTAL_LIMIT_SENDS_PER_IP_HOUR", defaults.sends_per_ip_hour)?,
        sign_in_codes_per_number_day: vars.count(
            "PORTAL_LIMIT_SIGN_IN_CODES_PER_NUMBER_DAY",
            defaults.sign_in_codes_per_number_day,
        )?,
        notices_per_number_day: vars.count(
            "PORTAL_LIMIT_NOTICES_PER_NUMBER_DAY",
            defaults.notices_per_number_day,
        )?,
        registrations_per_ip_hour: vars.count(
            "PORTAL_LIMIT_REGISTRATIONS_PER_IP_HOUR",
            defaults.registrations_per_ip_hour,
        )?,
        logins_per_account_hour: vars.count(
            "PORTAL_LIMIT_LOGINS_PER_ACCOUNT_HOUR",
            defaults.logins_per_account_hour,
        )?,
        logins_per_ip_hour: vars.count(
            "PORTAL_LIMIT_LOGINS_PER_IP_HOUR",
            defaults.logins_per_ip_hour,
        )?,
    })
}

fn region(code: &str) -> Option<country::Id> {
    code.trim().to_ascii_uppercase().parse().ok()
}

/// Where a person or a phone would write to the portal: numbers' regions.
fn regions<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
    defaults: &Settings,
) -> Result<(country::Id, Vec<country::Id>), ConfigError> {
    let default_region = vars.parsed(
        "PORTAL_DEFAULT_REGION",
        defaults.default_region,
        "a two-letter region code such as NZ",
        region,
    )?;
    let allowed_regions = vars.parsed(
        "PORTAL_ALLOWED_REGIONS",
        vec![default_region],
        "comma-separated region codes such as NZ,AU",
        |v| v.split(',').map(region).collect::<Option<Vec<_>>>(),
    )?;
    Ok((default_region, allowed_regions))
}

/// The practice settings' first values (after the first start, the database's).
fn practice<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<PracticeSettings, ConfigError> {
    let defaults = PracticeSettings::default();
    Ok(PracticeSettings {
        two_factor: vars.switch("PORTAL_TWO_FACTOR", defaults.two_factor)?,
        practice_name: vars
            .text("PORTAL_PRACTICE_NAME")
            .unwrap_or(defaults.practice_name),
        support_phone: vars
            .text("PORTAL_SUPPORT_PHONE")
            .unwrap_or(defaults.support_phone),
        support_email: vars
            .text("PORTAL_SUPPORT_EMAIL")
            .unwrap_or(defaults.support_email),
        first_number_at_login: vars.parsed(
            "PORTAL_FIRST_NUMBER_AT_LOGIN",
            defaults.first_number_at_login,
            "allow or support",
            |v| match v.to_ascii_lowercase().as_str() {
                "allow" => Some(FirstNumberAtLogin::Allow),
                "support" => Some(FirstNumberAtLogin::Support),
                _ => None,
            },
        )?,
        resend_cooldown_seconds: vars.parsed(
            "PORTAL_RESEND_COOLDOWN_SECONDS",
            defaults.resend_cooldown_seconds,
            "a whole number of seconds",
            |v| v.parse::<i64>().ok().filter(|s| (0..=600).contains(s)),
        )?,
        remember_device_days: vars.parsed(
            "PORTAL_REMEMBER_DEVICE_DAYS",
            defaults.remember_device_days,
            "a whole number of days from 0 to 90",
            |v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|d| (0..=app::devices::MOST_DAYS).contains(d))
            },
        )?,
        passkeys: vars.switch("PORTAL_PASSKEYS", defaults.passkeys)?,
        recent_proof_minutes: vars.parsed(
            "PORTAL_RECENT_PROOF_MINUTES",
            defaults.recent_proof_minutes,
            "a whole number of minutes from 1 to 60",
            |v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|m| (1..=app::portal::MOST_RECENT_PROOF_MINUTES).contains(m))
            },
        )?,
        name_in_texts: vars.parsed(
            "PORTAL_NAME_IN_TEXTS",
            defaults.name_in_texts,
            "at most 30 letters, digits, spaces and simple punctuation (GSM-7), without accents",
            |v| {
                let fits = v.chars().count() <= app::portal::NAME_IN_TEXTS_MOST
                    && v.chars().all(app::gsm7::fit_for_a_name);
                fits.then(|| v.trim().to_string())
            },
        )?,
        daily_text_budget: vars.parsed(
            "PORTAL_LIMIT_SENDS_PER_DAY",
            defaults.daily_text_budget,
            "a whole number of texts from 1 to 1000000",
            |v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|n| (1..=app::portal::MOST_DAILY_TEXT_BUDGET).contains(n))
            },
        )?,
        text_fraud_guard: defaults.text_fraud_guard,
        block_at_home: defaults.block_at_home,
        // Set in the practice settings.
        caregiver_access: defaults.caregiver_access,
        children_sign_in_age: defaults.children_sign_in_age,
        adult_caregiver_months: defaults.adult_caregiver_months,
        version: defaults.version,
    })
}

/// `PORTAL_AUDIT_HEADS_TO`: an HTTPS endpoint (plain HTTP only on this machine, for trying it),
/// or else a file's path.
fn heads_to(value: &str) -> Option<Option<app::portal::HeadsTo>> {
    use app::portal::HeadsTo;
    let value = value.trim();
    if value.is_empty() {
        return Some(None);
    }
    match url::Url::parse(value) {
        Ok(url) if url.scheme() == "https" => Some(Some(HeadsTo::Endpoint(url))),
        Ok(url) if url.scheme() == "http" => {
            let loopback = match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(name)) => name == "localhost",
                None => false,
            };
            loopback.then_some(Some(HeadsTo::Endpoint(url)))
        }
        Ok(url) if url.scheme() != "file" && url.scheme().len() > 1 => None,
        _ => Some(Some(HeadsTo::File(std::path::PathBuf::from(value)))),
    }
}

fn settings<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Settings, ConfigError> {
    let defaults = Settings::default();
    let (default_region, allowed_regions) = regions(vars, &defaults)?;
    Ok(Settings {
        practice: practice(vars)?,
        public_url: vars.url("PORTAL_PUBLIC_URL", defaults.public_url.clone())?,
        default_region,
        allowed_regions,
        otp_ttl_seconds: vars.seconds("PORTAL_OTP_TTL_SECONDS", defaults.otp_ttl_seconds)?,
        pending_seconds: defaults.pending_seconds,
        session_idle_seconds: vars
            .seconds("PORTAL_SESSION_IDLE_SECONDS", defaults.session_idle_seconds)?,
        session_absolute_seconds: defaults.session_absolute_seconds,
        staff_idle_seconds: vars
            .seconds("PORTAL_STAFF_IDLE_SECONDS", defaults.staff_idle_seconds)?,
        one_time_password_days: vars.count(
            "PORTAL_ONE_TIME_PASSWORD_DAYS",
            defaults.one_time_password_days,
        )?,
        audit_retention_days: vars
            .count("PORTAL_AUDIT_RETENTION_DAYS", defaults.audit_retention_days)?,
        audit_heads_to: vars.parsed(
            "PORTAL_AUDIT_HEADS_TO",
            None,
            "a file's path, or an https:// address",
            heads_to,
        )?,
        ipv6_prefix: vars.parsed(
            "PORTAL_IPV6_PREFIX",
            defaults.ipv6_prefix,
            "a prefix length from 32 to 128, such as 64",
            |v| v.parse::<u8>().ok().filter(|p| (32..=128).contains(p)),
        )?,
        password_queue: vars.count("PORTAL_PASSWORD_QUEUE", defaults.password_queue as i64)?
            as usize,
        sms_lease_seconds: vars.seconds("PORTAL_SMS_LEASE_SECONDS", defaults.sms_lease_seconds)?,
        sms_failover_wait_seconds: vars.seconds(
            "PORTAL_SMS_FAILOVER_WAIT_SECONDS",
            defaults.sms_failover_wait_seconds,
        )?,
        time_zone: vars.parsed(
            "PORTAL_TIME_ZONE",
            defaults.time_zone,
            "a time zone's name, such as Pacific/Auckland or Australia/Sydney",
            app::caregivers::time_zone_named,
        )?,
        limits: limits(vars)?,
    })
}

fn http_limits<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<HttpLimits, ConfigError> {
    let defaults = HttpLimits::default();
    let secs = |d: Duration| d.as_secs() as i64;
    Ok(HttpLimits {
        header_read_timeout: Duration::from_secs(vars.seconds(
            "PORTAL_HEADER_READ_TIMEOUT_SECONDS",
            secs(defaults.header_read_timeout),
        )? as u64),
        request_timeout: Duration::from_secs(vars.seconds(
            "PORTAL_REQUEST_TIMEOUT_SECONDS",
            secs(defaults.request_timeout),
        )? as u64),
        max_connections: vars.count("PORTAL_MAX_CONNECTIONS", defaults.max_connections as i64)?
            as usize,
        max_connections_per_client: vars.count(
            "PORTAL_MAX_CONNECTIONS_PER_IP",
            defaults.max_connections_per_client as i64,
        )? as usize,
        ipv6_prefix: defaults.ipv6_prefix,
        write_timeout: Duration::from_secs(
            vars.seconds("PORTAL_WRITE_TIMEOUT_SECONDS", secs(defaults.write_timeout))? as u64,
        ),
        shutdown_grace: Duration::from_secs(vars.seconds(
            "PORTAL_SHUTDOWN_GRACE_SECONDS",
            secs(defaults.shutdown_grace),
        )? as u64),
    })
}

fn trusted_proxies<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<Vec<IpNet>, ConfigError> {
    vars.parsed(
        "PORTAL_TRUSTED_PROXIES",
        Vec::new(),
        "comma-separated IP addresses or networks, such as 10.0.0.0/8,192.168.1.2",
        |v| {
            v.split(',')
                .map(|p| {
                    let p = p.trim();
                    p.parse::<IpNet>()
                        .ok()
                        .or_else(|| p.parse::<IpAddr>().ok().map(IpNet::from))
                })
                .collect::<Option<Vec<_>>>()
        },
    )
}

/// Whether the portal is only reachable from this machine: `localhost` or a loopback address.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(Vars(|name: &str| std::env::var(name).ok()))
    }

    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: Vars<F>) -> Result<Self, ConfigError> {
        let settings = settings(&vars)?;
        let dev_outbox =
            vars.switch("PORTAL_DEV_OUTBOX", false)? || is_loopback(&settings.public_url);
        let sms_providers = sms_providers(&vars, &settings, dev_outbox)?;
        let database_url = vars.parsed(
            "PORTAL_DATABASE_URL",
            "sqlite://data/portal.db".to_string(),
            "sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE",
            |v| app::store::Engine::of(v).map(|_| v.to_string()),
        )?;
        let secret_key = vars.text("PORTAL_SECRET_KEY");
        if app::store::Engine::of(&database_url) == Some(app::store::Engine::Postgres)
            && secret_key.is_none()
        {
            return Err(ConfigError::SharedSecretNeeded);
        }
        let defaults = app::store::StoreOptions::default();
        let database = app::store::StoreOptions {
            max_connections: vars.count(
                "PORTAL_DATABASE_MAX_CONNECTIONS",
                i64::from(defaults.max_connections),
            )? as u32,
            connect_timeout: Duration::from_secs(vars.seconds(
                "PORTAL_DATABASE_CONNECT_TIMEOUT_SECONDS",
                defaults.connect_timeout.as_secs() as i64,
            )? as u64),
        };
        Ok(Self {
            database_url,
            database,
            data_dir: vars
                .text("PORTAL_DATA_DIR")
                .unwrap_or_else(|| "data".into())
                .into(),
            secret_key,
            sms_providers,
            mail: mail_provider(&vars)?,
            dev_outbox,
            trusted_proxies: trusted_proxies(&vars)?,
            metrics_addr: vars.parsed(
                "PORTAL_METRICS_ADDR",
                None,
                "an address and port such as 127.0.0.1:9300",
                |v| v.parse().ok().map(Some),
            )?,
            metrics_token: vars.parsed(
                "PORTAL_METRICS_TOKEN",
                None,
                "at least 32 characters, with no spaces",
                |v| {
                    (v.chars().count() >= 32 && !v.chars().any(char::is_whitespace))
                        .then(|| Some(v.to_string()))
                },
            )?,
            http: HttpLimits {
                ipv6_prefix: settings.ipv6_prefix,
                ..http_limits(&vars)?
            },
            practice_variables: PRACTICE_VARIABLES
                .into_iter()
                .filter(|var| vars.text(var).is_some())
                .collect(),
            settings,
        })
    }

    /// What the operator should know at start-up about the practice settings `in_force`: each
    /// practice variable set to something else than the settings say (it is not applied), and,
    /// on a public origin, a practice with no support contact. One line each.
    pub fn start_up_notes(&self, in_force: &PracticeSettings) -> Vec<String> {
        let first = &self.settings.practice;
        let on_off = |on: bool| if on { "on" } else { "off" }.to_string();
        let rule = |rule: FirstNumberAtLogin| match rule {
            FirstNumberAtLogin::Allow => "allow".to_string(),
            FirstNumberAtLogin::Support => "support".to_string(),
        };
        let values = [
            (on_off(first.two_factor), on_off(in_force.two_factor)),
            (first.practice_name.clone(), in_force.practice_name.clone()),
            (first.support_phone.clone(), in_force.support_phone.clone()),
            (first.support_email.clone(), in_force.support_email.clone()),
            (
                rule(first.first_number_at_login),
                rule(in_force.first_number_at_login),
            ),
            (
                first.resend_cooldown_seconds.to_string(),
                in_force.resend_cooldown_seconds.to_string(),
            ),
            (
                first.remember_device_days.to_string(),
                in_force.remember_device_days.to_string(),
            ),
            (on_off(first.passkeys), on_off(in_force.passkeys)),
            (
                first.recent_proof_minutes.to_string(),
                in_force.recent_proof_minutes.to_string(),
            ),
            (first.name_in_texts.clone(), in_force.name_in_texts.clone()),
            (
                first.daily_text_budget.to_string(),
                in_force.daily_text_budget.to_string(),
            ),
        ];
        let mut notes: Vec<String> = PRACTICE_VARIABLES
            .into_iter()
            .zip(values)
            .filter(|(var, (set, applied))| self.practice_variables.contains(var) && set != applied)
            .map(|(var, (set, applied))| {
                format!(
                    "{var}={set:?} is not applied: the practice settings in the database say \
                     {applied:?}; change them under Practice settings (/staff/settings)"
                )
            })
            .collect();
        if let Some(addr) = self
            .metrics_addr
            .filter(|addr| !private_or_loopback(addr.ip()))
        {
            notes.push(format!(
                "PORTAL_METRICS_ADDR={addr} is not a loopback or private address: the metrics \
                 say how the practice's portal is used to whoever can reach them{}; bind it to \
                 127.0.0.1 or a private network",
                match self.metrics_token {
                    Some(_) => " and has the token",
                    None => ", with no PORTAL_METRICS_TOKEN",
                }
            ));
        }
        let no_contact = in_force.support_phone.is_empty() && in_force.support_email.is_empty();
        if no_contact && !is_loopback(&self.settings.public_url) {
            notes.push(
                "no support contact is set, so stuck patients are told only to contact the \
                 practice; set a phone or email under Practice settings (/staff/settings)"
                    .to_string(),
            );
        }
        notes
    }
}

/// Loopback, or a private network's: not reachable from the internet.
fn private_or_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(ip) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_heads_go_to_a_file_or_an_https_endpoint() {
        use app::portal::HeadsTo;
        let heads = |value: &str| {
            config(&[("PORTAL_AUDIT_HEADS_TO", value)]).map(|c| c.settings.audit_heads_to)
        };
        assert_eq!(
            heads("/mnt/elsewhere/audit-heads.txt").unwrap(),
            Some(HeadsTo::File("/mnt/elsewhere/audit-heads.txt".into()))
        );
        assert!(matches!(
            heads("https://logs.example.org/heads").unwrap(),
            Some(HeadsTo::Endpoint(_))
        ));
        assert!(matches!(
            heads("http://127.0.0.1:9400/heads").unwrap(),
            Some(HeadsTo::Endpoint(_))
        ));
        // A head sent in the clear across a network could be changed on its way.
        assert!(heads("http://logs.example.org/heads").is_err());
        assert!(heads("ftp://logs.example.org/heads").is_err());
        assert_eq!(config(&[]).unwrap().settings.audit_heads_to, None);
    }

    #[test]
    fn start_up_warns_of_metrics_on_a_public_address() {
        let in_force = app::portal::PracticeSettings {
            support_phone: "09 555 0123".into(),
            ..Default::default()
        };
        for (addr, warned) in [
            ("127.0.0.1:9300", false),
            ("10.1.2.3:9300", false),
            ("[fd00::1]:9300", false),
            ("0.0.0.0:9300", true),
            ("203.0.113.5:9300", true),
            ("[2001:db8::1]:9300", true),
        ] {
            let config = config(&[("PORTAL_METRICS_ADDR", addr)]).unwrap();
            let notes = config.start_up_notes(&in_force);
            assert_eq!(
                notes.iter().any(|n| n.contains("PORTAL_METRICS_ADDR")),
                warned,
                "{addr}: {notes:?}"
            );
        }
        assert!(config(&[("PORTAL_METRICS_TOKEN", "short")]).is_err());
        let config = config(&[("PORTAL_METRICS_TOKEN", &"t".repeat(32))]).unwrap();
        assert_eq!(config.metrics_token, Some("t".repeat(32)));
    }

    #[test]
    fn start_up_says_which_practice_variables_the_database_overrides() {
        let config = config(&[
            ("PORTAL_SUPPORT_PHONE", "09 555 0123"),
            ("PORTAL_PRACTICE_NAME", "Harbourside"),
        ])
        .unwrap();
        let in_force = PracticeSettings {
            practice_name: "Harbourside".into(),
            ..PracticeSettings::default()
        };
        let notes = config.start_up_notes(&in_force);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("PORTAL_SUPPORT_PHONE=\"09 555 0123\" is not applied"));
        assert!(notes[0].contains("say \"\"") && notes[0].contains("/staff/settings"));
        // Nothing to say when what was set is what applies.
        let applied = PracticeSettings {
            support_phone: "09 555 0123".into(),
            ..in_force
        };
        assert!(config.start_up_notes(&applied).is_empty());
    }

    #[test]
    fn start_up_on_a_public_origin_warns_of_a_practice_without_a_contact() {
        let public = config(&[
            ("PORTAL_PUBLIC_URL", "https://portal.example.org"),
            ("PORTAL_SMS_PROVIDER", "webhook"),
            ("PORTAL_SMS_WEBHOOK_URL", "https://sms.example.org/send"),
            (
                "PORTAL_SMS_WEBHOOK_SECRET",
                "a long shared secret for the webhook",
            ),
        ])
        .unwrap();
        let none = PracticeSettings::default();
        assert!(public.start_up_notes(&none)[0].starts_with("no support contact is set"));
        let email = PracticeSettings {
            support_email: "help@example.org".into(),
            ..none.clone()
        };
        assert!(public.start_up_notes(&email).is_empty());
        // A developer's own machine needs no contact.
        assert!(config(&[]).unwrap().start_up_notes(&none).is_empty());
    }

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(Vars(move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }))
    }

    #[test]
    fn texts_try_the_providers_in_the_order_listed_each_with_its_own_variables() {
        let both = [
            ("PORTAL_SMS_PROVIDERS", "twilio, webhook"),
            ("PORTAL_TWILIO_ACCOUNT_SID", "AC1"),
            ("PORTAL_TWILIO_AUTH_TOKEN", "token"),
            ("PORTAL_TWILIO_FROM", "+6498765432"),
            ("PORTAL_SMS_WEBHOOK_URL", "https://sms.example.org/send"),
            (
                "PORTAL_SMS_WEBHOOK_SECRET",
                "a long shared secret for the webhook",
            ),
            ("PORTAL_PUBLIC_URL", "https://portal.example.org"),
        ];
        let listed = config(&both).unwrap();
        let names: Vec<_> = listed.sms_providers.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["twilio", "webhook"]);
        // The one provider's variable may name the list's first, and nothing else.
        let mut agreeing = both.to_vec();
        agreeing.push(("PORTAL_SMS_PROVIDER", "twilio"));
        assert!(config(&agreeing).is_ok());
        let mut other = both.to_vec();
        other.push(("PORTAL_SMS_PROVIDER", "webhook"));
        assert!(matches!(config(&other), Err(ConfigError::Invalid { .. })));
        for list in ["twilio,twilio", "twilio,carrier-pigeon", ""] {
            let mut bad = both.to_vec();
            bad[0] = ("PORTAL_SMS_PROVIDERS", list);
            assert!(config(&bad).is_err(), "{list:?}");
        }
        // Each needs its own variables.
        let mut missing = both.to_vec();
        missing.retain(|(k, _)| !k.starts_with("PORTAL_SMS_WEBHOOK"));
        assert!(matches!(config(&missing), Err(ConfigError::Missing { .. })));
    }

    #[test]
    fn the_defaults_run_a_local_portal() {
        let config = config(&[]).unwrap();
        assert_eq!(config.database_url, "sqlite://data/portal.db");
        assert!(matches!(config.sms_providers[..], [SmsProvider::Console]));
        assert!(config.settings.practice.two_factor);
        assert_eq!(config.settings.default_region, country::Id::NZ);
        assert_eq!(config.settings.allowed_regions, vec![country::Id::NZ]);
        assert_eq!(config.settings.otp_ttl_seconds, 600);
        assert_eq!(config.settings.practice.resend_cooldown_seconds, 30);
    }

    #[test]
    fn the_allow_list_defaults_to_the_default_region() {
        let config = config(&[("PORTAL_DEFAULT_REGION", "au")]).unwrap();
        assert_eq!(config.settings.allowed_regions, vec![country::Id::AU]);
        let config = self::config(&[("PORTAL_ALLOWED_REGIONS", "NZ, AU")]).unwrap();
        assert_eq!(
            config.settings.allowed_regions,
            vec![country::Id::NZ, country::Id::AU]
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[("PORTAL_TWO_FACTOR", "maybe")]).unwrap_err();
        assert!(err.to_string().contains("PORTAL_TWO_FACTOR"));
        let err = config(&[("PORTAL_ALLOWED_REGIONS", "NZ,Narnia")]).unwrap_err();
        assert!(err.to_string().contains("PORTAL_ALLOWED_REGIONS"));
        assert!(config(&[("PORTAL_OTP_TTL_SECONDS", "0")]).is_err());
    }

    #[test]
    fn the_console_provider_refuses_an_https_portal() {
        let err = config(&[("PORTAL_PUBLIC_URL", "https://portal.example.org")]).unwrap_err();
        assert!(matches!(err, ConfigError::ConsoleOverHttps));
        let err = config(&[
            ("PORTAL_PUBLIC_URL", "https://portal.example.org"),
            ("PORTAL_DEV_OUTBOX", "on"),
        ])
        .unwrap_err();
        assert!(matches!(err, ConfigError::ConsoleOverHttps));
    }

    #[test]
    fn the_dev_outbox_runs_only_on_a_loopback_portal_or_when_asked_for() {
        for local in [
            "http://127.0.0.1:3000",
            "http://localhost:3000",
            "http://[::1]:3000",
        ] {
            let config = config(&[("PORTAL_PUBLIC_URL", local)]).unwrap();
            assert!(config.dev_outbox, "{local}");
            assert!(matches!(config.sms_providers[..], [SmsProvider::Console]));
        }
        let err = config(&[("PORTAL_PUBLIC_URL", "http://portal.example.org")]).unwrap_err();
        assert!(matches!(err, ConfigError::ConsoleNotLoopback(_)));
        assert!(err.to_string().contains("PORTAL_DEV_OUTBOX"), "{err}");
        let on_purpose = config(&[
            ("PORTAL_PUBLIC_URL", "http://10.1.2.3:3000"),
            ("PORTAL_DEV_OUTBOX", "on"),
        ])
        .unwrap();
        assert!(on_purpose.dev_outbox);
        let real = config(&[
            ("PORTAL_PUBLIC_URL", "http://portal.example.org"),
            ("PORTAL_SMS_PROVIDER", "webhook"),
            ("PORTAL_SMS_WEBHOOK_URL", "https://gateway.example.org/sms"),
            ("PORTAL_SMS_WEBHOOK_SECRET", "s"),
        ])
        .unwrap();
        assert!(!real.dev_outbox);
    }

    #[test]
    fn email_goes_through_smtp_when_configured() {
        assert_eq!(config(&[]).unwrap().mail, MailProvider::Console);
        let smtp = config(&[
            ("PORTAL_SMTP_URL", "smtps://user:pw@mail.example.org:465"),
            ("PORTAL_SMTP_FROM", "Harbour Health <portal@example.org>"),
        ])
        .unwrap();
        assert!(matches!(smtp.mail, MailProvider::Smtp { .. }));
        assert!(config(&[("PORTAL_SMTP_URL", "smtp://mail.example.org")]).is_err());
        assert!(config(&[
            ("PORTAL_SMTP_URL", "mail.example.org"),
            ("PORTAL_SMTP_FROM", "portal@example.org")
        ])
        .is_err());
    }

    #[test]
    fn postgres_needs_the_shared_secret_key() {
        let url = (
            "PORTAL_DATABASE_URL",
            "postgres://portal@db.internal/portal",
        );
        let err = config(&[url]).unwrap_err();
        assert!(matches!(err, ConfigError::SharedSecretNeeded));
        assert!(err.to_string().contains("PORTAL_SECRET_KEY"));
        let config = config(&[
            url,
            (
                "PORTAL_SECRET_KEY",
                "a shared secret key for every instance",
            ),
            ("PORTAL_DATABASE_MAX_CONNECTIONS", "20"),
        ])
        .unwrap();
        assert_eq!(config.database.max_connections, 20);
        assert!(self::config(&[("PORTAL_DATABASE_URL", "mysql://x")]).is_err());
    }

    #[test]
    fn the_security_review_settings_are_configurable() {
        let config = config(&[
            ("PORTAL_FIRST_NUMBER_AT_LOGIN", "support"),
            ("PORTAL_ONE_TIME_PASSWORD_DAYS", "3"),
            ("PORTAL_IPV6_PREFIX", "56"),
            ("PORTAL_PASSWORD_QUEUE", "8"),
            ("PORTAL_HEADER_READ_TIMEOUT_SECONDS", "2"),
            ("PORTAL_MAX_CONNECTIONS", "10"),
            ("PORTAL_MAX_CONNECTIONS_PER_IP", "3"),
            ("PORTAL_WRITE_TIMEOUT_SECONDS", "5"),
            ("PORTAL_LIMIT_LOGINS_PER_ACCOUNT_HOUR", "4"),
        ])
        .unwrap();
        let settings = &config.settings;
        assert_eq!(
            settings.practice.first_number_at_login,
            FirstNumberAtLogin::Support
        );
        assert_eq!(settings.one_time_password_days, 3);
        assert_eq!(settings.ipv6_prefix, 56);
        assert_eq!(settings.password_queue, 8);
        assert_eq!(settings.limits.logins_per_account_hour, 4);
        assert_eq!(config.http.header_read_timeout, Duration::from_secs(2));
        assert_eq!(config.http.max_connections, 10);
        assert_eq!(config.http.max_connections_per_client, 3);
        assert_eq!(config.http.write_timeout, Duration::from_secs(5));
        assert_eq!(config.http.ipv6_prefix, 56);
        assert!(self::config(&[("PORTAL_MAX_CONNECTIONS_PER_IP", "0")]).is_err());
        assert!(self::config(&[("PORTAL_FIRST_NUMBER_AT_LOGIN", "maybe")]).is_err());
        assert!(self::config(&[("PORTAL_IPV6_PREFIX", "8")]).is_err());
    }

    #[test]
    fn limits_are_configurable() {
        let config = config(&[
            ("PORTAL_LIMIT_FAILED_LOGINS_PER_IP_HOUR", "7"),
            ("PORTAL_LIMIT_LOGIN_DELAY_SECONDS", "5"),
            ("PORTAL_LIMIT_SIGN_IN_CODES_PER_NUMBER_DAY", "12"),
        ])
        .unwrap();
        assert_eq!(config.settings.limits.failed_logins_per_ip_hour, 7);
        assert_eq!(config.settings.limits.login_delay_seconds, 5);
        assert_eq!(config.settings.limits.sign_in_codes_per_number_day, 12);
        assert_eq!(config.settings.limits.login_failures_before_delay, 5);
        assert!(self::config(&[("PORTAL_LIMIT_FAILED_LOGINS_PER_IP_HOUR", "lots")]).is_err());
        assert_eq!(config.settings.limits.login_failures_any_network, 100);
        let ceiling = self::config(&[("PORTAL_LIMIT_LOGIN_FAILURES_ANY_NETWORK", "40")]).unwrap();
        assert_eq!(ceiling.settings.limits.login_failures_any_network, 40);
        assert!(self::config(&[("PORTAL_LIMIT_LOGIN_FAILURES_ANY_NETWORK", "101")]).is_err());
    }

    #[test]
    fn a_provider_missing_credentials_stops_the_start_with_what_it_needs() {
        let err = config(&[("PORTAL_SMS_PROVIDER", "twilio")]).unwrap_err();
        assert!(
            err.to_string().contains("PORTAL_TWILIO_AUTH_TOKEN"),
            "{err}"
        );
        let err = config(&[
            ("PORTAL_SMS_PROVIDER", "twilio"),
            ("PORTAL_TWILIO_ACCOUNT_SID", "AC1"),
            ("PORTAL_TWILIO_AUTH_TOKEN", "token"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("PORTAL_TWILIO_FROM"), "{err}");
        let err = config(&[("PORTAL_SMS_PROVIDER", "webhook")]).unwrap_err();
        assert!(
            err.to_string().contains("PORTAL_SMS_WEBHOOK_SECRET"),
            "{err}"
        );
        assert!(config(&[("PORTAL_SMS_PROVIDER", "carrier-pigeon")]).is_err());
    }

    #[test]
    fn twilio_is_configured_with_its_callback_on_the_public_url() {
        let config = config(&[
            ("PORTAL_SMS_PROVIDER", "twilio"),
            ("PORTAL_TWILIO_ACCOUNT_SID", "AC1"),
            ("PORTAL_TWILIO_AUTH_TOKEN", "token"),
            ("PORTAL_TWILIO_MESSAGING_SERVICE_SID", "MG1"),
            ("PORTAL_PUBLIC_URL", "https://portal.example.org"),
        ])
        .unwrap();
        let [SmsProvider::Twilio(twilio)] = &config.sms_providers[..] else {
            panic!("twilio expected");
        };
        assert_eq!(twilio.base_url, "https://api.twilio.com");
        assert!(matches!(twilio.sender, TwilioSender::MessagingService(ref s) if s == "MG1"));
        assert_eq!(
            twilio.status_callback.as_deref(),
            Some("https://portal.example.org/sms/status")
        );
    }

    #[test]
    fn trusted_proxies_take_addresses_and_networks() {
        let config = config(&[("PORTAL_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.2")]).unwrap();
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(self::config(&[("PORTAL_TRUSTED_PROXIES", "everyone")]).is_err());
    }

    #[test]
    fn two_factor_can_be_switched_off() {
        assert!(
            !config(&[("PORTAL_TWO_FACTOR", "off")])
                .unwrap()
                .settings
                .practice
                .two_factor
        );
    }
}
