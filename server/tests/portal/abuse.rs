//! Attacks that send many requests at once or lean on one patient's allowances: every limit
//! holds when requests arrive in parallel, and nobody can use up a patient's own.

use crate::common;

use axum::http::StatusCode;
use common::{registration, TestPortal, PASSWORD};
use futures::future::join_all;

#[tokio::test]
async fn parallel_guesses_get_no_more_than_five_tries() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    let code = portal.last_code().await;
    let cookie = browser.cookie.clone();
    let guesses: Vec<String> = (0..20)
        .map(|n| format!("{:06}", (code.parse::<u32>().unwrap() + 1 + n) % 1_000_000))
        .collect();
    let bodies: Vec<String> = guesses
        .iter()
        .map(|guess| format!("code={guess}"))
        .collect();
    let replies = join_all(
        bodies
            .iter()
            .map(|body| portal.post_raw("/api/verify_code", body, cookie.as_deref())),
    )
    .await;
    let compared = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK || r.text().contains("tries left"))
        .count();
    assert!(compared <= 4, "{compared} guesses were compared");
    // Every try was counted: the right code, after them, no longer works.
    let right = portal
        .post_raw(
            "/api/verify_code",
            &format!("code={code}"),
            cookie.as_deref(),
        )
        .await;
    assert_eq!(
        right.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        right.text()
    );
}

