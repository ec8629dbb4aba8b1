//! What the people who run the portal rely on: liveness and readiness, and backups taken while
//! it serves.

use crate::common;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
    time::Duration,
};

use app::store::{BackupError, ChainCheck, ChainHead, ChainProblem, ChainRules, Store};
use axum::http::StatusCode;
use common::TestPortal;

/// Waits (a few seconds at most) until the text worker says whether it runs.
async fn worker_is(portal: &TestPortal, working: bool) {
    for _ in 0..500 {
        if portal.portal.outbox.is_working() == working {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the text worker never became working={working}");
}

#[tokio::test]
async fn liveness_asks_nothing_of_the_database_and_readiness_asks_everything() {
    let portal = TestPortal::new().await;
    // No text worker running in this instance: alive, but not ready.
    assert_eq!(portal.get("/healthz", None).await.status, StatusCode::OK);
    let reply = portal.get("/readyz", None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json()["text_worker"], "stopped");
    assert_eq!(reply.json()["database"], "ok");

    let worker = tokio::spawn(portal.portal.outbox.clone().run());
    worker_is(&portal, true).await;
    let reply = portal.get("/readyz", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.json(),
        serde_json::json!({"ready": true, "database": "ok", "migrations": "ok", "text_worker": "ok"})
    );

    // A migration this build knows but the database hasn't had: not ready.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&portal.database_url).await.unwrap();
    let newest: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET version = -version WHERE version = $1")
        .bind(newest)
        .execute(&db)
        .await
        .unwrap();
    let reply = portal.get("/readyz", None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json()["migrations"], "waiting");
    sqlx::query("UPDATE _sqlx_migrations SET version = -version WHERE version = $1")
        .bind(-newest)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    assert_eq!(portal.get("/readyz", None).await.status, StatusCode::OK);

    // The worker stopped (here, cancelled; a panic ends it the same way).
    worker.abort();
    let _ = worker.await;
    worker_is(&portal, false).await;
    let reply = portal.get("/readyz", None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json()["text_worker"], "stopped");

    // The database gone: still alive, not ready.
    portal.portal.store.close().await;
    assert_eq!(portal.get("/healthz", None).await.status, StatusCode::OK);
    let reply = portal.get("/readyz", None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json()["database"], "unreachable");
}

#[tokio::test]
async fn a_backup_taken_while_sixteen_patients_register_holds_everyone_answered_before_it() {
    let portal = TestPortal::with(|s| s.limits.registrations_per_ip_hour = 10_000).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("backup.db");
    if app::store::testing::engine_under_test() != "sqlite" {
        // PostgreSQL is backed up by its own tools; the portal says so rather than half-try.
        let refused = portal.portal.store.back_up_to(&copy).await;
        assert!(
            matches!(refused, Err(BackupError::NotSqlite)),
            "{refused:?}"
        );
        assert!(!copy.exists());
        return;
    }
    let answered = Mutex::new(Vec::<String>::new());
    let stop = AtomicBool::new(false);
    let client = |c: usize| {
        let (portal, answered, stop) = (&portal, &answered, &stop);
        async move {
            let mut browser = portal.browser_at(&format!("203.0.113.{}", c + 1));
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("client{c}patient{n}");
                n += 1;
                let reply = browser.register(&name).await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
                answered.lock().unwrap().push(name);
            }
        }
    };
    let backup = async {
        // Once registrations are under way, the names answered so far must all be in the copy.
        while answered.lock().unwrap().len() < 32 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let before = answered.lock().unwrap().clone();
        portal.portal.store.back_up_to(&copy).await.unwrap();
        // And the clients go on a while after it.
        let after = answered.lock().unwrap().len();
        while answered.lock().unwrap().len() < after + 16 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.store(true, Ordering::SeqCst);
        before
    };
    let (before, _) = tokio::join!(backup, futures::future::join_all((0..16).map(client)));

    // A second backup to the same file is refused, and the first is left as it was.
    let taken = std::fs::read(&copy).unwrap();
    let again = portal.portal.store.back_up_to(&copy).await;
    assert!(matches!(again, Err(BackupError::Exists(_))), "{again:?}");
    assert_eq!(std::fs::read(&copy).unwrap(), taken);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the copy is its owner's alone: {mode:o}");

    // Restored: the portal opens the copy as it would its database.
    let restored = Store::open(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    assert_eq!(restored.integrity_check().await.unwrap(), "ok");
    for name in &before {
        assert!(
            restored.account_by_username(name).await.unwrap().is_some(),
            "{name} registered before the backup began but isn't in it"
        );
    }
    restored.close().await;
}

/// Twelve of Crockford's letters and digits in fours, as the portal makes them.
fn is_readable_id(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 3
        && groups.iter().all(|g| {
            g.len() == 4
                && g.bytes().all(|b| {
                    b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b))
                })
        })
}

