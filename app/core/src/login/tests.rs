//! Registration and login as domain functions, called directly with a `Caller` (no HTTP): what
//! they decide, which session they start, and what they send.

use std::sync::Arc;

use crate::{
    caller::Caller,
    clock::ManualClock,
    login::{
        self,
        password::{log_in, PasswordStep, WRONG_DETAILS},
    },
    one_time_code::challenge::Purpose,
    portal::{Portal, Settings},
    registration::{register_patient, RegistrationForm},
    secret::ServerSecret,
    session::Stage,
    sms::ConsoleSms,
    store::Store,
};

const PASSWORD: &str = "correct horse battery";

struct World {
    portal: Portal,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

async fn world(adjust: impl FnOnce(&mut Settings)) -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::store::testing::scratch_database(dir.path()).await;
    let store = Store::open(&url).await.unwrap();
    let mut settings = Settings::default();
    adjust(&mut settings);
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let portal = Portal::new(
        settings,
        store.clone(),
        clock.clone(),
        ServerSecret::random(),
        Arc::new(ConsoleSms::new(store, clock.clone())),
    );
    World {
        portal,
        clock,
        _dir: dir,
    }
}

fn caller() -> Caller {
    Caller::new("203.0.113.7".parse().unwrap(), None)
}

fn form(username: &str, mobile: &str) -> RegistrationForm {
    RegistrationForm {
        username: username.into(),
        password: PASSWORD.into(),
        confirm_password: Some(PASSWORD.into()),
        given_name: "Margaret".into(),
        family_name: "Smith".into(),
        date_of_birth: "1950-07-31".into(),
        mobile: mobile.into(),
        email: Some("margaret@example.org".into()),
    }
}

impl World {
    async fn last_code(&self) -> (String, String) {
        let sms = self.portal.store.dev_sms().await.unwrap().pop().unwrap();
        let code = sms.body.rsplit('#').next().unwrap().to_string();
        (sms.to_number, code)
    }

    /// Registers, texts the code and verifies it: a patient with a verified number.
    async fn registered_and_verified(&self, username: &str) {
        let (_, new) = register_patient(&self.portal, &caller(), form(username, "021 555 0123"))
            .await
            .unwrap();
        let patient = self.patient(username).await;
        let caller = Caller::new("203.0.113.7".parse().unwrap(), Some(new.session.clone()));
        login::code::send(&self.portal, &caller, &new.session, &patient, None)
            .await
            .unwrap();
        let (_, code) = self.last_code().await;
        login::code::verify(&self.portal, &caller, &new.session, &patient, &code)
            .await
            .unwrap();
    }

    async fn patient(&self, username: &str) -> crate::account::Patient {
        self.portal
            .store
            .account_by_username(username)
            .await
            .unwrap()
            .unwrap()
            .into()
    }
}

#[tokio::test]
async fn registration_creates_the_account_and_a_session_waiting_for_the_code() {
    let world = world(|_| {}).await;
    let (registered, new) =
        register_patient(&world.portal, &caller(), form("margaret", "021 555 0123"))
            .await
            .unwrap();
    assert!(!registered.signed_in);
    assert_eq!(registered.mobile_ending, "23");
    assert_eq!(new.session.stage, Stage::Registered);
    assert_eq!(new.next_page(), "/verify");
    let patient = world.patient("margaret").await;
    assert_eq!(patient.mobile.verified(), None);
    assert_eq!(patient.mobile.on_file(), Some("+64215550123"));
    assert_eq!(
        patient.first_number,
        crate::account::FirstNumber::NeverVerified
    );
    // Nothing is texted until the patient asks.
    assert!(world.portal.store.dev_sms().await.unwrap().is_empty());
}

#[tokio::test]
async fn registration_reports_every_problem_at_once_and_creates_nothing() {
    let world = world(|_| {}).await;
    let mut bad = form("m", "04 471 1234");
    bad.given_name = String::new();
    bad.confirm_password = Some("something else".into());
    let refused = register_patient(&world.portal, &caller(), bad)
        .await
        .err()
        .unwrap();
    for field in ["username", "mobile", "given_name", "confirm_password"] {
        assert!(refused.fields.contains_key(field), "{field}: {refused:?}");
    }
    assert!(world
        .portal
        .store
        .account_by_username("m")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn with_two_factor_off_registration_signs_in_at_once() {
    let world = world(|s| s.practice.two_factor = false).await;
    let (registered, new) =
        register_patient(&world.portal, &caller(), form("margaret", "021 555 0123"))
            .await
            .unwrap();
    assert!(registered.signed_in);
    assert_eq!(new.session.stage, Stage::SignedIn);
    assert_eq!(new.next_page(), "/");
}

#[tokio::test]
async fn a_right_password_sends_the_code_to_the_verified_number_at_once() {
    let world = world(|_| {}).await;
    world.registered_and_verified("margaret").await;
    world.clock.advance_seconds(60);
    let PasswordStep {
        logged_in,
        session: new,
        ..
    } = log_in(&world.portal, &caller(), "Margaret", PASSWORD)
        .await
        .unwrap();
    assert!(!logged_in.signed_in);
    assert!(logged_in.code_sent);
    assert_eq!(logged_in.mobile_ending.as_deref(), Some("23"));
    assert_eq!(new.session.stage, Stage::PasswordAccepted);
    let (to, _) = world.last_code().await;
    assert_eq!(to, "+64215550123");
    // The code belongs to the new session.
    let live = crate::one_time_code::challenge::live(&world.portal, &new.session, Purpose::SignIn)
        .await
        .unwrap();
    assert!(live.is_some());
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_username_get_the_same_refusal() {
    let world = world(|_| {}).await;
    world.registered_and_verified("margaret").await;
    let wrong = log_in(&world.portal, &caller(), "margaret", "not the password")
        .await
        .err()
        .unwrap();
    let unknown = log_in(&world.portal, &caller(), "nobody", PASSWORD)
        .await
        .err()
        .unwrap();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.message, WRONG_DETAILS);
}

#[tokio::test]
async fn a_patient_without_a_verified_number_gets_no_code_until_they_give_one() {
    let world = world(|_| {}).await;
    register_patient(&world.portal, &caller(), form("margaret", "021 555 0123"))
        .await
        .unwrap();
    let PasswordStep {
        logged_in,
        session: new,
        ..
    } = log_in(&world.portal, &caller(), "margaret", PASSWORD)
        .await
        .unwrap();
    assert!(!logged_in.code_sent);
    assert_eq!(new.session.stage, Stage::PasswordAccepted);
    let patient = world.patient("margaret").await;
    assert_eq!(
        login::code::code_goes_to(&world.portal, &new.session, &patient),
        login::code::CodeGoesTo::FirstNumber
    );
    assert!(world.portal.store.dev_sms().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_login_replaces_the_callers_previous_session() {
    let world = world(|_| {}).await;
    world.registered_and_verified("margaret").await;
    let first = log_in(&world.portal, &caller(), "margaret", PASSWORD)
        .await
        .unwrap()
        .session;
    let again = Caller::new("203.0.113.7".parse().unwrap(), Some(first.session.clone()));
    world.clock.advance_seconds(60);
    let second = log_in(&world.portal, &again, "margaret", PASSWORD)
        .await
        .unwrap()
        .session;
    assert_ne!(first.cookie, second.cookie);
    let gone = crate::session::load(&world.portal, &first.cookie)
        .await
        .unwrap();
    assert!(gone.is_none(), "the old session ID no longer works");
}
