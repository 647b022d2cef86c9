//! Feedback: what happened to a referral, told to the organisation that sent it.
//!
//! The status view read over the API, and email to referrers (`reply`): the
//! acknowledgement of an emailed referral and status notifications. A referrer sees
//! only its own referrals.

pub mod reply;

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
    let s = stored.summary;
    Ok(StatusView {
        id,
        state: s.state,
        urgency: s.urgency,
        provider: s.provider.map(String::from),
        received_at: s.received_at,
        record,
        history: stored.history,
    })
}