fn request_id(reply: &common::Reply) -> String {
    reply.headers["x-request-id"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn every_answer_carries_its_own_request_id_and_a_kept_page_never_another_s() {
    let portal = TestPortal::new().await;
    let mut seen = std::collections::HashSet::new();
    for path in [
        "/healthz",
        "/readyz",
        "/login",
        "/login",
        "/no-such-page",
        "/register",
    ] {
        let reply = portal.get(path, None).await;
        let id = request_id(&reply);
        assert!(is_readable_id(&id), "{path}: {id}");
        assert!(seen.insert(id.clone()), "{path} repeated {id}");
        assert!(
            !reply.text().contains(&id),
            "{path} shows its ID without a fault"
        );
    }
    let mut browser = portal.browser();
    let registered = browser.register("margaret").await;
    let id = request_id(&registered);
    assert!(is_readable_id(&id) && seen.insert(id.clone()));

    // The audit line the registration wrote names the request.
    let account = portal.account("margaret").await;
    let lines = portal.portal.store.audit_events(account.id).await.unwrap();
    assert!(!lines.is_empty());
    assert!(
        lines
            .iter()
            .all(|line| line.request_id.as_deref() == Some(id.as_str())),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_request_id_is_kept_only_from_a_trusted_proxy() {
    let first = TestPortal::new().await;
    let sender = std::sync::Arc::new(app::sms::ConsoleSms::new(
        first.portal.store.clone(),
        first.portal.clock.clone(),
    ));
    let portal = first
        .restart(
            sender,
            server::Wiring {
                trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
                dev_outbox: true,
                ..Default::default()
            },
        )
        .await;
    let asked = |id: &str| {
        axum::http::Request::get("/login")
            .header("x-request-id", id)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let proxy: std::net::IpAddr = "10.0.0.5".parse().unwrap();
    let client: std::net::IpAddr = "203.0.113.7".parse().unwrap();
    // The proxy's own ID ties its logs to ours.
    let reply = portal.send_from(proxy, asked("lb-7f3a9c-0001")).await;
    assert_eq!(request_id(&reply), "lb-7f3a9c-0001");
    // Anyone else's, or one that isn't short and plain, is replaced.
    for (from, id) in [
        (client, "lb-7f3a9c-0001"),
        (proxy, "two words"),
        (proxy, &"x".repeat(65)),
        (proxy, "<script>"),
    ] {
        let reply = portal.send_from(from, asked(id)).await;
        assert!(is_readable_id(&request_id(&reply)), "{from} {id}");
    }
}

#[tokio::test]
async fn a_fault_of_ours_gives_the_patient_its_reference() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    portal.portal.store.close().await;

    // A server function's answer: the reference is the request's ID.
    let reply = browser
        .post("/api/login", &[("username", "margaret"), ("password", "x")])
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json()["reference"], request_id(&reply).as_str());
    // A page: shown beside the message.
    let page = portal.get("/profile", browser.cookie.as_deref()).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    let id = request_id(&page);
    assert!(
        page.text()
            .contains(&format!("give them this reference: <strong>{id}</strong>")),
        "{}",
        page.text()
    );
    // A refusal that isn't a fault has no reference.
    let portal = TestPortal::new().await;
    let refused = portal
        .browser()
        .post("/api/login", &[("username", "nobody"), ("password", "x")])
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused.json().get("reference").is_none(),
        "{}",
        refused.text()
    );
}

/// A line as a test writes it straight into the audit.
fn noted(n: i64) -> app::store::AuditRow {
    app::store::AuditRow {
        at: 1_800_000_000_000 + n,
        ip: "192.0.2.1".into(),
        event: "setting_changed".into(),
        outcome: "ok".into(),
        detail: Some(format!("note {n}")),
        ..Default::default()
    }
}

/// What `server audit verify` holds the chain to, with `expect` noted elsewhere.
fn rules(portal: &TestPortal, expect: &[ChainHead]) -> ChainRules {
    ChainRules {
        key: portal.secret.audit_key(),
        kept_from: portal.clock_now() - portal.settings.audit_retention_days * app::clock::DAY,
        expect: expect.to_vec(),
    }
}

async fn verify(portal: &TestPortal, expect: &[ChainHead]) -> ChainCheck {
    portal
        .portal
        .store
        .verify_audit_chain(&rules(portal, expect))
        .await
        .unwrap()
}

async fn write(portal: &TestPortal, n: i64) -> ChainHead {
    portal
        .portal
        .store
        .record_audit(&portal.secret.audit_key(), &noted(n))
        .await
        .unwrap()
}

/// A connection of one's own to the test's database, as someone holding it would have.
async fn raw(portal: &TestPortal) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&portal.database_url).await.unwrap()
}

