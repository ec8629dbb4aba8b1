//! The two engines' migrations give one schema: the same tables, columns, nullability, defaults
//! and indexes, read back from each migrated database and written in common words. The
//! differences that are meant are listed in [`MEANT`], each with its reason. Runs when
//! `PORTAL_TEST_POSTGRES` names a server (as `.ci/test`'s second run does).

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AnyConnection, Connection, Row};

use super::{testing, Store};

/// What the schema holds, in words both engines share: one line per column and per index.
type Schema = BTreeSet<String>;

/// Differences the two folders of migrations mean to have, and why.
const MEANT: &[(&str, &str)] = &[
    (
        "sqlite index accounts.accounts_by_given_key ((expression), (expression), id)",
        "SQLite reads a page of a given name's matches in the page's order only from an index \
         that holds that order (migration 0014)",
    ),
    (
        "postgres index accounts.accounts_by_given_key ((expression))",
        "PostgreSQL keeps the given name alone, in the C collation its `LIKE 'x%'` needs, and \
         sorts a prefix's matches within the search's budget (docs/scale.md)",
    ),
    (
        "sqlite index accounts.accounts_by_username_in_page_order (username_key, (expression), \
         (expression), id)",
        "SQLite pages a username search in the page's order from this index (migration 0014)",
    ),
    (
        "postgres index accounts.accounts_by_username_prefix (username_key)",
        "PostgreSQL's `LIKE 'x%'` needs an index of the username in the C collation",
    ),
];

/// How a column's declared type reads in common words: both engines hand the same Rust types
/// to the same statements (INTEGER and BIGINT are one integer).
fn kind(declared: &str) -> String {
    let declared = declared.to_ascii_lowercase();
    let word = declared.split(['(', ' ']).next().unwrap_or_default();
    match word {
        "integer" | "bigint" | "int" | "int8" | "smallint" => "integer",
        "text" | "varchar" | "character" => "text",
        "blob" | "bytea" => "bytes",
        "real" | "double" | "float8" => "real",
        "boolean" | "bool" => "boolean",
        other => other,
    }
    .to_string()
}

/// A default as a value: PostgreSQL's casts (`'x'::text`) and brackets dropped.
fn default_value(raw: Option<String>) -> String {
    let Some(raw) = raw else {
        return "none".into();
    };
    let mut value = raw.trim().to_string();
    if let Some((before, _)) = value.split_once("::") {
        value = before.to_string();
    }
    value.trim_matches(|c| c == '(' || c == ')').to_string()
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut db = AnyConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for table in tables {
        let columns = sqlx::query(&format!(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{table}')"
        ))
        .fetch_all(&mut db)
        .await
        .unwrap();
        for column in columns {
            let name: String = column.get(0);
            let declared: String = column.get(1);
            // A primary key's column holds no null, whatever SQLite's flag says.
            let not_null = column.get::<i64, _>(2) == 1 || column.get::<i64, _>(4) > 0;
            let default: Option<String> = column.get(3);
            schema.insert(format!(
                "column {table}.{name} {} {} default {}",
                kind(&declared),
                if not_null { "not null" } else { "null" },
                default_value(default)
            ));
        }
        let indexes = sqlx::query(&format!(
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list('{table}')"
        ))
        .fetch_all(&mut db)
        .await
        .unwrap();
        for index in indexes {
            let name: String = index.get(0);
            let unique = index.get::<i64, _>(1) == 1;
            let origin: String = index.get(2);
            let partial = index.get::<i64, _>(3) == 1;
            let keys: Vec<Option<String>> = sqlx::query_scalar(&format!(
                "SELECT name FROM pragma_index_info('{name}') ORDER BY seqno"
            ))
            .fetch_all(&mut db)
            .await
            .unwrap();
            let keys = keys
                .into_iter()
                .map(|k| k.unwrap_or_else(|| "(expression)".into()))
                .collect();
            schema.insert(index_line(
                "sqlite", &table, &name, &origin, unique, keys, partial,
            ));
        }
        // The primary key, whether SQLite keeps it as the rowid, in an index of its own or as
        // the table's order (`WITHOUT ROWID`).
        let keys: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT name FROM pragma_table_info('{table}') WHERE pk > 0 ORDER BY pk"
        ))
        .fetch_all(&mut db)
        .await
        .unwrap();
        if !keys.is_empty() {
            schema.insert(format!("primary key {table} ({})", keys.join(", ")));
        }
    }
    schema
}

/// One index in common words. Primary keys and unique constraints are named by their table
/// and columns, as each engine names them its own way.
fn index_line(
    engine: &str,
    table: &str,
    name: &str,
    origin: &str,
    unique: bool,
    keys: Vec<String>,
    partial: bool,
) -> String {
    let keys = keys.join(", ");
    match origin {
        "pk" => format!("primary key {table} ({keys})"),
        "u" => format!("unique {table} ({keys})"),
        _ => format!(
            "{engine} index {table}.{name} ({keys}){}{}",
            if unique { " unique" } else { "" },
            if partial { " partial" } else { "" }
        ),
    }
}

