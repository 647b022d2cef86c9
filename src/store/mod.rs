//! Store: the durable home of referrals, provider queues and the audit log.
//!
//! Every method is one domain operation and one transaction that also appends its
//! audit events, so a referral and the record of what happened to it are committed
//! together or not at all. Stages hand work to each other through the store.
//! Implementations: [`sqlite::SqliteStore`] (embedded default). Nothing outside this
//! module knows which database is underneath. Patient data arrives already sealed;
//! the store indexes only ids, organisations, states, times and keyed hashes.

pub mod spool;
pub mod sqlite;

use chrono::{DateTime, Utc};

use crate::audit::{AuditDraft, AuditEvent};
use crate::domain::{MailboxId, OrgId, ReferralId, State, Urgency};
pub use spool::{MailId, MailOutcome, NewMail, SpoolState, SpoolStatus, SpooledMail};

/// A failure in the store. Messages carry no patient data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("referral not found")]
    NotFound,
    #[error("idempotency key was already used for different content")]
    IdempotencyConflict,
    #[error(transparent)]
    Transition(#[from] crate::domain::lifecycle::TransitionError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("store is shutting down")]
    Closed,
    #[error("database error")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A referral ready to be stored, with its patient data already sealed.
#[derive(Debug, Clone)]
pub struct NewReferral {
    pub id: ReferralId,
    pub referrer: OrgId,
    /// How it arrived: "http-json", "http-fhir", "fhir-message", ...
    pub channel: &'static str,
    /// The state after intake: `Ready` (routed) or `NeedsReview`.
    pub state: State,
    /// The provider it is routed to (required when `state` is `Ready`).
    pub provider: Option<OrgId>,
    pub urgency: Urgency,
    pub received_at: DateTime<Utc>,
    /// Keyed hash of (referrer, Idempotency-Key), when the sender gave one.
    pub idempotency_hash: Option<[u8; 32]>,
    /// Keyed hash of the normalised record, to recognise the same content sent twice.
    pub content_hash: [u8; 32],
    /// Keyed hash of (patient NHS number, letter date) for letters: the same letter
    /// arriving by another route (emailed and uploaded, or re-sent) matches the first.
    pub match_hash: Option<[u8; 32]>,
    /// The canonical record JSON, sealed with the referral id as context.
    pub record_sealed: Vec<u8>,
    /// The document as received, sealed, with its media type.
    pub document: Option<(String, Vec<u8>)>,
    /// Documents sent with the letter (an email's other attachments), sealed, in the
    /// order they were sent. Stored in the same transaction as the referral.
    pub supporting: Vec<SealedDocument>,
    /// Non-identifying detail for the audit events (e.g. the routing rule).
    pub audit_detail: Option<String>,
}

/// A supporting document, sealed (its name too: a file name can name the patient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedDocument {
    pub media_type: String,
    pub name_sealed: Option<Vec<u8>>,
    pub bytes_sealed: Vec<u8>,
}

/// What intake stored, or found already stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    Created(ReferralSummary),
    /// The same submission was received before; this is the referral it made.
    Duplicate(ReferralSummary),
}

/// The non-sensitive facts about a referral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralSummary {
    pub id: ReferralId,
    pub referrer: OrgId,
    pub provider: Option<OrgId>,
    pub state: State,
    pub urgency: Urgency,
    pub received_at: DateTime<Utc>,
}

/// A referral with its sealed payload and history.
#[derive(Debug, Clone)]
pub struct StoredReferral {
    pub summary: ReferralSummary,
    pub channel: String,
    pub record_sealed: Vec<u8>,
    pub document: Option<(String, Vec<u8>)>,
    pub history: Vec<Transition>,
}

/// One step in a referral's life.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Transition {
    pub state: State,
    pub at: DateTime<Utc>,
    /// The organisation that caused it (the gateway itself when `None`).
    pub actor: Option<String>,
    /// A non-identifying reason (e.g. a rejection code).
    pub reason: Option<String>,
}

/// A request to move a referral along its lifecycle.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub id: ReferralId,
    /// Who asks; must be the referral's provider when `owner_check` says so.
    pub actor: OrgId,
    /// Only succeed when the referral is routed to this provider.
    pub provider: Option<OrgId>,
    pub to: State,
    pub reason: Option<String>,
    pub action: crate::audit::Action,
    pub at: DateTime<Utc>,
}

/// An operator's decision on a referral held for review.
#[derive(Debug, Clone)]
pub struct ReviewDecision {
    pub id: ReferralId,
    pub operator: OrgId,
    pub outcome: ReviewOutcome,
    pub at: DateTime<Utc>,
}

