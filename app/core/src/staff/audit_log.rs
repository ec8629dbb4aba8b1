use crate::store::StaffId;
use std::collections::BTreeMap;

use time::{macros::format_description, Date};

use crate::{
    account::username_key,
    audit::{self, Entry, Event, Outcome, ALL_EVENTS},
    clock::{DAY, SECOND},
    error::{Error, Fault, OrInternal},
    portal::Portal,
    staff::support::{audit_item, AuditItem},
    staff::StaffVisit,
    store::{AuditFilter, AuditLine, ExportTurn, LinesFrom, Store},
};

/// The filters, as the form and the CSV link carry them. Dates are `YYYY-MM-DD` (UTC), both
/// days included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub from: String,
    pub to: String,
    pub event: String,
    pub patient: String,
    pub staff: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

const PAGE_SIZE: i64 = 50;

fn day(text: &str) -> Result<Option<i64>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let date = Date::parse(text, format_description!("[year]-[month]-[day]")).map_err(|_| ())?;
    let midnight = date.midnight().assume_utc().unix_timestamp();
    Ok(Some(midnight * SECOND))
}

/// The filters as the store reads them, or what's wrong with them.
pub fn filter(query: &AuditQuery) -> Result<AuditFilter, Error> {
    let mut problems = BTreeMap::new();
    let from = day(&query.from).unwrap_or_else(|_| {
        problems.insert(
            "from".to_string(),
            "Please enter a date like 2026-11-28.".to_string(),
        );
        None
    });
    let to = day(&query.to).unwrap_or_else(|_| {
        problems.insert(
            "to".to_string(),
            "Please enter a date like 2026-11-28.".to_string(),
        );
        None
    });
    let event = query.event.trim();
    if !event.is_empty() && !ALL_EVENTS.iter().any(|e| e.as_str() == event) {
        problems.insert(
            "event".into(),
            "Please choose an event from the list.".into(),
        );
    }
    if !problems.is_empty() {
        return Err(Error::fields(problems));
    }
    let optional = |v: &str| Some(v.trim()).filter(|v| !v.is_empty()).map(username_key);
    Ok(AuditFilter {
        from,
        // The "to" day is included.
        until: to.map(|t| t + DAY),
        event: Some(event.to_string()).filter(|e| !e.is_empty()),
        patient_username_key: optional(&query.patient),
        staff_username_key: optional(&query.staff),
    })
}

/// A page of lines: the newest, those `before` a line, or those `after` one.
pub async fn page(
    portal: &Portal,
    query: AuditQuery,
    before: Option<i64>,
    after: Option<i64>,
) -> Result<AuditLogPage, Error> {
    let filter = filter(&query)?;
    let from = match (before, after) {
        (Some(line), _) => LinesFrom::Before(line),
        (None, Some(line)) => LinesFrom::After(line),
        (None, None) => LinesFrom::Newest,
    };
    let filter = &filter;
    let read = |from, limit| async move {
        portal
            .store
            .audit_log(filter, from, limit)
            .await
            .or_internal("reading the audit log")
    };
    let mut lines = read(from, PAGE_SIZE + 1).await?;
    // One line more than a page says whether the page has a neighbour that way.
    let mut more_newer = false;
    let mut more_older = false;
    if lines.len() as i64 > PAGE_SIZE {
        match from {
            LinesFrom::After(_) => {
                lines.remove(0);
                more_newer = true;
            }
            _ => {
                lines.truncate(PAGE_SIZE as usize);
                more_older = true;
            }
        }
    }
    // The other way, look for a line past this page's edge (or the key, on an empty page).
    let (newest, oldest) = match (lines.first(), lines.last()) {
        (Some(first), Some(last)) => (first.id, last.id),
        _ => match from {
            LinesFrom::Newest => (i64::MAX, i64::MAX),
            LinesFrom::Before(line) | LinesFrom::Between { below: line, .. } => (line - 1, line),
            LinesFrom::After(line) => (line, line + 1),
        },
    };
    match from {
        LinesFrom::Newest => {}
        LinesFrom::Before(_) | LinesFrom::Between { .. } => {
            more_newer = !read(LinesFrom::After(newest), 1).await?.is_empty();
        }
        LinesFrom::After(_) => {
            more_older = !read(LinesFrom::Before(oldest), 1).await?.is_empty();
        }
    }
    Ok(AuditLogPage {
        newer: more_newer.then_some(newest),
        older: more_older.then_some(oldest),
        items: lines.into_iter().map(audit_item).collect(),
        events: ALL_EVENTS.iter().map(|e| e.as_str().to_string()).collect(),
        query,
    })
}

