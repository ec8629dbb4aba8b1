//! Patients' accounts.

use super::{is_unique_violation, Store, StoreError};
use crate::portal::Millis;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub mobile_verified_at: Option<Millis>,
    pub must_change_password: i64,
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
    pub created_at: Millis,
}

const ACCOUNT_COLUMNS: &str = "id, username, password_hash, given_name, family_name, \
     date_of_birth, email, mobile, mobile_verified_at, must_change_password";

impl Store {
    /// The new account's id, or `None` when the username is taken (whatever its case).
    pub async fn insert_account(&self, new: NewAccountRow<'_>) -> Result<Option<i64>, StoreError> {
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO accounts (username, username_key, password_hash, given_name, \
             family_name, date_of_birth, email, mobile, mobile_verified_at, must_change_password, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
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
        .bind(new.created_at)
        .fetch_one(&self.writer)
        .await;
        match inserted {
            Ok(id) => Ok(Some(id)),
            Err(err) if is_unique_violation(&err) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn username_taken(&self, username_key: &str) -> Result<bool, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE username_key = $1")
                .bind(username_key)
                .fetch_one(&self.pool)
                .await?;
        Ok(count > 0)
    }

    pub async fn account(&self, id: i64) -> Result<Option<AccountRow>, StoreError> {
        Ok(sqlx::query_as::<_, AccountRow>(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn account_by_username(
        &self,
        username_key: &str,
    ) -> Result<Option<AccountRow>, StoreError> {
        Ok(sqlx::query_as::<_, AccountRow>(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username_key = $1"
        ))
        .bind(username_key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Replaces the stored hash (a rehash under today's parameters, or a new password).
    pub async fn set_password_hash(
        &self,
        id: i64,
        password_hash: &str,
        must_change_password: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET password_hash = $1, must_change_password = $2 WHERE id = $3",
        )
        .bind(password_hash)
        .bind(i64::from(must_change_password))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// "Save & Get Code": the new number is kept at once, unverified until its code comes back.
    pub async fn save_unverified_mobile(&self, id: i64, mobile: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET mobile = $1, mobile_verified_at = NULL WHERE id = $2")
            .bind(mobile)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn update_email(&self, id: i64, email: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET email = $1 WHERE id = $2")
            .bind(email)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
