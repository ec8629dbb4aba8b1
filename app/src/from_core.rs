//! The core's results as the server functions answer them: each of `app`'s serde types from the
//! core's own type of the same name, field by field. Wiring only, for the server.

use portal_core as core;

use crate::{
    account::staff::StaffRole,
    error::{ErrorKind, PortalError},
    one_time_code::{CodeSent, Verified},
    patient::{
        caregivers::{ActingFor, Answered, CaredFor, Caregiver, OpenInvitation},
        confirm::ProofWays,
        login::LoggedIn,
        recovery::OtherWaysIn,
        registration::Registered,
        secure_account::LinkState,
        security::{
            AccountSecurity, ActivityLine, DeviceLine, PasskeyLine, PasskeysPart, SessionLine,
        },
        verification::TwoFactorStep,
    },
    staff::{
        audit_log::{AuditLogPage, AuditQuery},
        caregivers::{CareLine, CareRecord, ChosenCaregiver},
        enrolment::{Enrolled, EnrolmentDetails},
        overview::{BlockLine, Chart, CountryLine, Day, Figures, Overview, ProviderLine, Series},
        passkeys::OwnPasskeys,
        settings::{PracticeSettingsForm, SettingsSaved},
        support::{
            ActionDone, AuditItem, IdentityCheck, PatientFile, PatientRow, SearchResults,
            SupportAction, TextLine,
        },
        team::StaffListEntry,
        SignedInStaff,
    },
};

/// `From<core type> for app type`, for types with the same fields: each plain field is moved
/// (converted where its type differs), each list field converted item by item.
macro_rules! same_fields {
    ($from:ty => $to:ty { $($field:ident),* $(,)? } $(lists { $($list:ident),* $(,)? })?) => {
        impl From<$from> for $to {
            #[allow(clippy::useless_conversion)]
            fn from(from: $from) -> Self {
                Self {
                    $($field: from.$field.into(),)*
                    $($($list: from.$list.into_iter().map(Into::into).collect(),)*)?
                }
            }
        }
    };
}

same_fields!(core::one_time_code::CodeSent => CodeSent { mobile_ending, resend_in_seconds });
same_fields!(core::one_time_code::Verified => Verified { mobile_ending });
same_fields!(core::login::password::LoggedIn => LoggedIn { signed_in, code_sent, mobile_ending });
same_fields!(core::registration::Registered => Registered { signed_in, mobile_ending });
same_fields!(core::login::code::TwoFactorStep => TwoFactorStep {
    mobile_ending, needs_number, number_on_file, code_sent, resend_in_seconds, support_needed,
    choose_password_first, new_phone, remember_days, has_passkey, may_add_passkey, texts_delayed, cant_get_a_code,
});
same_fields!(core::confirm::ProofWays => ProofWays {
    proved, mobile_ending, code_sent, passkey, password, recovery_code, minutes,
});
same_fields!(core::security::PasskeyLine => PasskeyLine { id, name, added, last_used });
same_fields!(core::security::PasskeysPart => PasskeysPart {
    unavailable, may_change, default_name, after_a_recovery,
} lists { passkeys });
same_fields!(core::security::DeviceLine => DeviceLine {
    id, description, remembered, last_used, this_device,
});
same_fields!(core::security::SessionLine => SessionLine {
    reference, description, last_active, this_device, waiting_for_code,
});
same_fields!(core::security::ActivityLine => ActivityLine { at, what });
same_fields!(core::recovery::OtherWaysIn => OtherWaysIn { passkey, recovery_code });
same_fields!(core::secure_account::LinkState => LinkState { usable, contact });
same_fields!(core::security::AccountSecurity => AccountSecurity {
    passkeys, remember_days, recovery_code_made,
}
    lists { devices, sessions, activity, caregivers, invitations });
same_fields!(core::caregivers::CaredFor => CaredFor { grant, name, relationship, ends });
same_fields!(core::caregivers::Caregiver => Caregiver {
    grant, name, relationship, since, ends, usable, renewable,
});
same_fields!(core::caregivers::invitations::OpenInvitation => OpenInvitation {
    id, code, until, waiting_for_practice,
});
same_fields!(core::caregivers::invitations::Answered => Answered { accepted });
same_fields!(core::caregivers::ActingFor => ActingFor {
    grant, given_name, family_name, date_of_birth, email, mobile, mobile_verified,
});

