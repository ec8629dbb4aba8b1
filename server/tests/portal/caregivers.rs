//! Caregivers through the router, on both engines: support adds a child and its parent, who
//! acts for the child; a legal authority for an adult; the grant checked on every request
//! (removed, stopped, past its date, the child's birthday, held, the practice's switch off, a
//! session not proved); two tabs for two people; another patient's IDs in every field; the
//! birthday sweep with a frozen clock, 29 February included.

use crate::common;

use app::staff::StaffRole;
use axum::http::StatusCode;
use common::{registration, Browser, Reply, Staff, TestPortal, PASSWORD};
use serde_json::Value;

/// 2027-01-15 08:00 UTC, where every test portal's clock starts: a child born in 2019 is 7.
const CHILD_BORN: &str = "2019-05-01";

/// A patient with their own names, number and confirmed email address, signed in by a code.
async fn person<'a>(
    portal: &'a TestPortal,
    username: &str,
    given: &str,
    family: &str,
    mobile: &str,
) -> Browser<'a> {
    let mut browser = portal.browser();
    let email = format!("{username}@example.org");
    let mut form = registration(username, mobile);
    form[3] = ("given_name", given);
    form[4] = ("family_name", family);
    form[7] = ("email", &email);
    let registered = browser.post("/api/register", &form).await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text());
    assert_eq!(
        browser.post("/api/send_code", &[]).await.status,
        StatusCode::OK
    );
    let code = portal.last_code().await;
    let verified = browser.post("/api/verify_code", &[("code", &code)]).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    let token = portal.email_link().await;
    let confirmed = browser
        .post("/api/confirm_email", &[("token", &token)])
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    browser
}

/// Support's "Add a child" for the patient `parent` names.
async fn add_child(staff: &mut Staff<'_>, parent: &str, given: &str, born: &str) -> Reply {
    staff
        .browser
        .post(
            "/api/staff/add_child",
            &[
                ("patient", parent),
                ("given_name", given),
                ("family_name", "Ngata"),
                ("date_of_birth", born),
                ("identity_check", "in_person"),
                (
                    "reason",
                    "parent came in with the child's birth certificate",
                ),
            ],
        )
        .await
}

/// The people a caregiver may act for now: (grant, name).
async fn cared_for(browser: &mut Browser<'_>) -> Vec<(String, String)> {
    let reply = browser.post("/api/cared_for", &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["grant"].as_i64().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn view(browser: &mut Browser<'_>, grant: &str) -> Reply {
    browser.post("/api/acting_for", &[("grant", grant)]).await
}

/// An admin's "Children sign in for themselves from age", through the settings form.
async fn children_sign_in_age(admin: &mut Staff<'_>, age: &str) -> Reply {
    admin
        .browser
        .post(
            "/api/staff/save_settings",
            &[
                ("two_factor", "on"),
                ("practice_name", "Patient Portal"),
                ("support_phone", ""),
                ("support_email", ""),
                ("first_number_at_login", "allow"),
                ("resend_cooldown_seconds", "30"),
                ("children_sign_in_age", age),
            ],
        )
        .await
}

/// "This wasn't me" from the newest notice to `number` that says `what`, with the password.
async fn secure_from_notice(portal: &TestPortal, number: &str, what: &str) -> Reply {
    let notice = portal
        .texts()
        .await
        .into_iter()
        .rev()
        .find(|(to, body)| to == number && body.contains(what) && body.contains("Not you? "))
        .unwrap_or_else(|| panic!("a notice to {number} that {what}"))
        .1;
    let token = notice.split("t=").nth(1).unwrap().trim().to_string();
    portal
        .browser()
        .post(
            "/api/secure_account",
            &[("token", token.as_str()), ("password", PASSWORD)],
        )
        .await
}

/// Support's "Add a caregiver" as a legal authority, for the patient `patient` names.
async fn add_legal_authority(staff: &mut Staff<'_>, patient: &str, caregiver: &str) -> Reply {
    staff
        .browser
        .post(
            "/api/staff/add_caregiver",
            &[
                ("patient", patient),
                ("caregiver", caregiver),
                ("relationship", "legal_authority"),
                ("document", "EPOA"),
                ("identity_check", "in_person"),
                ("reason", "x"),
            ],
        )
        .await
}

/// Mere (a signed-in parent) with her child Aroha added by support: Mere's browser, support,
/// and the grant.
async fn mere_and_aroha(portal: &TestPortal) -> (Browser<'_>, Staff<'_>, String) {
    let mere = person(portal, "mere", "Mere", "Ngata", "021 555 0101").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let reference = staff.find("mere").await;
    let added = add_child(&mut staff, &reference, "Aroha", CHILD_BORN).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let mut mere = mere;
    let people = cared_for(&mut mere).await;
    assert_eq!(people.len(), 1, "{people:?}");
    assert_eq!(people[0].1, "Aroha Ngata");
    let grant = people[0].0.clone();
    (mere, staff, grant)
}

async fn child_id(portal: &TestPortal, given: &str) -> app::store::AccountId {
    let found = portal
        .portal
        .store
        .search_patients(
            &app::store::PatientSearch::Words(vec![given.to_string()]),
            5,
            0,
        )
        .await
        .unwrap();
    found
        .into_iter()
        .find(|p| p.given_name == given)
        .expect("the child's record")
        .id
}

fn texts_to<'a>(texts: &'a [(String, String)], number: &str) -> Vec<&'a str> {
    texts
        .iter()
        .filter(|(to, _)| to == number)
        .map(|(_, body)| body.as_str())
        .collect()
}

async fn emails_with(portal: &TestPortal, to: &str, subject: &str) -> usize {
    portal
        .portal
        .store
        .dev_email()
        .await
        .unwrap()
        .iter()
        .filter(|e| e.to_address == to && e.subject == subject)
        .count()
}

