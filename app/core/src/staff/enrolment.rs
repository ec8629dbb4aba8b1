use std::collections::BTreeMap;

use base64::{engine::general_purpose::STANDARD, Engine};

use crate::{
    audit::{self, Entry, Event, Outcome},
    caller::Caller,
    error::{Error, ErrorKind, OrInternal},
    password::NewPassword,
    portal::Portal,
    session::hash_id,
    staff::accounts,
    staff::StaffMember,
    store::{EnrolmentRow, FinishedEnrolment},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentDetails {
    pub username: String,
    /// The authenticator secret in base32, grouped in fours for typing.
    pub secret: String,
    /// The `otpauth://` link as a QR code: an SVG data URL.
    pub qr_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    pub recovery_codes: Vec<String>,
}

fn link_refused() -> Error {
    Error::new(
        ErrorKind::Forbidden,
        "This enrolment link has expired or has been used. Please ask an administrator for a new one.",
    )
}

async fn live_enrolment(
    portal: &Portal,
    token: &str,
) -> Result<(EnrolmentRow, StaffMember), Error> {
    let enrolment = portal
        .store
        .enrolment(&hash_id(token))
        .await
        .or_internal("reading an enrolment")?
        .filter(|e| e.used_at.is_none() && e.expires_at > portal.now())
        .ok_or_else(link_refused)?;
    let member = portal
        .store
        .staff_member(enrolment.staff_id)
        .await
        .or_internal("reading a staff member")?
        .map(StaffMember::from_row)
        .filter(|m| !m.disabled)
        .ok_or_else(link_refused)?;
    Ok((enrolment, member))
}

/// The secret for this link and its QR code. The browser that opened the link last
/// (`browser`, named by its cookie) sees the same secret again; any other visit (a chat
/// app's link preview, then the staff member) gets a fresh one, and the one shown before
/// stops working. The second value names a new browser, for its cookie.
pub async fn start(
    portal: &Portal,
    token: &str,
    browser: Option<&str>,
) -> Result<(EnrolmentDetails, Option<String>), Error> {
    let (enrolment, member) = live_enrolment(portal, token).await?;
    let token_hash = hash_id(token);
    let shown_here = browser.and_then(|browser| {
        let (shown_to, secret) =
            accounts::open_pending(portal, &token_hash, enrolment.pending_secret.as_deref()?)?;
        (shown_to == hash_id(browser)).then_some(secret)
    });
    let (secret, new_browser) = match shown_here {
        Some(secret) => (secret, None),
        None => {
            let browser = accounts::new_token();
            let secret = accounts::new_secret();
            let pending = accounts::seal_pending(portal, &token_hash, &hash_id(&browser), &secret);
            let kept = portal
                .store
                .replace_enrolment_secret(&token_hash, &pending)
                .await
                .or_internal("keeping an enrolment secret")?;
            if !kept {
                return Err(link_refused());
            }
            (secret, Some(browser))
        }
    };
    let practice = portal.practice().practice_name.clone();
    let totp =
        accounts::authenticator(secret, &practice, &member.username).ok_or_else(Error::internal)?;
    let url = totp
        .to_url()
        .map_err(|e| Error::logged_internal("making the authenticator link", e))?;
    let svg = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| Error::logged_internal("drawing the QR code", e))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    let text = accounts::secret_text(&totp);
    let grouped: Vec<String> = text
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let details = EnrolmentDetails {
        username: member.username,
        secret: grouped.join(" "),
        qr_code: format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg)),
    };
    Ok((details, new_browser))
}

/// Checks the password and the first code, then makes them count and hands out the
/// recovery codes.
pub async fn finish(
    portal: &Portal,
    caller: &Caller,
    token: &str,
    password: &str,
    confirm: Option<&str>,
    code: &str,
) -> Result<Enrolled, Error> {
    let (enrolment, member) = live_enrolment(portal, token).await?;
    let token_hash = hash_id(token);
    let pending = enrolment.pending_secret.ok_or_else(link_refused)?;
    let (_, secret) =
        accounts::open_pending(portal, &token_hash, &pending).ok_or_else(link_refused)?;
    let sealed = accounts::seal_secret(portal, member.id, &secret);
    let practice = portal.practice().practice_name.clone();
    let totp =
        accounts::authenticator(secret, &practice, &member.username).ok_or_else(Error::internal)?;
    let mut problems = BTreeMap::new();
    let new_password = NewPassword::parse(password, &member.username)
        .map_err(|p| problems.insert("password".to_string(), p.to_string()))
        .ok();
    if confirm.is_some_and(|c| c != password) {
        problems.insert(
            "confirm_password".into(),
            "The two passwords don't match.".into(),
        );
    }
    let step = accounts::code_step(&totp, code, portal.now());
    if step.is_none() {
        problems.insert(
            "code".into(),
            "That code doesn't match. Check the app shows this portal, and type the 6 digits it shows now.".into(),
        );
    }
    let (Some(new_password), Some(step), true) = (new_password, step, problems.is_empty()) else {
        return Err(Error::fields(problems));
    };
    let password_hash = portal
        .passwords
        .hash(new_password)
        .await
        .map_err(|e| e.refusal("hashing a staff password"))?;
    let codes = accounts::new_recovery_codes();
    let macs: Vec<String> = codes
        .iter()
        .map(|c| accounts::recovery_code_mac(portal, member.id, c))
        .collect();
    let done = portal
        .store
        .finish_enrolment(&FinishedEnrolment {
            token_hash: &token_hash,
            staff_id: member.id,
            password_hash: &password_hash,
            pending_secret: &pending,
            sealed_secret: &sealed,
            first_step: step,
            recovery_code_macs: &macs,
            now: portal.now(),
        })
        .await
        .or_internal("finishing an enrolment")?;
    if !done {
        return Err(link_refused());
    }
    let entry = Entry::new(Event::StaffEnrolled, Outcome::Ok).staff(member.id);
    audit::record(portal, caller, entry).await;
    Ok(Enrolled {
        recovery_codes: codes,
    })
}
