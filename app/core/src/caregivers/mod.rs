//! Caregivers: a parent for a child, an adult for an adult, each signed in as themselves. A
//! grant links the caregiver's own account to the patient they act for, and says what it
//! allows (for now, their home and Personal Information). Nothing in a grant reaches the
//! patient's sign-in factors. Every request while acting names its grant, and the store
//! checks it is live in the statement that answers.

use jiff::{civil::Date, tz::TimeZone};

use crate::{
    account::Patient,
    audit::{self, Entry, Event, Outcome},
    caller::{Caller, Visit},
    clock::{Millis, DAY},
    error::{Error, ErrorKind, OrInternal},
    mobile,
    notify::{self, Change},
    portal::Portal,
    store::{kinds::GrantEnded, AccountId, GrantListed, GrantParties, GrantSide, Party},
};

pub use crate::store::kinds::Relationship;

pub mod invitations;

/// A child's record has a username nobody can type (the `:` is never allowed in one), so no
/// login can reach it.
pub const CHILD_USERNAME_PREFIX: &str = "child:";

/// A username as staff see it: a child's record has none to show.
pub fn shown_username(username: &str) -> String {
    match username.starts_with(CHILD_USERNAME_PREFIX) {
        true => "none (a child's record: can't sign in)".into(),
        false => username.to_string(),
    }
}

/// "Children sign in for themselves from age": the youngest and oldest a practice may set.
pub const YOUNGEST_SIGN_IN_AGE: i64 = 10;
pub const OLDEST_SIGN_IN_AGE: i64 = 18;
/// "Adult caregiver access (months)": the longest a practice may set.
pub const MOST_ADULT_MONTHS: i64 = 36;
/// A parent is told this long before their grant ends at the child's age, and a lower age
/// never ends a grant sooner than this after it was set.
pub const CHILD_NOTICE: Millis = 30 * DAY;
/// An adult caregiver's grant: the patient is reminded this long before it ends.
pub const ADULT_NOTICE: Millis = 14 * DAY;

/// Acting needs a session proved by a code or a passkey, even while two-factor is off.
pub const PROVE_FIRST: &str =
    "To act for someone, please confirm it's you first with a code or a passkey.";
/// A grant that isn't this caregiver's, or isn't live: the same answer either way.
pub const NOT_CARING: &str =
    "You can't act for this person now. If you think you should, please contact the practice.";

impl Relationship {
    /// As pages name it.
    pub fn label(self) -> &'static str {
        match self {
            Relationship::Parent => "Parent or guardian",
            Relationship::Adult => "Adult caregiver",
            Relationship::LegalAuthority => "Legal authority",
        }
    }
}

/// A time zone by its name (`Pacific/Auckland`), from the zones built in.
pub fn time_zone_named(name: &str) -> Option<TimeZone> {
    TimeZone::get(name.trim()).ok()
}

/// When a child born on `date_of_birth` (YYYY-MM-DD) turns `age`: the start of that birthday
/// in time zone `zone`. A child born on 29 February turns it on 1 March in other years.
pub fn turns(date_of_birth: &str, age: i64, zone: &TimeZone) -> Option<Millis> {
    let born: Date = date_of_birth.trim().parse().ok()?;
    let year = i16::try_from(i64::from(born.year()) + age).ok()?;
    let birthday = Date::new(year, born.month(), born.day())
        .or_else(|_| Date::new(year, 3, 1))
        .ok()?;
    let start = birthday.to_zoned_datetime(zone.clone()).ok()?;
    Some(start.timestamp().as_millisecond())
}

/// A person the caregiver may act for, as "Acting for" lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaredFor {
    pub grant: i64,
    pub name: String,
    pub relationship: &'static str,
    /// The day it ends, if it has one.
    pub ends: Option<String>,
}

/// A caregiver as the patient (or support) sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caregiver {
    pub grant: i64,
    /// The other person's account: never shown, only to name them in the patient's activity.
    pub account: AccountId,
    pub name: String,
    pub relationship: &'static str,
    pub since: String,
    pub ends: Option<String>,
    /// False while the grant is suspended: an account held, or the practice's switch off.
    pub usable: bool,
    /// An adult the patient invited: only the patient renews their access.
    pub renewable: bool,
}

