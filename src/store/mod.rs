//! Store: the durable home of referrals, provider queues and the audit log.
//!
//! Every method is one domain operation and one transaction that also appends its
//! audit events, so a referral and the record of what happened to it are committed
//! together or not at all. Stages hand work to each other through the store.
//! Implementations: [`sqlite::SqliteStore`] (embedded default). Nothing outside this
//! module knows which database is underneath. Patient data arrives already sealed;
//! the store indexes only ids, organisations, states, times and keyed hashes.

pub mod sqlite;

use chrono::{DateTime, Utc};

use crate::audit::{AuditDraft, AuditEvent};
use crate::domain::{OrgId, ReferralId, State, Urgency};

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

    /// The supporting documents stored with a referral, in the order they were sent
    /// (none for a referral that had none, or that does not exist).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    async fn supporting_documents(&self, id: ReferralId)
    -> Result<Vec<SealedDocument>, StoreError>;
}
