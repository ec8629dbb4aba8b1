//! Registration: the form, the `/api/register` server function, and the rules a new account must
//! meet. Every field is checked on the server and every problem is reported at once, beside its field.

// `register` takes the form's fields one by one: that is the API's shape.
#![allow(clippy::too_many_arguments)]

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use crate::{
    error::PortalError,
    ui::{field_error, Field, FormMessage, NewPasswordFields, SubmitButton},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// True when the practice has switched two-factor authentication off.
    pub signed_in: bool,
    pub mobile_ending: String,
}

/// Creates the account. With two-factor authentication on, the session then waits for the
/// mobile number to be verified with a code.
#[server(prefix = "/api", endpoint = "register")]
pub async fn register(
    #[server(default)] username: String,
    #[server(default)] password: String,
    #[server(default)] confirm_password: Option<String>,
    #[server(default)] given_name: String,
    #[server(default)] family_name: String,
    #[server(default)] date_of_birth: String,
    #[server(default)] mobile: String,
    #[server(default)] email: Option<String>,
) -> Result<Registered, PortalError> {
    let portal = crate::request::portal()?;
    let form = ssr::RegistrationForm {
        username,
        password,
        confirm_password,
        given_name,
        family_name,
        date_of_birth,
        mobile,
        email,
    };
    let registered = ssr::register_patient(&portal, form).await?;
    leptos_axum::redirect(if registered.signed_in { "/" } else { "/verify" });
    Ok(registered)
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let register = ServerAction::<Register>::new();
    let error = Signal::derive(move || register.value().get().and_then(Result::err));
    let field = move |name| field_error(error, name);

    view! {
        <Title text="Create your account"/>
        <section class="card">
            <h1>"Create your account"</h1>
            <p class="lead">
                "You'll need a mobile phone that can receive text messages. We text you a code to keep your records safe."
            </p>
            <ActionForm action=register attr:novalidate=true attr:class="form">
                <FormMessage error=error/>
                <Field name="given_name" label="Given name" autocomplete="given-name" error=field("given_name")/>
                <Field name="family_name" label="Family name" autocomplete="family-name" error=field("family_name")/>
                <Field
                    name="date_of_birth"
                    label="Date of birth"
                    kind="date"
                    autocomplete="bday"
                    error=field("date_of_birth")
                />
                <Field
                    name="email"
                    label="Email"
                    kind="email"
                    autocomplete="email"
                    hint="Optional."
                    error=field("email")
                />
                <Field
                    name="mobile"
                    label="Mobile number"
                    kind="tel"
                    autocomplete="tel"
                    hint="We'll text a code to this number."
                    error=field("mobile")
                />
                <Field name="username" label="Username" autocomplete="username" error=field("username")/>
                <NewPasswordFields error=error/>
                <SubmitButton label="Register" pending=register.pending()/>
            </ActionForm>
            <p class="aside">"Already registered? " <A href="/login">"Log in"</A></p>
        </section>
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use std::collections::BTreeMap;

    use time::{macros::format_description, Date, OffsetDateTime};

    use super::Registered;
    use crate::{
        error::{OrInternal, PortalError},
        mobile::Mobile,
        password::NewPassword,
        portal::{Portal, HOUR, SECOND},
        request,
        session::Stage,
        store::{LimitWindow, NewAccountRow},
    };

    pub struct RegistrationForm {
        pub username: String,
        pub password: String,
        pub confirm_password: Option<String>,
        pub given_name: String,
        pub family_name: String,
        pub date_of_birth: String,
        pub mobile: String,
        pub email: Option<String>,
    }

    /// Every problem with the form, by field, so all can be shown at once.
    #[derive(Default)]
    struct Problems(BTreeMap<String, String>);

    impl Problems {
        fn add(&mut self, field: &str, message: impl ToString) {
            self.0.insert(field.to_string(), message.to_string());
        }

        /// The value if it passed; otherwise notes why not.
        fn take<T, E: ToString>(&mut self, field: &str, checked: Result<T, E>) -> Option<T> {
            checked.map_err(|e| self.add(field, e)).ok()
        }
    }

    const MAX_NAME_CHARS: usize = 100;

    pub fn check_name(value: &str, what: &str) -> Result<String, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("Please enter your {what}."));
        }
        if value.chars().count() > MAX_NAME_CHARS || value.chars().any(char::is_control) {
            return Err(format!(
                "Please enter your {what} using up to {MAX_NAME_CHARS} letters."
            ));
        }
        Ok(value.to_string())
    }

    /// A real date, in the past, within a human lifetime.
    pub fn check_date_of_birth(value: &str, today: Date) -> Result<String, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err("Please enter your date of birth.".into());
        }
        let date = Date::parse(value, format_description!("[year]-[month]-[day]"))
            .map_err(|_| "Please enter a real date, for example 1950-07-31.".to_string())?;
        if date >= today {
            return Err("Your date of birth must be in the past.".into());
        }
        if date.year() < today.year() - 130 {
            return Err("Please check the year of your date of birth.".into());
        }
        Ok(date.to_string())
    }

    /// Usernames are case-insensitive; this is the form they are compared in.
    pub fn username_key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    pub fn check_username(value: &str) -> Result<String, String> {
        let value = value.trim();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
        if value.is_empty() {
            return Err("Please choose a username.".into());
        }
        if !(3..=64).contains(&value.chars().count()) || !value.chars().all(allowed) {
            return Err(
                "Please use 3 to 64 letters or numbers; dots, dashes, underscores and @ are fine too."
                    .into(),
            );
        }
        Ok(value.to_string())
    }

    pub fn check_email(value: Option<&str>) -> Result<Option<String>, String> {
        let value = value.map(str::trim).unwrap_or_default();
        if value.is_empty() {
            return Ok(None);
        }
        if value.len() > 254 || !email_address::EmailAddress::is_valid(value) {
            return Err(
                "Please enter an email address like name@example.com, or leave it empty.".into(),
            );
        }
        Ok(Some(value.to_string()))
    }

    pub fn today(portal: &Portal) -> Date {
        OffsetDateTime::from_unix_timestamp(portal.now() / SECOND)
            .map(|t| t.date())
            .unwrap_or(Date::MIN)
    }

    pub async fn register_patient(
        portal: &Portal,
        form: RegistrationForm,
    ) -> Result<Registered, PortalError> {
        let settings = &portal.settings;
        let now = portal.now();
        let attempts = [LimitWindow {
            kind: "registration_ip",
            subject: request::client_ip(),
            since: now - HOUR,
            limit: settings.limits.registrations_per_ip_hour,
        }];
        if let Some(full) = portal
            .store
            .count_if_under(&attempts, now)
            .await
            .or_internal("counting registrations")?
        {
            let wait = (full.oldest.unwrap_or(now) + HOUR - now).max(SECOND);
            return Err(PortalError::too_many_requests(
                "Too many accounts have been started from your network. Please try again in an hour, or contact the practice.",
                ((wait + SECOND - 1) / SECOND) as u64,
            ));
        }
        let mut problems = Problems::default();
        let given_name = problems.take("given_name", check_name(&form.given_name, "given name"));
        let family_name =
            problems.take("family_name", check_name(&form.family_name, "family name"));
        let date_of_birth = problems.take(
            "date_of_birth",
            check_date_of_birth(&form.date_of_birth, today(portal)),
        );
        let email = problems
            .take("email", check_email(form.email.as_deref()))
            .flatten();
        let mobile = problems.take(
            "mobile",
            Mobile::parse(
                &form.mobile,
                settings.default_region,
                &settings.allowed_regions,
            ),
        );
        let username = problems.take("username", check_username(&form.username));
        let password = problems.take(
            "password",
            NewPassword::parse(&form.password, &form.username),
        );
        if form
            .confirm_password
            .as_ref()
            .is_some_and(|confirm| *confirm != form.password)
        {
            problems.add("confirm_password", "The two passwords don't match.");
        }
        let taken = "That username is already taken. Please choose another.";
        if let Some(username) = &username {
            if portal
                .store
                .username_taken(&username_key(username))
                .await
                .or_internal("checking a username")?
            {
                problems.add("username", taken);
            }
        }
        let (
            Some(given_name),
            Some(family_name),
            Some(date_of_birth),
            Some(mobile),
            Some(username),
            Some(password),
            true,
        ) = (
            given_name,
            family_name,
            date_of_birth,
            mobile,
            username,
            password,
            problems.0.is_empty(),
        )
        else {
            return Err(PortalError::fields(problems.0));
        };

        let password_hash = portal
            .passwords
            .hash(password)
            .await
            .or_internal("hashing a new password")?;
        let account_id = portal
            .store
            .insert_account(NewAccountRow {
                username: &username,
                username_key: &username_key(&username),
                password_hash: &password_hash,
                given_name: &given_name,
                family_name: &family_name,
                date_of_birth: &date_of_birth,
                email: email.as_deref(),
                mobile: Some(mobile.e164()),
                mobile_verified_at: None,
                must_change_password: false,
                created_at: now,
            })
            .await
            .or_internal("creating an account")?
            // Someone took the name between the check and the insert.
            .ok_or_else(|| PortalError::field("username", taken))?;

        let signed_in = !settings.two_factor;
        let stage = if signed_in {
            Stage::SignedIn
        } else {
            Stage::Registered
        };
        let previous = request::session(portal).await?;
        request::step_up(portal, account_id, stage, previous.as_ref()).await?;
        request::audit(portal, Some(account_id), "registered", "ok", None).await;
        Ok(Registered {
            signed_in,
            mobile_ending: mobile.ending(),
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use time::macros::date;

        #[test]
        fn a_date_of_birth_must_be_real_and_past() {
            let today = date!(2026 - 11 - 27);
            assert_eq!(
                check_date_of_birth("1950-07-31", today).as_deref(),
                Ok("1950-07-31")
            );
            assert!(check_date_of_birth("2026-11-27", today).is_err());
            assert!(check_date_of_birth("2030-01-01", today).is_err());
            assert!(check_date_of_birth("1950-02-30", today).is_err());
            assert!(check_date_of_birth("31/07/1950", today).is_err());
            assert!(check_date_of_birth("1850-01-01", today).is_err());
            assert!(check_date_of_birth("", today).is_err());
        }

        #[test]
        fn usernames_compare_without_case() {
            assert_eq!(username_key(" Margaret.Smith "), "margaret.smith");
            assert!(check_username("margaret smith").is_err());
            assert!(check_username("ms").is_err());
            assert!(check_username("m.smith@example.org").is_ok());
        }

        #[test]
        fn email_is_optional_but_checked_when_given() {
            assert_eq!(check_email(None), Ok(None));
            assert_eq!(check_email(Some("  ")), Ok(None));
            assert!(check_email(Some("not an email")).is_err());
            assert_eq!(
                check_email(Some("pat@example.org")),
                Ok(Some("pat@example.org".into()))
            );
        }
    }
}
