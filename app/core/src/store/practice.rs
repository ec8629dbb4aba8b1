//! The practice's settings: one row, written by admins, read by every page. A save replaces the
//! row only if it is still the version the admin's form was filled from.

use super::{Store, StoreError};
use crate::clock::Millis;

/// What happens when a patient who never had a verified number gives one after their password
/// (flow 2.2): the password alone chooses their second factor there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstNumberAtLogin {
    /// They may give it, and the event is audited and emailed (the default).
    Allow,
    /// They must call the practice's support instead.
    Support,
}

/// What admins change from the practice settings page, applied at once. The environment gives
/// the first values; after that they live in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeSettings {
    /// The practice's switch: while on, nobody signs in without a verified mobile.
    pub two_factor: bool,
    pub practice_name: String,
    pub support_phone: String,
    pub support_email: String,
    pub first_number_at_login: FirstNumberAtLogin,
    pub resend_cooldown_seconds: i64,
    /// How many days a remembered device skips the code; 0: devices are not remembered.
    pub remember_device_days: i64,
    /// Whether patients may add passkeys and sign in with them.
    pub passkeys: bool,
    /// How recently a patient must have proved it's them (a code or a passkey) to change their
    /// number, email or passkeys.
    pub recent_proof_minutes: i64,
    /// The name every text begins with: at most 30 GSM-7 characters; empty, the practice name
    /// fitted to a text (`text_name`).
    pub name_in_texts: String,
    /// Texts to numbers not yet verified, and notices, over the last 24 hours: codes to numbers
    /// not yet verified stop at it (DESIGN's table of texts).
    pub daily_text_budget: i64,
    /// "Text fraud guard": off, watching, or blocking (`crate::fraud_guard`).
    pub text_fraud_guard: FraudGuard,
    /// "Block at home too": the guard blocks in the practice's own region as well.
    pub block_at_home: bool,
    /// "Caregiver access": off, no grant can be used or made (grants are kept, and their end
    /// dates keep running).
    pub caregiver_access: bool,
    /// "Children sign in for themselves from age": a parent's grant ends on that birthday.
    pub children_sign_in_age: i64,
    /// "Adult caregiver access (months)": how long an adult's grant lasts before it is renewed.
    pub adult_caregiver_months: i64,
    /// The stored version these were read at; a save must name it.
    pub version: i64,
}

impl Default for PracticeSettings {
    fn default() -> Self {
        Self {
            two_factor: true,
            practice_name: "Patient Portal".into(),
            // None until the practice gives one: patients are never shown a made-up contact.
            support_phone: String::new(),
            support_email: String::new(),
            first_number_at_login: FirstNumberAtLogin::Allow,
            resend_cooldown_seconds: 30,
            remember_device_days: 30,
            passkeys: true,
            recent_proof_minutes: 10,
            name_in_texts: String::new(),
            daily_text_budget: 5_000,
            text_fraud_guard: FraudGuard::Block,
            block_at_home: false,
            caregiver_access: true,
            children_sign_in_age: 14,
            adult_caregiver_months: 12,
            version: 0,
        }
    }
}

/// The longest "Name in texts".
pub const NAME_IN_TEXTS_MOST: usize = 30;

/// The largest "Daily text budget".
pub const MOST_DAILY_TEXT_BUDGET: i64 = 1_000_000;

impl PracticeSettings {
    /// The name every text begins with: the practice's "Name in texts", or else its name with
    /// accents and macrons dropped and cut to fit (the page header keeps the full name).
    pub fn text_name(&self) -> String {
        if !self.name_in_texts.is_empty() {
            return self.name_in_texts.clone();
        }
        match crate::gsm7::fit_name(&self.practice_name, NAME_IN_TEXTS_MOST) {
            fitted if fitted.is_empty() => "Patient Portal".into(),
            fitted => fitted,
        }
    }

    /// "contact the practice", with how when the practice has said: for the end of a sentence
    /// that sends a patient to support.
    pub fn contact_the_practice(&self) -> String {
        match (self.support_phone.is_empty(), self.support_email.is_empty()) {
            (true, true) => "contact the practice".into(),
            (false, true) => format!("contact the practice on {}", self.support_phone),
            (true, false) => format!("contact the practice at {}", self.support_email),
            (false, false) => format!(
                "contact the practice on {} or at {}",
                self.support_phone, self.support_email
            ),
        }
    }
}

/// What the text fraud guard does with what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FraudGuard {
    Off,
    /// Counts, logs and audits what it would block, and blocks nothing.
    Watch,
    Block,
}

