//! One-time codes: texted to a number, checked when typed. The rules (`challenge`), sending
//! (`sending`, under `crate::limits::texts`) and what a code does for a new number
//! (`new_number`); what it does while logging in is `crate::login::code`. The server functions
//! that serve them, and the code entry the pages share, are in `app`'s `one_time_code`.

pub mod challenge;
pub mod new_number;
pub mod sending;

/// A code on its way: the number's last two digits, and how long until another may be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSent {
    pub mobile_ending: String,
    pub resend_in_seconds: u64,
}

/// A code that matched: the number it proved, by its last two digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub mobile_ending: String,
}
