//! Registration: the rules a new account must meet. Every field is checked and every problem is
//! reported at once, beside its field.

use std::collections::BTreeMap;

use crate::{
    account::{today, DateOfBirth, Email, PersonName, Username},
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    error::{Error, OrInternal},
    mobile::Mobile,
    password::NewPassword,
    portal::Portal,
    session::{self, NewSession, Stage},
    store::NewAccountRow,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// True when the practice has switched two-factor authentication off.
    pub signed_in: bool,
    pub mobile_ending: String,
}

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

/// A registration form that passed every check.
struct NewPatient {
    username: Username,
    password: NewPassword,
    given_name: PersonName,
    family_name: PersonName,
    date_of_birth: DateOfBirth,
    email: Option<Email>,
    mobile: Mobile,
}

const USERNAME_TAKEN: &str = "That username is already taken. Please choose another.";

/// Creates the account and starts its session: waiting for the code to the new number, or
/// signed in when the practice has two-factor authentication off.
pub async fn register_patient(
    portal: &Portal,
    caller: &Caller,
    form: RegistrationForm,
) -> Result<(Registered, NewSession), Error> {
    count_the_attempt(portal, caller).await?;
    let new = check(portal, &form).await?;
    let password_hash = portal
        .passwords
        .hash(new.password)
        .await
        .map_err(|e| e.refusal("hashing a new password"))?;
    let account_id = portal
        .store
        .insert_account(NewAccountRow {
            username: new.username.as_str(),
            username_key: &new.username.key(),
            password_hash: &password_hash,
            given_name: new.given_name.as_str(),
            family_name: new.family_name.as_str(),
            date_of_birth: &new.date_of_birth.to_string(),
            email: new.email.as_ref().map(Email::as_str),
            mobile: Some(new.mobile.e164()),
            mobile_verified_at: None,
            must_change_password: false,
            password_expires_at: None,
            created_at: portal.now(),
        })
        .await
        .or_internal("creating an account")?
        // Someone took the name between the check and the insert.
        .ok_or_else(|| Error::field("username", USERNAME_TAKEN))?;

    // Signed in at once only while two-factor authentication is really off (see login).
    let without_code = match portal.practice().two_factor {
        true => None,
        false => session::begin_without_code(portal, caller.browser(), account_id)
            .await
            .or_internal("starting a session")?,
    };
    let signed_in = without_code.is_some();
    let session = match without_code {
        Some(session) => session,
        None => session::begin(portal, caller.browser(), account_id, Stage::Registered)
            .await
            .or_internal("starting a session")?,
    };
    let entry = Entry::new(Event::Registered, Outcome::Ok).account(account_id);
    audit::record(portal, caller, entry).await;
    if let Some(email) = &new.email {
        let given = new.given_name.as_str();
        crate::email_confirmation::ask_to_confirm(
            portal,
            caller,
            account_id,
            given,
            email.as_str(),
        )
        .await;
    }
    let registered = Registered {
        signed_in,
        mobile_ending: new.mobile.ending(),
    };
    Ok((registered, session))
}

/// Registration attempts, successful or not, are limited per network: against scripted
/// sign-ups and probing for usernames.
async fn count_the_attempt(portal: &Portal, caller: &Caller) -> Result<(), Error> {
    let now = portal.now();
    let attempts = [crate::limits::sign_ins::registrations_from(portal, caller)];
    let full = portal
        .store
        .count_if_under(&attempts, now)
        .await
        .or_internal("counting registrations")?;
    match full {
        Some(full) => Err(attempts[full.index].refusal(full.oldest, now)),
        None => Ok(()),
    }
}

/// Checks every field, and reports every problem at once.
async fn check(portal: &Portal, form: &RegistrationForm) -> Result<NewPatient, Error> {
    let settings = &portal.settings;
    let mut problems = Problems::default();
    let given_name = problems.take(
        "given_name",
        PersonName::parse(&form.given_name, "given name"),
    );
    let family_name = problems.take(
        "family_name",
        PersonName::parse(&form.family_name, "family name"),
    );
    let date_of_birth = problems.take(
        "date_of_birth",
        DateOfBirth::parse(&form.date_of_birth, today(portal)),
    );
    let email = problems.take("email", Email::parse_optional(form.email.as_deref()));
    let mobile = problems.take(
        "mobile",
        Mobile::parse(
            &form.mobile,
            settings.default_region,
            &settings.allowed_regions,
        ),
    );
    let username = problems.take("username", Username::parse(&form.username));
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
    if let Some(username) = &username {
        let taken = portal
            .store
            .username_taken(&username.key())
            .await
            .or_internal("checking a username")?;
        if taken {
            problems.add("username", USERNAME_TAKEN);
        }
    }
    match (
        given_name,
        family_name,
        date_of_birth,
        email,
        mobile,
        username,
        password,
    ) {
        (
            Some(given_name),
            Some(family_name),
            Some(date_of_birth),
            Some(email),
            Some(mobile),
            Some(username),
            Some(password),
        ) if problems.0.is_empty() => Ok(NewPatient {
            username,
            password,
            given_name,
            family_name,
            date_of_birth,
            email,
            mobile,
        }),
        _ => Err(Error::fields(problems.0)),
    }
}
