//! All SQL lives under this module. Statements use `$n` placeholders and plain types (integers,
//! text) through sqlx's `Any` driver, so the flows never know which database they run on.

mod accounts;
mod audit;
mod challenges;
mod limits;
mod outbox;
mod practice;
mod sessions;
mod staff;
mod support;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool, ConnectOptions, Executor,
};

pub use accounts::{AccountRow, NewAccountRow};
pub use audit::AuditRow;
pub use challenges::{ChallengeRow, IssueRefused};
pub use limits::{LimitReached, LoginGate, LoginRules};
pub use outbox::{DevEmail, DevSms, NewSms, OutboxRow};
pub use practice::PracticeRow;
pub use sessions::SessionRow;
pub use staff::{EnrolmentRow, FinishedEnrolment, StaffRow, StaffSessionRow};
pub use support::{AuditFilter, AuditLine, PatientSearch, PatientSummaryRow, TextRow};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite://…")]
    UnsupportedUrl(String),
    #[error("could not create the database's folder or file {0}: {1}")]
    Directory(String, std::io::Error),
}

#[derive(Clone, Debug)]
pub struct Store {
    /// Reads, many at once.
    pool: AnyPool,
    /// Writes. SQLite takes one writer at a time; queueing writers here, in order, is much
    /// faster than letting them collide and back off inside SQLite.
    writer: AnyPool,
}

impl Store {
    /// Connects, creating the SQLite file (and its directory) if needed, and migrates.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
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
        let options = AnyConnectOptions::from_str(&url)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(250));
        let pool_with = |connections: u32| {
            AnyPoolOptions::new()
                .max_connections(connections)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // WAL lets readers and the writer work together; the busy timeout
                        // covers other processes (such as `import-patients`) writing too.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                        Ok(())
                    })
                })
                .connect_with(options.clone())
        };
        let writer = pool_with(1).await?;
        SQLITE_MIGRATIONS.run(&writer).await?;
        let pool = pool_with(8).await?;
        Ok(Self { pool, writer })
    }

    /// Answers once the database does: the health check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
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

/// Whether an insert failed on a unique constraint (a taken username, say).
fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

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
}