/// What a caregiver sees of the person they act for: never the number in full, nor anything
/// of their sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingFor {
    pub grant: i64,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub email: Option<String>,
    /// Masked to its last three digits.
    pub mobile: Option<String>,
    pub mobile_verified: bool,
}

/// Acting for someone, or accepting to, needs a session proved by a code or a passkey. The
/// account's number or passkey must be older than the proof: a session proved by the password
/// alone (an account with no factor yet) that then adds a passkey is still proved by nothing
/// but the password.
pub(crate) async fn proved_for_caring(portal: &Portal, visit: &Visit) -> Result<(), Error> {
    let Some(proved) = visit.session.proved_at else {
        return Err(Error::new(ErrorKind::Forbidden, PROVE_FIRST));
    };
    let person = &visit.patient;
    let number = person.mobile.verified().is_some()
        && person.mobile_verified_at.is_some_and(|at| at <= proved);
    let passkey = || async {
        crate::passkeys::list(portal, crate::store::Holder::Patient(person.id))
            .await
            .map(|keys| keys.iter().any(|k| k.added <= proved))
    };
    match number || passkey().await? {
        true => Ok(()),
        false => Err(Error::new(ErrorKind::Forbidden, PROVE_FIRST)),
    }
}

/// A change to who may act for the patient (an invitation, a renewal) needs the same proof,
/// and recently (the practice's "Recent proof (minutes)").
pub(crate) async fn recently_proved_for_caring(
    portal: &Portal,
    visit: &Visit,
) -> Result<(), Error> {
    crate::proof::required(portal, visit)?;
    proved_for_caring(portal, visit)
        .await
        .map_err(|_| Error::new(ErrorKind::Forbidden, crate::proof::CONFIRM_FIRST))
}

/// Refuses (403) while the practice's "Caregiver access" is off.
pub(crate) fn switched_on(portal: &Portal) -> Result<(), Error> {
    match portal.practice().caregiver_access {
        true => Ok(()),
        false => Err(Error::new(
            ErrorKind::Forbidden,
            "Caregiver access is off at this practice.",
        )),
    }
}

/// A day as pages show it, in the practice's time zone.
pub fn day(portal: &Portal, at: Millis) -> String {
    jiff::Timestamp::from_millisecond(at)
        .map(|t| {
            t.to_zoned_datetime(portal.settings.time_zone.clone())
                .date()
                .to_string()
        })
        .unwrap_or_default()
}

fn listed_as_cared_for(portal: &Portal, grant: GrantListed) -> CaredFor {
    CaredFor {
        grant: grant.id,
        name: format!("{} {}", grant.given_name, grant.family_name),
        relationship: grant.relationship.label(),
        ends: grant.ends_at.map(|at| day(portal, at)),
    }
}

fn listed_as_caregiver(portal: &Portal, grant: GrantListed) -> Caregiver {
    Caregiver {
        grant: grant.id,
        account: grant.other_id,
        name: format!("{} {}", grant.given_name, grant.family_name),
        relationship: grant.relationship.label(),
        since: day(portal, grant.began_at),
        ends: grant.ends_at.map(|at| day(portal, at)),
        usable: grant.usable != 0,
        renewable: grant.relationship == Relationship::Adult,
    }
}

/// The people the signed-in patient may act for now.
pub async fn cared_for(portal: &Portal, visit: &Visit) -> Result<Vec<CaredFor>, Error> {
    let grants = listed(portal, GrantSide::Caregiver(visit.patient.id), true).await?;
    Ok(grants
        .into_iter()
        .map(|g| listed_as_cared_for(portal, g))
        .collect())
}

/// The patient's caregivers, usable or suspended.
pub async fn caregivers_of(portal: &Portal, patient: AccountId) -> Result<Vec<Caregiver>, Error> {
    let grants = listed(portal, GrantSide::Patient(patient), false).await?;
    Ok(grants
        .into_iter()
        .map(|g| listed_as_caregiver(portal, g))
        .collect())
}

/// Those the patient cares for, usable or suspended: for support's page.
pub async fn cares_for(portal: &Portal, caregiver: AccountId) -> Result<Vec<Caregiver>, Error> {
    let grants = listed(portal, GrantSide::Caregiver(caregiver), false).await?;
    Ok(grants
        .into_iter()
        .map(|g| listed_as_caregiver(portal, g))
        .collect())
}

