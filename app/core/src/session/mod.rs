//! Sessions: the stages of `crate::sign_in`, stored (a pending one lasts 10 minutes at most).
//! Each step up gets a new ID. The cookie holds 256 random bits
//! (after the time the session began); the database holds only their SHA-256 (after the same
//! time), so a leaked table opens no sessions.

use crate::store::AccountId;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{
    clock::{Millis, SECOND},
    portal::Portal,
    store::{SessionRow, StoreError},
};

pub use crate::sign_in::Stage;
use crate::sign_in::WayIn;

#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub account_id: AccountId,
    pub stage: Stage,
    pub last_seen_at: Millis,
    pub expires_at: Millis,
    /// When the patient last proved who they are in it with a code or a passkey.
    pub proved_at: Option<Millis>,
}

/// How long a recovery session has to set up a new phone.
pub const RECOVERY_SECONDS: i64 = 30 * 60;

/// Activity is written back at most this often, so a busy page doesn't write on every request.
const TOUCH_EVERY: Millis = 15 * SECOND;

pub mod cookie;
pub mod staff;

/// The browser a session starts in: the session it replaces (so the ID changes at every step)
/// and its `User-Agent`, to name it in the patient's list of where they are signed in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Browser<'a> {
    pub previous: Option<&'a Session>,
    pub user_agent: Option<&'a str>,
}

/// A browser and platform in words, as a patient would name them ("Firefox on Windows 10").
pub fn describe(user_agent: Option<&str>) -> String {
    // Only browsers: a script or a crawler is not named by its library.
    let parsed = user_agent
        .and_then(|ua| woothee::parser::Parser::new().parse(ua))
        .filter(|p| {
            matches!(
                p.category,
                "pc" | "smartphone" | "mobilephone" | "appliance"
            )
        });
    let known = |name: &str| !name.is_empty() && name != woothee::woothee::VALUE_UNKNOWN;
    match parsed {
        Some(p) if known(p.name) && known(p.os) => format!("{} on {}", p.name, p.os),
        Some(p) if known(p.name) => p.name.to_string(),
        _ => "A web browser".to_string(),
    }
}

/// What the database keeps of a session ID (or any other token): its SHA-256, after the time a
/// patient's session began where the ID starts with one (see `new_session_id`).
pub fn hash_id(id: &str) -> String {
    let digest = hex::encode(Sha256::digest(id.as_bytes()));
    match id.split_once('.') {
        Some((began, _)) if is_began(began) => format!("{began}{digest}"),
        _ => digest,
    }
}

