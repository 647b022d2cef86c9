//! The provider inbox: each routed referral waits here until its provider has
//! downloaded and acknowledged it. A provider sees only its own inbox.

use std::collections::HashMap;
use std::sync::Arc;

use crate::audit::Action;
use crate::clock::Clock;
use crate::crypto::{CryptoError, DataKeys};
use crate::domain::lifecycle::TransitionError;
use crate::domain::{OrgId, ReferralId, State};
use crate::feedback;
use crate::intake::{self, IntakeError};
use crate::normalise::fhir_write::{Document, MessageMeta, write_message};
use crate::outbox::MailContext;
use crate::store::{
    InboxEntry, ReferralSummary, StatusChange, Store, StoreError, StoredReferral, Transition,
};

/// What the inbox needs; cheap to clone.
#[derive(Clone)]
pub struct DeliverContext {
    pub store: Arc<dyn Store>,
    pub keys: Arc<DataKeys>,
    pub clock: Clock,
    /// How the gateway names itself in messages.
    pub source_endpoint: String,
    /// Organisation display names, for the message header.
    pub names: Arc<HashMap<OrgId, String>>,
    /// Outgoing mail, when a relay is configured: status changes the referrer cares
    /// about are emailed to them.
    pub mail: Option<MailContext>,
}

/// Why an inbox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// Not in this provider's inbox (or not this provider's at all).
    #[error("referral not found in this inbox")]
    NotFound,
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("store failure")]
    Store(#[source] StoreError),
    #[error("stored referral could not be opened")]
    Open(#[source] IntakeError),
}

impl From<StoreError> for DeliverError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => DeliverError::NotFound,
            StoreError::Transition(t) => DeliverError::Transition(t),
            other => DeliverError::Store(other),
        }
    }
}

impl From<CryptoError> for DeliverError {
    fn from(e: CryptoError) -> Self {
        DeliverError::Open(IntakeError::Crypto(e))
    }
}

/// Referrals waiting for `provider`, urgent first.
///
/// # Errors
/// [`DeliverError::Store`].
pub async fn list(
    ctx: &DeliverContext,
    provider: &OrgId,
    limit: u32,
) -> Result<Vec<InboxEntry>, DeliverError> {
    Ok(ctx.store.inbox(provider, limit).await?)
}

/// The referral as a FHIR message Bundle, carrying the original document and any
/// supporting documents sent with it. Marks it
/// delivered; downloading again before acknowledging is allowed and gives the same
/// message (same identifier), so a provider can drop duplicates.
///
/// # Errors
/// [`DeliverError::NotFound`] unless it waits in this provider's inbox.
#[tracing::instrument(skip_all, fields(referral_id = %id, provider = %provider))]
pub async fn download(
    ctx: &DeliverContext,
    provider: &OrgId,
    id: ReferralId,
) -> Result<serde_json::Value, DeliverError> {
    let stored = ctx.store.get_referral(id).await?;
    let s = &stored.summary;
    if s.provider.as_ref() != Some(provider) || !s.state.is_in_inbox() {
        return Err(DeliverError::NotFound);
    }
    let message = message_for(
        ctx.store.as_ref(),
        &ctx.keys,
        &ctx.names,
        &ctx.source_endpoint,
        &stored,
        provider,
    )
    .await?;
    let bundle = message.bundle;
    move_to(ctx, provider, id, State::Delivered, Action::Download).await?;
    Ok(bundle)
}

/// Acknowledges a downloaded referral: it leaves the inbox.
///
/// # Errors
/// [`DeliverError::NotFound`], or [`DeliverError::Transition`] when it was not downloaded.
#[tracing::instrument(skip_all, fields(referral_id = %id, provider = %provider))]
pub async fn acknowledge(
    ctx: &DeliverContext,
    provider: &OrgId,
    id: ReferralId,
) -> Result<ReferralSummary, DeliverError> {
    move_to(ctx, provider, id, State::Acknowledged, Action::Acknowledge).await
}

/// A referral as it is handed to its provider.
pub struct ProviderMessage {
    pub record: crate::domain::Referral,
    /// The original document: media type and bytes.
    pub original: Option<(String, Vec<u8>)>,
    /// Documents that came with it (an email's other attachments).
    pub supporting: Vec<Document>,
    /// The FHIR message Bundle (its id is the referral id, whatever the route).
    pub bundle: serde_json::Value,
}

/// Opens a stored referral and writes its FHIR message for `provider`. Shared by the
/// inbox download and email delivery, so both routes give the same message.
///
/// # Errors
/// [`DeliverError::Open`] when the sealed record or a document does not open, and
/// [`DeliverError::Store`] when the supporting documents cannot be read.
pub async fn message_for(
    store: &dyn Store,
    keys: &DataKeys,
    names: &HashMap<OrgId, String>,
    source_endpoint: &str,
    stored: &StoredReferral,
    provider: &OrgId,
) -> Result<ProviderMessage, DeliverError> {
    let s = &stored.summary;
    let id = s.id;
    let record =
        intake::open_record(keys, id, &stored.record_sealed).map_err(DeliverError::Open)?;
    let original = match &stored.document {
        Some((media_type, sealed)) => {
            Some((media_type.clone(), intake::open_document(keys, id, sealed)?))
        }
        None => None,
    };
    let supporting = store.supporting_documents(id).await?;
    let supporting: Vec<Document> = intake::open_supporting(keys, id, &supporting)?
        .into_iter()
        .map(|d| Document {
            media_type: d.media_type,
            title: d.name,
            bytes: d.bytes.to_vec(),
        })
        .collect();
    let name = |o: &OrgId| names.get(o).cloned().unwrap_or_else(|| o.to_string());
    let meta = MessageMeta {
        message_id: id.as_uuid(),
        referral_id: id,
        timestamp: s.received_at,
        source_endpoint: source_endpoint.to_owned(),
        sender: (s.referrer.clone(), name(&s.referrer)),
        destination: (provider.clone(), name(provider)),
        original: original.clone(),
        supporting: supporting.clone(),
        reviewed_by: reviewer(&stored.history).map(|o| (o.clone(), name(&o))),
    };
    let bundle = write_message(&record, &meta);
    Ok(ProviderMessage {
        record,
        original,
        supporting,
        bundle,
    })
}

/// The operator who released the referral from the review queue, if it was held.
fn reviewer(history: &[Transition]) -> Option<OrgId> {
    history
        .windows(2)
        .find(|w| w[0].state == State::NeedsReview && w[1].state == State::Ready)
        .and_then(|w| OrgId::parse(w[1].actor.as_deref()?).ok())
}

async fn move_to(
    ctx: &DeliverContext,
    provider: &OrgId,
    id: ReferralId,
    to: State,
    action: Action,
) -> Result<ReferralSummary, DeliverError> {
    let change = StatusChange {
        id,
        actor: provider.clone(),
        provider: Some(provider.clone()),
        to,
        reason: None,
        action,
        at: ctx.clock.now(),
    };
    Ok(
        feedback::reply::commit_status_change(ctx.store.as_ref(), ctx.mail.as_ref(), change)
            .await?,
    )
}