async fn listed(
    portal: &Portal,
    side: GrantSide,
    live_only: bool,
) -> Result<Vec<GrantListed>, Error> {
    portal
        .store
        .grants(side, live_only, portal.now())
        .await
        .or_internal("listing caregivers' grants")
}

/// The person grant `grant` lets the signed-in caregiver act for, read in the statement that
/// checks the grant is theirs and live, and audited with the caregiver as actor and the
/// patient as subject.
pub async fn act_for(portal: &Portal, visit: &Visit, grant: i64) -> Result<ActingFor, Error> {
    proved_for_caring(portal, visit).await?;
    let caregiver = &visit.patient;
    let Some(row) = portal
        .store
        .acting_for(grant, caregiver.id, portal.now())
        .await
        .or_internal("reading whom a caregiver acts for")?
    else {
        let entry = Entry::new(Event::CaregiverViewed, Outcome::Refused).detail(format!(
            "by caregiver account {}, grant {grant}",
            caregiver.id
        ));
        audit::record(portal, &visit.caller, entry).await;
        return Err(Error::new(ErrorKind::NotFound, NOT_CARING));
    };
    let patient = Patient::from(row);
    let entry = Entry::new(Event::CaregiverViewed, Outcome::Ok)
        .account(patient.id)
        .detail(format!(
            "by caregiver account {}, grant {grant}",
            caregiver.id
        ));
    audit::record(portal, &visit.caller, entry).await;
    Ok(ActingFor {
        grant,
        mobile: patient.mobile.on_file().map(mobile::masked),
        mobile_verified: patient.mobile.verified().is_some(),
        given_name: patient.given_name,
        family_name: patient.family_name,
        date_of_birth: patient.date_of_birth,
        email: patient.email,
    })
}

/// The caregiver account an audit line's detail names, if it names one.
pub fn caregiver_in(detail: &str) -> Option<AccountId> {
    const NAMED: &str = "caregiver account ";
    let rest = &detail[detail.find(NAMED)? + NAMED.len()..];
    let id = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    id.parse().ok().map(AccountId)
}

/// "Remove": the patient ends a caregiver's grant, at once.
pub async fn remove(portal: &Portal, visit: &Visit, grant: i64) -> Result<(), Error> {
    end(
        portal,
        &visit.caller,
        grant,
        Party::Patient(visit.patient.id),
        GrantEnded::ByPatient,
        true,
    )
    .await
}

/// "Stop caring for": the caregiver ends their own grant.
pub async fn stop_caring(portal: &Portal, visit: &Visit, grant: i64) -> Result<(), Error> {
    end(
        portal,
        &visit.caller,
        grant,
        Party::Caregiver(visit.patient.id),
        GrantEnded::ByCaregiver,
        true,
    )
    .await
}

/// Ends a grant `party` may reach, audits it and, if `tell`, tells the patient (a security
/// notice) and the caregiver (an email).
pub(crate) async fn end(
    portal: &Portal,
    caller: &Caller,
    grant: i64,
    party: Party,
    why: GrantEnded,
    tell: bool,
) -> Result<(), Error> {
    let ended = portal
        .store
        .end_grant(grant, party, why, portal.now())
        .await
        .or_internal("ending a caregiver's grant")?
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                "That caregiver access has already ended.",
            )
        })?;
    ended_told(portal, caller, &ended, why, tell, None).await;
    Ok(())
}

/// Who ended a grant from the practice's side, and why.
struct ByStaff<'a> {
    staff: crate::store::StaffId,
    reason: &'a str,
}

