//! A local stand-in for an SMS provider (Twilio or a webhook gateway): records what it receives
//! and answers from a script, so tests can make it fail, stall or succeed.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use app::sms::{SmsSender, TwilioConfig, TwilioSender, TwilioSms, WebhookSms};
use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::IntoResponse,
    routing::post,
    Json, Router,
};

/// How the stand-in answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Accept it (Twilio: 201 with a message sid; webhook: 200 with an id).
    Accept,
    Status(u16, &'static str),
    /// Wait this long, then accept.
    Stall(Duration),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn field(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The number it was sent to, whatever the provider's format.
    pub fn to_number(&self) -> String {
        self.field("To")
            .or_else(|| {
                serde_json::from_slice::<serde_json::Value>(&self.body).ok()?["to"]
                    .as_str()
                    .map(str::to_string)
            })
            .expect("a number")
    }

    /// The code in the message body, whatever the provider's format.
    pub fn code(&self) -> String {
        let body = self
            .field("Body")
            .or_else(|| {
                serde_json::from_slice::<serde_json::Value>(&self.body).ok()?["body"]
                    .as_str()
                    .map(str::to_string)
            })
            .expect("a message body");
        body.rsplit('#').next().unwrap().to_string()
    }
}

pub const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "twilio-auth-token";
/// Where the portal asks Twilio to report deliveries.
pub const STATUS_URL: &str = "http://127.0.0.1:3000/sms/status";

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Answer>>,
    received: Mutex<Vec<Received>>,
}

#[derive(Clone)]
pub struct StandIn {
    pub url: String,
    shared: Arc<Shared>,
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let n = {
        let mut received = shared.received.lock().unwrap();
        received.push(Received {
            path: uri.path().to_string(),
            headers,
            body: body.to_vec(),
            at: Instant::now(),
        });
        received.len()
    };
    let scripted = shared.script.lock().unwrap().pop_front();
    let accept = || {
        (
            StatusCode::CREATED,
            Json(serde_json::json!({ "sid": format!("SM{n:032}"), "id": format!("gw-{n}") })),
        )
            .into_response()
    };
    match scripted.unwrap_or(Answer::Accept) {
        Answer::Accept => accept(),
        Answer::Status(code, message) => (
            StatusCode::from_u16(code).unwrap(),
            Json(serde_json::json!({ "code": 21211, "message": message })),
        )
            .into_response(),
        Answer::Stall(wait) => {
            tokio::time::sleep(wait).await;
            accept()
        }
    }
}

impl StandIn {
    pub async fn start(script: Vec<Answer>) -> Self {
        let shared = Arc::new(Shared {
            script: Mutex::new(script.into()),
            received: Mutex::default(),
        });
        let app = Router::new()
            .route("/{*path}", post(answer))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}"),
            shared,
        }
    }

    /// The real Twilio provider, pointed at this stand-in.
    pub fn twilio(&self, request_timeout: Duration) -> Arc<dyn SmsSender> {
        Arc::new(TwilioSms::new(TwilioConfig {
            base_url: self.url.clone(),
            account_sid: SID.into(),
            auth_token: TOKEN.into(),
            sender: TwilioSender::From("+6498765432".into()),
            status_callback: Some(STATUS_URL.into()),
            request_timeout,
        }))
    }

    /// The real webhook provider, pointed at this stand-in.
    pub fn webhook(&self) -> Arc<dyn SmsSender> {
        Arc::new(WebhookSms::new(
            format!("{}/sms", self.url),
            "webhook-secret".into(),
            Duration::from_secs(5),
        ))
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn then(&self, answers: Vec<Answer>) {
        self.shared.script.lock().unwrap().extend(answers);
    }
}