async fn run(db: &sqlx::AnyPool, sql: &str) {
    sqlx::query(sql).execute(db).await.unwrap();
}

#[tokio::test]
async fn the_audit_chain_stays_whole_with_two_instances_writing_at_once() {
    let first = TestPortal::new().await;
    // A second instance on the same database (on SQLite, a second writer, as an import is).
    let second = Store::open(&first.database_url).await.unwrap();
    let key = first.secret.audit_key();
    let write = |store: Store, from: i64| {
        let key = key.clone();
        async move {
            for n in from..from + 40 {
                store.record_audit(&key, &noted(n)).await.unwrap();
            }
        }
    };
    tokio::join!(
        write(first.portal.store.clone(), 0),
        write(second.clone(), 1000),
        write(first.portal.store.clone(), 2000),
        write(second.clone(), 3000),
    );
    let check = verify(&first, &[]).await;
    assert_eq!(check.problem, None);
    assert_eq!((check.chained, check.before_chain), (160, 0));
    second.close().await;
}

#[tokio::test]
async fn the_audit_chain_names_a_line_edited_deleted_or_put_in() {
    let portal = TestPortal::new().await;
    let mut browser = portal.browser();
    browser.register_and_sign_in("margaret").await;
    for n in 0..5 {
        write(&portal, n).await;
    }
    let whole = verify(&portal, &[]).await;
    assert_eq!(whole.problem, None);
    let (newest, _) = whole.newest.clone().unwrap();
    assert!(whole.chained >= 8, "{whole:?}");
    let ids: Vec<i64> = (newest - whole.chained + 1..=newest).collect();
    let middle = ids[ids.len() / 2];

    let db = raw(&portal).await;
    let problem = || async { verify(&portal, &[]).await.problem };

    // Edited, then put back as it was.
    let outcome: String = sqlx::query_scalar(&format!(
        "SELECT outcome FROM audit_events WHERE id = {middle}"
    ))
    .fetch_one(&db)
    .await
    .unwrap();
    run(
        &db,
        &format!("UPDATE audit_events SET outcome = 'edited' WHERE id = {middle}"),
    )
    .await;
    assert_eq!(problem().await, Some(ChainProblem::Changed(middle)));
    run(
        &db,
        &format!("UPDATE audit_events SET outcome = '{outcome}' WHERE id = {middle}"),
    )
    .await;
    assert_eq!(problem().await, None);

    // Deleted, then put back as it was.
    run(
        &db,
        &format!("CREATE TABLE kept AS SELECT * FROM audit_events WHERE id = {middle}"),
    )
    .await;
    run(
        &db,
        &format!("DELETE FROM audit_events WHERE id = {middle}"),
    )
    .await;
    assert_eq!(
        problem().await,
        Some(ChainProblem::Removed {
            line: Some(middle),
            before: middle + 1
        })
    );
    run(&db, "INSERT INTO audit_events SELECT * FROM kept").await;
    assert_eq!(problem().await, None);

    // Put in: a line written straight into the table, as if by the portal, at the end.
    run(
        &db,
        &format!(
            "INSERT INTO audit_events (id, at, ip, event, outcome, detail, chain_previous, chain_hash) \
             VALUES ({}, 1800000009999, '192.0.2.9', 'patient_viewed', 'ok', 'nothing to see', {newest}, 'm2:{}')",
            newest + 1,
            "a".repeat(64)
        ),
    )
    .await;
    assert_eq!(problem().await, Some(ChainProblem::Changed(newest + 1)));
    run(
        &db,
        &format!(
            "UPDATE audit_events SET chain_previous = NULL, chain_hash = NULL WHERE id = {}",
            newest + 1
        ),
    )
    .await;
    assert_eq!(problem().await, Some(ChainProblem::Unchained(newest + 1)));
    db.close().await;
}

