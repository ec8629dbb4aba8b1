//! All SQL lives under this module. Statements use `$n` placeholders and plain types (BIGINT,
//! text) through sqlx's `Any` driver, so the flows never know which database they run on:
//! SQLite (the embedded default) or PostgreSQL (several instances sharing one database). The
//! few differences (locks, the outbox claim, notifications) are spelled out by `Engine`.

mod accounts;
mod audit;
mod caregivers;
mod challenges;
mod demo;
mod devices;
mod email_confirmations;
mod guard;
mod holds;
mod ids;
pub mod kinds;
mod limits;
mod operations;
mod outbox;
mod overview;
mod passkeys;
mod practice;
mod recovery;
mod sessions;
mod staff;
mod support;
mod sweeps;

// Throwaway databases and an insider's edits, for tests and benches; never in the release server.
#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod schema;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyConnection, AnyPool, ConnectOptions, Executor,
};

pub use accounts::{AccountRow, NewAccountRow};
pub use audit::{
    AuditKey, AuditRow, ChainCheck, ChainHead, ChainProblem, ChainRules, ExportTurn,
    KEYED_FROM_HERE,
};
pub use caregivers::{
    ChildGrant, GrantListed, GrantMade, GrantParties, GrantSide, InvitationAnswer, InvitationRow,
    NewChild, NewGrant, Party,
};
pub use challenges::{ChallengeRow, Issue, IssuedSms};
pub use demo::{AuditPlan, Cell, DemoState};
pub use devices::DeviceRow;
pub use guard::{GuardBlock, GuardCode, GuardCounts, GuardSubject, GUARD_MINUTE, NETWORKS_COUNTED};
pub use holds::{Secured, WasntMeRow};
pub use ids::{AccountId, StaffId};
pub use limits::{wait_text, Limit, LimitKind, LimitReached, LoginGate, LoginRules};
pub use operations::{BackupError, Connections};
pub use outbox::{CappedNotice, DevEmail, DevSms, NewSms, NoticeQueued, OutboxRow};
pub use overview::{EventsOnDay, TextCounts, TextsOnDay, Took};
pub use passkeys::{CeremonyRow, Holder, PasskeyRow, PasskeyStored};
pub use practice::{
    FirstNumberAtLogin, FraudGuard, PracticeSave, PracticeSettings, MOST_DAILY_TEXT_BUDGET,
    NAME_IN_TEXTS_MOST,
};
pub use recovery::{RecoveryBegun, RecoveryCodeRow};
pub use sessions::SessionRow;
pub use staff::{AlertEmailRow, EnrolmentRow, FinishedEnrolment, StaffRow, StaffSessionRow};
pub use support::{
    AccessTaken, AccessToTake, AuditFilter, AuditLine, LinesFrom, PatientSearch, PatientSummaryRow,
    TextRow,
};
pub use sweeps::{Retention, Swept, RETENTION};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }
}

/// How the store connects.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// PostgreSQL connections per instance.
    pub max_connections: u32,
    /// How long to wait for a connection (at start-up, and from the pool).
    pub connect_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    #[error("could not create the database's folder or file {0}: {1}")]
    Directory(String, std::io::Error),
    #[error("{0}")]
    UnknownValue(#[from] kinds::UnknownValue),
}

impl crate::error::Fault for StoreError {
    /// A database that can't be reached is an outage to wait out (503), not a fault.
    fn to_error(&self, context: &str) -> crate::error::Error {
        use crate::error::{Error, ErrorKind};
        if !self.is_unreachable() {
            return Error::logged_internal(context, self);
        }
        tracing::error!(err = %self, "{context}: the database is unreachable");
        Error {
            retry_after_seconds: Some(5),
            ..Error::new(
                ErrorKind::Unavailable,
                "The portal can't reach its records right now. Please try again in a few minutes.",
            )
        }
    }
}

