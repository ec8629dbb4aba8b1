//! What support sees and does: finding patients, their sign-ins, texts and audit trail, and the
//! actions that unstick them. Also the admins' audit log.

use super::kinds::TextStatus;
use super::AccountId;
use super::{serialize, Engine, Store, StoreError};
use crate::clock::Millis;

/// How support looks a patient up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientSearch {
    DateOfBirth(String),
    /// The last 3 or 4 digits of a mobile number.
    MobileEnding(String),
    /// Each word starts a given name, family name or username.
    Words(Vec<String>),
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PatientSummaryRow {
    pub id: AccountId,
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub mobile: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TextRow {
    pub created_at: Millis,
    /// Masked once the message is done.
    pub to_number: String,
    #[sqlx(try_from = "String")]
    pub status: TextStatus,
    pub attempts: i64,
    pub delivery_status: Option<String>,
    pub last_error: Option<String>,
    pub provider: Option<String>,
}

/// One line of the audit trail, with the staff member's name where one acted.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditLine {
    pub id: i64,
    pub at: Millis,
    pub event: String,
    pub outcome: String,
    pub ip: String,
    pub detail: Option<String>,
    /// The patient's username, or the username as typed where no account has it.
    pub patient: Option<String>,
    pub staff: Option<String>,
    /// The request that wrote it (`X-Request-Id`), to find its log lines.
    pub request_id: Option<String>,
}

/// Where a page of the audit log starts. Pages are keyed by a line's id, not counted from the
/// newest line, so a page far back costs what the first does, and lines written between two
/// pages neither push a line onto the next page twice nor hide one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LinesFrom {
    /// The newest lines.
    #[default]
    Newest,
    /// The lines just older than this line, newest first.
    Before(i64),
    /// The lines just newer than this line (a page back), still given newest first.
    After(i64),
    /// The lines from line `from` up to (not including) line `below`, newest first: a stretch
    /// of ids, which an export reads several of at once.
    Between { from: i64, below: i64 },
}

/// Which audit lines an admin wants. Every filter is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub from: Option<Millis>,
    /// Exclusive.
    pub until: Option<Millis>,
    pub event: Option<String>,
    pub patient_username_key: Option<String>,
    pub staff_username_key: Option<String>,
}

/// How far one instance's clock may be behind another's (see `audit_ids_between`).
const AUDIT_CLOCK_SLACK: Millis = crate::clock::HOUR;

const AUDIT_LINE: &str = "SELECT a.id, a.at, a.event, a.outcome, a.ip, a.detail, \
     a.username AS patient, s.username AS staff, a.request_id \
     FROM audit_events a \
     LEFT JOIN staff s ON s.id = a.staff_id";