#[tokio::test]
async fn a_line_edited_and_every_later_hash_worked_out_again_without_the_key_is_refused() {
    let portal = TestPortal::new().await;
    for n in 0..10 {
        write(&portal, n).await;
    }
    let whole = verify(&portal, &[]).await;
    assert_eq!(whole.problem, None);
    let (newest, _) = whole.newest.unwrap();
    let edited = newest - 4;
    let db = raw(&portal).await;
    run(
        &db,
        &format!("UPDATE audit_events SET detail = 'nothing happened' WHERE id = {edited}"),
    )
    .await;
    // Every later hash worked out again by SHA-256 alone, as the chain once was.
    portal
        .portal
        .store
        .rehash_audit_lines_without_the_key(edited)
        .await
        .unwrap();
    assert_eq!(
        verify(&portal, &[]).await.problem,
        Some(ChainProblem::Unsealed(edited))
    );
    // And with a made-up key's MAC in place of the hash, the line doesn't check either.
    run(
        &db,
        &format!(
            "UPDATE audit_events SET chain_hash = 'm2:{}' WHERE id = {edited}",
            "b".repeat(64)
        ),
    )
    .await;
    assert_eq!(
        verify(&portal, &[]).await.problem,
        Some(ChainProblem::Changed(edited))
    );
    db.close().await;
}

#[tokio::test]
async fn a_chain_without_its_anchor_or_with_the_anchor_moved_is_refused() {
    let portal = TestPortal::new().await;
    for n in 0..5 {
        write(&portal, n).await;
    }
    assert_eq!(verify(&portal, &[]).await.problem, None);
    let db = raw(&portal).await;
    run(
        &db,
        "CREATE TABLE kept_anchor AS SELECT * FROM audit_chain_anchor",
    )
    .await;
    run(&db, "DELETE FROM audit_chain_anchor").await;
    assert_eq!(
        verify(&portal, &[]).await.problem,
        Some(ChainProblem::NoAnchor)
    );
    run(
        &db,
        "INSERT INTO audit_chain_anchor SELECT * FROM kept_anchor",
    )
    .await;
    assert_eq!(verify(&portal, &[]).await.problem, None);
    // The first lines deleted, and the anchor moved on to the first kept as a sweep would.
    let first: i64 = sqlx::query_scalar("SELECT MIN(id) FROM audit_events")
        .fetch_one(&db)
        .await
        .unwrap();
    let hash: String = sqlx::query_scalar(&format!(
        "SELECT chain_hash FROM audit_events WHERE id = {}",
        first + 1
    ))
    .fetch_one(&db)
    .await
    .unwrap();
    run(
        &db,
        &format!("DELETE FROM audit_events WHERE id <= {}", first + 1),
    )
    .await;
    run(
        &db,
        &format!(
            "UPDATE audit_chain_anchor SET first_line = {}, previous_line = {}, \
             previous_hash = '{hash}'",
            first + 2,
            first + 1
        ),
    )
    .await;
    assert_eq!(
        verify(&portal, &[]).await.problem,
        Some(ChainProblem::AnchorMoved)
    );
    // Its seal taken off too: lines sealed with the key need an anchor sealed with it.
    run(&db, "UPDATE audit_chain_anchor SET anchor_mac = NULL").await;
    assert_eq!(
        verify(&portal, &[]).await.problem,
        Some(ChainProblem::AnchorMoved)
    );
    db.close().await;
}

