//! The audit trail: sign-ins, failures, codes sent and verified, number changes. Its lines form
//! a chain (migration 0017): each names the line before it and carries a MAC over its own
//! columns and that line's hash, under a key derived from the server key (lines written before
//! the key was used carry a bare SHA-256, and are checked as such up to the keyed ones).

use super::{AccountId, StaffId};
use hmac::{Hmac, Mac};
use sha2::{digest::Update, Digest, Sha256};

use super::{serialize, Store, StoreError};
use crate::clock::Millis;

/// Old lines deleted at a time: a sweep never holds the writer for long.
const AUDIT_SWEEP_BATCH: i64 = 5_000;

/// What writing a line answers: its id and username, and the line before it and that line's hash.
type ChainedInsert = (i64, Option<String>, Option<i64>, Option<String>);

/// Lines read at a time while the chain is checked.
const CHAIN_BATCH: i64 = 10_000;

/// A line's own columns, as they are hashed and read back.
const AUDIT_ROW: &str =
    "at, account_id, username, staff_id, ip, event, outcome, detail, request_id";

/// How a keyed line's hash begins: what tells it from a bare SHA-256 of the lines before.
const KEYED: &str = "m2:";

/// The event of the line that begins the keyed part of the chain, naming the last line before.
pub const KEYED_FROM_HERE: &str = "audit_chain_keyed";

/// The key audit lines and the chain's anchor are sealed with: derived from the server key, so
/// that someone holding the database alone can't write a line (or move the anchor) that checks.
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl AuditKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length")
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct AuditRow {
    pub at: Millis,
    pub account_id: Option<AccountId>,
    /// The username as typed, where no account is known.
    pub username: Option<String>,
    /// The staff member who acted, if one did.
    pub staff_id: Option<StaffId>,
    pub ip: String,
    pub event: String,
    pub outcome: String,
    pub detail: Option<String>,
    /// The ID of the request that wrote it, as its log lines carry it.
    pub request_id: Option<String>,
}

/// The newest line of the chain and its hash: what is noted elsewhere, to show later that
/// nothing after it was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub line: i64,
    pub hash: String,
}

impl Store {
    /// Writes a line, chained to the line before it (see migration 0017). A line about a
    /// patient carries their username as it is now (migration 0015), so that it reads whole
    /// without the patients' table.
    ///
    /// The line is written and then given its MAC, in one transaction: on SQLite the insert
    /// takes the one writer's lock before it reads the newest line (from another process too,
    /// such as an import), and on PostgreSQL a lock on the chain makes instances take turns, so
    /// the line read as the one before is the one before.
    pub async fn record_audit(
        &self,
        key: &AuditKey,
        event: &AuditRow,
    ) -> Result<ChainHead, StoreError> {
        self.record_audits(key, std::slice::from_ref(event)).await
    }

