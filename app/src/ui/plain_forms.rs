//! Forms before the app has loaded, or with scripts off. Every form then posts as plain HTML. A
//! refused plain post comes back to its page with the error beside its fields and what was typed
//! still in them (only the fields each form lists, never a secret). Both travel in a short-lived sealed cookie that the page
//! reads once, rather than in the address, where they would stay in the history.

use std::sync::Arc;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A refused plain post, for the page it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// The path of the page the form was on.
    pub page: String,
    /// The server function's path, so that its action shows the error.
    pub action: String,
    /// The error, encoded as server functions encode it.
    pub error: String,
    /// What was typed, by field name: only the form's listed fields, never a secret.
    pub typed: Vec<(String, String)>,
    /// When it was refused, so that an old cookie is never shown again.
    pub at: i64,
}

/// What the patient typed into a refused form, for [`crate::ui::Field`] to put back.
#[derive(Debug, Clone, Default)]
pub struct Typed(Arc<Vec<(String, String)>>);

impl Typed {
    pub fn value(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.clone())
    }
}

/// The typed value of field `name`, if this page comes back from a refused plain post.
pub fn typed_value(name: &str) -> Option<String> {
    use_context::<Typed>().and_then(|typed| typed.value(name))
}

/// Gives the page a refused plain post's error (through the server action of the function that
/// refused it) and its typed values, read on the server. Islands carry them to the browser in
/// their `PageContext`.
pub fn provide() {
    #[cfg(feature = "ssr")]
    if let Some(refused) = ssr::take() {
        provide_refused(refused);
    }
}

/// Gives the error to the server action of the function that refused the post, and the typed
/// values to the fields. The refusal itself is kept too, for islands to carry to the browser.
pub fn provide_refused(refused: Refused) {
    provide_context(leptos::server::ServerActionError::new(
        &refused.action,
        &refused.error,
    ));
    provide_context(Typed(Arc::new(refused.typed.clone())));
    provide_context(refused);
}

/// The error of a refused plain post from one of `actions` (server functions' paths), for a page
/// rendered only on the server that shows it beside its form.
pub fn refused_error(actions: &[&str]) -> Option<crate::error::PortalError> {
    #[cfg(feature = "ssr")]
    {
        use base64::{engine::general_purpose::URL_SAFE, Engine};
        let refused = use_context::<Refused>()?;
        if !actions.contains(&refused.action.as_str()) {
            return None;
        }
        // Kept as the framework puts it in an address (`back_to`): base64 of the JSON.
        let json = URL_SAFE.decode(&refused.error).ok()?;
        serde_json::from_slice(&json).ok()
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = actions;
        None
    }
}

