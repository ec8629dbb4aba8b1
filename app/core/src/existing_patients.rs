//! A practice's existing patients: the CSV import (the server's `import-patients` command), and
//! the first sign-in of a patient given a one-time password, who must choose their own before
//! anything else.

use std::collections::BTreeMap;

use argon2::password_hash::PasswordHash;

use crate::{
    account::{today, DateOfBirth, PersonName, Username},
    audit::{self, Entry, Event, Outcome},
    caller::Visit,
    clock::DAY,
    devices::Forgotten,
    error::{Error, OrInternal},
    notify,
    one_time_code::new_number::end_other_sessions,
    password::NewPassword,
    portal::Portal,
    store::NewAccountRow,
};

pub const WRONG_ONE_TIME_PASSWORD: &str =
    "That isn't the one-time password the practice gave you. Please check it and try again.";

/// Replaces the practice's one-time password with the patient's own, and ends every other
/// session of the account. The one-time password is asked for again, with the login's
/// delays for wrong tries: a session a passkey began never typed it.
pub async fn choose_password(
    portal: &Portal,
    visit: &Visit,
    one_time_password: &str,
    password: &str,
    confirm: Option<&str>,
) -> Result<(), Error> {
    let account = &visit.patient;
    if !account.must_change_password {
        return Err(Error::new(
            crate::error::ErrorKind::Forbidden,
            "Your password is already your own.",
        ));
    }
    // Before the second factor only after support's reset, where the new number comes after
    // the password: otherwise the code to the verified number comes first.
    let before_the_code = crate::login::code::code_goes_to(portal, &visit.session, account)
        == crate::login::code::CodeGoesTo::OwnPasswordFirst;
    if visit.session.stage.is_pending() && !before_the_code {
        return Err(Error::new(
            crate::error::ErrorKind::Forbidden,
            "Please finish signing in first.",
        ));
    }
    if one_time_password.is_empty() {
        return Err(Error::field(
            "one_time_password",
            "Please type the one-time password the practice gave you.",
        ));
    }
    crate::login::password::password_again(
        portal,
        &visit.caller,
        account,
        one_time_password,
        "one_time_password",
        WRONG_ONE_TIME_PASSWORD,
    )
    .await?;
    let mut problems = BTreeMap::new();
    let new_password = match NewPassword::parse(password, &account.username) {
        Ok(new_password) => Some(new_password),
        Err(problem) => {
            problems.insert("password".to_string(), problem.to_string());
            None
        }
    };
    if confirm.is_some_and(|c| c != password) {
        problems.insert(
            "confirm_password".into(),
            "The two passwords don't match.".into(),
        );
    }
    let Some(new_password) = new_password.filter(|_| problems.is_empty()) else {
        return Err(Error::fields(problems));
    };
    let hash = portal
        .passwords
        .hash(new_password)
        .await
        .map_err(|e| e.refusal("hashing a chosen password"))?;
    portal
        .store
        .set_password_hash(account.id, &hash, None)
        .await
        .or_internal("storing a chosen password")?;
    let entry = Entry::new(Event::PasswordChosen, Outcome::Ok).account(account.id);
    audit::record(portal, &visit.caller, entry).await;
    end_other_sessions(
        portal,
        &visit.caller,
        account.id,
        Some(&visit.session),
        Forgotten::PasswordChanged,
    )
    .await?;
    notify::security_notice(
        portal,
        &visit.caller,
        account,
        notify::Change::PasswordChosen,
    )
    .await;
    Ok(())
}

