//! Intake: the one door every channel goes through.
//!
//! `accept(ctx, RawSubmission)` normalises the submission, decides whether it can go
//! to a provider or must wait for review, routes it, seals the patient data and hands
//! it to the store, returning only after the store has committed. Channels (the HTTPS
//! handlers today; email, drop folder and MESH later) call it and nothing else. Intake
//! never delivers: providers take referrals from the store.

pub mod drop_folder;
pub mod email;
pub mod mesh;
pub mod smtp;

use std::sync::Arc;

use bytes::Bytes;

use crate::audit::{Action, AuditDraft, Outcome};
use crate::clock::Clock;
use crate::crypto::{CryptoError, DataKeys};
use crate::domain::{OrgId, Referral, ReferralId, State};
use crate::normalise::{self, Format, Problem};
use crate::route::Router;
use crate::store::{Accepted, NewReferral, ReferralSummary, SealedDocument, Store, StoreError};
use crate::telemetry::events::{ReferralAccepted, SubmissionRejected};
use crate::telemetry::metrics::Metrics;

/// What intake needs; cheap to clone.
#[derive(Clone)]
pub struct IntakeContext {
    pub store: Arc<dyn Store>,
    pub router: Arc<Router>,
    pub keys: Arc<DataKeys>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
}

/// How a submission arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `POST /referrals`.
    Http,
    /// `POST /fhir/$process-message`.
    FhirMessage,
    /// A file in an organisation's drop folder.
    DropFolder,
    /// A message sent to the gateway's MESH intake mailbox (`POST /messageexchange/{mb}/outbox`).
    Mesh,
    /// A message to a referral address over SMTP.
    Email,
}

impl Channel {
    /// The name used in the store, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Http => "http",
            Channel::FhirMessage => "fhir-message",
            Channel::DropFolder => "drop-folder",
            Channel::Mesh => "mesh",
            Channel::Email => "email",
        }
    }
}

/// A submission as a channel received it.
#[derive(Debug, Clone)]
pub struct RawSubmission {
    pub org: OrgId,
    pub channel: Channel,
    pub media_type: String,
    pub body: Bytes,
    pub idempotency_key: Option<String>,
    /// Documents sent with the letter (an email's other attachments): stored sealed
    /// with the referral and delivered with it. An email submitted whole
    /// (`message/rfc822`) adds its own here when intake reads it.
    pub supporting: Vec<SupportingDocument>,
}

impl RawSubmission {
    /// A submission with no idempotency key and no supporting documents.
    pub fn new(org: OrgId, channel: Channel, media_type: impl Into<String>, body: Bytes) -> Self {
        RawSubmission {
            org,
            channel,
            media_type: media_type.into(),
            body,
            idempotency_key: None,
            supporting: Vec::new(),
        }
    }
}

/// A document that travels with a referral but is not its letter (test results, a
/// second letter, a scan).
#[derive(Clone, PartialEq, Eq)]
pub struct SupportingDocument {
    /// The file name it was sent with (patient data: sealed at rest, never logged).
    pub name: Option<String>,
    pub media_type: String,
    pub bytes: Bytes,
}

// Names and contents are patient data: Debug shows only their shape.
impl std::fmt::Debug for SupportingDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupportingDocument")
            .field("media_type", &self.media_type)
            .field("bytes", &self.bytes.len())
            .field("named", &self.name.is_some())
            .finish()
    }
}

impl From<normalise::email::Part> for SupportingDocument {
    fn from(p: normalise::email::Part) -> Self {
        SupportingDocument {
            name: p.name,
            media_type: p.media_type,
            bytes: Bytes::from(p.bytes),
        }
    }
}

/// What the sender is told.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub summary: ReferralSummary,
    /// True when this submission matched one received before.
    pub duplicate: bool,
    pub record: Referral,
    /// Field names that sent the referral to the review queue.
    pub review_reasons: Vec<&'static str>,
}

/// Why a submission was not accepted. Nothing is stored in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("submission is invalid ({} problems)", .0.len())]
    Invalid(Vec<Problem>),
    #[error("idempotency key was already used for different content")]
    IdempotencyConflict,
    #[error("store failure")]
    Store(#[source] StoreError),
    #[error("sealing failure")]
    Crypto(#[from] CryptoError),
}

impl From<StoreError> for IntakeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::IdempotencyConflict => IntakeError::IdempotencyConflict,
            other => IntakeError::Store(other),
        }
    }
}

