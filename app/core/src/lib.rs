//! The portal's rules, for the server only: the store (all SQL), the clock, the limits,
//! passwords, the server key and mail. It compiles neither Leptos nor axum, so what it decides
//! can be tested, and reasoned about, without a request; `app` reaches it behind `ssr`.

pub mod clock;
pub mod error;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod password;
pub mod secret;
pub mod store;