async fn postgres_schema(url: &str) -> Schema {
    let mut db = AnyConnection::connect(url).await.unwrap();
    let mut schema = Schema::new();
    let columns = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
         column_default::text, is_identity::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    for column in columns {
        let (table, name): (String, String) = (column.get(0), column.get(1));
        let declared: String = column.get(2);
        let not_null = column.get::<String, _>(3) == "NO";
        // An identity column's values come from the engine, as SQLite's rowid's do.
        let default = if column.get::<String, _>(5) == "YES" {
            None
        } else {
            column.get(4)
        };
        schema.insert(format!(
            "column {table}.{name} {} {} default {}",
            kind(&declared),
            if not_null { "not null" } else { "null" },
            default_value(default)
        ));
    }
    let indexes = sqlx::query(
        "SELECT t.relname::text, i.relname::text, x.indisunique::int4::int8, x.indisprimary::int4::int8, \
         (x.indpred IS NOT NULL)::int4::int8, \
         EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid AND c.contype = 'u')::int4::int8, \
         (SELECT string_agg(coalesce(a.attname::text, '(expression)'), ', ' ORDER BY k.n) \
            FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) \
            LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
            WHERE k.n <= x.indnkeyatts) \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace s ON s.oid = t.relnamespace \
         WHERE s.nspname = 'public' AND t.relname NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    for index in indexes {
        let (table, name): (String, String) = (index.get(0), index.get(1));
        let unique = index.get::<i64, _>(2) == 1;
        let origin = if index.get::<i64, _>(3) == 1 {
            "pk"
        } else if index.get::<i64, _>(5) == 1 {
            "u"
        } else {
            "c"
        };
        let keys: String = index.get(6);
        let keys = keys.split(", ").map(String::from).collect();
        let partial = index.get::<i64, _>(4) == 1;
        schema.insert(index_line(
            "postgres", &table, &name, origin, unique, keys, partial,
        ));
    }
    schema
}

/// What one schema has that the other lacks, less the differences that are meant.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    // Engine-specific index lines compare as one line once the engine's name is dropped.
    let common = |schema: &Schema, engine: &str| -> BTreeMap<String, String> {
        schema
            .iter()
            .map(|line| {
                (
                    line.replacen(&format!("{engine} index"), "index", 1),
                    line.clone(),
                )
            })
            .collect()
    };
    let (sqlite, postgres) = (common(sqlite, "sqlite"), common(postgres, "postgres"));
    let meant: BTreeSet<&str> = MEANT.iter().map(|(line, _)| *line).collect();
    let only = |one: &BTreeMap<String, String>, other: &BTreeMap<String, String>, name: &str| {
        one.iter()
            .filter(|(common, _)| !other.contains_key(*common))
            .filter(|(_, line)| !meant.contains(line.as_str()))
            .map(|(_, line)| format!("only on {name}: {line}"))
            .collect::<Vec<_>>()
    };
    let mut found = only(&sqlite, &postgres, "SQLite");
    found.extend(only(&postgres, &sqlite, "PostgreSQL"));
    found
}

#[tokio::test]
async fn both_engines_migrate_to_one_schema() {
    if testing::engine_under_test() != "postgres" {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}/schema.db", dir.path().display());
    let postgres_url = testing::scratch_database(dir.path()).await;
    Store::open(&sqlite_url).await.unwrap().close().await;
    Store::open(&postgres_url).await.unwrap().close().await;
    let (sqlite, postgres) = (
        sqlite_schema(&sqlite_url).await,
        postgres_schema(&postgres_url).await,
    );
    assert!(
        sqlite.contains("primary key sessions (id_hash)"),
        "{sqlite:#?}"
    );
    assert!(
        postgres.contains("primary key sessions (id_hash)"),
        "{postgres:#?}"
    );
    let columns = |schema: &Schema| schema.iter().filter(|l| l.starts_with("column")).count();
    assert!(columns(&sqlite) > 100, "{sqlite:#?}");
    let found = differences(&sqlite, &postgres);
    assert!(
        found.is_empty(),
        "the schemas differ:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_column_one_engine_lacks_is_named() {
    let sqlite = Schema::from([
        "column accounts.id integer not null default none".to_string(),
        "column accounts.nickname text null default none".to_string(),
        "sqlite index accounts.accounts_by_date_of_birth (date_of_birth)".to_string(),
    ]);
    let postgres = Schema::from([
        "column accounts.id integer not null default none".to_string(),
        "postgres index accounts.accounts_by_date_of_birth (date_of_birth)".to_string(),
        MEANT[3].0.to_string(),
    ]);
    assert_eq!(
        differences(&sqlite, &postgres),
        ["only on SQLite: column accounts.nickname text null default none"]
    );
    assert_eq!(kind("BIGINT"), kind("INTEGER"));
    assert_eq!(default_value(Some("'allow'::text".into())), "'allow'");
}
