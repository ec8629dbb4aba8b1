//! Caregivers' grants, and the records of children support adds. Whether a grant is live is
//! decided in the statement that uses it (`LIVE`), so a removal, a hold or the practice's
//! switch is in force for the very next request, on every instance.

use super::accounts::{AccountRow, ACCOUNT_COLUMNS};
use super::kinds::{GrantEnded, Relationship};
use super::{is_unique_violation, AccountId, StaffId, Store, StoreError};
use crate::clock::Millis;

/// A grant `g` is live at `$now`: not ended, not past its end date, neither account held nor
/// recovered by code in the last day (`recovery::HOLD_AFTER_RECOVERY`),
/// and the practice's "Caregiver access" not off (before the first save there is no row, and
/// the first values have it on). Every use of a grant checks exactly this.
const LIVE: &str = "g.ended_at IS NULL AND (g.ends_at IS NULL OR g.ends_at > $now) \
     AND NOT EXISTS (SELECT 1 FROM account_holds h \
         WHERE h.account_id = g.caregiver_id OR h.account_id = g.patient_id) \
     AND NOT EXISTS (SELECT 1 FROM recovery_codes r \
         WHERE (r.account_id = g.caregiver_id OR r.account_id = g.patient_id) \
         AND r.recovered_at > $now - 86400000) \
     AND NOT EXISTS (SELECT 1 FROM practice_settings p WHERE p.id = 1 AND p.caregiver_access = 0)";

/// Whose grants a list reads: a caregiver's (naming the patients) or a patient's (naming
/// their caregivers).
#[derive(Debug, Clone, Copy)]
pub enum GrantSide {
    Caregiver(AccountId),
    Patient(AccountId),
}

/// A grant as a list shows it, with the other person's names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantListed {
    pub id: i64,
    /// The other person's account.
    pub other_id: AccountId,
    #[sqlx(try_from = "String")]
    pub relationship: Relationship,
    pub began_at: Millis,
    pub ends_at: Option<Millis>,
    /// The other person: the patient in a caregiver's list, the caregiver in a patient's.
    pub given_name: String,
    pub family_name: String,
    /// 1 while it may be used; 0 while suspended (a hold, or the practice's switch off).
    pub usable: i64,
}

/// A grant just ended, or one to remind its caregiver of.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantParties {
    pub id: i64,
    pub caregiver_id: AccountId,
    pub patient_id: AccountId,
    #[sqlx(try_from = "String")]
    pub relationship: Relationship,
    pub ends_at: Option<Millis>,
}

/// A parent's live grant, with the child's date of birth, to set its end date from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChildGrant {
    pub id: i64,
    pub date_of_birth: String,
    pub ends_at: Option<Millis>,
}

/// A grant to make.
pub struct NewGrant<'a> {
    pub caregiver_id: AccountId,
    pub patient_id: AccountId,
    pub relationship: Relationship,
    pub ends_at: Option<Millis>,
    pub document: Option<&'a str>,
    pub made_by_staff: Option<StaffId>,
    pub now: Millis,
    /// A recovery by code after this holds both accounts: no grant is made.
    pub recovered_since: Millis,
}

/// A child's record: no username anyone can type, no password, no number.
pub struct NewChild<'a> {
    pub username: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub date_of_birth: &'a str,
    pub now: Millis,
}

/// What became of a grant asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantMade {
    Made(i64),
    /// The caregiver already has a live grant for this patient.
    AlreadyLive,
    /// Refused: the practice's switch is off, an account is held or was just recovered, the
    /// caregiver can't sign in, or it is one account.
    Refused,
}

/// Which grants a removal may reach: the patient's own, the caregiver's own, or (support)
/// any of the patient's.
#[derive(Debug, Clone, Copy)]
pub enum Party {
    Patient(AccountId),
    Caregiver(AccountId),
    Practice(AccountId),
}

const INSERT_GRANT: &str = "INSERT INTO caregiver_grants (caregiver_id, patient_id, relationship, \
     allows, began_at, ends_at, document, made_by_staff) \
     SELECT $1, $2, $3, 'home_and_profile', $now, $4, $5, $6 \
     WHERE $1 <> $2 \
     AND EXISTS (SELECT 1 FROM accounts c WHERE c.id = $1 AND c.signs_in = 1) \
     AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = $2) \
     AND NOT EXISTS (SELECT 1 FROM account_holds h WHERE h.account_id = $1 OR h.account_id = $2) \
     AND NOT EXISTS (SELECT 1 FROM recovery_codes r \
         WHERE (r.account_id = $1 OR r.account_id = $2) AND r.recovered_at > $7) \
     AND NOT EXISTS (SELECT 1 FROM practice_settings p WHERE p.id = 1 AND p.caregiver_access = 0) \
     ON CONFLICT (caregiver_id, patient_id) WHERE ended_at IS NULL DO NOTHING \
     RETURNING id";

