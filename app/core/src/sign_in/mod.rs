//! A patient's sign-in, as one state machine. A session starts at a stage and only moves up,
//! each step with a new ID:
//!
//! ```text
//! registered ─────────┐  (the new number's code)
//!                     ├──▶ signed_in
//! password_accepted ──┤  (a code to the verified number, or a passkey instead)
//!        │            │
//!        └─▶ recovery ┘  (a recovery code; then a new phone's code, or a new passkey)
//! ```
//!
//! The ways in (`WayIn`): the password (`crate::login::password`), then a texted code
//! (`crate::login::code`) or a passkey (`crate::passkeys`); a remembered device, or two-factor
//! authentication switched off, goes from the password straight to `signed_in`. What each stage
//! allows is `Stage::allows`; the requests' guards in `app` ask nothing else. This module
//! imports nothing, so the store can keep its stages (`store::kinds` maps them to their column).

/// Where a session stands. A pending session can send and verify codes and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Just registered: the number on the account is waiting to be verified.
    Registered,
    /// The password was right; a code is still needed.
    PasswordAccepted,
    /// The password and a saved recovery code were right (a lost phone): 30 minutes to set up
    /// a new phone, and nothing else.
    Recovery,
    SignedIn,
}

/// What a session may be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send and check the sign-in code (the 2FA page).
    CodeStep,
    /// A passkey in place of the code (only after a password: a new account's number must be
    /// verified).
    PasskeyInstead,
    /// Give a first number after the password (flow 2.2), if the account may.
    FirstNumber,
    /// "Use a recovery code" ("Can't get a code?"), after the password.
    RecoveryCode,
    /// Replace the practice's one-time password with one's own: signed in, or after support's
    /// reset before the new number (`crate::existing_patients::choose_password` says which).
    ChoosePassword,
    /// Add a passkey: signed in, or in a recovery session in place of a new phone.
    AddPasskey,
    /// Everything a signed-in patient does.
    SignedInPages,
}

/// How a sign-in got past the password, as the audit and the session's proof record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WayIn {
    /// A code texted to the verified (or first) number: proves it's the patient.
    Code,
    /// A passkey: proves it's the patient.
    Passkey,
    /// A device the patient asked to be remembered: the password alone was typed.
    RememberedDevice,
    /// The practice switched two-factor authentication off: the password alone.
    PasswordOnly,
}

impl WayIn {
    /// Whether this way in counts as recent proof (`crate::proof`).
    pub fn proves(self) -> bool {
        matches!(self, WayIn::Code | WayIn::Passkey)
    }
}

impl Stage {
    /// Waiting for a code: short-lived, and confined to the code step.
    pub fn is_pending(self) -> bool {
        self != Stage::SignedIn
    }

    /// What this stage allows: the whole table.
    pub fn allows(self, step: Step) -> bool {
        matches!(
            (self, step),
            (
                Stage::Registered | Stage::PasswordAccepted | Stage::Recovery,
                Step::CodeStep
            ) | (
                Stage::PasswordAccepted,
                Step::PasskeyInstead
                    | Step::FirstNumber
                    | Step::ChoosePassword
                    | Step::RecoveryCode
            ) | (Stage::Recovery, Step::FirstNumber | Step::AddPasskey)
                | (
                    Stage::SignedIn,
                    Step::SignedInPages | Step::ChoosePassword | Step::AddPasskey
                )
        )
    }

    /// The page a browser at this stage goes to.
    pub fn page(self) -> &'static str {
        match self.is_pending() {
            true => "/verify",
            false => "/",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGES: [Stage; 4] = [
        Stage::Registered,
        Stage::PasswordAccepted,
        Stage::Recovery,
        Stage::SignedIn,
    ];

    #[test]
    fn each_stage_is_stored_and_read_back_as_itself() {
        for stage in STAGES {
            assert_eq!(Stage::parse(stage.as_str()), Some(stage));
        }
        assert_eq!(Stage::parse("signed-in"), None);
    }

    #[test]
    fn a_pending_session_may_do_the_code_step_and_nothing_a_signed_in_one_may() {
        for stage in STAGES {
            assert_eq!(stage.allows(Step::CodeStep), stage.is_pending());
            assert_eq!(stage.allows(Step::SignedInPages), !stage.is_pending());
        }
        // A new account's number must be verified by its code: no passkey, no other number.
        assert!(!Stage::Registered.allows(Step::PasskeyInstead));
        assert!(!Stage::Registered.allows(Step::FirstNumber));
        assert!(Stage::PasswordAccepted.allows(Step::PasskeyInstead));
        assert!(!Stage::SignedIn.allows(Step::PasskeyInstead));
        // A new account has no one-time password to replace.
        assert!(!Stage::Registered.allows(Step::ChoosePassword));
        // A recovery session sets up a new phone and does nothing else: no passkey in place
        // of the code, no other recovery code, no password.
        for step in [
            Step::PasskeyInstead,
            Step::RecoveryCode,
            Step::ChoosePassword,
            Step::SignedInPages,
        ] {
            assert!(!Stage::Recovery.allows(step), "{step:?}");
        }
        assert!(Stage::Recovery.allows(Step::FirstNumber));
        // A passkey may stand in for the new phone, but not for a code after a password.
        assert!(Stage::Recovery.allows(Step::AddPasskey));
        assert!(Stage::SignedIn.allows(Step::AddPasskey));
        assert!(!Stage::PasswordAccepted.allows(Step::AddPasskey));
        assert!(!Stage::Registered.allows(Step::AddPasskey));
        assert!(!Stage::Registered.allows(Step::RecoveryCode));
        assert!(!Stage::SignedIn.allows(Step::RecoveryCode));
    }

    #[test]
    fn only_a_code_or_a_passkey_proves_its_the_patient() {
        assert!(WayIn::Code.proves() && WayIn::Passkey.proves());
        assert!(!WayIn::RememberedDevice.proves() && !WayIn::PasswordOnly.proves());
    }
}
