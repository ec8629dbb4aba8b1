//! The login gate against strangers, through the router and on both engines: typed usernames
//! no account can have are refused without being kept, delays are per username and network so
//! that a stranger elsewhere can't keep the account's owner out, a long run of failures from
//! any network makes everyone wait, and the practice can unlock patients and staff.

use crate::common;

use app::{
    caller::Caller,
    staff::StaffRole,
    store::{AuditFilter, Engine},
};
use axum::http::StatusCode;
use common::{Staff, TestPortal, CLIENT, PASSWORD, STAFF_PASSWORD};
use sqlx::Connection;

/// A stranger's network, away from the account owner's (`CLIENT`).
const ELSEWHERE: &str = "198.51.100.9";
const WRONG: &str = "wrong password!!";

async fn login_from(
    portal: &TestPortal,
    ip: &str,
    username: &str,
    password: &str,
) -> common::Reply {
    portal
        .browser_at(ip)
        .post(
            "/api/login",
            &[("username", username), ("password", password)],
        )
        .await
}

async fn staff_login_from(
    portal: &TestPortal,
    ip: &str,
    name: &str,
    password: &str,
    code: &str,
) -> common::Reply {
    portal
        .browser_at(ip)
        .post(
            "/api/staff/login",
            &[("username", name), ("password", password), ("code", code)],
        )
        .await
}

/// Kim's right details, with recovery code `n` (each works once; the clock stands still).
async fn kim_signs_in_from(
    portal: &TestPortal,
    ip: &str,
    kim: &Staff<'_>,
    n: usize,
) -> common::Reply {
    let code = &kim.recovery_codes[n];
    staff_login_from(portal, ip, "kim", STAFF_PASSWORD, code).await
}

/// How big the database is: SQLite's pages (the WAL's included), PostgreSQL's files.
async fn database_bytes(portal: &TestPortal) -> i64 {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&portal.database_url)
        .await
        .unwrap();
    let sql = match portal.portal.store.engine() {
        Engine::Sqlite => {
            "SELECT CAST(page_count * page_size AS BIGINT) \
             FROM pragma_page_count(), pragma_page_size()"
        }
        Engine::Postgres => "SELECT CAST(pg_database_size(current_database()) AS BIGINT)",
    };
    let bytes = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    bytes
}

/// 200 KB of letters and digits that don't compress: each one a different typed username.
fn huge_username(seed: u64) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            LETTERS[(state % LETTERS.len() as u64) as usize] as char
        })
        .collect()
}

async fn audit_lines(portal: &TestPortal, event: &str) -> Vec<app::store::AuditLine> {
    let filter = AuditFilter {
        event: Some(event.to_string()),
        ..Default::default()
    };
    portal
        .portal
        .store
        .audit_log(&filter, app::store::LinesFrom::Newest, 100)
        .await
        .unwrap()
}

#[tokio::test]
async fn usernames_longer_than_any_accounts_are_wrong_details_and_kept_nowhere() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    let wrong_password = login_from(&portal, CLIENT, "margaret", WRONG).await;
    let staff_wrong = staff_login_from(&portal, CLIENT, "nobody", WRONG, "000000").await;
    let before = database_bytes(&portal).await;
    for n in 0..20 {
        let typed = huge_username(n);
        let reply = login_from(&portal, CLIENT, &typed, WRONG).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
        assert_eq!(
            reply.body, wrong_password.body,
            "the same answer as a wrong password"
        );
        let reply = staff_login_from(&portal, CLIENT, &typed, WRONG, "000000").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
        assert_eq!(reply.body, staff_wrong.body);
        // Audited as refused, with no more of the typed text than a username's length.
        let cut: String = typed.chars().take(64).collect();
        let lines = portal
            .portal
            .store
            .audit_events_for_username(&cut)
            .await
            .unwrap();
        let outcomes: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| (l.event.as_str(), l.outcome.as_str()))
            .collect();
        assert_eq!(
            outcomes,
            [("login", "unknown_user"), ("staff_login", "refused")]
        );
    }
    let grown = database_bytes(&portal).await - before;
    assert!(grown < 1_000_000, "the database grew by {grown} bytes");
}

#[tokio::test]
async fn a_strangers_failures_elsewhere_dont_hold_back_a_patient_on_their_own_network() {
    let portal = TestPortal::new().await;
    portal.verified_patient("margaret").await;
    for _ in 0..6 {
        login_from(&portal, ELSEWHERE, "margaret", WRONG).await;
    }
    let stranger = login_from(&portal, ELSEWHERE, "margaret", PASSWORD).await;
    assert_eq!(stranger.status, StatusCode::TOO_MANY_REQUESTS);

    let owner = login_from(&portal, CLIENT, "margaret", PASSWORD).await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.text());
    // The owner's sign-in gives the stranger no fresh guesses.
    let stranger = login_from(&portal, ELSEWHERE, "margaret", WRONG).await;
    assert_eq!(stranger.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_strangers_failures_elsewhere_dont_hold_back_a_staff_member_on_their_own_network() {
    let portal = TestPortal::new().await;
    let kim = portal.staff("kim", StaffRole::Support).await;
    for _ in 0..6 {
        staff_login_from(&portal, ELSEWHERE, "kim", WRONG, "000000").await;
    }
    let stranger = kim_signs_in_from(&portal, ELSEWHERE, &kim, 0).await;
    assert_eq!(stranger.status, StatusCode::TOO_MANY_REQUESTS);
    let owner = kim_signs_in_from(&portal, CLIENT, &kim, 1).await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.text());
}