/// What the operator decided.
#[derive(Debug, Clone)]
pub enum ReviewOutcome {
    /// Send it on to `provider`. `corrected` carries the record as the operator
    /// corrected it (sealed like any record), replacing the one read at intake.
    Release {
        provider: OrgId,
        urgency: Urgency,
        corrected: Option<Vec<u8>>,
        /// Non-identifying detail for the audit event (the routing rule).
        detail: String,
    },
    /// Refuse it, with a reason code the referrer is shown (never free text, which
    /// could carry patient data).
    Reject { reason: &'static str },
}

/// An entry in a provider's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub id: ReferralId,
    pub state: State,
    pub urgency: Urgency,
    pub received_at: DateTime<Utc>,
}

/// An outgoing email, sealed, ready for the outbox.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// Chosen by the caller from what the mail is about, so queuing the same mail
    /// again (after a crash) is a no-op.
    pub id: uuid::Uuid,
    pub kind: MailKind,
    /// The referral it is about, if any (audit and operators).
    pub referral_id: Option<ReferralId>,
    pub queued_at: DateTime<Utc>,
    /// The envelope and RFC 5322 bytes, sealed with context `outbox/<id>`.
    pub sealed: Vec<u8>,
}

/// What an outgoing email is for. Labels metrics and audit details; says nothing of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// The reply to a referrer who emailed a referral.
    Acknowledgement,
    /// A later change of a referral's state, told to its referrer.
    StatusNotification,
    /// A referral sent to an email-only provider.
    Delivery,
}

impl MailKind {
    /// The name stored and used as a label.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Acknowledgement => "ack",
            MailKind::StatusNotification => "status",
            MailKind::Delivery => "delivery",
        }
    }

    /// The inverse of [`MailKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ack" => Some(MailKind::Acknowledgement),
            "status" => Some(MailKind::StatusNotification),
            "delivery" => Some(MailKind::Delivery),
            _ => None,
        }
    }
}

/// A queued email whose next attempt is due.
#[derive(Debug, Clone)]
pub struct DueMail {
    pub id: uuid::Uuid,
    pub kind: MailKind,
    pub referral_id: Option<ReferralId>,
    /// Attempts made so far.
    pub attempts: u32,
    pub sealed: Vec<u8>,
}

/// Where an outgoing email stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailState {
    Pending,
    Sent,
    GivenUp,
}

/// The outbox entry's state, for operators and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailStatus {
    pub state: MailState,
    pub attempts: u32,
    /// A failure class (`transient`, `permanent`, ...), never server text.
    pub last_error: Option<String>,
}

/// The result of one attempt to send a queued email.
#[derive(Debug, Clone)]
pub enum MailAttempt {
    /// The relay took it.
    Sent { at: DateTime<Utc> },
    /// It failed for now; try again at `next_at`.
    Retry {
        at: DateTime<Utc>,
        next_at: DateTime<Utc>,
        error: &'static str,
    },
    /// It will not be sent: a permanent refusal or too many attempts. Audited.
    GiveUp {
        at: DateTime<Utc>,
        error: &'static str,
    },
}

/// One use of a MESH authorisation token. `(mailbox, nonce, nonce_count)` may be used
/// once; the store remembers it until `expires_at`, when the token's timestamp leaves
/// the accepted clock window and the token is refused as stale anyway.
#[derive(Debug, Clone)]
pub struct MeshTokenUse {
    pub mailbox: MailboxId,
    /// The client's nonce (a GUID in practice); never patient data.
    pub nonce: String,
    pub nonce_count: u64,
    pub expires_at: DateTime<Utc>,
    /// Now: remembered uses that expired before it are pruned.
    pub now: DateTime<Utc>,
}

/// One page of a provider's inbox, for MESH's paged listing: message ids in inbox
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxPage {
    pub ids: Vec<ReferralId>,
    /// How many referrals wait in the whole inbox.
    pub total: u64,
}

/// A referral due for a push attempt (state `ready`, routed to a push provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePush {
    pub id: ReferralId,
    /// Attempts made so far (since the last re-drive).
    pub attempts: u32,
}

/// The result of one push attempt, recorded with the referral's state in one
/// transaction. Only a referral still `ready` moves; a result for one that moved on
/// meanwhile (downloaded through the inbox, say) only updates the delivery row.
#[derive(Debug, Clone)]
pub enum PushAttempt {
    /// The provider took it (2xx): `ready -> delivered`, and on to `acknowledged`
    /// when its answer says it processed the message.
    Delivered {
        id: ReferralId,
        provider: OrgId,
        at: DateTime<Utc>,
        attempts: u32,
        status: u16,
        acknowledged: bool,
        /// The referrer's notification of the acknowledgement, queued in the outbox
        /// in the same transaction (as `change_status_with_mail` does).
        notify: Option<OutgoingMail>,
    },
    /// It failed for now; try again at `next_at`. The referral stays `ready`.
    Retry {
        id: ReferralId,
        provider: OrgId,
        at: DateTime<Utc>,
        next_at: DateTime<Utc>,
        attempts: u32,
        /// A failure class, never response text.
        error: &'static str,
        status: Option<u16>,
    },
    /// Given up: `ready -> dead-letter` with `reason` (a code), audited.
    GiveUp {
        id: ReferralId,
        provider: OrgId,
        at: DateTime<Utc>,
        attempts: u32,
        error: &'static str,
        status: Option<u16>,
        reason: String,
    },
}

