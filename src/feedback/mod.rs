//! Feedback: what happened to a referral, told to the organisation that sent it.
//!
//! The status view read over the API (JSON, and as a FHIR Task in `task`), provider
//! status updates (`update`, with the code lists of `codes`), and email to referrers
//! (`reply`): the acknowledgement of an emailed referral and status notifications. A
//! referrer sees only its own referrals; a provider updates only those routed to it.

pub mod codes;
pub mod reply;
pub mod task;
pub mod update;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::crypto::DataKeys;
use crate::domain::{OrgId, Referral, ReferralId, State, Urgency};
use crate::intake::{self, IntakeError};
use crate::store::{Store, StoreError, Transition};

/// A referral as its referrer sees it.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub id: ReferralId,
    pub state: State,
    pub urgency: Urgency,
    pub provider: Option<String>,
    pub received_at: DateTime<Utc>,
    pub record: Referral,
    pub history: Vec<Transition>,
    /// Why the provider rejected it, while it stands rejected.
    pub reason: Option<Coded>,
    /// What the episode of care came to, once completed.
    pub outcome: Option<Coded>,
    /// The state as a FHIR Task.status, as `GET /fhir/Task/{id}` gives it.
    pub task_status: &'static str,
}

/// A reason or outcome code with its words.
#[derive(Debug, Clone, Serialize)]
pub struct Coded {
    pub code: &'static str,
    pub display: &'static str,
}

/// Why a status could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    /// Unknown, or sent by another organisation (indistinguishable on purpose).
    #[error("referral not found")]
    NotFound,
    #[error("store failure")]
    Store(#[source] StoreError),
    #[error("stored referral could not be opened")]
    Open(#[source] IntakeError),
}

/// The status of `id` for `referrer`.
///
/// # Errors
/// [`FeedbackError::NotFound`] when it does not exist or belongs to someone else.
pub async fn status(
    store: &dyn Store,
    keys: &DataKeys,
    referrer: &OrgId,
    id: ReferralId,
) -> Result<StatusView, FeedbackError> {
    let stored = store.get_referral(id).await.map_err(|e| match e {
        StoreError::NotFound => FeedbackError::NotFound,
        other => FeedbackError::Store(other),
    })?;
    if &stored.summary.referrer != referrer {
        return Err(FeedbackError::NotFound);
    }
    let record =
        intake::open_record(keys, id, &stored.record_sealed).map_err(FeedbackError::Open)?;
    let reason = task::latest_code(&stored, State::Rejected)
        .and_then(codes::ReasonCode::parse)
        .map(|c| Coded {
            code: c.as_str(),
            display: c.display(),
        });
    let outcome = task::latest_code(&stored, State::Completed)
        .and_then(codes::OutcomeCode::parse)
        .map(|c| Coded {
            code: c.as_str(),
            display: c.display(),
        });
    let s = stored.summary;
    Ok(StatusView {
        id,
        state: s.state,
        urgency: s.urgency,
        provider: s.provider.map(String::from),
        received_at: s.received_at,
        record,
        history: stored.history,
        reason,
        outcome,
        task_status: s.state.fhir_task_status(),
    })
}

/// The referral as a FHIR Task, for its referrer or the provider it is routed to.
///
/// # Errors
/// [`FeedbackError::NotFound`] for anyone else, or when it does not exist.
pub async fn task_for(
    store: &dyn Store,
    names: &std::collections::HashMap<OrgId, String>,
    caller: &OrgId,
    id: ReferralId,
) -> Result<serde_json::Value, FeedbackError> {
    let stored = store.get_referral(id).await.map_err(|e| match e {
        StoreError::NotFound => FeedbackError::NotFound,
        other => FeedbackError::Store(other),
    })?;
    let s = &stored.summary;
    if &s.referrer != caller && s.provider.as_ref() != Some(caller) {
        return Err(FeedbackError::NotFound);
    }
    Ok(task::task(&stored, names))
}