#[tokio::test]
async fn a_hundred_failures_across_networks_make_everyone_wait_until_support_unlocks() {
    let portal = TestPortal::new().await;
    assert_eq!(portal.settings.limits.login_failures_any_network, 100);
    portal.verified_patient("margaret").await;
    // Signed in first: signing in moves the clock, and the delays below must still stand.
    let mut sam = portal.staff("sam", StaffRole::Support).await;
    // Five from one network start its delay; 95 more, four from each of 24 others, stay under
    // theirs.
    for _ in 0..5 {
        let reply = login_from(&portal, ELSEWHERE, "margaret", WRONG).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    for n in 0..95 {
        let ip = format!("192.0.2.{}", n / 4 + 1);
        let reply = login_from(&portal, &ip, "margaret", WRONG).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "failure {n}");
    }
    for ip in [CLIENT, "192.0.2.200"] {
        let reply = login_from(&portal, ip, "margaret", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "from {ip}");
        assert!(reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("ask the practice to unlock"));
    }
    let audit = portal.audit_of("margaret").await;
    assert!(audit.contains(&("login_delay_started".into(), "limited".into())));

    // Support's unlock clears the run everywhere and every network's delay.
    let reference = sam.find("margaret").await;
    let done = sam
        .browser
        .post(
            "/api/staff/support_action",
            &[
                ("patient", reference.as_str()),
                ("action", "unlock"),
                ("reason", "called from home, verified DOB"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let reply = login_from(&portal, ELSEWHERE, "margaret", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn an_admin_unlocks_a_delayed_staff_member_from_the_team_page_and_support_cant() {
    let portal = TestPortal::new().await;
    let mut ada = portal.staff("ada", StaffRole::Admin).await;
    let mut sam = portal.staff("sam", StaffRole::Support).await;
    let kim = portal.staff("kim", StaffRole::Support).await;
    for _ in 0..6 {
        staff_login_from(&portal, CLIENT, "kim", WRONG, "000000").await;
    }
    let delayed = kim_signs_in_from(&portal, CLIENT, &kim, 2).await;
    assert_eq!(delayed.status, StatusCode::TOO_MANY_REQUESTS);

    let list = ada.browser.post("/api/staff/staff_list", &[]).await;
    let kim_listed = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "kim")
        .cloned()
        .unwrap();
    assert_eq!(kim_listed["login_delayed"], true);

    let refused = sam
        .browser
        .post("/api/staff/unlock_staff", &[("username", "kim")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let still = kim_signs_in_from(&portal, CLIENT, &kim, 3).await;
    assert_eq!(still.status, StatusCode::TOO_MANY_REQUESTS);

    let nobody = ada
        .browser
        .post("/api/staff/unlock_staff", &[("username", "nobody")])
        .await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = ada
        .browser
        .post("/api/staff/unlock_staff", &[("username", "kim")])
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let signed_in = kim_signs_in_from(&portal, CLIENT, &kim, 4).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());

    let unlocked = audit_lines(&portal, "staff_unlocked").await;
    assert_eq!(unlocked.len(), 1);
    assert_eq!(unlocked[0].staff.as_deref(), Some("ada"));
    assert_eq!(unlocked[0].detail.as_deref(), Some("kim (support)"));
}

#[tokio::test]
async fn the_command_line_unlocks_a_staff_member_delayed_on_every_network() {
    let portal = TestPortal::with(|s| s.limits.login_failures_any_network = 6).await;
    let kim = portal.staff("kim", StaffRole::Support).await;
    for n in 0..6 {
        let ip = format!("192.0.2.{}", n + 1);
        staff_login_from(&portal, &ip, "kim", WRONG, "000000").await;
    }
    let delayed = kim_signs_in_from(&portal, CLIENT, &kim, 5).await;
    assert_eq!(delayed.status, StatusCode::TOO_MANY_REQUESTS);

    // What `server staff unlock kim` runs.
    let member = app::staff::accounts::unlock(&portal.portal, &Caller::default(), None, "kim")
        .await
        .unwrap();
    assert_eq!(member.map(|m| m.username).as_deref(), Some("kim"));
    let signed_in = kim_signs_in_from(&portal, CLIENT, &kim, 6).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text());

    let unlocked = audit_lines(&portal, "staff_unlocked").await;
    assert_eq!(unlocked.len(), 1);
    assert_eq!(unlocked[0].staff, None);
    assert_eq!(
        unlocked[0].detail.as_deref(),
        Some("kim (support) from the command line")
    );
    let nobody = app::staff::accounts::unlock(&portal.portal, &Caller::default(), None, "nobody")
        .await
        .unwrap();
    assert!(nobody.is_none());
}

#[tokio::test]
async fn a_patient_login_can_never_count_against_a_staff_members_sign_in() {
    let portal = TestPortal::new().await;
    let kim = portal.staff("kim", StaffRole::Support).await;
    // "staff:kim" is how the gate names kim's staff sign-in; typed at the patients' login it is
    // no username at all, and counts against nobody.
    for _ in 0..6 {
        let reply = login_from(&portal, ELSEWHERE, "staff:kim", WRONG).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    }
    let from_elsewhere = kim_signs_in_from(&portal, ELSEWHERE, &kim, 0).await;
    assert_eq!(
        from_elsewhere.status,
        StatusCode::OK,
        "{}",
        from_elsewhere.text()
    );
}
