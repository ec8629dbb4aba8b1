//! A staff member's role as the pages see it (`/api/staff/me`). What each role may do, and the
//! staff member as the rules read them, are the core's (`portal_core::staff`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    Support,
    Admin,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Support => "support",
            StaffRole::Admin => "admin",
        }
    }
}
