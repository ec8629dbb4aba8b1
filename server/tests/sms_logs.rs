//! With a real provider, codes never reach the log, at any level.

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{
    log_holds,
    standin::{Answer, StandIn},
    TestPortal,
};

/// Collects everything logged, at every level, while a test runs.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_code_appears_in_the_log_with_a_real_provider() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // The whole process logs into the buffer (this file holds this one test, so nothing else
    // shares the subscriber).
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let standin = StandIn::start(vec![Answer::Status(500, "once")]).await;
    let sender = standin.twilio(Duration::from_secs(5));
    let portal = TestPortal::with_sender(|_| {}, move |_, _| sender).await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    portal.clock.advance_seconds(2);
    portal.portal.outbox.deliver_due().await.unwrap();
    let code = standin.received()[1].code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    browser.post("/api/verify_code", &[("code", wrong)]).await;
    browser.post("/api/verify_code", &[("code", &code)]).await;

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("text message sent"),
        "the log is being captured"
    );
    assert!(!log_holds(&logged, &code), "the code leaked into the log");
    assert!(!logged.contains("is your Patient Portal code"));
}