impl Store {
    /// Up to `limit` patients matching, from `offset`, by family name, given name and id, with
    /// names compared byte by byte (lower-cased) on both engines.
    ///
    /// Each way of looking up reads an index (see migrations 0013 and 0014): a name or username
    /// word is a range of keys from the word to the word followed by the last character there
    /// is, a date of birth is equal, and a mobile's ending is found by its last 3 digits.
    pub async fn search_patients(
        &self,
        search: &PatientSearch,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<PatientSummaryRow>, StoreError> {
        let [family, given, username] = match self.engine {
            Engine::Sqlite => ["lower(family_name)", "lower(given_name)", "username_key"],
            Engine::Postgres => [
                "lower(family_name) COLLATE \"C\"",
                "lower(given_name) COLLATE \"C\"",
                "username_key COLLATE \"C\"",
            ],
        };
        let keys = format!("{family} AS family_key, {given} AS given_key");
        let columns = format!(
            "SELECT id, username, given_name, family_name, date_of_birth, mobile, {keys} \
             FROM accounts"
        );
        let order = "ORDER BY family_key, given_key, id";
        let page = |binds: usize| format!("LIMIT ${} OFFSET ${}", binds + 1, binds + 2);
        let (sql, binds): (String, Vec<String>) = match search {
            PatientSearch::DateOfBirth(date) => (
                format!("{columns} WHERE date_of_birth = $1 {order} {}", page(1)),
                vec![date.clone()],
            ),
            PatientSearch::MobileEnding(digits) => {
                let last_three = digits[digits.len().saturating_sub(3)..].to_string();
                let [mobile, pending] = match self.engine {
                    Engine::Sqlite => ["substr(mobile, -3)", "substr(pending_mobile, -3)"],
                    Engine::Postgres => ["right(mobile, 3)", "right(pending_mobile, 3)"],
                };
                // Two lookups, one for each index: the pending number is seldom set.
                (
                    format!(
                        "{columns} WHERE id IN (SELECT id FROM accounts WHERE {mobile} = $1 \
                         AND mobile LIKE $2 UNION SELECT id FROM accounts \
                         WHERE pending_mobile IS NOT NULL AND {pending} = $1 \
                         AND pending_mobile LIKE $2) {order} {}",
                        page(2)
                    ),
                    vec![last_three, format!("%{digits}")],
                )
            }
            PatientSearch::Words(words) => {
                let words = match (self.engine, words.len()) {
                    (Engine::Sqlite, 2..) => self.fewest_patients_first(words).await?,
                    _ => words.clone(),
                };
                let range = |key: &str, n: usize| {
                    format!("({key} >= ${} AND {key} < ${})", 2 * n + 1, 2 * n + 2)
                };
                let range_any = |n: usize| {
                    let ranges = [family, given, username].map(|key| range(key, n));
                    format!("({})", ranges.join(" OR "))
                };
                let binds: Vec<String> = words
                    .iter()
                    .flat_map(|w| {
                        let word = w.to_lowercase();
                        [word.clone(), format!("{word}{}", char::MAX)]
                    })
                    .collect();
                // Every word after the first, each on any of the three keys.
                let also = (1..words.len())
                    .map(|n| format!(" AND {}", range_any(n)))
                    .collect::<String>();
                let sql = if words.len() == 1 || self.engine == Engine::Sqlite {
                    // One word may start the names of a seventh of the patients (`mar`). The
                    // first word's three keys are asked apart, for no more patients than the
                    // page needs, each from an index that holds the page's order too: the
                    // family names' index is in that order, and a word common among given
                    // names or usernames is sorted from its index alone (or, on PostgreSQL,
                    // found by walking the family names' index). Only the page's patients
                    // are then read. On SQLite the first word is the rarest, and the others
                    // are checked as each of its patients is read.
                    let enough = limit + offset;
                    let found = [family, given, username]
                        .map(|key| {
                            format!(
                                "SELECT * FROM (SELECT id, {keys} FROM accounts WHERE {}{also} \
                                 {order} LIMIT {enough}) AS k",
                                range(key, 0)
                            )
                        })
                        .join(" UNION ");
                    format!(
                        "SELECT a.id, a.username, a.given_name, a.family_name, \
                         a.date_of_birth, a.mobile \
                         FROM ({found} {order} {}) AS page JOIN accounts a ON a.id = page.id \
                         ORDER BY page.family_key, page.given_key, page.id",
                        page(binds.len())
                    )
                } else {
                    // PostgreSQL gathers the patients of several words from all their indexes
                    // at once (a `BitmapAnd`) and sorts them. Gathering them first (a
                    // materialized query) keeps it from walking the names in page order
                    // instead, which is slow when the words are common but seldom together
                    // (`mar smi`: the Smiths are far down the list).
                    format!(
                        "WITH found AS MATERIALIZED ({columns} WHERE {}{also}) \
                         SELECT * FROM found {order} {}",
                        range_any(0),
                        page(binds.len())
                    )
                };
                (sql, binds)
            }
        };
        let mut query = sqlx::query_as::<_, PatientSummaryRow>(&sql);
        for bind in binds {
            query = query.bind(bind);
        }
        Ok(query.bind(limit).bind(offset).fetch_all(&self.pool).await?)
    }

    /// `words` ordered by how many patients each starts a name or username of, fewest first
    /// (counted from the indexes, up to 20,000 a key). SQLite's search of several words reads
    /// the first word's patients and checks the others, and `smi mar` reads 13,000 patients
    /// where `mar smi` would read 200,000.
    async fn fewest_patients_first(&self, words: &[String]) -> Result<Vec<String>, StoreError> {
        let mut counted = Vec::with_capacity(words.len());
        for word in words {
            let word = word.to_lowercase();
            let count = ["lower(family_name)", "lower(given_name)", "username_key"]
                .map(|key| {
                    format!(
                        "(SELECT COUNT(*) FROM (SELECT 1 FROM accounts \
                         WHERE {key} >= $1 AND {key} < $2 LIMIT 20000) AS k)"
                    )
                })
                .join(" + ");
            let patients: i64 = sqlx::query_scalar(&format!("SELECT {count}"))
                .bind(&word)
                .bind(format!("{word}{}", char::MAX))
                .fetch_one(&self.pool)
                .await?;
            counted.push((patients, word));
        }
        counted.sort();
        Ok(counted.into_iter().map(|(_, word)| word).collect())
    }

    /// The patient's last sign-ins: (when, from where).
    pub async fn recent_sign_ins(
        &self,
        account_id: AccountId,
        limit: i64,
    ) -> Result<Vec<(Millis, String)>, StoreError> {
        Ok(sqlx::query_as(
            // Read by the patient's index, where their lines carry their event (an expression
            // keeps either engine off the event's index: millions of sign-ins, to find a patient
            // with none).
            "SELECT at, ip FROM audit_events WHERE account_id = $1 \
             AND (event || '') = 'signed_in' ORDER BY id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn recent_texts(
        &self,
        account_id: AccountId,
        limit: i64,
    ) -> Result<Vec<TextRow>, StoreError> {
        Ok(sqlx::query_as::<_, TextRow>(
            "SELECT created_at, to_number, status, attempts, delivery_status, last_error, \
             provider FROM sms_outbox WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// When a username's latest login delay ends, on any network or everywhere, if one is set.
    pub async fn login_delay(&self, username_key: &str) -> Result<Option<Millis>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MAX(delayed_until) FROM \
             (SELECT delayed_until FROM login_failures WHERE username_key = $1 \
              UNION ALL \
              SELECT delayed_until FROM login_failures_by_network WHERE username_key = $1) \
             AS delays",
        )
        .bind(username_key)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Clears a username's runs of failed logins and their delays, on every network.
    pub async fn unlock(&self, username_key: &str) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        serialize(&mut tx, self.engine, vec![format!("login:{username_key}")]).await?;
        for table in ["login_failures", "login_failures_by_network"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE username_key = $1"))
                .bind(username_key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Support's reset of a lost number: no number on file, verified or pending, and the next
    /// login asks for one as for a new patient. Codes waiting for the old ones are dropped.
    pub async fn reset_mobile(&self, account_id: AccountId) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE accounts SET mobile = NULL, mobile_verified_at = NULL, pending_mobile = NULL, \
             first_number_at_login = 2 WHERE id = $1",
        )
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM challenges WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The patient's audit trail, newest first.
    pub async fn audit_trail(
        &self,
        account_id: AccountId,
        limit: i64,
    ) -> Result<Vec<AuditLine>, StoreError> {
        Ok(sqlx::query_as::<_, AuditLine>(&format!(
            "{AUDIT_LINE} WHERE a.account_id = $1 ORDER BY a.id DESC LIMIT $2"
        ))
        .bind(account_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ids that every line written from `from` until `until` lies between. Lines are numbered
    /// in the order they are written, and each carries its instance's clock, so times and ids
    /// run together but for clocks that differ a little: a line is never more than
    /// `AUDIT_CLOCK_SLACK` behind one written before it. So every line timed from `from` comes
    /// after the last line timed before `from` less the slack, and every line timed before
    /// `until` comes before the first timed at `until` plus the slack. Each is one step in the
    /// time index.
    async fn audit_ids_between(
        &self,
        from: Option<Millis>,
        until: Option<Millis>,
    ) -> Result<(Option<i64>, Option<i64>), StoreError> {
        let mut after = None;
        if let Some(from) = from {
            after = sqlx::query_scalar(
                "SELECT id FROM audit_events WHERE at < $1 ORDER BY at DESC LIMIT 1",
            )
            .bind(from - AUDIT_CLOCK_SLACK)
            .fetch_optional(&self.pool)
            .await?;
        }
        let mut before = None;
        if let Some(until) = until {
            before = sqlx::query_scalar(
                "SELECT id FROM audit_events WHERE at >= $1 ORDER BY at LIMIT 1",
            )
            .bind(until + AUDIT_CLOCK_SLACK)
            .fetch_optional(&self.pool)
            .await?;
        }
        Ok((after, before))
    }

    /// The first line that the filter's dates allow, if any: where an export's stretches end.
    pub async fn first_audit_line(&self, filter: &AuditFilter) -> Result<Option<i64>, StoreError> {
        let (after_id, _) = self.audit_ids_between(filter.from, filter.until).await?;
        Ok(
            sqlx::query_scalar("SELECT MIN(id) FROM audit_events WHERE id > $1")
                .bind(after_id.unwrap_or(i64::MIN))
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Up to `limit` lines of the audit log as an admin filters it, newest first, from `from`.
    /// Lines written meanwhile are newer than any read, so reading on from the last line read
    /// neither skips nor repeats one.
    pub async fn audit_log(
        &self,
        filter: &AuditFilter,
        from: LinesFrom,
        limit: i64,
    ) -> Result<Vec<AuditLine>, StoreError> {
        let (sql, numbers, texts, newest_first) = self.audit_log_query(filter, from).await?;
        // Planned afresh with its values each time on PostgreSQL: a prepared plan for any
        // range of lines expects a big one, and PostgreSQL then starts two worker processes
        // for each page (or each batch of an export) and ends them again.
        let mut query =
            sqlx::query_as::<_, AuditLine>(&sql).persistent(self.engine == Engine::Sqlite);
        for number in numbers {
            query = query.bind(number);
        }
        for text in texts {
            query = query.bind(text);
        }
        let mut lines = query.bind(limit).fetch_all(&self.pool).await?;
        if !newest_first {
            lines.reverse();
        }
        Ok(lines)
    }

    /// How the database means to read a page of the audit log with `filter`: its plan, one
    /// step a line (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL), for the tests and
    /// the scale bench that check each filter reads by its most selective index.
    pub async fn audit_log_plan(
        &self,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<String, StoreError> {
        let (sql, numbers, texts, _) = self.audit_log_query(filter, LinesFrom::Newest).await?;
        let explain = match self.engine {
            Engine::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
            Engine::Postgres => format!("EXPLAIN {sql}"),
        };
        let mut query = sqlx::query(&explain);
        for number in numbers {
            query = query.bind(number);
        }
        for text in texts {
            query = query.bind(text);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        use sqlx::Row;
        let column = match self.engine {
            Engine::Sqlite => 3,
            Engine::Postgres => 0,
        };
        Ok(rows
            .iter()
            .filter_map(|row| row.try_get::<String, _>(column).ok())
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// The page's statement and what it binds: numbers, then texts (then the limit); and
    /// whether it reads newest first.
    async fn audit_log_query(
        &self,
        filter: &AuditFilter,
        from: LinesFrom,
    ) -> Result<(String, Vec<Millis>, Vec<String>, bool), StoreError> {
        let mut conditions = Vec::new();
        let mut numbers: Vec<Millis> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        // Numbers are bound first, then texts, then the page.
        let newest_first = match from {
            LinesFrom::Newest => true,
            LinesFrom::Before(line) => {
                numbers.push(line);
                conditions.push(format!("a.id < ${}", numbers.len()));
                true
            }
            LinesFrom::After(line) => {
                numbers.push(line);
                conditions.push(format!("a.id > ${}", numbers.len()));
                false
            }
            LinesFrom::Between { from, below } => {
                numbers.push(from);
                conditions.push(format!("a.id >= ${}", numbers.len()));
                numbers.push(below);
                conditions.push(format!("a.id < ${}", numbers.len()));
                true
            }
        };
        // Dates become a range of ids as well, so a range far back is read from the newest line
        // in it rather than from the newest line of all (see `audit_ids_between`). The times
        // themselves only sift (the `+` keeps either engine from reading by the time index):
        // read by time, a month of lines was sifted for one event's, where the event's index
        // reads just those within the ids.
        let (after_id, before_id) = self.audit_ids_between(filter.from, filter.until).await?;
        for (bound, condition) in [
            (filter.from, "+a.at >="),
            (filter.until, "+a.at <"),
            (after_id, "a.id >"),
            (before_id, "a.id <"),
        ] {
            if let Some(bound) = bound {
                numbers.push(bound);
                conditions.push(format!("{condition} ${}", numbers.len()));
            }
        }
        // A patient or staff member is found by name first, so that their lines are read by id
        // from an index rather than every line's name compared.
        let mut typed_username = None;
        let mut patient = false;
        if let Some(key) = &filter.patient_username_key {
            let account: Option<i64> =
                sqlx::query_scalar("SELECT id FROM accounts WHERE username_key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
            match account {
                Some(id) => {
                    numbers.push(id);
                    conditions.push(format!("a.account_id = ${}", numbers.len()));
                    patient = true;
                }
                // A name no account has: the refused logins that typed it.
                None => typed_username = Some(key.clone()),
            }
        }
        if let Some(key) = &filter.staff_username_key {
            let member: Option<i64> =
                sqlx::query_scalar("SELECT id FROM staff WHERE username_key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
            // Nobody by that name: no line is theirs.
            numbers.push(member.unwrap_or(-1));
            conditions.push(format!("a.staff_id = ${}", numbers.len()));
        }
        if let Some(event) = &filter.event {
            texts.push(event.clone());
            conditions.push(format!("a.event = ${}", numbers.len() + texts.len()));
        }
        if let Some(key) = typed_username {
            texts.push(key);
            conditions.push(format!(
                "a.account_id IS NULL AND lower(a.username) = ${}",
                numbers.len() + texts.len()
            ));
        }
        let filters = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let page = numbers.len() + texts.len();
        let order = if newest_first { "DESC" } else { "ASC" };
        let staff = filter.staff_username_key.is_some();
        let lines = match (
            self.engine,
            audit_index(
                patient,
                staff,
                typed_username_given(filter, patient),
                filter.event.is_some(),
            ),
        ) {
            // SQLite's planner chooses by its statistics, and statistics sampled at start-up
            // (a thousand rows an index) once had it read every line of an event to find one
            // patient's none. The index each filter reads is chosen here instead.
            (Engine::Sqlite, Some(index)) => AUDIT_LINE.replacen(
                "FROM audit_events a",
                &format!("FROM audit_events a INDEXED BY {index}"),
                1,
            ),
            _ => AUDIT_LINE.to_string(),
        };
        let sql = format!("{lines}{filters} ORDER BY a.id {order} LIMIT ${}", page + 1);
        Ok((sql, numbers, texts, newest_first))
    }
}

/// Whether the filter names a username that no account has (the refused logins that typed it).
fn typed_username_given(filter: &AuditFilter, patient: bool) -> bool {
    filter.patient_username_key.is_some() && !patient
}

/// The index that reads the fewest lines for a filter, ordered by id: a patient's lines (tens
/// of thousands at the very most) or a staff member's, with the other name or the event where
/// an index holds both; else the event's; else none (the lines' own order, within the dates'
/// ids).
fn audit_index(patient: bool, staff: bool, typed: bool, event: bool) -> Option<&'static str> {
    match (patient, staff, typed, event) {
        (true, true, _, _) => Some("audit_events_by_staff_and_patient"),
        (true, false, _, _) => Some("audit_events_by_account_id"),
        (false, true, _, true) => Some("audit_events_by_staff_and_event"),
        (false, true, _, false) => Some("audit_events_by_staff"),
        (false, false, true, _) => Some("audit_events_by_typed_username"),
        (false, false, false, true) => Some("audit_events_by_event"),
        (false, false, false, false) => None,
    }
}

/// What an action of the practice's (or a recovery) takes from an account. Sessions always end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccessToTake {
    pub passkeys: bool,
    pub devices: bool,
}

/// How much was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccessTaken {
    pub passkeys: u64,
    pub devices: u64,
    pub sessions: u64,
}

impl Store {
    /// Takes away what could still sign the account in without its password and number: its
    /// passkeys and remembered devices (as asked), then every session, in one transaction. The
    /// sessions go last, so a session a passkey or device began while this ran ends with the
    /// rest: a passkey sign-in takes its passkey's row first (`begin_session_with_passkey`),
    /// so it either finishes before these deletes reach the row, or finds the row gone.
    pub async fn take_access(
        &self,
        account_id: AccountId,
        what: AccessToTake,
    ) -> Result<AccessTaken, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut taken = AccessTaken::default();
        if what.devices {
            taken.devices = sqlx::query("DELETE FROM remembered_devices WHERE account_id = $1")
                .bind(account_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        if what.passkeys {
            taken.passkeys = sqlx::query("DELETE FROM passkeys WHERE account_id = $1")
                .bind(account_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        taken.sessions = sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(taken)
    }
}