/// Twelve lower-case hex digits: a time in milliseconds, written so that later sorts after.
fn is_began(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A new patient session's ID: the time it began, then 256 random bits. The time is no secret,
/// and it puts each new session's key after the last in the sessions' index, so that a sign-in
/// writes to the same few pages among a million sessions rather than to a random one.
pub fn new_session_id(now: Millis) -> String {
    format!("{:012x}.{}", now.max(0), new_id())
}

/// A token short enough for a link in a text: 128 random bits.
pub fn new_short_token() -> String {
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// A new session ID: 256 random bits, for the cookie.
pub fn new_id() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The session a cookie value stands for, if it exists and has not timed out. A timed-out
/// session is deleted on sight.
pub async fn load(portal: &Portal, cookie_value: &str) -> Result<Option<Session>, StoreError> {
    let id_hash = hash_id(cookie_value);
    let Some(row) = portal.store.session(&id_hash).await? else {
        return Ok(None);
    };
    let stage = row.stage;
    let now = portal.now();
    let idle_limit = portal.settings.session_idle_seconds * SECOND;
    let timed_out =
        now >= row.expires_at || (!stage.is_pending() && now - row.last_seen_at >= idle_limit);
    if timed_out {
        portal.store.delete_session(&id_hash).await?;
        return Ok(None);
    }
    if now - row.last_seen_at >= TOUCH_EVERY {
        portal.store.touch_session(&id_hash, now).await?;
    }
    Ok(Some(Session {
        id_hash,
        account_id: row.account_id,
        stage,
        last_seen_at: now,
        expires_at: row.expires_at,
        proved_at: row.proved_at,
    }))
}

/// A session just started: the row is stored, and `cookie` is what the browser must be given.
pub struct NewSession {
    pub session: Session,
    /// The cookie's value: 256 random bits. Only its hash is stored.
    pub cookie: String,
}

impl NewSession {
    /// Where the browser goes next: the 2FA page while a code is needed, else home.
    pub fn next_page(&self) -> &'static str {
        self.session.stage.page()
    }
}

/// Starts a session at `stage` in `browser`, replacing its previous one (if any). A signed-in
/// one starts proved: a code or a passkey began it.
pub async fn begin(
    portal: &Portal,
    browser: Browser<'_>,
    account_id: AccountId,
    stage: Stage,
) -> Result<NewSession, StoreError> {
    // Only a code moves a session up by way of `begin`; a passkey has its own.
    let way = (stage == Stage::SignedIn).then_some(WayIn::Code);
    store_new(portal, browser, account_id, stage, way).await
}

/// Starts a signed-in session that remembered device `device_id` began, if the device is still
/// remembered when the session is stored: one forgotten meanwhile (the practice ending the
/// patient's sessions, a new password) begins none. The password alone was typed, so adding or
/// removing a passkey will ask for a code first.
pub async fn begin_on_remembered_device(
    portal: &Portal,
    browser: Browser<'_>,
    account_id: AccountId,
    device_id: i64,
) -> Result<Option<NewSession>, StoreError> {
    let previous = browser.previous;
    let (new, row) = NewSession::prepare(
        portal,
        browser,
        account_id,
        Stage::SignedIn,
        Some(WayIn::RememberedDevice),
    );
    let stored = portal
        .store
        .replace_session_while_remembered(previous.map(|s| s.id_hash.as_str()), &row, device_id)
        .await?;
    Ok(stored.then_some(new))
}

/// Starts a signed-in session that passkey `passkey_id` began, if the passkey is still the
/// account's when the session is stored: one removed meanwhile (by the practice, or by the
/// patient elsewhere) begins none. `passkey` is its record as the sign-in updated it.
pub async fn begin_with_passkey(
    portal: &Portal,
    browser: Browser<'_>,
    account_id: AccountId,
    passkey_id: i64,
    passkey: &str,
) -> Result<Option<NewSession>, StoreError> {
    let previous = browser.previous;
    let (new, row) = NewSession::prepare(
        portal,
        browser,
        account_id,
        Stage::SignedIn,
        Some(WayIn::Passkey),
    );
    let stored = portal
        .store
        .begin_session_with_passkey(
            previous.map(|s| s.id_hash.as_str()),
            &row,
            passkey_id,
            passkey,
        )
        .await?;
    Ok(stored.then_some(new))
}

/// The session a code or a passkey was finishing was ended meanwhile.
pub const SESSION_ENDED: &str = "This sign-in was ended before it finished. Please log in again.";

/// Starts a signed-in session in place of a recovery session whose patient just added a
/// passkey: the passkey proves it's them, as a code would. `None` if the recovery session was
/// ended meanwhile ("Secure my account" between the check and now).
pub async fn begin_with_new_passkey(
    portal: &Portal,
    browser: Browser<'_>,
    account_id: AccountId,
) -> Result<Option<NewSession>, StoreError> {
    step_up_by(portal, browser, account_id, WayIn::Passkey).await
}

/// Starts a signed-in session in place of the session a code was just verified in, if that
/// session is still there: `None` when something ended it since the request read it ("Secure
/// my account", the practice ending the patient's sessions, a logout in another tab).
pub async fn step_up(
    portal: &Portal,
    browser: Browser<'_>,
    account_id: AccountId,
) -> Result<Option<NewSession>, StoreError> {
    step_up_by(portal, browser, account_id, WayIn::Code).await
}

async fn step_up_by(
    portal: &Portal,
    browser: Browser<'_>,
    account_id: AccountId,
    way: WayIn,
) -> Result<Option<NewSession>, StoreError> {
    let Some(previous) = browser.previous else {
        return Ok(None);
    };
    let old = previous.id_hash.clone();
    let (new, row) = NewSession::prepare(portal, browser, account_id, Stage::SignedIn, Some(way));
    let stored = portal.store.replace_live_session(&old, &row).await?;
    Ok(stored.then_some(new))
}

/// Starts a recovery session (30 minutes, a new phone to set up) in `browser` if `spent` is
/// still the account's recovery code: in one step the code is replaced by `new_code_hash`,
/// every remembered device forgotten and every session of the account ended. `None` when the
/// code was spent meanwhile.
pub async fn begin_recovery(
    portal: &Portal,
    browser: Browser<'_>,
    account_id: AccountId,
    spent: &str,
    new_code_hash: &str,
) -> Result<Option<(NewSession, crate::store::RecoveryBegun)>, StoreError> {
    let (new, row) = NewSession::prepare(portal, browser, account_id, Stage::Recovery, None);
    let begun = portal
        .store
        .begin_recovery(account_id, spent, new_code_hash, &row)
        .await?;
    Ok(begun.map(|taken| (new, taken)))
}

async fn store_new(
    portal: &Portal,
    browser: Browser<'_>,
    account_id: AccountId,
    stage: Stage,
    way: Option<WayIn>,
) -> Result<NewSession, StoreError> {
    let previous = browser.previous;
    let (new, row) = NewSession::prepare(portal, browser, account_id, stage, way);
    portal
        .store
        .replace_session(previous.map(|s| s.id_hash.as_str()), &row)
        .await?;
    Ok(new)
}

/// Starts a signed-in session without a code, if two-factor authentication is off as stored,
/// not as this instance last read it; `None` when it is on. Checked in the step that stores the
/// session, so an admin switching it on can never miss a session begun in the meantime.
pub async fn begin_without_code(
    portal: &Portal,
    browser: Browser<'_>,
    account_id: AccountId,
) -> Result<Option<NewSession>, StoreError> {
    let previous = browser.previous;
    let (new, row) = NewSession::prepare(
        portal,
        browser,
        account_id,
        Stage::SignedIn,
        Some(WayIn::PasswordOnly),
    );
    let stored = portal
        .store
        .replace_session_while_two_factor_off(previous.map(|s| s.id_hash.as_str()), &row)
        .await?;
    Ok(stored.then_some(new))
}

impl NewSession {
    /// A new session at `stage`, come in by `way`, and the row that stores it. Only a way in
    /// that proves it's the patient counts as recent proof.
    fn prepare(
        portal: &Portal,
        browser: Browser<'_>,
        account_id: AccountId,
        stage: Stage,
        way: Option<WayIn>,
    ) -> (Self, SessionRow) {
        let proved = way.is_some_and(WayIn::proves);
        let now = portal.now();
        let value = new_session_id(now);
        let lifetime = match stage {
            Stage::Recovery => RECOVERY_SECONDS,
            _ if stage.is_pending() => portal.settings.pending_seconds,
            _ => portal.settings.session_absolute_seconds,
        };
        let row = SessionRow {
            id_hash: hash_id(&value),
            account_id,
            stage,
            created_at: now,
            last_seen_at: now,
            expires_at: now + lifetime * SECOND,
            device: Some(describe(browser.user_agent)),
            proved_at: proved.then_some(now),
        };
        let new = NewSession {
            session: Session {
                id_hash: row.id_hash.clone(),
                account_id,
                stage,
                last_seen_at: now,
                expires_at: row.expires_at,
                proved_at: row.proved_at,
            },
            cookie: value,
        };
        (new, row)
    }
}

pub async fn end(portal: &Portal, session: &Session) -> Result<(), StoreError> {
    portal.store.delete_session(&session.id_hash).await
}

/// Ends every other session of the account: after the number or the password changes, a
/// browser left signed in elsewhere (or a thief's) must sign in again. Returns how many ended.
pub async fn end_others(
    portal: &Portal,
    account_id: AccountId,
    keep: Option<&Session>,
) -> Result<u64, StoreError> {
    portal
        .store
        .delete_other_sessions(account_id, keep.map(|s| s.id_hash.as_str()))
        .await
}

#[cfg(test)]
mod tests {
    use super::{describe, hash_id, new_id, new_session_id};
    use sha2::{Digest, Sha256};

    #[test]
    fn a_later_session_is_kept_after_an_earlier_one_and_only_hashed() {
        let earlier = new_session_id(1_764_000_000_000);
        let later = new_session_id(1_764_000_000_001);
        let (earlier_key, later_key) = (hash_id(&earlier), hash_id(&later));
        assert!(earlier_key < later_key, "{earlier_key} then {later_key}");
        assert!(hash_id(&new_session_id(1_764_000_000_000)) < later_key);
        // The key holds the time and the whole ID's hash, never the random part itself.
        let random = earlier.split_once('.').unwrap().1;
        assert!(!earlier_key.contains(random));
        let digest = hex::encode(Sha256::digest(earlier.as_bytes()));
        assert_eq!(earlier_key, format!("019ab697e800{digest}"));
        // Older IDs, and any other token, are kept by their hash alone, and a cookie can't
        // choose a prefix that isn't a time.
        let plain = new_id();
        assert_eq!(
            hash_id(&plain),
            hex::encode(Sha256::digest(plain.as_bytes()))
        );
        let forged = format!("019AB697E800.{plain}");
        assert_eq!(
            hash_id(&forged),
            hex::encode(Sha256::digest(forged.as_bytes()))
        );
    }

    #[test]
    fn a_browser_is_named_as_a_patient_would_name_it() {
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(describe(Some(firefox)), "Firefox on Windows 10");
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
        assert_eq!(describe(Some(android)), "Chrome on Android");
        assert_eq!(describe(Some("curl/8.5")), "A web browser");
        assert_eq!(describe(None), "A web browser");
    }
}
