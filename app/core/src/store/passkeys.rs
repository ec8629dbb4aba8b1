//! Passkeys, patients' and staff members' (kept apart, so neither can stand in for the other),
//! the ceremonies that add and use them, and each holder's passkey user ID.

use super::kinds::CeremonyPurpose;
use super::{is_unique_violation, Store, StoreError};
use super::{AccountId, StaffId};
use crate::clock::Millis;

/// Whose passkeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A patient's account.
    Patient(AccountId),
    /// A staff member.
    Staff(StaffId),
}

impl Holder {
    /// The holder's id as its column keeps it.
    pub fn id(self) -> i64 {
        match self {
            Holder::Patient(AccountId(id)) | Holder::Staff(StaffId(id)) => id,
        }
    }

    /// The passkeys' table, its holder column, and the holders' table.
    fn tables(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Holder::Patient(_) => ("passkeys", "account_id", "accounts"),
            Holder::Staff(_) => ("staff_passkeys", "staff_id", "staff"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: i64,
    /// The patient's account or the staff member.
    pub holder_id: i64,
    pub credential_id: String,
    pub name: String,
    /// webauthn-rs's record of the credential, as JSON.
    pub passkey: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
}

/// What storing a new passkey came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyStored {
    Added,
    /// Its credential is stored already (on any account).
    AddedAlready,
    /// The holder has as many as they may.
    TooMany,
}

/// A ceremony under way, as stored: its state sealed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CeremonyRow {
    pub id_hash: String,
    #[sqlx(try_from = "String")]
    pub purpose: CeremonyPurpose,
    pub session_hash: Option<String>,
    /// A patient's account or, for a staff purpose, a staff member: `ceremony::Taken` says which.
    pub account_id: Option<i64>,
    pub state: String,
    pub expires_at: Millis,
}

fn columns(holder: Holder) -> String {
    let (_, column, _) = holder.tables();
    format!("id, {column} AS holder_id, credential_id, name, passkey, created_at, last_used_at")
}

impl Store {
    /// The holder's passkey user ID, made (from `fresh`) the first time it is asked for.
    pub async fn passkey_user_id(&self, holder: Holder, fresh: &str) -> Result<String, StoreError> {
        let (_, _, owners) = holder.tables();
        sqlx::query(&format!(
            "UPDATE {owners} SET passkey_user_id = $1 WHERE id = $2 AND passkey_user_id IS NULL"
        ))
        .bind(fresh)
        .bind(holder.id())
        .execute(&self.writer)
        .await?;
        let id: Option<String> = sqlx::query_scalar(&format!(
            "SELECT passkey_user_id FROM {owners} WHERE id = $1"
        ))
        .bind(holder.id())
        .fetch_one(&self.writer)
        .await?;
        Ok(id.unwrap_or_else(|| fresh.to_string()))
    }

