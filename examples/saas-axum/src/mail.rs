//! Outgoing mail that is not a sign-in code (those go through mortar-auth's `CodeSender`):
//! organization invitations. Plug your provider in by implementing [`Mailer`] and passing it
//! to [`App::build_with`](crate::App::build_with); [`ConsoleMailer`] prints to stderr for
//! development, [`MemoryMailer`] keeps what was sent (tests).
//!
//! Mail is sent by a background job (see [`crate::jobs`]), never inside a request: a slow or
//! failing provider neither slows nor fails the request that caused it, and the job retries.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// One message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
}

impl Mail {
    /// A message to `to`.
    pub fn new(to: impl Into<String>, subject: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            subject: subject.into(),
            text: text.into(),
        }
    }
}

/// Delivering a message failed; the job sending it retries with back-off.
#[derive(Debug, thiserror::Error)]
#[error("sending mail failed: {0}")]
pub struct MailError(pub String);

/// Sends mail: your provider (SMTP, an HTTP API) behind one method.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + fmt::Debug + 'static {
    /// Delivers `mail`.
    ///
    /// # Errors
    ///
    /// [`MailError`] when the provider refuses or cannot be reached.
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
}

/// Prints each message to stderr: for development only (the starter's default, beside the
/// code sender that prints codes).
#[derive(Clone, Copy, Debug, Default)]
pub struct ConsoleMailer;

#[async_trait::async_trait]
impl Mailer for ConsoleMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        eprintln!(
            "[starter development mailer] to {}: {}\n{}",
            mail.to, mail.subject, mail.text
        );
        Ok(())
    }
}

/// Keeps every message in memory (tests read them back).
#[derive(Clone, Debug, Default)]
pub struct MemoryMailer {
    sent: Arc<Mutex<Vec<Mail>>>,
}

impl MemoryMailer {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything sent so far, oldest first.
    pub fn sent(&self) -> Vec<Mail> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait::async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(mail);
        Ok(())
    }
}