impl FraudGuard {
    pub fn as_str(self) -> &'static str {
        match self {
            FraudGuard::Off => "off",
            FraudGuard::Watch => "watch",
            FraudGuard::Block => "block",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        [FraudGuard::Off, FraudGuard::Watch, FraudGuard::Block]
            .into_iter()
            .find(|g| g.as_str() == word)
    }
}

impl FirstNumberAtLogin {
    /// The rule's word in its column.
    fn column(self) -> &'static str {
        match self {
            FirstNumberAtLogin::Allow => "allow",
            FirstNumberAtLogin::Support => "support",
        }
    }

    fn from_column(word: &str) -> Self {
        match word {
            "support" => FirstNumberAtLogin::Support,
            _ => FirstNumberAtLogin::Allow,
        }
    }
}

/// What became of a save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PracticeSave {
    /// Saved, and in force; `replaced` is what it replaced, for the audit's "old → new".
    Saved { replaced: PracticeSettings },
    /// Someone saved first: nothing changed, and this is what is stored, and in force, now.
    ChangedMeanwhile { current: PracticeSettings },
}

#[derive(sqlx::FromRow)]
struct Row {
    two_factor: i64,
    practice_name: String,
    support_phone: String,
    support_email: String,
    first_number_at_login: String,
    resend_cooldown_seconds: i64,
    remember_device_days: i64,
    passkeys: i64,
    recent_proof_minutes: i64,
    name_in_texts: String,
    daily_text_budget: Option<i64>,
    text_fraud_guard: String,
    block_at_home: i64,
    caregiver_access: i64,
    children_sign_in_age: i64,
    adult_caregiver_months: i64,
    version: i64,
    two_factor_off_since: Option<i64>,
}

/// The settings as stored, and since when two-factor authentication has been off, while it is
/// (0: it started off).
struct Stored {
    settings: PracticeSettings,
    /// Whether the budget is stored, or still to be taken from the first values.
    budget_stored: bool,
    two_factor_off_since: Option<Millis>,
}

impl From<Row> for Stored {
    fn from(row: Row) -> Self {
        Self {
            budget_stored: row.daily_text_budget.is_some(),
            settings: PracticeSettings {
                two_factor: row.two_factor != 0,
                practice_name: row.practice_name,
                support_phone: row.support_phone,
                support_email: row.support_email,
                first_number_at_login: FirstNumberAtLogin::from_column(&row.first_number_at_login),
                resend_cooldown_seconds: row.resend_cooldown_seconds,
                remember_device_days: row.remember_device_days,
                passkeys: row.passkeys != 0,
                recent_proof_minutes: row.recent_proof_minutes,
                name_in_texts: row.name_in_texts,
                // Only before the first start that stores it (`practice_settings`).
                daily_text_budget: row
                    .daily_text_budget
                    .unwrap_or(PracticeSettings::default().daily_text_budget),
                text_fraud_guard: FraudGuard::parse(&row.text_fraud_guard)
                    .unwrap_or(FraudGuard::Block),
                block_at_home: row.block_at_home != 0,
                caregiver_access: row.caregiver_access != 0,
                children_sign_in_age: row.children_sign_in_age,
                adult_caregiver_months: row.adult_caregiver_months,
                version: row.version,
            },
            two_factor_off_since: row.two_factor_off_since,
        }
    }
}

/// Taken by a save of the settings and by a sign-in that relies on two-factor being off.
pub(super) const PRACTICE_SETTINGS_LOCK: &str = "practice settings";

const SELECT: &str = "SELECT two_factor, practice_name, support_phone, support_email, \
     first_number_at_login, resend_cooldown_seconds, remember_device_days, passkeys, \
     recent_proof_minutes, name_in_texts, daily_text_budget, text_fraud_guard, block_at_home, \
     caregiver_access, children_sign_in_age, adult_caregiver_months, version, \
     two_factor_off_since \
     FROM practice_settings WHERE id = 1";

