//! The audit log (`/staff/audit`, admins): filtered by date range, event, patient and staff
//! member, paged, and exported as CSV with the same filters (`GET /staff/audit.csv`).

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::{
    layout::AdminsOnly,
    support::{AuditItem, AuditTable},
};
use crate::{
    error::PortalError,
    ui::{enhance::PageContext, field_error, Field, FormMessage, SubmitButton},
};

/// The filters, as the form and the CSV link carry them. Dates are `YYYY-MM-DD` (UTC), both
/// days included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub patient: String,
    #[serde(default)]
    pub staff: String,
}

impl AuditQuery {
    /// The query string for the CSV export of these filters.
    pub fn csv_link(&self) -> String {
        format!("/staff/audit.csv?{}", self.query_string())
    }

    /// The address of a page of lines with these filters, keyed by a line: `before` it (older
    /// lines) or `after` it (newer).
    pub fn page_link(&self, key: (&str, i64)) -> String {
        let filters = self.query_string();
        let and = if filters.is_empty() { "" } else { "&" };
        format!("/staff/audit?{filters}{and}{}={}", key.0, key.1)
    }

    fn query_string(&self) -> String {
        let pairs = [
            ("from", &self.from),
            ("to", &self.to),
            ("event", &self.event),
            ("patient", &self.patient),
            ("staff", &self.staff),
        ];
        let query: Vec<String> = pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", encode(v.trim())))
            .collect();
        query.join("&")
    }
}

/// Percent-encoding for a query value (letters, digits and `-._~` as they are).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLogPage {
    pub items: Vec<AuditItem>,
    /// The key of the page of newer lines, if there are any.
    pub newer: Option<i64>,
    /// The key of the page of older lines, if there are any.
    pub older: Option<i64>,
    /// Every event name, for the filter.
    pub events: Vec<String>,
    pub query: AuditQuery,
}

#[server(prefix = "/api/staff", endpoint = "audit_log")]
pub async fn audit_log(
    #[server(default)] from: String,
    #[server(default)] to: String,
    #[server(default)] event: String,
    #[server(default)] patient: String,
    #[server(default)] staff: String,
    #[server(default)] before: Option<i64>,
    #[server(default)] after: Option<i64>,
) -> Result<AuditLogPage, PortalError> {
    let portal = crate::request::portal()?;
    crate::request::staff(&portal, super::Role::Admin).await?;
    let query = portal_core::staff::audit_log::AuditQuery {
        from,
        to,
        event,
        patient,
        staff,
    };
    let page = portal_core::staff::audit_log::page(&portal, query, before, after);
    Ok(page.await?.into())
}

/// What the page's address asks for: the filters, and the page's key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditStart {
    pub query: AuditQuery,
    pub before: Option<i64>,
    pub after: Option<i64>,
}

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let address = leptos_router::hooks::use_query_map();
    let start = address.with_untracked(|address| {
        let text = |name: &str| address.get(name).unwrap_or_default();
        let key = |name: &str| address.get(name).and_then(|v| v.parse::<i64>().ok());
        AuditStart {
            query: AuditQuery {
                from: text("from"),
                to: text("to"),
                event: text("event"),
                patient: text("patient"),
                staff: text("staff"),
            },
            before: key("before"),
            after: key("after"),
        }
    });
    view! {
        <Title text="Audit log"/>
        <AdminsOnly>
            <AuditLogSearch page=PageContext::here() start=start.clone()/>
        </AdminsOnly>
    }
}

/// The filters and lines wake in the browser: lines come in place.
#[island(lazy)]
fn AuditLogSearch(page: PageContext, start: AuditStart) -> impl IntoView {
    crate::ui::enhance::awake("AuditLogSearch");
    page.provide();
    let show = ServerAction::<AuditLog>::new();
    // The lines the address names: the newest, without filters, at first.
    let asked = start.clone();
    Effect::new(move |_| {
        let q = asked.query.clone();
        show.dispatch(AuditLog {
            from: q.from,
            to: q.to,
            event: q.event,
            patient: q.patient,
            staff: q.staff,
            before: asked.before,
            after: asked.after,
        });
    });
    let chosen_event = start.query.event.clone();
    let error = Signal::derive(move || show.value().get().and_then(Result::err));
    let events = Signal::derive(move || {
        show.value()
            .get()
            .and_then(Result::ok)
            .map(|p| p.events)
            .unwrap_or_default()
    });
    view! {
        <section class="card wide">
            <h1>"Audit log"</h1>
            <ActionForm action=show attr:novalidate=true attr:class="form filters">
                <FormMessage error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
                <Field name="from" label="From" kind="date" value=start.query.from.clone() error=field_error(error, "from")/>
                <Field name="to" label="To" kind="date" value=start.query.to.clone() error=field_error(error, "to")/>
                <div class="field">
                    <label for="event">"Event"</label>
                    <select id="event" name="event">
                        <option value="">"Any event"</option>
                        {move || events.get().into_iter().map(|e| {
                            let selected = e == chosen_event;
                            view! { <option value=e.clone() selected=selected>{e.clone()}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <Field name="patient" label="Patient username" value=start.query.patient.clone() error=field_error(error, "patient")/>
                <Field name="staff" label="Staff username" value=start.query.staff.clone() error=field_error(error, "staff")/>
                <SubmitButton label="Show" pending=show.pending()/>
            </ActionForm>
            {move || show.value().get().and_then(Result::ok).map(|page| view! { <Lines page/> })}
        </section>
    }
}

/// A page of lines, with links to the newer and older pages. Each link carries its page's key
/// and the filters, so it can be kept, opened in a new tab, or followed without scripts.
#[component]
fn Lines(page: AuditLogPage) -> impl IntoView {
    let newer = page.newer.map(|key| page.query.page_link(("after", key)));
    let older = page.older.map(|key| page.query.page_link(("before", key)));
    view! {
        <p>
            <a class="button secondary" href=page.query.csv_link() download="audit-log.csv">"Export CSV"</a>
        </p>
        {page.items.is_empty().then(|| view! { <p role="status">"No events match."</p> })}
        <AuditTable items=page.items/>
        <nav class="actions" aria-label="Pages of the audit log">
            {newer.map(|href| view! {
                <a class="button secondary" rel="external" href=href>"Newer lines"</a>
            })}
            {older.map(|href| view! {
                <a class="button secondary" rel="external" href=href>"Older lines"</a>
            })}
        </nav>
    }
}