#[tokio::test]
async fn support_adds_a_child_and_the_parent_acts_for_them_and_sees_only_what_the_grant_allows() {
    let portal = TestPortal::new().await;
    let (mut mere, _staff, grant) = mere_and_aroha(&portal).await;

    // The child's record can't sign in and has no number.
    let child = portal
        .portal
        .store
        .account(child_id(&portal, "Aroha").await)
        .await
        .unwrap()
        .unwrap();
    assert!(!child.signs_in);
    assert!(child.mobile.is_none());
    let by_its_username = portal
        .browser()
        .post(
            "/api/login",
            &[("username", &child.username), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(by_its_username.status, StatusCode::UNAUTHORIZED);

    let seen = view(&mut mere, &grant).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.text());
    let seen = seen.json();
    assert_eq!(seen["given_name"], "Aroha");
    assert_eq!(seen["date_of_birth"], CHILD_BORN);
    assert_eq!(seen["mobile"], Value::Null);
    assert!(
        seen.get("username").is_none() && seen.get("passkeys").is_none(),
        "nothing of the child's sign-in: {seen}"
    );
    // Every other patient function answers for the signed-in person, whatever grant it is
    // given: none reaches the child's record.
    for endpoint in [
        "/api/me",
        "/api/security",
        "/api/confirm_ways",
        "/api/cared_for",
    ] {
        let reply = mere
            .post(endpoint, &[("grant", &grant), ("patient", &grant)])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{endpoint}");
        assert!(
            !reply.text().contains(CHILD_BORN),
            "{endpoint}: {}",
            reply.text()
        );
    }
    // /api/me always answers for the signed-in person, with "Acting for" in the navigation.
    let me = mere.post("/api/me", &[]).await.json();
    assert_eq!(me["given_name"], "Mere");
    assert_eq!(me["cares_for"], true);

    // Audited with the caregiver as actor and the child as subject.
    let lines = portal.portal.store.audit_trail(child.id, 20).await.unwrap();
    let mere_id = portal.account("mere").await.id;
    let viewed = lines
        .iter()
        .find(|l| l.event == "caregiver_viewed")
        .expect("the view is audited");
    assert_eq!(viewed.outcome, "ok");
    assert!(
        viewed
            .detail
            .as_deref()
            .unwrap()
            .contains(&format!("by caregiver account {mere_id}")),
        "{viewed:?}"
    );
    assert!(lines
        .iter()
        .any(|l| l.event == "child_added" && l.staff.is_some()));

    // The pages: "Acting for" lists the child; acting shows the banner and "Switch back".
    let caring = portal.get("/caring", mere.cookie.as_deref()).await.text();
    assert!(
        caring.contains("Aroha Ngata") && caring.contains("Yourself"),
        "{caring}"
    );
    let page = portal
        .get(&format!("/for/{grant}"), mere.cookie.as_deref())
        .await
        .text();
    assert!(
        page.contains("acting for") && page.contains("Switch back"),
        "{page}"
    );
    assert!(page.contains("Aroha"), "{page}");
}

#[tokio::test]
async fn add_a_child_asks_for_everything_at_once_and_refuses_a_child_old_enough_to_sign_in() {
    let portal = TestPortal::new().await;
    let _mere = person(&portal, "mere", "Mere", "Ngata", "021 555 0101").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let reference = staff.find("mere").await;
    let empty = staff
        .browser
        .post("/api/staff/add_child", &[("patient", &reference)])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in [
        "given_name",
        "family_name",
        "date_of_birth",
        "reason",
        "identity_check",
    ] {
        assert!(
            !empty.field_error(field).is_empty(),
            "{field}: {}",
            empty.text()
        );
    }
    // 14 on its last birthday: they sign in for themselves.
    let too_old = add_child(&mut staff, &reference, "Hemi", "2012-06-01").await;
    assert_eq!(too_old.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_old
        .field_error("date_of_birth")
        .contains("sign in for themselves"));
    // Nothing was added.
    let mut mere = portal.signed_in_patient_again("mere").await;
    assert!(cared_for(&mut mere).await.is_empty());
}

#[tokio::test]
async fn every_way_a_grant_stops_being_live_refuses_the_next_request() {
    let portal = TestPortal::new().await;
    let (mut mere, mut staff, grant) = mere_and_aroha(&portal).await;
    let mere_ref = staff.find("mere").await;
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::OK);

    // Another patient, signed in and proved, with the same grant number: not theirs.
    let mut rangi = person(&portal, "rangi", "Rangi", "Parata", "021 555 0102").await;
    assert_eq!(view(&mut rangi, &grant).await.status, StatusCode::NOT_FOUND);
    for junk in ["", "x", "1.0", "-1", "99999999999999999999"] {
        assert_eq!(
            view(&mut mere, junk).await.status,
            StatusCode::NOT_FOUND,
            "{junk:?}"
        );
    }

    // The practice's switch off: nothing can be used or made; on again, it is back.
    let mut off = (*portal.portal.practice()).clone();
    off.caregiver_access = false;
    portal.save_practice(off).await;
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::NOT_FOUND);
    let refused = add_child(&mut staff, &mere_ref, "Tama", "2020-01-01").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let mut on = (*portal.portal.practice()).clone();
    on.caregiver_access = true;
    portal.save_practice(on).await;
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::OK);

    // A session the password alone began (two-factor off) doesn't act for anyone.
    let mut off = (*portal.portal.practice()).clone();
    off.two_factor = false;
    portal.save_practice(off).await;
    let mut password_only = portal.browser();
    assert_eq!(password_only.log_in("mere").await.status, StatusCode::OK);
    let unproved = view(&mut password_only, &grant).await;
    assert_eq!(
        unproved.status,
        StatusCode::FORBIDDEN,
        "{}",
        unproved.text()
    );
    assert!(unproved.text().contains("confirm it"));
    let mut on = (*portal.portal.practice()).clone();
    on.two_factor = true;
    portal.save_practice(on).await;

    // "Stop caring for": at once, and only once.
    let mut mere = portal.signed_in_patient_again("mere").await;
    let stopped = mere.post("/api/stop_caring", &[("grant", &grant)]).await;
    assert_eq!(stopped.status, StatusCode::OK, "{}", stopped.text());
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::NOT_FOUND);
    let again = mere.post("/api/stop_caring", &[("grant", &grant)]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(cared_for(&mut mere).await.is_empty());
    assert_eq!(mere.post("/api/me", &[]).await.json()["cares_for"], false);
}