/// One imported patient per CSV row.
#[derive(Debug, serde::Deserialize)]
struct Row {
    username: String,
    given_name: String,
    family_name: String,
    date_of_birth: String,
    /// As the old system had it: a mobile, a landline, or nothing.
    #[serde(default)]
    phone: String,
    /// An argon2 PHC string from the old system…
    #[serde(default)]
    password_hash: String,
    /// …or a one-time password the practice gives the patient.
    #[serde(default)]
    one_time_password: String,
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: usize,
    /// (CSV line number, what was wrong); those rows were skipped.
    pub skipped: Vec<(u64, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the CSV file could not be read: {0}")]
    Csv(#[from] csv::Error),
    #[error("the CSV header must include username, given_name, family_name and date_of_birth, and password_hash or one_time_password (phone is optional)")]
    Header,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Hash(#[from] crate::password::HashError),
}

/// Every import has these columns…
const COLUMNS: [&str; 4] = ["username", "given_name", "family_name", "date_of_birth"];
/// …and at least one of these (each row gives exactly one); `phone` is optional.
const PASSWORD_COLUMNS: [&str; 2] = ["password_hash", "one_time_password"];

/// The number as stored: E.164 when it is a real number anywhere (a landline too, so it can
/// be shown), otherwise the text as it was. Nothing imported counts as verified.
fn phone_on_file(phone: &str, portal: &Portal) -> Option<String> {
    let phone = phone.trim();
    if phone.is_empty() {
        return None;
    }
    let region = portal.settings.default_region;
    Some(
        phonenumber::parse(Some(region), phone)
            .ok()
            .filter(phonenumber::is_valid)
            .map(|n| n.format().mode(phonenumber::Mode::E164).to_string())
            .unwrap_or_else(|| phone.to_string()),
    )
}

/// A row checked and ready to go in.
struct Checked {
    line: u64,
    username: String,
    username_key: String,
    hash: String,
    given_name: String,
    family_name: String,
    date_of_birth: String,
    mobile: Option<String>,
    one_time_until: Option<crate::clock::Millis>,
}

/// Rows written in one transaction.
const BATCH: usize = 1_000;

/// A CSV row, read.
enum RowRead {
    /// Ready to write.
    Checked(Checked),
    /// Skipped, and why, for the report.
    Skipped(String),
}

async fn check_row(portal: &Portal, line: u64, row: Row) -> Result<RowRead, ImportError> {
    let username = match Username::parse(&row.username) {
        Ok(u) => u,
        Err(e) => return Ok(RowRead::Skipped(format!("username: {e}"))),
    };
    let names = [
        PersonName::parse(&row.given_name, "given name").map_err(|e| format!("given_name: {e}")),
        PersonName::parse(&row.family_name, "family name").map_err(|e| format!("family_name: {e}")),
    ];
    let date_of_birth = DateOfBirth::parse(&row.date_of_birth, today(portal))
        .map_err(|e| format!("date_of_birth: {e}"));
    let (given_name, family_name, date_of_birth) = match (names, date_of_birth) {
        ([Ok(g), Ok(f)], Ok(d)) => (g, f, d),
        ([g, f], d) => {
            let problems: Vec<String> = [g.err(), f.err(), d.err()].into_iter().flatten().collect();
            return Ok(RowRead::Skipped(problems.join("; ")));
        }
    };
    let days = portal.settings.one_time_password_days;
    let (hash, one_time_until) = match (row.password_hash.trim(), row.one_time_password.as_str()) {
        (hash, "") if !hash.is_empty() => match PasswordHash::new(hash) {
            Ok(parsed) if parsed.algorithm.as_str().starts_with("argon2") => {
                (hash.to_string(), None)
            }
            _ => {
                return Ok(RowRead::Skipped(
                    "password_hash: not an argon2 PHC string".into(),
                ))
            }
        },
        ("", otp) if !otp.trim().is_empty() => (
            portal.passwords.hash_given(otp.trim()).await?,
            Some(portal.now() + days * DAY),
        ),
        _ => {
            return Ok(RowRead::Skipped(
                "give exactly one of password_hash and one_time_password".into(),
            ))
        }
    };
    Ok(RowRead::Checked(Checked {
        line,
        username: username.as_str().to_string(),
        username_key: username.key(),
        hash,
        given_name: given_name.as_str().to_string(),
        family_name: family_name.as_str().to_string(),
        date_of_birth: date_of_birth.to_string(),
        mobile: phone_on_file(&row.phone, portal),
        one_time_until,
    }))
}

/// Writes a batch of checked rows; a username already taken is reported, not imported.
async fn write(
    portal: &Portal,
    batch: &mut Vec<Checked>,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let now = portal.now();
    let rows: Vec<NewAccountRow> = batch
        .iter()
        .map(|c| NewAccountRow {
            username: &c.username,
            username_key: &c.username_key,
            password_hash: &c.hash,
            given_name: &c.given_name,
            family_name: &c.family_name,
            date_of_birth: &c.date_of_birth,
            email: None,
            mobile: c.mobile.as_deref(),
            mobile_verified_at: None,
            must_change_password: c.one_time_until.is_some(),
            password_expires_at: c.one_time_until,
            created_at: now,
        })
        .collect();
    let ids = portal.store.insert_accounts(&rows).await?;
    for (checked, id) in batch.iter().zip(ids) {
        match id {
            Some(_) => report.imported += 1,
            None => report
                .skipped
                .push((checked.line, "username: already taken".into())),
        }
    }
    batch.clear();
    Ok(())
}

/// Imports every acceptable row and reports the rest; one bad row never stops the others.
/// Rows are read one at a time and written a batch at a time, so memory stays the same
/// however long the file.
pub async fn import_patients(
    portal: &Portal,
    csv_text: impl std::io::Read,
) -> Result<ImportReport, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(csv_text);
    let header = reader.headers()?.clone();
    let has = |column: &&str| header.iter().any(|h| h == *column);
    if !COLUMNS.iter().all(has) || !PASSWORD_COLUMNS.iter().any(has) {
        return Err(ImportError::Header);
    }
    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    for record in reader.records() {
        let record = record?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != header.len() {
            report.skipped.push((
                line,
                format!(
                    "expected {} fields but found {} (quote values that contain commas, such as password hashes)",
                    header.len(),
                    record.len()
                ),
            ));
            continue;
        }
        let row: Row = match record.deserialize(Some(&header)) {
            Ok(row) => row,
            Err(err) => {
                report.skipped.push((line, err.to_string()));
                continue;
            }
        };
        match check_row(portal, line, row).await? {
            RowRead::Checked(checked) => batch.push(checked),
            RowRead::Skipped(problem) => report.skipped.push((line, problem)),
        }
        if batch.len() == BATCH {
            write(portal, &mut batch, &mut report).await?;
        }
    }
    write(portal, &mut batch, &mut report).await?;
    // Lines in the file's order, whichever step found the problem.
    report.skipped.sort_by_key(|(line, _)| *line);
    // The planner's statistics, for a table that may be a thousand times what it was.
    if let Err(err) = portal.store.optimize().await {
        tracing::warn!(%err, "counting the tables for the planner after the import");
    }
    Ok(report)
}
