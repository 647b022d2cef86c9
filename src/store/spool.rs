//! The inbound mail spool's types: a message the SMTP listener accepted, held sealed
//! until the email channel has made a referral of it.
//!
//! The listener answers 250 only after [`super::Store::spool_mail`] has committed, so a
//! message a sender was told is accepted is never lost; the email channel then reads
//! [`super::Store::pending_mail`] (also at start-up) and ends each entry with
//! [`super::Store::finish_mail`]. Entries are never deleted.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{OrgId, ReferralId};

/// The spool's id for one accepted message: a random UUID, safe to log and to put in
/// the SMTP reply (it reveals nothing about the message).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MailId(Uuid);

impl MailId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// Parses the hyphenated UUID form.
    ///
    /// # Errors
    /// When the text is not a UUID.
    pub fn parse(raw: &str) -> Result<Self, uuid::Error> {
        Uuid::parse_str(raw).map(Self)
    }

    /// The underlying UUID (the acknowledgement's dedupe id is derived from it).
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The context the message is sealed under (`mail/<id>`).
    pub fn message_context(&self) -> String {
        format!("mail/{self}")
    }

    /// The context the envelope sender is sealed under (`mail/<id>/sender`).
    pub fn sender_context(&self) -> String {
        format!("mail/{self}/sender")
    }
}

impl Default for MailId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MailId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for MailId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MailId({})", self.0.hyphenated())
    }
}

/// A message to spool, already sealed.
#[derive(Clone)]
pub struct NewMail {
    pub id: MailId,
    /// The referrer the envelope sender is allow-listed for.
    pub org: OrgId,
    pub received_at: DateTime<Utc>,
    /// Size of the message in bytes (before sealing).
    pub size: usize,
    /// The envelope sender (MAIL FROM), sealed with [`MailId::sender_context`]: the
    /// acknowledgement goes back to it.
    pub sender_sealed: Vec<u8>,
    /// The raw message, sealed with [`MailId::message_context`].
    pub message_sealed: Vec<u8>,
}

// Sealed bytes are opaque, but a Debug that prints them would still put ciphertext in
// logs for no use; ids and sizes are enough.
impl fmt::Debug for NewMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewMail")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A spooled message waiting for the email channel.
#[derive(Clone)]
pub struct SpooledMail {
    pub id: MailId,
    pub org: OrgId,
    pub received_at: DateTime<Utc>,
    pub sender_sealed: Vec<u8>,
    pub message_sealed: Vec<u8>,
}

impl fmt::Debug for SpooledMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpooledMail")
            .field("id", &self.id)
            .field("org", &self.org)
            .finish_non_exhaustive()
    }
}

/// Where a spool entry is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoolState {
    /// Accepted over SMTP, not yet processed.
    Pending,
    /// A referral was made (or matched) from it.
    Done,
    /// It could not become a referral; kept for operators.
    Failed,
}

impl SpoolState {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SpoolState::Pending => "pending",
            SpoolState::Done => "done",
            SpoolState::Failed => "failed",
        }
    }

    /// The state named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(SpoolState::Pending),
            "done" => Some(SpoolState::Done),
            "failed" => Some(SpoolState::Failed),
            _ => None,
        }
    }
}

/// How the email channel finished with a spool entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    /// The referral it became (or the one it duplicated).
    Done(ReferralId),
    /// A non-identifying reason code (`not-mime`, `no-letter`, `invalid`, ...).
    Failed(&'static str),
}

/// The readable facts about a spool entry (operators, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolStatus {
    pub id: MailId,
    pub org: OrgId,
    pub state: SpoolState,
    pub received_at: DateTime<Utc>,
    pub referral_id: Option<ReferralId>,
    pub reason: Option<String>,
}