#[tokio::test]
async fn a_parents_grant_ends_at_the_childs_birthday_and_the_sweep_tells_them_ahead_and_on_the_day()
{
    let portal = TestPortal::new().await;
    // Born on 29 February: in 2027 they turn 15 on 1 March, at midnight in Auckland
    // (2027-02-28 11:00 UTC).
    let admin = portal.staff("ada", StaffRole::Admin).await;
    let mut admin = admin;
    let saved = children_sign_in_age(&mut admin, "15").await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    let _mere = person(&portal, "mere", "Mere", "Ngata", "021 555 0101").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let reference = staff.find("mere").await;
    let added = add_child(&mut staff, &reference, "Aroha", "2012-02-29").await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let mere_number = "+64215550101";
    let reminders = |texts: &[(String, String)]| {
        texts_to(texts, mere_number)
            .into_iter()
            .filter(|t| t.contains("caregiver access"))
            .count()
    };

    // 45 days ahead: no reminder yet.
    app::caregivers::sweep(&portal.portal).await.unwrap();
    assert_eq!(reminders(&portal.texts().await), 0);
    // 2027-01-30: within 30 days, told once, by text and email.
    portal.clock.advance_seconds(15 * 86_400);
    app::caregivers::sweep(&portal.portal).await.unwrap();
    app::caregivers::sweep(&portal.portal).await.unwrap();
    let texts = portal.texts().await;
    assert_eq!(reminders(&texts), 1, "{texts:?}");
    let reminder = texts_to(&texts, mere_number)
        .into_iter()
        .find(|t| t.contains("caregiver access"))
        .unwrap();
    assert!(reminder.contains("2027-03-01"), "{reminder}");
    assert!(!reminder.contains("Aroha"), "texts name nobody: {reminder}");
    assert_eq!(
        emails_with(
            &portal,
            "mere@example.org",
            "Your caregiver access ends soon"
        )
        .await,
        1
    );

    // 2027-02-28 10:59 UTC (23:59 in Auckland): still the parent's.
    let to_eve = 1_803_812_340_000 - portal.clock_now();
    portal.clock.advance_seconds(to_eve / 1000);
    let mut mere = portal.signed_in_patient_again("mere").await;
    let grant = cared_for(&mut mere).await[0].0.clone();
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::OK);
    // A minute later it is 1 March there: refused at once, before any sweep.
    portal.clock.advance_seconds(61);
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::NOT_FOUND);
    app::caregivers::sweep(&portal.portal).await.unwrap();
    app::caregivers::sweep(&portal.portal).await.unwrap();
    assert_eq!(
        emails_with(
            &portal,
            "mere@example.org",
            "Your caregiver access has ended"
        )
        .await,
        1
    );
    let texts = portal.texts().await;
    let on_the_day: Vec<_> = texts_to(&texts, mere_number)
        .into_iter()
        .filter(|t| t.contains("has ended today"))
        .collect();
    assert_eq!(on_the_day.len(), 1, "{texts:?}");
    let child = child_id(&portal, "Aroha").await;
    let ended = portal.portal.store.audit_trail(child, 20).await.unwrap();
    assert!(ended.iter().any(|l| l.event == "caregiver_removed"
        && l.detail
            .as_deref()
            .unwrap_or_default()
            .contains("ended by age")));
}

