//! The practice's overview (`/staff/overview`, admins): the last 30 days at a glance. Sign-ins
//! by factor, texts by what became of them, the delivery rate and time, codes sent against
//! codes verified (SMS pumping lowers the share verified), and lockouts and support's actions.
//!
//! The charts are SVG drawn on the server, with no script; each has a table beside it, read by
//! screen readers, with the same numbers.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::layout::AdminsOnly;
use crate::{error::PortalError, ui::CouldNotLoad};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    /// `2026-11-30`.
    pub date: String,
    /// `30 Nov`, under the chart.
    pub short: String,
}

/// Counts per day for one thing, drawn in one colour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<i64>,
}

impl Series {
    fn total(&self) -> i64 {
        self.values.iter().sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chart {
    pub title: String,
    /// Stacked bars (parts of one whole) or bars side by side (things to compare).
    pub stacked: bool,
    pub series: Vec<Series>,
}

/// The figures above the charts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub days: Vec<Day>,
    pub figures: Figures,
    pub charts: Vec<Chart>,
    /// What the text fraud guard blocks (or watches) now.
    pub blocked: Vec<BlockLine>,
    /// Where codes to new numbers went over the last 7 days.
    pub countries: Vec<CountryLine>,
    /// Each text provider, in the order texts try them.
    pub providers: Vec<ProviderLine>,
    /// Where this admin's alerts go, if anywhere, and whether the address is confirmed.
    pub alert_email: Option<String>,
    pub alert_email_confirmed: bool,
}

/// One country's codes to numbers not yet verified, and how many came back verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountryLine {
    pub country: String,
    pub codes: i64,
    pub verified: i64,
}

/// A text provider now, and over its last 24 hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLine {
    pub name: String,
    pub up: bool,
    pub state: String,
    pub taken: i64,
    pub failed: i64,
}

/// A prefix or country the text fraud guard blocks, or watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockLine {
    /// `prefix` or `country`.
    pub kind: String,
    pub subject: String,
    pub until: String,
    pub enforced: bool,
    pub counts: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextsAllowed {}

/// "Allow this prefix": texts to a blocked prefix (or country) go again for 30 days.
#[server(prefix = "/api/staff", endpoint = "allow_texts")]
pub async fn allow_texts(
    #[server(default)] kind: String,
    #[server(default)] subject: String,
    #[server(default)] reason: String,
    #[server(default)] confirm: Option<String>,
) -> Result<TextsAllowed, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Admin).await?;
    let confirmed = confirm.is_some_and(|c| !c.is_empty() && c != "off");
    portal_core::staff::overview::allow(&portal, &visit, &kind, &subject, &reason, confirmed)
        .await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/staff/overview?allowed");
    }
    Ok(TextsAllowed {})
}

#[server(prefix = "/api/staff", endpoint = "overview")]
pub async fn practice_overview() -> Result<Overview, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Admin).await?;
    Ok(portal_core::staff::overview::overview_for(&portal, &visit)
        .await?
        .into())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEmailSaved {
    pub email: Option<String>,
}

/// "Email for alerts": an admin's address, emailed a link to confirm it; empty: no alerts.
#[server(prefix = "/api/staff", endpoint = "alert_email")]
pub async fn save_alert_email(
    #[server(default)] email: String,
) -> Result<AlertEmailSaved, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Admin).await?;
    let saved = portal_core::staff::alerts::set_alert_email(&portal, &visit, &email).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/staff/overview?alerts");
    }
    Ok(AlertEmailSaved { email: saved.email })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEmailConfirmed {}

/// "Confirm", from the link emailed to an address for alerts, signed in as its admin.
#[server(prefix = "/api/staff", endpoint = "confirm_alert_email")]
pub async fn confirm_alert_email(
    #[server(default)] token: String,
) -> Result<AlertEmailConfirmed, PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Admin).await?;
    portal_core::staff::alerts::confirm_alert_email(&portal, &visit, &token).await?;
    if crate::request::is_plain_form_post() {
        leptos_axum::redirect("/staff/overview?alerts");
    }
    Ok(AlertEmailConfirmed {})
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| practice_overview());
    view! {
        <Title text="Overview"/>
        <AdminsOnly>
            <section class="card wide overview">
                <h1>"Overview"</h1>
                <p class="hint">"The last 30 days. Days run midnight to midnight, UTC."</p>
                // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <OverviewBody overview/> }.into_any(),
                        Err(error) => view! { <CouldNotLoad error sign_in="/staff/login"/> }.into_any(),
                    }
                })}
            </section>
        </AdminsOnly>
    }
}

