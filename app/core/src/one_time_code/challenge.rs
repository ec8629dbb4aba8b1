//! The one-time-code rules: 6 digits from the OS's CSPRNG, stored only as an HMAC, valid for the
//! configured lifetime, single use, dead after 5 wrong tries, replaced by a new send, and not
//! sent again inside the cooldown. A code belongs to the session that asked for it.

use crate::store::AccountId;
use rand::Rng;

use crate::{
    clock::{whole_seconds, Millis, SECOND},
    error::Error,
    limits::Limit,
    mobile::Mobile,
    portal::Portal,
    session::Session,
    sms::{code_message, Route, Sms},
    store::{CappedNotice, ChallengeRow, Issue, NewSms, NoticeQueued, StoreError},
};

/// Tries per code. Every try counts; a right one ends the code anyway.
pub const MAX_WRONG_TRIES: i64 = 5;

/// What a code is for (each kept in its column by `store::kinds`).
pub use crate::store::kinds::CodePurpose as Purpose;

/// Why a typed code did not verify. Each message tells the patient what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeProblem {
    #[error("Please enter the 6-digit code from the text message.")]
    Malformed,
    #[error("There is no code waiting to be checked. Please ask for a new code.")]
    NoCode,
    #[error("That code has expired. Please ask for a new code.")]
    Expired,
    #[error("That code isn't right. Please check the text message and try again. {}", tries_left_text(*.tries_left))]
    Wrong { tries_left: i64 },
    #[error("That code was entered wrongly too many times, so it no longer works. Please ask for a new code.")]
    TooManyTries,
}