#[tokio::test]
async fn lowering_the_age_gives_parents_30_days_before_any_grant_ends() {
    let portal = TestPortal::new().await;
    let _mere = person(&portal, "mere", "Mere", "Ngata", "021 555 0101").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let reference = staff.find("mere").await;
    // 12 now; 14 (the default age) in 2028.
    let added = add_child(&mut staff, &reference, "Aroha", "2014-06-01").await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let lowered = children_sign_in_age(&mut admin, "12").await;
    assert_eq!(lowered.status, StatusCode::OK, "{}", lowered.text());
    // An age outside 10 to 18 is refused.
    let refused = children_sign_in_age(&mut admin, "19").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!refused.field_error("children_sign_in_age").is_empty());
    portal.clock.advance_seconds(29 * 86_400);
    let mut mere = portal.signed_in_patient_again("mere").await;
    let grant = cared_for(&mut mere).await[0].0.clone();
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::OK);
    portal.clock.advance_seconds(2 * 86_400);
    let mut mere = portal.signed_in_patient_again("mere").await;
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_legal_authority_acts_for_an_adult_who_sees_it_removes_it_and_is_told_by_a_text_naming_nobody(
) {
    let portal = TestPortal::new().await;
    let _tane = person(&portal, "tane", "Tāne", "Parata", "021 555 0103").await;
    let mut hine = person(&portal, "hine", "Hine", "Parata", "021 555 0104").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let tane_ref = staff.find("tane").await;
    let hine_ref = staff.find("hine").await;
    let add = |relationship: &'static str, document: &'static str| {
        vec![
            ("patient", tane_ref.clone()),
            ("caregiver", hine_ref.clone()),
            ("relationship", relationship.to_string()),
            ("document", document.to_string()),
            ("identity_check", "in_person".to_string()),
            (
                "reason",
                "EPOA activated; seen at the front desk".to_string(),
            ),
        ]
    };
    fn post<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
    // An adult can't have a parent's grant; a legal authority needs its document.
    let parent = staff
        .browser
        .post("/api/staff/add_caregiver", &post(&add("parent", "")))
        .await;
    assert_eq!(parent.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!parent.field_error("relationship").is_empty());
    let undocumented = staff
        .browser
        .post(
            "/api/staff/add_caregiver",
            &post(&add("legal_authority", "")),
        )
        .await;
    assert!(!undocumented.field_error("document").is_empty());
    let added = staff
        .browser
        .post(
            "/api/staff/add_caregiver",
            &post(&add(
                "legal_authority",
                "EPOA (property and personal care), 2026",
            )),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let twice = staff
        .browser
        .post(
            "/api/staff/add_caregiver",
            &post(&add("legal_authority", "EPOA again")),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    // Tāne is told, by a text that names nobody.
    let texts = portal.texts().await;
    let told = texts_to(&texts, "+64215550103");
    let notice = told.last().unwrap();
    assert!(notice.contains("a caregiver was added"), "{notice}");
    assert!(!notice.contains("Hine"), "{notice}");

    let grant = cared_for(&mut hine).await[0].0.clone();
    let seen = view(&mut hine, &grant).await.json();
    assert_eq!(seen["given_name"], "Tāne");
    assert_eq!(seen["mobile"], "***103", "masked: {seen}");
    assert!(!seen.to_string().contains("5550103"));

    // Tāne sees Hine among his caregivers, and her views in his activity, by name: 25 looks
    // are one line, and push nothing else off it.
    for _ in 0..24 {
        assert_eq!(view(&mut hine, &grant).await.status, StatusCode::OK);
    }
    let mut tane = portal.signed_in_patient_again("tane").await;
    let security = tane.post("/api/security", &[]).await.json();
    assert_eq!(security["caregivers"][0]["name"], "Hine Parata");
    let activity = security["activity"].to_string();
    assert!(
        activity
            .contains("Your caregiver Hine Parata viewed your Personal Information (25 times)."),
        "{activity}"
    );
    assert!(
        activity.contains("A caregiver Hine Parata was added."),
        "{activity}"
    );
    // "Remove": effective at once; Hine's next request is refused.
    let removed = tane
        .post("/api/remove_caregiver", &[("grant", &grant)])
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    assert_eq!(view(&mut hine, &grant).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        emails_with(
            &portal,
            "hine@example.org",
            "Your caregiver access has ended"
        )
        .await,
        1
    );
    let texts = portal.texts().await;
    assert!(texts_to(&texts, "+64215550103")
        .last()
        .unwrap()
        .contains("a caregiver was removed"));
}

#[tokio::test]
async fn another_patients_ids_in_every_caregiver_field_reach_nothing() {
    let portal = TestPortal::new().await;
    let (mut mere, mut staff, grant) = mere_and_aroha(&portal).await;
    let mut rangi = person(&portal, "rangi", "Rangi", "Parata", "021 555 0102").await;
    // Rangi can neither remove nor stop Mere's grant, nor see the child.
    for endpoint in ["/api/remove_caregiver", "/api/stop_caring"] {
        let reply = rangi.post(endpoint, &[("grant", &grant)]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{endpoint}");
    }
    assert_eq!(view(&mut rangi, &grant).await.status, StatusCode::NOT_FOUND);
    // Mere can't "Remove" her own grant as if she were the child (a patient removes only
    // their own caregivers).
    let as_patient = mere
        .post("/api/remove_caregiver", &[("grant", &grant)])
        .await;
    assert_eq!(as_patient.status, StatusCode::NOT_FOUND);
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::OK);

    // Support: an account's raw ID, or another staff session's reference, names nobody.
    let mut kim = portal.staff("kim", StaffRole::Support).await;
    let mere_ref = staff.find("mere").await;
    let rangi_id = portal.account("rangi").await.id.to_string();
    let kims_rangi = kim.find("rangi").await;
    for caregiver in [rangi_id.as_str(), kims_rangi.as_str(), "", "1.00"] {
        let reply = add_legal_authority(&mut staff, &mere_ref, caregiver).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{caregiver:?}");
    }
    for patient in [rangi_id.as_str(), kims_rangi.as_str()] {
        let reply = add_child(&mut staff, patient, "Tama", "2020-01-01").await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{patient:?}");
    }
    // Removing a grant through a patient it isn't for: refused, and the grant stands.
    let rangi_ref = staff.find("rangi").await;
    let elsewhere = staff
        .browser
        .post(
            "/api/staff/remove_caregiver",
            &[("patient", &rangi_ref), ("grant", &grant), ("reason", "x")],
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::OK);
}

#[tokio::test]
async fn two_tabs_act_for_two_children_without_mixing_them_up() {
    let portal = TestPortal::new().await;
    let (mut mere, mut staff, first) = mere_and_aroha(&portal).await;
    let reference = staff.find("mere").await;
    let added = add_child(&mut staff, &reference, "Wiremu", "2021-09-09").await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let people = cared_for(&mut mere).await;
    let second = people
        .iter()
        .find(|(_, name)| name == "Wiremu Ngata")
        .unwrap()
        .0
        .clone();
    for _ in 0..3 {
        for (grant, name) in [(&first, "Aroha"), (&second, "Wiremu")] {
            let seen = view(&mut mere, grant).await.json();
            assert_eq!(seen["given_name"], name);
            let page = portal
                .get(&format!("/for/{grant}"), mere.cookie.as_deref())
                .await
                .text();
            assert!(page.contains(&format!("{name} Ngata")), "{page}");
        }
    }
}

#[tokio::test]
async fn support_removes_a_caregiver_for_safeguarding_and_may_tell_nobody() {
    let portal = TestPortal::new().await;
    let (mut mere, mut staff, grant) = mere_and_aroha(&portal).await;
    let child = child_id(&portal, "Aroha").await;
    // The child's page names its caregiver; support finds it through the parent's page.
    let mere_ref = staff.find("mere").await;
    let care = staff
        .browser
        .post("/api/staff/care", &[("patient", &mere_ref)])
        .await
        .json();
    let child_ref = care["cares_for"][0]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let no_reason = staff
        .browser
        .post(
            "/api/staff/remove_caregiver",
            &[("patient", &child_ref), ("grant", &grant), ("reason", "")],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    let emails_before = portal.portal.store.dev_email().await.unwrap().len();
    let removed = staff
        .browser
        .post(
            "/api/staff/remove_caregiver",
            &[
                ("patient", &child_ref),
                ("grant", &grant),
                ("reason", "court order received"),
                ("tell_choice", "asked"),
            ],
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        portal.portal.store.dev_email().await.unwrap().len(),
        emails_before,
        "nobody told"
    );
    let lines = portal.portal.store.audit_trail(child, 20).await.unwrap();
    let line = lines
        .iter()
        .find(|l| l.event == "caregiver_removed")
        .unwrap();
    assert!(line.staff.is_some());
    let detail = line.detail.as_deref().unwrap();
    assert!(
        detail.contains("court order received") && detail.contains("neither told"),
        "{detail}"
    );
}

#[tokio::test]
async fn forty_stops_racing_a_removal_end_the_grant_once() {
    let portal = TestPortal::new().await;
    let _tane = person(&portal, "tane", "Tane", "Parata", "021 555 0103").await;
    let hine = person(&portal, "hine", "Hine", "Parata", "021 555 0104").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let (tane_ref, hine_ref) = (staff.find("tane").await, staff.find("hine").await);
    let added = add_legal_authority(&mut staff, &tane_ref, &hine_ref).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let mut hine = hine;
    let grant = cared_for(&mut hine).await[0].0.clone();
    let tane = portal.signed_in_patient_again("tane").await;
    let body = format!("grant={grant}");
    let (hine_cookie, tane_cookie) = (hine.cookie.clone(), tane.cookie.clone());
    let stops = (0..40).map(|_| portal.post_raw("/api/stop_caring", &body, hine_cookie.as_deref()));
    let views = (0..40).map(|_| portal.post_raw("/api/acting_for", &body, hine_cookie.as_deref()));
    let removal = portal.post_raw("/api/remove_caregiver", &body, tane_cookie.as_deref());
    let (stops, views, removal) = tokio::join!(
        futures::future::join_all(stops),
        futures::future::join_all(views),
        removal
    );
    let ended = stops
        .iter()
        .chain(std::iter::once(&removal))
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(ended, 1, "the grant ends once");
    assert!(stops
        .iter()
        .chain(std::iter::once(&removal))
        .all(|r| r.status == StatusCode::OK || r.status == StatusCode::NOT_FOUND));
    assert!(views
        .iter()
        .all(|r| r.status == StatusCode::OK || r.status == StatusCode::NOT_FOUND));
    // After it, nothing gets through.
    let after = futures::future::join_all(
        (0..40).map(|_| portal.post_raw("/api/acting_for", &body, hine_cookie.as_deref())),
    )
    .await;
    assert!(after.iter().all(|r| r.status == StatusCode::NOT_FOUND));
    let tane_id = portal.account("tane").await.id;
    let lines = portal.portal.store.audit_trail(tane_id, 300).await.unwrap();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.event == "caregiver_removed")
            .count(),
        1
    );
}

/// Adds Hine as Tāne's legal authority: the grant, as Hine's list names it.
async fn hine_for_tane(staff: &mut Staff<'_>, hine: &mut Browser<'_>) -> String {
    let (tane_ref, hine_ref) = (staff.find("tane").await, staff.find("hine").await);
    let added = add_legal_authority(staff, &tane_ref, &hine_ref).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    cared_for(hine).await[0].0.clone()
}

#[tokio::test]
async fn a_held_account_suspends_its_grants_without_ending_them() {
    let portal = TestPortal::new().await;
    let mut tane = person(&portal, "tane", "Tane", "Parata", "021 555 0103").await;
    let mut hine = person(&portal, "hine", "Hine", "Parata", "021 555 0104").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let grant = hine_for_tane(&mut staff, &mut hine).await;
    assert_eq!(view(&mut hine, &grant).await.status, StatusCode::OK);
    // A later change's notice (a recovery code made) carries "This wasn't me": securing holds
    // his account, and the caregiver added before that change stays, paused.
    portal.clock.advance_seconds(120);
    assert_eq!(
        tane.post("/api/make_recovery_code", &[]).await.status,
        StatusCode::OK
    );
    let secured = secure_from_notice(&portal, "+64215550103", "a recovery code was made").await;
    assert_eq!(secured.status, StatusCode::OK, "{}", secured.text());
    assert_eq!(view(&mut hine, &grant).await.status, StatusCode::NOT_FOUND);
    let tane_ref = staff.find("tane").await;
    let care = staff
        .browser
        .post("/api/staff/care", &[("patient", &tane_ref)])
        .await
        .json();
    assert_eq!(
        care["caregivers"][0]["usable"], false,
        "paused, not ended: {care}"
    );
    // Held, no new grant either.
    let mut kai = person(&portal, "kai", "Kai", "Parata", "021 555 0105").await;
    let kai_ref = staff.find("kai").await;
    let refused = add_legal_authority(&mut staff, &tane_ref, &kai_ref).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(cared_for(&mut kai).await.is_empty());
    // The hold lifted (with its full recovery), the grant is usable again.
    let tane_id = portal.account("tane").await.id;
    assert!(portal.portal.store.lift_hold(tane_id).await.unwrap());
    assert_eq!(view(&mut hine, &grant).await.status, StatusCode::OK);
}

#[tokio::test]
async fn no_caregiver_is_added_in_the_day_after_a_recovery_by_code() {
    let portal = TestPortal::new().await;
    let mut mere = person(&portal, "mere", "Mere", "Ngata", "021 555 0101").await;
    let made = mere.post("/api/make_recovery_code", &[]).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let code = made.json()["code"].as_str().unwrap().to_string();
    mere.post("/api/logout", &[]).await;
    let mut lost_phone = portal.browser();
    lost_phone.log_in("mere").await;
    let begun = lost_phone
        .post("/api/use_recovery_code", &[("recovery_code", &code)])
        .await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.text());
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let reference = staff.find("mere").await;
    let refused = add_child(&mut staff, &reference, "Aroha", CHILD_BORN).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    portal.clock.advance_seconds(24 * 3600 + 1);
    // A day on, with a new staff session (the first is long idle), it is made.
    let mut kim = portal.staff("kim", StaffRole::Support).await;
    let reference = kim.find("mere").await;
    let added = add_child(&mut kim, &reference, "Aroha", CHILD_BORN).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
}

