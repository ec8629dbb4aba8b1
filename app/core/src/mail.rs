//! Email to patients: notices about their account (a sign-in number set or changed). The server
//! picks the mailer: the console mailer by default (the log and the dev outbox at `/dev/email`),
//! or SMTP when `PORTAL_SMTP_URL` is set.

use std::{future::Future, pin::Pin, sync::Arc};

use crate::{
    clock::Clock,
    store::{DevEmail, Store},
};

/// One email on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the email could not be sent: {0}")]
pub struct MailError(pub String);

pub type MailFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

pub trait Mailer: Send + Sync + 'static {
    /// `console` or `smtp`.
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, email: &'a Email) -> MailFuture<'a>;
}

/// The development mailer: each email goes to the log and to the dev outbox.
pub struct ConsoleMailer {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl ConsoleMailer {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}

impl Mailer for ConsoleMailer {
    fn name(&self) -> &'static str {
        "console"
    }

    fn send<'a>(&'a self, email: &'a Email) -> MailFuture<'a> {
        Box::pin(async move {
            tracing::info!(to = %email.to, subject = %email.subject, "email (console mailer: not really sent)");
            self.store
                .record_dev_email(&DevEmail {
                    to_address: email.to.clone(),
                    subject: email.subject.clone(),
                    body: email.body.clone(),
                    sent_at: self.clock.now(),
                })
                .await
                .map_err(|e| MailError(e.to_string()))
        })
    }
}

/// Email through the practice's SMTP server, with `lettre`.
pub struct SmtpMailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl SmtpMailer {
    /// `url` as lettre reads it: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`, or
    /// `smtps://user:pass@host:465`.
    pub fn new(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| MailError(format!("PORTAL_SMTP_URL: {e}")))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        let from = from
            .parse()
            .map_err(|e| MailError(format!("PORTAL_SMTP_FROM: {e}")))?;
        Ok(Self { transport, from })
    }
}

impl Mailer for SmtpMailer {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn send<'a>(&'a self, email: &'a Email) -> MailFuture<'a> {
        use lettre::AsyncTransport;
        Box::pin(async move {
            let to = email
                .to
                .parse()
                .map_err(|e| MailError(format!("the address: {e}")))?;
            let message = lettre::Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(&email.subject)
                .header(lettre::message::header::ContentType::TEXT_PLAIN)
                .body(email.body.clone())
                .map_err(|e| MailError(e.to_string()))?;
            self.transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError(e.to_string()))
        })
    }
}
