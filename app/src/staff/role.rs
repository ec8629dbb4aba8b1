//! What a staff member may do: support finds and helps patients; admins do that and run the
//! practice's settings, audit log and staff list.

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

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "support" => Some(StaffRole::Support),
            "admin" => Some(StaffRole::Admin),
            _ => None,
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: StaffRole) -> bool {
        self == StaffRole::Admin || needed == StaffRole::Support
    }
}

#[cfg(test)]
mod tests {
    use super::StaffRole::*;

    #[test]
    fn admins_may_do_everything_support_may_do_support() {
        assert!(Admin.allows(Admin) && Admin.allows(Support));
        assert!(Support.allows(Support) && !Support.allows(Admin));
    }
}