#[tokio::test]
async fn a_grant_is_paused_for_the_day_after_the_patients_recovery_by_code() {
    let portal = TestPortal::new().await;
    let mut tane = person(&portal, "tane", "Tane", "Parata", "021 555 0103").await;
    let mut hine = person(&portal, "hine", "Hine", "Parata", "021 555 0104").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let grant = hine_for_tane(&mut staff, &mut hine).await;
    assert_eq!(view(&mut hine, &grant).await.status, StatusCode::OK);
    let made = tane.post("/api/make_recovery_code", &[]).await;
    let code = made.json()["code"].as_str().unwrap().to_string();
    tane.post("/api/logout", &[]).await;
    let mut lost_phone = portal.browser();
    lost_phone.log_in("tane").await;
    let begun = lost_phone
        .post("/api/use_recovery_code", &[("recovery_code", &code)])
        .await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.text());
    // Whoever used his code can't have a caregiver look in meanwhile: paused, not ended.
    assert_eq!(view(&mut hine, &grant).await.status, StatusCode::NOT_FOUND);
    portal.clock.advance_seconds(24 * 3600 + 1);
    let mut hine = portal.signed_in_patient_again("hine").await;
    assert_eq!(view(&mut hine, &grant).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_caregiver_support_removes_without_telling_is_not_in_the_patients_activity() {
    let portal = TestPortal::new().await;
    let mut tane = person(&portal, "tane", "Tane", "Parata", "021 555 0103").await;
    let mut hine = person(&portal, "hine", "Hine", "Parata", "021 555 0104").await;
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let grant = hine_for_tane(&mut staff, &mut hine).await;
    let tane_ref = staff.find("tane").await;
    let texts_before = portal.texts().await.len();
    let removed = staff
        .browser
        .post(
            "/api/staff/remove_caregiver",
            &[
                ("patient", tane_ref.as_str()),
                ("grant", &grant),
                ("reason", "safeguarding referral"),
                ("tell_choice", "asked"),
            ],
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    assert_eq!(portal.texts().await.len(), texts_before, "nobody texted");
    let activity = tane.post("/api/security", &[]).await.json()["activity"].to_string();
    // Named no more, now she isn't his caregiver; and her removal not told.
    assert!(activity.contains("A caregiver was added."), "{activity}");
    assert!(!activity.contains("access ended"), "{activity}");
}

/// Tāne's new invitation: its code.
async fn invite(tane: &mut Browser<'_>) -> String {
    let made = tane.post("/api/invite_caregiver", &[]).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    made.json()["code"].as_str().unwrap().to_string()
}

async fn answer(hine: &mut Browser<'_>, code: &str, born: &str, choice: &str) -> Reply {
    hine.post(
        "/api/accept_invitation",
        &[
            ("invitation_code", code),
            ("date_of_birth", born),
            ("choice", choice),
        ],
    )
    .await
}

/// The date of birth every test patient registers with.
const BORN: &str = "1950-07-31";

#[tokio::test]
async fn a_father_invites_his_daughter_who_accepts_with_his_date_of_birth_and_acts_for_him() {
    let portal = TestPortal::new().await;
    let mut tane = person(&portal, "tane", "Tāne", "Parata", "021 555 0103").await;
    let mut hine = person(&portal, "hine", "Hine", "Parata", "021 555 0104").await;
    let code = invite(&mut tane).await;
    assert_eq!(code.len(), 19, "four groups of four: {code}");
    let security = tane.post("/api/security", &[]).await.json();
    assert_eq!(security["invitations"][0]["code"], code.as_str());
    assert_eq!(security["invitations"][0]["until"], "2027-01-22");

    // Typed as a person would: lower case, spaces for dashes.
    let typed = code.to_lowercase().replace('-', " ");
    let accepted = answer(&mut hine, &typed, BORN, "accept").await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text());
    assert_eq!(accepted.json()["accepted"], true);
    let people = hine.post("/api/cared_for", &[]).await.json();
    assert_eq!(people[0]["name"], "Tāne Parata");
    assert_eq!(people[0]["relationship"], "Adult caregiver");
    assert_eq!(people[0]["ends"], "2028-01-15", "the practice's 12 months");
    let grant = people[0]["grant"].as_i64().unwrap().to_string();
    assert_eq!(view(&mut hine, &grant).await.json()["given_name"], "Tāne");

    // Used once; told to Tāne by a text naming nobody.
    let again = answer(&mut hine, &code, BORN, "accept").await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!again.field_error("invitation_code").is_empty());
    let texts = portal.texts().await;
    let notice = *texts_to(&texts, "+64215550103").last().unwrap();
    assert!(
        notice.contains("a caregiver was added") && !notice.contains("Hine"),
        "{notice}"
    );
    let security = tane.post("/api/security", &[]).await.json();
    assert_eq!(security["invitations"], serde_json::json!([]));
    assert_eq!(security["caregivers"][0]["renewable"], true);
    // Nobody's own invitation is theirs to accept.
    let own = invite(&mut tane).await;
    let refused = answer(&mut tane, &own, BORN, "accept").await;
    assert!(refused
        .field_error("invitation_code")
        .contains("your own invitation"));
}