/// Where a referral's push delivery stands, for operators and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushStatus {
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub last_status: Option<u16>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A dead-lettered referral, as operators see it. Ids, codes and counts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterEntry {
    pub id: ReferralId,
    pub provider: Option<OrgId>,
    pub urgency: Urgency,
    pub received_at: DateTime<Utc>,
    /// When it was dead-lettered.
    pub since: DateTime<Utc>,
    /// The reason code of the move to the dead letters.
    pub reason: Option<String>,
    /// Push attempts made and how the last failed (push deliveries only).
    pub attempts: Option<u32>,
    pub last_error: Option<String>,
    pub last_status: Option<u16>,
}

/// An operator sends a dead-lettered referral back to `ready`.
#[derive(Debug, Clone)]
pub struct Redrive {
    pub id: ReferralId,
    pub operator: OrgId,
    pub at: DateTime<Utc>,
}

/// The store's operations. Object-safe: the app holds an `Arc<dyn Store>`.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Stores a new referral with its history and audit events, or returns the one
    /// already made from the same submission. Returns only after commit.
    ///
    /// # Errors
    /// [`StoreError::IdempotencyConflict`] when the key was used for other content.
    async fn accept_referral(&self, new: NewReferral) -> Result<Accepted, StoreError>;

    /// Appends an audit event that concerns no stored referral (e.g. a validation failure).
    ///
    /// # Errors
    /// [`StoreError::Database`] if it cannot be committed.
    async fn append_audit(&self, draft: AuditDraft) -> Result<(), StoreError>;

    /// The referral with its history.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn get_referral(&self, id: ReferralId) -> Result<StoredReferral, StoreError>;

    /// Referrals waiting in a provider's inbox: urgent first, then oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn inbox(&self, provider: &OrgId, limit: u32) -> Result<Vec<InboxEntry>, StoreError>;

    /// Referrals held for review: urgent first, then oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn review_queue(&self, limit: u32) -> Result<Vec<InboxEntry>, StoreError>;

    /// Releases or rejects a referral held for review, with its history and audit
    /// events (a correction is audited on its own) in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or [`StoreError::Transition`] when it is not held
    /// for review.
    async fn decide_review(&self, decision: ReviewDecision) -> Result<ReferralSummary, StoreError>;

    /// Moves a referral to a new state if the lifecycle allows it, recording history
    /// and an audit event in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] (also when it belongs to another provider) or
    /// [`StoreError::Transition`].
    async fn change_status(&self, change: StatusChange) -> Result<ReferralSummary, StoreError>;

    /// Every audit event in sequence order.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn audit_events(&self) -> Result<Vec<AuditEvent>, StoreError>;

    /// Number of referrals in each state, for metrics.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn count_by_state(&self) -> Result<Vec<(State, i64)>, StoreError>;

    /// Finishes pending writes and closes the database.
    async fn close(&self);
    /// Queues an outgoing email. Queuing an id already in the outbox changes nothing
    /// (whatever its state), so a crash between building and recording never sends twice.
    /// Returns whether it was newly queued.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn queue_mail(&self, mail: OutgoingMail) -> Result<bool, StoreError>;

    /// Pending emails whose next attempt is due at `now`, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn due_mail(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<DueMail>, StoreError>;

    /// When the earliest pending email is due, if any is pending.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn next_mail_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Records the result of an attempt. Only a pending email changes: one marked sent
    /// is never made pending again. Giving up appends an audit event in the same
    /// transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when no such email is pending.
    async fn record_mail_attempt(
        &self,
        id: uuid::Uuid,
        attempt: MailAttempt,
    ) -> Result<(), StoreError>;

    /// The outbox entry's state.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn mail_status(&self, id: uuid::Uuid) -> Result<MailStatus, StoreError>;

    /// Keeps where a referral's status notifications go (the sealed address of the
    /// person who emailed it). The first address kept for a referral stays.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn remember_reply_address(
        &self,
        referral: ReferralId,
        sealed: Vec<u8>,
    ) -> Result<(), StoreError>;

    /// The sealed reply address kept for a referral, if any.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn reply_address(&self, referral: ReferralId) -> Result<Option<Vec<u8>>, StoreError>;

    /// Referrals routed to `provider` still waiting to be delivered (state `ready`),
    /// urgent first, then oldest first. Email delivery reads this, not the inbox,
    /// where delivered referrals an email-only provider never acknowledges pile up.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn ready_for(&self, provider: &OrgId, limit: u32) -> Result<Vec<ReferralId>, StoreError>;

    /// As [`Store::change_status`], and queues `mail` in the same transaction when the
    /// state actually changes: a notification or an email delivery is never lost
    /// after the change is committed, nor sent for a change that failed.
    ///
    /// # Errors
    /// As [`Store::change_status`].
    async fn change_status_with_mail(
        &self,
        change: StatusChange,
        mail: Option<OutgoingMail>,
    ) -> Result<ReferralSummary, StoreError>;

    /// Records a use of a MESH token and prunes expired ones, committed before it
    /// returns, so a replay is refused even after a restart. `false` when this token
    /// was used before.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn use_mesh_token(&self, token: MeshTokenUse) -> Result<bool, StoreError>;

    /// A page of a provider's inbox in inbox order (urgent first, then oldest), after
    /// the referral `after` when given, with the size of the whole inbox.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn inbox_page(
        &self,
        provider: &OrgId,
        after: Option<ReferralId>,
        limit: u32,
    ) -> Result<InboxPage, StoreError>;

    /// Commits a message accepted over SMTP to the inbound spool, with its audit
    /// event. The listener answers 250 only after this returns `Ok`.
    ///
    /// # Errors
    /// [`StoreError::Database`] or [`StoreError::Closed`]: the sender must be told to
    /// try again later.
    async fn spool_mail(&self, mail: NewMail) -> Result<(), StoreError>;

    /// Spooled messages not yet processed, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn pending_mail(&self, limit: u32) -> Result<Vec<SpooledMail>, StoreError>;

    /// Marks a pending spool entry done or failed, with its audit event. Finishing an
    /// entry that is already finished changes nothing and succeeds (a crash between
    /// the referral's commit and this call re-processes the message).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown id, or [`StoreError::Database`].
    async fn finish_mail(
        &self,
        id: MailId,
        outcome: MailOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The readable facts about one spool entry.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] or [`StoreError::Database`].
    async fn spool_status(&self, id: MailId) -> Result<SpoolStatus, StoreError>;

    /// The supporting documents stored with a referral, in the order they were sent
    /// (none for a referral that had none, or that does not exist).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn supporting_documents(&self, id: ReferralId)
    -> Result<Vec<SealedDocument>, StoreError>;

    /// The raw figures of the operators' statistics, read in one snapshot: counts,
    /// organisations and times only.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn stats_snapshot(&self) -> Result<StatsSnapshot, StoreError>;

    /// Referrals routed to `provider` in state `ready` whose next push attempt is due
    /// at `now` (never tried, or their retry time has come): urgent first, then oldest.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn due_pushes(
        &self,
        provider: &OrgId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DuePush>, StoreError>;

    /// When the earliest push retry of a referral still `ready` is due, if any.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn next_push_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Records a push attempt and moves the referral accordingly, with its audit
    /// events, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] or [`StoreError::Database`].
    async fn record_push_attempt(&self, attempt: PushAttempt) -> Result<(), StoreError>;

    /// The push delivery state of a referral (`None` before its first attempt).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn push_status(&self, id: ReferralId) -> Result<Option<PushStatus>, StoreError>;

    /// Dead-lettered referrals, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetterEntry>, StoreError>;

    /// Sends a dead-lettered referral back to `ready` with its push attempts reset,
    /// audited as the operator's, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or [`StoreError::Transition`] when it is not in the
    /// dead letters.
    async fn redrive(&self, redrive: Redrive) -> Result<ReferralSummary, StoreError>;
}

/// The figures statistics are computed from (`crate::stats`). Organisations, days,
/// durations and counts: never anything about a patient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Referrals received, per referring organisation per UTC day.
    pub received: Vec<DayCount>,
    /// For every acknowledged referral: how long after receipt its provider first
    /// acknowledged it.
    pub acknowledgements: Vec<AckDelay>,
    /// Referrals each provider accepted and rejected (each referral counted once).
    pub decisions: Vec<Decisions>,
    /// The referrals waiting in each provider's inbox (only providers with some).
    pub queues: Vec<QueueDepth>,
}

/// Referrals one organisation sent on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub referrer: OrgId,
    pub day: chrono::NaiveDate,
    pub count: u64,
}

/// Time from a referral's receipt to its provider's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckDelay {
    pub provider: OrgId,
    pub delay: chrono::Duration,
}

/// A provider's decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decisions {
    pub provider: OrgId,
    pub accepted: u64,
    pub rejected: u64,
}

/// A provider's inbox: how many wait (ready or downloaded, not acknowledged) and the
/// receipt time of the oldest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub provider: OrgId,
    pub depth: u64,
    pub oldest_received_at: DateTime<Utc>,
}
