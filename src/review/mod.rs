//! Review: the queue of referrals that could not go straight to a provider (patient
//! identity or referrer not read with confidence, or not a referral at all), and the
//! operator's decisions on them: correct the record, release it to the provider the
//! routes choose, or reject it with a reason the referrer is shown.
//!
//! Every decision is one store operation with its audit events; the operator is the
//! actor of the transition, and a released referral's FHIR Provenance names them.

use crate::domain::{OrgId, Referral, ReferralId, State};
use crate::intake::{self, IntakeContext, IntakeError};
use crate::normalise::document::{self, Limits};
use crate::normalise::{self, Format, IssueCode, Problem};
use crate::store::{
    InboxEntry, ReferralSummary, ReviewDecision, ReviewOutcome, StoreError, Transition,
};

/// Reasons an operator may give for rejecting a held referral: codes, not free text,
/// because the referrer is shown them and free text could carry patient data.
pub const REJECT_REASONS: [&str; 6] = [
    "not-a-referral",
    "patient-not-identifiable",
    "referrer-not-identifiable",
    "wrong-service",
    "duplicate",
    "other",
];

/// A held referral as an operator sees it.
#[derive(Debug)]
pub struct HeldReferral {
    pub summary: ReferralSummary,
    pub record: Referral,
    /// Field names (never values) that keep it here.
    pub reasons: Vec<&'static str>,
    /// The document as received: media type and bytes.
    pub document: Option<(String, Vec<u8>)>,
    /// Its text, for reading beside the record (`provenance` spans point into it).
    pub document_text: Option<String>,
    pub history: Vec<Transition>,
}

/// Why a review operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// Not held for review (or no such referral).
    #[error("referral not found in the review queue")]
    NotFound,
    /// The correction is invalid, or the record still lacks what review needs.
    #[error("correction is invalid ({} problems)", .0.len())]
    Invalid(Vec<Problem>),
    #[error("store failure")]
    Store(#[source] StoreError),
    #[error("stored referral could not be opened")]
    Open(#[source] IntakeError),
}

impl From<StoreError> for ReviewError {
    fn from(e: StoreError) -> Self {
        match e {
            // Decided meanwhile by someone else: it is no longer in the queue.
            StoreError::NotFound | StoreError::Transition(_) => ReviewError::NotFound,
            other => ReviewError::Store(other),
        }
    }
}

impl From<IntakeError> for ReviewError {
    fn from(e: IntakeError) -> Self {
        ReviewError::Open(e)
    }
}

/// Referrals held for review, urgent first, then oldest.
///
/// # Errors
/// [`ReviewError::Store`].
pub async fn queue(ctx: &IntakeContext, limit: u32) -> Result<Vec<InboxEntry>, ReviewError> {
    Ok(ctx.store.review_queue(limit).await?)
}

/// One held referral with its record and original document.
///
/// # Errors
/// [`ReviewError::NotFound`] unless it is held for review.
pub async fn show(ctx: &IntakeContext, id: ReferralId) -> Result<HeldReferral, ReviewError> {
    let stored = ctx.store.get_referral(id).await?;
    if stored.summary.state != State::NeedsReview {
        return Err(ReviewError::NotFound);
    }
    let record = intake::open_record(&ctx.keys, id, &stored.record_sealed)?;
    let document = match stored.document {
        Some((media_type, sealed)) => Some((
            media_type,
            intake::open_document(&ctx.keys, id, &sealed).map_err(IntakeError::Crypto)?,
        )),
        None => None,
    };
    let document_text = document
        .as_ref()
        .and_then(|(media_type, bytes)| text_of(media_type, bytes));
    Ok(HeldReferral {
        document_text,
        reasons: record.review_reasons(),
        summary: stored.summary,
        record,
        document,
        history: stored.history,
    })
}

/// Releases a held referral to the provider its routes choose. `correction`, when
/// given, is the whole record as the operator corrected it (the flat JSON form),
/// checked exactly like a submission.
///
/// # Errors
/// [`ReviewError::Invalid`] for a bad correction or a record that still lacks patient
/// identity or referrer; [`ReviewError::NotFound`] unless it is held for review.
#[tracing::instrument(skip_all, fields(referral_id = %id, operator = %operator))]
pub async fn release(
    ctx: &IntakeContext,
    operator: &OrgId,
    id: ReferralId,
    correction: Option<&[u8]>,
) -> Result<ReferralSummary, ReviewError> {
    let held = show(ctx, id).await?;
    let record = match correction {
        Some(body) => {
            normalise::normalise(Format::Flat, body, ctx.clock.today())
                .map_err(ReviewError::Invalid)?
                .record
        }
        None => held.record,
    };
    let missing = record.review_reasons();
    if !missing.is_empty() {
        return Err(ReviewError::Invalid(
            missing.into_iter().map(still_missing).collect(),
        ));
    }
    let decision = ctx.router.route(&record);
    let corrected = match correction {
        Some(_) => Some(
            intake::seal_record(&ctx.keys, id, &record)
                .map_err(|e| ReviewError::Open(IntakeError::Crypto(e)))?,
        ),
        None => None,
    };
    let decision = ReviewDecision {
        id,
        operator: operator.clone(),
        outcome: ReviewOutcome::Release {
            provider: decision.provider,
            urgency: record.urgency,
            corrected,
            detail: format!("rule={}", decision.rule),
        },
        at: ctx.clock.now(),
    };
    Ok(ctx.store.decide_review(decision).await?)
}

/// Rejects a held referral with one of [`REJECT_REASONS`].
///
/// # Errors
/// [`ReviewError::Invalid`] for an unknown reason; [`ReviewError::NotFound`] unless
/// it is held for review.
#[tracing::instrument(skip_all, fields(referral_id = %id, operator = %operator))]
pub async fn reject(
    ctx: &IntakeContext,
    operator: &OrgId,
    id: ReferralId,
    reason: &str,
) -> Result<ReferralSummary, ReviewError> {
    let Some(reason) = REJECT_REASONS.iter().copied().find(|r| *r == reason) else {
        return Err(ReviewError::Invalid(vec![Problem::new(
            IssueCode::Value,
            "$.reason",
            format!("reason must be one of: {}", REJECT_REASONS.join(", ")),
        )]));
    };
    let decision = ReviewDecision {
        id,
        operator: operator.clone(),
        outcome: ReviewOutcome::Reject { reason },
        at: ctx.clock.now(),
    };
    Ok(ctx.store.decide_review(decision).await?)
}

/// A letter's extracted text (the text the extractor read, so spans line up), or a
/// structured submission as it was sent.
fn text_of(media_type: &str, bytes: &[u8]) -> Option<String> {
    match Format::from_media_type(media_type) {
        Some(Format::Letter(kind)) => document::to_text(bytes, kind, &Limits::default())
            .ok()
            .map(|t| t.text),
        _ => String::from_utf8(bytes.to_vec()).ok(),
    }
}

fn still_missing(reason: &'static str) -> Problem {
    let path = match reason {
        "referrer.name" => "$.referrer.name",
        "is_referral" => "$.is_referral",
        _ => "$.patient",
    };
    Problem::new(
        IssueCode::Required,
        path,
        format!("still needed before release: {reason}"),
    )
}
