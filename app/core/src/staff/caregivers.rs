//! Support's side of caregivers: "Add a child" (a record that can't sign in, with its parent's
//! grant), "Add a caregiver" (a parent or guardian, or a legal authority) and "Remove
//! caregiver" (for safeguarding, told or not). Patients are named by references bound to the
//! staff session, the caregiver as much as the patient, so no ID can be guessed.

use std::collections::BTreeMap;

use crate::{
    account::{DateOfBirth, PersonName},
    audit::{self, Entry, Event, Outcome},
    caregivers::{self, Relationship},
    error::{Error, ErrorKind, OrInternal},
    notify::{self, Change},
    portal::Portal,
    recovery::HOLD_AFTER_RECOVERY,
    staff::{
        reason,
        support::{patient, reference, IdentityCheck, IDENTITY_UNCHECKED},
        StaffVisit,
    },
    store::{GrantMade, NewChild, NewGrant},
};

/// A child as support types them in.
pub struct TypedChild<'a> {
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub date_of_birth: &'a str,
}

/// What support typed to justify an action: a reason, and how they checked who they spoke to.
pub struct Justified<'a> {
    pub reason: &'a str,
    pub identity: Option<IdentityCheck>,
}

/// The reason and the identity check, or every problem with them; `problems` may hold others.
fn justified(
    typed: &Justified<'_>,
    mut problems: BTreeMap<String, String>,
) -> Result<String, Error> {
    let reason = reason(typed.reason).map_err(|refused| problems.extend(refused.fields));
    if typed.identity.is_none() {
        problems.insert("identity_check".into(), IDENTITY_UNCHECKED.into());
    }
    match reason {
        Ok(reason) if problems.is_empty() => Ok(match typed.identity {
            Some(identity) => format!("reason: {reason}; identity checked: {}", identity.as_str()),
            None => format!("reason: {reason}"),
        }),
        _ => Err(Error::fields(problems)),
    }
}

fn refused_now(made: GrantMade) -> Error {
    match made {
        GrantMade::AlreadyLive => Error::new(
            ErrorKind::Conflict,
            "This person is already a caregiver for this patient.",
        ),
        _ => Error::new(
            ErrorKind::Forbidden,
            "No caregiver can be added now: caregiver access is off in the practice settings, or one of the two accounts is on hold or was just recovered.",
        ),
    }
}

fn switched_off(portal: &Portal) -> Result<(), Error> {
    match portal.practice().caregiver_access {
        true => Ok(()),
        false => Err(Error::new(
            ErrorKind::Forbidden,
            "Caregiver access is off in the practice settings.",
        )),
    }
}

/// "Add a child": a record for a child of the patient `parent_ref` names, which can't sign in
/// and needs no number, and the parent's grant, made together. Returns the child's reference.
pub async fn add_child(
    portal: &Portal,
    visit: &StaffVisit,
    parent_ref: &str,
    child: TypedChild<'_>,
    typed: Justified<'_>,
) -> Result<String, Error> {
    let parent = patient(portal, visit, parent_ref).await?;
    switched_off(portal)?;
    let mut problems = BTreeMap::new();
    let mut field = |name: &str, answer: Result<String, String>| {
        answer
            .map_err(|problem| problems.insert(name.to_string(), problem))
            .ok()
    };
    let given = field(
        "given_name",
        PersonName::parse(child.given_name, "given name").map(|n| n.as_str().to_string()),
    );
    let family = field(
        "family_name",
        PersonName::parse(child.family_name, "family name").map(|n| n.as_str().to_string()),
    );
    let today = crate::account::today(portal);
    let age = portal.practice().children_sign_in_age;
    let zone = &portal.settings.time_zone;
    let born = field(
        "date_of_birth",
        DateOfBirth::parse(child.date_of_birth, today)
            .map(|d| d.to_string())
            .and_then(|born| match caregivers::turns(&born, age, zone) {
                Some(turns) if turns > portal.now() => Ok(born),
                _ => Err(format!(
                    "This child is {age} or older, so they sign in for themselves: they register with their own mobile number."
                )),
            }),
    );
    let detail = justified(&typed, problems)?;
    let (Some(given), Some(family), Some(born)) = (given, family, born) else {
        return Err(Error::new(ErrorKind::Invalid, "Please check the form."));
    };
    let now = portal.now();
    let ends_at = caregivers::turns(&born, age, zone);
    let username = format!(
        "{}{}",
        caregivers::CHILD_USERNAME_PREFIX,
        crate::session::new_short_token()
    );
    let added = portal
        .store
        .add_child(
            &NewChild {
                username: &username,
                given_name: &given,
                family_name: &family,
                date_of_birth: &born,
                now,
            },
            |child| NewGrant {
                caregiver_id: parent.id,
                patient_id: child,
                relationship: Relationship::Parent,
                ends_at,
                document: None,
                made_by_staff: Some(visit.member.id),
                now,
                recovered_since: now - HOLD_AFTER_RECOVERY,
            },
        )
        .await
        .or_internal("adding a child")?;
    let Some((child_id, grant)) = added else {
        return Err(refused_now(GrantMade::Refused));
    };
    let entry = Entry::new(Event::ChildAdded, Outcome::Ok)
        .account(child_id)
        .staff(visit.member.id)
        .detail(format!(
            "parent: caregiver account {}, grant {grant}; {detail}",
            parent.id
        ));
    audit::record(portal, &visit.caller, entry).await;
    Ok(reference(portal, visit, child_id))
}

