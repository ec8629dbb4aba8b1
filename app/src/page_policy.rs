//! A page's Content-Security-Policy: scripts only from the portal itself or with the page's
//! nonce. The middleware sets the strict one on every answer; a rendered page replaces it with
//! one naming its own nonce (the hydration script's).

use leptos::{
    config::{Env, LeptosOptions},
    nonce::use_nonce,
    prelude::use_context,
};
use leptos_axum::ResponseOptions;

/// Where `cargo leptos watch` reloads the page from (a websocket), in a development build.
pub fn reload_source(options: &LeptosOptions) -> String {
    match options.env {
        Env::DEV => {
            format!(" ws://{}:{}", options.site_addr.ip(), options.reload_port)
        }
        Env::PROD => String::new(),
    }
}

/// A page's Content-Security-Policy: scripts only from the portal itself or with `nonce`.
pub fn for_nonce(nonce: &str, reload: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'{reload}; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

/// Scripts run only from the portal itself or with this page's nonce (the hydration script).
pub fn for_this_page(options: &LeptosOptions) {
    let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>()) else {
        // Seen once in a test run and not explained: the page then kept the middleware's strict
        // policy and never woke. Said in the log, so the next time shows when it happens.
        tracing::warn!("a page was rendered without its nonce: its scripts will not run");
        return;
    };
    let policy = for_nonce(&nonce.to_string(), &reload_source(options));
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}