#[component]
fn OverviewBody(overview: Overview) -> impl IntoView {
    let Overview {
        days,
        figures,
        charts,
        blocked,
        countries,
        providers,
        alert_email,
        alert_email_confirmed,
    } = overview;
    view! {
        <TextBudget used=figures.text_budget_used budget=figures.text_budget/>
        <BlockedTexts blocked/>
        <KeyFigures figures/>
        <ProviderHealth providers/>
        <WhereTextsGo countries/>
        <EmailForAlerts email=alert_email confirmed=alert_email_confirmed/>
        <div class="charts">
            {charts
                .into_iter()
                .enumerate()
                .map(|(n, chart)| view! { <BarChart chart days=days.clone() id=format!("chart-{n}")/> })
                .collect_view()}
        </div>
    }
}

/// "98 % (490 of 500)", or a dash when there is nothing to count.
fn share(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "none yet".into();
    }
    format!("{} % ({part} of {whole})", part * 100 / whole)
}

/// "1.4 seconds", "2 minutes".
fn duration(ms: Option<i64>) -> String {
    match ms {
        None => "not known".into(),
        Some(ms) if ms < 100 => "under 0.1 seconds".into(),
        Some(ms) if ms < 60_000 => format!("{:.1} seconds", ms as f64 / 1000.0),
        Some(ms) => format!("{} minutes", (ms + 30_000) / 60_000),
    }
}