impl Store {
    /// The stored settings; `first` are stored if there are none yet (the first start).
    pub async fn practice_settings(
        &self,
        first: &PracticeSettings,
        now: Millis,
    ) -> Result<PracticeSettings, StoreError> {
        if let Some(stored) = self.stored_practice_settings().await? {
            if !stored.budget_stored {
                // A database from before the budget was a setting: the environment's value
                // (PORTAL_LIMIT_SENDS_PER_DAY, as before) is its first.
                sqlx::query(
                    "UPDATE practice_settings SET daily_text_budget = $1 \
                     WHERE id = 1 AND daily_text_budget IS NULL",
                )
                .bind(first.daily_text_budget)
                .execute(&self.writer)
                .await?;
                return Ok(self
                    .stored_practice_settings()
                    .await?
                    .map_or_else(|| first.clone(), |stored| stored.settings));
            }
            return Ok(stored.settings);
        }
        let off_since = (!first.two_factor).then_some(0);
        sqlx::query(
            "INSERT INTO practice_settings (id, two_factor, practice_name, support_phone, \
             support_email, first_number_at_login, resend_cooldown_seconds, updated_at, version, \
             two_factor_off_since, remember_device_days, passkeys, recent_proof_minutes, \
             name_in_texts, daily_text_budget, text_fraud_guard, block_at_home, \
             caregiver_access, children_sign_in_age, adult_caregiver_months) \
             VALUES (1, $1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, $12, $13, $14, $15, \
             $16, $17, $18) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(i64::from(first.two_factor))
        .bind(&first.practice_name)
        .bind(&first.support_phone)
        .bind(&first.support_email)
        .bind(first.first_number_at_login.column())
        .bind(first.resend_cooldown_seconds)
        .bind(now)
        .bind(off_since)
        .bind(first.remember_device_days)
        .bind(i64::from(first.passkeys))
        .bind(first.recent_proof_minutes)
        .bind(&first.name_in_texts)
        .bind(first.daily_text_budget)
        .bind(first.text_fraud_guard.as_str())
        .bind(i64::from(first.block_at_home))
        .bind(i64::from(first.caregiver_access))
        .bind(first.children_sign_in_age)
        .bind(first.adult_caregiver_months)
        .execute(&self.writer)
        .await?;
        // Another instance may have stored its own first values at the same moment.
        Ok(self
            .stored_practice_settings()
            .await?
            .map_or_else(|| first.clone(), |stored| stored.settings))
    }

    async fn stored_practice_settings(&self) -> Result<Option<Stored>, StoreError> {
        Ok(sqlx::query_as::<_, Row>(SELECT)
            .fetch_optional(&self.writer)
            .await?
            .map(Stored::from))
    }

    /// Saves `settings` if the stored row is still at `settings.version`, in one step with what
    /// the save implies: when two-factor authentication is switched back on, the sessions begun
    /// while it was off (a password alone signed them in) end.
    pub async fn save_practice_settings(
        &self,
        settings: &PracticeSettings,
        now: Millis,
    ) -> Result<PracticeSave, StoreError> {
        let changed_meanwhile = |current: Option<Stored>| PracticeSave::ChangedMeanwhile {
            current: current.map_or_else(|| settings.clone(), |stored| stored.settings),
        };
        let Some(stored) = self.stored_practice_settings().await? else {
            return Ok(changed_meanwhile(None));
        };
        let replaced = &stored.settings;
        if replaced.version != settings.version {
            return Ok(changed_meanwhile(Some(stored)));
        }
        let off_since = match (replaced.two_factor, settings.two_factor) {
            (_, true) => None,
            (true, false) => Some(now),
            (false, false) => stored.two_factor_off_since,
        };
        let mut tx = self.writer.begin().await?;
        super::serialize(&mut tx, self.engine, vec![PRACTICE_SETTINGS_LOCK.into()]).await?;
        let updated = sqlx::query(
            "UPDATE practice_settings SET two_factor = $1, practice_name = $2, \
             support_phone = $3, support_email = $4, first_number_at_login = $5, \
             resend_cooldown_seconds = $6, updated_at = $7, two_factor_off_since = $8, \
             remember_device_days = $10, passkeys = $11, recent_proof_minutes = $12, \
             name_in_texts = $13, daily_text_budget = $14, text_fraud_guard = $15, \
             block_at_home = $16, caregiver_access = $17, children_sign_in_age = $18, \
             adult_caregiver_months = $19, version = version + 1 \
             WHERE id = 1 AND version = $9",
        )
        .bind(i64::from(settings.two_factor))
        .bind(&settings.practice_name)
        .bind(&settings.support_phone)
        .bind(&settings.support_email)
        .bind(settings.first_number_at_login.column())
        .bind(settings.resend_cooldown_seconds)
        .bind(now)
        .bind(off_since)
        .bind(settings.version)
        .bind(settings.remember_device_days)
        .bind(i64::from(settings.passkeys))
        .bind(settings.recent_proof_minutes)
        .bind(&settings.name_in_texts)
        .bind(settings.daily_text_budget)
        .bind(settings.text_fraud_guard.as_str())
        .bind(i64::from(settings.block_at_home))
        .bind(i64::from(settings.caregiver_access))
        .bind(settings.children_sign_in_age)
        .bind(settings.adult_caregiver_months)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(changed_meanwhile(self.stored_practice_settings().await?));
        }
        if settings.two_factor && !replaced.two_factor {
            sqlx::query("DELETE FROM sessions WHERE created_at >= $1")
                .bind(stored.two_factor_off_since.unwrap_or(0))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(PracticeSave::Saved {
            replaced: stored.settings,
        })
    }
}