/// "Add a caregiver": the patient `caregiver_ref` names becomes a caregiver of the one
/// `patient_ref` names, as a parent or guardian (of a child under the practice's age) or as a
/// legal authority (`document` says what support saw).
pub async fn add_caregiver(
    portal: &Portal,
    visit: &StaffVisit,
    patient_ref: &str,
    caregiver_ref: &str,
    relationship: &str,
    document: &str,
    typed: Justified<'_>,
) -> Result<(), Error> {
    let cared = patient(portal, visit, patient_ref).await?;
    let caregiver = patient(portal, visit, caregiver_ref).await?;
    switched_off(portal)?;
    let mut problems = BTreeMap::new();
    let relationship = match relationship.trim() {
        "parent" => Some(Relationship::Parent),
        "legal_authority" => Some(Relationship::LegalAuthority),
        _ => {
            problems.insert(
                "relationship".into(),
                "Please choose Parent or guardian, or Legal authority.".into(),
            );
            None
        }
    };
    let age = portal.practice().children_sign_in_age;
    let turns = caregivers::turns(&cared.date_of_birth, age, &portal.settings.time_zone);
    let document = document.trim();
    match relationship {
        Some(Relationship::Parent) if turns.is_none_or(|t| t <= portal.now()) => {
            problems.insert(
                "relationship".into(),
                format!("A parent or guardian's access is for children under {age}. For an adult who can't use the portal, choose Legal authority."),
            );
        }
        Some(Relationship::LegalAuthority)
            if document.is_empty() || document.chars().count() > 200 =>
        {
            problems.insert(
                "document".into(),
                "Please say which document you saw (an enduring power of attorney or a guardianship order), in up to 200 characters.".into(),
            );
        }
        _ => {}
    }
    if caregiver.id == cared.id || !caregiver.signs_in {
        problems.insert(
            "caregiver".into(),
            "A caregiver must be someone else, with their own sign-in.".into(),
        );
    }
    let detail = justified(&typed, problems)?;
    let Some(relationship) = relationship else {
        return Err(Error::new(ErrorKind::Invalid, "Please check the form."));
    };
    let now = portal.now();
    let (ends_at, document) = match relationship {
        Relationship::Parent => (turns, None),
        _ => (None, Some(document)),
    };
    let made = portal
        .store
        .make_grant(&NewGrant {
            caregiver_id: caregiver.id,
            patient_id: cared.id,
            relationship,
            ends_at,
            document,
            made_by_staff: Some(visit.member.id),
            now,
            recovered_since: now - HOLD_AFTER_RECOVERY,
        })
        .await
        .or_internal("making a caregiver's grant")?;
    let GrantMade::Made(grant) = made else {
        return Err(refused_now(made));
    };
    let document = document.map_or_else(String::new, |d| format!("; document: {d}"));
    let entry = Entry::new(Event::CaregiverAdded, Outcome::Ok)
        .account(cared.id)
        .staff(visit.member.id)
        .detail(format!(
            "caregiver account {}, grant {grant}, {}{document}; {detail}",
            caregiver.id,
            relationship.as_str()
        ));
    audit::record(portal, &visit.caller, entry).await;
    notify::security_notice(portal, &visit.caller, &cared, Change::CaregiverAdded).await;
    Ok(())
}

/// "Remove caregiver", for safeguarding: effective at once; `tell` false tells neither person.
pub async fn remove_caregiver(
    portal: &Portal,
    visit: &StaffVisit,
    patient_ref: &str,
    grant: i64,
    typed_reason: &str,
    tell: bool,
) -> Result<(), Error> {
    let cared = patient(portal, visit, patient_ref).await?;
    let reason = reason(typed_reason)?;
    caregivers::end_by_practice(
        portal,
        &visit.caller,
        visit.member.id,
        cared.id,
        grant,
        tell,
        &reason,
    )
    .await
}

/// A grant on support's page, with a reference to the other person's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareLine {
    pub grant: i64,
    pub reference: String,
    pub name: String,
    pub relationship: String,
    pub since: String,
    pub ends: Option<String>,
    pub usable: bool,
}

/// Someone support chose in a search to add as a caregiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenCaregiver {
    pub reference: String,
    pub name: String,
    pub date_of_birth: String,
}

/// The caregivers part of support's patient page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareRecord {
    pub reference: String,
    pub name: String,
    /// False for a child's record, which can't sign in.
    pub signs_in: bool,
    pub caregivers: Vec<CareLine>,
    pub cares_for: Vec<CareLine>,
    pub chosen: Option<ChosenCaregiver>,
    /// Invitations the patient said someone is pressuring them into: (invitation, when).
    pub waiting: Vec<(i64, String)>,
    /// The practice's "Caregiver access".
    pub caregiver_access: bool,
    pub children_sign_in_age: i64,
}