same_fields!(core::staff::team::StaffListEntry => StaffListEntry {
    username, role, enrolled, disabled, last_sign_in, login_delayed,
});
same_fields!(core::staff::settings::PracticeSettingsForm => PracticeSettingsForm {
    two_factor, practice_name, support_phone, support_email, first_number_at_login,
    resend_cooldown_seconds, remember_device_days, passkeys, recent_proof_minutes, name_in_texts,
    name_in_texts_now, daily_text_budget, text_fraud_guard, block_at_home, caregiver_access,
    children_sign_in_age, adult_caregiver_months, version,
});
same_fields!(core::staff::caregivers::CareLine => CareLine {
    grant, reference, name, relationship, since, ends, usable,
});
same_fields!(core::staff::caregivers::ChosenCaregiver => ChosenCaregiver {
    reference, name, date_of_birth,
});
impl From<core::staff::caregivers::CareRecord> for CareRecord {
    fn from(from: core::staff::caregivers::CareRecord) -> Self {
        Self {
            reference: from.reference,
            name: from.name,
            signs_in: from.signs_in,
            caregivers: from.caregivers.into_iter().map(Into::into).collect(),
            cares_for: from.cares_for.into_iter().map(Into::into).collect(),
            chosen: from.chosen.map(Into::into),
            waiting: from.waiting,
            caregiver_access: from.caregiver_access,
            children_sign_in_age: from.children_sign_in_age,
        }
    }
}
same_fields!(core::staff::settings::SettingsSaved => SettingsSaved { changed, settings });
same_fields!(core::staff::enrolment::EnrolmentDetails => EnrolmentDetails {
    username, secret, qr_code,
});
same_fields!(core::staff::enrolment::Enrolled => Enrolled { recovery_codes });
same_fields!(core::staff::sign_in::SignedInStaff => SignedInStaff { username, role });
same_fields!(core::staff::passkeys::OwnPasskeys => OwnPasskeys {
    unavailable, passkeys, may_change, default_name,
});
same_fields!(core::staff::support::PatientRow => PatientRow {
    reference, given_name, family_name, date_of_birth, username, mobile,
});
same_fields!(core::staff::support::SearchResults => SearchResults { page, more } lists { patients });
same_fields!(core::staff::support::TextLine => TextLine {
    at, to, status, attempts, delivery, error, provider,
});
same_fields!(core::staff::support::AuditItem => AuditItem {
    at, event, outcome, ip, detail, patient, staff, request_id,
});
same_fields!(core::staff::support::PatientFile => PatientFile {
    reference, given_name, family_name, date_of_birth, username, mobile, mobile_verified,
    pending_mobile, has_email, delayed_until, must_change_password, sign_ins,
    remembered_devices, passkeys, recovery_code_made, held_since,
} lists { texts, audit });
same_fields!(core::staff::support::ActionDone => ActionDone { message, one_time_password });
same_fields!(core::staff::audit_log::AuditQuery => AuditQuery { from, to, event, patient, staff });
same_fields!(AuditQuery => core::staff::audit_log::AuditQuery { from, to, event, patient, staff });
same_fields!(core::staff::audit_log::AuditLogPage => AuditLogPage {
    newer, older, events, query,
} lists { items });
same_fields!(core::staff::overview::Day => Day { date, short });
same_fields!(core::staff::overview::Series => Series { name, values });
same_fields!(core::staff::overview::Chart => Chart { title, stacked } lists { series });
same_fields!(core::staff::overview::Figures => Figures {
    texts_settled, texts_accepted, median_to_provider_ms, median_to_phone_ms, codes_sent,
    codes_verified, text_budget, text_budget_used,
});
same_fields!(core::staff::overview::Overview => Overview { figures, alert_email, alert_email_confirmed } lists { days, charts, blocked, countries, providers });
same_fields!(core::staff::overview::BlockLine => BlockLine { kind, subject, until, enforced, counts });
same_fields!(core::staff::overview::CountryLine => CountryLine { country, codes, verified });
same_fields!(core::staff::overview::ProviderLine => ProviderLine { name, up, state, taken, failed });

impl From<SupportAction> for core::staff::support::SupportAction {
    fn from(action: SupportAction) -> Self {
        use core::staff::support::SupportAction as Core;
        match action {
            SupportAction::Unlock => Core::Unlock,
            SupportAction::ResetMobile => Core::ResetMobile,
            SupportAction::EndSessions => Core::EndSessions,
            SupportAction::OneTimePassword => Core::OneTimePassword,
            SupportAction::RemovePasskeys => Core::RemovePasskeys,
            SupportAction::LiftHold => Core::LiftHold,
        }
    }
}

impl From<IdentityCheck> for core::staff::support::IdentityCheck {
    fn from(check: IdentityCheck) -> Self {
        use core::staff::support::IdentityCheck as Core;
        match check {
            IdentityCheck::CalledBack => Core::CalledBack,
            IdentityCheck::InPerson => Core::InPerson,
            IdentityCheck::VideoCall => Core::VideoCall,
            IdentityCheck::Other => Core::Other,
        }
    }
}

impl From<core::staff::Role> for StaffRole {
    fn from(role: core::staff::Role) -> Self {
        match role {
            core::staff::Role::Support => StaffRole::Support,
            core::staff::Role::Admin => StaffRole::Admin,
        }
    }
}

impl From<StaffRole> for core::staff::Role {
    fn from(role: StaffRole) -> Self {
        match role {
            StaffRole::Support => core::staff::Role::Support,
            StaffRole::Admin => core::staff::Role::Admin,
        }
    }
}

/// The core's refusals, as every server function answers them: the one place they are mapped.
impl From<core::error::Error> for PortalError {
    fn from(err: core::error::Error) -> Self {
        use core::error::ErrorKind as Core;
        let error = match err.kind {
            Core::BadRequest => ErrorKind::BadRequest,
            Core::Invalid => ErrorKind::Invalid,
            Core::Unauthorized => ErrorKind::Unauthorized,
            Core::Forbidden => ErrorKind::Forbidden,
            Core::MustChoosePassword => ErrorKind::MustChoosePassword,
            Core::NotFound => ErrorKind::NotFound,
            Core::Conflict => ErrorKind::Conflict,
            Core::TooManyRequests => ErrorKind::TooManyRequests,
            Core::Unavailable => ErrorKind::Unavailable,
            Core::Internal => ErrorKind::Internal,
        };
        Self {
            error,
            message: err.message,
            fields: err.fields,
            retry_after_seconds: err.retry_after_seconds,
            reference: None,
        }
    }
}
