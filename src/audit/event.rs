//! The audit event and its canonical bytes.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{OrgId, ReferralId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A submission was received and stored.
    Intake,
    /// A submission failed validation; nothing was stored.
    ValidationFailed,
    /// A duplicate submission was matched to an existing referral.
    Duplicate,
    /// The referral was assigned to a provider.
    Routed,
    /// The referral was held in the review queue.
    HeldForReview,
    /// The provider downloaded the referral.
    Download,
    /// The provider acknowledged the referral.
    Acknowledge,
    /// Any other lifecycle change.
    StatusChange,
    /// An operator corrected the record of a referral held for review.
    ReviewCorrected,
    /// An operator released a referral from the review queue to a provider.
    ReviewReleased,
    /// An operator rejected a referral held for review.
    ReviewRejected,
    /// A referral was sent to an email-only provider (queued in the outbox).
    EmailDelivery,
    /// An outgoing email was given up (refused by the relay or too many attempts).
    MailGivenUp,
    /// A message arrived over SMTP and was committed to the inbound spool.
    MailSpooled,
    /// The email channel finished with a spooled message (made a referral or failed).
    MailProcessed,
    /// A push provider's `$process-message` took the referral (2xx).
    PushDelivery,
    /// A push delivery was given up (refused, or out of attempts): dead-lettered.
    PushGivenUp,
    /// An operator sent a dead-lettered referral back to be delivered again.
    Redrive,
}

impl Action {
    /// The kebab-case name stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Intake => "intake",
            Action::ValidationFailed => "validation-failed",
            Action::Duplicate => "duplicate",
            Action::Routed => "routed",
            Action::HeldForReview => "held-for-review",
            Action::Download => "download",
            Action::Acknowledge => "acknowledge",
            Action::StatusChange => "status-change",
            Action::ReviewCorrected => "review-corrected",
            Action::ReviewReleased => "review-released",
            Action::ReviewRejected => "review-rejected",
            Action::EmailDelivery => "email-delivery",
            Action::MailGivenUp => "mail-given-up",
            Action::MailSpooled => "mail-spooled",
            Action::MailProcessed => "mail-processed",
            Action::PushDelivery => "push-delivery",
            Action::PushGivenUp => "push-given-up",
            Action::Redrive => "redrive",
        }
    }
}

/// Whether the action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

/// An event before it has a place in the chain. `detail` holds non-identifying facts
/// only (a provider id, a state, a count of problems, a channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    pub actor: Option<OrgId>,
    pub action: Action,
    pub referral_id: Option<ReferralId>,
    pub outcome: Outcome,
    pub detail: Option<String>,
}

/// A chained event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub action: String,
    pub referral_id: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    #[serde(with = "hex::serde")]
    pub prev_hash: [u8; 32],
    #[serde(with = "hex::serde")]
    pub hash: [u8; 32],
}

// The canonical form is a JSON object with a fixed field order and timestamps at
// microsecond precision, so the bytes a verifier recomputes equal the bytes hashed.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    at: String,
    actor: Option<&'a str>,
    action: &'a str,
    referral_id: Option<&'a str>,
    outcome: &'a str,
    detail: Option<&'a str>,
}

/// The timestamp format used in the store and in canonical bytes.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl AuditEvent {
    /// The bytes the chain hashes: everything but the hashes themselves.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let c = Canonical {
            seq: self.seq,
            at: format_time(self.at),
            actor: self.actor.as_deref(),
            action: &self.action,
            referral_id: self.referral_id.as_deref(),
            outcome: &self.outcome,
            detail: self.detail.as_deref(),
        };
        // Serialising a struct of strings and integers cannot fail.
        serde_json::to_vec(&c).unwrap_or_default()
    }

    /// Places a draft in the chain after `prev_hash` with sequence number `seq`.
    pub fn chain(draft: &AuditDraft, seq: i64, at: DateTime<Utc>, prev_hash: [u8; 32]) -> Self {
        let mut ev = AuditEvent {
            seq,
            // Truncate to what the canonical form keeps, so the stored value re-hashes.
            at: DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at),
            actor: draft.actor.as_ref().map(|o| o.as_str().to_owned()),
            action: draft.action.as_str().to_owned(),
            referral_id: draft.referral_id.map(|r| r.to_string()),
            outcome: match draft.outcome {
                Outcome::Success => "success".to_owned(),
                Outcome::Failure => "failure".to_owned(),
            },
            detail: draft.detail.clone(),
            prev_hash,
            hash: [0; 32],
        };
        ev.hash = super::link(&prev_hash, &ev.canonical_bytes());
        ev
    }
}
