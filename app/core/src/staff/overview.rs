use std::collections::HashMap;

use crate::{
    clock::{Millis, DAY},
    error::{Error, ErrorKind, OrInternal},
    portal::Portal,
    store::{TextCounts, Took},
};

/// How many days the overview covers, today included.
pub const DAYS: usize = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    /// `2026-11-30`.
    pub date: String,
    /// `30 Nov`, under the chart.
    pub short: String,
}

/// Counts per day for one thing, drawn in one colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub values: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    pub title: String,
    /// Stacked bars (parts of one whole) or bars side by side (things to compare).
    pub stacked: bool,
    pub series: Vec<Series>,
}

/// The figures above the charts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    /// Texts whose fate is known: accepted by the provider, or failed.
    pub texts_settled: i64,
    pub texts_accepted: i64,
    /// Queued to accepted by the provider, the median.
    pub median_to_provider_ms: Option<i64>,
    /// Queued to delivered to the phone, the median, where the provider reports delivery.
    pub median_to_phone_ms: Option<i64>,
    pub codes_sent: i64,
    pub codes_verified: i64,
    /// The daily text budget, and how much of it the last 24 hours used.
    pub text_budget: i64,
    pub text_budget_used: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    pub days: Vec<Day>,
    pub figures: Figures,
    pub charts: Vec<Chart>,
    /// What the text fraud guard blocks (or watches) now.
    pub blocked: Vec<BlockLine>,
    /// Where codes to new numbers went over the last 7 days, and how many came back verified.
    pub countries: Vec<CountryLine>,
    /// Each text provider, in the order texts try them.
    pub providers: Vec<ProviderLine>,
    /// Where this admin's alerts go (`staff::alerts`), if anywhere, and whether confirmed.
    pub alert_email: Option<String>,
    pub alert_email_confirmed: bool,
}

/// One country's codes to numbers not yet verified, over the last `WHERE_TEXTS_GO_DAYS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryLine {
    /// ISO 3166 (`NZ`).
    pub country: String,
    pub codes: i64,
    pub verified: i64,
}

/// How "Where texts go" looks back.
pub const WHERE_TEXTS_GO_DAYS: i64 = 7;

/// A text provider's health: its circuit now, and its last 24 hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLine {
    pub name: String,
    /// Taking texts (its circuit closed, or trying one again).
    pub up: bool,
    /// In words: "Up", "Skipped until …", "Trying one text again".
    pub state: String,
    /// Attempts it took and failed in the last 24 hours.
    pub taken: i64,
    pub failed: i64,
}

/// What support did to patients' accounts.
const SUPPORT_ACTIONS: [&str; 5] = [
    "patient_unlocked",
    "mobile_reset",
    "all_sessions_ended",
    "one_time_password_issued",
    "passkeys_removed",
];

/// The overview as `visit`, an admin, sees it: with where their alerts go.
pub async fn overview_for(portal: &Portal, visit: &super::StaffVisit) -> Result<Overview, Error> {
    let mut overview = overview(portal).await?;
    let alerts = super::alerts::alert_email(portal, visit).await?;
    overview.alert_email = alerts.email;
    overview.alert_email_confirmed = alerts.confirmed;
    Ok(overview)
}

pub async fn overview(portal: &Portal) -> Result<Overview, Error> {
    let today = portal.now().div_euclid(DAY);
    let first = today - (DAYS as i64 - 1);
    let since = first * DAY;
    let mut wanted = vec![
        "signed_in",
        "code_sent",
        "code_verified",
        "login_delay_started",
    ];
    wanted.extend(SUPPORT_ACTIONS);
    let events = portal
        .store
        .events_by_day(since, &wanted)
        .await
        .map_err(|e| Error::logged_internal("counting the overview's events", e))?;
    let texts = portal
        .store
        .text_counts(since)
        .await
        .map_err(|e| Error::logged_internal("counting the overview's texts", e))?;
    let budget = crate::text_budget::usage(portal).await?;
    let mut overview = build(first, &events, &texts, budget);
    overview.blocked = blocks(portal).await?;
    overview.countries = portal
        .store
        .guard_countries(portal.now() - WHERE_TEXTS_GO_DAYS * DAY)
        .await
        .or_internal("counting where texts go")?
        .into_iter()
        .map(|(country, codes, verified)| CountryLine {
            country,
            codes,
            verified,
        })
        .collect();
    overview.providers = providers(portal).await?;
    Ok(overview)
}

