//! What the core refuses with. Its kind fixes the HTTP status `app` answers with; its message
//! and per-field messages are written for the patient, never for a developer. `app` turns it
//! into its `PortalError` in one place.

use std::collections::BTreeMap;

/// What went wrong, as far as the caller needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself was malformed: missing or undecodable fields.
    BadRequest,
    /// One or more fields were understood but are not acceptable.
    Invalid,
    /// Not signed in, wrong credentials, or the step has expired.
    Unauthorized,
    /// Refused by policy.
    Forbidden,
    /// Signed in with a one-time password from the practice: nothing else works until the
    /// patient has chosen their own.
    MustChoosePassword,
    /// What was asked for isn't there (any more), or isn't the caller's.
    NotFound,
    /// The thing changed since the form was filled in.
    Conflict,
    /// A limit or cooldown is in force; `retry_after_seconds` says how long.
    TooManyRequests,
    /// A service the portal depends on failed.
    Unavailable,
    /// A fault on the portal's side. The detail is logged, never shown.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Messages for individual form fields, keyed by the field's name.
    pub fields: BTreeMap<String, String>,
    pub retry_after_seconds: Option<u64>,
}

/// What a refusal with messages beside its fields says above them.
pub const CHECK_FIELDS: &str = "Please check the highlighted details.";

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            fields: BTreeMap::new(),
            retry_after_seconds: None,
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

    /// The same error under another kind (and so another status).
    pub fn with_kind(self, kind: ErrorKind) -> Self {
        Self { kind, ..self }
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after_seconds: u64) -> Self {
        Self {
            retry_after_seconds: Some(retry_after_seconds),
            ..Self::new(ErrorKind::TooManyRequests, message)
        }
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorKind::Internal,
            "Something went wrong on our side. Please try again in a moment.",
        )
    }

    /// A generic internal error for the patient; the real cause goes to the log.
    pub fn logged_internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(%err, "{context}");
        Self::internal()
    }
}

/// Turns a [`Fault`] into the generic internal error, its cause logged with `context`.
pub trait OrInternal<T> {
    fn or_internal(self, context: &'static str) -> Result<T, Error>;
}

impl<T, E: Fault> OrInternal<T> for Result<T, E> {
    fn or_internal(self, context: &'static str) -> Result<T, Error> {
        self.map_err(|err| err.to_error(context))
    }
}

/// As [`OrInternal`], for a library's own error that says what went wrong only in words (a
/// serializer's, say): logged, and answered as an internal error.
pub trait OrFault<T> {
    fn or_fault(self, context: &'static str) -> Result<T, Error>;
}

impl<T, E: std::fmt::Display> OrFault<T> for Result<T, E> {
    fn or_fault(self, context: &'static str) -> Result<T, Error> {
        self.map_err(|err| Error::logged_internal(context, err))
    }
}

/// A failure the patient can do nothing about. By default it becomes a generic internal
/// [`Error`] and the real cause is logged once; a kind of failure that means something else to
/// the patient (the database being unreachable, say) says so where it is defined.
pub trait Fault: std::fmt::Display {
    fn to_error(&self, context: &str) -> Error {
        Error::logged_internal(context, self)
    }
}