/// `$now` as the statement's last parameter, so one text serves every engine.
fn with_now(sql: &str, number: usize) -> String {
    sql.replace("$now", &format!("${number}"))
}

impl Store {
    /// Makes a grant, in one statement with everything that may refuse it.
    pub async fn make_grant(&self, new: &NewGrant<'_>) -> Result<GrantMade, StoreError> {
        let mut tx = self.writer.begin().await?;
        let made = insert_grant(&mut tx, new).await?;
        tx.commit().await?;
        self.grant_made_or_why(made, new).await
    }

    async fn grant_made_or_why(
        &self,
        made: Option<i64>,
        new: &NewGrant<'_>,
    ) -> Result<GrantMade, StoreError> {
        if let Some(id) = made {
            return Ok(GrantMade::Made(id));
        }
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM caregiver_grants \
             WHERE caregiver_id = $1 AND patient_id = $2 AND ended_at IS NULL",
        )
        .bind(new.caregiver_id)
        .bind(new.patient_id)
        .fetch_one(&self.writer)
        .await?;
        Ok(match live {
            0 => GrantMade::Refused,
            _ => GrantMade::AlreadyLive,
        })
    }

    /// Adds a child's record and its parent's grant together: neither without the other.
    /// `None` when the grant is refused (the practice's switch, a hold on the parent).
    pub async fn add_child<'a>(
        &self,
        child: &NewChild<'_>,
        grant: impl FnOnce(AccountId) -> NewGrant<'a>,
    ) -> Result<Option<(AccountId, i64)>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let child_id = sqlx::query_scalar::<_, AccountId>(
            "INSERT INTO accounts (username, username_key, password_hash, given_name, \
             family_name, date_of_birth, first_number_at_login, must_change_password, \
             signs_in, created_at) \
             VALUES ($1, $2, '', $3, $4, $5, 0, 0, 0, $6) RETURNING id",
        )
        .bind(child.username)
        .bind(child.username.to_lowercase())
        .bind(child.given_name)
        .bind(child.family_name)
        .bind(child.date_of_birth)
        .bind(child.now)
        .fetch_one(&mut *tx)
        .await?;
        let new = grant(child_id);
        let Some(grant_id) = insert_grant(&mut tx, &new).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        tx.commit().await?;
        Ok(Some((child_id, grant_id)))
    }

    /// Gives a child's record its own sign-in: a username, a password only the practice's next
    /// one-time password replaces, and a first number at the next login (flow 2.2). `None` when
    /// the username is taken; `Some(false)` when the record signs in already.
    pub async fn set_up_sign_in(
        &self,
        child: AccountId,
        username: &str,
        username_key: &str,
        password_hash: &str,
    ) -> Result<Option<bool>, StoreError> {
        let set = sqlx::query(
            "UPDATE accounts SET username = $1, username_key = $2, password_hash = $3, \
             signs_in = 1, first_number_at_login = 2, must_change_password = 1 \
             WHERE id = $4 AND signs_in = 0",
        )
        .bind(username)
        .bind(username_key)
        .bind(password_hash)
        .bind(child)
        .execute(&self.writer)
        .await;
        match set {
            Ok(done) => Ok(Some(done.rows_affected() == 1)),
            Err(err) if is_unique_violation(&err) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// The patient grant `grant` lets `caregiver` act for, if it is theirs and live now.
    pub async fn acting_for(
        &self,
        grant: i64,
        caregiver: AccountId,
        now: Millis,
    ) -> Result<Option<AccountRow>, StoreError> {
        let columns = ACCOUNT_COLUMNS
            .split(", ")
            .map(|c| format!("a.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM caregiver_grants g JOIN accounts a ON a.id = g.patient_id \
             WHERE g.id = $1 AND g.caregiver_id = $2 AND {}",
            with_now(LIVE, 3)
        );
        let row = sqlx::query_as::<_, super::accounts::Row>(&sql)
            .bind(grant)
            .bind(caregiver)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(AccountRow::from))
    }

    /// The grants of one side that haven't ended, with the other person's names: usable or
    /// suspended, or (`live_only`) only those usable now.
    pub async fn grants(
        &self,
        side: GrantSide,
        live_only: bool,
        now: Millis,
    ) -> Result<Vec<GrantListed>, StoreError> {
        let (own, other) = match side {
            GrantSide::Caregiver(_) => ("caregiver_id", "patient_id"),
            GrantSide::Patient(_) => ("patient_id", "caregiver_id"),
        };
        let account = match side {
            GrantSide::Caregiver(id) | GrantSide::Patient(id) => id,
        };
        let live = with_now(LIVE, 2);
        let which = match live_only {
            true => live.clone(),
            false => "g.ended_at IS NULL AND (g.ends_at IS NULL OR g.ends_at > $2)".to_string(),
        };
        let sql = format!(
            "SELECT g.id, a.id AS other_id, g.relationship, g.began_at, g.ends_at, \
             a.given_name, a.family_name, \
             CAST(CASE WHEN {live} THEN 1 ELSE 0 END AS BIGINT) AS usable \
             FROM caregiver_grants g JOIN accounts a ON a.id = g.{other} \
             WHERE g.{own} = $1 AND {which} ORDER BY g.began_at, g.id"
        );
        Ok(sqlx::query_as::<_, GrantListed>(&sql)
            .bind(account)
            .bind(now)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Ends grant `grant` if `party` may reach it and it hasn't ended: in one statement, so a
    /// request that checks the grant after this finds it gone.
    pub async fn end_grant(
        &self,
        grant: i64,
        party: Party,
        why: GrantEnded,
        now: Millis,
    ) -> Result<Option<GrantParties>, StoreError> {
        let (column, account) = match party {
            Party::Patient(id) | Party::Practice(id) => ("patient_id", id),
            Party::Caregiver(id) => ("caregiver_id", id),
        };
        let sql = format!(
            "UPDATE caregiver_grants SET ended_at = $1, ended_by = $2 \
             WHERE id = $3 AND {column} = $4 AND ended_at IS NULL \
             RETURNING id, caregiver_id, patient_id, relationship, ends_at"
        );
        Ok(sqlx::query_as::<_, GrantParties>(&sql)
            .bind(now)
            .bind(why.as_str())
            .bind(grant)
            .bind(account)
            .fetch_optional(&self.writer)
            .await?)
    }

    /// Parents' grants that haven't ended, with their children's dates of birth.
    pub async fn children_grants(&self) -> Result<Vec<ChildGrant>, StoreError> {
        Ok(sqlx::query_as::<_, ChildGrant>(
            "SELECT g.id, a.date_of_birth, g.ends_at \
             FROM caregiver_grants g JOIN accounts a ON a.id = g.patient_id \
             WHERE g.relationship = 'parent' AND g.ended_at IS NULL",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Moves a grant's end date; a reminder already sent is sent again for the new date.
    pub async fn set_grant_end(&self, grant: i64, ends_at: Millis) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE caregiver_grants SET ends_at = $1, reminded_at = NULL \
             WHERE id = $2 AND ended_at IS NULL",
        )
        .bind(ends_at)
        .bind(grant)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Ends the grants whose end date has come, each once whichever instance gets there
    /// first: a child's by age, an adult's by its date.
    pub async fn end_grants_due(&self, now: Millis) -> Result<Vec<GrantParties>, StoreError> {
        Ok(sqlx::query_as::<_, GrantParties>(
            "UPDATE caregiver_grants SET ended_at = ends_at, \
             ended_by = CASE WHEN relationship = 'parent' THEN 'age' ELSE 'end_date' END \
             WHERE ended_at IS NULL AND ends_at IS NOT NULL AND ends_at <= $1 \
             RETURNING id, caregiver_id, patient_id, relationship, ends_at",
        )
        .bind(now)
        .fetch_all(&self.writer)
        .await?)
    }

    /// Marks, once each, the grants to remind their caregivers of: a child's `parent_before`
    /// its end, an adult's `adult_before`.
    pub async fn grants_to_remind(
        &self,
        now: Millis,
        parent_before: Millis,
        adult_before: Millis,
    ) -> Result<Vec<GrantParties>, StoreError> {
        Ok(sqlx::query_as::<_, GrantParties>(
            "UPDATE caregiver_grants SET reminded_at = $1 \
             WHERE ended_at IS NULL AND reminded_at IS NULL AND ends_at IS NOT NULL \
             AND ends_at > $1 \
             AND ends_at <= $1 + CASE WHEN relationship = 'adult' THEN $3 ELSE $2 END \
             RETURNING id, caregiver_id, patient_id, relationship, ends_at",
        )
        .bind(now)
        .bind(parent_before)
        .bind(adult_before)
        .fetch_all(&self.writer)
        .await?)
    }
}

async fn insert_grant(
    tx: &mut sqlx::AnyConnection,
    new: &NewGrant<'_>,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar::<_, i64>(&with_now(INSERT_GRANT, 8))
        .bind(new.caregiver_id)
        .bind(new.patient_id)
        .bind(new.relationship.as_str())
        .bind(new.ends_at)
        .bind(new.document)
        .bind(new.made_by_staff)
        .bind(new.recovered_since)
        .bind(new.now)
        .fetch_optional(tx)
        .await?)
}

/// An invitation as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: i64,
    pub patient_id: AccountId,
    pub sealed_code: String,
    pub made_at: Millis,
    pub expires_at: Millis,
    pub wrong_tries: i64,
    pub pressured_at: Option<Millis>,
    pub ended_at: Option<Millis>,
}

/// What became of a date of birth given with an invitation's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationAnswer {
    /// Accepted: the grant made.
    Accepted(i64),
    /// The invitation is no longer open (used, expired, voided or waiting for the practice).
    NotOpen,
    /// The grant was refused (the practice's switch, a hold, a recovery, already a caregiver).
    Refused(GrantMade),
}

const INVITATION_COLUMNS: &str =
    "id, patient_id, sealed_code, made_at, expires_at, wrong_tries, pressured_at, ended_at";

/// An invitation `i` still open at `$now`: not ended, not expired, not waiting for the practice.
const OPEN: &str = "i.ended_at IS NULL AND i.expires_at > $now AND i.pressured_at IS NULL";

impl Store {
    /// A new invitation, unless the patient has `most` open already: counted and written under
    /// the patient's lock, so invitations asked for together can't pass the count together.
    pub async fn make_invitation(
        &self,
        patient: AccountId,
        code_mac: &str,
        sealed_code: &str,
        now: Millis,
        expires_at: Millis,
        most: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.writer.begin().await?;
        super::serialize(&mut tx, self.engine, vec![format!("invitations:{patient}")]).await?;
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO caregiver_invitations (patient_id, code_mac, sealed_code, made_at, \
             expires_at) SELECT $1, $2, $3, $4, $5 \
             WHERE (SELECT COUNT(*) FROM caregiver_invitations \
                 WHERE patient_id = $1 AND ended_at IS NULL AND expires_at > $4) < $6 \
             RETURNING id",
        )
        .bind(patient)
        .bind(code_mac)
        .bind(sealed_code)
        .bind(now)
        .bind(expires_at)
        .bind(most)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The patient's invitations not ended or expired, newest first (those waiting for the
    /// practice too).
    pub async fn invitations_of(
        &self,
        patient: AccountId,
        now: Millis,
    ) -> Result<Vec<InvitationRow>, StoreError> {
        Ok(sqlx::query_as::<_, InvitationRow>(&format!(
            "SELECT {INVITATION_COLUMNS} FROM caregiver_invitations \
             WHERE patient_id = $1 AND ended_at IS NULL AND expires_at > $2 \
             ORDER BY made_at DESC, id DESC"
        ))
        .bind(patient)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The invitation a code's MAC names, whatever its state.
    pub async fn invitation(&self, code_mac: &str) -> Result<Option<InvitationRow>, StoreError> {
        Ok(sqlx::query_as::<_, InvitationRow>(&format!(
            "SELECT {INVITATION_COLUMNS} FROM caregiver_invitations WHERE code_mac = $1"
        ))
        .bind(code_mac)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// A wrong date of birth: counted against the open invitation, which the `most`th voids.
    /// `None` if it wasn't open; else the tries so far and whether it is void now.
    pub async fn invitation_wrong_try(
        &self,
        invitation: i64,
        caregiver: AccountId,
        now: Millis,
        most: i64,
    ) -> Result<Option<(i64, bool)>, StoreError> {
        let row: Option<(i64, Option<Millis>)> = sqlx::query_as(&format!(
            "UPDATE caregiver_invitations AS i SET wrong_tries = wrong_tries + 1, \
             caregiver_id = $2, \
             ended_at = CASE WHEN wrong_tries + 1 >= $4 THEN $3 ELSE NULL END, \
             ended_as = CASE WHEN wrong_tries + 1 >= $4 THEN 'void' ELSE NULL END \
             WHERE i.id = $1 AND {} RETURNING wrong_tries, ended_at",
            with_now(OPEN, 3)
        ))
        .bind(invitation)
        .bind(caregiver)
        .bind(now)
        .bind(most)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.map(|(tries, ended)| (tries, ended.is_some())))
    }

    /// Accepts an open invitation and makes its grant, together: neither without the other.
    pub async fn accept_invitation(
        &self,
        invitation: i64,
        grant: &NewGrant<'_>,
    ) -> Result<InvitationAnswer, StoreError> {
        let mut tx = self.writer.begin().await?;
        let ended = sqlx::query(&format!(
            "UPDATE caregiver_invitations AS i SET ended_at = $3, ended_as = 'accepted', \
             caregiver_id = $2 WHERE i.id = $1 AND {}",
            with_now(OPEN, 3)
        ))
        .bind(invitation)
        .bind(grant.caregiver_id)
        .bind(grant.now)
        .execute(&mut *tx)
        .await?;
        if ended.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(InvitationAnswer::NotOpen);
        }
        let Some(id) = insert_grant(&mut tx, grant).await? else {
            tx.rollback().await?;
            let why = self.grant_made_or_why(None, grant).await?;
            return Ok(InvitationAnswer::Refused(why));
        };
        tx.commit().await?;
        Ok(InvitationAnswer::Accepted(id))
    }

    /// The patient's invitation ended as `how`: `cancelled` by them (open, not waiting for the
    /// practice), or `closed` by the practice (one waiting for it, expired or not). False
    /// otherwise.
    pub async fn end_invitation(
        &self,
        invitation: i64,
        patient: AccountId,
        how: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        // The patient can't cancel one waiting for the practice (whoever is pressuring them
        // could, by their hand); the practice closes it, whenever it gets to it.
        let condition = match how {
            "closed" => "pressured_at IS NOT NULL",
            _ => "pressured_at IS NULL AND expires_at > $1",
        };
        let ended = sqlx::query(&format!(
            "UPDATE caregiver_invitations SET ended_at = $1, ended_as = $2 \
             WHERE id = $3 AND patient_id = $4 AND ended_at IS NULL AND {condition}"
        ))
        .bind(now)
        .bind(how)
        .bind(invitation)
        .bind(patient)
        .execute(&self.writer)
        .await?;
        Ok(ended.rows_affected() == 1)
    }

    /// "Decline": the caregiver who gave the code ends the open invitation.
    pub async fn decline_invitation(
        &self,
        invitation: i64,
        caregiver: AccountId,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let ended = sqlx::query(&format!(
            "UPDATE caregiver_invitations AS i SET ended_at = $3, ended_as = 'declined', \
             caregiver_id = $2 WHERE i.id = $1 AND {}",
            with_now(OPEN, 3)
        ))
        .bind(invitation)
        .bind(caregiver)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(ended.rows_affected() == 1)
    }

    /// "Someone is pressuring me to do this": the open invitation waits for the practice.
    pub async fn invitation_pressured(
        &self,
        invitation: i64,
        patient: AccountId,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let marked = sqlx::query(&format!(
            "UPDATE caregiver_invitations AS i SET pressured_at = $3 \
             WHERE i.id = $1 AND i.patient_id = $2 AND {}",
            with_now(OPEN, 3)
        ))
        .bind(invitation)
        .bind(patient)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(marked.rows_affected() == 1)
    }

    /// Invitations of the patient's waiting for the practice, for support's page.
    pub async fn invitations_waiting(
        &self,
        patient: AccountId,
    ) -> Result<Vec<InvitationRow>, StoreError> {
        Ok(sqlx::query_as::<_, InvitationRow>(&format!(
            "SELECT {INVITATION_COLUMNS} FROM caregiver_invitations \
             WHERE patient_id = $1 AND pressured_at IS NOT NULL AND ended_at IS NULL \
             ORDER BY pressured_at"
        ))
        .bind(patient)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Renews a live adult grant of the patient's to `ends_at`; a reminder goes again before it.
    pub async fn renew_grant(
        &self,
        grant: i64,
        patient: AccountId,
        ends_at: Millis,
        now: Millis,
    ) -> Result<Option<GrantParties>, StoreError> {
        let sql = format!(
            "UPDATE caregiver_grants AS g SET ends_at = $3, reminded_at = NULL \
             WHERE g.id = $1 AND g.patient_id = $2 AND g.relationship = 'adult' AND {} \
             RETURNING id, caregiver_id, patient_id, relationship, ends_at",
            with_now(LIVE, 4)
        );
        Ok(sqlx::query_as::<_, GrantParties>(&sql)
            .bind(grant)
            .bind(patient)
            .bind(ends_at)
            .bind(now)
            .fetch_optional(&self.writer)
            .await?)
    }
}
