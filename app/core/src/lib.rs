//! The portal's rules, for the server only: the store (all SQL), the portal and its settings,
//! sessions and who is asking, accounts and mobile numbers, the audit log, remembered devices,
//! notices, the texts' outbox and providers, the clock, the limits, passwords, the server key
//! and mail. It compiles neither Leptos nor axum, so what it decides can be tested, and
//! reasoned about, without a request; `app` reaches it behind `ssr`.

pub mod account;
pub mod admin_alerts;
pub mod audit;
pub mod caller;
pub mod caregivers;
pub mod clock;
pub mod confirm;
pub mod demo_data;
pub mod devices;
pub mod email_confirmation;
pub mod error;
pub mod existing_patients;
pub mod fraud_guard;
pub mod gsm7;
pub mod hold;
pub mod limits;
pub mod login;
pub mod login_gate;
pub mod mail;
pub mod metrics;
pub mod mobile;
pub mod notify;
pub mod one_time_code;
pub mod passkeys;
pub mod password;
pub mod portal;
pub mod profile;
pub mod proof;
pub mod recovery;
pub mod registration;
pub mod secret;
pub mod secure_account;
pub mod security;
pub mod session;
pub mod sign_in;
pub mod sms;
pub mod staff;
pub mod store;
pub mod text_budget;
