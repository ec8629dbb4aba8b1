//! The portal's cookies, one kind each: the patient's session, a remembered device, the staff
//! session, the browser of an enrolment, and a refused form. Every one is HttpOnly and
//! SameSite=Lax, and Secure with the `__Host-` prefix when the portal is served over HTTPS.

use cookie::{time::Duration, Cookie, SameSite};

use crate::{clock::Millis, portal::Settings};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieKind {
    name: &'static str,
    secure_name: &'static str,
    /// `None`: it ends with the browser (the server ends sessions sooner).
    kept_for: Option<Millis>,
}

/// A patient's session.
pub const PATIENT_SESSION: CookieKind = CookieKind::new("portal_session", "__Host-portal_session");
/// A staff member's session.
pub const STAFF_SESSION: CookieKind = CookieKind::new("portal_staff", "__Host-portal_staff");
/// A browser the patient asked not to be asked for a code on. Kept for the practice's number of
/// days, given when it is set.
pub const REMEMBERED_DEVICE: CookieKind = CookieKind::new("portal_device", "__Host-portal_device");
/// The handle of a passkey ceremony under way: it lives as long as the ceremony may.
pub const PASSKEY_CEREMONY: CookieKind =
    CookieKind::new("portal_passkey", "__Host-portal_passkey").kept_for(5 * crate::clock::MINUTE);
/// The browser an enrolment link was opened in, which alone is shown the same secret again.
pub const ENROLMENT_BROWSER: CookieKind =
    CookieKind::new("portal_enrol", "__Host-portal_enrol").kept_for(crate::clock::DAY);

impl CookieKind {
    pub const fn new(name: &'static str, secure_name: &'static str) -> Self {
        Self {
            name,
            secure_name,
            kept_for: None,
        }
    }

    /// The same kind, kept by the browser for `span` only.
    pub const fn kept_for(self, span: Millis) -> Self {
        Self {
            kept_for: Some(span),
            ..self
        }
    }

    pub fn name(self, settings: &Settings) -> &'static str {
        if settings.secure_cookies() {
            self.secure_name
        } else {
            self.name
        }
    }

    fn build(self, settings: &Settings, value: &str) -> Cookie<'static> {
        let mut cookie = Cookie::build((self.name(settings), value.to_string()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(settings.secure_cookies())
            .build();
        if let Some(span) = self.kept_for {
            cookie.set_max_age(Duration::milliseconds(span));
        }
        cookie
    }

    /// The `Set-Cookie` value that gives the browser `value`.
    pub fn set(self, settings: &Settings, value: &str) -> String {
        self.build(settings, value).to_string()
    }

    /// The `Set-Cookie` value that removes the cookie from the browser.
    pub fn clear(self, settings: &Settings) -> String {
        let mut cookie = self.build(settings, "");
        cookie.make_removal();
        cookie.to_string()
    }

    /// This cookie's value in a `Cookie` request header.
    pub fn from_header(self, settings: &Settings, header: &str) -> Option<String> {
        let name = self.name(settings);
        Cookie::split_parse(header)
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(|c| c.value().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_and_lax_and_secure_over_https() {
        let mut settings = Settings::default();
        let plain = PATIENT_SESSION.set(&settings, "abc");
        assert!(plain.starts_with("portal_session=abc"));
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure") && !plain.contains("Max-Age"));

        settings.public_url = "https://portal.example.org".parse().unwrap();
        let secure = PATIENT_SESSION.set(&settings, "abc");
        assert!(secure.starts_with("__Host-portal_session=abc"));
        assert!(secure.contains("Secure") && secure.contains("Path=/"));
        assert!(!secure.contains("Domain"));
        assert!(STAFF_SESSION
            .set(&settings, "x")
            .starts_with("__Host-portal_staff=x"));
    }

    #[test]
    fn a_kept_cookie_says_for_how_long_and_a_removal_empties_it() {
        let settings = Settings::default();
        let kept = CookieKind::new("a", "__Host-a").kept_for(2 * 60_000);
        assert!(kept.set(&settings, "v").contains("Max-Age=120"));
        let removal = PATIENT_SESSION.clear(&settings);
        assert!(removal.starts_with("portal_session=;") && removal.contains("Max-Age=0"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let settings = Settings::default();
        assert_eq!(
            PATIENT_SESSION
                .from_header(&settings, "a=1; portal_session=xyz; b=2")
                .as_deref(),
            Some("xyz")
        );
        assert_eq!(PATIENT_SESSION.from_header(&settings, "a=1"), None);
        assert_eq!(
            STAFF_SESSION.from_header(&settings, "portal_session=xyz"),
            None
        );
    }
}
