//! Throwaway databases for tests: SQLite in a temporary folder, or, when `PORTAL_TEST_POSTGRES`
//! names a PostgreSQL server (as `.ci/test` does for its second run), a new database on it. The
//! same tests run on both engines this way.

use std::path::Path;

use rand::RngCore;
use sqlx::{AnyConnection, Connection, Executor};

/// The variable naming the PostgreSQL server for tests, e.g. `postgres://portal@127.0.0.1:5544`.
pub const POSTGRES_VAR: &str = "PORTAL_TEST_POSTGRES";

/// The engine the tests run on, for their names in the output.
pub fn engine_under_test() -> &'static str {
    match std::env::var(POSTGRES_VAR) {
        Ok(server) if !server.is_empty() => "postgres",
        _ => "sqlite",
    }
}

/// The URL of a new, empty database for one test (`dir` holds the SQLite file).
///
/// # Panics
/// When the PostgreSQL server named can't create a database: the tests can't run then.
pub async fn scratch_database(dir: &Path) -> String {
    match std::env::var(POSTGRES_VAR) {
        Ok(server) if !server.is_empty() => {
            sqlx::any::install_default_drivers();
            let server = server.trim_end_matches('/');
            let mut raw = [0u8; 8];
            rand::rngs::OsRng.fill_bytes(&mut raw);
            let name = format!("portal_test_{}", hex::encode(raw));
            let mut admin = AnyConnection::connect(&format!("{server}/postgres"))
                .await
                .unwrap_or_else(|e| panic!("{POSTGRES_VAR}={server}: {e}"));
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap_or_else(|e| panic!("creating a test database on {server}: {e}"));
            format!("{server}/{name}")
        }
        _ => format!("sqlite://{}/portal.db", dir.display()),
    }
}
