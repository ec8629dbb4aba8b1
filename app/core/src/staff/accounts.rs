//! Staff accounts: made from the command line with a one-time enrolment link, a password and an
//! authenticator app (TOTP, RFC 6238) to sign in, and single-use recovery codes. The secret is
//! sealed under the server key, bound to its staff member; recovery codes are kept only as HMACs.

use crate::store::StaffId;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::{Rng, RngCore};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::{Role, StaffMember};
use crate::{
    account::username_key,
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    clock::{Millis, HOUR, SECOND},
    portal::Portal,
    session::hash_id,
    store::StoreError,
};

/// An enrolment link works for a day.
pub const ENROLMENT_LIFETIME: Millis = 24 * HOUR;
pub const RECOVERY_CODES: usize = 10;
/// Authenticator codes: 6 digits, 30-second steps; the previous and next step are accepted too.
const DIGITS: u8 = 6;
const STEP_SECONDS: u64 = 30;
const SKEW: u16 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The staff member named `username`, if any.
pub async fn named(portal: &Portal, username: &str) -> Result<Option<StaffMember>, StoreError> {
    Ok(portal
        .store
        .staff_by_username(&username_key(username))
        .await?
        .map(StaffMember::from_row))
}

/// The staff member with `id`, if they exist and may sign in (enrolled, not disabled).
pub async fn active(portal: &Portal, id: StaffId) -> Result<Option<StaffMember>, StoreError> {
    Ok(portal
        .store
        .staff_member(id)
        .await?
        .map(StaffMember::from_row)
        .filter(StaffMember::active))
}

/// What a staff member's login failures and delays are kept under: apart from patients', as
/// ':' is never in a patient's username.
pub fn login_key(username: &str) -> String {
    format!("staff:{}", username_key(username))
}

/// Clears the login delays of the staff member named `username`, on every network, and audits
/// it: `by` is the admin who did it, or `None` from the command line (`server staff unlock`).
/// `None` if there is no such staff member.
pub async fn unlock(
    portal: &Portal,
    caller: &Caller,
    by: Option<StaffId>,
    username: &str,
) -> Result<Option<StaffMember>, StoreError> {
    let Some(member) = named(portal, username).await? else {
        return Ok(None);
    };
    portal.store.unlock(&login_key(&member.username)).await?;
    let from = if by.is_some() {
        ""
    } else {
        " from the command line"
    };
    let mut entry = Entry::new(Event::StaffUnlocked, Outcome::Ok).detail(format!(
        "{} ({}){from}",
        member.username,
        member.role.as_str()
    ));
    if let Some(admin) = by {
        entry = entry.staff(admin);
    }
    audit::record(portal, caller, entry).await;
    Ok(Some(member))
}

/// `server staff add`: a new staff member and their enrolment link.
pub async fn add(portal: &Portal, username: &str, role: Role) -> Result<String, StaffError> {
    let username = crate::account::Username::parse(username)
        .map_err(|problem| StaffError::Invalid(format!("the username: {problem}")))?;
    let id = portal
        .store
        .insert_staff(username.as_str(), &username.key(), role, portal.now())
        .await?
        .ok_or_else(|| {
            StaffError::Invalid(format!("{} is already a staff member", username.as_str()))
        })?;
    Ok(enrolment_link(portal, id).await?)
}

/// A new one-time enrolment link for staff member `id`, valid for a day; earlier ones stop
/// working. Only the token's hash is stored.
pub async fn enrolment_link(portal: &Portal, id: StaffId) -> Result<String, StoreError> {
    let token = new_token();
    portal
        .store
        .insert_enrolment(id, &hash_id(&token), portal.now() + ENROLMENT_LIFETIME)
        .await?;
    let base = portal.settings.public_url.as_str().trim_end_matches('/');
    Ok(format!("{base}/staff/enrol?token={token}"))
}

/// A new authenticator secret: 160 random bits, as RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The authenticator for `secret`, labelled for the app with the practice and the username.
pub fn authenticator(secret: Vec<u8>, practice: &str, username: &str) -> Option<Totp> {
    // The otpauth label can't hold ':'.
    let issuer = practice.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECONDS)
        .with_secret(Secret::from(secret))
        .with_issuer(Some(issuer))
        .with_account_name(username.replace(':', " "))
        .build()
        .ok()
}

/// The secret as the patient-facing page shows it, for typing into an app.
pub fn secret_text(totp: &Totp) -> String {
    totp.secret().to_base32()
}

/// The step whose code `code` is, if it is a current one (the previous, current or next step).
pub fn code_step(totp: &Totp, code: &str, now: Millis) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    totp.check(&code, (now / SECOND) as u64)
        .map(|step| step as i64)
}

/// Ten recovery codes, each 10 letters and digits in two groups ("k7qm2-x9fpt").
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..10)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// What is stored of a recovery code: its HMAC under the server key, for this staff member.
pub fn recovery_code_mac(portal: &Portal, staff_id: StaffId, code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    portal
        .secret
        .code_mac(&format!("staff-recovery:{staff_id}"), &normal)
}