impl StoreError {
    /// The database can't be reached (down, or every connection busy): worth a 503, not a 500.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Database(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed,
            ) => true,
            // PostgreSQL's "connection exception" (08…) and "operator intervention" (57P…,
            // a server shutting down or refusing connections).
            StoreError::Database(sqlx::Error::Database(db)) => db
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
            _ => false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    /// Reads, many at once.
    pool: AnyPool,
    /// Writes. SQLite takes one writer at a time; queueing writers here, in order, is much
    /// faster than letting them collide and back off inside SQLite. On PostgreSQL, the same
    /// pool as reads: writers that must not race take locks (`serialize`).
    writer: AnyPool,
    engine: Engine,
    /// For PostgreSQL's notifications, which need a connection of their own.
    url: String,
}

impl Store {
    /// Connects and migrates, with the default options.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, StoreOptions::default()).await
    }

    pub async fn open_with(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        match Engine::of(url) {
            Some(Engine::Sqlite) => Self::open_sqlite(url).await,
            Some(Engine::Postgres) => Self::open_postgres(url, options).await,
            None => Err(StoreError::UnsupportedUrl(url.to_string())),
        }
    }

    /// The same database, read through `connections` connections of its own: for one long
    /// read (an export). On SQLite each connection keeps its own cache of pages (up to 2 MB),
    /// which a long read fills; read through the pool, a long read would fill every one of its
    /// connections' caches. Its own are closed, and their caches freed, by
    /// [`Store::end_long_read`]. PostgreSQL keeps its caches in the server: the same pool.
    pub async fn for_one_long_read(&self, connections: u32) -> Result<Store, StoreError> {
        match self.engine {
            Engine::Postgres => Ok(self.clone()),
            Engine::Sqlite => Ok(Store {
                pool: sqlite_pool(&self.url, connections).await?,
                ..self.clone()
            }),
        }
    }

    /// Closes what [`Store::for_one_long_read`] opened.
    pub async fn end_long_read(self) {
        if self.engine == Engine::Sqlite {
            self.pool.close().await;
        }
    }

    /// Closes every connection: the portal is stopping (or, in tests, its database is gone).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// PostgreSQL: one pool; migrations take an advisory lock, so instances starting together
    /// migrate once.
    async fn open_postgres(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let connect = AnyConnectOptions::from_str(url)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(250));
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect)
            .await?;
        POSTGRES_MIGRATIONS.run(&pool).await?;
        Ok(Self {
            writer: pool.clone(),
            pool,
            engine: Engine::Postgres,
            url: url.to_string(),
        })
    }

    /// Connects, creating the SQLite file (and its directory) if needed, and migrates.
    async fn open_sqlite(url: &str) -> Result<Self, StoreError> {
        let Some(path) = url.strip_prefix("sqlite://") else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let file = path.split('?').next().unwrap_or(path);
        create_private(Path::new(file))?;
        let url = if url.contains('?') {
            url.to_string()
        } else {
            format!("{url}?mode=rwc")
        };
        let writer = sqlite_pool(&url, 1).await?;
        SQLITE_MIGRATIONS.run(&writer).await?;
        let pool = sqlite_pool(&url, 8).await?;
        tokio::spawn(checkpoint_forever(pool.clone(), writer.clone()));
        Ok(Self {
            pool,
            writer,
            engine: Engine::Sqlite,
            url: url.to_string(),
        })
    }
}

/// Connections to a SQLite database, set up as every one of the portal's is.
async fn sqlite_pool(url: &str, connections: u32) -> Result<AnyPool, StoreError> {
    let options = AnyConnectOptions::from_str(url)?
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(250));
    Ok(AnyPoolOptions::new()
        .max_connections(connections)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // WAL lets readers and the writer work together; the busy timeout covers other
                // processes (such as `import-patients`) writing too. Checkpoints run apart (see
                // `checkpoint_forever`), not in whichever request's commit fills the log.
                // A log emptied by a checkpoint is cut back to `WAL_KEPT` rather than kept at
                // the largest it ever grew to.
                conn.execute(
                    format!(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_KEPT};"
                    )
                    .as_str(),
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?)
}