/// The overview of the `DAYS` days from day `first` (days since 1970, UTC).
pub fn build(
    first: i64,
    events: &[crate::store::EventsOnDay],
    texts: &TextCounts,
    budget: crate::text_budget::BudgetUse,
) -> Overview {
    let slot = |day: i64| {
        let n = day - first;
        (0..DAYS as i64).contains(&n).then_some(n as usize)
    };
    let mut counted: HashMap<(&str, &str, &str), Vec<i64>> = HashMap::new();
    for row in events {
        if let Some(n) = slot(row.day) {
            counted
                .entry((
                    row.event.as_str(),
                    row.outcome.as_str(),
                    row.factor.as_str(),
                ))
                .or_insert_with(|| vec![0; DAYS])[n] += row.count;
        }
    }
    let count = |event: &str, outcome: &str, factor: &str| -> Vec<i64> {
        counted
            .get(&(event, outcome, factor))
            .cloned()
            .unwrap_or_else(|| vec![0; DAYS])
    };
    let add =
        |a: Vec<i64>, b: Vec<i64>| -> Vec<i64> { a.iter().zip(&b).map(|(x, y)| x + y).collect() };
    let series = |name: &str, values: Vec<i64>| Series {
        name: name.into(),
        values,
    };

    let sign_ins = Chart {
        title: "Patients' sign-ins per day, by what proved them".into(),
        stacked: true,
        series: vec![
            series("Text message code", count("signed_in", "ok", "sms")),
            series("Passkey", count("signed_in", "ok", "passkey")),
            series(
                "Remembered device",
                count("signed_in", "ok", "remembered_device"),
            ),
            series("Password only", count("signed_in", "ok", "password")),
        ],
    };

    // A code the outbox is still trying counts as sent: it is on its way.
    let codes_sent = add(
        count("code_sent", "ok", ""),
        count("code_sent", "retrying", ""),
    );
    let codes_verified = count("code_verified", "ok", "");
    let codes = Chart {
        title: "Codes sent and codes verified per day".into(),
        stacked: false,
        series: vec![
            series("Codes sent", codes_sent.clone()),
            series("Codes verified", codes_verified.clone()),
        ],
    };

    let support = SUPPORT_ACTIONS
        .iter()
        .map(|event| count(event, "ok", ""))
        .fold(vec![0; DAYS], add);
    let lockouts = Chart {
        title: "Lockouts and support's actions per day".into(),
        stacked: false,
        series: vec![
            series("Lockouts", count("login_delay_started", "limited", "")),
            series("Support actions", support),
        ],
    };

    let mut by_status = [vec![0; DAYS], vec![0; DAYS], vec![0; DAYS], vec![0; DAYS]];
    for day in &texts.by_day {
        let Some(n) = slot(day.day) else {
            continue;
        };
        let fate = match day.fate.as_str() {
            "accepted" => 0,
            "delivered" => 1,
            "failed" => 2,
            _ => 3,
        };
        by_status[fate][n] += day.count;
    }
    let [accepted, delivered, failed, waiting] = by_status;
    let total = |values: &[i64]| values.iter().sum::<i64>();
    let figures = Figures {
        texts_settled: total(&accepted) + total(&delivered) + total(&failed),
        texts_accepted: total(&accepted) + total(&delivered),
        median_to_provider_ms: median(&texts.to_provider),
        median_to_phone_ms: median(&texts.to_phone),
        codes_sent: total(&codes_sent),
        codes_verified: total(&codes_verified),
        text_budget: budget.budget,
        text_budget_used: budget.used,
    };
    let texts = Chart {
        title: "Text messages per day, by what became of them".into(),
        stacked: true,
        series: vec![
            series("Accepted by the provider", accepted),
            series("Delivered to the phone", delivered),
            series("Failed", failed),
            series("Still being sent", waiting),
        ],
    };

    let days = (0..DAYS as i64).map(|n| day(first + n)).collect();
    Overview {
        days,
        figures,
        charts: vec![sign_ins, texts, codes, lockouts],
        blocked: Vec::new(),
        countries: Vec::new(),
        providers: Vec::new(),
        alert_email: None,
        alert_email_confirmed: false,
    }
}

