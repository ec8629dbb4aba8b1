//! What the people who run the portal ask of its database: is it ready, how busy, and a safe
//! copy of it.

use std::path::Path;

use sqlx::Executor;

use super::{Engine, Store, StoreError, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

/// Why a backup was not taken.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "the portal backs up SQLite only; back PostgreSQL up with pg_dump or its continuous \
         archiving (see docs/operations.md)"
    )]
    NotSqlite,
    #[error(
        "{0} already exists: give the backup a new file's name, so that nothing is overwritten"
    )]
    Exists(String),
    #[error("could not create {0}: {1}")]
    File(String, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The database connections this instance holds, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    pub in_use: u32,
    pub idle: u32,
    /// The most it may open.
    pub max: u32,
}

impl Store {
    /// Statistics for the planner where tables have none, or have grown or shrunk much since
    /// they were counted: at start-up and after large writes (an import, a sweep). Without
    /// them SQLite guesses that every index narrows as well as any other, and read four million
    /// login lines to find one patient's none. On SQLite each index is sampled (a thousand
    /// rows, so a table of thirty million takes as long as a small one); PostgreSQL's
    /// autovacuum counts as it goes, and is asked to count now after a large write.
    pub async fn optimize(&self) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        match self.engine {
            Engine::Sqlite => {
                let counted: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'",
                )
                .fetch_one(&mut *conn)
                .await?;
                let first = if counted == 0 { "ANALYZE;" } else { "" };
                conn.execute(
                    format!("PRAGMA analysis_limit = 1000; {first} PRAGMA optimize = 0x10002;")
                        .as_str(),
                )
                .await?;
            }
            Engine::Postgres => {
                conn.execute("ANALYZE").await?;
            }
        }
        Ok(())
    }

    /// The connections open now, readers and the writer together (on PostgreSQL, one pool).
    pub fn connections(&self) -> Connections {
        let mut pools = vec![&self.pool];
        if self.engine == Engine::Sqlite {
            pools.push(&self.writer);
        }
        pools.into_iter().fold(
            Connections {
                in_use: 0,
                idle: 0,
                max: 0,
            },
            |sum, pool| {
                let idle = pool.num_idle() as u32;
                Connections {
                    in_use: sum.in_use + pool.size().saturating_sub(idle),
                    idle: sum.idle + idle,
                    max: sum.max + pool.options().get_max_connections(),
                }
            },
        )
    }

    /// Whether every migration this build knows has been applied (by this instance or another).
    pub async fn migrations_done(&self) -> Result<bool, StoreError> {
        let migrator = match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?;
        Ok(migrator.iter().all(|m| applied.contains(&m.version)))
    }

    /// A consistent copy of a SQLite database, taken while the portal serves: the copy is what
    /// the database held when it began (SQLite's `VACUUM INTO` reads one snapshot, from a
    /// reader's connection, so writers go on meanwhile). The file is made readable by its
    /// owner only, as the database is, and is never one that already exists.
    pub async fn back_up_to(&self, path: &Path) -> Result<(), BackupError> {
        use std::os::unix::fs::OpenOptionsExt;
        if self.engine != Engine::Sqlite {
            return Err(BackupError::NotSqlite);
        }
        let shown = path.display().to_string();
        // `VACUUM INTO` writes into an empty file: made here, so that it is private and new.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => BackupError::Exists(shown.clone()),
                _ => BackupError::File(shown.clone(), e),
            })?;
        let copied = sqlx::query("VACUUM INTO $1")
            .bind(shown.clone())
            .execute(&self.pool)
            .await;
        if let Err(err) = copied {
            // A half-written copy is not a backup.
            let _ = std::fs::remove_file(path);
            return Err(StoreError::from(err).into());
        }
        Ok(())
    }

    /// SQLite's own check of every page and index: `ok`, or what is wrong.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await?;
        Ok(lines.join("\n"))
    }
}
