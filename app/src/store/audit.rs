//! The audit trail: sign-ins, failures, codes sent and verified, number changes.

use sha2::{Digest, Sha256};

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

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct AuditRow {
    pub at: Millis,
    pub account_id: Option<i64>,
    /// The username as typed, where no account is known.
    pub username: Option<String>,
    /// The staff member who acted, if one did.
    pub staff_id: Option<i64>,
    pub ip: String,
    pub event: String,
    pub outcome: String,
    pub detail: Option<String>,
    /// The ID of the request that wrote it, as its log lines carry it.
    pub request_id: Option<String>,
}

impl Store {
    /// Writes a line, chained to the line before it (see migration 0017). A line about a
    /// patient carries their username as it is now (migration 0015), so that it reads whole
    /// without the patients' table.
    ///
    /// The line is written and then given its hash, in one transaction: on SQLite the insert
    /// takes the one writer's lock before it reads the newest line (from another process too,
    /// such as an import), and on PostgreSQL a lock on the chain makes instances take turns, so
    /// the line read as the one before is the one before.
    pub async fn record_audit(&self, event: &AuditRow) -> Result<(), StoreError> {
        self.record_audits(std::slice::from_ref(event)).await
    }

    /// Writes lines one after another in one transaction: one turn at the chain for all.
    pub async fn record_audits(&self, events: &[AuditRow]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        serialize(&mut tx, self.engine, vec!["audit-chain".to_string()]).await?;
        for event in events {
            chain_line(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Writes one line at the end of the chain, inside a transaction that holds its turn.
async fn chain_line(tx: &mut sqlx::AnyConnection, event: &AuditRow) -> Result<(), StoreError> {
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
            sqlx::query(
                "INSERT INTO audit_chain_anchor (id, first_line, previous_line, \
                     previous_hash, set_at) VALUES (1, $1, $2, NULL, $3) \
                     ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(previous)
            .bind(event.at)
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
    sqlx::query("UPDATE audit_events SET chain_hash = $1 WHERE id = $2")
        .bind(line.hash(&previous_hash))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

impl Store {
    /// Deletes up to a batch of the oldest lines written before `kept_from`, and moves the
    /// chain's anchor to the first line kept, with the hash of the last one deleted, so that
    /// the chain still checks from there. The newest line is always kept: the next line
    /// written follows it.
    pub async fn sweep_audit(&self, kept_from: Millis) -> Result<u64, StoreError> {
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
        sqlx::query(
            "UPDATE audit_chain_anchor SET first_line = \
             (SELECT MIN(id) FROM audit_events WHERE id > $1), \
             previous_line = $1, previous_hash = $2, set_at = $3 \
             WHERE id = 1 AND first_line <= $1",
        )
        .bind(last)
        .bind(last_hash)
        .bind(kept_from)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// The newest line and its hash: written to the log now and then, so that a chain
    /// rewritten from some line onwards (hashes and all) shows against what the log kept.
    pub async fn audit_chain_head(&self) -> Result<Option<(i64, Option<String>)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT id, chain_hash FROM audit_events ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Walks the audit chain from its anchor, line by line in the order they were written,
    /// and says where it first breaks, if it does.
    pub async fn verify_audit_chain(&self) -> Result<ChainCheck, StoreError> {
        let anchor: Option<(i64, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT first_line, previous_line, previous_hash FROM audit_chain_anchor WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let before_chain: i64 = match anchor {
            Some((first, _, _)) => {
                sqlx::query_scalar(
                    "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_events WHERE id < $1",
                )
                .bind(first)
                .fetch_one(&self.pool)
                .await?
            }
            None => {
                sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_events")
                    .fetch_one(&self.pool)
                    .await?
            }
        };
        let mut check = ChainCheck {
            before_chain,
            ..ChainCheck::default()
        };
        let Some((first, last, previous_hash)) = anchor else {
            return Ok(check);
        };
        let mut walk = ChainWalk {
            last,
            last_hash: previous_hash.unwrap_or_default(),
        };
        let mut from = first;
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
            }
            match lines.get(checked) {
                Some(next) => from = next.id,
                None => return Ok(check),
            }
        }
    }

    pub async fn audit_events(&self, account_id: i64) -> Result<Vec<AuditRow>, StoreError> {
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

impl ChainedLine {
    /// SHA-256 over the line's place, every one of its columns and the hash of the line
    /// before, each told apart from the next by its length (or its absence), in hex.
    fn hash(&self, previous_hash: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(b"portal audit line v1");
        let mut number = |n: Option<i64>| match n {
            None => hash.update([0]),
            Some(n) => {
                hash.update([1]);
                hash.update(n.to_be_bytes());
            }
        };
        let row = &self.row;
        number(Some(self.id));
        number(self.previous);
        number(Some(row.at));
        number(row.account_id);
        number(row.staff_id);
        let mut text = |t: Option<&str>| match t {
            None => hash.update([0]),
            Some(t) => {
                hash.update([1]);
                hash.update((t.len() as u64).to_be_bytes());
                hash.update(t.as_bytes());
            }
        };
        text(row.username.as_deref());
        text(Some(&row.ip));
        text(Some(&row.event));
        text(Some(&row.outcome));
        text(row.detail.as_deref());
        text(row.request_id.as_deref());
        text(Some(previous_hash));
        hex::encode(hash.finalize())
    }
}

/// Where a walk along the chain has got to: the last line found whole, and its hash.
struct ChainWalk {
    last: Option<i64>,
    last_hash: String,
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
        if line.hash(&self.last_hash) != *hash {
            // A line the next one skips over was put in, not changed.
            let skipped = next.is_some_and(|next| next.chain_previous == stored.chain_previous);
            return Some(if skipped {
                ChainProblem::PutIn(stored.id)
            } else {
                ChainProblem::Changed(stored.id)
            });
        }
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines chained as the portal writes them, with ids as given.
    fn chained(ids: &[i64]) -> Vec<StoredChainLine> {
        let mut lines: Vec<StoredChainLine> = Vec::new();
        let (mut previous, mut previous_hash) = (None, String::new());
        for &id in ids {
            let row = AuditRow {
                at: 1_800_000_000_000 + id,
                event: "signed_in".into(),
                outcome: "ok".into(),
                ip: "192.0.2.1".into(),
                ..AuditRow::default()
            };
            let hash = ChainedLine {
                id,
                previous,
                row: row.clone(),
            }
            .hash(&previous_hash);
            lines.push(StoredChainLine {
                id,
                chain_previous: previous,
                chain_hash: Some(hash.clone()),
                row,
            });
            (previous, previous_hash) = (Some(id), hash);
        }
        lines
    }

    fn walk(lines: &[StoredChainLine]) -> Option<ChainProblem> {
        let mut walk = ChainWalk {
            last: None,
            last_hash: String::new(),
        };
        (0..lines.len()).find_map(|i| walk.step(&lines[i], lines.get(i + 1)))
    }

    #[test]
    fn a_walk_names_the_first_line_changed_removed_or_put_in() {
        let whole = chained(&[1, 2, 3, 5, 6]);
        assert_eq!(walk(&whole), None);

        let mut changed = chained(&[1, 2, 3, 5, 6]);
        changed[2].row.detail = Some("edited".into());
        assert_eq!(walk(&changed), Some(ChainProblem::Changed(3)));
        let mut rehashed = chained(&[1, 2, 3, 5, 6]);
        rehashed[1].chain_hash = Some("0".repeat(64));
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
        forged.chain_hash = Some("f".repeat(64));
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