/// True once the app runs in the browser. Controls that only scripts can bring back to life
/// (a button disabled while a countdown runs) stay usable in the plain page.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::session::cookie::CookieKind;
    use axum::http::{header, request::Parts};

    use super::Refused;
    use crate::clock::MINUTE;
    use crate::portal::Portal;

    /// Long enough to follow the redirect on a slow connection.
    const KEPT_FOR: i64 = 2 * MINUTE;
    /// A value longer than any field takes is not kept.
    const LONGEST_VALUE: usize = 500;
    /// Browsers keep cookies up to 4 KB; past this the typed values are left out.
    const LARGEST_COOKIE: usize = 3800;
    const SEALED_AS: &str = "portal refused form v1";

    /// The refused form's cookie.
    const REFUSED_FORM: CookieKind =
        CookieKind::new("portal_form", "__Host-portal_form").kept_for(KEPT_FOR);

    /// The fields each form may keep, by its server function's path: what a patient or staff
    /// member would have to type again, never a secret (a password, a code, a recovery code, an
    /// enrolment token). A form not listed keeps nothing. (Paths, not the functions' types: `ui`
    /// imports no wing; `server/tests/portal/plain_forms.rs` checks each path is a function's.)
    pub const KEPT_FIELDS: &[(&str, &[&str])] = &[
        (
            "/api/register",
            &[
                "username",
                "given_name",
                "family_name",
                "date_of_birth",
                "mobile",
                "email",
            ],
        ),
        ("/api/login", &["username"]),
        ("/api/staff/login", &["username"]),
        ("/api/send_code", &["mobile"]),
        ("/api/change_mobile", &["mobile"]),
        ("/api/update_email", &["email"]),
        (
            "/api/staff/save_settings",
            &[
                "two_factor",
                "practice_name",
                "support_phone",
                "support_email",
                "first_number_at_login",
                "resend_cooldown_seconds",
                "remember_device_days",
                "passkeys",
                "passkeys_shown",
                "recent_proof_minutes",
                "name_in_texts",
                "daily_text_budget",
                "text_fraud_guard",
                "block_at_home",
                "block_at_home_shown",
                "caregiver_access",
                "caregiver_access_shown",
                "children_sign_in_age",
                "adult_caregiver_months",
            ],
        ),
        (
            "/api/staff/audit_log",
            &["from", "to", "event", "patient", "staff"],
        ),
        ("/api/staff/search_patients", &["query"]),
        ("/api/staff/alert_email", &["email"]),
        ("/api/staff/support_action", &["reason"]),
        (
            "/api/staff/add_child",
            &["given_name", "family_name", "date_of_birth", "reason"],
        ),
        ("/api/staff/add_caregiver", &["document", "reason"]),
        ("/api/staff/remove_caregiver", &["grant", "reason"]),
        ("/api/staff/close_invitation", &["reason"]),
        ("/api/staff/set_up_sign_in", &["username", "reason"]),
        ("/api/rename_passkey", &["name"]),
    ];

    /// Whether a field's value may be kept for the form of server function `action`.
    fn keepable(action: &str, name: &str, value: &str) -> bool {
        let kept = KEPT_FIELDS
            .iter()
            .find(|(path, _)| *path == action)
            .map_or(&[][..], |(_, fields)| fields);
        kept.contains(&name) && !value.is_empty() && value.len() <= LONGEST_VALUE
    }

    /// Whether a query parameter is one of the server functions' refusal (`__path`, `__err`),
    /// however it is encoded: the router reads them decoded.
    fn is_refusal(pair: &str) -> bool {
        url::form_urlencoded::parse(pair.as_bytes())
            .next()
            .is_some_and(|(key, _)| key == "__err" || key == "__path")
    }

    /// Whether an address carries a refusal.
    pub fn carries_refusal(query: Option<&str>) -> bool {
        query.unwrap_or_default().split('&').any(is_refusal)
    }

    /// The address without any refusal, the rest of it as it was, on the portal's own site.
    pub fn without_refusal(path: &str, query: Option<&str>) -> String {
        let path = own_path(path);
        let rest: Vec<&str> = query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty() && !is_refusal(pair))
            .collect();
        match rest.is_empty() {
            true => path,
            false => format!("{path}?{}", rest.join("&")),
        }
    }

    /// A path that stays on the portal as a `Location`: browsers read `//host/…` and `/\host/…`
    /// as another site (a phishing link on our own domain), so leading slashes and backslashes
    /// collapse to one slash.
    pub fn own_path(path: &str) -> String {
        format!("/{}", path.trim_start_matches(['/', '\\']))
    }

    /// Where a plain post's answer sends the browser: the same page of the portal, never
    /// another site, without any refusal in the address (`__path` and `__err`: the server
    /// function's own, and any the client put in its `Referer`). For a post the server function
    /// refused (`refusal`: its path and its error as it answered it), also the cookie that
    /// carries that refusal and what may be kept of what was typed.
    pub fn back_to(
        portal: &Portal,
        location: &str,
        form: &[u8],
        refusal: Option<(&str, &[u8])>,
    ) -> Option<(String, Option<String>)> {
        use base64::{engine::general_purpose::URL_SAFE, Engine};
        let url = portal.settings.public_url.join(location).ok()?;
        // Only the path is kept: whatever the server function named, the browser stays here.
        let back = without_refusal(url.path(), url.query());
        let Some((action, error)) = refusal else {
            return Some((back, None));
        };
        let mut refused = Refused {
            page: own_path(url.path()),
            action: action.to_string(),
            // Encoded as the framework puts it in the address, which is how actions read it.
            error: URL_SAFE.encode(error),
            typed: url::form_urlencoded::parse(form)
                .filter(|(name, value)| keepable(action, name, value))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            at: portal.now(),
        };
        let mut sealed = seal(portal, &refused)?;
        if sealed.len() > LARGEST_COOKIE {
            refused.typed.clear();
            sealed = seal(portal, &refused)?;
        }
        Some((back, Some(REFUSED_FORM.set(&portal.settings, &sealed))))
    }

    fn seal(portal: &Portal, refused: &Refused) -> Option<String> {
        let json = serde_json::to_string(refused).ok()?;
        Some(portal.secret.seal_as(SEALED_AS, &json))
    }

    /// The refused post for this page, if the request carries one; the cookie is removed either
    /// way, so it is shown once.
    pub fn take() -> Option<Refused> {
        let portal = leptos::prelude::use_context::<Portal>()?;
        let parts = leptos::prelude::use_context::<Parts>()?;
        refused_for(&portal, &parts)
    }

    pub fn refused_for(portal: &Portal, parts: &Parts) -> Option<Refused> {
        let header = parts.headers.get(header::COOKIE)?.to_str().ok()?;
        let sealed = REFUSED_FORM.from_header(&portal.settings, header)?;
        if let (Some(response), Ok(removal)) = (
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
            header::HeaderValue::from_str(&REFUSED_FORM.clear(&portal.settings)),
        ) {
            response.append_header(header::SET_COOKIE, removal);
        }
        let json = portal.secret.open_as(SEALED_AS, &sealed)?;
        let refused: Refused = serde_json::from_str(&json).ok()?;
        let fresh = (0..=KEPT_FOR).contains(&(portal.now() - refused.at));
        (fresh && refused.page == parts.uri.path()).then_some(refused)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_refusal_is_taken_out_of_an_address_however_it_is_written() {
            assert!(!carries_refusal(None));
            assert!(!carries_refusal(Some("timeout&verified")));
            assert!(carries_refusal(Some("__err=x")));
            assert!(carries_refusal(Some("a=1&%5F%5Fpath=/api/login")));
            assert_eq!(
                without_refusal("/login", Some("timeout&__path=/api/login&__err=e")),
                "/login?timeout"
            );
            assert_eq!(without_refusal("/verify", Some("")), "/verify");
            // Never a path a browser would read as another site.
            assert_eq!(
                without_refusal("//evil.example/login", None),
                "/evil.example/login"
            );
            assert_eq!(
                without_refusal("/\\/evil.example", Some("a")),
                "/evil.example?a"
            );
            assert_eq!(
                without_refusal("/profile/mobile", Some("verified&%5f_err=e")),
                "/profile/mobile?verified"
            );
        }

        #[test]
        fn only_each_forms_own_fields_are_kept_never_a_secret() {
            let register = "/api/register";
            assert!(keepable(register, "username", "ana"));
            assert!(keepable(register, "mobile", "021 555 0123"));
            assert!(!keepable(register, "password", "correct horse"));
            assert!(!keepable(register, "confirm_password", "correct horse"));
            assert!(!keepable(register, "__err", "x"));
            assert!(!keepable(register, "given_name", ""));
            assert!(!keepable(
                register,
                "given_name",
                &"x".repeat(LONGEST_VALUE + 1)
            ));
            assert!(keepable("/api/staff/login", "username", "kim"));
            assert!(!keepable("/api/staff/login", "code", "k7qm2-x9fpt"));
            assert!(!keepable("/api/verify_code", "code", "123456"));
            assert!(!keepable("/api/staff/finish_enrolment", "token", "abc"));
            assert!(!keepable("/api/somewhere_new", "username", "ana"));
        }
    }
}
