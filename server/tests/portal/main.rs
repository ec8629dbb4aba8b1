//! The portal's HTTP tests, one module per feature, in one binary: each file linked on its own
//! cost a whole portal's link on 2 cores. Tests that need their process to themselves (the
//! metrics recorder, the global log subscriber) stay binaries of their own beside this one.

#[path = "../common/mod.rs"]
mod common;

mod abuse;
mod caregivers;
mod devices;
mod failover;
mod fraud_guard;
mod instances;
mod login_flow;
mod login_gate;
mod operations;
mod overview;
mod pages;
mod passkeys;
mod plain_forms;
mod profile_flow;
mod recovery;
mod registration_flow;
mod scale;
mod shutdown;
mod slow_clients;
mod sms_delivery;
mod staff_flow;
mod steady_pages;
mod texts;