/// The middle of how long texts took, to the span it falls in: the span's middle.
fn median(took: &[Took]) -> Option<Millis> {
    let mut spans = took.to_vec();
    spans.sort_by_key(|t| t.from_ms);
    let total: i64 = spans.iter().map(|t| t.count).sum();
    let mut seen = 0;
    let middle = spans.iter().find(|t| {
        seen += t.count;
        seen * 2 > total
    })?;
    let width = match middle.from_ms {
        ms if ms < 10_000 => 100,
        ms if ms < 60_000 => 1_000,
        _ => 60_000,
    };
    Some(middle.from_ms + width / 2)
}

fn day(days_since_1970: i64) -> Day {
    let date = time::OffsetDateTime::from_unix_timestamp(days_since_1970 * 86_400)
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN);
    let iso = date
        .format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default();
    let short = date
        .format(time::macros::format_description!(
            "[day padding:none] [month repr:short]"
        ))
        .unwrap_or_default();
    Day { date: iso, short }
}

/// What the text fraud guard blocks, as the overview lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockLine {
    /// `prefix` or `country`.
    pub kind: String,
    pub subject: String,
    pub until: String,
    /// Blocked; otherwise watched only.
    pub enforced: bool,
    /// What tripped it.
    pub counts: String,
}

/// Each provider's circuit, as every instance's attempts show it now, and its last 24 hours.
async fn providers(portal: &Portal) -> Result<Vec<ProviderLine>, Error> {
    let since = portal.now() - DAY;
    let mut lines = Vec::new();
    for (name, circuit) in portal.outbox.circuits_now().await {
        let (taken, failed) = portal
            .store
            .provider_day(name, since)
            .await
            .or_internal("counting a provider's day")?;
        let (up, state) = match circuit {
            crate::sms::circuits::Circuit::Closed => (true, "Up".to_string()),
            crate::sms::circuits::Circuit::HalfOpen => {
                (true, "Trying one text again after failures".to_string())
            }
            crate::sms::circuits::Circuit::Open { until } => (
                false,
                format!("Down: skipped until {}", crate::staff::when(until)),
            ),
        };
        lines.push(ProviderLine {
            name: name.to_string(),
            up,
            state,
            taken,
            failed,
        });
    }
    Ok(lines)
}

/// The blocks in force, and those watched, for the overview.
pub async fn blocks(portal: &Portal) -> Result<Vec<BlockLine>, Error> {
    Ok(portal
        .store
        .guard_blocks(portal.now())
        .await
        .or_internal("reading the guard's blocks")?
        .into_iter()
        .map(|b| BlockLine {
            kind: b.kind,
            subject: b.subject,
            until: crate::staff::when(b.blocked_until),
            enforced: b.enforced != 0,
            counts: b.counts,
        })
        .collect())
}

/// "Allow this prefix" (an admin, with a reason and "Confirm"): not blocked for 30 days.
pub async fn allow(
    portal: &Portal,
    visit: &crate::staff::StaffVisit,
    kind: &str,
    subject: &str,
    typed_reason: &str,
    confirmed: bool,
) -> Result<(), Error> {
    let mut problems = std::collections::BTreeMap::new();
    let reason = match crate::staff::reason(typed_reason) {
        Ok(reason) => reason,
        Err(refused) => {
            problems.extend(refused.fields);
            String::new()
        }
    };
    if !confirmed {
        problems.insert(
            "confirm".to_string(),
            "Please tick Confirm: texts to this prefix will go again, whatever their pattern."
                .to_string(),
        );
    }
    if !problems.is_empty() {
        return Err(Error::fields(problems));
    }
    let kind = match kind {
        "country" => "country",
        _ => "prefix",
    };
    let allowed = portal
        .store
        .guard_allow(
            kind,
            subject,
            portal.now() + crate::fraud_guard::ALLOWED_FOR,
        )
        .await
        .or_internal("allowing a prefix")?;
    if !allowed {
        return Err(Error::new(
            ErrorKind::NotFound,
            "The guard hasn't blocked that. Please reload the overview.",
        ));
    }
    let entry =
        crate::audit::Entry::new(crate::audit::Event::TextsAllowed, crate::audit::Outcome::Ok)
            .staff(visit.member.id)
            .detail(format!(
                "{kind} {subject} allowed for 30 days; reason: {reason}"
            ));
    crate::audit::record(portal, &visit.caller, entry).await;
    Ok(())
}