    /// Writes lines one after another in one transaction: one turn at the chain for all.
    /// Returns the chain's new head.
    pub async fn record_audits(
        &self,
        key: &AuditKey,
        events: &[AuditRow],
    ) -> Result<ChainHead, StoreError> {
        let mut tx = self.writer.begin().await?;
        serialize(&mut tx, self.engine, vec!["audit-chain".to_string()]).await?;
        let mut head = None;
        for event in events {
            head = Some(chain_line(&mut tx, key, event).await?);
        }
        tx.commit().await?;
        head.ok_or_else(|| StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// Begins the keyed part of the chain, once: where the newest line carries a bare SHA-256
    /// (written before the key was used), a sealed line naming it goes next, and the anchor is
    /// sealed. Run at start-up; `Some` when it wrote that line.
    pub async fn key_audit_chain(
        &self,
        key: &AuditKey,
        now: Millis,
    ) -> Result<Option<ChainHead>, StoreError> {
        let mut tx = self.writer.begin().await?;
        serialize(&mut tx, self.engine, vec!["audit-chain".to_string()]).await?;
        let newest: Option<(i64, Option<String>)> =
            sqlx::query_as("SELECT id, chain_hash FROM audit_events ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let Some((line, Some(hash))) =
            newest.filter(|(_, h)| h.as_deref().is_some_and(|h| !is_keyed(h)))
        else {
            return Ok(None);
        };
        let keyed_from = AuditRow {
            at: now,
            ip: "-".into(),
            event: KEYED_FROM_HERE.into(),
            outcome: "ok".into(),
            detail: Some(format!(
                "from here on each line carries a MAC under the server's key; the lines before end at line {line} with hash {hash}"
            )),
            ..AuditRow::default()
        };
        let head = chain_line(&mut tx, key, &keyed_from).await?;
        let anchor: Option<Anchor> = sqlx::query_as(ANCHOR).fetch_optional(&mut *tx).await?;
        if let Some(anchor) = anchor.filter(|a| a.anchor_mac.is_none()) {
            seal_anchor(&mut tx, key, &anchor).await?;
        }
        tx.commit().await?;
        Ok(Some(head))
    }
}

fn is_keyed(hash: &str) -> bool {
    hash.starts_with(KEYED)
}

/// The anchor: the line the chain begins at, what it follows, and when the anchor was set.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Anchor {
    first_line: i64,
    previous_line: Option<i64>,
    previous_hash: Option<String>,
    set_at: Millis,
    anchor_mac: Option<String>,
}

const ANCHOR: &str = "SELECT first_line, previous_line, previous_hash, set_at, anchor_mac \
     FROM audit_chain_anchor WHERE id = 1";

impl Anchor {
    fn mac(&self, key: &AuditKey) -> String {
        let mut mac = key.mac();
        Mac::update(&mut mac, b"portal audit anchor v2");
        let mut fields = Fields(&mut mac);
        fields.number(Some(self.first_line));
        fields.number(self.previous_line);
        fields.text(self.previous_hash.as_deref());
        fields.number(Some(self.set_at));
        format!("{KEYED}{}", hex::encode(mac.finalize().into_bytes()))
    }
}

async fn seal_anchor(
    tx: &mut sqlx::AnyConnection,
    key: &AuditKey,
    anchor: &Anchor,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE audit_chain_anchor SET anchor_mac = $1 WHERE id = 1")
        .bind(anchor.mac(key))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Writes one line at the end of the chain, inside a transaction that holds its turn.
async fn chain_line(
    tx: &mut sqlx::AnyConnection,
    key: &AuditKey,
    event: &AuditRow,
) -> Result<ChainHead, StoreError> {
    // The line goes in naming the newest line as the one before it and holding that
    // line's hash for a moment, from which its own is worked out.
    let (id, username, previous, previous_hash): ChainedInsert = sqlx::query_as(
        "INSERT INTO audit_events (at, account_id, username, staff_id, ip, event, outcome, \
             detail, request_id, chain_previous, chain_hash) \
             SELECT $1, $2, COALESCE((SELECT username FROM accounts WHERE id = $2), $3), \
             $4, $5, $6, $7, $8, $9, newest.id, newest.chain_hash \
             FROM (SELECT 1 AS one) AS this_line LEFT JOIN \
             (SELECT id, chain_hash FROM audit_events ORDER BY id DESC LIMIT 1) AS newest \
             ON 1 = 1 \
             RETURNING id, username, chain_previous, chain_hash",
    )
    .bind(event.at)
    .bind(event.account_id)
    .bind(&event.username)
    .bind(event.staff_id)
    .bind(&event.ip)
    .bind(&event.event)
    .bind(&event.outcome)
    .bind(&event.detail)
    .bind(&event.request_id)
    .fetch_one(&mut *tx)
    .await?;
    let previous_hash = match previous_hash {
        Some(hash) => hash,
        // The line before is outside the chain (or there is none): the chain begins here,
        // unless it already began, which only a line tampered with can make so.
        None => {
            let anchor = Anchor {
                first_line: id,
                previous_line: previous,
                previous_hash: None,
                set_at: event.at,
                anchor_mac: None,
            };
            sqlx::query(
                "INSERT INTO audit_chain_anchor (id, first_line, previous_line, \
                     previous_hash, set_at, anchor_mac) VALUES (1, $1, $2, NULL, $3, $4) \
                     ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(previous)
            .bind(event.at)
            .bind(anchor.mac(key))
            .execute(&mut *tx)
            .await?;
            String::new()
        }
    };
    let line = ChainedLine {
        id,
        previous,
        row: AuditRow {
            username,
            ..event.clone()
        },
    };
    let hash = line.mac(key, &previous_hash);
    sqlx::query("UPDATE audit_events SET chain_hash = $1 WHERE id = $2")
        .bind(&hash)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(ChainHead { line: id, hash })
}

/// What `verify_audit_chain` holds the chain to.
#[derive(Debug, Clone)]
pub struct ChainRules {
    pub key: AuditKey,
    /// The oldest a line may be under the retention: an anchor moved later than this moved
    /// over lines that were still to be kept.
    pub kept_from: Millis,
    /// Heads noted elsewhere (the log, `PORTAL_AUDIT_HEADS_TO`): each must still be in the chain,
    /// whole and with the same hash, or the chain was cut after it.
    pub expect: Vec<ChainHead>,
}

impl Store {
    /// Deletes up to a batch of the oldest lines written before `kept_from`, and moves the
    /// chain's anchor to the first line kept, with the hash of the last one deleted and a new
    /// seal, so that the chain still checks from there. The newest line is always kept: the
    /// next line written follows it.
    pub async fn sweep_audit(&self, key: &AuditKey, kept_from: Millis) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin().await?;
        serialize(&mut tx, self.engine, vec!["audit-chain".to_string()]).await?;
        let oldest: Vec<(i64, Millis, Option<String>)> =
            sqlx::query_as("SELECT id, at, chain_hash FROM audit_events ORDER BY id LIMIT $1")
                .bind(AUDIT_SWEEP_BATCH + 1)
                .fetch_all(&mut *tx)
                .await?;
        // Lines go in the order they were written, up to the first still kept.
        let ended = oldest
            .iter()
            .take(
                oldest
                    .len()
                    .saturating_sub(1)
                    .min(AUDIT_SWEEP_BATCH as usize),
            )
            .take_while(|(_, at, _)| *at < kept_from)
            .last();
        let Some((last, _, last_hash)) = ended else {
            return Ok(0);
        };
        let deleted = sqlx::query("DELETE FROM audit_events WHERE id <= $1")
            .bind(last)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let first_kept: Option<i64> =
            sqlx::query_scalar("SELECT MIN(id) FROM audit_events WHERE id > $1")
                .bind(last)
                .fetch_one(&mut *tx)
                .await?;
        let anchor: Option<Anchor> = sqlx::query_as(ANCHOR).fetch_optional(&mut *tx).await?;
        if let (Some(anchor), Some(first_kept)) = (anchor, first_kept) {
            if anchor.first_line <= *last {
                let moved = Anchor {
                    first_line: first_kept,
                    previous_line: Some(*last),
                    previous_hash: last_hash.clone(),
                    set_at: kept_from,
                    anchor_mac: None,
                };
                sqlx::query(
                    "UPDATE audit_chain_anchor SET first_line = $1, previous_line = $2, \
                     previous_hash = $3, set_at = $4, anchor_mac = $5 WHERE id = 1",
                )
                .bind(moved.first_line)
                .bind(moved.previous_line)
                .bind(&moved.previous_hash)
                .bind(moved.set_at)
                .bind(moved.mac(key))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// The newest line and its hash: noted elsewhere now and then (the log, and
    /// `PORTAL_AUDIT_HEADS_TO`), so that a chain cut or rewritten after it shows.
    pub async fn audit_chain_head(&self) -> Result<Option<ChainHead>, StoreError> {
        let newest: Option<(i64, Option<String>)> =
            sqlx::query_as("SELECT id, chain_hash FROM audit_events ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(newest.and_then(|(line, hash)| hash.map(|hash| ChainHead { line, hash })))
    }

    /// Walks the audit chain from its anchor, line by line in the order they were written,
    /// and says where it first breaks, if it does: a line changed, removed or put in, a line
    /// or an anchor not sealed with the key, an anchor missing or moved over lines still to be
    /// kept, or a head noted elsewhere that the chain no longer reaches.
    pub async fn verify_audit_chain(&self, rules: &ChainRules) -> Result<ChainCheck, StoreError> {
        let anchor: Option<Anchor> = sqlx::query_as(ANCHOR).fetch_optional(&self.pool).await?;
        let count = |sql: &'static str, bound: Option<i64>| async move {
            let mut query = sqlx::query_scalar::<_, i64>(sql);
            if let Some(bound) = bound {
                query = query.bind(bound);
            }
            query.fetch_one(&self.pool).await
        };
        let before_chain = count(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_events \
             WHERE chain_hash IS NULL AND id < $1",
            Some(anchor.as_ref().map_or(i64::MAX, |a| a.first_line)),
        )
        .await?;
        let mut check = ChainCheck {
            before_chain,
            ..ChainCheck::default()
        };
        let Some(anchor) = anchor else {
            // Lines in a chain with nothing to say where it begins: the anchor was taken away.
            let chained = count(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_events WHERE chain_hash IS NOT NULL",
                None,
            )
            .await?;
            if chained > 0 {
                check.problem = Some(ChainProblem::NoAnchor);
            }
            return Ok(check);
        };
        // Chained lines before the anchor: it was moved over them.
        let chained_before = count(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_events \
             WHERE chain_hash IS NOT NULL AND id < $1",
            Some(anchor.first_line),
        )
        .await?;
        if chained_before > 0 {
            check.problem = Some(ChainProblem::AnchorMoved);
            return Ok(check);
        }
        let keyed_lines = count(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_events WHERE chain_hash LIKE 'm2:%'",
            None,
        )
        .await?;
        match &anchor.anchor_mac {
            Some(mac) if *mac != anchor.mac(&rules.key) => {
                check.problem = Some(ChainProblem::AnchorMoved);
                return Ok(check);
            }
            None if keyed_lines > 0 => {
                check.problem = Some(ChainProblem::AnchorMoved);
                return Ok(check);
            }
            _ => {}
        }
        // A sweep sets the anchor to the oldest a kept line may be: one set later moved over
        // lines the retention still keeps.
        if anchor.previous_line.is_some() && anchor.set_at > rules.kept_from {
            check.problem = Some(ChainProblem::AnchorTooLate);
            return Ok(check);
        }
        let mut walk = ChainWalk {
            key: rules.key.clone(),
            last: anchor.previous_line,
            last_hash: anchor.previous_hash.clone().unwrap_or_default(),
            keyed: false,
        };
        let mut expected = rules.expect.clone();
        let mut from = anchor.first_line;
        loop {
            // One line more than is checked, to see what the batch's last line is followed by.
            let lines: Vec<StoredChainLine> = sqlx::query_as(&format!(
                "SELECT id, chain_previous, chain_hash, {AUDIT_ROW} FROM audit_events \
                 WHERE id >= $1 ORDER BY id LIMIT $2"
            ))
            .bind(from)
            .bind(CHAIN_BATCH + 1)
            .fetch_all(&self.pool)
            .await?;
            let checked = lines.len().min(CHAIN_BATCH as usize);
            for (i, stored) in lines[..checked].iter().enumerate() {
                if let Some(problem) = walk.step(stored, lines.get(i + 1)) {
                    check.problem = Some(problem);
                    return Ok(check);
                }
                check.chained += 1;
                check.newest = Some((stored.id, walk.last_hash.clone()));
                if let Some(noted) = expected.iter().position(|e| e.line == stored.id) {
                    if expected[noted].hash != walk.last_hash {
                        check.problem = Some(ChainProblem::NotAsNoted(stored.id));
                        return Ok(check);
                    }
                    expected.remove(noted);
                }
            }
            match lines.get(checked) {
                Some(next) => from = next.id,
                None => break,
            }
        }
        // Once the key was used, the chain ends with a keyed line: lines written since cut away
        // (back to before the key, say) would leave an older kind of line last.
        let keyed_era = anchor.anchor_mac.is_some() && keyed_lines > 0;
        if keyed_era && !walk.keyed {
            check.problem = Some(ChainProblem::Unsealed(walk.last.unwrap_or_default()));
            return Ok(check);
        }
        if let Some(missing) = expected.first() {
            check.problem = Some(ChainProblem::CutAfter(missing.line));
        }
        Ok(check)
    }

    pub async fn audit_events(&self, account_id: AccountId) -> Result<Vec<AuditRow>, StoreError> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT at, account_id, username, staff_id, ip, event, outcome, detail, request_id \
             FROM audit_events WHERE account_id = $1 ORDER BY id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Events recorded against a username that no account has (refused logins).
    pub async fn audit_events_for_username(
        &self,
        username: &str,
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT at, account_id, username, staff_id, ip, event, outcome, detail, request_id \
             FROM audit_events WHERE username = $1 AND account_id IS NULL ORDER BY id",
        )
        .bind(username)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A line as the chain holds it: its own columns, where it is, and what it follows.
struct ChainedLine {
    id: i64,
    previous: Option<i64>,
    row: AuditRow,
}

/// Feeds a line's parts to a hash or a MAC, each told apart from the next by its length (or
/// its absence).
struct Fields<'a, H: Update>(&'a mut H);

impl<H: Update> Fields<'_, H> {
    fn number(&mut self, n: Option<i64>) {
        match n {
            None => self.0.update(&[0]),
            Some(n) => {
                self.0.update(&[1]);
                self.0.update(&n.to_be_bytes());
            }
        }
    }

    fn text(&mut self, t: Option<&str>) {
        match t {
            None => self.0.update(&[0]),
            Some(t) => {
                self.0.update(&[1]);
                self.0.update(&(t.len() as u64).to_be_bytes());
                self.0.update(t.as_bytes());
            }
        }
    }
}

impl ChainedLine {
    fn feed(&self, hash: &mut impl Update, previous_hash: &str) {
        let mut fields = Fields(hash);
        let row = &self.row;
        fields.number(Some(self.id));
        fields.number(self.previous);
        fields.number(Some(row.at));
        fields.number(row.account_id.map(|id| id.0));
        fields.number(row.staff_id.map(|id| id.0));
        fields.text(row.username.as_deref());
        fields.text(Some(&row.ip));
        fields.text(Some(&row.event));
        fields.text(Some(&row.outcome));
        fields.text(row.detail.as_deref());
        fields.text(row.request_id.as_deref());
        fields.text(Some(previous_hash));
    }

    /// SHA-256 over the line's place, every one of its columns and the hash of the line
    /// before, in hex: how lines were sealed before the key was used.
    fn hash(&self, previous_hash: &str) -> String {
        let mut hash = Sha256::new();
        Update::update(&mut hash, b"portal audit line v1");
        self.feed(&mut hash, previous_hash);
        hex::encode(hash.finalize())
    }

    /// The same under the audit key: only the server's key can make one that checks.
    fn mac(&self, key: &AuditKey, previous_hash: &str) -> String {
        let mut mac = key.mac();
        Mac::update(&mut mac, b"portal audit line v2");
        self.feed(&mut mac, previous_hash);
        format!("{KEYED}{}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// Where a walk along the chain has got to: the last line found whole, and its hash.
struct ChainWalk {
    key: AuditKey,
    last: Option<i64>,
    last_hash: String,
    /// A keyed line has been seen: every line from here on must be keyed too.
    keyed: bool,
}

impl ChainWalk {
    /// Checks the next line (given the one after it, if any) against the last one found
    /// whole, and moves on to it if it is whole too.
    fn step(
        &mut self,
        stored: &StoredChainLine,
        next: Option<&StoredChainLine>,
    ) -> Option<ChainProblem> {
        let Some(hash) = &stored.chain_hash else {
            return Some(ChainProblem::Unchained(stored.id));
        };
        if stored.chain_previous != self.last {
            return Some(match (stored.chain_previous, self.last) {
                // It follows a line before the last one seen: that one was put in.
                (Some(named), Some(seen)) if named < seen => ChainProblem::PutIn(seen),
                (None, Some(seen)) => ChainProblem::PutIn(seen),
                (named, _) => ChainProblem::Removed {
                    line: named,
                    before: stored.id,
                },
            });
        }
        let line = ChainedLine {
            id: stored.id,
            previous: stored.chain_previous,
            row: stored.row.clone(),
        };
        let keyed = is_keyed(hash);
        if self.keyed && !keyed {
            // After the key was first used, a bare hash is one anyone could have worked out.
            return Some(ChainProblem::Unsealed(stored.id));
        }
        let expected = match keyed {
            true => line.mac(&self.key, &self.last_hash),
            false => line.hash(&self.last_hash),
        };
        if expected != *hash {
            // A line the next one skips over was put in, not changed.
            let skipped = next.is_some_and(|next| next.chain_previous == stored.chain_previous);
            return Some(if skipped {
                ChainProblem::PutIn(stored.id)
            } else {
                ChainProblem::Changed(stored.id)
            });
        }
        self.keyed = keyed;
        self.last = Some(stored.id);
        self.last_hash = hash.clone();
        None
    }
}

#[derive(sqlx::FromRow)]
struct StoredChainLine {
    id: i64,
    chain_previous: Option<i64>,
    chain_hash: Option<String>,
    #[sqlx(flatten)]
    row: AuditRow,
}

/// What walking the chain found.
#[derive(Debug, Default)]
pub struct ChainCheck {
    /// Lines written before the chain began (before migration 0017): not in it.
    pub before_chain: i64,
    /// Lines checked and found whole.
    pub chained: i64,
    /// The last line found whole, and its hash: compare it with the one the log gave.
    pub newest: Option<(i64, String)>,
    pub problem: Option<ChainProblem>,
}

/// The first place the chain breaks.
#[derive(Debug, PartialEq, Eq)]
pub enum ChainProblem {
    /// This line isn't what was written: a column, its place or its hash was changed.
    Changed(i64),
    /// The line written before `before` (line `line`, if it said which) is gone.
    Removed { line: Option<i64>, before: i64 },
    /// This line was put in afterwards: the line after it was written following another.
    PutIn(i64),
    /// This line has no place in the chain: written outside the portal, or its hash taken off.
    Unchained(i64),
    /// This line carries a bare hash where the key was in use: anyone could have worked it out.
    Unsealed(i64),
    /// Lines are chained, but the anchor that says where the chain begins is gone.
    NoAnchor,
    /// The anchor isn't where the portal set it: its seal doesn't match, or chained lines come
    /// before it.
    AnchorMoved,
    /// The anchor was moved over lines the retention still keeps.
    AnchorTooLate,
    /// A head noted elsewhere is in the chain with another hash.
    NotAsNoted(i64),
    /// A head noted elsewhere is no longer in the chain: the chain was cut after it.
    CutAfter(i64),
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainProblem::Changed(line) => write!(
                f,
                "line {line} was changed after it was written (its columns no longer match its hash)"
            ),
            ChainProblem::Removed {
                line: Some(line),
                before,
            } => write!(f, "line {line}, written just before line {before}, was removed"),
            ChainProblem::Removed { line: None, before } => {
                write!(f, "the line written just before line {before} was removed")
            }
            ChainProblem::PutIn(line) => write!(
                f,
                "line {line} was put in afterwards (the line after it was written following another)"
            ),
            ChainProblem::Unchained(line) => write!(
                f,
                "line {line} is not in the chain: it was written outside the portal, or its hash was taken off"
            ),
            ChainProblem::Unsealed(line) => write!(
                f,
                "line {line} is not sealed with the server's key, though the lines before it are: it was written or rewritten outside the portal"
            ),
            ChainProblem::NoAnchor => write!(
                f,
                "lines are chained, but the chain's anchor (where it begins) is missing"
            ),
            ChainProblem::AnchorMoved => write!(
                f,
                "the chain's anchor was changed: it isn't where the portal set it"
            ),
            ChainProblem::AnchorTooLate => write!(
                f,
                "the chain's anchor was moved over lines the retention still keeps"
            ),
            ChainProblem::NotAsNoted(line) => write!(
                f,
                "line {line} doesn't have the hash that was noted for it"
            ),
            ChainProblem::CutAfter(line) => write!(
                f,
                "line {line}, noted as the chain's head, is no longer in the chain: lines were cut"
            ),
        }
    }
}

#[cfg(any(test, feature = "testing"))]
impl Store {
    /// What someone holding the database alone can do: rewrite every line from `from` on with
    /// a bare SHA-256, as the lines before the key were. For tests that show it is refused.
    pub async fn rehash_audit_lines_without_the_key(&self, from: i64) -> Result<(), StoreError> {
        let lines: Vec<StoredChainLine> = sqlx::query_as(&format!(
            "SELECT id, chain_previous, chain_hash, {AUDIT_ROW} FROM audit_events \
             WHERE id >= $1 ORDER BY id"
        ))
        .bind(from)
        .fetch_all(&self.writer)
        .await?;
        let before: Option<Option<String>> = sqlx::query_scalar(
            "SELECT chain_hash FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(from)
        .fetch_optional(&self.writer)
        .await?;
        let mut previous_hash = before.flatten().unwrap_or_default();
        for stored in &lines {
            let hash = ChainedLine {
                id: stored.id,
                previous: stored.chain_previous,
                row: stored.row.clone(),
            }
            .hash(&previous_hash);
            sqlx::query("UPDATE audit_events SET chain_hash = $1 WHERE id = $2")
                .bind(&hash)
                .bind(stored.id)
                .execute(&self.writer)
                .await?;
            previous_hash = hash;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditKey {
        AuditKey::new([7; 32])
    }

    fn row(id: i64) -> AuditRow {
        AuditRow {
            at: 1_800_000_000_000 + id,
            event: "signed_in".into(),
            outcome: "ok".into(),
            ip: "192.0.2.1".into(),
            ..AuditRow::default()
        }
    }

    /// Lines chained as the portal writes them, with ids as given: the first `bare` with a bare
    /// SHA-256 (before the key was used), the rest keyed.
    fn chained_from(ids: &[i64], bare: usize) -> Vec<StoredChainLine> {
        let mut lines: Vec<StoredChainLine> = Vec::new();
        let (mut previous, mut previous_hash) = (None, String::new());
        for (i, &id) in ids.iter().enumerate() {
            let line = ChainedLine {
                id,
                previous,
                row: row(id),
            };
            let hash = match i < bare {
                true => line.hash(&previous_hash),
                false => line.mac(&key(), &previous_hash),
            };
            lines.push(StoredChainLine {
                id,
                chain_previous: previous,
                chain_hash: Some(hash.clone()),
                row: line.row,
            });
            (previous, previous_hash) = (Some(id), hash);
        }
        lines
    }

    fn chained(ids: &[i64]) -> Vec<StoredChainLine> {
        chained_from(ids, 0)
    }

    fn walk(lines: &[StoredChainLine]) -> Option<ChainProblem> {
        let mut walk = ChainWalk {
            key: key(),
            last: None,
            last_hash: String::new(),
            keyed: false,
        };
        (0..lines.len()).find_map(|i| walk.step(&lines[i], lines.get(i + 1)))
    }

    /// Every line from `from` on hashed again by SHA-256 alone, as someone without the key could.
    fn rehash_bare(lines: &mut [StoredChainLine], from: usize) {
        let mut previous_hash = lines[from - 1].chain_hash.clone().unwrap();
        for stored in &mut lines[from..] {
            let hash = ChainedLine {
                id: stored.id,
                previous: stored.chain_previous,
                row: stored.row.clone(),
            }
            .hash(&previous_hash);
            stored.chain_hash = Some(hash.clone());
            previous_hash = hash;
        }
    }

    #[test]
    fn keyed_lines_follow_bare_ones_and_a_bare_hash_never_follows_a_keyed_line() {
        assert_eq!(walk(&chained_from(&[1, 2, 3, 4], 2)), None);
        assert_eq!(walk(&chained_from(&[1, 2, 3, 4], 4)), None);
        // A keyed line edited, and its hash (and every later one) worked out again by SHA-256
        // alone, as anyone holding the database could.
        let mut rewritten = chained_from(&[1, 2, 3, 4], 2);
        rewritten[2].row.detail = Some("edited".into());
        rehash_bare(&mut rewritten, 2);
        assert_eq!(walk(&rewritten), None, "bare lines alone can't tell");
        let mut rewritten = chained_from(&[1, 2, 3, 4, 5], 2);
        rewritten[3].row.detail = Some("edited".into());
        rehash_bare(&mut rewritten, 3);
        assert_eq!(walk(&rewritten), Some(ChainProblem::Unsealed(4)));
        // Or with a key of its own: the MAC doesn't match.
        let mut forged = chained(&[1, 2, 3]);
        forged[1].row.detail = Some("edited".into());
        forged[1].chain_hash = Some(
            ChainedLine {
                id: 2,
                previous: Some(1),
                row: forged[1].row.clone(),
            }
            .mac(
                &AuditKey::new([8; 32]),
                forged[0].chain_hash.as_deref().unwrap(),
            ),
        );
        assert_eq!(walk(&forged), Some(ChainProblem::Changed(2)));
    }

    #[test]
    fn a_walk_names_the_first_line_changed_removed_or_put_in() {
        let whole = chained(&[1, 2, 3, 5, 6]);
        assert_eq!(walk(&whole), None);

        let mut changed = chained(&[1, 2, 3, 5, 6]);
        changed[2].row.detail = Some("edited".into());
        assert_eq!(walk(&changed), Some(ChainProblem::Changed(3)));
        let mut rehashed = chained(&[1, 2, 3, 5, 6]);
        rehashed[1].chain_hash = Some(format!("{KEYED}{}", "0".repeat(64)));
        assert_eq!(walk(&rehashed), Some(ChainProblem::Changed(2)));

        let mut removed = chained(&[1, 2, 3, 5, 6]);
        removed.remove(2);
        assert_eq!(
            walk(&removed),
            Some(ChainProblem::Removed {
                line: Some(3),
                before: 5
            })
        );
        let mut first_removed = chained(&[1, 2, 3]);
        first_removed.remove(0);
        assert_eq!(
            walk(&first_removed),
            Some(ChainProblem::Removed {
                line: Some(1),
                before: 2
            })
        );

        // Put in where an id was free, chained to the line before it, with a hash made up...
        let mut put_in = chained(&[1, 2, 3, 5, 6]);
        let mut forged = chained(&[1, 2, 3, 4]).pop().unwrap();
        forged.chain_hash = Some(format!("{KEYED}{}", "f".repeat(64)));
        put_in.insert(3, forged);
        assert_eq!(walk(&put_in), Some(ChainProblem::PutIn(4)));
        // ...or with the right hash, worked out by whoever put it in: the next line shows it.
        let mut put_in = chained(&[1, 2, 3, 5, 6]);
        put_in.insert(3, chained(&[1, 2, 3, 4]).pop().unwrap());
        assert_eq!(walk(&put_in), Some(ChainProblem::PutIn(4)));
        // Without a place in the chain at all.
        let mut unchained = chained(&[1, 2, 3, 5, 6]);
        unchained[4].chain_hash = None;
        assert_eq!(walk(&unchained), Some(ChainProblem::Unchained(6)));
    }
}

/// Whether an export may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportTurn {
    /// It may: its place is taken under its token.
    Taken,
    /// Not now: this staff member has one running.
    TheirsRunning,
    /// Not now: as many as the portal runs at once are running.
    PortalBusy,
}

impl Store {
    /// Takes a place for an audit export, with a lease until `lease_until`: one per staff
    /// member and `most` across every instance, counted in one transaction that holds the
    /// exports' turn. Leases that ran out (an instance that stopped mid-export) don't count.
    pub async fn begin_export(
        &self,
        token: &str,
        staff_id: StaffId,
        most: i64,
        now: Millis,
        lease_until: Millis,
    ) -> Result<ExportTurn, StoreError> {
        let mut tx = self.writer.begin().await?;
        serialize(&mut tx, self.engine, vec!["audit-exports".to_string()]).await?;
        sqlx::query("DELETE FROM audit_exports WHERE lease_until < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let (running, theirs): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN staff_id = $1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM audit_exports",
        )
        .bind(staff_id)
        .fetch_one(&mut *tx)
        .await?;
        if theirs > 0 {
            return Ok(ExportTurn::TheirsRunning);
        }
        if running >= most {
            return Ok(ExportTurn::PortalBusy);
        }
        sqlx::query("INSERT INTO audit_exports (token, staff_id, lease_until) VALUES ($1, $2, $3)")
            .bind(token)
            .bind(staff_id)
            .bind(lease_until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ExportTurn::Taken)
    }

    /// Keeps a running export's place until `lease_until`.
    pub async fn renew_export(&self, token: &str, lease_until: Millis) -> Result<(), StoreError> {
        sqlx::query("UPDATE audit_exports SET lease_until = $1 WHERE token = $2")
            .bind(lease_until)
            .bind(token)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Gives an export's place back: it ended.
    pub async fn end_export(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM audit_exports WHERE token = $1")
            .bind(token)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
