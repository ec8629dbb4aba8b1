//! A practice group's scale, on a small size: the demo data generator, support's search read from
//! its indexes, audit pages keyed by line, and the sweeps. The bench (`cargo bench -p server
//! --bench scale`) runs the same code on a million patients.

use crate::common;

use app::{
    clock::DAY,
    demo_data::{self, DemoError, Scale},
    staff::StaffRole,
    store::{AuditRow, PatientSearch},
};
use axum::http::StatusCode;
use common::TestPortal;
use sqlx::Row;

const SMALL: Scale = Scale {
    patients: 400,
    audit_lines: 6_000,
};

async fn generated() -> TestPortal {
    let portal = TestPortal::new().await;
    demo_data::generate(&portal.portal, SMALL, |_| {})
        .await
        .unwrap();
    portal
}

/// A connection of the test's own, to look at the tables directly.
async fn database(portal: &TestPortal) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&portal.database_url).await.unwrap()
}

async fn count(db: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn generated_data_fills_every_table_and_a_database_with_a_real_patient_is_refused() {
    let portal = generated().await;
    let db = database(&portal).await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM accounts").await, 400);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM audit_events").await, 6_000);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM sessions").await, 400);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM sms_outbox").await, 400);
    assert!(count(&db, "SELECT COUNT(*) FROM challenges").await > 10);
    assert!(count(&db, "SELECT COUNT(*) FROM limit_events").await > 10);
    // Skewed: the busiest patient has many times the lines of the middle one.
    let mut per_patient: Vec<i64> = sqlx::query(
        "SELECT COUNT(*) AS n FROM audit_events WHERE account_id IS NOT NULL GROUP BY account_id",
    )
    .fetch_all(&db)
    .await
    .unwrap()
    .iter()
    .map(|row| row.get::<i64, _>("n"))
    .collect();
    per_patient.sort_unstable();
    let (busiest, middle) = (
        per_patient[per_patient.len() - 1],
        per_patient[per_patient.len() / 2],
    );
    assert!(busiest > 10 * middle, "busiest {busiest}, middle {middle}");
    // Lines run forward in time over six years.
    let (first, last): (i64, i64) = sqlx::query_as("SELECT MIN(at), MAX(at) FROM audit_events")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(last - first > 5 * 365 * DAY);

    // A database the generator filled may be filled again.
    demo_data::generate(
        &portal.portal,
        Scale {
            patients: 10,
            audit_lines: 10,
        },
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM accounts").await, 410);

    // One real patient, and it is somebody's practice.
    portal.browser().register_and_sign_in("realpatient").await;
    let refused = demo_data::generate(&portal.portal, SMALL, |_| {}).await;
    assert!(
        matches!(&refused, Err(DemoError::SomebodysPractice(what)) if what == "1 patient(s) that the generator did not make"),
        "{refused:?}"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM accounts").await, 411);
}

#[tokio::test]
async fn a_practice_on_its_first_day_is_never_filled_with_demo_data() {
    // No patients yet, but a staff member, an audit line, or settings someone saved.
    for day_one in ["staff", "audit", "settings"] {
        let portal = TestPortal::new().await;
        match day_one {
            "staff" => {
                portal.add_staff("ada", app::staff::StaffRole::Admin).await;
            }
            "audit" => {
                let entry = app::audit::Entry::new(
                    app::audit::Event::SettingChanged,
                    app::audit::Outcome::Ok,
                );
                app::audit::record(&portal.portal, &app::caller::Caller::default(), entry).await;
            }
            _ => {
                let mut practice = (*portal.portal.practice()).clone();
                practice.practice_name = "Harbourside Medical Centre".into();
                portal.save_practice(practice).await;
            }
        }
        let refused = demo_data::generate(&portal.portal, SMALL, |_| {}).await;
        assert!(
            matches!(refused, Err(DemoError::SomebodysPractice(_))),
            "{day_one}: {refused:?}"
        );
        let patients = portal.portal.store.demo_state().await.unwrap().patients;
        assert_eq!(patients, 0, "{day_one}");
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Patient {
    id: i64,
    username_key: String,
    given: String,
    family: String,
    born: String,
    mobile: Option<String>,
}

/// What each search should find, worked out from every patient the slow way: the search's
/// meaning and order as before the indexes.
fn expected(everyone: &[Patient], search: &PatientSearch) -> Vec<i64> {
    let mut found: Vec<&Patient> = everyone
        .iter()
        .filter(|p| match search {
            PatientSearch::DateOfBirth(date) => &p.born == date,
            PatientSearch::MobileEnding(digits) => {
                p.mobile.as_deref().is_some_and(|m| m.ends_with(digits))
            }
            PatientSearch::Words(words) => words.iter().all(|w| {
                let w = w.to_lowercase();
                p.given.to_lowercase().starts_with(&w)
                    || p.family.to_lowercase().starts_with(&w)
                    || p.username_key.starts_with(&w)
            }),
        })
        .collect();
    found.sort_by_key(|p| (p.family.to_lowercase(), p.given.to_lowercase(), p.id));
    found.iter().map(|p| p.id).collect()
}

#[tokio::test]
async fn search_finds_by_name_prefixes_username_birth_date_and_mobile_ending_in_name_order() {
    let portal = generated().await;
    let db = database(&portal).await;
    let everyone: Vec<Patient> = sqlx::query(
        "SELECT id, username_key, given_name, family_name, date_of_birth, mobile FROM accounts",
    )
    .fetch_all(&db)
    .await
    .unwrap()
    .iter()
    .map(|row| Patient {
        id: row.get("id"),
        username_key: row.get("username_key"),
        given: row.get("given_name"),
        family: row.get("family_name"),
        born: row.get("date_of_birth"),
        mobile: row.get("mobile"),
    })
    .collect();
    let someone = &everyone[17];
    // The demo data is random, so the words are the commonest the data holds, not fixed names
    // it may lack: a family name ("smi" of Smith, most runs) and a given name's first three
    // letters ("Mar": Margaret, Mary, Martin…; 400 patients over 65 such beginnings give the
    // commonest at least 7).
    let family = commonest(everyone.iter().map(|p| p.family.as_str()));
    let given = commonest(everyone.iter().map(|p| &p.given[..3]));
    let words = |w: &[&str]| PatientSearch::Words(w.iter().map(|s| s.to_string()).collect());
    let searches = [
        words(&[&family[..3].to_lowercase()]),
        words(&[&given]),
        words(&[&given.to_lowercase(), &family.to_uppercase()]),
        words(&["j", "w"]),
        words(&[&someone.username_key[..someone.username_key.len() - 1]]),
        words(&[&someone.username_key]),
        words(&["zz"]),
        PatientSearch::DateOfBirth(someone.born.clone()),
        PatientSearch::MobileEnding(someone.mobile.clone().unwrap()[10..].to_string()),
        PatientSearch::MobileEnding(someone.mobile.clone().unwrap()[9..].to_string()),
        PatientSearch::MobileEnding("9999".into()),
    ];
    for search in &searches {
        let want = expected(&everyone, search);
        let got: Vec<i64> = portal
            .portal
            .store
            .search_patients(search, 1_000, 0)
            .await
            .unwrap()
            .iter()
            .map(|p| p.id.0)
            .collect();
        assert_eq!(got, want, "{search:?}");
        // Pages are slices of the same order.
        let page_two: Vec<i64> = portal
            .portal
            .store
            .search_patients(search, 5, 5)
            .await
            .unwrap()
            .iter()
            .map(|p| p.id.0)
            .collect();
        assert_eq!(
            page_two,
            want.iter().skip(5).take(5).copied().collect::<Vec<_>>()
        );
    }
    // Names repeat: the searches found something to order, over more than one page of five.
    assert!(!expected(&everyone, &searches[0]).is_empty());
    assert!(expected(&everyone, &searches[1]).len() > 5);
}

/// The value seen most often (the first in order among equals), of names one word long.
fn commonest<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for value in values.filter(|v| v.chars().all(|c| c.is_ascii_alphabetic())) {
        *counts.entry(value).or_default() += 1;
    }
    let most = counts.values().copied().max().unwrap_or_default();
    counts
        .into_iter()
        .find(|(_, n)| *n == most)
        .map(|(v, _)| v.to_string())
        .unwrap_or_default()
}

async fn note(portal: &TestPortal, detail: &str) {
    portal
        .portal
        .store
        .record_audit(
            &portal.secret.audit_key(),
            &AuditRow {
                at: portal.clock_now(),
                account_id: None,
                username: None,
                staff_id: None,
                ip: "192.0.2.1".into(),
                event: "setting_changed".into(),
                outcome: "ok".into(),
                detail: Some(detail.into()),
                request_id: None,
            },
        )
        .await
        .unwrap();
}

/// One page as an admin sees it: the lines' details, and the newer and older pages' keys.
async fn page(
    admin: &mut common::Browser<'_>,
    filters: &[(&str, &str)],
    key: Option<(&str, i64)>,
) -> (Vec<String>, Option<i64>, Option<i64>) {
    let key_value = key.map(|(_, k)| k.to_string());
    let mut pairs = filters.to_vec();
    if let (Some((name, _)), Some(value)) = (key, key_value.as_deref()) {
        pairs.push((name, value));
    }
    let reply = admin.post("/api/staff/audit_log", &pairs).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let json = reply.json();
    let details = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["detail"].as_str().unwrap_or_default().to_string())
        .collect();
    let key = |name: &str| json[name].as_i64();
    (details, key("newer"), key("older"))
}

#[tokio::test]
async fn audit_pages_neither_skip_nor_repeat_a_line_when_new_lines_arrive_between_pages() {
    let portal = TestPortal::new().await;
    let mut admin = portal.staff("ada", StaffRole::Admin).await.browser;
    for n in 0..120 {
        note(&portal, &format!("line {n}")).await;
    }
    let lines = |range: std::ops::Range<usize>| -> Vec<String> {
        range.rev().map(|n| format!("line {n}")).collect()
    };
    for filters in [vec![("event", "setting_changed")], vec![]] {
        let first = page(&mut admin, &filters, None).await;
        assert_eq!(first.0, lines(70..120));
        assert_eq!(first.1, None, "nothing is newer than the newest page");
        // Lines written while the admin reads page one.
        for n in 0..10 {
            note(&portal, &format!("late {n}")).await;
        }
        let second = page(&mut admin, &filters, Some(("before", first.2.unwrap()))).await;
        assert_eq!(second.0, lines(20..70));
        let third = page(&mut admin, &filters, Some(("before", second.2.unwrap()))).await;
        assert!(third.0.starts_with(&lines(0..20)), "{:?}", third.0);
        if filters.is_empty() {
            // Then the admin's own sign-in, older than every line written here.
            assert!(third.0.len() > 20);
        } else {
            assert_eq!(third.0.len(), 20);
            assert_eq!(third.2, None, "the oldest page has no older one");
        }
        // Back from page two: page one's lines exactly, and the late lines past them.
        let back = page(&mut admin, &filters, Some(("after", second.1.unwrap()))).await;
        assert_eq!(back.0, first.0);
        let newest = page(&mut admin, &filters, Some(("after", back.1.unwrap()))).await;
        assert_eq!(
            newest.0,
            (0..10)
                .rev()
                .map(|n| format!("late {n}"))
                .collect::<Vec<_>>()
        );
        assert_eq!(newest.1, None);
        assert!(newest.2.is_some());
        // Both runs see the same lines: forget the late ones for the second.
        let db = database(&portal).await;
        sqlx::query("DELETE FROM audit_events WHERE detail LIKE 'late %'")
            .execute(&db)
            .await
            .unwrap();
    }
    // A key that isn't a number is a refusal, not a fault.
    let reply = admin
        .post("/api/staff/audit_log", &[("before", "yesterday")])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sweeps_delete_what_has_ended_and_keep_what_is_still_used() {
    let portal = generated().await;
    let db = database(&portal).await;
    let rows = |table: &'static str| {
        let db = db.clone();
        async move { count(&db, &format!("SELECT COUNT(*) FROM {table}")).await }
    };
    // A text still waiting to go is never swept, however old.
    sqlx::query(
        "INSERT INTO sms_outbox (to_number, status, attempts, created_at, next_attempt_at, \
         give_up_at) VALUES ('+447700900001', 'pending', 0, $1, $1, $1)",
    )
    .bind(portal.clock_now() - 200 * DAY)
    .execute(&db)
    .await
    .unwrap();
    let (sessions, codes, texts, events) = (
        rows("sessions").await,
        rows("challenges").await,
        rows("sms_outbox").await,
        rows("limit_events").await,
    );

    // Now: nothing has ended long enough.
    let swept = portal.portal.store.sweep(portal.clock_now()).await.unwrap();
    assert_eq!(swept.total(), 0, "{swept:?}");
    assert_eq!(rows("sessions").await, sessions);
    assert_eq!(rows("challenges").await, codes);

    // Two days on: sessions (12 hours at most), codes and limit events have gone; texts stay
    // but for those that have now been finished for 90 days.
    portal.clock.advance_seconds(2 * 24 * 3600);
    let finished_long_ago = |now: i64| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM sms_outbox WHERE status <> 'pending' AND created_at < $1",
            )
            .bind(now - 90 * DAY)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    let gone = finished_long_ago(portal.clock_now()).await;
    let swept = portal.portal.store.sweep(portal.clock_now()).await.unwrap();
    assert_eq!(swept.of("sms_outbox") as i64, gone);
    assert_eq!(swept.of("sessions") as i64, sessions);
    // Codes go with their sessions, or on their own a day after they expire.
    assert_eq!(swept.of("limit_events") as i64, events);
    for table in ["sessions", "challenges", "limit_events"] {
        assert_eq!(rows(table).await, 0, "{table}");
    }
    assert_eq!(rows("sms_outbox").await, texts - gone);
    assert_eq!(rows("accounts").await, 400, "patients are never swept");
    assert_eq!(rows("audit_events").await, 6_000, "nor is the audit");

    // Past 90 days: finished texts go; the one waiting stays.
    portal.clock.advance_seconds(90 * 24 * 3600);
    let swept = portal.portal.store.sweep(portal.clock_now()).await.unwrap();
    assert_eq!(swept.of("sms_outbox") as i64, texts - gone - 1);
    assert_eq!(rows("sms_outbox").await, 1);
    assert_eq!(rows("audit_events").await, 6_000);
}