fn care_line(portal: &Portal, visit: &StaffVisit, c: caregivers::Caregiver) -> CareLine {
    CareLine {
        grant: c.grant,
        reference: reference(portal, visit, c.account),
        name: c.name,
        relationship: c.relationship.to_string(),
        since: c.since,
        ends: c.ends,
        usable: c.usable,
    }
}

/// Who cares for the patient and whom they care for, and the caregiver chosen to add, if any.
pub async fn record(
    portal: &Portal,
    visit: &StaffVisit,
    patient_ref: &str,
    caregiver_ref: Option<&str>,
) -> Result<CareRecord, Error> {
    let cared = patient(portal, visit, patient_ref).await?;
    let chosen = match caregiver_ref.filter(|r| !r.trim().is_empty()) {
        Some(given) => {
            let caregiver = patient(portal, visit, given).await?;
            Some(ChosenCaregiver {
                reference: given.to_string(),
                name: format!("{} {}", caregiver.given_name, caregiver.family_name),
                date_of_birth: caregiver.date_of_birth,
            })
        }
        None => None,
    };
    let caregivers = caregivers::caregivers_of(portal, cared.id).await?;
    let cares_for = caregivers::cares_for(portal, cared.id).await?;
    let waiting = portal
        .store
        .invitations_waiting(cared.id)
        .await
        .or_internal("reading invitations waiting for the practice")?
        .into_iter()
        .filter_map(|i| Some((i.id, crate::staff::when(i.pressured_at?))))
        .collect();
    let practice = portal.practice();
    Ok(CareRecord {
        reference: patient_ref.to_string(),
        name: format!("{} {}", cared.given_name, cared.family_name),
        signs_in: cared.signs_in,
        caregivers: caregivers
            .into_iter()
            .map(|c| care_line(portal, visit, c))
            .collect(),
        cares_for: cares_for
            .into_iter()
            .map(|c| care_line(portal, visit, c))
            .collect(),
        chosen,
        waiting,
        caregiver_access: practice.caregiver_access,
        children_sign_in_age: practice.children_sign_in_age,
    })
}

/// "Close the invitation": after talking to the patient about the pressure they reported, the
/// practice ends the invitation, so nobody can use it.
pub async fn close_invitation(
    portal: &Portal,
    visit: &StaffVisit,
    patient_ref: &str,
    invitation: i64,
    typed_reason: &str,
) -> Result<(), Error> {
    let cared = patient(portal, visit, patient_ref).await?;
    let reason = reason(typed_reason)?;
    let closed = portal
        .store
        .end_invitation(invitation, cared.id, "closed", portal.now())
        .await
        .or_internal("closing an invitation")?;
    if !closed {
        return Err(Error::new(
            ErrorKind::NotFound,
            "That invitation has already ended.",
        ));
    }
    let entry = Entry::new(Event::InvitationEnded, Outcome::Ok)
        .account(cared.id)
        .staff(visit.member.id)
        .detail(format!(
            "invitation {invitation}: closed by the practice; reason: {reason}"
        ));
    audit::record(portal, &visit.caller, entry).await;
    Ok(())
}

/// "Set up sign-in": a child's record gets its own username. Its password is one nobody knows
/// until support's "Issue one-time password" gives one to read out; at that first login the
/// young person chooses their own, then gives their own number (flow 2.2). A parent's access
/// goes on until the practice's age.
pub async fn set_up_sign_in(
    portal: &Portal,
    visit: &StaffVisit,
    child_ref: &str,
    typed_username: &str,
    typed: Justified<'_>,
) -> Result<(), Error> {
    let child = patient(portal, visit, child_ref).await?;
    if child.signs_in {
        return Err(Error::new(
            ErrorKind::Conflict,
            "This record signs in already.",
        ));
    }
    let mut problems = BTreeMap::new();
    let username = crate::account::Username::parse(typed_username)
        .map_err(|problem| problems.insert("username".into(), problem))
        .ok();
    let detail = justified(&typed, problems)?;
    let Some(username) = username else {
        return Err(Error::new(ErrorKind::Invalid, "Please check the form."));
    };
    // Random, and never told: the one-time password support issues next replaces it.
    let unknown = crate::session::new_id();
    let hash = portal
        .passwords
        .hash_given(&unknown)
        .await
        .map_err(|e| e.refusal("hashing a password nobody knows"))?;
    let set = portal
        .store
        .set_up_sign_in(child.id, username.as_str(), &username.key(), &hash)
        .await
        .or_internal("setting up a sign-in")?;
    match set {
        None => Err(Error::field(
            "username",
            "That username is taken. Please choose another.",
        )),
        Some(false) => Err(Error::new(
            ErrorKind::Conflict,
            "This record signs in already.",
        )),
        Some(true) => {
            let entry = Entry::new(Event::SignInSetUp, Outcome::Ok)
                .account(child.id)
                .staff(visit.member.id)
                .detail(format!("username {}; {detail}", username.as_str()));
            audit::record(portal, &visit.caller, entry).await;
            Ok(())
        }
    }
}
