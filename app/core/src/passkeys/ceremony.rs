//! A passkey ceremony between its two requests. webauthn-rs's state (the challenge, and which
//! credentials may answer it) stays on the server: in the database, so any instance can finish
//! what another began, sealed with the server key and bound to its row, so nobody who can read
//! or write the table can read, alter or move it. The browser holds only a random handle in a
//! cookie, and the ceremony is bound to the session it began in. It is taken out (deleted) by
//! the request that finishes it, so it works once, and it expires after 5 minutes.
//!
//! A sign-in at `/login` (the button, or the username field's autofill on every view of the
//! page) keeps nothing: its state, its expiry and the session it is bound to are sealed into the
//! browser's handle itself, so a page view writes no row and spends nothing of the network's.
//! Finishing it records its handle as spent until it expires (so no answer is used twice), and
//! counts one sign-in against the network.

use serde::{de::DeserializeOwned, Serialize};

use crate::{
    caller::Caller,
    clock::{Millis, MINUTE},
    error::{Error, ErrorKind, OrFault, OrInternal},
    portal::Portal,
    session,
    store::{AccountId, CeremonyRow, Holder, StaffId},
};

pub const LIFETIME: Millis = 5 * MINUTE;

const SEALED_AS: &str = "passkey-ceremony";

/// How a handle that carries its own state begins: what tells it from a stored ceremony's.
const CARRIED: &str = "s.";
const CARRIED_AS: &str = "passkey-sign-in";

/// What a sign-in's handle carries, sealed.
#[derive(serde::Serialize, serde::Deserialize)]
struct Carried {
    state: String,
    session_hash: Option<String>,
    expires_at: Millis,
}

pub use crate::store::kinds::CeremonyPurpose as Purpose;

/// Keeps `state` for the ceremony just started, bound to the session `bound_to` (its hash: a
/// patient's or a staff member's, or none before signing in); returns the handle for the
/// browser's cookie.
pub async fn begin<S: Serialize>(
    portal: &Portal,
    caller: &Caller,
    bound_to: Option<&str>,
    purpose: Purpose,
    holder: Option<Holder>,
    state: &S,
) -> Result<String, Error> {
    // Each ceremony keeps a row for its 5 minutes: a script can't fill the table.
    let now = portal.now();
    counted_for_the_network(portal, caller).await?;
    let token = session::new_id();
    let id_hash = session::hash_id(&token);
    let json = serde_json::to_string(state).or_fault("keeping a passkey ceremony")?;
    let row = CeremonyRow {
        state: portal.secret.seal_for(SEALED_AS, id_hash.as_bytes(), &json),
        id_hash,
        purpose,
        session_hash: bound_to.map(str::to_string),
        account_id: holder.map(Holder::id),
        expires_at: now + LIFETIME,
    };
    portal
        .store
        .begin_ceremony(&row, now)
        .await
        .or_internal("keeping a passkey ceremony")?;
    Ok(token)
}

/// Counts a passkey ceremony against the caller's network, or refuses (429) when it has had its
/// hour's worth.
async fn counted_for_the_network(portal: &Portal, caller: &Caller) -> Result<(), Error> {
    let now = portal.now();
    let per_network = crate::limits::sign_ins::passkey_requests_from(portal, caller);
    match portal
        .store
        .count_if_under(std::slice::from_ref(&per_network), now)
        .await
        .or_internal("counting passkey requests")?
    {
        Some(full) => Err(per_network.refusal(full.oldest, now)),
        None => Ok(()),
    }
}

/// Begins a sign-in ceremony that keeps nothing on the server: its state, expiry and session
/// are sealed into the handle returned for the browser's cookie.
pub fn begin_carried<S: Serialize>(
    portal: &Portal,
    bound_to: Option<&str>,
    state: &S,
) -> Result<String, Error> {
    let carried = Carried {
        state: serde_json::to_string(state).or_fault("starting a passkey sign-in")?,
        session_hash: bound_to.map(str::to_string),
        expires_at: portal.now() + LIFETIME,
    };
    let json = serde_json::to_string(&carried).or_fault("starting a passkey sign-in")?;
    Ok(format!(
        "{CARRIED}{}",
        portal.secret.seal_as(CARRIED_AS, &json)
    ))
}

/// Takes a carried ceremony's state out, once: refused when it doesn't open, has expired, began
/// in another session, or was spent already; counted against the network when it is used.
async fn take_carried<S: DeserializeOwned>(
    portal: &Portal,
    caller: &Caller,
    bound_to: Option<&str>,
    token: &str,
) -> Result<S, Error> {
    let carried: Carried = token
        .strip_prefix(CARRIED)
        .and_then(|sealed| portal.secret.open_as(CARRIED_AS, sealed))
        .and_then(|json| serde_json::from_str(&json).ok())
        .ok_or_else(start_again)?;
    let now = portal.now();
    if carried.expires_at <= now || carried.session_hash.as_deref() != bound_to {
        return Err(start_again());
    }
    let state = serde_json::from_str(&carried.state).map_err(|_| start_again())?;
    counted_for_the_network(portal, caller).await?;
    let spent = portal
        .store
        .spend_ceremony(&session::hash_id(token), carried.expires_at, now)
        .await
        .or_internal("spending a passkey sign-in")?;
    if !spent {
        return Err(start_again());
    }
    Ok(state)
}

/// What a finished ceremony had kept.
pub struct Taken<S> {
    pub purpose: Purpose,
    /// Whose passkeys the ceremony is for, if it is for someone's.
    pub holder: Option<Holder>,
    pub state: S,
}

pub const START_AGAIN: &str =
    "That passkey request has ended. Please try again, or use a code sent by text.";

fn start_again() -> Error {
    Error::new(ErrorKind::BadRequest, START_AGAIN)
}

/// Takes the caller's ceremony out, once: refused (400) when there is none, it was used, it
/// expired, or it began in another session than `bound_to`.
pub async fn take<S: DeserializeOwned>(
    portal: &Portal,
    caller: &Caller,
    bound_to: Option<&str>,
) -> Result<Taken<S>, Error> {
    let Some(token) = &caller.ceremony_token else {
        return Err(start_again());
    };
    if token.starts_with(CARRIED) {
        let state = take_carried(portal, caller, bound_to, token).await?;
        return Ok(Taken {
            purpose: Purpose::SignIn,
            holder: None,
            state,
        });
    }
    let id_hash = session::hash_id(token);
    let row = portal
        .store
        .take_ceremony(&id_hash)
        .await
        .or_internal("reading a passkey ceremony")?
        .ok_or_else(start_again)?;
    let same_session = row.session_hash.as_deref() == bound_to;
    if row.expires_at <= portal.now() || !same_session {
        return Err(start_again());
    }
    let purpose = row.purpose;
    let state = portal
        .secret
        .open_for(SEALED_AS, id_hash.as_bytes(), &row.state)
        .and_then(|json| serde_json::from_str(&json).ok())
        .ok_or_else(start_again)?;
    // The column keeps a staff member's id for the staff's ceremonies.
    let holder = row.account_id.map(|id| match purpose {
        Purpose::StaffRegister | Purpose::StaffSignIn => Holder::Staff(StaffId(id)),
        _ => Holder::Patient(AccountId(id)),
    });
    Ok(Taken {
        purpose,
        holder,
        state,
    })
}