/// How often SQLite's write-ahead log is copied into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The most of its write-ahead log SQLite keeps on disk once it is emptied, in bytes.
const WAL_KEPT: i64 = 64 * 1024 * 1024;

/// Past this many pages (at 4 KiB, 64 MiB), the log is emptied and cut back however busy the
/// writer is, rather than left to grow.
const WAL_MOST_PAGES: i64 = 16_384;

/// Copies SQLite's write-ahead log into the database every second, from a reader connection,
/// until the store closes. SQLite would otherwise do it in the commit that fills the log to
/// 1,000 pages: at a million patients each of those writes lands on its own page of a big
/// index, and that commit's request waited for all of them (a sign-in's new session took
/// 180 µs rather than 70). A passive checkpoint waits for nobody and nobody waits for it.
///
/// But while a writer keeps writing (an import, a busy day) and readers keep reading, a passive
/// checkpoint never gets the log back to its start, and the log grows without end (an import
/// of a million patients left 20 GB beside a 386 MB database). So a log past `WAL_MOST_PAGES`
/// is emptied with a truncating checkpoint: the writer waits for that one, a moment each
/// 64 MiB written, and the file is cut back to nothing.
async fn checkpoint_forever(pool: AnyPool, writer: AnyPool) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if pool.is_closed() {
            return;
        }
        if let Err(err) = checkpoint(&pool, &writer, WAL_MOST_PAGES).await {
            if !pool.is_closed() {
                tracing::warn!(%err, "checkpointing the database's write-ahead log");
            }
        }
    }
}

/// One checkpoint: passive, from a reader's connection; or, when the log is past `most_pages`,
/// truncating, on the writer's own connection. There it takes its turn between two of this
/// process's transactions rather than waiting for a gap between them that a busy writer (an
/// import) never leaves: from a reader's connection, a truncating checkpoint gave up busy
/// every time, and an import's log grew to three times the database.
async fn checkpoint(pool: &AnyPool, writer: &AnyPool, most_pages: i64) -> Result<(), sqlx::Error> {
    let (_busy, pages, _copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?;
    if pages > most_pages {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(writer)
            .await?;
        if busy != 0 {
            tracing::debug!("the write-ahead log could not be cut back yet: a reader holds it");
        }
    }
    Ok(())
}

/// Creates the database's folder (0700) and file (0600) if they don't exist yet, so that only
/// the portal's own user can read patients' records; SQLite gives its journal files the same mode.
fn create_private(file: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let fail = |path: &Path, e| StoreError::Directory(path.display().to_string(), e);
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| fail(dir, e))?;
        }
    }
    if file.as_os_str().is_empty() || file.exists() || file.to_str() == Some(":memory:") {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map(drop)
        .or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(fail(file, e)),
        })
}