#[tokio::test]
async fn parallel_sends_send_one_code() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    let cookie = browser.cookie.clone();
    let replies =
        join_all((0..10).map(|_| portal.post_raw("/api/send_code", "", cookie.as_deref()))).await;
    let sent = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(sent, 1);
    assert!(replies
        .iter()
        .all(|r| r.status == StatusCode::OK || r.status == StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(portal.texts().await.len(), 1);
}

#[tokio::test]
async fn parallel_password_guesses_are_all_counted() {
    let portal = TestPortal::new().await;
    let mut patient = portal.browser();
    patient.register_and_sign_in("margaret").await;
    patient.post("/api/logout", &[]).await;
    let body = common::form(&[("username", "margaret"), ("password", "wrong password!!")]);
    let replies = join_all((0..10).map(|_| portal.post_raw("/api/login", &body, None))).await;
    let checked = replies
        .iter()
        .filter(|r| r.status != StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(checked <= 5, "{checked} passwords were checked");
    // Every guess was counted: the right password must wait now too.
    let right = common::form(&[("username", "margaret"), ("password", PASSWORD)]);
    let reply = portal.post_raw("/api/login", &right, None).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_run_of_failures_is_forgotten_after_a_quiet_day() {
    let portal = TestPortal::new().await;
    let mut patient = portal.browser();
    patient.register_and_sign_in("margaret").await;
    patient.post("/api/logout", &[]).await;
    let login = |password: &'static str| {
        let form = common::form(&[("username", "margaret"), ("password", password)]);
        let portal = &portal;
        async move { portal.post_raw("/api/login", &form, None).await }
    };
    for _ in 0..4 {
        assert_eq!(
            login("wrong password!!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    portal.clock.advance_seconds(25 * 3600);
    for _ in 0..4 {
        assert_eq!(
            login("wrong password!!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(login(PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn nobody_else_can_use_up_the_texts_to_a_patients_verified_number() {
    let portal = TestPortal::with(|s| s.limits.sends_per_number_day = 2).await;
    let mut victim = portal.browser();
    victim.register_and_sign_in("margaret").await;
    victim.post("/api/logout", &[]).await;

    // Someone registers with the victim's number and asks for codes until refused.
    let mut attacker = portal.browser();
    attacker.register("mallory").await;
    for _ in 0..2 {
        attacker.post("/api/send_code", &[]).await;
        portal.clock.advance_seconds(30);
    }
    let refused = attacker.post("/api/send_code", &[]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);

    // The victim can still sign in: their verified number has its own allowance.
    let mut victim = portal.browser();
    let reply = victim
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.json()["code_sent"], true, "{}", reply.text());
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let portal = TestPortal::with(|s| s.limits.registrations_per_ip_hour = 2).await;
    assert_eq!(
        portal.browser().register("first").await.status,
        StatusCode::OK
    );
    // A refused attempt counts too: probing for usernames is registration attempts.
    let probe = portal.browser().register("first").await;
    assert_eq!(probe.status, StatusCode::UNPROCESSABLE_ENTITY);
    let third = portal.browser().register("third").await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    portal.clock.advance_seconds(3601);
    assert_eq!(
        portal.browser().register("third").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_pending_session_sees_only_the_ending_of_a_verified_number() {
    let portal = TestPortal::new().await;
    let mut patient = portal.browser();
    patient.register_and_sign_in("margaret").await;
    patient.post("/api/logout", &[]).await;
    portal.clock.advance_seconds(60);
    let mut browser = portal.browser();
    browser
        .post(
            "/api/login",
            &[("username", "margaret"), ("password", PASSWORD)],
        )
        .await;
    let step = browser.post("/api/code_step", &[]).await;
    assert_eq!(step.json()["mobile_ending"], "23");
    assert_eq!(step.json()["number_on_file"], "");
    assert!(!step.text().contains("555"));
}

#[tokio::test]
async fn a_change_refused_by_a_limit_keeps_the_verified_number() {
    let portal = TestPortal::with(|s| s.limits.sends_per_account_hour = 1).await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    let refused = browser
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let me = browser.post("/api/me", &[]).await.json();
    assert_eq!(me["mobile"], "+64215550123");
    assert_eq!(me["mobile_verified"], true);
}

#[tokio::test]
async fn behind_a_trusted_proxy_every_forwarded_header_is_read() {
    let first = TestPortal::new().await;
    let sender = std::sync::Arc::new(app::sms::ConsoleSms::new(
        first.portal.store.clone(),
        first.portal.clock.clone(),
    ));
    let portal = first
        .restart(
            sender,
            server::Wiring {
                twilio_callbacks: None,
                // The test's connections come from 203.0.113.7: call that the proxy.
                trusted_proxies: vec!["203.0.113.0/24".parse().unwrap()],
                ..Default::default()
            },
        )
        .await;
    let request = axum::http::Request::post("/api/register")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "198.51.100.99")
        .header("x-forwarded-for", "192.0.2.44")
        .body(axum::body::Body::from(common::form(&registration(
            "margaret",
            "021 555 0123",
        ))))
        .unwrap();
    assert_eq!(portal.send(request).await.status, StatusCode::OK);
    let account = portal.account("margaret").await;
    let events = portal.portal.store.audit_events(account.id).await.unwrap();
    assert_eq!(
        events[0].ip, "192.0.2.44",
        "the hop the proxy added, not the one the client claimed"
    );
}

#[tokio::test]
async fn ipv4_clients_seen_through_an_ipv6_socket_are_trusted_audited_and_limited_as_ipv4() {
    let first = TestPortal::with(|s| s.limits.registrations_per_ip_hour = 1).await;
    let sender = std::sync::Arc::new(app::sms::ConsoleSms::new(
        first.portal.store.clone(),
        first.portal.clock.clone(),
    ));
    let portal = first
        .restart(
            sender,
            server::Wiring {
                trusted_proxies: vec!["203.0.113.0/24".parse().unwrap()],
                ..Default::default()
            },
        )
        .await;
    // A server bound to [::] sees the IPv4 proxy as ::ffff:203.0.113.7.
    let request = axum::http::Request::post("/api/register")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "192.0.2.44")
        .body(axum::body::Body::from(common::form(&registration(
            "margaret",
            "021 555 0123",
        ))))
        .unwrap();
    let reply = portal
        .send_from("::ffff:203.0.113.7".parse().unwrap(), request)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let account = portal.account("margaret").await;
    let events = portal.portal.store.audit_events(account.id).await.unwrap();
    assert_eq!(events[0].ip, "192.0.2.44", "the proxy was trusted");

    // A client talking to us directly is audited and limited by its IPv4 address.
    let mut mapped = portal.browser_at("::ffff:198.51.100.20");
    let reply = mapped
        .post("/api/register", &registration("ruth", "021 555 0124"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let account = portal.account("ruth").await;
    let events = portal.portal.store.audit_events(account.id).await.unwrap();
    assert_eq!(events[0].ip, "198.51.100.20");
    let mut plain = portal.browser_at("198.51.100.20");
    let reply = plain
        .post("/api/register", &registration("hemi", "021 555 0125"))
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "one address");
}

#[tokio::test]
async fn one_visitor_cannot_use_up_the_daily_cap_and_lock_patients_out() {
    let portal = TestPortal::with(|s| s.practice.daily_text_budget = 3).await;
    let mut patient = portal.browser();
    patient.register_and_sign_in("margaret").await; // one text from the pool
    patient.post("/api/logout", &[]).await;

    // Someone registers accounts and asks for codes until the portal-wide pool is gone.
    let mut refused = None;
    for n in 0..5 {
        let mut attacker = portal.browser_at("198.51.100.9");
        let number = format!("021 555 01{n:02}");
        attacker
            .post(
                "/api/register",
                &common::registration(&format!("mallory{n}"), &number),
            )
            .await;
        let reply = attacker.post("/api/send_code", &[]).await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("the daily pool runs out");
    assert!(refused
        .text()
        .contains("all the text messages it can today"));

    // A patient with a verified number still gets their sign-in code, and signs in.
    portal.clock.advance_seconds(60);
    let mut patient = portal.browser();
    let login = patient.log_in("margaret").await;
    assert_eq!(login.json()["code_sent"], true, "{}", login.text());
    let code = portal.last_code().await;
    let reply = patient.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn a_second_session_of_the_account_cannot_burn_the_first_ones_tries() {
    let portal = TestPortal::new().await;
    let mut setup = portal.browser();
    setup.register_and_sign_in("margaret").await;
    setup.post("/api/logout", &[]).await;
    portal.clock.advance_seconds(60);

    let mut patient = portal.browser();
    patient.log_in("margaret").await;
    let code = portal.last_code().await;
    // Someone with the password opens a second session: it gets its own code (no cooldown to
    // ride), and its wrong guesses are its own.
    let mut other = portal.browser_at("198.51.100.9");
    let login = other.log_in("margaret").await;
    assert_eq!(login.json()["code_sent"], true, "{}", login.text());
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..6 {
        other.post("/api/verify_code", &[("code", wrong)]).await;
    }
    let reply = patient.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn codes_across_sessions_are_capped_per_account() {
    let portal = TestPortal::with(|s| s.limits.sends_per_account_hour = 3).await;
    let mut setup = portal.browser();
    setup.register_and_sign_in("margaret").await; // one code
    setup.post("/api/logout", &[]).await;
    let mut sent = 0;
    for n in 0..4 {
        let mut session = portal.browser_at(&format!("198.51.100.{n}"));
        if session.log_in("margaret").await.json()["code_sent"] == true {
            sent += 1;
        }
    }
    assert_eq!(
        sent, 2,
        "three codes an hour for the account, however many sessions"
    );
}

#[tokio::test]
async fn ipv6_clients_are_limited_per_network_not_per_address() {
    let portal = TestPortal::with(|s| s.limits.registrations_per_ip_hour = 2).await;
    let register = |ip: &'static str, name: &'static str| {
        let portal = &portal;
        async move {
            portal
                .browser_at(ip)
                .post("/api/register", &registration(name, "021 555 0123"))
                .await
                .status
        }
    };
    assert_eq!(register("2001:db8:1:2::1", "first").await, StatusCode::OK);
    assert_eq!(register("2001:db8:1:2::2", "second").await, StatusCode::OK);
    // A third address in the same /64 is the same network.
    assert_eq!(
        register("2001:db8:1:2:ffff::3", "third").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another network is not.
    assert_eq!(register("2001:db8:1:3::1", "third").await, StatusCode::OK);
}

#[tokio::test]
async fn right_passwords_are_limited_per_account_too() {
    let portal = TestPortal::with(|s| s.limits.logins_per_account_hour = 3).await;
    let mut setup = portal.browser();
    setup.register_and_sign_in("margaret").await;
    setup.post("/api/logout", &[]).await;
    for _ in 0..3 {
        portal.clock.advance_seconds(31);
        let reply = portal.browser().log_in("margaret").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    let refused = portal.browser().log_in("margaret").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers.contains_key("retry-after"));
    let audit = portal.audit_of("margaret").await;
    assert!(
        audit.contains(&("login".into(), "limited".into())),
        "{audit:?}"
    );
}

#[tokio::test]
async fn right_passwords_are_limited_per_network_too() {
    let portal = TestPortal::with(|s| s.limits.logins_per_ip_hour = 2).await;
    for name in ["ann", "bob", "cat"] {
        let mut setup = portal.browser_at("198.51.100.1");
        setup.register_and_sign_in(name).await;
        setup.post("/api/logout", &[]).await;
    }
    assert_eq!(portal.browser().log_in("ann").await.status, StatusCode::OK);
    assert_eq!(portal.browser().log_in("bob").await.status, StatusCode::OK);
    let refused = portal.browser().log_in("cat").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_full_hashing_queue_answers_503_with_retry_after() {
    // One place in the queue in front of the hashing threads.
    let portal = TestPortal::with(|s| s.password_queue = 1).await;
    let body = common::form(&[("username", "nobody"), ("password", "not a real password")]);
    // The first unknown username prepares the dummy hash; later ones only verify.
    assert_eq!(
        portal.post_raw("/api/login", &body, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Keep every hashing thread busy with the costliest hash the portal accepts.
    let costly =
        "$argon2id$v=19$m=65536,t=10,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut hogs = Vec::new();
    while hogs.len() < threads {
        let passwords = portal.portal.passwords.clone();
        let hog = tokio::spawn(async move { passwords.verify("x", costly).await });
        // Give a thread time to take it off the queue. One that finished at once was turned
        // away (the queue was still full): try again.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if !hog.is_finished() {
            hogs.push(hog);
        }
    }

    // Two logins at once: one waits in the queue, the other is turned away at once.
    let (first, second) = futures::join!(
        portal.post_raw("/api/login", &body, None),
        portal.post_raw("/api/login", &body, None)
    );
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::UNAUTHORIZED, StatusCode::SERVICE_UNAVAILABLE]
    );
    let busy = [first, second]
        .into_iter()
        .find(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .unwrap();
    assert_eq!(busy.headers["retry-after"], "2");
    assert!(busy.json()["message"]
        .as_str()
        .unwrap()
        .contains("very busy"));
    for hog in hogs {
        assert!(hog.await.unwrap().is_ok());
    }
}

#[tokio::test]
async fn accounts_sharing_a_verified_number_share_its_daily_sign_in_codes() {
    let portal = TestPortal::with(|s| {
        s.limits.sign_in_codes_per_number_day = 2;
        // The three registrations' codes use up the portal-wide pool.
        s.practice.daily_text_budget = 3;
    })
    .await;
    // Three accounts verify the same number.
    for name in ["ann", "bob", "cat"] {
        let mut setup = portal.browser();
        setup.register_and_sign_in(name).await;
        setup.post("/api/logout", &[]).await;
    }
    portal.clock.advance_seconds(60);
    let sent = |name: &'static str| {
        let portal = &portal;
        async move { portal.browser().log_in(name).await.json()["code_sent"] == true }
    };
    // The pool is empty, yet sign-in codes to the verified number still go, up to its own cap,
    // whichever accounts ask.
    assert!(sent("ann").await);
    assert!(sent("bob").await);
    assert!(!sent("cat").await, "two sign-in codes a day for the number");
    assert!(!sent("ann").await);
    let texts = portal.texts().await.len();
    assert_eq!(texts, 5, "three registrations and two sign-ins");
    // A day later the number has its allowance again.
    portal.clock.advance_seconds(24 * 3600);
    assert!(sent("cat").await);
}

#[tokio::test]
async fn parallel_number_changes_tell_the_old_number_once_under_its_own_cap() {
    // One sign-in code, then changes of a code and a notice each.
    let portal = TestPortal::with(|s| {
        s.limits.sends_per_account_hour = 5;
        s.limits.sends_per_ip_hour = 1_000;
    })
    .await;
    let mut patient = portal.browser();
    patient.register_and_sign_in("margaret").await;
    let old = "+64215550123";
    let notices = || async {
        portal
            .texts()
            .await
            .into_iter()
            .filter(|(to, body)| to == old && body.contains("a new number ending"))
            .count()
    };
    let body = common::form(&[("mobile", "022 123 4567")]);
    let cookie = patient.cookie.clone();
    let burst = || {
        join_all((0..40).map(|_| portal.post_raw("/api/change_mobile", &body, cookie.as_deref())))
    };
    for round in 1..=2 {
        let replies = burst().await;
        assert!(
            replies
                .iter()
                .all(|r| r.status == StatusCode::OK || r.status == StatusCode::TOO_MANY_REQUESTS),
            "{:?}",
            replies.iter().map(|r| r.text()).collect::<Vec<_>>()
        );
        assert_eq!(
            replies
                .iter()
                .filter(|r| r.status == StatusCode::OK)
                .count(),
            1
        );
        assert_eq!(notices().await, round, "one notice for each code issued");
        portal.clock.advance_seconds(30);
    }
    // The notices have their own cap (DESIGN's table of texts), so they used none of the
    // account's five texts an hour: two more changes go, then the codes reach it.
    for round in 3..=4 {
        let replies = burst().await;
        assert_eq!(
            replies
                .iter()
                .filter(|r| r.status == StatusCode::OK)
                .count(),
            1
        );
        assert_eq!(notices().await, round);
        portal.clock.advance_seconds(30);
    }
    let refused = burst().await;
    assert!(refused
        .iter()
        .all(|r| r.status == StatusCode::TOO_MANY_REQUESTS));
    assert!(
        refused[0].text().contains("a lot of codes"),
        "{}",
        refused[0].text()
    );
    assert_eq!(notices().await, 4);
}

#[tokio::test]
async fn a_notice_never_holds_a_change_back() {
    // The sign-in code leaves one text of two: the new number's code takes it, and the notice
    // to the old number passes its own cap, not the account's.
    let portal = TestPortal::with(|s| s.limits.sends_per_account_hour = 2).await;
    let mut patient = portal.browser();
    patient.register_and_sign_in("margaret").await;
    let saved = patient
        .post("/api/change_mobile", &[("mobile", "022 123 4567")])
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    let me = patient.post("/api/me", &[]).await.json();
    assert_eq!(me["pending_mobile"], "+64221234567", "{me}");
    let texts = portal.texts().await;
    assert_eq!(texts.len(), 3, "{texts:#?}");
    assert!(texts[1].1.contains("a new number ending"));
}

#[tokio::test]
async fn a_clinics_shared_address_never_runs_out_of_sign_in_codes() {
    // Patients signing in from a clinic's one address: their codes go to numbers already
    // verified, which DESIGN's table of texts holds to the account and the number only, never
    // to the network's allowance (which a waiting room would use up).
    let portal = TestPortal::with(|s| s.limits.sends_per_ip_hour = 3).await;
    let clinic = "198.51.100.77";
    let mut registered = Vec::new();
    for n in 0..5 {
        let name = format!("patient{n}");
        let mut browser = portal.browser_at(&format!("203.0.113.{}", 10 + n));
        let mobile = format!("021 555 01{n:02}");
        assert_eq!(
            browser
                .post("/api/register", &common::registration(&name, &mobile))
                .await
                .status,
            StatusCode::OK
        );
        browser.post("/api/send_code", &[]).await;
        let code = portal.last_code().await;
        browser.post("/api/verify_code", &[("code", &code)]).await;
        registered.push(name);
    }
    for name in &registered {
        let login = portal.browser_at(clinic).log_in(name).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text());
        assert_eq!(login.json()["code_sent"], true, "{name}: {}", login.text());
    }
    // A code to a number not yet verified still counts against the network.
    for n in 0..3 {
        let mut browser = portal.browser_at(clinic);
        browser
            .post(
                "/api/register",
                &common::registration(&format!("newcomer{n}"), &format!("021 555 02{n:02}")),
            )
            .await;
        assert_eq!(
            browser.post("/api/send_code", &[]).await.status,
            StatusCode::OK
        );
    }
    let mut browser = portal.browser_at(clinic);
    browser
        .post(
            "/api/register",
            &common::registration("newcomer9", "021 555 0299"),
        )
        .await;
    assert_eq!(
        browser.post("/api/send_code", &[]).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}
