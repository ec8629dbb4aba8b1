//! Patients' accounts as the rules read them: the account (`Patient`) and the state of its
//! mobile number (`MobileOnFile`), and the validating types every form shares (`Username`,
//! `PersonName`, `DateOfBirth`, `Email`).

use crate::store::AccountId;
use time::{macros::format_description, Date, OffsetDateTime};

use crate::{
    clock::{Millis, SECOND},
    portal::Portal,
    store::{AccountRow, StoreError},
};

/// The patient's mobile number as the portal knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MobileOnFile {
    None,
    /// On file but never proven: registered and not verified yet, imported, or a landline.
    Unverified(String),
    /// Proven by a code: the sign-in factor.
    Verified(String),
}

impl MobileOnFile {
    pub fn verified(&self) -> Option<&str> {
        match self {
            MobileOnFile::Verified(number) => Some(number),
            _ => None,
        }
    }

    /// Whatever number is on file, verified or not.
    pub fn on_file(&self) -> Option<&str> {
        match self {
            MobileOnFile::None => None,
            MobileOnFile::Unverified(number) | MobileOnFile::Verified(number) => Some(number),
        }
    }
}

/// Whether a patient may give a first number after their password (flow 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstNumber {
    /// They have had a number verified: only support can change that.
    No,
    /// They never had one verified: as the practice's setting says.
    NeverVerified,
    /// Support reset their number (a lost phone): yes, whatever the setting.
    ResetBySupport,
}

/// An account as the portal's rules read it. Deliberately not `Debug`: it holds the hash.
#[derive(Clone)]
pub struct Patient {
    pub id: AccountId,
    pub username: String,
    password_hash: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub email: Option<String>,
    pub mobile: MobileOnFile,
    /// When the number on file was verified, if it was.
    pub mobile_verified_at: Option<Millis>,
    /// A new number saved with "Save & Get Code"; the verified one stays the sign-in factor
    /// until this one is proven.
    pub pending_mobile: Option<String>,
    /// Whether they may give a first number after the password (flow 2.2).
    pub first_number: FirstNumber,
    /// Signed in with a one-time password from the practice, which must be replaced first.
    pub must_change_password: bool,
    pub password_expires_at: Option<Millis>,
    /// False for a record support added (a child): no way in at all, not even flow 2.2, until
    /// the practice sets its sign-in up.
    pub signs_in: bool,
}

impl From<AccountRow> for Patient {
    fn from(row: AccountRow) -> Self {
        let mobile = match (row.mobile, row.mobile_verified_at) {
            (None, _) => MobileOnFile::None,
            (Some(number), Some(_)) => MobileOnFile::Verified(number),
            (Some(number), None) => MobileOnFile::Unverified(number),
        };
        Self {
            id: row.id,
            username: row.username,
            password_hash: row.password_hash,
            given_name: row.given_name,
            family_name: row.family_name,
            date_of_birth: row.date_of_birth,
            email: row.email,
            mobile,
            mobile_verified_at: row.mobile_verified_at,
            pending_mobile: row.pending_mobile,
            first_number: match row.first_number_at_login {
                0 => FirstNumber::No,
                1 => FirstNumber::NeverVerified,
                _ => FirstNumber::ResetBySupport,
            },
            must_change_password: row.must_change_password,
            password_expires_at: row.password_expires_at,
            signs_in: row.signs_in,
        }
    }
}

impl Patient {
    /// The patient with account `id`, if it still exists.
    pub async fn load(portal: &Portal, id: AccountId) -> Result<Option<Patient>, StoreError> {
        Ok(portal.store.account(id).await?.map(Patient::from))
    }

    pub fn password_hash(&self) -> &str {
        &self.password_hash
    }

    /// A one-time password past its date no longer signs in.
    pub fn password_expired(&self, now: Millis) -> bool {
        self.password_expires_at.is_some_and(|at| now >= at)
    }
}

/// Usernames are case-insensitive; this is the form they are compared in.
pub fn username_key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// A username: 3 to 64 letters, digits, dots, dashes, underscores and @.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
        if value.is_empty() {
            return Err("Please choose a username.".into());
        }
        if !(3..=64).contains(&value.chars().count()) || !value.chars().all(allowed) {
            return Err(
                "Please use 3 to 64 letters or numbers; dots, dashes, underscores and @ are fine too."
                    .into(),
            );
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> String {
        username_key(&self.0)
    }
}

const MAX_NAME_CHARS: usize = 100;