/// Audits a grant that ended and tells both people, unless support chose not to.
async fn ended_told(
    portal: &Portal,
    caller: &Caller,
    ended: &GrantParties,
    why: GrantEnded,
    tell: bool,
    staff: Option<ByStaff<'_>>,
) {
    let mut detail = format!(
        "caregiver account {}, grant {}, {}: ended by {}",
        ended.caregiver_id,
        ended.id,
        ended.relationship.as_str(),
        why.as_str(),
    );
    if let Some(by) = &staff {
        detail.push_str(&format!("; reason: {}", by.reason));
    }
    if !tell {
        detail.push_str("; neither told");
    }
    let mut entry = Entry::new(Event::CaregiverRemoved, Outcome::Ok)
        .account(ended.patient_id)
        .detail(detail);
    if let Some(by) = staff {
        entry = entry.staff(by.staff);
    }
    audit::record(portal, caller, entry).await;
    if !tell {
        return;
    }
    if let Ok(Some(patient)) = Patient::load(portal, ended.patient_id).await {
        notify::security_notice(portal, caller, &patient, Change::CaregiverRemoved).await;
    }
    if let Ok(Some(caregiver)) = Patient::load(portal, ended.caregiver_id).await {
        // On the day it ends by its date or the child's age, a text too: they were told ahead.
        if let (GrantEnded::Age | GrantEnded::EndDate, Some(number)) =
            (why, caregiver.mobile.verified())
        {
            let body = notify::caregiver_access_ended(&portal.practice().text_name());
            notify::text(portal, caller, caregiver.id, number, &body).await;
        }
        let why = match why {
            GrantEnded::Age => "the person you cared for now signs in for themselves",
            GrantEnded::EndDate => "it reached its end date",
            GrantEnded::ByCaregiver => "you chose to stop",
            GrantEnded::ByPatient | GrantEnded::ByPractice => "it was removed",
        };
        let body = format!(
            "Hello {},\n\nYour caregiver access on the {} patient portal has ended: {why}. Your own account is as it was.\n\nIf you have questions, please {}.\n",
            caregiver.given_name,
            portal.practice().practice_name,
            notify::contact_the_practice(portal),
        );
        notify::email(
            portal,
            caller,
            &caregiver,
            "Your caregiver access has ended",
            body,
        )
        .await;
    }
}

/// Ends support's way: for safeguarding, with the choice not to tell either person.
pub(crate) async fn end_by_practice(
    portal: &Portal,
    caller: &Caller,
    staff: crate::store::StaffId,
    patient: AccountId,
    grant: i64,
    tell: bool,
    reason: &str,
) -> Result<(), Error> {
    let ended = portal
        .store
        .end_grant(
            grant,
            Party::Practice(patient),
            GrantEnded::ByPractice,
            portal.now(),
        )
        .await
        .or_internal("ending a caregiver's grant")?
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                "That caregiver access has already ended.",
            )
        })?;
    ended_told(
        portal,
        caller,
        &ended,
        GrantEnded::ByPractice,
        tell,
        Some(ByStaff { staff, reason }),
    )
    .await;
    Ok(())
}

/// A parent's grant ends on the child's birthday at the practice's age. After the age is
/// lowered, no grant ends sooner than `CHILD_NOTICE` after now; after it is raised, grants end
/// on the later birthday.
pub async fn set_children_end_dates(portal: &Portal) -> Result<(), Error> {
    let age = portal.practice().children_sign_in_age;
    let now = portal.now();
    let grants = portal
        .store
        .children_grants()
        .await
        .or_internal("reading parents' grants")?;
    for grant in grants {
        let Some(birthday) = turns(&grant.date_of_birth, age, &portal.settings.time_zone) else {
            continue;
        };
        let ends = match grant.ends_at {
            // Lowered: the new birthday, but never sooner than the notice.
            Some(ends) if birthday < ends => birthday.max(now + CHILD_NOTICE).min(ends),
            _ => birthday,
        };
        if Some(ends) != grant.ends_at {
            portal
                .store
                .set_grant_end(grant.id, ends)
                .await
                .or_internal("moving a parent's grant's end")?;
        }
    }
    Ok(())
}

/// The nightly sweep's part: grants at their end date or the child's age end (each once, on
/// whichever instance gets there first), and caregivers are told ahead.
pub async fn sweep(portal: &Portal) -> Result<(), Error> {
    let caller = Caller::default();
    let now = portal.now();
    let ended = portal
        .store
        .end_grants_due(now)
        .await
        .or_internal("ending grants at their date")?;
    for grant in ended {
        let why = match grant.relationship {
            Relationship::Parent => GrantEnded::Age,
            _ => GrantEnded::EndDate,
        };
        ended_told(portal, &caller, &grant, why, true, None).await;
    }
    let due = portal
        .store
        .grants_to_remind(now, CHILD_NOTICE, ADULT_NOTICE)
        .await
        .or_internal("finding grants to remind of")?;
    for grant in due {
        remind(portal, &caller, &grant).await;
    }
    Ok(())
}

