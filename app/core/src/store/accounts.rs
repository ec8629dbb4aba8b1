//! Patients' accounts.

use super::AccountId;
use super::{Store, StoreError};
use crate::clock::Millis;

/// An account as stored. `account::Patient` gives it its meaning.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: AccountId,
    pub username: String,
    pub password_hash: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub email: Option<String>,
    /// The verified number, or whatever the practice had on file.
    pub mobile: Option<String>,
    pub mobile_verified_at: Option<Millis>,
    /// A new number saved with "Save & Get Code", waiting for its code.
    pub pending_mobile: Option<String>,
    /// Whether a first number may still be given after the password (flow 2.2): 0 no, 1 yes
    /// (as the practice's setting says), 2 yes (support reset the number).
    pub first_number_at_login: i64,
    pub must_change_password: bool,
    pub password_expires_at: Option<Millis>,
    /// False for a record support added (a child), which can't sign in until the practice
    /// sets its sign-in up.
    pub signs_in: bool,
}

/// The columns as SQL gives them: flags are integers on every engine.
#[derive(sqlx::FromRow)]
pub(super) struct Row {
    id: AccountId,
    username: String,
    password_hash: String,
    given_name: String,
    family_name: String,
    date_of_birth: String,
    email: Option<String>,
    mobile: Option<String>,
    mobile_verified_at: Option<Millis>,
    pending_mobile: Option<String>,
    first_number_at_login: i64,
    must_change_password: i64,
    password_expires_at: Option<Millis>,
    signs_in: i64,
}

impl From<Row> for AccountRow {
    fn from(row: Row) -> Self {
        Self {
            id: row.id,
            username: row.username,
            password_hash: row.password_hash,
            given_name: row.given_name,
            family_name: row.family_name,
            date_of_birth: row.date_of_birth,
            email: row.email,
            mobile: row.mobile,
            mobile_verified_at: row.mobile_verified_at,
            pending_mobile: row.pending_mobile,
            first_number_at_login: row.first_number_at_login,
            must_change_password: row.must_change_password != 0,
            password_expires_at: row.password_expires_at,
            signs_in: row.signs_in != 0,
        }
    }
}

pub struct NewAccountRow<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub password_hash: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub date_of_birth: &'a str,
    pub email: Option<&'a str>,
    pub mobile: Option<&'a str>,
    pub mobile_verified_at: Option<Millis>,
    pub must_change_password: bool,
    /// For a one-time password: when it stops working.
    pub password_expires_at: Option<Millis>,
    pub created_at: Millis,
}

pub(super) const ACCOUNT_COLUMNS: &str = "id, username, password_hash, given_name, family_name, \
     date_of_birth, email, mobile, mobile_verified_at, pending_mobile, first_number_at_login, \
     must_change_password, password_expires_at, signs_in";

impl Store {
    /// The new account's id, or `None` when the username is taken (whatever its case).
    pub async fn insert_account(
        &self,
        new: NewAccountRow<'_>,
    ) -> Result<Option<AccountId>, StoreError> {
        let ids = self.insert_accounts(&[new]).await?;
        Ok(ids.into_iter().next().flatten())
    }

    /// Inserts patients in one transaction, as an import does: a row whose username is taken
    /// is left out (`None`) and the rest go in, without a commit (and SQLite's wait for the disk)
    /// for every row.
    pub async fn insert_accounts(
        &self,
        rows: &[NewAccountRow<'_>],
    ) -> Result<Vec<Option<AccountId>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut ids = Vec::with_capacity(rows.len());
        for new in rows {
            let id = sqlx::query_scalar::<_, AccountId>(
                "INSERT INTO accounts (username, username_key, password_hash, given_name, \
                 family_name, date_of_birth, email, mobile, mobile_verified_at, \
                 must_change_password, password_expires_at, first_number_at_login, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (username_key) DO NOTHING RETURNING id",
            )
            .bind(new.username)
            .bind(new.username_key)
            .bind(new.password_hash)
            .bind(new.given_name)
            .bind(new.family_name)
            .bind(new.date_of_birth)
            .bind(new.email)
            .bind(new.mobile)
            .bind(new.mobile_verified_at)
            .bind(i64::from(new.must_change_password))
            .bind(new.password_expires_at)
            .bind(i64::from(new.mobile_verified_at.is_none()))
            .bind(new.created_at)
            .fetch_optional(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn username_taken(&self, username_key: &str) -> Result<bool, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE username_key = $1")
                .bind(username_key)
                .fetch_one(&self.pool)
                .await?;
        Ok(count > 0)
    }

    pub async fn account(&self, id: AccountId) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query_as::<_, Row>(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(AccountRow::from))
    }

    pub async fn account_by_username(
        &self,
        username_key: &str,
    ) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query_as::<_, Row>(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username_key = $1"
        ))
        .bind(username_key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(AccountRow::from))
    }

    /// Replaces the stored hash (a rehash under today's parameters, or a new password), with the
    /// date a one-time password stops working, if it is one.
    pub async fn set_password_hash(
        &self,
        id: AccountId,
        password_hash: &str,
        one_time_until: Option<Millis>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET password_hash = $1, must_change_password = $2, \
             password_expires_at = $3 WHERE id = $4",
        )
        .bind(password_hash)
        .bind(i64::from(one_time_until.is_some()))
        .bind(one_time_until)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// "Save & Get Code": the new number is kept apart; the verified one stays as it is.
    pub async fn save_pending_mobile(&self, id: AccountId, mobile: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET pending_mobile = $1 WHERE id = $2")
            .bind(mobile)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Drops the pending number and any code waiting for it. `false` if there was none.
    pub async fn cancel_pending_mobile(&self, id: AccountId) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let cancelled = sqlx::query(
            "UPDATE accounts SET pending_mobile = NULL WHERE id = $1 AND pending_mobile IS NOT NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM challenges WHERE account_id = $1 AND purpose = 'new_number'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(cancelled == 1)
    }

    pub async fn update_email(&self, id: AccountId, email: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET email = $1 WHERE id = $2")
            .bind(email)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