#[tokio::test]
async fn a_chain_cut_after_a_head_noted_elsewhere_is_refused() {
    let portal = TestPortal::new().await;
    for n in 0..5 {
        write(&portal, n).await;
    }
    let noted = write(&portal, 5).await;
    assert_eq!(
        portal.portal.store.audit_chain_head().await.unwrap(),
        Some(noted.clone())
    );
    for n in 6..10 {
        write(&portal, n).await;
    }
    assert_eq!(
        verify(&portal, std::slice::from_ref(&noted)).await.problem,
        None
    );
    // Cut back to before the noted head: without it the chain looks whole, with it it isn't.
    let db = raw(&portal).await;
    run(
        &db,
        &format!("DELETE FROM audit_events WHERE id >= {}", noted.line - 1),
    )
    .await;
    assert_eq!(verify(&portal, &[]).await.problem, None);
    assert_eq!(
        verify(&portal, std::slice::from_ref(&noted)).await.problem,
        Some(ChainProblem::CutAfter(noted.line))
    );
    // A head with another hash than noted.
    let other = ChainHead {
        line: noted.line - 2,
        hash: "m2:0".into(),
    };
    assert_eq!(
        verify(&portal, &[other]).await.problem,
        Some(ChainProblem::NotAsNoted(noted.line - 2))
    );
    db.close().await;
    // As the command takes it.
    assert_eq!(
        server::parse_head(&format!("{}:{}", noted.line, noted.hash)).unwrap(),
        noted
    );
    assert!(server::parse_head("twelve").is_err());
}

#[tokio::test]
async fn a_chain_from_before_the_key_goes_on_from_a_sealed_line_naming_its_head() {
    let portal = TestPortal::new().await;
    for n in 0..5 {
        write(&portal, n).await;
    }
    // As the chain was before the key: bare hashes, and an anchor without a seal.
    let store = &portal.portal.store;
    let first: i64 = {
        let db = raw(&portal).await;
        let first = sqlx::query_scalar("SELECT MIN(id) FROM audit_events")
            .fetch_one(&db)
            .await
            .unwrap();
        run(&db, "UPDATE audit_chain_anchor SET anchor_mac = NULL").await;
        db.close().await;
        first
    };
    store
        .rehash_audit_lines_without_the_key(first)
        .await
        .unwrap();
    assert_eq!(verify(&portal, &[]).await.problem, None);
    let old_head = store.audit_chain_head().await.unwrap().unwrap();

    let key = portal.secret.audit_key();
    let keyed = store
        .key_audit_chain(&key, portal.clock_now())
        .await
        .unwrap()
        .expect("a line begins the keyed part");
    assert!(keyed.hash.starts_with("m2:"));
    // Only once.
    assert_eq!(
        store
            .key_audit_chain(&key, portal.clock_now())
            .await
            .unwrap(),
        None
    );
    write(&portal, 6).await;
    let check = verify(&portal, std::slice::from_ref(&old_head)).await;
    assert_eq!(check.problem, None);
    assert_eq!(check.chained, 7);
    let filter = app::store::AuditFilter {
        event: Some(app::store::KEYED_FROM_HERE.into()),
        ..Default::default()
    };
    let lines = store
        .audit_log(&filter, app::store::LinesFrom::Newest, 10)
        .await
        .unwrap();
    assert!(
        lines[0].detail.as_deref().unwrap().contains(&format!(
            "end at line {} with hash {}",
            old_head.line, old_head.hash
        )),
        "{:?}",
        lines[0].detail
    );
}