    /// The patient's account whose passkeys carry this user ID.
    pub async fn account_of_passkey_user(
        &self,
        user_id: &str,
    ) -> Result<Option<AccountId>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM accounts WHERE passkey_user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stores a new passkey, if the holder has fewer than `most`: counted and stored in one
    /// transaction that holds the holder's turn, so passkeys added at once can't pass the count
    /// together.
    pub async fn add_passkey(
        &self,
        holder: Holder,
        credential_id: &str,
        name: &str,
        passkey: &str,
        most: i64,
        now: Millis,
    ) -> Result<PasskeyStored, StoreError> {
        let (table, column, _) = holder.tables();
        let mut tx = self.writer.begin().await?;
        super::serialize(
            &mut tx,
            self.engine,
            vec![format!("{table}:{}", holder.id())],
        )
        .await?;
        let held: i64 = sqlx::query_scalar(&format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM {table} WHERE {column} = $1"
        ))
        .bind(holder.id())
        .fetch_one(&mut *tx)
        .await?;
        if held >= most {
            return Ok(PasskeyStored::TooMany);
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO {table} ({column}, credential_id, name, passkey, created_at) \
             VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(holder.id())
        .bind(credential_id)
        .bind(name)
        .bind(passkey)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                tx.commit().await?;
                Ok(PasskeyStored::Added)
            }
            Err(err) if is_unique_violation(&err) => Ok(PasskeyStored::AddedAlready),
            Err(err) => Err(err.into()),
        }
    }

    /// The holder's passkeys, oldest first.
    pub async fn passkeys(&self, holder: Holder) -> Result<Vec<PasskeyRow>, StoreError> {
        let (table, column, _) = holder.tables();
        Ok(sqlx::query_as::<_, PasskeyRow>(&format!(
            "SELECT {} FROM {table} WHERE {column} = $1 ORDER BY id",
            columns(holder)
        ))
        .bind(holder.id())
        .fetch_all(&self.writer)
        .await?)
    }

    /// The holder's passkey with this credential ID: none if it is someone else's.
    pub async fn passkey_by_credential(
        &self,
        holder: Holder,
        credential_id: &str,
    ) -> Result<Option<PasskeyRow>, StoreError> {
        let (table, column, _) = holder.tables();
        Ok(sqlx::query_as::<_, PasskeyRow>(&format!(
            "SELECT {} FROM {table} WHERE credential_id = $1 AND {column} = $2",
            columns(holder)
        ))
        .bind(credential_id)
        .bind(holder.id())
        .fetch_optional(&self.writer)
        .await?)
    }

    /// After a sign-in with it: the credential as webauthn-rs updated it (counter, backup
    /// state), and when it was used. `false` if the holder no longer has it.
    pub async fn passkey_used(
        &self,
        holder: Holder,
        id: i64,
        passkey: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let (table, column, _) = holder.tables();
        Ok(sqlx::query(&format!(
            "UPDATE {table} SET passkey = $1, last_used_at = $2 WHERE id = $3 AND {column} = $4"
        ))
        .bind(passkey)
        .bind(now)
        .bind(id)
        .bind(holder.id())
        .execute(&self.writer)
        .await?
        .rows_affected()
            == 1)
    }

    /// Renames one of the holder's passkeys. `false` if they have no such passkey.
    pub async fn rename_passkey(
        &self,
        holder: Holder,
        id: i64,
        name: &str,
    ) -> Result<bool, StoreError> {
        let (table, column, _) = holder.tables();
        Ok(sqlx::query(&format!(
            "UPDATE {table} SET name = $1 WHERE id = $2 AND {column} = $3"
        ))
        .bind(name)
        .bind(id)
        .bind(holder.id())
        .execute(&self.writer)
        .await?
        .rows_affected()
            == 1)
    }

    /// Removes one of the holder's passkeys (`Some(id)`) or all of them. Returns how many went.
    pub async fn remove_passkeys(
        &self,
        holder: Holder,
        id: Option<i64>,
    ) -> Result<u64, StoreError> {
        let (table, column, _) = holder.tables();
        let sql = match id {
            Some(_) => format!("DELETE FROM {table} WHERE {column} = $1 AND id = $2"),
            None => format!("DELETE FROM {table} WHERE {column} = $1"),
        };
        let mut query = sqlx::query(&sql).bind(holder.id());
        if let Some(id) = id {
            query = query.bind(id);
        }
        Ok(query.execute(&self.writer).await?.rows_affected())
    }

    /// Stores a ceremony, replacing one under the same handle.
    pub async fn begin_ceremony(
        &self,
        ceremony: &CeremonyRow,
        now: Millis,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        // Old ones are dropped as new ones begin: none lives longer than 5 minutes anyway.
        sqlx::query("DELETE FROM passkey_ceremonies WHERE id_hash = $1 OR expires_at < $2")
            .bind(&ceremony.id_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO passkey_ceremonies (id_hash, purpose, session_hash, account_id, state, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&ceremony.id_hash)
        .bind(ceremony.purpose.as_str())
        .bind(&ceremony.session_hash)
        .bind(ceremony.account_id)
        .bind(&ceremony.state)
        .bind(ceremony.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a carried ceremony (one whose state its handle holds) as spent until it expires:
    /// `false` if it was spent already. Spent ones go as new ceremonies begin.
    pub async fn spend_ceremony(
        &self,
        id_hash: &str,
        expires_at: Millis,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let spent = sqlx::query(
            "INSERT INTO passkey_ceremonies (id_hash, purpose, session_hash, account_id, state, \
             expires_at) VALUES ($1, 'spent', NULL, NULL, '', $2) ON CONFLICT (id_hash) DO NOTHING",
        )
        .bind(id_hash)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(spent)
    }

    /// Takes a ceremony out: whoever takes it first has it, and nobody can use it again.
    pub async fn take_ceremony(&self, id_hash: &str) -> Result<Option<CeremonyRow>, StoreError> {
        Ok(sqlx::query_as::<_, CeremonyRow>(
            "DELETE FROM passkey_ceremonies WHERE id_hash = $1 \
             RETURNING id_hash, purpose, session_hash, account_id, state, expires_at",
        )
        .bind(id_hash)
        .fetch_optional(&self.writer)
        .await?)
    }
}