/// A caregiver told their access ends soon (a parent 30 days ahead); for an adult's grant, the
/// patient too, who alone can renew it. Texts name nobody.
async fn remind(portal: &Portal, caller: &Caller, grant: &GrantParties) {
    let Some(ends) = grant.ends_at else {
        return;
    };
    let on = day(portal, ends);
    let entry = Entry::new(Event::CaregiverReminded, Outcome::Ok)
        .account(grant.patient_id)
        .detail(format!(
            "caregiver account {}, grant {}: ends {on}",
            grant.caregiver_id, grant.id
        ));
    audit::record(portal, caller, entry).await;
    let practice = portal.practice();
    // Only the patient can renew an adult's grant: they are told too.
    if grant.relationship == Relationship::Adult {
        if let Ok(Some(patient)) = Patient::load(portal, grant.patient_id).await {
            if let Some(number) = patient.mobile.verified() {
                let body = notify::caregiver_renewal_due(&practice.text_name(), &on);
                notify::text(portal, caller, patient.id, number, &body).await;
            }
            let body = format!(
                "Hello {},\n\nA caregiver's access to your record on the {} patient portal ends on {on}. If you want them to go on helping you, choose \"Renew\" beside them under Sign-in and security. If not, you needn't do anything.\n",
                patient.given_name, practice.practice_name,
            );
            notify::email(
                portal,
                caller,
                &patient,
                "A caregiver's access ends soon",
                body,
            )
            .await;
        }
    }
    if let Ok(Some(caregiver)) = Patient::load(portal, grant.caregiver_id).await {
        if let Some(number) = caregiver.mobile.verified() {
            let body = notify::caregiver_access_ends(&practice.text_name(), &on);
            notify::text(portal, caller, caregiver.id, number, &body).await;
        }
        let body = format!(
            "Hello {},\n\nYour caregiver access on the {} patient portal ends on {on}. {}\n\nIf you have questions, please {}.\n",
            caregiver.given_name,
            practice.practice_name,
            match grant.relationship {
                Relationship::Parent => "From then on the young person signs in for themselves, with their own sign-in from the practice.",
                _ => "Only the person you care for can renew it.",
            },
            notify::contact_the_practice(portal),
        );
        notify::email(
            portal,
            caller,
            &caregiver,
            "Your caregiver access ends soon",
            body,
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auckland() -> TimeZone {
        time_zone_named("Pacific/Auckland").unwrap()
    }

    fn at(text: &str) -> Millis {
        let zoned: jiff::ZonedDateTime = text.parse().unwrap();
        zoned.timestamp().as_millisecond()
    }

    #[test]
    fn a_child_turns_an_age_at_midnight_in_the_practices_zone() {
        assert_eq!(
            turns("2012-06-15", 14, &auckland()),
            Some(at("2026-06-15T00:00:00+12:00[Pacific/Auckland]"))
        );
        // Daylight saving: midnight there is 11:00 UTC the day before.
        assert_eq!(
            turns("2012-01-10", 14, &auckland()),
            Some(at("2026-01-10T00:00:00+13:00[Pacific/Auckland]"))
        );
    }

    #[test]
    fn the_29th_of_february_counts_as_the_1st_of_march_in_other_years() {
        assert_eq!(
            turns("2012-02-29", 14, &auckland()),
            Some(at("2026-03-01T00:00:00+13:00[Pacific/Auckland]"))
        );
        // In a leap year it is the day itself.
        assert_eq!(
            turns("2012-02-29", 16, &auckland()),
            Some(at("2028-02-29T00:00:00+13:00[Pacific/Auckland]"))
        );
    }

    #[test]
    fn an_unreadable_date_turns_no_age() {
        assert_eq!(turns("not a date", 14, &auckland()), None);
        assert!(time_zone_named("Mars/Olympus").is_none());
    }

    #[test]
    fn an_audit_detail_names_its_caregiver() {
        assert_eq!(
            caregiver_in("by caregiver account 42, grant 7"),
            Some(AccountId(42))
        );
        assert_eq!(
            caregiver_in("caregiver account 9, grant 3, adult; by invitation 2"),
            Some(AccountId(9))
        );
        assert_eq!(caregiver_in("reason: x"), None);
    }
}