#[tokio::test]
async fn the_head_is_noted_elsewhere_every_thousand_lines() {
    let dir = tempfile::tempdir().unwrap();
    let heads = dir.path().join("audit-heads.txt");
    let file = heads.clone();
    let portal = TestPortal::with(move |s| {
        s.audit_heads_to = Some(app::portal::HeadsTo::File(file));
    })
    .await;
    let caller = app::caller::Caller::default();
    for _ in 0..1_000 {
        let entry =
            app::audit::Entry::new(app::audit::Event::PatientSearched, app::audit::Outcome::Ok);
        app::audit::record(&portal.portal, &caller, entry).await;
    }
    // Written off the request's path: wait for it.
    let mut noted = String::new();
    for _ in 0..500 {
        noted = std::fs::read_to_string(&heads).unwrap_or_default();
        if !noted.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let head = noted
        .lines()
        .last()
        .expect("a head was noted")
        .split(' ')
        .nth(1)
        .unwrap();
    let head = server::parse_head(head).unwrap();
    assert_eq!(head.line, 1_000);
    assert_eq!(verify(&portal, &[head]).await.problem, None);
}

#[tokio::test]
async fn the_head_can_be_noted_at_an_endpoint_elsewhere() {
    // An endpoint on another machine, as a log collector's would be (here on loopback).
    let (sent, mut received) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
    let collector = axum::Router::new().route(
        "/heads",
        axum::routing::post(move |axum::Json(head): axum::Json<serde_json::Value>| {
            let sent = sent.clone();
            async move {
                let _ = sent.send(head);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/heads", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await });
    let portal = TestPortal::with(move |s| {
        s.audit_heads_to = Some(app::portal::HeadsTo::Endpoint(url.parse().unwrap()));
    })
    .await;
    let head = write(&portal, 1).await;
    app::audit::note_head(&portal.portal, &head).await;
    let noted = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("the endpoint was told")
        .unwrap();
    assert_eq!(noted["head"], format!("{}:{}", head.line, head.hash));
    assert!(noted["at"].is_i64());
}

#[tokio::test]
async fn old_audit_lines_are_swept_and_the_chain_still_checks_from_the_first_kept() {
    use app::clock::DAY;
    let portal = TestPortal::new().await;
    let store = &portal.portal.store;
    let key = portal.secret.audit_key();
    let now = portal.clock_now();
    let at = |at, n| app::store::AuditRow { at, ..noted(n) };
    for n in 0..10 {
        store
            .record_audit(&key, &at(now - 7 * 365 * DAY + n, n))
            .await
            .unwrap();
    }
    for n in 0..5 {
        store
            .record_audit(&key, &at(now + n, 100 + n))
            .await
            .unwrap();
    }
    let six_years = portal.portal.settings.audit_retention_days * DAY;
    assert_eq!(six_years, 2190 * DAY);
    assert_eq!(store.sweep_audit(&key, now - six_years).await.unwrap(), 10);
    assert_eq!(store.sweep_audit(&key, now - six_years).await.unwrap(), 0);
    let check = verify(&portal, &[]).await;
    assert_eq!(check.problem, None);
    assert_eq!((check.chained, check.before_chain), (5, 0));

    // A sweep with the key but past the retention (lines still to be kept): refused.
    assert_eq!(store.sweep_audit(&key, now + 2).await.unwrap(), 2);
    assert_eq!(
        verify(&portal, &[]).await.problem,
        Some(ChainProblem::AnchorTooLate)
    );
    // However old every line is, the newest stays, and the chain goes on from it.
    let later = ChainRules {
        kept_from: now + DAY,
        ..rules(&portal, &[])
    };
    assert_eq!(store.sweep_audit(&key, now + DAY).await.unwrap(), 2);
    store.record_audit(&key, &noted(200)).await.unwrap();
    let check = store.verify_audit_chain(&later).await.unwrap();
    assert_eq!(check.problem, None);
    assert_eq!(check.chained, 2);
}
