//! The practice's side: staff sign in at `/staff/login` with a password and an authenticator
//! code; support finds patients and helps the stuck ones; admins run the practice settings, the
//! audit log, the staff list and the overview of the last 30 days. Every staff server function
//! is checked against the role matrix in `request::staff`. Staff accounts and what each role may
//! do are the core's (`portal_core::staff`).

pub mod audit_log;
pub mod caregivers;
pub mod enrolment;
mod layout;
pub mod overview;
pub mod passkeys;
pub mod settings;
pub mod sign_in;
pub mod support;
pub mod team;

pub use crate::account::staff::StaffRole;
pub use layout::StaffLayout;
#[cfg(feature = "ssr")]
pub use portal_core::staff::{accounts, Role, StaffMember};

use serde::{Deserialize, Serialize};

/// The signed-in staff member, as the pages see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInStaff {
    pub username: String,
    pub role: StaffRole,
}