#[tokio::test]
async fn an_invitation_allows_five_wrong_dates_of_birth_and_lasts_seven_days() {
    let portal = TestPortal::new().await;
    let mut tane = person(&portal, "tane", "Tane", "Parata", "021 555 0103").await;
    let mut hine = person(&portal, "hine", "Hine", "Parata", "021 555 0104").await;
    let code = invite(&mut tane).await;
    for (tries, left) in [(1, "4 tries"), (2, "3 tries"), (3, "2 tries"), (4, "1 try")] {
        let wrong = answer(&mut hine, &code, "1951-07-31", "accept").await;
        assert_eq!(
            wrong.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "try {tries}"
        );
        assert!(
            wrong.field_error("date_of_birth").contains(left),
            "{}",
            wrong.text()
        );
    }
    let fifth = answer(&mut hine, &code, "1951-07-31", "accept").await;
    assert_eq!(fifth.status, StatusCode::FORBIDDEN, "{}", fifth.text());
    // Void: the right date of birth no longer opens it, and Tāne is told.
    let right = answer(&mut hine, &code, BORN, "accept").await;
    assert_eq!(right.status, StatusCode::UNPROCESSABLE_ENTITY);
    let texts = portal.texts().await;
    assert!(texts_to(&texts, "+64215550103")
        .iter()
        .any(|t| t.contains("a caregiver invitation was voided")));
    assert!(cared_for(&mut hine).await.is_empty());

    // Junk, and a code nobody made.
    for junk in ["", "ABCD", "2222-3333-4444-5555"] {
        let reply = answer(&mut hine, junk, BORN, "accept").await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{junk:?}");
    }
    // 7 days, and not a second more.
    let code = invite(&mut tane).await;
    portal.clock.advance_seconds(7 * 86_400);
    let mut hine = portal.signed_in_patient_again("hine").await;
    let late = answer(&mut hine, &code, BORN, "accept").await;
    assert_eq!(
        late.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        late.text()
    );
}

#[tokio::test]
async fn a_patient_has_at_most_three_invitations_open_and_makes_one_only_after_a_recent_proof() {
    let portal = TestPortal::new().await;
    let mut tane = person(&portal, "tane", "Tane", "Parata", "021 555 0103").await;
    let cookie = tane.cookie.clone();
    let made = futures::future::join_all(
        (0..40).map(|_| portal.post_raw("/api/invite_caregiver", "", cookie.as_deref())),
    )
    .await;
    let ok = made.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(ok, 3, "three at most, however many at once");
    assert!(made
        .iter()
        .all(|r| r.status == StatusCode::OK || r.status == StatusCode::CONFLICT));
    let open = tane.post("/api/security", &[]).await.json()["invitations"].clone();
    assert_eq!(open.as_array().unwrap().len(), 3);
    // Cancelling one makes room for another.
    let first = open[0]["id"].as_i64().unwrap().to_string();
    let cancelled = tane
        .post("/api/cancel_invitation", &[("invitation", &first)])
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text());
    assert_eq!(
        tane.post("/api/cancel_invitation", &[("invitation", &first)])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    invite(&mut tane).await;
    // Another patient can't cancel his.
    let mut rangi = person(&portal, "rangi", "Rangi", "Parata", "021 555 0102").await;
    let second = open[1]["id"].as_i64().unwrap().to_string();
    let theirs = rangi
        .post("/api/cancel_invitation", &[("invitation", &second)])
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    // Past the practice's recent proof (10 minutes), "Confirm it's you" first.
    portal.clock.advance_seconds(11 * 60);
    let mut tane = portal.signed_in_patient_again("tane").await;
    portal.clock.advance_seconds(11 * 60);
    tane.post("/api/me", &[]).await;
    let unproved = tane.post("/api/invite_caregiver", &[]).await;
    assert_eq!(
        unproved.status,
        StatusCode::FORBIDDEN,
        "{}",
        unproved.text()
    );
    // Nor are the open ones' codes shown any more.
    let open = tane.post("/api/security", &[]).await.json()["invitations"].clone();
    assert_eq!(open.as_array().unwrap().len(), 3);
    assert!(
        open.as_array().unwrap().iter().all(|i| i["code"].is_null()),
        "{open}"
    );
}