/// What the text fraud guard blocks, each with "Allow this prefix" (a plain form: it works
/// before the page's scripts wake, and without them).
#[component]
fn BlockedTexts(blocked: Vec<BlockLine>) -> impl IntoView {
    (!blocked.is_empty()).then(|| {
        view! {
            <section class="blocked-texts" aria-labelledby="blocked-texts-heading">
                <h2 id="blocked-texts-heading">"Blocked number prefixes"</h2>
                <p class="hint">"The text fraud guard saw many codes to these and few verified: codes to new numbers there aren't sent. Sign-in codes to verified numbers still go."</p>
                <ul class="security-list">
                    {blocked.into_iter().enumerate().map(|(n, b)| {
                        let label = match b.kind.as_str() {
                            "country" => format!("Country {}", b.subject),
                            _ => format!("Prefix {}…", b.subject),
                        };
                        let state = match b.enforced {
                            true => format!("blocked until {}", b.until),
                            false => format!("watched (not blocked) until {}", b.until),
                        };
                        let (reason_id, confirm_id) = (format!("allow-reason-{n}"), format!("allow-confirm-{n}"));
                        view! {
                            <li>
                                <p><strong>{label}</strong>{format!(": {state}. {}.", b.counts)}</p>
                                <form method="post" action="/api/staff/allow_texts" class="form">
                                    <input type="hidden" name="kind" value=b.kind.clone()/>
                                    <input type="hidden" name="subject" value=b.subject.clone()/>
                                    <div class="field">
                                        <label for=reason_id.clone()>"Reason"</label>
                                        <input id=reason_id name="reason" type="text" required=true/>
                                    </div>
                                    <div class="field checkbox">
                                        <input id=confirm_id.clone() name="confirm" type="checkbox"/>
                                        <label for=confirm_id>"Confirm"</label>
                                    </div>
                                    <button type="submit" class="button secondary">"Allow this prefix"</button>
                                </form>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        }
    })
}

/// Each provider's circuit now (as every instance saw it), and its last 24 hours' attempts.
#[component]
fn ProviderHealth(providers: Vec<ProviderLine>) -> impl IntoView {
    view! {
        <section class="providers" aria-labelledby="providers-heading">
            <h2 id="providers-heading">"Text providers"</h2>
            <div class="table-scroll" tabindex="0" role="region" aria-label="Text providers">
                <table class="providers">
                    <thead><tr><th>"Provider"</th><th>"Now"</th><th>"Taken, last 24 hours"</th><th>"Failed, last 24 hours"</th></tr></thead>
                    <tbody>
                        {providers.into_iter().map(|p| view! {
                            <tr class:down=!p.up>
                                <td data-label="Provider">{p.name}</td>
                                <td data-label="Now">{p.state}</td>
                                <td data-label="Taken, last 24 hours">{p.taken}</td>
                                <td data-label="Failed, last 24 hours">{p.failed}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// Codes to new numbers by country, with the share entered: pumping shows as many codes to a
/// country nobody verifies.
#[component]
fn WhereTextsGo(countries: Vec<CountryLine>) -> impl IntoView {
    view! {
        <section class="where-texts-go" aria-labelledby="where-texts-go-heading">
            <h2 id="where-texts-go-heading">"Where texts go"</h2>
            <p class="hint">"Codes to numbers not yet verified over the last 7 days, by country, and how many were entered. Few entered means the texts may not reach real patients."</p>
            {countries.is_empty().then(|| view! { <p>"None yet."</p> })}
            {(!countries.is_empty()).then(|| view! {
                <div class="table-scroll" tabindex="0" role="region" aria-label="Where texts go">
                    <table class="countries">
                        <thead><tr><th>"Country"</th><th>"Codes"</th><th>"Entered"</th></tr></thead>
                        <tbody>
                            {countries.into_iter().map(|c| view! {
                                <tr>
                                    <td data-label="Country">{c.country}</td>
                                    <td data-label="Codes">{c.codes}</td>
                                    <td data-label="Entered">{share(c.verified, c.codes)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
        </section>
    }
}

/// "Email for alerts": plain forms, which work before the page's scripts wake and without them.
/// The link emailed to a new address opens this page with `confirm_alerts`, and "Confirm" here
/// follows it.
#[component]
fn EmailForAlerts(email: Option<String>, confirmed: bool) -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let token = query.read_untracked().get("confirm_alerts");
    let refused = crate::ui::plain_forms::refused_error(&[
        "/api/staff/alert_email",
        "/api/staff/confirm_alert_email",
    ]);
    let email_error = refused.as_ref().and_then(|e| e.field_message("email"));
    let general = refused.filter(|e| e.fields.is_empty());
    let state = match (&email, confirmed) {
        (None, _) => "No alerts by email yet.".to_string(),
        (Some(to), true) => format!("Alerts go to {to}."),
        (Some(to), false) => format!(
            "Waiting for you to confirm {to}: open the link we emailed there. Alerts go to it only once confirmed."
        ),
    };
    view! {
        <section class="alerts" aria-labelledby="alerts-heading">
            <h2 id="alerts-heading">"Alerts by email"</h2>
            <p class="hint">"When the text fraud guard blocks a prefix, and when the daily text budget is 80 % used, every admin with a confirmed address is emailed."</p>
            <crate::ui::FormMessage error=Signal::stored(general)/>
            <p role="status">{state}</p>
            {token.filter(|_| !confirmed).map(|token| view! {
                <form method="post" action="/api/staff/confirm_alert_email" class="form">
                    <input type="hidden" name="token" value=token/>
                    <button type="submit" class="button">"Confirm"</button>
                </form>
            })}
            <form method="post" action="/api/staff/alert_email" class="form">
                <crate::ui::Field
                    name="email"
                    label="Email for alerts"
                    kind="email"
                    autocomplete="email"
                    hint="Leave it empty for no alerts by email.".to_string()
                    value=email.unwrap_or_default()
                    error=Signal::stored(email_error)
                />
                <button type="submit" class="button secondary">"Save email for alerts"</button>
            </form>
        </section>
    }
}

/// At 80 % of the daily text budget, a warning before it bites; at 100 %, that it has.
#[component]
fn TextBudget(used: i64, budget: i64) -> impl IntoView {
    let percent = used * 100 / budget.max(1);
    let what = match percent {
        100.. => "Codes to new numbers have stopped until older texts fall out of the last 24 hours. Raise the \"Daily text budget\" in Practice settings if this is real demand.",
        _ => "At 100 %, codes to new numbers stop. Sign-in codes to verified numbers never count. If this isn't real demand, look at where the texts go.",
    };
    (percent >= 80).then(|| {
        view! {
            <div class="warning" role="note">
                <strong>{format!("{percent} % of the daily text budget used")}</strong>
                {format!(": {used} of {budget} texts in the last 24 hours. {what}")}
            </div>
        }
    })
}

#[component]
fn KeyFigures(figures: Figures) -> impl IntoView {
    let reports = figures.median_to_phone_ms.map(|ms| {
        view! {
            <div>
                <dt>"Median time to the phone"</dt>
                <dd>{duration(Some(ms))}</dd>
            </div>
        }
    });
    view! {
        <dl class="key-figures">
            <div>
                <dt>"Texts the provider accepted"</dt>
                <dd>{share(figures.texts_accepted, figures.texts_settled)}</dd>
            </div>
            <div>
                <dt>"Median time to the provider"</dt>
                <dd>{duration(figures.median_to_provider_ms)}</dd>
            </div>
            {reports}
            <div>
                <dt>"Codes sent that were verified"</dt>
                <dd>{share(figures.codes_verified, figures.codes_sent)}</dd>
            </div>
        </dl>
        <p class="hint">
            "A fall in the share of codes verified, with more codes sent, can mean someone is "
            "sending codes to numbers they pay for (SMS pumping)."
        </p>
    }
}

/// The bars' drawing area, in the SVG's own units. The SVG stretches to the width of the
/// page; its labels are HTML around it, so that they keep a readable size on any screen.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 200.0;
/// Room above the top gridline for its stroke.
const TOP: f64 = 4.0;

/// A round top for the scale: 1, 2 or 5 times a power of ten, at least `max`.
fn scale_top(max: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max.max(1) {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// How far down the drawing `value` sits, on a scale up to `top`.
fn y_of(value: i64, top: i64) -> f64 {
    HEIGHT - value as f64 / top as f64 * (HEIGHT - TOP)
}

/// One bar: where it is and which series it shows, for the drawing.
#[derive(Debug, Clone, PartialEq)]
struct Bar {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    series: usize,
}

/// Lays out the bars of `chart` over `days` day slots, against a scale up to `top`.
fn bars(chart: &Chart, days: usize, top: i64) -> Vec<Bar> {
    let slot = WIDTH / days.max(1) as f64;
    let count = chart.series.len().max(1) as f64;
    let mut drawn = Vec::new();
    for day in 0..days {
        let x0 = day as f64 * slot + slot * 0.15;
        let width = slot * 0.7;
        let mut below = 0;
        for (n, series) in chart.series.iter().enumerate() {
            let value = series.values.get(day).copied().unwrap_or(0);
            if value == 0 {
                continue;
            }
            let (x, width, from, to) = if chart.stacked {
                below += value;
                (x0, width, below - value, below)
            } else {
                (x0 + width / count * n as f64, width / count, 0, value)
            };
            drawn.push(Bar {
                x,
                y: y_of(to, top),
                width,
                height: y_of(from, top) - y_of(to, top),
                series: n,
            });
        }
    }
    drawn
}

#[component]
fn BarChart(chart: Chart, days: Vec<Day>, id: String) -> impl IntoView {
    let per_day = |day: usize| -> Vec<i64> {
        chart
            .series
            .iter()
            .map(|s| s.values.get(day).copied().unwrap_or(0))
            .collect()
    };
    let highest = (0..days.len())
        .map(|day| {
            let values = per_day(day);
            if chart.stacked {
                values.iter().sum()
            } else {
                values.into_iter().max().unwrap_or(0)
            }
        })
        .max()
        .unwrap_or(0);
    let top = scale_top(highest);
    let drawn = bars(&chart, days.len(), top);
    let summary = chart
        .series
        .iter()
        .map(|s| format!("{} {}", s.total(), s.name.to_lowercase()))
        .collect::<Vec<_>>()
        .join(", ");
    let label = format!(
        "{}: in 30 days, {summary}. The table with the chart has each day.",
        chart.title
    );
    // Labels are laid out by CSS grids, not by inline styles: the page's policy allows none.
    // The newest day is labelled, and every seventh day before it; other columns stay empty.
    let count = days.len();
    let x_labels = days
        .iter()
        .enumerate()
        .map(|(n, day)| {
            let back = count - 1 - n;
            let text = back.is_multiple_of(7).then(|| day.short.clone());
            // A phone's narrow chart shows every other label only.
            let class = (back % 14 == 7).then_some("every-other");
            view! { <span class=class>{text}</span> }
        })
        .collect_view();
    let middle = (top > 1).then(|| (top / 2).to_string());
    let y_labels = view! { <span>{top}</span><span>{middle}</span><span>"0"</span> };
    let gridlines = [0, top / 2, top];
    let heading = format!("{id}-title");
    let rows = days
        .iter()
        .enumerate()
        .map(|(day, date)| {
            let cells = per_day(day)
                .into_iter()
                .map(|n| view! { <td>{n}</td> })
                .collect_view();
            view! { <tr><th scope="row">{date.date.clone()}</th>{cells}</tr> }
        })
        .collect_view();
    view! {
        <section class="chart" aria-labelledby=heading.clone()>
            <h2 id=heading.clone()>{chart.title.clone()}</h2>
            <ul class="legend">
                {chart.series.iter().enumerate().map(|(n, s)| view! {
                    <li><span class=format!("swatch s{n}") aria-hidden="true"></span>{format!("{} ({} in all)", s.name, s.total())}</li>
                }).collect_view()}
            </ul>
            <div class="plot">
                <div class="y-axis" aria-hidden="true">{y_labels}</div>
                <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=label>
                    {gridlines.map(|value| {
                        let y = y_of(value, top);
                        view! { <line class="grid" x1="0" x2=WIDTH y1=y y2=y></line> }
                    }).collect_view()}
                    {drawn.into_iter().map(|bar| view! {
                        <rect class=format!("s{}", bar.series) x=format!("{:.1}", bar.x) y=format!("{:.1}", bar.y)
                            width=format!("{:.1}", bar.width) height=format!("{:.1}", bar.height)></rect>
                    }).collect_view()}
                </svg>
            </div>
            <div class="x-axis" aria-hidden="true">{x_labels}</div>
            // A table in a box of its own: a table can't be made narrower than its content.
            <div class="visually-hidden">
                <table>
                    <caption>{format!("{}, by day", chart.title)}</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Day"</th>
                            {chart.series.iter().map(|s| view! { <th scope="col">{s.name.clone()}</th> }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_ends_on_a_round_number() {
        assert_eq!(scale_top(0), 1);
        assert_eq!(scale_top(1), 1);
        assert_eq!(scale_top(3), 5);
        assert_eq!(scale_top(17), 20);
        assert_eq!(scale_top(480), 500);
        assert_eq!(scale_top(501), 1000);
    }

    #[test]
    fn stacked_bars_sit_on_each_other_and_side_by_side_bars_share_the_slot() {
        let chart = |stacked| Chart {
            title: "t".into(),
            stacked,
            series: vec![
                Series {
                    name: "a".into(),
                    values: vec![2],
                },
                Series {
                    name: "b".into(),
                    values: vec![2],
                },
            ],
        };
        let stacked = bars(&chart(true), 1, 4);
        assert_eq!(stacked.len(), 2);
        assert!((stacked[0].y - (stacked[1].y + stacked[1].height)).abs() < 1e-9);
        assert!((stacked[1].y - TOP).abs() < 1e-9, "4 of 4 reaches the top");
        assert!(
            (stacked[0].y + stacked[0].height - HEIGHT).abs() < 1e-9,
            "from the baseline"
        );
        let side = bars(&chart(false), 1, 4);
        assert!((side[0].y - side[1].y).abs() < 1e-9);
        assert!((side[1].x - (side[0].x + side[0].width)).abs() < 1e-9);
    }
}
