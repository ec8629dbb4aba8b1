//! Logging in and out: the password step (`password`), the code that finishes it (`code`), and
//! logging out. The stages a session passes through, and what each allows, are `crate::sign_in`'s.

pub mod code;
pub mod password;

#[cfg(test)]
mod tests;

use crate::{
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    error::{Error, OrInternal},
    portal::Portal,
    session::{self, Session},
};

/// "Log out": the session ends on the server, whatever the browser keeps.
pub async fn log_out(portal: &Portal, caller: &Caller, session: &Session) -> Result<(), Error> {
    session::end(portal, session)
        .await
        .or_internal("ending the session")?;
    let entry = Entry::new(Event::LoggedOut, Outcome::Ok).account(session.account_id);
    audit::record(portal, caller, entry).await;
    Ok(())
}