/// A given or family name, as the patient writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// `what` names the field in the message: "given name", "family name".
    pub fn parse(value: &str, what: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("Please enter your {what}."));
        }
        if value.chars().count() > MAX_NAME_CHARS || value.chars().any(char::is_control) {
            return Err(format!(
                "Please enter your {what} using up to {MAX_NAME_CHARS} letters."
            ));
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A real date, in the past, within a human lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateOfBirth(Date);

impl DateOfBirth {
    pub fn parse(value: &str, today: Date) -> Result<Self, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err("Please enter your date of birth.".into());
        }
        let date = Date::parse(value, format_description!("[year]-[month]-[day]"))
            .map_err(|_| "Please enter a real date, for example 1950-07-31.".to_string())?;
        if date >= today {
            return Err("Your date of birth must be in the past.".into());
        }
        if date.year() < today.year() - 130 {
            return Err("Please check the year of your date of birth.".into());
        }
        Ok(Self(date))
    }
}

impl std::fmt::Display for DateOfBirth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An email address; optional wherever it is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// `None` for an empty field.
    pub fn parse_optional(value: Option<&str>) -> Result<Option<Self>, String> {
        let value = value.map(str::trim).unwrap_or_default();
        if value.is_empty() {
            return Ok(None);
        }
        if value.len() > 254 || !email_address::EmailAddress::is_valid(value) {
            return Err(
                "Please enter an email address like name@example.com, or leave it empty.".into(),
            );
        }
        Ok(Some(Self(value.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Today's date in UTC, by the portal's clock.
pub fn today(portal: &Portal) -> Date {
    OffsetDateTime::from_unix_timestamp(portal.now() / SECOND)
        .map(|t| t.date())
        .unwrap_or(Date::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_date_of_birth_must_be_real_and_past() {
        let today = date!(2026 - 11 - 27);
        let parse = |v| DateOfBirth::parse(v, today).map(|d| d.to_string());
        assert_eq!(parse("1950-07-31").as_deref(), Ok("1950-07-31"));
        for refused in [
            "2026-11-27",
            "2030-01-01",
            "1950-02-30",
            "31/07/1950",
            "1850-01-01",
            "",
        ] {
            assert!(parse(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn usernames_compare_without_case() {
        assert_eq!(username_key(" Margaret.Smith "), "margaret.smith");
        assert_eq!(
            Username::parse(" Margaret.Smith ").unwrap().key(),
            "margaret.smith"
        );
        assert!(Username::parse("margaret smith").is_err());
        assert!(Username::parse("ms").is_err());
        assert!(Username::parse("m.smith@example.org").is_ok());
    }

    #[test]
    fn names_are_needed_and_kept_to_a_sensible_length() {
        assert_eq!(
            PersonName::parse("  Mere ", "given name").unwrap().as_str(),
            "Mere"
        );
        assert_eq!(
            PersonName::parse("", "family name").unwrap_err(),
            "Please enter your family name."
        );
        assert!(PersonName::parse(&"a".repeat(101), "given name").is_err());
        assert!(PersonName::parse("tab\there", "given name").is_err());
    }

    #[test]
    fn email_is_optional_but_checked_when_given() {
        assert_eq!(Email::parse_optional(None), Ok(None));
        assert_eq!(Email::parse_optional(Some("  ")), Ok(None));
        assert!(Email::parse_optional(Some("not an email")).is_err());
        assert_eq!(
            Email::parse_optional(Some("pat@example.org"))
                .unwrap()
                .unwrap()
                .as_str(),
            "pat@example.org"
        );
    }

    #[test]
    fn the_mobile_on_file_is_verified_only_with_a_verification_date() {
        let row = |mobile: Option<&str>, verified_at: Option<i64>| AccountRow {
            id: AccountId(1),
            username: "u".into(),
            password_hash: "x".into(),
            given_name: "G".into(),
            family_name: "F".into(),
            date_of_birth: "1950-01-01".into(),
            email: None,
            mobile: mobile.map(str::to_string),
            mobile_verified_at: verified_at,
            pending_mobile: None,
            first_number_at_login: i64::from(verified_at.is_none()),
            must_change_password: false,
            password_expires_at: None,
            signs_in: true,
        };
        let number = "+64215550123";
        assert_eq!(Patient::from(row(None, None)).mobile, MobileOnFile::None);
        assert_eq!(
            Patient::from(row(Some(number), None)).mobile,
            MobileOnFile::Unverified(number.into())
        );
        let verified = Patient::from(row(Some(number), Some(5))).mobile;
        assert_eq!(verified.verified(), Some(number));
        assert_eq!(verified.on_file(), Some(number));
    }
}