#[tokio::test]
async fn a_date_range_finds_lines_written_a_little_out_of_time_order() {
    use app::{clock::MINUTE, store::AuditFilter};
    let portal = TestPortal::new().await;
    let day = |n: i64| 20_000 * DAY + n * DAY;
    // In the order written: some instances' clocks are a few minutes behind others'.
    let written = [
        ("a", day(1) + 600 * MINUTE),
        ("b", day(2) + 10 * MINUTE),
        ("c", day(2) - 20 * MINUTE),
        ("d", day(3) + 30 * MINUTE),
        ("e", day(3) - 40 * MINUTE),
        ("f", day(4)),
    ];
    for (name, at) in written {
        portal
            .portal
            .store
            .record_audit(
                &portal.secret.audit_key(),
                &AuditRow {
                    at,
                    account_id: None,
                    username: None,
                    staff_id: None,
                    ip: "192.0.2.1".into(),
                    event: "setting_changed".into(),
                    outcome: "ok".into(),
                    detail: Some(name.into()),
                    request_id: None,
                },
            )
            .await
            .unwrap();
    }
    for (from, until, want) in [
        (day(1), day(2), vec!["c", "a"]),
        (day(2), day(3), vec!["e", "b"]),
        (day(3), day(5), vec!["f", "d"]),
        (day(1), day(5), vec!["f", "e", "d", "c", "b", "a"]),
        (day(6), day(7), vec![]),
    ] {
        let filter = AuditFilter {
            from: Some(from),
            until: Some(until),
            ..Default::default()
        };
        let found: Vec<String> = portal
            .portal
            .store
            .audit_log(&filter, app::store::LinesFrom::Newest, 100)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|line| line.detail)
            .collect();
        assert_eq!(found, want, "{from}..{until}");
    }
}
