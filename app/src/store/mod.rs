//! All SQL lives under this module. Statements use `$n` placeholders and plain types (integers,
//! text) through sqlx's `Any` driver, so the flows never know which database they run on.

mod accounts;
mod audit;
mod challenges;
mod limits;
mod outbox;
mod sessions;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool, ConnectOptions, Executor,
};

pub use accounts::{AccountRow, NewAccountRow};
pub use audit::AuditEvent;
pub use challenges::{ChallengeRow, IssueRefused};
pub use limits::{LimitReached, LimitWindow, LoginGate, LoginRules};
pub use outbox::{DevSms, OutboxRow};
pub use sessions::SessionRow;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite://…")]
    UnsupportedUrl(String),
    #[error("could not create the database directory {0}: {1}")]
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
        if let Some(dir) = Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Directory(dir.display().to_string(), e))?;
        }
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

/// Whether an insert failed on a unique constraint (a taken username, say).
fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}