fn tries_left_text(tries: i64) -> String {
    if tries == 1 {
        "You have 1 try left.".into()
    } else {
        format!("You have {tries} tries left.")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    #[error(transparent)]
    Code(#[from] CodeProblem),
    #[error("Please wait {} before asking for another code.", crate::limits::wait_text(*.0))]
    Cooldown(Millis),
    /// A limit on text messages is reached.
    #[error("{}", .0.message)]
    Limited(Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ChallengeError> for Error {
    fn from(err: ChallengeError) -> Self {
        match err {
            ChallengeError::Code(problem) => Error::field("code", problem.to_string()),
            ChallengeError::Cooldown(wait) => {
                Error::too_many_requests(err.to_string(), whole_seconds(wait))
            }
            ChallengeError::Limited(refusal) => refusal,
            ChallengeError::Store(err) => Error::logged_internal("one-time code storage", err),
        }
    }
}

/// A code has been created and its message queued, claimed for sending at once. Deliberately
/// not `Debug`: the message holds the code.
pub struct Issued {
    /// The message, ready to go. Its body holds the code: it is never logged.
    pub sms: Sms,
    pub give_up_at: Millis,
    pub resend_in_seconds: u64,
    /// Identifies this code's challenge (not the code), to withdraw it if its text can't go.
    pub code_mac: String,
    /// The notice queued with the code (or the day's last, or none past its cap), if one was
    /// asked for.
    pub notice: Option<NoticeQueued>,
    /// Which provider it tries first.
    pub route: Route,
}

/// A text that must go with the code, and only with it: the old number told of a new one. It
/// passes the notices' cap (`crate::notify`), never the code's limits.
pub struct Notice {
    pub account_id: AccountId,
    /// The number told (E.164).
    pub to: String,
    pub body: String,
}

fn mac_context(account_id: AccountId, purpose: Purpose, mobile: &str, sent_at: i64) -> String {
    format!("{account_id}:{}:{mobile}:{sent_at}", purpose.as_str())
}

fn new_code() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

/// How long until this session may be sent another code; 0 if it may be sent now.
pub async fn cooldown_left(
    portal: &Portal,
    session: &Session,
    purpose: Purpose,
) -> Result<Millis, StoreError> {
    let existing = portal.store.challenge(&session.id_hash, purpose).await?;
    Ok(existing.map_or(0, |c| {
        let ready_at = c.sent_at + portal.practice().resend_cooldown_seconds * SECOND;
        (ready_at - portal.now()).max(0)
    }))
}

/// The live code waiting in this session, if any.
pub async fn live(
    portal: &Portal,
    session: &Session,
    purpose: Purpose,
) -> Result<Option<ChallengeRow>, StoreError> {
    Ok(portal
        .store
        .challenge(&session.id_hash, purpose)
        .await?
        .filter(|c| c.expires_at > portal.now()))
}

/// Creates the code and queues its text in one transaction, unless the cooldown or one of the
/// `limits` forbids it; the send is counted against the limits. The caller sends the text.
pub async fn create(
    portal: &Portal,
    session: &Session,
    purpose: Purpose,
    mobile: &Mobile,
    limits: &[Limit],
) -> Result<Issued, ChallengeError> {
    create_with_notice(portal, session, purpose, mobile, limits, None).await
}

/// As `create`, with a `notice` queued and counted in the same transaction, or nothing is. The
/// caller sends both texts.
pub async fn create_with_notice(
    portal: &Portal,
    session: &Session,
    purpose: Purpose,
    mobile: &Mobile,
    limits: &[Limit],
    notice: Option<&Notice>,
) -> Result<Issued, ChallengeError> {
    let issued = issue(portal, session, purpose, mobile, limits, notice).await;
    let event = match &issued {
        Ok(_) => "sent",
        Err(ChallengeError::Store(_)) => return issued,
        Err(_) => "refused",
    };
    crate::metrics::code(purpose.as_str(), event);
    issued
}

async fn issue(
    portal: &Portal,
    session: &Session,
    purpose: Purpose,
    mobile: &Mobile,
    limits: &[Limit],
    notice: Option<&Notice>,
) -> Result<Issued, ChallengeError> {
    let settings = &portal.settings;
    let practice = portal.practice();
    let now = portal.now();
    let code = new_code();
    let account_id = session.account_id;
    let challenge = ChallengeRow {
        session_id_hash: session.id_hash.clone(),
        purpose,
        account_id,
        mobile: mobile.e164().into(),
        code_mac: portal
            .secret
            .code_mac(&mac_context(account_id, purpose, mobile.e164(), now), &code),
        sent_at: now,
        expires_at: now + settings.otp_ttl_seconds * SECOND,
        failed_attempts: 0,
        sms_id: None,
    };
    let body = code_message(
        &practice.text_name(),
        &code,
        settings.otp_ttl_seconds,
        &settings.public_host(),
    );
    let sealed_notice = notice.map(|n| portal.secret.seal(&n.body));
    let sealed_last = portal.secret.seal(&crate::notify::last_text(portal));
    let notice_limits = notice.map(|n| {
        (
            crate::limits::texts::notices_to(portal, &n.to),
            crate::limits::texts::budget(portal),
        )
    });
    let notice_to_queue = notice
        .zip(sealed_notice.as_deref())
        .zip(notice_limits.as_ref())
        .map(|((n, sealed), (cap, budget))| CappedNotice {
            sms: NewSms {
                account_id: Some(n.account_id),
                to: &n.to,
                sealed_body: sealed,
                now,
                give_up_at: now + crate::notify::RETRIES_FOR,
                purpose: "notice",
                after_provider: None,
            },
            last_sealed_body: &sealed_last,
            cap,
            budget,
        });
    let issued = portal
        .store
        .issue_challenge(
            &challenge,
            &portal.secret.seal(&body),
            practice.resend_cooldown_seconds * SECOND,
            settings.sms_failover_wait_seconds * SECOND,
            limits,
            notice_to_queue.as_ref(),
            now + portal.outbox.lease(),
        )
        .await?;
    let sms = match issued {
        Issue::Issued(sms) => sms,
        Issue::Cooldown { ready_at } => return Err(ChallengeError::Cooldown(ready_at - now)),
        Issue::Limited(full) => {
            return Err(ChallengeError::Limited(
                limits[full.index].refusal(full.oldest, now),
            ))
        }
    };
    Ok(Issued {
        notice: sms.notice,
        sms: Sms {
            id: sms.code,
            to: challenge.mobile,
            body,
        },
        give_up_at: challenge.expires_at,
        resend_in_seconds: practice.resend_cooldown_seconds as u64,
        code_mac: challenge.code_mac,
        route: Route {
            purpose: purpose.as_str().into(),
            after_provider: sms.after_provider,
            failovers: 0,
        },
    })
}

/// Digits only: patients type spaces and dashes, and autofill may add them.
fn normalise(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// Checks a typed code against this session's live code. On a match the code is used up and
/// its number becomes the account's verified mobile (for a sign-in code: only the verified
/// number, or a first one; for a new number: only the pending one). Returns the number (E.164).
pub async fn verify(
    portal: &Portal,
    session: &Session,
    purpose: Purpose,
    typed: &str,
) -> Result<String, ChallengeError> {
    let verified = check(portal, session, purpose, typed).await;
    if let Ok(number) = &verified {
        crate::fraud_guard::note_verified(portal, number).await;
        crate::metrics::code_verified(&crate::mobile::country_of(number));
    }
    let event = match &verified {
        Ok(_) => "verified",
        Err(ChallengeError::Code(CodeProblem::Expired)) => "expired",
        Err(ChallengeError::Store(_)) => return verified,
        Err(_) => "refused",
    };
    crate::metrics::code(purpose.as_str(), event);
    verified
}

async fn check(
    portal: &Portal,
    session: &Session,
    purpose: Purpose,
    typed: &str,
) -> Result<String, ChallengeError> {
    let code = normalise(typed).ok_or(CodeProblem::Malformed)?;
    let now = portal.now();
    let store = &portal.store;
    let Some(challenge) = store
        .take_a_try(&session.id_hash, purpose, MAX_WRONG_TRIES, now)
        .await?
    else {
        // No try was available: say why.
        return Err(match store.challenge(&session.id_hash, purpose).await? {
            Some(c) if c.failed_attempts >= MAX_WRONG_TRIES => CodeProblem::TooManyTries,
            Some(c) if now >= c.expires_at => CodeProblem::Expired,
            _ => CodeProblem::NoCode,
        }
        .into());
    };
    let context = mac_context(
        challenge.account_id,
        purpose,
        &challenge.mobile,
        challenge.sent_at,
    );
    if !portal
        .secret
        .code_matches(&context, &code, &challenge.code_mac)
    {
        let tries_left = MAX_WRONG_TRIES - challenge.failed_attempts;
        return Err(if tries_left <= 0 {
            CodeProblem::TooManyTries
        } else {
            CodeProblem::Wrong { tries_left }
        }
        .into());
    }
    let consumed = match purpose {
        Purpose::SignIn => store.consume_sign_in_code(&challenge, now).await?,
        Purpose::NewNumber => store.consume_new_number_code(&challenge, now).await?,
        Purpose::StepUp => store.consume_step_up_code(&challenge, now).await?,
        Purpose::NewPhone => store.consume_new_phone_code(&challenge, now).await?,
    };
    if !consumed {
        return Err(CodeProblem::NoCode.into());
    }
    Ok(challenge.mobile)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{
        clock::{Clock, ManualClock},
        portal::Settings,
        secret::ServerSecret,
        session::{self, Stage},
        sms::ConsoleSms,
        store::{NewAccountRow, Store},
    };
    use phonenumber::country::Id::NZ;

    struct World {
        portal: Portal,
        clock: Arc<ManualClock>,
        session: Session,
        _dir: tempfile::TempDir,
    }

    async fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::store::testing::scratch_database(dir.path()).await;
        let store = Store::open(&url).await.unwrap();
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let portal = Portal::new(
            Settings::default(),
            store.clone(),
            clock.clone(),
            ServerSecret::random(),
            Arc::new(ConsoleSms::new(store.clone(), clock.clone())),
        );
        let account = store
            .insert_account(NewAccountRow {
                username: "margaret",
                username_key: "margaret",
                password_hash: "x",
                given_name: "Margaret",
                family_name: "Smith",
                date_of_birth: "1950-07-31",
                email: None,
                mobile: Some("+64215550123"),
                mobile_verified_at: None,
                must_change_password: false,
                password_expires_at: None,
                created_at: 0,
            })
            .await
            .unwrap()
            .unwrap();
        let session = session::begin(
            &portal,
            session::Browser::default(),
            account,
            Stage::Registered,
        )
        .await
        .unwrap()
        .session;
        World {
            portal,
            clock,
            session,
            _dir: dir,
        }
    }

    fn mobile() -> Mobile {
        Mobile::parse("021 555 0123", NZ, &[NZ]).unwrap()
    }

    impl World {
        /// Issues a code, delivers it, and returns the code the patient would read.
        async fn send(&self) -> Result<String, ChallengeError> {
            let issued =
                create(&self.portal, &self.session, Purpose::SignIn, &mobile(), &[]).await?;
            self.portal
                .outbox
                .send_now(
                    issued.sms,
                    issued.route,
                    issued.give_up_at,
                    std::time::Duration::from_secs(5),
                )
                .await;
            let last = self.portal.store.dev_sms().await.unwrap().pop().unwrap();
            Ok(last.body.rsplit('#').next().unwrap().to_string())
        }

        async fn verify(&self, code: &str) -> Result<String, ChallengeError> {
            verify(&self.portal, &self.session, Purpose::SignIn, code).await
        }

        fn wrong(code: &str) -> String {
            let other = (code.parse::<u32>().unwrap() + 1) % 1_000_000;
            format!("{other:06}")
        }
    }

    fn problem(result: Result<String, ChallengeError>) -> CodeProblem {
        match result {
            Err(ChallengeError::Code(problem)) => problem,
            other => panic!("expected a code problem, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn codes_are_six_digits_and_stored_only_as_a_mac() {
        let world = world().await;
        let code = world.send().await.unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        let stored = world
            .portal
            .store
            .challenge(&world.session.id_hash, Purpose::SignIn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.code_mac.len(), 64);
        assert!(!stored.code_mac.contains(&code));
    }

    #[tokio::test]
    async fn the_right_code_verifies_the_number_once_only() {
        let world = world().await;
        let code = world.send().await.unwrap();
        assert_eq!(world.verify(&code).await.unwrap(), "+64215550123");
        let account = world
            .portal
            .store
            .account(world.session.account_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(account.mobile_verified_at, Some(world.clock.now()));
        assert_eq!(account.first_number_at_login, 0);
        assert_eq!(problem(world.verify(&code).await), CodeProblem::NoCode);
    }

    #[tokio::test]
    async fn a_code_works_until_its_last_moment() {
        let world = world().await;
        let code = world.send().await.unwrap();
        world.clock.advance_seconds(599);
        assert!(world.verify(&code).await.is_ok());
    }

    #[tokio::test]
    async fn a_code_expires_after_its_lifetime() {
        let world = world().await;
        let code = world.send().await.unwrap();
        world.clock.advance_seconds(600);
        assert_eq!(problem(world.verify(&code).await), CodeProblem::Expired);
    }

    #[tokio::test]
    async fn five_wrong_tries_kill_the_code() {
        let world = world().await;
        let code = world.send().await.unwrap();
        let wrong = World::wrong(&code);
        for tries_left in (1..=4).rev() {
            assert_eq!(
                problem(world.verify(&wrong).await),
                CodeProblem::Wrong { tries_left }
            );
        }
        assert_eq!(
            problem(world.verify(&wrong).await),
            CodeProblem::TooManyTries
        );
        // Dead even for the right code.
        assert_eq!(
            problem(world.verify(&code).await),
            CodeProblem::TooManyTries
        );
        // A new code (after the cooldown) works.
        world.clock.advance_seconds(30);
        let fresh = world.send().await.unwrap();
        assert!(world.verify(&fresh).await.is_ok());
    }

    #[tokio::test]
    async fn a_malformed_code_does_not_count_as_a_try() {
        let world = world().await;
        let code = world.send().await.unwrap();
        for _ in 0..10 {
            assert_eq!(problem(world.verify("12ab").await), CodeProblem::Malformed);
        }
        assert!(world.verify(&code).await.is_ok());
    }

    #[tokio::test]
    async fn a_new_code_replaces_the_old_one() {
        let world = world().await;
        let first = world.send().await.unwrap();
        // Two codes are the same one time in a million; send until they differ.
        let second = loop {
            world.clock.advance_seconds(30);
            let next = world.send().await.unwrap();
            if next != first {
                break next;
            }
        };
        assert!(matches!(
            problem(world.verify(&first).await),
            CodeProblem::Wrong { .. }
        ));
        assert!(world.verify(&second).await.is_ok());
    }

    #[tokio::test]
    async fn another_code_waits_for_the_cooldown() {
        let world = world().await;
        world.send().await.unwrap();
        world.clock.advance_seconds(10);
        assert!(matches!(
            world.send().await,
            Err(ChallengeError::Cooldown(wait)) if wait == 20 * SECOND
        ));
        world.clock.advance_seconds(19);
        assert!(matches!(
            world.send().await,
            Err(ChallengeError::Cooldown(wait)) if wait == SECOND
        ));
        world.clock.advance_seconds(1);
        assert!(world.send().await.is_ok());
    }

    #[tokio::test]
    async fn a_step_up_from_a_session_ended_meanwhile_begins_none() {
        let world = world().await;
        let browser = || session::Browser {
            previous: Some(&world.session),
            user_agent: None,
        };
        // Ended between the request's check and the step up, as "Secure my account" ends it.
        world
            .portal
            .store
            .delete_session(&world.session.id_hash)
            .await
            .unwrap();
        let begun = session::step_up(&world.portal, browser(), world.session.account_id).await;
        assert!(begun.unwrap().is_none(), "no signed-in session");
        let by_passkey =
            session::begin_with_new_passkey(&world.portal, browser(), world.session.account_id)
                .await;
        assert!(by_passkey.unwrap().is_none());
        let sessions = world
            .portal
            .store
            .sessions_of(world.session.account_id, world.clock.now())
            .await
            .unwrap();
        assert!(sessions.is_empty(), "{sessions:?}");
    }

    #[tokio::test]
    async fn a_step_up_replaces_the_session_it_came_from() {
        let world = world().await;
        let browser = session::Browser {
            previous: Some(&world.session),
            user_agent: None,
        };
        let begun = session::step_up(&world.portal, browser, world.session.account_id)
            .await
            .unwrap()
            .expect("a signed-in session");
        assert_eq!(begun.session.stage, Stage::SignedIn);
        let old = world.portal.store.session(&world.session.id_hash).await;
        assert!(old.unwrap().is_none(), "the old cookie stops working");
    }

    #[tokio::test]
    async fn another_session_of_the_account_has_its_own_code_and_cooldown() {
        let world = world().await;
        let code = world.send().await.unwrap();
        let other = session::begin(
            &world.portal,
            session::Browser::default(),
            world.session.account_id,
            Stage::PasswordAccepted,
        )
        .await
        .unwrap()
        .session;
        // The other session can't ride this one's cooldown, nor burn its tries.
        let issued = create(&world.portal, &other, Purpose::SignIn, &mobile(), &[]).await;
        assert!(issued.is_ok());
        for _ in 0..MAX_WRONG_TRIES {
            let refused =
                verify(&world.portal, &other, Purpose::SignIn, &World::wrong(&code)).await;
            assert!(refused.is_err());
        }
        assert!(world.verify(&code).await.is_ok());
    }

    #[test]
    fn codes_come_from_the_whole_six_digit_range() {
        let codes: Vec<u32> = (0..20_000)
            .map(|_| {
                let code = new_code();
                assert_eq!(code.len(), 6, "{code}");
                code.parse().unwrap()
            })
            .collect();
        // Leading zeros are kept, and both ends of the range turn up.
        assert!(codes.iter().any(|c| *c < 100_000));
        assert!(codes.iter().any(|c| *c >= 900_000));
        assert!(codes.iter().all(|c| *c < 1_000_000));
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert!(distinct.len() > 19_000);
    }

    #[test]
    fn typed_codes_are_read_leniently_but_must_be_six_digits() {
        assert_eq!(normalise(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalise("123-456").as_deref(), Some("123456"));
        assert_eq!(normalise("12345"), None);
        assert_eq!(normalise("1234567"), None);
        assert_eq!(normalise("12345a"), None);
        assert_eq!(normalise("١٢٣٤٥٦"), None);
    }
}