/// Takes one submission all the way into the store.
///
/// # Errors
/// [`IntakeError::UnsupportedMediaType`] and [`IntakeError::Invalid`] for the sender's
/// mistakes (each recorded in the audit log), [`IntakeError::IdempotencyConflict`],
/// and store or crypto failures.
#[tracing::instrument(skip_all, fields(org = %raw.org, channel = raw.channel.as_str()))]
pub async fn accept(ctx: &IntakeContext, raw: RawSubmission) -> Result<Receipt, IntakeError> {
    let raw = match read_email(raw).await {
        Ok(raw) => raw,
        Err((raw, problem)) => {
            reject(ctx, &raw, "invalid", 1).await?;
            return Err(IntakeError::Invalid(vec![problem]));
        }
    };
    let Some(format) = format_of(&raw) else {
        reject(ctx, &raw, "unsupported-media-type", 1).await?;
        return Err(IntakeError::UnsupportedMediaType);
    };
    let normalised = match normalise::normalise(format, &raw.body, ctx.clock.today()) {
        Ok(n) => n,
        Err(problems) => {
            reject(ctx, &raw, "invalid", problems.len()).await?;
            return Err(IntakeError::Invalid(problems));
        }
    };
    let record = normalised.record;
    let review_reasons = normalised.review_reasons;
    let id = ReferralId::new();
    let (state, provider, audit_detail) = if review_reasons.is_empty() {
        let decision = ctx.router.route(&record);
        (
            State::Ready,
            Some(decision.provider),
            Some(format!("rule={}", decision.rule)),
        )
    } else {
        (
            State::NeedsReview,
            None,
            Some(format!("fields={}", review_reasons.join(","))),
        )
    };
    let new = seal(
        ctx,
        &raw,
        id,
        &record,
        format,
        state,
        provider,
        audit_detail,
    )?;
    let accepted = ctx.store.accept_referral(new).await?;
    let (summary, duplicate) = match accepted {
        Accepted::Created(s) => (s, false),
        Accepted::Duplicate(s) => (s, true),
    };
    ReferralAccepted {
        id: summary.id,
        org: &raw.org,
        channel: raw.channel.as_str(),
        state: summary.state,
        provider: summary.provider.as_ref(),
        duplicate,
    }
    .emit(&ctx.metrics);
    Ok(Receipt {
        summary,
        duplicate,
        record,
        review_reasons,
    })
}

/// An email submitted whole becomes the letter it carries, with the message's other
/// documents as supporting documents; any other submission is returned as it came.
/// Reading a message (and scoring its documents) is blocking work: it runs on the
/// blocking pool, not on the runtime's threads.
#[allow(clippy::result_large_err)]
async fn read_email(raw: RawSubmission) -> Result<RawSubmission, (RawSubmission, Problem)> {
    if format_of(&raw) != Some(Format::Email) {
        return Ok(raw);
    }
    // Bytes clone by reference count: the copy is for the rejection if the task fails.
    let kept = raw.clone();
    match crate::telemetry::spawn_blocking_in_span(move || open_email(raw)).await {
        Ok(result) => result,
        Err(_) => {
            let e = normalise::email::EmailError::Malformed;
            Err((kept, normalise::email_problem(&e)))
        }
    }
}

#[allow(clippy::result_large_err)]
fn open_email(mut raw: RawSubmission) -> Result<RawSubmission, (RawSubmission, Problem)> {
    let email = match normalise::email::read(&raw.body) {
        Ok(email) => email,
        Err(e) => return Err((raw, normalise::email_problem(&e))),
    };
    let mut supporting: Vec<SupportingDocument> =
        email.supporting.into_iter().map(Into::into).collect();
    supporting.append(&mut raw.supporting);
    raw.supporting = supporting;
    raw.media_type = email.letter.media_type;
    raw.body = Bytes::from(email.letter.bytes);
    Ok(raw)
}

/// The format to read: the declared one, except that a letter's declared type only
/// says "a letter" (the content says which kind, since senders mislabel) and
/// `application/octet-stream` means "look at the content".
fn format_of(raw: &RawSubmission) -> Option<Format> {
    if normalise::document::essence(&raw.media_type) == "application/octet-stream" {
        return Format::detect(&raw.body).ok();
    }
    match Format::from_media_type(&raw.media_type)? {
        Format::Letter(declared) => Some(Format::Letter(
            normalise::document::sniff(&raw.body).unwrap_or(declared),
        )),
        structured => Some(structured),
    }
}

/// For letters, a keyed hash of the patient's NHS number and the letter date: the same
/// letter arriving by another route (emailed and uploaded, or re-sent) reads the same
/// patient and date even when the documents differ. Structured input matches on its
/// content only, so a corrected resubmission is a new referral.
fn letter_match(
    ctx: &IntakeContext,
    org: &[u8],
    record: &Referral,
    format: Format,
) -> Option<[u8; 32]> {
    let Format::Letter(_) = format else {
        return None;
    };
    let nhs = record
        .patient
        .nhs_number
        .as_deref()
        .filter(|_| record.patient.nhs_number_valid == Some(true))?;
    let date = record.letter_date.as_deref()?;
    Some(
        ctx.keys
            .keyed_hash(&[b"match", org, nhs.as_bytes(), date.as_bytes()]),
    )
}

