//! The kinds the store keeps as text, each mapped to its column in one place: written with
//! `as_str`, read back through `TryFrom<String>` (sqlx's `Any` driver can't derive an enum's
//! decoding), so a value no kind has is an error at the store's edge and never a string handed
//! upward. What each kind means and allows is its own module's: a session's stage is
//! `crate::sign_in`'s, a role's rights `crate::staff`'s, a code's purpose `crate::one_time_code`'s.
//!
//! The audit trail's event and outcome are the exception, and stay text when read back: an
//! insider's edit may put any value in a line, and the log must still show that line and
//! `server audit verify` still name it, not fail to read it.

use crate::sign_in::Stage;

/// A column holding a value its kind doesn't have.
#[derive(Debug, thiserror::Error)]
#[error("{column} holds {value:?}, which is no value it may have")]
pub struct UnknownValue {
    column: &'static str,
    value: String,
}

/// `as_str`, `parse` and `TryFrom<String>` for a kind, from one table of its values.
macro_rules! column_text {
    ($kind:ty, $column:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl $kind {
            /// As its column holds it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl TryFrom<String> for $kind {
            type Error = UnknownValue;

            fn try_from(value: String) -> Result<Self, UnknownValue> {
                Self::parse(&value).ok_or(UnknownValue {
                    column: $column,
                    value,
                })
            }
        }
    };
}

column_text!(Stage, "sessions.stage" {
    Registered = "registered",
    PasswordAccepted = "password_accepted",
    Recovery = "recovery",
    SignedIn = "signed_in",
});

/// A staff member's role. What each may do is `crate::staff`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Support,
    Admin,
}

column_text!(Role, "staff.role" { Support = "support", Admin = "admin" });

/// What a one-time code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    /// The 2FA step of registration or login.
    SignIn,
    /// Proving a new number saved with "Save & Get Code".
    NewNumber,
    /// A signed-in patient confirming it's them before a change.
    StepUp,
    /// A recovery session's new phone, in place of a lost one.
    NewPhone,
}

column_text!(CodePurpose, "challenges.purpose" {
    SignIn = "sign_in",
    NewNumber = "new_number",
    StepUp = "step_up",
    NewPhone = "new_phone",
});

/// What a passkey ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyPurpose {
    Register,
    /// A staff member adding a passkey of their own.
    StaffRegister,
    /// A staff member's passkey, after their password, in place of the authenticator code.
    StaffSignIn,
    /// A discoverable passkey at `/login`: the account is whichever the passkey names.
    SignIn,
    /// After a password, in place of the code: only that account's passkeys.
    Instead,
    /// Signed in, to confirm it's them before a change: only that account's passkeys.
    Confirm,
}

column_text!(CeremonyPurpose, "passkey_ceremonies.purpose" {
    Register = "register",
    StaffRegister = "staff_register",
    StaffSignIn = "staff_sign_in",
    SignIn = "sign_in",
    Instead = "instead",
    Confirm = "confirm",
});

/// Where a text stands in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// An instance holds its lease and is sending it.
    Sending,
    /// The provider accepted it.
    Sent,
    /// Given up on: refused for good, or past its time.
    Failed,
}

column_text!(TextStatus, "sms_outbox.status" {
    Pending = "pending",
    Sending = "sending",
    Sent = "sent",
    Failed = "failed",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_what_it_wrote_and_refuses_the_rest() {
        for stage in [
            Stage::Registered,
            Stage::PasswordAccepted,
            Stage::Recovery,
            Stage::SignedIn,
        ] {
            assert_eq!(Stage::try_from(stage.as_str().to_string()).unwrap(), stage);
        }
        for role in [Role::Support, Role::Admin] {
            assert_eq!(Role::try_from(role.as_str().to_string()).unwrap(), role);
        }
        for purpose in [
            CodePurpose::SignIn,
            CodePurpose::NewNumber,
            CodePurpose::StepUp,
            CodePurpose::NewPhone,
        ] {
            assert_eq!(
                CodePurpose::try_from(purpose.as_str().to_string()).unwrap(),
                purpose
            );
        }
        let status = [
            TextStatus::Pending,
            TextStatus::Sending,
            TextStatus::Sent,
            TextStatus::Failed,
        ];
        for status in status {
            assert_eq!(
                TextStatus::try_from(status.as_str().to_string()).unwrap(),
                status
            );
        }
        let wrong = Role::try_from("owner".to_string()).unwrap_err();
        assert_eq!(
            wrong.to_string(),
            r#"staff.role holds "owner", which is no value it may have"#
        );
        assert!(CeremonyPurpose::try_from("Register".to_string()).is_err());
    }
}

/// How a caregiver is related to the patient they act for. What each allows is
/// `crate::caregivers`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relationship {
    /// A parent or guardian of a child: ends on the practice's age.
    Parent,
    /// An adult the patient invited: ends after the practice's months unless renewed.
    Adult,
    /// An enduring power of attorney or a guardianship order, noted by support.
    LegalAuthority,
}

column_text!(Relationship, "caregiver_grants.relationship" {
    Parent = "parent",
    Adult = "adult",
    LegalAuthority = "legal_authority",
});

/// Who or what ended a caregiver's grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantEnded {
    /// The patient chose "Remove".
    ByPatient,
    /// The caregiver chose "Stop caring for".
    ByCaregiver,
    /// Support's "Remove caregiver".
    ByPractice,
    /// An adult's grant reached its end date.
    EndDate,
    /// A child reached the age they sign in for themselves from.
    Age,
}

column_text!(GrantEnded, "caregiver_grants.ended_by" {
    ByPatient = "patient",
    ByCaregiver = "caregiver",
    ByPractice = "practice",
    EndDate = "end_date",
    Age = "age",
});
