//! The one error every server function returns. Its kind fixes the HTTP status; its message and
//! per-field messages are written for the patient, never for a developer.

use std::collections::BTreeMap;

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// What went wrong, as far as the caller needs to know. Each kind has exactly one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request itself was malformed: missing or undecodable fields.
    BadRequest,
    /// One or more fields were understood but are not acceptable.
    Invalid,
    /// Not signed in, wrong credentials, or the step has expired.
    Unauthorized,
    /// Refused by policy, e.g. a request from another site.
    Forbidden,
    /// Signed in with a one-time password from the practice: nothing else works until the
    /// patient has chosen their own.
    MustChoosePassword,
    /// What the request names isn't there (any more), or isn't the caller's.
    NotFound,
    /// The thing changed since the form was filled in: saving would undo someone else's change.
    Conflict,
    /// A limit or cooldown is in force; `retry_after_seconds` says how long.
    TooManyRequests,
    /// A service the portal depends on (such as the SMS provider) failed.
    Unavailable,
    /// A fault on the portal's side. The detail is logged, never shown.
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Invalid => 422,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden | ErrorKind::MustChoosePassword => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct PortalError {
    pub error: ErrorKind,
    pub message: String,
    /// Messages for individual form fields, keyed by the field's name in the request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// The request's ID, given with a fault of ours (5xx) so that a patient can quote it to
    /// the practice and whoever runs the portal can find it in the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

pub const CHECK_FIELDS: &str = "Please check the highlighted details.";

impl PortalError {
    pub fn new(error: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
            fields: BTreeMap::new(),
            retry_after_seconds: None,
            reference: None,
        }
    }

    /// One field is wrong; the message sits beside it.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        Self::fields(BTreeMap::from([(name.to_string(), message.into())]))
    }

    /// Several fields are wrong at once, so the patient can fix them all in one go.
    pub fn fields(fields: BTreeMap<String, String>) -> Self {
        Self {
            fields,
            ..Self::new(ErrorKind::Invalid, CHECK_FIELDS)
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after_seconds: u64) -> Self {
        Self {
            retry_after_seconds: Some(retry_after_seconds),
            ..Self::new(ErrorKind::TooManyRequests, message)
        }
    }

    /// The same error under another kind (and so another status).
    pub fn with_kind(self, error: ErrorKind) -> Self {
        Self { error, ..self }
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorKind::Internal,
            "Something went wrong on our side. Please try again in a moment.",
        )
    }

    pub fn status(&self) -> u16 {
        self.error.status()
    }

    /// The message for one field, if that field is wrong.
    pub fn field_message(&self, name: &str) -> Option<String> {
        self.fields.get(name).cloned()
    }
}

impl FromServerFnError for PortalError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => Self::new(
                ErrorKind::BadRequest,
                "Some details were missing or could not be read. Please check the form and try again.",
            ),
            ServerFnErrorErr::Request(_) => Self::new(
                ErrorKind::Unavailable,
                "We couldn't reach the portal. Please check your connection and try again.",
            ),
            _ => Self::internal(),
        }
    }
}