/// Checks the second factor: an authenticator code (each step works once) or an unused
/// recovery code (each works once).
pub async fn second_factor_matches(
    portal: &Portal,
    member: &StaffMember,
    code: &str,
) -> Result<bool, StoreError> {
    let Some(secret) = member
        .sealed_totp_secret()
        .and_then(|sealed| open_secret(portal, member.id, sealed))
    else {
        return Ok(false);
    };
    let totp = authenticator(secret, &portal.practice().practice_name, &member.username);
    if let Some(step) = totp.and_then(|t| code_step(&t, code, portal.now())) {
        return portal.store.use_totp_step(member.id, step).await;
    }
    let mac = recovery_code_mac(portal, member.id, code);
    portal
        .store
        .use_recovery_code(member.id, &mac, portal.now())
        .await
}

/// Staff authenticator secrets are sealed under a purpose of their own, bound to their staff
/// member: copied into a text message, or to another staff member, they don't open.
const AUTHENTICATOR: &str = "portal staff authenticator v2";
/// Marks a secret sealed as above; older ones were sealed like outbox texts, and are sealed
/// again at start-up ([`reseal_old_secrets`]).
const SEALED_V2: &str = "v2:";
/// An enrolment's pending secret, bound to its link.
const PENDING: &str = "portal staff enrolment secret v1";

/// Seals staff member `staff_id`'s authenticator secret for storage.
pub fn seal_secret(portal: &Portal, staff_id: StaffId, secret: &[u8]) -> String {
    let text = Secret::from(secret.to_vec()).to_base32();
    let sealed = portal
        .secret
        .seal_for(AUTHENTICATOR, &staff_id.0.to_be_bytes(), &text);
    format!("{SEALED_V2}{sealed}")
}

/// Opens staff member `staff_id`'s sealed authenticator secret.
pub fn open_secret(portal: &Portal, staff_id: StaffId, sealed: &str) -> Option<Vec<u8>> {
    let sealed = sealed.strip_prefix(SEALED_V2)?;
    let text = portal
        .secret
        .open_for(AUTHENTICATOR, &staff_id.0.to_be_bytes(), sealed)?;
    from_base32(text)
}

fn from_base32(text: String) -> Option<Vec<u8>> {
    Secret::try_from_base32(text)
        .ok()
        .map(|secret| secret.as_bytes().to_vec())
}

/// Seals authenticator secrets stored the old way (under the outbox's purpose) the new way.
/// Run at start-up; returns how many were sealed again.
pub async fn reseal_old_secrets(portal: &Portal) -> Result<usize, StoreError> {
    let mut resealed = 0;
    for (staff_id, old) in portal.store.staff_totp_secrets().await? {
        if old.starts_with(SEALED_V2) {
            continue;
        }
        let Some(secret) = portal.secret.open(&old).and_then(from_base32) else {
            tracing::warn!(
                staff_id = staff_id.0,
                "a staff authenticator secret doesn't open with this key"
            );
            continue;
        };
        let new = seal_secret(portal, staff_id, &secret);
        // Another instance starting at the same time may have done it already.
        if portal
            .store
            .replace_staff_secret(staff_id, &old, &new)
            .await?
        {
            resealed += 1;
        }
    }
    Ok(resealed)
}

/// A random token for a link or a browser: 256 bits, URL-safe.
pub fn new_token() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// An enrolment's pending secret as stored: the hash of the browser it was shown to, and the
/// secret sealed to the link (`token_hash`).
pub fn seal_pending(
    portal: &Portal,
    token_hash: &str,
    browser_hash: &str,
    secret: &[u8],
) -> String {
    let text = Secret::from(secret.to_vec()).to_base32();
    let sealed = portal
        .secret
        .seal_for(PENDING, token_hash.as_bytes(), &text);
    format!("{browser_hash}:{sealed}")
}

/// The browser hash and the secret of a pending secret stored by [`seal_pending`].
pub fn open_pending(portal: &Portal, token_hash: &str, stored: &str) -> Option<(String, Vec<u8>)> {
    let (browser_hash, sealed) = stored.split_once(':')?;
    let text = portal
        .secret
        .open_for(PENDING, token_hash.as_bytes(), sealed)?;
    Some((browser_hash.to_string(), from_base32(text)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticator_codes_match_rfc_6238() {
        // RFC 6238's SHA-1 test secret; at 59 s its 8-digit code is 94287082, so 6 digits: 287082.
        let totp = authenticator(b"12345678901234567890".to_vec(), "Harbour", "kim").unwrap();
        assert_eq!(code_step(&totp, "287082", 59 * SECOND), Some(1));
        // The previous and next steps are accepted; two steps away is not.
        assert_eq!(code_step(&totp, "287082", 89 * SECOND), Some(1));
        assert_eq!(code_step(&totp, "287082", 29 * SECOND), Some(1));
        assert_eq!(code_step(&totp, "287082", 120 * SECOND), None);
        assert_eq!(code_step(&totp, "28708", 59 * SECOND), None);
        assert_eq!(code_step(&totp, "abcdef", 59 * SECOND), None);
    }

    #[test]
    fn recovery_codes_are_ten_and_different() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        assert!(codes
            .iter()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));
    }
}
