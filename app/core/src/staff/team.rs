use crate::{
    audit::{self, Entry, Event, Outcome},
    error::{Error, ErrorKind, OrInternal},
    portal::Portal,
    staff::StaffMember,
    staff::StaffVisit,
    staff::{accounts, when},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffListEntry {
    pub username: String,
    pub role: String,
    pub enrolled: bool,
    pub disabled: bool,
    pub last_sign_in: Option<String>,
    /// Their sign-in must wait now (failed logins), on some network or everywhere.
    pub login_delayed: bool,
}

pub async fn list(portal: &Portal) -> Result<Vec<StaffListEntry>, Error> {
    let rows = portal
        .store
        .all_staff()
        .await
        .or_internal("listing staff")?;
    let now = portal.now();
    let mut list = Vec::with_capacity(rows.len());
    for m in rows.into_iter().map(StaffMember::from_row) {
        let delay = portal
            .store
            .login_delay(&accounts::login_key(&m.username))
            .await
            .or_internal("reading a login delay")?;
        list.push(StaffListEntry {
            role: m.role.as_str().to_string(),
            enrolled: m.enrolled,
            disabled: m.disabled,
            last_sign_in: m.last_sign_in_at.map(when),
            login_delayed: delay.is_some_and(|until| until > now),
            username: m.username,
        });
    }
    Ok(list)
}

pub async fn unlock(portal: &Portal, visit: &StaffVisit, username: &str) -> Result<(), Error> {
    accounts::unlock(portal, &visit.caller, Some(visit.member.id), username)
        .await
        .or_internal("unlocking a staff member")?
        .map(drop)
        .ok_or_else(|| Error::field("username", "There is no staff member by that name."))
}

pub async fn set_enabled(
    portal: &Portal,
    visit: &StaffVisit,
    username: &str,
    enabled: bool,
) -> Result<(), Error> {
    let member = accounts::named(portal, username)
        .await
        .or_internal("finding a staff member")?
        .ok_or_else(|| Error::field("username", "There is no staff member by that name."))?;
    if member.id == visit.member.id {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "You can't disable yourself.",
        ));
    }
    let disabled_at = (!enabled).then(|| portal.now());
    portal
        .store
        .set_staff_disabled(member.id, disabled_at)
        .await
        .or_internal("changing a staff member")?;
    let event = if enabled {
        Event::StaffEnabled
    } else {
        Event::StaffDisabled
    };
    let entry = Entry::new(event, Outcome::Ok)
        .staff(visit.member.id)
        .detail(format!("{} ({})", member.username, member.role.as_str()));
    audit::record(portal, &visit.caller, entry).await;
    Ok(())
}