#[tokio::test]
async fn someone_is_pressuring_me_leaves_the_invitation_waiting_for_the_practice_and_out_of_the_activity(
) {
    let portal = TestPortal::new().await;
    let mut tane = person(&portal, "tane", "Tane", "Parata", "021 555 0103").await;
    let mut hine = person(&portal, "hine", "Hine", "Parata", "021 555 0104").await;
    let code = invite(&mut tane).await;
    let id = tane.post("/api/security", &[]).await.json()["invitations"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let pressured = tane
        .post("/api/invitation_pressure", &[("invitation", &id)])
        .await;
    assert_eq!(pressured.status, StatusCode::OK, "{}", pressured.text());
    let waiting = answer(&mut hine, &code, BORN, "accept").await;
    assert_eq!(waiting.status, StatusCode::FORBIDDEN);
    assert_eq!(
        waiting.json()["message"],
        "This invitation is waiting for the practice."
    );
    let security = tane.post("/api/security", &[]).await.json();
    assert_eq!(security["invitations"][0]["waiting_for_practice"], true);
    // Nobody can quietly undo it from his account: only the practice closes it.
    let cancelled = tane
        .post("/api/cancel_invitation", &[("invitation", &id)])
        .await;
    assert_eq!(cancelled.status, StatusCode::NOT_FOUND);
    let activity = security["activity"].to_string();
    assert!(!activity.to_lowercase().contains("pressur"), "{activity}");

    // Support sees it on his page and closes it after talking to him.
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let tane_ref = staff.find("tane").await;
    let care = staff
        .browser
        .post("/api/staff/care", &[("patient", &tane_ref)])
        .await
        .json();
    assert_eq!(care["waiting"].as_array().unwrap().len(), 1, "{care}");
    let page = portal
        .get(
            &format!("/staff/patients/{tane_ref}"),
            staff.browser.cookie.as_deref(),
        )
        .await
        .text();
    assert!(
        page.contains("Someone may be pressuring this patient"),
        "{page}"
    );
    let no_reason = staff
        .browser
        .post(
            "/api/staff/close_invitation",
            &[
                ("patient", tane_ref.as_str()),
                ("invitation", &id),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Past its 7 days it stays on support's page, and is still theirs to close.
    portal.clock.advance_seconds(8 * 86_400);
    let mut staff = portal.staff("kim", StaffRole::Support).await;
    let tane_ref = staff.find("tane").await;
    let care = staff
        .browser
        .post("/api/staff/care", &[("patient", &tane_ref)])
        .await
        .json();
    assert_eq!(care["waiting"].as_array().unwrap().len(), 1, "{care}");
    let mut tane = portal.signed_in_patient_again("tane").await;
    let closed = staff
        .browser
        .post(
            "/api/staff/close_invitation",
            &[
                ("patient", tane_ref.as_str()),
                ("invitation", &id),
                ("reason", "spoke with him alone; he doesn't want it"),
            ],
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text());
    let care = staff
        .browser
        .post("/api/staff/care", &[("patient", &tane_ref)])
        .await
        .json();
    assert_eq!(care["waiting"], serde_json::json!([]), "{care}");
    let security = tane.post("/api/security", &[]).await.json();
    assert_eq!(security["invitations"], serde_json::json!([]));
    let activity = security["activity"].to_string();
    assert!(
        !activity.to_lowercase().contains("pressur") && !activity.contains("closed"),
        "{activity}"
    );
    let mut hine = portal.signed_in_patient_again("hine").await;
    let after = answer(&mut hine, &code, BORN, "accept").await;
    assert_eq!(after.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_adult_grant_ends_after_the_practices_months_unless_the_patient_renews_it_when_reminded()
{
    let portal = TestPortal::new().await;
    let mut tane = person(&portal, "tane", "Tane", "Parata", "021 555 0103").await;
    let mut hine = person(&portal, "hine", "Hine", "Parata", "021 555 0104").await;
    let code = invite(&mut tane).await;
    assert_eq!(
        answer(&mut hine, &code, BORN, "accept").await.status,
        StatusCode::OK
    );
    let grant = cared_for(&mut hine).await[0].0.clone();
    // Only the patient renews.
    let by_her = hine
        .post("/api/renew_caregiver", &[("grant", &grant)])
        .await;
    assert_eq!(by_her.status, StatusCode::NOT_FOUND);
    // 2028-01-15 08:00 UTC ends it; 14 days before, both are told once.
    let reminded_from = 1_831_536_000_000 - 14 * 86_400_000 + 1_000;
    portal
        .clock
        .advance_seconds((reminded_from - portal.clock_now()) / 1000);
    app::caregivers::sweep(&portal.portal).await.unwrap();
    app::caregivers::sweep(&portal.portal).await.unwrap();
    let texts = portal.texts().await;
    let to_him: Vec<_> = texts_to(&texts, "+64215550103")
        .into_iter()
        .filter(|t| t.contains("renew it"))
        .collect();
    assert_eq!(to_him.len(), 1, "{texts:?}");
    assert!(to_him[0].contains("2028-01-15"), "{}", to_him[0]);
    assert_eq!(
        emails_with(
            &portal,
            "hine@example.org",
            "Your caregiver access ends soon"
        )
        .await,
        1
    );
    // Renewing needs a recent proof: a session idle past the practice's minutes is refused.
    let mut tane = portal.signed_in_patient_again("tane").await;
    portal.clock.advance_seconds(11 * 60);
    let stale = tane
        .post("/api/renew_caregiver", &[("grant", &grant)])
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN, "{}", stale.text());
    let mut tane = portal.signed_in_patient_again("tane").await;
    let renewed = tane
        .post("/api/renew_caregiver", &[("grant", &grant)])
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text());
    portal.clock.advance_seconds(15 * 86_400);
    let mut hine = portal.signed_in_patient_again("hine").await;
    assert_eq!(
        view(&mut hine, &grant).await.status,
        StatusCode::OK,
        "renewed"
    );
    let ends = cared_for(&mut hine).await;
    assert_eq!(ends.len(), 1);
    // Not renewed again: a year on, it ends.
    portal.clock.advance_seconds(366 * 86_400);
    let mut hine = portal.signed_in_patient_again("hine").await;
    assert_eq!(view(&mut hine, &grant).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn accepting_an_invitation_needs_a_session_proved_by_a_code_or_a_passkey() {
    let portal = TestPortal::new().await;
    let mut tane = person(&portal, "tane", "Tane", "Parata", "021 555 0103").await;
    let _hine = person(&portal, "hine", "Hine", "Parata", "021 555 0104").await;
    let code = invite(&mut tane).await;
    let mut off = (*portal.portal.practice()).clone();
    off.two_factor = false;
    portal.save_practice(off).await;
    let mut password_only = portal.browser();
    assert_eq!(password_only.log_in("hine").await.status, StatusCode::OK);
    let refused = answer(&mut password_only, &code, BORN, "accept").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Declining is an answer too, and ends it.
    let mut on = (*portal.portal.practice()).clone();
    on.two_factor = true;
    portal.save_practice(on).await;
    let mut hine = portal.signed_in_patient_again("hine").await;
    let neither = answer(&mut hine, &code, BORN, "maybe").await;
    assert_eq!(neither.status, StatusCode::UNPROCESSABLE_ENTITY);
    let declined = answer(&mut hine, &code, "", "decline").await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.text());
    assert_eq!(declined.json()["accepted"], false);
    let after = answer(&mut hine, &code, BORN, "accept").await;
    assert_eq!(after.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_caregiver_functions_answer_only_a_signed_in_patient() {
    let portal = TestPortal::new().await;
    let mut pending = portal.browser();
    pending.register("pending.patient").await;
    let staff = portal.staff("sam", StaffRole::Support).await;
    let endpoints = [
        "/api/cared_for",
        "/api/acting_for",
        "/api/stop_caring",
        "/api/remove_caregiver",
        "/api/invite_caregiver",
        "/api/cancel_invitation",
        "/api/invitation_pressure",
        "/api/accept_invitation",
        "/api/renew_caregiver",
    ];
    for endpoint in endpoints {
        for (who, cookie) in [
            ("nobody", None),
            ("a patient waiting for their code", pending.cookie.clone()),
            ("support", staff.browser.cookie.clone()),
        ] {
            let reply = portal
                .post_raw(endpoint, "grant=1&invitation=1", cookie.as_deref())
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{endpoint} as {who}"
            );
        }
    }
}

#[tokio::test]
async fn the_practice_sets_up_a_childs_own_sign_in_and_they_choose_a_password_and_give_a_number() {
    let portal = TestPortal::new().await;
    let (_mere, mut staff, grant) = mere_and_aroha(&portal).await;
    let mere_ref = staff.find("mere").await;
    let care = staff
        .browser
        .post("/api/staff/care", &[("patient", &mere_ref)])
        .await
        .json();
    let child_ref = care["cares_for"][0]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let set_up = |username: &'static str| {
        vec![
            ("patient", child_ref.clone()),
            ("username", username.to_string()),
            ("identity_check", "in_person".to_string()),
            ("reason", "turned 14; came in with her mother".to_string()),
        ]
    };
    fn post<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
    // A username taken (Mere's), or no username at all: refused beside the field.
    for taken in ["mere", ""] {
        let refused = staff
            .browser
            .post("/api/staff/set_up_sign_in", &post(&set_up(taken)))
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{taken:?}"
        );
        assert!(!refused.field_error("username").is_empty());
    }
    let done = staff
        .browser
        .post("/api/staff/set_up_sign_in", &post(&set_up("aroha.ngata")))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let again = staff
        .browser
        .post("/api/staff/set_up_sign_in", &post(&set_up("aroha.2")))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    // Nobody knows its password until support issues a one-time one.
    let mut aroha = portal.browser();
    assert_eq!(
        aroha.log_in("aroha.ngata").await.status,
        StatusCode::UNAUTHORIZED
    );
    let issued = staff
        .browser
        .post(
            "/api/staff/support_action",
            &[
                ("patient", child_ref.as_str()),
                ("action", "one_time_password"),
                ("reason", "her first sign-in"),
                ("identity_check", "in_person"),
            ],
        )
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text());
    let password = issued.json()["one_time_password"]
        .as_str()
        .unwrap()
        .to_string();
    let login = aroha
        .post(
            "/api/login",
            &[("username", "aroha.ngata"), ("password", password.as_str())],
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    let step = aroha.post("/api/code_step", &[]).await.json();
    assert_eq!(step["choose_password_first"], true, "{step}");
    let chosen = aroha
        .post(
            "/api/choose_password",
            &[
                ("one_time_password", password.as_str()),
                ("password", "aroha's own long password"),
                ("confirm_password", "aroha's own long password"),
            ],
        )
        .await;
    assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.text());
    // Then her own number, whatever the practice's "first number at login" says.
    let step = aroha.post("/api/code_step", &[]).await.json();
    assert_eq!(step["needs_number"], true, "{step}");
    // Her mother still acts for her until the practice's age.
    let mut mere = portal.signed_in_patient_again("mere").await;
    assert_eq!(view(&mut mere, &grant).await.status, StatusCode::OK);
}

#[tokio::test]
async fn this_wasnt_me_takes_back_a_caregiver_added_since_and_every_open_invitation() {
    let portal = TestPortal::new().await;
    let mut tane = person(&portal, "tane", "Tane", "Parata", "021 555 0103").await;
    let mut hine = person(&portal, "hine", "Hine", "Parata", "021 555 0104").await;
    let code = invite(&mut tane).await;
    assert_eq!(
        answer(&mut hine, &code, BORN, "accept").await.status,
        StatusCode::OK
    );
    let grant = cared_for(&mut hine).await[0].0.clone();
    let open = invite(&mut tane).await;
    // The notice of the caregiver added: "This wasn't me".
    let secured = secure_from_notice(&portal, "+64215550103", "a caregiver was added").await;
    assert_eq!(secured.status, StatusCode::OK, "{}", secured.text());
    let tane_id = portal.account("tane").await.id;
    assert!(portal.portal.store.lift_hold(tane_id).await.unwrap());
    // Lifted, nothing comes back: the grant ended, and the other invitation with it.
    assert_eq!(view(&mut hine, &grant).await.status, StatusCode::NOT_FOUND);
    assert!(cared_for(&mut hine).await.is_empty());
    let mut kai = person(&portal, "kai", "Kai", "Parata", "021 555 0105").await;
    let later = answer(&mut kai, &open, BORN, "accept").await;
    assert_eq!(later.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_passkey_added_on_the_strength_of_the_password_alone_acts_for_nobody_until_it_proves_a_session(
) {
    use common::passkey::SoftPasskey;
    const ORIGIN: &str = "http://localhost:3000";
    let portal = TestPortal::with(|s| s.public_url = ORIGIN.parse().unwrap()).await;
    let _tane = person(&portal, "tane", "Tane", "Parata", "021 555 0103").await;
    // Two-factor off: Hine registers and is signed in by her password alone, her number never
    // verified, so her password again is all "Confirm it's you" can ask of her.
    let mut off = (*portal.portal.practice()).clone();
    off.two_factor = false;
    portal.save_practice(off).await;
    let mut hine = portal.browser();
    let registered = hine
        .post("/api/register", &registration("hine", "021 555 0104"))
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text());
    let mut staff = portal.staff("sam", StaffRole::Support).await;
    let grant = hine_for_tane(&mut staff, &mut hine).await;
    assert_eq!(view(&mut hine, &grant).await.status, StatusCode::FORBIDDEN);
    let confirmed = hine
        .post(
            "/api/confirm_password",
            &[("password", PASSWORD), ("then", "security")],
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    portal.clock.advance_seconds(1);
    // The proof lets her add a first passkey, as it should; it doesn't let her act.
    let options = hine.post("/api/passkey_registration", &[]).await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.text());
    let (mut passkey, credential) = SoftPasskey::register(&options.json(), ORIGIN);
    let added = hine
        .post(
            "/api/add_passkey",
            &[("name", "Phone"), ("credential", &credential)],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let refused = view(&mut hine, &grant).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    // Once the passkey itself proves the session, she may.
    portal.clock.advance_seconds(1);
    let challenge = hine.post("/api/passkey_challenge", &[]).await.json();
    let answer = passkey.sign_in(&challenge, ORIGIN);
    let proved = hine
        .post("/api/passkey_sign_in", &[("credential", &answer)])
        .await;
    assert_eq!(proved.status, StatusCode::OK, "{}", proved.text());
    assert_eq!(view(&mut hine, &grant).await.status, StatusCode::OK);
}