#[allow(clippy::too_many_arguments)]
fn seal(
    ctx: &IntakeContext,
    raw: &RawSubmission,
    id: ReferralId,
    record: &Referral,
    format: Format,
    state: State,
    provider: Option<OrgId>,
    audit_detail: Option<String>,
) -> Result<NewReferral, IntakeError> {
    // Serialising the record (plain data, string keys) cannot fail.
    let record_json = serde_json::to_vec(record).unwrap_or_default();
    let context = id.to_string();
    let org = raw.org.as_str().as_bytes();
    Ok(NewReferral {
        id,
        referrer: raw.org.clone(),
        channel: raw.channel.as_str(),
        state,
        provider,
        urgency: record.urgency,
        received_at: ctx.clock.now(),
        idempotency_hash: raw
            .idempotency_key
            .as_deref()
            .map(|k| ctx.keys.keyed_hash(&[b"idempotency", org, k.as_bytes()])),
        content_hash: ctx.keys.keyed_hash(&[b"content", org, &record_json]),
        match_hash: letter_match(ctx, org, record, format),
        record_sealed: seal_record_json(&ctx.keys, id, &record_json)?,
        document: Some((
            format.media_type().to_owned(),
            ctx.keys
                .seal(&raw.body, format!("{context}/document").as_bytes())?,
        )),
        supporting: seal_supporting(&ctx.keys, id, &raw.supporting)?,
        audit_detail,
    })
}

async fn reject(
    ctx: &IntakeContext,
    raw: &RawSubmission,
    reason: &'static str,
    problems: usize,
) -> Result<(), IntakeError> {
    SubmissionRejected {
        org: &raw.org,
        channel: raw.channel.as_str(),
        reason,
        problems,
    }
    .emit(&ctx.metrics);
    ctx.store
        .append_audit(AuditDraft {
            actor: Some(raw.org.clone()),
            action: Action::ValidationFailed,
            referral_id: None,
            outcome: Outcome::Failure,
            detail: Some(format!(
                "channel={};reason={reason};problems={problems}",
                raw.channel.as_str()
            )),
        })
        .await?;
    Ok(())
}

/// Seals a record for storage, bound to its referral id.
///
/// # Errors
/// [`CryptoError::Random`] if no nonce can be drawn.
pub fn seal_record(
    keys: &DataKeys,
    id: ReferralId,
    record: &Referral,
) -> Result<Vec<u8>, CryptoError> {
    // Serialising the record (plain data, string keys) cannot fail.
    seal_record_json(keys, id, &serde_json::to_vec(record).unwrap_or_default())
}

fn seal_record_json(keys: &DataKeys, id: ReferralId, json: &[u8]) -> Result<Vec<u8>, CryptoError> {
    keys.seal(json, id.to_string().as_bytes())
}

/// Opens a stored referral's record.
///
/// # Errors
/// [`CryptoError::Open`] when the sealed bytes do not open with this key, or
/// [`StoreError::Corrupt`] (as an [`IntakeError::Store`]) when they are not a record.
pub fn open_record(
    keys: &DataKeys,
    id: ReferralId,
    sealed: &[u8],
) -> Result<Referral, IntakeError> {
    let plain = keys.open(sealed, id.to_string().as_bytes())?;
    serde_json::from_slice(&plain)
        .map_err(|_| IntakeError::Store(StoreError::Corrupt("sealed record")))
}

/// Seals each supporting document (and its name) bound to the referral id and its
/// position, so one cannot be swapped for another.
fn seal_supporting(
    keys: &DataKeys,
    id: ReferralId,
    docs: &[SupportingDocument],
) -> Result<Vec<SealedDocument>, CryptoError> {
    docs.iter()
        .enumerate()
        .map(|(seq, d)| {
            Ok(SealedDocument {
                media_type: d.media_type.clone(),
                name_sealed: d
                    .name
                    .as_deref()
                    .map(|n| {
                        keys.seal(n.as_bytes(), supporting_context(id, seq, "name").as_bytes())
                    })
                    .transpose()?,
                bytes_sealed: keys
                    .seal(&d.bytes, supporting_context(id, seq, "bytes").as_bytes())?,
            })
        })
        .collect()
}

fn supporting_context(id: ReferralId, seq: usize, what: &str) -> String {
    format!("{id}/supporting/{seq}/{what}")
}

/// Opens a stored referral's supporting documents, in the order they were sent.
///
/// # Errors
/// [`CryptoError::Open`] when a sealed document or name does not open with this key.
pub fn open_supporting(
    keys: &DataKeys,
    id: ReferralId,
    sealed: &[SealedDocument],
) -> Result<Vec<SupportingDocument>, CryptoError> {
    sealed
        .iter()
        .enumerate()
        .map(|(seq, d)| {
            let name = d
                .name_sealed
                .as_deref()
                .map(|n| keys.open(n, supporting_context(id, seq, "name").as_bytes()))
                .transpose()?
                .map(|n| String::from_utf8_lossy(&n).into_owned());
            let bytes = keys.open(
                &d.bytes_sealed,
                supporting_context(id, seq, "bytes").as_bytes(),
            )?;
            Ok(SupportingDocument {
                name,
                media_type: d.media_type.clone(),
                bytes: Bytes::from(bytes),
            })
        })
        .collect()
}

/// Opens a stored referral's original document.
///
/// # Errors
/// [`CryptoError::Open`] when the sealed bytes do not open with this key.
pub fn open_document(
    keys: &DataKeys,
    id: ReferralId,
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    keys.open(sealed, format!("{id}/document").as_bytes())
}
