//! Staff members as the rules read them, and what each role may do: support finds and helps
//! patients; admins do that and run the practice's settings, audit log and staff list. Making
//! accounts, authenticators and recovery codes are in `accounts`.

pub mod accounts;
pub mod alerts;
pub mod audit_log;
pub mod caregivers;
pub mod enrolment;
pub mod overview;
pub mod passkeys;
pub mod settings;
pub mod sign_in;
pub mod support;
pub mod team;

use crate::store::StaffId;
use crate::{caller::Caller, clock::Millis, session::staff::StaffSession, store::StaffRow};

pub use crate::store::kinds::Role;

impl Role {
    /// The role in a sentence: "sam is support staff now", "ada is an admin now".
    pub fn described(self) -> &'static str {
        match self {
            Role::Support => "support staff",
            Role::Admin => "an admin",
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self == Role::Admin || needed == Role::Support
    }
}

/// A staff member as the rules read them. Deliberately not `Debug`: it holds the hash.
#[derive(Clone)]
pub struct StaffMember {
    pub id: StaffId,
    pub username: String,
    pub role: Role,
    password_hash: Option<String>,
    totp_secret: Option<String>,
    pub enrolled: bool,
    pub disabled: bool,
    pub last_sign_in_at: Option<Millis>,
}

impl StaffMember {
    pub fn from_row(row: StaffRow) -> Self {
        Self {
            id: row.id,
            role: row.role,
            username: row.username,
            enrolled: row.enrolled_at.is_some(),
            disabled: row.disabled_at.is_some(),
            password_hash: row.password_hash,
            totp_secret: row.totp_secret,
            last_sign_in_at: row.last_sign_in_at,
        }
    }

    pub fn password_hash(&self) -> Option<&str> {
        self.password_hash.as_deref()
    }

    /// The authenticator secret, sealed under the server key.
    pub fn sealed_totp_secret(&self) -> Option<&str> {
        self.totp_secret.as_deref()
    }

    /// May sign in: enrolled and not disabled.
    pub fn active(&self) -> bool {
        self.enrolled && !self.disabled
    }
}

/// A time for staff pages: UTC, to the minute.
pub fn when(millis: crate::clock::Millis) -> String {
    time::OffsetDateTime::from_unix_timestamp(millis / 1000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// A reason typed by the staff member for an action: required, and kept to a sensible length.
pub fn reason(typed: &str) -> Result<String, crate::error::Error> {
    let reason = typed.trim();
    if reason.is_empty() {
        return Err(crate::error::Error::field(
            "reason",
            "Please say why: the reason goes into the audit log.",
        ));
    }
    if reason.chars().count() > 500 || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(crate::error::Error::field(
            "reason",
            "Please keep the reason to 500 characters of text.",
        ));
    }
    Ok(reason.to_string())
}

/// A signed-in staff member making a request.
pub struct StaffVisit {
    pub caller: Caller,
    pub session: StaffSession,
    pub member: StaffMember,
}

#[cfg(test)]
mod tests {
    use super::Role::*;

    #[test]
    fn admins_may_do_everything_support_may_do_support() {
        assert!(Admin.allows(Admin) && Admin.allows(Support));
        assert!(Support.allows(Support) && !Support.allows(Admin));
    }

    #[test]
    fn roles_read_as_a_sentence_would_have_them() {
        assert_eq!(
            format!("ada is {} now", Admin.described()),
            "ada is an admin now"
        );
        assert_eq!(Support.described(), "support staff");
    }
}