/// A cell as a spreadsheet will read it: text that would start a formula (`=`, `+`, `-`,
/// `@`, a tab or a carriage return, as OWASP lists them) gets a leading `'`, so a typed
/// username like `=HYPERLINK(…)` stays text.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// `lines` as CSV rows, after the header when `header` is true.
fn csv(lines: &[AuditLine], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    if header {
        out.write_record([
            "time",
            "event",
            "outcome",
            "patient",
            "staff",
            "ip",
            "detail",
            "request_id",
        ])?;
    }
    // Lines come in time order, a dozen or so to the minute shown: each minute is written
    // out once.
    let mut minute = (i64::MIN, String::new());
    for line in lines {
        if line.at.div_euclid(60_000) != minute.0 {
            minute = (line.at.div_euclid(60_000), crate::staff::when(line.at));
        }
        let cells = [
            minute.1.as_str(),
            &line.event,
            &line.outcome,
            line.patient.as_deref().unwrap_or_default(),
            line.staff.as_deref().unwrap_or_default(),
            &line.ip,
            line.detail.as_deref().unwrap_or_default(),
            line.request_id.as_deref().unwrap_or_default(),
        ];
        out.write_record(cells.map(spreadsheet_safe).iter().map(|c| c.as_ref()))?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// Lines read from the database at a time: the export's memory stays this size, whatever
/// the log's.
const EXPORT_BATCH: i64 = 2_000;
/// Batches written ahead of a slow download.
const EXPORT_AHEAD: usize = 2;

/// The export's download: CSV chunks, ending with an error if the export fails part-way, so a
/// browser shows a failed download rather than a file cut short.
pub type Download = tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>;

/// Starts an export of every line matching `query`, newest first, read a batch at a time from
/// the last line sent, so the export holds one batch in memory however long the log is. The
/// first batch is read before answering, so a database that can't be read is a refusal, not a
/// cut-off download. The export is audited when it ends, with how many lines went.
pub async fn start_export(
    portal: &Portal,
    visit: StaffVisit,
    query: &AuditQuery,
) -> Result<Download, Error> {
    let filter = filter(query)?;
    let place = ExportPlace::take(portal, visit.member.id).await?;
    // Read through connections of the export's own (see `Store::for_one_long_read`).
    let connections = EXPORT_READS as u32;
    let store = match portal.store.for_one_long_read(connections).await {
        Ok(store) => store,
        Err(err) => {
            place.give_back().await;
            return Err(err.to_error("exporting the audit log"));
        }
    };
    let first = match store
        .audit_log(&filter, LinesFrom::Newest, EXPORT_BATCH)
        .await
    {
        Ok(lines) => lines,
        Err(err) => {
            store.end_long_read().await;
            place.give_back().await;
            return Err(err.to_error("exporting the audit log"));
        }
    };
    let (batches, download) = tokio::sync::mpsc::channel(EXPORT_AHEAD);
    let portal = portal.clone();
    tokio::spawn(async move {
        let sent = place
            .kept_while(send_lines(&store, &filter, first, &batches))
            .await;
        store.end_long_read().await;
        let outcome = match sent {
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Failed,
        };
        let lines = match sent {
            Ok(lines) | Err(lines) => lines,
        };
        let detail = match outcome {
            Outcome::Ok => format!("{lines} line(s)"),
            _ => format!("stopped after {lines} line(s)"),
        };
        let entry = Entry::new(Event::AuditExported, outcome)
            .staff(visit.member.id)
            .detail(detail);
        audit::record(&portal, &visit.caller, entry).await;
    });
    Ok(download)
}

/// Exports at once across the portal: each reads the whole log through connections of its
/// own, so a few are all the database should carry beside the patients' requests.
pub const EXPORTS_AT_ONCE: i64 = 2;
/// How long an export's place is held without being renewed: an instance that stops
/// mid-export gives its place back after this.
const EXPORT_LEASE: i64 = 60 * SECOND;

/// An export's place among those running, held (and renewed) while it runs.
struct ExportPlace {
    portal: Portal,
    token: String,
}

impl ExportPlace {
    async fn take(portal: &Portal, staff_id: StaffId) -> Result<Self, Error> {
        let token = crate::session::new_id();
        let now = portal.now();
        let taken = portal
            .store
            .begin_export(&token, staff_id, EXPORTS_AT_ONCE, now, now + EXPORT_LEASE)
            .await
            .or_internal("starting an export")?;
        let message = match taken {
            ExportTurn::Taken => {
                return Ok(Self {
                    portal: portal.clone(),
                    token,
                })
            }
            ExportTurn::TheirsRunning => "Your last export is still running. Please wait for it to finish, then try again.",
            ExportTurn::PortalBusy => "Other exports are running. Please wait a minute for them to finish, then try again.",
        };
        Err(Error::too_many_requests(message, 60))
    }

    /// Runs `export`, renewing the place meanwhile, and gives the place back at its end.
    async fn kept_while<T>(self, export: impl std::future::Future<Output = T>) -> T {
        let renew = async {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(20));
            every.tick().await;
            loop {
                every.tick().await;
                let until = self.portal.now() + EXPORT_LEASE;
                if let Err(err) = self.portal.store.renew_export(&self.token, until).await {
                    tracing::warn!(%err, "keeping an export's place");
                }
            }
        };
        let done = tokio::select! {
            done = export => done,
            never = renew => never,
        };
        self.give_back().await;
        done
    }

    async fn give_back(&self) {
        if let Err(err) = self.portal.store.end_export(&self.token).await {
            tracing::warn!(%err, "giving an export's place back");
        }
    }
}

/// Stretches of ids read at once, when every line of a stretch is wanted: two keep the
/// database busy while the portal writes CSV. On SQLite each is read through a connection
/// of the export's own (see `Store::for_one_long_read`), so two at once cost two page
/// caches, not the pool's eight.
const EXPORT_READS: usize = 2;

/// Writes the header and every matching line into `batches`, starting with `first`: how
/// many lines went, or how many had gone when the download or the database failed.
///
/// Each next batch is read while one is written out. When every line in a stretch of ids
/// is wanted (no patient, staff member or event chosen, only dates or nothing), the next
/// stretches of 2,000 ids are known in advance and two are read at once,
/// so the database is never waiting for the export to ask; otherwise each batch starts
/// where the last one ended.
async fn send_lines(
    store: &Store,
    filter: &AuditFilter,
    first: Vec<AuditLine>,
    batches: &tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
) -> Result<u64, u64> {
    let mut sent = 0u64;
    let mut lines = first;
    let mut header = true;
    let mut reading = std::collections::VecDeque::new();
    let read = |from: LinesFrom| {
        let (store, filter) = (store.clone(), filter.clone());
        tokio::spawn(async move { store.audit_log(&filter, from, EXPORT_BATCH).await })
    };
    // The next stretch's end (exclusive), and the first line there can be.
    let mut stretches = None;
    let every_line_wanted = filter.patient_username_key.is_none()
        && filter.staff_username_key.is_none()
        && filter.event.is_none();
    if let (true, Some(last)) = (every_line_wanted, lines.last()) {
        if lines.len() as i64 == EXPORT_BATCH {
            match store.first_audit_line(filter).await {
                Ok(first_line) => stretches = Some((last.id, first_line.unwrap_or(last.id))),
                Err(err) => return failed_to_read(batches, err.to_string(), sent).await,
            }
        }
    }
    loop {
        match &mut stretches {
            Some((below, first_line)) => {
                while reading.len() < EXPORT_READS && *below > *first_line {
                    let from = (*below - EXPORT_BATCH).max(*first_line);
                    reading.push_back(read(LinesFrom::Between {
                        from,
                        below: *below,
                    }));
                    *below = from;
                }
            }
            // A batch shorter than full was the last.
            None => {
                if let (Some(last), true) = (lines.last(), lines.len() as i64 == EXPORT_BATCH) {
                    reading.push_back(read(LinesFrom::Before(last.id)));
                }
            }
        }
        if header || !lines.is_empty() {
            let chunk = match csv(&lines, header) {
                Ok(chunk) => Ok(chunk),
                Err(err) => {
                    tracing::error!(%err, "writing the audit CSV");
                    Err(std::io::Error::other("the export could not be written"))
                }
            };
            let failed = chunk.is_err();
            if batches.send(chunk).await.is_err() || failed {
                // The download was cancelled, or the body ends with an error so that the
                // browser shows it failed rather than a file cut short.
                return Err(sent);
            }
            header = false;
            sent += lines.len() as u64;
        }
        let Some(next) = reading.pop_front() else {
            return Ok(sent);
        };
        lines = match next.await {
            Ok(Ok(lines)) => lines,
            Ok(Err(err)) => return failed_to_read(batches, err.to_string(), sent).await,
            Err(stopped) => return failed_to_read(batches, stopped.to_string(), sent).await,
        };
    }
}

/// Ends the download with an error, so that the browser shows it failed.
async fn failed_to_read(
    batches: &tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    err: String,
    sent: u64,
) -> Result<u64, u64> {
    tracing::error!(%err, "reading the audit log for an export");
    let _ = batches
        .send(Err(std::io::Error::other(
            "the audit log could not be read",
        )))
        .await;
    Err(sent)
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn cells_that_a_spreadsheet_would_run_start_with_a_quote() {
        for formula in ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"] {
            assert_eq!(spreadsheet_safe(formula), format!("'{formula}"));
        }
        for text in ["margaret", "2026-11-29 10:00 UTC", "", "a=b", "203.0.113.7"] {
            assert_eq!(spreadsheet_safe(text), text);
        }
    }
}