/// Makes transactions that check and then write the same things take turns, across every
/// instance: each takes a transaction-scoped lock on its keys (in one order, so two can't wait
/// on each other). SQLite has one writer at a time already.
async fn serialize(
    conn: &mut AnyConnection,
    engine: Engine,
    mut keys: Vec<String>,
) -> Result<(), StoreError> {
    if engine == Engine::Sqlite {
        return Ok(());
    }
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    // One round trip for every key, taken in sorted order. The lock function returns nothing
    // the Any driver can read, so a count is selected instead.
    let values: Vec<String> = (1..=keys.len()).map(|n| format!("(${n})")).collect();
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM \
         (SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM (VALUES {}) AS keys (k) \
          ORDER BY k) AS locked",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for key in keys {
        query = query.bind(key);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// The lock key for a limit's window.
fn limit_key(limit: &Limit) -> String {
    format!("limit:{}:{}", limit.kind.as_str(), limit.subject)
}

/// Whether an insert failed on a unique constraint (a taken username, say).
fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A writer that never stops (an import) beside a reader that always has a page open: a
    /// passive checkpoint can't get the log back to its start, so past its size the log is
    /// emptied and cut back.
    #[tokio::test]
    async fn the_write_ahead_log_is_cut_back_past_its_size_however_busy_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("portal.db");
        let store = Store::open(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let wal = dir.path().join("portal.db-wal");
        let kept: i64 = sqlx::query_scalar("PRAGMA journal_size_limit")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(kept, WAL_KEPT);
        let key = crate::store::AuditKey::new([1; 32]);
        let line = AuditRow {
            ip: "192.0.2.1".into(),
            event: "patient_viewed".into(),
            outcome: "ok".into(),
            detail: Some("x".repeat(500)),
            ..Default::default()
        };
        // A reader holding its snapshot all along.
        let mut reader = store.pool.begin().await.unwrap();
        let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
            .fetch_one(&mut *reader)
            .await
            .unwrap();
        for _ in 0..20 {
            store
                .record_audits(&key, &vec![line.clone(); 100])
                .await
                .unwrap();
        }
        let grown = std::fs::metadata(&wal).unwrap().len();
        assert!(grown > 100 * 4096, "{grown} bytes");
        // Under its size, only a passive checkpoint: the log stays.
        checkpoint(&store.pool, &store.writer, i64::MAX)
            .await
            .unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), grown);
        // Past it, once the reader is done, the log is emptied and cut back to nothing.
        reader.rollback().await.unwrap();
        checkpoint(&store.pool, &store.writer, 100).await.unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    }

    /// A database that was never counted (as after a large import into an old portal) gets its
    /// statistics, and the audit log's pair of filters reads the patient's lines, not every
    /// line of the event.
    #[tokio::test]
    async fn the_planner_gets_statistics_and_reads_a_patients_lines_by_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/portal.db", dir.path().display()))
            .await
            .unwrap();
        let stats = || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'",
            )
            .fetch_one(&store.pool)
            .await
            .unwrap()
        };
        assert_eq!(stats().await, 0);
        let key = crate::store::AuditKey::new([1; 32]);
        let lines: Vec<AuditRow> = (0..3_000)
            .map(|n| AuditRow {
                account_id: Some(AccountId(n % 1_000)),
                ip: "192.0.2.1".into(),
                event: "login".into(),
                outcome: "wrong_password".into(),
                ..Default::default()
            })
            .collect();
        store.record_audits(&key, &lines).await.unwrap();
        store.optimize().await.unwrap();
        assert_eq!(stats().await, 1);
        let filter = AuditFilter {
            patient_username_key: None,
            event: Some("login".into()),
            ..Default::default()
        };
        let by_event = store.audit_log_plan(&filter, 50).await.unwrap();
        assert!(by_event.contains("audit_events_by_event"), "{by_event}");
        // A patient's lines are found by their index (the patient named here by id, as the
        // page does once it has found them by name).
        sqlx::query(
            "INSERT INTO accounts (username, username_key, password_hash, given_name, \
             family_name, date_of_birth, created_at) \
             VALUES ('quiet', 'quiet', 'x', 'Q', 'Q', '1950-01-01', 0)",
        )
        .execute(&store.writer)
        .await
        .unwrap();
        let both = AuditFilter {
            patient_username_key: Some("quiet".into()),
            ..filter
        };
        let plan = store.audit_log_plan(&both, 50).await.unwrap();
        assert!(plan.contains("audit_events_by_account_id"), "{plan}");
        // Each filter, alone and in pairs, reads by the index chosen for it, whatever the
        // statistics sampled say.
        let staff = || Some("kim".to_string());
        let cases = [
            (
                AuditFilter {
                    staff_username_key: staff(),
                    ..Default::default()
                },
                "audit_events_by_staff ",
            ),
            (
                AuditFilter {
                    staff_username_key: staff(),
                    event: Some("login".into()),
                    ..Default::default()
                },
                "audit_events_by_staff_and_event",
            ),
            (
                AuditFilter {
                    staff_username_key: staff(),
                    patient_username_key: Some("quiet".into()),
                    ..Default::default()
                },
                "audit_events_by_staff_and_patient",
            ),
            (
                AuditFilter {
                    patient_username_key: Some("nobody".into()),
                    ..Default::default()
                },
                "audit_events_by_typed_username",
            ),
            (
                AuditFilter {
                    from: Some(0),
                    event: Some("login".into()),
                    ..Default::default()
                },
                "audit_events_by_event",
            ),
        ];
        for (filter, index) in cases {
            let plan = store.audit_log_plan(&filter, 50).await.unwrap();
            assert!(plan.contains(index), "{filter:?}: {plan}");
        }
        // Dates alone read the lines in their own order, within the dates' ids.
        let plan = store
            .audit_log_plan(
                &AuditFilter {
                    from: Some(0),
                    ..Default::default()
                },
                50,
            )
            .await
            .unwrap();
        assert!(!plan.contains("audit_events_by_time"), "{plan}");
    }

    #[tokio::test]
    async fn the_data_folder_and_database_are_private_to_the_portal() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Store::open(&format!("sqlite://{}/portal.db", data.display()))
            .await
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("portal.db")), 0o600);
    }

    /// Migration 18 rebuilds SQLite's sessions and codes around their keys: a patient signed in,
    /// or waiting with a code, when the portal is upgraded carries on.
    #[tokio::test]
    async fn sessions_and_codes_outlast_their_tables_being_rebuilt() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/portal.db", dir.path().display());
        let pool = sqlite_pool(&format!("{url}?mode=rwc"), 1).await.unwrap();
        let before_18 = sqlx::migrate::Migrator {
            migrations: SQLITE_MIGRATIONS
                .iter()
                .filter(|m| m.version < 18)
                .cloned()
                .collect::<Vec<_>>()
                .into(),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        before_18.run(&pool).await.unwrap();
        let old = Store {
            pool: pool.clone(),
            writer: pool.clone(),
            engine: Engine::Sqlite,
            url: url.clone(),
        };
        let patient = old
            .insert_account(NewAccountRow {
                username: "margaret",
                username_key: "margaret",
                password_hash: "not a real hash",
                given_name: "Margaret",
                family_name: "Ngata",
                date_of_birth: "1948-03-02",
                email: None,
                mobile: Some("+64211234567"),
                mobile_verified_at: Some(1),
                must_change_password: false,
                password_expires_at: None,
                created_at: 1,
            })
            .await
            .unwrap()
            .unwrap();
        for (id_hash, stage) in [
            ("signed-in", crate::sign_in::Stage::SignedIn),
            ("waiting", crate::sign_in::Stage::PasswordAccepted),
        ] {
            let session = SessionRow {
                id_hash: id_hash.into(),
                account_id: patient,
                stage,
                created_at: 1,
                last_seen_at: 2,
                expires_at: 3,
                device: Some("Firefox on Linux".into()),
                proved_at: Some(1),
            };
            old.replace_session(None, &session).await.unwrap();
        }
        sqlx::query(
            "INSERT INTO challenges (session_id_hash, purpose, account_id, mobile, code_mac, \
             sent_at, expires_at, failed_attempts) \
             VALUES ('waiting', 'sign_in', $1, '+64211234567', 'mac', 10, 20, 1)",
        )
        .bind(patient)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        let store = Store::open(&url).await.unwrap();
        let signed_in = store.session("signed-in").await.unwrap().unwrap();
        assert_eq!(
            (
                signed_in.account_id,
                signed_in.stage.as_str(),
                signed_in.last_seen_at
            ),
            (patient, "signed_in", 2)
        );
        assert_eq!(signed_in.device.as_deref(), Some("Firefox on Linux"));
        let code = store
            .challenge("waiting", kinds::CodePurpose::SignIn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((code.code_mac.as_str(), code.failed_attempts), ("mac", 1));
        // Stored in their keys' order, and still ended with their session.
        for table in ["sessions", "challenges"] {
            let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = $1")
                .bind(table)
                .fetch_one(&store.pool)
                .await
                .unwrap();
            assert!(sql.ends_with("WITHOUT ROWID"), "{table}: {sql}");
        }
        store.delete_session("waiting").await.unwrap();
        assert!(store
            .challenge("waiting", kinds::CodePurpose::SignIn)
            .await
            .unwrap()
            .is_none());
    }
}
